public import ParCore

/// The signed checkpoints (`parstore_log_checkpoints`): every one stays.
public enum LogCheckpoints {
    /// A stored checkpoint and its signed note.
    public struct Stored: Sendable {
        public var checkpoint: Checkpoint
        /// The note as served (`GET /log/checkpoint`).
        public var note: String
        /// The newest event it covers, microseconds since 1970.
        public var lastAtMicroseconds: Int64?
    }

    static let columns = "size, encode(root, 'hex'), note, (extract(epoch FROM last_at) * 1000000)::bigint"

    /// The newest checkpoint, if any was signed.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public static func latest(on connection: PGConnection, deadline: ContinuousClock.Instant? = nil) throws -> Stored? {
        try connection.execute("SELECT \(columns) FROM parstore_log_checkpoints ORDER BY size DESC LIMIT 1", deadline: deadline).rows
            .first.map(stored(from:))
    }

    /// The SQL that reads the newest note alone (the node's endpoint runs it on its general connection).
    public static let latestNoteQuery = "SELECT note FROM parstore_log_checkpoints ORDER BY size DESC LIMIT 1"

    @available(*, noasync, message: "blocking: call from a thread of its own")
    static func insert(
        _ checkpoint: Checkpoint,
        note: SignedNote,
        lastAtMicroseconds: Int64?,
        on connection: PGConnection,
        deadline: ContinuousClock.Instant
    ) throws {
        try connection.execute(
            """
            INSERT INTO parstore_log_checkpoints (size, root, note, last_at)
            VALUES ($1, decode($2, 'hex'), $3, to_timestamp($4::double precision / 1000000))
            ON CONFLICT (size) DO NOTHING
            """,
            [String(checkpoint.size), Secret.hex(checkpoint.root.bytes), note.encoded, lastAtMicroseconds.map { String($0) }],
            deadline: deadline
        )
    }

    private static func stored(from row: [String?]) throws -> Stored {
        guard let size = row[0].flatMap({ UInt64($0) }), let root = row[1].flatMap(Secret.bytes(fromHex:)).flatMap(TreeHash.init(bytes:)),
            let note = row[2], let origin = SignedNote(note).flatMap({ Checkpoint(body: $0.text) })?.origin
        else { throw LogError.corruptState }
        return Stored(checkpoint: Checkpoint(origin: origin, size: size, root: root), note: note, lastAtMicroseconds: row[3].flatMap { Int64($0) })
    }
}
