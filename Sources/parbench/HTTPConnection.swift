import NIOCore
import NIOHTTP1
import NIOPosix

/// One keep-alive HTTP/1.1 connection: a request is written, its whole response read, then the next.
struct HTTPConnection {
    struct Response {
        var status: Int
        var headers: HTTPHeaders
        var body: ByteBuffer
    }

    let host: String
    let port: Int

    /// Opens the connection and runs `body` with it; closes it at the end.
    static func with<T>(host: String, port: Int, _ body: (Exchanger) async throws -> T) async throws -> T {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await body(Exchanger(responses: inbound.makeAsyncIterator(), requests: outbound))
        }
    }

    /// Sends requests on an open connection, one at a time.
    final class Exchanger {
        private var responses: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
        private let requests: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>

        init(
            responses: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator,
            requests: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>
        ) {
            self.responses = responses
            self.requests = requests
        }

        /// Writes one request and reads its whole response.
        func send(_ head: HTTPRequestHead, _ payload: ByteBuffer?) async throws -> Response {
            var parts: [HTTPClientRequestPart] = [.head(head)]
            if let payload { parts.append(.body(.byteBuffer(payload))) }
            parts.append(.end(nil))
            try await requests.write(contentsOf: parts)
            var response = Response(status: 0, headers: [:], body: ByteBuffer())
            while let part = try await responses.next() {
                switch part {
                case .head(let head):
                    response.status = Int(head.status.code)
                    response.headers = head.headers
                case .body(var chunk):
                    response.body.writeBuffer(&chunk)
                case .end:
                    return response
                }
            }
            throw BenchError("the server closed the connection")
        }
    }
}

/// A failure of the benchmark itself (as opposed to a response it classifies).
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
