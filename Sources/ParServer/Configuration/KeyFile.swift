import Foundation

/// A file that holds keys: read by its owner only.
enum KeyFile {
    /// Writes `text` to a new file with mode 0600, synced; never replaces an existing file.
    static func create(_ path: String, text: String) throws(ConfigurationError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else { throw ConfigurationError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        guard write(descriptor, bytes, bytes.count) == bytes.count, fsync(descriptor) == 0 else {
            throw ConfigurationError("cannot write \(path)")
        }
    }
}
