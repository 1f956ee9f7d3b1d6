import Foundation
import Hummingbird
import HummingbirdTesting
import ParServer
import ParTesting
import Testing

/// Issue 4: load for one user agent, survive reloads, redeem exactly once at code issuance.
@Suite struct AuthorizeTests {
    static let interactionURL = "https://as.example.org/login?lang=en"

    private func scenario(_ prefix: String, configure: @escaping (inout NodeConfiguration) -> Void = { _ in }) async throws -> Scenario {
        try await Scenario.make(prefix) { configuration in
            configuration.oauth.interactionURL = Self.interactionURL
            configure(&configuration)
        }
    }

    @Test func rfc9126_4_aReloadFromTheSameBrowserGetsTheSameTicketAndAnotherBrowserIsRefused() async throws {
        let scenario = try await scenario("reload")
        let (database, clientID) = (scenario.database, scenario.clientID)
        try await scenario.node.application().test(.router) { client in
            let requestURI = try await client.pushRequest(clientID, secret: scenario.secret)
            let first = try await client.authorize(clientID, requestURI)
            #expect(first.status == .seeOther)
            let location = try #require(first.location)
            #expect(location.hasPrefix(Self.interactionURL + "&ticket=t1."))
            let ticket = try #require(first.ticket)
            #expect(ticket.count >= 3 + 9 + 43, "at least 256 bits")
            let setCookie = try #require(first.setCookie)
            for attribute in ["HttpOnly", "SameSite=Lax", "Path=/authorize"] { #expect(setCookie.contains(attribute)) }
            #expect(!setCookie.contains("Secure"), "plain-HTTP development issuer")
            let cookie = try #require(first.cookie)

            let reload = try await client.authorize(clientID, requestURI, cookie: cookie)
            #expect(reload.status == .seeOther)
            #expect(reload.ticket == ticket)
            #expect(reload.setCookie == nil)

            let otherBrowser = try await client.authorize(clientID, requestURI)
            #expect(otherBrowser.status == .badRequest)
            #expect(otherBrowser.location == nil)
            #expect(otherBrowser.contentType?.hasPrefix("text/html") == true)
            #expect(otherBrowser.body.contains("access_denied") && otherBrowser.body.contains("wrong_user_agent"))
            // A well-formed binding no node issued is refused before any database read, and cleared.
            let stranger = try await client.authorize(clientID, requestURI, cookie: "parstore_ua=" + String(repeating: "A", count: 43))
            #expect(stranger.status == .badRequest)
            #expect(stranger.body.contains("invalid_binding"))
            #expect(stranger.setCookie?.contains("Max-Age=0") == true)

            // Only hashes are stored, one loaded event, the refused attempt recorded (off the request path): the
            // forged cookie reached no table.
            #expect(try await eventually { try await database.events(of: requestURI).count == 3 })
            #expect(try await database.events(of: requestURI).map(\.kind) == ["pushed", "loaded", "refused"])
            let stored = try await database.query(
                "SELECT encode(ticket_hash, 'hex'), binding_hash IS NOT NULL FROM par_events WHERE kind = 'loaded' AND client_id = $1",
                [clientID]
            )
            #expect(stored.first?[0] != nil && stored.first?[0] != ticket)
            #expect(stored.first?[1] == "t")
        }
        let metrics = scenario.node.metrics.render()
        #expect(metrics.contains(#"parstore_authorize_total{outcome="loaded"} 1"#))
        #expect(metrics.contains(#"parstore_authorize_total{outcome="reloaded"} 1"#))
        #expect(metrics.contains(#"parstore_authorize_total{outcome="wrong_user_agent"} 1"#))
        #expect(metrics.contains(#"parstore_authorize_total{outcome="invalid_binding"} 1"#))
    }

    @Test func aWrongClientIsRefusedAndTheRequestStaysLoadableByItsOwn() async throws {
        let scenario = try await scenario("owner4")
        let other = uniqueClientID("other4")
        try await scenario.database.register(other)
        try await scenario.node.application().test(.router) { client in
            #expect(try await eventually { scenario.node.clients.client(other) != nil }, "the registry reload sees the new client")
            let requestURI = try await client.pushRequest(scenario.clientID, secret: scenario.secret)
            let wrong = try await client.authorize(other, requestURI, accept: "application/json")
            #expect(wrong.status == .badRequest)
            #expect(wrong.location == nil)
            let error = try #require(try JSONSerialization.jsonObject(with: Data(wrong.body.utf8)) as? [String: Any])
            #expect(error["error"] as? String == "invalid_request")
            #expect(error["reason"] as? String == "wrong_client")
            #expect(try await client.authorize(scenario.clientID, requestURI).status == .seeOther)
        }
    }

    @Test func twoTabsShareTheTicketAndTwoNodesRedeemItExactlyOnce() async throws {
        let scenario = try await scenario("tabs")
        var other = TestNodes.configuration(databaseURL: scenario.servers.databaseURL, redisURL: scenario.servers.redisURL, name: "b")
        other.oauth.interactionURL = Self.interactionURL
        let nodeB = try await TestNodes.make(other)
        try await scenario.node.application().test(.router) { a in
            try await nodeB.application().test(.router) { b in
                // Two racing first visits from two browsers on two nodes: exactly one binding wins.
                let raced = try await a.pushRequest(scenario.clientID, secret: scenario.secret)
                async let left = a.authorize(scenario.clientID, raced)
                async let right = b.authorize(scenario.clientID, raced)
                let answers = try await [left, right]
                #expect(answers.filter { $0.status == .seeOther }.count == 1)
                #expect(answers.filter { $0.status == .badRequest && $0.body.contains("wrong_user_agent") }.count == 1)

                // Two tabs of one browser: the same ticket on both nodes.
                let requestURI = try await a.pushRequest(scenario.clientID, secret: scenario.secret)
                let first = try await a.authorize(scenario.clientID, requestURI)
                let cookie = try #require(first.cookie)
                async let tabA = a.authorize(scenario.clientID, requestURI, cookie: cookie)
                async let tabB = b.authorize(scenario.clientID, requestURI, cookie: cookie)
                let tabs = try await [tabA, tabB]
                #expect(tabs.allSatisfy { $0.status == .seeOther && $0.ticket == first.ticket })
                let ticket = try #require(first.ticket)

                // Reading never consumes.
                let read = try await b.readTicket(ticket)
                #expect(read.status == .ok)
                let resolved = try jsonObject(read)
                #expect(resolved["client_id"] as? String == scenario.clientID)
                #expect((resolved["parameters"] as? [String: String])?["code_challenge"] == challenge)
                #expect(resolved["loaded_at"] is String && resolved["expires_at"] is String)

                // The backend request_uri path cannot take a loaded request away from its browser.
                #expect(try jsonObject(try await a.redeem(scenario.clientID, requestURI))["reason"] as? String == "already_used")

                let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for index in 0..<8 { group.addTask { try await (index % 2 == 0 ? a : b).redeem(ticket: ticket).status } }
                    return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
                }
                #expect(statuses.filter { $0 == .ok }.count == 1)
                #expect(statuses.filter { $0 == .badRequest }.count == 7)
                let after = try await a.readTicket(ticket)
                #expect(after.status == .notFound)
                #expect(try jsonObject(after)["reason"] as? String == "already_used")
                #expect(try await b.authorize(scenario.clientID, requestURI, cookie: cookie).status == .badRequest)
            }
        }
    }

