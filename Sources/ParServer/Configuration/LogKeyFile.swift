import Foundation
public import ParCore

/// The file of the log's signing key: one line, `PRIVATE+KEY+<name>+<key ID>+<base64>`, readable by its owner
/// only (PARSTORE_LOG_KEY_FILE).
public enum LogKeyFile {
    /// Reads the signing key.
    public static func read(_ path: String) throws(ConfigurationError) -> NoteSigner {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("PARSTORE_LOG_KEY_FILE: cannot read \(path)")
        }
        guard let signer = NoteSigner(encoded: String(decoding: data, as: UTF8.self)) else {
            throw ConfigurationError("PARSTORE_LOG_KEY_FILE: \(path) does not hold a PRIVATE+KEY+… Ed25519 note key (`parstore log generate-key`)")
        }
        return signer
    }

    /// Writes a new key file with mode 0600; never replaces an existing file.
    public static func create(_ path: String, signer: NoteSigner) throws(ConfigurationError) {
        try KeyFile.create(path, text: signer.encoded + "\n")
    }

    /// The key under a data folder, made on first use: the embedded mode's.
    public static func embedded(in directory: String, name: String) throws(ConfigurationError) -> String {
        let path = directory + "/log-signing.key"
        if !FileManager.default.fileExists(atPath: path) {
            guard let signer = NoteSigner(generatingFor: name) else { throw ConfigurationError("\(name) cannot name a log key") }
            try create(path, signer: signer)
        }
        return path
    }
}
