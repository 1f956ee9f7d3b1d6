import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ParEmbedded
import ParPostgres
import ParRedis
import ParServer
import ParTesting
import Testing

/// A unique client id for one test.
func uniqueClientID(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.prefix(8))" }

let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

/// The parameters of a valid PAR for `clientID`.
func pushParameters(_ clientID: String) -> [(String, String)] {
    [
        ("response_type", "code"), ("client_id", clientID), ("redirect_uri", "https://client.example.org/cb"),
        ("scope", "openid profile"), ("code_challenge", challenge), ("code_challenge_method", "S256"),
        ("state", "af0ifjsldkj"),
    ]
}

/// `application/x-www-form-urlencoded` encoding.
func formBody(_ pairs: [(String, String)]) -> ByteBuffer {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    let text = pairs.map {
        $0.0.addingPercentEncoding(withAllowedCharacters: allowed)! + "=" + $0.1.addingPercentEncoding(withAllowedCharacters: allowed)!
    }.joined(separator: "&")
    return ByteBuffer(string: text)
}

func basicAuthorization(_ id: String, _ secret: String) -> String {
    "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()
}

let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

/// The body of a response as a JSON object.
func jsonObject(_ response: TestResponse) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))
    return try #require(object as? [String: Any])
}

extension TestClientProtocol {
    /// Pushes a valid request with client_secret_basic and returns the request_uri.
    func pushRequest(_ clientID: String, secret: String, extra: [(String, String)] = []) async throws -> String {
        let response = try await execute(
            uri: "/par",
            method: .post,
            headers: formHeaders + [.authorization: basicAuthorization(clientID, secret)],
            body: formBody(pushParameters(clientID) + extra)
        )
        #expect(response.status == .created)
        return try #require(try jsonObject(response)["request_uri"] as? String)
    }

    /// Calls `POST /v1/redeem`.
    func redeem(_ clientID: String, _ requestURI: String) async throws -> TestResponse {
        let body = try JSONSerialization.data(withJSONObject: ["client_id": clientID, "request_uri": requestURI])
        return try await execute(
            uri: "/v1/redeem",
            method: .post,
            headers: [.contentType: "application/json", .authorization: "Bearer \(TestNodes.apiKey)"],
            body: ByteBuffer(bytes: body)
        )
    }
}

extension HTTPFields {
    static func + (lhs: HTTPFields, rhs: HTTPFields) -> HTTPFields {
        var fields = lhs
        fields.append(contentsOf: rhs)
        return fields
    }
}

extension ParStoreNode {
    /// The node as an application, to drive with `test(.router)`.
    func application() -> some ApplicationProtocol {
        Application(router: makeRouter(), services: services)
    }
}

/// Polls until `condition` holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(15), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(200))
    }
    return try await condition()
}

/// The usual start of an integration test: the shared servers, a freshly registered client, and a node.
struct Scenario {
    let servers: TestServers.Endpoints
    let database: TestDatabase
    let clientID: String
    let secret: String
    let node: ParStoreNode

    /// - Parameters:
    ///   - prefix: names the client, to find its events.
    ///   - redis: the shared single Redis, or the shared Redis Cluster.
    ///   - redisURL: another Redis than the shared ones.
    ///   - configure: changes to the node's test configuration.
    static func make(
        _ prefix: String,
        redis: RedisMode = .standalone,
        redisURL: String? = nil,
        configure: (inout NodeConfiguration) -> Void = { _ in }
    ) async throws -> Scenario {
        let servers = try await TestServers.shared.shared(redis)
        let database = TestDatabase(url: servers.databaseURL)
        let clientID = uniqueClientID(prefix)
        let secret = try await database.register(clientID)
        var configuration = TestNodes.configuration(databaseURL: servers.databaseURL, redisURL: redisURL ?? servers.redisURL)
        configure(&configuration)
        let node = try await TestNodes.make(configuration)
        return Scenario(servers: servers, database: database, clientID: clientID, secret: secret, node: node)
    }
}

/// A browser's view of one `/authorize` answer.
struct AuthorizeAnswer {
    var status: HTTPResponse.Status
    var location: String?
    var setCookie: String?
    var body: String
    var contentType: String?

    /// The ticket in the `Location` header.
    var ticket: String? {
        location.flatMap { URLComponents(string: $0)?.queryItems?.first { $0.name == "ticket" }?.value }
    }

    /// The `parstore_ua=…` pair to send back, from `Set-Cookie`.
    var cookie: String? { setCookie.flatMap { $0.split(separator: ";").first.map(String.init) } }
}

extension TestClientProtocol {
    /// `GET /authorize?client_id=…&request_uri=…` as a browser sends it, with its cookie if it has one.
    func authorize(_ clientID: String, _ requestURI: String, cookie: String? = nil, accept: String? = nil) async throws -> AuthorizeAnswer {
        var query = URLComponents()
        query.queryItems = [URLQueryItem(name: "client_id", value: clientID), URLQueryItem(name: "request_uri", value: requestURI)]
        var headers: HTTPFields = [:]
        if let cookie { headers[.cookie] = cookie }
        if let accept { headers[.accept] = accept }
        let response = try await execute(uri: "/authorize?" + (query.percentEncodedQuery ?? ""), method: .get, headers: headers)
        return AuthorizeAnswer(
            status: response.status,
            location: response.headers[.location],
            setCookie: response.headers[.setCookie],
            body: String(buffer: response.body),
            contentType: response.headers[.contentType]
        )
    }

    /// `POST /v1/redeem` with a ticket, and the attempt's `Idempotency-Key` if given.
    func redeem(ticket: String, attemptKey: String? = nil) async throws -> TestResponse {
        let body = try JSONSerialization.data(withJSONObject: ["ticket": ticket])
        var headers: HTTPFields = [.contentType: "application/json", .authorization: "Bearer \(TestNodes.apiKey)"]
        if let attemptKey { headers[HTTPField.Name("Idempotency-Key")!] = attemptKey }
        return try await execute(uri: "/v1/redeem", method: .post, headers: headers, body: ByteBuffer(bytes: body))
    }

    /// `GET /v1/tickets/{ticket}`.
    func readTicket(_ ticket: String) async throws -> TestResponse {
        try await execute(uri: "/v1/tickets/\(ticket)", method: .get, headers: [.authorization: "Bearer \(TestNodes.apiKey)"])
    }
}

/// The event log on connections of its own, below any node: `shutdown()` stops its workers and its general
/// connection.
struct TestEventLog {
    let log: PostgresEventLog
    let queries: PostgresQueries

    init(url: String, nodeID: String, timeout: Duration = .seconds(10), batchObserver: (@Sendable (Int) -> Void)? = nil) {
        let configuration = PostgresConfiguration(conninfo: url, nodeID: nodeID, timeout: timeout)
        queries = PostgresQueries(configuration: configuration)
        log = PostgresEventLog(configuration: configuration, queries: queries, batchObserver: batchObserver)
    }

    func shutdown() async {
        await log.shutdown()
        await queries.shutdown()
    }
}
