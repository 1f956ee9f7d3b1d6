import Foundation
import Glibc
import Synchronization

/// A private Redis Cluster on 127.0.0.1: `primaries` primaries with `replicasPerPrimary` replicas each, made the
/// way an operator makes one (and as `docker-compose.yml` does): `redis-server --cluster-enabled yes` per node,
/// then `redis-cli --cluster create … --cluster-replicas N --cluster-yes`, then waiting for `cluster_state:ok`.
public final class EmbeddedRedisCluster: Sendable {
    /// `redis+cluster://` with every node as a seed.
    public let url: String
    /// Every node's port, in start order.
    public let ports: [Int]
    private let root: String
    private let nodeTimeoutMillis: Int
    private let processes: Mutex<[Int: pid_t]>
    /// Nodes stopped with `SIGSTOP`: never asked anything (they would not answer).
    private let frozen = Mutex<Set<Int>>([])

    /// The settings every node runs with (after `--port`): cluster mode, a short node timeout so that a failover
    /// takes seconds, and no persistence.
    public static func nodeArguments(port: Int, directory: String, nodeTimeoutMillis: Int) -> [String] {
        [
            "--port", String(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
            "--cluster-config-file", "\(directory)/nodes-\(port).conf", "--cluster-node-timeout", String(nodeTimeoutMillis),
            "--save", "", "--appendonly", "no", "--dir", directory, "--logfile", "\(directory)/redis-\(port).log",
            "--pidfile", "\(directory)/redis-\(port).pid", "--daemonize", "no",
        ]
    }

    /// Starts the nodes, creates the cluster and waits until every node says it is ok.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public init(directory: String, primaries: Int = 3, replicasPerPrimary: Int = 1, nodeTimeoutMillis: Int = 2000) throws {
        root = URL(fileURLWithPath: directory).standardizedFileURL.path + "/redis-cluster"
        self.nodeTimeoutMillis = nodeTimeoutMillis
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        guard let server = Self.tool("redis-server"), let cli = Self.tool("redis-cli") else {
            throw EmbeddedServerError("redis-server or redis-cli not found (apt-get install redis-server)")
        }
        var ports: [Int] = []
        var started: [Int: pid_t] = [:]
        for _ in 0..<(primaries * (1 + replicasPerPrimary)) {
            let port = try Self.nodePort()
            started[port] = try spawn(server, Self.nodeArguments(port: port, directory: root, nodeTimeoutMillis: nodeTimeoutMillis), log: nil)
            ports.append(port)
        }
        self.ports = ports
        self.processes = Mutex(started)
        self.url = "redis+cluster://" + ports.map { "127.0.0.1:\($0)" }.joined(separator: ",")
        do {
            for port in ports { try waitForLoopbackPort(port, timeout: 10) }
            try runProcess(
                cli,
                ["--cluster", "create"] + ports.map { "127.0.0.1:\($0)" } + ["--cluster-replicas", String(replicasPerPrimary), "--cluster-yes"],
                log: nil
            )
            try waitUntilHealthy(timeout: 30)
        } catch {
            stop()
            throw error
        }
    }

    /// The processes of the nodes still running.
    public var processIDs: [Int32] { processes.withLock { Array($0.values) } }

    /// Runs `redis-cli -p port arguments…` and returns what it printed.
    ///
    /// - Throws: when `redis-cli` fails, or prints an error reply (it exits 0 on those).
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func cli(_ port: Int, _ arguments: [String]) throws -> String {
        guard let cli = Self.tool("redis-cli") else { throw EmbeddedServerError("redis-cli not found") }
        let log = root + "/cli-\(UUID().uuidString).out"
        defer { try? FileManager.default.removeItem(atPath: log) }
        try runProcess(cli, ["-h", "127.0.0.1", "-p", String(port)] + arguments, log: log)
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        if output.hasPrefix("ERR ") || output.hasPrefix("(error)") {
            throw EmbeddedServerError("redis-cli \(arguments.first ?? "") on \(port): \(output.prefix(200))")
        }
        return output
    }

