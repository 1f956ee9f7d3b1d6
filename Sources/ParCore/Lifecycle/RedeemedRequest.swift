/// A request as the backend gets it on successful redemption.
public struct RedeemedRequest: Sendable, Equatable {
    /// The client that pushed it.
    public var clientID: String
    /// The pushed parameters (``PushedRequest/parametersJSON``).
    public var parameters: StoredParameters
    /// When it was pushed, in milliseconds since 1970 (PostgreSQL's clock).
    public var pushedAtMillis: Int64
    /// Its deadline, in milliseconds since 1970 (PostgreSQL's clock).
    public var expiresAtMillis: Int64

    public init(clientID: String, parameters: StoredParameters, pushedAtMillis: Int64, expiresAtMillis: Int64) {
        self.clientID = clientID
        self.parameters = parameters
        self.pushedAtMillis = pushedAtMillis
        self.expiresAtMillis = expiresAtMillis
    }
}

/// The outcome of one redemption attempt.
public enum RedemptionResult: Sendable, Equatable {
    case redeemed(RedeemedRequest)
    case refused(RefusalReason)
}
