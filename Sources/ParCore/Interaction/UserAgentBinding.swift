import Crypto

/// The value of the browser's binding cookie: binds a loaded request to one user agent.
///
/// 128 random bits followed by a 128-bit MAC of them under a key every node derives from their shared secret, so
/// a value no node issued is refused without a database read. Only its SHA-256 is stored. One value serves every
/// request the browser loads.
public struct UserAgentBinding: Sendable, Hashable {
    /// The cookie's name: `__Host-` prefixed when it is `Secure` (then `Path=/` and no `Domain`, RFC 6265bis §4.1.3.2),
    /// so no sibling host and no plain-HTTP page can set it.
    public static func cookieName(secure: Bool) -> String { secure ? "__Host-parstore_ua" : "parstore_ua" }

    public let value: String

    /// The MAC key of binding values, derived from the nodes' shared secret (the API key).
    public struct Key: Sendable {
        fileprivate let key: SymmetricKey

        public init(secret: String) {
            key = HKDF<SHA256>.deriveKey(
                inputKeyMaterial: SymmetricKey(data: Array(secret.utf8)),
                info: Array("parstore user-agent binding v1".utf8),
                outputByteCount: 32
            )
        }

        fileprivate func tag(_ nonce: [UInt8]) -> [UInt8] {
            Array(HMAC<SHA256>.authenticationCode(for: nonce, using: key).prefix(16))
        }
    }

    /// A new binding for a browser that has none.
    public static func make(key: Key) -> UserAgentBinding {
        let nonce = SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) }
        return UserAgentBinding(value: Secret.base64URL(nonce + key.tag(nonce)))
    }

    private init(value: String) { self.value = value }

    /// A binding read back from the cookie; `nil` unless a node holding `key` issued it.
    public init?(cookie: Substring, key: Key) {
        guard Secret.isBase64URL(cookie, length: 43), let bytes = Secret.bytes(fromBase64URL: cookie), bytes.count == 32,
            Secret.constantTimeEquals(key.tag(Array(bytes[..<16])), Array(bytes[16...]))
        else { return nil }
        self.value = String(cookie)
    }

    /// What the `loaded` event stores.
    public var hash: [UInt8] { Secret.sha256(value) }
}
