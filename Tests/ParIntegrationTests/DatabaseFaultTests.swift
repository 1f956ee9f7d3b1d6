import Foundation
import Hummingbird
import HummingbirdTesting
import ParEmbedded
import ParPostgres
import ParServer
import ParTesting
import ParWorker
import Synchronization
import Testing

/// ARCHITECTURE §6, issue 13: PostgreSQL frozen, lost during a commit, or failed over. These nodes run without
/// Redis, so that PostgreSQL alone decides every redemption and nothing else can hide a lost or doubled commit.
@Suite struct DatabaseFaultTests {
    /// A node over `url` without Redis, whose requests wait at most `timeout` for PostgreSQL.
    private func node(_ url: String, timeout: Duration = .seconds(10), name: String = "node") async throws -> ParStoreNode {
        var configuration = TestNodes.configuration(databaseURL: url, redisURL: nil, name: name)
        configuration.stores.databaseTimeout = timeout
        return try await TestNodes.make(configuration)
    }

    /// The command-line tools (`parstore erase`, `retention`, `rebuild`) give their statements no deadline of their
    /// own, only a connection timeout: frozen under them, the server cannot cancel anything itself, so the connection
    /// abandons a statement at twice its timeout instead of waiting forever.
    @Test func aStatementWithoutADeadlineIsAbandonedOnAFrozenServer() async throws {
        let postgres = try await TestServers.privatePostgres(named: "frozen-statement")
        // A safety net: a statement that waited would hang the test; woken after 60 s, it fails on `woken`.
        let woken = Atomic<Bool>(false)
        let safetyNet = Task {
            try? await Task.sleep(for: .seconds(60))
            woken.store(true, ordering: .sequentiallyConsistent)
            postgres.signalAll(SIGCONT)
        }
        let (failure, healthyAfter) = try await runOnOwnThread { () throws -> (String?, Bool) in
            let connection = try PGConnection(postgres.url, timeout: .seconds(1))
            postgres.signalAll(SIGSTOP)
            do {
                try connection.execute("SELECT 1")
                return (nil, connection.isHealthy)
            } catch { return ("\(error)", connection.isHealthy) }
        }
        let answeredWhileFrozen = !woken.load(ordering: .sequentiallyConsistent)
        safetyNet.cancel()
        postgres.signalAll(SIGCONT)
        #expect(answeredWhileFrozen, "the statement waited until the server was woken")
        #expect(failure?.contains("did not answer before the deadline") == true, "\(failure ?? "answered")")
        #expect(!healthyAfter, "an abandoned connection is not used again")
        try await runOnOwnThread { try postgres.stop() }
    }

    /// The primary stops answering without closing anything (`kill -STOP`: its kernel still accepts and acknowledges
    /// bytes, so no TCP timer fires). Every request gets 503 within the deadline; after `kill -CONT` the node serves
    /// again by itself; and the redemption that was sent into the frozen server's socket — its caller answered 503 —
    /// is not committed when the server runs it.
    @Test func aFrozenPrimaryGets503WithinTheDeadlineAndNothingAnswered503CommitsLater() async throws {
        let postgres = try await TestServers.privatePostgres(named: "frozen")
        let database = TestDatabase(url: postgres.url)
        let clientID = uniqueClientID("frozen")
        let secret = try await database.register(clientID)
        let node = try await node(postgres.url, timeout: .seconds(2))
        try await node.application().test(.router) { client in
            let waiting = try await client.pushRequest(clientID, secret: secret)
            // The arbiter's connection is open: the next redemption goes into the frozen server's socket.
            #expect(try await client.redeem(clientID, try await client.pushRequest(clientID, secret: secret)).status == .ok)

            postgres.signalAll(SIGSTOP)
            defer { postgres.signalAll(SIGCONT) }
            let answers = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?).self) { group in
                for index in 0..<40 {
                    group.addTask {
                        let response =
                            index % 2 == 0
                            ? try await client.redeem(clientID, waiting)
                            : try await client.execute(
                                uri: "/par",
                                method: .post,
                                headers: formHeaders + [.authorization: basicAuthorization(clientID, secret)],
                                body: formBody(pushParameters(clientID))
                            )
                        return (response.status, response.headers[.retryAfter])
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.count == 40)
            #expect(answers.allSatisfy { $0.0 == .serviceUnavailable && $0.1 != nil }, "\(answers.map(\.0))")

            postgres.signalAll(SIGCONT)
            #expect(try await eventually { try await client.execute(uri: "/readyz", method: .get).status == .ok })
            // The frozen server ran the redemption it had been sent once it woke, past its deadline: rolled back.
            #expect(try await database.events(of: waiting).map(\.kind) == ["pushed"])
            var status = HTTPResponse.Status.serviceUnavailable
            _ = try await eventually {
                status = try await client.redeem(clientID, waiting).status
                return status != .serviceUnavailable
            }
            #expect(status == .ok, "the request nobody got is still redeemable, once")
            #expect(try await database.events(of: waiting).map(\.kind) == ["pushed", "consumed"])
        }
        try await runOnOwnThread { try postgres.stop() }
    }

