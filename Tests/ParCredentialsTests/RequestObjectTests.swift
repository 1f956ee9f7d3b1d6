import Foundation
import ParCore
import ParCredentials
import ParTesting
import Testing

/// RFC 9126 §3, RFC 9101 §4–§6 and FAPI 2.0 Message Signing §5.3.1: every rule of a request object, against the
/// verifier alone on a fixed clock (the HTTP suite keeps one case per error family).
@Suite struct RequestObjectTests {
    static let now: Double = 1_800_000_000
    static let t = Int(now)
    static let issuer = "https://as.example.com"
    static let key = try! TestKey(.es256)
    static let client = Client(
        id: "client-r",
        authMethod: .privateKeyJWT,
        secretHash: nil,
        redirectURIs: ["https://client.example.org/cb"],
        scopes: ["openid"],
        jwks: TestKey.jwks([key])
    )
    static var fapiClient: Client {
        var client = client
        client.profile = .fapi2
        return client
    }
    static let verifier = RequestObjectVerifier(issuer: issuer)

    static func claims(_ changes: [String: Any] = [:]) -> [String: Any] {
        var claims: [String: Any] = [
            "iss": client.id, "aud": issuer, "client_id": client.id, "exp": t + 300, "nbf": t - 5, "iat": t,
            "response_type": "code", "scope": "openid payments", "max_age": 120, "resource": ["https://a.example", "https://b.example"],
            "claims": ["id_token": ["acr": ["essential": true]]], "state": "s",
        ]
        for (name, value) in changes { claims[name] = value is NSNull ? nil : value }
        return claims
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let accepted: Bool
        let fapi: Bool
        let token: @Sendable () -> String
        var testDescription: String { name }
        init(_ name: String, accepted: Bool, fapi: Bool = false, _ token: @escaping @Sendable () -> String) {
            (self.name, self.accepted, self.fapi, self.token) = (name, accepted, fapi, token)
        }
    }

    static let cases: [Case] = [
        Case("rfc9101_accepts_a_typed_request_object", accepted: true) { key.sign(claims(), header: ["typ": "oauth-authz-req+jwt"]) },
        Case("rfc9101_accepts_an_untyped_request_object", accepted: true) { key.sign(claims()) },
        Case("rfc9101_4_accepts_aud_as_an_array_holding_the_issuer", accepted: true) { key.sign(claims(["aud": [issuer, "https://x"]])) },
        Case("rfc9126_3_accepts_no_iss_outside_fapi", accepted: true) { key.sign(claims(["iss": NSNull()])) },
        Case("fapi2_requires_iss", accepted: false, fapi: true) { key.sign(claims(["iss": NSNull()])) },
        Case("rfc9126_3_rejects_a_client_id_claim_of_another_client", accepted: false) { key.sign(claims(["client_id": "other"])) },
        Case("rfc9126_3_requires_the_client_id_claim", accepted: false) { key.sign(claims(["client_id": NSNull()])) },
        Case("rfc9101_6_3_rejects_an_iss_other_than_the_client", accepted: false) { key.sign(claims(["iss": "other"])) },
        Case("rfc9101_4_rejects_an_aud_other_than_the_issuer", accepted: false) { key.sign(claims(["aud": "https://other.example.com"])) },
        Case("rfc9101_10_2_requires_exp", accepted: false) { key.sign(claims(["exp": NSNull()])) },
        Case("rfc9101_10_2_rejects_exp_equal_to_now", accepted: false) { key.sign(claims(["exp": t])) },
        Case("rfc9101_10_2_accepts_exp_one_second_ahead", accepted: true) { key.sign(claims(["exp": t + 1])) },
        Case("rfc9101_10_2_tolerates_nbf_10s_ahead", accepted: true) { key.sign(claims(["nbf": t + 10])) },
        Case("rfc9101_10_2_rejects_nbf_11s_ahead", accepted: false) { key.sign(claims(["nbf": t + 11])) },
        Case("rfc9101_10_2_rejects_iat_11s_ahead", accepted: false) { key.sign(claims(["iat": t + 11])) },
        Case("rfc7519_rejects_an_exp_that_is_not_a_number", accepted: false) { key.sign(claims(["exp": "\(t + 300)"])) },
        // With exp after now and at most 60 minutes after nbf, nbf is younger than 60 minutes: the oldest it can be.
        Case("fapi2_ms_5_3_1_accepts_nbf_3599s_old_with_exp_60_minutes_later", accepted: true, fapi: true) {
            key.sign(claims(["nbf": t - 3599, "exp": t + 1]))
        },
        Case("fapi2_ms_5_3_1_rejects_nbf_3600s_old", accepted: false, fapi: true) { key.sign(claims(["nbf": t - 3600, "exp": t + 1])) },
        Case("fapi2_ms_5_3_1_requires_nbf", accepted: false, fapi: true) { key.sign(claims(["nbf": NSNull()])) },
        Case("fapi2_ms_5_3_1_rejects_exp_over_60_minutes_after_nbf", accepted: false, fapi: true) {
            key.sign(claims(["nbf": t - 5, "exp": t + 3596]))
        },
        Case("fapi2_5_4_1_rejects_rs256", accepted: false, fapi: true) { (try! TestKey(.rs256)).sign(claims()) },
        Case("rfc9101_6_2_rejects_an_unsigned_request_object", accepted: false) { TestKey.part(["alg": "none"]) + "." + TestKey.part(claims()) + "." },
        Case("rfc9101_6_2_rejects_a_key_that_is_not_registered", accepted: false) { (try! TestKey(.eddsa)).sign(claims()) },
        Case("rfc9101_6_1_refuses_encrypted_request_objects", accepted: false) { "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d" },
        Case("rfc8725_3_11_rejects_a_dpop_proof_as_request_object", accepted: false) { key.sign(claims(), header: ["typ": "dpop+jwt"]) },
        Case("rfc7515_4_1_11_rejects_a_critical_header", accepted: false) { key.sign(claims(), header: ["crit": ["exp"]]) },
        Case("rejects_a_number_claim_beyond_integers", accepted: false) { key.sign(claims(["max_age": 1e300])) },
    ]

