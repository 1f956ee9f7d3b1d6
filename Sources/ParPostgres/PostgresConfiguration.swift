public import ParWorker

/// How a node reaches PostgreSQL: shared by the event log's hot-path connections and the general-purpose one.
public struct PostgresConfiguration: Sendable {
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
