import CLibPQ
import Foundation
public import ParWorker

/// An error from libpq or the server.
///
/// `description` holds the SQLSTATE and the server's primary message; server messages can quote input values,
/// so request paths log only ``sqlState``.
public struct PGError: Error, Sendable, CustomStringConvertible {
    /// The five-character SQLSTATE, or `nil` when the failure was on the client side (connection lost, refused).
    public var sqlState: String?
    public var message: String

    public var description: String { "PostgreSQL error \(sqlState ?? "(connection)"): \(message)" }

    /// Whether the statement failed on the data it was given (class 22, data exception): the input is at fault,
    /// and the caller answers 400 once the bad row is isolated.
    public var isDataError: Bool { sqlState?.hasPrefix("22") == true }

    /// Whether the failure means the server cannot be reached or is not serving (class 08, 57P0x, or no answer):
    /// nothing was done, and the caller should answer 503.
    public var isUnavailable: Bool {
        guard let sqlState else { return true }
        return sqlState.hasPrefix("08") || sqlState.hasPrefix("57P") || sqlState == "53300"
    }
}

/// Rows of a result in text format; `nil` is SQL NULL.
public struct PGRows: Sendable {
    public var rows: [[String?]]
    /// The number of rows the command affected (`INSERT`, `UPDATE`), or the number of rows returned.
    public var affected: Int
}

/// One libpq connection. Blocking: it lives on a ``BatchingWorker`` thread, or in a command-line tool.
///
/// Sessions use UTC, so `::date` casts agree with the partition days of request references. Notices are
/// swallowed rather than printed to stderr.
public final class PGConnection: WorkerConnection {
    private let connection: OpaquePointer

    /// Connects with a libpq connection string or `postgresql://` URL.
    @available(*, noasync, message: "blocking: call from a worker thread")
    public init(_ conninfo: String, applicationName: String = "parstore", connectTimeoutSeconds: Int = 3) throws(PGError) {
        let keys = ["dbname", "application_name", "connect_timeout", "options"]
        let values = [conninfo, applicationName, String(connectTimeoutSeconds), "-c TimeZone=UTC"]
        let made = keys.withCStrings { keyPointers in
            values.withCStrings { valuePointers in PQconnectdbParams(keyPointers, valuePointers, 1) }
        }
        guard let made else { throw PGError(sqlState: nil, message: "out of memory") }
        guard PQstatus(made) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(made)).trimmingWhitespace()
            PQfinish(made)
            throw PGError(sqlState: nil, message: message)
        }
        PQsetNoticeProcessor(made, { _, _ in }, nil)
        self.connection = made
    }

    deinit { PQfinish(connection) }

    /// Whether the connection can be used. An idle connection whose server restarted still says `CONNECTION_OK`
    /// until it is used, so a readable socket (the server's goodbye) is consumed first: a stale connection is then
    /// replaced before a batch is sent on it, instead of failing the batch.
    public var isHealthy: Bool {
        guard PQstatus(connection) == CONNECTION_OK else { return false }
        var descriptor = pollfd(fd: PQsocket(connection), events: Int16(POLLIN), revents: 0)
        if poll(&descriptor, 1, 0) > 0 && PQconsumeInput(connection) == 0 { return false }
        return PQstatus(connection) == CONNECTION_OK
    }

    /// Runs one statement with text parameters (`nil` is NULL) and returns its rows.
    @available(*, noasync, message: "blocking: call from a worker thread")
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?] = []) throws(PGError) -> PGRows {
        try Self.checkParameters(parameters)
        let result = parameters.withOptionalCStrings { pointers in
            PQexecParams(connection, sql, Int32(parameters.count), nil, pointers, nil, nil, 0)
        }
        return try consume(result)
    }

    /// Runs a script of several statements without parameters (migrations).
    @available(*, noasync, message: "blocking: call from a worker thread")
    public func executeScript(_ sql: String) throws(PGError) {
        try consume(PQexec(connection, sql))
    }

    /// Prepares a named statement for ``executePrepared(_:_:)``.
    @available(*, noasync, message: "blocking: call from a worker thread")
    public func prepare(_ name: String, _ sql: String) throws(PGError) {
        try consume(PQprepare(connection, name, sql, 0, nil))
    }

    /// Runs a statement prepared with ``prepare(_:_:)``.
    @available(*, noasync, message: "blocking: call from a worker thread")
    @discardableResult
    public func executePrepared(_ name: String, _ parameters: [String?]) throws(PGError) -> PGRows {
        try Self.checkParameters(parameters)
        let result = parameters.withOptionalCStrings { pointers in
            PQexecPrepared(connection, name, Int32(parameters.count), pointers, nil, nil, 0)
        }
        return try consume(result)
    }

    /// Parameters travel as C strings: a NUL would cut one short and change its meaning, so it is refused here,
    /// before anything is sent, as PostgreSQL refuses it in text (22021).
    private static func checkParameters(_ parameters: [String?]) throws(PGError) {
        for parameter in parameters where parameter?.utf8.contains(0) == true {
            throw PGError(sqlState: "22021", message: "a parameter contains a NUL character")
        }
    }

    @discardableResult
    private func consume(_ result: OpaquePointer?) throws(PGError) -> PGRows {
        guard let result else {
            throw PGError(sqlState: nil, message: String(cString: PQerrorMessage(connection)).trimmingWhitespace())
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let primary = PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
            throw PGError(
                sqlState: isHealthy ? state : nil,
                message: primary ?? String(cString: PQresultErrorMessage(result)).trimmingWhitespace()
            )
        }
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        var rows: [[String?]] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<Int32(rowCount) {
            var values: [String?] = []
            values.reserveCapacity(columnCount)
            for column in 0..<Int32(columnCount) {
                values.append(PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column)))
            }
            rows.append(values)
        }
        let tuples = String(cString: PQcmdTuples(result))
        return PGRows(rows: rows, affected: Int(tuples) ?? rowCount)
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var text = Substring(self)
        while let last = text.last, last.isWhitespace { text.removeLast() }
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        return String(text)
    }
}

extension Array where Element == String {
    /// A NULL-terminated array of C strings valid for the closure's duration.
    func withCStrings<R>(_ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        map { Optional($0) }.withOptionalCStrings { pointers in
            var terminated = Array<UnsafePointer<CChar>?>(UnsafeBufferPointer(start: pointers, count: count))
            terminated.append(nil)
            return terminated.withUnsafeBufferPointer { body($0.baseAddress!) }
        }
    }
}

extension Array where Element == String? {
    /// C strings (`nil` stays a null pointer) valid for the closure's duration.
    func withOptionalCStrings<R>(_ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
        let copies: [UnsafeMutablePointer<CChar>?] = map { $0.map { strdup($0)! } }
        defer { for copy in copies { free(copy) } }
        let pointers = copies.map { UnsafePointer($0) }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}
