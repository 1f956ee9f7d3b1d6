import Foundation
import ParCore
import Testing

@Suite struct AuthorizationRequestValidatorTests {
    static let client = Client(
        id: "client-1",
        authMethod: .clientSecretBasic,
        secretHash: nil,
        redirectURIs: ["https://client.example.org/cb", "https://client.example.org/cb2?x=1"],
        scopes: ["openid", "profile", "accounts"]
    )
    static let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    static let valid =
        "response_type=code&client_id=client-1&redirect_uri=https%3A%2F%2Fclient.example.org%2Fcb&scope=openid+profile"
        + "&code_challenge=\(challenge)&code_challenge_method=S256"

    private func validate(_ body: String) throws(OAuthError) -> PushedRequest {
        try AuthorizationRequestValidator().validate(try FormParameters(parsing: Array(body.utf8)), for: Self.client)
    }

    private func expectRefusal(_ body: String, _ code: OAuthError.Code, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try validate(body)
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

    @Test func rfc9101_requestObjectsAreRefusedUntilSupported() {
        expectRefusal(Self.valid + "&request=eyJhbGciOiJub25lIn0.e30.", .requestNotSupported)
    }
}
