import Foundation
public import ParCore
public import ParEmbedded
import ParPostgres
import ParWorker

/// Private PostgreSQL and Redis servers for the integration tests, started once per test process under
/// `PARSTORE_TEST_DIR` (set by the test command) or a temporary folder, migrated, and stopped at exit.
///
/// There is no way to skip: if the servers cannot start, every test that needs them fails with the reason.
public actor TestServers {
    public static let shared = TestServers()

    /// Where the shared servers are.
    public struct Endpoints: Sendable {
        public var databaseURL: String
        public var redisURL: String

        public init(databaseURL: String, redisURL: String) {
            self.databaseURL = databaseURL
            self.redisURL = redisURL
        }
    }

    private var starting: Task<Endpoints, any Error>?
    private var startingCluster: Task<EmbeddedRedisCluster, any Error>?

    /// The shared servers with the Redis of `mode`: the shared single server, or the shared cluster.
    public func shared(_ mode: RedisMode) async throws -> Endpoints {
        var endpoints = try await shared()
        if mode == .cluster { endpoints.redisURL = try await sharedCluster().url }
        return endpoints
    }

    /// The shared Redis Cluster (three primaries, one replica each), started once on first use. Tests that kill
    /// or reshard nodes make one of their own (``privateRedisCluster(named:)``).
    public func sharedCluster() async throws -> EmbeddedRedisCluster {
        if let startingCluster { return try await startingCluster.value }
        let task = Task { try await Self.privateRedisCluster(named: "shared") }
        startingCluster = task
        return try await task.value
    }

    /// A Redis Cluster of the caller's own: three primaries with a replica each, a two-second node timeout.
    public static func privateRedisCluster(named name: String) async throws -> EmbeddedRedisCluster {
        let root = root(named: name)
        return try await runOnOwnThread(name: "test-redis-cluster") {
            let cluster = try EmbeddedRedisCluster(directory: root)
            stopAtExit { cluster.stop() }
            return cluster
        }
    }

    /// The shared servers, started once on first use (concurrent callers wait for the same start).
    public func shared() async throws -> Endpoints {
        if let starting { return try await starting.value }
        let root = Self.root(named: "shared")
        let task = Task {
            try await runOnOwnThread(name: "test-servers") { () throws -> Endpoints in
                // Every integration test's nodes share this server, those that involve Redis in both modes at once.
                let postgres = try EmbeddedPostgres(directory: root, settings: ["max_connections": "800"])
                let redis = try EmbeddedRedis(directory: root)
                Self.stopAtExit(postgres: postgres, redis: redis)
                _ = try Migrator(directory: Self.migrationsDirectory).apply(on: PGConnection(postgres.url))
                // Its connections wait up to 10 s to connect: when a dozen servers start at once, a 2-core machine
                // can take longer than libpq's 2 s to fork a backend, and that is not what the tests test.
                return Endpoints(databaseURL: postgres.url + "?connect_timeout=10", redisURL: redis.url)
            }
        }
        starting = task
        return try await task.value
    }

    /// A database of the caller's own on the shared PostgreSQL server, for tests whose assertions cover a whole
    /// database (its log, its counts, its migrations) and that do not stop or freeze the server: much cheaper than a
    /// server of its own. Returns its URL.
    ///
    /// - Parameter migrated: a copy of a migrated template; otherwise empty.
    public func privateDatabase(named name: String, migrated: Bool = true) async throws -> String {
        let serverURL = try await shared().databaseURL
        let template = migrated ? " TEMPLATE " + (try await migratedTemplate()) : ""
        let database =
            "test_" + name.lowercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber) } + "_" + UUID().uuidString.prefix(8).lowercased()
        _ = try await runOnOwnThread(name: "test-database") {
            try PGConnection(serverURL, connectTimeoutSeconds: TestDatabase.connectTimeoutSeconds).execute("CREATE DATABASE \(database)\(template)")
        }
        return Self.url(serverURL, database: database)
    }

    private var template: Task<String, any Error>?

    /// A migrated database on the shared server that nobody connects to, copied by ``privateDatabase(named:)``.
    private func migratedTemplate() async throws -> String {
        if let template { return try await template.value }
        let serverURL = try await shared().databaseURL
        let task = Task {
            try await runOnOwnThread(name: "test-database") { () throws -> String in
                let name = "test_template"
                try PGConnection(serverURL, connectTimeoutSeconds: TestDatabase.connectTimeoutSeconds).execute("CREATE DATABASE \(name)")
                // The migrating session ends before any copy is made (a template must have no session).
                _ = try Migrator(directory: Self.migrationsDirectory).apply(on: PGConnection(Self.url(serverURL, database: name)))
                return name
            }
        }
        template = task
        return try await task.value
    }

    /// `url` with its database replaced.
    private static func url(_ url: String, database: String) -> String {
        var components = URLComponents(string: url)!
        components.path = "/" + database
        return components.string!
    }

    /// A private PostgreSQL server of the caller's own (for tests that stop it), migrated.
    ///
    /// - Parameter settings: server settings (`-c name=value`).
    public static func privatePostgres(named name: String, settings: [String: String] = [:]) async throws -> EmbeddedPostgres {
        let root = root(named: name)
        return try await runOnOwnThread(name: "test-postgres") {
            let postgres = try EmbeddedPostgres(directory: root, settings: settings)
            stopAtExit(postgres: postgres, redis: nil)
            _ = try Migrator(directory: migrationsDirectory).apply(on: PGConnection(postgres.url))
            return postgres
        }
    }

    /// A migrated primary and a hot standby streaming from it, which the primary waits for at every commit
    /// (`synchronous_standby_names = 'ANY 1 (standby)'`, `synchronous_commit = on`): what ParStore's production
    /// topology asks for. Returns once the standby is synchronous.
    public static func replicatedPostgres(named name: String) async throws -> (primary: EmbeddedPostgres, standby: EmbeddedPostgres) {
        let (primaryRoot, standbyRoot) = (root(named: name + "-primary"), root(named: name + "-standby"))
        return try await runOnOwnThread(name: "test-postgres") {
            let primary = try EmbeddedPostgres(directory: primaryRoot)
            stopAtExit(postgres: primary, redis: nil)
            let connection = try PGConnection(primary.url)
            _ = try Migrator(directory: migrationsDirectory).apply(on: connection)
            let standby = try EmbeddedPostgres(directory: standbyRoot, standbyOf: primary, standbyName: "standby")
            stopAtExit(postgres: standby, redis: nil)
            try connection.execute("ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (standby)'")
            try connection.execute("SELECT pg_reload_conf()")
            let deadline = ContinuousClock.now + .seconds(60)
            while try connection.execute("SELECT 1 FROM pg_stat_replication WHERE application_name = 'standby' AND sync_state = 'quorum'")
                .rows.isEmpty
            {
                guard ContinuousClock.now < deadline else { throw EmbeddedServerError("the standby never became synchronous") }
                Thread.sleep(forTimeInterval: 0.1)
            }
            return (primary, standby)
        }
    }

    /// A formation managed by pg_auto_failover (a monitor, a primary and a synchronous secondary), migrated.
    public static func autoFailover(named name: String) async throws -> EmbeddedAutoFailover {
        let root = root(named: name)
        return try await runOnOwnThread(name: "test-postgres") {
            let formation = try EmbeddedAutoFailover(directory: root)
            stopAtExit { formation.stop() }
            _ = try Migrator(directory: migrationsDirectory).apply(on: PGConnection(formation.url))
            return formation
        }
    }

    /// A private Redis server of the caller's own (for tests that stop it).
    public static func privateRedis(named name: String, port: Int? = nil) async throws -> EmbeddedRedis {
        let root = root(named: name)
        return try await runOnOwnThread(name: "test-redis") {
            let redis = try EmbeddedRedis(directory: root, port: port)
            stopAtExit(postgres: nil, redis: redis)
            return redis
        }
    }

    /// The repository's `migrations` folder.
    public static let migrationsDirectory = packageRoot + "/migrations"

    /// The repository root, from this file's path.
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// A new folder under the test folder, which is made traversable: PostgreSQL runs as `postgres` under root.
    private static func root(named name: String) -> String {
        let base = ProcessInfo.processInfo.environment["PARSTORE_TEST_DIR"] ?? NSTemporaryDirectory() + "parstore-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: base)
        return base + "/" + name + "-" + UUID().uuidString.prefix(8)
    }

    private static func stopAtExit(postgres: EmbeddedPostgres?, redis: EmbeddedRedis?) {
        if let redis { stopAtExit { redis.stop() } }
        if let postgres { stopAtExit { try? postgres.stop() } }
    }

    private static func stopAtExit(_ stop: @escaping @Sendable () -> Void) {
        Started.lock.lock()
        defer { Started.lock.unlock() }
        Started.stops.append(stop)
        if !Started.registered {
            Started.registered = true
            atexit { for stop in Started.stops { stop() } }
        }
    }
}

