import CLibPQ
import Foundation
public import ParWorker

/// One libpq connection. Blocking: it lives on a ``BatchingWorker`` thread, or in a command-line tool.
///
/// Sessions use UTC, so `::date` casts agree with the partition days of request references. Notices are
/// swallowed rather than printed to stderr.
///
/// No wait is unbounded when the connection is given a `timeout`: connecting gives up after `connect_timeout` per
/// host; the server cancels a statement after `statement_timeout` (and a lock wait after `lock_timeout`); TCP
/// keepalives and `tcp_user_timeout` find a peer that vanished; and a statement is abandoned at its deadline even when
/// the server accepts bytes but never answers (a frozen process: its kernel still acknowledges them, so no TCP timer
/// fires, and it cannot cancel anything itself) — the caller's deadline, or else twice the timeout (the server's own
/// cancellation comes first from a server that runs). Scripts of several statements take only the caller's deadline:
/// each of their statements has the whole `statement_timeout`. An abandoned connection is not used again.
public final class PGConnection: WorkerConnection {
    private let connection: OpaquePointer
    /// The server's clock minus this machine's wall clock, in milliseconds, measured when connecting.
    private var serverClockOffsetMillis: Int64 = 0
    /// Set when a statement was abandoned at its deadline: the connection's state is unknown.
    private var abandoned = false
    /// How long a statement is waited for when its caller gives no deadline: twice the timeout; `nil` without one.
    private let statementWait: Duration?

    /// Connects with a libpq connection string or `postgresql://` URL, which may name several hosts
    /// (`host=a,b target_session_attrs=read-write` finds the primary).
    ///
    /// - Parameters:
    ///   - connectTimeoutSeconds: how long to try each host (libpq counts at least 2 s).
    ///   - timeout: when set, the session's `statement_timeout`, twice its `lock_timeout`, and the TCP user timeout.
    ///     Settings in the connection string win over the TCP ones.
    @available(*, noasync, message: "blocking: call from a worker thread")
    public init(_ conninfo: String, applicationName: String = "parstore", connectTimeoutSeconds: Int = 2, timeout: Duration? = nil) throws(PGError) {
        // Keywords are applied in order and the expanded connection string (`dbname`) overrides those before it.
        var keys = ["connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count"]
        var values = [String(connectTimeoutSeconds), "1", "5", "2", "3"]
        if let timeout {
            keys.append("tcp_user_timeout")
            values.append(String(timeout.milliseconds))
        }
        keys += ["dbname", "application_name"]
        values += [conninfo, applicationName]
        let made = keys.withCStrings { keyPointers in
            values.withCStrings { valuePointers in PQconnectdbParams(keyPointers, valuePointers, 1) }
        }
        guard let made else { throw PGError(sqlState: nil, message: "out of memory") }
        guard PQstatus(made) == CONNECTION_OK, PQsetnonblocking(made, 1) == 0 else {
            let message = String(cString: PQerrorMessage(made)).trimmingWhitespace()
            PQfinish(made)
            throw PGError(sqlState: nil, message: message)
        }
        PQsetNoticeProcessor(made, { _, _ in }, nil)
        self.connection = made
        self.statementWait = timeout.map { $0 * 2 }
        let limits = timeout.map { [String($0.milliseconds), String($0.milliseconds / 2)] } ?? ["0", "0"]
        let before = Self.wallClockMillis()
        let rows = try execute(
            """
            SELECT set_config('TimeZone', 'UTC', false), set_config('statement_timeout', $1, false),
                   set_config('lock_timeout', $2, false), (extract(epoch FROM clock_timestamp()) * 1000)::bigint
            """,
            limits,
            deadline: .now + .seconds(max(connectTimeoutSeconds, 2))
        )
        let after = Self.wallClockMillis()
        self.serverClockOffsetMillis = (rows.rows.first?[3].flatMap { Int64($0) } ?? (before + after) / 2) - (before + after) / 2
    }

    deinit { PQfinish(connection) }

    /// Whether the connection can be used. An idle connection whose server restarted still says `CONNECTION_OK`
    /// until it is used, so a readable socket (the server's goodbye) is consumed first: a stale connection is then
    /// replaced before a batch is sent on it, instead of failing the batch.
    public var isHealthy: Bool {
        guard !abandoned, PQstatus(connection) == CONNECTION_OK else { return false }
        var descriptor = pollfd(fd: PQsocket(connection), events: Int16(POLLIN), revents: 0)
        if poll(&descriptor, 1, 0) > 0 && PQconsumeInput(connection) == 0 { return false }
        return PQstatus(connection) == CONNECTION_OK
    }

    /// `deadline` on the server's clock, in milliseconds since the epoch (for statements that refuse to commit once
    /// their caller has stopped waiting).
    func serverMillis(at deadline: ContinuousClock.Instant) -> Int64 {
        Self.wallClockMillis() + (deadline - .now).milliseconds + serverClockOffsetMillis
    }

