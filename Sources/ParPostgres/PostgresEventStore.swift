public import ParCore
import ParWorker

/// The node's access to PostgreSQL: the group-commit event writer, the arbiter, and a connection for everything
/// else (readiness, registry, sweeper, partitions). Each runs on its own connection and thread.
///
/// Every call that returns has been committed; every failure of a connection surfaces as a ``PGError`` whose
/// ``PGError/isUnavailable`` is true, and connections are made again by themselves when the server is back.
public final class PostgresEventStore: Sendable {
    /// Connection settings.
    public struct Configuration: Sendable {
        /// A libpq connection string or `postgresql://` URL.
        public var conninfo: String
        /// Written into every event this node appends.
        public var nodeID: String
        /// The most events written in one statement.
        public var maxBatchSize: Int

        public init(conninfo: String, nodeID: String, maxBatchSize: Int = 1000) {
            self.conninfo = conninfo
            self.nodeID = nodeID
            self.maxBatchSize = maxBatchSize
        }
    }

    /// A statement for the general-purpose connection.
    public struct Query: Sendable {
        public var sql: String
        public var parameters: [String?]
        public init(_ sql: String, _ parameters: [String?] = []) {
            self.sql = sql
            self.parameters = parameters
        }
    }

    private let appender: BatchingWorker<PGConnection, EventRecord, AppendResult>
    private let arbiter: BatchingWorker<PGConnection, ConsumeRequest, RedemptionResult>
    private let loader: BatchingWorker<PGConnection, LoadRequest, LoadOutcome>
    private let ticketArbiter: BatchingWorker<PGConnection, Ticket, RedemptionResult>
    private let general: BatchingWorker<PGConnection, Query, PGRows>
    private let configuration: Configuration

    /// - Parameter batchObserver: told the size of every group-commit batch (appends and consumptions).
    public init(configuration: Configuration, batchObserver: (@Sendable (Int) -> Void)? = nil) {
        self.configuration = configuration
        let conninfo = configuration.conninfo
        let nodeID = configuration.nodeID
        appender = Self.groupCommitWorker("append", configuration, batchObserver) { connection, records in
            Self.append(records, nodeID: nodeID, on: connection)
        }
        arbiter = Self.groupCommitWorker("arbiter", configuration, batchObserver) { connection, requests in
            Self.consume(requests, nodeID: nodeID, on: connection)
        }
        loader = Self.groupCommitWorker("load", configuration, batchObserver) { connection, loads in
            Self.load(loads, nodeID: nodeID, on: connection)
        }
        ticketArbiter = Self.groupCommitWorker("ticket", configuration, batchObserver) { connection, tickets in
            Self.redeem(tickets, nodeID: nodeID, on: connection)
        }
        general = BatchingWorker(
            name: "pg-general",
            maxBatchSize: 16,
            connect: { try PGConnection(conninfo, applicationName: "parstore") },
            process: { connection, queries in
                queries.map { query in Result { () throws(PGError) in try connection.execute(query.sql, query.parameters) } }
            }
        )
    }

    /// A worker on a hot-path connection (``openHotPathConnection(_:applicationName:)``) that writes each batch
    /// with `process`.
    private static func groupCommitWorker<Request: Sendable, Response: Sendable>(
        _ name: String,
        _ configuration: Configuration,
        _ batchObserver: (@Sendable (Int) -> Void)?,
        process: @escaping BatchingWorker<PGConnection, Request, Response>.Process
    ) -> BatchingWorker<PGConnection, Request, Response> {
        let conninfo = configuration.conninfo
        return BatchingWorker(
            name: "pg-" + name,
            maxBatchSize: configuration.maxBatchSize,
            batchObserver: batchObserver,
            connect: { try openHotPathConnection(conninfo, applicationName: "parstore-" + name) },
            process: process
        )
    }

    /// Opens a connection as the hot-path workers do: planner settings for key lookups only, then the hot-path
    /// statements (`parstore_append`, `parstore_consume`, `parstore_load`, `parstore_redeem_ticket`) prepared.
    @available(*, noasync, message: "blocking: call from a worker thread")
    public static func openHotPathConnection(_ conninfo: String, applicationName: String) throws(PGError) -> PGConnection {
        let connection = try PGConnection(conninfo, applicationName: applicationName)
        _ = try connection.execute(EventStatements.lookupSession)
        for (name, sql) in EventStatements.prepared { try connection.prepare(name, sql) }
        return connection
    }

    /// Stops all workers after they drained what they accepted.
    public func shutdown() async {
        await appender.shutdown()
        await arbiter.shutdown()
        await loader.shutdown()
        await ticketArbiter.shutdown()
        await general.shutdown()
    }

