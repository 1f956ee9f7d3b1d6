public import ParCore

/// Where integration stands (`parstore_log_state`): the tree's size and right edge, and the last leaf's event.
public struct LogState: Sendable, Equatable {
    public var range: CompactRange
    public var last: LogPosition
    /// The time of the newest integrated event, in microseconds since 1970 (nil before the first).
    public var lastAtMicroseconds: Int64?

    public var size: UInt64 { range.size }

    static let select = """
        SELECT size, last_xid::text, last_seq, encode(range, 'hex'), (extract(epoch FROM last_at) * 1000000)::bigint
        FROM parstore_log_state WHERE id = 1
        """

    init(row: [String?]) throws {
        guard row.count >= 5, let size = row[0].flatMap({ UInt64($0) }), let xid = row[1].flatMap({ UInt64($0) }),
            let seq = row[2].flatMap({ Int64($0) }), let bytes = row[3].flatMap(Secret.bytes(fromHex:)), bytes.count % 32 == 0,
            let range = CompactRange(size: size, hashes: stride(from: 0, to: bytes.count, by: 32).compactMap { TreeHash(bytes: bytes[$0..<$0 + 32]) })
        else { throw LogError.corruptState }
        self.range = range
        self.last = LogPosition(xid: xid, seq: seq)
        self.lastAtMicroseconds = row[4].flatMap { Int64($0) }
    }

    @available(*, noasync, message: "blocking: call from a thread of its own")
    static func read(on connection: PGConnection, forUpdate: Bool = false, deadline: ContinuousClock.Instant? = nil) throws -> LogState {
        let rows = try connection.execute(select + (forUpdate ? " FOR UPDATE" : ""), deadline: deadline).rows
        guard let row = rows.first else { throw LogError.corruptState }
        return try LogState(row: row)
    }
}
