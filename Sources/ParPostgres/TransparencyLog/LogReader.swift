public import ParCore

/// Reads the integrated log for auditors: leaves by index (export), inclusion proofs, and the whole tree
/// recomputed from the events (``verify(kept:verifier:)``). Blocking, on a connection of its own.
public struct LogReader {
    public let connection: PGConnection
    /// Events read per statement.
    public var pageSize = 10_000

    public init(connection: PGConnection) {
        self.connection = connection
    }

    /// One leaf with its index.
    public struct Entry: Sendable {
        public var index: UInt64
        public var leaf: LogLeaf
        /// Where its event is, for messages.
        public var position: LogPosition
    }

    /// An integration transaction, as recorded: leaves `firstIndex..<firstIndex + size` are the events of `delta`
    /// after `after` up to `last`.
    struct Batch {
        var firstIndex: UInt64
        var size: Int
        var delta: LogDelta
        var after: LogPosition
        var last: LogPosition

        static let columns = """
            first_index, size, done_snapshot::text, target_snapshot::text, after_xid::text, after_seq, last_xid::text, last_seq
            """

        init(row: [String?]) throws {
            guard row.count == 8, let first = row[0].flatMap({ UInt64($0) }), let size = row[1].flatMap({ Int($0) }),
                let done = row[2].flatMap(LogSnapshot.init), let target = row[3].flatMap(LogSnapshot.init),
                let afterXid = row[4].flatMap({ UInt64($0) }), let afterSeq = row[5].flatMap({ Int64($0) }),
                let lastXid = row[6].flatMap({ UInt64($0) }), let lastSeq = row[7].flatMap({ Int64($0) })
            else { throw LogError.corruptState }
            self.firstIndex = first
            self.size = size
            self.delta = LogDelta(done: done, target: target)
            self.after = LogPosition(xid: afterXid, seq: afterSeq)
            self.last = LogPosition(xid: lastXid, seq: lastSeq)
        }
    }

    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func state() throws -> LogState {
        try LogState.read(on: connection)
    }

    /// Calls `body` with every leaf from `from` up to `to` (exclusive; the tree's size when `nil`), in order, and
    /// `pruned` with the index and stored hash of each leaf whose event retention took out. Returns the index after
    /// the last one given.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    @discardableResult
    public func leaves(
        from: UInt64,
        to: UInt64? = nil,
        pruned onPruned: (UInt64, TreeHash) throws -> Void = { _, _ in },
        _ body: (Entry) throws -> Void
    ) throws -> UInt64 {
        let end = min(to ?? .max, try state().size)
        guard from < end else { return from }
        let rows = try connection.execute(
            "SELECT \(Batch.columns) FROM parstore_log_batches WHERE first_index <= $1 ORDER BY first_index DESC LIMIT 1",
            [String(from)]
        ).rows
        guard let row = rows.first else { throw LogError.noSuchLeaf(from) }
        var index = try Batch(row: row).firstIndex
        let pruned = try prunings(verifier: nil).pruned
        let tiles = LogTiles(connection: connection)
        for batch in try batches(from: index) {
            guard index < end else { break }
            guard batch.firstIndex == index else { throw LogError.tilesOutOfStep }
            try walk(batch, pruned: pruned) { at, position, leaf in
                if at >= from && at < end { try body(Entry(index: at, leaf: leaf, position: position)) }
            } pruned: { at in
                if at >= from && at < end { try onPruned(at, try tiles.node(level: 0, index: at)) }
            }
            index = batch.firstIndex + UInt64(batch.size)
        }
        return end
    }

