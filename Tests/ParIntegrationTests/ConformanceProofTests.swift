import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ParCore
import ParServer
import ParTesting
import Testing

/// Request objects (RFC 9126 §3, RFC 9101), DPoP at the PAR endpoint (RFC 9449 §10.1), mutual TLS (RFC 8705),
/// FAPI 2.0 refusals, rate limits and metadata (RFC 8414).
@Suite struct ConformanceProofTests {
    typealias C = Conformance

    // MARK: Request objects

    /// The claims of a valid request object of `clientID`, changed by `changes`.
    static func requestObjectClaims(_ clientID: String, _ changes: [String: Any] = [:]) -> [String: Any] {
        var claims: [String: Any] = [
            "iss": clientID, "aud": C.issuer, "client_id": clientID, "exp": C.now() + 300, "nbf": C.now() - 5, "iat": C.now(),
            "response_type": "code", "redirect_uri": "https://client.example.org/cb", "scope": "openid payments",
            "code_challenge": challenge, "code_challenge_method": "S256", "state": "from-the-request-object", "max_age": 120,
        ]
        for (name, value) in changes { claims[name] = value is NSNull ? nil : value }
        return claims
    }

    /// A PAR carrying only client authentication and `request`.
    static func requestObjectForm(_ clientID: String, _ requestObject: String) -> [(String, String)] {
        [
            ("client_id", clientID), ("client_assertion_type", C.jwtBearer), ("client_assertion", C.es256.sign(C.assertionClaims(clientID))),
            ("request", requestObject),
        ]
    }

    @Test func rfc9126_3_only_the_request_objects_parameters_count() async throws {
        let client = try await C.register("jar")
        let node = try await C.node()
        try await node.application().test(.router) { http in
            let requestObject = C.keys[.ps256]!.sign(Self.requestObjectClaims(client.id), header: ["typ": "oauth-authz-req+jwt"])
            // A form parameter beside the request object is ignored (RFC 9101 §6.3).
            let pushed = try await http.push(Self.requestObjectForm(client.id, requestObject) + [("state", "from-the-form")])
            expectAnswer(pushed, .created)
            let parameters = try await redeemedParameters(http, client.id, pushed)
            #expect(parameters["state"] as? String == "from-the-request-object")
            #expect(parameters["scope"] as? String == "openid payments")
            #expect(parameters["max_age"] as? Int == 120)
            #expect(parameters["request"] == nil && parameters["iss"] == nil && parameters["aud"] == nil)
        }
    }

    static let requestObjectRefusals: [(String, @Sendable (String) -> String)] = [
        ("rfc9101_10_2_rejects_an_expired_request_object", { C.es256.sign(requestObjectClaims($0, ["exp": C.now() - 1])) }),
        ("rfc9101_6_1_refuses_encrypted_request_objects_clearly", { _ in "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d" }),
    ]

    @Test(arguments: requestObjectRefusals.map(\.0))
    func requestObjectRefusal(_ name: String) async throws {
        let entry = try #require(Self.requestObjectRefusals.first { $0.0 == name })
        let build = entry.1
        let client = try await C.register("jar")
        let node = try await C.node()
        try await node.application().test(.router) { http in
            expectAnswer(try await http.push(Self.requestObjectForm(client.id, build(client.id))), .badRequest, "invalid_request_object")
        }
    }

    @Test func rfc9126_2_3_a_client_registered_for_signed_request_objects_cannot_push_plain() async throws {
        let client = try await C.register("sro") { $0.requiresSignedRequestObject = true }
        let node = try await C.node()
        try await node.application().test(.router) { http in
            expectAnswer(try await http.push(C.signedForm(client.id)), .badRequest, "invalid_request")
            expectAnswer(try await http.push(Self.requestObjectForm(client.id, C.es256.sign(Self.requestObjectClaims(client.id)))), .created)
        }
    }

    // MARK: DPoP

    @Test func rfc9449_10_1_dpop_jkt_parameter_is_stored_and_returned() async throws {
        let client = try await C.register("jkt")
        let node = try await C.node()
        let jkt = C.thumbprint(C.es256)
        try await node.application().test(.router) { http in
            let pushed = try await http.push(C.signedForm(client.id, extra: [("dpop_jkt", jkt)]))
            expectAnswer(pushed, .created)
            #expect(try await redeemedParameters(http, client.id, pushed)["dpop_jkt"] as? String == jkt)
        }
    }

