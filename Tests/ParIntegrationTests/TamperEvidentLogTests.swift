import Dispatch
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ParCore
import ParEmbedded
import ParPostgres
import ParServer
import ParTesting
import ParWorker
import Synchronization
import Testing

/// The tamper-evident log (issue 15) on a private PostgreSQL each: integration, checkpoints, export, proofs, and
/// `parstore audit --verify-log` against tampering, restores and late commits.
@Suite struct TamperEvidentLogTests {
    @Test("the log of a run verifies; a changed, deleted, inserted or swapped event is named by its leaf")
    func eachTamperingIsNamed() async throws {
        let log = try await LogFixture.make("tamper")
        let uris = try await log.run { client in
            var uris: [String] = []
            for _ in 0..<12 { uris.append(try await client.pushRequest(log.clientID, secret: log.secret)) }
            for uri in uris.prefix(8) { #expect(try await client.redeem(log.clientID, uri).status == .ok) }
            #expect(try await client.redeem(log.clientID, uris[0]).status == .badRequest)
            return uris
        }
        #expect(try await eventually { try await log.database.count("SELECT count(*) FROM par_events WHERE kind = 'refused'") == 1 })
        try await log.integrateAll()
        let clean = try await log.audit()
        #expect(clean.status == 0, "\(clean.output)")
        #expect(clean.output.contains("LOG OK") && clean.output.contains("21 leaves"), "\(clean.output)")
        let leaves = try await log.exported()
        #expect(leaves.map(\.index) == Array(0..<21))

        func index(of uri: String, kind: String) throws -> Int {
            let id = try #require(RequestReference(requestURI: uri)).requestIDHex
            return try #require(leaves.first { $0.requestID == id && $0.kind == kind }).index
        }
        func row(_ uri: String, slot: Int) throws -> String {
            let reference = try #require(RequestReference(requestURI: uri))
            return "day = '\(reference.day)' AND request_id = decode('\(reference.requestIDHex)', 'hex') AND slot = \(slot)"
        }

        // An UPDATE of one event's client id.
        try await log.database.query("UPDATE par_events SET client_id = 'mallory' WHERE \(try row(uris[3], slot: 0))")
        try await log.expectTampered(naming: try index(of: uris[3], kind: "pushed"))
        try await log.database.query("UPDATE par_events SET client_id = $1 WHERE \(try row(uris[3], slot: 0))", [log.clientID])
        #expect(try await log.audit().status == 0)

        // A DELETE of a consumed event (put back afterwards, exactly as it was).
        try await log.database.query("CREATE TABLE deleted_event AS SELECT * FROM par_events WHERE \(try row(uris[2], slot: 2))")
        try await log.database.query("DELETE FROM par_events WHERE \(try row(uris[2], slot: 2))")
        try await log.expectTampered(naming: try index(of: uris[2], kind: "consumed"))
        try await log.database.query("INSERT INTO par_events SELECT * FROM deleted_event")
        #expect(try await log.audit().status == 0)

        // An INSERT of a forged consumed event into the past: the transaction of a real one, for another request.
        try await log.database.query(
            """
            INSERT INTO par_events (day, request_id, slot, kind, client_id, at, deadline, node_id, xid)
            SELECT day, sha256(request_id), slot, kind, client_id, at, deadline, node_id, xid FROM par_events WHERE \(try row(uris[1], slot: 2))
            """
        )
        try await log.expectTampered(naming: try index(of: uris[1], kind: "consumed") + 1)
        let forged = try #require(RequestReference(requestURI: uris[1]))
        try await log.database.query(
            "DELETE FROM par_events WHERE day = $1::date AND request_id = sha256(decode($2, 'hex'))",
            [forged.day.description, forged.requestIDHex]
        )
        #expect(try await log.audit().status == 0)

        // Two events swapped: each takes the other's place in the log's order.
        let (a, b) = (try row(uris[4], slot: 0), try row(uris[6], slot: 0))
        let swap = """
            UPDATE par_events e SET xid = o.xid, seq = o.seq
            FROM (SELECT (SELECT xid FROM par_events WHERE \(b)) AS xid, (SELECT seq FROM par_events WHERE \(b)) AS seq, 1 AS which
                  UNION ALL
                  SELECT (SELECT xid FROM par_events WHERE \(a)), (SELECT seq FROM par_events WHERE \(a)), 2) o
            WHERE (o.which = 1 AND e.\(a.replacingOccurrences(of: " AND ", with: " AND e."))) OR (o.which = 2 AND e.\(b.replacingOccurrences(of: " AND ", with: " AND e.")))
            """
        try await log.database.query(swap)
        try await log.expectTampered(naming: try index(of: uris[4], kind: "pushed"))
        try await log.database.query(swap)
        let restored = try await log.audit()
        #expect(restored.status == 0, "\(restored.output)")
    }

    @Test("a checkpoint the auditor kept exposes a restore from an older backup, and the history written after it")
    func aKeptCheckpointExposesARestore() async throws {
        let log = try await LogFixture.make("restore")
        try await log.pushRequests(5)
        try await log.integrateAll()
        let older = try await log.keepCheckpoint("older")
        let backupSeq = try await log.database.count("SELECT max(seq) FROM par_events")
        for table in ["parstore_log_state", "parstore_log_tiles", "parstore_log_batches", "parstore_log_checkpoints"] {
            try await log.database.query("CREATE TABLE backup_\(table) AS SELECT * FROM \(table)")
        }
        try await log.pushRequests(5)
        try await log.integrateAll()
        let newer = try await log.keepCheckpoint("newer")
        #expect(try await log.audit(checkpoints: [older, newer]).status == 0)

        // The database comes back from the backup: the newer events and their part of the tree are gone.
        try await log.database.query("DELETE FROM par_events WHERE seq > \(backupSeq)")
        for table in ["parstore_log_state", "parstore_log_tiles", "parstore_log_batches", "parstore_log_checkpoints"] {
            try await log.database.query("TRUNCATE \(table)")
            try await log.database.query("INSERT INTO \(table) SELECT * FROM backup_\(table)")
        }
        // What the database holds is consistent with itself, and with the older checkpoint: only the newer one tells.
        #expect(try await log.audit(checkpoints: [older]).status == 0)
        let restored = try await log.audit(checkpoints: [newer])
        #expect(restored.status == 1)
        #expect(restored.output.contains("the log has only 5 leaves, not 10"), "\(restored.output)")

        // New history written over the lost part: a tree of more leaves, but not the one the auditor saw.
        try await log.pushRequests(7)
        try await log.integrateAll()
        #expect(try await log.audit().status == 0)
        let rewritten = try await log.audit(checkpoints: [newer])
        #expect(rewritten.status == 1)
        #expect(rewritten.output.contains("another root at size 10"), "\(rewritten.output)")
    }

    @Test("an event whose transaction commits late is exported after the later ones, none skipped nor repeated")
    func aLateCommitComesLater() async throws {
        let log = try await LogFixture.make("late")
        let follower = try Command.launch(
            try Command.parstore,
            ["export", "--database-url", log.url, "--from", "0", "--follow", "--poll-interval", "0.2"],
            output: log.folder + "/follower.jsonl"
        )
        defer { follower.terminate() }

        let late = try await HeldTransaction.begin(log.url)
        let lateRequest = RequestReference.mint(secondsSince1970: Date().timeIntervalSince1970)
        try await late.execute(
            """
            INSERT INTO par_events (day, request_id, slot, kind, client_id, deadline, node_id, payload)
            VALUES ($1::date, decode($2, 'hex'), 0, 'pushed', $3, now() + interval '60 seconds', 'late-node', '{}')
            """,
            [lateRequest.day.description, lateRequest.requestIDHex, log.clientID]
        )
        try await log.pushRequests(4)
        try await log.integrateAll()
        #expect(try await eventually { try log.followed().count == 4 }, "the later events are integrated and followed while it is open")
        #expect(try !log.followed().contains { $0.requestID == lateRequest.requestIDHex })

        try await late.execute("COMMIT")
        try await log.integrateAll()
        #expect(try await eventually { try log.followed().count == 5 })
        let followed = try log.followed()
        #expect(followed.map(\.index) == Array(0..<5))
        #expect(followed.last?.requestID == lateRequest.requestIDHex)
        #expect(Set(followed.map(\.requestID)).count == 5)

        // A follower that starts again from an index goes on from there.
        let resumed = try await Command.parstore(["export", "--database-url", log.url, "--from", "3"])
        #expect(try LogFixture.lines(resumed.output).map(\.index) == [3, 4])
        #expect(try await log.audit().status == 0)
    }

    @Test("two integrators, one killed mid-integration: the other takes over, indices stay contiguous and unique")
    func anIntegratorKilledMidway() async throws {
        let log = try await LogFixture.make("takeover", nodeIntegrates: false)
        try await log.pushRequests(30)
        // The second takes the backlog in chunks of at most 7 events (their xid ranges halving as they fill).
        let (first, second) = (log.integrator(), log.integrator(batchLimit: 7))
        let paused = DispatchSemaphore(value: 0)
        let resume = DispatchSemaphore(value: 0)
        let killed = Task {
            try await runOnOwnThread(name: "log-first") {
                try first.runBlocking(pause: {
                    paused.signal()
                    resume.wait()
                })
            }
        }
        try await runOnOwnThread(name: "wait") { paused.wait() }
        // The first holds the log: the second waits its turn.
        #expect(try await second.run().busy)
        let pid = try #require(
            try await log.database.query(
                """
                SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                """
            ).first?.first ?? nil
        )
        // Terminated, and gone (so its lock is released) before the second tries again.
        #expect(try await log.database.query("SELECT pg_terminate_backend(\(pid), 10000)").first?.first == "t")
        let takeover = try await second.run()
        resume.signal()
        await #expect(throws: (any Error).self) { try await killed.value }
        #expect(!takeover.busy && takeover.size == 30 && takeover.signed?.size == 30)
        #expect(try await log.database.count("SELECT count(*) FROM parstore_log_batches") >= 5, "in chunks")

        // The killed one comes back and goes on where the tree is.
        try await log.pushRequests(10)
        let back = try await first.run()
        #expect(back.integrated == 10 && back.size == 40)
        let leaves = try await log.exported()
        #expect(leaves.map(\.index) == Array(0..<40))
        #expect(Set(leaves.map(\.requestID)).count == 40)
        #expect(try await log.audit().status == 0)
    }