/// Which Redis a test runs against: the integration tests that involve Redis run against both.
public enum RedisMode: String, CaseIterable, Sendable {
    case standalone
    case cluster
}

/// What to stop at exit (read by a C exit handler, which cannot capture).
private enum Started {
    static let lock = NSLock()
    nonisolated(unsafe) static var stops: [@Sendable () -> Void] = []
    nonisolated(unsafe) static var registered = false
}

/// Direct database access for assertions and set-up.
public struct TestDatabase: Sendable {
    public let url: String

    public init(url: String) {
        self.url = url
    }

    /// How long the tests' own connections try to connect: a test machine starting a dozen servers at once can be
    /// slow to fork a backend, and the harness's set-up is not the behaviour under test (nodes keep their own
    /// two seconds).
    public static let connectTimeoutSeconds = 20

    /// Runs one statement on a fresh connection and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) async throws -> [[String?]] {
        let url = self.url
        return try await runOnOwnThread(name: "test-sql") {
            try PGConnection(url, connectTimeoutSeconds: Self.connectTimeoutSeconds).execute(sql, parameters).rows
        }
    }

    /// The first column of the first row as an integer.
    public func count(_ sql: String, _ parameters: [String?] = []) async throws -> Int {
        Int(try await query(sql, parameters).first?.first.flatMap { $0 } ?? "0") ?? 0
    }

    /// Registers a client and returns its secret (for secret methods).
    @discardableResult
    public func register(
        _ id: String,
        method: ClientAuthMethod = .clientSecretBasic,
        redirectURIs: [String] = ["https://client.example.org/cb"],
        scopes: Set<String> = ["openid", "profile", "accounts"]
    ) async throws -> String {
        let secret = Secret.random(byteCount: 32)
        let client = Client(
            id: id,
            authMethod: method,
            secretHash: method.usesSecret ? Secret.sha256(secret) : nil,
            redirectURIs: redirectURIs,
            scopes: scopes
        )
        let url = self.url
        try await runOnOwnThread(name: "test-register") {
            try ClientTable.add(client, on: PGConnection(url, connectTimeoutSeconds: Self.connectTimeoutSeconds))
        }
        return secret
    }

    /// Registers a client as it is.
    public func register(_ client: Client) async throws {
        let url = self.url
        try await runOnOwnThread(name: "test-register") {
            try ClientTable.add(client, on: PGConnection(url, connectTimeoutSeconds: Self.connectTimeoutSeconds))
        }
    }

    /// The events of a request, oldest first, as (kind, client id).
    public func events(of requestURI: String) async throws -> [(kind: String, client: String)] {
        guard let reference = RequestReference(requestURI: requestURI) else { return [] }
        return try await query(
            "SELECT kind, client_id FROM par_events WHERE day = $1::date AND request_id = decode($2, 'hex') ORDER BY seq",
            [reference.day.description, reference.requestIDHex]
        ).map { ($0[0] ?? "", $0[1] ?? "") }
    }
}
