/// Minimal JSON writing for the hot path: strings and flat objects of strings, escaped per RFC 8259 §7.
public enum JSONText {
    /// `value` as a JSON string literal, quotes included.
    public static func string(_ value: String) -> String {
        // Most values need no escaping: copy them whole.
        if !value.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            return "\"" + value + "\""
        }
        var out = "\""
        out.reserveCapacity(value.utf8.count + 2)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
        return out
    }

    /// A JSON object whose members are the pairs, in order. Names must be unique.
    public static func object(_ pairs: some Sequence<(name: String, value: String)>) -> String {
        var out = "{"
        var first = true
        for pair in pairs {
            if !first { out += "," }
            first = false
            out += string(pair.name)
            out += ":"
            out += string(pair.value)
        }
        out += "}"
        return out
    }
}
