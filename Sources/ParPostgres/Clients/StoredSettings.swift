import Foundation
import ParCore

/// The `settings` column: RFC 7591 names where they exist.
struct StoredSettings: Codable {
    var certificate: CertificateBinding?
    var authorization_details_types: [String]?
    var require_signed_request_object: Bool?
    var allow_unregistered_redirect_uris: Bool?
    var redirect_uri_prefixes: [String]?
    var rate_limit: RateLimit?

    init(_ client: Client) {
        certificate = client.certificate
        authorization_details_types = client.authorizationDetailsTypes.isEmpty ? nil : client.authorizationDetailsTypes.sorted()
        require_signed_request_object = client.requiresSignedRequestObject ? true : nil
        allow_unregistered_redirect_uris = client.allowsUnregisteredRedirectURIs ? true : nil
        redirect_uri_prefixes = client.redirectURIPrefixes.isEmpty ? nil : client.redirectURIPrefixes
        rate_limit = client.rateLimit
    }

    func apply(to client: inout Client) {
        client.certificate = certificate
        client.authorizationDetailsTypes = Set(authorization_details_types ?? [])
        client.requiresSignedRequestObject = require_signed_request_object ?? false
        client.allowsUnregisteredRedirectURIs = allow_unregistered_redirect_uris ?? false
        client.redirectURIPrefixes = redirect_uri_prefixes ?? []
        client.rateLimit = rate_limit
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
