import Hummingbird
import ParCore

/// `GET /authorize` and `POST /authorize` (RFC 9126 §4): load a pushed request for this user agent and send the
/// browser to the authorization server's login UI with a ticket.
///
/// The first load binds the request to the browser's `parstore_ua` cookie; a reload from the same browser gets the
/// same ticket; any other browser is refused. Failures never redirect (the `redirect_uri` is not trusted before
/// the request is resolved): an HTML page, or JSON when the caller accepts `application/json`. Parameters other
/// than `client_id` and `request_uri` are ignored (RFC 9101 §6.3).
struct AuthorizeEndpoint: Sendable {
    let clients: ClientCache
    let requests: any RequestStore
    let configuration: NodeConfiguration
    let metrics: NodeMetrics
    /// Anyone may call this endpoint: the loads it sends to PostgreSQL are bounded per node.
    let unauthenticated: NodeRateLimiter
    /// Checks and makes binding cookies: a value no node issued never reaches the database.
    let bindingKey: UserAgentBinding.Key
    private static let maxBodySize = 16 * 1024
    /// The `reason` of a refused binding cookie, which is then cleared.
    private static let invalidBinding = "invalid_binding"

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("authorize") { request, _ in await self.authorize(request) }
        router.post("authorize") { request, _ in await self.authorize(request) }
    }

    func authorize(_ request: Request) async -> Response {
        let wantsJSON = request.headers[values: .accept].contains { $0.lowercased().contains("application/json") }
        do {
            let (response, outcome) = try await handle(request)
            metrics.authorize(outcome)
            return response
        } catch {
            let error = (error as? OAuthError) ?? OAuthError(.serverError, "The request could not be processed.", status: 500)
            metrics.authorize(error.reason ?? error.code.rawValue)
            var response = wantsJSON ? OAuthResponses.error(error) : ErrorPage.response(error)
            if error.reason == Self.invalidBinding { response.headers[.setCookie] = bindingCookie("", clear: true) }
            return response
        }
    }

    private func handle(_ request: Request) async throws -> (Response, String) {
        let parameters = try await self.parameters(of: request)
        let clientID = try parameters.single("client_id")
        // RFC 9126 §4, §5: this endpoint serves pushed requests only, and the metadata says so
        // (`require_pushed_authorization_requests`: true).
        guard let requestURI = try parameters.single("request_uri") else {
            throw OAuthError.invalidRequest("Pushed authorization requests are required: send client_id and request_uri.")
        }
        guard let clientID else { throw OAuthError.invalidRequest("The client_id parameter is missing.") }
        // RFC 9126 §7.4: the client's registration is checked again at use; a removed client's requests are dead.
        guard let client = clients.client(clientID) else { throw OAuthError(refusal: .unregisteredClient, at: .authorizationEndpoint) }
        guard let reference = RequestReference(requestURI: requestURI) else { throw OAuthError(refusal: .unknown, at: .authorizationEndpoint) }
        let cookieName = UserAgentBinding.cookieName(secure: configuration.cookieSecure)
        var cookie: UserAgentBinding? = nil
        if let sent = request.cookieValue(named: cookieName) {
            // A value no node issued is refused here, before any database read, and cleared from the browser.
            guard let valid = UserAgentBinding(cookie: sent, key: bindingKey) else {
                throw OAuthError(
                    .invalidRequest,
                    "The browser's binding cookie was not issued by this server; it has been cleared, retry.",
                    reason: Self.invalidBinding
                )
            }
            cookie = valid
        }
        let binding = cookie ?? UserAgentBinding.make(key: bindingKey)
        // Everything above is decided without a database; the load below is within the node's budget.
        guard unauthenticated.allow() else {
            metrics.nodeLimited("authorize")
            throw OAuthError(.temporarilyUnavailable, "Too many authorization requests right now; retry later.", status: 503, retryAfter: 1)
        }
        let loaded = try await requests.load(
            reference,
            clientID: client.id,
            binding: binding,
            interactionLifetime: client.interactionLifetime ?? configuration.lifetimes.interaction
        )
        let ticket: Ticket
        let outcome: String
        switch loaded {
        case .loaded(let loaded): (ticket, outcome) = (loaded, "loaded")
        case .reloaded(let reloaded): (ticket, outcome) = (reloaded, "reloaded")
        case .refused(let reason): throw OAuthError(refusal: reason, at: .authorizationEndpoint)
        }
        let target = configuration.interactionURL
        var headers: HTTPFields = [
            .location: target + (target.contains("?") ? "&" : "?") + "ticket=" + ticket.value,
            .cacheControl: "no-store",
        ]
        if cookie == nil { headers[.setCookie] = bindingCookie(binding.value) }
        return (Response(status: .seeOther, headers: headers), outcome)
    }

    /// The `Set-Cookie` value for the binding: `__Host-` and `Path=/` when `Secure`, else scoped to `/authorize`.
    func bindingCookie(_ value: String, clear: Bool = false) -> String {
        let secure = configuration.cookieSecure
        var cookie = UserAgentBinding.cookieName(secure: secure) + "=" + value + (secure ? "; Path=/; Secure" : "; Path=/authorize")
        cookie += "; HttpOnly; SameSite=Lax"
        if clear { cookie += "; Max-Age=0" }
        return cookie
    }

    /// The query (GET) or the form body (POST), parsed strictly: a repeated `client_id` or `request_uri` is refused.
    private func parameters(of request: Request) async throws -> FormParameters {
        if request.method == .post {
            guard request.hasMediaType("application/x-www-form-urlencoded") else {
                throw OAuthError.invalidRequest("The body must be application/x-www-form-urlencoded.")
            }
            return try FormParameters(parsing: try await request.collectBody(upTo: Self.maxBodySize))
        }
        return try FormParameters(parsing: Array((request.uri.query ?? "").utf8))
    }
}
