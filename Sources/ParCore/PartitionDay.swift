/// A UTC calendar day: the partition of the event log that a request's events live in.
///
/// It is carried inside the `request_uri` itself, so every later event of a request finds its partition
/// without a lookup.
public struct PartitionDay: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    /// The day that contains `secondsSince1970` (UTC).
    public init(secondsSince1970: Double) {
        self.init(daysSince1970: Int((secondsSince1970 / 86_400).rounded(.down)))
    }

    /// The day `days` after 1970-01-01.
    public init(daysSince1970 days: Int) {
        // Civil-from-days (proleptic Gregorian), valid for any day count.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        self.year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        self.month = month
        self.day = day
    }

    /// Parses `yyyymmdd`; `nil` unless it names a real day.
    public init?(compact text: Substring) {
        guard text.utf8.count == 8, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let value = Int(text)
        else { return nil }
        let (year, month, day) = (value / 10_000, value / 100 % 100, value % 100)
        guard (2000...9999).contains(year), (1...12).contains(month), (1...Self.days(inMonth: month, year: year)).contains(day)
        else { return nil }
        (self.year, self.month, self.day) = (year, month, day)
    }

    private static func days(inMonth month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// `yyyymmdd`, as in a request reference.
    public var compact: String {
        String(year) + Self.twoDigits(month) + Self.twoDigits(day)
    }

    /// `yyyy-mm-dd`, as PostgreSQL's `date` reads it.
    public var description: String {
        String(year) + "-" + Self.twoDigits(month) + "-" + Self.twoDigits(day)
    }

    private static func twoDigits(_ value: Int) -> String {
        value < 10 ? "0" + String(value) : String(value)
    }

    /// Days since 1970-01-01 (days-from-civil, the inverse of ``init(daysSince1970:)``).
    public var daysSince1970: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The day `count` days later (earlier when negative).
    public func adding(days count: Int) -> PartitionDay {
        PartitionDay(daysSince1970: daysSince1970 + count)
    }

    public static func < (lhs: PartitionDay, rhs: PartitionDay) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }
}
