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
