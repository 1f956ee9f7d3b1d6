import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ParCore
import ParEmbedded
import ParRedis
import ParServer
import ParTesting
import ParWorker
import Synchronization
import Testing

/// The data's life (issue 16): parameters sealed at rest, crypto-shredding, key rotation, and Redis rebuilt from the
/// log. Each test has a database of its own (and a Redis of its own where it flushes or dumps one).
@Suite struct DataProtectionTests {
    /// A database of its own, a registered client, and nodes on it.
    struct Fixture {
        let url: String
        let database: TestDatabase
        let clientID: String
        let secret: String
        let folder: String

        static func make(_ name: String) async throws -> Fixture {
            let url = try await TestServers.shared.privateDatabase(named: name)
            let database = TestDatabase(url: url)
            let clientID = uniqueClientID(name)
            let secret = Secret.random(byteCount: 32)
            var client = Client(
                id: clientID,
                authMethod: .clientSecretBasic,
                secretHash: Secret.sha256(secret),
                redirectURIs: ["https://client.example.org/cb"],
                scopes: ["openid", "profile", "accounts"]
            )
            client.authorizationDetailsTypes = ["account_information"]
            try await database.register(client)
            let folder = NSTemporaryDirectory() + "parstore-data-\(name)-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            return Fixture(url: url, database: database, clientID: clientID, secret: secret, folder: folder)
        }

        /// A node on the database (and `redisURL`), with the process's key file unless another is given, and a clock
        /// `dayOffset` days off (its request_uris name that day).
        func run<T: Sendable>(
            redisURL: String? = nil,
            keyFile: String? = nil,
            dayOffset: Int = 0,
            _ body: @Sendable (any TestClientProtocol, ParStoreNode) async throws -> T
        ) async throws -> T {
            var configuration = TestNodes.configuration(databaseURL: url, redisURL: redisURL)
            if let keyFile { configuration.data.keyFile = keyFile }
            let node = try await TestNodes.make(configuration, clock: OffsetWallClock(offset: Double(dayOffset) * 86_400))
            return try await node.application().test(.router) { client in try await body(client, node) }
        }
    }

    static let sentinels = (
        loginHint: "login-hint-sentinel-\(UUID().uuidString)",
        claims: "claims-sentinel-\(UUID().uuidString)",
        details: "details-sentinel-\(UUID().uuidString)"
    )

