import ParCore

/// Every setting of `parstore serve`, declared once.
public enum NodeSettings {
    // MARK: Stores

    public static let databaseURL = NodeSetting(
        "databaseURL", flag: "database-url", .stores,
        "PostgreSQL URL or libpq connection string. Unset: start a private server under the data folder.",
        default: "embedded", secret: true, apply: NodeSetting.text(\.stores.databaseURL)
    )

    public static let redisURL = NodeSetting(
        "redisURL", flag: "redis-url", .stores,
        "`redis://[:password@]host:port[/db]` for one server, `redis+cluster://[:password@]host:port[,host:port…]` for a Redis Cluster (seed nodes, any of which may be down). Unset with a database URL: PostgreSQL alone.",
        default: "embedded with the database, else none", secret: true, apply: NodeSetting.optionalText(\.stores.redisURL)
    )

    public static let databaseTimeout = NodeSetting(
        "databaseTimeout", flag: "database-timeout", .stores,
        "Seconds a request may wait for PostgreSQL, queued and running, before it gets 503 `temporarily_unavailable`; also each session's `statement_timeout` (half of it is the `lock_timeout`) and TCP user timeout; 0.5–600.",
        default: "`10`", apply: NodeSetting.seconds(\.stores.databaseTimeout)
    )

    public static let batchWindow = NodeSetting(
        "batchWindow", flag: "batch-window", .stores,
        "Milliseconds a small group commit (under 8 events) may be held back while other requests keep arriving, so that PostgreSQL's work per event does not grow with the number of nodes; `0` sends every batch at once; up to 100.",
        default: "`5`", apply: NodeSetting.milliseconds(\.stores.batchWindow)
    )

    public static let nodeID = NodeSetting(
        "nodeID", flag: "node-id", .stores, "Written into every event; 1–128 characters.",
        default: "`<hostname>-<pid>`", apply: NodeSetting.text(\.stores.nodeID)
    )

    // MARK: Listener

    public static let host = NodeSetting(
        "host", flag: "host", .listener, "Listen address.", default: "`127.0.0.1`", apply: NodeSetting.text(\.listener.host)
    )

    public static let port = NodeSetting("port", flag: "port", .listener, "Listen port.", default: "`8080`", apply: NodeSetting.integer(\.listener.port))

    public static let maxConnections = NodeSetting(
        "maxConnections", flag: "max-connections", .listener,
        "Connections open at once per node; more are closed as they arrive.",
        default: "`4096`", apply: NodeSetting.integer(\.listener.connectionLimits.maxConnections)
    )

    public static let headerTimeout = NodeSetting(
        "headerTimeout", flag: "header-timeout", .listener,
        "Seconds from a connection's opening to its request head; then the node closes it (slowloris). Connection deadlines are checked every 0.25 s.",
        default: "`10`", apply: NodeSetting.seconds(\.listener.connectionLimits.headerTimeout)
    )

    public static let bodyTimeout = NodeSetting(
        "bodyTimeout", flag: "body-timeout", .listener, "Seconds from a request's head to the end of its body.",
        default: "`30`", apply: NodeSetting.seconds(\.listener.connectionLimits.bodyTimeout)
    )

    public static let idleTimeout = NodeSetting(
        "idleTimeout", flag: "idle-timeout", .listener, "Seconds a kept-alive connection may wait for its next request.",
        default: "`60`", apply: NodeSetting.seconds(\.listener.connectionLimits.idleTimeout)
    )

    // MARK: OAuth

    public static let issuer = NodeSetting(
        "issuer", flag: "issuer", .oauth, "The authorization server's issuer identifier.",
        default: "`http://<host>:<port>`", apply: NodeSetting.optionalText(\.oauth.issuer)
    )

    public static let tokenEndpoint = NodeSetting(
        "tokenEndpoint", flag: "token-endpoint", .oauth,
        "The AS's token endpoint: accepted as client assertion `aud`, published in the metadata.",
        default: "`<issuer>/token`", apply: NodeSetting.optionalText(\.oauth.tokenEndpoint)
    )

    public static let mtlsPushEndpoint = NodeSetting(
        "mtlsPushEndpoint", flag: "mtls-par-endpoint", .oauth,
        "The PAR endpoint on the mutual-TLS host: `mtls_endpoint_aliases`, accepted as `aud` and DPoP `htu`.",
        default: "none", apply: NodeSetting.optionalText(\.oauth.mtlsPushEndpoint)
    )

    public static let interactionURL = NodeSetting(
        "interactionURL", flag: "interaction-url", .oauth,
        "The AS's login UI; `/authorize` redirects there with `ticket`.",
        default: "`<issuer>/interaction`", apply: NodeSetting.optionalText(\.oauth.interactionURL)
    )

