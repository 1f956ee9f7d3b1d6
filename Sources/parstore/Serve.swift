import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ParCore
import ParEmbedded
import ParPostgres
import ParServer
import ParWorker

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a ParStore node.",
        discussion: """
            Every setting is a flag or a PARSTORE_* environment variable (the flag wins). With no database URL the \
            node starts its own PostgreSQL and Redis under --data-dir, applies the migrations, registers a demo \
            client and prints how to try it; Ctrl-C stops everything it started. With a database URL and no Redis \
            URL it runs on PostgreSQL alone.
            """
    )

    @Option(name: .customLong("database-url"), help: "PostgreSQL URL or connection string. Env: PARSTORE_DATABASE_URL. Default: embedded.")
    var databaseURL: String?
    @Option(name: .customLong("database-url-file"), help: "File holding the database URL (kept out of ps). Env: PARSTORE_DATABASE_URL_FILE.")
    var databaseURLFile: String?
    @Option(name: .customLong("redis-url"), help: "redis://[:password@]host:port[/db], or redis+cluster://[:password@]host:port[,host:port...] for a Redis Cluster. Env: PARSTORE_REDIS_URL. Default: embedded when the database is.")
    var redisURL: String?
    @Option(name: .customLong("redis-url-file"), help: "File holding the Redis URL (kept out of ps). Env: PARSTORE_REDIS_URL_FILE.")
    var redisURLFile: String?
    @Option(help: "Address to listen on. Env: PARSTORE_HOST. Default: 127.0.0.1.") var host: String?
    @Option(help: "Port to listen on. Env: PARSTORE_PORT. Default: 8080.") var port: Int?
    @Option(help: "Issuer identifier of the authorization server. Env: PARSTORE_ISSUER. Default: http://<host>:<port>.")
    var issuer: String?
    @Option(name: .customLong("api-key"), help: "Bearer key of the backend API, 16+ characters. Env: PARSTORE_API_KEY. Embedded: generated.")
    var apiKey: String?
    @Option(name: .customLong("api-key-file"), help: "File holding the API key (kept out of ps). Env: PARSTORE_API_KEY_FILE.")
    var apiKeyFile: String?
    @Option(name: .customLong("request-ttl"), help: "Request lifetime in seconds, 1 to 599. Env: PARSTORE_REQUEST_TTL. Default: 60.")
    var requestTTL: Int?
    @Option(
        name: .customLong("interaction-ttl"),
        help: "Load-to-redemption lifetime in seconds (login, consent), up to 86400. Env: PARSTORE_INTERACTION_TTL. Default: 600."
    )
    var interactionTTL: Int?
    @Option(
        name: .customLong("interaction-url"),
        help: "The AS's login UI; /authorize redirects there with a ticket. Env: PARSTORE_INTERACTION_URL. Default: <issuer>/interaction."
    )
    var interactionURL: String?
    @Option(
        name: .customLong("cookie-secure"),
        help: "Mark the browser binding cookie Secure (true/false). Env: PARSTORE_COOKIE_SECURE. Default: true unless the issuer is http://."
    )
    var cookieSecure: Bool?
    @Option(name: .customLong("node-id"), help: "Node id written into every event. Env: PARSTORE_NODE_ID. Default: <hostname>-<pid>.")
    var nodeID: String?
    @Option(name: .customLong("max-body"), help: "Largest POST /par body in bytes. Env: PARSTORE_MAX_BODY. Default: 65536.")
    var maxBody: Int?
    @Option(
        name: .customLong("expiry-grace"),
        help: "Seconds past a deadline before the sweeper expires a request. Env: PARSTORE_EXPIRY_GRACE. Default: 30."
    )
    var expiryGrace: Double?
    @Option(name: .customLong("sweep-interval"), help: "Seconds between sweeps. Env: PARSTORE_SWEEP_INTERVAL. Default: 5.")
    var sweepInterval: Double?
    @Option(
        name: .customLong("token-endpoint"),
        help: "The token endpoint URL, accepted as assertion aud. Env: PARSTORE_TOKEN_ENDPOINT. Default: <issuer>/token."
    )
    var tokenEndpoint: String?
    @Option(
        name: .customLong("mtls-par-endpoint"),
        help: "The PAR endpoint on the mutual-TLS host (mtls_endpoint_aliases). Env: PARSTORE_MTLS_PAR_ENDPOINT."
    )
    var mtlsPushEndpoint: String?
    @Option(
        name: .customLong("client-cert-header"),
        help: "Header where the TLS-terminating proxy forwards the client certificate (e.g. Client-Cert). Env: PARSTORE_CLIENT_CERT_HEADER."
    )
    var clientCertificateHeader: String?
    @Option(
        name: .customLong("trusted-proxies"),
        help: "Comma-separated addresses or CIDR ranges whose certificate header is believed. Env: PARSTORE_TRUSTED_PROXIES."
    )
    var trustedProxies: String?
    @Option(name: .customLong("dpop-nonce"), help: "required or off: DPoP proofs must carry a server nonce. Env: PARSTORE_DPOP_NONCE. Default: off.")
    var dpopNonce: String?
    @Option(
        name: .customLong("rate-limit"),
        help: "Pushes per second per client without a limit of its own. Env: PARSTORE_RATE_LIMIT. Default: unlimited."
    )
    var rateLimit: Double?
    @Option(name: .customLong("rate-burst"), help: "Burst of that default limit. Env: PARSTORE_RATE_BURST. Default: the rate.")
    var rateBurst: Int?
    @Option(
        name: .customLong("max-authorization-details"),
        help: "Largest authorization_details in bytes. Env: PARSTORE_MAX_AUTHORIZATION_DETAILS. Default: 8192."
    )
    var maxAuthorizationDetails: Int?
    @Option(
        name: .customLong("unauthenticated-rate"),
        help:
            "Requests per second per node that reach PostgreSQL without credentials (/authorize loads, public clients' pushes); beyond: 503. Env: PARSTORE_UNAUTHENTICATED_RATE. Default: 10000."
    )
    var unauthenticatedRate: Int?
    @Option(
        name: .customLong("header-timeout"),
        help: "Seconds from a connection's opening to its request head; then it is closed. Env: PARSTORE_HEADER_TIMEOUT. Default: 10."
    )
    var headerTimeout: Double?
    @Option(name: .customLong("body-timeout"), help: "Seconds from a request's head to the end of its body. Env: PARSTORE_BODY_TIMEOUT. Default: 30.")
    var bodyTimeout: Double?
    @Option(
        name: .customLong("idle-timeout"),
        help: "Seconds a kept-alive connection may wait for its next request. Env: PARSTORE_IDLE_TIMEOUT. Default: 60."
    )
    var idleTimeout: Double?
    @Option(
        name: .customLong("database-timeout"),
        help:
            "Seconds a request may wait for PostgreSQL (queued and running) before it is answered 503; also the sessions' statement timeout. Env: PARSTORE_DATABASE_TIMEOUT. Default: 10."
    )
    var databaseTimeout: Double?
    @Option(
        name: .customLong("batch-window"),
        help:
            "Milliseconds a small group commit (under 32 events) may be held back while requests keep arriving; 0 sends at once. Env: PARSTORE_BATCH_WINDOW. Default: 5."
    )
    var batchWindow: Double?
    @Option(name: .customLong("max-connections"), help: "Most connections open at once per node. Env: PARSTORE_MAX_CONNECTIONS. Default: 4096.")
    var maxConnections: Int?
    @Option(name: .customLong("data-dir"), help: "Folder of the embedded servers. Env: PARSTORE_DATA_DIR. Default: .parstore.")
    var dataDir: String?
    @Option(help: "Folder of migration files (embedded mode). Env: PARSTORE_MIGRATIONS_DIR.") var migrations: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error. Env: PARSTORE_LOG_LEVEL. Default: info.")
    var logLevel: String?

    func run() async throws {
        let level = Settings.value(logLevel, "PARSTORE_LOG_LEVEL").flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "parstore")

        var embedded: Embedded? = nil
        var databaseURL = try Settings.secret(self.databaseURL, file: databaseURLFile, "PARSTORE_DATABASE_URL")
        var redisURL = try Settings.secret(self.redisURL, file: redisURLFile, "PARSTORE_REDIS_URL")
        var apiKey = try Settings.secret(self.apiKey, file: apiKeyFile, "PARSTORE_API_KEY")
        if databaseURL == nil {
            let folder = Settings.value(dataDir, "PARSTORE_DATA_DIR") ?? ".parstore"
            let migrationsFolder = migrations
            let startRedis = redisURL == nil
            logger.info("starting embedded servers", metadata: ["data_dir": "\(folder)"])
            let started = try await runOnOwnThread(name: "embedded") {
                try Embedded(directory: folder, startRedis: startRedis, migrations: migrationsFolder)
            }
            embedded = started
            databaseURL = started.postgres.url
            redisURL = redisURL ?? started.redis?.url
            apiKey = apiKey ?? Secret.random(byteCount: 24)
        }
        guard let databaseURL else { throw ValidationError("no database") }
        guard let apiKey else {
            throw ValidationError("PARSTORE_API_KEY (or --api-key) is required when a database URL is given")
        }

        var configuration = NodeConfiguration(
            databaseURL: databaseURL,
            redisURL: redisURL,
            apiKey: apiKey,
            nodeID: Settings.value(nodeID, "PARSTORE_NODE_ID") ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        )
        configuration.host = Settings.value(host, "PARSTORE_HOST") ?? configuration.host
        configuration.port = try Settings.integer(port, "PARSTORE_PORT") ?? configuration.port
        configuration.issuer = Settings.value(issuer, "PARSTORE_ISSUER") ?? "http://\(configuration.host):\(configuration.port)"
        if let seconds = try Settings.integer(requestTTL, "PARSTORE_REQUEST_TTL") { configuration.requestLifetime = .seconds(seconds) }
        if let bytes = try Settings.integer(maxBody, "PARSTORE_MAX_BODY") { configuration.maxBodySize = bytes }
        if let seconds = try Settings.integer(interactionTTL, "PARSTORE_INTERACTION_TTL") { configuration.interactionLifetime = .seconds(seconds) }
        configuration.interactionURL = Settings.value(interactionURL, "PARSTORE_INTERACTION_URL")
        configuration.cookieSecure = try Settings.boolean(cookieSecure, "PARSTORE_COOKIE_SECURE")
        if let grace = try Settings.seconds(expiryGrace, "PARSTORE_EXPIRY_GRACE") { configuration.expiryGrace = grace }
        if let interval = try Settings.seconds(sweepInterval, "PARSTORE_SWEEP_INTERVAL") { configuration.sweepInterval = interval }
        if let rate = try Settings.integer(unauthenticatedRate, "PARSTORE_UNAUTHENTICATED_RATE") { configuration.unauthenticatedRate = rate }
        if let timeout = try Settings.seconds(headerTimeout, "PARSTORE_HEADER_TIMEOUT") { configuration.connectionLimits.headerTimeout = timeout }
        if let timeout = try Settings.seconds(bodyTimeout, "PARSTORE_BODY_TIMEOUT") { configuration.connectionLimits.bodyTimeout = timeout }
        if let timeout = try Settings.seconds(idleTimeout, "PARSTORE_IDLE_TIMEOUT") { configuration.connectionLimits.idleTimeout = timeout }
        if let timeout = try Settings.seconds(databaseTimeout, "PARSTORE_DATABASE_TIMEOUT") { configuration.databaseTimeout = timeout }
        if let window = try Settings.milliseconds(batchWindow, "PARSTORE_BATCH_WINDOW") { configuration.batchWindow = window }
        if let count = try Settings.integer(maxConnections, "PARSTORE_MAX_CONNECTIONS") { configuration.connectionLimits.maxConnections = count }
        configuration.tokenEndpoint = Settings.value(tokenEndpoint, "PARSTORE_TOKEN_ENDPOINT")
        configuration.mtlsPushEndpoint = Settings.value(mtlsPushEndpoint, "PARSTORE_MTLS_PAR_ENDPOINT")
        configuration.clientCertificateHeader = Settings.value(clientCertificateHeader, "PARSTORE_CLIENT_CERT_HEADER")
        configuration.trustedProxies = (Settings.value(trustedProxies, "PARSTORE_TRUSTED_PROXIES") ?? "")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        switch Settings.value(dpopNonce, "PARSTORE_DPOP_NONCE") {
        case nil, "off": configuration.requireDPoPNonce = false
        case "required": configuration.requireDPoPNonce = true
        default: throw ValidationError("PARSTORE_DPOP_NONCE must be required or off")
        }
        if let text = rateLimit.map({ String($0) }) ?? Settings.value(nil, "PARSTORE_RATE_LIMIT") {
            guard let rate = Double(text), rate.isFinite, rate > 0, rate <= 1_000_000 else {
                throw ValidationError("PARSTORE_RATE_LIMIT must be a number above 0 and at most 1000000")
            }
            let burst = try Settings.integer(rateBurst, "PARSTORE_RATE_BURST") ?? max(1, Int(rate.rounded(FloatingPointRoundingRule.up)))
            configuration.defaultRateLimit = RateLimit(perSecond: rate, burst: burst)
        }
        if let bytes = try Settings.integer(maxAuthorizationDetails, "PARSTORE_MAX_AUTHORIZATION_DETAILS") {
            configuration.maxAuthorizationDetailsSize = bytes
        }
        do {
            try configuration.validate()
        } catch {
            try await embedded?.stop()
            throw ValidationError(error.description)
        }

        let node = try ParStoreNode(configuration: configuration, logger: logger)
        await node.warmUp()
        if let embedded {
            FileHandle.standardOutput.write(Data(embedded.walkthrough(configuration).utf8))
        }
        logger.info(
            "parstore node listening",
            metadata: [
                "address": "\(configuration.host):\(configuration.port)", "node_id": "\(configuration.nodeID)",
                "redis": "\(redisURL == nil ? "disabled" : "enabled")",
            ]
        )
        do {
            try await node.makeApplication().runService()
        } catch {
            try await embedded?.stop()
            throw error
        }
        try await embedded?.stop()
        logger.info("parstore node stopped")
    }
}

