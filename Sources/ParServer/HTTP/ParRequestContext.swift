public import Hummingbird
public import NIOCore

/// The request context of every route: Hummingbird's basics and the TCP peer, which decides whether forwarded
/// headers (the client certificate) are believed.
public struct ParRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
