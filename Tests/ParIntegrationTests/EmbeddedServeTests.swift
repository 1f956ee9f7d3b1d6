import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ParEmbedded
import ParServer
import ParTesting
import Testing

/// `parstore serve` as the README's run command uses it.
@Suite struct EmbeddedServeTests {
    @Test func withNoConfigurationItStartsItsOwnServersAndStopsThemOnSIGTERM() async throws {
        let folder = (ProcessInfo.processInfo.environment["PARSTORE_TEST_DIR"] ?? NSTemporaryDirectory()) + "/embedded-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let output = folder + "/stdout.txt"
        #expect(FileManager.default.createFile(atPath: output, contents: nil))
        let port = try freeLoopbackPort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Command.parstore)
        process.arguments = ["serve", "--data-dir", folder + "/data", "--port", String(port), "--migrations", TestServers.migrationsDirectory]
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        try waitForLoopbackPort(port, timeout: 60)

        // The walk-through names the demo client's secret and the API key.
        let text = try String(contentsOfFile: output, encoding: .utf8)
        func value(after label: String) throws -> String {
            let line = try #require(text.split(separator: "\n").first { $0.contains(label) })
            return String(try #require(line.split(separator: " ").last))
        }
        let secret = try value(after: "demo client_secret:")
        let apiKey = try value(after: "backend API key:")
        #expect(text.contains("curl -s -u 'demo:\(secret)'"))
        let redisPID = try #require(
            pid_t(try String(contentsOfFile: folder + "/data/redis/redis.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))
        )
        #expect(kill(redisPID, 0) == 0, "Redis runs")

        // No other local user gets in: PostgreSQL has no TCP listener and its socket folder is 0700; Redis wants
        // the password, which is in no command line.
        let postmaster = try String(contentsOfFile: folder + "/data/postgres/postmaster.pid", encoding: .utf8).split(separator: "\n")
        let postgresPort = try #require(Int(postmaster[3]))
        #expect(throws: (any Error).self) { try waitForLoopbackPort(postgresPort, timeout: 0.2) }
        let socketFolder = try FileManager.default.attributesOfItem(atPath: folder + "/data/postgres-run")
        #expect((socketFolder[.posixPermissions] as? Int) == 0o700)
        let redisLine = try #require(text.split(separator: "\n").first { $0.contains("password required") })
        let redisPort = try #require(redisLine.firstMatch(of: /127\.0\.0\.1:(\d+)/).map { String($0.1) })
        let anonymous = try await Command.run("/usr/bin/redis-cli", ["-p", redisPort, "PING"])
        #expect(anonymous.output.contains("NOAUTH"), "\(anonymous.output)")
        let commandLine = try String(contentsOfFile: "/proc/\(redisPID)/cmdline", encoding: .utf8)
        #expect(!commandLine.contains("requirepass"))

        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        var push = HTTPClientRequest(url: "http://127.0.0.1:\(port)/par")
        push.method = .POST
        push.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        push.headers.add(name: "Authorization", value: basicAuthorization("demo", secret))
        push.body = .bytes(formBody(pushParameters("demo")))
        let pushed = try await http.execute(push, timeout: .seconds(10))
        #expect(pushed.status == .created)
        let pushedBody = try await pushed.body.collect(upTo: 4096)
        let requestURI = try #require(
            (try JSONSerialization.jsonObject(with: Data(pushedBody.readableBytesView)) as? [String: Any])?["request_uri"] as? String
        )

        var redeem = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/redeem")
        redeem.method = .POST
        redeem.headers.add(name: "Content-Type", value: "application/json")
        redeem.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        redeem.body = .bytes(ByteBuffer(string: #"{"client_id":"demo","request_uri":"\#(requestURI)"}"#))
        #expect(try await http.execute(redeem, timeout: .seconds(10)).status == .ok)
        try await http.shutdown()

        process.terminate()  // SIGTERM, as Ctrl-C's SIGINT
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: folder + "/data/postgres/postmaster.pid"), "PostgreSQL was stopped")
        #expect(kill(redisPID, 0) != 0, "Redis was stopped")
    }

