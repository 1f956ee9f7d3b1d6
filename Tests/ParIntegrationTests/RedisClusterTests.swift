import Foundation
import Hummingbird
import HummingbirdTesting
import ParCore
import ParEmbedded
import ParRedis
import ParServer
import ParTesting
import ParWorker
import Synchronization
import Testing

/// Redis Cluster as the fast path (issue 12): routing by hash slot, redirections, a lost primary, a frozen primary, a
/// resharding. One at a time: each fault test runs a cluster of six nodes and two ParStore nodes under load, and two
/// of them at once on two cores make replies miss their timeouts for reasons of their own.
@Suite(.serialized) struct RedisClusterTests {
    // MARK: Routing

    @Test func hashSlotsAreTheClustersOwn() async throws {
        #expect(HashSlot.of("123456789") == 0x31C3 & 16_383)  // CRC16-XMODEM's check value
        #expect(HashSlot.of("{user1000}.following") == HashSlot.of("{user1000}.followers"))
        #expect(HashSlot.of("foo{bar}{zap}") == HashSlot.of("bar"))
        // Whatever the key, the server agrees.
        let cluster = try await TestServers.shared.sharedCluster()
        let keys = ["foo", "parstore:req:" + String(repeating: "ab", count: 32), "parstore:rate:client-é", "{tag}x", "a{}b", "ü{ö}", "foo{}{bar}", "foo{{bar}}zap", "{", "}{x}"]
            + (0..<20).map { _ in UUID().uuidString }
        let port = cluster.ports[0]
        let serverSlots = try await runOnOwnThread {
            try keys.map { try cluster.cli(port, ["CLUSTER", "KEYSLOT", $0]).trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        #expect(serverSlots == keys.map { String(HashSlot.of($0)) })
    }

    @Test func redisURLsNameOneServerOrAClustersSeeds() {
        #expect(RedisTopology(url: "redis://:s%40cret@10.0.0.1:6380/2") == .standalone(RedisEndpoint(host: "10.0.0.1", port: 6380, password: "s@cret", database: 2)))
        #expect(
            RedisTopology(url: "redis+cluster://:pw@a.example:7000,b.example:7001,[::1]:7002")
                == .cluster(seeds: [
                    RedisEndpoint(host: "a.example", port: 7000, password: "pw"), RedisEndpoint(host: "b.example", port: 7001, password: "pw"),
                    RedisEndpoint(host: "::1", port: 7002, password: "pw"),
                ])
        )
        for bad in ["redis://a,b", "redis+cluster://a:1/3", "redis+cluster://", "redis+cluster://a:0", "redis+cluster://a:1,,b:2", "http://a", "redis://a:x"] {
            #expect(RedisTopology(url: bad) == nil, "\(bad)")
        }
    }

    @Test func aSeedListWhoseFirstHostIsDownStillStarts() async throws {
        let cluster = try await TestServers.shared.sharedCluster()
        let servers = try await TestServers.shared.shared()
        let database = TestDatabase(url: servers.databaseURL)
        let clientID = uniqueClientID("seeds")
        let secret = try await database.register(clientID)
        let down = try freeLoopbackPort()
        let url = "redis+cluster://127.0.0.1:\(down),127.0.0.1:\(cluster.ports[1])"
        let node = try await TestNodes.make(TestNodes.configuration(databaseURL: servers.databaseURL, redisURL: url))
        try await node.redis?.connectAll()
        #expect(await node.redis?.health() == .up)
        try await node.application().test(.router) { client in
            for _ in 0..<10 {
                let uri = try await client.pushRequest(clientID, secret: secret)
                #expect(try await eventually { try await client.redeem(clientID, uri).status == .ok })
            }
            let ready = try jsonObject(try await client.execute(uri: "/readyz", method: .get))
            #expect(ready["redis"] as? String == "up")
        }
        // Redis decided every claim: none fell back to PostgreSQL.
        #expect(!node.metrics.render().contains("parstore_redis_fallback_total{"))
    }

    /// A key's slot moved by hand, as `redis-cli --cluster reshard` does it: while the slot is migrating, a key the
    /// old primary does not have is answered `ASK` and found on the importing node; once the slot is moved, `MOVED`
    /// takes the map there. ParStore's functions work on both sides.
    @Test func askAndMovedAreFollowed() async throws {
        let cluster = try await TestServers.privateRedisCluster(named: "redis-ask")
        let redirects = Mutex<[String]>([])
        // The map is read once here, and then only when a redirection asks for it: the move below is found by a
        // `MOVED`, not by a periodic reading.
        let pool = RedisPool(
            topology: try #require(RedisTopology(url: cluster.url)),
            mapRefreshInterval: .seconds(3600),
            observer: RedisObserver(redirected: { kind in redirects.withLock { $0.append(kind) } })
        )
        try await pool.connectAll()
        let key = "parstore:req:{moving}"
        let slot = HashSlot.of(key)
        let (source, target) = try await runOnOwnThread { () throws -> (Int, Int) in
            let source = try cluster.primaryPort(ofSlot: slot)
            let target = try cluster.primaryPorts().first { $0 != source }!
            let (sourceID, targetID) = (try cluster.nodeID(ofPort: source), try cluster.nodeID(ofPort: target))
            _ = try cluster.cli(target, ["CLUSTER", "SETSLOT", String(slot), "IMPORTING", sourceID])
            _ = try cluster.cli(source, ["CLUSTER", "SETSLOT", String(slot), "MIGRATING", targetID])
            return (source, target)
        }
        let deadline = String(Int64(Date().timeIntervalSince1970 * 1000) + 60_000)
        let pushed = try await pool.command(["FCALL", "parstore_push", "1", key, "client", deadline], key: key)
        #expect(pushed == .integer(1))
        #expect(redirects.withLock { $0 } == ["ask"])
        let onTarget = try await runOnOwnThread { try cluster.cli(target, ["-c", "EXISTS", key]) }
        #expect(onTarget.contains("1"), "the key was made on the importing node")
        let claimed = try await pool.command(["FCALL", "parstore_consume", "1", key, "client"], key: key)
        #expect(claimed.text == "consumed")
        #expect(redirects.withLock { $0 } == ["ask", "ask"])

        try await runOnOwnThread {
            // The importing node first, then the migrating one, then the other primaries.
            let targetID = try cluster.nodeID(ofPort: target)
            for port in try [target, source] + cluster.primaryPorts().filter({ $0 != target && $0 != source }) {
                _ = try cluster.cli(port, ["CLUSTER", "SETSLOT", String(slot), "NODE", targetID])
            }
        }
        let again = try await pool.command(["FCALL", "parstore_consume", "1", key, "client"], key: key)
        #expect(again.text == "already_used")
        #expect(redirects.withLock { $0 }.last == "moved")
        // The map took the move: the next command goes straight to the new primary.
        let count = redirects.withLock { $0.count }
        _ = try await pool.command(["FCALL", "parstore_consume", "1", key, "client"], key: key)
        #expect(redirects.withLock { $0.count } == count)
        await pool.shutdown()
    }

    // MARK: Faults under load

    /// One primary is killed (`SIGKILL`) while two nodes push and redeem: its replica takes over, no request is
    /// redeemed twice, nothing is answered 500, and the nodes serve the moved slots through Redis again, with the
    /// functions in place on the promoted replica, without a restart.
    @Test func aPrimaryKilledUnderLoad() async throws {
        let (cluster, load) = try await ClusterLoad.make("kill")
        let victim = try await runOnOwnThread { try cluster.primaryPorts()[0] }
        let node = load.scenario.node
        let healthWhileDown = Locked<RedisHealth?>(nil)
        let outcome = try await load.run(thenChecking: 90) {
            try await Task.sleep(for: .seconds(1))
            cluster.kill(port: victim)
            // Before its replica takes over (the node timeout is 2 s), a third of the slots have no primary.
            let health = await node.redis?.health()
            healthWhileDown.value.withLock { $0 = health }
            try await runOnOwnThread { try cluster.waitForFailover(of: victim, timeout: 30) }
            // Within seconds of the promotion: the nodes read the slot map every 2 s, and sooner after errors.
            try await Task.sleep(for: .seconds(3))
        }
        #expect(outcome.pushed > 10)
        #expect(outcome.doubleRedemptions == 0)
        #expect(outcome.serverErrors == 0, "statuses: \(outcome.statuses)")
        #expect(outcome.unexpected == 0, "statuses: \(outcome.statuses)")
        guard case .degraded(let unreachable) = healthWhileDown.value.withLock({ $0 }) else {
            Issue.record("/readyz said \(String(describing: healthWhileDown.value.withLock { $0 })) with a primary down")
            return
        }
        #expect((5_000...5_500).contains(unreachable), "the lost primary's slots: \(unreachable)")
        #expect(await node.redis?.health() == .up)

        // The promoted replica has the functions (and the nodes used it: the load's last requests were claimed through
        // Redis).
        let primaries = try await runOnOwnThread { try cluster.primaryPorts() }
        #expect(primaries.count == 3 && !primaries.contains(victim), "a replica took the lost primary's place")
        for port in primaries {
            let version = try await runOnOwnThread { try cluster.cli(port, ["FCALL", "parstore_version", "0"]) }
            #expect(version.trimmingCharacters(in: .whitespacesAndNewlines) == "4", "functions on \(port)")
        }
    }

    /// One primary hangs (`SIGSTOP`: its connections stay open, nothing is answered) while two nodes push and
    /// redeem: each wait for it ends by the reply timeout and PostgreSQL decides, its replica takes over, and when the
    /// old primary wakes up as a replica (it may still hold keys the new primary lost, and misses the claims made
    /// meanwhile) nothing is redeemed twice, nothing is answered 500, and Redis decides the claims again.
    @Test func aPrimaryFrozenUnderLoad() async throws {
        let (cluster, load) = try await ClusterLoad.make("freeze")
        let victim = try await runOnOwnThread { try cluster.primaryPorts()[0] }
        let outcome = try await load.run(thenChecking: 90) {
            try await Task.sleep(for: .seconds(1))
            cluster.freeze(port: victim)
            do {
                try await runOnOwnThread { try cluster.waitForFailover(of: victim, timeout: 30) }
            } catch {
                cluster.thaw(port: victim)
                throw error
            }
            try await Task.sleep(for: .seconds(1))
            cluster.thaw(port: victim)
            // The nodes read the slot map every 2 s, and sooner after errors.
            try await Task.sleep(for: .seconds(3))
        }
        #expect(outcome.pushed > 10)
        #expect(outcome.doubleRedemptions == 0)
        #expect(outcome.serverErrors == 0, "statuses: \(outcome.statuses)")
        #expect(outcome.unexpected == 0, "statuses: \(outcome.statuses)")
        #expect(outcome.troubles > 0, "the nodes met the frozen primary (retried, or let PostgreSQL decide)")
        #expect(await load.scenario.node.redis?.health() == .up)
        let primaries = try await runOnOwnThread { try cluster.primaryPorts() }
        #expect(primaries.count == 3 && !primaries.contains(victim), "the woken primary serves no slots: \(primaries)")
    }

    /// A thousand slots move from one primary to another (`redis-cli --cluster reshard`) while two nodes push and
    /// redeem: nothing fails, nothing is answered 503, and afterwards Redis decides the claims again.
    @Test func aReshardUnderLoad() async throws {
        let (cluster, load) = try await ClusterLoad.make("reshard")
        let node = load.scenario.node
        let outcome = try await load.run(thenChecking: 90) {
            try await Task.sleep(for: .milliseconds(500))
            try await runOnOwnThread {
                let primaries = try cluster.primaryPorts()
                let (from, to) = (try cluster.nodeID(ofPort: primaries[0]), try cluster.nodeID(ofPort: primaries[1]))
                _ = try cluster.cli(primaries[0], [
                    "--cluster", "reshard", "127.0.0.1:\(primaries[0])", "--cluster-from", from, "--cluster-to", to,
                    "--cluster-slots", "1000", "--cluster-yes", "--cluster-pipeline", "50",
                ])
            }
            // Until the nodes' next reading of the slot map (every 2 s; later on a loaded machine), each moved slot's
            // first command meets a `MOVED`, and a push sent on through the router can be overtaken by its claim
            // (which PostgreSQL then decides). `/readyz` reads the map too, as a load balancer's checks would.
            try await Task.sleep(for: .seconds(3))
            for node in [node, load.other] { _ = await node.redis?.health() }
        }
        #expect(outcome.pushed > 10)
        #expect(outcome.doubleRedemptions == 0)
        #expect(outcome.serverErrors == 0 && outcome.unexpected == 0, "statuses: \(outcome.statuses)")
        #expect(outcome.unavailable == 0, "a resharding loses nothing: \(outcome.statuses)")
    }
}

/// Pushes and redemptions on two nodes (each request redeemed from both at once) while a fault is injected.
private struct ClusterLoad {
    let cluster: EmbeddedRedisCluster
    let scenario: Scenario
    let other: ParStoreNode

