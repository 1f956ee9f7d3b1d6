import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import ParEmbedded
import ParRedis
import ParServer
import ParTesting
import Testing

/// Bad input gets the documented 4xx with an OAuth error body: never a 500, never a crash.
@Suite struct BadInputTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var method: HTTPRequest.Method = .post
        var uri = "/par"
        var headers: HTTPFields
        var body: String?
        var status: Int
        var error: String
        var challenge: Bool = false
        var testDescription: String { name }
    }

    static let clientID = "bad-input-client"
    static let secret = "bad-input-secret-not-used-for-anything-real-0000"
    static let valid =
        "response_type=code&client_id=\(clientID)&redirect_uri=https%3A%2F%2Fclient.example.org%2Fcb"
        + "&code_challenge=\(challenge)&code_challenge_method=S256"
    static let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
    static let basic: HTTPFields = form + [.authorization: basicAuthorization(clientID, secret)]

    static let cases: [Case] = [
        Case(
            name: "rfc9126_2_no_content_type",
            headers: [.authorization: basicAuthorization(clientID, secret)],
            body: valid,
            status: 400,
            error: "invalid_request"
        ),
        Case(name: "rfc9126_2_json_body", headers: [.contentType: "application/json"], body: "{}", status: 400, error: "invalid_request"),
        Case(name: "rfc9126_2_3_get_is_405", method: .get, headers: [:], status: 405, error: "invalid_request"),
        Case(name: "rfc9126_2_3_delete_is_405", method: .delete, headers: [:], status: 405, error: "invalid_request"),
        Case(name: "bad_percent_escape", headers: basic, body: valid + "&state=%zz", status: 400, error: "invalid_request"),
        Case(name: "truncated_percent_escape", headers: basic, body: valid + "&state=%4", status: 400, error: "invalid_request"),
        Case(name: "invalid_utf8", headers: basic, body: valid + "&state=%ff%fe", status: 400, error: "invalid_request"),
        Case(name: "nul_character", headers: basic, body: valid + "&state=a%00b", status: 400, error: "invalid_request"),
        Case(name: "empty_parameter_name", headers: basic, body: valid + "&=x", status: 400, error: "invalid_request"),
        Case(
            name: "too_many_parameters",
            headers: basic,
            body: valid + (0..<120).map { "&p\($0)=x" }.joined(),
            status: 400,
            error: "invalid_request"
        ),
        Case(
            name: "oversized_field",
            headers: basic,
            body: valid + "&state=" + String(repeating: "a", count: 20_000),
            status: 400,
            error: "invalid_request"
        ),
        Case(
            name: "rfc9126_2_3_oversized_body_is_413",
            headers: basic,
            body: valid + "&state=" + String(repeating: "a", count: 70_000),
            status: 413,
            error: "invalid_request"
        ),
        Case(
            name: "rfc6749_3_1_repeated_parameter",
            headers: basic,
            body: valid + "&scope=openid&scope=profile",
            status: 400,
            error: "invalid_request"
        ),
        Case(
            name: "rfc9126_2_1_rejects_request_uri_parameter",
            headers: basic,
            body: valid + "&request_uri=urn%3Ax",
            status: 400,
            error: "invalid_request"
        ),
        Case(name: "rfc6749_2_3_no_client_authentication", headers: form, body: "response_type=code", status: 401, error: "invalid_client"),
        Case(
            name: "rfc6749_5_2_wrong_secret_basic_has_challenge",
            headers: form + [.authorization: basicAuthorization(clientID, "nope")],
            body: valid,
            status: 401,
            error: "invalid_client",
            challenge: true
        ),
        Case(
            name: "rfc6749_5_2_bearer_scheme_has_challenge",
            headers: form + [.authorization: "Bearer abc"],
            body: valid,
            status: 401,
            error: "invalid_client",
            challenge: true
        ),
        Case(
            name: "rfc6749_5_2_malformed_basic_has_challenge",
            headers: form + [.authorization: "Basic !!!not-base64"],
            body: valid,
            status: 401,
            error: "invalid_client",
            challenge: true
        ),
        Case(name: "rfc6749_2_3_two_authentication_methods", headers: basic, body: valid + "&client_secret=x", status: 400, error: "invalid_request"),
        Case(name: "rfc6749_5_2_unknown_client_post", headers: form, body: "client_id=nobody&client_secret=x", status: 401, error: "invalid_client"),
        Case(
            name: "rfc6749_4_1_2_1_unsupported_response_type",
            headers: basic,
            body: valid.replacingOccurrences(of: "response_type=code", with: "response_type=token"),
            status: 400,
            error: "unsupported_response_type"
        ),
        Case(
            name: "rfc7636_4_3_plain_refused",
            headers: basic,
            body: valid.replacingOccurrences(of: "S256", with: "plain"),
            status: 400,
            error: "invalid_request"
        ),
        Case(name: "rfc6749_3_3_scope_not_allowed", headers: basic, body: valid + "&scope=admin", status: 400, error: "invalid_scope"),
        Case(
            name: "redeem_without_api_key",
            uri: "/v1/redeem",
            headers: [.contentType: "application/json"],
            body: #"{"client_id":"a","request_uri":"b"}"#,
            status: 401,
            error: "invalid_token",
            challenge: true
        ),
        Case(
            name: "redeem_with_wrong_api_key",
            uri: "/v1/redeem",
            headers: [.contentType: "application/json", .authorization: "Bearer wrong-key-000000000000"],
            body: #"{"client_id":"a","request_uri":"b"}"#,
            status: 401,
            error: "invalid_token",
            challenge: true
        ),
        Case(
            name: "redeem_malformed_json",
            uri: "/v1/redeem",
            headers: [.contentType: "application/json", .authorization: "Bearer \(TestNodes.apiKey)"],
            body: #"{"client_id":"#,
            status: 400,
            error: "invalid_request"
        ),
        Case(
            name: "redeem_wrong_types",
            uri: "/v1/redeem",
            headers: [.contentType: "application/json", .authorization: "Bearer \(TestNodes.apiKey)"],
            body: #"{"client_id":1,"request_uri":[]}"#,
            status: 400,
            error: "invalid_request"
        ),
        Case(
            name: "redeem_form_body",
            uri: "/v1/redeem",
            headers: [.contentType: "application/x-www-form-urlencoded", .authorization: "Bearer \(TestNodes.apiKey)"],
            body: "client_id=a",
            status: 400,
            error: "invalid_request"
        ),
        Case(name: "unknown_path", method: .get, uri: "/nowhere", headers: [:], status: 404, error: "invalid_request"),
    ]

    @Test(arguments: cases) func refusedWithTheDocumentedStatus(_ testCase: Case) async throws {
        let servers = try await TestServers.shared.shared()
        try await Self.ensureClient(in: TestDatabase(url: servers.databaseURL))
        let node = try await TestNodes.make(TestNodes.configuration(databaseURL: servers.databaseURL, redisURL: servers.redisURL))
        try await node.application().test(.router) { client in
            let response = try await client.execute(
                uri: testCase.uri,
                method: testCase.method,
                headers: testCase.headers,
                body: testCase.body.map { ByteBuffer(string: $0) }
            )
            #expect(Int(response.status.code) == testCase.status)
            let body = try jsonObject(response)
            #expect(body["error"] as? String == testCase.error)
            #expect(body["error_description"] is String)
            #expect((response.headers[.wwwAuthenticate] != nil) == testCase.challenge)
            if testCase.status == 405 { #expect(response.headers[.allow] == "POST") }
        }
    }

    @Test func randomBytesNeverCauseA500() async throws {
        let servers = try await TestServers.shared.shared()
        try await Self.ensureClient(in: TestDatabase(url: servers.databaseURL))
        let node = try await TestNodes.make(TestNodes.configuration(databaseURL: servers.databaseURL, redisURL: servers.redisURL))
        var generator = SystemRandomNumberGenerator()
        let bodies: [[UInt8]] = (0..<200).map { _ in
            let alphabet = Array("%&=+abc0123456789ABCDEF\u{0}\u{ff}".utf8) + [0xc3, 0x28, 0xe2, 0x82]
            return (0..<Int.random(in: 0..<300, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
        }
        try await node.application().test(.router) { client in
            for body in bodies {
                for headers in [Self.basic, Self.form] {
                    let response = try await client.execute(uri: "/par", method: .post, headers: headers, body: ByteBuffer(bytes: body))
                    #expect((400..<500).contains(Int(response.status.code)))
                    #expect(try jsonObject(response)["error"] is String)
                }
            }
        }
    }

    private static func ensureClient(in database: TestDatabase) async throws {
        try await database.query(
            """
            INSERT INTO parstore_clients (client_id, auth_method, secret_hash, redirect_uris, scopes)
            VALUES ($1, 'client_secret_basic', sha256(convert_to($2, 'UTF8')), '{https://client.example.org/cb}', '{openid,profile}')
            ON CONFLICT (client_id) DO NOTHING
            """,
            [clientID, secret]
        )
    }
}
