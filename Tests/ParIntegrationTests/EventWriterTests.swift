import Dispatch
import Foundation
import Hummingbird
import HummingbirdTesting
import ParCore
import ParEmbedded
@testable import ParPostgres
import ParServer
import ParTesting
import ParWorker
import Synchronization
import Testing

/// The group-commit writer and the arbiter, below HTTP.
@Suite struct EventWriterTests {
    private func pushed(_ payload: String = #"{"a":"b"}"#) -> (RequestReference, EventRecord) {
        let reference = RequestReference.mint(secondsSince1970: Date().timeIntervalSince1970)
        let record = EventRecord(
            day: reference.day,
            requestID: reference.requestID,
            kind: .pushed,
            clientID: "writer-test",
            lifetime: .seconds(60),
            payload: payload
        )
        return (reference, record)
    }

    @Test func concurrentAppendsAreGroupCommittedAndABadRowFailsAlone() async throws {
        let servers = try await TestServers.shared.shared()
        let batches = Mutex<[Int]>([])
        let events = TestEventLog(url: servers.databaseURL, nodeID: "writer-test") { size in batches.withLock { $0.append(size) } }
        let store = events.log
        let good = (0..<400).map { _ in pushed() }
        let bad = pushed("{not json")
        let results = await withTaskGroup(of: (Int, Bool).self) { group in
            for (index, item) in (good + [bad]).enumerated() {
                group.addTask { (index, (try? await store.append(item.1))?.inserted == true) }
            }
            return await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        #expect((0..<good.count).allSatisfy { results[$0] == true }, "every good row is committed")
        #expect(results[good.count] == false, "the bad row fails alone")
        let database = TestDatabase(url: servers.databaseURL)
        let ids = good.map { $0.0.requestIDHex }
        let stored = try await database.count(
            "SELECT count(*) FROM par_events WHERE request_id = ANY(SELECT decode(x, 'hex') FROM unnest($1::text[]) x)",
            ["{" + ids.joined(separator: ",") + "}"]
        )
        #expect(stored == good.count)
        #expect(batches.withLock { $0.max() ?? 0 } > 1, "concurrent appends share a statement")
        await events.shutdown()
    }

    @Test func aTakenSlotIsReportedNotOverwritten() async throws {
        let servers = try await TestServers.shared.shared()
        let events = TestEventLog(url: servers.databaseURL, nodeID: "writer-test")
        let store = events.log
        let (_, record) = pushed()
        let first = try await store.append(record)
        var again = record
        again.payload = #"{"other":"x"}"#
        let second = try await store.append(again)
        #expect(first.inserted)
        #expect(first.deadlineMillis - first.atMillis == 60_000)
        #expect(!second.inserted)
        await events.shutdown()
    }

    @Test func theArbiterConsumesOnceForTheOwnerBeforeTheDeadline() async throws {
        let servers = try await TestServers.shared.shared()
        // The arbiter consumes only for registered clients.
        try await TestDatabase(url: servers.databaseURL).query(
            """
            INSERT INTO parstore_clients (client_id, auth_method, redirect_uris) VALUES ('writer-test', 'none', '{https://client.example.org/cb}')
            ON CONFLICT (client_id) DO NOTHING
            """
        )
        let events = TestEventLog(url: servers.databaseURL, nodeID: "writer-test")
        let store = events.log
        let (reference, record) = pushed()
        _ = try await store.append(record)
        let outcomes = try await withThrowingTaskGroup(of: RedemptionResult.self) { group in
            group.addTask { try await store.consume(ConsumeRequest(reference: reference, clientID: "someone-else")) }
            for _ in 0..<10 { group.addTask { try await store.consume(ConsumeRequest(reference: reference, clientID: "writer-test")) } }
            return try await group.reduce(into: [RedemptionResult]()) { $0.append($1) }
        }
        #expect(outcomes.filter { if case .redeemed = $0 { true } else { false } }.count == 1)
        #expect(outcomes.filter { $0 == .refused(.alreadyUsed) }.count == 9)
        #expect(outcomes.filter { $0 == .refused(.wrongClient) }.count == 1)
        let unknown = RequestReference.mint(secondsSince1970: Date().timeIntervalSince1970)
        #expect(try await store.consume(ConsumeRequest(reference: unknown, clientID: "writer-test")) == .refused(.unknown))
        await events.shutdown()
    }
}

/// The plans PostgreSQL keeps for the hot-path statements.
@Suite struct HotPathPlanTests {
    /// A generic plan made under the statistics of a small, freshly analysed day is kept by its connection while
    /// the day fills: it must look requests up by key, never scan the day (a scan there made redemptions on a
    /// database that started empty five times slower).
    @Test func hotPathStatementsLookUpByKeyWhateverTheStatistics() async throws {
        let servers = try await TestServers.shared.shared()
        let url = servers.databaseURL
        let today = PartitionDay(secondsSince1970: Date().timeIntervalSince1970)
        let day = "'\(today)'"
        // Each statement on the whole log and on today's partition, which a hot-path connection prepares as it
        // connects.
        let executions = ["", "_\(today.compact)"].flatMap { suffix in
            [
                "parstore_append\(suffix)(ARRAY[\(day)]::date[], ARRAY['00'], ARRAY[1]::smallint[], ARRAY['loaded'], ARRAY['c'], "
                    + "ARRAY[NULL]::bigint[], 'n', ARRAY['{}']::jsonb[], ARRAY[1]::bigint[], ARRAY[0], ARRAY[\(day)]::date[], ARRAY['00'], NULL)",
                "parstore_consume\(suffix)(ARRAY[\(day)]::date[], ARRAY['00'], ARRAY['c'], 'n', NULL)",
                "parstore_load\(suffix)(ARRAY[\(day)]::date[], ARRAY['00'], ARRAY['c'], ARRAY['00'], ARRAY['00'], ARRAY[60000]::bigint[], 'n', NULL)",
                "parstore_redeem_ticket\(suffix)(ARRAY[\(day)]::date[], ARRAY['\\\\x00']::bytea[], 'n', ARRAY[NULL], NULL)",
            ]
        }
        let plans = try await runOnOwnThread(name: "test-plans") {
            let connection = try HotPathConnection(url, applicationName: "plan-test").connection
            // Today's partition only: small and freshly analysed is the case to cover, and analysing every
            // partition would compete with the tests running beside this one.
            _ = try connection.execute("ANALYZE par_events_\(today.compact)")
            _ = try connection.execute("SET plan_cache_mode = force_generic_plan")
            return try executions.map { execution in
                try connection.execute("EXPLAIN EXECUTE " + execution).rows.compactMap { $0.first ?? nil }.joined(separator: "\n")
            }
        }
        #expect(plans.count == executions.count)
        for (execution, plan) in zip(executions, plans) {
            #expect(plan.contains("Index"), "\(execution) uses an index")
            for scan in ["Seq Scan", "Hash Join", "Hash Right Join", "Hash Left Join", "Merge", "Materialize"] {
                #expect(!plan.contains(scan), "\(execution) plans no \(scan):\n\(plan)")
            }
        }
    }