    /// Walks one batch's leaves in index order: `event` for each event's leaf, `pruned` for each index whose event
    /// retention took out.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    func walk(
        _ batch: Batch,
        pruned: PrunedLeaves,
        event: (UInt64, LogPosition, LogLeaf) throws -> Void,
        pruned onPruned: (UInt64) throws -> Void = { _ in }
    ) throws {
        let end = batch.firstIndex + UInt64(batch.size)
        var index = batch.firstIndex
        func skipPruned() throws {
            while index < end, pruned.contains(index) {
                try onPruned(index)
                index += 1
            }
        }
        _ = try LogEventRows.read(batch.delta, after: batch.after, through: batch.last, pageSize: pageSize, on: connection) { position, leaf in
            try skipPruned()
            try event(index, position, leaf)
            index += 1
        }
        try skipPruned()
        guard index == end else { throw LogError.noSuchLeaf(min(index, end)) }
    }

    /// The prunings recorded by retention. With `verifier`, only those it verifies count; the others are returned
    /// as problems. Without, every one that parses counts (export, proofs: the auditor checks what they give).
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func prunings(verifier: NoteVerifier?) throws -> (pruned: PrunedLeaves, days: Int, problems: [String]) {
        var prunings: [LogPruning] = []
        var problems: [String] = []
        for row in try connection.execute("SELECT day::text, note FROM parstore_log_prunings ORDER BY day").rows {
            let label = "the pruning of \(row[0] ?? "?")"
            guard let note = SignedNote(row[1] ?? ""), let pruning = LogPruning(body: note.text) else {
                problems.append("\(label): not a signed pruning")
                continue
            }
            if let verifier, pruning.origin != verifier.name || !verifier.verifies(note) {
                problems.append("\(label): its signature does not verify with the key \(verifier.name)")
                continue
            }
            prunings.append(pruning)
        }
        return (PrunedLeaves(prunings), prunings.count, problems)
    }

    /// The batches from `firstIndex` on, in order.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    func batches(from firstIndex: UInt64) throws -> [Batch] {
        try connection.execute(
            "SELECT \(Batch.columns) FROM parstore_log_batches WHERE first_index >= $1 ORDER BY first_index",
            [String(firstIndex)]
        ).rows.map(Batch.init(row:))
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves, from the stored tiles.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func inclusionProof(index: UInt64, size: UInt64) throws -> [TreeHash] {
        let tiles = LogTiles(connection: connection)
        return try MerkleProof.inclusion(index: index, size: size) { try tiles.node(level: $0, index: $1) }
    }

    /// A request, by its reference (its day then finds its events at once) or by its id alone (every day's index is
    /// searched).
    public enum Request: Sendable {
        case reference(RequestReference)
        case id([UInt8])
    }

    /// The leaves of one request's events among the first `size`.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func entries(of request: Request, size: UInt64) throws -> [Entry] {
        let (day, id): (String?, String) =
            switch request {
            case .reference(let reference): (reference.day.description, reference.requestIDHex)
            case .id(let bytes): (nil, Secret.hex(bytes))
            }
        let positions = try connection.execute(
            "SELECT xid::text, seq FROM par_events WHERE day = coalesce($1::date, day) AND request_id = decode($2, 'hex')",
            [day, id]
        ).rows.compactMap { row -> LogPosition? in
            guard let xid = row[0].flatMap({ UInt64($0) }), let seq = row[1].flatMap({ Int64($0) }) else { return nil }
            return LogPosition(xid: xid, seq: seq)
        }
        var found: [Entry] = []
        let pruned = try prunings(verifier: nil).pruned
        for position in positions {
            // The batch whose delta and range hold the event.
            let rows = try connection.execute(
                """
                SELECT \(Batch.columns) FROM parstore_log_batches
                WHERE pg_visible_in_snapshot($1::xid8, target_snapshot) AND NOT pg_visible_in_snapshot($1::xid8, done_snapshot)
                  AND ($1::xid8, $2::bigint) > (after_xid, after_seq) AND ($1::xid8, $2::bigint) <= (last_xid, last_seq)
                ORDER BY first_index LIMIT 1
                """,
                [String(position.xid), String(position.seq)]
            ).rows
            guard let row = rows.first else { continue }
            try walk(try Batch(row: row), pruned: pruned) { index, at, leaf in
                if at == position && index < size { found.append(Entry(index: index, leaf: leaf, position: at)) }
            }
        }
        return found.sorted { $0.index < $1.index }
    }
}