    /// A private cluster, and two nodes on it (the scenario's and one more).
    static func make(_ name: String) async throws -> (EmbeddedRedisCluster, ClusterLoad) {
        let cluster = try await TestServers.privateRedisCluster(named: "redis-" + name)
        let scenario = try await Scenario.make("cluster-" + name, redisURL: cluster.url)
        let other = try await TestNodes.make(TestNodes.configuration(databaseURL: scenario.servers.databaseURL, redisURL: cluster.url, name: "b"))
        return (cluster, ClusterLoad(cluster: cluster, scenario: scenario, other: other))
    }

    struct Outcome {
        var pushed = 0
        var statuses: [Int: Int] = [:]
        var doubleRedemptions = 0
        /// What the nodes met of Redis's trouble while the load ran: commands retried (after a timeout, a redirection,
        /// a cluster that is down), commands that failed, and redemptions taken to PostgreSQL instead.
        var troubles = 0
        var serverErrors: Int { statuses.filter { $0.key >= 500 && $0.key != 503 }.values.reduce(0, +) }
        var unavailable: Int { statuses[503] ?? 0 }
        /// Anything but 201, 200, the loser's 400 `already_used`, and 503.
        var unexpected = 0
    }

    /// Runs the load until `fault` returns; then pushes `checked` requests on one node and redeems them on the other,
    /// one at a time, and expects every primary to decide the claims in its slots (not PostgreSQL, by fallback).
    /// A node's stores stop with its application, so the check runs in the same session.
    func run(thenChecking checked: Int, fault: @escaping @Sendable () async throws -> Void) async throws -> Outcome {
        let stop = StopFlag()
        let (clientID, secret) = (scenario.clientID, scenario.secret)
        let initialTroubles = count(["fallback_total{", "retries_total{", "errors_total{"])
        return try await scenario.node.application().test(.router) { a in
            try await other.application().test(.router) { b in
                try await withThrowingTaskGroup(of: Outcome.self) { group in
                    group.addTask {
                        defer { stop.value.store(true, ordering: .relaxed) }
                        try await fault()
                        return Outcome()
                    }
                    for worker in 0..<6 {
                        group.addTask {
                            var outcome = Outcome()
                            while !stop.value.load(ordering: .relaxed) {
                                let pusher = worker % 2 == 0 ? a : b
                                let pushed = try await pusher.execute(
                                    uri: "/par",
                                    method: .post,
                                    headers: formHeaders + [.authorization: basicAuthorization(clientID, secret)],
                                    body: formBody(pushParameters(clientID))
                                )
                                outcome.statuses[Int(pushed.status.code), default: 0] += 1
                                guard pushed.status == .created, let uri = try jsonObject(pushed)["request_uri"] as? String else {
                                    if pushed.status != .serviceUnavailable { outcome.unexpected += 1 }
                                    continue
                                }
                                outcome.pushed += 1
                                async let first = a.redeem(clientID, uri)
                                async let second = b.redeem(clientID, uri)
                                let answers = try await [first, second]
                                var won = 0
                                for answer in answers {
                                    outcome.statuses[Int(answer.status.code), default: 0] += 1
                                    switch answer.status {
                                    case .ok: won += 1
                                    case .serviceUnavailable: break
                                    case .badRequest where (try? jsonObject(answer)["reason"] as? String) == "already_used": break
                                    default: outcome.unexpected += 1
                                    }
                                }
                                if won > 1 { outcome.doubleRedemptions += 1 }
                            }
                            return outcome
                        }
                    }
                    var outcome = try await group.reduce(into: Outcome()) { total, part in
                        total.pushed += part.pushed
                        total.doubleRedemptions += part.doubleRedemptions
                        total.unexpected += part.unexpected
                        total.statuses.merge(part.statuses, uniquingKeysWith: +)
                    }
                    outcome.troubles = count(["fallback_total{", "retries_total{", "errors_total{"]) - initialTroubles
                    // Each request's slot, and whether PostgreSQL decided its claim (the requests go one at a time).
                    var checks: [(slot: Int, fellBack: Bool)] = []
                    for _ in 0..<checked {
                        let uri = try await a.pushRequest(clientID, secret: secret)
                        let before = fallbacks()
                        #expect(try await b.redeem(clientID, uri).status == .ok)
                        let key = RedisRequestCache.key(try #require(RequestReference(requestURI: uri)))
                        checks.append((HashSlot.of(key), fallbacks() > before))
                    }
                    try await expectEveryPrimaryDecides(checks)
                    return outcome
                }
            }
        }
    }

    /// Every primary, the promoted or moved-to one included, decided the claims of a good part of the checked requests
    /// in its slots. Not all: with the other suites' servers and nodes on two cores, a reply can miss its 1 s timeout
    /// (a quarter of all were seen to, in bursts); a primary the nodes could not reach through Redis would decide none.
    private func expectEveryPrimaryDecides(_ checks: [(slot: Int, fellBack: Bool)]) async throws {
        let owners = try await runOnOwnThread { [cluster] in try cluster.primaryPorts(ofSlots: checks.map(\.slot)) }
        let byPrimary = Dictionary(grouping: zip(owners, checks), by: \.0)
        #expect(byPrimary.count == 3, "the checked requests fell on every primary: \(byPrimary.keys)")
        for (port, requests) in byPrimary {
            let decidedByRedis = requests.filter { !$0.1.fellBack }.count
            #expect(decidedByRedis * 3 >= requests.count, "primary \(port) decided \(decidedByRedis) of \(requests.count) claims: \(fallbackLines())")
        }
    }

    private func fallbackLines() -> String {
        (scenario.node.metrics.render() + other.metrics.render()).split(separator: "\n")
            .filter { line in ["fallback_total{", "retries_total{", "redirects_total{", "errors_total{", "map_refreshes_total "].contains { line.hasPrefix("parstore_redis_" + $0) } }
            .joined(separator: "; ")
    }

    private func fallbacks() -> Int { count(["fallback_total{"]) }

    /// The sum over both nodes of the Redis counters whose names start with one of `names`.
    private func count(_ names: [String]) -> Int {
        (scenario.node.metrics.render() + other.metrics.render()).split(separator: "\n")
            .filter { line in names.contains { line.hasPrefix("parstore_redis_" + $0) } }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
            .reduce(0) { $0 + Int($1) }
    }
}

private final class StopFlag: Sendable {
    let value = Atomic<Bool>(false)
}

/// A value set in one task and read in another.
private final class Locked<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ initial: Value) { value = Mutex(initial) }
}
