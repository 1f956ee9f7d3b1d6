import Foundation
public import ParCore

/// Everything a node needs, in one value, grouped by what it governs. The command-line tool builds it from the
/// declarations in ``NodeSettings`` (flags and `PARSTORE_*` environment variables); nothing else reads the
/// environment.
public struct NodeConfiguration: Sendable {
    /// Where the node listens, and how long clients may take.
    public struct Listener: Sendable {
        /// The address to listen on. Default `127.0.0.1`.
        public var host: String = "127.0.0.1"
        /// The port to listen on. Default 8080.
        public var port: Int = 8080
        /// Deadlines for reading requests and the cap on open connections.
        public var connectionLimits = ConnectionLimits()

        public init() {}
    }

    /// The authorization server this node is the PAR component of.
    public struct OAuth: Sendable {
        /// The issuer identifier; `nil` is `http://<host>:<port>` (development).
        public var issuer: String?
        /// The token endpoint, accepted as a client assertion's `aud` (RFC 9126 §2) and published; `nil` is
        /// `<issuer>/token`.
        public var tokenEndpoint: String?
        /// The PAR endpoint on the mutual-TLS host, when there is one: published under `mtls_endpoint_aliases`
        /// (RFC 8705 §5) and accepted as `aud` and `htu`.
        public var mtlsPushEndpoint: String?
        /// The login and consent UI `/authorize` sends the browser to with a `ticket`; `nil` is
        /// `<issuer>/interaction`.
        public var interactionURL: String?
        /// Whether the binding cookie is `Secure`; `nil`: unless the issuer is plain `http://`.
        public var cookieSecure: Bool?
        /// Whether DPoP proofs must carry a server nonce (RFC 9449 §8).
        public var requireDPoPNonce = false

        public init() {}
    }

    /// How long requests live, and how the sweeper ends them.
    public struct Lifetimes: Sendable {
        /// From push to first use. Default 60 s; below 600 s (FAPI 2.0).
        public var request: Duration = .seconds(60)
        /// From the load to the redemption: login, MFA, consent. Default 10 minutes; clients may have their own.
        public var interaction: Duration = .seconds(600)
        /// How long past its deadline a request is expired: more than any in-flight redemption and clock skew.
        public var expiryGrace: Duration = .seconds(30)
        /// How often the sweeper looks for requests to expire.
        public var sweepInterval: Duration = .seconds(5)

        public init() {}
    }

    /// What one caller, or all of them together, may ask of a node.
    public struct Limits: Sendable {
        /// The largest accepted body of `POST /par`; larger is 413.
        public var maxBodySize: Int = 64 * 1024
        /// Limits on the parameters of a PAR body.
        public var form = FormLimits()
        /// The largest `authorization_details` value, in bytes.
        public var maxAuthorizationDetailsSize = 8 * 1024
        /// The push rate of clients registered without one; `nil` leaves them unlimited.
        public var defaultRateLimit: RateLimit?
        /// The most requests per second, per node, that reach PostgreSQL without credentials: `/authorize` loads
        /// and pushes of public clients; beyond it they get 503.
        public var unauthenticatedRate: Int = 10_000
        /// The most redemptions per second that Redis could not find and PostgreSQL is asked about instead, per
        /// node (a flood of unknown request_uris must not become a flood of database reads).
        public var fallbackRate: Int = 2000

        public init() {}
    }

    /// PostgreSQL, Redis, and how the node uses them.
    public struct Stores: Sendable {
        /// A libpq connection string or `postgresql://` URL. Several hosts with `target_session_attrs=read-write`
        /// (`postgresql://a:5432,b:5432/parstore?target_session_attrs=read-write`) follow the primary across a
        /// failover, without a restart.
        public var databaseURL: String
        /// The longest a request waits for PostgreSQL before it is answered 503; also each session's statement
        /// timeout. Default 10 s: a browser and an authorization server wait no longer.
        public var databaseTimeout: Duration = .seconds(10)
        /// `redis://host:port[/db]` or `redis+cluster://host:port[,host:port...]`; `nil` runs on PostgreSQL alone.
        public var redisURL: String?
        /// The number of pipelined Redis connections (per primary of a cluster).
        public var redisConnections: Int = 2
        /// The most events written in one group commit.
        public var maxBatchSize: Int = 1000
        /// The longest a small group commit (under 8 events) is held back while requests keep arriving, so that
        /// PostgreSQL's work per event does not grow with the number of nodes; zero sends every batch at once.
        public var batchWindow: Duration = .milliseconds(5)
        /// Written into every event. Default: the host name and process id.
        public var nodeID: String = "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        /// How often the node checks the client registry for changes.
        public var registryRefreshInterval: Duration = .seconds(2)

