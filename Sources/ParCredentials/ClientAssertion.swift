public import ParCore

/// How far a JWT's times may stray: `iat`/`nbf` up to `futureSkew` ahead of this node's clock, `iat` at most
/// `maxAge` behind it (FAPI 2.0 §5.3.2.1, RFC 9449 §11.1).
public struct JWTTimeWindow: Sendable {
    public var futureSkew: Double = 10
    public var maxAge: Double = 60

    public init(futureSkew: Double = 10, maxAge: Double = 60) {
        self.futureSkew = futureSkew
        self.maxAge = maxAge
    }
}

/// Verifies `private_key_jwt` client assertions (RFC 7523 §3, RFC 9126 §2, FAPI 2.0 §5.3.2.1).
public struct ClientAssertionVerifier: Sendable {
    /// The accepted `aud` values: the issuer, the token endpoint and the PAR endpoint (RFC 9126 §2).
    public let audiences: Set<String>
    public let window: JWTTimeWindow

    public init(audiences: Set<String>, window: JWTTimeWindow = JWTTimeWindow()) {
        self.audiences = audiences
        self.window = window
    }

    /// Verifies the assertion for `client` at time `now` (seconds since 1970).
    ///
    /// - Returns: the `jti`, to be used once.
    /// - Throws: 401 `invalid_client` naming the rule that failed.
    public func verify(_ assertion: String, for client: Client, now: Double) async throws(OAuthError) -> SingleUse {
        func refuse(_ description: String) -> OAuthError { .invalidClient(description, usedAuthorizationHeader: false) }
        let claims = try await CompactJWS.claims(
            of: assertion,
            what: "client assertion",
            types: ["jwt", "client-authentication+jwt"],
            client: client,
            refuse: refuse
        )
        // RFC 7523 §3 items 1 and 2: iss and sub are the client.
        guard claims.string("iss") == client.id, claims.string("sub") == client.id else {
            throw refuse("The client assertion's iss and sub must both be the client_id.")
        }
        // RFC 7523 §3 item 3, RFC 9126 §2: one audience, this server. Several audiences are refused
        // (the audience injection attack on multi-valued aud; draft-ietf-oauth-rfc7523bis).
        guard let audience = claims.strings("aud"), audience.count == 1, audiences.contains(audience[0]) else {
            throw refuse("The client assertion's aud must be the issuer, the token endpoint or the PAR endpoint URL.")
        }
        guard let expiry = claims.date("exp") else { throw refuse("The client assertion has no exp claim.") }
        guard expiry > now else { throw refuse("The client assertion has expired.") }
        if let notBefore = claims.date("nbf"), notBefore > now + window.futureSkew {
            throw refuse("The client assertion is not valid yet (nbf).")
        }
        if let issuedAt = claims.date("iat") {
            guard issuedAt <= now + window.futureSkew else { throw refuse("The client assertion was issued in the future (iat).") }
            guard issuedAt >= now - window.maxAge else {
                throw refuse("The client assertion is older than \(Int(window.maxAge)) seconds.")
            }
        } else if expiry > now + window.maxAge {
            // Without iat, its age is bounded by its expiry.
            throw refuse("A client assertion without iat must expire within \(Int(window.maxAge)) seconds.")
        }
        // RFC 7523 §3 item 7: the jti prevents replay; ParStore requires it.
        guard let jti = claims.string("jti"), !jti.isEmpty, jti.utf8.count <= 256 else {
            throw refuse("The client assertion needs a jti of at most 256 bytes.")
        }
        // Accepted until it expires or grows too old, whichever comes first: kept that long, never longer.
        let acceptedUntil = claims.date("iat").map { min(expiry, $0 + window.maxAge) } ?? expiry
        return SingleUse(namespace: "jti", parts: [client.id, jti], acceptedUntil: acceptedUntil, now: now, margin: window.futureSkew)
    }
}
