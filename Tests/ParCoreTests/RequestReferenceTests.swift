import Foundation
import ParCore
import Testing

@Suite struct RequestReferenceTests {
    @Test func rfc9126_2_2_mintsAURNWith256RandomBitsAndThePushDay() throws {
        let time = 1_795_000_000.0  // 2026-11-18T...Z
        let reference = RequestReference.mint(secondsSince1970: time)
        #expect(reference.requestURI.hasPrefix("urn:ietf:params:oauth:request_uri:v1.20261118."))
        let random = try #require(reference.value.split(separator: ".").last)
        #expect(random.count == 43, "43 base64url characters carry 258 bits, of which 256 random")
        #expect(reference.day == PartitionDay(secondsSince1970: time))
        let parsed = try #require(RequestReference(requestURI: reference.requestURI))
        #expect(parsed == reference)
        #expect(parsed.requestID == Secret.sha256(reference.value))
        #expect(parsed.requestIDHex.count == 64)
    }

    @Test func rfc6749_10_10_referencesDoNotRepeat() {
        let references = Set((0..<2000).map { _ in RequestReference.mint(secondsSince1970: 0).value })
        #expect(references.count == 2000)
    }

    @Test(arguments: [
        "v1.20261118.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  // no URN prefix
        "urn:ietf:params:oauth:request_uri:v2.20261118.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "urn:ietf:params:oauth:request_uri:v1.20261318.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "urn:ietf:params:oauth:request_uri:v1.20260230.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "urn:ietf:params:oauth:request_uri:v1.20261118.AAAA",
        "urn:ietf:params:oauth:request_uri:v1.20261118.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",
        "urn:ietf:params:oauth:request_uri:v1.20261118.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.x",
        "urn:ietf:params:oauth:request_uri:",
    ])
    func refusesAnythingParStoreCouldNotHaveIssued(_ uri: String) {
        #expect(RequestReference(requestURI: uri) == nil)
    }

    @Test func partitionDaysFollowTheUTCCalendar() {
        #expect(PartitionDay(secondsSince1970: 0).description == "1970-01-01")
        #expect(PartitionDay(secondsSince1970: 1_709_164_800).description == "2024-02-29")
        #expect(PartitionDay(secondsSince1970: 1_709_251_199).compact == "20240229")
        #expect(PartitionDay(secondsSince1970: 1_709_251_200).compact == "20240301")
        #expect(PartitionDay(secondsSince1970: 4_102_444_800).description == "2100-01-01")
        #expect(PartitionDay(compact: "20000229") != nil)
        #expect(PartitionDay(compact: "21000229") == nil)
    }
}
