import Foundation

/// Which `redirect_uri` a PAR may name (RFC 6749 §3.1.2, RFC 9126 §2.4).
///
/// Registered URIs match exactly. A confidential client registered for it may name an unregistered URI
/// (RFC 9126 §2.4; §7.2: never a public client), only under one of its registered prefixes when it has any.
public enum RedirectURIPolicy {
    /// - Parameters:
    ///   - redirectURI: the parameter, `nil` when omitted.
    ///   - openID: whether the request is an OpenID Connect request (then `redirect_uri` is always required).
    public static func check(_ redirectURI: String?, for client: Client, openID: Bool) throws(OAuthError) {
        guard let redirectURI else {
            // RFC 6749 §3.1.2.3: it may be omitted when exactly one is registered; not in OIDC or FAPI 2.0.
            if client.profile == .fapi2 { throw .invalidRequest("FAPI 2.0 requires the redirect_uri parameter.") }
            if openID { throw .invalidRequest("OpenID Connect requests require the redirect_uri parameter.") }
            guard client.redirectURIs.count == 1 else { throw .invalidRequest("The redirect_uri parameter is missing.") }
            return
        }
        if client.redirectURIs.contains(redirectURI) { return }
        guard client.allowsUnregisteredRedirectURIs, client.authMethod != .none else {
            throw .invalidRequest("The redirect_uri is not registered for this client.")
        }
        guard isAcceptableUnregistered(redirectURI) else {
            throw .invalidRequest("The redirect_uri must be an absolute https URI without user information, fragment or dot segments.")
        }
        if !client.redirectURIPrefixes.isEmpty, !client.redirectURIPrefixes.contains(where: { redirectURI.hasPrefix($0) }) {
            throw .invalidRequest("The redirect_uri is outside the prefixes registered for this client.")
        }
    }

    /// An unregistered URI must be `https` with a host, no user information, no fragment and no `.`/`..` path
    /// segments (which could climb out of a registered prefix).
    static func isAcceptableUnregistered(_ uri: String) -> Bool {
        guard let url = URLComponents(string: uri), url.scheme?.lowercased() == "https", let host = url.host, !host.isEmpty,
            url.user == nil, url.password == nil, url.fragment == nil, !uri.contains("#")
        else { return false }
        let segments = url.percentEncodedPath.split(separator: "/", omittingEmptySubsequences: false)
        return !segments.contains { segment in
            let decoded = segment.removingPercentEncoding ?? String(segment)
            return decoded == "." || decoded == ".."
        }
    }

    /// Checks a prefix for registration: an `https` URI with a host and a path that ends the authority, so that
    /// `https://app.example/` cannot be extended into `https://app.example.evil/`.
    public static func isValidPrefix(_ prefix: String) -> Bool {
        guard isAcceptableUnregistered(prefix), let url = URLComponents(string: prefix) else { return false }
        return url.percentEncodedPath.hasPrefix("/")
    }
}
