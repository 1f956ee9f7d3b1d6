/// Redis Cluster's hash slots: CRC16 (XMODEM) of the key modulo 16384, where a key holding a non-empty `{tag}`
/// hashes only the tag, so that keys sharing a tag share a slot.
public enum HashSlot {
    public static let count = 16_384

    /// The slot of `key`.
    public static func of(_ key: String) -> Int {
        var bytes = Substring(key).utf8[...]
        if let open = bytes.firstIndex(of: UInt8(ascii: "{")) {
            let tag = bytes[bytes.index(after: open)...]
            if let close = tag.firstIndex(of: UInt8(ascii: "}")), close != tag.startIndex {
                bytes = tag[..<close]
            }
        }
        return Int(crc16(bytes)) & (count - 1)
    }

    /// CRC16-XMODEM: polynomial 0x1021, initial value 0, no reflection.
    static func crc16(_ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { index in
        var value = UInt16(index) << 8
        for _ in 0..<8 {
            value = value & 0x8000 != 0 ? (value << 1) ^ 0x1021 : value << 1
        }
        return value
    }
}
