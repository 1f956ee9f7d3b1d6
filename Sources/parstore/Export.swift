import ArgumentParser
import Foundation
import ParCore
import ParPostgres
import ParWorker

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the integrated log as JSON Lines, one event per line, from a leaf index on.",
        discussion: """
            Each line holds the event's leaf `index`, its `leaf` (base64 of the exact bytes hashed into the Merkle \
            tree; the README documents the encoding) and the fields decoded from those bytes; a leaf whose event \
            retention took out is written as {"index", "leaf_hash", "pruned": true}. Only integrated events \
            are written, in index order: with --follow the command keeps going as new ones are integrated, and a \
            follower that restarts with --from at the next index neither skips nor repeats one.
            """
    )

    @OptionGroup var database: DatabaseOptions
    @Option(help: "The first leaf index.") var from: UInt64 = 0
    @Option(help: "Stop before this index.") var to: UInt64?
    @Flag(help: "Keep writing new events as they are integrated (until --to, if given).") var follow = false
    @Option(help: "Seconds between polls with --follow.") var pollInterval: Double = 1

    func run() throws {
        let reader = LogReader(connection: try PGConnection(database.resolved(), applicationName: "parstore-export"))
        var next = from
        let output = FileHandle.standardOutput
        while true {
            var lines: [UInt8] = []
            func write(_ line: some Encodable) throws {
                lines += Array(try JSONLines.encode(line).utf8)
                lines.append(UInt8(ascii: "\n"))
                if lines.count > 1 << 16 {
                    output.write(Data(lines))
                    lines.removeAll(keepingCapacity: true)
                }
            }
            next = try reader.leaves(from: next, to: to) { index, hash in
                try write(PrunedLine(index: index, leaf_hash: Data(hash.bytes).base64EncodedString(), pruned: true))
            } _: { entry in
                try write(ExportedLine(entry))
            }
            output.write(Data(lines))
            if !follow || (to.map { next >= $0 } ?? false) { return }
            Thread.sleep(forTimeInterval: max(0.05, pollInterval))
        }
    }
}

/// A leaf whose event retention took out: its index and its hash, as the tree holds it.
struct PrunedLine: Encodable {
    var index: UInt64
    var leaf_hash: String
    var pruned: Bool
}

/// One exported event: its index and leaf, then the fields its leaf encodes.
struct ExportedLine: Encodable {
    var index: UInt64
    var leaf: String
    var event: ExportedEvent

    init(_ entry: LogReader.Entry) {
        index = entry.index
        leaf = Data(entry.leaf.bytes).base64EncodedString()
        event = ExportedEvent(entry.leaf)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: ExportedEvent.Key.self)
        try container.encode(index, forKey: .index)
        try container.encode(leaf, forKey: .leaf)
        try event.encode(to: encoder)
    }
}

/// The fields of a leaf, decoded for people: hashes in hex, times in RFC 3339 with microseconds.
struct ExportedEvent: Encodable {
    var leaf: LogLeaf

    init(_ leaf: LogLeaf) {
        self.leaf = leaf
    }

    enum Key: String, CodingKey {
        case index, leaf, kind, slot, day, requestID = "request_id", clientID = "client_id", at, deadline, nodeID = "node_id"
        case bindingHash = "binding_hash", ticketHash = "ticket_hash", attemptHash = "attempt_hash", payloadHash = "payload_sha256"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(leaf.kind, forKey: .kind)
        try container.encode(leaf.slot, forKey: .slot)
        try container.encode(PartitionDay(daysSince1970: Int(leaf.daysSince1970)).description, forKey: .day)
        try container.encode(Secret.hex(leaf.requestID), forKey: .requestID)
        try container.encode(leaf.clientID, forKey: .clientID)
        try container.encode(Timestamp.rfc3339(microseconds: leaf.atMicroseconds), forKey: .at)
        try container.encode(Timestamp.rfc3339(microseconds: leaf.deadlineMicroseconds), forKey: .deadline)
        try container.encode(leaf.nodeID, forKey: .nodeID)
        try container.encode(leaf.bindingHash.map(Secret.hex), forKey: .bindingHash)
        try container.encode(leaf.ticketHash.map(Secret.hex), forKey: .ticketHash)
        try container.encode(leaf.attemptHash.map(Secret.hex), forKey: .attemptHash)
        try container.encode(leaf.payloadHash.map(Secret.hex), forKey: .payloadHash)
    }
}

enum JSONLines {
    /// One line of JSON, keys sorted.
    static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
