public import ParCore
import ParWorker

/// The event log (`par_events`): the group-commit writer, the arbiters of redemptions, loads and tickets, each on
/// its own hot-path connection and thread, and the log's reads and upkeep (tickets, expiry, partitions) on the
/// node's general-purpose connection.
///
/// Every call that returns has been committed; every failure of a connection surfaces as a ``PGError`` whose
/// ``PGError/isUnavailable`` is true, and connections are made again by themselves when the server is back.
public final class PostgresEventLog: Sendable {
    private let appender: BatchingWorker<HotPathConnection, EventRecord, AppendResult>
    private let arbiter: BatchingWorker<HotPathConnection, ConsumeRequest, RedemptionResult>
    private let loader: BatchingWorker<HotPathConnection, LoadRequest, LoadOutcome>
    private let ticketArbiter: BatchingWorker<HotPathConnection, TicketRedemption, RedemptionResult>
    private let queries: PostgresQueries
    private let configuration: PostgresConfiguration

    /// - Parameters:
    ///   - queries: the general-purpose connection the log's reads and upkeep run on; its owner shuts it down.
    ///   - batchObserver: told the size of every group-commit batch (appends and consumptions).
    ///   - holdObserver: told how long every group-commit batch was held back to grow (with a batch window).
    public init(
        configuration: PostgresConfiguration,
        queries: PostgresQueries,
        batchObserver: (@Sendable (Int) -> Void)? = nil,
        holdObserver: (@Sendable (Duration) -> Void)? = nil
    ) {
        self.configuration = configuration
        self.queries = queries
        let nodeID = configuration.nodeID
        appender = Self.groupCommitWorker("append", configuration, batchObserver, holdObserver) { connection, records, deadline in
            Self.append(records, nodeID: nodeID, on: connection, deadline: deadline)
        }
        arbiter = Self.groupCommitWorker("arbiter", configuration, batchObserver, holdObserver) { connection, requests, deadline in
            Self.consume(requests, nodeID: nodeID, on: connection, deadline: deadline)
        }
        loader = Self.groupCommitWorker("load", configuration, batchObserver, holdObserver) { connection, loads, deadline in
            Self.load(loads, nodeID: nodeID, on: connection, deadline: deadline)
        }
        ticketArbiter = Self.groupCommitWorker("ticket", configuration, batchObserver, holdObserver) { connection, tickets, deadline in
            Self.redeem(tickets, nodeID: nodeID, on: connection, deadline: deadline)
        }
    }

    /// A worker on a ``HotPathConnection`` that writes each batch with `process`.
    private static func groupCommitWorker<Request: Sendable, Response: Sendable>(
        _ name: String,
        _ configuration: PostgresConfiguration,
        _ batchObserver: (@Sendable (Int) -> Void)?,
        _ holdObserver: (@Sendable (Duration) -> Void)?,
        process: @escaping BatchingWorker<HotPathConnection, Request, Response>.Process
    ) -> BatchingWorker<HotPathConnection, Request, Response> {
        let (conninfo, timeout) = (configuration.conninfo, configuration.timeout)
        return BatchingWorker(
            name: "pg-" + name,
            maxBatchSize: configuration.maxBatchSize,
            timeout: timeout,
            window: configuration.batchWindow,
            batchObserver: batchObserver,
            holdObserver: holdObserver,
            connect: { try HotPathConnection(conninfo, applicationName: "parstore-" + name, timeout: timeout) },
            process: process
        )
    }

    /// Stops the hot-path workers after they drained what they accepted.
    public func shutdown() async {
        await appender.shutdown()
        await arbiter.shutdown()
        await loader.shutdown()
        await ticketArbiter.shutdown()
    }

    /// Appends one event; resumes once its batch is committed.
    public func append(_ record: EventRecord) async throws -> AppendResult {
        try await appender.submit(record)
    }

    /// Appends one event without waiting: `completion` is called on the writer's thread once its batch is done.
    public func appendDetached(_ record: EventRecord, completion: @escaping @Sendable (Result<AppendResult, any Error>) -> Void) {
        appender.enqueue(record, completion: completion)
    }

