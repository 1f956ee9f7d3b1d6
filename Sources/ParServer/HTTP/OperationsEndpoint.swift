import Hummingbird
import ParPostgres
import ParRedis

/// `GET /healthz` (the process answers), `GET /readyz` (PostgreSQL reachable; Redis state), `GET /metrics`.
struct OperationsEndpoint: Sendable {
    let postgres: PostgresEventStore
    let redis: RedisPool?
    let metrics: NodeMetrics

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("healthz") { _, _ in OAuthResponses.json(.ok, #"{"status":"ok"}"#) }
        router.get("readyz") { _, _ in await self.readiness() }
        router.get("metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: self.metrics.render()))
            )
        }
    }

    /// Ready when PostgreSQL answers: without it nothing can succeed. Redis is reported, not required.
    func readiness() async -> Response {
        let postgresUp = (try? await postgres.ping()) != nil
        let redisState: String
        if let redis {
            redisState = (try? await redis.ping()) != nil ? "up" : "down"
        } else {
            redisState = "disabled"
        }
        let body = #"{"status":"\#(postgresUp ? "ready" : "unavailable")","postgres":"\#(postgresUp ? "up" : "down")","redis":"\#(redisState)"}"#
        return OAuthResponses.json(postgresUp ? .ok : .serviceUnavailable, body)
    }
}