    /// The connection is lost while a ticket redemption commits (the commit waits for a synchronous standby, and
    /// the session is terminated meanwhile: committed locally, answer lost). The caller gets 503, never a success;
    /// its retry with the same ticket and `Idempotency-Key` gets the request; any other attempt is refused.
    @Test func aRedemptionWhoseCommitAnswerIsLostGets503AndItsRetryTellsTheTruth() async throws {
        let postgres = try await TestServers.privatePostgres(named: "ambiguous")
        let database = TestDatabase(url: postgres.url)
        let clientID = uniqueClientID("ambiguous")
        let secret = try await database.register(clientID)
        let node = try await node(postgres.url)
        try await node.application().test(.router) { client in
            let requestURI = try await client.pushRequest(clientID, secret: secret)
            let ticket = try #require(try await client.authorize(clientID, requestURI).ticket)
            // Every commit from now on waits for a standby that does not exist. The ticket arbiter's connection is
            // opened by the first ticket redemption, so it starts with this setting.
            try await database.query("ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (nobody)'")
            try await database.query("SELECT pg_reload_conf()")

            async let first = client.redeem(ticket: ticket, attemptKey: "attempt-1")
            #expect(
                try await eventually {
                    try await database.count(
                        """
                        SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                        WHERE wait_event = 'SyncRep' AND application_name = 'parstore-ticket'
                        """
                    ) == 1
                }
            )
            let lost = try await first
            #expect(lost.status == .serviceUnavailable)
            #expect(try jsonObject(lost)["error"] as? String == "temporarily_unavailable")

            try await database.query("ALTER SYSTEM RESET synchronous_standby_names")
            try await database.query("SELECT pg_reload_conf()")
            var retry = lost
            _ = try await eventually {
                retry = try await client.redeem(ticket: ticket, attemptKey: "attempt-1")
                return retry.status != .serviceUnavailable
            }
            #expect(retry.status == .ok, "the same attempt learns that it won")
            #expect((try jsonObject(retry)["parameters"] as? [String: String])?["code_challenge"] == challenge)
            #expect(try await client.redeem(ticket: ticket, attemptKey: "attempt-1").status == .ok)
            for other in [try await client.redeem(ticket: ticket, attemptKey: "attempt-2"), try await client.redeem(ticket: ticket)] {
                #expect(other.status == .badRequest)
                #expect(try jsonObject(other)["reason"] as? String == "already_used")
            }
            #expect(try await database.events(of: requestURI).map(\.kind).prefix(3) == ["pushed", "loaded", "consumed"])
            #expect(try await database.events(of: requestURI).filter { $0.kind == "consumed" }.count == 1)
        }
        try await runOnOwnThread { try postgres.stop() }
    }

    /// A primary and a synchronous standby under plain streaming replication; the standby is promoted by hand
    /// (`pg_ctl promote`) a second after the primary's loss.
    @Test func aKilledPrimaryFailsOverToTheSynchronousStandbyAndExactlyOnceHolds() async throws {
        let (primary, standby) = try await TestServers.replicatedPostgres(named: "failover")
        let url = "postgresql://postgres@127.0.0.1:\(primary.port),127.0.0.1:\(standby.port)/postgres?target_session_attrs=read-write"
        try await exerciseFailover(url: url) {
            primary.signalAll(SIGKILL)
            try await Task.sleep(for: .seconds(1))
            try await runOnOwnThread { try standby.promote() }
        }
        try await runOnOwnThread { try standby.stop() }
    }

    /// The same under pg_auto_failover: its monitor sees the primary's machine gone and promotes the secondary.
    @Test func aKilledPrimaryFailsOverUnderPgAutoFailoverAndExactlyOnceHolds() async throws {
        let formation = try await TestServers.autoFailover(named: "autofailover")
        let database = TestDatabase(url: formation.url)
        let synchronous = try await database.query("SHOW synchronous_standby_names").first?.first ?? nil
        #expect(synchronous?.hasPrefix("ANY 1 (") == true, "pg_auto_failover made the secondary synchronous")
        let first = try #require(try await runOnOwnThread { try formation.primaryPort() })
        try await exerciseFailover(url: formation.url) {
            try await runOnOwnThread { formation.kill(nodeOn: first) }
        }
        let promoted = try await runOnOwnThread { try formation.primaryPort() }
        #expect(promoted != nil && promoted != first)
        try await runOnOwnThread { formation.stop() }
    }

    /// Two nodes reach the primary and its synchronous standby through one multi-host URL
    /// (`target_session_attrs=read-write`). Pushes and redemptions run on both while `fail` loses the primary (the
    /// `kill -9` of every process: the loss of its machine) and has the standby promoted. Every request answered 201
    /// before the loss is still there and redeemable exactly once; every redemption acknowledged before it is still
    /// a consumption; no request is redeemed twice over the whole run; nothing answers 500; and both nodes serve
    /// again after the promotion without a restart.
    private func exerciseFailover(url: String, fail: @Sendable () async throws -> Void) async throws {
        let clientID = uniqueClientID("failover")
        let secret = try await TestDatabase(url: url).register(clientID)
        let a = try await node(url, timeout: .seconds(3), name: "a")
        let b = try await node(url, timeout: .seconds(3), name: "b")
        try await a.application().test(.router) { a in
            try await b.application().test(.router) { b in
                // Acknowledged before the loss: half redeemed, half waiting.
                var pushed: [String] = []
                for index in 0..<20 { pushed.append(try await (index % 2 == 0 ? a : b).pushRequest(clientID, secret: secret)) }
                let redeemedBefore = Array(pushed.prefix(10))
                for (index, requestURI) in redeemedBefore.enumerated() {
                    #expect(try await (index % 2 == 0 ? b : a).redeem(clientID, requestURI).status == .ok)
                }

                // Traffic on both nodes across the loss and the promotion: each new request redeemed from both nodes.
                let ledger = Ledger()
                let stop = Flag()
                let traffic = Task {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for (pusher, other) in [(a, b), (b, a)] {
                            group.addTask {
                                while !stop.isSet {
                                    let push = try await pusher.execute(
                                        uri: "/par",
                                        method: .post,
                                        headers: formHeaders + [.authorization: basicAuthorization(clientID, secret)],
                                        body: formBody(pushParameters(clientID))
                                    )
                                    ledger.answer(push.status)
                                    guard push.status == .created, let uri = try jsonObject(push)["request_uri"] as? String else {
                                        try await Task.sleep(for: .milliseconds(50))
                                        continue
                                    }
                                    async let first = pusher.redeem(clientID, uri)
                                    async let second = other.redeem(clientID, uri)
                                    for response in try await [first, second] { ledger.redemption(uri, response.status) }
                                }
                            }
                        }
                        try await group.waitForAll()
                    }
                }
                try await Task.sleep(for: .seconds(1))
                try await fail()
                // Both nodes serve again by themselves.
                for client in [a, b] {
                    #expect(
                        try await eventually(timeout: .seconds(60)) {
                            try await client.execute(
                                uri: "/par",
                                method: .post,
                                headers: formHeaders + [.authorization: basicAuthorization(clientID, secret)],
                                body: formBody(pushParameters(clientID))
                            ).status == .created
                        }
                    )
                }
                try await Task.sleep(for: .seconds(1))
                stop.set()
                try await traffic.value

                for (index, requestURI) in pushed.enumerated() {
                    let response = try await (index % 2 == 0 ? a : b).redeem(clientID, requestURI)
                    if redeemedBefore.contains(requestURI) {
                        #expect(try jsonObject(response)["reason"] as? String == "already_used", "acknowledged consumptions survive")
                    } else {
                        #expect(response.status == .ok, "acknowledged pushes survive, redeemable once")
                        #expect(try await (index % 2 == 0 ? b : a).redeem(clientID, requestURI).status == .badRequest)
                    }
                }
                let (statuses, successes) = ledger.summary
                #expect(!statuses.contains(.internalServerError))
                #expect(successes.values.allSatisfy { $0 <= 1 }, "no request redeemed twice")
                #expect(successes.values.contains(1), "traffic was served")
            }
        }
    }
}

/// What the failover traffic saw: every status, and the successful redemptions of each request.
private final class Ledger: Sendable {
    private let state = Mutex<(statuses: [HTTPResponse.Status], successes: [String: Int])>(([], [:]))

    func answer(_ status: HTTPResponse.Status) { state.withLock { $0.statuses.append(status) } }

    func redemption(_ requestURI: String, _ status: HTTPResponse.Status) {
        state.withLock {
            $0.statuses.append(status)
            if status == .ok { $0.successes[requestURI, default: 0] += 1 }
        }
    }

    var summary: (statuses: [HTTPResponse.Status], successes: [String: Int]) { state.withLock { $0 } }
}

private final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}
