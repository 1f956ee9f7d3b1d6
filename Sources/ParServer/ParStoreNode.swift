public import Hummingbird
public import Logging
public import ParCore
public import ParPostgres
public import ParRedis
public import ParStores
import ParWorker
import Prometheus
public import ServiceLifecycle

/// One ParStore node: the HTTP faces over the request lifecycle, with its connections and periodic jobs.
///
/// Nodes keep no state that matters; any number run side by side on one PostgreSQL and one Redis.
public struct ParStoreNode: Sendable {
    public let configuration: NodeConfiguration
    /// The general-purpose PostgreSQL connection (readiness, registry, upkeep).
    public let postgres: PostgresQueries
    public let eventLog: PostgresEventLog
    public let redis: RedisPool?
    public let clients: ClientCache
    public let metrics: NodeMetrics
    /// Integrates the tamper-evident log and signs its checkpoints; `nil` without a signing key.
    public let logIntegrator: LogIntegrator?
    /// The requests, as the HTTP faces see them.
    public let requests: EventLogRequestStore
    /// The days' data keys that seal and open parameters; `nil` without a key file.
    let dataKeys: DataKeyRing?
    /// Client authentication at the PAR endpoint, with its trusted proxies parsed once.
    let authentication: ParClientAuthenticator
    let singleUse: SingleUseRecorder
    let rateLimiter: PushRateLimiter
    /// The node's budget for requests that reach PostgreSQL without credentials (browser loads, public clients).
    let unauthenticated: NodeRateLimiter
    let logger: Logger
    /// The time of day the node reads: JWT windows, request_uri days.
    let clock: any WallClock

    /// Builds the node; connections open on first use.
    ///
    /// - Throws: ``ConfigurationError`` for an invalid configuration.
    public init(configuration: NodeConfiguration, logger: Logger, clock: any WallClock = SystemWallClock()) throws {
        try configuration.validate()
        var redisTopology: RedisTopology? = nil
        if let url = configuration.stores.redisURL {
            guard let topology = RedisTopology(url: url) else {
                throw ConfigurationError("PARSTORE_REDIS_URL must look like redis://host:port[/db] or redis+cluster://host:port[,host:port...]")
            }
            redisTopology = topology
        }
        let metrics = NodeMetrics()
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
        self.metrics = metrics
        self.clients = ClientCache()
        let postgresConfiguration = PostgresConfiguration(
            conninfo: configuration.stores.databaseURL,
            nodeID: configuration.stores.nodeID,
            maxBatchSize: configuration.stores.maxBatchSize,
            timeout: configuration.stores.databaseTimeout,
            batchWindow: configuration.stores.batchWindow > .zero ? BatchWindow(limit: configuration.stores.batchWindow) : nil
        )
        self.postgres = PostgresQueries(configuration: postgresConfiguration)
        self.eventLog = PostgresEventLog(
            configuration: postgresConfiguration,
            queries: postgres,
            batchObserver: { metrics.groupCommitBatch.record(Double($0)) },
            holdObserver: { metrics.groupCommitHold.record($0) }
        )
        let redis = redisTopology.map { topology in
            RedisPool(
                topology: topology,
                connections: configuration.stores.redisConnections,
                observer: RedisObserver(
                    pipeline: { metrics.redisPipelineBatch.record(Double($0)) },
                    redirected: { metrics.redisRedirect($0) },
                    mapRefreshed: { metrics.redisMapRefresh.increment() },
                    retried: { metrics.redisRetry($0) }
                )
            )
        }
        self.redis = redis
        self.logIntegrator = try configuration.log.keyFile.map { file in
            LogIntegrator(
                configuration: .init(
                    conninfo: configuration.stores.databaseURL,
                    signer: try LogKeyFile.read(file),
                    timeout: configuration.stores.databaseTimeout
                )
            )
        }
        let queries = postgres
        let dataKeys = try configuration.data.keyFile.map { DataKeyRing(keys: try DataKeyFile.read($0), queries: queries) }
        self.dataKeys = dataKeys
        self.requests = EventLogRequestStore(
            eventLog: eventLog,
            redis: redis.map(RedisRequestCache.init(pool:)),
            sealing: configuration.data.seals ? dataKeys : nil,
            opening: dataKeys,
            observer: RequestStoreObserver(
                redisError: { metrics.redisError($0) },
                redisFallback: { metrics.redisFallback($0) },
                refusal: { metrics.refusal($0.rawValue) },
                unstorable: { metrics.storeRefusal($0) },
                unreadable: { metrics.unreadableParameters($0) }
            ),
            fallbackRate: configuration.limits.fallbackRate,
            clock: clock,
            logger: logger
        )
        let guards = redis.map(RedisGuards.init(pool:))
        self.singleUse = SingleUseRecorder(guards: guards, metrics: metrics)
        self.rateLimiter = PushRateLimiter(guards: guards, defaultLimit: configuration.limits.defaultRateLimit, metrics: metrics)
        self.authentication = try ParClientAuthenticator(configuration: configuration, clients: clients, singleUse: singleUse)
        self.unauthenticated = NodeRateLimiter(perSecond: configuration.limits.unauthenticatedRate)
    }

