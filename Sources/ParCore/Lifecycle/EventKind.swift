/// The kinds of event in a request's log (ARCHITECTURE §3–4).
public enum EventKind: String, Sendable, CaseIterable, Codable {
    /// The request was pushed; carries the parameters and the deadline.
    case pushed
    /// The request was first loaded at the authorization endpoint, bound to one user agent; its deadline is the
    /// interaction deadline.
    case loaded
    /// Terminal: redeemed by its client before its deadline.
    case consumed
    /// Terminal: its deadline passed without redemption.
    case expired
    /// A refused attempt on a known request (reuse, wrong client, too late); carries the reason.
    case refused

    /// The unique slot the event occupies for its request: the database keeps at most one event per slot
    /// (`pushed` = 0, reserved `loaded` = 1, terminal = 2); a refusal's slot is its reason's
    /// (``RefusalReason/slot``).
    public var slot: Int? {
        switch self {
        case .pushed: 0
        case .loaded: 1
        case .consumed, .expired: 2
        case .refused: nil
        }
    }

    /// Whether the event ends the request.
    public var isTerminal: Bool { self == .consumed || self == .expired }
}

/// Why a load, a ticket or a redemption was refused: the `reason` callers see.
public enum RefusalReason: String, Error, Sendable, CaseIterable, Codable {
    /// No request with this `request_uri` was ever pushed (or it was not issued by ParStore).
    case unknown
    /// The request's deadline has passed.
    case expired
    /// The request was already redeemed.
    case alreadyUsed = "already_used"
    /// The request was pushed by another client; it stays redeemable by its own.
    case wrongClient = "wrong_client"
    /// The request is bound to another user agent.
    case wrongUserAgent = "wrong_user_agent"
    /// The client that pushed the request is no longer registered: its requests are dead (RFC 9126 §7.4).
    case unregisteredClient = "unregistered_client"

    /// The slot a `refused` event with this reason takes for its request: a refusal is recorded at most once per
    /// request and reason, however often it is repeated (the count is in the metrics). `unknown` is never recorded.
    public var slot: Int {
        switch self {
        case .unknown: 9
        case .wrongClient: 10
        case .alreadyUsed: 11
        case .expired: 12
        case .wrongUserAgent: 13
        case .unregisteredClient: 14
        }
    }

    /// The error the backend API answers with.
    public var error: OAuthError {
        let sentence =
            switch self {
            case .unknown: "The request_uri is unknown."
            case .expired: "The request_uri has expired."
            case .alreadyUsed: "The request_uri was already used."
            case .wrongClient: "The request_uri was not issued to this client."
            case .wrongUserAgent: "The request is being used in another browser."
            case .unregisteredClient: "The client of this request is not registered."
            }
        return OAuthError(.invalidRequestURI, sentence, reason: rawValue)
    }
}

/// A request as the backend gets it on successful redemption.
public struct RedeemedRequest: Sendable, Equatable {
    /// The client that pushed it.
    public var clientID: String
    /// The pushed parameters as a JSON object (``PushedRequest/parametersJSON``).
    public var parametersJSON: String
    /// When it was pushed, in milliseconds since 1970 (PostgreSQL's clock).
    public var pushedAtMillis: Int64
    /// Its deadline, in milliseconds since 1970 (PostgreSQL's clock).
    public var expiresAtMillis: Int64

    public init(clientID: String, parametersJSON: String, pushedAtMillis: Int64, expiresAtMillis: Int64) {
        self.clientID = clientID
        self.parametersJSON = parametersJSON
        self.pushedAtMillis = pushedAtMillis
        self.expiresAtMillis = expiresAtMillis
    }
}

/// The outcome of one redemption attempt.
public enum RedemptionResult: Sendable, Equatable {
    case redeemed(RedeemedRequest)
    case refused(RefusalReason)
}
