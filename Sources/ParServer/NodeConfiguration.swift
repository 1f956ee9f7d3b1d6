public import ParCore

/// Everything a node needs, in one value. The command-line tool builds it from flags and `PARSTORE_*`
/// environment variables; nothing else reads the environment.
public struct NodeConfiguration: Sendable {
    /// A libpq connection string or `postgresql://` URL (`PARSTORE_DATABASE_URL`). Several hosts with
    /// `target_session_attrs=read-write` (`postgresql://a:5432,b:5432/parstore?target_session_attrs=read-write`)
    /// follow the primary across a failover, without a restart.
    public var databaseURL: String
    /// The longest a request waits for PostgreSQL before it is answered 503 (`PARSTORE_DATABASE_TIMEOUT`); also
    /// each session's statement timeout. Default 10 s: a browser and an authorization server wait no longer.
    public var databaseTimeout: Duration = .seconds(10)
    /// `redis://host:port[/db]` (`PARSTORE_REDIS_URL`); `nil` runs on PostgreSQL alone.
    public var redisURL: String?
    /// The address to listen on (`PARSTORE_HOST`). Default `127.0.0.1`.
    public var host: String = "127.0.0.1"
    /// The port to listen on (`PARSTORE_PORT`). Default 8080.
    public var port: Int = 8080
    /// The authorization server's issuer identifier (`PARSTORE_ISSUER`). Default `http://127.0.0.1:8080`.
    public var issuer: String = "http://127.0.0.1:8080"
    /// The bearer key of the backend API (`PARSTORE_API_KEY`); compared as a SHA-256, in constant time.
    public var apiKey: String
    /// How long a pushed request may wait for its first use (`PARSTORE_REQUEST_TTL`). Default 60 s; it must be
    /// below 600 s (FAPI 2.0).
    public var requestLifetime: Duration = .seconds(60)
    /// How long a loaded request may take to be redeemed: login, MFA, consent (`PARSTORE_INTERACTION_TTL`).
    /// Default 10 minutes; clients may have their own.
    public var interactionLifetime: Duration = .seconds(600)
    /// The authorization server's login and consent UI; `/authorize` sends the browser there with a `ticket`
    /// (`PARSTORE_INTERACTION_URL`). Default `<issuer>/interaction`.
    public var interactionURL: String?
    /// Whether the binding cookie is `Secure` (`PARSTORE_COOKIE_SECURE`). Default: true unless the issuer is
    /// plain `http://` (development).
    public var cookieSecure: Bool?
    /// Written into every event (`PARSTORE_NODE_ID`). Default: the host name and process id.
    public var nodeID: String
    /// The largest accepted body of `POST /par` (`PARSTORE_MAX_BODY`). Default 64 KiB; larger is 413.
    public var maxBodySize: Int = 64 * 1024
    /// Limits on the parameters of a PAR body.
    public var formLimits: FormLimits = FormLimits()
    /// How often the sweeper looks for requests to expire. Default 5 s.
    public var sweepInterval: Duration = .seconds(5)
    /// How long past its deadline a request is expired: more than any in-flight redemption and clock skew.
    /// Default 30 s.
    public var expiryGrace: Duration = .seconds(30)
    /// How often the node checks the client registry for changes. Default 2 s.
    public var registryRefreshInterval: Duration = .seconds(2)
    /// The most redemptions per second that Redis could not find and PostgreSQL is asked about instead, per
    /// node (a flood of unknown request_uris must not become a flood of database reads). Default 2000.
    public var fallbackRate: Int = 2000
    /// The most requests per second, per node, that reach PostgreSQL without credentials: `/authorize` loads and
    /// pushes of public clients (`PARSTORE_UNAUTHENTICATED_RATE`); beyond it they get 503. Default 10,000.
    public var unauthenticatedRate: Int = 10_000
    /// Deadlines for reading requests and the cap on open connections (`PARSTORE_HEADER_TIMEOUT`,
    /// `PARSTORE_BODY_TIMEOUT`, `PARSTORE_IDLE_TIMEOUT`, `PARSTORE_MAX_CONNECTIONS`).
    public var connectionLimits = ConnectionLimits()
    /// The number of pipelined Redis connections. Default 2.
    public var redisConnections: Int = 2
    /// The most events written in one group commit. Default 1000.
    public var maxBatchSize: Int = 1000
    /// The longest a small group commit (under 32 events) is held back while requests keep arriving, so that
    /// PostgreSQL's work per event does not grow with the number of nodes (`PARSTORE_BATCH_WINDOW`, milliseconds;
    /// 0 sends every batch at once). Default 5 ms.
    public var batchWindow: Duration = .milliseconds(5)

