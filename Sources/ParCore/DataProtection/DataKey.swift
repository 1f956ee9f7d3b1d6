import Crypto
import Foundation

/// The data key of one partition day: AES-256-GCM for the parameters pushed on that day. It is stored only wrapped by
/// a ``KeyEncryptionKey``; destroying the wrapped copy (`parstore erase`) makes that day's parameters unreadable.
public struct DataKey: Sendable {
    let key: SymmetricKey

    init(_ key: SymmetricKey) {
        self.key = key
    }

    /// A new random key.
    public static func generate() -> DataKey {
        DataKey(SymmetricKey(size: .bits256))
    }
}
