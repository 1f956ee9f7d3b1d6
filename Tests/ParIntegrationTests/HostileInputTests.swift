import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ParCore
import ParPostgres
import ParRedis
import ParServer
import ParTesting
import ParWorker
import Testing

private typealias C = Conformance

/// Input chosen by an attacker: a clear 4xx for its sender, never a 500, never a crash, and the other callers of the
/// same batch served. Each case here was a 500 or a crash before it was fixed.
@Suite struct HostileInputTests {
    struct Escape: Sendable, CustomTestStringConvertible {
        var name: String
        var parameter: String
        var value: String
        var error: String
        var testDescription: String { name }
    }

    static let escapes: [Escape] = [
        Escape(name: "claims_member_name_nul", parameter: "claims", value: #"{"userinfo":{"a\u0000":null}}"#, error: "invalid_request"),
        Escape(name: "claims_value_nul", parameter: "claims", value: #"{"userinfo":{"email":{"value":"a\u0000b"}}}"#, error: "invalid_request"),
        Escape(name: "claims_lone_high_surrogate", parameter: "claims", value: #"{"userinfo":{"a\ud800":null}}"#, error: "invalid_request"),
        Escape(name: "claims_lone_low_surrogate", parameter: "claims", value: #"{"userinfo":{"a\udc00b":null}}"#, error: "invalid_request"),
        Escape(
            name: "authorization_details_nul",
            parameter: "authorization_details",
            value: #"[{"type":"payment\u0000"}]"#,
            error: "invalid_authorization_details"
        ),
        Escape(
            name: "authorization_details_surrogate_then_text",
            parameter: "authorization_details",
            value: #"[{"type":"payment","identifier":"\ud83dx"}]"#,
            error: "invalid_authorization_details"
        ),
    ]

    /// A trickle of pushes PostgreSQL could not store, sent together with valid ones: each bad one is a 400 for
    /// its sender, every valid one is stored.
    @Test(arguments: escapes) func escapesStorageRefusesAreA400AndTheBatchIsServed(_ escape: Escape) async throws {
        let scenario = try await Scenario.make("escape")
        try await scenario.database.query(
            "UPDATE parstore_clients SET settings = '{\"authorization_details_types\":[\"payment\"]}' WHERE client_id = $1",
            [scenario.clientID]
        )
        try await scenario.node.refreshClients()
        let other = try await TestNodes.make(TestNodes.configuration(databaseURL: scenario.servers.databaseURL, redisURL: scenario.servers.redisURL))
        try await scenario.node.application().test(.router) { first in
            try await other.application().test(.router) { second in
                let statuses = try await withThrowingTaskGroup(of: (Bool, HTTPResponse.Status, String?).self) { group in
                    for index in 0..<24 {
                        let bad = index % 2 == 0
                        let client = index % 4 < 2 ? first : second
                        group.addTask {
                            let extra = bad ? [(escape.parameter, escape.value)] : [("nonce", "neighbour-\(index)")]
                            let response = try await client.execute(
                                uri: "/par",
                                method: .post,
                                headers: formHeaders + [.authorization: basicAuthorization(scenario.clientID, scenario.secret)],
                                body: formBody(pushParameters(scenario.clientID) + extra)
                            )
                            return (bad, response.status, try jsonObject(response)["error"] as? String)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                for (bad, status, error) in statuses {
                    if bad {
                        #expect(status == .badRequest)
                        #expect(error == escape.error)
                    } else {
                        #expect(status == .created)
                    }
                }
                for client in [first, second] {
                    #expect(try await client.pushRequest(scenario.clientID, secret: scenario.secret).hasPrefix("urn:"), "the nodes still serve")
                }
            }
        }
    }

    /// A request object whose claims carry what storage refuses is an invalid request object, not a 500.
    @Test func requestObjectClaimsWithEscapedNULAreRefused() async throws {
        let client = try await C.register("ro-nul")
        let node = try await C.node()
        try await node.application().test(.router) { http in
            for claims in [#"{"userinfo":{"\u0000":null}}"#, #"{"userinfo":{"\ud800":null}}"#] {
                // The claims set is JSON text written by hand, so the escape reaches the parser as sent.
                let payload = C.assertionClaims(client.id).merging(["aud": C.issuer, "client_id": client.id, "response_type": "code"]) { $1 }
                var text = String(decoding: try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys]), as: UTF8.self)
                text.removeLast()
                text += #","claims":"# + claims + "}"
                let token = C.es256.sign(rawClaims: text)
                let response = try await http.push(
                    [("client_id", client.id), ("request", token)] + [
                        ("client_assertion_type", C.jwtBearer), ("client_assertion", C.es256.sign(C.assertionClaims(client.id))),
                    ]
                )
                expectAnswer(response, .badRequest, "invalid_request_object")
            }
        }
    }

    /// `POST /v1/redeem` with an escaped NUL in any member: 400, and the redemptions beside it succeed.
    @Test func backendValuesWithEscapedNULAreA400AndNeighboursRedeem() async throws {
        let scenario = try await Scenario.make("backend-nul")
        try await scenario.node.application().test(.router) { client in
            var uris: [String] = []
            for _ in 0..<20 { uris.append(try await client.pushRequest(scenario.clientID, secret: scenario.secret)) }
            let bodies = [
                #"{"client_id":"x\u0000","request_uri":"urn:ietf:params:oauth:request_uri:v1.20261130.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#,
                #"{"client_id":"\#(scenario.clientID)","request_uri":"\u0000"}"#,
                #"{"ticket":"t1.\u0000"}"#,
                #"{"client_id":"\#(scenario.clientID)\ud800","request_uri":"x"}"#,
                #"{"client_id":"a b","request_uri":"x"}"#,
            ]
            let results = try await withThrowingTaskGroup(of: (String?, HTTPResponse.Status).self) { group in
                for uri in uris { group.addTask { (uri, try await client.redeem(scenario.clientID, uri).status) } }
                for body in bodies {
                    group.addTask {
                        let response = try await client.execute(
                            uri: "/v1/redeem",
                            method: .post,
                            headers: [.contentType: "application/json", .authorization: "Bearer \(TestNodes.apiKey)"],
                            body: ByteBuffer(string: body)
                        )
                        #expect(try jsonObject(response)["error"] is String)
                        return (nil, response.status)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.filter { $0.0 != nil }.allSatisfy { $0.1 == .ok }, "every honest redemption in the same batches succeeded")
            #expect(results.filter { $0.0 == nil }.allSatisfy { $0.1 == .badRequest })
        }
    }

    /// A client assertion expiring in the year 316,889,355 neither crashes the node nor keeps its jti for ever.
    @Test func assertionTimesAtTheEdgeOfTheirTypeAreHandled() async throws {
        let client = try await C.register("far-exp")
        let node = try await C.node()
        try await node.application().test(.router) { http in
            for exp: Any in [10_000_000_000_000_000 as Int64, 1e300, Int64.max, -1] {
                let assertion = C.es256.sign(C.assertionClaims(client.id, ["exp": exp]))
                let response = try await http.push(C.jwtForm(client.id, assertion: assertion))
                #expect(response.status == .created || response.status == .unauthorized)
            }
            // Accepted with iat now: kept in Redis for iat + 60 s + the 10 s skew margin at most.
            let keys = try await node.redis!.command(["KEYS", "parstore:once:*"], key: nil)
            guard case .array(let names) = keys else { Issue.record("no single-use keys"); return }
            for case .string(let name) in names {
                guard case .integer(let ttl) = try await node.redis!.command(["PTTL", name], key: nil) else { continue }
                #expect(ttl > 0 && ttl <= 80_000, "a jti is kept while the JWT could be accepted, never for ever")
            }
            expectAnswer(try await http.push(C.signedForm(client.id)), .created)
        }
    }

    /// FAPI 2.0 §5.4.1: PS256, ES256 or EdDSA; an RS256 assertion, request object or DPoP proof is refused.
    @Test func fapi2_5_4_1_rs256IsRefusedForFAPIClients() async throws {
        let client = try await C.register("fapi-rs") { $0.profile = .fapi2 }
        let standard = try await C.register("std-rs")
        let node = try await C.node()
        let rs256 = C.keys[.rs256]!
        let ps256 = C.keys[.ps256]!
        try await node.application().test(.router) { http in
            expectAnswer(try await http.push(C.signedForm(client.id, key: rs256)), .unauthorized, "invalid_client")
            expectAnswer(
                try await http.push(C.signedForm(client.id, key: ps256), headers: [.dpopProof: C.dpopProof(rs256)]),
                .badRequest,
                "invalid_dpop_proof"
            )
            expectAnswer(try await http.push(C.signedForm(client.id, key: ps256), headers: [.dpopProof: C.dpopProof(ps256)]), .created)
            // RS256 is fine for a standard client.
            expectAnswer(try await http.push(C.signedForm(standard.id, key: rs256)), .created)
        }
    }

    /// 1,000 refused `/authorize` visits with one valid request_uri cost counters, not rows.
    @Test func aFloodOfRefusedVisitsAddsAtMostAHandfulOfRows() async throws {
        let scenario = try await Scenario.make("flood")
        let thief = uniqueClientID("flood-thief")
        try await scenario.database.register(thief)
        try await scenario.node.refreshClients()
        try await scenario.node.application().test(.router) { client in
            let requestURI = try await client.pushRequest(scenario.clientID, secret: scenario.secret)
            #expect(try await client.authorize(scenario.clientID, requestURI).status == .seeOther)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        for index in 0..<125 {
                            // No cookie (another browser), or the wrong client.
                            let answer = try await client.authorize(worker % 2 == 0 || index % 3 == 0 ? scenario.clientID : thief, requestURI)
                            #expect(answer.status == .badRequest)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        try await Task.sleep(for: .milliseconds(500))
        let refused = try await scenario.database.count(
            "SELECT count(*) FROM par_events WHERE kind = 'refused' AND client_id IN ($1, $2)",
            [scenario.clientID, thief]
        )
        #expect(refused >= 1 && refused <= 2, "one row per reason (wrong_user_agent, wrong_client), not per visit")
        let metrics = scenario.node.metrics.render()
        #expect(metrics.contains(#"parstore_refusals_total{reason="wrong_user_agent"}"#))
    }

    /// A removed client's requests are dead on every path: backend redemption by request_uri or ticket, ticket reads.
    @Test func aRemovedClientIsDeadOnEveryPath() async throws {
        let scenario = try await Scenario.make("removed")
        try await scenario.node.application().test(.router) { client in
            let plain = try await client.pushRequest(scenario.clientID, secret: scenario.secret)
            let browser = try await client.pushRequest(scenario.clientID, secret: scenario.secret)
            let ticket = try #require(try await client.authorize(scenario.clientID, browser).ticket)
            let url = scenario.database.url
            #expect(try await runOnOwnThread { try ClientTable.remove(scenario.clientID, on: PGConnection(url)) })
            // Even before this node's registry refresh, PostgreSQL refuses; after it, the node refuses first.
            for _ in 0..<2 {
                let byURI = try await client.redeem(scenario.clientID, plain)
                #expect(byURI.status == .badRequest)
                #expect(try jsonObject(byURI)["reason"] as? String == "unregistered_client")
                let byTicket = try await client.redeem(ticket: ticket)
                #expect(byTicket.status == .badRequest)
                #expect(try jsonObject(byTicket)["reason"] as? String == "unregistered_client")
                let read = try await client.readTicket(ticket)
                #expect(read.status == .notFound)
                #expect(try jsonObject(read)["reason"] as? String == "unregistered_client")
                try await scenario.node.refreshClients()
            }
        }
    }

    /// Mutations of valid requests to every face, bounded in count and time: never a 5xx.
    @Test func aMutationFuzzOfEveryFaceGetsNo5xx() async throws {
        let scenario = try await Scenario.make("fuzz")
        let mutations = 1_500
        let answered = try await scenario.node.application().test(.router) { client in
            var generator = SystemRandomNumberGenerator()
            var answered = 0
            let requestURI = try await client.pushRequest(scenario.clientID, secret: scenario.secret)
            let ticket = try #require(
                try await client.authorize(scenario.clientID, try await client.pushRequest(scenario.clientID, secret: scenario.secret)).ticket
            )
            let form = String(buffer: formBody(pushParameters(scenario.clientID)))
            let redeem = #"{"client_id":"\#(scenario.clientID)","request_uri":"\#(requestURI)"}"#
            let authorize =
                "client_id=\(scenario.clientID)&request_uri=" + (requestURI.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
            // Bounded by count; the deadline only stops a hang (1,500 requests take two seconds here).
            let deadline = ContinuousClock.now + .seconds(120)
            while ContinuousClock.now < deadline && answered < mutations {
                let face = Int.random(in: 0..<4, using: &generator)
                let response: TestResponse
                switch face {
                case 0:
                    response = try await client.execute(
                        uri: "/par",
                        method: .post,
                        headers: formHeaders + [.authorization: basicAuthorization(scenario.clientID, scenario.secret)],
                        body: ByteBuffer(string: Fuzz.mutate(form, json: false, using: &generator))
                    )
                case 1:
                    response = try await client.execute(
                        uri: "/v1/redeem",
                        method: .post,
                        headers: [.contentType: "application/json", .authorization: "Bearer \(TestNodes.apiKey)"],
                        body: ByteBuffer(
                            string: Fuzz.mutate(Bool.random(using: &generator) ? redeem : #"{"ticket":"\#(ticket)"}"#, json: true, using: &generator)
                        )
                    )
                case 2:
                    let query =
                        Fuzz.mutate(authorize, json: false, using: &generator).addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? ""
                    response = try await client.execute(uri: "/authorize?" + query, method: .get, headers: [.accept: "application/json"])
                default:
                    let path = Fuzz.mutate(ticket, json: false, using: &generator).addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? ""
                    response = try await client.execute(
                        uri: "/v1/tickets/" + path,
                        method: .get,
                        headers: [.authorization: "Bearer \(TestNodes.apiKey)"]
                    )
                }
                #expect(response.status.code < 500, "face \(face): \(String(buffer: response.body))")
                answered += 1
            }
            return answered
        }
        #expect(answered == mutations, "every mutation was answered")
    }
}

/// Mutations an attacker would try on a valid request.
enum Fuzz {
    static let fragments = [
        #"\u0000"#, #"\ud800"#, #"\udfff"#, "%00", "%ff", "%", "&", "=", "\"", "\\", "{", "}", "[", "]", "99999999999999999999999",
        "-1", "1e400", "null", "true", #"{"a":"#, "&claims=%7B%22userinfo%22%3A%7B%22a%5Cu0000%22%3Anull%7D%7D", "&request_uri=x",
        "&client_id=", "\u{0}", "é", "\u{10FFFF}",
    ]

    static func mutate(_ text: String, json: Bool, using generator: inout SystemRandomNumberGenerator) -> String {
        var scalars = Array(text.unicodeScalars)
        for _ in 0..<Int.random(in: 1...3, using: &generator) {
            let position = scalars.isEmpty ? 0 : Int.random(in: 0...scalars.count, using: &generator)
            switch Int.random(in: 0..<4, using: &generator) {
            case 0: scalars.insert(contentsOf: fragments.randomElement(using: &generator)!.unicodeScalars, at: position)
            case 1: if position < scalars.count { scalars.remove(at: position) }
            case 2: if position < scalars.count { scalars[position] = Unicode.Scalar(UInt8.random(in: 0x20...0x7e, using: &generator)) }
            default: scalars += scalars.prefix(Int.random(in: 0...min(40, scalars.count), using: &generator))
            }
        }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars)
        return String(out)
    }
}
