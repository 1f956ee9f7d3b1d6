/// A client's push rate: `perSecond` on average (fractions for slower rates: 0.1 is 6 a minute), up to `burst`
/// at once (GCRA, shared by all nodes).
public struct RateLimit: Sendable, Equatable, Codable {
    public var perSecond: Double
    public var burst: Int

    public init(perSecond: Double, burst: Int) {
        self.perSecond = perSecond
        self.burst = burst
    }
}
