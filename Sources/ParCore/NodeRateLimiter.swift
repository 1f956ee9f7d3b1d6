import Synchronization

/// A token bucket for one node: bounds how often a path that anyone can call without credentials (a request_uri
/// Redis does not know, a browser load, a refusal to record) reaches PostgreSQL, so a flood costs a 503 rather than
/// the database's time.
public final class NodeRateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var refilled: ContinuousClock.Instant
    }

    private let rate: Double
    private let bucket: Mutex<Bucket>

    public init(perSecond rate: Int) {
        self.rate = Double(max(1, rate))
        bucket = Mutex(Bucket(tokens: Double(max(1, rate)), refilled: .now))
    }

    /// Takes a token; `false` when the budget of this second is spent.
    public func allow() -> Bool {
        let now = ContinuousClock.now
        return bucket.withLock { bucket in
            let elapsed = now - bucket.refilled
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(rate, bucket.tokens + seconds * rate)
            bucket.refilled = now
            guard bucket.tokens >= 1 else { return false }
            bucket.tokens -= 1
            return true
        }
    }
}
