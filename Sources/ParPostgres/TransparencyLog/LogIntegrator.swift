public import ParCore
import ParWorker
import Synchronization

/// Gives committed events their leaf indices and signs checkpoints (ARCHITECTURE §4, "Tamper evidence").
///
/// Every node may run one; an advisory lock lets one at a time work, and any other takes over when it stops. Each
/// run integrates, in short transactions of at most ``Configuration/batchLimit`` events, the events of the
/// transactions that ended since the last run — those below `pg_snapshot_xmin`, in (xid, seq) order — then, once
/// that is committed (and so held by a synchronous standby where there is one), checks that the tree extends the
/// last signed checkpoint and signs the next. It has its own connection: it never waits behind the request path,
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

    /// One transaction: the next events below the horizon become leaves. `nil` when another node holds the log.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    private func integrate(on connection: PGConnection, pause: (@Sendable () throws -> Void)?) throws -> (integrated: Int, state: LogState)? {
        try connection.executeScript("BEGIN", deadline: deadline)
        do {
            guard try locked(on: connection) else {
                try connection.executeScript("ROLLBACK", deadline: deadline)
                return nil
            }
            var state = try LogState.read(on: connection, forUpdate: true, deadline: deadline)
            // Every transaction below the horizon has ended: its events are all visible to the next statement,
            // and none can appear later.
            let horizonRows = try connection.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text", deadline: deadline).rows
            guard let horizon = horizonRows.first?.first.flatMap({ $0 }).flatMap({ UInt64($0) }), horizon > 0 else {
                throw LogError.corruptState
            }
            let rows = try connection.execute(
                LogEventRows.between,
                LogEventRows.parameters(after: state.last, through: LogPosition(xid: horizon - 1, seq: .max), limit: configuration.batchLimit),
                deadline: deadline
            ).rows
            guard !rows.isEmpty else {
                try connection.executeScript("COMMIT", deadline: deadline)
                return (0, state)
            }
            let firstIndex = state.size
            var first: LogPosition? = nil
            var nodes: [CompactRange.Node] = []
            nodes.reserveCapacity(rows.count * 2)
            for row in rows {
                guard let (position, leaf) = LogEventRows.leaf(from: row) else {
                    throw LogError.undecodableEvent(xid: row.first ?? nil, seq: row.count > 1 ? row[1] : nil)
                }
                if first == nil { first = position }
                state.range.append(leaf.hash) { nodes.append($0) }
                state.last = position
                state.lastAtMicroseconds = max(state.lastAtMicroseconds ?? .min, leaf.atMicroseconds)
            }
            try LogTiles.append(nodes, on: connection)
            try pause?()
            try connection.execute(
                """
                UPDATE parstore_log_state
                SET size = $1, last_xid = $2::xid8, last_seq = $3, range = decode($4, 'hex'),
                    last_at = to_timestamp($5::double precision / 1000000), integrated_at = now()
                WHERE id = 1
                """,
                [
                    String(state.size), String(state.last.xid), String(state.last.seq),
                    Secret.hex(state.range.hashes.flatMap(\.bytes)), state.lastAtMicroseconds.map { String($0) },
                ],
                deadline: deadline
            )
            try connection.execute(
                """
                INSERT INTO parstore_log_batches (first_index, size, first_xid, first_seq, last_xid, last_seq)
                VALUES ($1, $2, $3::xid8, $4, $5::xid8, $6)
                """,
                [
                    String(firstIndex), String(rows.count), String(first!.xid), String(first!.seq),
                    String(state.last.xid), String(state.last.seq),
                ],
                deadline: deadline
            )
            try connection.executeScript("COMMIT", deadline: deadline)
            return (rows.count, state)
        } catch {
            _ = try? connection.executeScript("ROLLBACK", deadline: deadline)
            throw error
        }
    }

    @available(*, noasync, message: "blocking: call from a thread of its own")
    private func locked(on connection: PGConnection) throws -> Bool {
        try connection.execute("SELECT pg_try_advisory_xact_lock(\(Self.lockKey))", deadline: deadline).rows.first?.first == "t"
    }

    /// Signs the committed tree if it grew since the last checkpoint, after proving it extends that checkpoint.
    /// `nil` when another node holds the log.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    private func sign(on connection: PGConnection) throws -> (checkpoint: Checkpoint?, size: UInt64)? {
        try connection.executeScript("BEGIN", deadline: deadline)
        do {
            guard try locked(on: connection) else {
                try connection.executeScript("ROLLBACK", deadline: deadline)
                return nil
            }
            let state = try LogState.read(on: connection, deadline: deadline)
            let latest = try LogCheckpoints.latest(on: connection, deadline: deadline)
            guard state.size > 0, state.size > latest?.checkpoint.size ?? 0 else {
                try connection.executeScript("COMMIT", deadline: deadline)
                return (nil, state.size)
            }
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
            try connection.executeScript("COMMIT", deadline: deadline)
            return (checkpoint, state.size)
        } catch {
            _ = try? connection.executeScript("ROLLBACK", deadline: deadline)
            throw error
        }
    }
}