    /// Appends one event; resumes once its batch is committed.
    public func append(_ record: EventRecord) async throws -> AppendResult {
        try await appender.submit(record)
    }

    /// Consumes a request through the arbiter; resumes once the outcome is committed.
    public func consume(_ request: ConsumeRequest) async throws -> RedemptionResult {
        try await arbiter.submit(request)
    }

    /// Loads a request for a user agent; resumes once the `loaded` event (if any) is committed.
    public func load(_ request: LoadRequest) async throws -> LoadResult {
        // A lost race is decided by the winner's row, which a statement started before its commit cannot see.
        for _ in 0..<5 {
            if case .decided(let result) = try await loader.submit(request) { return result }
        }
        throw PGError(sqlState: "40001", message: "the load kept losing races")
    }

    /// Consumes a loaded request through its ticket; resumes once the outcome is committed.
    public func redeem(_ ticket: Ticket) async throws -> RedemptionResult {
        try await ticketArbiter.submit(ticket)
    }

    /// The request behind a ticket, or why there is none; changes nothing.
    public func read(_ ticket: Ticket) async throws -> Result<TicketedRequest, RefusalReason> {
        guard let row = try await query(EventStatements.readTicket, [ticket.day.description, Secret.hex(ticket.hash)]).rows.first else {
            return .failure(.unknown)
        }
        switch row[0] {
        case "live":
            return .success(
                TicketedRequest(
                    clientID: row[1] ?? "",
                    parametersJSON: row[2] ?? "{}",
                    pushedAtMillis: Int64(row[3] ?? "") ?? 0,
                    loadedAtMillis: Int64(row[4] ?? "") ?? 0,
                    expiresAtMillis: Int64(row[5] ?? "") ?? 0
                )
            )
        case "expired": return .failure(.expired)
        default: return .failure(.alreadyUsed)
        }
    }

