public import ParCore
public import ParWorker

/// The node's access to PostgreSQL: the group-commit event writer, the arbiter, and a connection for everything
/// else (readiness, registry, sweeper, partitions). Each runs on its own connection and thread.
///
/// Every call that returns has been committed; every failure of a connection surfaces as a ``PGError`` whose
/// ``PGError/isUnavailable`` is true, and connections are made again by themselves when the server is back.
public final class PostgresEventStore: Sendable {
    /// Connection settings.
    public struct Configuration: Sendable {
        /// A libpq connection string or `postgresql://` URL; with several hosts and
        /// `target_session_attrs=read-write`, every connection finds the primary again after a failover.
        public var conninfo: String
        /// Written into every event this node appends.
        public var nodeID: String
        /// The most events written in one statement.
        public var maxBatchSize: Int
        /// The longest a request waits for PostgreSQL, queued and running; also each session's
        /// `statement_timeout` (twice its `lock_timeout`) and its TCP user timeout.
        public var timeout: Duration
        /// How long a small group-commit batch may be held back to grow (``BatchWindow``); `nil` sends at once.
        public var batchWindow: BatchWindow?

        public init(
            conninfo: String,
            nodeID: String,
            maxBatchSize: Int = 1000,
            timeout: Duration = .seconds(10),
            batchWindow: BatchWindow? = BatchWindow()
        ) {
            self.conninfo = conninfo
            self.nodeID = nodeID
            self.maxBatchSize = maxBatchSize
            self.timeout = timeout
            self.batchWindow = batchWindow
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

    private let appender: BatchingWorker<HotPathConnection, EventRecord, AppendResult>
    private let arbiter: BatchingWorker<HotPathConnection, ConsumeRequest, RedemptionResult>
    private let loader: BatchingWorker<HotPathConnection, LoadRequest, LoadOutcome>
    private let ticketArbiter: BatchingWorker<HotPathConnection, TicketRedemption, RedemptionResult>
    private let general: BatchingWorker<PGConnection, Query, PGRows>
    private let configuration: Configuration

    /// - Parameter batchObserver: told the size of every group-commit batch (appends and consumptions).
    public init(configuration: Configuration, batchObserver: (@Sendable (Int) -> Void)? = nil) {
        self.configuration = configuration
        let (conninfo, timeout) = (configuration.conninfo, configuration.timeout)
        let nodeID = configuration.nodeID
        appender = Self.groupCommitWorker("append", configuration, batchObserver) { connection, records, deadline in
            Self.append(records, nodeID: nodeID, on: connection, deadline: deadline)
        }
        arbiter = Self.groupCommitWorker("arbiter", configuration, batchObserver) { connection, requests, deadline in
            Self.consume(requests, nodeID: nodeID, on: connection, deadline: deadline)
        }
        loader = Self.groupCommitWorker("load", configuration, batchObserver) { connection, loads, deadline in
            Self.load(loads, nodeID: nodeID, on: connection, deadline: deadline)
        }
        ticketArbiter = Self.groupCommitWorker("ticket", configuration, batchObserver) { connection, tickets, deadline in
            Self.redeem(tickets, nodeID: nodeID, on: connection, deadline: deadline)
        }
        general = BatchingWorker(
            name: "pg-general",
            maxBatchSize: 16,
            timeout: timeout,
            connect: { try PGConnection(conninfo, applicationName: "parstore", timeout: timeout) },
            process: { connection, queries, deadline in
                queries.map { query in
                    Result { () throws(PGError) in try connection.execute(query.sql, query.parameters, deadline: deadline) }
                }
            }
        )
    }

    /// A worker on a ``HotPathConnection`` that writes each batch with `process`.
    private static func groupCommitWorker<Request: Sendable, Response: Sendable>(
        _ name: String,
        _ configuration: Configuration,
        _ batchObserver: (@Sendable (Int) -> Void)?,
        process: @escaping BatchingWorker<HotPathConnection, Request, Response>.Process
    ) -> BatchingWorker<HotPathConnection, Request, Response> {
        let (conninfo, timeout) = (configuration.conninfo, configuration.timeout)
        return BatchingWorker(
            name: "pg-" + name,
            maxBatchSize: configuration.maxBatchSize,
            timeout: timeout,
            window: configuration.batchWindow,
            batchObserver: batchObserver,
            connect: { try HotPathConnection(conninfo, applicationName: "parstore-" + name, timeout: timeout) },
            process: process
        )
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
        default: return .failure(row[0].flatMap(RefusalReason.init(rawValue:)) ?? .alreadyUsed)
        }
    }

    /// Runs one statement on the general-purpose connection.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) async throws -> PGRows {
        try await general.submit(Query(sql, parameters))
    }

