/// How commands reach the right server.
protocol RedisRouter: Sendable {
    /// Runs a command; an error reply is returned, not thrown.
    func command(_ arguments: [String], key: String?, shard: Int?) async throws -> RedisValue
    func send(_ arguments: [String], key: String, shard: Int, completion: @escaping @Sendable (Result<RedisValue, any Error>) -> Void)
    func connectAll() async throws
    func health() async -> RedisHealth
    func shutdown() async
}