    /// A new day's statements are planned before its partition has a row or a statistic, and a connection keeps
    /// those plans until the day's first `ANALYZE`: even then every event is found by its key (a request id, a
    /// ticket), never by walking the day's index on the day alone with the key as a filter (the ticket statement
    /// did that: every ticket read every pushed, loaded and terminal event of the day).
    @Test func aNewDaysPlansLookUpByKey() async throws {
        let servers = try await TestServers.shared.shared()
        let url = servers.databaseURL
        // Created ahead (a week), empty, never analysed: as every day's partition is when its first request comes.
        let day = PartitionDay(secondsSince1970: Date().timeIntervalSince1970 + 4 * 86_400)
        let literal = "'\(day)'"
        let executions: [HotPathStatement: String] = [
            .append: "(ARRAY[\(literal)]::date[], ARRAY['00'], ARRAY[1]::smallint[], ARRAY['loaded'], ARRAY['c'], "
                + "ARRAY[NULL]::bigint[], 'n', ARRAY['{}']::jsonb[], ARRAY[1]::bigint[], ARRAY[0], ARRAY[\(literal)]::date[], ARRAY['00'], NULL)",
            .consume: "(ARRAY[\(literal)]::date[], ARRAY['00'], ARRAY['c'], 'n', NULL)",
            .load: "(ARRAY[\(literal)]::date[], ARRAY['00'], ARRAY['c'], ARRAY['00'], ARRAY['00'], ARRAY[60000]::bigint[], 'n', NULL)",
            .redeemTicket: "(ARRAY[\(literal)]::date[], ARRAY['\\\\x00']::bytea[], 'n', ARRAY[NULL], NULL)",
        ]
        let plans = try await runOnOwnThread(name: "test-plans") { () throws -> [(HotPathStatement, [String])] in
            let connection = try PGConnection(url, applicationName: "plan-test")
            _ = try connection.execute(EventStatements.lookupSession)
            return try executions.map { statement, arguments in
                try connection.prepare(statement.name(on: day), statement.sql(on: day))
                return (statement, try connection.execute("EXPLAIN EXECUTE " + statement.name(on: day) + arguments).rows.compactMap { $0.first ?? nil })
            }
        }
        #expect(plans.count == 4)
        for (statement, plan) in plans {
            let text = plan.joined(separator: "\n")
            // Each index scan of the event log has a condition (the line after it) that names a key beyond the day.
            for (index, line) in plan.enumerated() where line.contains("Index Scan using par_events_") {
                let condition = index + 1 < plan.count ? plan[index + 1] : ""
                #expect(condition.contains("Index Cond:") && (condition.contains("request_id") || condition.contains("ticket_hash")), "\(statement) looks events up by key:\n\(text)")
            }
            #expect(!plan.contains { $0.contains("Join Filter:") && $0.contains("request_id") }, "\(statement) joins events by key, not by a filter:\n\(text)")
        }
    }
}

/// Partitions are made without freezing the nodes (issue 13).
@Suite struct PartitionTests {
    /// A reader holds `par_events` open (as `pg_dump` or `parstore audit` do) while a missing partition is created:
    /// the creation neither waits for the reader (it would queue every write behind it) nor times out, and pushes
    /// are served meanwhile.
    @Test func aLongReaderDoesNotStopPartitionsOrPushes() async throws {
        // A PostgreSQL of its own: the set-up drops a partition, which would wait for other tests' readers.
        let postgres = try await TestServers.privatePostgres(named: "partitions")
        let database = TestDatabase(url: postgres.url)
        let clientID = uniqueClientID("reader")
        let secret = try await database.register(clientID)
        let future = "par_events_" + PartitionDay(secondsSince1970: Date().timeIntervalSince1970 + 6 * 86_400).compact
        try await database.query("DROP TABLE \(future)")

        let url = postgres.url
        let reading = AsyncStream<Void>.makeStream()
        let readerDone = ReaderDone()
        let reader = Task {
            try await runOnOwnThread(name: "long-reader") {
                let connection = try PGConnection(url)
                try connection.executeScript("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM par_events")
                reading.continuation.yield()
                // Open until the test has made the partition (a minute at most, if the creation waits for it).
                _ = readerDone.release.wait(timeout: .now() + 60)
                try connection.execute("COMMIT")
                readerDone.flag.store(true, ordering: .sequentiallyConsistent)
            }
        }
        for await _ in reading.stream { break }
        let node = try await TestNodes.make(TestNodes.configuration(databaseURL: postgres.url, redisURL: nil))
        try await node.application().test(.router) { client in
            // Created while the reader is open: the old ACCESS EXCLUSIVE creation waited for the reader to end.
            try await node.eventLog.ensurePartitions()
            let readerFinished = readerDone.flag.load(ordering: .sequentiallyConsistent)
            #expect(!readerFinished, "the partition was made while the reader was still open")
            for _ in 0..<5 { _ = try await client.pushRequest(clientID, secret: secret) }
            readerDone.release.signal()
            #expect(try await database.count("SELECT count(*) FROM pg_class WHERE relname = $1", [future]) == 1)
        }
        try await reader.value
        let attached = try await database.count(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'par_events'::regclass AND inhrelid = $1::regclass",
            [future]
        )
        #expect(attached == 1, "the new table is a partition of the log")
        try await runOnOwnThread { try postgres.stop() }
    }
}

extension PartitionTests {
    /// A day's partition that has never been analysed (a fresh database here; every partition at its midnight) serves
    /// flows at the rate an analysed one does. Autovacuum is off, so only the nodes' own statistics job (migration
    /// 0009) can help: without it, plans made on the unanalysed partition read the whole day for every lookup. Each
    /// day already holds 100,000 requests, so that reading it shows. The analysed twin runs at the same time, on a
    /// database of its own, so that both see the same machine: ten seconds of one after ten of the other compared the
    /// busy start of the parallel test suite with its quieter end. (Without the job: 56 flows against 1,240.)
    @Test func aFreshPartitionServesFlowsAtTheRateOfAnAnalysedOne() async throws {
        let fresh = try await Self.dayOfRequests("fresh", analysed: false)
        let analysed = try await Self.dayOfRequests("analysed", analysed: true)
        let (freshFlows, analysedFlows) = try await fresh.node.application().test(.router) { freshClient in
            try await analysed.node.application().test(.router) { analysedClient in
                async let freshFlows = Self.flows(freshClient, fresh.clientID, fresh.secret)
                async let analysedFlows = Self.flows(analysedClient, analysed.clientID, analysed.secret)
                return try await (freshFlows, analysedFlows)
            }
        }
        #expect(analysedFlows > 0)
        #expect(Double(freshFlows) >= 0.5 * Double(analysedFlows), "fresh: \(freshFlows) flows, analysed: \(analysedFlows)")
        try await runOnOwnThread {
            try fresh.postgres.stop()
            try analysed.postgres.stop()
        }
    }

