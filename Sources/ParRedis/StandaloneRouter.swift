import ParWorker

/// One Redis server.
final class StandaloneRouter: RedisRouter {
    private let workers: [RedisWorker]

    init(endpoint: RedisEndpoint, connections: Int, observer: RedisObserver) {
        workers = (0..<max(1, connections)).map { RedisWorker.connected(to: endpoint, name: "redis-\($0)", observer: observer) }
    }

    func command(_ arguments: [String], key: String?, shard: Int?) async throws -> RedisValue {
        try await worker(shard).submit(RedisRequest(arguments))
    }

    func send(_ arguments: [String], key: String, shard: Int, completion: @escaping @Sendable (Result<RedisValue, any Error>) -> Void) {
        worker(shard).enqueue(RedisRequest(arguments), completion: completion)
    }

    private func worker(_ shard: Int?) -> RedisWorker {
        workers[Int(UInt(bitPattern: shard ?? Int.random(in: 0..<workers.count)) % UInt(workers.count))]
    }

    func connectAll() async throws {
        for worker in workers { _ = try await worker.submit(RedisRequest(["PING"])) }
    }

    func health() async -> RedisHealth {
        (try? await command(["PING"], key: nil, shard: nil)) == .status("PONG") ? .up : .down
    }

    func shutdown() async {
        for worker in workers { await worker.shutdown() }
    }
}