    @Test("no checkpoint is signed for a tree that does not extend the last one: a rewritten tile stops the signing")
    func anInconsistentTreeIsNotSigned() async throws {
        let log = try await LogFixture.make("consistency", nodeIntegrates: false)
        let none = try await log.run { client in try await client.execute(uri: "/log/checkpoint", method: .get) }
        #expect(none.status == .notFound, "no checkpoint before the first integration")
        try await log.pushRequests(6)
        let integrator = log.integrator()
        #expect(try await integrator.run().signed?.size == 6)
        // The stored tree is rewritten under the signed checkpoint: leaf 2's hash in the level-0 tile.
        try await log.database.query(
            "UPDATE parstore_log_tiles SET hashes = overlay(hashes PLACING '\\x00'::bytea FROM 65 FOR 1) WHERE level = 0 AND index = 0"
        )
        try await log.pushRequests(3)
        await #expect(throws: LogError.inconsistentWithCheckpoint(size: 6, newSize: 9)) { try await integrator.run() }
        #expect(try await log.database.count("SELECT max(size) FROM parstore_log_checkpoints") == 6)
        // The audit names the leaf whose stored hash no longer matches its event.
        let audit = try await log.audit()
        #expect(audit.status == 1 && audit.output.contains("leaf 2 differs"), "\(audit.output)")
    }

