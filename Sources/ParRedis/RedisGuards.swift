/// What the rate limiter decided.
public enum RateDecision: Sendable, Equatable {
    case allowed
    /// Over the limit: retry after this many milliseconds.
    case limited(retryAfterMillis: Int64)
}

/// Checks shared by all nodes: values usable once (JWT `jti`s) and per-client rate limits.
public struct RedisGuards: Sendable {
    private let pool: RedisPool

    public init(pool: RedisPool) {
        self.pool = pool
    }

    /// Records `key` for `lifetime` (relative, so no node's clock makes it absolute) unless it is already recorded.
    ///
    /// - Returns: `true` for the first use, `false` for a replay.
    public func useOnce(_ key: String, lifetime: Duration) async throws -> Bool {
        let millis = max(1, lifetime.components.seconds * 1000 + lifetime.components.attoseconds / 1_000_000_000_000_000)
        let key = "parstore:once:" + key
        let reply = try await pool.command(["SET", key, "1", "NX", "PX", String(millis)], key: key)
        return reply != .null
    }

    /// Counts one request of `subject` against `perSecond` requests per second with bursts of `burst`
    /// (GCRA on Redis's clock, so every node shares one budget).
    public func admit(_ subject: String, perSecond: Double, burst: Int) async throws -> RateDecision {
        let interval = Int64(max(1, (1_000_000 / max(perSecond, 0.000_1)).rounded()))
        let key = "parstore:rate:" + subject
        let reply = try await pool.command(["FCALL", "parstore_rate", "1", key, String(interval), String(max(1, burst))], key: key)
        guard case .integer(let waitMicros) = reply else { throw RedisError(.reply, message: "unexpected reply to parstore_rate") }
        return waitMicros <= 0 ? .allowed : .limited(retryAfterMillis: Int64((waitMicros + 999) / 1000))
    }
}
