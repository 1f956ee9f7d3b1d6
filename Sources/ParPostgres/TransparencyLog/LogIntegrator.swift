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
        // The log's lock is the session's, taken before any transaction starts, so each transaction sees what the last
        // holder committed; a session that dies releases it.
        guard try connection.execute("SELECT pg_try_advisory_lock(\(Self.lockKey))", deadline: deadline).rows.first?.first == "t" else {
            progress.busy = true
            return progress
        }
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock(\(Self.lockKey))", deadline: deadline) }
        try connection.execute("SELECT parstore_log_summarize()", deadline: deadline)
        // A delta is taken in chunks of a range of xids: each chunk's statement sorts only that range's events, so a
        // large delta (a backlog) costs in proportion to its size. Each range is sized from the density of the last.
        var chunk = Chunk(floor: nil, xids: 1024)
        while progress.integrated < configuration.runLimit {
            let step = try integrate(on: connection, chunk: chunk, pause: pause)
            progress.integrated += step.integrated
            progress.size = step.state.size
            progress.lastAtMicroseconds = step.state.lastAtMicroseconds
            guard let next = step.next else { break }
            // The next range holds about half a batch at the density just met (four times the range when it was empty).
            let density = Double(step.integrated) / Double(max(1, next - step.from))
            let xids = density > 0 ? Double(configuration.batchLimit) / 2 / density : Double(chunk.xids) * 4
            chunk = Chunk(floor: next, xids: UInt64(min(max(xids, 1), Double(1 << 40))))
        }
        let signed = try sign(on: connection)
        progress.signed = signed.checkpoint
        progress.size = max(progress.size, signed.size)
        return progress
    }

    /// Where the next chunk of a delta starts (no event of the delta below `floor` is left; `nil`: from the state's
    /// last event), and how many xids it spans.
    private struct Chunk {
        var floor: UInt64?
        var xids: UInt64
    }

    private var deadline: ContinuousClock.Instant { .now + configuration.timeout }

    /// One transaction: the next chunk of the delta becomes leaves; `next` is `nil` once the delta is whole.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    private func integrate(
        on connection: PGConnection,
        chunk: Chunk,
        pause: (@Sendable () throws -> Void)?
    ) throws -> (integrated: Int, state: LogState, from: UInt64, next: UInt64?) {
        try transaction(on: connection) {
            var state = try LogState.read(on: connection, forUpdate: true, deadline: deadline)
            var floor = chunk.floor
            if state.target == nil {
                // Every event visible now is committed; the next statements see them all, and the events of the
                // transactions still open now come in a later delta.
                let text = try connection.execute("SELECT pg_current_snapshot()::text", deadline: deadline).rows.first?.first ?? nil
                guard let snapshot = text.flatMap(LogSnapshot.init) else { throw LogError.corruptState }
                state.target = snapshot
                state.last = .start
                floor = nil
            }
            let delta = LogDelta(done: state.done, target: state.target!)
            let after = state.last
            let from = max(delta.done.xmin, after.xid, floor ?? 0)
            let below = min(delta.target.xmax, from + chunk.xids)
            let firstIndex = state.size
            var nodes: [CompactRange.Node] = []
            let count = try LogEventRows.read(
                delta,
                after: after,
                through: LogPosition(xid: below - 1, seq: .max),
                limit: configuration.batchLimit,
                on: connection,
                deadline: deadline
            ) { position, leaf in
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
            // A full chunk may have more events of its last xid; a short one has taken every event below `below`.
            let next: UInt64? = count >= configuration.batchLimit ? state.last.xid : below < delta.target.xmax ? below : nil
            if next == nil {
                // The delta is whole: its snapshot is done.
                state.done = delta.target
                state.target = nil
                state.last = .start
            }
            if count > 0 || next == nil { try state.write(on: connection, deadline: deadline) }
            return (count, state, from, next)
        }
    }

    @available(*, noasync, message: "blocking: call from a thread of its own")
    private func transaction<T>(on connection: PGConnection, _ body: () throws -> T) throws -> T {
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
    @available(*, noasync, message: "blocking: call from a thread of its own")
    private func sign(on connection: PGConnection) throws -> (checkpoint: Checkpoint?, size: UInt64) {
        try transaction(on: connection) {
            let state = try LogState.read(on: connection, deadline: deadline)
            let latest = try LogCheckpoints.latest(on: connection, deadline: deadline)
            guard state.size > 0, state.size > latest?.checkpoint.size ?? 0 else { return (nil, state.size) }
            let checkpoint = Checkpoint(origin: configuration.signer.name, size: state.size, root: state.range.root)
            if let latest {
                let tiles = LogTiles(connection: connection)
                let proof = try MerkleProof.consistency(from: latest.checkpoint.size, to: state.size) { try tiles.node(level: $0, index: $1) }
                guard
                    MerkleProof.verifyConsistency(
                        oldSize: latest.checkpoint.size,
                        oldRoot: latest.checkpoint.root,
                        newSize: state.size,
                        newRoot: checkpoint.root,
                        proof: proof
                    )
                else { throw LogError.inconsistentWithCheckpoint(size: latest.checkpoint.size, newSize: state.size) }
            }
            let note = try configuration.signer.sign(checkpoint.body)
            try LogCheckpoints.insert(checkpoint, note: note, lastAtMicroseconds: state.lastAtMicroseconds, on: connection, deadline: deadline)
            return (checkpoint, state.size)
        }
    }
}
