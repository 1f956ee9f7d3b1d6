public import ParCore

/// Reads the integrated log for auditors: leaves by index (export), inclusion proofs, and the whole tree
/// recomputed from the events (``verify(checkpoints:verifier:)``). Blocking, on a connection of its own.
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

    /// A batch as the integrator recorded it: leaves `firstIndex..<firstIndex + size` are the events after
    /// `after` (the previous batch's last) up to `last`.
    struct Batch {
        var firstIndex: UInt64
        var size: Int
        var last: LogPosition
    }

    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func state() throws -> LogState {
        try LogState.read(on: connection)
    }

    /// Calls `body` with every leaf from `from` up to `to` (exclusive; the tree's size when `nil`), in order.
    /// Returns the index after the last one given.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    @discardableResult
    public func leaves(from: UInt64, to: UInt64? = nil, _ body: (Entry) throws -> Void) throws -> UInt64 {
        let end = min(to ?? .max, try state().size)
        guard from < end else { return from }
        // The batch that holds `from`, and the last event before it.
        let startRows = try connection.execute(
            """
            SELECT b.first_index, coalesce(p.last_xid, '0')::text, coalesce(p.last_seq, 0)
            FROM (SELECT * FROM parstore_log_batches WHERE first_index <= $1 ORDER BY first_index DESC LIMIT 1) b
            LEFT JOIN LATERAL (SELECT last_xid, last_seq FROM parstore_log_batches q
                               WHERE q.first_index < b.first_index ORDER BY q.first_index DESC LIMIT 1) p ON true
            """,
            [String(from)]
        ).rows
        guard let row = startRows.first, let firstIndex = row[0].flatMap({ UInt64($0) }), let xid = row[1].flatMap({ UInt64($0) }),
            let seq = row[2].flatMap({ Int64($0) })
        else { throw LogError.noSuchLeaf(from) }
        var index = firstIndex
        var after = LogPosition(xid: xid, seq: seq)
        for batch in try batches(from: firstIndex) {
            guard index < end else { break }
            guard batch.firstIndex == index else { throw LogError.tilesOutOfStep }
            try events(after: after, through: batch.last) { position, leaf in
                if index >= from && index < end { try body(Entry(index: index, leaf: leaf, position: position)) }
                index += 1
            }
            guard index == batch.firstIndex + UInt64(batch.size) else { throw LogError.noSuchLeaf(batch.firstIndex + UInt64(batch.size) - 1) }
            after = batch.last
        }
        return end
    }

    /// The batches from `firstIndex` on, in order.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    func batches(from firstIndex: UInt64) throws -> [Batch] {
        try connection.execute(
            "SELECT first_index, size, last_xid::text, last_seq FROM parstore_log_batches WHERE first_index >= $1 ORDER BY first_index",
            [String(firstIndex)]
        ).rows.map { row in
            guard let first = row[0].flatMap({ UInt64($0) }), let size = row[1].flatMap({ Int($0) }),
                let xid = row[2].flatMap({ UInt64($0) }), let seq = row[3].flatMap({ Int64($0) })
            else { throw LogError.corruptState }
            return Batch(firstIndex: first, size: size, last: LogPosition(xid: xid, seq: seq))
        }
    }

    /// Every event after `after` up to `last`, in log order, a page at a time.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    func events(after: LogPosition, through last: LogPosition, _ body: (LogPosition, LogLeaf) throws -> Void) throws {
        var cursor = after
        while cursor < last {
            let rows = try connection.execute(LogEventRows.between, LogEventRows.parameters(after: cursor, through: last, limit: pageSize)).rows
            for row in rows {
                guard let (position, leaf) = LogEventRows.leaf(from: row) else {
                    throw LogError.undecodableEvent(xid: row.first ?? nil, seq: row.count > 1 ? row[1] : nil)
                }
                try body(position, leaf)
                cursor = position
            }
            if rows.count < pageSize { break }
        }
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves, from the stored tiles.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func inclusionProof(index: UInt64, size: UInt64) throws -> [TreeHash] {
        let tiles = LogTiles(connection: connection)
        return try MerkleProof.inclusion(index: index, size: size) { try tiles.node(level: $0, index: $1) }
    }

    /// The leaves of one request's events among the first `size`.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func entries(of request: RequestReference, size: UInt64) throws -> [Entry] {
        let positions = try connection.execute(
            "SELECT xid::text, seq FROM par_events WHERE day = $1::date AND request_id = decode($2, 'hex') ORDER BY xid, seq",
            [request.day.description, request.requestIDHex]
        ).rows.compactMap { row -> LogPosition? in
            guard let xid = row[0].flatMap({ UInt64($0) }), let seq = row[1].flatMap({ Int64($0) }) else { return nil }
            return LogPosition(xid: xid, seq: seq)
        }
        var found: [Entry] = []
        for position in positions {
            // The batch whose range holds the event, and the last event before that batch.
            let rows = try connection.execute(
                """
                SELECT b.first_index, coalesce(p.last_xid, '0')::text, coalesce(p.last_seq, 0), b.last_xid::text, b.last_seq
                FROM (SELECT * FROM parstore_log_batches WHERE (last_xid, last_seq) >= ($1::xid8, $2::bigint)
                      ORDER BY first_index LIMIT 1) b
                LEFT JOIN LATERAL (SELECT last_xid, last_seq FROM parstore_log_batches q
                                   WHERE q.first_index < b.first_index ORDER BY q.first_index DESC LIMIT 1) p ON true
                """,
                [String(position.xid), String(position.seq)]
            ).rows
            guard let row = rows.first, let firstIndex = row[0].flatMap({ UInt64($0) }),
                let afterXid = row[1].flatMap({ UInt64($0) }), let afterSeq = row[2].flatMap({ Int64($0) }),
                let lastXid = row[3].flatMap({ UInt64($0) }), let lastSeq = row[4].flatMap({ Int64($0) })
            else { continue }
            var index = firstIndex
            try events(after: LogPosition(xid: afterXid, seq: afterSeq), through: LogPosition(xid: lastXid, seq: lastSeq)) { at, leaf in
                if at == position && index < size { found.append(Entry(index: index, leaf: leaf, position: at)) }
                index += 1
            }
        }
        return found
    }
}
