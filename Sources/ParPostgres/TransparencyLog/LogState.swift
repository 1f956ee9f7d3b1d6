public import ParCore

/// Where integration stands (`parstore_log_state`): the tree's size and right edge, the snapshot whose events
/// are all integrated, and the delta being integrated.
public struct LogState: Sendable, Equatable {
    public var range: CompactRange
    /// Every event visible in it is integrated.
    public var done: LogSnapshot
    /// The snapshot whose delta is being integrated, and the last event taken from it.
    public var target: LogSnapshot?
    public var last: LogPosition
    /// The time of the newest integrated event, in microseconds since 1970 (nil before the first).
    public var lastAtMicroseconds: Int64?

    public var size: UInt64 { range.size }

    static let select = """
        SELECT size, done_snapshot::text, target_snapshot::text, last_xid::text, last_seq, encode(range, 'hex'),
               (extract(epoch FROM last_at) * 1000000)::bigint
        FROM parstore_log_state WHERE id = 1
        """

    init(row: [String?]) throws {
        guard row.count >= 7, let size = row[0].flatMap({ UInt64($0) }), let done = row[1].flatMap(LogSnapshot.init),
            let xid = row[3].flatMap({ UInt64($0) }), let seq = row[4].flatMap({ Int64($0) }),
            let hashes = row[5].flatMap(Secret.bytes(fromHex:)).flatMap(TreeHash.split),
            let range = CompactRange(size: size, hashes: hashes)
        else { throw LogError.corruptState }
        self.range = range
        self.done = done
        self.target = row[2].flatMap(LogSnapshot.init)
        self.last = LogPosition(xid: xid, seq: seq)
        self.lastAtMicroseconds = row[6].flatMap { Int64($0) }
    }

    @available(*, noasync, message: "blocking: call from a thread of its own")
    static func read(on connection: PGConnection, forUpdate: Bool = false, deadline: ContinuousClock.Instant? = nil) throws -> LogState {
        let rows = try connection.execute(select + (forUpdate ? " FOR UPDATE" : ""), deadline: deadline).rows
        guard let row = rows.first else { throw LogError.corruptState }
        return try LogState(row: row)
    }

    @available(*, noasync, message: "blocking: call from a thread of its own")
    func write(on connection: PGConnection, deadline: ContinuousClock.Instant) throws {
        try connection.execute(
            """
            UPDATE parstore_log_state
            SET size = $1, done_snapshot = $2::pg_snapshot, target_snapshot = $3::pg_snapshot, last_xid = $4::xid8, last_seq = $5,
                range = decode($6, 'hex'), last_at = to_timestamp($7::double precision / 1000000), integrated_at = now()
            WHERE id = 1
            """,
            [
                String(size), done.description, target?.description, String(last.xid), String(last.seq),
                Secret.hex(range.hashes.flatMap(\.bytes)), lastAtMicroseconds.map { String($0) },
            ],
            deadline: deadline
        )
    }
}
