import Foundation

/// What authenticating a client needs, once the method is known.
public enum ClientCredential: Sendable, Equatable {
    /// Done: the secret matched, or a public client named itself.
    case authenticated(Client)
    /// `private_key_jwt`: the assertion must still be verified against the client's keys and used once.
    case assertion(Client, String)
    /// `tls_client_auth` / `self_signed_tls_client_auth`: the forwarded certificate must still be matched.
    case certificate(Client)
}

/// Picks the client's authentication method as the token endpoint would (RFC 9126 §2.1, step 1) and checks
/// shared secrets; what needs keys or certificates is finished by the caller.
///
/// Exactly one method may be used (RFC 6749 §2.3); it must be the client's registered method. Every failure is
/// `invalid_client` (401), with a `WWW-Authenticate` challenge when the `Authorization` header was used.
public struct ClientCredentialReader: Sendable {
    /// The form parameters that only authenticate and are never part of the authorization request.
    public static let authenticationParameters: [String] = [
        "client_secret", "client_assertion", "client_assertion_type",
    ]
    /// RFC 7523 §2.2.
    public static let jwtBearerAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

    public init() {}

    /// - Parameters:
    ///   - authorization: the `Authorization` header, if any.
    ///   - form: the body's parameters.
    ///   - lookup: the registry.
    public func read(
        authorization: String?,
        form: FormParameters,
        lookup: (String) -> Client?
    ) throws(OAuthError) -> ClientCredential {
        let usesAssertion = form.contains("client_assertion") || form.contains("client_assertion_type")
        let usesSecret = form.contains("client_secret")
        if [authorization != nil, usesAssertion, usesSecret].count(where: { $0 }) > 1 {
            throw .invalidRequest("The client used more than one authentication method.")
        }
        if let authorization {
            return .authenticated(try authenticateBasic(authorization, lookup: lookup))
        }
        // RFC 9126 §2.1: client_id is required in a PAR, whatever the method.
        guard let clientID = try form.single("client_id"), !clientID.isEmpty else {
            throw .invalidClient("The client is not identified: send client_id.", usedAuthorizationHeader: false)
        }
        let failure = OAuthError.invalidClient("Client authentication failed.", usedAuthorizationHeader: false)
        if usesAssertion {
            guard try form.single("client_assertion_type") == Self.jwtBearerAssertionType else {
                throw .invalidClient("The client_assertion_type must be \(Self.jwtBearerAssertionType).", usedAuthorizationHeader: false)
            }
            guard let assertion = try form.single("client_assertion"), !assertion.isEmpty else {
                throw .invalidClient("The client_assertion parameter is missing.", usedAuthorizationHeader: false)
            }
            guard let client = lookup(clientID), client.authMethod == .privateKeyJWT else { throw failure }
            return .assertion(client, assertion)
        }
        if let secret = try form.single("client_secret") {
            guard let client = lookup(clientID) else {
                _ = Client.dummy.verifies(secret: secret)  // same work as for a known client
                throw failure
            }
            guard client.authMethod == .clientSecretPost, client.verifies(secret: secret) else { throw failure }
            return .authenticated(client)
        }
        guard let client = lookup(clientID) else { throw failure }
        switch client.authMethod {
        case .none: return .authenticated(client)
        case .tlsClientAuth, .selfSignedTLSClientAuth: return .certificate(client)
        case .clientSecretBasic, .clientSecretPost, .privateKeyJWT: throw failure
        }
    }

    private func authenticateBasic(_ header: String, lookup: (String) -> Client?) throws(OAuthError) -> Client {
        let failure = OAuthError.invalidClient("Client authentication failed.", usedAuthorizationHeader: true)
        guard header.count > 6, header.prefix(6).lowercased() == "basic " else {
            throw .invalidClient("Only the Basic authentication scheme is accepted.", usedAuthorizationHeader: true)
        }
        let encoded = String(header.dropFirst(6).trimmingHTTPWhitespace)
        guard let decoded = Data(base64Encoded: encoded), let credentials = String(data: decoded, encoding: .utf8),
            let colon = credentials.firstIndex(of: ":"),
            let clientID = Self.formDecode(credentials[..<colon]),
            let secret = Self.formDecode(credentials[credentials.index(after: colon)...])
        else {
            throw .invalidClient("The Authorization header is not valid Basic credentials.", usedAuthorizationHeader: true)
        }
        guard let client = lookup(clientID) else {
            _ = Client.dummy.verifies(secret: secret)
            throw failure
        }
        guard client.authMethod == .clientSecretBasic, client.verifies(secret: secret) else { throw failure }
        return client
    }

    /// Undoes the form-urlencoding RFC 6749 §2.3.1 applies to the id and secret before Basic encoding.
    static func formDecode(_ text: Substring) -> String? {
        guard let form = try? FormParameters(parsing: Array("v=".utf8) + Array(text.utf8)), form.pairs.count == 1 else { return nil }
        return form.pairs[0].value
    }
}

extension Client {
    /// A client that matches nothing, to spend the same time on unknown clients as on known ones.
    static let dummy = Client(
        id: "",
        authMethod: .clientSecretPost,
        secretHash: [UInt8](repeating: 0, count: 32),
        redirectURIs: [],
        scopes: []
    )
}
