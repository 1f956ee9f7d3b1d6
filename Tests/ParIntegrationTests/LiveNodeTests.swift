import Foundation
import NIOCore
import ParCore
import ParEmbedded
import ParPostgres
import ParTesting
import ParWorker
import Testing

/// A plain TCP client, to send exactly the bytes a slow or hostile client would.
final class RawConnection {
    private let socket: Int32

    @available(*, noasync)
    init(port: Int) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(socket)
            throw Command.CommandError(description: "cannot connect to 127.0.0.1:\(port)")
        }
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(socket) }

    /// Sends `bytes`; `false` when the server closed the connection.
    @available(*, noasync)
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// Reads until the server closes the connection (or 20 s pass), and returns what came.
    @available(*, noasync)
    func readToEnd() -> String {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            received += buffer[..<count]
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// One request on a fresh connection (`Connection: close`), and the whole answer.
    static func exchange(port: Int, _ request: String) async throws -> String {
        try await runOnOwnThread(name: "raw-http") {
            let connection = try RawConnection(port: port)
            connection.send(Array(request.utf8))
            return connection.readToEnd()
        }
    }
}

/// A real `parstore serve` process, driven over real sockets: what a proxy, a slow client or an operator sees.
@Suite struct LiveNodeTests {
    /// A chunked `POST /par` body above the limit is refused with 413, as one with a `Content-Length` is.
    @Test func rfc9126_2_3_aChunkedBodyAboveTheLimitIs413() async throws {
        let servers = try await TestServers.shared.shared()
        let port = try freeLoopbackPort()
        let node = try Command.serve(servers, port: port, ["--max-body", "4096"])
        defer { node.terminate() }
        let head =
            "POST /par HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        let chunk = "state=" + String(repeating: "a", count: 994)
        let chunks = (0..<8).map { _ in "3e8\r\n" + chunk + "\r\n" }.joined()
        let answer = try await RawConnection.exchange(port: port, head + chunks + "0\r\n\r\n")
        #expect(answer.hasPrefix("HTTP/1.1 413"), "\(answer.prefix(200))")
        #expect(answer.contains(#""error":"invalid_request""#))
        // A malformed chunked body is the client's fault too.
        let malformed = try await RawConnection.exchange(port: port, head + "zz\r\n" + chunk + "\r\n0\r\n\r\n")
        #expect(malformed.hasPrefix("HTTP/1.1 400"), "\(malformed.prefix(200))")
    }