    @Test func aRequestLifetimeOf600SecondsOrMoreIsRefused() async throws {
        let base = ["serve", "--database-url", "postgresql://127.0.0.1:1/none", "--api-key", "0123456789abcdef0123"]
        let refused = try await Command.parstore(base + ["--request-ttl", "600"])
        #expect(refused.status != 0)
        #expect(refused.output.contains("PARSTORE_REQUEST_TTL must be at least 1 second and below 600 seconds"))
        let noKey = try await Command.parstore(["serve", "--database-url", "postgresql://127.0.0.1:1/none"])
        #expect(noKey.status != 0)
        #expect(noKey.output.contains("PARSTORE_API_KEY"))
        // Numbers from outside are checked before use: no negative grace, no overflow, no proxy trusting the world.
        for (arguments, message) in [
            (["--expiry-grace", "-5"], "PARSTORE_EXPIRY_GRACE"), (["--expiry-grace", "1e300"], "PARSTORE_EXPIRY_GRACE"),
            (["--header-timeout", "0"], "PARSTORE_HEADER_TIMEOUT"), (["--port", "99999999999999999999"], "port"),
            (["--request-ttl", "9223372036854775807"], "PARSTORE_REQUEST_TTL"),
            (["--trusted-proxies", "0.0.0.0/0", "--client-cert-header", "Client-Cert"], "0.0.0.0/0"),
            (["--trusted-proxies", "::/0", "--client-cert-header", "Client-Cert"], "PARSTORE_TRUSTED_PROXIES"),
        ] {
            let result = try await Command.parstore(base + arguments)
            #expect(result.status != 0 && result.status != 134 && result.status != 132, "\(arguments): exits with an error, no crash")
            #expect(result.output.contains(message), "\(arguments): \(result.output.suffix(300))")
        }
    }

    /// Every setting is declared once (NodeSettings): `serve --help` shows each flag and variable, the README's table
    /// is exactly what `parstore settings` prints from the declarations, and no other `PARSTORE_*` name appears in
    /// the node's or the tool's code.
    @Test func serveHelpAndTheReadmeFollowTheDeclarations() async throws {
        let help = try await Command.parstore(["serve", "--help"])
        let table = try await Command.parstore(["settings"])
        #expect(table.status == 0)
        let readme = try String(contentsOfFile: TestServers.packageRoot + "/README.md", encoding: .utf8)
        let readmeAgrees = readme.contains(table.output)
        #expect(readmeAgrees, "the README's table is not what `parstore settings` prints: paste its output")
        var documented: Set<String> = []
        for row in table.output.split(separator: "\n") {
            guard let match = row.firstMatch(of: /`(PARSTORE_[A-Z_]+)` \| `(--[a-z-]+)`/) else { continue }
            documented.insert(String(match.1))
            #expect(help.output.contains(String(match.1)), "serve --help lacks \(match.1)")
            #expect(help.output.contains(String(match.2) + " "), "serve --help lacks \(match.2)")
        }
        #expect(documented.count == NodeSettings.all.count + NodeSettings.all.filter(\.isSecret).count)
        for folder in ["Sources/parstore", "Sources/ParServer"] {
            let files = try FileManager.default.subpathsOfDirectory(atPath: TestServers.packageRoot + "/" + folder).filter { $0.hasSuffix(".swift") }
            for file in files {
                let source = try String(contentsOfFile: TestServers.packageRoot + "/\(folder)/\(file)", encoding: .utf8)
                for match in source.matches(of: /(PARSTORE_[A-Z_]+[A-Z])/) where !documented.contains(String(match.1)) {
                    Issue.record("\(file) names \(match.1), which no declaration has")
                }
            }
        }
    }

    /// A setting's text that is not one of its values is refused with both its names, before anything starts.
    @Test func everyDeclaredSettingRefusesTextThatIsNotAValue() throws {
        let texts: Set = [
            "databaseURL", "redisURL", "nodeID", "host", "issuer", "tokenEndpoint", "mtlsPushEndpoint", "interactionURL", "apiKey",
            "clientCertificateHeader", "trustedProxies", "dataKeyFile", "logKeyFile", "dataDir", "migrations", "logLevel",
        ]
        let refusable = NodeSettings.all.filter { !texts.contains($0.key) }
        #expect(refusable.count == 21, "every setting with a typed value is tried")
        for setting in refusable {
            var configuration = NodeConfiguration(stores: .init(databaseURL: "x"), security: .init(apiKey: "0123456789abcdef0123"))
            #expect(throws: ConfigurationError.self, "\(setting.variable)") { try setting.apply("1e400x", to: &configuration) }
            do {
                try setting.apply("-1", to: &configuration)
                try configuration.validate()
                Issue.record("\(setting.variable) took -1")
            } catch {
                #expect(error.description.contains(setting.variable), "\(error.description)")
            }
        }
    }
}
