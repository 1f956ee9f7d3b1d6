import Foundation
import ParCore
public import ParWorker

/// A connection of the hot path (appender, arbiters, loader): planner settings for key lookups only, and the
/// ``HotPathStatement``s prepared on the whole event log and, as they are needed, on each day's partition.
///
/// A batch runs on its day's partition while that day is close to today (the days real requests have, whatever
/// their reference claims); any other day, or a partition that is not there, runs on the whole log, which
/// answers for a day without a partition as it always did (nothing found).
public final class HotPathConnection: WorkerConnection {
    public let connection: PGConnection
    /// The days whose partition statements are prepared on this connection, oldest first.
    private var preparedDays: [PartitionDay] = []
    /// Days whose partition was missing, and when to look again.
    private var missingDays: [PartitionDay: ContinuousClock.Instant] = [:]

    /// How many days' statements a connection keeps: yesterday's (requests pushed before midnight), today's and
    /// tomorrow's, and one more while a day turns.
    static let keptDays = 4
    /// How long a missing partition is not asked for again.
    static let missingRetry: Duration = .seconds(10)

    /// Connects, sets up the session and prepares the statements on the whole log and on today's partition.
    @available(*, noasync, message: "blocking: call from a worker thread")
    public init(_ conninfo: String, applicationName: String, timeout: Duration? = nil) throws(PGError) {
        connection = try PGConnection(conninfo, applicationName: applicationName, timeout: timeout)
        let deadline = timeout.map { ContinuousClock.now + $0 }
        try connection.execute(EventStatements.lookupSession, deadline: deadline)
        for statement in HotPathStatement.allCases {
            try connection.prepare(statement.name(on: nil), statement.sql(on: nil), deadline: deadline)
        }
        _ = try partitionIsPrepared(PartitionDay(secondsSince1970: Date().timeIntervalSince1970), before: deadline)
    }

    public var isHealthy: Bool { connection.isHealthy }

    /// Runs `statement` for a batch of requests of `day`, waiting for the server until `deadline`, with that deadline
    /// on the server's clock as its last parameter: the statement refuses to commit past it (`parstore_in_time`,
    /// migration 0008), so nothing its caller was told failed commits afterwards.
    @available(*, noasync)
    func execute(
        _ statement: HotPathStatement,
        day: PartitionDay,
        _ parameters: [String?],
        before deadline: ContinuousClock.Instant
    ) throws(PGError) -> PGRows {
        let parameters = parameters + [String(connection.serverMillis(at: deadline))]
        if try partitionIsPrepared(day, before: deadline) {
            do {
                return try connection.executePrepared(statement.name(on: day), parameters, deadline: deadline)
            } catch where error.sqlState == PGError.undefinedTable {
                // The partition went away since it was prepared (dropped by an operator): the whole log answers.
                forget(day, before: deadline)
            }
        }
        return try connection.executePrepared(statement.name(on: nil), parameters, deadline: deadline)
    }

    /// Whether `day`'s partition statements are ready, preparing them when the day is near today and its partition
    /// exists.
    private func partitionIsPrepared(_ day: PartitionDay, before deadline: ContinuousClock.Instant?) throws(PGError) -> Bool {
        if preparedDays.contains(day) { return true }
        let now = Date().timeIntervalSince1970
        guard [now - 86_400, now, now + 86_400].contains(where: { PartitionDay(secondsSince1970: $0) == day }) else { return false }
        if let retry = missingDays[day], ContinuousClock.now < retry { return false }
        var prepared: [HotPathStatement] = []
        do {
            for statement in HotPathStatement.allCases {
                try connection.prepare(statement.name(on: day), statement.sql(on: day), deadline: deadline)
                prepared.append(statement)
            }
        } catch where error.sqlState == PGError.undefinedTable {
            missingDays = missingDays.filter { ContinuousClock.now < $0.value }
            missingDays[day] = ContinuousClock.now + Self.missingRetry
            deallocate(prepared, on: day, before: deadline)
            return false
        }
        missingDays[day] = nil
        preparedDays.append(day)
        if preparedDays.count > Self.keptDays, let oldest = preparedDays.min() {
            forget(oldest, before: deadline)
        }
        return true
    }

    /// Drops `day`'s partition statements from this connection.
    private func forget(_ day: PartitionDay, before deadline: ContinuousClock.Instant?) {
        preparedDays.removeAll { $0 == day }
        deallocate(HotPathStatement.allCases, on: day, before: deadline)
    }

    private func deallocate(_ statements: [HotPathStatement], on day: PartitionDay, before deadline: ContinuousClock.Instant?) {
        for statement in statements {
            _ = try? connection.execute("DEALLOCATE " + statement.name(on: day), deadline: deadline)
        }
    }
}
