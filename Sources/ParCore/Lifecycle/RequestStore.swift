/// What the HTTP faces ask of the store of pushed requests; they see nothing of how it is kept. ParStores'
/// `EventLogRequestStore` implements it: PostgreSQL decides and records every event, Redis filters in front.
///
/// Every operation fails only with an ``OAuthError`` fit to answer: 503 `temporarily_unavailable` when the store
/// cannot decide now (nothing was changed, or the outcome is unknown and a retry tells it), 400 when the input
/// cannot be stored.
public protocol RequestStore: Sendable {
    /// Stores a validated request, with the single-use values that authenticate it (JWT `jti`s) in the same
    /// transaction, and returns its reference once the `pushed` event is durable.
    func push(_ request: PushedRequest, lifetime: Duration, singleUse: [SingleUse]) async throws(OAuthError) -> PushOutcome

    /// Loads a request at the authorization endpoint for `clientID`, binding it to the user agent holding `binding`.
    func load(_ reference: RequestReference, clientID: String, binding: UserAgentBinding, interactionLifetime: Duration)
        async throws(OAuthError) -> LoadResult

    /// Redeems a request by its `request_uri` for `clientID`: exactly one call ever gets `.redeemed` for a request.
    func redeem(requestURI: String, clientID: String) async throws(OAuthError) -> RedemptionResult

    /// Redeems a loaded request through its ticket: exactly one attempt ever gets `.redeemed`; the same attempt
    /// (`attemptKey`) asked again gets it again, within the interaction lifetime.
    func redeem(ticket: String, attemptKey: String?) async throws(OAuthError) -> RedemptionResult

    /// The request behind a ticket, for the login and consent UI; changes nothing.
    func read(ticket: String) async throws(OAuthError) -> Result<TicketedRequest, RefusalReason>
}

/// What a push came to.
public enum PushOutcome: Sendable, Equatable {
    /// The `pushed` event is durable: hand out this reference.
    case stored(RequestReference)
    /// The single-use value at this index of the push's list was used before: nothing was stored.
    case replayed(Int)
}
