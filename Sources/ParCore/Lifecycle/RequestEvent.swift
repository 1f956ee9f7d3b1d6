/// One event of a request's log, as the lifecycle's state machine writes and folds it (ARCHITECTURE §3–4).
public struct RequestEvent: Sendable, Equatable {
    public var kind: EventKind
    /// The client that pushed the request; for `refused`, the caller that was refused.
    public var clientID: String
    /// When it was appended, on the log's clock.
    public var at: LogTime
    /// The deadline in force: the request's for `pushed`; the interaction's for `loaded`; for a terminal event the
    /// deadline it was decided against; for `refused` the request's.
    public var deadline: LogTime
    /// `loaded`: SHA-256 of the user agent's binding.
    public var bindingHash: [UInt8]?
    /// `loaded`, and `consumed` through a ticket: SHA-256 of the ticket.
    public var ticketHash: [UInt8]?
    /// `consumed` through a ticket: SHA-256 of the attempt key, when the caller gave one.
    public var attemptHash: [UInt8]?
    /// `refused`: why.
    public var refusal: RefusalReason?

    public init(
        kind: EventKind,
        clientID: String,
        at: LogTime,
        deadline: LogTime,
        bindingHash: [UInt8]? = nil,
        ticketHash: [UInt8]? = nil,
        attemptHash: [UInt8]? = nil,
        refusal: RefusalReason? = nil
    ) {
        self.kind = kind
        self.clientID = clientID
        self.at = at
        self.deadline = deadline
        self.bindingHash = bindingHash
        self.ticketHash = ticketHash
        self.attemptHash = attemptHash
        self.refusal = refusal
    }

    /// The input that, decided at ``at``, appends this event; `nil` for a refusal's record, which follows from a
    /// refused input rather than standing for one.
    public var input: LifecycleInput? {
        switch kind {
        case .pushed:
            return .push(clientID: clientID, lifetime: deadline - at)
        case .loaded:
            return .load(clientID: clientID, binding: bindingHash ?? [], ticket: ticketHash ?? [], interactionLifetime: deadline - at)
        case .consumed:
            if let ticketHash { return .redeemTicket(ticket: ticketHash, attempt: attemptHash) }
            return .redeem(clientID: clientID)
        case .expired:
            return .expire(grace: .zero)
        case .refused:
            return nil
        }
    }
}
