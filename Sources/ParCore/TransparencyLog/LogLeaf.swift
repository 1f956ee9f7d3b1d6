/// One event of the log as a leaf of its Merkle tree: the canonical bytes that are hashed, exported and proved.
///
/// Version 1, every integer big-endian (documented in the README's "Tamper-evident log"):
///
///     u8      version = 1
///     u32+    kind            (length, then ASCII: pushed, loaded, consumed, expired, refused)
///     i16     slot            (-1 when the row has none)
///     i32     day             (the partition day, days since 1970-01-01 UTC)
///     32      request_id      (SHA-256 of the request_uri)
///     u32+    client_id       (length, then UTF-8)
///     i64     at              (microseconds since 1970-01-01 UTC)
///     i64     deadline        (microseconds since 1970-01-01 UTC)
///     u32+    node_id         (length, then UTF-8)
///     opt32   binding_hash    (0x00, or 0x01 then 32 bytes)
///     opt32   ticket_hash
///     opt32   attempt_hash
///     opt32   payload_sha256  (SHA-256 of the payload as PostgreSQL prints its jsonb)
///
/// The parameters themselves are not in the leaf, only their hash: an exported log carries no personal data, and
/// a payload whose key was erased still proves its place.
public struct LogLeaf: Sendable, Equatable {
    public static let version: UInt8 = 1

    public var kind: String
    public var slot: Int16?
    public var daysSince1970: Int32
    public var requestID: [UInt8]
    public var clientID: String
    public var atMicroseconds: Int64
    public var deadlineMicroseconds: Int64
    public var nodeID: String
    public var bindingHash: [UInt8]?
    public var ticketHash: [UInt8]?
    public var attemptHash: [UInt8]?
    public var payloadHash: [UInt8]?

    public init(
        kind: String,
        slot: Int16?,
        daysSince1970: Int32,
        requestID: [UInt8],
        clientID: String,
        atMicroseconds: Int64,
        deadlineMicroseconds: Int64,
        nodeID: String,
        bindingHash: [UInt8]? = nil,
        ticketHash: [UInt8]? = nil,
        attemptHash: [UInt8]? = nil,
        payloadHash: [UInt8]? = nil
    ) {
        self.kind = kind
        self.slot = slot
        self.daysSince1970 = daysSince1970
        self.requestID = requestID
        self.clientID = clientID
        self.atMicroseconds = atMicroseconds
        self.deadlineMicroseconds = deadlineMicroseconds
        self.nodeID = nodeID
        self.bindingHash = bindingHash
        self.ticketHash = ticketHash
        self.attemptHash = attemptHash
        self.payloadHash = payloadHash
    }

    /// The canonical bytes.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(160 + clientID.utf8.count + nodeID.utf8.count)
        out.append(Self.version)
        Self.appendText(kind, to: &out)
        Self.append(UInt16(bitPattern: slot ?? -1), to: &out)
        Self.append(UInt32(bitPattern: daysSince1970), to: &out)
        out.append(contentsOf: requestID)
        Self.appendText(clientID, to: &out)
        Self.append(UInt64(bitPattern: atMicroseconds), to: &out)
        Self.append(UInt64(bitPattern: deadlineMicroseconds), to: &out)
        Self.appendText(nodeID, to: &out)
        for hash in [bindingHash, ticketHash, attemptHash, payloadHash] {
            if let hash {
                out.append(1)
                out.append(contentsOf: hash)
            } else {
                out.append(0)
            }
        }
        return out
    }

    /// The leaf hash, `SHA-256(0x00 ‖ bytes)`.
    public var hash: TreeHash { TreeHash.leaf(bytes) }

    /// Reads canonical bytes; `nil` unless they are exactly one version-1 leaf.
    public init?(bytes: some Collection<UInt8>) {
        var reader = Reader(bytes: Array(bytes))
        guard reader.byte() == Self.version,
            let kind = reader.text(),
            let slot = reader.integer(UInt16.self).map({ Int16(bitPattern: $0) }),
            let day = reader.integer(UInt32.self).map({ Int32(bitPattern: $0) }),
            let requestID = reader.bytes(32),
            let clientID = reader.text(),
            let at = reader.integer(UInt64.self).map({ Int64(bitPattern: $0) }),
            let deadline = reader.integer(UInt64.self).map({ Int64(bitPattern: $0) }),
            let nodeID = reader.text(),
            let binding = reader.optionalHash(), let ticket = reader.optionalHash(),
            let attempt = reader.optionalHash(), let payload = reader.optionalHash(),
            reader.isAtEnd
        else { return nil }
        self.init(
            kind: kind,
            slot: slot == -1 ? nil : slot,
            daysSince1970: day,
            requestID: requestID,
            clientID: clientID,
            atMicroseconds: at,
            deadlineMicroseconds: deadline,
            nodeID: nodeID,
            bindingHash: binding.value,
            ticketHash: ticket.value,
            attemptHash: attempt.value,
            payloadHash: payload.value
        )
    }

    private static func append<I: FixedWidthInteger>(_ value: I, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { out.append(contentsOf: $0) }
    }

    private static func appendText(_ text: String, to out: inout [UInt8]) {
        append(UInt32(text.utf8.count), to: &out)
        out.append(contentsOf: text.utf8)
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        var isAtEnd: Bool { offset == bytes.count }

        mutating func bytes(_ count: Int) -> [UInt8]? {
            guard count >= 0, bytes.count - offset >= count else { return nil }
            defer { offset += count }
            return Array(bytes[offset..<offset + count])
        }

        mutating func byte() -> UInt8? { bytes(1)?[0] }

        mutating func integer<I: FixedWidthInteger & UnsignedInteger>(_: I.Type) -> I? {
            bytes(I.bitWidth / 8).map { $0.reduce(I.zero) { $0 << 8 | I($1) } }
        }

        mutating func text() -> String? {
            guard let count = integer(UInt32.self), count <= 1 << 20, let raw = bytes(Int(count)) else { return nil }
            return String(validating: raw, as: UTF8.self)
        }

        /// A hash that may be absent (its `value` is then `nil`); `nil` for malformed bytes.
        mutating func optionalHash() -> OptionalHash? {
            switch byte() {
            case 0: return OptionalHash(value: nil)
            case 1: return bytes(32).map { OptionalHash(value: $0) }
            default: return nil
            }
        }

        struct OptionalHash {
            var value: [UInt8]?
        }
    }
}