    @Test(arguments: [TestKey.Algorithm.es256, .eddsa, .rs256])
    func rfc9449_10_1_a_dpop_header_binds_its_key(_ algorithm: TestKey.Algorithm) async throws {
        let client = try await C.register("dpop")
        let node = try await C.node()
        let key = C.keys[algorithm]!
        try await node.application().test(.router) { http in
            let pushed = try await http.push(C.signedForm(client.id), headers: [.dpopProof: C.dpopProof(key)])
            expectAnswer(pushed, .created)
            #expect(try await redeemedParameters(http, client.id, pushed)["dpop_jkt"] as? String == C.thumbprint(key))
            // With dpop_jkt naming the same key, both are accepted.
            expectAnswer(
                try await http.push(C.signedForm(client.id, extra: [("dpop_jkt", C.thumbprint(key))]), headers: [.dpopProof: C.dpopProof(key)]),
                .created
            )
        }
    }

    @Test func rfc9449_10_1_a_proof_of_another_key_than_dpop_jkt_is_refused() async throws {
        let client = try await C.register("dpop")
        let node = try await C.node()
        try await node.application().test(.router) { http in
            let response = try await http.push(
                C.signedForm(client.id, extra: [("dpop_jkt", C.thumbprint(C.keys[.eddsa]!))]),
                headers: [.dpopProof: C.dpopProof(C.es256)]
            )
            expectAnswer(response, .badRequest, "invalid_dpop_proof")
        }
    }

    static let proofRefusals: [(String, @Sendable () -> [String])] = [
        ("rfc9449_4_3_rejects_htu_other_than_the_par_endpoint", { [C.dpopProof(C.es256, ["htu": C.issuer + "/token"])] }),
        ("rfc9449_4_3_rejects_two_dpop_headers", { [C.dpopProof(C.es256), C.dpopProof(C.es256)] }),
    ]

    @Test(arguments: proofRefusals.map(\.0))
    func dpopProofRefusal(_ name: String) async throws {
        let entry = try #require(Self.proofRefusals.first { $0.0 == name })
        let proofs = entry.1()
        let client = try await C.register("dpop")
        let node = try await C.node()
        try await node.application().test(.router) { http in
            var headers: HTTPFields = [:]
            for proof in proofs { headers.append(HTTPField(name: .dpopProof, value: proof)) }
            expectAnswer(try await http.push(C.signedForm(client.id), headers: headers), .badRequest, "invalid_dpop_proof")
        }
    }

    @Test(arguments: RedisMode.allCases) func rfc9449_11_1_a_proof_is_used_once_across_nodes(redis: RedisMode) async throws {
        let client = try await C.register("dpop")
        let proof = C.dpopProof(C.es256)
        try await C.node(redis: redis).application().test(.router) { http in
            expectAnswer(try await http.push(C.signedForm(client.id), headers: [.dpopProof: proof]), .created)
        }
        try await C.node(redis: redis).application().test(.router) { http in
            expectAnswer(try await http.push(C.signedForm(client.id), headers: [.dpopProof: proof]), .badRequest, "invalid_dpop_proof")
        }
    }

    @Test func rfc9449_8_a_server_nonce_is_asked_for_and_accepted_on_every_node() async throws {
        let client = try await C.register("nonce")
        let first = try await C.node { $0.oauth.requireDPoPNonce = true }
        let second = try await C.node { $0.oauth.requireDPoPNonce = true }
        let nonce: String = try await first.application().test(.router) { http in
            let refused = try await http.push(C.signedForm(client.id), headers: [.dpopProof: C.dpopProof(C.es256)])
            expectAnswer(refused, .badRequest, "use_dpop_nonce")
            let nonce = try #require(refused.headers[.dpopNonceHeader])
            expectAnswer(
                try await http.push(C.signedForm(client.id), headers: [.dpopProof: C.dpopProof(C.es256, ["nonce": "made-up"])]),
                .badRequest,
                "use_dpop_nonce"
            )
            return nonce
        }
        try await second.application().test(.router) { http in
            let accepted = try await http.push(C.signedForm(client.id), headers: [.dpopProof: C.dpopProof(C.es256, ["nonce": nonce])])
            expectAnswer(accepted, .created)
            #expect(accepted.headers[.dpopNonceHeader] != nil)
        }
    }

    // MARK: FAPI 2.0

