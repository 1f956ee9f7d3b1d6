/// RFC 3339 timestamps in UTC, e.g. `2026-11-24T09:30:00.125Z`.
///
/// Written by hand: Foundation's ISO 8601 format style cost about 4% of a node's time on the redemption path.
public enum Timestamp {
    /// With milliseconds: the answers' timestamps.
    public static func rfc3339(millis: Int64) -> String {
        format(Int(millis), perSecond: 1000, digits: 3)
    }

    /// With microseconds, PostgreSQL's resolution: the exported log's timestamps.
    public static func rfc3339(microseconds: Int64) -> String {
        format(Int(microseconds), perSecond: 1_000_000, digits: 6)
    }

    private static func format(_ value: Int, perSecond: Int, digits: Int) -> String {
        let (seconds, fraction) = floorDivision(value, perSecond)
        let (days, secondOfDay) = floorDivision(seconds, 86_400)
        let date = PartitionDay(daysSince1970: days)
        return date.description + "T" + pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":"
            + pad(secondOfDay % 60, 2) + "." + pad(fraction, digits) + "Z"
    }

    private static func floorDivision(_ value: Int, _ divisor: Int) -> (quotient: Int, remainder: Int) {
        let remainder = ((value % divisor) + divisor) % divisor
        return ((value - remainder) / divisor, remainder)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
