import Crypto

/// A redemption through a ticket, with the authorization server's key for this attempt (HTTP `Idempotency-Key`).
///
/// Exactly one attempt succeeds; the same attempt asked again (its answer was lost) gets the same request again,
/// within the interaction lifetime.
public struct TicketRedemption: Sendable, Hashable {
    public var ticket: Ticket
    /// SHA-256 of the attempt's key, or `nil` when the caller gave none (a retry then says `already_used`).
    public var attemptHash: [UInt8]?

    public init(ticket: Ticket, attemptKey: String? = nil) {
        self.ticket = ticket
        self.attemptHash = attemptKey.map { Secret.sha256("parstore-attempt\u{0}" + $0) }
    }

    /// Whether `key` can be an attempt key: 1 to 255 visible ASCII characters.
    public static func isValidAttemptKey(_ key: String) -> Bool {
        (1...255).contains(key.utf8.count) && key.utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }
}
