import Foundation
import ParEmbedded
import ParTestSupport
import Testing

/// The benchmark's load generator, run briefly against a real node: it must classify what the server answers and
/// prove that nothing was redeemed twice.
@Suite struct ParbenchTests {
    @Test func aShortHostileRunClassifiesEveryRefusalAndFindsNoDoubleRedemption() async throws {
        let servers = try await TestServers.shared.shared()
        let database = TestDatabase(url: servers.databaseURL)
        let clientID = uniqueClientID("bench")
        let secret = try await database.register(clientID)
        let port = try freeLoopbackPort()
        let node = try Command.serve(servers, port: port)
        defer { node.terminate() }

        let out = (ProcessInfo.processInfo.environment["PARSTORE_TEST_DIR"] ?? NSTemporaryDirectory()) + "/parbench-\(port)"
        let parbench = (try Command.parstore as NSString).deletingLastPathComponent + "/parbench"
        let run = try await Command.run(
            parbench,
            [
                "--scenario", "hostile", "--target", "http://127.0.0.1:\(port)", "--client-id", clientID, "--client-secret", secret,
                "--api-key", TestNodes.apiKey, "--connections", "4", "--duration", "1.5", "--warmup", "0", "--hostile-share", "0.5",
                "--out", out, "--label", "hostile", "--quiet",
            ]
        )
        #expect(run.status == 0, "\(run.output)")
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/hostile.json"))) as? [String: Any]
        )
        #expect((report["iterations"] as? Int ?? 0) > 0)
        #expect(report["unexpected"] as? Int == 0)
        #expect(report["doubleRedemptions"] as? Int == 0)
        #expect((report["redemptionsChecked"] as? Int ?? 0) > 0)
        let classes = try #require(report["classes"] as? [String: Int])
        for expected in ["push 201", "redeem 200", "redeem 400 unregistered_client", "redeem 400 already_used", "redeem 400 unknown"] {
            #expect((classes[expected] ?? 0) > 0, "\(expected)")
        }
        #expect(FileManager.default.fileExists(atPath: out + "/hostile.svg"))
        #expect(try String(contentsOfFile: out + "/hostile.md", encoding: .utf8).contains("| throughput |"))
    }
}
