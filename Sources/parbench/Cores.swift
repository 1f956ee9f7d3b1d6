import ArgumentParser
import Foundation

/// Where the cores went during one scenario's measured window: CPU time of each part, in cores (1.00 is one core
/// busy all the time), and per iteration for the node(s), PostgreSQL and Redis, with PostgreSQL's share split by
/// the nodes' hot-path backends (the rest is its upkeep: sweeping, autovacuum, WAL, checkpoints).
struct CoreSplit: Codable, Sendable {
    /// The hot-path backends, in the order of their columns in the samples.
    static let hotPathRoles = ["append", "arbiter", "load", "ticket"]

    var nodes: Double
    var postgres: Double
    var redis: Double
    var haproxy: Double
    var parbench: Double
    var nodeMicrosPerIteration: Int?
    var postgresMicrosPerIteration: Int?
    var redisMicrosPerIteration: Int?
    /// PostgreSQL CPU per iteration of each hot-path backend (``hotPathRoles``), when the samples have them.
    var postgresHotPathMicrosPerIteration: [String: Int]?
    /// How far the tamper-evident log trailed during the window, when the samples have it.
    var logLag: LogLag?

    /// Events committed but not yet in a signed checkpoint, and the age of the newest event the latest checkpoint
    /// covers, over the window's samples.
    struct LogLag: Codable, Sendable {
        var medianEvents: Int
        var maxEvents: Int
        var medianSeconds: Double
        var maxSeconds: Double
    }

    /// PostgreSQL CPU per iteration of every hot-path backend together.
    var postgresHotPathMicros: Int? { postgresHotPathMicrosPerIteration.map { $0.values.reduce(0, +) } }

    /// From one line a second of `time ticks…` (nodes, PostgreSQL, Redis, HAProxy, parbench, then optionally the
    /// hot-path backends), the samples inside the report's measured window (a pool pushed before it and the
    /// re-check of redemptions after it are left out).
    init?(samples: String, report: Report, clockTicks: Double) {
        let rows = samples.split(separator: "\n").map { $0.split(separator: " ").compactMap { Double($0) } }.filter { $0.count >= 6 }
        let window = rows.filter { report.measuredFrom <= $0[0] && $0[0] <= report.measuredFrom + report.seconds }
        guard let first = window.first, let last = window.last, last[0] > first[0] else { return nil }
        // A process that ended within the window (parbench at its very end) reads as 0 from then on: its last
        // reading is the last one that did not go back.
        func cores(_ column: Int) -> Double {
            guard let end = window.last(where: { $0[column] >= first[column] }), end[0] > first[0] else { return 0 }
            return (end[column] - first[column]) / clockTicks / (end[0] - first[0])
        }
        func perIteration(_ cores: Double) -> Int? { report.throughput > 0 ? Int((cores * 1e6 / report.throughput).rounded()) : nil }
        let shown = (1...5).map { (cores($0) * 100).rounded() / 100 }
        (nodes, postgres, redis, haproxy, parbench) = (shown[0], shown[1], shown[2], shown[3], shown[4])
        (nodeMicrosPerIteration, postgresMicrosPerIteration, redisMicrosPerIteration) = (
            perIteration(cores(1)), perIteration(cores(2)), perIteration(cores(3))
        )
        let roles = Self.hotPathRoles.indices
        if window.allSatisfy({ $0.count >= 6 + roles.count }) {
            postgresHotPathMicrosPerIteration = Dictionary(
                uniqueKeysWithValues: roles.compactMap { index in
                    perIteration(cores(6 + index)).map { (Self.hotPathRoles[index], $0) }
                }
            )
        }
        let lagged = window.filter { $0.count >= 12 }
        if !lagged.isEmpty {
            let events = lagged.map { $0[10] }.sorted()
            let seconds = lagged.map { $0[11] }.sorted()
            logLag = LogLag(
                medianEvents: Int(events[events.count / 2]),
                maxEvents: Int(events.last!),
                medianSeconds: (seconds[seconds.count / 2] * 10).rounded() / 10,
                maxSeconds: (seconds.last! * 10).rounded() / 10
            )
        }
    }

    var summary: String {
        "   cores: nodes \(nodes), postgres \(postgres), redis \(redis), haproxy \(haproxy), parbench \(parbench), "
            + "node µs/iteration \(nodeMicrosPerIteration.map(String.init) ?? "-"), postgres \(postgresMicrosPerIteration.map(String.init) ?? "-"), "
            + "redis \(redisMicrosPerIteration.map(String.init) ?? "-")"
            + (postgresHotPathMicrosPerIteration.map { split in
                ", postgres hot path " + Self.hotPathRoles.map { "\($0) \(split[$0] ?? 0)" }.joined(separator: " ")
            } ?? "")
            + (logLag.map { ", log behind: median \($0.medianEvents) events / \($0.medianSeconds) s, max \($0.maxEvents) / \($0.maxSeconds) s" } ?? "")
    }
}

/// `parbench cores`: one scenario's line and CPU split, from its report and the samples `bench/run` took.
struct Cores: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a scenario's result line and where the cores went; write the split beside the samples (<samples>.json)."
    )

    @Option(help: "The scenario's <label>.json.") var report: String
    @Option(help: "The samples: one line a second of time and CPU ticks of nodes, PostgreSQL, Redis, HAProxy, parbench.")
    var samples: String
    @Option(name: .customLong("clock-ticks"), help: "Ticks per second (getconf CLK_TCK).") var clockTicks: Double = 100

    func run() throws {
        let result = try JSONDecoder().decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: report)))
        let latency = result.latency
        print(
            "   \(Int(result.throughput))/s  p50 \(latency.p50) ms  p99 \(latency.p99) ms  p99.9 \(latency.p999) ms  "
                + "unexpected \(result.unexpected)  double \(result.doubleRedemptions)"
        )
        let text = (try? String(contentsOfFile: samples, encoding: .utf8)) ?? ""
        guard let split = CoreSplit(samples: text, report: result, clockTicks: clockTicks) else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(split).write(to: URL(fileURLWithPath: samples + ".json"))
        print(split.summary)
    }
}
