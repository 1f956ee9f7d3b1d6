import Foundation
import HTTPTypes
import Hummingbird
import ParCore
import Prometheus

/// The authorization server's backend API, behind a bearer API key: `POST /v1/redeem`.
struct BackendEndpoint: Sendable {
    let requests: any RequestStore
    let clients: ClientCache
    let metrics: NodeMetrics
    private let apiKeyHash: [UInt8]
    private static let maxBodySize = 16 * 1024
    /// The authorization server's key for one redemption attempt (IETF httpapi Idempotency-Key): with a ticket, the
    /// same attempt asked again — its answer lost to a dropped connection or a 503 — gets the same request again.
    private static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    /// One decoder for every redemption (it keeps no state between calls); building one per call showed in profiles.
    private static let decoder = JSONDecoder()

    init(requests: any RequestStore, clients: ClientCache, metrics: NodeMetrics, apiKey: String) {
        self.requests = requests
        self.clients = clients
        self.metrics = metrics
        self.apiKeyHash = Secret.sha256(apiKey)
    }

    /// Either `{"ticket"}` (after a browser load) or `{"client_id", "request_uri"}` (no browser face).
    private struct RedeemBody: Decodable {
        var ticket: String?
        var client_id: String?
        var request_uri: String?
    }

    func register<Context: RequestContext>(on router: Router<Context>) {
        router.post("v1/redeem") { request, _ in try await self.redeem(request) }
        router.get("v1/tickets/{ticket}") { request, context in
            try await self.readTicket(request, ticket: context.parameters.get("ticket") ?? "")
        }
    }

    /// Checks `Authorization: Bearer <key>` in constant time.
    private func authorize(_ request: Request) throws(OAuthError) {
        let challenge = #"Bearer realm="parstore-backend""#
        guard let header = request.headers[.authorization], header.count > 7, header.prefix(7).lowercased() == "bearer " else {
            throw OAuthError(.invalidToken, "The backend API needs the API key as a bearer token.", status: 401, challenge: challenge)
        }
        guard Secret.constantTimeEquals(Secret.sha256(String(header.dropFirst(7))), apiKeyHash) else {
            throw OAuthError(.invalidToken, "The API key is not valid.", status: 401, challenge: challenge + #", error="invalid_token""#)
        }
    }

    func redeem(_ request: Request) async throws -> Response {
        let started = ContinuousClock.now
        defer { metrics.redeemDuration.record(ContinuousClock.now - started) }
        do {
            try authorize(request)
            guard request.hasMediaType("application/json") else {
                throw OAuthError.invalidRequest("The body must be application/json.")
            }
            let body = try await request.collectBody(upTo: Self.maxBodySize)
            // Checked before parsing: what storage refuses never reaches Redis or PostgreSQL.
            guard StorableText.isStorableJSON(body) else {
                throw OAuthError.invalidRequest("The body contains a NUL character or an unpaired surrogate escape.")
            }
            let input = try? Self.decoder.decode(RedeemBody.self, from: Data(body))
            let result: RedemptionResult
            let face: RefusalFace
            switch (input?.ticket, input?.client_id, input?.request_uri) {
            case (let ticket?, nil, nil):
                let attemptKey = request.headers[Self.idempotencyKey]
                if let attemptKey, !TicketRedemption.isValidAttemptKey(attemptKey) {
                    throw OAuthError.invalidRequest("The Idempotency-Key must be 1 to 255 visible ASCII characters.")
                }
                result = try await requests.redeem(ticket: ticket, attemptKey: attemptKey)
                face = .redemptionByTicket
            case (nil, let clientID?, let requestURI?):
                // Checked like a registered id before Redis or PostgreSQL see it: a removed client's requests are dead.
                guard Client.isValidID(clientID) else { throw OAuthError.invalidRequest("The client_id is not a valid client identifier.") }
                result =
                    clients.client(clientID) == nil
                    ? .refused(.unregisteredClient) : try await requests.redeem(requestURI: requestURI, clientID: clientID)
                face = .redemptionByRequestURI
            default:
                throw OAuthError.invalidRequest(
                    "The body must be a JSON object with a string ticket, or with string client_id and request_uri."
                )
            }
            switch result {
            case .redeemed(let redeemed):
                metrics.redeem("redeemed")
                return Self.request(
                    clientID: redeemed.clientID,
                    parameters: redeemed.parameters,
                    times: [("pushed_at", redeemed.pushedAtMillis), ("expires_at", redeemed.expiresAtMillis)]
                )
            case .refused(let reason):
                metrics.redeem(reason.rawValue)
                return OAuthResponses.error(OAuthError(refusal: reason, at: face))
            }
        } catch let error as OAuthError {
            metrics.redeem(error.code.rawValue)
            return OAuthResponses.error(error)
        }
    }

    /// `GET /v1/tickets/{ticket}`: the request behind a ticket, to render login and consent. Never consumes.
    func readTicket(_ request: Request, ticket: String) async throws -> Response {
        try authorize(request)
        switch try await requests.read(ticket: ticket) {
        case .success(let found):
            return Self.request(
                clientID: found.clientID,
                parameters: found.parameters,
                times: [("pushed_at", found.pushedAtMillis), ("loaded_at", found.loadedAtMillis), ("expires_at", found.expiresAtMillis)]
            )
        case .failure(let reason):
            return OAuthResponses.error(OAuthError(refusal: reason, at: .ticketRead))
        }
    }

    /// `200` with a request as the AS gets it: client, parameters as pushed (an object), and RFC 3339 times. When
    /// the parameters are gone, `parameters` is `null` and `parameters_unavailable` says why: `erased` (the day's
    /// data key was destroyed by `parstore erase`).
    private static func request(clientID: String, parameters: StoredParameters, times: [(name: String, millis: Int64)]) -> Response {
        var json = #"{"client_id":"# + JSONText.string(clientID)
        switch parameters {
        case .clear(let parametersJSON): json += #","parameters":"# + parametersJSON
        case .erased: json += #","parameters":null,"parameters_unavailable":"erased""#
        // The store opens sealed parameters or refuses; never answered sealed.
        case .sealed: json += #","parameters":null,"parameters_unavailable":"sealed""#
        }
        for time in times { json += "," + JSONText.string(time.name) + ":" + JSONText.string(Timestamp.rfc3339(millis: time.millis)) }
        return OAuthResponses.json(.ok, json + "}")
    }
}
