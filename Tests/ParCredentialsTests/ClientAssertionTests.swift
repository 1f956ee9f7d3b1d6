import Foundation
import ParCore
import ParCredentials
import ParTesting
import Testing

/// RFC 7523 §3, RFC 9126 §2 and FAPI 2.0 §5.3.2.1: every rule of a client assertion, one named case each, against
/// the verifier alone on a fixed clock (the HTTP suite keeps one case per error family).
@Suite struct ClientAssertionTests {
    static let now: Double = 1_800_000_000
    static let issuer = "https://as.example.com"
    static let keys: [TestKey.Algorithm: TestKey] = Dictionary(
        uniqueKeysWithValues: TestKey.Algorithm.allCases.map { ($0, try! TestKey($0)) }
    )
    static let client = Client(
        id: "client-a",
        authMethod: .privateKeyJWT,
        secretHash: nil,
        redirectURIs: ["https://client.example.org/cb"],
        scopes: ["openid"],
        jwks: TestKey.jwks(Array(keys.values))
    )
    static let verifier = ClientAssertionVerifier(audiences: [issuer, issuer + "/token", issuer + "/par"])

    /// A valid assertion's claims at ``now``, changed by `changes` (`NSNull` removes a claim).
    static func claims(_ changes: [String: Any] = [:]) -> [String: Any] {
        var claims: [String: Any] = [
            "iss": client.id, "sub": client.id, "aud": issuer, "iat": Int(now), "exp": Int(now) + 60, "jti": "jti-1",
        ]
        for (name, value) in changes { claims[name] = value is NSNull ? nil : value }
        return claims
    }

    static func signed(_ changes: [String: Any] = [:], with algorithm: TestKey.Algorithm = .es256) -> String {
        keys[algorithm]!.sign(claims(changes))
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let accepted: Bool
        let assertion: @Sendable () -> String
        var testDescription: String { name }
        init(_ name: String, accepted: Bool, _ assertion: @escaping @Sendable () -> String) {
            (self.name, self.accepted, self.assertion) = (name, accepted, assertion)
        }
    }

