import ParWorker
import Synchronization

/// A few pipelined Redis connections, each on its own thread, shared by everything a node asks Redis.
/// Every connection loads ParStore's function library as it connects.
public final class RedisPool: Sendable {
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
                process: { connection, commands, _ in  // every reply has the connection's own timeout
                    connection.pipeline(commands).map { $0.mapError { $0 as any Error } }
                }
            )
        }
    }

    /// Stops the connections after they drained what they accepted.
    public func shutdown() async {
        for worker in workers { await worker.shutdown() }
    }

    /// Runs one command on one of the pipelined connections: the one `shard` names, or the next in turn.
    ///
    /// Commands given the same `shard` go out on the same connection, in the order they were issued.
    ///
    /// - Throws: ``RedisError`` when Redis cannot be reached, or when it answers with an error.
    public func command(_ arguments: [String], shard: Int? = nil) async throws -> RedisValue {
        try Self.checked(await worker(shard).submit(arguments))
    }

    /// Sends one command without waiting for its reply; `completion` runs on the connection's thread (keep it
    /// quick). Ordered like ``command(_:shard:)`` with the same `shard`.
    public func send(_ arguments: [String], shard: Int, completion: @escaping @Sendable (Result<RedisValue, any Error>) -> Void) {
        worker(shard).enqueue(arguments) { result in completion(result.flatMap { value in Result { try Self.checked(value) } }) }
    }

    private func worker(_ shard: Int?) -> BatchingWorker<RedisConnection, [String], RedisValue> {
        let index = shard ?? next.wrappingAdd(1, ordering: .relaxed).oldValue
        return workers[Int(UInt(bitPattern: index) % UInt(workers.count))]
    }

    private static func checked(_ value: RedisValue) throws(RedisError) -> RedisValue {
        if case .error(let message) = value { throw RedisError(message: message) }
        return value
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
}