    /// A private database, autovacuum off, whose day holds 100,000 requests (then analysed, or not), a client and a node.
    private static func dayOfRequests(
        _ name: String,
        analysed: Bool
    ) async throws -> (postgres: EmbeddedPostgres, node: ParStoreNode, clientID: String, secret: String) {
        let postgres = try await TestServers.privatePostgres(named: name, settings: ["autovacuum": "off"])
        let database = TestDatabase(url: postgres.url)
        let clientID = uniqueClientID(name)
        let secret = try await database.register(clientID)
        try await database.query(
            """
            INSERT INTO par_events (day, request_id, slot, kind, client_id, deadline, node_id, payload)
            SELECT current_date, sha256(i::text::bytea), 0, 'pushed', 'filler', now() + interval '1 hour', 'filler', '{}'
            FROM generate_series(1, 100000) AS i
            """
        )
        if analysed { try await database.query("ANALYZE par_events") }
        let node = try await TestNodes.make(TestNodes.configuration(databaseURL: postgres.url, redisURL: nil, name: name))
        return (postgres, node, clientID, secret)
    }

    /// Complete browser flows (push, load, redemption by ticket) served in ten seconds to 8 callers.
    private static func flows(_ client: some TestClientProtocol, _ clientID: String, _ secret: String) async throws -> Int {
        let end = ContinuousClock.now + .seconds(10)
        return try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var done = 0
                    while ContinuousClock.now < end {
                        let requestURI = try await client.pushRequest(clientID, secret: secret)
                        let ticket = try #require(try await client.authorize(clientID, requestURI).ticket)
                        if try await client.redeem(ticket: ticket).status == .ok { done += 1 }
                    }
                    return done
                }
            }
            return try await group.reduce(0, +)
        }
    }
}