        public init(databaseURL: String, redisURL: String? = nil) {
            self.databaseURL = databaseURL
            self.redisURL = redisURL
        }
    }

    /// Who may call the backend API, and whose word about client certificates is believed.
    public struct Security: Sendable {
        /// The bearer key of the backend API, compared as a SHA-256 in constant time; also the nodes' shared
        /// secret for binding cookies and DPoP nonces.
        public var apiKey: String
        /// The header in which the TLS-terminating proxy forwards the client certificate (e.g. `Client-Cert`,
        /// RFC 9440); `nil` disables the mutual-TLS methods.
        public var clientCertificateHeader: String?
        /// The proxies (addresses or CIDR ranges) whose certificate header is believed.
        public var trustedProxies: [String] = []

        public init(apiKey: String) { self.apiKey = apiKey }
    }

    /// The tamper-evident log: who integrates it and signs its checkpoints.
    public struct Log: Sendable {
        /// The file of the Ed25519 key that signs checkpoints (signed-note format, `parstore log generate-key`);
        /// `nil`: the node neither integrates nor signs (other nodes may), and still serves the latest checkpoint.
        public var keyFile: String?
        /// How often the node integrates new events and signs a checkpoint when the log grew.
        public var checkpointInterval: Duration = .seconds(1)

        public init() {}
    }

    /// How pushed parameters are kept at rest.
    public struct DataProtection: Sendable {
        /// The file of the key-encryption keys (`parstore data-key generate`), the first of which wraps new days' data
        /// keys.
        public var keyFile: String?
        /// Whether parameters are sealed before they are stored; `nil` is on. Off stores them as pushed (and still
        /// opens what was sealed, given the key file).
        public var encryption: Bool?
        /// Days of partitions kept; older ones are dropped (``Retention``) by a node's hourly job. 0: never.
        public var retentionDays = 90

        public init() {}

        /// Whether new parameters are sealed.
        public var seals: Bool { encryption ?? true }
    }

    public var listener = Listener()
    public var oauth = OAuth()
    public var log = Log()
    public var data = DataProtection()
    public var lifetimes = Lifetimes()
    public var limits = Limits()
    public var stores: Stores
    public var security: Security

    /// The greatest request lifetime accepted: FAPI 2.0 requires `expires_in` strictly below 600 s.
    public static let maximumRequestLifetime: Duration = .seconds(600)

    public init(stores: Stores, security: Security) {
        self.stores = stores
        self.security = security
    }

    /// The issuer identifier.
    public var issuer: String { oauth.issuer ?? "http://\(listener.host):\(listener.port)" }

    /// The PAR endpoint's URL.
    public var pushEndpoint: String { issuer + "/par" }

    /// The token endpoint's URL.
    public var tokenEndpoint: String { oauth.tokenEndpoint ?? issuer + "/token" }

    /// Where `/authorize` sends the browser.
    public var interactionURL: String { oauth.interactionURL ?? issuer + "/interaction" }

    /// Whether the binding cookie carries `Secure`.
    public var cookieSecure: Bool { oauth.cookieSecure ?? !issuer.lowercased().hasPrefix("http://") }

