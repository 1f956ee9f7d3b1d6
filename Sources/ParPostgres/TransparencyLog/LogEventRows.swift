import Crypto
import ParCore

/// Reads events as leaves, in log order: the one place where a `par_events` row becomes its canonical leaf.
enum LogEventRows {
    /// The columns every statement below selects, in the order ``leaf(from:)`` reads them.
    static let columns = """
        e.xid::text, e.seq, e.kind, e.slot, e.day - date '1970-01-01', encode(e.request_id, 'hex'), e.client_id,
        (extract(epoch FROM e.at) * 1000000)::bigint, (extract(epoch FROM e.deadline) * 1000000)::bigint, e.node_id,
        encode(e.binding_hash, 'hex'), encode(e.ticket_hash, 'hex'), encode(e.attempt_hash, 'hex'),
        encode(sha256(convert_to(e.payload::text, 'UTF8')), 'hex')
        """

    /// The events after `$3, $4` (an xid and a seq) up to `$5, $6` inclusive, in log order, at most `$7`. `$1` and
    /// `$2` repeat the two xids as bigints for the BRIN range.
    static let between = """
        SELECT \(columns)
        FROM par_events e
        WHERE (e.xid::text)::bigint >= $1::bigint AND (e.xid::text)::bigint <= $2::bigint
          AND (e.xid, e.seq) > ($3::xid8, $4::bigint) AND (e.xid, e.seq) <= ($5::xid8, $6::bigint)
        ORDER BY e.xid, e.seq
        LIMIT $7
        """

    static func parameters(after start: LogPosition, through end: LogPosition, limit: Int) -> [String?] {
        [String(start.xid), String(end.xid), String(start.xid), String(start.seq), String(end.xid), String(end.seq), String(limit)]
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
