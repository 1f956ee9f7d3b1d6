public import Prometheus
import Synchronization

/// The node's metrics, in Prometheus text format at `GET /metrics`.
///
/// Each node has its own registry (no global bootstrap), so several nodes can run in one process in tests.
public struct NodeMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let pushDuration: DurationHistogram
    let redeemDuration: DurationHistogram
    let groupCommitBatch: ValueHistogram
    let groupCommitHold: DurationHistogram
    let redisPipelineBatch: ValueHistogram
    let expired: Counter
    let redisMapRefresh: Counter
    let logIntegrated: Counter
    let logCheckpoints: Counter
    let logSize: Gauge
    let logLag: Gauge

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
        groupCommitHold = registry.makeDurationHistogram(
            descriptor: Self.name(
                "group_commit_hold",
                unit: "seconds",
                help: "Time a group-commit batch was held back to grow (PARSTORE_BATCH_WINDOW); 0 for one sent at once."
            ),
            buckets: [
                .zero, .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                .milliseconds(100),
            ]
        )
        redisPipelineBatch = registry.makeValueHistogram(
            descriptor: Self.name("redis_pipeline_batch", unit: "size", help: "Redis commands per pipeline."),
            buckets: Self.batchBuckets
        )
        expired = registry.makeCounter(descriptor: Self.name("expired", unit: "total", help: "Requests this node's sweeper expired."))
        logIntegrated = registry.makeCounter(
            descriptor: Self.name("log_integrated", unit: "total", help: "Events this node gave a leaf index in the tamper-evident log.")
        )
        logCheckpoints = registry.makeCounter(
            descriptor: Self.name("log_checkpoints", unit: "total", help: "Checkpoints of the tamper-evident log this node signed.")
        )
        logSize = registry.makeGauge(
            descriptor: Self.name("log_size", unit: "leaves", help: "The log's size at this node's last integration.")
        )
        logLag = registry.makeGauge(
            descriptor: Self.name(
                "log_lag",
                unit: "seconds",
                help: "Age of the newest integrated event at this node's last integration (how far the log trails)."
            )
        )
        redisMapRefresh = registry.makeCounter(
            descriptor: Self.name("redis_map_refreshes", unit: "total", help: "Readings of the Redis Cluster's slot map.")
        )
        redisRedirect = LabelledCounter(
            registry,
            Self.name("redis_redirects", unit: "total", help: "Redis Cluster redirections followed, by kind (moved, ask)."),
            label: "kind"
        )
        redisRetry = LabelledCounter(
            registry,
            Self.name("redis_retries", unit: "total", help: "Redis commands retried after a pause, by reason."),
            label: "reason"
        )
        push = LabelledCounter(registry, Self.name("push", unit: "total", help: "POST /par answers by outcome."), label: "outcome")
        redeem = LabelledCounter(registry, Self.name("redeem", unit: "total", help: "Redemption answers by outcome."), label: "outcome")
        authorize = LabelledCounter(
            registry,
            Self.name("authorize", unit: "total", help: "/authorize answers by outcome (loaded, reloaded, a refusal reason)."),
            label: "outcome"
        )
        redisFallback = LabelledCounter(
            registry,
            Self.name("redis_fallback", unit: "total", help: "Redemptions decided by PostgreSQL alone, by reason."),
            label: "reason"
        )
        redisError = LabelledCounter(
            registry,
            Self.name("redis_errors", unit: "total", help: "Failed Redis calls, by operation."),
            label: "operation"
        )
        refusal = LabelledCounter(
            registry,
            Self.name("refusals", unit: "total", help: "Refused attempts on known requests, by reason (each recorded once per request)."),
            label: "reason"
        )
        storeRefusal = LabelledCounter(
            registry,
            Self.name("unstorable_input", unit: "total", help: "Inputs PostgreSQL refused, answered 400, by operation."),
            label: "operation"
        )
        unreadableParameters = LabelledCounter(
            registry,
            Self.name(
                "unreadable_parameters",
                unit: "total",
                help:
                    "Sealed parameters that did not open, by why (tampered: changed or moved from another request; key: the day's key cannot be had)."
            ),
            label: "why"
        )
        connectionClosed = LabelledCounter(
            registry,
            Self.name("connections_closed", unit: "total", help: "Connections closed by a deadline (header, body, idle) or over the cap (refused)."),
            label: "reason"
        )
        nodeLimited = LabelledCounter(
            registry,
            Self.name("node_limited", unit: "total", help: "Requests answered 503 because a per-node budget was spent, by path."),
            label: "path"
        )
    }

    static func name(_ metric: String, unit: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "parstore", metricName: metric, unitName: unit, helpText: help)
    }

    /// Counts a push by outcome: `created` or the OAuth error code.
    let push: LabelledCounter
    /// Counts a redemption by outcome: `redeemed`, a refusal reason, or an error code.
    let redeem: LabelledCounter
    /// Counts an `/authorize` answer by outcome: `loaded`, `reloaded`, a refusal reason or an error code.
    let authorize: LabelledCounter
    /// Counts a redemption answered by PostgreSQL because Redis could not: `not_found`, `rate_limited` when the
    /// fallback budget was spent, or why Redis failed (`connection`, `cluster_down`, `try_again`, `no_route`,
    /// `reply`, `overloaded`).
    let redisFallback: LabelledCounter
    /// Counts a Redis call that failed (the node carried on through PostgreSQL), by operation.
    let redisError: LabelledCounter
    /// Counts a Redis Cluster redirection followed: `moved` or `ask`.
    let redisRedirect: LabelledCounter
    /// Counts a Redis command retried after a short pause: `connection`, `cluster_down`, `try_again`, `no_route`.
    let redisRetry: LabelledCounter
    /// Counts every refused attempt on a known request, by reason; the log records each at most once per request.
    let refusal: LabelledCounter
    /// Counts an input that PostgreSQL refused as data (answered 400 once its row was isolated), by operation.
    let storeRefusal: LabelledCounter
    /// Counts sealed parameters that did not open: `tampered` or `key`.
    let unreadableParameters: LabelledCounter
    /// Counts a connection the node closed: a deadline passed, or the cap was reached.
    let connectionClosed: LabelledCounter
    /// Counts a request refused with 503 because the node's budget for its path was spent.
    let nodeLimited: LabelledCounter

    /// The metrics in Prometheus text format.
    public func render() -> String { registry.emitToString() }
}

/// A counter family with one label: each label value's counter is made once and kept, so counting on the request
/// path is a dictionary lookup, not a registry call. Label values come from small fixed sets (outcomes, reasons).
final class LabelledCounter: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let metric: String
    private let unit: String
    private let help: String
    private let label: String
    private let counters = Mutex<[String: Counter]>([:])

    init(_ registry: PrometheusCollectorRegistry, _ descriptor: MetricNameDescriptor, label: String) {
        self.registry = registry
        self.metric = descriptor.metricName
        self.unit = descriptor.unitName ?? ""
        self.help = descriptor.helpText ?? ""
        self.label = label
    }

    /// Adds one under `value`.
    func callAsFunction(_ value: String) {
        counters.withLock { cache in
            if let counter = cache[value] { return counter }
            let counter = registry.makeCounter(descriptor: NodeMetrics.name(metric, unit: unit, help: help), labels: [(label, value)])
            cache[value] = counter
            return counter
        }.increment()
    }
}
