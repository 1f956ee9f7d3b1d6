import ArgumentParser
import Foundation
import ParCore
import ParCredentials

/// A client as `parstore clients import` reads it from JSON or YAML, and as `clients add` builds it from flags:
/// RFC 7591 metadata names where they exist.
struct ClientDocument: Codable {
    var client_id: String
    var token_endpoint_auth_method: String
    var redirect_uris: [String] = []
    var scope: String?
    /// A secret to register (stored only as its SHA-256); without one, a secret client gets a generated secret.
    var client_secret: String?
    /// The SHA-256 of the secret, hex, when the secret itself is kept elsewhere.
    var client_secret_sha256: String?
    /// RFC 7591 `jwks`, inline.
    var jwks: JSONValue?
    /// A JWKS file, relative to the imported file.
    var jwks_file: String?
    var tls_client_auth_subject_dn: String?
    var tls_client_auth_san_dns: String?
    var tls_client_auth_san_uri: String?
    var tls_client_auth_san_ip: String?
    var tls_client_auth_san_email: String?
    /// base64url SHA-256 thumbprints of self-signed certificates (`x5t#S256`).
    var tls_client_certificate_thumbprints: [String]?
    var profile: String?
    var authorization_details_types: [String]?
    var require_signed_request_object: Bool?
    var require_pushed_authorization_requests: Bool?
    var allow_unregistered_redirect_uris: Bool?
    var redirect_uri_prefixes: [String]?
    /// Seconds.
    var request_lifetime: Int?
    /// Seconds.
    var interaction_lifetime: Int?
    /// Pushes per second, and the burst (default: the rate).
    var rate_limit: Double?
    var rate_limit_burst: Int?

    init(clientID: String, authMethod: String) {
        self.client_id = clientID
        self.token_endpoint_auth_method = authMethod
    }

