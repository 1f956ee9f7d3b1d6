import HTTPTypes
import Hummingbird
import NIOCore
import Logging
import ParCore

/// Turns domain values into HTTP answers, in one place.
enum OAuthResponses {
    static let jsonHeaders: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]

    /// A JSON body with `Cache-Control: no-store`, unless `headers` says otherwise.
    static func json(_ status: HTTPResponse.Status, _ body: String, headers: HTTPFields = [:]) -> Response {
        var fields = jsonHeaders
        for field in headers { fields[field.name] = field.value }
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    /// An RFC 6749 §5.2 error body with its status and headers (`WWW-Authenticate`, `Retry-After`).
    static func error(_ error: OAuthError) -> Response {
        var body = #"{"error":"# + JSONText.string(error.code.rawValue)
        body += #","error_description":"# + JSONText.string(error.description)
        if let reason = error.reason { body += #","reason":"# + JSONText.string(reason) }
        body += "}"
        var headers: HTTPFields = [:]
        if let challenge = error.challenge { headers[.wwwAuthenticate] = challenge }
        if let retryAfter = error.retryAfter { headers[.retryAfter] = String(retryAfter) }
        if let nonce = error.dpopNonce { headers[.dpopNonce] = nonce }
        return json(HTTPResponse.Status(code: error.status), body, headers: headers)
    }
}

extension HTTPField.Name {
    /// RFC 9449 §4.1: the proof of possession.
    static let dpop = HTTPField.Name("DPoP")!
    /// RFC 9449 §8: a server-provided nonce.
    static let dpopNonce = HTTPField.Name("DPoP-Nonce")!
}

/// Answers every error a route throws as an OAuth JSON error: domain errors with their status, the framework's
/// HTTP errors (404, 413, ...) with a matching code, anything else as 500 `server_error` without details.
struct OAuthErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as OAuthError {
            return OAuthResponses.error(error)
        } catch let error as HTTPError {
            let code: OAuthError.Code = error.status.code >= 500 ? .serverError : .invalidRequest
            let description =
                switch error.status {
                case .contentTooLarge: "The request body is too large."
                case .notFound: "There is no such endpoint."
                case .methodNotAllowed: "This method is not allowed here."
                default: "The request could not be processed."
                }
            return OAuthResponses.error(OAuthError(code, description, status: error.status.code))
        } catch {
            context.logger.error("unexpected error", metadata: ["type": "\(type(of: error))"])
            return OAuthResponses.error(OAuthError(.serverError, "The request could not be processed.", status: 500))
        }
    }
}
