import Foundation

/// Servers that a process which died could not stop: found by the files they keep in their folders.
public enum LeftoverServers {
    /// Stops every PostgreSQL server (by its `postmaster.pid`, immediate shutdown) and every Redis server (by its
    /// `*.pid` file, when that process is a `redis-server`) whose files are under `directory`.
    ///
    /// - Returns: how many servers were stopped.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    @discardableResult
    public static func stop(under directory: String) -> Int {
        guard let files = FileManager.default.enumerator(atPath: directory) else { return 0 }
        var stopped = 0
        let binaries = EmbeddedPostgres.findBinaries()
        for case let file as String in files {
            let path = directory + "/" + file
            let name = (file as NSString).lastPathComponent
            if name == "postmaster.pid", let binaries, let pid = firstLine(path), kill(pid, 0) == 0 {
                let data = (path as NSString).deletingLastPathComponent
                _ = try? EmbeddedPostgres.runPostgresTool(binaries + "/pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"], log: nil)
                stopped += 1
            } else if name.hasPrefix("redis"), name.hasSuffix(".pid"), let pid = firstLine(path), isRedis(pid) {
                kill(pid, SIGKILL)
                stopped += 1
            }
        }
        return stopped
    }

    private static func firstLine(_ path: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let line = text.split(separator: "\n").first else { return nil }
        return pid_t(line.trimmingCharacters(in: .whitespaces))
    }

    /// Whether `pid` is a running `redis-server` (a pid file can outlive its process, and the number be reused).
    private static func isRedis(_ pid: pid_t) -> Bool {
        guard pid > 0, let command = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8) else { return false }
        return command.hasPrefix("redis-server")
    }
}
