public import ParCore

/// Replays the event log for `parstore audit`: every request with an event in the time range, with all of its
/// events, one request at a time through a server-side cursor (memory stays bounded by one fetch).
public struct AuditReader {
    public let connection: PGConnection
    public var fetchSize = 10_000

    public init(connection: PGConnection) {
        self.connection = connection
    }

    /// PostgreSQL's clock.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func now() throws -> LogTime {
        LogTime(seconds: Double(try connection.execute("SELECT extract(epoch FROM now())").rows[0][0] ?? "0") ?? 0)
    }

    /// Feeds every request that has an event in [`since`, `until`) to `auditor`, with all of its events.
    ///
    /// `since` and `until` are anything PostgreSQL reads as a `timestamptz` (`2026-11-24 10:00Z`); `nil` leaves
    /// that end open.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func replay(since: String?, until: String?, into auditor: inout Auditor) throws {
        try connection.executeScript("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        defer { _ = try? connection.executeScript("COMMIT") }
        try connection.execute(
            """
            DECLARE audit_events NO SCROLL CURSOR FOR
            SELECT encode(e.request_id, 'hex'), e.kind, e.client_id, extract(epoch FROM e.at), extract(epoch FROM e.deadline),
                   encode(e.binding_hash, 'hex'), encode(e.ticket_hash, 'hex'), encode(e.attempt_hash, 'hex'), e.slot
            FROM par_events e
            WHERE (e.day, e.request_id) IN (SELECT DISTINCT day, request_id FROM par_events
                                            WHERE at >= coalesce($1::timestamptz, '-infinity')
                                              AND at <  coalesce($2::timestamptz, 'infinity'))
            ORDER BY e.day, e.request_id, e.seq
            """,
            [since, until]
        )
        var requestID: String? = nil
        var current: [RequestEvent] = []
        while true {
            let rows = try connection.execute("FETCH \(fetchSize) FROM audit_events").rows
            for row in rows {
                guard let id = row[0], let kind = row[1].flatMap(EventKind.init(rawValue:)) else { continue }
                let event = RequestEvent(
                    kind: kind,
                    clientID: row[2] ?? "",
                    at: LogTime(seconds: Double(row[3] ?? "") ?? 0),
                    deadline: LogTime(seconds: Double(row[4] ?? "") ?? 0),
                    bindingHash: row[5].flatMap(Secret.bytes(fromHex:)),
                    ticketHash: row[6].flatMap(Secret.bytes(fromHex:)),
                    attemptHash: row[7].flatMap(Secret.bytes(fromHex:)),
                    refusal: kind == .refused ? row[8].flatMap { Int($0) }.flatMap(RefusalReason.init(slot:)) : nil
                )
                if let last = requestID, last != id {
                    auditor.replay(requestID: last, events: current)
                    current.removeAll(keepingCapacity: true)
                }
                requestID = id
                current.append(event)
            }
            if rows.count < fetchSize { break }
        }
        if let requestID { auditor.replay(requestID: requestID, events: current) }
    }
}