    /// Checks the values against each other.
    ///
    /// - Throws: ``ConfigurationError`` naming the setting.
    public func validate() throws(ConfigurationError) {
        guard lifetimes.request >= .seconds(1), lifetimes.request < Self.maximumRequestLifetime else {
            throw ConfigurationError("PARSTORE_REQUEST_TTL must be at least 1 second and below 600 seconds")
        }
        guard lifetimes.interaction >= .seconds(1), lifetimes.interaction <= .seconds(86_400) else {
            throw ConfigurationError("PARSTORE_INTERACTION_TTL must be between 1 second and 1 day")
        }
        guard Self.isAbsolute(interactionURL) else {
            throw ConfigurationError("PARSTORE_INTERACTION_URL must be an absolute http(s) URL")
        }
        guard security.apiKey.utf8.count >= 16 else { throw ConfigurationError("PARSTORE_API_KEY must have at least 16 characters") }
        guard (1...65535).contains(listener.port) else { throw ConfigurationError("PARSTORE_PORT must be between 1 and 65535") }
        guard limits.maxBodySize >= 1024 else { throw ConfigurationError("PARSTORE_MAX_BODY must be at least 1024 bytes") }
        for url in [tokenEndpoint, oauth.mtlsPushEndpoint].compactMap({ $0 }) where !Self.isAbsolute(url) {
            throw ConfigurationError("PARSTORE_TOKEN_ENDPOINT and PARSTORE_MTLS_PAR_ENDPOINT must be absolute http(s) URLs")
        }
        if security.clientCertificateHeader != nil, security.trustedProxies.isEmpty {
            throw ConfigurationError("PARSTORE_CLIENT_CERT_HEADER needs PARSTORE_TRUSTED_PROXIES: the header is believed only from them")
        }
        guard (try? TrustedProxies(security.trustedProxies)) != nil else {
            throw ConfigurationError(
                "PARSTORE_TRUSTED_PROXIES must be IP addresses or CIDR ranges of /8 or longer (never 0.0.0.0/0 or ::/0), comma-separated"
            )
        }
        if let limit = limits.defaultRateLimit, !(limit.perSecond > 0) || limit.burst < 1 {
            throw ConfigurationError("PARSTORE_RATE_LIMIT must be above 0 and PARSTORE_RATE_BURST at least 1")
        }
        guard limits.maxAuthorizationDetailsSize >= 256 else {
            throw ConfigurationError("PARSTORE_MAX_AUTHORIZATION_DETAILS must be at least 256 bytes")
        }
        guard !stores.nodeID.isEmpty, stores.nodeID.utf8.count <= 128 else {
            throw ConfigurationError("PARSTORE_NODE_ID must have 1 to 128 characters")
        }
        guard lifetimes.expiryGrace >= .seconds(1), lifetimes.expiryGrace <= .seconds(3600) else {
            throw ConfigurationError("PARSTORE_EXPIRY_GRACE must be between 1 second and 1 hour")
        }
        guard lifetimes.sweepInterval >= .milliseconds(100), lifetimes.sweepInterval <= .seconds(3600) else {
            throw ConfigurationError("PARSTORE_SWEEP_INTERVAL must be between 0.1 second and 1 hour")
        }
        guard stores.databaseTimeout >= .milliseconds(500), stores.databaseTimeout <= .seconds(600) else {
            throw ConfigurationError("PARSTORE_DATABASE_TIMEOUT must be between 0.5 second and 10 minutes")
        }
        guard stores.batchWindow >= .zero, stores.batchWindow <= .milliseconds(100) else {
            throw ConfigurationError("PARSTORE_BATCH_WINDOW must be between 0 and 100 milliseconds")
        }
        guard log.checkpointInterval >= .milliseconds(100), log.checkpointInterval <= .seconds(60) else {
            throw ConfigurationError("PARSTORE_CHECKPOINT_INTERVAL must be between 0.1 and 60 seconds")
        }
        guard limits.unauthenticatedRate >= 1 else { throw ConfigurationError("PARSTORE_UNAUTHENTICATED_RATE must be at least 1") }
        let connections = listener.connectionLimits
        for (timeout, name) in [
            (connections.headerTimeout, "PARSTORE_HEADER_TIMEOUT"), (connections.bodyTimeout, "PARSTORE_BODY_TIMEOUT"),
            (connections.idleTimeout, "PARSTORE_IDLE_TIMEOUT"),
        ] where !(timeout >= .milliseconds(100) && timeout <= .seconds(3600)) {
            throw ConfigurationError("\(name) must be between 0.1 second and 1 hour")
        }
        guard (1...1_000_000).contains(connections.maxConnections) else {
            throw ConfigurationError("PARSTORE_MAX_CONNECTIONS must be between 1 and 1000000")
        }
        guard data.retentionDays == 0 || (2...36_500).contains(data.retentionDays) else {
            throw ConfigurationError("PARSTORE_RETENTION_DAYS must be 0 (keep everything) or between 2 and 36500")
        }
        guard !data.seals || data.keyFile != nil else {
            throw ConfigurationError("PARSTORE_DATA_KEY_FILE is required while PARSTORE_DATA_ENCRYPTION is on (`parstore data-key generate`)")
        }
    }

    private static func isAbsolute(_ url: String) -> Bool { url.hasPrefix("https://") || url.hasPrefix("http://") }
}
