import ArgumentParser
import Foundation
import ParCore
import ParPostgres

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay the event log and prove the invariants; exits 1 naming the requests that break one.",
        discussion: """
            Every request with an event in the range is folded through the request lifecycle's state machine, and \
            each event must be the one the machine decides for its input at its time: one pushed event; at most one \
            load, by the pushing client, before the deadline; at most one terminal event; consumption only by the \
            pushing client, before the deadline, and only through the ticket once loaded; expiry only after the \
            deadline; and a terminal event for every request whose deadline passed more than --settle seconds ago.

            With --verify-log it first recomputes the tamper-evident log's Merkle tree from the events and checks \
            it against the stored tree, every stored checkpoint (signature and root) and the checkpoints given \
            with --checkpoint (signed notes an auditor kept, e.g. from GET /log/checkpoint): any event changed, \
            deleted, inserted or reordered since it was integrated is named by its leaf index, and a kept \
            checkpoint the log no longer extends (a truncation, a restore from an older backup) is reported.
            """
    )

    @OptionGroup var database: DatabaseOptions
    @Option(help: "Start of the range (a timestamp PostgreSQL reads, e.g. 2026-11-24T10:00Z).") var since: String?
    @Option(help: "End of the range, exclusive.") var until: String?
    @Option(help: "Seconds past a deadline before a missing terminal event is a violation (expiry grace + sweep interval).")
    var settle: Double = 60
    @Flag(help: "Print the report as JSON.") var json = false
    @Flag(help: "Verify the tamper-evident log before the replay.") var verifyLog = false
    @Option(help: "A checkpoint (signed note file) kept outside the database; repeatable. Implies --verify-log.")
    var checkpoint: [String] = []
    @Option(help: "The log's verifier key (<name>+<key ID>+<base64>, from `parstore log public-key`); else derived from the signing key.")
    var logPublicKey: String?
    @OptionGroup var key: LogKeyOptions

    func run() throws {
        let url = try database.resolved()
        var logVerifies = true
        if verifyLog || !checkpoint.isEmpty {
            let verifier: NoteVerifier
            if let logPublicKey {
                guard let parsed = NoteVerifier(encoded: logPublicKey) else { throw ValidationError("--log-public-key is not a note verifier key") }
                verifier = parsed
            } else {
                verifier = try key.signer().verifier
            }
            let kept = try checkpoint.map { path in
                guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
                return (name: path, note: String(decoding: data, as: UTF8.self))
            }
            let report = try LogReader(connection: try PGConnection(url, applicationName: "parstore-audit")).verify(kept: kept, verifier: verifier)
            print(Audit.text(report))
            logVerifies = report.verifies
        }
        let reader = AuditReader(connection: try PGConnection(url, applicationName: "parstore-audit"))
        var auditor = Auditor(settle: .milliseconds(Int64(settle * 1000)), now: try reader.now())
        try reader.replay(since: since, until: until, into: &auditor)
        let report = auditor.report()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(Audit.text(report))
        }
        if !report.violations.isEmpty || !logVerifies { throw ExitCode(1) }
    }

    static func text(_ report: LogVerification) -> String {
        var lines = [
            "log: \(report.leaves) leaves recomputed from the events (\(report.claimedSize) integrated); \(report.storedCheckpoints) stored and \(report.keptCheckpoints) kept checkpoints checked"
        ]
        if report.verifies {
            lines.append("LOG OK: every integrated event is unchanged and every checkpoint verifies.")
        } else {
            lines.append("LOG TAMPERED: \(report.problems.count) problems")
            lines += report.problems.map { "  " + $0 }
        }
        return lines.joined(separator: "\n")
    }

    static func text(_ report: AuditReport) -> String {
        var lines = ["requests: \(report.requests)"]
        lines.append("events:   " + report.events.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        lines.append(String(format: "push rate: %.1f/s", report.pushRate))
        if let latency = report.pushToRedeem {
            lines.append(
                String(
                    format: "push to redeem (s): n=%d p50=%.3f p90=%.3f p99=%.3f max=%.3f",
                    latency.count,
                    latency.p50,
                    latency.p90,
                    latency.p99,
                    latency.max
                )
            )
        }
        if report.violations.isEmpty {
            lines.append("OK: no invariant is broken.")
        } else {
            lines.append("VIOLATIONS: \(report.violations.count)")
            for violation in report.violations { lines.append("  \(violation.rule.rawValue) \(violation.requestID)") }
        }
        return lines.joined(separator: "\n")
    }
}