    /// The routes of the node, behind the OAuth error middleware.
    public func makeRouter() -> Router<ParRequestContext> {
        let router = Router(context: ParRequestContext.self)
        router.add(middleware: OAuthErrorMiddleware())
        PushEndpoint(
            configuration: configuration,
            requests: requests,
            metrics: metrics,
            authentication: authentication,
            rateLimiter: rateLimiter,
            singleUse: singleUse,
            unauthenticated: unauthenticated,
            clock: clock
        ).register(on: router)
        MetadataEndpoint(configuration: configuration, clients: clients, certificatesEnabled: authentication.certificatesEnabled)
            .register(on: router)
        AuthorizeEndpoint(
            clients: clients,
            requests: requests,
            configuration: configuration,
            metrics: metrics,
            unauthenticated: unauthenticated,
            bindingKey: UserAgentBinding.Key(secret: configuration.security.apiKey)
        ).register(on: router)
        BackendEndpoint(requests: requests, clients: clients, metrics: metrics, apiKey: configuration.security.apiKey).register(on: router)
        OperationsEndpoint(
            metrics: metrics,
            checkPostgres: { [postgres] in (try? await postgres.ping()) != nil },
            checkRedis: { [redis] in
                switch await redis?.health() {
                case nil: nil
                case .up: .up
                case .down: .down
                case .degraded(let slots): .degraded(unreachableSlots: slots)
                }
            }
        ).register(on: router)
        LogEndpoint { [postgres] in
            try await postgres.query(LogCheckpoints.latestNoteQuery).rows.first?.first ?? nil
        }.register(on: router)
        return router
    }

    /// Loads the client registry when it changed since the last load.
    public func refreshClients() async throws {
        let version = try await ClientTable.version(in: postgres)
        guard version != clients.version else { return }
        clients.replace(with: try await ClientTable.all(in: postgres), version: version)
    }

    /// Loads the client registry and opens the Redis connections (each loads the function library), so the node
    /// starts ready; what cannot be reached yet is logged, and retried by the periodic jobs and the workers.
    public func warmUp() async {
        do {
            try await refreshClients()
        } catch {
            logger.warning("could not load the client registry yet; has `parstore migrate` run?", metadata: ["error": "\(error)"])
        }
        do {
            try await redis?.connectAll()
        } catch {
            logger.warning("Redis is not reachable; serving through PostgreSQL alone until it is", metadata: ["error": "\(error)"])
        }
    }

