public import Prometheus

/// The node's metrics, in Prometheus text format at `GET /metrics`.
///
/// Each node has its own registry (no global bootstrap), so several nodes can run in one process in tests.
public struct NodeMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let pushDuration: DurationHistogram
    let redeemDuration: DurationHistogram
    let groupCommitBatch: ValueHistogram
    let redisPipelineBatch: ValueHistogram
    let expired: Counter

    private static let latencyBuckets: [Duration] = [
        .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(1000),
    ]
    private static let batchBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000]

    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        pushDuration = registry.makeDurationHistogram(
            descriptor: Self.name("push_duration", unit: "seconds", help: "Time to answer POST /par."),
            buckets: Self.latencyBuckets
        )
        redeemDuration = registry.makeDurationHistogram(
            descriptor: Self.name("redeem_duration", unit: "seconds", help: "Time to answer a redemption."),
            buckets: Self.latencyBuckets
        )
        groupCommitBatch = registry.makeValueHistogram(
            descriptor: Self.name("group_commit_batch", unit: "size", help: "Events written to PostgreSQL per group-commit statement."),
            buckets: Self.batchBuckets
        )
        redisPipelineBatch = registry.makeValueHistogram(
            descriptor: Self.name("redis_pipeline_batch", unit: "size", help: "Redis commands per pipeline."),
            buckets: Self.batchBuckets
        )
        expired = registry.makeCounter(descriptor: Self.name("expired", unit: "total", help: "Requests this node's sweeper expired."))
    }

    private static func name(_ metric: String, unit: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "parstore", metricName: metric, unitName: unit, helpText: help)
    }

    private static var pushes: MetricNameDescriptor { name("push", unit: "total", help: "POST /par answers by outcome.") }
    private static var redemptions: MetricNameDescriptor { name("redeem", unit: "total", help: "Redemption answers by outcome.") }
    private static var authorizations: MetricNameDescriptor {
        name("authorize", unit: "total", help: "/authorize answers by outcome (loaded, reloaded, a refusal reason).")
    }
    private static var fallbacks: MetricNameDescriptor {
        name("redis_fallback", unit: "total", help: "Redemptions decided by PostgreSQL alone, by reason.")
    }
    private static var redisErrors: MetricNameDescriptor { name("redis_errors", unit: "total", help: "Failed Redis calls, by operation.") }

    /// Counts a push by outcome: `created` or the OAuth error code.
    func push(_ outcome: String) {
        registry.makeCounter(descriptor: Self.pushes, labels: [("outcome", outcome)]).increment()
    }

    /// Counts a redemption by outcome: `redeemed`, a refusal reason, or an error code.
    func redeem(_ outcome: String) {
        registry.makeCounter(descriptor: Self.redemptions, labels: [("outcome", outcome)]).increment()
    }

    /// Counts an `/authorize` answer by outcome: `loaded`, `reloaded`, a refusal reason or an error code.
    func authorize(_ outcome: String) {
        registry.makeCounter(descriptor: Self.authorizations, labels: [("outcome", outcome)]).increment()
    }

    /// Counts a redemption answered by PostgreSQL because Redis could not (`not_found`, `unavailable`,
    /// `rate_limited` when the fallback budget was spent).
    func redisFallback(_ reason: String) {
        registry.makeCounter(descriptor: Self.fallbacks, labels: [("reason", reason)]).increment()
    }

    /// Counts a Redis call that failed (the node carried on through PostgreSQL).
    func redisError(_ operation: String) {
        registry.makeCounter(descriptor: Self.redisErrors, labels: [("operation", operation)]).increment()
    }

    /// The metrics in Prometheus text format.
    public func render() -> String { registry.emitToString() }
}
