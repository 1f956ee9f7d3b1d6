import Foundation
import ParCore
import Testing

@Suite struct SecretTests {
    @Test func rfc4648_5_base64URLMatchesTheStandardEncodingWithoutPadding() {
        var generator = SystemRandomNumberGenerator()
        for length in 0...40 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let reference = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            #expect(Secret.base64URL(bytes) == reference, "length \(length)")
        }
    }

    @Test func randomValuesHaveTheAskedEntropyAndDoNotRepeat() {
        let values = (0..<1000).map { _ in Secret.random(byteCount: 32) }
        #expect(values.allSatisfy { $0.count == 43 })
        #expect(Set(values).count == values.count)
        #expect(Secret.random(byteCount: 24).count == 32)
    }

    @Test func hexRoundTrips() {
        let bytes: [UInt8] = [0, 1, 0x7f, 0x80, 0xff]
        #expect(Secret.hex(bytes) == "00017f80ff")
        #expect(Secret.bytes(fromHex: "00017F80ff") == bytes)
        #expect(Secret.bytes(fromHex: "0g") == nil)
    }
}
