/// How a client authenticates at the PAR endpoint (the token endpoint's methods, RFC 9126 §2).
///
/// `client_secret_jwt` is not offered: secrets are stored only as SHA-256, and an HMAC needs the secret itself.
public enum ClientAuthMethod: String, Sendable, CaseIterable, Codable {
    /// RFC 6749 §2.3.1, HTTP Basic with the form-urlencoded id and secret.
    case clientSecretBasic = "client_secret_basic"
    /// RFC 6749 §2.3.1, `client_id` and `client_secret` in the body.
    case clientSecretPost = "client_secret_post"
    /// RFC 7523 §2.2: a JWT signed with a key of the client's registered JWKS.
    case privateKeyJWT = "private_key_jwt"
    /// RFC 8705 §2.1: a certificate from a trusted CA, matched on its subject DN or a SAN.
    case tlsClientAuth = "tls_client_auth"
    /// RFC 8705 §2.2: a self-signed certificate, matched on its registered SHA-256 thumbprint.
    case selfSignedTLSClientAuth = "self_signed_tls_client_auth"
    /// A public client: no authentication, `client_id` only.
    case none

    /// Whether the method authenticates with a shared secret.
    public var usesSecret: Bool { self == .clientSecretBasic || self == .clientSecretPost }

    /// Whether the method proves possession of a TLS client certificate.
    public var usesCertificate: Bool { self == .tlsClientAuth || self == .selfSignedTLSClientAuth }
}

/// The policy set a client is registered under.
public enum ClientProfile: String, Sendable, CaseIterable, Codable {
    /// OAuth 2.0 with the rules every ParStore client follows (PKCE S256, exact redirect URIs, ...).
    case standard
    /// FAPI 2.0 Security Profile: PAR required, `private_key_jwt` or mTLS only, `redirect_uri` required.
    case fapi2
}

/// What a client certificate must show (RFC 8705 §2.1.2 and §2.2.2); exactly one subject rule for
/// `tls_client_auth`, thumbprints for `self_signed_tls_client_auth`.
public struct CertificateBinding: Sendable, Equatable, Codable {
    /// `tls_client_auth_subject_dn`: the subject distinguished name, RFC 4514 text.
    public var subjectDN: String?
    /// `tls_client_auth_san_dns`.
    public var sanDNS: String?
    /// `tls_client_auth_san_uri`.
    public var sanURI: String?
    /// `tls_client_auth_san_ip`.
    public var sanIP: String?
    /// `tls_client_auth_san_email`.
    public var sanEmail: String?
    /// base64url SHA-256 thumbprints (`x5t#S256`) of the accepted self-signed certificates.
    public var thumbprints: [String]

    public init(
        subjectDN: String? = nil,
        sanDNS: String? = nil,
        sanURI: String? = nil,
        sanIP: String? = nil,
        sanEmail: String? = nil,
        thumbprints: [String] = []
    ) {
        self.subjectDN = subjectDN
        self.sanDNS = sanDNS
        self.sanURI = sanURI
        self.sanIP = sanIP
        self.sanEmail = sanEmail
        self.thumbprints = thumbprints
    }

    /// How many subject rules are set.
    public var subjectRuleCount: Int { [subjectDN, sanDNS, sanURI, sanIP, sanEmail].count { $0 != nil } }
}

/// A client's push rate: `perSecond` on average (fractions for slower rates: 0.1 is 6 a minute), up to `burst`
/// at once (GCRA, shared by all nodes).
public struct RateLimit: Sendable, Equatable, Codable {
    public var perSecond: Double
    public var burst: Int

    public init(perSecond: Double, burst: Int) {
        self.perSecond = perSecond
        self.burst = burst
    }
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
