import Hummingbird
import ParCore
import ParCredentials

/// `GET /.well-known/oauth-authorization-server` (RFC 8414 §3): what this node enforces at its PAR endpoint.
struct MetadataEndpoint: Sendable {
    let configuration: NodeConfiguration
    let clients: ClientCache
    let certificatesEnabled: Bool

    func register(on router: Router<ParRequestContext>) {
        router.get(".well-known/oauth-authorization-server") { _, _ in
            OAuthResponses.json(.ok, self.document(), headers: [.cacheControl: "public, max-age=60"])
        }
    }

    func document() -> String {
        var methods: [ClientAuthMethod] = [.clientSecretBasic, .clientSecretPost, .privateKeyJWT]
        if certificatesEnabled { methods += [.tlsClientAuth, .selfSignedTLSClientAuth] }
        methods.append(.none)
        var members: [(String, String)] = [
            ("issuer", JSONText.string(configuration.issuer)),
            ("authorization_endpoint", JSONText.string(configuration.issuer + "/authorize")),
            ("token_endpoint", JSONText.string(configuration.tokenEndpoint)),
            ("pushed_authorization_request_endpoint", JSONText.string(configuration.pushEndpoint)),
            // /authorize serves pushed requests only.
            ("require_pushed_authorization_requests", "true"),
            ("response_types_supported", Self.array(["code"])),
            ("response_modes_supported", Self.array(OpenIDParameters.responseModes.sorted())),
            ("code_challenge_methods_supported", Self.array(["S256"])),
            ("token_endpoint_auth_methods_supported", Self.array(methods.map(\.rawValue))),
            ("token_endpoint_auth_signing_alg_values_supported", Self.array(JWSAlgorithm.names)),
            ("request_parameter_supported", "true"),
            ("request_object_signing_alg_values_supported", Self.array(JWSAlgorithm.names)),
            ("dpop_signing_alg_values_supported", Self.array(JWSAlgorithm.names)),
            ("authorization_details_types_supported", Self.array(clients.authorizationDetailsTypes.sorted())),
        ]
        if let alias = configuration.oauth.mtlsPushEndpoint {
            members.append(("mtls_endpoint_aliases", #"{"pushed_authorization_request_endpoint":"# + JSONText.string(alias) + "}"))
        }
        return "{" + members.map { JSONText.string($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    private static func array(_ values: [String]) -> String {
        "[" + values.map(JSONText.string).joined(separator: ",") + "]"
    }
}
