/// Which primary serves each hash slot, as one node of the cluster sees it (`CLUSTER SLOTS`).
struct SlotMap: Sendable, Equatable {
    /// The primaries, each named once.
    private(set) var primaries: [RedisAddress]
    /// For each slot, its primary's index in `primaries`, or `unassigned`.
    private var owners: [UInt16]

    static let unassigned = UInt16.max

    /// A map that knows no slot.
    init() {
        primaries = []
        owners = Array(repeating: Self.unassigned, count: HashSlot.count)
    }

    /// Reads a `CLUSTER SLOTS` reply from the node at `source` (whose own entry may carry no address).
    ///
    /// - Returns: `nil` when the reply is not a slot list.
    init?(clusterSlots reply: RedisValue, source: RedisAddress) {
        guard case .array(let ranges) = reply else { return nil }
        self.init()
        for range in ranges {
            guard case .array(let parts) = range, parts.count >= 3, case .integer(let first) = parts[0],
                case .integer(let last) = parts[1], 0 <= first, first <= last, last < HashSlot.count,
                case .array(let primary) = parts[2], primary.count >= 2, case .integer(let port) = primary[1]
            else { return nil }
            let host = primary[0].text ?? ""
            // An empty or `?` endpoint means "the node you asked" (Redis 7, unknown or unannounced endpoint).
            let address = host.isEmpty || host == "?" ? RedisAddress(host: source.host, port: port) : RedisAddress(host: host, port: port)
            assign(first...last, to: address)
        }
    }

    /// The primary serving `slot`, if any.
    func primary(of slot: Int) -> RedisAddress? {
        let owner = owners[slot]
        return owner == Self.unassigned ? nil : primaries[Int(owner)]
    }

    /// How many slots no primary serves.
    var unassignedSlots: Int { owners.lazy.filter { $0 == Self.unassigned }.count }

    /// How many slots each primary serves.
    func slotCounts() -> [RedisAddress: Int] {
        var counts: [RedisAddress: Int] = [:]
        for owner in owners where owner != Self.unassigned { counts[primaries[Int(owner)], default: 0] += 1 }
        return counts
    }

    /// Moves `slots` to `address` (a `MOVED` redirection says a slot has a new primary).
    mutating func assign(_ slots: ClosedRange<Int>, to address: RedisAddress) {
        let index: Int
        if let known = primaries.firstIndex(of: address) {
            index = known
        } else {
            index = primaries.count
            primaries.append(address)
        }
        for slot in slots { owners[slot] = UInt16(index) }
    }
}