/// The sweeper expires a backlog in bounded transactions (issue 13: one transaction for a burst of 250,000 ran past
/// the statement timeout, was cancelled, and started again at every sweep, blocking redemptions meanwhile).
@Suite struct SweeperTests {
    @Test func aBacklogIsExpiredInBoundedCallsEarliestFirst() async throws {
        let postgres = try await TestServers.privatePostgres(named: "sweeper")
        let database = TestDatabase(url: postgres.url)
        try await database.query(
            """
            INSERT INTO par_events (day, request_id, slot, kind, client_id, deadline, node_id, payload)
            SELECT current_date, sha256(i::text::bytea), 0, 'pushed', 'c', now() - interval '1 minute' + i * interval '1 millisecond',
                   'n', '{}'
            FROM generate_series(1, 2500) AS i
            """
        )
        let events = TestEventLog(url: postgres.url, nodeID: "sweeper-test")
        let store = events.log
        #expect(try await store.expireDue(grace: .seconds(1), rowsPerCall: 1000, maxCalls: 1) == 1000)
        let earliest = try await database.count(
            """
            SELECT count(*) FROM par_events t JOIN par_events p ON p.request_id = t.request_id AND p.slot = 0
            WHERE t.slot = 2 AND p.deadline <= (SELECT min(deadline) + interval '999 milliseconds' FROM par_events WHERE slot = 0)
            """
        )
        #expect(earliest == 1000, "the earliest deadlines went first")
        #expect(try await store.expireDue(grace: .seconds(1), rowsPerCall: 1000) == 1500, "the rest, in two more calls")
        #expect(try await database.count("SELECT count(*) FROM par_events WHERE kind = 'expired'") == 2500)
        await events.shutdown()
        try await runOnOwnThread { try postgres.stop() }
    }

