import Foundation
import Hummingbird
import HummingbirdTesting
import ParCore
import ParEmbedded
import ParRedis
import ParServer
import ParTesting
import ParWorker
import Testing

/// Push and redemption on real PostgreSQL and Redis servers.
@Suite struct RedemptionTests {
    @Test(arguments: RedisMode.allCases) func pushThenRedeemReturnsThePushedParametersOnce(redis: RedisMode) async throws {
        let scenario = try await Scenario.make("once", redis: redis)
        let (database, clientID, secret, node) = (scenario.database, scenario.clientID, scenario.secret, scenario.node)
        try await node.application().test(.router) { client in
            let extra = [("nonce", "n-0S6_WzA2Mj"), ("login_hint", "alice@example.com")]
            let response = try await client.execute(
                uri: "/par",
                method: .post,
                headers: formHeaders + [.authorization: basicAuthorization(clientID, secret)],
                body: formBody(pushParameters(clientID) + extra)
            )
            #expect(response.status == .created)
            #expect(response.headers[.cacheControl] == "no-store")
            #expect(response.headers[.contentType] == "application/json")
            let pushed = try jsonObject(response)
            let requestURI = try #require(pushed["request_uri"] as? String)
            #expect(requestURI.hasPrefix("urn:ietf:params:oauth:request_uri:v1."))
            #expect(requestURI.count >= "urn:ietf:params:oauth:request_uri:".count + 43)
            #expect(pushed["expires_in"] as? Int == 60)

            let first = try await client.redeem(clientID, requestURI)
            #expect(first.status == .ok)
            let redeemed = try jsonObject(first)
            #expect(redeemed["client_id"] as? String == clientID)
            let parameters = try #require(redeemed["parameters"] as? [String: String])
            let expected = Dictionary(uniqueKeysWithValues: pushParameters(clientID) + extra)
            #expect(parameters == expected)
            #expect(redeemed["pushed_at"] is String && redeemed["expires_at"] is String)

            let second = try await client.redeem(clientID, requestURI)
            #expect(second.status == .badRequest)
            let refusal = try jsonObject(second)
            #expect(refusal["error"] as? String == "invalid_request_uri")
            #expect(refusal["reason"] as? String == "already_used")
            // The refusal is recorded off the request path.
            #expect(try await eventually { try await database.events(of: requestURI).map(\.kind) == ["pushed", "consumed", "refused"] })
        }
    }

    @Test(arguments: RedisMode.allCases) func unknownRequestURIsAreRefusedWithoutWrites(redis: RedisMode) async throws {
        let servers = try await TestServers.shared.shared(redis)
        let database = TestDatabase(url: servers.databaseURL)
        let anyone = uniqueClientID("anyone")
        try await database.register(anyone)
        let node = try await TestNodes.make(TestNodes.configuration(databaseURL: servers.databaseURL, redisURL: servers.redisURL))
        try await node.application().test(.router) { client in
            for uri in [
                "urn:ietf:params:oauth:request_uri:v1.20261124.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                "urn:ietf:params:oauth:request_uri:garbage", "https://example.com/req", "",
            ] {
                let response = try await client.redeem(anyone, uri)
                #expect(response.status == .badRequest)
                #expect(try jsonObject(response)["reason"] as? String == "unknown")
            }
        }
        // Unknown values are counted, never written.
        #expect(try await database.count("SELECT count(*) FROM par_events WHERE client_id = $1", [anyone]) == 0)
        #expect(node.metrics.render().contains(#"parstore_redeem_total{outcome="unknown"} 4"#))
    }

    @Test(arguments: RedisMode.allCases) func aWrongClientLeavesTheRequestRedeemableByItsOwner(redis: RedisMode) async throws {
        let scenario = try await Scenario.make("owner", redis: redis)
        let (database, owner, secret, node) = (scenario.database, scenario.clientID, scenario.secret, scenario.node)
        let thief = uniqueClientID("thief")
        try await database.register(thief)
        try await node.application().test(.router) { client in
            let requestURI = try await client.pushRequest(owner, secret: secret)
            let stolen = try await client.redeem(thief, requestURI)
            #expect(stolen.status == .badRequest)
            #expect(try jsonObject(stolen)["reason"] as? String == "wrong_client")
            let redeemed = try await client.redeem(owner, requestURI)
            #expect(redeemed.status == .ok)
            // The refusal is recorded off the request path: it may land after the consumption.
            #expect(try await eventually { try await database.events(of: requestURI).count == 3 })
            let events = try await database.events(of: requestURI)
            #expect(events.map(\.kind).sorted() == ["consumed", "pushed", "refused"])
            #expect(events.first { $0.kind == "refused" }?.client == thief)
            #expect(events.first { $0.kind == "consumed" }?.client == owner)
        }
    }