    /// The token endpoint's URL, accepted as a client assertion's `aud` (RFC 9126 §2) and published in the
    /// metadata (`PARSTORE_TOKEN_ENDPOINT`). Default `<issuer>/token`.
    public var tokenEndpoint: String?
    /// The PAR endpoint's URL on the mutual-TLS host, when there is one (`PARSTORE_MTLS_PAR_ENDPOINT`): published
    /// under `mtls_endpoint_aliases` (RFC 8705 §5) and accepted as `aud` and `htu`.
    public var mtlsPushEndpoint: String?
    /// The header in which the TLS-terminating proxy forwards the client certificate (`PARSTORE_CLIENT_CERT_HEADER`,
    /// e.g. `Client-Cert`, RFC 9440); `nil` disables the mutual-TLS methods.
    public var clientCertificateHeader: String?
    /// The proxies (addresses or CIDR ranges) whose certificate header is believed (`PARSTORE_TRUSTED_PROXIES`).
    public var trustedProxies: [String] = []
    /// Whether DPoP proofs must carry a server nonce (`PARSTORE_DPOP_NONCE=required`, RFC 9449 §8).
    public var requireDPoPNonce = false
    /// The push rate of clients registered without one (`PARSTORE_RATE_LIMIT`, per second, and
    /// `PARSTORE_RATE_BURST`); `nil` leaves them unlimited.
    public var defaultRateLimit: RateLimit?
    /// The largest `authorization_details` value, in bytes (`PARSTORE_MAX_AUTHORIZATION_DETAILS`). Default 8 KiB.
    public var maxAuthorizationDetailsSize = 8 * 1024

    /// The greatest request lifetime accepted: FAPI 2.0 requires `expires_in` strictly below 600 s.
    public static let maximumRequestLifetime: Duration = .seconds(600)

    public init(databaseURL: String, redisURL: String?, apiKey: String, nodeID: String) {
        self.databaseURL = databaseURL
        self.redisURL = redisURL
        self.apiKey = apiKey
        self.nodeID = nodeID
    }

    /// The PAR endpoint's URL.
    public var pushEndpoint: String { issuer + "/par" }

    /// The token endpoint's URL.
    public var resolvedTokenEndpoint: String { tokenEndpoint ?? issuer + "/token" }

    /// Where `/authorize` sends the browser.
    public var resolvedInteractionURL: String { interactionURL ?? issuer + "/interaction" }

    /// Whether the binding cookie carries `Secure`.
    public var resolvedCookieSecure: Bool { cookieSecure ?? !issuer.lowercased().hasPrefix("http://") }

