/// How long a worker may hold a small batch back to let it grow: each statement costs the server a fixed price
/// (parse, plan, transaction, WAL flush) plus a price per row, so many nodes each sending small batches cost it more
/// per event than one node sending big ones.
public struct BatchWindow: Sendable {
    /// The batch size past which nothing is held back. Eight by default: PostgreSQL's price per event falls steeply
    /// from one event a statement to a few and hardly past eight (pgbench of the event insert, one machine: 29 µs of
    /// its CPU per row at 1 row a statement, 6–17 µs at 4 to 32), while every hold costs the held callers latency
    /// and, with the connection idle meanwhile, the node throughput.
    public var target: Int
    /// The longest a batch is held back (a latency budget).
    public var limit: Duration

    public init(target: Int = 8, limit: Duration = .milliseconds(5)) {
        self.target = target
        self.limit = limit
    }

    /// How a batch of `count` requests is held back at `now` when others arrive at `rate` (``ArrivalRate``): as long
    /// as the target takes to fill, within the limit; `nil` (sent at once) at or past the target, or when fewer than
    /// one more request is expected within the limit.
    public func hold(count: Int, rate: ArrivalRate, now: ContinuousClock.Instant) -> Hold? {
        let perSecond = rate.perSecond
        guard count < target, perSecond * limit.seconds >= 1 else { return nil }
        let length = min(limit, .seconds(Double(target - count) / perSecond))
        // Looks again after about two arrivals' time (a look that finds nothing then says the stream ran dry), and at
        // least four times within the limit: the few callers a slow rate comes from are in soon or not at all.
        let step = min(max(Duration.seconds(2 / perSecond), .microseconds(250)), limit / 4)
        return Hold(start: now, end: now + length, step: step, target: target)
    }

    /// One batch's hold: it looks for more requests every `step` until the end, and ends early once the batch
    /// reaches the target or a look finds nothing — the requests that were coming have come (a few connections
    /// taking turns, each waiting for its answer, never fill the target), and waiting longer would only delay them.
    public struct Hold: Sendable, Equatable {
        public let start: ContinuousClock.Instant
        public let end: ContinuousClock.Instant
        public let step: Duration
        let target: Int

        /// When to look first.
        public var firstLook: ContinuousClock.Instant { min(start + step, end) }

        /// When to look again after a look at `now` that found `found` more requests and left the batch at `count`;
        /// `nil`: send it now.
        public func nextLook(found: Int, count: Int, now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
            guard found > 0, count < target, now < end else { return nil }
            return min(now + step, end)
        }
    }
}

/// The rate at which requests arrive that a held batch could gain: those that arrived while the worker had a batch
/// out (held back, or at the server), a moving average over its batches.
///
/// A request that arrives while a batch is out is never one of that batch's callers' next requests: they are still
/// waiting for their answers. So a caller that sends one request at a time — the next only after the answer, as a
/// browser's redirects and most clients do — counts for nothing here, and is never held back for requests that will
/// not come (counted over all time instead, its own pace would look like a stream, and every one of its requests
/// would wait the whole limit). Independent callers (other users, other connections) count in full.
public struct ArrivalRate: Sendable, Equatable {
    /// Requests per second.
    public private(set) var perSecond: Double = 0

    public init() {}

    /// Takes in one batch's time out and the requests that arrived meanwhile.
    public mutating func record(arrivals: Int, whileOut time: Duration) {
        let seconds = max(time.seconds, 1e-6)
        perSecond = 0.7 * perSecond + 0.3 * Double(arrivals) / seconds
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