    public static let cookieSecure = NodeSetting(
        "cookieSecure", flag: "cookie-secure", .oauth, "`Secure` attribute of the browser binding cookie (true or false).",
        default: "`true` unless the issuer is `http://`", apply: NodeSetting.boolean(\.oauth.cookieSecure)
    )

    public static let dpopNonce = NodeSetting(
        "dpopNonce", flag: "dpop-nonce", .oauth, "`required`: DPoP proofs must carry a server nonce (RFC 9449 §8); `off`: they need not.",
        default: "`off`",
        apply: { configuration, text throws(NodeSetting.Requirement) in
            switch text {
            case "off": configuration.oauth.requireDPoPNonce = false
            case "required": configuration.oauth.requireDPoPNonce = true
            default: throw NodeSetting.Requirement("must be required or off")
            }
        }
    )

    // MARK: Lifetimes

    public static let requestTTL = NodeSetting(
        "requestTTL", flag: "request-ttl", .lifetimes, "Request lifetime (push to first use), seconds; must be 1–599 (FAPI 2.0: below 600).",
        default: "`60`", apply: NodeSetting.wholeSeconds(\.lifetimes.request)
    )

    public static let interactionTTL = NodeSetting(
        "interactionTTL", flag: "interaction-ttl", .lifetimes,
        "Interaction lifetime (load to redemption: login, MFA, consent), seconds, up to 86400.",
        default: "`600`", apply: NodeSetting.wholeSeconds(\.lifetimes.interaction)
    )

    public static let expiryGrace = NodeSetting(
        "expiryGrace", flag: "expiry-grace", .lifetimes, "Seconds past a deadline before the sweeper expires a request; 1–3600.",
        default: "`30`", apply: NodeSetting.seconds(\.lifetimes.expiryGrace)
    )

    public static let sweepInterval = NodeSetting(
        "sweepInterval", flag: "sweep-interval", .lifetimes, "Seconds between sweeps; 0.1–3600.",
        default: "`5`", apply: NodeSetting.seconds(\.lifetimes.sweepInterval)
    )

    // MARK: Limits

    public static let maxBody = NodeSetting(
        "maxBody", flag: "max-body", .limits, "Largest `POST /par` body, bytes; larger is 413.",
        default: "`65536`", apply: NodeSetting.integer(\.limits.maxBodySize)
    )

    public static let maxAuthorizationDetails = NodeSetting(
        "maxAuthorizationDetails", flag: "max-authorization-details", .limits, "Largest `authorization_details`, bytes.",
        default: "`8192`", apply: NodeSetting.integer(\.limits.maxAuthorizationDetailsSize)
    )

    public static let rateLimit = NodeSetting(
        "rateLimit", flag: "rate-limit", .limits,
        "Pushes per second (fractions allowed) for clients registered without a limit of their own.",
        default: "unlimited",
        apply: { configuration, text throws(NodeSetting.Requirement) in
            guard let rate = Double(text), rate.isFinite, rate > 0, rate <= 1_000_000 else {
                throw NodeSetting.Requirement("must be a number above 0 and at most 1000000")
            }
            configuration.limits.defaultRateLimit = RateLimit(perSecond: rate, burst: max(1, Int(rate.rounded(.up))))
        }
    )

    public static let rateBurst = NodeSetting(
        "rateBurst", flag: "rate-burst", .limits, "Burst of that default limit (needs the rate).",
        default: "the rate",
        apply: { configuration, text throws(NodeSetting.Requirement) in
            guard let rate = configuration.limits.defaultRateLimit?.perSecond else {
                throw NodeSetting.Requirement("needs PARSTORE_RATE_LIMIT (--rate-limit)")
            }
            guard let burst = Int(text), burst >= 1 else { throw NodeSetting.Requirement("must be an integer of at least 1") }
            configuration.limits.defaultRateLimit = RateLimit(perSecond: rate, burst: burst)
        }
    )

    public static let unauthenticatedRate = NodeSetting(
        "unauthenticatedRate", flag: "unauthenticated-rate", .limits,
        "Requests per second per node that reach PostgreSQL without credentials (`/authorize` loads, pushes of public clients); beyond it `503` with `Retry-After`.",
        default: "`10000`", apply: NodeSetting.integer(\.limits.unauthenticatedRate)
    )

    // MARK: Security

    public static let apiKey = NodeSetting(
        "apiKey", flag: "api-key", .security,
        "Bearer key of the backend API, 16+ characters; required with a database URL. Also the nodes' shared secret: binding cookies and DPoP nonces are MACed under keys derived from it.",
        default: "generated when embedded", secret: true, apply: NodeSetting.text(\.security.apiKey)
    )

