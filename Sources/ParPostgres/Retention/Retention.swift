public import ParCore

/// Retention: drops the day partitions of the event log and of the single-use values that are older than the kept
/// days, once nothing in them is still needed — every request of the day has ended (the sweeper's watermark is past
/// every deadline in it) and, when the tamper-evident log is in use, every event of it is integrated, under a signed
/// checkpoint, and its leaf indices are recorded in a pruning signed with the log's key. Each partition is detached
/// `CONCURRENTLY` (no lock that stops the hot partitions' readers and writers), then dropped. One run at a time
/// (a session advisory lock); a run stopped midway is finished by the next.
public struct Retention: Sendable {
    public struct Configuration: Sendable {
        public var conninfo: String
        /// Days kept: partitions of days before today minus this are dropped.
        public var keepDays: Int
        /// Drops a day even when it fails a check.
        public var force = false
        /// The log's signing key, which signs what is pruned while the log is in use.
        public var signer: NoteSigner?
        /// The longest any statement (a detach waits for the transactions that may still see the partition) waits.
        public var timeout: Duration = .seconds(300)

        public init(conninfo: String, keepDays: Int, force: Bool = false, signer: NoteSigner? = nil, timeout: Duration = .seconds(300)) {
            self.conninfo = conninfo
            self.keepDays = keepDays
            self.force = force
            self.signer = signer
            self.timeout = timeout
        }
    }

    /// The fewest days kept: a request lives under 10 minutes, an interaction at most a day, and the sweeper's grace
    /// at most an hour, so every request of a day older than this has ended.
    public static let minimumKeepDays = 2

    /// What a run did.
    public struct Report: Sendable {
        public var dropped: [PartitionDay] = []
        /// Days left, and why.
        public var refused: [(day: PartitionDay, reason: String)] = []
        /// Day partitions of single-use values dropped.
        public var singleUseDropped = 0
        /// Leaves recorded as pruned.
        public var prunedLeaves: UInt64 = 0
        /// Another run held the lock.
        public var busy = false
    }

    public let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func run() throws -> Report {
        guard configuration.keepDays >= Self.minimumKeepDays else { throw RetentionError.tooFewDays(configuration.keepDays) }
        let connection = try PGConnection(
            configuration.conninfo,
            applicationName: "parstore-retention",
            connectTimeoutSeconds: 10,
            timeout: configuration.timeout
        )
        var report = Report()
        guard try connection.execute("SELECT pg_try_advisory_lock(hashtext('parstore.retention'))").rows.first?.first == "t" else {
            report.busy = true
            return report
        }
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock(hashtext('parstore.retention'))") }
        let cutoffText =
            try connection.execute("SELECT to_char(current_date - $1::integer, 'YYYYMMDD')", [String(configuration.keepDays)])
            .rows.first?.first ?? nil
        guard let cutoff = cutoffText.flatMap({ PartitionDay(compact: Substring($0)) }) else { throw RetentionError.noDate }

        for (day, pending) in try partitions(of: "par_events", on: connection) where day < cutoff {
            if !pending, !configuration.force, let reason = try refusal(of: day, on: connection) {
                report.refused.append((day, reason))
                continue
            }
            if !pending, let signer = configuration.signer, try logInUse(on: connection) {
                switch try prune(day, signer: signer, on: connection) {
                case .success(let leaves): report.prunedLeaves += leaves
                case .failure(let reason) where !configuration.force:
                    report.refused.append((day, reason.text))
                    continue
                case .failure: break
                }
            }
            try detachAndDrop("par_events", day, pending: pending, on: connection)
            try connection.execute("DELETE FROM parstore_data_keys WHERE day = $1::date", [day.description])
            report.dropped.append(day)
        }
        for (day, pending) in try partitions(of: "parstore_single_use", on: connection) where day < cutoff {
            try detachAndDrop("parstore_single_use", day, pending: pending, on: connection)
            report.singleUseDropped += 1
        }
        return report
    }

    /// The day partitions of `parent`, oldest first, and whether each is half-detached (a run stopped midway).
    @available(*, noasync, message: "blocking: call from a thread of its own")
    private func partitions(of parent: String, on connection: PGConnection) throws -> [(day: PartitionDay, pending: Bool)] {
        try connection.execute(
            """
            SELECT c.relname, i.inhdetachpending FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = $1::regclass ORDER BY c.relname
            """,
            [parent]
        ).rows.compactMap { row in
            guard let name = row[0], name.hasPrefix(parent + "_"), let day = PartitionDay(compact: Substring(name.dropFirst(parent.count + 1)))
            else { return nil }
            return (day, row[1] == "t")
        }
    }

