import ParCore
@testable import ParPostgres
import ParWorker
import Synchronization
import Testing

/// The pure parts of the event log's batches: array literals for `unnest`, isolating a bad row, grouping by day,
/// and reading the arbiter's rows.
@Suite struct EventLogBatchTests {
    private final class Healthy: WorkerConnection {
        var isHealthy: Bool { true }
    }

    @Test func arrayLiteralsQuoteEveryElementAndRoundTrip() {
        let values: [String?] = ["plain", "with \"quotes\"", #"back\slash"#, "comma,brace}{", "", nil, "NULL", "ünïcödé ✓"]
        let literal = PostgresArray.literal(values)
        #expect(literal == #"{"plain","with \"quotes\"","back\\slash","comma,brace}{","",NULL,"NULL","ünïcödé ✓"}"#)
        // What PostgreSQL prints back parses to the same values (NULLs dropped, a quoted "NULL" kept).
        #expect(PostgresArray.parse(literal) == values.compactMap { $0 })
        #expect(PostgresArray.literal([]) == "{}")
        #expect(PostgresArray.parse("{a,b,NULL}") == ["a", "b"])
        #expect(PostgresArray.parse("not an array").isEmpty)
    }

    /// A statement that fails on one row is split in halves until that row fails alone: its neighbours are served,
    /// in about 2·log2(n) extra statements rather than n.
    @Test func aBadRowFailsAloneInLogarithmicallyManyStatements() {
        let statements = Mutex(0)
        let rows = Array(0..<64)
        let results = PostgresEventLog.isolating(rows[...], on: Healthy()) { (part) throws(PGError) -> [Int] in
            statements.withLock { $0 += 1 }
            if part.contains(37) { throw PGError(sqlState: "22P05", message: "untranslatable character") }
            return part.map { $0 * 10 }
        }
        for (row, result) in zip(rows, results) {
            switch result {
            case .success(let value): #expect(row != 37 && value == row * 10)
            case .failure(let error): #expect(row == 37 && (error as? PGError)?.sqlState == "22P05")
            }
        }
        #expect(statements.withLock { $0 } <= 1 + 2 * 6, "64 rows: at most 2·log2(64) statements after the first")
    }

    /// A lost server fails the whole batch at once: splitting would only send the same rows to a dead connection.
    @Test func aLostServerIsNotBisected() {
        let statements = Mutex(0)
        let results = PostgresEventLog.isolating(Array(0..<16)[...], on: Healthy()) { (_) throws(PGError) -> [Int] in
            statements.withLock { $0 += 1 }
            throw PGError(sqlState: "08006", message: "connection failure")
        }
        #expect(statements.withLock { $0 } == 1)
        #expect(results.allSatisfy { if case .failure = $0 { true } else { false } })
    }

    /// A statement that answers fewer rows than it was given is an error for every caller, never a misattribution.
    @Test func aShortAnswerIsNeverMatchedToTheWrongCaller() {
        let results = PostgresEventLog.isolating(Array(0..<4)[...], on: Healthy()) { (part) throws(PGError) -> [Int] in
            part.count > 1 ? Array(part.dropLast()) : Array(part)
        }
        #expect(results.map { try? $0.get() } == [0, 1, 2, 3], "split down to single rows, each answered by its own")
    }

    /// Each day's requests run as one statement on their own partition, and answers come back in the caller's order.
    @Test func batchesRunOneDayAtATimeAndAnswerInOrder() throws {
        let monday = try #require(PartitionDay(compact: "20261130"))
        let tuesday = try #require(PartitionDay(compact: "20261201"))
        let batch = [(monday, 1), (tuesday, 2), (monday, 3), (tuesday, 4), (monday, 5)]
        let groups = Mutex<[PartitionDay: [Int]]>([:])
        let results = PostgresEventLog.byDay(batch, on: Healthy(), day: \.0) { (day, part) throws(PGError) -> [Int] in
            groups.withLock { $0[day] = part.map(\.1) }
            return part.map { $0.1 * 100 }
        }
        #expect(results.map { try? $0.get() } == [100, 200, 300, 400, 500])
        #expect(groups.withLock { $0 } == [monday: [1, 3, 5], tuesday: [2, 4]])
    }

    @Test func theArbitersRowsBecomeRedemptionsOrRefusals() throws {
        let (id, day) = (Array(repeating: UInt8(1), count: 32), try #require(PartitionDay(compact: "20261201")))
        func result(_ row: [String?]) -> RedemptionResult { RedemptionResult(arbiterRow: row, clientID: "c", requestID: id, day: day) }
        let won = result(["consumed", #"{"scope":"openid"}"#, "1800000000000", "1800000060000"])
        #expect(won == .redeemed(RedeemedRequest(clientID: "c", parameters: .clear(#"{"scope":"openid"}"#), pushedAtMillis: 1_800_000_000_000, expiresAtMillis: 1_800_000_060_000)))
        // A sealed payload keeps what opens it: its request and day.
        let sealed = result(["consumed", #""pse1.AAAA""#, "1800000000000", "1800000060000"])
        #expect(sealed == .redeemed(RedeemedRequest(clientID: "c", parameters: .sealed(#""pse1.AAAA""#, requestID: id, day: day), pushedAtMillis: 1_800_000_000_000, expiresAtMillis: 1_800_000_060_000)))
        for reason in RefusalReason.allCases {
            #expect(result([reason.rawValue, nil, nil, nil]) == .refused(reason))
        }
        #expect(result(["something new", nil, nil, nil]) == .refused(.unknown), "an unknown word never redeems")
    }
}
