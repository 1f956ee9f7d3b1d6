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

    /// The PAR body and headers (each connection builds them once: the same request is pushed again and again).
    func pushRequest(host: String) -> (HTTPRequestHead, ByteBuffer) {
        var form = [
            ("response_type", "code"), ("client_id", clientID), ("redirect_uri", redirectURI), ("scope", scope),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"), ("code_challenge_method", "S256"),
            ("state", "parbench"),
        ]
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: parPath)
        head.headers.add(name: "Host", value: host)
        head.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        if let clientSecret {
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

    static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

/// Reads a string member of a flat JSON object without a full parse (`"name":"value"`).
func jsonString(_ body: ByteBuffer, _ name: String) -> String? {
    let text = String(buffer: body)
    guard let start = text.range(of: "\"" + name + "\":\"") else { return nil }
    guard let end = text[start.upperBound...].firstIndex(of: "\"") else { return nil }
    return String(text[start.upperBound..<end])
}

/// The class of a response for the report: `op status`, plus the OAuth `reason` or `error` of a refusal.
func classify(_ operation: String, _ response: HTTPConnection.Response) -> String {
    guard response.status >= 400 else { return "\(operation) \(response.status)" }
    let detail = jsonString(response.body, "reason") ?? jsonString(response.body, "error") ?? ""
    return "\(operation) \(response.status) \(detail)".trimmingCharacters(in: .whitespaces)
}
