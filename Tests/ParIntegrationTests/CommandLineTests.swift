import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import ParCore
import ParEmbedded
import ParPostgres
import ParRedis
import ParServer
import ParTesting
import Testing

/// The `parstore` command-line tool, run as a user would.
@Suite struct CommandLineTests {
    /// A fresh database on the shared server, migrated by `parstore migrate`.
    private func freshDatabase() async throws -> TestDatabase {
        let url = try await TestServers.shared.privateDatabase(named: "cli", migrated: false)
        let first = try await Command.parstore(["migrate", "--database-url", url, "--migrations", TestServers.migrationsDirectory])
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.contains("0001_event_log"))
        return TestDatabase(url: url)
    }

    @Test func migrateIsIdempotentAndCreatesTheComingDaysPartitions() async throws {
        let database = try await freshDatabase()
        let second = try await Command.parstore(["migrate", "--database-url", database.url, "--migrations", TestServers.migrationsDirectory])
        #expect(second.status == 0)
        #expect(second.output.contains("up to date"))
        #expect(
            try await database.count("SELECT count(*) FROM parstore_schema_migrations")
                == (try Migrator(directory: TestServers.migrationsDirectory)).migrations.count
        )
        let missing = try await database.count(
            """
            SELECT count(*) FROM generate_series(0, 7) d, unnest(ARRAY['par_events_', 'parstore_single_use_']) p
            WHERE to_regclass(p || to_char((now() AT TIME ZONE 'UTC')::date + d, 'YYYYMMDD')) IS NULL
            """
        )
        #expect(missing == 0, "partitions for today and the next seven days exist")
    }

    @Test func clientsAddListRemoveAndNodesSeeTheChangeWithoutRestart() async throws {
        let database = try await freshDatabase()
        let servers = try await TestServers.shared.shared()
        let clientID = uniqueClientID("cli")
        let node = try await TestNodes.make(TestNodes.configuration(databaseURL: database.url, redisURL: servers.redisURL))
        try await node.application().test(.router) { client in
            let added = try await Command.parstore([
                "clients", "add", "--database-url", database.url, "--client-id", clientID, "--auth-method", "client_secret_basic",
                "--redirect-uri", "https://client.example.org/cb", "--redirect-uri", "https://client.example.org/other",
                "--scope", "openid profile", "--json",
            ])
            #expect(added.status == 0, "\(added.output)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(added.output.utf8)) as? [String: Any])
            let secret = try #require(json["client_secret"] as? String)
            #expect(secret.count >= 43, "at least 256 bits")
            let stored = try await database.query("SELECT encode(secret_hash, 'hex') FROM parstore_clients WHERE client_id = $1", [clientID])
            #expect(stored.first?.first == Secret.hex(Secret.sha256(secret)), "only the hash is stored")

            let duplicate = try await Command.parstore([
                "clients", "add", "--database-url", database.url, "--client-id", clientID, "--auth-method", "none",
                "--redirect-uri", "https://x.example/cb",
            ])
            #expect(duplicate.status != 0)

            let listed = try await Command.parstore(["clients", "list", "--database-url", database.url])
            #expect(listed.output.contains(clientID))
            #expect(!listed.output.contains(secret))

            let pushStatus = { @Sendable () async throws -> HTTPResponse.Status in
                try await client.execute(
                    uri: "/par",
                    method: .post,
                    headers: formHeaders + [.authorization: basicAuthorization(clientID, secret)],
                    body: formBody(pushParameters(clientID))
                ).status
            }
            #expect(try await eventually(timeout: .seconds(5)) { try await pushStatus() == .created })

            let removed = try await Command.parstore(["clients", "remove", "--database-url", database.url, clientID])
            #expect(removed.status == 0)
            #expect(try await eventually(timeout: .seconds(5)) { try await pushStatus() == .unauthorized })
        }
    }

    @Test func clientsImportRegistersEveryKindOfClientIdempotentlyFromJSONAndYAML() async throws {
        let database = try await freshDatabase()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let jwtID = uniqueClientID("imp-jwt"), mtlsID = uniqueClientID("imp-mtls"), basicID = uniqueClientID("imp-basic")
        try Data(TestKey.jwks([Conformance.es256]).utf8).write(to: folder.appendingPathComponent("keys.json"))
        let clients: [[String: Any]] = [
            [
                "client_id": jwtID, "token_endpoint_auth_method": "private_key_jwt", "jwks_file": "keys.json", "profile": "fapi2",
                "redirect_uris": ["https://client.example.org/cb"], "scope": "openid profile accounts",
                "authorization_details_types": ["payment_initiation"], "rate_limit": 50,
            ],
            [
                "client_id": mtlsID, "token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_subject_dn": "CN=bank, O=Example, C=DE",
                "redirect_uris": ["https://bank.example.org/cb"],
            ],
            ["client_id": basicID, "token_endpoint_auth_method": "client_secret_basic", "redirect_uris": ["https://basic.example.org/cb"]],
        ]
        let json = folder.appendingPathComponent("clients.json")
        try JSONSerialization.data(withJSONObject: clients).write(to: json)

        let first = try await Command.parstore(["clients", "import", "--database-url", database.url, json.path])
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.contains("3 created, 0 updated, 0 unchanged"))
        #expect(first.output.contains("\(basicID) client_secret: "), "a generated secret is shown once")
        let again = try await Command.parstore(["clients", "import", "--database-url", database.url, json.path])
        #expect(again.output.contains("0 created, 0 updated, 3 unchanged"), "\(again.output)")
        #expect(!again.output.contains("client_secret"), "the registered secret is kept")

        // YAML, changing one client; the others stay as they are.
        let yaml = folder.appendingPathComponent("clients.yaml")
        try """
        clients:
          - client_id: \(mtlsID)
            token_endpoint_auth_method: tls_client_auth
            tls_client_auth_san_dns: bank.example.org
            redirect_uris: [https://bank.example.org/cb]
        """.write(to: yaml, atomically: true, encoding: .utf8)
        let changed = try await Command.parstore(["clients", "import", "--database-url", database.url, yaml.path])
        #expect(changed.output.contains("0 created, 1 updated, 0 unchanged"), "\(changed.output)")

        // A file with one invalid client writes nothing.
        let invalid = folder.appendingPathComponent("invalid.json")
        try JSONSerialization.data(withJSONObject: [
            ["client_id": uniqueClientID("imp-new"), "token_endpoint_auth_method": "none", "redirect_uris": ["https://n.example/cb"]],
            [
                "client_id": uniqueClientID("imp-bad"), "token_endpoint_auth_method": "client_secret_basic", "profile": "fapi2",
                "redirect_uris": ["https://b.example/cb"],
            ],
        ]).write(to: invalid)
        let refused = try await Command.parstore(["clients", "import", "--database-url", database.url, invalid.path])
        #expect(refused.status != 0)
        #expect(refused.output.contains("FAPI 2.0"))
        #expect(try await database.count("SELECT count(*) FROM parstore_clients") == 3)

        // Nested YAML aliases ("billion laughs": 9 levels of 9 would expand to 387 million nodes) are refused
        // at once, before anything is decoded or written.
        var bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 { bomb += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ", ") + "]\n" }
        bomb += "clients: *a9\n"
        let bombFile = folder.appendingPathComponent("bomb.yaml")
        try bomb.write(to: bombFile, atomically: true, encoding: .utf8)
        let exploded = try await Command.parstore(["clients", "import", "--database-url", database.url, bombFile.path])
        #expect(exploded.status != 0)
        #expect(exploded.output.contains("more than 100000 YAML nodes"), "\(exploded.output)")
        #expect(try await database.count("SELECT count(*) FROM parstore_clients") == 3)

        // The imported key client pushes through a node, with its registered keys and profile.
        let servers = try await TestServers.shared.shared()
        var configuration = TestNodes.configuration(databaseURL: database.url, redisURL: servers.redisURL)
        configuration.oauth.issuer = Conformance.issuer
        let node = try await TestNodes.make(configuration)
        try await node.application().test(.router) { http in
            let pushed = try await http.push(Conformance.signedForm(jwtID))
            expectAnswer(pushed, .created)
            #expect(try #require(try jsonObject(pushed)["expires_in"] as? Int) < 600)
        }
    }

    @Test func auditPassesOnTheLogTheTestsProduce() async throws {
        let scenario = try await Scenario.make("audit")
        let (servers, clientID, secret, node) = (scenario.servers, scenario.clientID, scenario.secret, scenario.node)
        try await node.application().test(.router) { client in
            for _ in 0..<20 {
                let uri = try await client.pushRequest(clientID, secret: secret)
                #expect(try await client.redeem(clientID, uri).status == .ok)
                #expect(try await client.redeem(clientID, uri).status == .badRequest)
            }
        }
        // The whole shared log, with everything the other tests wrote so far.
        let audit = try await Command.parstore(["audit", "--database-url", servers.databaseURL, "--settle", "600", "--json"])
        #expect(audit.status == 0, "\(audit.output)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(audit.output.utf8)) as? [String: Any])
        let events = try #require(report["events"] as? [String: Int])
        #expect((events["consumed"] ?? 0) >= 20)
        #expect((events["refused"] ?? 0) >= 20)
        #expect((report["violations"] as? [Any])?.isEmpty == true)
        #expect(report["pushToRedeem"] != nil)

        let ranged = try await Command.parstore(["audit", "--database-url", servers.databaseURL, "--since", "2000-01-01T00:00Z", "--settle", "600"])
        #expect(ranged.status == 0)
        #expect(ranged.output.contains("OK: no invariant is broken."))
    }

    @Test func auditFailsNamingTheRequestOnAPlantedViolation() async throws {
        let database = try await freshDatabase()
        let stolen = RequestReference.mint(secondsSince1970: Date().timeIntervalSince1970)
        let forgotten = RequestReference.mint(secondsSince1970: Date().timeIntervalSince1970)
        let insert = """
            INSERT INTO par_events (day, request_id, slot, kind, client_id, at, deadline, node_id)
            VALUES ($1::date, decode($2, 'hex'), $3::smallint, $4, $5, now() - $6::interval, now() - $7::interval, 'planted')
            """
        // Consumed by a client that did not push it.
        try await database.query(insert, [stolen.day.description, stolen.requestIDHex, "0", "pushed", "alice", "10 seconds", "-50 seconds"])
        try await database.query(insert, [stolen.day.description, stolen.requestIDHex, "2", "consumed", "mallory", "5 seconds", "-50 seconds"])
        // Past its deadline long ago, and never ended.
        try await database.query(insert, [forgotten.day.description, forgotten.requestIDHex, "0", "pushed", "alice", "2 hours", "1 hour"])

        // Loaded by a browser, then consumed without its ticket.
        let bypassed = RequestReference.mint(secondsSince1970: Date().timeIntervalSince1970)
        try await database.query(insert, [bypassed.day.description, bypassed.requestIDHex, "0", "pushed", "alice", "10 seconds", "-50 seconds"])
        try await database.query(insert, [bypassed.day.description, bypassed.requestIDHex, "1", "loaded", "alice", "8 seconds", "-590 seconds"])
        // (A consumption with no ticket at all after a load is impossible since migration 0006: it takes the
        // same first-use key as the load. One with another ticket than the load's is planted instead.)
        try await database.query(
            "UPDATE par_events SET ticket_hash = sha256('planted') WHERE kind = 'loaded' AND request_id = decode($1, 'hex')",
            [bypassed.requestIDHex]
        )
        try await database.query(
            """
            INSERT INTO par_events (day, request_id, slot, kind, client_id, at, deadline, node_id, ticket_hash)
            VALUES ($1::date, decode($2, 'hex'), 2, 'consumed', 'alice', now() - interval '5 seconds', now() + interval '590 seconds',
                    'planted', sha256('forged'))
            """,
            [bypassed.day.description, bypassed.requestIDHex]
        )

        let audit = try await Command.parstore(["audit", "--database-url", database.url])
        #expect(audit.status == 1)
        #expect(audit.output.contains("consumed_without_ticket \(bypassed.requestIDHex)"))
        #expect(audit.output.contains("consumed_by_other_client \(stolen.requestIDHex)"))
        #expect(audit.output.contains("missing_terminal \(forgotten.requestIDHex)"))
    }

    @Test func sigtermUnderLoadLosesNoAcknowledgedPush() async throws {
        let servers = try await TestServers.shared.shared()
        let database = TestDatabase(url: servers.databaseURL)
        let clientID = uniqueClientID("sigterm")
        let secret = try await database.register(clientID)
        let port = try freeLoopbackPort()
        let process = try Command.serve(servers, port: port, ["--node-id", "sigterm-test"])

        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let body = String(buffer: formBody(pushParameters(clientID)))
        let acknowledged = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<16 {
                group.addTask {
                    var uris: [String] = []
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/par")
                    request.method = .POST
                    request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                    request.headers.add(name: "Authorization", value: basicAuthorization(clientID, secret))
                    while uris.count < 5000 {
                        request.body = .bytes(ByteBuffer(string: body))
                        guard let response = try? await http.execute(request, timeout: .seconds(5)) else { break }
                        guard let bytes = try? await response.body.collect(upTo: 4096) else { break }
                        if response.status == .created,
                            let json = try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any],
                            let uri = json["request_uri"] as? String
                        {
                            uris.append(uri)
                        } else if response.status != .created {
                            break
                        }
                    }
                    return uris
                }
            }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(1500))
                process.terminate()  // SIGTERM
                return []
            }
            return await group.reduce(into: [String]()) { $0 += $1 }
        }
        try await http.shutdown()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "graceful exit")
        #expect(acknowledged.count > 0)
        let ids = acknowledged.compactMap { RequestReference(requestURI: $0)?.requestIDHex }
        let stored = try await database.count(
            "SELECT count(*) FROM par_events WHERE kind = 'pushed' AND request_id = ANY(SELECT decode(x, 'hex') FROM unnest($1::text[]) x)",
            ["{" + ids.joined(separator: ",") + "}"]
        )
        #expect(stored == acknowledged.count, "every 201 the client saw has its pushed event")
    }

    @Test func dockerComposeFilePassesTheComposeSpecSchema() async throws {
        let file = TestServers.packageRoot + "/docker-compose.yml"
        let check = try await Command.run("/usr/bin/env", ["check-jsonschema", "--builtin-schema", "vendor.compose-spec", file])
        #expect(check.status == 0, "\(check.output)")
        let text = try String(contentsOfFile: file, encoding: .utf8)
        for service in ["postgres:", "redis:", "node1:", "node2:", "node3:", "haproxy:"] {
            #expect(text.contains(service))
        }
        // postgres, redis, haproxy, and the node template shared by node1-3.
        #expect(text.components(separatedBy: "healthcheck:").count - 1 == 4)
        #expect(text.components(separatedBy: "<<: *node\n").count - 1 == 3)
    }
}