    @Test func aLoginSlowerThanTheRequestLifetimeButWithinTheInteractionLifetimeSucceeds() async throws {
        let scenario = try await scenario("slow-ok") {
            // Seconds of margin on both sides: the test suite runs in parallel on two cores.
            $0.lifetimes.request = .seconds(5)
            $0.lifetimes.interaction = .seconds(15)
        }
        try await scenario.node.application().test(.router) { client in
            let requestURI = try await client.pushRequest(scenario.clientID, secret: scenario.secret)
            let ticket = try #require(try await client.authorize(scenario.clientID, requestURI).ticket)
            try await Task.sleep(for: .milliseconds(6500))  // past the request deadline and its grace
            #expect(try await client.readTicket(ticket).status == .ok)
            let redeemed = try await client.redeem(ticket: ticket)
            #expect(redeemed.status == .ok, "\(String(buffer: redeemed.body))")
            #expect(try await scenario.database.events(of: requestURI).map(\.kind) == ["pushed", "loaded", "consumed"])
        }
    }

    @Test func aLoginSlowerThanTheInteractionLifetimeFailsAsExpired() async throws {
        let scenario = try await scenario("slow-ko") { $0.lifetimes.interaction = .seconds(1) }
        try await scenario.node.application().test(.router) { client in
            let requestURI = try await client.pushRequest(scenario.clientID, secret: scenario.secret)
            let ticket = try #require(try await client.authorize(scenario.clientID, requestURI).ticket)
            try await Task.sleep(for: .milliseconds(1300))
            let late = try await client.redeem(ticket: ticket)
            #expect(late.status == .badRequest)
            #expect(try jsonObject(late)["error"] as? String == "invalid_ticket")
            #expect(try jsonObject(late)["reason"] as? String == "expired")
            #expect(try await client.readTicket(ticket).status == .notFound)
            #expect(try await eventually { try await scenario.database.events(of: requestURI).map(\.kind).contains("expired") })
        }
    }

