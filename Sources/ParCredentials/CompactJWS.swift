import Foundation
import JWTKit
import ParCore

/// A compact JWS, split and decoded but not yet verified.
public struct CompactJWS: Sendable {
    public let header: JSONObject
    public let claims: JSONObject
    public let algorithm: JWSAlgorithm
    let signingInput: [UInt8]
    let signature: [UInt8]

    /// Why a token is not a JWS ParStore can verify; the sentence never quotes the token.
    public enum Failure: Error, Sendable, Equatable {
        case encrypted
        case malformed
        case unsupportedAlgorithm
        case criticalHeader
        /// `exp`, `nbf` or `iat` is present but not a NumericDate (RFC 7519 §4.1.4–4.1.6): never read as absent.
        case malformedTime

        public var description: String {
            switch self {
            case .encrypted: "Encrypted JWTs (JWE) are not supported."
            case .malformed: "The JWT is not a well-formed compact JWS with a JSON header and claims set."
            case .unsupportedAlgorithm: "The JWT is not signed with one of " + JWSAlgorithm.names.joined(separator: ", ") + "."
            case .criticalHeader: "The JWT has critical header parameters that are not understood."
            case .malformedTime: "The JWT's exp, nbf or iat is not a number of seconds (NumericDate)."
            }
        }
    }

    public init(_ token: String) throws(Failure) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 5 { throw .encrypted }
        guard parts.count == 3, !parts[2].isEmpty,
            let headerBytes = Secret.bytes(fromBase64URL: parts[0]), let header = JSONObject(parsing: headerBytes),
            let claimsBytes = Secret.bytes(fromBase64URL: parts[1]), let claims = JSONObject(parsing: claimsBytes),
            let signature = Secret.bytes(fromBase64URL: parts[2])
        else { throw .malformed }
        guard let name = header.string("alg"), let algorithm = JWSAlgorithm(rawValue: name) else { throw .unsupportedAlgorithm }
        // RFC 7515 §4.1.11: a crit header this implementation does not understand makes the JWS invalid.
        guard !header.contains("crit") else { throw .criticalHeader }
        guard ["exp", "nbf", "iat"].allSatisfy({ !claims.contains($0) || claims.date($0) != nil }) else { throw .malformedTime }
        self.header = header
        self.claims = claims
        self.algorithm = algorithm
        self.signingInput = Array(parts[0].utf8) + [UInt8(ascii: ".")] + Array(parts[1].utf8)
        self.signature = signature
    }

    /// The claims of a JWT a client signed with one of its registered keys: well formed, explicitly typed as
    /// `types` allow (or untyped), verified against `jwks`.
    ///
    /// - Parameters:
    ///   - what: names the JWT in the refusal sentences ("client assertion", "request object").
    ///   - refuse: makes the error for a sentence.
    static func claims(
        of token: String,
        what: String,
        types: Set<String>,
        client: Client,
        refuse: (String) -> OAuthError
    ) async throws(OAuthError) -> JSONObject {
        let jws: CompactJWS
        do {
            jws = try CompactJWS(token)
        } catch {
            throw refuse("The \(what) is not usable: " + error.description)
        }
        guard JWSAlgorithm.allowed(for: client.profile).contains(jws.algorithm) else {
            throw refuse("The \(what) must be signed with PS256, ES256 or EdDSA (FAPI 2.0).")
        }
        // Explicit typing (RFC 8725 §3.11): one kind of JWT is never accepted as another.
        if let type = jws.header.string("typ"), !types.contains(type.lowercased()) {
            throw refuse("The \(what) has a typ that is not a \(what)'s.")
        }
        guard let keys = client.jwks.flatMap(JWKSet.keys), await jws.isSigned(byOneOf: keys) else {
            throw refuse("The \(what)'s signature does not verify with the client's registered keys.")
        }
        return jws.claims
    }

    /// Whether one of `keys` (JWKs) verifies the signature; the header's `kid`, when present, picks the keys.
    public func isSigned(byOneOf keys: [JSONObject]) async -> Bool {
        let kid = header.string("kid")
        for key in keys where kid == nil || key.string("kid") == kid {
            if await isSigned(by: key) { return true }
        }
        return false
    }

    /// Whether `key` (a public JWK) verifies the signature with the header's algorithm.
    public func isSigned(by key: JSONObject) async -> Bool {
        guard algorithm.fits(key), key.string("use") == nil || key.string("use") == "sig" else { return false }
        // Only the public members go to the key: the algorithm is ours (the header's, checked above), never the key's.
        var members: [String: Any] = ["kid": "k", "alg": algorithm.rawValue]
        for name in ["kty", "crv", "x", "y", "n", "e"] { members[name] = key.members[name] }
        do {
            let jwk = try JWK(json: JSONObject(members).text)
            let keys = JWTKeyCollection()
            try await keys.add(jwk: jwk)
            let verifier = try await keys.getKey(for: "k", alg: algorithm.rawValue)
            return try verifier.verify(signature, signs: signingInput)
        } catch {
            return false
        }
    }
}
