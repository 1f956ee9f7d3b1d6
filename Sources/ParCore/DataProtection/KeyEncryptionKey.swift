import Crypto
import Foundation

/// A key-encryption key: wraps the data keys of days (AES-256-GCM; the associated data binds a wrapped key to its
/// day and to this key's ID). It never leaves its file (PARSTORE_DATA_KEY_FILE); the database holds only what it
/// wrapped.
public struct KeyEncryptionKey: Sendable {
    /// Eight hex digits derived from the key: stored beside every key it wraps, so that a file's keys are told apart
    /// without a name anyone could get wrong.
    public let id: String
    private let key: SymmetricKey

    static let prefix = "PARSTORE-KEK-1:"

    private init(_ key: SymmetricKey) {
        self.key = key
        let digest = key.withUnsafeBytes { SHA256.hash(data: Array("parstore key id\u{0}".utf8) + Array($0)) }
        self.id = Secret.hex(Array(digest.prefix(4)))
    }

    /// A new random key.
    public static func generate() -> KeyEncryptionKey {
        KeyEncryptionKey(SymmetricKey(size: .bits256))
    }

    /// Reads `PARSTORE-KEK-1:<base64 of 32 bytes>`.
    public init?(encoded line: Substring) {
        guard line.hasPrefix(Self.prefix), let bytes = Data(base64Encoded: String(line.dropFirst(Self.prefix.count))), bytes.count == 32
        else { return nil }
        self.init(SymmetricKey(data: bytes))
    }

    /// The line of a key file.
    public var encoded: String {
        Self.prefix + key.withUnsafeBytes { Data($0).base64EncodedString() }
    }

    /// `dataKey` wrapped for `day`: nonce ‖ ciphertext ‖ tag.
    public func wrap(_ dataKey: DataKey, day: PartitionDay) -> [UInt8] {
        let clear = dataKey.key.withUnsafeBytes { Data($0) }
        // Sealing with a fresh random nonce cannot fail for a 256-bit key.
        let box = try! AES.GCM.seal(clear, using: key, authenticating: associatedData(day))
        return Array(box.combined!)
    }

    /// The data key `wrapped` holds, if this key wrapped it for `day`.
    public func unwrap(_ wrapped: [UInt8], day: PartitionDay) -> DataKey? {
        guard let box = try? AES.GCM.SealedBox(combined: wrapped),
            let clear = try? AES.GCM.open(box, using: key, authenticating: associatedData(day)), clear.count == 32
        else { return nil }
        return DataKey(SymmetricKey(data: clear))
    }

    private func associatedData(_ day: PartitionDay) -> Data {
        Data(("parstore data key 1\u{0}" + day.compact + "\u{0}" + id).utf8)
    }
}

/// The key-encryption keys of a key file, one per line (blank lines and `#` comments aside): the first wraps the
/// data keys of new days, and every one unwraps those it wrapped. Rotation puts a new key first, re-wraps the days
/// (`parstore data-key rewrap`), then drops the old line.
public struct KeyEncryptionKeys: Sendable {
    /// The key that wraps new data keys.
    public let current: KeyEncryptionKey
    /// Every key, the current one first.
    public let all: [KeyEncryptionKey]

    public init?(text: String) {
        var keys: [KeyEncryptionKey] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard let key = KeyEncryptionKey(encoded: Substring(trimmed)), !keys.contains(where: { $0.id == key.id }) else { return nil }
            keys.append(key)
        }
        guard let first = keys.first else { return nil }
        (current, all) = (first, keys)
    }

    public init(_ keys: [KeyEncryptionKey]) {
        precondition(!keys.isEmpty, "at least one key-encryption key")
        (current, all) = (keys[0], keys)
    }

    /// The key of `id`, if the file holds it.
    public func key(id: String) -> KeyEncryptionKey? {
        all.first { $0.id == id }
    }

    /// The file's text.
    public var encoded: String {
        all.map { $0.encoded + "\n" }.joined()
    }
}
