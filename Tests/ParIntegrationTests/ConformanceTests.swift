import Foundation
import Hummingbird
import HummingbirdTesting
import ParCore
import ParServer
import ParTesting
import Testing

/// A case of the table-driven suite: a PAR built for a freshly registered client, and the answer it must get.
struct PushCase: Sendable, CustomTestStringConvertible {
    let name: String
    let build: @Sendable (_ clientID: String) -> (form: [(String, String)], headers: HTTPFields)
    let status: HTTPResponse.Status
    let error: String?
    var testDescription: String { name }

    init(
        _ name: String,
        _ status: HTTPResponse.Status,
        _ error: String? = nil,
        headers: HTTPFields = [:],
        form: @escaping @Sendable (String) -> [(String, String)]
    ) {
        self.name = name
        self.status = status
        self.error = error
        self.build = { (form($0), headers) }
    }
}

/// RFC 9126 §2 with RFC 7523, RFC 9101, RFC 9449 §10.1, RFC 9396, RFC 8707 and FAPI 2.0 at the PAR endpoint of a
/// node on real PostgreSQL and Redis: one case per error family and per setting that reaches a rule. Every rule has
/// its own case in the unit tables below HTTP (ParCredentialsTests: ClientAssertionTests, RequestObjectTests,
/// DPoPProofTests; ParCoreTests: AuthorizationRequestValidatorTests, ClientCredentialReaderTests,
/// FormParametersTests).
@Suite struct ConformanceTests {
    typealias C = Conformance

