import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ParCore
import ParPostgres
import ParServer
import ParTesting
import Synchronization
import Testing

/// Retention (issue 16): whole day partitions dropped past the kept days, while the log keeps verifying.
@Suite struct RetentionTests {
    /// A node of the fixture's database whose clock is `days` days off (its request_uris name that day), with short
    /// lifetimes so that its requests end soon.
    static func node(_ log: LogFixture, daysOff days: Int) async throws -> ParStoreNode {
        var configuration = log.configuration
        configuration.log.keyFile = nil
        // Short enough to end within the test, long enough for a loaded machine to redeem within it.
        configuration.lifetimes.request = .seconds(5)
        configuration.lifetimes.interaction = .seconds(5)
        return try await TestNodes.make(configuration, clock: OffsetWallClock(offset: Double(days) * 86_400))
    }

    static func partitions(_ log: LogFixture, of parent: String) async throws -> [String] {
        try await log.database.query(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1",
            [parent]
        ).compactMap { $0.first ?? nil }
    }

    @Test("retention drops exactly the days outside the window while pushes and redemptions run; audits pass after")
    func retentionDropsTheOldDaysOnly() async throws {
        let log = try await LogFixture.make("retention", nodeIntegrates: false)
        let today = PartitionDay(secondsSince1970: Date().timeIntervalSince1970)
        // Days a week back, as a database that has run that long has them.
        for offset in 2...6 {
            let day = today.adding(days: -offset)
            for parent in ["par_events", "parstore_single_use"] {
                try await log.database.query(
                    "CREATE TABLE IF NOT EXISTS \(parent)_\(day.compact) PARTITION OF \(parent) FOR VALUES FROM ('\(day)') TO ('\(day.adding(days: 1))')"
                )
            }
        }
        // Requests of five and three days ago (nodes whose clocks say so), in every state, and of today.
        for offset in [5, 3] {
            let node = try await Self.node(log, daysOff: -offset)
            try await node.application().test(.router) { client in
                let (clientID, secret) = (log.clientID, log.secret)
                #expect(try await client.redeem(clientID, try await client.pushRequest(clientID, secret: secret)).status == .ok)
                #expect(try await client.authorize(clientID, try await client.pushRequest(clientID, secret: secret)).ticket != nil)
                _ = try await client.pushRequest(clientID, secret: secret)
            }
        }
        try await log.pushRequests(3)
        #expect(try await log.database.count("SELECT count(*) FROM par_events_\(today.adding(days: -5).compact)") == 5)

        let retention = ["retention", "--database-url", log.url, "--keep-days", "2", "--log-key-file", log.keyFile]
        // Not yet: their requests have not all ended, and the log has not integrated them.
        let early = try await Command.parstore(retention)
        #expect(early.status == 1 && early.output.contains("dropped 2 day(s)"), "only the empty days: \(early.output)")
        #expect(early.output.contains("kept \(today.adding(days: -5)): some of its requests have not ended"), "\(early.output)")

        // The sweeper ends them (1 s past their deadlines); then the log integrates everything.
        let sweeper = TestEventLog(url: log.url, nodeID: "retention-sweeper", timeout: .seconds(1))
        #expect(
            try await eventually(timeout: .seconds(60)) {
                _ = try await sweeper.log.expireDue(grace: .seconds(1))
                return try await log.database.count(
                    "SELECT count(*) FROM par_events WHERE slot IN (0, 1) AND deadline > (SELECT swept_until FROM parstore_sweeper) AND day < current_date"
                ) == 0
            }
        )
        await sweeper.shutdown()
        try await log.integrateAll()
        // The log is in use: what is pruned must be signed with its key.
        let unsigned = try await Command.parstore(["retention", "--database-url", log.url, "--keep-days", "2"])
        #expect(unsigned.status == 1 && unsigned.output.contains("dropped 0 day(s)") && unsigned.output.contains("signing key"), "\(unsigned.output)")
        let eventsBefore = try await log.database.count("SELECT count(*) FROM par_events")
        let oldEvents = try await log.database.count("SELECT count(*) FROM par_events WHERE day < current_date - 2")
        // Per day: pushed and consumed; pushed and loaded; pushed. (The sweeper looks at the days around its
        // watermark: a request that names a day long past, as only a node whose clock is days off makes, ends by
        // its deadline without an `expired` event.)
        #expect(oldEvents == 10)

