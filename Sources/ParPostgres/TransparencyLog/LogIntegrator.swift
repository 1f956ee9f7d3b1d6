public import ParCore
import ParWorker
import Synchronization

/// Gives committed events their leaf indices and signs checkpoints (ARCHITECTURE §4, "Tamper evidence").
///
/// Every node may run one; an advisory lock lets one at a time work, and any other takes over when it stops. Each
/// run takes a snapshot and integrates, in short transactions of at most ``Configuration/batchLimit`` events, the
/// events visible in it but not in the previous one (their transactions committed in between), in (xid, seq) order;
/// a transaction still open is in the snapshot's in-progress list and its events come in a later run, with later
/// indices. Then, once that is committed (and so held by a synchronous standby where there is one), it checks that
/// the tree extends the last signed checkpoint and signs the next. It has its own connection: it never waits behind the request path,
/// nor the request path behind it.
public final class LogIntegrator: Sendable {
    public struct Configuration: Sendable {
        public var conninfo: String
        /// Signs the checkpoints; its name is their origin.
        public var signer: NoteSigner
        /// The longest any statement may take; the session's statement timeout too.
        public var timeout: Duration
        /// The most events integrated in one transaction.
        public var batchLimit: Int
        /// The most events integrated in one run, so that a run ends and a checkpoint is signed even while a
        /// backlog is worked off.
        public var runLimit: Int

        public init(conninfo: String, signer: NoteSigner, timeout: Duration = .seconds(10), batchLimit: Int = 20_000, runLimit: Int = 200_000) {
            self.conninfo = conninfo
            self.signer = signer
            self.timeout = timeout
            self.batchLimit = batchLimit
            self.runLimit = runLimit
        }
    }

    /// What one run did.
    public struct Progress: Sendable, Equatable {
        /// Events integrated by this run.
        public var integrated = 0
        /// The tree's size after the run (0 when another node held the log).
        public var size: UInt64 = 0
        /// The checkpoint this run signed, if any.
        public var signed: Checkpoint?
        /// Whether another node was integrating.
        public var busy = false
        /// The newest integrated event's time, microseconds since 1970.
        public var lastAtMicroseconds: Int64?
    }

    public let configuration: Configuration
    private let connection = Mutex<PGConnection?>(nil)
    /// The advisory lock's key: one integrator per database.
    static let lockKey = "hashtext('parstore.log')"

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Integrates what is due and signs a checkpoint, on a thread of its own.
    public func run() async throws -> Progress {
        try await runOnOwnThread(name: "log-integrator") { [self] in try runBlocking() }
    }

    /// Integrates what is due and signs a checkpoint.
    ///
    /// - Parameter pause: called inside each integration transaction, after its tiles are written and before its
    ///   state is (tests kill the integrator there).
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func runBlocking(pause: (@Sendable () throws -> Void)? = nil) throws -> Progress {
        try connection.withLock { connection in
            do {
                if connection == nil || connection?.isHealthy == false {
                    connection = try PGConnection(configuration.conninfo, applicationName: "parstore-log", timeout: configuration.timeout)
                }
                return try run(on: connection!, pause: pause)
            } catch {
                // The transaction's fate is unknown to this side: start over on a new session next time.
                connection = nil
                throw error
            }
        }
    }

    @available(*, noasync, message: "blocking: call from a thread of its own")
    private func run(on connection: PGConnection, pause: (@Sendable () throws -> Void)?) throws -> Progress {
        var progress = Progress()
        try connection.execute("SELECT parstore_log_summarize()", deadline: deadline)
        while progress.integrated < configuration.runLimit {
            guard let step = try integrate(on: connection, pause: pause) else {
                progress.busy = true
                return progress
            }
            progress.integrated += step.integrated
            progress.size = step.state.size
            progress.lastAtMicroseconds = step.state.lastAtMicroseconds
            if step.integrated < configuration.batchLimit { break }
        }
        guard let signed = try sign(on: connection) else {
            progress.busy = true
            return progress
        }
        progress.signed = signed.checkpoint
        progress.size = max(progress.size, signed.size)
        return progress
    }

    private var deadline: ContinuousClock.Instant { .now + configuration.timeout }