    @Test func fapi2_5_3_2_1_refuses_shared_secret_authentication_and_plain_authorization_requests() async throws {
        let scenario = try await Scenario.make("fapi-secret")
        let legacy = Client(
            id: uniqueClientID("fapi-legacy"),
            authMethod: .clientSecretBasic,
            secretHash: Secret.sha256(scenario.secret),
            redirectURIs: ["https://client.example.org/cb"],
            scopes: ["openid"],
            profile: .fapi2
        )
        try await scenario.database.register(legacy)
        let fapi = try await C.register("fapi") { $0.profile = .fapi2 }
        let node = try await C.node()
        try await node.application().test(.router) { http in
            // A FAPI client that the registry still lists with a shared secret is refused at the PAR endpoint.
            let response = try await http.push(pushParameters(legacy.id), headers: [.authorization: basicAuthorization(legacy.id, scenario.secret)])
            expectAnswer(response, .unauthorized, "invalid_client")
            // FAPI 2.0 §5.3.2.2: redirect_uri is required; only S256.
            let withoutRedirect = C.signedForm(fapi.id).filter { $0.0 != "redirect_uri" }
            expectAnswer(try await http.push(withoutRedirect), .badRequest, "invalid_request")
            // FAPI 2.0 §5.3.2.2: expires_in below 600 s.
            let pushed = try await http.push(C.signedForm(fapi.id))
            expectAnswer(pushed, .created)
            #expect(try #require(try jsonObject(pushed)["expires_in"] as? Int) < 600)
            // FAPI 2.0 §5.3.2.2: authorization requests not sent through PAR are refused.
            let plain = try await http.execute(
                uri: "/authorize?client_id=\(fapi.id)&response_type=code&redirect_uri=https%3A%2F%2Fclient.example.org%2Fcb",
                method: .get,
                headers: [.accept: "application/json"]
            )
            expectAnswer(plain, .badRequest, "invalid_request")
        }
    }

    @Test func fapi2_message_signing_request_objects_need_nbf_within_60_minutes() async throws {
        let client = try await C.register("fapi-jar") { $0.profile = .fapi2 }
        let node = try await C.node()
        try await node.application().test(.router) { http in
            let noNotBefore = C.es256.sign(Self.requestObjectClaims(client.id, ["nbf": NSNull()]))
            expectAnswer(try await http.push(Self.requestObjectForm(client.id, noNotBefore)), .badRequest, "invalid_request_object")
            let longLived = C.es256.sign(Self.requestObjectClaims(client.id, ["exp": C.now() + 7200]))
            expectAnswer(try await http.push(Self.requestObjectForm(client.id, longLived)), .badRequest, "invalid_request_object")
            expectAnswer(try await http.push(Self.requestObjectForm(client.id, C.es256.sign(Self.requestObjectClaims(client.id)))), .created)
        }
    }

    // MARK: Rate limits

    @Test(arguments: RedisMode.allCases) func rfc9126_2_3_a_client_over_its_rate_gets_429_on_every_node(redis: RedisMode) async throws {
        let client = try await C.register("rate") { $0.rateLimit = RateLimit(perSecond: 0.01, burst: 2) }
        let other = try await C.register("rate-other")
        try await C.node(redis: redis).application().test(.router) { http in
            expectAnswer(try await http.push(C.signedForm(client.id)), .created)
            expectAnswer(try await http.push(C.signedForm(client.id)), .created)
        }
        try await C.node(redis: redis).application().test(.router) { http in
            let limited = try await http.push(C.signedForm(client.id))
            expectAnswer(limited, .tooManyRequests, "invalid_request")
            #expect(Int(limited.headers[.retryAfter] ?? "") ?? 0 >= 1)
            // Other clients are not affected.
            expectAnswer(try await http.push(C.signedForm(other.id)), .created)
        }
    }

    // MARK: Metadata

