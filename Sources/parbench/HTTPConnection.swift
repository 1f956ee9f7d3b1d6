import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// The TLS client side for `https` targets, made once per run.
struct TLSClient: Sendable {
    let context: NIOSSLContext

    /// - Parameters:
    ///   - caFile: PEM certificates to trust instead of the system's (a test server's self-signed certificate).
    ///   - insecure: no certificate verification at all (never for figures that matter).
    init(caFile: String?, insecure: Bool) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile { configuration.trustRoots = .file(caFile) }
        if insecure { configuration.certificateVerification = .none }
        context = try NIOSSLContext(configuration: configuration)
    }
}

/// One keep-alive HTTP/1.1 connection: a request is written, its whole response read, then the next.
///
/// The exchange runs on the connection's event loop with one continuation per request (no async streams):
/// with Swift concurrency running on the same event loops (see `Parbench.main`), a request costs the load
/// generator no thread switch, so that it leaves the machine to the server it measures.
struct HTTPConnection {
    struct Response {
        var status: Int
        var headers: HTTPHeaders
        var body: ByteBuffer
    }

    /// Opens the connection (TLS for an `https` target) and runs `body` with it; closes it at the end.
    static func with<T>(_ target: Target, tls: TLSClient?, _ body: (Exchanger) async throws -> T) async throws -> T {
        if target.tls && tls == nil { throw BenchError("an https target needs a TLS client context") }
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if target.tls, let tls {
                        // An IP address is checked against the certificate's IP SANs, a name also sent as SNI.
                        let name = target.host.contains(where: { $0.isLetter }) ? target.host : nil
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls.context, serverHostname: name))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseReader())
                }
            }
            .connect(host: target.host, port: target.port)
            .get()
        let reader = try await channel.pipeline.handler(type: ResponseReader.self)
            .map { NIOLoopBound($0, eventLoop: channel.eventLoop) }
            .get()
        let exchanger = Exchanger(channel: channel, reader: reader)
        do {
            let result = try await body(exchanger)
            try? await channel.close()
            return result
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// Sends requests on an open connection, one at a time.
    struct Exchanger: Sendable {
        let channel: any Channel
        let reader: NIOLoopBound<ResponseReader>

        /// Writes one request and reads its whole response.
        func send(_ head: HTTPRequestHead, _ payload: ByteBuffer?) async throws -> Response {
            try await withCheckedThrowingContinuation { continuation in
                if channel.eventLoop.inEventLoop {
                    reader.value.send(head, payload, answer: continuation)
                } else {
                    channel.eventLoop.execute { reader.value.send(head, payload, answer: continuation) }
                }
            }
        }
    }

    /// Writes a request and collects its response on the event loop; resumes the waiting exchange at its end.
    final class ResponseReader: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart

        private var context: ChannelHandlerContext?
        private var waiting: CheckedContinuation<Response, any Error>?
        private var response = Response(status: 0, headers: [:], body: ByteBuffer())

        func handlerAdded(context: ChannelHandlerContext) { self.context = context }
        func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

        func send(_ head: HTTPRequestHead, _ payload: ByteBuffer?, answer: CheckedContinuation<Response, any Error>) {
            guard let context, context.channel.isActive, waiting == nil else {
                answer.resume(throwing: BenchError("the connection is closed"))
                return
            }
            waiting = answer
            response = Response(status: 0, headers: [:], body: context.channel.allocator.buffer(capacity: 0))
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            if let payload { context.write(wrapOutboundOut(.body(.byteBuffer(payload))), promise: nil) }
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                response.status = Int(head.status.code)
                response.headers = head.headers
            case .body(var chunk):
                response.body.writeBuffer(&chunk)
            case .end:
                let answer = waiting
                waiting = nil
                answer?.resume(returning: response)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            fail(BenchError("the server closed the connection"))
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            fail(error)
            context.close(promise: nil)
        }

        private func fail(_ error: any Error) {
            let answer = waiting
            waiting = nil
            answer?.resume(throwing: error)
        }
    }
}

/// A failure of the benchmark itself (as opposed to a response it classifies).
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
