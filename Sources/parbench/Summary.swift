import ArgumentParser
import Foundation

/// `parbench summary`: the report of a whole `bench/run`, from each scenario's ``Report`` and ``CoreSplit`` and the
/// ceilings measured in the same run.
struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write the Markdown report of a bench/run from its scenarios' results.")

    @Option(help: "The folder of the scenarios' <label>.json and <label>.cpu.json.") var results: String
    @Option(help: "The report to write (also printed).") var out: String
    @Option(help: "The report's name.") var stamp: String
    @Option(help: "The command that ran the benchmark, as typed.") var command: String
    @Option(help: "Measured seconds per scenario.") var seconds: Int
    @Option(help: "Warm-up seconds per scenario.") var warmup: Int
    @Option(help: "Connections per scenario.") var connections: Int
    @Option(name: .customLong("soak-seconds")) var soakSeconds: Int
    @Option(name: .customLong("postgres-config"), help: "PostgreSQL's settings, as printed.") var postgresConfig: String
    @Option(name: .customLong("redis-config"), help: "Redis's settings, as printed.") var redisConfig: String
    @Option(name: .customLong("redis-push"), help: "redis-benchmark's figure for FCALL parstore_push.") var redisPush: String
    @Option(name: .customLong("redis-consume"), help: "redis-benchmark's figure for FCALL parstore_consume.") var redisConsume: String
    @Option(name: .customLong("postgres-tps"), help: "pgbench's statements per second of the 32-row insert.") var postgresTPS: Double
    @Option(name: .customLong("rss-kib"), help: "The largest node RSS sampled.") var rssKiB: Int

    /// Every scenario, in the report's order.
    static let labels = [
        "ceiling-http", "push", "push-2", "log-on", "log-off", "log-off-2", "log-on-2", "seal-off", "seal-off-2", "seal-on", "push-open",
        "push-1", "flow-1", "redeem", "flow-backend", "flow", "hostile", "cluster-push", "cluster-push-2", "cluster-redeem", "seal-on-redeem",
        "seal-off-redeem", "seal-off-redeem-2", "seal-on-redeem-2", "cluster-flow-backend",
        "sync-push", "sync-flow-backend", "lb3-push", "lb3-push-open", "lb3-flow-backend",
        "lb3-flow", "lb3-hostile",
    ]

    func run() throws {
        let text = try BenchReport(self).markdown
        try text.write(toFile: out, atomically: true, encoding: .utf8)
        print(text)
    }
}

/// A whole run's figures, and the report they make.
struct BenchReport {
    let options: Summary
    let scenarios: [String: Report]
    let cores: [String: CoreSplit]