    /// A `pushed` row whose transaction stays open past its deadline plus grace while sweeps run: once it commits, a
    /// later sweep expires it (the watermark never passed a deadline an open transaction could still commit).
    @Test func aPushCommittedLateIsExpiredBySweepsAfterIt() async throws {
        let url = try await TestServers.shared.privateDatabase(named: "late-sweep")
        let database = TestDatabase(url: url)
        let events = TestEventLog(url: url, nodeID: "sweeper-test", timeout: .seconds(1))
        let insert = """
            INSERT INTO par_events (day, request_id, slot, kind, client_id, deadline, node_id, payload)
            VALUES (current_date, sha256($1::bytea), 0, 'pushed', 'c', now() + interval '200 milliseconds', 'n', '{}')
            """
        let held = try await HeldTransaction.begin(url)
        try await held.execute(insert, ["late"])
        try await database.query(insert, ["on-time"])
        // Sweeps run for well past both deadlines plus the grace while the late one is uncommitted.
        let sweepingUntil = ContinuousClock.now + .seconds(3)
        while ContinuousClock.now < sweepingUntil {
            _ = try await events.log.expireDue(grace: .seconds(1))
            try await Task.sleep(for: .milliseconds(100))
        }
        try await held.execute("COMMIT")
        let expired = "SELECT count(*) FROM par_events t WHERE t.slot = 2 AND t.kind = 'expired'"
        #expect(
            try await eventually(timeout: .seconds(20)) {
                _ = try await events.log.expireDue(grace: .seconds(1))
                return try await database.count(expired) == 2
            },
            "both expired, the late one too"
        )
        await events.shutdown()
    }
}

/// Set once the long reader has committed.
final class ReaderDone: Sendable {
    let flag = Atomic<Bool>(false)
    /// Signalled by the test when the reader may end.
    let release = DispatchSemaphore(value: 0)
}
