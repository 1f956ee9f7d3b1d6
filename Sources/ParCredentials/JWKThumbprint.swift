import Crypto
import ParCore

/// RFC 7638 JWK SHA-256 thumbprints: the `dpop_jkt` value (RFC 9449 §10.1).
public enum JWKThumbprint {
    /// The required members of each key type, in lexicographic order (RFC 7638 §3.2).
    private static let requiredMembers: [String: [String]] = [
        "EC": ["crv", "kty", "x", "y"],
        "RSA": ["e", "kty", "n"],
        "OKP": ["crv", "kty", "x"],
    ]

    /// base64url(SHA-256(canonical JSON of the required members)); `nil` for an unknown key type or a missing
    /// member.
    public static func sha256(_ key: JSONObject) -> String? {
        guard let type = key.string("kty"), let names = requiredMembers[type] else { return nil }
        var canonical = "{"
        for (index, name) in names.enumerated() {
            // The members are base64url strings and names: no escaping is ever needed, but check.
            guard let value = key.string(name), value.utf8.allSatisfy({ $0 > 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") })
            else { return nil }
            canonical += (index == 0 ? "" : ",") + "\"\(name)\":\"\(value)\""
        }
        canonical += "}"
        return Secret.base64URL(Array(SHA256.hash(data: Array(canonical.utf8))))
    }
}