    /// Slowloris: a client sending its head a byte at a time is disconnected at the header deadline, while
    /// other clients are served; `/metrics` and `/healthz` answer over HTTP and count it.
    @Test func aClientTricklingItsHeadIsDisconnectedWhileOthersAreServed() async throws {
        let servers = try await TestServers.shared.shared()
        let port = try freeLoopbackPort()
        let node = try Command.serve(servers, port: port, ["--header-timeout", "1"])
        defer { node.terminate() }
        let head = Array(("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + String(repeating: "s", count: 40) + "\r\n\r\n").utf8)
        async let trickled: Int =
            (try? runOnOwnThread(name: "slowloris") {
                let connection = try RawConnection(port: port)
                for (index, byte) in head.enumerated() {
                    guard connection.send([byte]) else { return index }
                    Thread.sleep(forTimeInterval: 0.2)
                }
                return head.count
            }) ?? -1
        // Meanwhile another client is served at once.
        let healthy = try await RawConnection.exchange(port: port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        #expect(healthy.hasPrefix("HTTP/1.1 200"))
        #expect(healthy.contains(#"{"status":"ok"}"#))
        let sent = await trickled
        #expect(sent < head.count, "the node closed the connection before the trickled head was complete")
        let metrics = try await RawConnection.exchange(port: port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        #expect(metrics.hasPrefix("HTTP/1.1 200"))
        #expect(metrics.contains("text/plain; version=0.0.4"))
        #expect(metrics.contains(#"parstore_connections_closed_total{reason="header"} 1"#))
    }

    /// SIGTERM while requests are in flight: each of them gets its real answer, then the node exits. PostgreSQL
    /// is made to hold the pushes (a lock on the event log) so that they are surely in flight at the signal.
    @Test func sigtermAnswersEveryRequestInFlight() async throws {
        // A PostgreSQL of its own: the lock below would stall every other test's writes.
        let postgres = try await TestServers.privatePostgres(named: "drain")
        let servers = TestServers.Endpoints(databaseURL: postgres.url, redisURL: try await TestServers.shared.shared().redisURL)
        let database = TestDatabase(url: servers.databaseURL)
        let clientID = uniqueClientID("drain")
        let secret = try await database.register(clientID)
        let port = try freeLoopbackPort()
        let node = try Command.serve(servers, port: port, ["--node-id", "drain-test"])
        let body = String(buffer: formBody(pushParameters(clientID)))
        let request =
            "POST /par HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nAuthorization: "
            + basicAuthorization(clientID, secret) + "\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
        // Warm the node's connections first, so that the lock is the only thing the pushes wait for.
        #expect(try await RawConnection.exchange(port: port, request).hasPrefix("HTTP/1.1 201"))

        let url = servers.databaseURL
        let locked = AsyncStream<Void>.makeStream()
        let release = DispatchSemaphore(value: 0)
        let holder = Task {
            try await runOnOwnThread(name: "lock-holder") {
                let connection = try PGConnection(url)
                try connection.executeScript("BEGIN; LOCK TABLE par_events IN SHARE MODE")
                locked.continuation.yield()
                release.wait()
                try connection.execute("COMMIT")
            }
        }
        for await _ in locked.stream { break }
        let answers = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<8 { group.addTask { try await RawConnection.exchange(port: port, request) } }
            // Time for the node to read all eight (1.5 s: on CI's loaded cores 0.5 s was once too short, and the
            // pushes not yet read when the signal came were closed as idle connections), then SIGTERM while they
            // wait for the lock, which goes half a second later.
            try await Task.sleep(for: .milliseconds(1500))
            node.terminate()
            try await Task.sleep(for: .milliseconds(500))
            release.signal()
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        try await holder.value
        node.waitUntilExit()
        #expect(node.terminationStatus == 0, "graceful exit")
        for answer in answers {
            #expect(answer.hasPrefix("HTTP/1.1 201"), "an in-flight push got its real answer: \(answer.prefix(120))")
        }
        let stored = try await database.count("SELECT count(*) FROM par_events WHERE client_id = $1 AND kind = 'pushed'", [clientID])
        #expect(stored == 9)
        try await runOnOwnThread { try postgres.stop() }
    }

    /// Secrets from files (kept out of `ps`), and no secret, parameter, request_uri, ticket or cookie value in
    /// the node's log, even at the most verbose level, through a whole flow with refusals.
    @Test func secretsComeFromFilesAndNeverReachTheLog() async throws {
        let servers = try await TestServers.shared.shared()
        let database = TestDatabase(url: servers.databaseURL)
        let clientID = uniqueClientID("sentinel")
        let secret = try await database.register(clientID)
        let folder = (ProcessInfo.processInfo.environment["PARSTORE_TEST_DIR"] ?? NSTemporaryDirectory()) + "/sentinel-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let apiKey = "SENTINEL-API-KEY-" + Secret.random(byteCount: 12)
        try Data((apiKey + "\n").utf8).write(to: URL(fileURLWithPath: folder + "/api-key"))
        try Data(servers.databaseURL.utf8).write(to: URL(fileURLWithPath: folder + "/database-url"))
        let port = try freeLoopbackPort()
        let log = folder + "/node.log"
        let node = try Command.launch(
            try Command.parstore,
            ["serve", "--redis-url", servers.redisURL, "--port", String(port), "--log-level", "trace"],
            environment: [
                "PARSTORE_API_KEY_FILE": folder + "/api-key", "PARSTORE_DATABASE_URL_FILE": folder + "/database-url",
                "PARSTORE_DATA_KEY_FILE": TestNodes.dataKeyFile,
            ],
            output: log
        )
        defer { node.terminate() }
        try waitForLoopbackPort(port, timeout: 60)

        let state = "SENTINEL-STATE-" + Secret.random(byteCount: 8)
        let hint = "sentinel-login-hint@example.org"
        let body = String(buffer: formBody(pushParameters(clientID).filter { $0.0 != "state" } + [("state", state), ("login_hint", hint)]))
        func push(_ password: String) async throws -> String {
            try await RawConnection.exchange(
                port: port,
                "POST /par HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nAuthorization: "
                    + basicAuthorization(clientID, password) + "\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
            )
        }
        #expect(try await push("SENTINEL-WRONG-SECRET").hasPrefix("HTTP/1.1 401"))
        let pushed = try await push(secret)
        #expect(pushed.hasPrefix("HTTP/1.1 201"))
        let requestURI = try #require(pushed.split(separator: "\"").first { $0.hasPrefix("urn:ietf:params:oauth:request_uri:") }.map(String.init))
        let query = "client_id=\(clientID)&request_uri=" + (requestURI.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        let loaded = try await RawConnection.exchange(port: port, "GET /authorize?\(query) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        #expect(loaded.hasPrefix("HTTP/1.1 303"))
        let ticket = try #require(loaded.split(separator: "ticket=").last?.prefix { !$0.isWhitespace }).description
        let cookie = try #require(loaded.split(separator: "parstore_ua=").last?.prefix { $0 != ";" }).description
        // Another browser (refused and recorded), a forged cookie, the ticket read and redeemed twice.
        _ = try await RawConnection.exchange(port: port, "GET /authorize?\(query) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        _ = try await RawConnection.exchange(
            port: port,
            "GET /authorize?\(query) HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: parstore_ua=SENTINELCOOKIE\(String(repeating: "A", count: 29))\r\nConnection: close\r\n\r\n"
        )
        for _ in 0..<2 {
            let json = #"{"ticket":"\#(ticket)"}"#
            let redeemed = try await RawConnection.exchange(
                port: port,
                "POST /v1/redeem HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(apiKey)\r\nContent-Type: application/json\r\n"
                    + "Content-Length: \(json.utf8.count)\r\nConnection: close\r\n\r\n" + json
            )
            #expect(redeemed.hasPrefix("HTTP/1.1 200") || redeemed.contains("already_used"))
        }
        node.terminate()
        node.waitUntilExit()
        let text = try String(contentsOfFile: log, encoding: .utf8)
        #expect(text.contains("parstore node listening"), "the log was captured")
        for sentinel in [
            apiKey, secret, "SENTINEL-WRONG-SECRET", state, hint, requestURI, String(requestURI.suffix(43)), ticket, cookie, "SENTINELCOOKIE",
        ] {
            #expect(!text.contains(sentinel), "the log holds a secret or request value")
        }
        #expect(!text.contains(servers.databaseURL), "the database URL (a secret when it has a password) is not logged")
    }
}
