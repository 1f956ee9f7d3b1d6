public import ParCore

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