        // Pushes and redemptions of today go on while retention runs.
        let failures = Atomic<Int>(0)
        let served = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        let node = try await TestNodes.make(log.configuration)
        let load = Task {
            try await node.application().test(.router) { client in
                while !stop.load(ordering: .relaxed) {
                    let uri = try await client.pushRequest(log.clientID, secret: log.secret)
                    if try await client.redeem(log.clientID, uri).status == .ok {
                        served.add(1, ordering: .relaxed)
                    } else {
                        failures.add(1, ordering: .relaxed)
                    }
                }
            }
        }
        let run = try await Command.parstore(retention)
        stop.store(true, ordering: .relaxed)
        try await load.value
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("dropped 2 day(s): \(today.adding(days: -5)), \(today.adding(days: -3))"), "\(run.output)")
        #expect(run.output.contains("\(oldEvents) leaves recorded as pruned"), "\(run.output)")
        #expect(failures.load(ordering: .relaxed) == 0 && served.load(ordering: .relaxed) > 0)

        // Exactly the days before the window are gone, in both logs.
        let kept = (-2...Int(PostgresEventLog.partitionDaysAhead)).map { today.adding(days: $0).compact }
        #expect(try await Self.partitions(log, of: "par_events").map { String($0.suffix(8)) }.allSatisfy(kept.contains))
        #expect(try await Self.partitions(log, of: "par_events").contains("par_events_\(today.adding(days: -2).compact)"))
        #expect(try await Self.partitions(log, of: "parstore_single_use").map { String($0.suffix(8)) }.allSatisfy(kept.contains))
        #expect(try await log.database.count("SELECT count(*) FROM par_events") >= eventsBefore - oldEvents)

        // The kept range's audit passes, and so does the log's: the pruned leaves are taken from the tree.
        try await log.integrateAll()
        let audit = try await log.audit()
        #expect(audit.status == 0, "\(audit.output)")
        // An independent verifier recomputes the root from the export, where a pruned leaf is its hash alone.
        let checkpoint = try await log.keepCheckpoint("after-retention")
        let key = try await Command.parstore(["log", "public-key", "--log-key-file", log.keyFile])
        let export = try await Command.parstore(["export", "--database-url", log.url])
        #expect(export.status == 0 && export.output.components(separatedBy: #""pruned":true"#).count - 1 == oldEvents)
        try export.output.write(toFile: log.folder + "/export.jsonl", atomically: true, encoding: .utf8)
        let python = try await Command.run(
            "/usr/bin/env",
            [
                "python3", LogFixture.verifier, "--key", key.output.trimmingCharacters(in: .whitespacesAndNewlines), "--checkpoint",
                checkpoint, "--export", log.folder + "/export.jsonl",
            ]
        )
        #expect(python.status == 0 && python.output.contains("OK"), "\(python.output)")

        // An event deleted from a kept day is still named.
        try await log.database.query("DELETE FROM par_events WHERE seq = (SELECT max(seq) FROM par_events WHERE kind = 'consumed')")
        let tampered = try await log.audit()
        #expect(tampered.status == 1 && tampered.output.contains("differs"), "\(tampered.output)")
    }

    @Test("a pruning not signed by the log's key is not believed: the dropped leaves are reported")
    func aForgedPruningIsNotBelieved() async throws {
        let log = try await LogFixture.make("pruning-forged", nodeIntegrates: false)
        try await log.pushRequests(4)
        try await log.integrateAll()
        // Someone with the database but not the key deletes an event and declares its leaf pruned.
        let stranger = try #require(NoteSigner(generatingFor: "parstore.test/pruning-forged"))
        let day = PartitionDay(secondsSince1970: Date().timeIntervalSince1970)
        let note = try stranger.sign(LogPruning(origin: stranger.name, day: day, indices: [2]).body).encoded
        try await log.database.query("INSERT INTO parstore_log_prunings (day, leaves, note) VALUES (current_date, 1, $1)", [note])
        try await log.database.query("DELETE FROM par_events WHERE seq = (SELECT seq FROM par_events ORDER BY xid, seq OFFSET 2 LIMIT 1)")
        let audit = try await log.audit()
        #expect(audit.status == 1, "\(audit.output)")
        #expect(audit.output.contains("its signature does not verify"), "\(audit.output)")
        #expect(audit.output.contains("leaf 2 differs"), "\(audit.output)")
    }

    @Test("retention refuses fewer than two kept days")
    func tooFewDaysAreRefused() async throws {
        let result = try await Command.parstore(["retention", "--database-url", "postgresql://127.0.0.1:1/none", "--keep-days", "1"])
        #expect(result.status != 0 && result.output.contains("at least 2"), "\(result.output)")
    }
}