    static let t = Int(now)
    static let cases: [Case] = [
        Case("rfc7523_2_2_accepts_es256", accepted: true) { signed(with: .es256) },
        Case("rfc7523_2_2_accepts_rs256", accepted: true) { signed(with: .rs256) },
        Case("rfc7523_2_2_accepts_ps256", accepted: true) { signed(with: .ps256) },
        Case("rfc7523_2_2_accepts_eddsa", accepted: true) { signed(with: .eddsa) },
        Case("rfc9126_2_accepts_the_token_endpoint_as_aud", accepted: true) { signed(["aud": issuer + "/token"]) },
        Case("rfc9126_2_accepts_the_par_endpoint_as_a_one_element_aud_array", accepted: true) { signed(["aud": [issuer + "/par"]]) },
        Case("rfc7523_3_3_rejects_a_foreign_aud", accepted: false) { signed(["aud": "https://other.example.com"]) },
        Case("rfc7523bis_rejects_several_audiences", accepted: false) { signed(["aud": [issuer, "https://other.example.com"]]) },
        Case("rfc7523_3_1_rejects_an_iss_other_than_the_client", accepted: false) { signed(["iss": "someone-else"]) },
        Case("rfc7523_3_2_rejects_a_sub_other_than_the_client", accepted: false) { signed(["sub": "someone-else"]) },
        Case("rfc7523_3_4_requires_exp", accepted: false) { signed(["exp": NSNull()]) },
        Case("rfc7523_3_4_rejects_exp_equal_to_now", accepted: false) { signed(["exp": t, "iat": t - 30]) },
        Case("rfc7523_3_4_accepts_exp_one_second_ahead", accepted: true) { signed(["exp": t + 1]) },
        Case("fapi2_5_3_2_1_tolerates_iat_10s_in_the_future", accepted: true) { signed(["iat": t + 10, "nbf": t + 10]) },
        Case("fapi2_5_3_2_1_rejects_iat_11s_in_the_future", accepted: false) { signed(["iat": t + 11]) },
        Case("fapi2_5_3_2_1_rejects_nbf_11s_in_the_future", accepted: false) { signed(["nbf": t + 11]) },
        Case("fapi2_5_3_2_1_accepts_an_assertion_issued_60s_ago", accepted: true) { signed(["iat": t - 60, "exp": t + 30]) },
        Case("fapi2_5_3_2_1_rejects_an_assertion_issued_61s_ago", accepted: false) { signed(["iat": t - 61, "exp": t + 30]) },
        Case("without_iat_accepts_an_expiry_within_60s", accepted: true) { signed(["iat": NSNull(), "exp": t + 60]) },
        Case("without_iat_rejects_an_expiry_beyond_60s", accepted: false) { signed(["iat": NSNull(), "exp": t + 61]) },
        Case("rfc7523_3_4_an_exp_at_the_edge_of_double_is_bounded_by_iat", accepted: true) { signed(["exp": 1.7e308]) },
        Case("rejects_an_iat_that_is_not_a_number", accepted: false) { signed(["iat": "now"]) },
        Case("rfc7523_3_7_requires_jti", accepted: false) { signed(["jti": NSNull()]) },
        Case("rfc7523_3_7_rejects_an_empty_jti", accepted: false) { signed(["jti": ""]) },
        Case("rfc7523_3_7_rejects_a_jti_over_256_bytes", accepted: false) { signed(["jti": String(repeating: "j", count: 257)]) },
        Case("rfc7523_3_9_rejects_a_key_that_is_not_registered", accepted: false) { (try! TestKey(.es256)).sign(claims()) },
        Case("rfc7523_3_9_rejects_alg_none", accepted: false) { TestKey.part(["alg": "none"]) + "." + TestKey.part(claims()) + "." },
        Case("rfc7523_3_9_rejects_hs256", accepted: false) {
            TestKey.part(["alg": "HS256", "kid": keys[.es256]!.kid]) + "." + TestKey.part(claims()) + ".c2lnbmF0dXJl"
        },
        Case("rfc7523_3_9_rejects_a_tampered_claims_set", accepted: false) {
            let parts = signed().split(separator: ".")
            return parts[0] + "." + TestKey.part(claims(["sub": "someone-else", "iss": "someone-else"])) + "." + parts[2]
        },
        Case("rejects_text_that_is_not_a_jws", accepted: false) { "not.a.jws" },
    ]

    @Test(arguments: cases) func assertion(_ testCase: Case) async throws {
        do {
            _ = try await Self.verifier.verify(testCase.assertion(), for: Self.client, now: Self.now)
            #expect(testCase.accepted, "accepted, but the rule refuses it")
        } catch {
            #expect(!testCase.accepted, "refused: \(error.description)")
            #expect(error.code == .invalidClient && error.status == 401, "every assertion failure is invalid_client")
        }
    }

    /// The `jti` is kept for single use as long as the assertion could be accepted, never longer: until its expiry,
    /// or until it is too old (iat + 60 s), whichever comes first.
    @Test func theJTIIsKeptAsLongAsTheAssertionCouldBeReplayed() async throws {
        let shortLived = try await Self.verifier.verify(Self.signed(["exp": Self.t + 20]), for: Self.client, now: Self.now)
        let longLived = try await Self.verifier.verify(Self.signed(["exp": 1.7e308]), for: Self.client, now: Self.now)
        #expect(shortLived.lifetime <= .seconds(20 + 10) && shortLived.lifetime >= .seconds(20))
        #expect(longLived.lifetime <= .seconds(60 + 10) && longLived.lifetime >= .seconds(60))
        let other = try await Self.verifier.verify(Self.signed(["jti": "jti-2"]), for: Self.client, now: Self.now)
        #expect(other.hash != shortLived.hash, "each jti is its own single-use value")
    }
}
