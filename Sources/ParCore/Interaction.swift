import Crypto

/// The value of the browser's binding cookie: binds a loaded request to one user agent.
///
/// 128 random bits followed by a 128-bit MAC of them under a key every node derives from their shared secret, so
/// a value no node issued is refused without a database read. Only its SHA-256 is stored. One value serves every
/// request the browser loads.
public struct UserAgentBinding: Sendable, Hashable {
    /// The cookie's name: `__Host-` prefixed when it is `Secure` (then `Path=/` and no `Domain`, RFC 6265bis §4.1.3.2),
    /// so no sibling host and no plain-HTTP page can set it.
    public static func cookieName(secure: Bool) -> String { secure ? "__Host-parstore_ua" : "parstore_ua" }

    public let value: String

    /// The MAC key of binding values, derived from the nodes' shared secret (the API key).
    public struct Key: Sendable {
        fileprivate let key: SymmetricKey

        public init(secret: String) {
            key = HKDF<SHA256>.deriveKey(
                inputKeyMaterial: SymmetricKey(data: Array(secret.utf8)),
                info: Array("parstore user-agent binding v1".utf8),
                outputByteCount: 32
            )
        }

        fileprivate func tag(_ nonce: [UInt8]) -> [UInt8] {
            Array(HMAC<SHA256>.authenticationCode(for: nonce, using: key).prefix(16))
        }
    }

    /// A new binding for a browser that has none.
    public static func make(key: Key) -> UserAgentBinding {
        let nonce = SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) }
        return UserAgentBinding(value: Secret.base64URL(nonce + key.tag(nonce)))
    }

    private init(value: String) { self.value = value }

    /// A binding read back from the cookie; `nil` unless a node holding `key` issued it.
    public init?(cookie: Substring, key: Key) {
        guard Secret.isBase64URL(cookie, length: 43), let bytes = Secret.bytes(fromBase64URL: cookie), bytes.count == 32,
            Secret.constantTimeEquals(key.tag(Array(bytes[..<16])), Array(bytes[16...]))
        else { return nil }
        self.value = String(cookie)
    }

    /// What the `loaded` event stores.
    public var hash: [UInt8] { Secret.sha256(value) }
}

/// The opaque ticket the authorization server's UI receives after a load: `t1.<yyyymmdd>.<43 base64url>`.
///
/// It is derived from the user agent's binding and the request reference, so a reload from the same browser
/// yields the same ticket without storing it; it reveals neither (SHA-256). The day is the request's partition.
public struct Ticket: Sendable, Hashable {
    private static let version = "t1"
    public let value: String
    public let day: PartitionDay

    /// The ticket of `reference` loaded by the user agent holding `binding`.
    public init(binding: UserAgentBinding, reference: RequestReference) {
        let digest = Secret.sha256("parstore-ticket\u{0}" + binding.value + "\u{0}" + reference.value)
        self.day = reference.day
        self.value = Self.version + "." + reference.day.compact + "." + Secret.base64URL(digest)
    }

    /// A ticket sent back by the authorization server; `nil` unless ParStore could have issued it.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == Self.version, let day = PartitionDay(compact: parts[1]),
            Secret.isBase64URL(parts[2], length: 43)
        else { return nil }
        self.value = text
        self.day = day
    }

    /// What the `loaded` event stores and lookups use.
    public var hash: [UInt8] { Secret.sha256(value) }
}

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

/// The outcome of loading a request at the authorization endpoint.
public enum LoadResult: Sendable, Equatable {
    /// First load: the request is now bound to this user agent.
    case loaded(Ticket)
    /// The same user agent again, within the interaction lifetime: the same ticket.
    case reloaded(Ticket)
    case refused(RefusalReason)
}

/// A loaded request as the authorization server's UI reads it through its ticket.
public struct TicketedRequest: Sendable, Equatable {
    public var clientID: String
    public var parametersJSON: String
    public var pushedAtMillis: Int64
    public var loadedAtMillis: Int64
    /// The interaction deadline: redeem before it.
    public var expiresAtMillis: Int64

    public init(clientID: String, parametersJSON: String, pushedAtMillis: Int64, loadedAtMillis: Int64, expiresAtMillis: Int64) {
        self.clientID = clientID
        self.parametersJSON = parametersJSON
        self.pushedAtMillis = pushedAtMillis
        self.loadedAtMillis = loadedAtMillis
        self.expiresAtMillis = expiresAtMillis
    }
}