    static let clientAuthentication: [PushCase] = [
        PushCase("rfc7523_2_2_accepts_es256_assertion", .created) { C.signedForm($0, key: C.keys[.es256]!) },
        PushCase("rfc9126_2_accepts_token_endpoint_as_aud", .created) {
            C.jwtForm($0, assertion: C.es256.sign(C.assertionClaims($0, ["aud": C.tokenEndpoint])))
        },
        PushCase("rfc7523_3_4_rejects_expired_assertion", .unauthorized, "invalid_client") {
            C.jwtForm($0, assertion: C.es256.sign(C.assertionClaims($0, ["exp": C.now() - 5, "iat": C.now() - 30])))
        },
        PushCase("rfc9126_2_rejects_a_method_other_than_the_registered_one", .unauthorized, "invalid_client") {
            pushParameters($0) + [("client_secret", "not-a-secret-of-this-client-0123456789")]
        },
        PushCase("rfc6749_2_3_rejects_two_methods_at_once", .badRequest, "invalid_request") {
            C.signedForm($0) + [("client_secret", "x")]
        },
        PushCase("rfc9126_2_1_rejects_request_uri_parameter", .badRequest, "invalid_request") {
            C.signedForm($0, extra: [("request_uri", "urn:ietf:params:oauth:request_uri:abc")])
        },
        PushCase("rfc8707_2_rejects_a_relative_resource", .badRequest, "invalid_target") {
            C.signedForm($0, extra: [("resource", "/api")])
        },
        PushCase("rfc9396_5_rejects_a_type_the_client_is_not_registered_for", .badRequest, "invalid_authorization_details") {
            C.signedForm($0, extra: [("authorization_details", #"[{"type":"account_information"}]"#)])
        },
        PushCase("rfc9396_limits_authorization_details_size", .badRequest, "invalid_authorization_details") {
            C.signedForm($0, extra: [("authorization_details", #"[{"type":"payment_initiation","x":""# + String(repeating: "a", count: 9000) + #""}]"#)])
        },
        PushCase("rfc9126_2_3_limits_the_parameter_count", .badRequest, "invalid_request") {
            C.signedForm($0, extra: (0..<120).map { ("x\($0)", "y") })
        },
        PushCase("rfc9126_2_3_answers_413_beyond_the_body_limit", .contentTooLarge, "invalid_request") {
            C.signedForm($0, extra: (0..<9).map { ("big\($0)", String(repeating: "b", count: 8 * 1024)) })
        },
    ]

    @Test(arguments: clientAuthentication)
    func pushAnswers(_ testCase: PushCase) async throws {
        let client = try await C.register("conf") { $0.authorizationDetailsTypes = ["payment_initiation"] }
        let node = try await C.node()
        try await node.application().test(.router) { http in
            let (form, headers) = testCase.build(client.id)
            expectAnswer(try await http.push(form, headers: headers), testCase.status, testCase.error)
        }
    }

    /// The node checks JWTs against the time of day it is given (its WallClock), not one of its own: a node five
    /// minutes behind takes an assertion dated by its clock and refuses one dated now.
    @Test func assertionsAreCheckedAgainstTheNodesClock() async throws {
        let client = try await C.register("clock")
        let node = try await C.node(clock: OffsetWallClock(offset: -300))
        let behind = C.now() - 300
        try await node.application().test(.router) { http in
            let dated = C.es256.sign(C.assertionClaims(client.id, ["iat": behind, "exp": behind + 60]))
            expectAnswer(try await http.push(C.jwtForm(client.id, assertion: dated)), .created)
            expectAnswer(try await http.push(C.signedForm(client.id)), .unauthorized, "invalid_client")
        }
    }

    @Test(arguments: RedisMode.allCases) func rfc7523_3_7_a_jti_is_used_once_across_nodes(redis: RedisMode) async throws {
        let client = try await C.register("jti")
        let form = C.signedForm(client.id)
        let first = try await C.node(redis: redis)
        let second = try await C.node(redis: redis)
        try await first.application().test(.router) { http in expectAnswer(try await http.push(form), .created) }
        try await second.application().test(.router) { http in expectAnswer(try await http.push(form), .unauthorized, "invalid_client") }
    }

    @Test func rfc6749_5_2_invalid_client_with_the_authorization_header_carries_www_authenticate() async throws {
        let node = try await C.node()
        let scenario = try await Scenario.make("basic")
        try await node.application().test(.router) { http in
            let response = try await http.push(pushParameters(scenario.clientID), headers: [.authorization: basicAuthorization(scenario.clientID, "wrong")])
            expectAnswer(response, .unauthorized, "invalid_client")
            #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true)
        }
    }

    @Test func rfc9126_2_2_rfc9396_rfc8707_oidc_parameters_are_kept_and_returned_structured() async throws {
        let client = try await C.register("kept") { $0.authorizationDetailsTypes = ["payment_initiation"] }
        let node = try await C.node()
        let details = #"[{"type":"payment_initiation","actions":["initiate"],"instructedAmount":{"currency":"EUR","amount":"10.00"}}]"#
        let extra = [
            ("authorization_details", details), ("resource", "https://api.example.com/payments"), ("resource", "https://api.example.com/accounts"),
            ("nonce", "n-0S6_WzA2Mj"), ("max_age", "600"), ("claims", #"{"id_token":{"acr":{"essential":true}}}"#), ("prompt", "login"),
            ("login_hint", "alice@example.com"), ("ui_locales", "de-CH en"), ("acr_values", "urn:example:loa:3"), ("response_mode", "form_post"),
        ]
        try await node.application().test(.router) { http in
            let pushed = try await http.push(C.signedForm(client.id, extra: extra))
            expectAnswer(pushed, .created)
            let parameters = try await redeemedParameters(http, client.id, pushed)
            let stored = try #require(parameters["authorization_details"] as? [[String: Any]])
            #expect(stored.first?["type"] as? String == "payment_initiation")
            #expect(parameters["resource"] as? [String] == ["https://api.example.com/payments", "https://api.example.com/accounts"])
            #expect(parameters["max_age"] as? Int == 600)
            #expect((parameters["claims"] as? [String: Any])?["id_token"] != nil)
            #expect(parameters["nonce"] as? String == "n-0S6_WzA2Mj")
            #expect(parameters["client_assertion"] == nil && parameters["client_assertion_type"] == nil)
        }
    }

    @Test func rfc9126_2_4_unregistered_redirect_uris_only_under_the_registered_prefix() async throws {
        let client = try await C.register("redir") {
            $0.allowsUnregisteredRedirectURIs = true
            $0.redirectURIPrefixes = ["https://client.example.org/tenants/"]
        }
        let node = try await C.node()
        @Sendable func form(_ redirect: String) -> [(String, String)] {
            C.signedForm(client.id).map { $0.0 == "redirect_uri" ? ($0.0, redirect) : $0 }
        }
        try await node.application().test(.router) { http in
            expectAnswer(try await http.push(form("https://client.example.org/tenants/42/cb")), .created)
            expectAnswer(try await http.push(form("https://client.example.org/admin/cb")), .badRequest, "invalid_request")
            expectAnswer(try await http.push(form("https://client.example.org/tenants/../admin")), .badRequest, "invalid_request")
            expectAnswer(try await http.push(form("https://client.example.org.evil.example/tenants/1")), .badRequest, "invalid_request")
        }
    }

    @Test func rfc9126_7_2_public_clients_never_use_unregistered_redirect_uris() async throws {
        let client = try await C.register("pub") {
            $0.authMethod = .none
            $0.jwks = nil
            $0.allowsUnregisteredRedirectURIs = true
        }
        let node = try await C.node()
        try await node.application().test(.router) { http in
            let form = pushParameters(client.id).map { $0.0 == "redirect_uri" ? ($0.0, "https://client.example.org/other") : $0 }
            expectAnswer(try await http.push(form), .badRequest, "invalid_request")
            expectAnswer(try await http.push(pushParameters(client.id)), .created)
        }
    }
}
