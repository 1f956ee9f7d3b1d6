import ParWorker
import Synchronization

/// Routes commands over a Redis Cluster, as cluster clients do, on top of hiredis (which knows nothing of
/// clusters): each key's hash slot names its primary in the slot map read from the cluster (`CLUSTER SLOTS`), and
/// every primary has pipelined connections of its own.
///
/// - `MOVED`: the slot has a new primary; the map takes it at once, is read again in the background, and the
///   command goes there.
/// - `ASK`: the slot is being migrated and this key already moved; the command goes once to the importing node,
///   just after `ASKING` on the same connection.
/// - `TRYAGAIN`, `CLUSTERDOWN`, an unreachable primary or a slot without one: a short pause (at most three, about
///   a quarter of a second in all, the map read again meanwhile), then a ``RedisError``: the node decides through
///   PostgreSQL.
///
/// The map is also read every `refreshInterval` (2 s in a node), so that a failover or a new shard is seen without
/// an error first.
final class ClusterRouter: RedisRouter {
    private let seeds: [RedisEndpoint]
    private let connectionsPerPrimary: Int
    private let observer: RedisObserver

    private struct State {
        var map = SlotMap()
        var links: [RedisAddress: [RedisWorker]] = [:]
        var refreshedAt: ContinuousClock.Instant? = nil
        var refreshing: Task<Void, Never>? = nil
        var refresher: Task<Void, Never>? = nil
        var stopped = false
    }
    private let state = Mutex(State())

    static let maxRedirections = 5
    static let retryPauses: [Duration] = [.milliseconds(25), .milliseconds(75), .milliseconds(150)]
    /// Redirections and errors arrive in bursts: the map is read at most this often on their account.
    static let refreshGap: Duration = .milliseconds(100)
    /// How long one node may take to connect and send its map (several kilobytes) before the next one is asked.
    static let mapReadTimeout: Duration = .seconds(2)

    init(seeds: [RedisEndpoint], connectionsPerPrimary: Int, refreshInterval: Duration, observer: RedisObserver) {
        self.seeds = seeds
        self.connectionsPerPrimary = max(1, connectionsPerPrimary)
        self.observer = observer
        let refresher = Task { [weak self] in
            while !Task.isCancelled {
                do {
                    guard let router = self else { return }  // dropped without a shutdown
                    await router.refresh(force: true)
                }
                try? await Task.sleep(for: refreshInterval)
            }
        }
        state.withLock { $0.refresher = refresher }
    }

    // MARK: Commands

    func command(_ arguments: [String], key: String?, shard: Int?) async throws -> RedisValue {
        let slot = key.map(HashSlot.of) ?? Int.random(in: 0..<HashSlot.count)
        var redirections = 0
        var retries = 0
        var asking: RedisAddress? = nil
        while true {
            guard let target = asking ?? state.withLock({ $0.map.primary(of: slot) }) else {
                try await pause(.noRoute, "no primary is known for slot \(slot)", retries: &retries)
                continue
            }
            let reply: RedisValue
            do {
                reply = try await worker(at: target, shard: shard).submit(RedisRequest(arguments, asking: asking != nil))
            } catch let error as RedisError {
                asking = nil
                try await pause(.connection, "\(target): \(error.message)", retries: &retries)
                continue
            }
            guard case .error(let message) = reply else { return reply }
            if let redirection = Redirection(message) {
                redirections += 1
                guard redirections <= Self.maxRedirections else {
                    throw RedisError(.noRoute, message: "slot \(slot) redirected \(redirections) times")
                }
                switch redirection.kind {
                case .moved:
                    observer.redirected("moved")
                    state.withLock { $0.map.assign(redirection.slot...redirection.slot, to: redirection.address) }
                    asking = nil
                    Task { await self.refresh(force: false) }
                case .ask:
                    observer.redirected("ask")
                    asking = redirection.address
                }
                continue
            }
            if message.hasPrefix("TRYAGAIN") {
                asking = nil
                try await pause(.tryAgain, message, retries: &retries)
                continue
            }
            if message.hasPrefix("CLUSTERDOWN") {
                asking = nil
                try await pause(.clusterDown, message, retries: &retries)
                continue
            }
            return reply
        }
    }

    /// Sends straight to the slot's primary; whatever needs more than that (a redirection, a retry) is handed to
    /// ``command(_:key:shard:)`` in a task.
    func send(_ arguments: [String], key: String, shard: Int, completion: @escaping @Sendable (Result<RedisValue, any Error>) -> Void) {
        let slowPath: @Sendable () -> Void = {
            Task {
                do { completion(.success(try await self.command(arguments, key: key, shard: shard))) } catch { completion(.failure(error)) }
            }
        }
        guard let target = state.withLock({ $0.map.primary(of: HashSlot.of(key)) }) else { return slowPath() }
        worker(at: target, shard: shard).enqueue(RedisRequest(arguments)) { result in
            switch result {
            case .success(.error(let message)) where Self.needsRouting(message): slowPath()
            case .failure(let error as RedisError) where error.kind == .connection: slowPath()
            default: completion(result)
            }
        }
    }

