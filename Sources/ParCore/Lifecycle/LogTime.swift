/// A moment on the event log's clock (PostgreSQL's `now()`), in microseconds since 1970: the precision of the
/// log's timestamps, so that "before its deadline" means the same here as in the database.
public struct LogTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var microseconds: Int64

    public init(microseconds: Int64) {
        self.microseconds = microseconds
    }

    public init(millis: Int64) {
        self.microseconds = millis * 1000
    }

    /// From seconds since 1970 as PostgreSQL's `extract(epoch FROM …)` gives them (six decimals).
    public init(seconds: Double) {
        self.microseconds = Int64((seconds * 1_000_000).rounded())
    }

    /// Milliseconds since 1970, rounded down, as the HTTP faces report times.
    public var millis: Int64 { microseconds.floorDivided(by: 1000) }

    public var seconds: Double { Double(microseconds) / 1_000_000 }

    public static func < (a: LogTime, b: LogTime) -> Bool { a.microseconds < b.microseconds }

    public static func + (time: LogTime, duration: Duration) -> LogTime {
        LogTime(microseconds: time.microseconds + duration.microseconds)
    }

    public static func - (time: LogTime, duration: Duration) -> LogTime {
        LogTime(microseconds: time.microseconds - duration.microseconds)
    }

    /// The time from `b` to `a`.
    public static func - (a: LogTime, b: LogTime) -> Duration {
        .microseconds(a.microseconds - b.microseconds)
    }

    public var description: String { "\(microseconds) µs" }
}

extension Duration {
    /// The duration in whole microseconds (rounded toward zero).
    var microseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }
}

extension Int64 {
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