    /// Checks the values against each other.
    ///
    /// - Throws: ``ConfigurationError`` naming the setting.
    public func validate() throws(ConfigurationError) {
        guard requestLifetime >= .seconds(1), requestLifetime < Self.maximumRequestLifetime else {
            throw ConfigurationError("PARSTORE_REQUEST_TTL must be at least 1 second and below 600 seconds")
        }
        guard interactionLifetime >= .seconds(1), interactionLifetime <= .seconds(86_400) else {
            throw ConfigurationError("PARSTORE_INTERACTION_TTL must be between 1 second and 1 day")
        }
        guard resolvedInteractionURL.hasPrefix("https://") || resolvedInteractionURL.hasPrefix("http://") else {
            throw ConfigurationError("PARSTORE_INTERACTION_URL must be an absolute http(s) URL")
        }
        guard apiKey.utf8.count >= 16 else { throw ConfigurationError("PARSTORE_API_KEY must have at least 16 characters") }
        guard (1...65535).contains(port) else { throw ConfigurationError("PARSTORE_PORT must be between 1 and 65535") }
        guard maxBodySize >= 1024 else { throw ConfigurationError("PARSTORE_MAX_BODY must be at least 1024 bytes") }
        for url in [resolvedTokenEndpoint, mtlsPushEndpoint].compactMap({ $0 })
        where !(url.hasPrefix("https://") || url.hasPrefix("http://")) {
            throw ConfigurationError("PARSTORE_TOKEN_ENDPOINT and PARSTORE_MTLS_PAR_ENDPOINT must be absolute http(s) URLs")
        }
        if clientCertificateHeader != nil {
            guard !trustedProxies.isEmpty else {
                throw ConfigurationError("PARSTORE_CLIENT_CERT_HEADER needs PARSTORE_TRUSTED_PROXIES: the header is believed only from them")
            }
        }
        guard (try? TrustedProxies(trustedProxies)) != nil else {
            throw ConfigurationError(
                "PARSTORE_TRUSTED_PROXIES must be IP addresses or CIDR ranges of /8 or longer (never 0.0.0.0/0 or ::/0), comma-separated"
            )
        }
        if let limit = defaultRateLimit, !(limit.perSecond > 0) || limit.burst < 1 {
            throw ConfigurationError("PARSTORE_RATE_LIMIT must be above 0 and PARSTORE_RATE_BURST at least 1")
        }
        guard maxAuthorizationDetailsSize >= 256 else { throw ConfigurationError("PARSTORE_MAX_AUTHORIZATION_DETAILS must be at least 256 bytes") }
        guard !nodeID.isEmpty, nodeID.utf8.count <= 128 else { throw ConfigurationError("PARSTORE_NODE_ID must have 1 to 128 characters") }
        guard expiryGrace >= .seconds(1), expiryGrace <= .seconds(3600) else {
            throw ConfigurationError("PARSTORE_EXPIRY_GRACE must be between 1 second and 1 hour")
        }
        guard sweepInterval >= .milliseconds(100), sweepInterval <= .seconds(3600) else {
            throw ConfigurationError("PARSTORE_SWEEP_INTERVAL must be between 0.1 second and 1 hour")
        }
        guard databaseTimeout >= .milliseconds(500), databaseTimeout <= .seconds(600) else {
            throw ConfigurationError("PARSTORE_DATABASE_TIMEOUT must be between 0.5 second and 10 minutes")
        }
        guard batchWindow >= .zero, batchWindow <= .milliseconds(100) else {
            throw ConfigurationError("PARSTORE_BATCH_WINDOW must be between 0 and 100 milliseconds")
        }
        guard unauthenticatedRate >= 1 else { throw ConfigurationError("PARSTORE_UNAUTHENTICATED_RATE must be at least 1") }
        let limits = connectionLimits
        for (timeout, name) in [
            (limits.headerTimeout, "PARSTORE_HEADER_TIMEOUT"), (limits.bodyTimeout, "PARSTORE_BODY_TIMEOUT"),
            (limits.idleTimeout, "PARSTORE_IDLE_TIMEOUT"),
        ] where !(timeout >= .milliseconds(100) && timeout <= .seconds(3600)) {
            throw ConfigurationError("\(name) must be between 0.1 second and 1 hour")
        }
        guard (1...1_000_000).contains(limits.maxConnections) else {
            throw ConfigurationError("PARSTORE_MAX_CONNECTIONS must be between 1 and 1000000")
        }
    }
}

/// A configuration value that cannot be used.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
