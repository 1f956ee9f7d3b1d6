import Crypto
import Foundation
import NIOCore
import NIOHTTP1

/// What one iteration of a benchmark does. Every exchange is classified; an iteration counts when it completes.
enum ScenarioKind: String, CaseIterable, Sendable {
    /// `GET` a trivial endpoint (`/healthz`): the HTTP ceiling of the stack.
    case get
    /// Push one request (RFC 9126 §2). Works against any PAR endpoint.
    case push
    /// Redeem one request from a pool pushed beforehand (ParStore backend).
    case redeem
    /// Push, then redeem through the backend (`{client_id, request_uri}`): one complete pair.
    case flowBackend = "flow-backend"
    /// Push, load through `/authorize` as a browser (303 with a ticket), redeem the ticket.
    case flow
    /// `flow-backend` with reuse, wrong-client and unknown-request_uri attempts mixed in.
    case hostile
    /// Push, then `GET` the authorization endpoint with `client_id` and `request_uri`: any RFC 9126 server.
    case authorize

    /// Whether the scenario needs ParStore's backend API.
    var redeems: Bool { [.redeem, .flowBackend, .flow, .hostile].contains(self) }
}

/// How to reach the server and who the client is.
struct Endpoints: Sendable {
    var parPath: String
    var authorizePath: String
    var redeemPath: String
    var getPath: String
    var clientID: String
    var clientSecret: String?
    var authMethod: String
    var redirectURI: String
    var scope: String
    var apiKey: String?
    /// `private_key_jwt`: the client's ES256 key; each push carries a freshly signed assertion (RFC 7523).
    var clientKey: P256.Signing.PrivateKey?
    /// The assertion's `aud`; by default the PAR endpoint's URL (RFC 9126 §2 lets the server accept it).
    var assertionAudience: String?

    /// Whether every push needs a request of its own (a new assertion, with a new `jti`).
    var signsAssertions: Bool { clientKey != nil }

    /// The PAR body and headers. Without an assertion each connection builds them once: the same request is pushed
    /// again and again.
    func pushRequest(target: Target) -> (head: HTTPRequestHead, body: ByteBuffer) {
        var form = [
            ("response_type", "code"), ("client_id", clientID), ("redirect_uri", redirectURI), ("scope", scope),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"), ("code_challenge_method", "S256"),
            ("state", "parbench"),
        ]
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: parPath)
        head.headers.add(name: "Host", value: target.hostHeader)
        head.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        if let clientKey {
            form.append(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"))
            form.append(("client_assertion", Self.assertion(clientID, audience: assertionAudience ?? target.base + parPath, key: clientKey)))
        } else if let clientSecret {
            if authMethod == "client_secret_post" {
                form.append(("client_secret", clientSecret))
            } else {
                let credentials = Self.formEncode(clientID) + ":" + Self.formEncode(clientSecret)
                head.headers.add(name: "Authorization", value: "Basic " + Data(credentials.utf8).base64EncodedString())
            }
        }
        let body = ByteBuffer(string: form.map { Self.formEncode($0.0) + "=" + Self.formEncode($0.1) }.joined(separator: "&"))
        head.headers.add(name: "Content-Length", value: String(body.readableBytes))
        return (head, body)
    }

    /// `POST /v1/redeem` with a JSON body.
    func redeemRequest(host: String, json: String) -> (HTTPRequestHead, ByteBuffer) {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: redeemPath)
        head.headers.add(name: "Host", value: host)
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Authorization", value: "Bearer " + (apiKey ?? ""))
        let body = ByteBuffer(string: json)
        head.headers.add(name: "Content-Length", value: String(body.readableBytes))
        return (head, body)
    }

    /// The authorization request a browser sends after a push (RFC 9126 §4).
    func authorizeRequest(host: String, requestURI: String) -> HTTPRequestHead {
        let separator = authorizePath.contains("?") ? "&" : "?"
        var head = HTTPRequestHead(
            version: .http1_1,
            method: .GET,
            uri: authorizePath + separator + "client_id=" + Self.formEncode(clientID) + "&request_uri=" + Self.formEncode(requestURI)
        )
        head.headers.add(name: "Host", value: host)
        return head
    }

    func getRequest(host: String) -> HTTPRequestHead {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: getPath)
        head.headers.add(name: "Host", value: host)
        return head
    }

    /// An RFC 7523 client assertion, ES256, valid for a minute, with a random `jti`.
    static func assertion(_ clientID: String, audience: String, key: P256.Signing.PrivateKey) -> String {
        let now = Int(Date().timeIntervalSince1970)
        let claims: [String: Any] = ["iss": clientID, "sub": clientID, "aud": audience, "iat": now, "exp": now + 60, "jti": UUID().uuidString]
        func part(_ object: [String: Any]) -> String {
            base64URL(Data((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()))
        }
        let input = part(["alg": "ES256", "typ": "JWT"]) + "." + part(claims)
        let signature = (try? key.signature(for: Data(input.utf8)).rawRepresentation) ?? Data()
        return input + "." + base64URL(signature)
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

/// A string member of a JSON object body, read with a JSON parser (a server may write `"name": "value"`, with
/// spaces, or escapes); `nil` when the body is not such an object.
func jsonString(_ body: ByteBuffer, _ name: String) -> String? {
    guard let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any] else { return nil }
    return object[name] as? String
}

/// What an authorization endpoint did for a browser (RFC 9126 §4): sent it back to the client with a `code`, shown it
/// a login page (an HTML page, or a redirect to the login UI, as ParStore's 303 with a `ticket`), or refused.
struct AuthorizeOutcome {
    var label: String
    var isSuccess: Bool

    init(_ response: HTTPConnection.Response) {
        if (300..<400).contains(response.status) {
            if Self.queryItem("code", in: response) != nil {
                (label, isSuccess) = ("redirect code", true)
            } else if let error = Self.queryItem("error", in: response) {
                (label, isSuccess) = ("redirect error=\(error)", false)
            } else if response.headers.first(name: "Location") != nil {
                (label, isSuccess) = ("redirect login", true)
            } else {
                (label, isSuccess) = ("redirect without Location", false)
            }
        } else if response.status == 200, response.headers.first(name: "Content-Type")?.lowercased().hasPrefix("text/html") == true {
            (label, isSuccess) = ("login page", true)
        } else {
            (label, isSuccess) = (jsonString(response.body, "reason") ?? jsonString(response.body, "error") ?? "", false)
        }
    }

    /// A query parameter of the `Location` header.
    static func queryItem(_ name: String, in response: HTTPConnection.Response) -> String? {
        response.headers.first(name: "Location").flatMap { URLComponents(string: $0)?.queryItems?.first { $0.name == name }?.value }
    }
}

/// The class of a response for the report: `op status`, plus the OAuth `reason` or `error` of a refusal.
func classify(_ operation: String, _ response: HTTPConnection.Response) -> String {
    guard response.status >= 400 else { return "\(operation) \(response.status)" }
    let detail = jsonString(response.body, "reason") ?? jsonString(response.body, "error") ?? ""
    return "\(operation) \(response.status) \(detail)".trimmingCharacters(in: .whitespaces)
}
