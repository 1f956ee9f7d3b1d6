/// Validates the body of a PAR as an authorization request (RFC 9126 §2.1, steps 2 and 3), after the client
/// was authenticated.
///
/// Each refusal names its rule and never echoes a value.
public struct AuthorizationRequestValidator: Sendable {
    public init() {}

    /// - Returns: the request to store.
    /// - Throws: `invalid_request`, `invalid_scope`, `unsupported_response_type` or `request_not_supported` (400).
    public func validate(_ form: FormParameters, for client: Client) throws(OAuthError) -> PushedRequest {
        // RFC 9126 §2.1: a request_uri is never accepted at the PAR endpoint.
        if form.contains("request_uri") {
            throw .invalidRequest("The request_uri parameter must not be sent to the pushed authorization request endpoint.")
        }
        // RFC 6749 §3.1: parameters sent without a value are treated as omitted.
        let sent = form.pairs.filter { !$0.value.isEmpty && !ClientAuthenticator.authenticationParameters.contains($0.name) }
        // RFC 6749 §3.1: request and response parameters must not be included more than once.
        if let repeated = FormParameters(pairs: sent).repeatedNames.first {
            throw .invalidRequest("The parameter \(repeated) is included more than once.")
        }
        let parameters = Dictionary(sent.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })

        // RFC 9101 request objects come with a later release; refuse them rather than store them unverified.
        if parameters["request"] != nil {
            throw OAuthError(.requestNotSupported, "Request objects (the request parameter) are not supported.")
        }
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
        // RFC 6749 §3.1.2.3, RFC 9126 §2.4: redirect_uri is required and must be registered exactly.
        guard let redirectURI = parameters["redirect_uri"] else {
            throw .invalidRequest("The redirect_uri parameter is missing.")
        }
        guard client.redirectURIs.contains(redirectURI) else {
            throw .invalidRequest("The redirect_uri is not registered for this client.")
        }
        // RFC 6749 §3.3: scope tokens, each allowed for the client.
        if let scope = parameters["scope"] {
            let tokens = scope.split(separator: " ", omittingEmptySubsequences: false)
            guard tokens.allSatisfy(Self.isScopeToken) else {
                throw OAuthError(.invalidScope, "The scope parameter is malformed.")
            }
            guard tokens.allSatisfy({ client.scopes.contains(String($0)) }) else {
                throw OAuthError(.invalidScope, "The requested scope exceeds what the client may request.")
            }
        }
        // RFC 7636 §4.3 and §4.2; PKCE is required here and only S256 is accepted (RFC 9700 §2.1.1).
        guard let challenge = parameters["code_challenge"] else {
            throw .invalidRequest("PKCE is required: the code_challenge parameter is missing.")
        }
        guard let method = parameters["code_challenge_method"] else {
            throw .invalidRequest("PKCE is required with code_challenge_method=S256.")
        }
        guard method == "S256" else {
            throw .invalidRequest("Only the S256 code_challenge_method is accepted.")
        }
        guard challenge.utf8.count == 43, challenge.utf8.allSatisfy(Self.isUnreserved) else {
            throw .invalidRequest("The code_challenge is not a base64url SHA-256 value of 43 characters.")
        }
        return PushedRequest(clientID: client.id, parameters: sent)
    }

    /// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
    private static func isScopeToken(_ token: Substring) -> Bool {
        !token.isEmpty && token.utf8.allSatisfy { $0 == 0x21 || (0x23...0x5B).contains($0) || (0x5D...0x7E).contains($0) }
    }

    /// RFC 7636 §4.1: `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default: false
        }
    }
}