    @Test(arguments: RedisMode.allCases) func racingRedemptionsOnTwoNodesSucceedExactlyOncePerRequest(redis: RedisMode) async throws {
        let servers = try await TestServers.shared.shared(redis)
        let database = TestDatabase(url: servers.databaseURL)
        let clientID = uniqueClientID("race")
        let secret = try await database.register(clientID)
        let nodeA = try await TestNodes.make(TestNodes.configuration(databaseURL: servers.databaseURL, redisURL: servers.redisURL, name: "a"))
        let nodeB = try await TestNodes.make(TestNodes.configuration(databaseURL: servers.databaseURL, redisURL: servers.redisURL, name: "b"))
        let requests = 200
        let callers = 8
        try await nodeA.application().test(.router) { a in
            try await nodeB.application().test(.router) { b in
                let uris = try await withThrowingTaskGroup(of: String.self) { group in
                    for index in 0..<requests {
                        group.addTask { try await (index % 2 == 0 ? a : b).pushRequest(clientID, secret: secret) }
                    }
                    return try await group.reduce(into: [String]()) { $0.append($1) }
                }
                #expect(Set(uris).count == requests)
                let successes = try await withThrowingTaskGroup(of: (String, Bool).self) { group in
                    for uri in uris {
                        for caller in 0..<callers {
                            group.addTask {
                                let response = try await (caller % 2 == 0 ? a : b).redeem(clientID, uri)
                                if response.status != .ok {
                                    #expect(try jsonObject(response)["reason"] as? String == "already_used")
                                }
                                return (uri, response.status == .ok)
                            }
                        }
                    }
                    return try await group.reduce(into: [String: Int]()) { counts, result in
                        counts[result.0, default: 0] += result.1 ? 1 : 0
                    }
                }
                #expect(successes.count == requests)
                #expect(successes.values.allSatisfy { $0 == 1 }, "every request is redeemed exactly once")
                if redis == .cluster { try await Self.expectSpreadOverEveryPrimary(uris) }
            }
        }
        let consumed = try await database.query(
            "SELECT count(*), count(DISTINCT request_id) FROM par_events WHERE kind = 'consumed' AND client_id = $1",
            [clientID]
        )
        #expect(consumed.first?[0] == "\(requests)")
        #expect(consumed.first?[1] == "\(requests)")
    }