    @Test("a frozen server: the integrator gives up at its deadline and /log/checkpoint answers 503; both recover after")
    func aFrozenServerIsLeftAtTheDeadline() async throws {
        var fixture = try await LogFixture.make("frozen", nodeIntegrates: false, ownServer: true)
        fixture.configuration.stores.databaseTimeout = .seconds(1)
        let log = fixture
        let postgres = try #require(log.server)
        try await log.pushRequests(4)
        let integrator = LogIntegrator(
            configuration: .init(conninfo: log.url, signer: try LogKeyFile.read(log.keyFile), timeout: .seconds(1))
        )
        #expect(try await integrator.run().size == 4, "its connection is open before the server freezes")
        try await log.run { client in
            // The node's general connection is open (it loaded the client registry), and nothing is cached yet.
            postgres.signalAll(SIGSTOP)
            defer { postgres.signalAll(SIGCONT) }
            let served = try await client.execute(uri: "/log/checkpoint", method: .get)
            #expect(served.status == .serviceUnavailable && served.headers[.retryAfter] != nil)
            await #expect(throws: (any Error).self) { try await integrator.run() }
            postgres.signalAll(SIGCONT)
            #expect(try await eventually { try await client.execute(uri: "/log/checkpoint", method: .get).status == .ok })
        }
        try await log.pushRequests(2)
        #expect(try await eventually { try await integrator.run().signed?.size == 6 })
        #expect(try await log.audit().status == 0)
    }

