import Foundation

/// Authenticates the client of a PAR exactly as the token endpoint would (RFC 9126 §2.1, step 1).
///
/// Exactly one method may be used (RFC 6749 §2.3); it must be the client's registered method. Every failure is
/// `invalid_client` (401), with a `WWW-Authenticate` challenge when the `Authorization` header was used.
public struct ClientAuthenticator: Sendable {
    /// The form parameters that only authenticate and are never part of the authorization request.
    public static let authenticationParameters: Set<String> = [
        "client_secret", "client_assertion", "client_assertion_type",
    ]

    public init() {}

    /// - Parameters:
    ///   - authorization: the `Authorization` header, if any.
    ///   - form: the body's parameters.
    ///   - lookup: the registry.
    /// - Returns: the authenticated client.
    public func authenticate(
        authorization: String?,
        form: FormParameters,
        lookup: (String) -> Client?
    ) throws(OAuthError) -> Client {
        if let authorization {
            return try authenticateBasic(authorization, form: form, lookup: lookup)
        }
        if form.contains("client_assertion") || form.contains("client_assertion_type") {
            throw .invalidClient("JWT client assertions are not accepted for this client.", usedAuthorizationHeader: false)
        }
        guard let clientID = try form.single("client_id"), !clientID.isEmpty else {
            throw .invalidClient("The client is not identified: send client_id.", usedAuthorizationHeader: false)
        }
        let secret = try form.single("client_secret")
        guard let client = lookup(clientID) else {
            _ = Client.dummy.verifies(secret: secret ?? "")  // same work as for a known client
            throw .invalidClient("Client authentication failed.", usedAuthorizationHeader: false)
        }
        if let secret {
            guard client.authMethod == .clientSecretPost, client.verifies(secret: secret) else {
                throw .invalidClient("Client authentication failed.", usedAuthorizationHeader: false)
            }
            return client
        }
        guard client.authMethod == .none else {
            throw .invalidClient("Client authentication failed.", usedAuthorizationHeader: false)
        }
        return client
    }

    private func authenticateBasic(_ header: String, form: FormParameters, lookup: (String) -> Client?) throws(OAuthError) -> Client {
        let failure = OAuthError.invalidClient("Client authentication failed.", usedAuthorizationHeader: true)
        guard header.count > 6, header.prefix(6).lowercased() == "basic " else {
            throw .invalidClient("Only the Basic authentication scheme is accepted.", usedAuthorizationHeader: true)
        }
        if form.contains("client_secret") || form.contains("client_assertion") {
            throw .invalidRequest("The client used more than one authentication method.")
        }
        let encoded = header.dropFirst(6).trimmingCharacters(in: .whitespaces)
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
