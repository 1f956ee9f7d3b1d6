import ArgumentParser
import Dispatch
import Foundation
import ParEmbedded
import ParWorker

/// `parstore dev-servers`: private PostgreSQL and Redis servers on 127.0.0.1, started and stopped by the same code
/// as the embedded mode of `serve` and the test fixtures (ParEmbedded); the benchmark and the test command's clean-up
/// use it instead of scripts of their own.
struct DevServers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev-servers",
        abstract: "Run private PostgreSQL and Redis servers on 127.0.0.1 until SIGTERM or Ctrl-C (development, tests, benchmark).",
        discussion: """
            Starts what is asked under --dir, writes where each server is (and its processes) as KEY=value lines to \
            --env-file (or standard output) once all are up, and stops them all on SIGTERM or SIGINT. \
            With --stop-leftovers it starts nothing: it stops the servers a process that died left under --dir.
            """
    )

    @Option(help: "Folder of the servers' data and logs.") var dir: String
    @Flag(inversion: .prefixedNo, help: "Start PostgreSQL.") var postgres = true
    @Option(name: .customLong("postgres-setting"), help: "A PostgreSQL server setting, name=value (repeatable).")
    var postgresSettings: [String] = []
    @Option(name: .customLong("standby-of"), help: "Start PostgreSQL as a streaming standby (application_name standby) of the server on this 127.0.0.1 port.")
    var standbyOf: Int?
    @Flag(help: "Start one Redis server.") var redis = false
    @Option(name: .customLong("redis-cluster"), help: "Start a Redis Cluster of this many primaries.") var clusterPrimaries: Int?
    @Option(name: .customLong("cluster-replicas"), help: "Replicas per primary of that cluster.") var clusterReplicas = 0
    @Option(name: .customLong("env-file"), help: "Where to write the KEY=value lines (written whole, once every server is up).")
    var envFile: String?
    @Flag(name: .customLong("stop-leftovers"), help: "Stop the servers left under --dir by a process that died, and exit.")
    var stopLeftovers = false

    func validate() throws {
        for setting in postgresSettings where !setting.contains("=") { throw ValidationError("--postgres-setting takes name=value") }
        if let clusterPrimaries, !(3...16).contains(clusterPrimaries) { throw ValidationError("--redis-cluster takes 3 to 16 primaries") }
        guard (0...2).contains(clusterReplicas) else { throw ValidationError("--cluster-replicas takes 0 to 2") }
    }

    func run() async throws {
        let directory = URL(fileURLWithPath: dir).standardizedFileURL.path
        if stopLeftovers {
            let count = try await runOnOwnThread(name: "leftovers") { LeftoverServers.stop(under: directory) }
            print("stopped \(count) server(s) left under \(directory)")
            return
        }
        // Signals are taken before anything starts, so that a stop asked for during the start is not lost.
        let stopRequested = StopSignal()
        let plan = Plan(
            postgres: postgres,
            postgresSettings: Dictionary(
                postgresSettings.map { setting in
                    let parts = setting.split(separator: "=", maxSplits: 1)
                    return (String(parts[0]), String(parts.count > 1 ? parts[1] : ""))
                },
                uniquingKeysWith: { _, last in last }
            ),
            standbyOf: standbyOf,
            redis: redis,
            clusterPrimaries: clusterPrimaries,
            clusterReplicas: clusterReplicas
        )
        let servers = try await runOnOwnThread(name: "dev-servers") { try Servers(plan, directory: directory) }
        let text = servers.environment.map { "\($0.key)='\($0.value)'\n" }.joined()
        if let envFile {
            // Written aside, then renamed: a reader never sees half of it.
            let partial = envFile + ".partial"
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: partial))
                guard rename(partial, envFile) == 0 else { throw ValidationError("cannot write \(envFile)") }
            } catch {
                try await runOnOwnThread(name: "dev-servers-stop") { servers.stop() }
                throw error
            }
        } else {
            print(text, terminator: "")
        }
        await stopRequested.wait()
        try await runOnOwnThread(name: "dev-servers-stop") { servers.stop() }
        if let envFile { try? FileManager.default.removeItem(atPath: envFile) }
    }

    /// What to start.
    private struct Plan: Sendable {
        var postgres: Bool
        var postgresSettings: [String: String]
        var standbyOf: Int?
        var redis: Bool
        var clusterPrimaries: Int?
        var clusterReplicas: Int
    }

    /// What was started, stopped in reverse.
    private final class Servers: Sendable {
        let postgres: EmbeddedPostgres?
        let redis: EmbeddedRedis?
        let cluster: EmbeddedRedisCluster?

        @available(*, noasync)
        init(_ options: Plan, directory: String) throws {
            var started: (EmbeddedPostgres?, EmbeddedRedis?) = (nil, nil)
            do {
                if options.postgres {
                    started.0 = try EmbeddedPostgres(directory: directory, settings: options.postgresSettings, standbyOfPort: options.standbyOf)
                }
                if options.redis { started.1 = try EmbeddedRedis(directory: directory) }
                cluster = try options.clusterPrimaries.map {
                    try EmbeddedRedisCluster(directory: directory, primaries: $0, replicasPerPrimary: options.clusterReplicas)
                }
            } catch {
                started.1?.stop()
                try? started.0?.stop()
                throw error
            }
            (postgres, redis) = started
        }

        /// KEY=value lines for scripts: URLs, ports, data folders and processes.
        var environment: [(key: String, value: String)] {
            var lines: [(String, String)] = []
            if let postgres {
                lines += [("DEV_POSTGRES_URL", postgres.url), ("DEV_POSTGRES_PORT", String(postgres.port)), ("DEV_POSTGRES_DATA", postgres.dataDirectory)]
            }
            if let redis {
                lines += [("DEV_REDIS_URL", redis.url), ("DEV_REDIS_PORT", String(redis.port)), ("DEV_REDIS_PID", String(redis.processID))]
            }
            if let cluster {
                lines += [
                    ("DEV_CLUSTER_URL", cluster.url), ("DEV_CLUSTER_PORTS", cluster.ports.map(String.init).joined(separator: " ")),
                    ("DEV_CLUSTER_PIDS", cluster.processIDs.map(String.init).joined(separator: " ")),
                ]
            }
            return lines.map { (key: $0.0, value: $0.1) }
        }

        @available(*, noasync)
        func stop() {
            cluster?.stop()
            redis?.stop()
            try? postgres?.stop()
        }
    }
}

/// SIGTERM or SIGINT, awaited once.
private final class StopSignal {
    private let sources: [any DispatchSourceSignal]
    private let stream: AsyncStream<Void>

    init() {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self)
        self.stream = stream
        sources = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield() }
            source.resume()
            return source
        }
    }

    func wait() async {
        for await _ in stream { return }
    }
}
