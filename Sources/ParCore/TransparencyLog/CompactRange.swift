/// The right edge of a Merkle tree of any size: the roots of its perfect subtrees, largest first (one per set bit of
/// the size). It is all an appender needs to extend the tree and compute its root, whatever the tree's size.
public struct CompactRange: Sendable, Equatable {
    /// The number of leaves.
    public private(set) var size: UInt64 = 0
    /// The perfect subtrees' roots, left to right (the largest first).
    public private(set) var hashes: [TreeHash] = []

    public init() {}

    /// A range read back from storage; `nil` when `hashes` do not match the set bits of `size`.
    public init?(size: UInt64, hashes: [TreeHash]) {
        guard size.nonzeroBitCount == hashes.count else { return nil }
        self.size = size
        self.hashes = hashes
    }

    /// A node the tree gained: the root of the perfect subtree of `2^level` leaves that starts at leaf
    /// `index << level`.
    public struct Node: Sendable, Equatable {
        public var level: Int
        public var index: UInt64
        public var hash: TreeHash
    }

    /// Appends a leaf (by its leaf hash).
    public mutating func append(_ leafHash: TreeHash) {
        append(leafHash) { _ in }
    }

    /// Appends a leaf (by its leaf hash) and reports every node it completes, the leaf itself (level 0) first.
    public mutating func append(_ leafHash: TreeHash, completed: (Node) throws -> Void) rethrows {
        var hash = leafHash
        var level = 0
        var index = size
        try completed(Node(level: 0, index: index, hash: hash))
        // Each trailing one bit of the old size is a perfect subtree that the new one merges with.
        while (size >> level) & 1 == 1 {
            hash = TreeHash.node(hashes.removeLast(), hash)
            level += 1
            index >>= 1
            try completed(Node(level: level, index: index, hash: hash))
        }
        hashes.append(hash)
        size += 1
    }

    /// The tree's root (RFC 6962's MTH): the perfect subtrees folded from the right.
    public var root: TreeHash {
        guard var root = hashes.last else { return .empty }
        for hash in hashes.dropLast().reversed() {
            root = TreeHash.node(hash, root)
        }
        return root
    }
}
