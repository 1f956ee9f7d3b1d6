import ParCore

/// The Merkle tree's stored nodes (`parstore_log_tiles`): tile (L, N) holds up to 256 hashes of tree level 8·L,
/// those of nodes N·256 onwards, as `c2sp.org/tlog-tiles` lays them out. Any perfect subtree's root is computed
/// from at most 256 hashes of one tile.
///
/// Blocking; reads are cached for the reader's life, so build one per proof or verification.
final class LogTiles {
    static let width = 256
    private let connection: PGConnection
    private var cache: [Key: [TreeHash]] = [:]

    private struct Key: Hashable {
        var level: Int
        var index: UInt64
    }

    init(connection: PGConnection) {
        self.connection = connection
    }

    /// The root of the perfect subtree of `2^level` leaves from leaf `index << level`.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    func node(level: Int, index: UInt64) throws -> TreeHash {
        let tileLevel = level / 8
        let height = level % 8
        let first = index << height
        let tile = try hashes(level: tileLevel, index: first / UInt64(Self.width))
        let offset = Int(first % UInt64(Self.width))
        let count = 1 << height
        guard tile.count >= offset + count else { throw LogError.missingNode(level: level, index: index) }
        var row = Array(tile[offset..<offset + count])
        while row.count > 1 {
            row = stride(from: 0, to: row.count, by: 2).map { TreeHash.node(row[$0], row[$0 + 1]) }
        }
        return row[0]
    }

    @available(*, noasync, message: "blocking: call from a thread of its own")
    private func hashes(level: Int, index: UInt64) throws -> [TreeHash] {
        let key = Key(level: level, index: index)
        if let cached = cache[key] { return cached }
        let rows = try connection.execute(
            "SELECT encode(hashes, 'hex') FROM parstore_log_tiles WHERE level = $1 AND index = $2",
            [String(level), String(index)]
        ).rows
        let hashes = rows.first?.first.flatMap { $0 }.flatMap(Secret.bytes(fromHex:)).flatMap(TreeHash.split) ?? []
        cache[key] = hashes
        return hashes
    }

    /// Appends the nodes a batch of leaves completed (levels 0, 8, 16, … only; `nodes` in the order the tree made
    /// them) to their tiles, and checks that every tile ends where its last node says.
    @available(*, noasync, message: "blocking: call from a thread of its own")
    static func append(_ nodes: [CompactRange.Node], on connection: PGConnection) throws {
        var order: [Key] = []
        var appended: [Key: [UInt8]] = [:]
        var ends: [Key: Int] = [:]
        for node in nodes where node.level % 8 == 0 {
            let key = Key(level: node.level / 8, index: node.index / UInt64(width))
            if appended[key] == nil { order.append(key) }
            appended[key, default: []] += node.hash.bytes
            ends[key] = Int(node.index % UInt64(width)) + 1
        }
        guard !order.isEmpty else { return }
        let rows = try connection.execute(
            """
            INSERT INTO parstore_log_tiles AS t (level, index, hashes)
            SELECT l, i, decode(h, 'hex') FROM unnest($1::smallint[], $2::bigint[], $3::text[]) AS u(l, i, h)
            ON CONFLICT (level, index) DO UPDATE SET hashes = t.hashes || EXCLUDED.hashes
            RETURNING level, index, octet_length(hashes) / 32
            """,
            [
                PostgresArray.literal(order.map { String($0.level) }),
                PostgresArray.literal(order.map { String($0.index) }),
                PostgresArray.literal(order.map { Secret.hex(appended[$0]!) }),
            ]
        ).rows
        for row in rows {
            guard let level = row[0].flatMap({ Int($0) }), let index = row[1].flatMap({ UInt64($0) }),
                let count = row[2].flatMap({ Int($0) }), ends[Key(level: level, index: index)] == count
            else { throw LogError.tilesOutOfStep }
        }
    }
}
