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
    private typealias S = NodeSettings

    static let configuration = CommandConfiguration(
        abstract: "Run a ParStore node.",
        discussion: """
            Every setting is a flag or a PARSTORE_* environment variable (the flag wins). With no database URL the \
            node starts its own PostgreSQL and Redis under --data-dir, applies the migrations, registers a demo \
            client and prints how to try it; Ctrl-C stops everything it started. With a database URL and no Redis \
            URL it runs on PostgreSQL alone.
            """
    )

    // One option per declaration in NodeSettings, named after its key: `settingTexts()` finds them by that name.
    @Option(name: .customLong(S.databaseURL.flag), help: ArgumentHelp(S.databaseURL.help)) var databaseURL: String?
    @Option(name: .customLong(S.databaseURL.fileFlag), help: ArgumentHelp(S.databaseURL.fileHelp)) var databaseURLFile: String?
    @Option(name: .customLong(S.redisURL.flag), help: ArgumentHelp(S.redisURL.help)) var redisURL: String?
    @Option(name: .customLong(S.redisURL.fileFlag), help: ArgumentHelp(S.redisURL.fileHelp)) var redisURLFile: String?
    @Option(name: .customLong(S.databaseTimeout.flag), help: ArgumentHelp(S.databaseTimeout.help)) var databaseTimeout: String?
    @Option(name: .customLong(S.batchWindow.flag), help: ArgumentHelp(S.batchWindow.help)) var batchWindow: String?
    @Option(name: .customLong(S.nodeID.flag), help: ArgumentHelp(S.nodeID.help)) var nodeID: String?
    @Option(name: .customLong(S.host.flag), help: ArgumentHelp(S.host.help)) var host: String?
    @Option(name: .customLong(S.port.flag), help: ArgumentHelp(S.port.help)) var port: String?
    @Option(name: .customLong(S.maxConnections.flag), help: ArgumentHelp(S.maxConnections.help)) var maxConnections: String?
    @Option(name: .customLong(S.headerTimeout.flag), help: ArgumentHelp(S.headerTimeout.help)) var headerTimeout: String?
    @Option(name: .customLong(S.bodyTimeout.flag), help: ArgumentHelp(S.bodyTimeout.help)) var bodyTimeout: String?
    @Option(name: .customLong(S.idleTimeout.flag), help: ArgumentHelp(S.idleTimeout.help)) var idleTimeout: String?
    @Option(name: .customLong(S.issuer.flag), help: ArgumentHelp(S.issuer.help)) var issuer: String?
    @Option(name: .customLong(S.tokenEndpoint.flag), help: ArgumentHelp(S.tokenEndpoint.help)) var tokenEndpoint: String?
    @Option(name: .customLong(S.mtlsPushEndpoint.flag), help: ArgumentHelp(S.mtlsPushEndpoint.help)) var mtlsPushEndpoint: String?
    @Option(name: .customLong(S.interactionURL.flag), help: ArgumentHelp(S.interactionURL.help)) var interactionURL: String?
    @Option(name: .customLong(S.cookieSecure.flag), help: ArgumentHelp(S.cookieSecure.help)) var cookieSecure: String?
    @Option(name: .customLong(S.dpopNonce.flag), help: ArgumentHelp(S.dpopNonce.help)) var dpopNonce: String?
    @Option(name: .customLong(S.requestTTL.flag), help: ArgumentHelp(S.requestTTL.help)) var requestTTL: String?
    @Option(name: .customLong(S.interactionTTL.flag), help: ArgumentHelp(S.interactionTTL.help)) var interactionTTL: String?
    @Option(name: .customLong(S.expiryGrace.flag), help: ArgumentHelp(S.expiryGrace.help)) var expiryGrace: String?
    @Option(name: .customLong(S.sweepInterval.flag), help: ArgumentHelp(S.sweepInterval.help)) var sweepInterval: String?
    @Option(name: .customLong(S.maxBody.flag), help: ArgumentHelp(S.maxBody.help)) var maxBody: String?
    @Option(name: .customLong(S.maxAuthorizationDetails.flag), help: ArgumentHelp(S.maxAuthorizationDetails.help)) var maxAuthorizationDetails: String?
    @Option(name: .customLong(S.rateLimit.flag), help: ArgumentHelp(S.rateLimit.help)) var rateLimit: String?
    @Option(name: .customLong(S.rateBurst.flag), help: ArgumentHelp(S.rateBurst.help)) var rateBurst: String?
    @Option(name: .customLong(S.unauthenticatedRate.flag), help: ArgumentHelp(S.unauthenticatedRate.help)) var unauthenticatedRate: String?
    @Option(name: .customLong(S.apiKey.flag), help: ArgumentHelp(S.apiKey.help)) var apiKey: String?
    @Option(name: .customLong(S.apiKey.fileFlag), help: ArgumentHelp(S.apiKey.fileHelp)) var apiKeyFile: String?
    @Option(name: .customLong(S.clientCertificateHeader.flag), help: ArgumentHelp(S.clientCertificateHeader.help)) var clientCertificateHeader: String?
    @Option(name: .customLong(S.trustedProxies.flag), help: ArgumentHelp(S.trustedProxies.help)) var trustedProxies: String?
    @Option(name: .customLong(S.dataKeyFile.flag), help: ArgumentHelp(S.dataKeyFile.help)) var dataKeyFile: String?
    @Option(name: .customLong(S.dataEncryption.flag), help: ArgumentHelp(S.dataEncryption.help)) var dataEncryption: String?
    @Option(name: .customLong(S.retentionDays.flag), help: ArgumentHelp(S.retentionDays.help)) var retentionDays: String?
    @Option(name: .customLong(S.logKeyFile.flag), help: ArgumentHelp(S.logKeyFile.help)) var logKeyFile: String?
    @Option(name: .customLong(S.checkpointInterval.flag), help: ArgumentHelp(S.checkpointInterval.help)) var checkpointInterval: String?
    @Option(name: .customLong(S.dataDir.flag), help: ArgumentHelp(S.dataDir.help)) var dataDir: String?
    @Option(name: .customLong(S.migrations.flag), help: ArgumentHelp(S.migrations.help)) var migrations: String?
    @Option(name: .customLong(S.logLevel.flag), help: ArgumentHelp(S.logLevel.help)) var logLevel: String?

    func run() async throws {
        let texts = try settingTexts()
        let level = texts[S.logLevel.key].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "parstore")

        // Every value is checked before anything starts; the database URL and API key may come from the
        // embedded servers below.
        var configuration = NodeConfiguration(stores: .init(databaseURL: ""), security: .init(apiKey: ""))
        do {
            for setting in S.all { if let text = texts[setting.key] { try setting.apply(text, to: &configuration) } }
        } catch {
            throw ValidationError(error.description)
        }
        var embedded: Embedded? = nil
        if configuration.stores.databaseURL.isEmpty {
            let folder = texts[S.dataDir.key] ?? ".parstore"
            let migrationsFolder = texts[S.migrations.key]
            let startRedis = configuration.stores.redisURL == nil
            logger.info("starting embedded servers", metadata: ["data_dir": "\(folder)"])
            let started = try await runOnOwnThread(name: "embedded") {
                try Embedded(directory: folder, startRedis: startRedis, migrations: migrationsFolder)
            }
            embedded = started
            configuration.stores.databaseURL = started.postgres.url
            configuration.stores.redisURL = configuration.stores.redisURL ?? started.redis?.url
            if configuration.security.apiKey.isEmpty { configuration.security.apiKey = Secret.random(byteCount: 24) }
            do {
                if configuration.log.keyFile == nil {
                    // The checkpoints' origin: the issuer without its scheme, then /log.
                    let origin = configuration.issuer.split(separator: "://", maxSplits: 1).last.map(String.init) ?? "parstore"
                    configuration.log.keyFile = try LogKeyFile.embedded(in: folder, name: origin + "/log")
                }
                if configuration.data.keyFile == nil { configuration.data.keyFile = try DataKeyFile.embedded(in: folder) }
            } catch {
                try await started.stop()
                throw ValidationError(error.description)
            }
        }
        guard !configuration.security.apiKey.isEmpty else {
            throw ValidationError("PARSTORE_API_KEY (or --api-key) is required when a database URL is given")
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
                "address": "\(configuration.listener.host):\(configuration.listener.port)", "node_id": "\(configuration.stores.nodeID)",
                "redis": "\(configuration.stores.redisURL == nil ? "disabled" : "enabled")",
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

    /// The text of every setting given, by key: its flag, else its environment variable, else (for a secret) the
    /// file its `--<flag>-file` or `<variable>_FILE` names.
    func settingTexts() throws -> [String: String] {
        let flags = Dictionary(
            uniqueKeysWithValues: Mirror(reflecting: self).children.compactMap { child -> (String, String?)? in
                guard let label = child.label, let option = child.value as? Option<String?> else { return nil }
                return (String(label.dropFirst()), option.wrappedValue)
            }
        )
        let declared = Set(S.all.flatMap { $0.isSecret ? [$0.key, $0.key + "File"] : [$0.key] })
        precondition(Set(flags.keys) == declared, "serve's options and NodeSettings differ: \(Set(flags.keys).symmetricDifference(declared))")
        var texts: [String: String] = [:]
        for setting in S.all {
            let flag = flags[setting.key] ?? nil
            let text =
                setting.isSecret
                ? try Settings.secret(flag, file: flags[setting.key + "File"] ?? nil, setting.variable)
                : Settings.value(flag, setting.variable)
            texts[setting.key] = text
        }
        return texts
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
        let base = "http://\(configuration.listener.host):\(configuration.listener.port)"
        return """

            ParStore is running with embedded PostgreSQL (on its socket only: \(postgres.socketDirectory)) and \
            Redis (\(redis.map { "127.0.0.1:\($0.port), password required" } ?? "none")); no other local user can reach them.

              demo client_id:     \(Self.demoClientID)   (client_secret_basic)
              demo client_secret: \(demoSecret)
              backend API key:    \(configuration.security.apiKey)

            1. Push an authorization request (RFC 9126):

              curl -s -u '\(Self.demoClientID):\(demoSecret)' \(base)/par \\
                -d response_type=code -d client_id=\(Self.demoClientID) -d scope=openid \\
                --data-urlencode redirect_uri=\(Self.demoRedirectURI) \\
                -d code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM -d code_challenge_method=S256

            2. Redeem it once, as the authorization server does when it issues the code:

              curl -s \(base)/v1/redeem -H 'Authorization: Bearer \(configuration.security.apiKey)' \\
                -H 'Content-Type: application/json' \\
                -d '{"client_id":"\(Self.demoClientID)","request_uri":"<request_uri from step 1>"}'

            3. Redeem it again: refused with "reason":"already_used". Metrics: \(base)/metrics

            4. The browser flow: push a new request, then open (or curl -i -c jar) \(base)/authorize?client_id=\(Self.demoClientID)&request_uri=<request_uri>
               It answers 303 to \(configuration.interactionURL) with a ticket; the AS then reads and redeems it:

              curl -s \(base)/v1/tickets/<ticket> -H 'Authorization: Bearer \(configuration.security.apiKey)'
              curl -s \(base)/v1/redeem -H 'Authorization: Bearer \(configuration.security.apiKey)' \\
                -H 'Content-Type: application/json' -d '{"ticket":"<ticket>"}'

            5. Every event is a leaf of the tamper-evident log; its latest signed checkpoint, and the key that verifies it:

              curl -s \(base)/log/checkpoint
              parstore log public-key --log-key-file \(configuration.log.keyFile ?? "<key file>")

            6. Pushed parameters are stored sealed, under day keys wrapped by the key in \(configuration.data.keyFile ?? "<key file>")
               (keep a copy: without it they are gone). `parstore erase --before <day>` destroys the keys of past days.

            Ctrl-C stops the node and the servers it started.

            """
    }
}
