import Foundation

/// Validates the parameters of a PAR as an authorization request (RFC 9126 §2.1, step 3), after the client was
/// authenticated and a request object, if any, was verified and unpacked.
///
/// Each refusal names its rule and never echoes a value.
public struct AuthorizationRequestValidator: Sendable {
    /// The largest `authorization_details` value, in bytes.
    public var maxAuthorizationDetailsSize: Int
    /// The most entries in `authorization_details`.
    public var maxAuthorizationDetailsEntries: Int

    public init(maxAuthorizationDetailsSize: Int = 8 * 1024, maxAuthorizationDetailsEntries: Int = 16) {
        self.maxAuthorizationDetailsSize = maxAuthorizationDetailsSize
        self.maxAuthorizationDetailsEntries = maxAuthorizationDetailsEntries
    }

    /// - Parameters:
    ///   - pairs: the authorization request's parameters: the form without client-authentication parameters, or
    ///     the request object's claims.
    ///   - client: the authenticated client.
    ///   - fromRequestObject: whether `pairs` came out of a verified request object (errors about nesting differ).
    /// - Returns: the request to store.
    /// - Throws: a 400 with `invalid_request`, `invalid_scope`, `unsupported_response_type`, `invalid_target`,
    ///   `invalid_authorization_details` or `invalid_request_object`.
    public func validate(
        _ pairs: [(name: String, value: String)],
        for client: Client,
        fromRequestObject: Bool = false
    ) throws(OAuthError) -> PushedRequest {
        // RFC 6749 §3.1: parameters sent without a value are treated as omitted.
        var sent = pairs.filter { !$0.value.isEmpty && !ClientCredentialReader.authenticationParameters.contains($0.name) }
        try Self.checkStorable(sent)
        // Not even inside a request object.
        try Self.refuseRequestURI(in: sent)
        if sent.contains(where: { $0.name == "request" }) {
            throw fromRequestObject
                ? OAuthError(.invalidRequestObject, "A request object must not contain another request object.")
                : .invalidRequest("The request parameter was not unpacked.")
        }
        // RFC 6749 §3.1: parameters must not be included more than once; RFC 8707 §2: resource may repeat.
        let singles = sent.filter { !PushedRequest.listParameters.contains($0.name) }
        if let repeated = FormParameters(pairs: singles).repeatedNames.first {
            throw .invalidRequest("The parameter \(OAuthError.quotable(repeated)) is included more than once.")
        }
        let parameters = Dictionary(singles.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })

