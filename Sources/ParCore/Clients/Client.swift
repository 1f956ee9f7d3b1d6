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
    /// The client's public keys, a JWKS as JSON text (RFC 7517 §5): `private_key_jwt` and request objects.
    public var jwks: String?
    /// What its TLS client certificate must show, for the mTLS methods.
    public var certificate: CertificateBinding?
    /// The policy set it is registered under.
    public var profile: ClientProfile
    /// The `authorization_details` types it may request (RFC 9396 §10).
    public var authorizationDetailsTypes: Set<String>
    /// Whether every PAR must carry a signed request object (RFC 9126 §3, RFC 9101 §10.5).
    public var requiresSignedRequestObject: Bool
    /// Whether a PAR may name a redirect URI that is not registered (RFC 9126 §2.4); never for public clients.
    public var allowsUnregisteredRedirectURIs: Bool
    /// When set, unregistered redirect URIs must start with one of these.
    public var redirectURIPrefixes: [String]
    /// Its push rate limit; `nil` is the node's default.
    public var rateLimit: RateLimit?

    public init(
        id: String,
        authMethod: ClientAuthMethod,
        secretHash: [UInt8]?,
        redirectURIs: [String],
        scopes: Set<String>,
        requestLifetime: Duration? = nil,
        interactionLifetime: Duration? = nil,
        requiresPushedRequests: Bool = false,
        jwks: String? = nil,
        certificate: CertificateBinding? = nil,
        profile: ClientProfile = .standard,
        authorizationDetailsTypes: Set<String> = [],
        requiresSignedRequestObject: Bool = false,
        allowsUnregisteredRedirectURIs: Bool = false,
        redirectURIPrefixes: [String] = [],
        rateLimit: RateLimit? = nil
    ) {
        self.id = id
        self.authMethod = authMethod
        self.secretHash = secretHash
        self.redirectURIs = redirectURIs
        self.scopes = scopes
        self.requestLifetime = requestLifetime
        self.interactionLifetime = interactionLifetime
        self.requiresPushedRequests = requiresPushedRequests
        self.jwks = jwks
        self.certificate = certificate
        self.profile = profile
        self.authorizationDetailsTypes = authorizationDetailsTypes
        self.requiresSignedRequestObject = requiresSignedRequestObject
        self.allowsUnregisteredRedirectURIs = allowsUnregisteredRedirectURIs
        self.redirectURIPrefixes = redirectURIPrefixes
        self.rateLimit = rateLimit
    }

    /// Whether `/authorize` must refuse this client's requests that were not pushed: its own setting, or FAPI 2.0.
    public var mustPush: Bool { requiresPushedRequests || profile == .fapi2 }

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