    /// Runs one statement on the general-purpose connection.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) async throws -> PGRows {
        try await general.submit(Query(sql, parameters))
    }

    /// Appends `expired` events for requests past their deadline plus `grace`.
    ///
    /// - Returns: how many expired, or `nil` when another node was sweeping.
    public func expireDue(grace: Duration) async throws -> Int? {
        let rows = try await query(
            "SELECT parstore_expire($1, $2 * interval '1 millisecond')",
            [configuration.nodeID, String(grace.milliseconds)]
        )
        let count = rows.rows.first?.first.flatMap { $0 }.flatMap { Int($0) } ?? 0
        return count < 0 ? nil : count
    }

    /// Creates the event-log partitions up to `daysAhead` days from now.
    public func ensurePartitions(daysAhead: Int) async throws {
        try await query("SELECT parstore_ensure_partitions($1)", [String(daysAhead)])
    }

    /// Whether the server answers.
    public func ping() async throws {
        try await query("SELECT 1")
    }

    // MARK: - Batches (on the worker threads)

    @available(*, noasync)
    private static func append(_ records: [EventRecord], nodeID: String, on connection: PGConnection) -> [Result<AppendResult, any Error>] {
        do {
            return try appendBatch(records, nodeID: nodeID, on: connection).map { .success($0) }
        } catch {
            // One bad row must not fail its neighbours: retry one by one, unless the server is gone.
            guard records.count > 1, !error.isUnavailable, connection.isHealthy else {
                return records.map { _ in .failure(error) }
            }
            return records.map { record in
                Result { () throws(PGError) in try appendBatch([record], nodeID: nodeID, on: connection)[0] }
            }
        }
    }

    @available(*, noasync)
    private static func appendBatch(_ records: [EventRecord], nodeID: String, on connection: PGConnection) throws(PGError) -> [AppendResult] {
        let hexIDs = records.map { Secret.hex($0.requestID) }
        let rows = try connection.executePrepared(
            EventStatements.appendName,
            [
                PostgresArray.literal(records.map { $0.day.description }),
                PostgresArray.literal(hexIDs),
                PostgresArray.literal(records.map { $0.kind.slot.map(String.init) }),
                PostgresArray.literal(records.map { $0.kind.rawValue }),
                PostgresArray.literal(records.map { $0.clientID }),
                PostgresArray.literal(records.map { $0.lifetime.map { String($0.milliseconds) } }),
                nodeID,
                PostgresArray.literal(records.map { $0.payload }),
            ]
        )
        var inserted: [String: AppendResult] = [:]
        for row in rows.rows {
            let key = (row[0] ?? "") + "/" + (row[1] ?? "-")
            inserted[key] = AppendResult(
                inserted: true,
                atMillis: Int64(row[2] ?? "") ?? 0,
                deadlineMillis: Int64(row[3] ?? "") ?? 0
            )
        }
        return zip(records, hexIDs).map { record, hex in
            inserted[hex + "/" + (record.kind.slot.map(String.init) ?? "-")]
                ?? AppendResult(inserted: false, atMillis: 0, deadlineMillis: 0)
        }
    }

    @available(*, noasync)
    private static func consume(_ requests: [ConsumeRequest], nodeID: String, on connection: PGConnection) -> [Result<RedemptionResult, any Error>] {
        do {
            let rows = try connection.executePrepared(
                EventStatements.consumeName,
                [
                    PostgresArray.literal(requests.map { $0.day.description }),
                    PostgresArray.literal(requests.map { Secret.hex($0.requestID) }),
                    PostgresArray.literal(requests.map { $0.clientID }),
                    nodeID,
                ]
            )
            guard rows.rows.count == requests.count else {
                let error = PGError(sqlState: "XX000", message: "the arbiter returned \(rows.rows.count) rows for \(requests.count) requests")
                return requests.map { _ in .failure(error) }
            }
            return zip(requests, rows.rows).map { request, row in .success(RedemptionResult(arbiterRow: row, clientID: request.clientID)) }
        } catch {
            return requests.map { _ in .failure(error) }
        }
    }
    @available(*, noasync)
    private static func load(_ requests: [LoadRequest], nodeID: String, on connection: PGConnection) -> [Result<LoadOutcome, any Error>] {
        do {
            let rows = try connection.executePrepared(
                EventStatements.loadName,
                [
                    PostgresArray.literal(requests.map { $0.reference.day.description }),
                    PostgresArray.literal(requests.map { $0.reference.requestIDHex }),
                    PostgresArray.literal(requests.map { $0.clientID }),
                    PostgresArray.literal(requests.map { Secret.hex($0.binding.hash) }),
                    PostgresArray.literal(requests.map { Secret.hex($0.ticket.hash) }),
                    PostgresArray.literal(requests.map { String($0.interactionLifetime.milliseconds) }),
                    nodeID,
                ]
            )
            guard rows.rows.count == requests.count else {
                throw PGError(sqlState: "XX000", message: "the load returned \(rows.rows.count) rows for \(requests.count) requests")
            }
            return zip(requests, rows.rows).map { request, row in
                switch row[0] {
                case "loaded": .success(.decided(.loaded(request.ticket)))
                case "reloaded": .success(.decided(.reloaded(request.ticket)))
                case "retry": .success(.retry)
                default: .success(.decided(.refused(row[0].flatMap(RefusalReason.init(rawValue:)) ?? .unknown)))
                }
            }
        } catch {
            return requests.map { _ in .failure(error) }
        }
    }

    @available(*, noasync)
    private static func redeem(_ tickets: [Ticket], nodeID: String, on connection: PGConnection) -> [Result<RedemptionResult, any Error>] {
        do {
            let rows = try connection.executePrepared(
                EventStatements.redeemTicketName,
                [PostgresArray.literal(tickets.map { $0.day.description }), PostgresArray.literal(tickets.map { Secret.hex($0.hash) }), nodeID]
            )
            guard rows.rows.count == tickets.count else {
                throw PGError(sqlState: "XX000", message: "the arbiter returned \(rows.rows.count) rows for \(tickets.count) tickets")
            }
            return rows.rows.map { row in .success(RedemptionResult(arbiterRow: row, clientID: row[4] ?? "")) }
        } catch {
            return tickets.map { _ in .failure(error) }
        }
    }
}

extension RedemptionResult {
    /// What the arbiter decided for one redemption, from its result row.
    init(arbiterRow row: [String?], clientID: String) {
        switch row[0] {
        case "consumed":
            self = .redeemed(
                RedeemedRequest(
                    clientID: clientID,
                    parametersJSON: row[1] ?? "{}",
                    pushedAtMillis: Int64(row[2] ?? "") ?? 0,
                    expiresAtMillis: Int64(row[3] ?? "") ?? 0
                )
            )
        case "wrong_client": self = .refused(.wrongClient)
        case "expired": self = .refused(.expired)
        case "already_used": self = .refused(.alreadyUsed)
        default: self = .refused(.unknown)
        }
    }
}

extension Error {
    /// Whether the error means PostgreSQL could not be reached (answer 503, fail closed).
    public var isUnavailable: Bool {
        if let error = self as? PGError { return error.isUnavailable }
        return self as? WorkerError == .shutDown
    }
}
