/// What a client certificate must show (RFC 8705 §2.1.2 and §2.2.2); exactly one subject rule for
/// `tls_client_auth`, thumbprints for `self_signed_tls_client_auth`.
public struct CertificateBinding: Sendable, Equatable, Codable {
    /// `tls_client_auth_subject_dn`: the subject distinguished name, RFC 4514 text.
    public var subjectDN: String?
    /// `tls_client_auth_san_dns`.
    public var sanDNS: String?
    /// `tls_client_auth_san_uri`.
    public var sanURI: String?
    /// `tls_client_auth_san_ip`.
    public var sanIP: String?
    /// `tls_client_auth_san_email`.
    public var sanEmail: String?
    /// base64url SHA-256 thumbprints (`x5t#S256`) of the accepted self-signed certificates.
    public var thumbprints: [String]

    public init(
        subjectDN: String? = nil,
        sanDNS: String? = nil,
        sanURI: String? = nil,
        sanIP: String? = nil,
        sanEmail: String? = nil,
        thumbprints: [String] = []
    ) {
        self.subjectDN = subjectDN
        self.sanDNS = sanDNS
        self.sanURI = sanURI
        self.sanIP = sanIP
        self.sanEmail = sanEmail
        self.thumbprints = thumbprints
    }

    /// How many subject rules are set.
    public var subjectRuleCount: Int { [subjectDN, sanDNS, sanURI, sanIP, sanEmail].count { $0 != nil } }
}
