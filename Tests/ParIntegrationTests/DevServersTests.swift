import Foundation
import ParEmbedded
import ParTesting
import ParWorker
import Testing

/// `parstore dev-servers`, which the benchmark and the test command's clean-up use: servers that answer, all
/// stopped on SIGTERM, and servers left by a process that died found and stopped by `--stop-leftovers`.
@Suite struct DevServersTests {
    private static func folder() -> String {
        let base = ProcessInfo.processInfo.environment["PARSTORE_TEST_DIR"] ?? NSTemporaryDirectory()
        let path = base + "/dev-servers-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        return path
    }

    /// Starts `dev-servers` and reads the lines it writes once every server is up.
    private static func start(_ folder: String, _ arguments: [String]) async throws -> (Process, [String: String]) {
        let envFile = folder + "/servers.env"
        let process = try Command.launch(try Command.parstore, ["dev-servers", "--dir", folder + "/servers", "--env-file", envFile] + arguments, output: folder + "/log")
        let deadline = ContinuousClock.now + .seconds(120)
        while !FileManager.default.fileExists(atPath: envFile) {
            guard process.isRunning, ContinuousClock.now < deadline else {
                process.terminate()
                throw Command.CommandError(description: "dev-servers did not start: " + ((try? String(contentsOfFile: folder + "/log", encoding: .utf8)) ?? ""))
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        var values: [String: String] = [:]
        for line in try String(contentsOfFile: envFile, encoding: .utf8).split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            values[String(parts[0])] = String(parts[1]).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        }
        return (process, values)
    }

    /// Whether the process runs: exists and is not a zombie waiting for its parent (the servers' parent is gone, and
    /// whoever inherits them reaps in its own time).
    private static func running(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")")
        else { return false }
        return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
    }

    /// Stopping is done when the command returns; the kernel's bookkeeping may take a moment longer.
    private static func waitUntilGone(_ pids: [Int32]) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while pids.contains(where: running), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
    }

    @Test func serversAnswerAndAllStopOnSIGTERM() async throws {
        let folder = Self.folder()
        let (process, values) = try await Self.start(folder, ["--redis", "--postgres-setting", "work_mem=7MB"])
        let postgresURL = try #require(values["DEV_POSTGRES_URL"])
        let redisPID = try #require(values["DEV_REDIS_PID"].flatMap(Int32.init))
        let rows = try await TestDatabase(url: postgresURL).query("SHOW work_mem")
        #expect(rows.first?.first == "7MB", "the setting reached the server")
        let port = try #require(values["DEV_REDIS_PORT"].flatMap(Int.init))
        try waitForLoopbackPort(port, timeout: 5)
        let postmaster = try #require(Self.postmaster(values["DEV_POSTGRES_DATA"]))
        #expect(Self.running(redisPID) && Self.running(postmaster))

        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        try await Self.waitUntilGone([redisPID, postmaster])
        #expect(!Self.running(redisPID), "Redis stopped")
        #expect(!Self.running(postmaster), "PostgreSQL stopped")
        #expect(!FileManager.default.fileExists(atPath: folder + "/servers.env"), "the lines are gone with the servers")
    }

    @Test func serversLeftByADeadProcessAreStoppedByStopLeftovers() async throws {
        let folder = Self.folder()
        let (process, values) = try await Self.start(folder, ["--redis", "--redis-cluster", "3"])
        let pids = try [#require(values["DEV_REDIS_PID"].flatMap(Int32.init)), #require(Self.postmaster(values["DEV_POSTGRES_DATA"]))]
            + (values["DEV_CLUSTER_PIDS"] ?? "").split(separator: " ").compactMap { Int32($0) }
        #expect(pids.count == 5)
        kill(process.processIdentifier, SIGKILL)  // dies without stopping anything
        process.waitUntilExit()
        #expect(pids.allSatisfy(Self.running), "the servers outlive it")

        let result = try await Command.parstore(["dev-servers", "--dir", folder, "--stop-leftovers"])
        #expect(result.status == 0 && result.output.contains("stopped 5 server(s)"), "\(result.output)")
        try await Self.waitUntilGone(pids)
        #expect(!pids.contains(where: Self.running))
    }

    private static func postmaster(_ data: String?) -> Int32? {
        guard let data, let text = try? String(contentsOfFile: data + "/postmaster.pid", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first.flatMap { Int32($0) }
    }
}