/// The servers `parstore serve` starts when no database is configured, and the demo client it registers.
struct Embedded: Sendable {
    let postgres: EmbeddedPostgres
    let redis: EmbeddedRedis?
    let demoSecret: String
    static let demoClientID = "demo"
    static let demoRedirectURI = "https://client.example.org/cb"

    @available(*, noasync)
    init(directory: String, startRedis: Bool, migrations: String?) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // No other local user gets in: PostgreSQL only on a socket in a 0700 folder, Redis behind a password
        // generated at each start.
        postgres = try EmbeddedPostgres(directory: directory, listensOnTCP: false)
        do {
            redis = startRedis ? try EmbeddedRedis(directory: directory, password: Secret.random(byteCount: 24)) : nil
            _ = try Migrate.apply(databaseURL: postgres.url, directory: migrations)
            // A fresh secret each start: the old one was only ever shown once.
            let connection = try PGConnection(postgres.url, applicationName: "parstore-embedded")
            try ClientTable.remove(Self.demoClientID, on: connection)
            demoSecret = Secret.random(byteCount: 32)
            try ClientTable.add(
                Client(
                    id: Self.demoClientID,
                    authMethod: .clientSecretBasic,
                    secretHash: Secret.sha256(demoSecret),
                    redirectURIs: [Self.demoRedirectURI],
                    scopes: ["openid", "profile", "email", "accounts"]
                ),
                on: connection
            )
        } catch {
            try? postgres.stop()
            throw error
        }
    }

    func stop() async throws {
        let postgres = self.postgres
        let redis = self.redis
        try await runOnOwnThread(name: "embedded-stop") {
            redis?.stop()
            try postgres.stop()
        }
    }

    func walkthrough(_ configuration: NodeConfiguration) -> String {
        let base = "http://\(configuration.host):\(configuration.port)"
        return """

            ParStore is running with embedded PostgreSQL (on its socket only: \(postgres.socketDirectory)) and \
            Redis (\(redis.map { "127.0.0.1:\($0.port), password required" } ?? "none")); no other local user can reach them.

              demo client_id:     \(Self.demoClientID)   (client_secret_basic)
              demo client_secret: \(demoSecret)
              backend API key:    \(configuration.apiKey)

            1. Push an authorization request (RFC 9126):

              curl -s -u '\(Self.demoClientID):\(demoSecret)' \(base)/par \\
                -d response_type=code -d client_id=\(Self.demoClientID) -d scope=openid \\
                --data-urlencode redirect_uri=\(Self.demoRedirectURI) \\
                -d code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM -d code_challenge_method=S256

            2. Redeem it once, as the authorization server does when it issues the code:

              curl -s \(base)/v1/redeem -H 'Authorization: Bearer \(configuration.apiKey)' \\
                -H 'Content-Type: application/json' \\
                -d '{"client_id":"\(Self.demoClientID)","request_uri":"<request_uri from step 1>"}'

            3. Redeem it again: refused with "reason":"already_used". Metrics: \(base)/metrics

            4. The browser flow: push a new request, then open (or curl -i -c jar) \(base)/authorize?client_id=\(Self.demoClientID)&request_uri=<request_uri>
               It answers 303 to \(configuration.resolvedInteractionURL) with a ticket; the AS then reads and redeems it:

              curl -s \(base)/v1/tickets/<ticket> -H 'Authorization: Bearer \(configuration.apiKey)'
              curl -s \(base)/v1/redeem -H 'Authorization: Bearer \(configuration.apiKey)' \\
                -H 'Content-Type: application/json' -d '{"ticket":"<ticket>"}'

            Ctrl-C stops the node and the servers it started.

            """
    }
}
