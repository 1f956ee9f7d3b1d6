/// An OAuth error as RFC 6749 §5.2 defines it, with the HTTP status it is answered with.
///
/// The `description` is a human sentence written by ParStore; it never echoes a parameter value, a secret or a
/// `request_uri`, so an error may be logged and returned as it is.
public struct OAuthError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A stable error code (`error` in the JSON body).
    public struct Code: RawRepresentable, Sendable, Hashable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let invalidRequest = Code(rawValue: "invalid_request")
        public static let invalidClient = Code(rawValue: "invalid_client")
        public static let invalidScope = Code(rawValue: "invalid_scope")
        public static let unauthorizedClient = Code(rawValue: "unauthorized_client")
        public static let unsupportedResponseType = Code(rawValue: "unsupported_response_type")
        public static let invalidRequestURI = Code(rawValue: "invalid_request_uri")
        public static let invalidToken = Code(rawValue: "invalid_token")
        public static let invalidTicket = Code(rawValue: "invalid_ticket")
        public static let accessDenied = Code(rawValue: "access_denied")
        public static let temporarilyUnavailable = Code(rawValue: "temporarily_unavailable")
        public static let serverError = Code(rawValue: "server_error")
        /// RFC 9101 §6.3: the request object is invalid.
        public static let invalidRequestObject = Code(rawValue: "invalid_request_object")
        /// RFC 9396 §5: `authorization_details` is malformed or names what the client may not request.
        public static let invalidAuthorizationDetails = Code(rawValue: "invalid_authorization_details")
        /// RFC 9449 §5: the DPoP proof is invalid.
        public static let invalidDPoPProof = Code(rawValue: "invalid_dpop_proof")
        /// RFC 9449 §8: the proof must carry the nonce given in `DPoP-Nonce`.
        public static let useDPoPNonce = Code(rawValue: "use_dpop_nonce")
        /// RFC 8707 §2: a `resource` is not an absolute URI without fragment.
        public static let invalidTarget = Code(rawValue: "invalid_target")
    }

    /// The `error` value.
    public var code: Code
    /// The `error_description`: a sentence for people, free of request data.
    public var description: String
    /// The HTTP status code the error is answered with.
    public var status: Int
    /// A machine-readable sub-case (`reason` in the JSON body), e.g. why a redemption was refused.
    public var reason: String?
    /// Seconds after which a retry may succeed (`Retry-After`), for 429 and 503.
    public var retryAfter: Int?
    /// Set when the client authenticated with the `Authorization` header: the answer then carries
    /// `WWW-Authenticate` (RFC 6749 §5.2).
    public var challenge: String?
    /// A nonce the client must put in its next DPoP proof (`DPoP-Nonce`, RFC 9449 §8).
    public var dpopNonce: String?

    public init(
        _ code: Code,
        _ description: String,
        status: Int = 400,
        reason: String? = nil,
        retryAfter: Int? = nil,
        challenge: String? = nil,
        dpopNonce: String? = nil
    ) {
        self.code = code
        self.description = description
        self.status = status
        self.reason = reason
        self.retryAfter = retryAfter
        self.challenge = challenge
        self.dpopNonce = dpopNonce
    }

    /// 400 `invalid_request`.
    public static func invalidRequest(_ description: String) -> OAuthError {
        OAuthError(.invalidRequest, description)
    }

    /// 401 `invalid_client`, with a `Basic` challenge when the client used the `Authorization` header.
    public static func invalidClient(_ description: String, usedAuthorizationHeader: Bool) -> OAuthError {
        OAuthError(
            .invalidClient,
            description,
            status: 401,
            challenge: usedAuthorizationHeader ? #"Basic realm="parstore", charset="UTF-8""# : nil
        )
    }

    /// 503 `temporarily_unavailable`: the event store cannot be reached, nothing was done.
    public static let storeUnavailable = OAuthError(
        .temporarilyUnavailable,
        "The request store is temporarily unavailable; retry later.",
        status: 503,
        retryAfter: 1
    )
}

extension OAuthError {
    /// The parameter names an error description may quote: those of the specifications ParStore implements.
    /// Any other name was chosen by the caller and is never echoed.
    static let quotableNames: Set<String> = [
        "response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method",
        "nonce", "prompt", "max_age", "display", "response_mode", "ui_locales", "claims_locales", "acr_values",
        "id_token_hint", "login_hint", "claims", "request", "request_uri", "resource", "authorization_details",
        "dpop_jkt", "client_secret", "client_assertion", "client_assertion_type", "registration",
    ]

    /// `name` in quotes when it is a parameter the specifications define, else a neutral phrase: error
    /// descriptions never echo a name the caller made up.
    public static func quotable(_ name: some StringProtocol) -> String {
        let name = String(name)
        return quotableNames.contains(name) ? name : "(unrecognised name)"
    }
}