    private static func wallClockMillis() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// Runs one statement with text parameters (`nil` is NULL) and returns its rows.
    ///
    /// - Parameter deadline: when to stop waiting for the server; the connection is then abandoned. Without one, twice
    ///   the connection's timeout, if it has one.
    @available(*, noasync, message: "blocking: call from a worker thread")
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?] = [], deadline: ContinuousClock.Instant? = nil) throws(PGError) -> PGRows {
        try Self.checkParameters(parameters)
        return try run(until: deadline ?? statementDeadline) {
            parameters.withOptionalCStrings { pointers in
                PQsendQueryParams(connection, sql, Int32(parameters.count), nil, pointers, nil, nil, 0)
            }
        }
    }

    /// Runs a script of several statements without parameters (migrations).
    @available(*, noasync, message: "blocking: call from a worker thread")
    public func executeScript(_ sql: String, deadline: ContinuousClock.Instant? = nil) throws(PGError) {
        try run(until: deadline) { PQsendQuery(connection, sql) }
    }

    /// Prepares a named statement for ``executePrepared(_:_:deadline:)``.
    @available(*, noasync, message: "blocking: call from a worker thread")
    public func prepare(_ name: String, _ sql: String, deadline: ContinuousClock.Instant? = nil) throws(PGError) {
        try run(until: deadline ?? statementDeadline) { PQsendPrepare(connection, name, sql, 0, nil) }
    }

    /// Runs a statement prepared with ``prepare(_:_:deadline:)``.
    @available(*, noasync, message: "blocking: call from a worker thread")
    @discardableResult
    public func executePrepared(_ name: String, _ parameters: [String?], deadline: ContinuousClock.Instant? = nil) throws(PGError) -> PGRows {
        try Self.checkParameters(parameters)
        return try run(until: deadline ?? statementDeadline) {
            parameters.withOptionalCStrings { pointers in
                PQsendQueryPrepared(connection, name, Int32(parameters.count), pointers, nil, nil, 0)
            }
        }
    }

    /// The deadline of a statement whose caller gave none.
    private var statementDeadline: ContinuousClock.Instant? { statementWait.map { .now + $0 } }

    /// Sends a command with `send` (a `PQsend…` call), then waits for all its results, no later than `deadline`.
    /// Returns the rows of the last result, or throws the first error.
    @discardableResult
    private func run(until deadline: ContinuousClock.Instant?, _ send: () -> Int32) throws(PGError) -> PGRows {
        guard !abandoned else { throw PGError(sqlState: nil, message: "the connection was abandoned") }
        guard send() == 1 else { throw lostConnection() }
        while true {  // a non-blocking connection sends what the socket takes, the rest as it drains
            let flushed = PQflush(connection)
            if flushed == 0 { break }
            if flushed < 0 { throw lostConnection() }
            try wait(for: Int16(POLLOUT | POLLIN), until: deadline)
            if PQconsumeInput(connection) == 0 { throw lostConnection() }
        }
        var rows = PGRows(rows: [], affected: 0)
        var firstError: PGError? = nil
        while true {
            while PQisBusy(connection) == 1 {
                try wait(for: Int16(POLLIN), until: deadline)
                if PQconsumeInput(connection) == 0 { throw lostConnection() }
            }
            guard let result = PQgetResult(connection) else { break }
            do throws(PGError) {
                rows = try consume(result)
            } catch {
                if firstError == nil { firstError = error }
            }
        }
        if let firstError { throw firstError }
        return rows
    }

    /// Waits until the socket is ready for `events`, or throws at `deadline` after abandoning the connection.
    private func wait(for events: Int16, until deadline: ContinuousClock.Instant?) throws(PGError) {
        var descriptor = pollfd(fd: PQsocket(connection), events: events, revents: 0)
        while true {
            let milliseconds: Int32
            if let deadline {
                let left = (deadline - .now).milliseconds
                guard left > 0 else {
                    abandoned = true
                    throw PGError(sqlState: nil, message: "PostgreSQL did not answer before the deadline")
                }
                milliseconds = Int32(clamping: left)
            } else {
                milliseconds = -1
            }
            let ready = poll(&descriptor, 1, milliseconds)
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw lostConnection() }
        }
    }

    private func lostConnection() -> PGError {
        PGError(sqlState: nil, message: String(cString: PQerrorMessage(connection)).trimmingWhitespace())
    }

    /// Parameters travel as C strings: a NUL would cut one short and change its meaning, so it is refused here,
    /// before anything is sent, as PostgreSQL refuses it in text (22021).
    private static func checkParameters(_ parameters: [String?]) throws(PGError) {
        for parameter in parameters where parameter?.utf8.contains(0) == true {
            throw PGError(sqlState: "22021", message: "a parameter contains a NUL character")
        }
    }

    private func consume(_ result: OpaquePointer) throws(PGError) -> PGRows {
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            // A standby (the old primary, demoted by a failover): connect again, to whichever host is primary now.
            if state == "25006" { abandoned = true }
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
