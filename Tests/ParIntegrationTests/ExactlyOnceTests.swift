import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ParCore
import ParEmbedded
import ParPostgres
import ParRedis
import ParServer
import ParTesting
import ParWorker
import Testing

private typealias C = Conformance

/// Single use that does not depend on Redis, and one winner where two paths meet.
@Suite struct ExactlyOnceTests {
    /// A client assertion accepted once is refused again after Redis lost it: flushed, or restarted empty. The jti
    /// is recorded in PostgreSQL with the push it authenticated.
    @Test func rfc7523_3_7_aReplayedAssertionIsRefusedAfterRedisForgetsIt() async throws {
        let redis = try await TestServers.privateRedis(named: "jti")
        let client = try await C.register("jti-replay")
        let servers = try await TestServers.shared.shared()
        var configuration = TestNodes.configuration(databaseURL: servers.databaseURL, redisURL: redis.url)
        configuration.oauth.issuer = C.issuer
        let first = try await TestNodes.make(configuration)
        let second = try await TestNodes.make(configuration)
        let assertion = C.es256.sign(C.assertionClaims(client.id))
        let proof = C.dpopProof(C.es256)
        try await first.application().test(.router) { one in
            try await second.application().test(.router) { two in
                expectAnswer(try await one.push(C.jwtForm(client.id, assertion: assertion), headers: [.dpopProof: proof]), .created)
                // Across nodes, with Redis as the fast filter.
                expectAnswer(try await two.push(C.jwtForm(client.id, assertion: assertion)), .unauthorized, "invalid_client")
                _ = try await first.redis!.command(["FLUSHALL"], key: nil)
                expectAnswer(try await two.push(C.jwtForm(client.id, assertion: assertion)), .unauthorized, "invalid_client")
                // The DPoP proof's jti too, with a fresh assertion.
                expectAnswer(try await one.push(C.signedForm(client.id), headers: [.dpopProof: proof]), .badRequest, "invalid_dpop_proof")

                let port = redis.port
                try await runOnOwnThread { redis.stop() }
                let restarted = try await TestServers.privateRedis(named: "jti-restarted", port: port)
                // Redis unreachable, then back and empty: PostgreSQL still refuses the replay, and a fresh
                // assertion is served (single use no longer needs Redis, so no 503).
                for node in [one, two] {
                    expectAnswer(try await node.push(C.jwtForm(client.id, assertion: assertion)), .unauthorized, "invalid_client")
                    expectAnswer(try await node.push(C.signedForm(client.id)), .created)
                }
                try await runOnOwnThread { restarted.stop() }
            }
        }
    }

    /// Two copies of one assertion in the same group-commit batch: one push wins.
    @Test func oneAssertionSentManyTimesAtOnceIsUsedOnce() async throws {
        let client = try await C.register("jti-batch")
        let servers = try await TestServers.shared.shared()
        // No Redis: PostgreSQL alone decides, within one batch and across batches.
        var configuration = TestNodes.configuration(databaseURL: servers.databaseURL, redisURL: nil)
        configuration.oauth.issuer = C.issuer
        let node = try await TestNodes.make(configuration)
        let assertion = C.es256.sign(C.assertionClaims(client.id))
        let statuses = try await node.application().test(.router) { http in
            try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<24 { group.addTask { try await http.push(C.jwtForm(client.id, assertion: assertion)).status } }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
        }
        #expect(statuses.filter { $0 == .created }.count == 1)
        #expect(statuses.filter { $0 == .unauthorized }.count == 23)
    }

    /// A browser load and a backend redemption of the same request, on two nodes at once: at most one wins, every
    /// time, and the audit's rule (no consumption without the load's ticket) holds.
    @Test(arguments: RedisMode.allCases) func aLoadRacingABackendRedemptionHasOneWinner(redis: RedisMode) async throws {
        let scenario = try await Scenario.make("load-race", redis: redis)
        let other = try await TestNodes.make(TestNodes.configuration(databaseURL: scenario.servers.databaseURL, redisURL: scenario.servers.redisURL))
        try await scenario.node.application().test(.router) { browserNode in
            try await other.application().test(.router) { backendNode in
                var loads = 0
                var redemptions = 0
                for _ in 0..<100 {
                    let requestURI = try await browserNode.pushRequest(scenario.clientID, secret: scenario.secret)
                    async let load = browserNode.authorize(scenario.clientID, requestURI)
                    async let redeem = backendNode.redeem(scenario.clientID, requestURI)
                    let (loaded, redeemed) = try await (load, redeem)
                    let loadWon = loaded.status == .seeOther
                    let redeemWon = redeemed.status == .ok
                    #expect(!(loadWon && redeemWon), "both a load and a backend redemption succeeded")
                    #expect(loadWon || redeemWon, "a request nobody else touched was refused to both")
                    if loadWon { loads += 1 }
                    if redeemWon { redemptions += 1 }
                }
                #expect(loads + redemptions == 100)
            }
        }
        let audit = try await Command.parstore(["audit", "--database-url", scenario.database.url, "--settle", "600", "--json"])
        #expect(!audit.output.contains("consumed_without_ticket"))
    }

    /// One row PostgreSQL refuses fails only its own caller: the batch is split until it is alone.
    @Test func aBadRowFailsOnlyItsOwnCallerInABatch() async throws {
        let servers = try await TestServers.shared.shared()
        let events = TestEventLog(url: servers.databaseURL, nodeID: "bisect-test")
        let store = events.log
        let results = await withTaskGroup(of: (Bool, Result<AppendResult, any Error>).self) { group in
            for index in 0..<64 {
                group.addTask {
                    let reference = RequestReference.mint(secondsSince1970: Date().timeIntervalSince1970)
                    let bad = index % 16 == 5
                    let record = EventRecord(
                        day: reference.day,
                        requestID: reference.requestID,
                        kind: .pushed,
                        clientID: "bisect-test",
                        lifetime: .seconds(60),
                        // Not JSON (22P02), or a NUL PostgreSQL cannot take (22021): data errors of one row.
                        payload: bad ? (index % 32 == 5 ? "{not json" : "{\"a\":\"\u{0}\"}") : #"{"a":"b"}"#
                    )
                    return (bad, await Result { try await store.append(record) })
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        for (bad, result) in results {
            switch result {
            case .success(let appended):
                #expect(!bad)
                #expect(appended.inserted)
            case .failure(let error):
                #expect(bad)
                #expect((error as? PGError)?.isDataError == true)
            }
        }
        #expect(results.filter { !$0.0 }.count == 60)
        await events.shutdown()
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
