import Crypto
import Foundation

/// A node of the log's Merkle tree: 32 bytes of SHA-256, hashed as RFC 6962 §2.1 says (RFC 9162 §2.1.1), so that
/// a leaf can never pass for an interior node.
public struct TreeHash: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 32

    public let bytes: [UInt8]

    /// Wraps 32 bytes; `nil` for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = Array(bytes)
    }

    private init(digest: SHA256.Digest) {
        self.bytes = Array(digest)
    }

    /// The root of the empty tree: SHA-256 of nothing.
    public static let empty = TreeHash(digest: SHA256.hash(data: [UInt8]()))

    /// `SHA-256(0x00 ‖ leaf)`.
    public static func leaf(_ leaf: [UInt8]) -> TreeHash {
        var hasher = SHA256()
        hasher.update(data: [0x00])
        hasher.update(data: leaf)
        return TreeHash(digest: hasher.finalize())
    }

    /// `SHA-256(0x01 ‖ left ‖ right)`.
    public static func node(_ left: TreeHash, _ right: TreeHash) -> TreeHash {
        var hasher = SHA256()
        hasher.update(data: [0x01])
        hasher.update(data: left.bytes)
        hasher.update(data: right.bytes)
        return TreeHash(digest: hasher.finalize())
    }

    /// Hashes stored one after another (a tile, a compact range); `nil` unless the bytes are whole hashes.
    public static func split(_ bytes: [UInt8]) -> [TreeHash]? {
        guard bytes.count % byteCount == 0 else { return nil }
        return stride(from: 0, to: bytes.count, by: byteCount).map { TreeHash(uncheckedBytes: bytes[$0..<$0 + byteCount]) }
    }

    private init(uncheckedBytes: ArraySlice<UInt8>) {
        self.bytes = Array(uncheckedBytes)
    }

    /// Standard base64, as checkpoints and proofs carry it.
    public var base64: String { Data(bytes).base64EncodedString() }

    /// Reads standard base64 of 32 bytes.
    public init?(base64: some StringProtocol) {
        guard let data = Data(base64Encoded: String(base64)), let hash = TreeHash(bytes: data) else { return nil }
        self = hash
    }

    public var description: String { base64 }
}
