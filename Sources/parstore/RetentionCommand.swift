import ArgumentParser
import ParCore
import ParPostgres
import ParServer

/// `parstore retention --keep-days N`: drops the day partitions older than N days.
struct RetentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract: "Drop the day partitions (events and single-use values) older than the kept days.",
        discussion: """
            A day is dropped once every request of it has ended and, while the tamper-evident log is in use, once \
            the log integrated all of its events under a signed checkpoint: its leaf indices are then recorded in a \
            pruning signed with the log's key (--log-key-file), and `audit --verify-log` keeps verifying. --force \
            drops days that fail those checks (the audit then reports their leaves missing). Nodes run it every \
            hour with PARSTORE_RETENTION_DAYS.
            """
    )
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Days kept, today included in none: at least \(Retention.minimumKeepDays).") var keepDays: Int
    @Flag(help: "Drop days that fail a check.") var force = false
    @OptionGroup var key: LogKeyOptions

    func validate() throws {
        guard keepDays >= Retention.minimumKeepDays else {
            throw ValidationError("--keep-days is at least \(Retention.minimumKeepDays): a day's requests may live until then")
        }
    }

    func run() throws {
        let signer = Settings.value(key.keyFile, NodeSettings.logKeyFile.variable) == nil ? nil : try key.signer()
        let retention = Retention(configuration: .init(conninfo: try database.resolved(), keepDays: keepDays, force: force, signer: signer))
        let report = try retention.run()
        if report.busy {
            print("another retention run holds the lock; nothing done")
            return
        }
        print(
            "dropped \(report.dropped.count) day(s)\(report.dropped.isEmpty ? "" : ": " + report.dropped.map(\.description).joined(separator: ", "))"
                + "; \(report.prunedLeaves) leaves recorded as pruned; \(report.singleUseDropped) single-use partition(s) dropped"
        )
        for (day, reason) in report.refused { print("kept \(day): \(reason)") }
        if !report.refused.isEmpty { throw ExitCode(1) }
    }
}