    @Test func errorPagesNeverRedirectAndAnswerJSONWhenAsked() async throws {
        let scenario = try await scenario("errors")
        try await scenario.node.application().test(.router) { client in
            let requestURI = try await client.pushRequest(scenario.clientID, secret: scenario.secret)
            let unknown = "urn:ietf:params:oauth:request_uri:v1.20261124.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            let cases: [(String, String, String)] = [
                ("/authorize", "invalid_request", "no parameters"),
                ("/authorize?client_id=\(scenario.clientID)", "invalid_request", "no request_uri"),
                ("/authorize?request_uri=x", "invalid_request", "no client_id"),
                ("/authorize?client_id=\(scenario.clientID)&request_uri=\(unknown)", "invalid_request_uri", "unknown"),
                ("/authorize?client_id=\(scenario.clientID)&request_uri=garbage", "invalid_request_uri", "malformed"),
                ("/authorize?client_id=nobody&request_uri=\(unknown)", "invalid_request", "unregistered client"),
                ("/authorize?client_id=\(scenario.clientID)&client_id=x&request_uri=\(unknown)", "invalid_request", "repeated"),
                ("/authorize?client_id=\(scenario.clientID)&request_uri=%ff", "invalid_request", "not UTF-8"),
            ]
            for (uri, code, name) in cases {
                let html = try await client.execute(uri: uri, method: .get)
                #expect(html.status == .badRequest, "\(name)")
                #expect(html.headers[.location] == nil, "\(name)")
                #expect(html.headers[.contentType]?.hasPrefix("text/html") == true, "\(name)")
                #expect(String(buffer: html.body).contains(code), "\(name)")
                let json = try await client.execute(uri: uri, method: .get, headers: [.accept: "application/json"])
                #expect(json.headers[.location] == nil, "\(name)")
                #expect(try jsonObject(json)["error"] as? String == code, "\(name)")
            }
            // RFC 9101 §6.3: other parameters next to request_uri are ignored; the form POST works the same.
            var query = URLComponents()
            query.queryItems = [
                URLQueryItem(name: "client_id", value: scenario.clientID), URLQueryItem(name: "request_uri", value: requestURI),
                URLQueryItem(name: "redirect_uri", value: "https://evil.example/cb"), URLQueryItem(name: "scope", value: "admin"),
            ]
            let posted = try await client.execute(
                uri: "/authorize",
                method: .post,
                headers: formHeaders,
                body: ByteBuffer(string: query.percentEncodedQuery ?? "")
            )
            #expect(posted.status == .seeOther)
            #expect(posted.headers[.location]?.hasPrefix(Self.interactionURL) == true)
        }
    }

    /// The metadata says PAR is required, and `/authorize` proves it: a plain authorization request is refused.
    @Test func rfc9126_5_publishedRequirementIsEnforced() async throws {
        let scenario = try await scenario("required") { $0.oauth.cookieSecure = true }
        try await scenario.node.application().test(.router) { client in
            let metadata = try jsonObject(try await client.execute(uri: "/.well-known/oauth-authorization-server", method: .get))
            #expect(metadata["require_pushed_authorization_requests"] as? Bool == true)
            let plain = try await client.execute(
                uri: "/authorize?client_id=\(scenario.clientID)&response_type=code&redirect_uri=https%3A%2F%2Fclient.example.org%2Fcb",
                method: .get,
                headers: [.accept: "application/json"]
            )
            #expect(plain.status == .badRequest)
            #expect(plain.headers[.location] == nil)
            #expect(try jsonObject(plain)["error"] as? String == "invalid_request")
            #expect((try jsonObject(plain)["error_description"] as? String)?.contains("required") == true)
            let requestURI = try await client.pushRequest(scenario.clientID, secret: scenario.secret)
            let cookie = try await client.authorize(scenario.clientID, requestURI).setCookie
            // RFC 6265bis §4.1.3.2: a Secure binding cookie is __Host- prefixed, host-only, Path=/.
            #expect(cookie?.hasPrefix("__Host-parstore_ua=") == true)
            #expect(cookie?.contains("; Path=/; Secure") == true)
            #expect(cookie?.contains("Domain") == false)
        }
    }
}
