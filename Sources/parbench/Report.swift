import Foundation
import Histogram
import Synchronization

/// The results of one run: written as JSON, as a Markdown summary and as an SVG chart over time.
struct Report: Codable, Sendable {
    struct Latency: Codable, Sendable {
        var count: UInt64
        var p50: Double
        var p90: Double
        var p99: Double
        var p999: Double
        var max: Double

        /// Milliseconds, from a histogram of microseconds.
        init(_ histogram: Histogram<UInt64>) {
            func ms(_ value: UInt64) -> Double { (Double(value) / 1000 * 1000).rounded() / 1000 }
            count = histogram.totalCount
            p50 = ms(histogram.valueAtPercentile(50))
            p90 = ms(histogram.valueAtPercentile(90))
            p99 = ms(histogram.valueAtPercentile(99))
            p999 = ms(histogram.valueAtPercentile(99.9))
            max = ms(histogram.max)
        }
    }

    struct Second: Codable, Sendable {
        var second: Int
        var iterations: Int
        var unexpected: Int
        var p50: Double
        var p90: Double
        var p99: Double
    }

    var label = ""
    var scenario: String
    var targets: [String]
    var connections: Int
    var mode: String
    /// Open loop: the arrival rate asked for.
    var offeredRate: Double?
    /// When the measured window began, in seconds since 1970 (to line other samples up with it).
    var measuredFrom: Double
    var seconds: Double
    var iterations: Int
    /// Completed iterations per second (a `flow` iteration is one complete pair).
    var throughput: Double
    /// Latency of a whole iteration, from its intended start in open loop.
    var latency: Latency
    var operations: [String: Latency]
    var classes: [String: Int]
    var unexpected: Int
    var perSecond: [Second]
    var doubleRedemptions: Int
    var redemptionsChecked: Int

    init(runner: Runner, collector: Collector, measuredFrom: Double, measured: Duration, checked: Int) {
        let state = collector.state.withLock { $0 }
        let seconds = Double(measured.components.seconds) + Double(measured.components.attoseconds) / 1e18
        scenario = runner.scenario.rawValue
        targets = runner.targets.map(\.hostHeader)
        connections = runner.connections
        mode = runner.rate.map { "open loop, \(Int($0))/s" } ?? "closed loop"
        offeredRate = runner.rate
        self.measuredFrom = measuredFrom
        self.seconds = seconds
        iterations = state.iterations
        throughput = seconds > 0 ? (Double(state.iterations) / seconds).rounded() : 0
        latency = Latency(state.latency)
        operations = state.operations.mapValues(Latency.init)
        classes = state.classes
        unexpected = state.unexpected
        perSecond = state.seconds.enumerated().prefix(Int(seconds.rounded(.down))).map { index, second in
            let latency = Latency(second.latency)
            return Second(
                second: index,
                iterations: second.iterations,
                unexpected: second.errors,
                p50: latency.p50,
                p90: latency.p90,
                p99: latency.p99
            )
        }
        doubleRedemptions = state.doubleRedemptions
        redemptionsChecked = checked
    }

    /// Whether an open-loop run was offered more than it was served: the excess queued in parbench, and the latency
    /// counted from each iteration's intended start grows with that backlog, second after second (a 2.7 s "stall"
    /// of an earlier report was this: no request took more than 57 ms).
    var fellBehind: Bool {
        guard let offeredRate, !perSecond.isEmpty else { return false }
        return servedRate < 0.95 * offeredRate
    }

    /// Iterations completed per second, on average over the whole seconds of the measured window.
    var servedRate: Double { perSecond.isEmpty ? throughput : Double(perSecond.map(\.iterations).reduce(0, +)) / Double(perSecond.count) }