        // RFC 6749 §4.1.1: client_id is required; RFC 9126 §2.1: it must be the authenticated client.
        guard let clientID = parameters["client_id"] else { throw .invalidRequest("The client_id parameter is missing.") }
        guard clientID == client.id else {
            throw .invalidRequest("The client_id parameter does not match the authenticated client.")
        }
        // RFC 6749 §4.1.1 / §3.1.1: only the authorization code flow.
        guard let responseType = parameters["response_type"] else {
            throw .invalidRequest("The response_type parameter is missing.")
        }
        guard responseType == "code" else {
            throw OAuthError(.unsupportedResponseType, "Only response_type=code is supported.")
        }
        let scopes = try Self.checkScope(parameters["scope"], for: client)
        try RedirectURIPolicy.check(parameters["redirect_uri"], for: client, openID: scopes.contains("openid"))
        try Self.checkPKCE(parameters)
        try Self.checkResources(sent.filter { $0.name == "resource" }.map(\.value))
        if let details = parameters["authorization_details"] {
            try checkAuthorizationDetails(details, for: client)
        }
        try OpenIDParameters.check(parameters)
        // Stored as JSON: written anew by the parser that checked them, so the stored text is always plain JSON.
        for (index, pair) in sent.enumerated() where PushedRequest.jsonParameters.contains(pair.name) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(pair.value.utf8)),
                let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            else { throw .invalidRequest("The \(pair.name) parameter is not JSON.") }
            sent[index].value = String(decoding: data, as: UTF8.self)
        }
        if let jkt = parameters["dpop_jkt"], !Secret.isBase64URL(jkt, length: 43) {
            throw .invalidRequest("The dpop_jkt parameter is not a base64url SHA-256 JWK thumbprint.")
        }
        // Stored as a JSON number: written without leading zeros.
        if let index = sent.firstIndex(where: { $0.name == "max_age" }), let maxAge = Int(sent[index].value) {
            sent[index].value = String(maxAge)
        }
        return PushedRequest(clientID: client.id, parameters: sent)
    }

    /// Every name and value can be stored as sent: no NUL character anywhere, and JSON values free of escapes
    /// that storage refuses (``StorableText``). Checked before anything is parsed.
    private static func checkStorable(_ pairs: [(name: String, value: String)]) throws(OAuthError) {
        for pair in pairs {
            guard StorableText.isStorable(pair.name), StorableText.isStorable(pair.value) else {
                throw .invalidRequest("A parameter contains a NUL character.")
            }
            if PushedRequest.jsonParameters.contains(pair.name), !StorableText.isStorableJSON(pair.value.utf8) {
                throw OAuthError(
                    pair.name == "authorization_details" ? .invalidAuthorizationDetails : .invalidRequest,
                    "The \(pair.name) parameter contains a NUL character or an unpaired surrogate escape."
                )
            }
        }
    }

    /// RFC 9126 §2.1 step 2: a `request_uri` is never accepted at the PAR endpoint.
    public static func refuseRequestURI(in pairs: [(name: String, value: String)]) throws(OAuthError) {
        if pairs.contains(where: { $0.name == "request_uri" }) {
            throw .invalidRequest("The request_uri parameter must not be sent to the pushed authorization request endpoint.")
        }
    }

    /// RFC 6749 §3.3: scope tokens, each allowed for the client.
    private static func checkScope(_ scope: String?, for client: Client) throws(OAuthError) -> [Substring] {
        guard let scope else { return [] }
        let tokens = scope.split(separator: " ", omittingEmptySubsequences: false)
        // scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
        guard tokens.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(Self.isScopeCharacter) }) else {
            throw OAuthError(.invalidScope, "The scope parameter is malformed.")
        }
        guard tokens.allSatisfy({ client.scopes.contains(String($0)) }) else {
            throw OAuthError(.invalidScope, "The requested scope exceeds what the client may request.")
        }
        return tokens
    }

    private static func isScopeCharacter(_ byte: UInt8) -> Bool {
        byte == 0x21 || (0x23...0x5B).contains(byte) || (0x5D...0x7E).contains(byte)
    }

    /// RFC 7636 §4.3 and §4.2; PKCE is required here and only S256 is accepted (RFC 9700 §2.1.1, FAPI 2.0).
    private static func checkPKCE(_ parameters: [String: String]) throws(OAuthError) {
        guard let challenge = parameters["code_challenge"] else {
            throw .invalidRequest("PKCE is required: the code_challenge parameter is missing.")
        }
        guard let method = parameters["code_challenge_method"] else {
            throw .invalidRequest("PKCE is required with code_challenge_method=S256.")
        }
        guard method == "S256" else {
            throw .invalidRequest("Only the S256 code_challenge_method is accepted.")
        }
        // RFC 7636 §4.2: BASE64URL(SHA256(verifier)), 43 unpadded characters.
        guard Secret.isBase64URL(challenge, length: 43) else {
            throw .invalidRequest("The code_challenge is not a base64url SHA-256 value of 43 characters.")
        }
    }

    /// RFC 8707 §2: each `resource` is an absolute URI without a fragment.
    private static func checkResources(_ resources: [String]) throws(OAuthError) {
        for resource in resources {
            guard let url = URLComponents(string: resource), let scheme = url.scheme, !scheme.isEmpty, url.fragment == nil,
                !resource.contains("#")
            else {
                throw OAuthError(.invalidTarget, "Each resource parameter must be an absolute URI without a fragment.")
            }
        }
    }

    /// RFC 9396 §2: a JSON array of objects, each with a `type` the client is registered for (§5); the common
    /// fields of §2.2 must have their types.
    private func checkAuthorizationDetails(_ text: String, for client: Client) throws(OAuthError) {
        func refuse(_ description: String) -> OAuthError { OAuthError(.invalidAuthorizationDetails, description) }
        guard text.utf8.count <= maxAuthorizationDetailsSize else {
            throw refuse("The authorization_details parameter is longer than \(maxAuthorizationDetailsSize) bytes.")
        }
        guard let array = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [Any] else {
            throw refuse("The authorization_details parameter must be a JSON array.")
        }
        guard !array.isEmpty else { throw refuse("The authorization_details array is empty.") }
        guard array.count <= maxAuthorizationDetailsEntries else {
            throw refuse("The authorization_details array has more than \(maxAuthorizationDetailsEntries) entries.")
        }
        for element in array {
            guard let detail = element as? [String: Any] else { throw refuse("Each authorization_details entry must be a JSON object.") }
            guard let type = detail["type"] as? String, !type.isEmpty else {
                throw refuse("Each authorization_details entry needs a type string.")
            }
            guard client.authorizationDetailsTypes.contains(type) else {
                throw refuse("An authorization_details type is not allowed for this client.")
            }
            for field in ["locations", "actions", "datatypes", "privileges"] where detail[field] != nil {
                guard let values = detail[field] as? [Any], values.allSatisfy({ $0 is String }) else {
                    throw refuse("The \(field) field of authorization_details must be an array of strings.")
                }
            }
            if let identifier = detail["identifier"], !(identifier is String) {
                throw refuse("The identifier field of authorization_details must be a string.")
            }
        }
    }
}