    /// The node's background work. Graceful shutdown runs in reverse: jobs stop, then Redis and PostgreSQL drain.
    public var services: [any Service] {
        let (postgres, eventLog) = (self.postgres, self.eventLog)
        let redis = self.redis
        let metrics = self.metrics
        let grace = configuration.lifetimes.expiryGrace
        return [
            DrainOnShutdown { await postgres.shutdown() },
            DrainOnShutdown { await eventLog.shutdown() },
            DrainOnShutdown { await redis?.shutdown() },
            PeriodicJob(name: "registry", interval: configuration.stores.registryRefreshInterval, logger: logger) { [self] in
                try await refreshClients()
            },
            PeriodicJob(name: "partitions", interval: .seconds(3600), logger: logger) {
                try await eventLog.ensurePartitions()
            },
            PeriodicJob(name: "statistics", interval: .milliseconds(500), logger: logger) {
                try await eventLog.analyzeTodayIfGrown()
            },
            PeriodicJob(name: "sweeper", interval: configuration.lifetimes.sweepInterval, logger: logger) {
                if let count = try await eventLog.expireDue(grace: grace), count > 0 {
                    metrics.expired.increment(by: Int64(count))
                }
            },
        ] + logJobs + dataKeyJobs + retentionJobs
    }

    /// Retention, tried every hour (one node at a time does it; most runs find nothing to drop).
    private var retentionJobs: [any Service] {
        guard configuration.data.retentionDays > 0 else { return [] }
        let retention = Retention(
            configuration: .init(
                conninfo: configuration.stores.databaseURL,
                keepDays: configuration.data.retentionDays,
                signer: logIntegrator?.configuration.signer
            )
        )
        return [
            PeriodicJob(name: "retention", interval: .seconds(3600), logger: logger) { [logger] in
                let report = try await runOnOwnThread(name: "retention") { try retention.run() }
                if !report.dropped.isEmpty {
                    logger.notice("retention dropped days", metadata: ["days": "\(report.dropped.map(\.description))"])
                }
                for (day, reason) in report.refused {
                    logger.warning("retention kept a day", metadata: ["day": "\(day)", "reason": "\(reason)"])
                }
            }
        ]
    }

    /// How often a node re-reads the data keys it holds: an erased day is forgotten within this.
    public static let dataKeyRefreshInterval: Duration = .seconds(2)

    /// The data keys' upkeep: today's and tomorrow's made ahead, erasures taken in.
    private var dataKeyJobs: [any Service] {
        guard let dataKeys else { return [] }
        let clock = clock
        return [
            PeriodicJob(name: "data-keys", interval: Self.dataKeyRefreshInterval, logger: logger) {
                try await dataKeys.refresh(today: PartitionDay(secondsSince1970: clock.secondsSince1970))
            }
        ]
    }

    /// The log's integration, when the node has the signing key.
    private var logJobs: [any Service] {
        guard let integrator = logIntegrator else { return [] }
        let metrics = metrics
        let clock = clock
        return [
            PeriodicJob(name: "log", interval: configuration.log.checkpointInterval, logger: logger) { [logger] in
                let progress: LogIntegrator.Progress
                do {
                    progress = try await integrator.run()
                } catch let error as LogError {
                    // What the log found wrong with itself (a tree that does not extend the last checkpoint, an
                    // undecodable event) names positions and sizes only: say it, every time, until someone looks.
                    logger.error("the tamper-evident log cannot go on", metadata: ["reason": "\(error)"])
                    throw error
                }
                metrics.logIntegrated.increment(by: Int64(progress.integrated))
                guard !progress.busy else { return }
                if progress.signed != nil { metrics.logCheckpoints.increment() }
                metrics.logSize.set(Double(progress.size))
                let age = progress.lastAtMicroseconds.map { clock.secondsSince1970 - Double($0) / 1_000_000 } ?? 0
                metrics.logLag.set(progress.integrated > 0 ? max(0, age) : 0)
            }
        ]
    }

    /// The HTTP application: the router on the configured address, with the node's services, and every
    /// connection under the configured deadlines and cap (``ConnectionLimits``).
    public func makeApplication() -> some ApplicationProtocol {
        let limits = configuration.listener.connectionLimits
        let count = ConnectionCount()
        let metrics = metrics
        return Application(
            router: makeRouter(),
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: [ConnectionGuard(limits: limits, count: count) { metrics.connectionClosed($0) }]
                )
            ),
            configuration: .init(address: .hostname(configuration.listener.host, port: configuration.listener.port), serverName: "parstore"),
            services: services,
            logger: logger
        )
    }
}
