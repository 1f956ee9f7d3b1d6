/// A log checkpoint in the `c2sp.org/tlog-checkpoint` format: the origin line, the tree size in decimal and the
/// root hash in base64, each ending in a newline. Signed, it is the body of a ``SignedNote``.
public struct Checkpoint: Sendable, Equatable {
    /// The log's identity: the signing key's name.
    public var origin: String
    public var size: UInt64
    public var root: TreeHash

    public init(origin: String, size: UInt64, root: TreeHash) {
        self.origin = origin
        self.size = size
        self.root = root
    }

    /// The note text.
    public var body: String { "\(origin)\n\(size)\n\(root.base64)\n" }

    /// Reads a checkpoint's text (extension lines after the third are allowed and ignored).
    public init?(body: String) {
        guard body.hasSuffix("\n") else { return nil }
        let lines = body.dropLast().split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 3, !lines[0].isEmpty,
            lines[1].allSatisfy(\.isASCII), let size = UInt64(lines[1]), String(size) == lines[1],
            let root = TreeHash(base64: lines[2])
        else { return nil }
        self.init(origin: String(lines[0]), size: size, root: root)
    }
}
