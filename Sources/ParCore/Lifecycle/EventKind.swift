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