    /// The requests' Redis records really are on the primaries the cluster says serve their slots, and those are
    /// all three of the cluster's primaries.
    static func expectSpreadOverEveryPrimary(_ uris: [String]) async throws {
        let cluster = try await TestServers.shared.sharedCluster()
        let keys = try uris.map { try RedisRequestCache.key(#require(RequestReference(requestURI: $0))) }
        let found = try await runOnOwnThread { () throws -> [Int: Int] in
            var byPrimary: [Int: Int] = [:]
            for key in keys {
                let port = try cluster.primaryPort(ofSlot: HashSlot.of(key))
                // Asked directly (no redirection followed), the primary has the key.
                if try cluster.cli(port, ["EXISTS", key]).trimmingCharacters(in: .whitespacesAndNewlines) == "1" {
                    byPrimary[port, default: 0] += 1
                }
            }
            return byPrimary
        }
        #expect(found.count == 3, "keys on every primary: \(found)")
        #expect(found.values.reduce(0, +) == uris.count, "every request's record is where its slot is served")
    }

    @Test(arguments: RedisMode.allCases) func anExpiredRequestIsRefusedAndLaterGetsAnExpiredEvent(redis: RedisMode) async throws {
        // Seconds of margin: the suite runs in parallel on two cores, and a push and a redemption can wait that long.
        let scenario = try await Scenario.make("ttl", redis: redis) { $0.lifetimes.request = .seconds(5) }
        let (database, clientID, secret, node) = (scenario.database, scenario.clientID, scenario.secret, scenario.node)
        try await node.application().test(.router) { client in
            let unused = try await client.pushRequest(clientID, secret: secret)
            let consumed = try await client.pushRequest(clientID, secret: secret)
            let redeemed = try await client.redeem(clientID, consumed)
            #expect(redeemed.status == .ok, "\(String(buffer: redeemed.body))")
            try await Task.sleep(for: .milliseconds(5300))
            let late = try await client.redeem(clientID, unused)
            #expect(late.status == .badRequest)
            #expect(try jsonObject(late)["reason"] as? String == "expired")
            // The sweeper (grace 1 s, every 0.5 s) appends the expired event.
            #expect(try await eventually { try await database.events(of: unused).count == 3 })
            let unusedEvents = try await database.events(of: unused).map(\.kind)
            #expect(unusedEvents.sorted() == ["expired", "pushed", "refused"], "the sweeper may come before or after the refusal")
            #expect(try await database.events(of: consumed).map(\.kind) == ["pushed", "consumed"])
            // Redeeming after expiry still says expired, now from the terminal event.
            #expect(try jsonObject(try await client.redeem(clientID, unused))["reason"] as? String == "expired")
        }
    }

    /// A failover can bring back a record as it was before its claim (asynchronous replication): Redis then says
    /// "claimed" again, and PostgreSQL refuses every second redemption.
    @Test(arguments: RedisMode.allCases) func aResurrectedRedisRecordNeverRedeemsTwice(redis: RedisMode) async throws {
        let scenario = try await Scenario.make("resurrect", redis: redis)
        let (clientID, secret, node) = (scenario.clientID, scenario.secret, scenario.node)
        try await node.application().test(.router) { client in
            let requestURI = try await client.pushRequest(clientID, secret: secret)
            #expect(try await client.redeem(clientID, requestURI).status == .ok)
            let key = RedisRequestCache.key(try #require(RequestReference(requestURI: requestURI)))
            #expect(try await node.redis!.command(["HSET", key, "s", "p"], key: key) == .integer(0), "the record is there")
            let results = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<6 { group.addTask { Int(try await client.redeem(clientID, requestURI).status.code) } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(results == Array(repeating: 400, count: 6))
        }
        #expect(node.metrics.render().contains(#"parstore_redeem_total{outcome="already_used"} 6"#))
    }

    /// Redis keeps what the redemption filter reads back (the client and whether it was used), never the
    /// parameters; and a node of the previous version, calling the functions by their old names and arguments
    /// during a rolling upgrade, is still served on the records of either version.
    @Test func redisKeepsNoParametersAndServesTheFunctionsOfThePreviousVersion() async throws {
        let scenario = try await Scenario.make("slim-records")
        let (clientID, secret, node) = (scenario.clientID, scenario.secret, scenario.node)
        let redis = try #require(node.redis)
        try await node.application().test(.router) { client in
            let requestURI = try await client.pushRequest(clientID, secret: secret)
            let key = RedisRequestCache.key(try #require(RequestReference(requestURI: requestURI)))
            // The record is sent after the 201, without waiting for Redis.
            #expect(try await eventually { try await redis.command(["EXISTS", key], key: key) == .integer(1) })
            let record = try await redis.command(["HGETALL", key], key: key)
            #expect(record == .array([.string("c"), .string(clientID), .string("s"), .string("p")]))
            // A version 2 node redeeming it reads `ok` and three values it can parse (and never uses).
            let claimed = try await redis.command(["FCALL", "parstore_claim", "1", key, clientID], key: key)
            #expect(claimed == .array([.string("ok"), .string("{}"), .string("0"), .string("0")]))
            #expect(try await redis.command(["FCALL", "parstore_claim", "1", key, clientID], key: key) == .array([.string("used")]))
            // Taken in Redis: a replay is refused there, without PostgreSQL.
            let replay = try await client.redeem(clientID, requestURI)
            #expect(replay.status == .badRequest)
            #expect(try jsonObject(replay)["reason"] as? String == "already_used")

            // A version 2 node pushing with its parameters and time: stored as version 3 records are.
            let old = "parstore:req:" + String(repeating: "0f", count: 32)
            let deadline = String(Int64(Date().timeIntervalSince1970 * 1000) + 60_000)
            _ = try await redis.command(["FCALL", "parstore_push", "1", old, clientID, deadline, #"{"scope":"openid"}"#, "1"], key: old)
            #expect(try await redis.command(["HGETALL", old], key: old) == .array([.string("c"), .string(clientID), .string("s"), .string("p")]))
            #expect(try await redis.command(["FCALL", "parstore_consume", "1", old, "mallory"], key: old) == .string("wrong_client"))
            #expect(try await redis.command(["FCALL", "parstore_consume", "1", old, clientID], key: old) == .string("consumed"))
            #expect(try await redis.command(["FCALL", "parstore_consume", "1", old, clientID], key: old) == .string("already_used"))
        }
    }

    @Test func redisFlushedBetweenPushAndRedeemStillRedeemsExactlyOnce() async throws {
        let redis = try await TestServers.privateRedis(named: "flush")
        let scenario = try await Scenario.make("flush", redisURL: redis.url)
        let (clientID, secret, node) = (scenario.clientID, scenario.secret, scenario.node)
        try await node.application().test(.router) { client in
            let requestURI = try await client.pushRequest(clientID, secret: secret)
            _ = try await node.redis!.command(["FLUSHALL"], key: nil)
            let results = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<6 { group.addTask { Int(try await client.redeem(clientID, requestURI).status.code) } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(results.filter { $0 == 200 }.count == 1)
            #expect(results.filter { $0 == 400 }.count == 5)
        }
        #expect(node.metrics.render().contains(#"parstore_redis_fallback_total{reason="not_found"}"#))
    }
}
