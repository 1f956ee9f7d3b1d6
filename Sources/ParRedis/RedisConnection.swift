import CHiredis
import Foundation
public import ParWorker

/// One hiredis connection. Blocking: it lives on a ``BatchingWorker`` thread.
public final class RedisConnection: WorkerConnection {
    private let context: UnsafeMutablePointer<redisContext>
    /// How long the connection and every reply may take.
    private let timeout: Duration

    /// Connects, authenticates and selects the database, with `timeout` for the connection and every reply.
    @available(*, noasync, message: "blocking: call from a worker thread")
    public init(_ endpoint: RedisEndpoint, timeout: Duration = .seconds(1)) throws(RedisError) {
        let milliseconds = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let interval = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        guard let made = redisConnectWithTimeout(endpoint.host, Int32(endpoint.port), interval) else {
            throw RedisError(message: "out of memory")
        }
        guard made.pointee.err == 0 else {
            let message = Self.errorText(made, timeout: timeout)
            redisFree(made)
            throw RedisError(message: message)
        }
        _ = redisSetTimeout(made, interval)
        self.context = made
        self.timeout = timeout
        if let password = endpoint.password {
            try expectOK(command(["AUTH", password]))
        }
        if endpoint.database != 0 {
            try expectOK(command(["SELECT", String(endpoint.database)]))
        }
    }

    deinit { redisFree(context) }

    public var isHealthy: Bool { context.pointee.err == 0 }

    /// Sends all commands, then reads all replies: one round trip for the batch.
    ///
    /// A Redis error reply is a `.success(.error(...))`; a connection failure fails every command not yet answered.
    @available(*, noasync, message: "blocking: call from a worker thread")
    public func pipeline(_ requests: [RedisRequest]) -> [Result<RedisValue, RedisError>] {
        for request in requests {
            if request.asking { append(["ASKING"]) }
            append(request.arguments)
        }
        return requests.map { request in
            if request.asking, case .failure(let error) = reply() { return .failure(error) }  // ASKING's own "OK"
            return reply()
        }
    }

    /// Reads the next reply.
    private func reply() -> Result<RedisValue, RedisError> {
        guard isHealthy else { return .failure(RedisError(message: Self.errorText(context, timeout: timeout))) }
        var raw: UnsafeMutableRawPointer? = nil
        guard redisGetReply(context, &raw) == REDIS_OK, let raw else {
            return .failure(RedisError(message: Self.errorText(context, timeout: timeout)))
        }
        defer { freeReplyObject(raw) }
        return .success(Self.value(raw.assumingMemoryBound(to: redisReply.self)))
    }

    /// Runs one command.
    @available(*, noasync, message: "blocking: call from a worker thread")
    public func command(_ arguments: [String]) throws(RedisError) -> RedisValue {
        try pipeline([RedisRequest(arguments)])[0].get()
    }

    private func append(_ arguments: [String]) {
        let copies = arguments.map { argument -> (UnsafeMutablePointer<CChar>, Int) in
            let utf8 = Array(argument.utf8)
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, utf8.count))
            utf8.withUnsafeBufferPointer { source in
                source.withMemoryRebound(to: CChar.self) { buffer.update(from: $0.baseAddress!, count: utf8.count) }
            }
            return (buffer, utf8.count)
        }
        defer { for (buffer, _) in copies { buffer.deallocate() } }
        var pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0.0) }
        let lengths = copies.map(\.1)
        _ = pointers.withUnsafeMutableBufferPointer { argv in
            lengths.withUnsafeBufferPointer { argvlen in
                redisAppendCommandArgv(context, Int32(arguments.count), argv.baseAddress, argvlen.baseAddress)
            }
        }
    }

    private func expectOK(_ value: RedisValue) throws(RedisError) {
        if case .error(let message) = value { throw RedisError(.reply, message: message) }
    }

    static func value(_ reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let pointee = reply.pointee
        switch pointee.type {
        case REDIS_REPLY_STRING:
            return .string(text(pointee))
        case REDIS_REPLY_STATUS:
            return .status(text(pointee))
        case REDIS_REPLY_ERROR:
            return .error(text(pointee))
        case REDIS_REPLY_INTEGER:
            return .integer(Int(pointee.integer))
        case REDIS_REPLY_ARRAY:
            return .array((0..<Int(pointee.elements)).map { value(pointee.element[$0]!) })
        default:
            return .null
        }
    }

    private static func text(_ reply: redisReply) -> String {
        guard let pointer = reply.str else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: Int(reply.len)), as: UTF8.self)
    }

    /// hiredis's words for the connection's failure; a server that did not answer in time is said so (hiredis 0.14
    /// reports it as its read's or write's `EAGAIN`, "Resource temporarily unavailable").
    private static func errorText(_ context: UnsafeMutablePointer<redisContext>, timeout: Duration) -> String {
        let text = withUnsafeBytes(of: context.pointee.errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if context.pointee.err == REDIS_ERR_IO, text == String(cString: strerror(EAGAIN)) {
            return "no answer within \(timeout)"
        }
        return text
    }
}
