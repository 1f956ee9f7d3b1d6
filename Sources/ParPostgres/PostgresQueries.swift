import ParWorker

/// The node's general-purpose PostgreSQL connection, on its own thread: readiness, the client registry, the
/// sweeper and partition upkeep, and the event log's reads. Statements queue and run one after another.
public final class PostgresQueries: Sendable {
    /// A statement for the general-purpose connection.
    public struct Query: Sendable {
        public var sql: String
        public var parameters: [String?]
        public init(_ sql: String, _ parameters: [String?] = []) {
            self.sql = sql
            self.parameters = parameters
        }
    }

    private let general: BatchingWorker<PGConnection, Query, PGRows>

    public init(configuration: PostgresConfiguration) {
        let (conninfo, timeout) = (configuration.conninfo, configuration.timeout)
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

    /// Runs one statement.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) async throws -> PGRows {
        try await general.submit(Query(sql, parameters))
    }

    /// Whether the server answers.
    public func ping() async throws {
        try await query("SELECT 1")
    }

    /// Stops the connection's worker after it drained what it accepted.
    public func shutdown() async {
        await general.shutdown()
    }
}
