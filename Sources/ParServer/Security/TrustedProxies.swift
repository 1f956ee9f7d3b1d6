import Foundation
import NIOCore
import ParCore

/// The addresses whose forwarded headers (the client certificate) are believed: single addresses or CIDR ranges.
struct TrustedProxies: Sendable {
    private struct Range: Sendable {
        var network: [UInt8]
        var prefixLength: Int

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == network.count else { return false }
            var remaining = prefixLength
            for (mine, theirs) in zip(network, address) where remaining > 0 {
                let bits = min(8, remaining)
                let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                if mine & mask != theirs & mask { return false }
                remaining -= bits
            }
            return true
        }
    }

    private let ranges: [Range]

    struct InvalidRange: Error {}

    /// - Parameter entries: `127.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`, ...; prefixes shorter than 8 bits are refused.
    init(_ entries: [String]) throws {
        ranges = try entries.map { entry in
            let parts = entry.trimmingCharacters(in: .whitespaces).split(separator: "/", maxSplits: 1)
            guard let first = parts.first, let network = IPAddress.bytes(String(first)) else { throw InvalidRange() }
            let length = parts.count == 2 ? Int(parts[1]) : network.count * 8
            // A range shorter than /8 (0.0.0.0/0, ::/0 and the like) would believe the header from anyone.
            guard let length, (8...(network.count * 8)).contains(length) else { throw InvalidRange() }
            return Range(network: network, prefixLength: length)
        }
    }

    /// Whether the TCP peer is one of the trusted proxies.
    func contains(_ peer: SocketAddress?) -> Bool {
        guard let text = peer?.ipAddress, let address = IPAddress.bytes(text) else { return false }
        return ranges.contains { $0.contains(address) }
    }
}
