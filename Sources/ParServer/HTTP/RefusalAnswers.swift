import ParCore

/// Where a refusal is answered; each face has its own OAuth error code for the same reason.
enum RefusalFace {
    /// `GET /authorize`: shown to the user (or sent back to the client).
    case authorizationEndpoint
    /// `POST /v1/redeem` with a `request_uri`.
    case redemptionByRequestURI
    /// `POST /v1/redeem` with a ticket.
    case redemptionByTicket
    /// `GET /v1/tickets/{ticket}`.
    case ticketRead
}

extension OAuthError {
    /// The one place a ``RefusalReason`` becomes an OAuth error and an HTTP status. The `reason` member carries its
    /// raw value, the same word Redis and PostgreSQL answer with.
    init(refusal reason: RefusalReason, at face: RefusalFace) {
        let sentence =
            switch reason {
            case .unknown: "The request_uri is unknown."
            case .expired: "The request_uri has expired."
            case .alreadyUsed: "The request_uri was already used."
            case .wrongClient: "The request_uri was not issued to this client."
            case .wrongUserAgent: "The request is being used in another browser."
            case .unregisteredClient: "The client of this request is not registered."
            }
        let (code, status): (OAuthError.Code, Int) =
            switch face {
            // RFC 9101 §6.2: invalid_request_uri for the request_uri itself; the wrong client is a bad request, and
            // another browser is refused.
            case .authorizationEndpoint:
                switch reason {
                case .unknown, .expired, .alreadyUsed: (.invalidRequestURI, 400)
                case .wrongClient, .unregisteredClient: (.invalidRequest, 400)
                case .wrongUserAgent: (.accessDenied, 400)
                }
            case .redemptionByRequestURI: (.invalidRequestURI, 400)
            case .redemptionByTicket: (.invalidTicket, 400)
            case .ticketRead: (.invalidTicket, 404)
            }
        self.init(code, sentence, status: status, reason: reason.rawValue)
    }
}
