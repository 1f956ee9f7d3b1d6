/// The policy set a client is registered under.
public enum ClientProfile: String, Sendable, CaseIterable, Codable {
    /// OAuth 2.0 with the rules every ParStore client follows (PKCE S256, exact redirect URIs, ...).
    case standard
    /// FAPI 2.0 Security Profile: PAR required, `private_key_jwt` or mTLS only, `redirect_uri` required.
    case fapi2
}
