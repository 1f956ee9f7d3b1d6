import Foundation
import ParCore
import Testing

@Suite("The tamper-evident log's Merkle tree, leaves and signed checkpoints")
struct TransparencyLogTests {
    /// RFC 6962's test leaves, as Certificate Transparency's implementations test with them.
    static let leaves: [[UInt8]] = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
        .map { Secret.bytes(fromHex: $0)! }
    /// The roots of their first 1…8 leaves, as published with them.
    static let roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]

    @Test("the compact range gives RFC 6962's roots at every size, and the empty tree's hash at none")
    func rootsMatchThePublishedVectors() {
        var range = CompactRange()
        #expect(Secret.hex(range.root.bytes) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        for (leaf, root) in zip(Self.leaves, Self.roots) {
            range.append(TreeHash.leaf(leaf))
            #expect(Secret.hex(range.root.bytes) == root)
        }
    }

    @Test("the nodes an append reports are every perfect subtree, each once, with the right hash")
    func appendReportsEveryCompletedNode() {
        let hashes = (0..<37).map { TreeHash.leaf([UInt8($0)]) }
        var range = CompactRange()
        var nodes: [Int: [UInt64: TreeHash]] = [:]
        for hash in hashes {
            range.append(hash) { node in
                #expect(nodes[node.level, default: [:]][node.index] == nil)
                nodes[node.level, default: [:]][node.index] = node.hash
            }
        }
        for level in 0..<6 {
            let width = 1 << level
            #expect(nodes[level, default: [:]].count == 37 / width)
            for (index, hash) in nodes[level, default: [:]] {
                #expect(hash == Self.reference(hashes[Int(index) * width..<(Int(index) + 1) * width]))
            }
        }
        #expect(nodes[6] == nil)
    }

    @Test("inclusion proofs verify for every leaf of trees of 1 to 40 leaves, and fail for any other leaf, index or root")
    func inclusionProofs() throws {
        let hashes = (0..<40).map { TreeHash.leaf([UInt8($0), 0xAB]) }
        for size in 1...40 {
            let root = Self.reference(hashes[0..<size])
            for index in 0..<size {
                let proof = try MerkleProof.inclusion(index: UInt64(index), size: UInt64(size), nodes: Self.nodes(hashes))
                #expect(proof == Self.referencePath(index, hashes[0..<size]))
                #expect(MerkleProof.verifyInclusion(leafHash: hashes[index], index: UInt64(index), size: UInt64(size), proof: proof, root: root))
                let other = hashes[(index + 1) % 40]
                #expect(!MerkleProof.verifyInclusion(leafHash: other, index: UInt64(index), size: UInt64(size), proof: proof, root: root))
                if size > 1 {
                    let wrongIndex = UInt64((index + 1) % size)
                    #expect(!MerkleProof.verifyInclusion(leafHash: hashes[index], index: wrongIndex, size: UInt64(size), proof: proof, root: root))
                }
                #expect(
                    !MerkleProof.verifyInclusion(
                        leafHash: hashes[index],
                        index: UInt64(index),
                        size: UInt64(size),
                        proof: proof,
                        root: TreeHash.leaf([0xFF])
                    )
                )
            }
        }
    }

    @Test("consistency proofs verify between every pair of sizes up to 33, and fail against another old root")
    func consistencyProofs() throws {
        let hashes = (0..<33).map { TreeHash.leaf([UInt8($0)]) }
        let forged = (0..<33).map { TreeHash.leaf([UInt8($0), 1]) }
        for newSize in 1...33 {
            let newRoot = Self.reference(hashes[0..<newSize])
            for oldSize in 1...newSize {
                let oldRoot = Self.reference(hashes[0..<oldSize])
                let proof = try MerkleProof.consistency(from: UInt64(oldSize), to: UInt64(newSize), nodes: Self.nodes(hashes))
                #expect(
                    MerkleProof.verifyConsistency(
                        oldSize: UInt64(oldSize),
                        oldRoot: oldRoot,
                        newSize: UInt64(newSize),
                        newRoot: newRoot,
                        proof: proof
                    ),
                    "\(oldSize) → \(newSize)"
                )
                // A history rewritten before oldSize: its old root is not a prefix of the new tree.
                let rewritten = Self.reference(forged[0..<oldSize])
                #expect(
                    !MerkleProof.verifyConsistency(
                        oldSize: UInt64(oldSize),
                        oldRoot: rewritten,
                        newSize: UInt64(newSize),
                        newRoot: newRoot,
                        proof: proof
                    )
                )
            }
        }
    }

    @Test("a leaf's bytes decode to the same event, and any other bytes are refused")
    func leafEncoding() {
        let leaf = LogLeaf(
            kind: "consumed",
            slot: 2,
            daysSince1970: 20_788,
            requestID: Array(repeating: 7, count: 32),
            clientID: "client-ü",
            atMicroseconds: 1_796_119_200_123_456,
            deadlineMicroseconds: -5,
            nodeID: "node-1",
            ticketHash: Array(repeating: 9, count: 32),
            payloadHash: nil
        )
        let bytes = leaf.bytes
        #expect(bytes.first == 1)
        #expect(LogLeaf(bytes: bytes) == leaf)
        #expect(LogLeaf(bytes: bytes + [0]) == nil)
        #expect(LogLeaf(bytes: bytes.dropLast()) == nil)
        #expect(LogLeaf(bytes: [2] + bytes.dropFirst()) == nil)
        var changed = leaf
        changed.clientID = "client-v"
        #expect(changed.hash != leaf.hash)
        var noSlot = leaf
        noSlot.slot = nil
        #expect(LogLeaf(bytes: noSlot.bytes)?.slot == nil)
    }

    @Test("note keys and signatures agree with the signed-note format's published example key")
    func publishedNoteKey() throws {
        let signer = try #require(NoteSigner(encoded: "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"))
        #expect(signer.verifier.encoded == "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
        let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
        let note = try signer.sign(text)
        #expect(
            note.encoded == text
                + "\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        )
        // A key ID that does not match the key is refused.
        #expect(NoteSigner(encoded: "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz") == nil)
        #expect(NoteVerifier(encoded: "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW") != nil)
    }

    @Test("a signed checkpoint reads back; a changed size, root or signature, or another key, does not verify")
    func signedCheckpoints() throws {
        let signer = try #require(NoteSigner(generatingFor: "as.example.com/log"))
        let checkpoint = Checkpoint(origin: signer.name, size: 12_345, root: TreeHash.leaf([1, 2, 3]))
        #expect(checkpoint.body == "as.example.com/log\n12345\n\(checkpoint.root.base64)\n")
        let note = try signer.sign(checkpoint.body)
        let read = try #require(SignedNote(note.encoded))
        #expect(Checkpoint(body: read.text) == checkpoint)
        let verifier = try #require(NoteVerifier(encoded: signer.verifier.encoded))
        #expect(verifier.verifies(read))

        let grown = try #require(SignedNote(note.encoded.replacingOccurrences(of: "\n12345\n", with: "\n12346\n")))
        #expect(!verifier.verifies(grown))
        let otherRoot = Checkpoint(origin: signer.name, size: 12_345, root: TreeHash.leaf([9])).body
        #expect(!verifier.verifies(try #require(SignedNote(otherRoot + note.encoded.dropFirst(checkpoint.body.count)))))
        let otherSigner = try #require(NoteSigner(generatingFor: "as.example.com/log"))
        #expect(!otherSigner.verifier.verifies(read))
        #expect(SignedNote("no signature\n") == nil)
        #expect(Checkpoint(body: "origin\n012\n\(checkpoint.root.base64)\n") == nil)
    }

    // MARK: A reference: RFC 6962 §2.1 written out recursively on arrays

    static func reference(_ hashes: ArraySlice<TreeHash>) -> TreeHash {
        if hashes.count == 1 { return hashes.first! }
        var k = 1
        while k * 2 < hashes.count { k *= 2 }
        let start = hashes.startIndex
        return TreeHash.node(reference(hashes[start..<start + k]), reference(hashes[(start + k)...]))
    }

    static func referencePath(_ m: Int, _ hashes: ArraySlice<TreeHash>) -> [TreeHash] {
        if hashes.count == 1 { return [] }
        var k = 1
        while k * 2 < hashes.count { k *= 2 }
        let start = hashes.startIndex
        if m < k { return referencePath(m, hashes[start..<start + k]) + [reference(hashes[(start + k)...])] }
        return referencePath(m - k, hashes[(start + k)...]) + [reference(hashes[start..<start + k])]
    }

    static func nodes(_ hashes: [TreeHash]) -> MerkleProof.NodeSource {
        { level, index in
            let width = 1 << level
            return reference(hashes[Int(index) * width..<(Int(index) + 1) * width])
        }
    }
}
