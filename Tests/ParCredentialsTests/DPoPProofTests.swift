import Foundation
import ParCore
import ParCredentials
import ParTesting
import Testing

/// RFC 9449 §4.3 (the checks of a proof), §8 (server nonces) and §11.1 (single use), against the verifier alone on
/// a fixed clock (the HTTP suite keeps one case per error family).
@Suite struct DPoPProofTests {
    static let now: Double = 1_800_000_000
    static let t = Int(now)
    static let endpoint = "https://as.example.com/par"
    static let keys: [TestKey.Algorithm: TestKey] = Dictionary(
        uniqueKeysWithValues: TestKey.Algorithm.allCases.map { ($0, try! TestKey($0)) }
    )
    static let verifier = DPoPProofVerifier(targets: [endpoint], nonces: nil)

    static func proof(_ algorithm: TestKey.Algorithm = .es256, _ changes: [String: Any] = [:], header: [String: Any] = [:]) -> String {
        let key = keys[algorithm]!
        var claims: [String: Any] = ["htm": "POST", "htu": endpoint, "iat": t, "jti": "proof-1"]
        for (name, value) in changes { claims[name] = value is NSNull ? nil : value }
        var fullHeader: [String: Any] = ["typ": "dpop+jwt", "jwk": key.publicJWK.filter { $0.key != "kid" }, "kid": NSNull()]
        fullHeader.merge(header) { $1 }
        return key.sign(claims, header: fullHeader.filter { !($0.value is NSNull) })
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let accepted: Bool
        let fapi: Bool
        let headers: @Sendable () -> [String]
        var testDescription: String { name }
        init(_ name: String, accepted: Bool, fapi: Bool = false, _ headers: @escaping @Sendable () -> [String]) {
            (self.name, self.accepted, self.fapi, self.headers) = (name, accepted, fapi, headers)
        }
    }

    static let cases: [Case] = [
        Case("rfc9449_4_3_accepts_es256", accepted: true) { [proof(.es256)] },
        Case("rfc9449_4_3_accepts_eddsa", accepted: true) { [proof(.eddsa)] },
        Case("rfc9449_4_3_accepts_rs256", accepted: true) { [proof(.rs256)] },
        Case("fapi2_5_4_1_rejects_rs256", accepted: false, fapi: true) { [proof(.rs256)] },
        Case("rfc9449_4_3_9_accepts_htu_with_query_and_default_port", accepted: true) { [proof(.es256, ["htu": "https://AS.example.com:443/par?x=1#f"])] },
        Case("rfc9449_4_3_1_rejects_two_proofs", accepted: false) { [proof(), proof()] },
        Case("rfc9449_4_3_1_rejects_no_proof", accepted: false) { [] },
        Case("rfc9449_4_3_4_rejects_typ_jwt", accepted: false) { [proof(header: ["typ": "JWT"])] },
        Case("rfc9449_4_3_5_rejects_a_symmetric_algorithm", accepted: false) {
            [TestKey.part(["alg": "HS256", "typ": "dpop+jwt"]) + "." + TestKey.part(["htm": "POST"]) + ".c2ln"]
        },
        Case("rfc9449_4_3_6_rejects_a_private_key_in_jwk", accepted: false) {
            var jwk: [String: Any] = keys[.es256]!.publicJWK.filter { $0.key != "kid" }
            jwk["d"] = "c2VjcmV0"
            return [proof(header: ["jwk": jwk])]
        },
        Case("rfc9449_4_3_6_requires_a_jwk", accepted: false) { [proof(header: ["jwk": NSNull()])] },
        Case("rfc9449_4_3_7_rejects_a_signature_by_another_key", accepted: false) { [proof(header: ["jwk": keys[.eddsa]!.publicJWK])] },
        Case("rfc9449_4_3_8_rejects_htm_get", accepted: false) { [proof(.es256, ["htm": "GET"])] },
        Case("rfc9449_4_3_9_rejects_another_endpoint", accepted: false) { [proof(.es256, ["htu": "https://as.example.com/token"])] },
        Case("rfc9449_4_3_9_rejects_another_host", accepted: false) { [proof(.es256, ["htu": "https://evil.example.com/par"])] },
        Case("rfc9449_4_3_3_requires_jti", accepted: false) { [proof(.es256, ["jti": NSNull()])] },
        Case("rfc9449_4_3_3_rejects_a_jti_over_256_bytes", accepted: false) { [proof(.es256, ["jti": String(repeating: "j", count: 257)])] },
        Case("rfc9449_4_3_3_requires_iat", accepted: false) { [proof(.es256, ["iat": NSNull()])] },
        Case("rfc9449_4_3_11_accepts_iat_60s_old", accepted: true) { [proof(.es256, ["iat": t - 60])] },
        Case("rfc9449_4_3_11_rejects_iat_61s_old", accepted: false) { [proof(.es256, ["iat": t - 61])] },
        Case("rfc9449_4_3_11_accepts_iat_10s_ahead", accepted: true) { [proof(.es256, ["iat": t + 10])] },
        Case("rfc9449_4_3_11_rejects_iat_11s_ahead", accepted: false) { [proof(.es256, ["iat": t + 11])] },
        Case("rfc9449_4_3_11_rejects_an_iat_at_the_edge_of_double", accepted: false) { [proof(.es256, ["iat": 1.7e308])] },
        Case("rejects_text_that_is_not_a_jws", accepted: false) { ["a.b"] },
    ]

