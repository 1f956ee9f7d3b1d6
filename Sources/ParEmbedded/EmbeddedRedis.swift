import CGNU
import Foundation

/// A private Redis server (`redis-server` from the system's packages) on 127.0.0.1, without persistence.
///
/// With a `password` (the embedded mode of `parstore serve`) every client must authenticate; the password is read
/// from a 0600 configuration file, never from the command line, which every local user can read in `ps`.
public final class EmbeddedRedis: Sendable {
    /// A `redis://` URL, with the password when there is one.
    public let url: String
    public let port: Int
    /// The server's process.
    public let processID: Int32

    /// Starts `redis-server` with its files in `directory/redis`, and waits until it accepts connections.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public init(directory: String, port: Int? = nil, password: String? = nil) throws {
        let root = URL(fileURLWithPath: directory).standardizedFileURL.path + "/redis"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: root)
        guard let server = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first(where: FileManager.default.isExecutableFile(atPath:))
        else { throw EmbeddedServerError("redis-server not found (apt-get install redis-server)") }
        let chosenPort = try port ?? freeLoopbackPort()
        let configuration = root + "/redis.conf"
        let secret = password.map { "requirepass \($0)\n" } ?? ""
        guard FileManager.default.createFile(atPath: configuration, contents: Data(secret.utf8), attributes: [.posixPermissions: 0o600])
        else { throw EmbeddedServerError("cannot write \(configuration)") }
        let arguments = [
            configuration, "--port", String(chosenPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", root, "--logfile", root + "/redis.log", "--pidfile", root + "/redis.pid", "--daemonize", "no",
        ]
        self.port = chosenPort
        self.url = "redis://" + (password.map { ":\($0)@" } ?? "") + "127.0.0.1:\(chosenPort)"
        self.processID = try spawn(server, arguments, log: nil)
        try waitForLoopbackPort(chosenPort, timeout: 10)
    }

    /// Stops the server and waits for it to exit.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func stop() {
        guard kill(processID, SIGTERM) == 0 else { return }
        var status: Int32 = 0
        _ = waitpid(processID, &status, 0)
    }
}
