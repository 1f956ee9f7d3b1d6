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

    public init(day: PartitionDay, requestID: [UInt8], kind: EventKind, clientID: String, lifetime: Duration? = nil, payload: String? = nil) {
        self.day = day
        self.requestID = requestID
        self.kind = kind
        self.clientID = clientID
        self.lifetime = lifetime
        self.payload = payload
    }
}

/// What the writer reports for one appended event.
public struct AppendResult: Sendable, Equatable {
    /// `false` when the event's slot was already taken (a second `pushed` for the same request).
    public var inserted: Bool
    /// The event's time, milliseconds since 1970 (PostgreSQL's clock); 0 when not inserted.
    public var atMillis: Int64
    /// The request's deadline, milliseconds since 1970; 0 when not inserted.
    public var deadlineMillis: Int64
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
