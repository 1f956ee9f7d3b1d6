/// What `parstore audit` reports.
public struct AuditReport: Sendable, Codable {
    public struct Latency: Sendable, Codable {
        public var count: Int
        public var p50: Double
        public var p90: Double
        public var p99: Double
        public var max: Double
    }

    public var requests: Int
    public var events: [String: Int]
    /// Pushes per second over the time the replayed pushes span.
    public var pushRate: Double
    /// Seconds from push to redemption.
    public var pushToRedeem: Latency?
    public var violations: [AuditViolation]
}
