/// What retention took out of the database: the leaf indices of one partition day's events, signed with the log's key
/// as the body of a ``SignedNote`` (so that only the log's key holder can declare leaves gone, and a row deleted by
/// anyone else is still named by the audit). The leaves themselves stay in the tree: their hashes are in the tiles
/// and under every checkpoint.
///
/// The text: the origin, `pruned <YYYY-MM-DD>`, then one `<first index>+<count>` line per run of indices, each line
/// ending in a newline.
public struct LogPruning: Sendable, Equatable {
    public var origin: String
    public var day: PartitionDay
    /// Disjoint, ascending.
    public var ranges: [Range<UInt64>]

    /// The pruning of `indices` (in any order).
    public init(origin: String, day: PartitionDay, indices: [UInt64]) {
        self.origin = origin
        self.day = day
        var ranges: [Range<UInt64>] = []
        for index in Set(indices).sorted() {
            if let last = ranges.last, last.upperBound == index {
                ranges[ranges.count - 1] = last.lowerBound..<index + 1
            } else {
                ranges.append(index..<index + 1)
            }
        }
        self.ranges = ranges
    }

    /// How many leaves.
    public var count: UInt64 { ranges.reduce(0) { $0 + UInt64($1.count) } }

    /// The note text.
    public var body: String {
        "\(origin)\npruned \(day)\n" + ranges.map { "\($0.lowerBound)+\($0.count)\n" }.joined()
    }

    /// Reads a pruning's text.
    public init?(body: String) {
        guard body.hasSuffix("\n") else { return nil }
        let lines = body.dropLast().split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 2, !lines[0].isEmpty, lines[1].hasPrefix("pruned "),
            let day = PartitionDay(compact: Substring(lines[1].dropFirst(7).filter { $0 != "-" })), lines[1].count == 17
        else { return nil }
        var ranges: [Range<UInt64>] = []
        for line in lines.dropFirst(2) {
            let parts = line.split(separator: "+", omittingEmptySubsequences: false)
            guard parts.count == 2, let first = UInt64(parts[0]), let count = UInt64(parts[1]), count > 0,
                String(first) == parts[0], String(count) == parts[1], first <= UInt64.max - count,
                first >= ranges.last?.upperBound ?? 0
            else { return nil }
            ranges.append(first..<first + count)
        }
        (self.origin, self.day, self.ranges) = (String(lines[0]), day, ranges)
    }
}

/// The leaf indices whose events retention took out, from the prunings that verify.
public struct PrunedLeaves: Sendable {
    /// Disjoint, ascending.
    private let ranges: [Range<UInt64>]

    public init(_ prunings: [LogPruning] = []) {
        var merged: [Range<UInt64>] = []
        for range in prunings.flatMap(\.ranges).sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, range.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        self.ranges = merged
    }

    public var isEmpty: Bool { ranges.isEmpty }

    /// Whether the event of leaf `index` was pruned.
    public func contains(_ index: UInt64) -> Bool {
        var (low, high) = (0, ranges.count)
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle].upperBound <= index { low = middle + 1 } else { high = middle }
        }
        return low < ranges.count && ranges[low].contains(index)
    }

    /// How many leaves of `range` were pruned.
    public func count(in range: Range<UInt64>) -> UInt64 {
        ranges.reduce(0) { total, pruned in
            let overlap =
                max(pruned.lowerBound, range.lowerBound)..<max(max(pruned.lowerBound, range.lowerBound), min(pruned.upperBound, range.upperBound))
            return total + UInt64(overlap.count)
        }
    }
}
