import Foundation

/// A PostgreSQL formation managed by pg_auto_failover (Debian: `pg-auto-failover-cli` and
/// `postgresql-<version>-auto-failover`), all on 127.0.0.1 under a folder: a monitor and two data nodes, a primary
/// and a synchronous secondary (pg_auto_failover's default with two nodes: `synchronous_standby_names =
/// 'ANY 1 (…)'`). When the primary is lost the monitor promotes the secondary.
///
/// Each `pg_autoctl` keeper runs in a session of its own, with its PostgreSQL as a child, so that losing a machine
/// is one signal to the session. The monitor's health checks run every second and call a node unhealthy after 3 s
/// (5 s and 20 s by default), so that a failover takes seconds.
public final class EmbeddedAutoFailover: Sendable {
    /// A libpq multi-host URL over both data nodes that finds the primary: `target_session_attrs=read-write`.
    public let url: String
    /// The data nodes' PostgreSQL ports, in the order they were created (the first starts as primary).
    public let nodePorts: [Int]
    private let monitorURL: String
    private let binDirectory: String
    private let root: String
    /// The keepers' process (and session) ids: the monitor's, then the nodes'.
    private let keepers: [Int32]

    /// Creates and starts the monitor and two nodes, and returns once the second node is a synchronous secondary.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public init(directory: String) throws {
        guard let binDirectory = EmbeddedPostgres.findBinaries() else {
            throw EmbeddedServerError("PostgreSQL server binaries not found (apt-get install postgresql)")
        }
        guard let autoctl = ["/usr/bin/pg_autoctl", binDirectory + "/pg_autoctl"].first(where: FileManager.default.isExecutableFile(atPath:))
        else { throw EmbeddedServerError("pg_autoctl not found (apt-get install pg-auto-failover-cli postgresql-<version>-auto-failover)") }
        self.binDirectory = binDirectory
        let root = URL(fileURLWithPath: directory).standardizedFileURL.path + "/auto-failover"
        self.root = root
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try EmbeddedPostgres.giveToPostgres(root)

        let monitorPort = try freeLoopbackPort()
        let ports = [try freeLoopbackPort(), try freeLoopbackPort()]
        self.nodePorts = ports
        self.monitorURL = "postgresql://postgres@127.0.0.1:\(monitorPort)/pg_auto_failover"
        self.url = "postgresql://postgres@" + ports.map { "127.0.0.1:\($0)" }.joined(separator: ",")
            + "/postgres?target_session_attrs=read-write"
        let common = ["--hostname", "127.0.0.1", "--auth", "trust", "--no-ssl", "--run"]
        let keeperMonitorURL = "postgres://autoctl_node@127.0.0.1:\(monitorPort)/pg_auto_failover?sslmode=disable"

