import Foundation
import ParCore
import Testing

@Suite struct ClientCredentialReaderTests {
    static let basicSecret = "basic-secret-Kd93_x"
    static let postSecret = "post secret & more"
    static let clients: [String: Client] = [
        "basic": Client(id: "basic", authMethod: .clientSecretBasic, secretHash: Secret.sha256(basicSecret), redirectURIs: [], scopes: []),
        "post": Client(id: "post", authMethod: .clientSecretPost, secretHash: Secret.sha256(postSecret), redirectURIs: [], scopes: []),
        "public": Client(id: "public", authMethod: .none, secretHash: nil, redirectURIs: [], scopes: []),
        "jwt": Client(id: "jwt", authMethod: .privateKeyJWT, secretHash: nil, redirectURIs: [], scopes: []),
        "mtls": Client(id: "mtls", authMethod: .tlsClientAuth, secretHash: nil, redirectURIs: [], scopes: []),
        "a b:c": Client(id: "a b:c", authMethod: .clientSecretBasic, secretHash: Secret.sha256("s:é+"), redirectURIs: [], scopes: []),
    ]

    private func credential(_ header: String?, _ body: String) throws(OAuthError) -> ClientCredential {
        try ClientCredentialReader().read(
            authorization: header,
            form: try FormParameters(parsing: Array(body.utf8)),
            lookup: { Self.clients[$0] }
        )
    }

    /// The client a secret or public authentication settles on.
    private func authenticate(_ header: String?, _ body: String) throws(OAuthError) -> Client {
        guard case .authenticated(let client) = try credential(header, body) else {
            throw .invalidRequest("authentication is not finished")
        }
        return client
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

    @Test func rfc7523_assertionsGoToTheKeyCheckOnlyForPrivateKeyJWTClients() throws {
        let type = "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
        #expect(try credential(nil, "client_id=jwt&\(type)&client_assertion=a.b.c") == .assertion(Self.clients["jwt"]!, "a.b.c"))
        // A secret client cannot switch to an assertion; the type must be RFC 7523's; the assertion must be there.
        for body in ["client_id=post&\(type)&client_assertion=a.b.c", "client_id=jwt&client_assertion_type=x&client_assertion=a.b.c", "client_id=jwt&\(type)"] {
            #expect(throws: OAuthError.self) { try credential(nil, body) }
        }
    }

    @Test func rfc8705_2_certificateClientsAreHandedToTheCertificateCheck() throws {
        #expect(try credential(nil, "client_id=mtls") == .certificate(Self.clients["mtls"]!))
        #expect(throws: OAuthError.self) { try credential(nil, "client_id=mtls&client_secret=x") }
    }

    @Test func rfc6749_3_1_repeatedAuthenticationParametersAreRefused() {
        #expect(throws: OAuthError.self) { try authenticate(nil, "client_id=post&client_id=post&client_secret=x") }
        #expect(throws: OAuthError.self) { try authenticate(nil, "client_id=post&client_secret=\(Self.postSecret)&client_secret=x") }
    }
}
