import Logging
import ParCore
import ParRedis

/// The fast filter in front of PostgreSQL's single-use record of JWT `jti`s (RFC 7523 §3 item 7, RFC 9449 §11.1).
///
/// Redis refuses a replay it knows without a database write; the durable record is the push's own transaction
/// (``RequestStore/push(_:lifetime:singleUse:)``), so when Redis is unreachable, flushed or failed over the
/// push goes on and PostgreSQL decides.
struct SingleUseRecorder: Sendable {
    let guards: RedisGuards?
    let metrics: NodeMetrics

    /// - Throws: `replayed` when Redis already holds the value.
    func filter(_ value: SingleUse, replayed: OAuthError) async throws(OAuthError) {
        guard let guards else { return }
        let first: Bool
        do {
            first = try await guards.useOnce(value.hex, lifetime: value.lifetime)
        } catch {
            metrics.redisError("single_use")
            return
        }
        guard first else { throw replayed }
    }
}
