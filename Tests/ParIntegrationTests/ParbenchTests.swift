import Crypto
import Foundation
import ParCore
import ParEmbedded
import ParTesting
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
                "--scenario", "hostile", "--target", "http://127.0.0.1:\(port)", "--client-id", clientID, "--client-secret=" + secret,
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

        // `parbench cores`: the CPU split over the measured window only, from bench/run's one-line-a-second samples.
        let from = try #require(report["measuredFrom"] as? Double)
        let samples = [
            // time, then ticks: nodes, PostgreSQL, Redis, HAProxy, parbench, and PostgreSQL's append, arbiter, load, ticket;
            // then the log's lag: events outside a checkpoint, seconds behind
            "\(from - 5) 0 0 0 0 0 0 0 0 0 9000 9",  // before the window (a pool pushed first): left out
            "\(from + 0.2) 100 100 100 0 100 10 40 0 0 120 0.8",
            "\(from + 1.2) 200 150 120 0 130 30 80 0 0 40 0.5",
            "\(from + 2.2) 300 200 140 0 0 50 120 0 0 2000 3.2",  // past the 1.5 s window; parbench ended (its ticks read 0): its last reading counts
            "\(from + 60) 900 900 900 0 900 900 900 0 0 9000 9",  // after it (the re-check of redemptions): left out
        ]
        try samples.joined(separator: "\n").write(toFile: out + "/hostile.cpu", atomically: true, encoding: .utf8)
        let cores = try await Command.run(
            parbench,
            ["cores", "--report", out + "/hostile.json", "--samples", out + "/hostile.cpu", "--clock-ticks", "100"]
        )
        #expect(cores.status == 0, "\(cores.output)")
        let split = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/hostile.cpu.json"))) as? [String: Any]
        )
        #expect(split["nodes"] as? Double == 1.0 && split["postgres"] as? Double == 0.5 && split["redis"] as? Double == 0.2)
        #expect(split["parbench"] as? Double == 0.3)
        let throughput = try #require(report["throughput"] as? Double)
        #expect(split["nodeMicrosPerIteration"] as? Int == Int((1e6 / throughput).rounded()), "one core's second over the iterations")
        let hotPath = try #require(split["postgresHotPathMicrosPerIteration"] as? [String: Int])
        #expect(hotPath == ["append": Int((0.2e6 / throughput).rounded()), "arbiter": Int((0.4e6 / throughput).rounded()), "load": 0, "ticket": 0])
        let lag = try #require(split["logLag"] as? [String: Any])
        // Over the window's samples only (the 1.5 s run has two).
        #expect(lag["medianEvents"] as? Int == 120 && lag["maxEvents"] as? Int == 120)
        #expect(lag["medianSeconds"] as? Double == 0.8 && lag["maxSeconds"] as? Double == 0.8)

        // Open loop offered far more than one connection can carry: the report says the latency includes parbench's
        // own backlog (what an earlier report took for a 2.7 s stall of the server).
        let flooded = try await Command.run(
            parbench,
            ["--scenario", "get", "--target", "http://127.0.0.1:\(port)", "--connections", "1", "--rate", "10000", "--duration", "1", "--warmup", "0", "--quiet"]
        )
        #expect(flooded.status == 0 && flooded.output.contains("Offered 10000/s, served"), "\(flooded.output)")
        let paced = try await Command.run(
            parbench,
            ["--scenario", "get", "--target", "http://127.0.0.1:\(port)", "--connections", "4", "--rate", "50", "--duration", "1.5", "--warmup", "0", "--quiet"]
        )
        #expect(paced.status == 0 && !paced.output.contains("Offered"), "\(paced.output)")
    }

    /// Against an independent RFC 9126 implementation (idpyoidc, served by uvicorn over TLS), which writes its JSON
    /// its own way (`"request_uri": "…"`): parbench pushes with `private_key_jwt`, follows every request_uri to the
    /// authorization endpoint and classifies the answer (a redirect with a code); a push it cannot use is counted
    /// as unexpected, never skipped.
    @Test func theAuthorizeScenarioMeasuresAnotherPARServerOverTLS() async throws {
        let peer = TestServers.packageRoot + "/bench/peers/idpyoidc"
        let venv = TestServers.packageRoot + "/.build/peers/idpyoidc-venv"
        let installed = try await Command.run(peer + "/install", [venv])
        #expect(installed.status == 0, "installing the idpyoidc peer failed: \(installed.output)")
        let folder = (ProcessInfo.processInfo.environment["PARSTORE_TEST_DIR"] ?? NSTemporaryDirectory()) + "/peer-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let certificate = try await Command.run(peer + "/make-cert", [folder])
        #expect(certificate.status == 0, "\(certificate.output)")
        let key = P256.Signing.PrivateKey()
        try key.pemRepresentation.write(toFile: folder + "/client-key.pem", atomically: true, encoding: .utf8)
        let point = Array(key.publicKey.x963Representation)
        let jwk = [
            "kty": "EC", "crv": "P-256", "use": "sig", "kid": "parbench",
            "x": Secret.base64URL(Array(point[1...32])), "y": Secret.base64URL(Array(point[33...64])),
        ]
        try JSONSerialization.data(withJSONObject: ["keys": [jwk]]).write(to: URL(fileURLWithPath: folder + "/client.jwks"))

        let port = try freeLoopbackPort()
        let server = try Command.launch(
            venv + "/bin/python",
            [
                peer + "/server.py", "--host", "127.0.0.1", "--port", String(port), "--tls-cert", folder + "/cert.pem",
                "--tls-key", folder + "/key.pem", "--redirect-uri", "https://client.example.org/cb", "--jwt-client-id", "parbench-jwt",
                "--jwt-client-jwks", folder + "/client.jwks",
            ],
            output: folder + "/peer.log"
        )
        // SIGKILL: the test process's blocked signals are inherited, so uvicorn may never see a SIGTERM.
        defer {
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        try waitForLoopbackPort(port, timeout: 60)

        let parbench = (try Command.parstore as NSString).deletingLastPathComponent + "/parbench"
        let common = [
            "--scenario", "authorize", "--target", "https://127.0.0.1:\(port)", "--tls-ca", folder + "/cert.pem",
            "--auth-method", "private_key_jwt", "--client-id", "parbench-jwt", "--client-key", folder + "/client-key.pem",
            "--connections", "2", "--duration", "2", "--warmup", "0", "--out", folder, "--quiet",
        ]
        let run = try await Command.run(parbench, common + ["--label", "peer"])
        #expect(run.status == 0, "\(run.output)")
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/peer.json"))) as? [String: Any]
        )
        #expect((report["iterations"] as? Int ?? 0) > 0)
        #expect(report["unexpected"] as? Int == 0, "\(report)")
        let classes = try #require(report["classes"] as? [String: Int])
        #expect((classes["push 201"] ?? 0) > 0)
        #expect((classes["authorize 302 redirect code"] ?? 0) == classes["push 201"], "every push was followed to a code: \(classes)")

        // A push the peer refuses leaves nothing to follow: it is counted as unexpected and reported.
        let refused = try await Command.run(parbench, common + ["--label", "refused", "--redirect-uri", "https://attacker.example/cb"])
        let refusedReport = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/refused.json"))) as? [String: Any]
        )
        #expect(refused.output.contains("unexpected"))
        #expect((refusedReport["unexpected"] as? Int ?? 0) > 0)
        #expect((refusedReport["classes"] as? [String: Int])?.keys.contains { $0.hasPrefix("authorize") } == false)
    }
}