        var keepers: [Int32] = []
        do {
            keepers.append(
                try Self.startKeeper(
                    autoctl, ["create", "monitor", "--pgdata", root + "/monitor", "--pgport", String(monitorPort)] + common,
                    root: root, binDirectory: binDirectory, log: "monitor"
                )
            )
            try Self.waitFor(
                "the monitor", query: "SELECT 1", url: monitorURL, until: { $0 == "1" }, binDirectory: binDirectory, root: root
            )
            for setting in [
                "health_check_period = 1000", "health_check_timeout = 1000", "health_check_max_retries = 1",
                "health_check_retry_delay = 500", "node_considered_unhealthy_timeout = 3000", "primary_demote_timeout = 5000",
                "startup_grace_period = 2000",
            ] {
                _ = try Self.psql(monitorURL, "ALTER SYSTEM SET pgautofailover." + setting, binDirectory: binDirectory, root: root)
            }
            _ = try Self.psql(monitorURL, "SELECT pg_reload_conf()", binDirectory: binDirectory, root: root)
            for (index, port) in ports.enumerated() {
                keepers.append(
                    try Self.startKeeper(
                        autoctl,
                        ["create", "postgres", "--pgdata", root + "/node\(index + 1)", "--pgport", String(port), "--monitor", keeperMonitorURL]
                            + common,
                        root: root, binDirectory: binDirectory, log: "node\(index + 1)"
                    )
                )
                // One node at a time: the first must be primary before the second clones it.
                let expected = index == 0 ? ["single"] : ["primary,secondary"]
                try Self.waitFor(
                    "node \(index + 1)",
                    query: "SELECT string_agg(reportedstate::text, ',' ORDER BY nodeid) FROM pgautofailover.node WHERE reportedstate = goalstate",
                    url: monitorURL,
                    until: { expected.contains($0) },
                    binDirectory: binDirectory,
                    root: root
                )
            }
        } catch {
            for keeper in keepers { Self.end(keeper, SIGKILL) }
            throw error
        }
        self.keepers = keepers
    }

    /// The port of the node the monitor reports as primary (alone or with its secondary), if any.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func primaryPort() throws -> Int? {
        let text = try Self.psql(
            monitorURL,
            "SELECT nodeport FROM pgautofailover.node WHERE reportedstate IN ('primary', 'wait_primary', 'single') AND goalstate = reportedstate",
            binDirectory: binDirectory,
            root: root
        )
        return Int(text)
    }

    /// Kills the node on `port` as the loss of its machine would: `SIGKILL` to its keeper and its PostgreSQL.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func kill(nodeOn port: Int) {
        guard let index = nodePorts.firstIndex(of: port) else { return }
        Self.end(keepers[index + 1], SIGKILL)
    }

    /// Stops every keeper (each stops its PostgreSQL).
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func stop() {
        for keeper in keepers.reversed() { Self.end(keeper, SIGTERM) }
    }

    /// Starts `pg_autoctl` in a session of its own (as `postgres` under root) and returns its id.
    private static func startKeeper(_ autoctl: String, _ arguments: [String], root: String, binDirectory: String, log: String) throws -> Int32 {
        let environment = [
            "PATH=\(binDirectory):/usr/bin:/bin", "XDG_CONFIG_HOME=\(root)/config", "XDG_DATA_HOME=\(root)/share",
            "XDG_RUNTIME_DIR=\(root)/run",
        ]
        let command = ["/usr/bin/env"] + environment + [autoctl] + arguments
        let user = EmbeddedPostgres.isRoot ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []
        return try spawn("/usr/bin/setsid", user + command, log: root + "/\(log).log")
    }

    /// Sends `signal` to a keeper's session and reaps the keeper; after 30 s, `SIGKILL`.
    private static func end(_ keeper: Int32, _ signal: Int32) {
        guard Foundation.kill(-keeper, signal) == 0 else { return }
        let deadline = ContinuousClock.now + .seconds(30)
        var status: Int32 = 0
        while waitpid(keeper, &status, WNOHANG) == 0 {
            if ContinuousClock.now > deadline {
                Foundation.kill(-keeper, SIGKILL)
                _ = waitpid(keeper, &status, 0)
                return
            }
            usleep(50_000)
        }
    }

    /// Runs one statement with `psql` and returns its unaligned output, trimmed.
    private static func psql(_ url: String, _ sql: String, binDirectory: String, root: String) throws -> String {
        let output = root + "/psql-\(UUID().uuidString).out"
        defer { try? FileManager.default.removeItem(atPath: output) }
        try runProcess(binDirectory + "/psql", ["-X", "-Atq", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql], log: output)
        return (try String(contentsOfFile: output, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Polls `query` until its output satisfies `until`, for up to two minutes.
    private static func waitFor(
        _ what: String,
        query: String,
        url: String,
        until: (String) -> Bool,
        binDirectory: String,
        root: String
    ) throws {
        let deadline = ContinuousClock.now + .seconds(120)
        var last = ""
        while ContinuousClock.now < deadline {
            if let output = try? psql(url, query, binDirectory: binDirectory, root: root) {
                if until(output) { return }
                last = output
            }
            usleep(200_000)
        }
        throw EmbeddedServerError("pg_auto_failover: \(what) not ready after 120 s (last: \(last)); logs in \(root)")
    }
}
