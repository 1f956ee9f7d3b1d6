import Foundation
import ParEmbedded
import ParTestSupport
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

    /// Starts a program in the background with its output discarded; the caller stops it.
    static func launch(_ executable: String, _ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Starts `parstore serve` on `port` over the shared servers with the tests' API key, and waits until it listens.
    static func serve(_ servers: TestServers.Endpoints, port: Int, _ extra: [String] = []) throws -> Process {
        let node = try launch(
            try parstore,
            [
                "serve", "--database-url", servers.databaseURL, "--redis-url", servers.redisURL, "--api-key", TestNodes.apiKey,
                "--port", String(port), "--log-level", "error",
            ] + extra
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
