public import ParCore

/// What `parstore audit --verify-log` found: the tree recomputed from the events, against the stored tree, every
/// stored checkpoint and the checkpoints an auditor kept.
public struct LogVerification: Sendable {
    /// Leaves recomputed from the events.
    public var leaves: UInt64 = 0
    /// The size the log's state claims.
    public var claimedSize: UInt64 = 0
    /// Stored checkpoints whose signature and root were checked.
    public var storedCheckpoints = 0
    /// Kept checkpoints (the auditor's files) checked.
    public var keptCheckpoints = 0
    /// Days whose events retention took out, by signed prunings: their leaves are checked against the tree only.
    public var prunedDays = 0
    /// Leaves whose events retention took out.
    public var prunedLeaves: UInt64 = 0
    /// The first leaf whose event no longer hashes to the leaf integrated at its index.
    public var firstDifference: Difference?
    /// Every problem, in the order found; empty when the log verifies.
    public var problems: [String] = []

    public struct Difference: Sendable {
        public var index: UInt64
        /// The event now at that index, if any.
        public var position: LogPosition?
        public var kind: String?
    }

    public var verifies: Bool { problems.isEmpty }
}

extension LogReader {
    /// Recomputes the tree from the events (in one snapshot) and checks it against the stored tree and the
    /// checkpoints: the stored ones (signature by `verifier`, and root) and `kept` (notes the auditor kept).
    @available(*, noasync, message: "blocking: call from a thread of its own")
    public func verify(kept: [(name: String, note: String)], verifier: NoteVerifier) throws -> LogVerification {
        try connection.executeScript("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        defer { _ = try? connection.executeScript("COMMIT") }
        var report = LogVerification()
        let state = try state()
        report.claimedSize = state.size

        // The roots the recomputed tree must have at each size.
        var expected: [UInt64: [(label: String, root: TreeHash)]] = [:]
        func expect(_ label: String, note text: String) {
            guard let note = SignedNote(text), let checkpoint = Checkpoint(body: note.text) else {
                report.problems.append("\(label): not a signed checkpoint")
                return
            }
            guard checkpoint.origin == verifier.name, verifier.verifies(note) else {
                report.problems.append("\(label): its signature does not verify with the key \(verifier.name)")
                return
            }
            expected[checkpoint.size, default: []].append((label, checkpoint.root))
        }
        let stored = try connection.execute("SELECT size, encode(root, 'hex'), note FROM parstore_log_checkpoints ORDER BY size").rows
        for row in stored {
            let label = "stored checkpoint \(row[0] ?? "?")"
            let text = row[2] ?? ""
            let signedRoot = SignedNote(text).flatMap { Checkpoint(body: $0.text) }
            if signedRoot?.size != row[0].flatMap({ UInt64($0) }) || signedRoot.map({ Secret.hex($0.root.bytes) }) != row[1] {
                report.problems.append("\(label): its size or root column differs from its signed note")
            }
            expect(label, note: text)
            report.storedCheckpoints += 1
        }
        for (name, note) in kept {
            expect("kept checkpoint \(name)", note: note)
            report.keptCheckpoints += 1
        }

        // What retention took out, by the prunings the log's key signed: those leaves are taken from the tree.
        let (pruned, prunedDays, pruningProblems) = try prunings(verifier: verifier)
        report.problems += pruningProblems
        report.prunedDays = prunedDays

        // The events, delta by delta: each delta is read whole (not only the ranges its batches recorded), so an
        // event slipped in anywhere is read too.
        let tiles = LogTiles(connection: connection)
        var range = CompactRange()
        func append(_ hash: TreeHash) {
            range.append(hash)
            for (label, root) in expected[range.size] ?? [] where root != range.root {
                report.problems.append("\(label): the events give another root at size \(range.size)")
            }
        }
        /// The leaves retention took out from `range.size` on (up to `limit`), as the tree holds them.
        func appendPruned(upTo limit: UInt64) throws {
            while range.size < limit, pruned.contains(range.size) {
                append(try tiles.node(level: 0, index: range.size))
                report.prunedLeaves += 1
            }
        }
        var deltas: [(delta: LogDelta, firstIndex: UInt64, size: Int, ends: [LogPosition])] = []
        for batch in try batches(from: 0) {
            if let last = deltas.last, last.delta == batch.delta {
                deltas[deltas.count - 1].size += batch.size
                deltas[deltas.count - 1].ends.append(batch.last)
            } else {
                deltas.append((batch.delta, batch.firstIndex, batch.size, [batch.last]))
            }
        }
        for (delta, firstIndex, size, ends) in deltas {
            if firstIndex != range.size {
                report.problems.append("integrated leaves \(firstIndex)… follow leaf \(range.size)")
            }
            let start = range.size
            // Read in the segments the batches recorded (each a narrow range of xids), then past the last one: the
            // delta being integrated as far as it was integrated, any other to its end.
            let tail = state.target.map { LogDelta(done: state.done, target: $0) } == delta ? state.last : .end
            var after = LogPosition.start
            for end in ends + [max(tail, ends.last!)] {
                _ = try LogEventRows.read(delta, after: after, through: end, pageSize: pageSize, on: connection) { position, leaf in
                    try appendPruned(upTo: start + UInt64(size))
                    let hash = leaf.hash
                    let index = range.size
                    if report.firstDifference == nil, (try? tiles.node(level: 0, index: index)) != hash {
                        report.firstDifference = .init(index: index, position: position, kind: leaf.kind)
                    }
                    append(hash)
                }
                after = max(after, end)
            }
            try appendPruned(upTo: start + UInt64(size))
            if range.size - start != UInt64(size) && report.firstDifference == nil {
                report.firstDifference = .init(index: start + min(range.size - start, UInt64(size)))
            }
        }
        report.leaves = range.size

        if range.size != state.size {
            report.problems.append("the events give \(range.size) leaves; the log integrated \(state.size)")
            if report.firstDifference == nil { report.firstDifference = .init(index: min(range.size, state.size)) }
        } else if range.root != state.range.root {
            report.problems.append("the events give another root than the stored tree's")
        }
        for size in expected.keys.sorted() where size > range.size {
            for (label, _) in expected[size]! {
                report.problems.append("\(label): the log has only \(range.size) leaves, not \(size) (truncated, or restored from an older backup)")
            }
        }
        if let difference = report.firstDifference {
            let at = difference.position.map { " (now the \(difference.kind ?? "?") event of xid \($0.xid), seq \($0.seq))" } ?? ""
            report.problems.insert("leaf \(difference.index) differs from the leaf integrated at that index\(at)", at: 0)
        }
        return report
    }
}