    /// Consumes a request through the arbiter; resumes once the outcome is committed.
    public func consume(_ request: ConsumeRequest) async throws -> RedemptionResult {
        try await arbiter.submit(request)
    }

    /// Loads a request for a user agent; resumes once the `loaded` event (if any) is committed.
    public func load(_ request: LoadRequest) async throws -> LoadResult {
        // A lost race is decided by the winner's row, which a statement started before its commit cannot see.
        let deadline = ContinuousClock.now + configuration.timeout
        for _ in 0..<5 {
            if case .decided(let result) = try await loader.submit(request, deadline: deadline) { return result }
        }
        throw PGError(sqlState: "40001", message: "the load kept losing races")
    }

    /// Consumes a loaded request through its ticket; resumes once the outcome is committed.
    public func redeem(_ redemption: TicketRedemption) async throws -> RedemptionResult {
        try await ticketArbiter.submit(redemption)
    }

    /// The request behind a ticket, or why there is none; changes nothing.
    public func read(_ ticket: Ticket) async throws -> Result<TicketedRequest, RefusalReason> {
        guard let row = try await queries.query(EventStatements.readTicket, [ticket.day.description, Secret.hex(ticket.hash)]).rows.first else {
            return .failure(.unknown)
        }
        switch row[0] {
        case "live":
            return .success(
                TicketedRequest(
                    clientID: row[1] ?? "",
                    parameters: StoredParameters(payload: row[2], requestID: row[6].flatMap(Secret.bytes(fromHex:)) ?? [], day: ticket.day),
                    pushedAtMillis: Int64(row[3] ?? "") ?? 0,
                    loadedAtMillis: Int64(row[4] ?? "") ?? 0,
                    expiresAtMillis: Int64(row[5] ?? "") ?? 0
                )
            )
        default: return .failure(row[0].flatMap(RefusalReason.init(rawValue:)) ?? .alreadyUsed)
        }
    }

    /// Appends `expired` events for requests past their deadline plus `grace`, the earliest first, in transactions of
    /// at most `rowsPerCall` requests of each kind (each bounded in time, holding its locks briefly), up to `maxCalls`
    /// of them; what is left waits for the next sweep. Never past a deadline that a transaction still open could yet
    /// commit (migration 0012): this node's statements run at most its `timeout`.
    ///
    /// - Returns: how many expired, or `nil` when another node was sweeping.
    public func expireDue(grace: Duration, rowsPerCall: Int = 10_000, maxCalls: Int = 20) async throws -> Int? {
        var total = 0
        for _ in 0..<maxCalls {
            let rows = try await queries.query(
                "SELECT parstore_expire($1, $2 * interval '1 millisecond', $3, $4 * interval '1 millisecond')",
                [configuration.nodeID, String(grace.milliseconds), String(rowsPerCall), String(configuration.timeout.milliseconds)]
            )
            let count = rows.rows.first?.first.flatMap { $0 }.flatMap { Int($0) } ?? 0
            if count < 0 { return total > 0 ? total : nil }
            total += count
            if count == 0 { break }
        }
        return total
    }

    /// How many days of partitions are kept ahead: a week, so that a day on which creation cannot take its lock
    /// (it gives up after 2 s rather than queue every writer behind it) still has its partition from earlier runs.
    public static let partitionDaysAhead = 7

    /// Creates the event-log partitions up to `daysAhead` days from now.
    public func ensurePartitions(daysAhead: Int = partitionDaysAhead) async throws {
        try await queries.query("SELECT parstore_ensure_partitions($1)", [String(daysAhead)])
    }

    /// Analyses today's partitions if they have doubled since their last analyse (migration 0009): call it about
    /// twice a second, so that a young day's plans never go without its statistics.
    public func analyzeTodayIfGrown() async throws {
        try await queries.query("SELECT parstore_analyze_today()")
    }

    /// Whether `error` means PostgreSQL could not be reached or not in time (answer 503, fail closed): the
    /// server's or the connection's failure, or the worker's (shutting down, over its queue, past the deadline).
    public static func isUnavailable(_ error: any Error) -> Bool {
        if let error = error as? PGError { return error.isUnavailable }
        return error is WorkerError
    }
}
