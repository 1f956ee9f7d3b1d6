public import ParCore

/// An event to append to the log through the group-commit writer.
public struct EventRecord: Sendable {
    public var day: PartitionDay
    /// SHA-256 of the request reference.
    public var requestID: [UInt8]
    public var kind: EventKind
    public var clientID: String
    /// For `pushed`: the request lifetime; the deadline is PostgreSQL's `now()` plus this. For other kinds
    /// `nil`: the deadline is copied from the request's `pushed` event.
    public var lifetime: Duration?
    /// A JSON document: the parameters of a push, the reason of a refusal.
    public var payload: String?
    /// For `refused`: why. It picks the event's slot, so a refusal is recorded once per request and reason.
    public var refusal: RefusalReason?
    /// Values to record as used, in the same transaction (JWT `jti`s authenticating a push); when one was used
    /// before, the event is not written either (``AppendResult/replayedSingleUse``).
    public var singleUse: [SingleUse] = []

    public init(day: PartitionDay, requestID: [UInt8], kind: EventKind, clientID: String, lifetime: Duration? = nil, payload: String? = nil) {
        self.day = day
        self.requestID = requestID
        self.kind = kind
        self.clientID = clientID
        self.lifetime = lifetime
        self.payload = payload
    }

    /// A `refused` event: an attempt on a known request, recorded at most once per request and reason.
    public static func refusal(_ reason: RefusalReason, of reference: RequestReference, by clientID: String) -> EventRecord {
        var record = EventRecord(
            day: reference.day,
            requestID: reference.requestID,
            kind: .refused,
            clientID: clientID,
            payload: #"{"reason":"\#(reason.rawValue)"}"#
        )
        record.refusal = reason
        return record
    }

    /// The unique slot the event takes for its request.
    public var slot: Int? { kind == .refused ? refusal?.slot : kind.slot }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
