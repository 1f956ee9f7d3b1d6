import Foundation
import Logging
public import ParCore
public import ParServer

/// Builds nodes for the tests: short sweeps, a fixed API key, the registry loaded before the first request.
public enum TestNodes {
    public static let apiKey = "test-api-key-0123456789abcdef"

    public static func configuration(databaseURL: String, redisURL: String?, name: String = "node") -> NodeConfiguration {
        var configuration = NodeConfiguration(stores: .init(databaseURL: databaseURL, redisURL: redisURL), security: .init(apiKey: apiKey))
        configuration.stores.nodeID = "\(name)-\(UUID().uuidString.prefix(6))"
        configuration.lifetimes.sweepInterval = .milliseconds(500)
        configuration.lifetimes.expiryGrace = .seconds(1)
        configuration.stores.registryRefreshInterval = .milliseconds(300)
        configuration.data.keyFile = dataKeyFile
        return configuration
    }

    /// The test process's key-encryption key file: every test node shares it, as every node of a deployment does.
    public static let dataKeyFile: String = {
        let path = NSTemporaryDirectory() + "parstore-test-\(getpid())-\(UUID().uuidString.prefix(8)).kek"
        try! DataKeyFile.create(path, keys: KeyEncryptionKeys([.generate()]))
        return path
    }()

    /// A node whose registry is loaded.
    public static func make(_ configuration: NodeConfiguration, clock: any WallClock = SystemWallClock()) async throws -> ParStoreNode {
        var logger = Logger(label: "parstore-test")
        logger.logLevel = ProcessInfo.processInfo.environment["PARSTORE_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        let node = try ParStoreNode(configuration: configuration, logger: logger, clock: clock)
        try await node.refreshClients()
        return node
    }
}
