import Crypto
import Foundation

/// A request's pushed parameters sealed with its day's ``DataKey`` (AES-256-GCM), as the `pushed` event's payload
/// stores them: a JSON string, `"pse1.<base64 of nonce ‖ ciphertext ‖ tag>"`, where clear parameters (stored with
/// encryption off, or before it) are a JSON object — the two never mistaken for each other. The associated data binds
/// a sealed value to its request's ID and day: moved onto another request's row, it does not open.
public enum ParameterSeal {
    static let prefix = "pse1."

    /// The payload (JSON text) holding `parametersJSON` sealed for the request `requestID` of `day`.
    public static func seal(_ parametersJSON: String, requestID: [UInt8], day: PartitionDay, with key: DataKey) -> String {
        // Sealing with a fresh random nonce cannot fail for a 256-bit key.
        let box = try! AES.GCM.seal(Data(parametersJSON.utf8), using: key.key, authenticating: associatedData(requestID, day))
        return "\"" + prefix + box.combined!.base64EncodedString() + "\""
    }

    /// Whether a payload is sealed (a JSON string) rather than clear (an object).
    public static func isSealed(_ payload: String) -> Bool {
        payload.utf8.first == UInt8(ascii: "\"")
    }

    /// The parameters a sealed payload holds, or `nil` when it is not a sealed value of this request and day under
    /// this key (changed, moved from another row, or sealed under another key).
    public static func open(_ payload: String, requestID: [UInt8], day: PartitionDay, with key: DataKey) -> String? {
        let quoted = payload.utf8
        guard quoted.count > prefix.utf8.count + 2, quoted.last == UInt8(ascii: "\""),
            payload.dropFirst().hasPrefix(prefix),
            let combined = Data(base64Encoded: String(payload.dropFirst(1 + prefix.count).dropLast())),
            let box = try? AES.GCM.SealedBox(combined: combined),
            let clear = try? AES.GCM.open(box, using: key.key, authenticating: associatedData(requestID, day))
        else { return nil }
        return String(decoding: clear, as: UTF8.self)
    }

    private static func associatedData(_ requestID: [UInt8], _ day: PartitionDay) -> Data {
        Data(("parstore parameters 1\u{0}" + day.compact + "\u{0}").utf8) + requestID
    }
}
