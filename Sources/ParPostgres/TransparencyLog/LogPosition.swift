/// An event's place in the log's order, `(xid, seq)`: its transaction's id, then its sequence number. The
/// integrator takes events in this order once every transaction below them has ended, so a late commit (a smaller
/// seq, a larger xid) comes after what was already integrated, and nothing is skipped.
public struct LogPosition: Sendable, Hashable, Comparable {
    public var xid: UInt64
    public var seq: Int64

    public init(xid: UInt64, seq: Int64) {
        self.xid = xid
        self.seq = seq
    }

    /// Before every event.
    public static let start = LogPosition(xid: 0, seq: 0)

    public static func < (a: LogPosition, b: LogPosition) -> Bool {
        (a.xid, a.seq) < (b.xid, b.seq)
    }
}