    /// Why `day` must stay, if it must.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    private func refusal(of day: PartitionDay, on connection: PGConnection) throws -> String? {
        let table = "par_events_" + day.compact
        let unfinished = try connection.execute(
            "SELECT EXISTS (SELECT 1 FROM \(table) WHERE slot IN (0, 1) AND deadline > (SELECT swept_until FROM parstore_sweeper))"
        )
        if unfinished.rows.first?.first == "t" { return "some of its requests have not ended (the sweeper has not passed their deadlines)" }
        guard try logInUse(on: connection) else { return nil }
        let unintegrated = try connection.execute(
            """
            SELECT EXISTS (SELECT 1 FROM \(table)
                           WHERE NOT pg_visible_in_snapshot(xid, (SELECT done_snapshot FROM parstore_log_state WHERE id = 1)))
            """
        )
        if unintegrated.rows.first?.first == "t" { return "the tamper-evident log has not integrated all of its events yet" }
        if configuration.signer == nil { return "the log's signing key is needed to sign what is pruned (PARSTORE_LOG_KEY_FILE)" }
        return nil
    }

    @available(*, noasync, message: "blocking: call from a thread of its own")
    private func logInUse(on connection: PGConnection) throws -> Bool {
        try connection.execute("SELECT size > 0 FROM parstore_log_state WHERE id = 1").rows.first?.first == "t"
    }

    struct Reason: Error {
        var text: String
    }

    /// Records the leaf indices of `day`'s events in a signed pruning; returns how many.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    private func prune(_ day: PartitionDay, signer: NoteSigner, on connection: PGConnection) throws -> Result<UInt64, Reason> {
        let table = "par_events_" + day.compact
        let span = try connection.execute("SELECT count(*), min((xid::text)::bigint), max((xid::text)::bigint) FROM \(table)").rows.first
        guard let events = span?[0].flatMap({ UInt64($0) }) else { throw RetentionError.noDate }
        var indices: [UInt64] = []
        if events > 0, let low = span?[1] ?? nil, let high = span?[2] ?? nil {
            // The batches whose ranges of positions may hold the day's events; read with what earlier prunings took out.
            let reader = LogReader(connection: connection)
            let pruned = try reader.prunings(verifier: nil).pruned
            let batches = try connection.execute(
                """
                SELECT \(LogReader.Batch.columns) FROM parstore_log_batches
                WHERE (last_xid::text)::bigint >= $1::bigint AND (after_xid::text)::bigint <= $2::bigint ORDER BY first_index
                """,
                [low, high]
            ).rows.map(LogReader.Batch.init(row:))
            let daysSince1970 = Int32(day.daysSince1970)
            for batch in batches {
                try reader.walk(batch, pruned: pruned) { index, _, leaf in
                    if leaf.daysSince1970 == daysSince1970 { indices.append(index) }
                }
            }
        }
        guard UInt64(indices.count) == events else {
            return .failure(Reason(text: "the log holds \(indices.count) of its \(events) events"))
        }
        let signedSize = try LogCheckpoints.latest(on: connection)?.checkpoint.size ?? 0
        if let last = indices.max(), last >= signedSize {
            return .failure(Reason(text: "its last leaf (\(last)) is not under a signed checkpoint yet"))
        }
        let pruning = LogPruning(origin: signer.name, day: day, indices: indices)
        try connection.execute(
            """
            INSERT INTO parstore_log_prunings (day, leaves, note) VALUES ($1::date, $2, $3)
            ON CONFLICT (day) DO UPDATE SET leaves = EXCLUDED.leaves, note = EXCLUDED.note, pruned_at = now()
            """,
            [day.description, String(pruning.count), try signer.sign(pruning.body).encoded]
        )
        return .success(pruning.count)
    }

    /// Detaches the partition of `day` from `parent` without stopping its readers and writers, then drops it.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    private func detachAndDrop(_ parent: String, _ day: PartitionDay, pending: Bool, on connection: PGConnection) throws {
        let name = parent + "_" + day.compact
        try connection.executeScript("ALTER TABLE \(parent) DETACH PARTITION \(name) \(pending ? "FINALIZE" : "CONCURRENTLY")")
        try connection.executeScript("DROP TABLE \(name)")
    }
}

/// Why retention cannot run.
public enum RetentionError: Error, CustomStringConvertible {
    case tooFewDays(Int)
    case noDate

    public var description: String {
        switch self {
        case .tooFewDays(let days): "retention keeps at least \(Retention.minimumKeepDays) days, not \(days)"
        case .noDate: "PostgreSQL did not give a date"
        }
    }
}
