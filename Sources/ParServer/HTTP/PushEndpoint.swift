import Hummingbird
import ParCore
import Prometheus

/// `POST /par` (RFC 9126 §2): authenticate the client, refuse a `request_uri`, validate as an authorization
/// request, store, answer `201` with the `request_uri` and `expires_in`.
struct PushEndpoint: Sendable {
    let clients: ClientDirectory
    let lifecycle: RequestLifecycle
    let configuration: NodeConfiguration
    let metrics: NodeMetrics
    private let authenticator = ClientAuthenticator()
    private let validator = AuthorizationRequestValidator()

    init(clients: ClientDirectory, lifecycle: RequestLifecycle, configuration: NodeConfiguration, metrics: NodeMetrics) {
        self.clients = clients
        self.lifecycle = lifecycle
        self.configuration = configuration
        self.metrics = metrics
    }

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.post("par") { request, context in try await self.push(request) }
        for method in [HTTPRequest.Method.get, .put, .delete, .patch, .head, .options] {
            router.on("par", method: method) { _, _ -> Response in
                var answer = OAuthResponses.error(
                    OAuthError(.invalidRequest, "The pushed authorization request endpoint accepts only POST.", status: 405)
                )
                answer.headers[.allow] = "POST"
                return answer
            }
        }
    }

    func push(_ request: Request) async throws -> Response {
        let started = ContinuousClock.now
        do {
            let response = try await handle(request)
            metrics.push("created")
            metrics.pushDuration.record(ContinuousClock.now - started)
            return response
        } catch let error as OAuthError {
            metrics.push(error.code.rawValue)
            return OAuthResponses.error(error)
        }
    }

    private func handle(_ request: Request) async throws -> Response {
        // RFC 9126 §2: the body is application/x-www-form-urlencoded, UTF-8.
        guard request.hasMediaType("application/x-www-form-urlencoded") else {
            throw OAuthError.invalidRequest("The body must be application/x-www-form-urlencoded.")
        }
        let body = try await request.collectBody(upTo: configuration.maxBodySize)
        let form = try FormParameters(parsing: body, limits: configuration.formLimits)
        // RFC 9126 §2.1: (1) authenticate as the token endpoint would; (2) and (3) in the validator.
        let client = try authenticator.authenticate(authorization: request.headers[.authorization], form: form, lookup: clients.client)
        let pushed = try validator.validate(form, for: client)
        let lifetime = client.requestLifetime ?? configuration.requestLifetime
        let reference = try await lifecycle.push(pushed, lifetime: lifetime)
        let expiresIn = lifetime.components.seconds
        return OAuthResponses.json(
            .created,
            #"{"request_uri":"# + JSONText.string(reference.requestURI) + #","expires_in":\#(expiresIn)}"#
        )
    }
}
