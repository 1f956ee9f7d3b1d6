import Foundation
import ParCore
import Testing

@Suite struct ClientAuthenticatorTests {
    static let basicSecret = "basic-secret-Kd93_x"
    static let postSecret = "post secret & more"
    static let clients: [String: Client] = [
        "basic": Client(id: "basic", authMethod: .clientSecretBasic, secretHash: Secret.sha256(basicSecret), redirectURIs: [], scopes: []),
        "post": Client(id: "post", authMethod: .clientSecretPost, secretHash: Secret.sha256(postSecret), redirectURIs: [], scopes: []),
        "public": Client(id: "public", authMethod: .none, secretHash: nil, redirectURIs: [], scopes: []),
        "a b:c": Client(id: "a b:c", authMethod: .clientSecretBasic, secretHash: Secret.sha256("s:é+"), redirectURIs: [], scopes: []),
    ]

    private func authenticate(_ header: String?, _ body: String) throws(OAuthError) -> Client {
        try ClientAuthenticator().authenticate(
            authorization: header,
            form: try FormParameters(parsing: Array(body.utf8)),
            lookup: { Self.clients[$0] }
        )
    }

    private func basic(_ id: String, _ secret: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let encoded = id.addingPercentEncoding(withAllowedCharacters: allowed)! + ":" + secret.addingPercentEncoding(withAllowedCharacters: allowed)!
        return "Basic " + Data(encoded.utf8).base64EncodedString()
    }

    @Test func rfc6749_2_3_1_acceptsBasicWithFormEncodedCredentials() throws {
        #expect(try authenticate(basic("basic", Self.basicSecret), "client_id=basic").id == "basic")
        #expect(try authenticate(basic("a b:c", "s:é+"), "").id == "a b:c")
        #expect(try authenticate("basic " + Data("basic:\(Self.basicSecret)".utf8).base64EncodedString(), "").id == "basic")
    }

    @Test func rfc6749_2_3_1_acceptsClientSecretPost() throws {
        #expect(try authenticate(nil, "client_id=post&client_secret=post+secret+%26+more").id == "post")
    }

    @Test func rfc6749_2_1_acceptsAPublicClientByItsIdAlone() throws {
        #expect(try authenticate(nil, "client_id=public").id == "public")
    }

    @Test func rfc6749_5_2_wrongSecretIsInvalidClientWithAChallengeOnlyForTheHeader() {
        #expect(throws: OAuthError.invalidClient("Client authentication failed.", usedAuthorizationHeader: true)) {
            try authenticate(basic("basic", "wrong"), "")
        }
        #expect(throws: OAuthError.invalidClient("Client authentication failed.", usedAuthorizationHeader: false)) {
            try authenticate(nil, "client_id=post&client_secret=wrong")
        }
    }

    @Test func rfc9126_2_eachClientUsesOnlyItsRegisteredMethod() {
        // A basic client presenting its secret in the body, a post client in the header, a confidential client with none.
        #expect(throws: OAuthError.self) { try authenticate(nil, "client_id=basic&client_secret=\(Self.basicSecret)") }
        #expect(throws: OAuthError.self) { try authenticate(basic("post", Self.postSecret), "") }
        #expect(throws: OAuthError.self) { try authenticate(nil, "client_id=basic") }
        #expect(throws: OAuthError.self) { try authenticate(nil, "client_id=public&client_secret=x") }
        #expect(throws: OAuthError.self) { try authenticate(basic("public", ""), "") }
    }

    @Test func rfc6749_2_3_refusesTwoAuthenticationMethods() {
        #expect(throws: OAuthError.self) { try authenticate(basic("basic", Self.basicSecret), "client_secret=\(Self.basicSecret)") }
        do {
            _ = try authenticate(basic("basic", Self.basicSecret), "client_secret=x")
        } catch {
            #expect(error.code == .invalidRequest)
            #expect(error.status == 400)
        }
    }

    @Test func unknownClientsMissingIdsAndOtherSchemesAreInvalidClient() {
        for (header, body) in [
            (nil, "client_id=nobody&client_secret=x"), (nil, "response_type=code"), ("Bearer x", ""), ("Basic ***", ""),
            (basic("nobody", "x"), ""),
        ] as [(String?, String)] {
            do {
                _ = try authenticate(header, body)
                Issue.record("accepted \(body)")
            } catch {
                #expect(error.code == .invalidClient)
                #expect(error.status == 401)
                #expect((error.challenge != nil) == (header != nil))
            }
        }
    }

    @Test func rfc7523_jwtAssertionsAreRefusedUntilSupported() {
        #expect(throws: OAuthError.self) {
            try authenticate(
                nil,
                "client_id=post&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=x"
            )
        }
    }

    @Test func rfc6749_3_1_repeatedAuthenticationParametersAreRefused() {
        #expect(throws: OAuthError.self) { try authenticate(nil, "client_id=post&client_id=post&client_secret=x") }
        #expect(throws: OAuthError.self) { try authenticate(nil, "client_id=post&client_secret=\(Self.postSecret)&client_secret=x") }
    }
}
