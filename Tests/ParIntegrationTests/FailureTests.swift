import Foundation
import Hummingbird
import HummingbirdTesting
import ParEmbedded
import ParRedis
import ParServer
import ParTesting
import ParWorker
import Testing

/// ARCHITECTURE §6: losing Redis costs speed, never correctness; losing PostgreSQL fails closed.
@Suite struct FailureTests {
    @Test func withRedisStoppedPushAndRedeemKeepWorkingThroughPostgres() async throws {
        let redis = try await TestServers.privateRedis(named: "stopped")
        let scenario = try await Scenario.make("noredis", redisURL: redis.url)
        let (clientID, secret, node) = (scenario.clientID, scenario.secret, scenario.node)
        try await node.application().test(.router) { client in
            let beforeStop = try await client.pushRequest(clientID, secret: secret)
            try await runOnOwnThread { redis.stop() }

            let duringStop = try await client.pushRequest(clientID, secret: secret)
            #expect(try await client.redeem(clientID, beforeStop).status == .ok)
            #expect(try await client.redeem(clientID, duringStop).status == .ok)
            let again = try await client.redeem(clientID, duringStop)
            #expect(try jsonObject(again)["reason"] as? String == "already_used")

            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .ok)
            #expect(try jsonObject(ready)["redis"] as? String == "down")

            // Redis comes back on the same port: the node reconnects by itself and loads its functions again.
            let restarted = try await TestServers.privateRedis(named: "restarted", port: redis.port)
            #expect(
                try await eventually {
                    _ = try await client.pushRequest(clientID, secret: secret)
                    guard case .integer(let keys) = try? await node.redis!.command(["DBSIZE"], key: nil) else { return false }
                    return keys > 0
                }
            )
            try await runOnOwnThread { restarted.stop() }
        }
        #expect(node.metrics.render().contains(#"parstore_redis_fallback_total{reason="connection"}"#))
    }

    @Test func withPostgresStoppedNothingSucceedsAndTheNodeRecoversByItself() async throws {
        let postgres = try await TestServers.privatePostgres(named: "pgdown")
        let servers = try await TestServers.shared.shared()
        let database = TestDatabase(url: postgres.url)
        let clientID = uniqueClientID("nopg")
        let secret = try await database.register(clientID)
        let node = try await TestNodes.make(TestNodes.configuration(databaseURL: postgres.url, redisURL: servers.redisURL))
        let pushedURI = try await node.application().test(.router) { client in
            let pushed = try await client.pushRequest(clientID, secret: secret)
            try await runOnOwnThread { try postgres.stop() }

            let push = try await client.execute(
                uri: "/par",
                method: .post,
                headers: formHeaders + [.authorization: basicAuthorization(clientID, secret)],
                body: formBody(pushParameters(clientID))
            )
            #expect(push.status == .serviceUnavailable)
            #expect(push.headers[.retryAfter] != nil)
            #expect(try jsonObject(push)["error"] as? String == "temporarily_unavailable")
            #expect(try jsonObject(push)["request_uri"] == nil)

            for _ in 0..<3 {
                let redeem = try await client.redeem(clientID, pushed)
                #expect(redeem.status == .serviceUnavailable, "fail closed: no redemption without the arbiter")
            }
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .serviceUnavailable)

            try await runOnOwnThread { try postgres.restart() }
            #expect(try await eventually { try await client.execute(uri: "/readyz", method: .get).status == .ok })
            // The Redis claims made while PostgreSQL was down were given back: the request is still usable, once.
            // A client retries a 503 after Retry-After; a connection may still be in its reconnect back-off.
            var status = HTTPResponse.Status.serviceUnavailable
            _ = try await eventually {
                status = try await client.redeem(clientID, pushed).status
                return status != .serviceUnavailable
            }
            #expect(status == .ok)
            #expect(try await client.redeem(clientID, pushed).status == .badRequest)
            _ = try await client.pushRequest(clientID, secret: secret)
            return pushed
        }
        // The refusal is recorded off the request path.
        #expect(try await eventually { try await database.events(of: pushedURI).map(\.kind) == ["pushed", "consumed", "refused"] })
        try await runOnOwnThread { try postgres.stop() }
    }
}
