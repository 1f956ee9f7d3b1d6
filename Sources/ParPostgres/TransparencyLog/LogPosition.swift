/// An event's place within its delta, `(xid, seq)`: its transaction's id, then its sequence number.
public struct LogPosition: Sendable, Hashable, Comparable {
    public var xid: UInt64
    public var seq: Int64

    public init(xid: UInt64, seq: Int64) {
        self.xid = xid
        self.seq = seq
    }

    /// Before every event.
    public static let start = LogPosition(xid: 0, seq: 0)
    /// After every event.
    public static let end = LogPosition(xid: UInt64(Int64.max), seq: .max)

    public static func < (a: LogPosition, b: LogPosition) -> Bool {
        (a.xid, a.seq) < (b.xid, b.seq)
    }
}

/// A PostgreSQL snapshot (`pg_snapshot`, `xmin:xmax:xip,…`): the transactions whose effects it sees.
public struct LogSnapshot: Sendable, Hashable, CustomStringConvertible {
    public let description: String
    /// Every transaction below it has ended.
    public let xmin: UInt64
    /// No transaction from it on is seen.
    public let xmax: UInt64

    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, let xmin = UInt64(parts[0]), let xmax = UInt64(parts[1]), xmin <= xmax else { return nil }
        self.description = text
        self.xmin = xmin
        self.xmax = xmax
    }
}

/// The events the integrator takes at once: those visible in `target` and not in `done` (their transactions
/// committed between the two snapshots), in (xid, seq) order.
public struct LogDelta: Sendable, Hashable {
    public var done: LogSnapshot
    public var target: LogSnapshot
}
