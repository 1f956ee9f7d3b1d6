import ArgumentParser
import Foundation

/// Where the cores went during one scenario's measured window: CPU time of each part, in cores (1.00 is one core
/// busy all the time), and per iteration for the node(s), PostgreSQL and Redis.
struct CoreSplit: Codable, Sendable {
    var nodes: Double
    var postgres: Double
    var redis: Double
    var haproxy: Double
    var parbench: Double
    var nodeMicrosPerIteration: Int?
    var postgresMicrosPerIteration: Int?
    var redisMicrosPerIteration: Int?

    /// From one line a second of `time ticks…` (nodes, PostgreSQL, Redis, HAProxy, parbench), the samples inside the
    /// report's measured window (a pool pushed before it and the re-check of redemptions after it are left out).
    init?(samples: String, report: Report, clockTicks: Double) {
        let rows = samples.split(separator: "\n").map { $0.split(separator: " ").compactMap { Double($0) } }.filter { $0.count == 6 }
        let window = rows.filter { report.measuredFrom <= $0[0] && $0[0] <= report.measuredFrom + report.seconds }
        guard let first = window.first, let last = window.last, last[0] > first[0] else { return nil }
        let cores = (1...5).map { ((last[$0] - first[$0]) / clockTicks / (last[0] - first[0]) * 100).rounded() / 100 }
        (nodes, postgres, redis, haproxy, parbench) = (cores[0], cores[1], cores[2], cores[3], cores[4])
        func perIteration(_ cores: Double) -> Int? { report.throughput > 0 ? Int((cores * 1e6 / report.throughput).rounded()) : nil }
        let exact = (1...3).map { (last[$0] - first[$0]) / clockTicks / (last[0] - first[0]) }
        (nodeMicrosPerIteration, postgresMicrosPerIteration, redisMicrosPerIteration) =
            (perIteration(exact[0]), perIteration(exact[1]), perIteration(exact[2]))
    }

    var summary: String {
        "   cores: nodes \(nodes), postgres \(postgres), redis \(redis), haproxy \(haproxy), parbench \(parbench), "
            + "node µs/iteration \(nodeMicrosPerIteration.map(String.init) ?? "-"), postgres \(postgresMicrosPerIteration.map(String.init) ?? "-"), "
            + "redis \(redisMicrosPerIteration.map(String.init) ?? "-")"
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
