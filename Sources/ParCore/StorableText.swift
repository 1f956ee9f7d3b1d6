/// Text that PostgreSQL and Redis keep exactly as it was sent.
///
/// PostgreSQL refuses a NUL character in `text` and `jsonb` (and libpq's parameters are C strings, cut at the
/// first NUL), and `jsonb` refuses a `\u0000` escape and a surrogate escape that is not half of a pair. Anything
/// that reaches storage is checked here first, so such input is a 400 for its sender instead of a failed batch
/// for everyone else.
public enum StorableText {
    /// Whether `text` has no NUL character.
    public static func isStorable(_ text: some StringProtocol) -> Bool {
        !text.utf8.contains(0)
    }

    /// Whether JSON text, before it is parsed, is free of what storage refuses: a raw NUL byte, a `\u0000`
    /// escape, or a `\uD800`–`\uDFFF` escape that is not a high surrogate followed by a low one (RFC 8259 §7,
    /// §8.2: such a string is not Unicode).
    ///
    /// Only escapes are read: a backslash outside a string is invalid JSON, which the parser refuses anyway.
    public static func isStorableJSON(_ bytes: some Collection<UInt8>) -> Bool {
        var index = bytes.startIndex
        var pendingHighSurrogate = false
        while index != bytes.endIndex {
            let byte = bytes[index]
            if byte == 0 { return false }
            guard byte == UInt8(ascii: "\\") else {
                if pendingHighSurrogate { return false }
                index = bytes.index(after: index)
                continue
            }
            index = bytes.index(after: index)
            guard index != bytes.endIndex else { return true }  // a dangling backslash: the parser refuses it
            guard bytes[index] == UInt8(ascii: "u") else {
                if pendingHighSurrogate { return false }
                index = bytes.index(after: index)
                continue
            }
            var unit: UInt32 = 0
            for _ in 0..<4 {
                index = bytes.index(after: index)
                guard index != bytes.endIndex, let nibble = Secret.nibble(bytes[index]) else { return true }  // malformed: the parser refuses it
                unit = unit << 4 | UInt32(nibble)
            }
            index = bytes.index(after: index)
            switch unit {
            case 0: return false
            case 0xD800...0xDBFF:
                if pendingHighSurrogate { return false }
                pendingHighSurrogate = true
            case 0xDC00...0xDFFF:
                guard pendingHighSurrogate else { return false }
                pendingHighSurrogate = false
            default:
                if pendingHighSurrogate { return false }
            }
        }
        return !pendingHighSurrogate
    }
}
