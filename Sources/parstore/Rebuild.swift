import ArgumentParser
import ParCore
import ParPostgres
import ParRedis
import ParServer
import ParWorker

/// `parstore rebuild`: gives an empty (or partly lost) Redis back the live requests of the log.
struct Rebuild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Refill Redis (one server or a cluster) with the live requests of the log, so that nodes serve them from Redis again.",
        discussion: """
            After Redis lost its data the nodes keep working through PostgreSQL, slower; this restores the fast path. \
            It writes exactly the requests that are pushed or loaded, not finished and not past their deadline, each \
            until its deadline, and never overwrites what Redis holds; nodes may serve meanwhile (a request they \
            consume through PostgreSQL is marked used in Redis, so a rebuild cannot bring it back).
            """
    )
    @OptionGroup var database: DatabaseOptions
    @Option(
        name: .customLong(NodeSettings.redisURL.flag),
        help: "Redis URL: redis://host:port[/db] or redis+cluster://host:port[,…]. Env: \(NodeSettings.redisURL.variable)."
    )
    var redisURL: String?
    @Option(help: "Requests read from PostgreSQL per page.") var pageSize = 5000

    func run() async throws {
        guard let url = try Settings.secret(redisURL, file: nil, NodeSettings.redisURL.variable), let topology = RedisTopology(url: url) else {
            throw ValidationError("pass --redis-url (or set PARSTORE_REDIS_URL): redis://host:port[/db] or redis+cluster://host:port[,…]")
        }
        guard (1...100_000).contains(pageSize) else { throw ValidationError("--page-size takes 1 to 100000") }
        let databaseURL = try database.resolved()
        let pool = RedisPool(topology: topology)
        let cache = RedisRequestCache(pool: pool)
        var (stored, present) = (0, 0)
        do {
            for loaded in [false, true] {
                var cursor: LiveRequests.Cursor? = nil
                repeat {
                    let after = cursor
                    // A connection per page: a page is thousands of requests, and the rebuild may run for long.
                    let page = try await runOnOwnThread(name: "rebuild") { [pageSize] in
                        let connection = try PGConnection(
                            databaseURL,
                            applicationName: "parstore-rebuild",
                            connectTimeoutSeconds: 10,
                            timeout: .seconds(60)
                        )
                        return try LiveRequests.page(loaded: loaded, after: after, limit: pageSize, on: connection)
                    }
                    // Up to 256 commands in flight: the pool pipelines them.
                    for chunk in stride(from: 0, to: page.rows.count, by: 256).map({ page.rows[$0..<min($0 + 256, page.rows.count)] }) {
                        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
                            for row in chunk {
                                group.addTask {
                                    try await cache.restore(
                                        requestID: row.requestID,
                                        clientID: row.clientID,
                                        deadlineMillis: row.deadlineMillis,
                                        used: row.loaded
                                    )
                                }
                            }
                            return try await group.reduce(into: [Bool]()) { $0.append($1) }
                        }
                        stored += results.filter { $0 }.count
                        present += results.filter { !$0 }.count
                    }
                    cursor = page.next
                } while cursor != nil
            }
        } catch {
            await pool.shutdown()
            throw error
        }
        await pool.shutdown()
        print("restored \(stored) live request(s) to Redis; \(present) were there already")
    }
}