    /// Appends `expired` events for requests past their deadline plus `grace`, the earliest first, in transactions of
    /// at most `rowsPerCall` requests of each kind (each bounded in time, holding its locks briefly), up to `maxCalls`
    /// of them; what is left waits for the next sweep.
    ///
    /// - Returns: how many expired, or `nil` when another node was sweeping.
    public func expireDue(grace: Duration, rowsPerCall: Int = 10_000, maxCalls: Int = 20) async throws -> Int? {
        var total = 0
        for _ in 0..<maxCalls {
            let rows = try await query(
                "SELECT parstore_expire($1, $2 * interval '1 millisecond', $3)",
                [configuration.nodeID, String(grace.milliseconds), String(rowsPerCall)]
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
        try await query("SELECT parstore_ensure_partitions($1)", [String(daysAhead)])
    }

    /// Analyses today's partitions if they have doubled since their last analyse (migration 0009): call it about
    /// twice a second, so that a young day's plans never go without its statistics.
    public func analyzeTodayIfGrown() async throws {
        try await query("SELECT parstore_analyze_today()")
    }

    /// Whether the server answers.
    public func ping() async throws {
        try await query("SELECT 1")
    }

    // MARK: - Batches (on the worker threads)

    /// Runs a batch one day at a time (each day's requests live in that day's partition, which has statements of
    /// its own: ``HotPathStatement``), and answers in the batch's order. Nearly every batch holds one day.
    @available(*, noasync)
    static func byDay<Request, Response>(
        _ batch: [Request],
        on connection: HotPathConnection,
        day: (Request) -> PartitionDay,
        _ run: (PartitionDay, ArraySlice<Request>) throws(PGError) -> [Response]
    ) -> [Result<Response, any Error>] {
        guard let first = batch.first.map(day) else { return [] }
        guard batch.contains(where: { day($0) != first }) else {
            return isolating(batch[...], on: connection) { (part) throws(PGError) in try run(first, part) }
        }
        var results = [Result<Response, any Error>?](repeating: nil, count: batch.count)
        for (group, indices) in Dictionary(grouping: batch.indices, by: { day(batch[$0]) }) {
            let answers = isolating(indices.map { batch[$0] }[...], on: connection) { (part) throws(PGError) in try run(group, part) }
            for (index, answer) in zip(indices, answers) { results[index] = answer }
        }
        return results.map { $0! }
    }

    /// Runs a batch through `run`, and when its statement fails on something other than a lost server, splits it
    /// in halves and runs each again, down to single rows: a bad row fails only its own caller, for about
    /// 2·log2(n) extra round trips instead of one per row. A failed statement changed nothing (it is its own
    /// transaction), so running its rows again is safe.
    @available(*, noasync)
    static func isolating<Request, Response>(
        _ batch: ArraySlice<Request>,
        on connection: some WorkerConnection,
        _ run: (ArraySlice<Request>) throws(PGError) -> [Response]
    ) -> [Result<Response, any Error>] {
        do {
            let responses = try run(batch)
            guard responses.count == batch.count else {
                throw PGError(sqlState: "XX000", message: "a batch statement returned \(responses.count) rows for \(batch.count) inputs")
            }
            return responses.map { .success($0) }
        } catch {
            guard batch.count > 1, !Self.isUnavailable(error), connection.isHealthy else { return batch.map { _ in .failure(error) } }
            let middle = batch.startIndex + batch.count / 2
            return isolating(batch[..<middle], on: connection, run) + isolating(batch[middle...], on: connection, run)
        }
    }

    @available(*, noasync)
    private static func append(
        _ records: [EventRecord],
        nodeID: String,
        on connection: HotPathConnection,
        deadline: ContinuousClock.Instant
    ) -> [Result<AppendResult, any Error>] {
        byDay(records, on: connection, day: \.day) { (day, records) throws(PGError) in
            try appendBatch(records, day: day, nodeID: nodeID, on: connection, deadline: deadline)
        }
    }

    @available(*, noasync)
    private static func appendBatch(
        _ records: ArraySlice<EventRecord>,
        day: PartitionDay,
        nodeID: String,
        on connection: HotPathConnection,
        deadline: ContinuousClock.Instant
    ) throws(PGError) -> [AppendResult] {
        var uses: (ord: [String?], position: [String?], day: [String?], hash: [String?]) = ([], [], [], [])
        for (ord, record) in records.enumerated() {
            for (position, use) in record.singleUse.enumerated() {
                uses.ord.append(String(ord + 1))
                uses.position.append(String(position))
                uses.day.append(use.day.description)
                uses.hash.append(use.hex)
            }
        }
        let rows = try connection.execute(
            .append,
            day: day,
            [
                PostgresArray.literal(records.map { $0.day.description }),
                PostgresArray.literal(records.map { Secret.hex($0.requestID) }),
                PostgresArray.literal(records.map { $0.slot.map(String.init) }),
                PostgresArray.literal(records.map { $0.kind.rawValue }),
                PostgresArray.literal(records.map { $0.clientID }),
                PostgresArray.literal(records.map { $0.lifetime.map { String($0.milliseconds) } }),
                nodeID,
                PostgresArray.literal(records.map { $0.payload }),
                PostgresArray.literal(uses.ord),
                PostgresArray.literal(uses.position),
                PostgresArray.literal(uses.day),
                PostgresArray.literal(uses.hash),
            ],
            before: deadline
        )
        return rows.rows.map { row in
            AppendResult(
                inserted: row[0] != nil,
                atMillis: Int64(row[0] ?? "") ?? 0,
                deadlineMillis: Int64(row[1] ?? "") ?? 0,
                replayedSingleUse: row[2].flatMap { Int($0) }
            )
        }
    }

    @available(*, noasync)
    private static func consume(
        _ requests: [ConsumeRequest],
        nodeID: String,
        on connection: HotPathConnection,
        deadline: ContinuousClock.Instant
    ) -> [Result<RedemptionResult, any Error>] {
        byDay(requests, on: connection, day: \.day) { (day, requests) throws(PGError) in
            let rows = try connection.execute(
                .consume,
                day: day,
                [
                    PostgresArray.literal(requests.map { $0.day.description }),
                    PostgresArray.literal(requests.map { Secret.hex($0.requestID) }),
                    PostgresArray.literal(requests.map { $0.clientID }),
                    nodeID,
                ],
                before: deadline
            )
            return zip(requests, rows.rows).map { request, row in RedemptionResult(arbiterRow: row, clientID: request.clientID) }
        }
    }

    @available(*, noasync)
    private static func load(
        _ requests: [LoadRequest],
        nodeID: String,
        on connection: HotPathConnection,
        deadline: ContinuousClock.Instant
    ) -> [Result<LoadOutcome, any Error>] {
        byDay(requests, on: connection, day: \.reference.day) { (day, requests) throws(PGError) in
            let rows = try connection.execute(
                .load,
                day: day,
                [
                    PostgresArray.literal(requests.map { $0.reference.day.description }),
                    PostgresArray.literal(requests.map { $0.reference.requestIDHex }),
                    PostgresArray.literal(requests.map { $0.clientID }),
                    PostgresArray.literal(requests.map { Secret.hex($0.binding.hash) }),
                    PostgresArray.literal(requests.map { Secret.hex($0.ticket.hash) }),
                    PostgresArray.literal(requests.map { String($0.interactionLifetime.milliseconds) }),
                    nodeID,
                ],
                before: deadline
            )
            return zip(requests, rows.rows).map { request, row -> LoadOutcome in
                switch row[0] {
                case "loaded": .decided(.loaded(request.ticket))
                case "reloaded": .decided(.reloaded(request.ticket))
                case "retry": .retry
                default: .decided(.refused(row[0].flatMap(RefusalReason.init(rawValue:)) ?? .unknown))
                }
            }
        }
    }

    @available(*, noasync)
    private static func redeem(
        _ redemptions: [TicketRedemption],
        nodeID: String,
        on connection: HotPathConnection,
        deadline: ContinuousClock.Instant
    ) -> [Result<RedemptionResult, any Error>] {
        byDay(redemptions, on: connection, day: \.ticket.day) { (day, redemptions) throws(PGError) in
            let rows = try connection.execute(
                .redeemTicket,
                day: day,
                [
                    PostgresArray.literal(redemptions.map { $0.ticket.day.description }),
                    PostgresArray.literal(redemptions.map { Secret.hex($0.ticket.hash) }),
                    nodeID,
                    PostgresArray.literal(redemptions.map { $0.attemptHash.map(Secret.hex) }),
                ],
                before: deadline
            )
            return rows.rows.map { row in RedemptionResult(arbiterRow: row, clientID: row[4] ?? "") }
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
        default: self = .refused(row[0].flatMap(RefusalReason.init(rawValue:)) ?? .unknown)
        }
    }
}

extension PostgresEventStore {
    /// Whether `error` means PostgreSQL could not be reached or not in time (answer 503, fail closed): the
    /// server's or the connection's failure, or the worker's (shutting down, over its queue, past the deadline).
    public static func isUnavailable(_ error: any Error) -> Bool {
        if let error = error as? PGError { return error.isUnavailable }
        return error is WorkerError
    }
}
