import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ParCore
import ParServer
import ParTesting
import Testing

/// What the conformance suite shares: the issuer its nodes run as, the clients' keys, and the builders of
/// assertions, request objects and DPoP proofs.
enum Conformance {
    static let issuer = "https://as.example.com"
    static let pushEndpoint = issuer + "/par"
    static let tokenEndpoint = issuer + "/token"
    static let jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    /// One key of each required algorithm (RSA generation is slow: made once).
    static let keys: [TestKey.Algorithm: TestKey] = Dictionary(
        uniqueKeysWithValues: TestKey.Algorithm.allCases.map { ($0, try! TestKey($0)) }
    )
    static var es256: TestKey { keys[.es256]! }

    static func now() -> Int { Int(Date().timeIntervalSince1970) }

    /// A node of the shared servers, running as ``issuer``.
    static func node(
        redis: RedisMode = .standalone,
        clock: any WallClock = SystemWallClock(),
        _ configure: (inout NodeConfiguration) -> Void = { _ in }
    ) async throws -> ParStoreNode {
        let servers = try await TestServers.shared.shared(redis)
        var configuration = TestNodes.configuration(databaseURL: servers.databaseURL, redisURL: servers.redisURL)
        configuration.oauth.issuer = issuer
        configure(&configuration)
        return try await TestNodes.make(configuration, clock: clock)
    }

    /// Registers a `private_key_jwt` client holding every test key, changed by `configure`.
    @discardableResult
    static func register(_ prefix: String, _ configure: (inout Client) -> Void = { _ in }) async throws -> Client {
        let servers = try await TestServers.shared.shared()
        var client = Client(
            id: uniqueClientID(prefix),
            authMethod: .privateKeyJWT,
            secretHash: nil,
            redirectURIs: ["https://client.example.org/cb"],
            scopes: ["openid", "profile", "accounts", "payments"],
            jwks: TestKey.jwks(Array(keys.values))
        )
        configure(&client)
        try await TestDatabase(url: servers.databaseURL).register(client)
        return client
    }

    /// The claims of a valid client assertion for `clientID`, changed by `changes` (`NSNull` removes a claim).
    static func assertionClaims(_ clientID: String, _ changes: [String: Any] = [:]) -> [String: Any] {
        var claims: [String: Any] = [
            "iss": clientID, "sub": clientID, "aud": issuer, "iat": now(), "exp": now() + 60, "jti": UUID().uuidString,
        ]
        for (name, value) in changes { claims[name] = value is NSNull ? nil : value }
        return claims
    }

    /// The form of a valid PAR authenticated with a client assertion.
    static func jwtForm(_ clientID: String, assertion: String, extra: [(String, String)] = []) -> [(String, String)] {
        pushParameters(clientID) + [("client_assertion_type", jwtBearer), ("client_assertion", assertion)] + extra
    }

    /// A valid PAR of `client`, signed with `key`.
    static func signedForm(_ clientID: String, key: TestKey = es256, extra: [(String, String)] = []) -> [(String, String)] {
        jwtForm(clientID, assertion: key.sign(assertionClaims(clientID)), extra: extra)
    }

    /// A DPoP proof for the PAR endpoint made with `key`, changed by `changes`.
    static func dpopProof(_ key: TestKey, _ changes: [String: Any] = [:], header: [String: Any] = [:]) -> String {
        var claims: [String: Any] = ["htm": "POST", "htu": pushEndpoint, "iat": now(), "jti": UUID().uuidString]
        for (name, value) in changes { claims[name] = value is NSNull ? nil : value }
        var fullHeader: [String: Any] = ["typ": "dpop+jwt", "jwk": key.publicJWK.filter { $0.key != "kid" }, "kid": NSNull()]
        fullHeader.merge(header) { $1 }
        return key.sign(claims, header: fullHeader.filter { !($0.value is NSNull) })
    }

    /// The RFC 7638 thumbprint of a test key.
    static func thumbprint(_ key: TestKey) -> String {
        let jwk = key.publicJWK
        let names = jwk["kty"] == "RSA" ? ["e", "kty", "n"] : jwk["kty"] == "EC" ? ["crv", "kty", "x", "y"] : ["crv", "kty", "x"]
        let canonical = "{" + names.map { "\"\($0)\":\"\(jwk[$0]!)\"" }.joined(separator: ",") + "}"
        return Secret.base64URL(Secret.sha256(canonical))
    }
}

extension TestClientProtocol {
    /// `POST /par` with a form and extra headers.
    func push(_ form: [(String, String)], headers: HTTPFields = [:]) async throws -> TestResponse {
        try await execute(uri: "/par", method: .post, headers: formHeaders + headers, body: formBody(form))
    }
}

/// Checks an answer: its status, and for refusals the RFC 6749 §5.2 body with `error`; never a 5xx.
func expectAnswer(
    _ response: TestResponse,
    _ status: HTTPResponse.Status,
    _ error: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(response.status == status, "\(String(buffer: response.body))", sourceLocation: sourceLocation)
    #expect(response.status.code < 500, sourceLocation: sourceLocation)
    if let error {
        let body = try? jsonObject(response)
        #expect(body?["error"] as? String == error, sourceLocation: sourceLocation)
        #expect(body?["error_description"] is String, sourceLocation: sourceLocation)
        #expect(response.headers[.contentType] == "application/json", sourceLocation: sourceLocation)
    }
}

/// The `parameters` object of a redemption.
func redeemedParameters(_ client: some TestClientProtocol, _ clientID: String, _ response: TestResponse) async throws -> [String: Any] {
    let requestURI = try #require(try jsonObject(response)["request_uri"] as? String)
    let redeemed = try await client.redeem(clientID, requestURI)
    #expect(redeemed.status == .ok)
    return try #require(try jsonObject(redeemed)["parameters"] as? [String: Any])
}

extension HTTPField.Name {
    /// RFC 9449 §4.1.
    static let dpopProof = HTTPField.Name("DPoP")!
    /// RFC 9449 §8.
    static let dpopNonceHeader = HTTPField.Name("DPoP-Nonce")!
}
