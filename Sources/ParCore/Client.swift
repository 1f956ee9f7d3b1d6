/// How a client authenticates at the PAR endpoint (the token endpoint's methods, RFC 9126 §2).
public enum ClientAuthMethod: String, Sendable, CaseIterable, Codable {
    /// RFC 6749 §2.3.1, HTTP Basic with the form-urlencoded id and secret.
    case clientSecretBasic = "client_secret_basic"
    /// RFC 6749 §2.3.1, `client_id` and `client_secret` in the body.
    case clientSecretPost = "client_secret_post"
    /// A public client: no authentication, `client_id` only.
    case none

    /// Whether the method authenticates with a shared secret.
    public var usesSecret: Bool { self != .none }
}

/// A registered client, as the registry holds it.
public struct Client: Sendable, Equatable {
    /// The `client_id`.
    public var id: String
    /// The one authentication method this client may use.
    public var authMethod: ClientAuthMethod
    /// SHA-256 of the client secret, for secret methods; the secret itself is never stored.
    public var secretHash: [UInt8]?
    /// The exact redirect URIs a PAR may name.
    public var redirectURIs: [String]
    /// The scope values this client may request.
    public var scopes: Set<String>
    /// Push to first use, when it differs from the node's (below 600 s).
    public var requestLifetime: Duration?
    /// Load to redemption (login, MFA, consent), when it differs from the node's.
    public var interactionLifetime: Duration?
    /// Whether `/authorize` refuses this client's requests that were not pushed (RFC 9126 §6).
    public var requiresPushedRequests: Bool

    public init(
        id: String,
        authMethod: ClientAuthMethod,
        secretHash: [UInt8]?,
        redirectURIs: [String],
        scopes: Set<String>,
        requestLifetime: Duration? = nil,
        interactionLifetime: Duration? = nil,
        requiresPushedRequests: Bool = false
    ) {
        self.id = id
        self.authMethod = authMethod
        self.secretHash = secretHash
        self.redirectURIs = redirectURIs
        self.scopes = scopes
        self.requestLifetime = requestLifetime
        self.interactionLifetime = interactionLifetime
        self.requiresPushedRequests = requiresPushedRequests
    }

    /// Whether `secret` is this client's secret, compared in constant time.
    public func verifies(secret: String) -> Bool {
        guard let secretHash else { return false }
        return Secret.constantTimeEquals(Secret.sha256(secret), secretHash)
    }

    /// Checks a client id for registration: printable ASCII without spaces or `:` (which Basic auth reserves
    /// after encoding is undone by some clients), 1 to 200 characters.
    public static func isValidID(_ id: String) -> Bool {
        guard (1...200).contains(id.utf8.count) else { return false }
        return id.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: ":") }
    }
}
