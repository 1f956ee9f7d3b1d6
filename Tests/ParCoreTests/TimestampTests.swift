import ParCore
import Testing

@Suite struct TimestampTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (1_764_000_000_123, "2025-11-24T16:00:00.123Z"),
        (951_825_600_500, "2000-02-29T12:00:00.500Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
    ])
    func rfc3339_writesUTCWithMilliseconds(millis: Int64, expected: String) {
        #expect(Timestamp.rfc3339(millis: millis) == expected)
    }
}