    init(_ options: Summary) throws {
        self.options = options
        let decoder = JSONDecoder()
        var scenarios: [String: Report] = [:]
        var cores: [String: CoreSplit] = [:]
        for label in Summary.labels + ["soak"] {
            let base = options.results + "/" + label
            scenarios[label] = try decoder.decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: base + ".json")))
            if let data = FileManager.default.contents(atPath: base + ".cpu.json") { cores[label] = try decoder.decode(CoreSplit.self, from: data) }
        }
        self.scenarios = scenarios
        self.cores = cores
    }

    private func scenario(_ label: String) -> Report { scenarios[label]! }
    private func throughput(_ label: String) -> Double { scenario(label).throughput }
    private func postgresPerIteration(_ label: String) -> Int? { cores[label]?.postgresMicrosPerIteration }
    private func ratio(_ value: Double) -> String { String(format: "%.2f", value) }
    private func whole(_ value: Double) -> String { String(Int(value.rounded())) }
    private func optional(_ value: Int?) -> String { value.map(String.init) ?? "None" }

    var markdown: String {
        let http = throughput("ceiling-http")
        let processors = ProcessInfo.processInfo.activeProcessorCount
        var lines = [
            "# ParStore benchmark \(options.stamp)", "",
            "Command: `\(options.command)` (\(options.connections) connections, \(options.warmup) s warm-up, \(options.seconds) s measured per "
                + "scenario; PostgreSQL, Redis, node(s), HAProxy and parbench all on this one machine, release build) at commit "
                + "\(shell("git rev-parse --short HEAD 2>/dev/null") ?? "unknown")"
                + ((shell("git status --porcelain --untracked-files=no -- Sources Package.swift migrations 2>/dev/null") ?? "").isEmpty
                    ? "" : " with uncommitted changes") + ".",
            "",
            "## Machine",
            "- CPU: \(shell("lscpu | sed -n 's/^Model name: *//p'") ?? "?"); cores: \(processors); memory: "
                + "\(shell("free -g | awk '/Mem:/ {print $2}'") ?? "?") GiB; Linux \(shell("uname -r") ?? "?")",
            "- \(shell("swift --version 2>&1 | head -1") ?? "swift ?")",
            "- PostgreSQL: \(options.postgresConfig)",
            "- Redis: \(options.redisConfig); \(shell("haproxy -v | head -1") ?? "HAProxy ?")", "",
            "## Results",
            "Ratios are to the HTTP ceiling measured in the same run (GET /healthz on the same node, same parbench settings). "
                + "A flow iteration is a complete push + redemption pair; latency is per iteration.",
            "",
            "| run | scenario | mode | throughput | ÷ HTTP ceiling | p50 ms | p99 ms | p99.9 ms | max ms | unexpected | double redemptions (re-checked) |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for label in Summary.labels {
            let result = scenario(label)
            let latency = result.latency
            lines.append(
                "| \(label) | \(result.scenario) | \(result.mode) | \(whole(result.throughput))/s | "
                    + "\(label == "ceiling-http" ? "" : ratio(result.throughput / http)) | \(latency.p50) | \(latency.p99) | \(latency.p999) | "
                    + "\(latency.max) | \(result.unexpected) | \(result.doubleRedemptions) of \(result.redemptionsChecked) |"
            )
        }
        let behind = Summary.labels.filter { scenario($0).fellBehind }
        if !behind.isEmpty {
            lines += [
                "",
                "Open loop offered more than was served in \(behind.joined(separator: ", ")): the excess queued in parbench, so their "
                    + "latencies (from each iteration's intended start) include a backlog that grew second after second; the requests "
                    + "themselves took at most " + behind.map { "\(scenario($0).operations.values.map(\.max).max() ?? 0) ms" }.joined(separator: ", ")
                    + ".",
            ]
        }
        lines += [
            "", "## Where the cores went",
            "CPU time of each part during the measured window (from /proc, in cores: 1.00 is one core busy all the time), and the "
                + "node CPU time per iteration (all nodes together for the lb3 runs).",
            "",
            "| run | node(s) | PostgreSQL | Redis | HAProxy | parbench | left idle | node µs per iteration | PostgreSQL µs | of which hot path | Redis µs |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for label in Summary.labels {
            guard let split = cores[label] else { continue }
            let idle = max(0, Double(processors) - (split.nodes + split.postgres + split.redis + split.haproxy + split.parbench))
            lines.append(
                "| \(label) | \(split.nodes) | \(split.postgres) | \(split.redis) | \(split.haproxy) | \(split.parbench) | \(ratio(idle)) | "
                    + "\(optional(split.nodeMicrosPerIteration)) | \(optional(split.postgresMicrosPerIteration)) | "
                    + "\(optional(split.postgresHotPathMicros)) | \(optional(split.redisMicrosPerIteration)) |"
            )
        }
        lines += lifecycleSection
        lines += logSection
        lines += sealSection
        lines += ["", "## PostgreSQL's work per event, the node count and synchronous replication", ""]
        let comparisons = [
            (
                "PostgreSQL CPU per push, three nodes behind HAProxy ÷ one node, both offered the same rate (open loop; target ≤ 1.5)", "push-open",
                "lb3-push-open"
            ),
            ("PostgreSQL CPU per push, three nodes ÷ one node, each at its own saturation (closed loop)", "push", "lb3-push"),
            ("PostgreSQL CPU per push + redemption pair, three nodes ÷ one", "flow-backend", "lb3-flow-backend"),
            ("PostgreSQL CPU (primary and standby) per push, synchronous standby ÷ single server", "push", "sync-push"),
            ("PostgreSQL CPU per pair, synchronous standby ÷ single server", "flow-backend", "sync-flow-backend"),
        ]
        for (what, single, other) in comparisons {
            lines += quotient(what, ("", postgresPerIteration(other)), ("", postgresPerIteration(single)))
        }
        lines.append(
            "- Push latency with capacity to spare (open loop at \(whole(throughput("push-open")))/s, half the closed-loop rate; "
                + "target p99 ≤ 25 ms): one node p99 \(scenario("push-open").latency.p99) ms, three nodes \(scenario("lb3-push-open").latency.p99) ms"
        )
        for name in ["push", "flow-backend"] {
            lines.append(
                "- Throughput with a synchronous standby ÷ single server, \(name): **\(ratio(throughput("sync-" + name) / throughput(name)))** "
                    + "(p99 \(scenario("sync-" + name).latency.p99) against \(scenario(name).latency.p99) ms)"
            )
        }
        let pushSingle = (throughput("push") + throughput("push-2")) / 2
        let pushCluster = (throughput("cluster-push") + throughput("cluster-push-2")) / 2
        lines += [
            "", "## Redis Cluster against one Redis server",
            "The same node and scenarios with `redis+cluster://` (three primaries on this box, no replicas) beside the single server "
                + "(target: push ≥ 0.85 of the single server's; zero double redemptions). Push ran four times, single, cluster, "
                + "cluster, single, so that whatever drifted meanwhile weighs on both sides.",
            "",
            "- push, mean of the two rounds: \(whole(pushCluster))/s against \(whole(pushSingle))/s = **\(ratio(pushCluster / pushSingle))** "
                + "(first pair \(ratio(throughput("cluster-push") / throughput("push"))), "
                + "second \(ratio(throughput("cluster-push-2") / throughput("push-2"))))",
        ]
        for name in ["push", "push-2", "redeem", "flow-backend"] {
            let cluster = scenario("cluster-" + name)
            lines.append(
                "- \(name): \(whole(cluster.throughput))/s against \(whole(throughput(name)))/s = **\(ratio(cluster.throughput / throughput(name)))**; "
                    + "Redis CPU \(optional(cores["cluster-" + name]?.redisMicrosPerIteration)) against \(optional(cores[name]?.redisMicrosPerIteration)) µs, "
                    + "node CPU \(optional(cores["cluster-" + name]?.nodeMicrosPerIteration)) against \(optional(cores[name]?.nodeMicrosPerIteration)) µs "
                    + "per iteration; double redemptions \(cluster.doubleRedemptions) of \(cluster.redemptionsChecked)"
            )
        }
        let soak = scenario("soak").perSecond.prefix(options.soakSeconds).map { Double($0.iterations) }
        let median = soak.sorted()[soak.count / 2]
        let slowest = soak.min() ?? 0
        let firstTen = soak.prefix(10).reduce(0, +) / Double(min(10, soak.count))
        let rows = options.postgresTPS * 32
        lines += [
            "", "## Soak: browser flows on the fresh database",
            "\(soak.count) s of `flow` (push, /authorize, ticket redemption) started on an empty, never analysed day, one node: "
                + "median \(whole(median)) flows/s, slowest second \(whole(slowest)) (**\(ratio(slowest / median))** of the median; "
                + "target ≥ 0.5), first ten seconds \(whole(firstTen))/s. Per-second series: `\(options.results)/soak.json`.",
            "", "## Ceilings measured in the same run",
            "- HTTP (parbench `get` of /healthz): \(whole(http))/s",
            "- Redis, `redis-benchmark -c 64 -P 16` of `FCALL parstore_push`: \(options.redisPush); of `FCALL parstore_consume`: \(options.redisConsume)",
            "- PostgreSQL, `pgbench -c 4` of the 32-row event insert: \(whole(options.postgresTPS)) statements/s = \(whole(rows)) rows/s "
                + "(push uses \(ratio(throughput("push") / rows)) of it, redeem \(ratio(throughput("redeem") / rows)), "
                + "flow-backend \(ratio(2 * throughput("flow-backend") / rows)) with two writes per pair)",
            "", "## Node memory",
            "- Largest node RSS sampled during the runs: \(whole(Double(options.rssKiB) / 1024)) MiB", "",
            "Each scenario's JSON (per-second series, per-operation latencies, response classes) and SVG chart: `\(options.results)/`.", "",
        ]
        return lines.joined(separator: "\n")
    }

    /// The request lifecycle's own cost: throughput of each transition against push, and PostgreSQL's CPU per
    /// event on its hot-path backends alone (the rest of PostgreSQL's CPU in a window is upkeep that earlier
    /// scenarios caused: the sweeper expiring their leftovers, autovacuum, checkpoints).
    private var lifecycleSection: [String] {
        func hot(_ label: String, _ role: String) -> Int? { cores[label]?.postgresHotPathMicrosPerIteration?[role] }
        var lines = [
            "", "## The lifecycle's cost: each transition against push",
            "PostgreSQL CPU per iteration of the nodes' hot-path backends (each runs one statement: append, arbiter, load, ticket), "
                + "and all of PostgreSQL's for comparison.",
            "",
            "| run | append µs | arbiter µs | load µs | ticket µs | hot path µs | all of PostgreSQL µs |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for label in ["push", "push-2", "redeem", "flow-backend", "flow", "hostile", "lb3-push", "lb3-flow-backend", "lb3-flow"] {
            guard let split = cores[label], let roles = split.postgresHotPathMicrosPerIteration else { continue }
            lines.append(
                "| \(label) | " + CoreSplit.hotPathRoles.map { String(roles[$0] ?? 0) }.joined(separator: " | ")
                    + " | \(optional(split.postgresHotPathMicros)) | \(optional(split.postgresMicrosPerIteration)) |"
            )
        }
        let push = (throughput("push") + throughput("push-2")) / 2
        lines += [
            "",
            "- push ÷ HTTP ceiling (target ≥ 0.45): **\(ratio(throughput("push") / throughput("ceiling-http")))**; node CPU per push "
                + "\(optional(cores["push"]?.nodeMicrosPerIteration)) µs (target ≤ 55), per `get` of the ceiling \(optional(cores["ceiling-http"]?.nodeMicrosPerIteration)) µs",
            "- throughput ÷ push (mean of push and push-2, \(whole(push))/s): redeem **\(ratio(throughput("redeem") / push))** (target ≥ 1), "
                + "flow-backend **\(ratio(throughput("flow-backend") / push))** (target ≥ 0.45), flow **\(ratio(throughput("flow") / push))** (target ≥ 0.30)",
            "- one client at a time (one connection, each request sent once the last is answered): push p50 \(scenario("push-1").latency.p50) ms "
                + "(\(whole(throughput("push-1")))/s), browser flow (push, /authorize, ticket redemption) p50 \(scenario("flow-1").latency.p50) ms "
                + "(\(whole(throughput("flow-1")))/s)",
        ]
        lines += quotient(
            "PostgreSQL CPU per redemption ÷ per push inside flow-backend (target ≤ 1.5)",
            ("arbiter ", hot("flow-backend", "arbiter")),
            ("append ", hot("flow-backend", "append"))
        )
        lines += quotient(
            "the same, scenario against scenario",
            ("redeem's arbiter ", hot("redeem", "arbiter")),
            ("push's append ", hot("push", "append"))
        )
        lines += quotient(
            "PostgreSQL CPU per browser flow ÷ per push inside flow (target ≤ 3)",
            ("append + load + ticket ", cores["flow"]?.postgresHotPathMicros),
            ("append ", hot("flow", "append"))
        )
        return lines
    }

    /// The tamper-evident log's integration: push with it on against off, and how far it trailed.
    private var logSection: [String] {
        let on = throughput("log-on") + throughput("log-on-2")
        let off = throughput("log-off") + throughput("log-off-2")
        func cpu(_ labels: [String], _ figure: (CoreSplit) -> Int?) -> String {
            labels.map { optional(cores[$0].flatMap(figure)) }.joined(separator: ", ")
        }
        var lines = [
            "", "## The tamper-evident log's integration",
            "The nodes integrate the log and sign a checkpoint every second (`PARSTORE_LOG_KEY_FILE`), as in production. Push ran "
                + "on one node with it on, off (the node restarted without the key; nothing integrated), off again, and on again; each "
                + "run after the sweeper had expired what the runs before left (and, for the runs with it on, after the log had caught up), "
                + "so that neither side pays for the other's leftovers.",
            "",
            "- push with integration on ÷ off (target ≥ 0.9): \(whole(on / 2))/s against \(whole(off / 2))/s = **\(ratio(on / off))** "
                + "(pairs \(ratio(throughput("log-on") / throughput("log-off"))) and \(ratio(throughput("log-on-2") / throughput("log-off-2"))))",
            "- node CPU per push, on: \(cpu(["log-on", "log-on-2"], \.nodeMicrosPerIteration)) µs, off: "
                + "\(cpu(["log-off", "log-off-2"], \.nodeMicrosPerIteration)) µs; PostgreSQL on: \(cpu(["log-on", "log-on-2"], \.postgresMicrosPerIteration)) µs, "
                + "off: \(cpu(["log-off", "log-off-2"], \.postgresMicrosPerIteration)) µs",
            "",
            "How far the log trailed, sampled each second: events committed but not in a signed checkpoint (PostgreSQL's insert "
                + "count, itself up to a second late, less the checkpoint's size), and the age of the newest event the latest "
                + "checkpoint covers.",
            "",
            "| run | events behind, median | max | seconds behind, median | max |",
            "|---|---:|---:|---:|---:|",
        ]
        for label in ["push", "push-2", "log-on", "log-on-2", "flow-backend", "flow", "lb3-push", "lb3-flow-backend", "lb3-flow"] {
            guard let lag = cores[label]?.logLag else { continue }
            lines.append("| \(label) | \(lag.medianEvents) | \(lag.maxEvents) | \(lag.medianSeconds) | \(lag.maxSeconds) |")
        }
        return lines
    }

    /// Parameters sealed at rest: push and redeem with sealing on against off, each in runs on, off, off, on.
    private var sealSection: [String] {
        func cpu(_ labels: [String]) -> String { labels.map { optional(cores[$0]?.nodeMicrosPerIteration) }.joined(separator: ", ") }
        func comparison(_ what: String, on: [String], off: [String]) -> [String] {
            let (a, b) = (on.map(throughput).reduce(0, +), off.map(throughput).reduce(0, +))
            return [
                "- \(what) with sealing on ÷ off (target ≥ 0.9): \(whole(a / 2))/s against \(whole(b / 2))/s = **\(ratio(a / b))** "
                    + "(pairs \(ratio(throughput(on[0]) / throughput(off[0]))) and \(ratio(throughput(on[1]) / throughput(off[1]))))",
                "- node CPU per \(what), on: \(cpu(on)) µs, off: \(cpu(off)) µs",
            ]
        }
        return [
            "", "## Parameters sealed at rest",
            "Pushed parameters are sealed (AES-256-GCM under the day's data key) before PostgreSQL stores them, and opened for "
                + "the redemption's answer. Push and redeem each ran on one node with sealing on, off (the node restarted with "
                + "`PARSTORE_DATA_ENCRYPTION=false`: requests pushed and redeemed in clear), off again, and on again, each run "
                + "after the sweeper and the log had caught up with the runs before.",
            "",
        ]
            + comparison("push", on: ["log-on-2", "seal-on"], off: ["seal-off", "seal-off-2"])
            + comparison("redemption", on: ["seal-on-redeem", "seal-on-redeem-2"], off: ["seal-off-redeem", "seal-off-redeem-2"])
    }

    /// A line `- what: top ÷ bottom µs = **ratio**` (each figure after its name, if any), when both were measured.
    private func quotient(_ what: String, _ top: (name: String, micros: Int?), _ bottom: (name: String, micros: Int?)) -> [String] {
        guard let a = top.micros, let b = bottom.micros, b > 0 else { return [] }
        return ["- \(what): \(top.name)\(a) ÷ \(bottom.name)\(b) µs = **\(ratio(Double(a) / Double(b)))**"]
    }

    /// What a shell command prints, trimmed; `nil` when it prints nothing.
    private func shell(_ command: String) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}