    static let personalData: [(String, String)] = [
        ("login_hint", sentinels.loginHint),
        ("claims", #"{"id_token":{"email":{"essential":true,"value":"\#(sentinels.claims)"}}}"#),
        ("authorization_details", #"[{"type":"account_information","accounts":["\#(sentinels.details)"]}]"#),
    ]

    /// The sentinels of ``personalData`` that `text` holds.
    static func leaked(in text: String) -> [String] {
        [sentinels.loginHint, sentinels.claims, sentinels.details].filter { text.contains($0) }
    }

    @Test("a pushed login_hint, claims value and authorization_details are nowhere in pg_dump or Redis, and redeem intact")
    func parametersAreSealedAtRest() async throws {
        let fixture = try await Fixture.make("sealed")
        let redis = try await TestServers.privateRedis(named: "sealed")
        let (clientID, secret) = (fixture.clientID, fixture.secret)
        let (byURI, byTicket) = try await fixture.run(redisURL: redis.url) { client, _ in
            (
                try await client.pushRequest(clientID, secret: secret, extra: Self.personalData),
                try await client.pushRequest(clientID, secret: secret, extra: Self.personalData)
            )
        }
        // At rest: a plain dump of the database, and every field of every Redis key.
        let dump = try await Command.run(
            try #require(EmbeddedPostgres.findBinaries()) + "/pg_dump",
            ["--dbname", fixture.url, "--no-owner"]
        )
        #expect(dump.status == 0 && dump.output.contains("COPY public.par_events_"), "\(dump.output.prefix(500))")
        #expect(Self.leaked(in: dump.output).isEmpty)
        #expect(dump.output.contains("\"pse1."), "the payloads are sealed")
        let redisText = try await runOnOwnThread(name: "redis-dump") { () throws -> String in
            let connection = try RedisConnection(RedisEndpoint(port: redis.port))
            guard case .array(let keys) = try connection.command(["KEYS", "*"]) else { return "" }
            return try keys.compactMap(\.text).map { key in "\(key) \(try connection.command(["HGETALL", key]))" }.joined(separator: "\n")
        }
        #expect(redisText.contains("parstore:req:"), "\(redisText)")
        #expect(Self.leaked(in: redisText).isEmpty)

        // In use: the redemption's answer and the ticket read carry them as pushed.
        try await fixture.run(redisURL: redis.url) { client, _ in
            let redeemed = try await client.redeem(clientID, byURI)
            #expect(redeemed.status == .ok)
            let body = String(buffer: redeemed.body)
            #expect(Self.leaked(in: body).count == 3, "\(body)")
            let parameters = try #require(try jsonObject(redeemed)["parameters"] as? [String: Any])
            #expect(parameters["login_hint"] as? String == Self.sentinels.loginHint)

            let ticket = try #require(try await client.authorize(clientID, byTicket).ticket)
            let read = try await client.readTicket(ticket)
            #expect(read.status == .ok && Self.leaked(in: String(buffer: read.body)).count == 3)
            let final = try await client.redeem(ticket: ticket)
            #expect(final.status == .ok && Self.leaked(in: String(buffer: final.body)).count == 3)
        }
    }

    @Test("a sealed payload copied onto another request's row is refused with a clear error, never opened")
    func aMovedCiphertextIsRefused() async throws {
        let fixture = try await Fixture.make("moved")
        let (clientID, secret) = (fixture.clientID, fixture.secret)
        let victim = try await fixture.run { client, _ in try await client.pushRequest(clientID, secret: secret, extra: Self.personalData) }
        let thief = try await fixture.run { client, _ in try await client.pushRequest(clientID, secret: secret) }
        let (victimID, thiefID) = try (
            #require(RequestReference(requestURI: victim)).requestIDHex, #require(RequestReference(requestURI: thief)).requestIDHex
        )
        try await fixture.database.query(
            """
            UPDATE par_events t SET payload = v.payload FROM par_events v
            WHERE t.request_id = decode($1, 'hex') AND t.slot = 0 AND v.request_id = decode($2, 'hex') AND v.slot = 0
            """,
            [thiefID, victimID]
        )
        try await fixture.run { client, node in
            let refused = try await client.redeem(clientID, thief)
            #expect(refused.status == .badRequest)
            let body = try jsonObject(refused)
            #expect(body["error"] as? String == "invalid_request_uri" && body["reason"] as? String == "unreadable_parameters", "\(body)")
            #expect(Self.leaked(in: String(buffer: refused.body)).isEmpty)
            #expect(node.metrics.render().contains(#"parstore_unreadable_parameters_total{why="tampered"} 1"#))
            // The victim's own request still opens.
            let redeemed = try await client.redeem(clientID, victim)
            #expect(redeemed.status == .ok && Self.leaked(in: String(buffer: redeemed.body)).count == 3)
        }
    }

    @Test("after `parstore erase --before` a day, its redemptions answer without parameters, saying why; the audit passes")
    func erasedDaysLoseTheirParametersOnly() async throws {
        let fixture = try await Fixture.make("erase")
        let (clientID, secret) = (fixture.clientID, fixture.secret)
        // Yesterday's requests (a node whose clock is a day behind), and today's.
        let (yesterday, redeemedBefore) = try await fixture.run(dayOffset: -1) { client, _ in
            let redeemed = try await client.pushRequest(clientID, secret: secret, extra: Self.personalData)
            #expect(try await client.redeem(clientID, redeemed).status == .ok)
            return (try await client.pushRequest(clientID, secret: secret, extra: Self.personalData), redeemed)
        }
        let today = try await fixture.run { client, _ in try await client.pushRequest(clientID, secret: secret, extra: Self.personalData) }
        let todayDay = try #require(RequestReference(requestURI: today)).day

        let erase = ["erase", "--database-url", fixture.url, "--before", todayDay.description]
        let refused = try await Command.parstore(erase)
        #expect(refused.status != 0 && refused.output.contains("live requests"), "a day with a live request needs --force: \(refused.output)")
        let tomorrow = try await Command.parstore(["erase", "--database-url", fixture.url, "--before", todayDay.adding(days: 1).description])
        #expect(tomorrow.status != 0 && tomorrow.output.contains("at most today"), "\(tomorrow.output)")
        let erased = try await Command.parstore(erase + ["--force"])
        #expect(erased.status == 0 && erased.output.contains("erased the data keys of 1 day(s)"), "\(erased.output)")
        #expect(try await fixture.database.count("SELECT count(*) FROM parstore_data_keys WHERE wrapped IS NULL") == 1)

        try await fixture.run { client, _ in
            let answer = try await client.redeem(clientID, yesterday)
            #expect(answer.status == .ok)
            let body = try jsonObject(answer)
            #expect(body["parameters"] is NSNull && body["parameters_unavailable"] as? String == "erased", "\(body)")
            #expect(body["client_id"] as? String == clientID)
            // Today's key was not touched.
            let kept = try await client.redeem(clientID, today)
            #expect(kept.status == .ok && Self.leaked(in: String(buffer: kept.body)).count == 3)
            // A redeemed request of the erased day stays redeemed.
            #expect(try await client.redeem(clientID, redeemedBefore).status == .badRequest)
        }
        let audit = try await Command.parstore(["audit", "--database-url", fixture.url, "--settle", "600"])
        #expect(audit.status == 0, "\(audit.output)")
    }

    @Test("a node that holds an erased day's key forgets it at its next refresh")
    func aRunningNodeForgetsAnErasedKey() async throws {
        let fixture = try await Fixture.make("forget")
        let (clientID, secret, url) = (fixture.clientID, fixture.secret, fixture.url)
        try await fixture.run(dayOffset: -1) { client, _ in
            let pushed = try await client.pushRequest(clientID, secret: secret, extra: Self.personalData)
            let ticket = try #require(try await client.authorize(clientID, pushed).ticket)
            // The node holds yesterday's key: it sealed with it, and opens with it.
            #expect(Self.leaked(in: String(buffer: try await client.readTicket(ticket).body)).count == 3)
            let today = PartitionDay(secondsSince1970: Date().timeIntervalSince1970)
            #expect(try await Command.parstore(["erase", "--database-url", url, "--before", today.description, "--force"]).status == 0)
            // Reading changes nothing: the same ticket is read until the node has dropped its copy.
            #expect(
                try await eventually {
                    (try jsonObject(try await client.readTicket(ticket))["parameters_unavailable"] as? String) == "erased"
                }
            )
            let body = try jsonObject(try await client.redeem(ticket: ticket))
            #expect(body["parameters"] is NSNull && body["parameters_unavailable"] as? String == "erased", "\(body)")
        }
    }

    @Test("rotating the key-encryption key: old days stay readable before and after their keys are re-wrapped")
    func rotationKeepsOldDaysReadable() async throws {
        let fixture = try await Fixture.make("rotate")
        let (clientID, secret) = (fixture.clientID, fixture.secret)
        let keyFile = fixture.folder + "/kek"
        let generated = try await Command.parstore(["data-key", "generate", "--output", keyFile])
        #expect(generated.status == 0, "\(generated.output)")
        let first = try DataKeyFile.read(keyFile).current
        let old = try await fixture.run(keyFile: keyFile, dayOffset: -1) { client, _ in
            [
                try await client.pushRequest(clientID, secret: secret, extra: Self.personalData),
                try await client.pushRequest(clientID, secret: secret, extra: Self.personalData),
            ]
        }
        #expect(try await Command.parstore(["data-key", "rotate", "--data-key-file", keyFile]).status == 0)
        let rotated = try DataKeyFile.read(keyFile)
        #expect(rotated.all.count == 2 && rotated.all[1].id == first.id && rotated.current.id != first.id)
        let today = try await fixture.run(keyFile: keyFile) { client, _ in
            // Yesterday's key is still wrapped by the first key, which the file still holds.
            #expect(Self.leaked(in: String(buffer: try await client.redeem(clientID, old[0]).body)).count == 3)
            return try await client.pushRequest(clientID, secret: secret, extra: Self.personalData)
        }
        // Yesterday's key (and the days the first node made ahead) stay wrapped by the first key until re-wrapped.
        let yesterdayDay = try #require(RequestReference(requestURI: old[0])).day
        #expect(
            try await fixture.database.query("SELECT kek_id FROM parstore_data_keys WHERE day = $1::date", [yesterdayDay.description]).first?.first
                == first.id
        )
        let byFirst = try await fixture.database.count("SELECT count(*) FROM parstore_data_keys WHERE kek_id = $1", [first.id])
        #expect(byFirst >= 1)

        let rewrap = try await Command.parstore(["data-key", "rewrap", "--database-url", fixture.url, "--data-key-file", keyFile])
        #expect(
            rewrap.status == 0 && rewrap.output.contains("re-wrapped \(byFirst) day(s)") && rewrap.output.contains("may be removed"),
            "\(rewrap.output)"
        )
        #expect(try await fixture.database.count("SELECT count(*) FROM parstore_data_keys WHERE kek_id <> $1", [rotated.current.id]) == 0)