    @Test func rfc8414_3_metadata_lists_what_is_enforced() async throws {
        try await C.register("meta") { $0.authorizationDetailsTypes = ["meta_type_\(UUID().uuidString.prefix(6))"] }
        let plain = try await C.node()
        try await plain.application().test(.router) { http in
            let response = try await http.execute(uri: "/.well-known/oauth-authorization-server", method: .get)
            #expect(response.status == .ok)
            let metadata = try jsonObject(response)
            #expect(metadata["issuer"] as? String == C.issuer)
            #expect(metadata["pushed_authorization_request_endpoint"] as? String == C.pushEndpoint)
            #expect(metadata["require_pushed_authorization_requests"] as? Bool == true)
            #expect(metadata["request_parameter_supported"] as? Bool == true)
            #expect(
                metadata["response_modes_supported"] as? [String] == [
                    "form_post", "form_post.jwt", "fragment", "fragment.jwt", "jwt", "query", "query.jwt",
                ]
            )
            #expect(
                metadata["token_endpoint_auth_methods_supported"] as? [String] == [
                    "client_secret_basic", "client_secret_post", "private_key_jwt", "none",
                ]
            )
            for name in [
                "token_endpoint_auth_signing_alg_values_supported", "request_object_signing_alg_values_supported",
                "dpop_signing_alg_values_supported",
            ] {
                #expect(metadata[name] as? [String] == ["RS256", "PS256", "ES256", "EdDSA"])
            }
            #expect(metadata["code_challenge_methods_supported"] as? [String] == ["S256"])
            #expect((metadata["authorization_details_types_supported"] as? [String])?.contains { $0.hasPrefix("meta_type_") } == true)
            #expect(metadata["mtls_endpoint_aliases"] == nil)
        }
        let mtls = try await C.node {
            $0.security.clientCertificateHeader = "Client-Cert"
            $0.security.trustedProxies = ["127.0.0.1"]
            $0.oauth.mtlsPushEndpoint = "https://mtls.as.example.com/par"
        }
        try await mtls.application().test(.router) { http in
            let metadata = try jsonObject(try await http.execute(uri: "/.well-known/oauth-authorization-server", method: .get))
            #expect(metadata["require_pushed_authorization_requests"] as? Bool == true)
            #expect((metadata["token_endpoint_auth_methods_supported"] as? [String])?.contains("tls_client_auth") == true)
            #expect((metadata["token_endpoint_auth_methods_supported"] as? [String])?.contains("self_signed_tls_client_auth") == true)
            #expect(
                (metadata["mtls_endpoint_aliases"] as? [String: String])?["pushed_authorization_request_endpoint"]
                    == "https://mtls.as.example.com/par"
            )
        }
    }

    // MARK: Mutual TLS behind a proxy

    @Test func rfc8705_2_certificates_forwarded_by_a_trusted_proxy_authenticate() async throws {
        let certificate = try TestCertificate(commonName: "client-\(UUID().uuidString.prefix(6))")
        let stranger = try TestCertificate(commonName: "stranger")
        let pki = try await C.register("mtls") {
            $0.authMethod = .tlsClientAuth
            $0.jwks = nil
            $0.certificate = CertificateBinding(subjectDN: certificate.subjectDN)
        }
        let byDNS = try await C.register("mtls-dns") {
            $0.authMethod = .tlsClientAuth
            $0.jwks = nil
            $0.certificate = CertificateBinding(sanDNS: stranger.subjectDN.split(separator: ",")[0].dropFirst(3) + ".clients.example.com")
        }
        let selfSigned = try await C.register("mtls-self") {
            $0.authMethod = .selfSignedTLSClientAuth
            $0.jwks = nil
            $0.certificate = CertificateBinding(thumbprints: [certificate.thumbprint])
        }
        let trusting = try await C.node {
            $0.security.clientCertificateHeader = "Client-Cert"
            $0.security.trustedProxies = ["127.0.0.1", "::1"]
        }
        let certificateHeader = HTTPField.Name("Client-Cert")!
        try await trusting.application().test(.live) { http in
            for client in [pki, byDNS, selfSigned] {
                let holder = client.id == byDNS.id ? stranger : certificate
                expectAnswer(try await http.push(pushParameters(client.id), headers: [certificateHeader: holder.headerValue]), .created)
            }
            // Another certificate, none, or a PEM of the wrong one: refused.
            expectAnswer(
                try await http.push(pushParameters(pki.id), headers: [certificateHeader: stranger.headerValue]),
                .unauthorized,
                "invalid_client"
            )
            expectAnswer(
                try await http.push(pushParameters(selfSigned.id), headers: [certificateHeader: stranger.headerValue]),
                .unauthorized,
                "invalid_client"
            )
            expectAnswer(try await http.push(pushParameters(pki.id)), .unauthorized, "invalid_client")
        }
        // The same header from a peer that is not a trusted proxy is not believed.
        let distrusting = try await C.node {
            $0.security.clientCertificateHeader = "Client-Cert"
            $0.security.trustedProxies = ["10.9.9.9"]
        }
        try await distrusting.application().test(.live) { http in
            expectAnswer(
                try await http.push(pushParameters(pki.id), headers: [certificateHeader: certificate.headerValue]),
                .unauthorized,
                "invalid_client"
            )
        }
    }
}
