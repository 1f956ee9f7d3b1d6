import Foundation
import ParCore
import Testing

@Suite("Parameters sealed under day keys, and the keys that wrap them")
struct DataProtectionUnitTests {
    let day = PartitionDay(daysSince1970: 20_000)
    let requestID = Array(repeating: UInt8(7), count: 32)
    let parameters = #"{"login_hint":"alice@example.com","scope":"openid"}"#

    @Test func sealedParametersOpenOnlyForTheirRequestDayAndKey() throws {
        let key = DataKey.generate()
        let sealed = ParameterSeal.seal(parameters, requestID: requestID, day: day, with: key)
        #expect(ParameterSeal.isSealed(sealed) && !ParameterSeal.isSealed(parameters))
        #expect(sealed.hasPrefix("\"pse1.") && sealed.hasSuffix("\"") && !sealed.contains("alice"))
        // A JSON string: what PostgreSQL's jsonb stores and gives back as is.
        #expect(try JSONSerialization.jsonObject(with: Data(sealed.utf8), options: .fragmentsAllowed) is String)
        #expect(ParameterSeal.open(sealed, requestID: requestID, day: day, with: key) == parameters)

        var otherID = requestID
        otherID[31] ^= 1
        #expect(ParameterSeal.open(sealed, requestID: otherID, day: day, with: key) == nil, "moved to another request")
        #expect(ParameterSeal.open(sealed, requestID: requestID, day: day.adding(days: 1), with: key) == nil, "another day")
        #expect(ParameterSeal.open(sealed, requestID: requestID, day: day, with: .generate()) == nil, "another key")
        var bytes = Array(sealed.utf8)
        bytes[20] = bytes[20] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(ParameterSeal.open(String(decoding: bytes, as: UTF8.self), requestID: requestID, day: day, with: key) == nil, "changed")
        for broken in ["\"pse1.\"", "\"pse2.AAAA\"", "\"pse1.!!!!\"", "{}", "\"", ""] {
            #expect(ParameterSeal.open(broken, requestID: requestID, day: day, with: key) == nil, "\(broken)")
        }
        // A fresh nonce each time.
        #expect(ParameterSeal.seal(parameters, requestID: requestID, day: day, with: key) != sealed)
    }

    @Test func storedParametersTellSealedFromClear() {
        #expect(StoredParameters(payload: parameters, requestID: requestID, day: day) == .clear(parameters))
        #expect(StoredParameters(payload: nil, requestID: requestID, day: day) == .clear("{}"))
        #expect(StoredParameters(payload: "\"pse1.x\"", requestID: requestID, day: day) == .sealed("\"pse1.x\"", requestID: requestID, day: day))
    }

    @Test func aKeyEncryptionKeyUnwrapsOnlyWhatItWrappedForThatDay() throws {
        let kek = KeyEncryptionKey.generate()
        let dataKey = DataKey.generate()
        let wrapped = kek.wrap(dataKey, day: day)
        #expect(wrapped.count == 12 + 32 + 16)
        let unwrapped = try #require(kek.unwrap(wrapped, day: day))
        let sealed = ParameterSeal.seal(parameters, requestID: requestID, day: day, with: dataKey)
        #expect(ParameterSeal.open(sealed, requestID: requestID, day: day, with: unwrapped) == parameters)
        #expect(kek.unwrap(wrapped, day: day.adding(days: -1)) == nil, "moved to another day")
        #expect(KeyEncryptionKey.generate().unwrap(wrapped, day: day) == nil, "another key")
        #expect(kek.unwrap(Array(wrapped.dropLast()), day: day) == nil)
    }

    @Test func keyFilesHoldTheCurrentKeyFirstAndRefuseAnythingElse() throws {
        let (first, second) = (KeyEncryptionKey.generate(), KeyEncryptionKey.generate())
        let text = "# rotated 2026-12-01\n\n" + second.encoded + "\n  " + first.encoded + "  \n"
        let keys = try #require(KeyEncryptionKeys(text: text))
        #expect(keys.current.id == second.id && keys.all.map(\.id) == [second.id, first.id])
        #expect(keys.key(id: first.id)?.encoded == first.encoded && keys.key(id: "00000000") == nil)
        #expect(KeyEncryptionKeys(text: keys.encoded)?.all.map(\.id) == keys.all.map(\.id), "round trip")
        #expect(first.id.count == 8 && first.id != second.id)
        for bad in [
            "", "# nothing\n", first.encoded + "\n" + first.encoded, "PARSTORE-KEK-1:AAAA", "PARSTORE-KEK-2:" + String(first.encoded.dropFirst(15)),
            "junk",
        ] {
            #expect(KeyEncryptionKeys(text: bad) == nil, "\(bad)")
        }
    }

    @Test func daysCountBothWays() {
        for days in [-800_000, -1, 0, 1, 59, 60, 365, 11_016, 20_000, 2_932_896] {
            let day = PartitionDay(daysSince1970: days)
            #expect(day.daysSince1970 == days, "\(day)")
            #expect(day.adding(days: 1) > day && day.adding(days: 1).adding(days: -1) == day)
        }
        #expect(PartitionDay(compact: "20241231")?.adding(days: 1).description == "2025-01-01")
        #expect(PartitionDay(compact: "20240228")?.adding(days: 1).description == "2024-02-29")
    }
}