    @Test("a node refuses to start with a key file it cannot read or that holds no note key")
    func aBadKeyFileIsRefused() async throws {
        let folder = NSTemporaryDirectory() + "parstore-log-key-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "PRIVATE+KEY+x+00000000+AAAA\n".write(toFile: folder + "/bad.key", atomically: true, encoding: .utf8)
        for file in [folder + "/missing.key", folder + "/bad.key"] {
            var configuration = TestNodes.configuration(databaseURL: "postgresql://127.0.0.1:1/none", redisURL: nil)
            configuration.log.keyFile = file
            #expect(throws: ConfigurationError.self) { _ = try ParStoreNode(configuration: configuration, logger: Logger(label: "test")) }
        }
        // An existing key file is never replaced; --keep-existing keeps it and prints its verifier key.
        let signer = try #require(NoteSigner(generatingFor: "parstore.test/keys"))
        try LogKeyFile.create(folder + "/good.key", signer: signer)
        #expect(throws: ConfigurationError.self) { try LogKeyFile.create(folder + "/good.key", signer: signer) }
        #expect(try LogKeyFile.read(folder + "/good.key").verifier.encoded == signer.verifier.encoded)
        let generate = ["log", "generate-key", "--name", "parstore.test/other", "--output", folder + "/good.key"]
        #expect(try await Command.parstore(generate).status != 0)
        let kept = try await Command.parstore(generate + ["--keep-existing"])
        #expect(kept.status == 0 && kept.output.trimmingCharacters(in: .whitespacesAndNewlines) == signer.verifier.encoded, "\(kept.output)")
        let attributes = try FileManager.default.attributesOfItem(atPath: folder + "/good.key")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test("an independent verifier (Python) checks the served checkpoint's signature, the exported leaves and a proof")
    func anIndependentVerifierAgrees() async throws {
        let log = try await LogFixture.make("python")
        let uris = try await log.run { client in
            var uris: [String] = []
            for _ in 0..<9 { uris.append(try await client.pushRequest(log.clientID, secret: log.secret)) }
            #expect(try await client.redeem(log.clientID, uris[4]).status == .ok)
            return uris
        }
        try await log.integrateAll()
        let checkpoint = try await log.keepCheckpoint("served")
        let key = try await Command.parstore(["log", "public-key", "--log-key-file", log.keyFile])
        #expect(key.status == 0)
        let verifierKey = key.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let export = try await Command.parstore(["export", "--database-url", log.url])
        try export.output.write(toFile: log.folder + "/export.jsonl", atomically: true, encoding: .utf8)
        let proof = try await Command.parstore(["log", "prove", "--database-url", log.url, "--request-uri", uris[4]])
        #expect(proof.status == 0, "\(proof.output)")
        try proof.output.write(toFile: log.folder + "/proof.json", atomically: true, encoding: .utf8)
        let proved = try #require(try JSONSerialization.jsonObject(with: Data(proof.output.utf8)) as? [String: Any])
        #expect((proved["entries"] as? [Any])?.count == 2, "the pushed and the consumed event")
        let requestID = try #require(RequestReference(requestURI: uris[4])).requestIDHex
        let byID = try await Command.parstore(["log", "prove", "--database-url", log.url, "--request-id", requestID])
        #expect(byID.status == 0 && byID.output == proof.output, "the same proof by the request's id")

        let python = ["python3", LogFixture.verifier, "--key", verifierKey, "--checkpoint", checkpoint]
        let agreed = try await Command.run(
            "/usr/bin/env",
            python + ["--export", log.folder + "/export.jsonl", "--proof", log.folder + "/proof.json"]
        )
        #expect(agreed.status == 0, "\(agreed.output)")
        #expect(agreed.output.contains("OK: checkpoint of 10 leaves"), "\(agreed.output)")

        // The same verifier refuses a leaf changed after export, and a checkpoint signed by another key.
        var lines = export.output.split(separator: "\n").map(String.init)
        var changed = try #require(try JSONSerialization.jsonObject(with: Data(lines[3].utf8)) as? [String: Any])
        let leafText = try #require(changed["leaf"] as? String)
        var leaf = try #require(Data(base64Encoded: leafText))
        leaf[leaf.count - 1] ^= 1
        changed["leaf"] = leaf.base64EncodedString()
        lines[3] = String(decoding: try JSONSerialization.data(withJSONObject: changed), as: UTF8.self)
        try (lines.joined(separator: "\n") + "\n").write(toFile: log.folder + "/changed.jsonl", atomically: true, encoding: .utf8)
        let refused = try await Command.run("/usr/bin/env", python + ["--export", log.folder + "/changed.jsonl"])
        #expect(refused.status == 1 && refused.output.contains("do not give the checkpoint's root"), "\(refused.output)")
        let verifier = try #require(NoteVerifier(encoded: verifierKey))
        let stranger = try #require(NoteSigner(generatingFor: verifier.name))
        let foreign = try await Command.run(
            "/usr/bin/env",
            ["python3", LogFixture.verifier, "--key", stranger.verifier.encoded, "--checkpoint", checkpoint]
        )
        #expect(foreign.status == 1, "\(foreign.output)")
    }
}

/// A database of its own (on the shared server, or on a server of its own), a registered client, a node whose log is
/// keyed, and the `parstore` commands over them.
struct LogFixture {
    /// The database's URL.
    let url: String
    /// The server of its own, when asked for.
    let server: EmbeddedPostgres?
    let database: TestDatabase
    let clientID: String
    let secret: String
    /// A node's configuration: each ``run(_:)`` starts a node of its own (a node's workers end with its run).
    var configuration: NodeConfiguration
    let keyFile: String
    let folder: String

