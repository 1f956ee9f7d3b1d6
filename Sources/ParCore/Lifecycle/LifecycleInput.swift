/// Something that happens to a request: what ``RequestState/decide(_:at:ownerIsRegistered:)`` decides on.
public enum LifecycleInput: Sendable, Equatable {
    /// A client pushes a request that lives for `lifetime` (`POST /par`).
    case push(clientID: String, lifetime: Duration)
    /// The authorization endpoint loads the request for the `client_id` the browser brought, binding it to the user
    /// agent whose binding hashes to `binding`; `ticket` is the hash of the ticket that load hands out.
    case load(clientID: String, binding: [UInt8], ticket: [UInt8], interactionLifetime: Duration)
    /// A client redeems the request by its `request_uri` (the backend API).
    case redeem(clientID: String)
    /// The authorization server redeems a loaded request through its ticket, with the hash of this attempt's key.
    case redeemTicket(ticket: [UInt8], attempt: [UInt8]?)
    /// The login and consent UI reads a loaded request through its ticket; nothing changes.
    case readTicket(ticket: [UInt8])
    /// The sweeper ends a request whose deadline passed more than `grace` ago.
    case expire(grace: Duration)
}

/// What the state machine decided for one input.
public struct LifecycleDecision: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// `push`: the request exists from now on.
        case pushed
        /// `load`: the request is now bound to this user agent.
        case loaded
        /// `load` again by the same user agent within the interaction lifetime: the same ticket, nothing appended.
        case reloaded
        /// `redeem`, `redeemTicket`: this caller has the request. Through a ticket, also the same attempt asked
        /// again (its answer was lost), with nothing appended.
        case consumed
        /// `readTicket`: the request can still be redeemed through this ticket.
        case live
        /// `expire`: the request ended unused.
        case expired
        /// `expire`: its deadline (plus the grace) has not passed.
        case notDue
        /// Refused, for this reason. For `push` and `expire`, `alreadyUsed` says the request's slot is taken.
        case refused(RefusalReason)
    }

    public var outcome: Outcome
    /// What to append: the transition's event, or the record of a refusal (at most one per request and reason,
    /// never for `unknown`); `nil` when nothing is.
    public var event: RequestEvent?

    public init(_ outcome: Outcome, event: RequestEvent? = nil) {
        self.outcome = outcome
        self.event = event
    }

    /// The reason, when the input was refused.
    public var refusal: RefusalReason? {
        if case .refused(let reason) = outcome { return reason }
        return nil
    }
}
