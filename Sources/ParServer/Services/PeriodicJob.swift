public import Logging
public import ServiceLifecycle

/// Runs an action at a fixed interval until graceful shutdown: the sweeper, the partition keeper, the registry
/// reload. A failed run is logged and retried at the next tick.
public struct PeriodicJob: Service {
    public let name: String
    public let interval: Duration
    public let action: @Sendable () async throws -> Void
    let logger: Logger

    public init(name: String, interval: Duration, logger: Logger, action: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.interval = interval
        self.logger = logger
        self.action = action
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await action()
                } catch {
                    logger.warning("periodic job failed", metadata: ["job": "\(name)", "error": "\(type(of: error))"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}

/// Calls `shutdown` on graceful shutdown: drains a store's workers after the HTTP server has stopped.
struct DrainOnShutdown: Service {
    let shutdown: @Sendable () async -> Void

    func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }
}
