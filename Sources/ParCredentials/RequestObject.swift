import Foundation
public import ParCore

/// Verifies and unpacks a request object pushed in the `request` parameter (RFC 9126 §3, RFC 9101 §4-§6).
public struct RequestObjectVerifier: Sendable {
    /// The `aud` a request object must name: the issuer (RFC 9101 §4).
    public let issuer: String
    public let window: JWTTimeWindow
    /// JWT claims that are not authorization request parameters.
    static let envelopeClaims: Set<String> = ["iss", "aud", "exp", "nbf", "iat", "jti", "sub"]

    public init(issuer: String, window: JWTTimeWindow = JWTTimeWindow()) {
        self.issuer = issuer
        self.window = window
    }

    /// - Returns: the authorization request's parameters: the claims, as form values (`resource` arrays as
    ///   repeated values, objects and arrays as JSON text).
    /// - Throws: 400 `invalid_request_object`.
    public func parameters(from token: String, for client: Client, now: Double) async throws(OAuthError) -> [(name: String, value: String)] {
        func refuse(_ description: String) -> OAuthError { OAuthError(.invalidRequestObject, description) }
        let claims = try await CompactJWS.claims(
            of: token,
            what: "request object",
            types: ["jwt", "oauth-authz-req+jwt"],
            client: client,
            refuse: refuse
        )
        // RFC 9126 §3: the client_id claim must be the authenticated client; iss, when sent, too.
        guard claims.string("client_id") == client.id else {
            throw refuse("The request object's client_id claim must be the authenticated client.")
        }
        if claims.contains("iss") || client.profile == .fapi2, claims.string("iss") != client.id {
            throw refuse("The request object's iss claim must be the client_id.")
        }
        guard let audience = claims.strings("aud"), audience.contains(issuer) else {
            throw refuse("The request object's aud must be the issuer.")
        }
        guard let expiry = claims.date("exp") else { throw refuse("The request object has no exp claim.") }
        guard expiry > now else { throw refuse("The request object has expired.") }
        let notBefore = claims.date("nbf")
        if let notBefore, notBefore > now + window.futureSkew { throw refuse("The request object is not valid yet (nbf).") }
        if let issuedAt = claims.date("iat"), issuedAt > now + window.futureSkew {
            throw refuse("The request object was issued in the future (iat).")
        }
        // FAPI 2.0 Message Signing §5.3.1: nbf at most 60 minutes old, exp at most 60 minutes after nbf.
        if client.profile == .fapi2 {
            guard let notBefore, notBefore >= now - 3600, expiry - notBefore <= 3600 else {
                throw refuse("FAPI 2.0 request objects need nbf and exp at most 60 minutes apart, nbf at most 60 minutes old.")
            }
        }
        return try Self.formValues(of: claims)
    }

    /// Claims as form values: strings as they are, numbers and booleans as their JSON text, `resource` arrays as
    /// repeated values, other arrays and objects as JSON text.
    static func formValues(of claims: JSONObject) throws(OAuthError) -> [(name: String, value: String)] {
        var pairs: [(name: String, value: String)] = []
        for name in claims.members.keys.sorted() where !envelopeClaims.contains(name) {
            let value = claims.members[name]!
            switch value {
            case is NSNull: continue
            case let string as String: pairs.append((name, string))
            case is [Any] where PushedRequest.listParameters.contains(name):
                guard let strings = claims.strings(name) else {
                    throw OAuthError(.invalidTarget, "Each resource in the request object must be a string.")
                }
                pairs += strings.map { (name, $0) }
            case is [Any], is [String: Any]: pairs.append((name, claims.jsonText(name) ?? ""))
            case _ where JSONObject.isBoolean(value): pairs.append((name, (value as? Bool) == true ? "true" : "false"))
            case is NSNumber:
                guard let integer = claims.integer(name) else {
                    throw OAuthError(.invalidRequestObject, "The request object's \(OAuthError.quotable(name)) claim is not a usable number.")
                }
                pairs.append((name, String(integer)))
            default: throw OAuthError(.invalidRequestObject, "The request object has a claim of an unusable type.")
            }
        }
        return pairs
    }
}
