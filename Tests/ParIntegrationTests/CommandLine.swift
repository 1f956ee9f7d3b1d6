import Foundation
import ParEmbedded
import ParTesting
import ParWorker
import Testing

/// Runs the real `parstore` binary and other commands in the tests.
enum Command {
    struct Result: Sendable {
        var status: Int32
        var output: String
    }

    /// The `parstore` binary the test command built (`PARSTORE_BINARY` overrides). Missing is a failure, not a skip.
    static var parstore: String {
        get throws {
            let path = ProcessInfo.processInfo.environment["PARSTORE_BINARY"] ?? TestServers.packageRoot + "/.build/debug/parstore"
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw CommandError(description: "\(path) is missing: build it first (swift build), as the test command does")
            }
            return path
        }
    }

    /// Runs `parstore` with arguments and returns its exit status and combined output.
    static func parstore(_ arguments: [String]) async throws -> Result {
        try await run(try parstore, arguments)
    }

    /// Runs a program to completion.
    static func run(_ executable: String, _ arguments: [String]) async throws -> Result {
        try await runOnOwnThread(name: "command") {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return Result(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
        }
    }

    /// Starts a program in the background; the caller stops it.
    ///
    /// - Parameters:
    ///   - environment: added to this process's environment.
    ///   - output: a file that receives standard output and error; discarded when `nil`.
    static func launch(_ executable: String, _ arguments: [String], environment: [String: String] = [:], output: String? = nil) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        if let output {
            _ = FileManager.default.createFile(atPath: output, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            process.standardOutput = handle
            process.standardError = handle
        } else {
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        return process
    }

    /// Starts `parstore serve` on `port` over the shared servers with the tests' API key, and waits until it listens.
    static func serve(
        _ servers: TestServers.Endpoints,
        port: Int,
        _ extra: [String] = [],
        environment: [String: String] = [:],
        logLevel: String = "error",
        output: String? = nil
    ) throws -> Process {
        let node = try launch(
            try parstore,
            [
                "serve", "--database-url", servers.databaseURL, "--redis-url", servers.redisURL, "--port", String(port),
                "--log-level", logLevel,
            ] + (environment["PARSTORE_API_KEY_FILE"] == nil ? ["--api-key", TestNodes.apiKey] : [])
                + (environment["PARSTORE_DATA_KEY_FILE"] == nil ? ["--data-key-file", TestNodes.dataKeyFile] : []) + extra,
            environment: environment,
            output: output
        )
        do {
            try waitForLoopbackPort(port, timeout: 60)
        } catch {
            node.terminate()
            throw error
        }
        return node
    }

    struct CommandError: Error, CustomStringConvertible {
        var description: String
    }
}
