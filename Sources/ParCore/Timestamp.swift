/// RFC 3339 timestamps in UTC with milliseconds, e.g. `2026-11-24T09:30:00.125Z`.
///
/// Written by hand: Foundation's ISO 8601 format style cost about 4% of a node's time on the redemption path.
public enum Timestamp {
    public static func rfc3339(millis: Int64) -> String {
        let (seconds, milli) = floorDivision(Int(millis), 1000)
        let (days, secondOfDay) = floorDivision(seconds, 86_400)
        let date = PartitionDay(daysSince1970: days)
        return date.description + "T" + pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":"
            + pad(secondOfDay % 60, 2) + "." + pad(milli, 3) + "Z"
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
