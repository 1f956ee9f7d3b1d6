import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ParCore
import ParCredentials
import Prometheus

/// `POST /par` (RFC 9126 §2): authenticate the client, refuse a `request_uri`, unpack a request object, validate
/// as an authorization request, bind a DPoP key, store, answer `201` with the `request_uri` and `expires_in`.
struct PushEndpoint: Sendable {
    let requests: any RequestStore
    let configuration: NodeConfiguration
    let metrics: NodeMetrics
    let authentication: ParClientAuthenticator
    let rateLimiter: PushRateLimiter
    let singleUse: SingleUseRecorder
    let requestObjects: RequestObjectVerifier
    let dpop: DPoPProofVerifier
    let validator: AuthorizationRequestValidator
    /// Public clients push without credentials: what they write is bounded per node.
    let unauthenticated: NodeRateLimiter
    /// The time of day JWTs are checked against.
    let clock: any WallClock

    init(
        configuration: NodeConfiguration,
        requests: any RequestStore,
        metrics: NodeMetrics,
        authentication: ParClientAuthenticator,
        rateLimiter: PushRateLimiter,
        singleUse: SingleUseRecorder,
        unauthenticated: NodeRateLimiter,
        clock: any WallClock
    ) {
        self.unauthenticated = unauthenticated
        self.clock = clock
        self.configuration = configuration
        self.requests = requests
        self.metrics = metrics
        self.authentication = authentication
        self.rateLimiter = rateLimiter
        self.singleUse = singleUse
        self.requestObjects = RequestObjectVerifier(issuer: configuration.issuer)
        self.dpop = DPoPProofVerifier(
            targets: [configuration.pushEndpoint, configuration.oauth.mtlsPushEndpoint].compactMap { $0 },
            nonces: configuration.oauth.requireDPoPNonce ? DPoPNonces(secret: configuration.security.apiKey) : nil
        )
        self.validator = AuthorizationRequestValidator(maxAuthorizationDetailsSize: configuration.limits.maxAuthorizationDetailsSize)
    }

    func register(on router: Router<ParRequestContext>) {
        router.post("par") { request, context in try await self.push(request, peer: context.remoteAddress) }
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

    func push(_ request: Request, peer: SocketAddress?) async throws -> Response {
        let started = ContinuousClock.now
        do {
            let response = try await handle(request, peer: peer)
            metrics.push("created")
            metrics.pushDuration.record(ContinuousClock.now - started)
            return response
        } catch let error as OAuthError {
            metrics.push(error.code.rawValue)
            return OAuthResponses.error(error)
        }
    }

    private func handle(_ request: Request, peer: SocketAddress?) async throws -> Response {
        // RFC 9126 §2: the body is application/x-www-form-urlencoded, UTF-8.
        guard request.hasMediaType("application/x-www-form-urlencoded") else {
            throw OAuthError.invalidRequest("The body must be application/x-www-form-urlencoded.")
        }
        let body = try await request.collectBody(upTo: configuration.limits.maxBodySize)
        let form = try FormParameters(parsing: body, limits: configuration.limits.form)
        let now = clock.secondsSince1970

        // RFC 9126 §2.1 step 1: authenticate as the token endpoint would, then count the push against the client.
        let (client, assertionUse) = try await authentication.authenticate(request, form: form, peer: peer, now: now)
        try Self.checkProfile(client)
        if client.authMethod == .none, !unauthenticated.allow() {
            metrics.nodeLimited("par")
            throw OAuthError(.temporarilyUnavailable, "Too many requests from public clients right now; retry later.", status: 503, retryAfter: 1)
        }
        try await rateLimiter.admit(client)
        // Step 2: a request_uri is refused before anything is read from the request.
        try AuthorizationRequestValidator.refuseRequestURI(in: form.pairs)
        // Step 3, with RFC 9126 §3: a request object replaces every other authorization parameter.
        var pushed: PushedRequest
        if let requestObject = try form.single("request"), !requestObject.isEmpty {
            let claims = try await requestObjects.parameters(from: requestObject, for: client, now: now)
            pushed = try validator.validate(claims, for: client, fromRequestObject: true)
        } else {
            // RFC 9126 §2.3: a client registered for signed request objects sends nothing else.
            if client.requiresSignedRequestObject {
                throw OAuthError.invalidRequest("This client must push its authorization request as a signed request object.")
            }
            pushed = try validator.validate(form.pairs, for: client)
        }
        let proofUse = try await bindProofOfPossession(request, to: &pushed, profile: client.profile, now: now)

        // The jtis are recorded with the push, in its transaction: used once even if Redis forgets them.
        let uses = [
            assertionUse.map { ($0, ParClientAuthenticator.replayedAssertion) },
            proofUse.map { ($0, Self.replayedProof) },
        ].compactMap { $0 }
        let lifetime = client.requestLifetime ?? configuration.lifetimes.request
        let reference: RequestReference
        switch try await requests.push(pushed, lifetime: lifetime, singleUse: uses.map(\.0)) {
        case .stored(let stored): reference = stored
        case .replayed(let index): throw uses[index].1
        }
        var headers: HTTPFields = [:]
        if let nonces = dpop.nonces { headers[.dpopNonce] = nonces.current(now: now) }
        return OAuthResponses.json(
            .created,
            #"{"request_uri":"# + JSONText.string(reference.requestURI) + #","expires_in":\#(lifetime.components.seconds)}"#,
            headers: headers
        )
    }

    /// FAPI 2.0 §5.3.2.1 and §5.3.3.2: only `private_key_jwt` or mutual TLS, whatever the registry says.
    private static func checkProfile(_ client: Client) throws(OAuthError) {
        guard client.profile == .fapi2 else { return }
        guard client.authMethod == .privateKeyJWT || client.authMethod.usesCertificate else {
            throw OAuthError.invalidClient("FAPI 2.0 clients authenticate with private_key_jwt or mutual TLS.", usedAuthorizationHeader: false)
        }
    }

    static let replayedProof = OAuthError(.invalidDPoPProof, "The DPoP proof was already used (jti).")

    /// RFC 9449 §10.1: a `DPoP` header proof binds its key; with `dpop_jkt` too, both must name the same key.
    ///
    /// - Returns: the proof's `jti`, to record with the push.
    private func bindProofOfPossession(
        _ request: Request,
        to pushed: inout PushedRequest,
        profile: ClientProfile,
        now: Double
    ) async throws(OAuthError) -> SingleUse? {
        let proofs = request.headers[values: .dpop]
        guard !proofs.isEmpty else { return nil }
        let proof = try await dpop.verify(headers: proofs, profile: profile, now: now)
        try await singleUse.filter(proof.singleUse, replayed: Self.replayedProof)
        if let jkt = pushed.parameters.first(where: { $0.name == "dpop_jkt" })?.value {
            guard jkt == proof.thumbprint else {
                throw OAuthError(.invalidDPoPProof, "The DPoP proof's key does not match the dpop_jkt parameter.")
            }
        } else {
            pushed.parameters.append((name: "dpop_jkt", value: proof.thumbprint))
        }
        return proof.singleUse
    }
}
