import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization

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
