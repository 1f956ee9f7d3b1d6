import Logging
import ParCore
import ParCredentials
import ParRedis

/// Records JWT `jti`s in Redis so that each is used once across all nodes (RFC 7523 §3 item 7, RFC 9449 §11.1).
///
/// Without Redis single use cannot be guaranteed, so JWTs are refused with 503 (fail closed).
struct SingleUseRecorder: Sendable {
    let guards: RedisGuards?
    let metrics: NodeMetrics

    /// - Throws: `replayed` when the value was used before; 503 when Redis cannot tell.
    func record(_ value: SingleUse, replayed: OAuthError) async throws(OAuthError) {
        guard let guards else { throw Self.unavailable }
        let first: Bool
        do {
            first = try await guards.useOnce(value.key, untilMillis: value.untilMillis)
        } catch {
            metrics.redisError("single_use")
            throw Self.unavailable
        }
        guard first else { throw replayed }
    }

    static let unavailable = OAuthError(
        .temporarilyUnavailable,
        "Single use of signed JWTs cannot be checked right now; retry later.",
        status: 503,
        retryAfter: 1
    )
}
