/// Inclusion and consistency proofs of an RFC 6962 Merkle tree (RFC 9162 §2.1.3–2.1.4): made from the hashes of
/// the tree's perfect subtrees, checked from a root alone.
///
/// A proof is made from a node source, `(level, index) -> hash`, that answers for any perfect subtree already in
/// the tree: the `2^level` leaves from `index << level`.
public enum MerkleProof {
    public typealias NodeSource = (_ level: Int, _ index: UInt64) throws -> TreeHash

    /// The audit path of leaf `index` in the tree of the first `size` leaves, from the leaf up.
    public static func inclusion(index: UInt64, size: UInt64, nodes: NodeSource) throws -> [TreeHash] {
        precondition(index < size, "leaf \(index) is not in a tree of \(size)")
        var path: [TreeHash] = []
        var (start, end) = (UInt64(0), size)
        // Walks down from the root, noting each sibling; the path lists them bottom-up.
        while end - start > 1 {
            let split = start + largestPowerOfTwo(below: end - start)
            if index < split {
                path.append(try rangeHash(split, end, nodes))
                end = split
            } else {
                path.append(try rangeHash(start, split, nodes))
                start = split
            }
        }
        return path.reversed()
    }

    /// The proof that the tree of `oldSize` leaves is a prefix of the tree of `newSize` (RFC 6962's PROOF).
    public static func consistency(from oldSize: UInt64, to newSize: UInt64, nodes: NodeSource) throws -> [TreeHash] {
        precondition(oldSize <= newSize, "a tree cannot shrink")
        guard oldSize > 0, oldSize < newSize else { return [] }
        var proof: [TreeHash] = []
        var (start, end, m) = (UInt64(0), newSize, oldSize)
        var wholeOldTree = true
        while m != end - start {
            let k = largestPowerOfTwo(below: end - start)
            if m <= k {
                proof.append(try rangeHash(start + k, end, nodes))
                end = start + k
            } else {
                proof.append(try rangeHash(start, start + k, nodes))
                start += k
                m -= k
                wholeOldTree = false
            }
        }
        if !wholeOldTree { proof.append(try rangeHash(start, end, nodes)) }
        return proof.reversed()
    }

    /// Whether `proof` shows the leaf with hash `leafHash` at `index` in the tree of `size` leaves with `root`.
    public static func verifyInclusion(leafHash: TreeHash, index: UInt64, size: UInt64, proof: [TreeHash], root: TreeHash) -> Bool {
        guard index < size else { return false }
        var (fn, sn, hash) = (index, size - 1, leafHash)
        for sibling in proof {
            guard sn != 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                hash = TreeHash.node(sibling, hash)
                climbToRightChild(&fn, &sn)
            } else {
                hash = TreeHash.node(hash, sibling)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && hash == root
    }

    /// Whether `proof` shows the tree (`oldSize`, `oldRoot`) to be a prefix of (`newSize`, `newRoot`).
    public static func verifyConsistency(
        oldSize: UInt64,
        oldRoot: TreeHash,
        newSize: UInt64,
        newRoot: TreeHash,
        proof: [TreeHash]
    ) -> Bool {
        guard oldSize <= newSize else { return false }
        if oldSize == newSize { return proof.isEmpty && oldRoot == newRoot }
        if oldSize == 0 { return proof.isEmpty }
        var path = proof[...]
        // A power-of-two old tree is a node of the new one: its root starts the walk.
        if oldSize & (oldSize - 1) == 0 { path.insert(oldRoot, at: path.startIndex) }
        guard let first = path.first else { return false }
        var (fn, sn) = (oldSize - 1, newSize - 1)
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var (oldHash, newHash) = (first, first)
        for hash in path.dropFirst() {
            guard sn != 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                oldHash = TreeHash.node(hash, oldHash)
                newHash = TreeHash.node(hash, newHash)
                climbToRightChild(&fn, &sn)
            } else {
                newHash = TreeHash.node(newHash, hash)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && oldHash == oldRoot && newHash == newRoot
    }

    /// RFC 9162's walk up past the levels where the node is a left child with no right sibling in the tree:
    /// shifts both indices right until the node's is odd or zero.
    private static func climbToRightChild(_ fn: inout UInt64, _ sn: inout UInt64) {
        while fn & 1 == 0 && fn != 0 {
            fn >>= 1
            sn >>= 1
        }
    }

    /// The root of leaves `start..<end` (RFC 6962's MTH of that range), from perfect subtrees. Ranges met in proofs
    /// always start at a multiple of their left part's size, so that part is a node of the tree.
    public static func rangeHash(_ start: UInt64, _ end: UInt64, _ nodes: NodeSource) throws -> TreeHash {
        let count = end - start
        precondition(count > 0, "an empty range has no node")
        if count & (count - 1) == 0 && start % count == 0 {
            return try nodes(count.trailingZeroBitCount, start / count)
        }
        let split = start + largestPowerOfTwo(below: count)
        return TreeHash.node(try rangeHash(start, split, nodes), try rangeHash(split, end, nodes))
    }

    /// The largest power of two strictly below `count` (at least 2).
    static func largestPowerOfTwo(below count: UInt64) -> UInt64 {
        UInt64(1) << (63 - (count - 1).leadingZeroBitCount)
    }
}
