/// What a node counts of its Redis traffic (its metrics).
public struct RedisObserver: Sendable {
    /// The size of every pipeline sent.
    public var pipeline: @Sendable (Int) -> Void
    /// A cluster redirection followed: `moved` or `ask`.
    public var redirected: @Sendable (String) -> Void
    /// The cluster's slot map read again.
    public var mapRefreshed: @Sendable () -> Void
    /// A command retried after a short pause, by reason (a ``RedisError/Kind`` raw value).
    public var retried: @Sendable (String) -> Void

    public init(
        pipeline: @escaping @Sendable (Int) -> Void = { _ in },
        redirected: @escaping @Sendable (String) -> Void = { _ in },
        mapRefreshed: @escaping @Sendable () -> Void = {},
        retried: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.pipeline = pipeline
        self.redirected = redirected
        self.mapRefreshed = mapRefreshed
        self.retried = retried
    }
}