    /// One transaction: the next events of the delta become leaves. `nil` when another node holds the log.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    private func integrate(on connection: PGConnection, pause: (@Sendable () throws -> Void)?) throws -> (integrated: Int, state: LogState)? {
        try holdingTheLog(on: connection) {
            var state = try LogState.read(on: connection, forUpdate: true, deadline: deadline)
            if state.target == nil {
                // Every event visible now is committed; the next statements see them all, and the events of the
                // transactions still open now come in a later delta.
                let text = try connection.execute("SELECT pg_current_snapshot()::text", deadline: deadline).rows.first?.first ?? nil
                guard let snapshot = text.flatMap(LogSnapshot.init) else { throw LogError.corruptState }
                state.target = snapshot
                state.last = .start
            }
            let delta = LogDelta(done: state.done, target: state.target!)
            let after = state.last
            let firstIndex = state.size
            var nodes: [CompactRange.Node] = []
            let count = try LogEventRows.read(delta, after: after, limit: configuration.batchLimit, on: connection, deadline: deadline) {
                position, leaf in
                state.range.append(leaf.hash) { nodes.append($0) }
                state.last = position
                state.lastAtMicroseconds = max(state.lastAtMicroseconds ?? .min, leaf.atMicroseconds)
            }
            if count > 0 {
                try LogTiles.append(nodes, on: connection)
                try pause?()
                try connection.execute(
                    """
                    INSERT INTO parstore_log_batches (first_index, size, done_snapshot, target_snapshot, after_xid, after_seq, last_xid, last_seq)
                    VALUES ($1, $2, $3::pg_snapshot, $4::pg_snapshot, $5::xid8, $6, $7::xid8, $8)
                    """,
                    [
                        String(firstIndex), String(count), delta.done.description, delta.target.description,
                        String(after.xid), String(after.seq), String(state.last.xid), String(state.last.seq),
                    ],
                    deadline: deadline
                )
            }
            if count < configuration.batchLimit {
                // The delta is whole: its snapshot is done.
                state.done = delta.target
                state.target = nil
                state.last = .start
            }
            try state.write(on: connection, deadline: deadline)
            return (count, state)
        }
    }

    /// Runs `body` in a transaction while holding the log's advisory lock; `nil` when another session holds it.
    /// The lock is the session's, taken before the transaction starts, so the transaction sees what the last
    /// holder committed; a session that dies releases it.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    private func holdingTheLog<T>(on connection: PGConnection, _ body: () throws -> T) throws -> T? {
        guard try connection.execute("SELECT pg_try_advisory_lock(\(Self.lockKey))", deadline: deadline).rows.first?.first == "t" else {
            return nil
        }
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock(\(Self.lockKey))", deadline: deadline) }
        try connection.executeScript("BEGIN", deadline: deadline)
        do {
            let result = try body()
            try connection.executeScript("COMMIT", deadline: deadline)
            return result
        } catch {
            _ = try? connection.executeScript("ROLLBACK", deadline: deadline)
            throw error
        }
    }

    /// Signs the committed tree if it grew since the last checkpoint, after proving it extends that checkpoint.
    /// `nil` when another node holds the log.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    private func sign(on connection: PGConnection) throws -> (checkpoint: Checkpoint?, size: UInt64)? {
        try holdingTheLog(on: connection) {
            let state = try LogState.read(on: connection, deadline: deadline)
            let latest = try LogCheckpoints.latest(on: connection, deadline: deadline)
            guard state.size > 0, state.size > latest?.checkpoint.size ?? 0 else { return (nil, state.size) }
            let checkpoint = Checkpoint(origin: configuration.signer.name, size: state.size, root: state.range.root)
            if let latest {
                let tiles = LogTiles(connection: connection)
                let proof = try MerkleProof.consistency(from: latest.checkpoint.size, to: state.size) { try tiles.node(level: $0, index: $1) }
                guard
                    MerkleProof.verifyConsistency(
                        oldSize: latest.checkpoint.size, oldRoot: latest.checkpoint.root,
                        newSize: state.size, newRoot: checkpoint.root, proof: proof
                    )
                else { throw LogError.inconsistentWithCheckpoint(size: latest.checkpoint.size, newSize: state.size) }
            }
            let note = try configuration.signer.sign(checkpoint.body)
            try LogCheckpoints.insert(checkpoint, note: note, lastAtMicroseconds: state.lastAtMicroseconds, on: connection, deadline: deadline)
            return (checkpoint, state.size)
        }
    }
}
