import ParCore
import ParRedis

/// Per-client push rate limits, shared by all nodes through Redis (RFC 9126 §2.3: 429 when a client exceeds
/// its rate). When Redis cannot answer the push goes through: a limiter must not take the endpoint down.
struct PushRateLimiter: Sendable {
    let guards: RedisGuards?
    let defaultLimit: RateLimit?
    let metrics: NodeMetrics

    /// - Throws: 429 with `Retry-After` when `client` is over its limit.
    func admit(_ client: Client) async throws(OAuthError) {
        guard let guards, let limit = client.rateLimit ?? defaultLimit else { return }
        let decision: RateDecision
        do {
            decision = try await guards.admit("push:" + client.id, perSecond: limit.perSecond, burst: limit.burst)
        } catch {
            metrics.redisError("rate_limit")
            return
        }
        if case .limited(let wait) = decision {
            throw OAuthError(
                .invalidRequest,
                "The client exceeded its rate of pushed authorization requests; retry later.",
                status: 429,
                reason: "rate_limited",
                retryAfter: Int((wait + 999) / 1000)
            )
        }
    }
}
