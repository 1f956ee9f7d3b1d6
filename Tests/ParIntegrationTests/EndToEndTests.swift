import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import ParEmbedded
import ParTesting
import Testing

/// From push to redemption as it happens in production: two `parstore serve` nodes behind HAProxy, a browser that
/// follows redirects and keeps cookies, and the authorization server's login UI resolving the ticket.
@Suite struct EndToEndTests {
    /// A browser: follows redirects, keeps cookies per host and port, remembers the pages it ended on.
    final class Browser: @unchecked Sendable {
        let http: HTTPClient
        private var cookies: [String: [String: String]] = [:]
        init(http: HTTPClient) { self.http = http }

        /// Visits `url` and follows redirects; returns the final status, URL and body.
        func visit(_ url: String) async throws -> (status: HTTPResponseStatus, url: String, body: String) {
            var current = url
            for _ in 0..<5 {
                let components = try #require(URLComponents(string: current))
                let origin = "\(components.host ?? ""):\(components.port ?? 80)"
                var request = HTTPClientRequest(url: current)
                if let jar = cookies[origin], !jar.isEmpty {
                    request.headers.add(name: "Cookie", value: jar.map { "\($0.key)=\($0.value)" }.joined(separator: "; "))
                }
                let response = try await http.execute(request, timeout: .seconds(10))
                for header in response.headers["Set-Cookie"] {
                    guard let pair = header.split(separator: ";").first, let equals = pair.firstIndex(of: "=") else { continue }
                    cookies[origin, default: [:]][String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
                }
                let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
                guard (300..<400).contains(response.status.code), let location = response.headers.first(name: "Location") else {
                    return (response.status, current, body)
                }
                current = location
            }
            throw CancellationError()
        }
    }

    @Test func aBrowserGoesFromPushToRedemptionThroughTwoNodesBehindALoadBalancer() async throws {
        let servers = try await TestServers.shared.shared()
        let database = TestDatabase(url: servers.databaseURL)
        let clientID = uniqueClientID("e2e")
        let secret = try await database.register(clientID)
        let balancerPort = try freeLoopbackPort()
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
        do {
            try await flow(clientID: clientID, secret: secret, balancerPort: balancerPort, servers: servers, http: http)
        } catch {
            try await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    private func flow(clientID: String, secret: String, balancerPort: Int, servers: TestServers.Endpoints, http: HTTPClient) async throws {
        let database = TestDatabase(url: servers.databaseURL)
        let balancer = "http://127.0.0.1:\(balancerPort)"

        // The authorization server's login UI: resolves the ticket through the load balancer, shows the consent page.
        let loginRouter = Router()
        loginRouter.get("login") { request, _ -> String in
            let ticket = request.uri.queryParameters.get("ticket") ?? ""
            var lookup = HTTPClientRequest(url: "\(balancer)/v1/tickets/\(ticket)")
            lookup.headers.add(name: "Authorization", value: "Bearer \(TestNodes.apiKey)")
            let resolved = try await http.execute(lookup, timeout: .seconds(10))
            let json = String(buffer: try await resolved.body.collect(upTo: 1 << 16))
            return "consent ticket=\(ticket) status=\(resolved.status.code) request=\(json)"
        }
        try await Application(router: loginRouter).test(.live) { login in
            let loginURL = "http://127.0.0.1:\(try #require(login.port))/login"
            let nodePorts = [try freeLoopbackPort(), try freeLoopbackPort()]
            let nodes = try nodePorts.enumerated().map { index, port in
                try Command.serve(servers, port: port, ["--node-id", "e2e-node\(index + 1)", "--interaction-url", loginURL])
            }
            defer { for node in nodes where node.isRunning { node.terminate() } }
            let folder = (ProcessInfo.processInfo.environment["PARSTORE_TEST_DIR"] ?? NSTemporaryDirectory()) + "/haproxy-\(balancerPort).cfg"
            try """
            defaults
              mode http
              option http-server-close
              timeout connect 2s
              timeout client 10s
              timeout server 10s
            frontend parstore
              bind 127.0.0.1:\(balancerPort)
              default_backend nodes
            backend nodes
              balance roundrobin
              server node1 127.0.0.1:\(nodePorts[0])
              server node2 127.0.0.1:\(nodePorts[1])

            """.write(toFile: folder, atomically: true, encoding: .utf8)
            let haproxy = try Command.launch("/usr/sbin/haproxy", ["-db", "-f", folder])
            defer { if haproxy.isRunning { haproxy.terminate() } }
            try waitForLoopbackPort(balancerPort, timeout: 30)

            // The client pushes through the load balancer.
            var push = HTTPClientRequest(url: "\(balancer)/par")
            push.method = .POST
            push.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            push.headers.add(name: "Authorization", value: basicAuthorization(clientID, secret))
            push.body = .bytes(formBody(pushParameters(clientID)))
            let pushed = try await http.execute(push, timeout: .seconds(10))
            #expect(pushed.status == .created)
            let pushedJSON = try JSONSerialization.jsonObject(with: Data(try await pushed.body.collect(upTo: 4096).readableBytesView))
            let requestURI = try #require((pushedJSON as? [String: Any])?["request_uri"] as? String)

            // The browser arrives, is bound, lands on the login UI; a reload lands on the same ticket.
            var query = URLComponents()
            query.queryItems = [URLQueryItem(name: "client_id", value: clientID), URLQueryItem(name: "request_uri", value: requestURI)]
            let authorizeURL = "\(balancer)/authorize?\(query.percentEncodedQuery ?? "")"
            let browser = Browser(http: http)
            let landed = try await browser.visit(authorizeURL)
            #expect(landed.status == .ok)
            #expect(landed.url.hasPrefix(loginURL))
            #expect(landed.body.contains("status=200") && landed.body.contains(#""client_id":"\#(clientID)""#))
            let ticket = try #require(URLComponents(string: landed.url)?.queryItems?.first { $0.name == "ticket" }?.value)
            let reloaded = try await browser.visit(authorizeURL)
            #expect(reloaded.url == landed.url, "same ticket after a reload")

            // Another browser is refused on an error page and never redirected.
            let stranger = try await Browser(http: http).visit(authorizeURL)
            #expect(stranger.status == .badRequest)
            #expect(stranger.url == authorizeURL)
            #expect(stranger.body.contains("wrong_user_agent"))

            // The authorization server issues its code: exactly one redemption.
            for expected in [HTTPResponseStatus.ok, .badRequest] {
                var redeem = HTTPClientRequest(url: "\(balancer)/v1/redeem")
                redeem.method = .POST
                redeem.headers.add(name: "Content-Type", value: "application/json")
                redeem.headers.add(name: "Authorization", value: "Bearer \(TestNodes.apiKey)")
                redeem.body = .bytes(ByteBuffer(string: #"{"ticket":"\#(ticket)"}"#))
                #expect(try await http.execute(redeem, timeout: .seconds(10)).status == expected)
            }
            let events = try await database.events(of: requestURI).map(\.kind)
            #expect(events.filter { $0 == "loaded" }.count == 1)
            #expect(events.filter { $0 == "consumed" }.count == 1)
            let servedBy = try await database.count(
                "SELECT count(DISTINCT node_id) FROM par_events WHERE client_id = $1 AND node_id LIKE 'e2e-node%'",
                [clientID]
            )
            #expect(servedBy == 2, "both nodes took part")
        }
    }
}