    @Test(arguments: cases) func requestObject(_ testCase: Case) async throws {
        let client = testCase.fapi ? Self.fapiClient : Self.client
        do {
            _ = try await Self.verifier.parameters(from: testCase.token(), for: client, now: Self.now)
            #expect(testCase.accepted, "accepted, but the rule refuses it")
        } catch {
            #expect(!testCase.accepted, "refused: \(error.description)")
            #expect(error.code == .invalidRequestObject && error.status == 400, "\(error.code.rawValue)")
        }
    }

    /// RFC 9126 §3: the claims are the request, the JWT envelope is not; structured claims keep their JSON, and
    /// `resource` arrays become repeated parameters (RFC 8707).
    @Test func theClaimsBecomeTheRequestsParameters() async throws {
        let pairs = try await Self.verifier.parameters(from: Self.key.sign(Self.claims()), for: Self.client, now: Self.now)
        let names = pairs.map(\.name)
        #expect(Set(names).isDisjoint(with: ["iss", "aud", "exp", "nbf", "iat"]))
        #expect(pairs.filter { $0.name == "resource" }.map(\.value) == ["https://a.example", "https://b.example"])
        #expect(pairs.first { $0.name == "max_age" }?.value == "120")
        #expect(pairs.first { $0.name == "claims" }?.value == #"{"id_token":{"acr":{"essential":true}}}"#)
        #expect(pairs.first { $0.name == "client_id" }?.value == Self.client.id)
    }

    @Test func aResourceArrayOfNonStringsIsInvalidTarget() async throws {
        await #expect(throws: OAuthError.self) {
            _ = try await Self.verifier.parameters(from: Self.key.sign(Self.claims(["resource": [1, 2]])), for: Self.client, now: Self.now)
        }
        do {
            _ = try await Self.verifier.parameters(from: Self.key.sign(Self.claims(["resource": [1, 2]])), for: Self.client, now: Self.now)
        } catch {
            #expect(error.code == .invalidTarget)
        }
    }
}
