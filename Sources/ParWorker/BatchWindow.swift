/// How long a worker may hold a small batch back to let it grow: each statement costs the server a fixed price
/// (parse, plan, transaction, WAL flush) plus a price per row, so many nodes each sending small batches cost it more
/// per event than one node sending big ones.
public struct BatchWindow: Sendable {
    /// The batch size past which nothing is held back.
    public var target: Int
    /// The longest a batch is held back (a latency budget).
    public var limit: Duration

    public init(target: Int = 32, limit: Duration = .milliseconds(5)) {
        self.target = target
        self.limit = limit
    }
}
