public import ParCore
import ParWorker
import Synchronization

/// What Redis says about a claim.
public enum RedisClaim: Sendable, Equatable {
    /// This caller claimed the request; the arbiter must still commit it.
    case claimed(RedeemedRequest)
    /// Redis has no such request (never pushed, expired, or lost with Redis data): ask PostgreSQL.
    case notFound
    /// Another client pushed it; nothing changed.
    case wrongClient
    /// It was claimed before.
    case used
}

/// The live requests in Redis: the fast, atomic filter in front of the PostgreSQL arbiter. Never needed for
/// safety: every answer that matters is confirmed by PostgreSQL.
///
/// Calls from concurrent requests are pipelined on a few connections, each on its own thread.
public final class RedisRequestCache: Sendable {
    private let workers: [BatchingWorker<RedisConnection, [String], RedisValue>]
    private let next = Atomic<Int>(0)

    /// - Parameters:
    ///   - endpoint: where Redis is.
    ///   - connections: how many pipelined connections to use.
    ///   - batchObserver: told the size of every pipeline.
    public init(endpoint: RedisEndpoint, connections: Int = 2, batchObserver: (@Sendable (Int) -> Void)? = nil) {
        workers = (0..<max(1, connections)).map { index in
            BatchingWorker(
                name: "redis-\(index)",
                maxBatchSize: 512,
                reconnectInterval: .milliseconds(500),
                batchObserver: batchObserver,
                connect: {
                    let connection = try RedisConnection(endpoint)
                    if case .error(let message) = try connection.command(["FUNCTION", "LOAD", "REPLACE", RedisFunctionLibrary.source]) {
                        throw RedisError(message: "FUNCTION LOAD failed: \(message)")
                    }
                    return connection
                },
                process: { connection, commands in
                    connection.pipeline(commands).map { $0.mapError { $0 as any Error } }
                }
            )
        }
    }

    /// Stops the connections after they drained what they accepted.
    public func shutdown() async {
        for worker in workers { await worker.shutdown() }
    }

    /// Runs one command on one of the pipelined connections.
    ///
    /// - Throws: ``RedisError`` when Redis cannot be reached, or when it answers with an error.
    public func command(_ arguments: [String]) async throws -> RedisValue {
        let index = next.wrappingAdd(1, ordering: .relaxed).oldValue % workers.count
        let value = try await workers[index].submit(arguments)
        if case .error(let message) = value { throw RedisError(message: message) }
        return value
    }

    /// Stores a pushed request until its deadline; never overwrites.
    ///
    /// - Returns: `false` when the key already existed.
    @discardableResult
    public func push(_ reference: RequestReference, request: RedeemedRequest) async throws -> Bool {
        let reply = try await command([
            "FCALL", "parstore_push", "1", Self.key(reference),
            request.clientID, String(request.expiresAtMillis), request.parametersJSON, String(request.pushedAtMillis),
        ])
        return reply == .integer(1)
    }

    /// Claims a request for `clientID`, atomically.
    public func claim(_ reference: RequestReference, clientID: String) async throws -> RedisClaim {
        let reply = try await command(["FCALL", "parstore_claim", "1", Self.key(reference), clientID])
        guard case .array(let parts) = reply, let status = parts.first?.text else {
            throw RedisError(message: "unexpected reply to parstore_claim")
        }
        switch status {
        case "ok":
            guard parts.count == 4, let parameters = parts[1].text, let pushedAt = parts[2].text.flatMap({ Int64($0) }),
                let deadline = parts[3].text.flatMap({ Int64($0) })
            else { throw RedisError(message: "malformed record in Redis") }
            return .claimed(RedeemedRequest(clientID: clientID, parametersJSON: parameters, pushedAtMillis: pushedAt, expiresAtMillis: deadline))
        case "wrong_client": return .wrongClient
        case "used": return .used
        default: return .notFound
        }
    }

    /// Gives back a claim whose commit could not be made, so the request stays usable.
    public func unclaim(_ reference: RequestReference) async throws {
        _ = try await command(["FCALL", "parstore_unclaim", "1", Self.key(reference)])
    }

    /// Opens every connection now (each loads the function library as it connects), so that a node starts with
    /// its Redis functions in place rather than on its first request.
    ///
    /// - Throws: the first connection's error when Redis cannot be reached; the node still serves through PostgreSQL.
    public func connectAll() async throws {
        for worker in workers {
            _ = try await worker.submit(["PING"])
        }
    }

    /// Whether Redis answers.
    public func ping() async throws {
        _ = try await command(["PING"])
    }

    /// The key of a request: a hash of its reference, never the reference itself.
    public static func key(_ reference: RequestReference) -> String {
        "parstore:req:" + reference.requestIDHex
    }
}
