/// Why a load, a ticket or a redemption was refused: the `reason` callers see, and the word Redis's functions,
/// PostgreSQL's statements and the JSON answers use alike (its raw value). The HTTP faces map it to an OAuth error.
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

    /// The reason whose refusals take `slot`.
    public init?(slot: Int) {
        guard let reason = Self.allCases.first(where: { $0.slot == slot }) else { return nil }
        self = reason
    }
}
