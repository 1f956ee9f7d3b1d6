import ArgumentParser
import Crypto
import Foundation
import NIOCore
import NIOPosix

@main
struct Parbench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parbench",
        abstract: "The ParStore benchmark suite's load generator (run, the default) and report writer (cores, summary).",
        subcommands: [Run.self, Cores.self, Summary.self],
        defaultSubcommand: Run.self
    )

    /// Runs Swift concurrency on the NIO event loops before anything else, so that a connection's task and its
    /// socket share a thread: without it every exchange hops between two thread pools, and the load generator
    /// spends the machine the server under test needs.
    static func main() async {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        await main(nil)
    }
}

/// One scenario against one or more targets.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load generator of the ParStore benchmark suite: pushes, loads and redeems over keep-alive HTTP/1.1.",
        discussion: """
            Closed loop by default (each connection sends its next request when the last answer arrived); with --rate, \
            open loop at a fixed arrival rate, latency measured from each iteration's intended start. Scenarios get, \
            push and authorize work against any RFC 9126 server (set --par-endpoint, --authorize-endpoint and the \
            client's credentials); redeem, flow-backend, flow and hostile need ParStore's backend API (--api-key). \
            Every response is classified; after a run that redeems, a sample of the redeemed requests is redeemed \
            again and any success is a double redemption: it fails the run.
            """
    )

    @Option(help: "get, push, authorize, redeem, flow-backend, flow, hostile.") var scenario: String = "push"
    @Option(name: .customLong("target"), help: "Base URL of a node or load balancer; repeat to spread round robin.")
    var targets: [String] = ["http://127.0.0.1:8080"]
    @Option(help: "Keep-alive connections.") var connections: Int = 64
    @Option(help: "Measured seconds.") var duration: Double = 10
    @Option(help: "Unmeasured seconds first.") var warmup: Double = 2
    @Option(help: "Open loop: iterations per second (all connections together).") var rate: Double?
    @Option(name: .customLong("client-id")) var clientID: String = "demo"
    @Option(name: .customLong("client-secret")) var clientSecret: String?
    @Option(name: .customLong("auth-method"), help: "client_secret_basic, client_secret_post or private_key_jwt.")
    var authMethod = "client_secret_basic"
    @Option(
        name: .customLong("client-key"),
        help: "private_key_jwt: the client's EC P-256 private key (PEM); every push signs a new ES256 assertion."
    )
    var clientKey: String?
    @Option(name: .customLong("assertion-audience"), help: "private_key_jwt: the assertion's aud. Default: the PAR endpoint URL.")
    var assertionAudience: String?
    @Option(name: .customLong("tls-ca"), help: "https targets: PEM certificates to trust (e.g. a test server's self-signed one).")
    var tlsCA: String?
    @Flag(name: .customLong("tls-insecure"), help: "https targets: do not verify the server's certificate.") var tlsInsecure = false
    @Option(name: .customLong("redirect-uri")) var redirectURI = "https://client.example.org/cb"
    @Option var scope = "openid"
    @Option(name: .customLong("api-key"), help: "ParStore backend API key (redeeming scenarios).") var apiKey: String?
    @Option(name: .customLong("par-endpoint")) var parEndpoint = "/par"
    @Option(name: .customLong("authorize-endpoint")) var authorizeEndpoint = "/authorize"
    @Option(name: .customLong("get-path"), help: "What the get scenario requests.") var getPath = "/healthz"
    @Option(help: "Requests pushed before a redeem run.") var pool: Int = 100_000
    @Option(name: .customLong("hostile-share"), help: "Chance of each hostile attempt per iteration.") var hostileShare = 0.2
    @Option(help: "Folder for <label>.json, <label>.md and <label>.svg.") var out: String?
    @Option(help: "Name of this run in the results.") var label: String?
    @Flag(help: "No progress line.") var quiet = false

    func run() async throws {
        guard let kind = ScenarioKind(rawValue: scenario) else {
            throw ValidationError("unknown scenario \(scenario); one of \(ScenarioKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if kind.redeems && apiKey == nil { throw ValidationError("the \(scenario) scenario needs --api-key") }
        var key: P256.Signing.PrivateKey? = nil
        if authMethod == "private_key_jwt" {
            guard let clientKey, let pem = try? String(contentsOfFile: clientKey, encoding: .utf8) else {
                throw ValidationError("private_key_jwt needs --client-key with a readable PEM file")
            }
            do { key = try P256.Signing.PrivateKey(pemRepresentation: pem) } catch {
                throw ValidationError("--client-key is not an EC P-256 private key")
            }
        }
        let parsedTargets = try targets.map(Target.init(url:))
        let runner = Runner(
            scenario: kind,
            targets: parsedTargets,
            connections: max(1, connections),
            duration: .milliseconds(Int64(duration * 1000)),
            warmup: .milliseconds(Int64(warmup * 1000)),
            rate: rate,
            endpoints: Endpoints(
                parPath: parEndpoint,
                authorizePath: authorizeEndpoint,
                redeemPath: "/v1/redeem",
                getPath: getPath,
                clientID: clientID,
                clientSecret: clientSecret,
                authMethod: authMethod,
                redirectURI: redirectURI,
                scope: scope,
                apiKey: apiKey,
                clientKey: key,
                assertionAudience: assertionAudience
            ),
            pool: pool,
            hostileShare: hostileShare,
            progress: !quiet,
            tls: parsedTargets.contains(where: \.tls) ? try TLSClient(caFile: tlsCA, insecure: tlsInsecure) : nil
        )
        var report = try await runner.run()
        report.label = label ?? scenario
        print(report.markdown)
        if let out {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: URL(fileURLWithPath: "\(out)/\(report.label).json"))
            try report.markdown.write(toFile: "\(out)/\(report.label).md", atomically: true, encoding: .utf8)
            try report.svg.write(toFile: "\(out)/\(report.label).svg", atomically: true, encoding: .utf8)
        }
        if report.doubleRedemptions > 0 {
            FileHandle.standardError.write(Data("\n!!! \(report.doubleRedemptions) DOUBLE REDEMPTION(S): a request was redeemed twice !!!\n".utf8))
            throw ExitCode(2)
        }
    }
}
