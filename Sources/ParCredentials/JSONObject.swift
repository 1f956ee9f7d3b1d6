import Foundation
import ParCore

/// A parsed JSON object (a JWS header or claims set, a JWK), read through typed accessors.
///
/// Immutable once made; the values are Foundation's JSON types.
public struct JSONObject: @unchecked Sendable {
    public let members: [String: Any]

    public init(_ members: [String: Any]) { self.members = members }

    /// Parses `bytes` as a JSON object; `nil` also when it holds what storage refuses (``StorableText``), so that
    /// no claim of a verified JWT can fail a write later.
    public init?(parsing bytes: [UInt8]) {
        guard StorableText.isStorableJSON(bytes),
            let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
        else { return nil }
        self.members = object
    }

    public func contains(_ name: String) -> Bool { members[name] != nil }

    /// Whether a parsed JSON value is `true` or `false` (Foundation bridges 0 and 1 to `Bool` too).
    static func isBoolean(_ value: Any?) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return String(cString: number.objCType) == "c"
    }

    public func string(_ name: String) -> String? { members[name] as? String }

    /// An integer member (JSON number without fraction), e.g. a NumericDate.
    public func integer(_ name: String) -> Int64? {
        guard let number = members[name] as? NSNumber, !Self.isBoolean(number) else { return nil }
        let value = number.doubleValue
        guard value.isFinite, value == value.rounded(), abs(value) < 1e15 else { return nil }
        return Int64(value)
    }

    /// A NumericDate (RFC 7519 §2), fractions allowed, in seconds.
    public func date(_ name: String) -> Double? {
        guard let number = members[name] as? NSNumber, !Self.isBoolean(number) else { return nil }
        let value = number.doubleValue
        return value.isFinite ? value : nil
    }

    public func object(_ name: String) -> JSONObject? { (members[name] as? [String: Any]).map(JSONObject.init) }

    /// A string member, or an array of strings (as `aud` may be).
    public func strings(_ name: String) -> [String]? {
        if let single = members[name] as? String { return [single] }
        if let array = members[name] as? [Any] {
            let strings = array.compactMap { $0 as? String }
            return strings.count == array.count ? strings : nil
        }
        return nil
    }

    /// The object as JSON text.
    public var text: String {
        (try? JSONSerialization.data(withJSONObject: members, options: [.sortedKeys])).flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
    }

    /// A member's value as JSON text (arrays and objects), or `nil` when it is not a container.
    public func jsonText(_ name: String) -> String? {
        guard let value = members[name], value is [Any] || value is [String: Any] else { return nil }
        return (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])).flatMap { String(data: $0, encoding: .utf8) }
    }
}
