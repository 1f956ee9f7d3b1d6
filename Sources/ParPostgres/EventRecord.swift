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

/// What the writer reports for one appended event.
public struct AppendResult: Sendable, Equatable {
    /// `false` when the event's slot was already taken (a second `pushed` for the same request).
    public var inserted: Bool
    /// The event's time, milliseconds since 1970 (PostgreSQL's clock); 0 when not inserted.
    public var atMillis: Int64
    /// The request's deadline, milliseconds since 1970; 0 when not inserted.
    public var deadlineMillis: Int64
    /// The index in ``EventRecord/singleUse`` of a value used before; the event was then not written.
    public var replayedSingleUse: Int? = nil
}

/// A redemption for the arbiter: consume the request if this client pushed it and its deadline has not passed.
public struct ConsumeRequest: Sendable {
    public var day: PartitionDay
    public var requestID: [UInt8]
    public var clientID: String

    public init(reference: RequestReference, clientID: String) {
        self.day = reference.day
        self.requestID = reference.requestID
        self.clientID = clientID
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

/// A load at the authorization endpoint: bind the request to the user agent holding `binding`.
public struct LoadRequest: Sendable {
    public var reference: RequestReference
    public var clientID: String
    public var binding: UserAgentBinding
    /// Load to redemption; the interaction deadline is PostgreSQL's `now()` plus this.
    public var interactionLifetime: Duration

    public init(reference: RequestReference, clientID: String, binding: UserAgentBinding, interactionLifetime: Duration) {
        self.reference = reference
        self.clientID = clientID
        self.binding = binding
        self.interactionLifetime = interactionLifetime
    }

    /// The ticket this load hands out (the same on every reload by this user agent).
    public var ticket: Ticket { Ticket(binding: binding, reference: reference) }
}

/// What one run of the load statement says: a result, or "lost a race, run again".
enum LoadOutcome: Sendable {
    case decided(LoadResult)
    case retry
}
