import Foundation
import ParCore
import Testing

@Suite struct AuthorizationRequestValidatorTests {
    static let client = Client(
        id: "client-1",
        authMethod: .clientSecretBasic,
        secretHash: nil,
        redirectURIs: ["https://client.example.org/cb", "https://client.example.org/cb2?x=1"],
        scopes: ["openid", "profile", "accounts"],
        authorizationDetailsTypes: ["payment_initiation"]
    )
    static let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    static let valid =
        "response_type=code&client_id=client-1&redirect_uri=https%3A%2F%2Fclient.example.org%2Fcb&scope=openid+profile"
        + "&code_challenge=\(challenge)&code_challenge_method=S256"

    private func validate(_ body: String, client: Client = Self.client) throws(OAuthError) -> PushedRequest {
        try AuthorizationRequestValidator().validate(try FormParameters(parsing: Array(body.utf8)).pairs, for: client)
    }

    private func expectRefusal(
        _ body: String,
        _ code: OAuthError.Code,
        client: Client = Self.client,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            _ = try validate(body, client: client)
            Issue.record("accepted", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, sourceLocation: sourceLocation)
            #expect(error.status == 400, sourceLocation: sourceLocation)
        }
    }

    @Test func acceptsAValidRequestAndKeepsItsParametersAsPushed() throws {
        let pushed = try validate(Self.valid + "&state=xyz&nonce=n-1&ui_locales=fr+en&client_secret=s3cr3t&prompt=")
        #expect(pushed.clientID == "client-1")
        let names = pushed.parameters.map(\.name)
        #expect(
            names == [
                "response_type", "client_id", "redirect_uri", "scope", "code_challenge", "code_challenge_method", "state", "nonce", "ui_locales",
            ]
        )
        #expect(!names.contains("client_secret"), "authentication parameters are not part of the request")
        #expect(!names.contains("prompt"), "RFC 6749 §3.1: an empty parameter counts as omitted")
        #expect(pushed.parametersJSON.contains(#""ui_locales":"fr en""#))
    }

    @Test func rfc9126_2_1_rejectsRequestURIParameter() {
        expectRefusal(Self.valid + "&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Aabc", .invalidRequest)
    }

    @Test func rfc6749_3_1_rejectsRepeatedParameters() {
        expectRefusal(Self.valid + "&state=a&state=b", .invalidRequest)
        expectRefusal(Self.valid + "&response_type=code", .invalidRequest)
    }

    @Test func rfc6749_4_1_1_requiresClientIDMatchingTheAuthenticatedClient() {
        expectRefusal(Self.valid.replacingOccurrences(of: "&client_id=client-1", with: ""), .invalidRequest)
        expectRefusal(Self.valid.replacingOccurrences(of: "client_id=client-1", with: "client_id=client-2"), .invalidRequest)
    }

    @Test func rfc6749_4_1_1_requiresResponseTypeCode() {
        expectRefusal(Self.valid.replacingOccurrences(of: "response_type=code&", with: ""), .invalidRequest)
        expectRefusal(Self.valid.replacingOccurrences(of: "response_type=code", with: "response_type=token"), .unsupportedResponseType)
        expectRefusal(Self.valid.replacingOccurrences(of: "response_type=code", with: "response_type=code+id_token"), .unsupportedResponseType)
    }

    @Test func rfc9126_2_4_requiresAnExactlyRegisteredRedirectURI() throws {
        expectRefusal(Self.valid.replacingOccurrences(of: "&redirect_uri=https%3A%2F%2Fclient.example.org%2Fcb", with: ""), .invalidRequest)
        for other in [
            "https%3A%2F%2Fclient.example.org%2Fcb%2F", "https%3A%2F%2Fclient.example.org%2Fcb%3Fx%3D2", "https%3A%2F%2Fevil.example%2Fcb",
            "HTTPS%3A%2F%2Fclient.example.org%2Fcb",
        ] {
            expectRefusal(Self.valid.replacingOccurrences(of: "https%3A%2F%2Fclient.example.org%2Fcb", with: other), .invalidRequest)
        }
        _ = try validate(
            Self.valid.replacingOccurrences(of: "https%3A%2F%2Fclient.example.org%2Fcb", with: "https%3A%2F%2Fclient.example.org%2Fcb2%3Fx%3D1")
        )
    }

    @Test func rfc6749_3_3_scopeMustBeWellFormedAndAllowed() throws {
        expectRefusal(Self.valid.replacingOccurrences(of: "scope=openid+profile", with: "scope=openid+admin"), .invalidScope)
        expectRefusal(Self.valid.replacingOccurrences(of: "scope=openid+profile", with: "scope=openid++profile"), .invalidScope)
        expectRefusal(Self.valid.replacingOccurrences(of: "scope=openid+profile", with: "scope=open%22id"), .invalidScope)
        _ = try validate(Self.valid.replacingOccurrences(of: "&scope=openid+profile", with: ""))
    }

    @Test func rfc7636_4_3_requiresACodeChallengeWithS256() {
        expectRefusal(Self.valid.replacingOccurrences(of: "&code_challenge=\(Self.challenge)", with: ""), .invalidRequest)
        expectRefusal(Self.valid.replacingOccurrences(of: "&code_challenge_method=S256", with: ""), .invalidRequest)
        expectRefusal(Self.valid.replacingOccurrences(of: "S256", with: "plain"), .invalidRequest)
        expectRefusal(Self.valid.replacingOccurrences(of: "S256", with: "s256"), .invalidRequest)
    }

    @Test func rfc7636_4_2_refusesAMalformedCodeChallenge() {
        expectRefusal(Self.valid.replacingOccurrences(of: Self.challenge, with: "short"), .invalidRequest)
        expectRefusal(Self.valid.replacingOccurrences(of: Self.challenge, with: String(Self.challenge.dropLast()) + "%2B"), .invalidRequest)
    }

    @Test func rfc9101_aRequestObjectInsideARequestObjectIsRefused() throws {
        let pairs = try FormParameters(parsing: Array((Self.valid + "&request=a.b.c").utf8)).pairs
        #expect(throws: OAuthError(.invalidRequestObject, "A request object must not contain another request object.")) {
            try AuthorizationRequestValidator().validate(pairs, for: Self.client, fromRequestObject: true)
        }
    }

    @Test func rfc8707_2_resourcesAreAbsoluteURIsWithoutFragmentAndMayRepeat() throws {
        let pushed = try validate(Self.valid + "&resource=https%3A%2F%2Fapi.example.com%2F&resource=urn%3Aexample%3Aledger")
        #expect(pushed.parametersJSON.contains(#""resource":["https://api.example.com/","urn:example:ledger"]"#))
        expectRefusal(Self.valid + "&resource=%2Frelative", .invalidTarget)
        expectRefusal(Self.valid + "&resource=https%3A%2F%2Fapi.example.com%2F%23frag", .invalidTarget)
    }

    @Test func rfc9396_2_authorizationDetailsIsAnArrayOfObjectsOfAllowedTypes() throws {
        let details = #"[{"type":"payment_initiation","actions":["initiate"],"instructedAmount":{"currency":"EUR","amount":"123.50"}}]"#
        let encoded = details.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let pushed = try validate(Self.valid + "&authorization_details=" + encoded)
        // Stored as JSON, not as a string.
        let stored = try JSONSerialization.jsonObject(with: Data(pushed.parametersJSON.utf8)) as? [String: Any]
        #expect((stored?["authorization_details"] as? [[String: Any]])?.first?["type"] as? String == "payment_initiation")
        for bad in [
            #"{"type":"payment_initiation"}"#, #"[]"#, #"[1]"#, #"[{"actions":["x"]}]"#, #"[{"type":"account_information"}]"#,
            #"[{"type":"payment_initiation","actions":"initiate"}]"#, #"[{"type":"payment_initiation","identifier":7}]"#, "not json",
        ] {
            expectRefusal(Self.valid + "&authorization_details=" + bad.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!, .invalidAuthorizationDetails)
        }
        let large = "[" + Array(repeating: #"{"type":"payment_initiation"}"#, count: 400).joined(separator: ",") + "]"
        expectRefusal(Self.valid + "&authorization_details=" + large.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!, .invalidAuthorizationDetails)
    }

    @Test func oidcCore_3_1_2_1_openIDParametersAreCheckedForForm() throws {
        let claims = #"{"id_token":{"acr":{"essential":true},"email":null}}"#.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let pushed = try validate(
            Self.valid + "&nonce=n-0S6&prompt=login+consent&max_age=0300&login_hint=alice&ui_locales=de-CH+en&acr_values=urn%3Aacr%3A1"
                + "&response_mode=form_post&display=page&claims=" + claims
        )
        let stored = try #require(try JSONSerialization.jsonObject(with: Data(pushed.parametersJSON.utf8)) as? [String: Any])
        #expect(stored["max_age"] as? Int == 300)
        #expect((stored["claims"] as? [String: Any])?["id_token"] != nil)
        #expect(stored["nonce"] as? String == "n-0S6")
        for bad in [
            "prompt=none+login", "prompt=sometimes", "max_age=-1", "max_age=1.5", "display=hologram", "response_mode=telepathy",
            "ui_locales=de_CH", "claims=%5B%5D", "claims=%7B%22id_token%22%3A5%7D",
        ] {
            expectRefusal(Self.valid + "&" + bad, .invalidRequest)
        }
    }

    @Test func rfc9449_10_1_dpopJktMustBeAThumbprint() {
        expectRefusal(Self.valid + "&dpop_jkt=short", .invalidRequest)
        #expect((try? validate(Self.valid + "&dpop_jkt=" + Self.challenge)) != nil)
    }

    @Test func rfc9126_2_4_unregisteredRedirectURIsOnlyForConfidentialClientsThatMayAndUnderTheirPrefixes() {
        var open = Self.client
        open.allowsUnregisteredRedirectURIs = true
        open.redirectURIPrefixes = ["https://client.example.org/app/"]
        let inside = Self.valid.replacingOccurrences(of: "%2Fcb", with: "%2Fapp%2Fcallback-7")
        #expect((try? validate(inside, client: open)) != nil)
        expectRefusal(inside, .invalidRequest)  // not allowed for the default client
        for outside in ["%2Fother", "%2Fapp%2F..%2Fadmin", "%2Fapp%2F%2E%2E%2Fadmin"] {
            expectRefusal(Self.valid.replacingOccurrences(of: "%2Fcb", with: outside), .invalidRequest, client: open)
        }
        expectRefusal(inside.replacingOccurrences(of: "https%3A", with: "http%3A"), .invalidRequest, client: open)
        var publicClient = open
        publicClient.authMethod = .none
        expectRefusal(inside, .invalidRequest, client: publicClient)
    }

    @Test func rfc6749_3_1_2_3_redirectURIMayBeOmittedOnlyWithOneRegisteredAndOutsideOIDCAndFAPI() throws {
        var single = Self.client
        single.redirectURIs = ["https://client.example.org/cb"]
        let withoutRedirect = Self.valid.replacingOccurrences(of: "&redirect_uri=https%3A%2F%2Fclient.example.org%2Fcb", with: "")
        let plainOAuth = withoutRedirect.replacingOccurrences(of: "scope=openid+profile", with: "scope=accounts")
        #expect((try? validate(plainOAuth, client: single)) != nil)
        expectRefusal(plainOAuth, .invalidRequest)  // two registered
        expectRefusal(withoutRedirect, .invalidRequest, client: single)  // OpenID Connect
        var fapi = single
        fapi.profile = .fapi2
        expectRefusal(plainOAuth, .invalidRequest, client: fapi)
    }
}
