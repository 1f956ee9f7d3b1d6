import ParCore
import Testing

@Suite struct StorableTextTests {
    @Test(arguments: [
        #"{"a":"b"}"#, #"{"a\u00e9":"\ud83d\ude00"}"#, #"["\\u0000 is text here"]"#, #"{"a":"\n\t\"\\"}"#, "[]", #""\u0001""#,
    ])
    func storableJSONIsAccepted(_ text: String) {
        #expect(StorableText.isStorableJSON(Array(text.utf8)))
    }

    @Test(arguments: [
        #"{"a\u0000":null}"#, #"{"a":"\u0000"}"#, #"["\ud800"]"#, #"["\udc00"]"#, #"["\ud800\u0041"]"#, #"["\ud800x"]"#,
        #"["\ud83d"]"#, #"["\udbff\udbff"]"#, "{\"a\":\"\u{0}\"}",
    ])
    func nulAndUnpairedSurrogatesAreRefused(_ text: String) {
        #expect(!StorableText.isStorableJSON(Array(text.utf8)))
    }

    @Test func formValuesWithANULAreNotStorable() {
        #expect(StorableText.isStorable("plain é"))
        #expect(!StorableText.isStorable("a\u{0}b"))
    }
}

@Suite struct SingleUseTests {
    /// The same JWT maps to the same day whenever it is checked, so a replay across midnight meets its first use.
    @Test func theDayComesFromTheClaimsNotTheClock() {
        let midnight = 1_795_046_400.0  // 2026-11-19T00:00:00Z
        let first = SingleUse(namespace: "jti", parts: ["c", "j"], acceptedUntil: midnight + 30, now: midnight - 20, margin: 10)
        let replay = SingleUse(namespace: "jti", parts: ["c", "j"], acceptedUntil: midnight + 30, now: midnight + 5, margin: 10)
        #expect(first.day == replay.day)
        #expect(first.hash == replay.hash)
        #expect(first.day.description == "2026-11-19")
    }

    /// Times at the edge of their type are bounded before any conversion: no trap, never kept for ever.
    @Test(arguments: [1e16, 1e300, Double.infinity, -Double.infinity, Double.nan, -5, 9.3e18])
    func lifetimesAreBounded(_ acceptedUntil: Double) {
        let now = 1_795_000_000.0
        let use = SingleUse(namespace: "jti", parts: ["c", "j"], acceptedUntil: acceptedUntil, now: now, margin: 10)
        #expect(use.lifetime >= .seconds(1))
        #expect(use.lifetime <= SingleUse.longestLifetime)
    }

    @Test func aUsualAssertionIsKeptUntilItExpiresPlusTheMargin() {
        let use = SingleUse(namespace: "jti", parts: ["c", "j"], acceptedUntil: 1060, now: 1000, margin: 10)
        #expect(use.lifetime == .seconds(70))
        #expect(SingleUse(namespace: "dpop", parts: ["c", "j"], acceptedUntil: 1060, now: 1000, margin: 10).hash != use.hash)
    }
}
