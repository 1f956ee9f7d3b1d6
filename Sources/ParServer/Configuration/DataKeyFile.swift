import Foundation
public import ParCore

/// The file of the key-encryption keys (PARSTORE_DATA_KEY_FILE): `PARSTORE-KEK-1:<base64>` lines, the current key
/// first, readable by its owner only.
public enum DataKeyFile {
    /// Reads the keys.
    public static func read(_ path: String) throws(ConfigurationError) -> KeyEncryptionKeys {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("PARSTORE_DATA_KEY_FILE: cannot read \(path)")
        }
        guard let keys = KeyEncryptionKeys(text: String(decoding: data, as: UTF8.self)) else {
            throw ConfigurationError(
                "PARSTORE_DATA_KEY_FILE: \(path) does not hold PARSTORE-KEK-1:… key lines, each once (`parstore data-key generate`)"
            )
        }
        return keys
    }

    /// Writes a new key file with mode 0600; never replaces an existing file.
    public static func create(_ path: String, keys: KeyEncryptionKeys) throws(ConfigurationError) {
        try KeyFile.create(path, text: keys.encoded)
    }

    /// Puts a new key first in an existing file, keeping the others (so the days they wrapped stay readable): written
    /// aside with mode 0600, then renamed over the file.
    public static func rotate(_ path: String) throws(ConfigurationError) -> KeyEncryptionKey {
        let keys = try read(path)
        let added = KeyEncryptionKey.generate()
        let partial = path + ".partial"
        unlink(partial)
        try create(partial, keys: KeyEncryptionKeys([added] + keys.all))
        guard rename(partial, path) == 0 else { throw ConfigurationError("cannot replace \(path): \(String(cString: strerror(errno)))") }
        return added
    }

    /// The key file under a data folder, made on first use: the embedded mode's.
    public static func embedded(in directory: String) throws(ConfigurationError) -> String {
        let path = directory + "/data-keys.kek"
        if !FileManager.default.fileExists(atPath: path) { try create(path, keys: KeyEncryptionKeys([.generate()])) }
        return path
    }
}
