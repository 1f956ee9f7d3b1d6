import ParCore

/// The live requests of the log — pushed or loaded, with no terminal event, before their deadline — read in pages
/// for `parstore rebuild`, which gives them back to an empty Redis.
public enum LiveRequests {
    public struct Row: Sendable, Equatable {
        public var requestID: [UInt8]
        public var clientID: String
        /// When it stops being live: the request's deadline, or for a loaded one its interaction's.
        public var deadlineMillis: Int64
        /// Whether a browser loaded it (then only its ticket can redeem it).
        public var loaded: Bool
    }

    /// Where a page ends: the next page starts after it.
    public struct Cursor: Sendable, Equatable {
        var deadline: String
        var requestID: String
    }

    /// Up to `limit` live requests of one kind (`loaded` or not), by deadline, after `cursor`.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public static func page(loaded: Bool, after cursor: Cursor?, limit: Int, on connection: PGConnection) throws -> (rows: [Row], next: Cursor?) {
        // A pushed request is found through the pushed-deadline index, a loaded one through the loaded-deadline index;
        // only requests still before their deadline are read, whatever the size of the day.
        let slot = loaded ? 1 : 0
        let finished = loaded ? "t.slot = 2" : "t.slot IN (1, 2)"
        let rows = try connection.execute(
            """
            SELECT encode(e.request_id, 'hex'), e.client_id, (extract(epoch FROM e.deadline) * 1000)::bigint, e.deadline::text
            FROM par_events e
            WHERE e.slot = \(slot) AND e.deadline IS NOT NULL AND e.deadline > now()
              AND ($1::timestamptz IS NULL OR (e.deadline, e.request_id) > ($1::timestamptz, decode($2, 'hex')))
              AND NOT EXISTS (SELECT 1 FROM par_events t WHERE t.day = e.day AND t.request_id = e.request_id AND \(finished))
            ORDER BY e.deadline, e.request_id
            LIMIT \(limit)
            """,
            [cursor?.deadline, cursor?.requestID ?? ""]
        ).rows
        let parsed = rows.compactMap { row -> Row? in
            guard let id = row[0].flatMap(Secret.bytes(fromHex:)), let client = row[1], let deadline = row[2].flatMap({ Int64($0) }) else {
                return nil
            }
            return Row(requestID: id, clientID: client, deadlineMillis: deadline, loaded: loaded)
        }
        let next = rows.count == limit ? rows.last.flatMap { row in row[3].map { Cursor(deadline: $0, requestID: row[0] ?? "") } } : nil
        return (parsed, next)
    }
}