    /// The ports of the nodes that are primaries now and own slots, as the first live node sees it.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func primaryPorts() throws -> [Int] {
        try nodes().filter { $0.isPrimary && $0.hasSlots && !$0.failed }.map(\.port).sorted()
    }

    /// The port of the primary serving `slot`.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func primaryPort(ofSlot slot: Int) throws -> Int {
        try primaryPorts(ofSlots: [slot])[0]
    }

    /// The ports of the primaries serving `slots`, in their order, from one reading of the cluster's map.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func primaryPorts(ofSlots slots: [Int]) throws -> [Int] {
        let primaries = try nodes().filter { $0.isPrimary && !$0.failed }
        return try slots.map { slot in
            guard let node = primaries.first(where: { $0.slots.contains { $0.contains(slot) } }) else {
                throw EmbeddedServerError("no primary serves slot \(slot)")
            }
            return node.port
        }
    }

    /// The cluster's node id of the node on `port`.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func nodeID(ofPort port: Int) throws -> String {
        try cli(port, ["CLUSTER", "MYID"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Waits until every live node reports `cluster_state:ok`, every replica is in sync, and every slot has a live
    /// primary.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func waitUntilHealthy(timeout: Double) throws {
        let deadline = ContinuousClock.now + .seconds(timeout)
        while true {
            let asleep = frozen.withLock { $0 }
            let live = processes.withLock { Array($0.keys) }.filter { !asleep.contains($0) }
            // Every node says the cluster is ok, and every replica has synchronised with its primary (a replica that
            // never did refuses to take over: its data is too old).
            let ok = live.allSatisfy { port in
                let replication = (try? cli(port, ["INFO", "replication"])) ?? ""
                return ((try? cli(port, ["CLUSTER", "INFO"])) ?? "").contains("cluster_state:ok")
                    && (replication.contains("role:master") || replication.contains("master_link_status:up"))
            }
            if ok, let nodes = try? nodes(), Self.servedSlots(nodes) == 16_384 { return }
            guard ContinuousClock.now < deadline else { throw EmbeddedServerError("the Redis cluster was not healthy after \(Int(timeout)) s") }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }

    /// Waits until the primary that was on `port` has been replaced: live primaries other than it serve every slot.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func waitForFailover(of port: Int, timeout: Double) throws {
        let deadline = ContinuousClock.now + .seconds(timeout)
        while true {
            if let nodes = try? nodes(), Self.servedSlots(nodes.filter { $0.port != port }) == 16_384 { return }
            guard ContinuousClock.now < deadline else { throw EmbeddedServerError("no replica took over from 127.0.0.1:\(port) in \(Int(timeout)) s") }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }

    /// Kills the node on `port` at once (`SIGKILL`): a machine lost.
    public func kill(port: Int) {
        guard let pid = processes.withLock({ $0.removeValue(forKey: port) }) else { return }
        Glibc.kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
    }

    /// Freezes the node on `port` (`SIGSTOP`): its connections stay open and nothing is answered, as a machine
    /// that hangs. ``thaw(port:)`` lets it go on.
    public func freeze(port: Int) {
        guard let pid = processes.withLock({ $0[port] }) else { return }
        frozen.withLock { _ = $0.insert(port) }
        Glibc.kill(pid, SIGSTOP)
    }

    /// Lets a frozen node go on (`SIGCONT`); a primary that was replaced meanwhile rejoins as a replica.
    public func thaw(port: Int) {
        guard let pid = processes.withLock({ $0[port] }) else { return }
        Glibc.kill(pid, SIGCONT)
        frozen.withLock { _ = $0.remove(port) }
    }

    /// Stops every node that still runs.
    public func stop() {
        let all = processes.withLock { processes in
            defer { processes = [:] }
            return Array(processes.values)
        }
        for pid in all { Glibc.kill(pid, SIGKILL) }  // frozen ones too: SIGKILL needs no SIGCONT
        for pid in all {
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
    }

    /// One line of `CLUSTER NODES`.
    struct Node {
        var port: Int
        var isPrimary: Bool
        var failed: Bool
        var slots: [ClosedRange<Int>]
        var hasSlots: Bool { !slots.isEmpty }
    }

    /// How many slots the live primaries among `nodes` serve.
    private static func servedSlots(_ nodes: [Node]) -> Int {
        nodes.filter { $0.isPrimary && !$0.failed }.flatMap(\.slots).map(\.count).reduce(0, +)
    }

    private func nodes() throws -> [Node] {
        let asleep = frozen.withLock { $0 }
        let live = processes.withLock { Array($0.keys) }.filter { !asleep.contains($0) }.sorted()
        for port in live {
            guard let text = try? cli(port, ["CLUSTER", "NODES"]), !text.isEmpty else { continue }
            return text.split(separator: "\n").compactMap { line in
                let fields = line.split(separator: " ")
                guard fields.count >= 8, let colon = fields[1].firstIndex(of: ":") else { return nil }
                let portText = fields[1][fields[1].index(after: colon)...].prefix { $0.isNumber }
                guard let port = Int(portText) else { return nil }
                let flags = fields[2].split(separator: ",")
                let slots = fields.dropFirst(8).compactMap { field -> ClosedRange<Int>? in
                    guard !field.hasPrefix("[") else { return nil }  // a slot being migrated
                    let bounds = field.split(separator: "-").compactMap { Int($0) }
                    return bounds.count == 2 ? bounds[0]...bounds[1] : bounds.first.map { $0...$0 }
                }
                return Node(port: port, isPrimary: flags.contains("master"), failed: flags.contains("fail") || flags.contains("fail?"), slots: slots)
            }
        }
        throw EmbeddedServerError("no node of the Redis cluster answers")
    }

    /// The next port for a node: its cluster bus listens 10,000 above it, so both must be free, and both stay below
    /// the kernel's ephemeral ports (32768 and up), which ``freeLoopbackPort()`` hands out. Ports are handed out once
    /// per process, so that clusters started at the same time never pick the same one.
    private static func nodePort() throws -> Int {
        try nextPort.withLock { next in
            for _ in 0..<Self.portRange.count {
                let port = next
                next = next == portRange.upperBound ? portRange.lowerBound : next + 1
                if loopbackPortIsFree(port) && loopbackPortIsFree(port + 10_000) { return port }
            }
            throw EmbeddedServerError("no free port pair for a Redis Cluster node")
        }
    }

    private static let portRange = 20_000...22_767
    private static let nextPort = Mutex(20_000 + Int(getpid() % 700) * 4)

    private static func tool(_ name: String) -> String? {
        ["/usr/bin/\(name)", "/usr/local/bin/\(name)"].first(where: FileManager.default.isExecutableFile(atPath:))
    }
}
