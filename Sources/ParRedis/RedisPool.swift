import ParWorker

/// Everything a node asks Redis goes through here, to one server or to a Redis Cluster (``RedisTopology``): a few
/// pipelined connections per server, each on its own thread, with ParStore's function library loaded on each
/// server as the node connects to it.
public final class RedisPool: Sendable {
    private let router: any RedisRouter

    /// - Parameters:
    ///   - topology: one server, or a cluster's seed nodes.
    ///   - connections: pipelined connections per server (per primary of a cluster).
    ///   - mapRefreshInterval: how often a cluster's slot map is read when nothing (a redirection, an error) asks
    ///     for it sooner.
    ///   - observer: told about pipelines, redirections, map refreshes and retries.
    public init(
        topology: RedisTopology,
        connections: Int = 2,
        mapRefreshInterval: Duration = .seconds(2),
        observer: RedisObserver = RedisObserver()
    ) {
        switch topology {
        case .standalone(let endpoint):
            router = StandaloneRouter(endpoint: endpoint, connections: connections, observer: observer)
        case .cluster(let seeds):
            router = ClusterRouter(seeds: seeds, connectionsPerPrimary: connections, refreshInterval: mapRefreshInterval, observer: observer)
        }
    }

    /// Stops the connections after they drained what they accepted.
    public func shutdown() async {
        await router.shutdown()
    }

    /// Runs one command about `key` (the only key it touches; `nil` for none) on one of the pipelined connections
    /// to the server holding it: the one `shard` names, or any.
    ///
    /// Commands given the same key and `shard` go out on the same connection, in the order they were issued.
    ///
    /// - Throws: ``RedisError`` when Redis cannot be reached, or when it answers with an error.
    public func command(_ arguments: [String], key: String?, shard: Int? = nil) async throws -> RedisValue {
        try Self.checked(await router.command(arguments, key: key, shard: shard))
    }

    /// Sends one command about `key` without waiting for its reply; `completion` runs on a connection's thread or a
    /// task (keep it quick). Ordered like ``command(_:key:shard:)`` with the same key and `shard`.
    public func send(_ arguments: [String], key: String, shard: Int, completion: @escaping @Sendable (Result<RedisValue, any Error>) -> Void) {
        router.send(arguments, key: key, shard: shard) { result in
            completion(result.flatMap { value in Result { try Self.checked(value) } })
        }
    }

    private static func checked(_ value: RedisValue) throws(RedisError) -> RedisValue {
        if case .error(let message) = value { throw RedisError(.reply, message: message) }
        return value
    }

    /// Opens every connection now (each loads the function library as it connects), so that a node starts with
    /// its Redis functions in place rather than on its first request.
    ///
    /// - Throws: the first connection's error when Redis cannot be reached; the node still serves through PostgreSQL.
    public func connectAll() async throws {
        try await router.connectAll()
    }

    /// Whether Redis answers: every server, or how many of a cluster's slots have no reachable primary.
    public func health() async -> RedisHealth {
        await router.health()
    }
}

/// A pipelined connection to one server, on its own thread.
typealias RedisWorker = BatchingWorker<RedisConnection, RedisRequest, RedisValue>

extension RedisWorker {
    /// A worker whose connection logs in, then loads ParStore's functions unless the server has them.
    static func connected(to endpoint: RedisEndpoint, name: String, observer: RedisObserver) -> RedisWorker {
        RedisWorker(
            name: name,
            maxBatchSize: 512,
            timeout: .seconds(2),
            reconnectInterval: .milliseconds(500),
            batchObserver: observer.pipeline,
            connect: {
                let connection = try RedisConnection(endpoint)
                try RedisFunctionLibrary.ensureLoaded(on: connection)
                return connection
            },
            process: { connection, requests, _ in  // every reply has the connection's own timeout
                connection.pipeline(requests).map { $0.mapError { $0 as any Error } }
            }
        )
    }
}