    @Test(arguments: cases) func proof(_ testCase: Case) async throws {
        do {
            _ = try await Self.verifier.verify(headers: testCase.headers(), profile: testCase.fapi ? .fapi2 : .standard, now: Self.now)
            #expect(testCase.accepted, "accepted, but the rule refuses it")
        } catch {
            #expect(!testCase.accepted, "refused: \(error.description)")
            #expect(error.code == .invalidDPoPProof && error.status == 400, "\(error.code.rawValue)")
        }
    }

    /// RFC 9449 §8: with nonces required, a proof without one (or with a stale one) is answered `use_dpop_nonce`
    /// with a fresh nonce, which is then accepted; a nonce from another server secret is not.
    @Test func rfc9449_8_serverNonces() async throws {
        let nonces = DPoPNonces(secret: "nodes-shared-secret-0123456789")
        let verifier = DPoPProofVerifier(targets: [Self.endpoint], nonces: nonces)
        var offered: String?
        do {
            _ = try await verifier.verify(headers: [Self.proof()], now: Self.now)
            Issue.record("a proof without a nonce was accepted")
        } catch {
            #expect(error.code == .useDPoPNonce)
            offered = error.dpopNonce
        }
        let nonce = try #require(offered)
        #expect(nonce == nonces.current(now: Self.now))
        _ = try await verifier.verify(headers: [Self.proof(.es256, ["nonce": nonce])], now: Self.now)
        let foreign = DPoPNonces(secret: "another-secret-0123456789abcdef").current(now: Self.now)
        await #expect(throws: OAuthError.self) { _ = try await verifier.verify(headers: [Self.proof(.es256, ["nonce": foreign])], now: Self.now) }
        let stale = nonces.current(now: Self.now - 3600)
        await #expect(throws: OAuthError.self) { _ = try await verifier.verify(headers: [Self.proof(.es256, ["nonce": stale])], now: Self.now) }
    }

    /// RFC 9449 §11.1: the single-use value is per key and jti, and kept while the proof is acceptable.
    @Test func theJTIIsPerKeyAndKeptWhileTheProofIsAcceptable() async throws {
        let first = try await Self.verifier.verify(headers: [Self.proof(.es256)], now: Self.now)
        let otherKey = try await Self.verifier.verify(headers: [Self.proof(.eddsa)], now: Self.now)
        #expect(first.singleUse.hash != otherKey.singleUse.hash)
        #expect(first.singleUse.lifetime >= .seconds(60) && first.singleUse.lifetime <= .seconds(70))
        #expect(first.thumbprint != otherKey.thumbprint)
    }
}