    static let verifier = TestServers.packageRoot + "/Tests/verifier/verify_log.py"

    /// - Parameters:
    ///   - nodeIntegrates: whether the node has the key (and so integrates every second while it runs).
    ///   - ownServer: a server of its own (to freeze it) rather than a database of its own on the shared server.
    static func make(_ name: String, nodeIntegrates: Bool = true, ownServer: Bool = false) async throws -> LogFixture {
        let server = ownServer ? try await TestServers.privatePostgres(named: "log-" + name) : nil
        let url = if let server { server.url } else { try await TestServers.shared.privateDatabase(named: "log-" + name) }
        let database = TestDatabase(url: url)
        let clientID = uniqueClientID(name)
        let secret = try await database.register(clientID)
        let folder = NSTemporaryDirectory() + "parstore-log-\(name)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let keyFile = folder + "/log.key"
        try LogKeyFile.create(keyFile, signer: try #require(NoteSigner(generatingFor: "parstore.test/\(name)")))
        var configuration = TestNodes.configuration(databaseURL: url, redisURL: nil, name: name)
        configuration.log.keyFile = nodeIntegrates ? keyFile : nil
        return LogFixture(
            url: url,
            server: server,
            database: database,
            clientID: clientID,
            secret: secret,
            configuration: configuration,
            keyFile: keyFile,
            folder: folder
        )
    }

    /// Drives the node over HTTP.
    func run<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await TestNodes.make(configuration).application().test(.router) { client in try await body(client) }
    }

