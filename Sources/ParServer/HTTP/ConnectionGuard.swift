import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization

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

/// The number of connections open on a node, shared by their guards.
final class ConnectionCount: Sendable {
    private let open = Atomic<Int>(0)

    /// Counts a new connection; `false` (and not counted) when `limit` are already open.
    func admit(limit: Int) -> Bool {
        var current = open.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = open.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    func release() { open.subtract(1, ordering: .relaxed) }
}

/// Enforces ``ConnectionLimits`` on one connection, between Hummingbird's HTTP decoding and its request handling:
/// one deadline at a time (the head, then the body, then the idle time before the next head); when it passes the
/// connection is closed. While the node works on a request no deadline runs: the request's own waits are bounded
/// where they happen.
///
/// A request only moves the deadline (a clock read); one timer per connection checks it every
/// ``checkInterval``, so deadlines hold to within that interval and cost no timer per request.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// How often a connection's deadline is checked.
    static let checkInterval: TimeAmount = .milliseconds(250)

    private let limits: ConnectionLimits
    private let count: ConnectionCount
    private let closed: @Sendable (String) -> Void
    private var admitted = false
    private var deadline: (at: NIODeadline, name: String)?
    private var checker: RepeatedTask?

    /// - Parameter closed: told which deadline closed a connection (`header`, `body`, `idle`) or `refused` for a
    ///   connection over the cap.
    init(limits: ConnectionLimits, count: ConnectionCount, closed: @escaping @Sendable (String) -> Void) {
        self.limits = limits
        self.count = count
        self.closed = closed
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard count.admit(limit: limits.maxConnections) else {
            closed("refused")
            context.close(promise: nil)
            return
        }
        admitted = true
        arm(limits.headerTimeout, "header")
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let channel = context.channel
        checker = context.eventLoop.scheduleRepeatedTask(initialDelay: Self.checkInterval, delay: Self.checkInterval) { task in
            let guardian = loopBound.value
            guard let deadline = guardian.deadline, deadline.at < .now() else { return }
            task.cancel()
            guardian.deadline = nil
            guardian.closed(deadline.name)
            channel.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        checker?.cancel()
        checker = nil
        deadline = nil
        if admitted {
            admitted = false
            count.release()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: arm(limits.bodyTimeout, "body")
        case .body: break
        case .end: deadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { arm(limits.idleTimeout, "idle") }
        context.write(data, promise: promise)
    }

    private func arm(_ timeout: Duration, _ name: String) {
        deadline = (.now() + TimeAmount(timeout), name)
    }
}
