import Hummingbird
import Synchronization

/// `GET /healthz` (the process answers), `GET /readyz` (PostgreSQL reachable; Redis `up`, `down`, `disabled`, or
/// `degraded` with the number of a cluster's slots that have no reachable primary), `GET /metrics`.
final class OperationsEndpoint: Sendable {
    /// Redis as `/readyz` reports it.
    enum RedisReadiness {
        case up
        /// A cluster some of whose slots have no reachable primary now.
        case degraded(unreachableSlots: Int)
        case down
    }

    let metrics: NodeMetrics
    /// Whether PostgreSQL answers.
    let checkPostgres: @Sendable () async -> Bool
    /// Redis's health; `nil` when the node runs without Redis.
    let checkRedis: @Sendable () async -> RedisReadiness?
    /// Anyone may ask: the stores are asked at most twice a second.
    private let lastReadiness = RecentAnswer<(status: HTTPResponse.Status, body: String)>(maxAge: .milliseconds(500))

    init(metrics: NodeMetrics, checkPostgres: @escaping @Sendable () async -> Bool, checkRedis: @escaping @Sendable () async -> RedisReadiness?) {
        self.metrics = metrics
        self.checkPostgres = checkPostgres
        self.checkRedis = checkRedis
    }

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
        let answer = await lastReadiness.value { await checkStores() }
        return OAuthResponses.json(answer.status, answer.body)
    }

    private func checkStores() async -> (status: HTTPResponse.Status, body: String) {
        let postgresUp = await checkPostgres()
        let redisState: String
        switch await checkRedis() {
        case nil: redisState = #""redis":"disabled""#
        case .up: redisState = #""redis":"up""#
        case .down: redisState = #""redis":"down""#
        case .degraded(let slots): redisState = #""redis":"degraded","redis_unreachable_slots":\#(slots)"#
        }
        let body = #"{"status":"\#(postgresUp ? "ready" : "unavailable")","postgres":"\#(postgresUp ? "up" : "down")",\#(redisState)}"#
        return (postgresUp ? .ok : .serviceUnavailable, body)
    }
}
