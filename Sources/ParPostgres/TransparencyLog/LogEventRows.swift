import Crypto
import ParCore

/// Reads events as leaves, in log order: the one place where a `par_events` row becomes its canonical leaf.
enum LogEventRows {
    /// The events of a delta after one position up to another (inclusive), in (xid, seq) order. The xid bounds
    /// repeat the snapshots' as bigints for the BRIN range.
    static let inDelta = """
        SELECT e.xid::text, e.seq, e.kind, e.slot, e.day - date '1970-01-01', encode(e.request_id, 'hex'), e.client_id,
               (extract(epoch FROM e.at) * 1000000)::bigint, (extract(epoch FROM e.deadline) * 1000000)::bigint, e.node_id,
               encode(e.binding_hash, 'hex'), encode(e.ticket_hash, 'hex'), encode(e.attempt_hash, 'hex'),
               encode(sha256(convert_to(e.payload::text, 'UTF8')), 'hex')
        FROM par_events e
        WHERE (e.xid::text)::bigint >= $3::bigint AND (e.xid::text)::bigint < $4::bigint
          AND pg_visible_in_snapshot(e.xid, $2::pg_snapshot) AND NOT pg_visible_in_snapshot(e.xid, $1::pg_snapshot)
          AND (e.xid, e.seq) > ($5::xid8, $6::bigint) AND (e.xid, e.seq) <= ($7::xid8, $8::bigint)
        ORDER BY e.xid, e.seq
        LIMIT $9
        """

    static func parameters(_ delta: LogDelta, after start: LogPosition, through end: LogPosition, limit: Int) -> [String?] {
        // The BRIN range: below the done snapshot's xmin every event is integrated, and no event of the delta before
        // `start` or after `end` has an xid outside theirs. A narrow range is what keeps the sort of each page small.
        [
            delta.done.description, delta.target.description, String(max(delta.done.xmin, start.xid)),
            String(min(delta.target.xmax, end.xid + 1)),
            String(start.xid), String(start.seq), String(end.xid), String(end.seq), String(limit),
        ]
    }

    /// Calls `body` with every event of `delta` after `after` up to `through`, at most `limit`, a page at a time;
    /// returns how many.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    static func read(
        _ delta: LogDelta,
        after: LogPosition,
        through: LogPosition = .end,
        limit: Int = .max,
        pageSize: Int = 10_000,
        on connection: PGConnection,
        deadline: @autoclosure () -> ContinuousClock.Instant? = nil,
        _ body: (LogPosition, LogLeaf) throws -> Void
    ) throws -> Int {
        var cursor = after
        var count = 0
        while count < limit {
            let page = min(pageSize, limit - count)
            let rows = try connection.execute(inDelta, parameters(delta, after: cursor, through: through, limit: page), deadline: deadline()).rows
            for row in rows {
                guard let (position, leaf) = leaf(from: row) else {
                    throw LogError.undecodableEvent(xid: row.first ?? nil, seq: row.count > 1 ? row[1] : nil)
                }
                try body(position, leaf)
                cursor = position
            }
            count += rows.count
            if rows.count < page { break }
        }
        return count
    }

    /// A row's position and leaf; `nil` for a row no leaf can describe (a NULL where the schema forbids one).
    static func leaf(from row: [String?]) -> (position: LogPosition, leaf: LogLeaf)? {
        guard row.count == 14, let xid = row[0].flatMap({ UInt64($0) }), let seq = row[1].flatMap({ Int64($0) }),
            let kind = row[2], let day = row[4].flatMap({ Int32($0) }),
            let requestID = row[5].flatMap(Secret.bytes(fromHex:)), let clientID = row[6],
            let at = row[7].flatMap({ Int64($0) }), let deadline = row[8].flatMap({ Int64($0) }), let nodeID = row[9]
        else { return nil }
        let leaf = LogLeaf(
            kind: kind,
            slot: row[3].flatMap { Int16($0) },
            daysSince1970: day,
            requestID: requestID,
            clientID: clientID,
            atMicroseconds: at,
            deadlineMicroseconds: deadline,
            nodeID: nodeID,
            bindingHash: row[10].flatMap(Secret.bytes(fromHex:)),
            ticketHash: row[11].flatMap(Secret.bytes(fromHex:)),
            attemptHash: row[12].flatMap(Secret.bytes(fromHex:)),
            payloadHash: row[13].flatMap(Secret.bytes(fromHex:))
        )
        return (LogPosition(xid: xid, seq: seq), leaf)
    }
}