    public static let clientCertificateHeader = NodeSetting(
        "clientCertificateHeader", flag: "client-cert-header", .security,
        "Header in which the TLS-terminating proxy forwards the client certificate: RFC 9440 `:base64 DER:`, base64 DER, or URL-encoded PEM (nginx `$ssl_client_escaped_cert`).",
        default: "none (mTLS off)", apply: NodeSetting.optionalText(\.security.clientCertificateHeader)
    )

    public static let trustedProxies = NodeSetting(
        "trustedProxies", flag: "trusted-proxies", .security,
        "Comma-separated addresses or CIDR ranges whose certificate header is believed (required with the header).",
        default: "none", apply: NodeSetting.list(\.security.trustedProxies)
    )

    // MARK: The tamper-evident log

    public static let dataKeyFile = NodeSetting(
        "dataKeyFile", flag: "data-key-file", .data,
        "File of the key-encryption keys that wrap each day's data key (`PARSTORE-KEK-1:…` lines, made by `parstore data-key generate`; the first wraps new days, every one unwraps). Every node needs the same file.",
        default: "generated under the data folder with the embedded servers, else none", apply: NodeSetting.optionalText(\.data.keyFile)
    )

    public static let dataEncryption = NodeSetting(
        "dataEncryption", flag: "data-encryption", .data,
        "Whether pushed parameters are sealed (AES-256-GCM under the day's data key) before PostgreSQL stores them; `false` stores them as pushed.",
        default: "`true`", apply: NodeSetting.boolean(\.data.encryption)
    )

    public static let retentionDays = NodeSetting(
        "retentionDays", flag: "retention-days", .data,
        "Days of events kept: every hour one node drops the day partitions older than that (`parstore retention`: only days whose requests have all ended and, while the log is in use, that the log has integrated, signing what it prunes with the log's key); 0 keeps everything, else 2–36500.",
        default: "`90`", apply: NodeSetting.integer(\.data.retentionDays)
    )

    public static let logKeyFile = NodeSetting(
        "logKeyFile", flag: "log-key-file", .log,
        "File holding the Ed25519 key that signs the log's checkpoints (`PRIVATE+KEY+…`, made by `parstore log generate-key`; every node that has it integrates, one at a time). Unset: the node does not integrate nor sign, and still serves `/log/checkpoint`.",
        default: "generated under the data folder with the embedded servers, else none", apply: NodeSetting.optionalText(\.log.keyFile)
    )

    public static let checkpointInterval = NodeSetting(
        "checkpointInterval", flag: "checkpoint-interval", .log,
        "Seconds between integrations; each signs a checkpoint when the log grew; 0.1–60.",
        default: "`1`", apply: NodeSetting.seconds(\.log.checkpointInterval)
    )

    // MARK: The process

    public static let dataDir = NodeSetting(
        "dataDir", flag: "data-dir", .process, "Folder of the embedded servers.", default: "`.parstore`", apply: nil
    )

    public static let migrations = NodeSetting(
        "migrations", flag: "migrations", variable: "PARSTORE_MIGRATIONS_DIR", .process, "Folder of the migration files.",
        default: "`./migrations`", apply: nil
    )

    public static let logLevel = NodeSetting(
        "logLevel", flag: "log-level", .process, "swift-log level: trace, debug, info, notice, warning, error.",
        default: "`info`", apply: nil
    )

    /// Every setting, in the order of the README's table.
    public static let all: [NodeSetting] = [
        databaseURL,
        redisURL,
        databaseTimeout,
        batchWindow,
        nodeID,
        host,
        port,
        maxConnections,
        headerTimeout,
        bodyTimeout,
        idleTimeout,
        issuer,
        tokenEndpoint,
        mtlsPushEndpoint,
        interactionURL,
        cookieSecure,
        dpopNonce,
        requestTTL,
        interactionTTL,
        expiryGrace,
        sweepInterval,
        maxBody,
        maxAuthorizationDetails,
        rateLimit,
        rateBurst,
        unauthenticatedRate,
        apiKey,
        clientCertificateHeader,
        trustedProxies,
        dataKeyFile,
        dataEncryption,
        retentionDays,
        logKeyFile,
        checkpointInterval,
        dataDir,
        migrations,
        logLevel,
    ]

    /// The README's table of settings, one row per flag (secrets with their file twins).
    public static var markdownTable: String {
        var rows = ["| part | variable | flag | default | meaning |", "|---|---|---|---|---|"]
        for section in NodeSetting.Section.allCases {
            for setting in all where setting.section == section {
                rows.append("| \(section.rawValue) | `\(setting.variable)` | `--\(setting.flag)` | \(setting.defaultValue) | \(setting.meaning) |")
                if setting.isSecret {
                    rows.append("| \(section.rawValue) | `\(setting.fileVariable)` | `--\(setting.fileFlag)` | none | a file holding the value of `\(setting.variable)` |")
                }
            }
        }
        return rows.joined(separator: "\n") + "\n"
    }
}
