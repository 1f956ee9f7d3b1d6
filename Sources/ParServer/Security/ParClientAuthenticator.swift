import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ParCore
import ParCredentials

/// Authenticates the client of a PAR exactly as the token endpoint would (RFC 9126 §2.1, step 1): the method is
/// picked and secrets checked by ``ClientCredentialReader``; assertions and certificates are finished here.
struct ParClientAuthenticator: Sendable {
    let clients: ClientCache
    let assertions: ClientAssertionVerifier
    let singleUse: SingleUseRecorder
    /// The header carrying the forwarded client certificate, when mutual TLS is configured.
    let certificateHeader: HTTPField.Name?
    let trustedProxies: TrustedProxies
    private let credentials = ClientCredentialReader()

    init(configuration: NodeConfiguration, clients: ClientCache, singleUse: SingleUseRecorder) throws {
        self.clients = clients
        self.singleUse = singleUse
        let audiences = [configuration.issuer, configuration.tokenEndpoint, configuration.pushEndpoint, configuration.oauth.mtlsPushEndpoint]
        self.assertions = ClientAssertionVerifier(audiences: Set(audiences.compactMap { $0 }))
        self.certificateHeader = configuration.security.clientCertificateHeader.flatMap { HTTPField.Name($0) }
        self.trustedProxies = try TrustedProxies(configuration.security.trustedProxies)
    }

    /// Whether the mutual-TLS methods can be used at all.
    var certificatesEnabled: Bool { certificateHeader != nil }

    /// The client, and the assertion's `jti` when it authenticated with one: the push records it durably.
    func authenticate(
        _ request: Request,
        form: FormParameters,
        peer: SocketAddress?,
        now: Double
    ) async throws(OAuthError) -> (client: Client, singleUse: SingleUse?) {
        let credential = try credentials.read(authorization: request.headers[.authorization], form: form, lookup: clients.client)
        switch credential {
        case .authenticated(let client):
            return (client, nil)
        case .assertion(let client, let assertion):
            let jti = try await assertions.verify(assertion, for: client, now: now)
            try await singleUse.filter(jti, replayed: Self.replayedAssertion)
            return (client, jti)
        case .certificate(let client):
            guard let certificate = forwardedCertificate(request, peer: peer), let binding = client.certificate,
                certificate.matches(binding, method: client.authMethod)
            else {
                throw .invalidClient("The client certificate is missing or not the one registered.", usedAuthorizationHeader: false)
            }
            return (client, nil)
        }
    }

    static let replayedAssertion = OAuthError.invalidClient("The client assertion was already used (jti).", usedAuthorizationHeader: false)

    /// The certificate the TLS-terminating proxy forwarded; ignored unless the TCP peer is a trusted proxy.
    private func forwardedCertificate(_ request: Request, peer: SocketAddress?) -> ClientCertificate? {
        guard let certificateHeader, trustedProxies.contains(peer) else { return nil }
        let values = request.headers[values: certificateHeader]
        guard values.count == 1 else { return nil }
        return ClientCertificate(headerValue: values[0])
    }
}