    func pushRequests(_ count: Int) async throws {
        let (clientID, secret) = (self.clientID, self.secret)
        try await run { client in
            for _ in 0..<count { _ = try await client.pushRequest(clientID, secret: secret) }
        }
    }

    /// An integrator as another node would have one.
    func integrator(batchLimit: Int = 20_000) -> LogIntegrator {
        LogIntegrator(configuration: .init(conninfo: url, signer: try! LogKeyFile.read(keyFile), batchLimit: batchLimit))
    }

    /// Integrates until every committed event is in a signed checkpoint (the node's own job may be doing it too).
    func integrateAll() async throws {
        let integrator = integrator()
        // Every event, and those retention took out of the database.
        let expected = try await database.count(
            "SELECT (SELECT count(*) FROM par_events) + (SELECT coalesce(sum(leaves), 0) FROM parstore_log_prunings)"
        )
        #expect(
            try await eventually {
                let progress = try await integrator.run()
                let signed = try await database.count("SELECT coalesce(max(size), 0) FROM parstore_log_checkpoints")
                return !progress.busy && signed == expected
            }
        )
    }

    /// Saves `GET /log/checkpoint` to a file, as an auditor keeps it; returns its path.
    func keepCheckpoint(_ name: String) async throws -> String {
        let note = try await run { client in
            let response = try await client.execute(uri: "/log/checkpoint", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/plain; charset=utf-8")
            return String(buffer: response.body)
        }
        let path = folder + "/\(name).checkpoint"
        try note.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func audit(checkpoints: [String] = []) async throws -> Command.Result {
        try await Command.parstore(
            ["audit", "--verify-log", "--database-url", url, "--log-key-file", keyFile, "--settle", "3600"]
                + checkpoints.flatMap { ["--checkpoint", $0] }
        )
    }

    /// `audit --verify-log` fails and names `index` as the first leaf that differs.
    func expectTampered(naming index: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let result = try await audit()
        #expect(result.status == 1, "\(result.output)", sourceLocation: sourceLocation)
        #expect(result.output.contains("LOG TAMPERED"), "\(result.output)", sourceLocation: sourceLocation)
        #expect(result.output.contains("leaf \(index) differs"), "\(result.output)", sourceLocation: sourceLocation)
    }

    /// One exported line: its index and the decoded fields the tests look at.
    struct Line {
        var index: Int
        var kind: String
        var requestID: String
    }

    func exported() async throws -> [Line] {
        let result = try await Command.parstore(["export", "--database-url", url])
        #expect(result.status == 0, "\(result.output)")
        return try Self.lines(result.output)
    }

    func followed() throws -> [Line] {
        try Self.lines(String(contentsOfFile: folder + "/follower.jsonl", encoding: .utf8))
    }

    static func lines(_ output: String) throws -> [Line] {
        try output.split(separator: "\n").map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let leafText = try #require(object["leaf"] as? String)
            let leaf = try #require(Data(base64Encoded: leafText))
            let decoded = try #require(LogLeaf(bytes: leaf))
            // The decoded fields are the leaf's.
            #expect(object["kind"] as? String == decoded.kind && object["request_id"] as? String == Secret.hex(decoded.requestID))
            return Line(index: try #require(object["index"] as? Int), kind: decoded.kind, requestID: Secret.hex(decoded.requestID))
        }
    }
}

/// A transaction held open on its own connection (a slow writer).
final class HeldTransaction: @unchecked Sendable {
    private let connection: PGConnection

    private init(connection: PGConnection) {
        self.connection = connection
    }

    static func begin(_ url: String) async throws -> HeldTransaction {
        let held = try await runOnOwnThread(name: "held") { () -> HeldTransaction in
            let connection = try PGConnection(url)
            try connection.executeScript("BEGIN")
            return HeldTransaction(connection: connection)
        }
        return held
    }

    func execute(_ sql: String, _ parameters: [String?] = []) async throws {
        try await runOnOwnThread(name: "held") { [self] in _ = try connection.execute(sql, parameters) }
    }
}