    /// Checks the document and builds the client.
    ///
    /// - Parameters:
    ///   - existing: the registered client with this id, whose secret is kept when the document names none.
    ///   - folder: where `jwks_file` is looked up.
    /// - Returns: the client, and a newly generated secret to show once.
    func client(existing: Client?, folder: URL?) throws -> (Client, generatedSecret: String?) {
        func invalid(_ message: String) -> ValidationError { ValidationError("client \(client_id): \(message)") }
        guard Client.isValidID(client_id) else {
            throw ValidationError("client ids are 1 to 200 printable ASCII characters without spaces or ':'")
        }
        guard let method = ClientAuthMethod(rawValue: token_endpoint_auth_method) else {
            throw invalid("token_endpoint_auth_method must be one of " + ClientAuthMethod.allCases.map(\.rawValue).joined(separator: ", "))
        }
        guard let profile = ClientProfile(rawValue: profile ?? "standard") else { throw invalid("profile must be standard or fapi2") }
        guard !redirect_uris.isEmpty else { throw invalid("at least one redirect URI is required") }
        for uri in redirect_uris {
            guard let url = URLComponents(string: uri), url.scheme != nil, url.fragment == nil else {
                throw invalid("redirect URIs must be absolute URIs without a fragment")
            }
        }
        if let seconds = request_lifetime, !(1...599).contains(seconds) {
            throw invalid("request_lifetime must be 1 to 599 seconds (FAPI 2.0: below 600)")
        }
        if let seconds = interaction_lifetime, !(1...86_400).contains(seconds) {
            throw invalid("interaction_lifetime must be 1 to 86400 seconds")
        }

        // Credentials: a secret for the secret methods, keys for private_key_jwt, a certificate rule for mTLS.
        var secretHash: [UInt8]? = nil
        var generated: String? = nil
        if method.usesSecret {
            if let secret = client_secret {
                guard secret.utf8.count >= 32 else { throw invalid("client_secret must have at least 32 characters") }
                secretHash = Secret.sha256(secret)
            } else if let hex = client_secret_sha256 {
                guard let bytes = Secret.bytes(fromHex: hex), bytes.count == 32 else { throw invalid("client_secret_sha256 must be 64 hex digits") }
                secretHash = bytes
            } else if let kept = existing?.secretHash, existing?.authMethod.usesSecret == true {
                secretHash = kept
            } else {
                generated = Secret.random(byteCount: 32)
                secretHash = generated.map(Secret.sha256)
            }
        } else if client_secret != nil || client_secret_sha256 != nil {
            throw invalid("only client_secret_basic and client_secret_post clients have a secret")
        }
        let jwks = try jwksText(folder: folder)
        if let jwks, let problem = JWKSet.problem(jwks) { throw invalid(problem) }
        if method == .privateKeyJWT && jwks == nil { throw invalid("private_key_jwt needs the client's jwks") }
        if require_signed_request_object == true && jwks == nil { throw invalid("signed request objects need the client's jwks") }
        let certificate = CertificateBinding(
            subjectDN: tls_client_auth_subject_dn,
            sanDNS: tls_client_auth_san_dns,
            sanURI: tls_client_auth_san_uri,
            sanIP: tls_client_auth_san_ip,
            sanEmail: tls_client_auth_san_email,
            thumbprints: tls_client_certificate_thumbprints ?? []
        )
        switch method {
        case .tlsClientAuth:
            guard certificate.subjectRuleCount == 1 else {
                throw invalid("tls_client_auth needs exactly one of the subject DN and the SAN rules (RFC 8705 §2.1.2)")
            }
            if let ip = certificate.sanIP, IPAddress.bytes(ip) == nil { throw invalid("tls_client_auth_san_ip must be an IP address") }
        case .selfSignedTLSClientAuth:
            guard !certificate.thumbprints.isEmpty, certificate.thumbprints.allSatisfy({ Secret.isBase64URL($0, length: 43) }) else {
                throw invalid("self_signed_tls_client_auth needs certificate thumbprints (base64url SHA-256, 43 characters)")
            }
        default:
            if certificate != CertificateBinding() { throw invalid("certificate rules are for the mutual-TLS methods only") }
        }
        if profile == .fapi2 && !(method == .privateKeyJWT || method.usesCertificate) {
            throw invalid("FAPI 2.0 clients authenticate with private_key_jwt, tls_client_auth or self_signed_tls_client_auth")
        }
        let prefixes = redirect_uri_prefixes ?? []
        if allow_unregistered_redirect_uris == true && method == .none {
            throw invalid("public clients cannot use unregistered redirect URIs (RFC 9126 §7.2)")
        }
        if !prefixes.isEmpty && allow_unregistered_redirect_uris != true {
            throw invalid("redirect_uri_prefixes need allow_unregistered_redirect_uris")
        }
        guard prefixes.allSatisfy(RedirectURIPolicy.isValidPrefix) else {
            throw invalid("redirect URI prefixes must be https URIs with a host and a path starting with /")
        }
        var rateLimit: RateLimit? = nil
        if let rate = rate_limit {
            let burst = rate_limit_burst ?? max(1, Int(rate.rounded(.up)))
            guard rate > 0, rate.isFinite, burst >= 1 else { throw invalid("rate_limit must be above 0 and rate_limit_burst at least 1") }
            rateLimit = RateLimit(perSecond: rate, burst: burst)
        } else if rate_limit_burst != nil {
            throw invalid("rate_limit_burst needs rate_limit")
        }

        let client = Client(
            id: client_id,
            authMethod: method,
            secretHash: secretHash,
            redirectURIs: redirect_uris,
            scopes: Set((scope ?? "").split(separator: " ").map(String.init)),
            requestLifetime: request_lifetime.map { .seconds($0) },
            interactionLifetime: interaction_lifetime.map { .seconds($0) },
            requiresPushedRequests: require_pushed_authorization_requests ?? false,
            jwks: jwks,
            certificate: method.usesCertificate ? certificate : nil,
            profile: profile,
            authorizationDetailsTypes: Set(authorization_details_types ?? []),
            requiresSignedRequestObject: require_signed_request_object ?? false,
            allowsUnregisteredRedirectURIs: allow_unregistered_redirect_uris ?? false,
            redirectURIPrefixes: prefixes,
            rateLimit: rateLimit
        )
        return (client, generated)
    }

    /// The JWKS as compact JSON text, from `jwks` or `jwks_file`.
    private func jwksText(folder: URL?) throws -> String? {
        switch (jwks, jwks_file) {
        case (nil, nil): return nil
        case (let value?, nil): return try value.jsonText()
        case (nil, let path?):
            let url = folder.map { URL(fileURLWithPath: path, relativeTo: $0) } ?? URL(fileURLWithPath: path)
            guard let data = try? Data(contentsOf: url) else { throw ValidationError("client \(client_id): cannot read \(path)") }
            guard let value = try? JSONDecoder().decode(JSONValue.self, from: data) else {
                throw ValidationError("client \(client_id): \(path) is not JSON")
            }
            return try value.jsonText()
        default: throw ValidationError("client \(client_id): give jwks or jwks_file, not both")
        }
    }
}

/// Any JSON value, to carry an inline JWKS through JSON or YAML decoding.
enum JSONValue: Codable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    func jsonText() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