        // The old line removed: every day still opens.
        let onlyNew = fixture.folder + "/kek-new"
        try DataKeyFile.create(onlyNew, keys: KeyEncryptionKeys([rotated.current]))
        try await fixture.run(keyFile: onlyNew) { client, _ in
            for request in [old[1], today] {
                let body = String(buffer: try await client.redeem(clientID, request).body)
                #expect(Self.leaked(in: body).count == 3, "\(body)")
            }
        }
        // A file without the key that wrapped a day cannot open it: a clear refusal, not a 500.
        let foreign = fixture.folder + "/kek-foreign"
        try DataKeyFile.create(foreign, keys: KeyEncryptionKeys([.generate()]))
        let pushed = try await fixture.run(keyFile: onlyNew) { client, _ in try await client.pushRequest(clientID, secret: secret) }
        try await fixture.run(keyFile: foreign) { client, node in
            let refused = try await client.redeem(clientID, pushed)
            let reason = try jsonObject(refused)["reason"] as? String
            #expect(refused.status == .badRequest && reason == "unreadable_parameters")
            #expect(node.metrics.render().contains(#"parstore_unreadable_parameters_total{why="key"} 1"#))
        }
    }

    /// A Redis of the test's own, one server or a cluster, and how to empty it.
    struct OwnRedis {
        let url: String
        let flush: @Sendable () throws -> Void

        static func make(_ mode: RedisMode, named name: String) async throws -> OwnRedis {
            switch mode {
            case .standalone:
                let redis = try await TestServers.privateRedis(named: name)
                return OwnRedis(url: redis.url) { _ = try RedisConnection(RedisEndpoint(port: redis.port)).command(["FLUSHALL"]) }
            case .cluster:
                let cluster = try await TestServers.privateRedisCluster(named: name)
                return OwnRedis(url: cluster.url) { for port in try cluster.primaryPorts() { _ = try cluster.cli(port, ["FLUSHALL"]) } }
            }
        }
    }

    @Test("rebuild: after FLUSHALL, the live requests are served from Redis again and finished ones stay refused", arguments: RedisMode.allCases)
    func rebuildRestoresExactlyTheLiveRequests(_ mode: RedisMode) async throws {
        let fixture = try await Fixture.make("rebuild-" + mode.rawValue)
        let redis = try await OwnRedis.make(mode, named: "rebuild")
        let (clientID, secret) = (fixture.clientID, fixture.secret)
        // Requests in every state: pushed, loaded, consumed, expired by the sweeper, past their deadline.
        var configuration = TestNodes.configuration(databaseURL: fixture.url, redisURL: redis.url)
        configuration.lifetimes.request = .seconds(1)
        let shortLived = try await TestNodes.make(configuration)
        let (expired, pastDeadline) = try await shortLived.application().test(.router) { client in
            let expired = try await client.pushRequest(clientID, secret: secret)
            let past = try await client.pushRequest(clientID, secret: secret)
            // The sweeper (every 0.5 s, 1 s past the deadline) expires the first.
            #expect(try await eventually { try await fixture.database.count("SELECT count(*) FROM par_events WHERE kind = 'expired'") >= 1 })
            return (expired, past)
        }
        let (pushed, loaded, consumed, lateConsumed) = try await fixture.run(redisURL: redis.url) { client, _ in
            let pushed = try await client.pushRequest(clientID, secret: secret)
            let loaded = try await client.pushRequest(clientID, secret: secret)
            #expect(try await client.authorize(clientID, loaded).ticket != nil)
            let consumed = try await client.pushRequest(clientID, secret: secret)
            #expect(try await client.redeem(clientID, consumed).status == .ok)
            return (pushed, loaded, consumed, try await client.pushRequest(clientID, secret: secret))
        }
        try await runOnOwnThread(name: "flush") { try redis.flush() }
        // Redeemed while Redis holds nothing: PostgreSQL decides, and the node marks it used in Redis (a rebuild
        // running meanwhile, which read it as live, cannot bring it back).
        try await fixture.run(redisURL: redis.url) { client, node in
            let answer = try await client.redeem(clientID, lateConsumed)
            #expect(answer.status == .ok)
            #expect(node.metrics.render().contains(#"parstore_redis_fallback_total{reason="not_found"} 1"#))
        }

        let rebuilt = try await Command.parstore(["rebuild", "--database-url", fixture.url, "--redis-url", redis.url])
        #expect(rebuilt.status == 0 && rebuilt.output.contains("restored 2 live request(s)"), "\(rebuilt.output)")
        // Read as a node reads: through the pool, which routes each key to its cluster node.
        let pool = RedisPool(topology: try #require(RedisTopology(url: redis.url)))
        var states: [String: String] = [:]
        let requests = [
            ("pushed", pushed), ("loaded", loaded), ("consumed", consumed), ("late", lateConsumed), ("expired", expired), ("past", pastDeadline),
        ]
        for (name, uri) in requests {
            let key = RedisRequestCache.key(try #require(RequestReference(requestURI: uri)))
            states[name] = try await pool.command(["HGET", key, "s"], key: key).text ?? "absent"
            if case .integer(let ttl) = try await pool.command(["PTTL", key], key: key), states[name] != "absent" {
                #expect(ttl > 0, "\(name) expires with its deadline")
            }
        }
        await pool.shutdown()
        #expect(states == ["pushed": "p", "loaded": "u", "consumed": "absent", "late": "u", "expired": "absent", "past": "absent"])

        try await fixture.run(redisURL: redis.url) { client, node in
            #expect(try await client.redeem(clientID, pushed).status == .ok)
            let loadedAnswer = try jsonObject(try await client.redeem(clientID, loaded))
            #expect(loadedAnswer["reason"] as? String == "already_used")
            #expect(!node.metrics.render().contains("parstore_redis_fallback_total{"), "decided by Redis, then PostgreSQL")
            for finished in [consumed, lateConsumed, expired, pastDeadline] {
                #expect(try await client.redeem(clientID, finished).status == .badRequest)
            }
        }
    }

    /// A Redis that hangs (`SIGSTOP`: connections accepted, nothing answered) is met with a deadline: the rebuild
    /// stops within its reply timeout and says why, rather than waiting on it forever; once Redis is back it restores.
    @Test func rebuildAgainstAFrozenRedisFailsWithinItsDeadlineAndSaysWhy() async throws {
        let fixture = try await Fixture.make("rebuild-frozen")
        let redis = try await TestServers.privateRedis(named: "rebuild-frozen")
        let (clientID, secret) = (fixture.clientID, fixture.secret)
        let redisURL = redis.url
        _ = try await fixture.run(redisURL: redisURL) { client, _ in try await client.pushRequest(clientID, secret: secret) }
        try await runOnOwnThread(name: "flush") { _ = try RedisConnection(RedisEndpoint(port: redis.port)).command(["FLUSHALL"]) }

        kill(redis.processID, SIGSTOP)
        // A safety net: a rebuild that waited for Redis would hang the test; woken after 60 s, it fails on `woken`.
        let woken = Atomic<Bool>(false)
        let safetyNet = Task {
            try? await Task.sleep(for: .seconds(60))
            woken.store(true, ordering: .sequentiallyConsistent)
            kill(redis.processID, SIGCONT)
        }
        let frozen = try await Command.parstore(["rebuild", "--database-url", fixture.url, "--redis-url", redisURL])
        let answeredWhileFrozen = !woken.load(ordering: .sequentiallyConsistent)
        safetyNet.cancel()
        kill(redis.processID, SIGCONT)
        #expect(answeredWhileFrozen, "the rebuild waited until Redis was woken")
        #expect(frozen.status != 0)
        #expect(frozen.output.contains("Redis error (connection): no answer within"), "\(frozen.output)")

        let rebuilt = try await Command.parstore(["rebuild", "--database-url", fixture.url, "--redis-url", redisURL])
        #expect(rebuilt.status == 0 && rebuilt.output.contains("restored 1 live request(s)"), "\(rebuilt.output)")
    }
}