    private static func needsRouting(_ message: String) -> Bool {
        Redirection(message) != nil || message.hasPrefix("TRYAGAIN") || message.hasPrefix("CLUSTERDOWN")
    }

    /// Waits a little before the next attempt, reading the map again meanwhile; throws `kind` once the pauses are
    /// spent.
    private func pause(_ kind: RedisError.Kind, _ message: String, retries: inout Int) async throws {
        guard retries < Self.retryPauses.count else { throw RedisError(kind, message: message) }
        observer.retried(kind.rawValue)
        try await Task.sleep(for: Self.retryPauses[retries])
        retries += 1
        await refresh(force: false)
    }

    /// The connection `shard` names (or any) to the primary at `address`, made on first use.
    private func worker(at address: RedisAddress, shard: Int?) -> RedisWorker {
        let index = Int(UInt(bitPattern: shard ?? Int.random(in: 0..<connectionsPerPrimary)) % UInt(connectionsPerPrimary))
        return state.withLock { state in
            if let workers = state.links[address] { return workers[index] }
            let primary = endpoint(address)
            let workers = (0..<connectionsPerPrimary).map { number in
                RedisWorker.connected(to: primary, name: "redis-\(address.port)-\(number)", observer: observer)
            }
            state.links[address] = workers
            return workers[index]
        }
    }

    /// How to log in to the cluster node at `address`: as to the seeds.
    private func endpoint(_ address: RedisAddress) -> RedisEndpoint {
        RedisEndpoint(host: address.host, port: address.port, password: seeds.first?.password)
    }

    // MARK: The slot map

    /// Reads the slot map again, unless another reading is under way (it is awaited instead) or, unless `force`,
    /// one finished less than ``refreshGap`` ago.
    func refresh(force: Bool) async {
        let reading: Task<Void, Never>? = state.withLock { state in
            if state.stopped { return nil }
            if let running = state.refreshing { return running }
            if !force, let last = state.refreshedAt, ContinuousClock.now - last < Self.refreshGap { return nil }
            let task = Task { await self.readMap() }
            state.refreshing = task
            return task
        }
        await reading?.value
    }

    private func readMap() async {
        let known = state.withLock { $0.map.primaries }
        let candidates = (known.map(endpoint) + seeds)
            .reduce(into: [RedisEndpoint]()) { list, endpoint in if !list.contains(endpoint) { list.append(endpoint) } }
        let map = try? await runOnOwnThread(name: "redis-cluster-map") { () -> SlotMap? in
            for endpoint in candidates {
                guard let connection = try? RedisConnection(endpoint, timeout: Self.mapReadTimeout),
                    let reply = try? connection.command(["CLUSTER", "SLOTS"]),
                    let map = SlotMap(clusterSlots: reply, source: RedisAddress(host: endpoint.host, port: endpoint.port)),
                    !map.primaries.isEmpty
                else { continue }
                return map
            }
            return nil
        }
        let retired: [RedisWorker] = state.withLock { state in
            state.refreshing = nil
            state.refreshedAt = .now
            guard let map else { return [] }
            state.map = map
            let gone = state.links.keys.filter { !map.primaries.contains($0) }
            return gone.flatMap { state.links.removeValue(forKey: $0) ?? [] }
        }
        if map != nil { observer.mapRefreshed() }
        for worker in retired { await worker.shutdown() }
    }

    // MARK: Operations

    func connectAll() async throws {
        await refresh(force: true)
        let primaries = state.withLock { $0.map.primaries }
        guard !primaries.isEmpty else { throw RedisError(.noRoute, message: "no node of the cluster answered") }
        for primary in primaries {
            for shard in 0..<connectionsPerPrimary {
                _ = try await worker(at: primary, shard: shard).submit(RedisRequest(["PING"]))
            }
        }
    }

    /// `up` when every slot has a primary that answers; `degraded` with the number of slots that do not; `down`
    /// when none does.
    func health() async -> RedisHealth {
        await refresh(force: false)
        let map = state.withLock { $0.map }
        let counts = map.slotCounts()
        var unreachable = map.unassignedSlots
        await withTaskGroup(of: Int.self) { group in
            for primary in map.primaries {
                let worker = worker(at: primary, shard: 0)
                group.addTask {
                    let answered = (try? await worker.submit(RedisRequest(["PING"]), deadline: .now + .seconds(1))) == .status("PONG")
                    return answered ? 0 : counts[primary] ?? 0
                }
            }
            for await slots in group { unreachable += slots }
        }
        switch unreachable {
        case 0: return .up
        case HashSlot.count...: return .down
        default: return .degraded(unreachableSlots: unreachable)
        }
    }

    func shutdown() async {
        let (workers, tasks) = state.withLock { state in
            state.stopped = true
            defer { state.links = [:] }
            return (state.links.values.flatMap { $0 }, [state.refresher, state.refreshing].compactMap { $0 })
        }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        for worker in workers { await worker.shutdown() }
    }
}
