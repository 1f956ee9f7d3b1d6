/// How long a client may take, and how many connections a node keeps: so that slow or idle clients
/// (slowloris) cannot hold the node's connections.
public struct ConnectionLimits: Sendable, Equatable {
    /// From a connection's opening to its first request's complete head. Default 10 s.
    public var headerTimeout: Duration = .seconds(10)
    /// From a request's head to the end of its body. Default 30 s.
    public var bodyTimeout: Duration = .seconds(30)
    /// From a response to the next request's complete head on a kept-alive connection. Default 60 s.
    public var idleTimeout: Duration = .seconds(60)
    /// The most connections open at once; more are closed as they arrive. Default 4096.
    public var maxConnections: Int = 4096

    public init() {}
}
