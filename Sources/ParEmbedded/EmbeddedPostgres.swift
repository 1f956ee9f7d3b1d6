import CGNU
import Foundation

/// A private PostgreSQL server under a folder, from the system's packages (`postgresql`).
///
/// The cluster is created on first use and kept across restarts. When running as root the server runs as the
/// `postgres` user, since PostgreSQL refuses to run as root. Its socket lives in a 0700 folder; with
/// `listensOnTCP` false (the embedded mode of `parstore serve`) that socket is the only way in, so no other local
/// user can reach it; the test fixtures also listen on 127.0.0.1.
public final class EmbeddedPostgres: Sendable {
    /// A `postgresql://` URL for the `postgres` database: over 127.0.0.1, or through the socket folder.
    public let url: String
    public let port: Int
    /// The 0700 folder of the server's socket.
    public let socketDirectory: String
    /// The data folder (`postmaster.pid` is in it).
    public let dataDirectory: String
    private let binDirectory: String
    private let startArguments: [String]

    /// Starts (creating if needed) a cluster in `directory/postgres`.
    ///
    /// - Parameters:
    ///   - settings: extra `-c name=value` server settings.
    ///   - standbyOf: makes a new cluster a streaming-replication standby of this server (a base backup of it), which
    ///     connects to it as `standbyName` — the name its `synchronous_standby_names` lists.
    ///   - standbyOfPort: the same, for a server on 127.0.0.1 started by another process.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public init(
        directory: String,
        port: Int? = nil,
        settings: [String: String] = [:],
        listensOnTCP: Bool = true,
        standbyOf primary: EmbeddedPostgres? = nil,
        standbyOfPort: Int? = nil,
        standbyName: String = "standby"
    ) throws {
        guard let binDirectory = Self.findBinaries() else {
            throw EmbeddedServerError("PostgreSQL server binaries not found (apt-get install postgresql)")
        }
        self.binDirectory = binDirectory
        let root = URL(fileURLWithPath: directory).standardizedFileURL.path
        let data = root + "/postgres"
        let sockets = root + "/postgres-run"
        self.dataDirectory = data
        self.socketDirectory = sockets
        try FileManager.default.createDirectory(atPath: sockets, withIntermediateDirectories: true)
        try Self.giveToPostgres(sockets)
        if Self.isRoot { try Self.giveToPostgres(root) }
        if !FileManager.default.fileExists(atPath: data + "/PG_VERSION") {
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            try Self.giveToPostgres(data)
            if let primaryPort = primary?.port ?? standbyOfPort {
                // -R writes standby.signal and a primary_conninfo; the line appended after it names the standby.
                try Self.runPostgresTool(
                    binDirectory + "/pg_basebackup",
                    ["-h", "127.0.0.1", "-p", String(primaryPort), "-U", "postgres", "-D", data, "-X", "stream", "-R", "--no-sync", "--checkpoint=fast"],
                    log: root + "/basebackup.log"
                )
                let conninfo = "host=127.0.0.1 port=\(primaryPort) user=postgres application_name=\(standbyName)"
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: data + "/postgresql.auto.conf"))
                try handle.seekToEnd()
                try handle.write(contentsOf: Data("primary_conninfo = '\(conninfo)'\n".utf8))
                try handle.close()
            } else {
                try Self.runPostgresTool(
                    binDirectory + "/initdb",
                    ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"],
                    log: root + "/initdb.log"
                )
            }
        }
        // A server left running by a process that died is stopped first.
        _ = try? Self.runPostgresTool(binDirectory + "/pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"], log: root + "/pg_ctl.log")
        let chosenPort = try port ?? freeLoopbackPort()
        var options = "-p \(chosenPort) -k \(sockets) -c listen_addresses=\(listensOnTCP ? "127.0.0.1" : "''") -c max_connections=300"
        for (name, value) in settings.sorted(by: { $0.key < $1.key }) { options += " -c \(name)=\(value)" }
        startArguments = ["-D", data, "-l", root + "/postgres.log", "-w", "-t", "60", "-o", options, "start"]
        try Self.runPostgresTool(binDirectory + "/pg_ctl", startArguments, log: root + "/pg_ctl.log")
        self.port = chosenPort
        self.url =
            listensOnTCP
            ? "postgresql://postgres@127.0.0.1:\(chosenPort)/postgres"
            : "postgresql://postgres@/postgres?host=\(sockets)&port=\(chosenPort)"
    }

    /// Stops the server (fast shutdown: sessions are ended, committed data is kept).
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func stop() throws {
        try Self.runPostgresTool(binDirectory + "/pg_ctl", ["-D", dataDirectory, "-m", "fast", "-w", "stop"], log: nil)
    }

    /// Starts the server again after ``stop()``, on the same port.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func restart() throws {
        try Self.runPostgresTool(binDirectory + "/pg_ctl", startArguments, log: nil)
    }

    /// Promotes a standby to primary and waits until it accepts writes.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func promote() throws {
        try Self.runPostgresTool(binDirectory + "/pg_ctl", ["-D", dataDirectory, "-w", "-t", "60", "promote"], log: nil)
    }

    /// The server's processes: the postmaster (from `postmaster.pid`) and its children. Empty when it is not running.
    public var processIDs: [Int32] {
        guard let text = try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8),
            let line = text.split(separator: "\n").first, let postmaster = pid_t(line), kill(postmaster, 0) == 0
        else { return [] }
        let children = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            // The fields after the command name: state, then the parent's pid.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == postmaster ? pid : nil
        }
        return [postmaster] + children
    }

    /// Sends `signal` to every process of the server: `SIGSTOP` freezes it (connections stay open, nothing is
    /// answered), `SIGCONT` thaws it, `SIGKILL` is the loss of its machine.
    public func signalAll(_ signal: Int32) {
        for pid in processIDs { kill(pid, signal) }
    }

    /// The newest `/usr/lib/postgresql/<version>/bin` that has `pg_ctl`.
    public static func findBinaries() -> String? {
        let base = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        return versions.compactMap { Int($0) }.sorted(by: >).map { "\(base)/\($0)/bin" }
            .first { FileManager.default.isExecutableFile(atPath: $0 + "/pg_ctl") }
    }

    static var isRoot: Bool { getuid() == 0 }

    /// Makes `paths` the server's alone: mode 0700, owned by `postgres` when running as root.
    static func giveToPostgres(_ paths: String...) throws {
        for path in paths {
            if isRoot { try runProcess("/bin/chown", ["postgres:postgres", path], log: nil) }
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: path)
        }
    }

    @discardableResult
    static func runPostgresTool(_ tool: String, _ arguments: [String], log: String?) throws -> Int32 {
        if isRoot {
            return try runProcess("/usr/sbin/runuser", ["-u", "postgres", "--", tool] + arguments, log: log)
        }
        return try runProcess(tool, arguments, log: log)
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
public func freeLoopbackPort() throws -> Int {
    guard let port = bindLoopback(port: 0) else { throw EmbeddedServerError("could not find a free port") }
    return port
}

/// Whether `port` on 127.0.0.1 can be bound right now.
func loopbackPortIsFree(_ port: Int) -> Bool {
    bindLoopback(port: port) != nil
}

/// Binds a socket to 127.0.0.1:`port` (0: any), closes it, and returns the port it had; `nil` when it could not.
private func bindLoopback(port: Int) -> Int? {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw -> Int32 in
            guard bind(descriptor, raw, length) == 0 else { return -1 }
            return getsockname(descriptor, raw, &length)
        }
    }
    guard bound == 0 else { return nil }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`.
public func waitForLoopbackPort(_ port: Int, timeout: Double) throws {
    let deadline = ContinuousClock.now + .seconds(timeout)
    while ContinuousClock.now < deadline {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        close(descriptor)
        if connected { return }
        usleep(50_000)
    }
    throw EmbeddedServerError("nothing listens on 127.0.0.1:\(port) after \(Int(timeout)) s")
}

/// Starts a program with its output appended to `log` (or discarded) and standard input from /dev/null.
///
/// `posix_spawn` rather than Foundation's `Process`, whose exit detection hangs when a grandchild (a daemonized
/// postmaster) inherits its descriptors.
func spawn(_ executable: String, _ arguments: [String], log: String?) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, log ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    // Nothing else leaks into a long-lived server: an inherited pipe would keep its reader waiting forever.
    cgnu_spawn_file_actions_addclosefrom(&actions, 3)
    // The node blocks and handles SIGTERM and SIGINT itself; children must get the defaults back.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var signals = sigset_t()
    sigemptyset(&signals)
    posix_spawnattr_setsigmask(&attributes, &signals)
    for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGQUIT] { sigaddset(&signals, signal) }
    posix_spawnattr_setsigdefault(&attributes, &signals)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
    guard result == 0 else { throw EmbeddedServerError("could not start \(executable): error \(result)") }
    return pid
}

/// Runs a program to completion with its output appended to `log`.
///
/// - Throws: when it exits non-zero, with the end of its output.
@discardableResult
func runProcess(_ executable: String, _ arguments: [String], log: String?) throws -> Int32 {
    let logPath = log ?? NSTemporaryDirectory() + "/parstore-\(UUID().uuidString).log"
    defer { if log == nil { try? FileManager.default.removeItem(atPath: logPath) } }
    let pid = try spawn(executable, arguments, log: logPath)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let exited = status & 0x7f == 0
    let code = exited ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    guard code == 0 else {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        throw EmbeddedServerError("\((executable as NSString).lastPathComponent) failed (\(code)): \(text.suffix(800))")
    }
    return code
}