    var markdown: String {
        var lines = [
            "### \(label.isEmpty ? scenario : label)", "",
            "`\(scenario)`, \(mode), \(connections) connections, \(String(format: "%.1f", seconds)) s, targets \(targets.joined(separator: ", "))",
            "",
            "| throughput | p50 | p90 | p99 | p99.9 | max | unexpected | double redemptions |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
            "| \(Int(throughput))/s | \(latency.p50) ms | \(latency.p90) ms | \(latency.p99) ms | \(latency.p999) ms | \(latency.max) ms | \(unexpected) | \(doubleRedemptions) (of \(redemptionsChecked) re-checked) |",
            "",
        ]
        if fellBehind {
            lines += [
                "Offered \(Int(offeredRate ?? 0))/s, served \(Int(servedRate))/s: the rest queued in parbench, and the latency from "
                    + "each iteration's intended start includes that backlog (the operations' own latencies below do not).",
                "",
            ]
        }
        lines += [
            "| operation | count | p50 | p99 | max |", "|---|---:|---:|---:|---:|",
        ]
        for (name, value) in operations.sorted(by: { $0.key < $1.key }) {
            lines.append("| \(name) | \(value.count) | \(value.p50) ms | \(value.p99) ms | \(value.max) ms |")
        }
        lines += ["", "| response class | count |", "|---|---:|"]
        for (name, count) in classes.sorted(by: { $0.key < $1.key }) { lines.append("| \(name) | \(count) |") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Throughput (top) and latency percentiles (bottom) per second.
    var svg: String {
        let width = 900.0
        let plot = (left: 70.0, right: 880.0)
        let count = max(1, perSecond.count - 1)
        func x(_ index: Int) -> Double { plot.left + (plot.right - plot.left) * Double(index) / Double(count) }
        func polyline(_ values: [Double], top: Double, height: Double, ceiling: Double, color: String) -> String {
            let points = values.enumerated().map { index, value in
                String(format: "%.1f,%.1f", x(index), top + height - height * value / max(ceiling, 1e-9))
            }.joined(separator: " ")
            return #"<polyline fill="none" stroke="\#(color)" stroke-width="2" points="\#(points)"/>"#
        }
        let throughputs = perSecond.map { Double($0.iterations) }
        let throughputCeiling = (throughputs.max() ?? 1) * 1.1
        let latencyCeiling = (perSecond.map(\.p99).max() ?? 1) * 1.1
        var svg = [
            #"<svg xmlns="http://www.w3.org/2000/svg" width="\#(Int(width))" height="520" font-family="sans-serif" font-size="12">"#,
            #"<rect width="100%" height="100%" fill="white"/>"#,
            #"<text x="\#(plot.left)" y="20" font-size="14">\#(label.isEmpty ? scenario : label): \#(Int(throughput))/s, p99 \#(latency.p99) ms (\#(mode), \#(connections) connections)</text>"#,
            #"<text x="10" y="45">it/s</text><text x="10" y="60">\#(Int(throughputCeiling))</text><text x="10" y="240">0</text>"#,
            #"<line x1="\#(plot.left)" y1="240" x2="\#(plot.right)" y2="240" stroke="gray"/>"#,
            polyline(throughputs, top: 50, height: 190, ceiling: throughputCeiling, color: "steelblue"),
            #"<text x="10" y="285">ms</text><text x="10" y="300">\#(String(format: "%.1f", latencyCeiling))</text><text x="10" y="480">0</text>"#,
            #"<line x1="\#(plot.left)" y1="480" x2="\#(plot.right)" y2="480" stroke="gray"/>"#,
            polyline(perSecond.map(\.p50), top: 290, height: 190, ceiling: latencyCeiling, color: "green"),
            polyline(perSecond.map(\.p90), top: 290, height: 190, ceiling: latencyCeiling, color: "darkorange"),
            polyline(perSecond.map(\.p99), top: 290, height: 190, ceiling: latencyCeiling, color: "crimson"),
            #"<text x="\#(plot.left)" y="505" fill="green">p50</text><text x="\#(plot.left + 40)" y="505" fill="darkorange">p90</text><text x="\#(plot.left + 80)" y="505" fill="crimson">p99</text><text x="\#(plot.right - 120)" y="505">seconds →</text>"#,
            "</svg>",
        ]
        svg.append("")
        return svg.joined(separator: "\n")
    }
}
