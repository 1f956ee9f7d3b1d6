/// Builds PostgreSQL array literals (`{"a","b",NULL}`) for `unnest` batch statements.
enum PostgresArray {
    /// Each element quoted, with `"` and `\` escaped; `nil` is NULL. Built as bytes: this runs for every batch.
    static func literal(_ elements: [String?]) -> String {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(elements.count * 24)
        for (index, element) in elements.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            guard let element else {
                out.append(contentsOf: "NULL".utf8)
                continue
            }
            out.append(UInt8(ascii: "\""))
            for byte in element.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
                out.append(byte)
            }
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}

extension PostgresArray {
    /// Parses a one-dimensional text array in PostgreSQL's output format (`{a,"b c",NULL}`); NULLs are dropped.
    static func parse(_ literal: String) -> [String] {
        var elements: [String] = []
        var characters = Array(literal.unicodeScalars)
        guard characters.first == "{", characters.last == "}" else { return [] }
        characters = Array(characters.dropFirst().dropLast())
        var index = 0
        while index < characters.count {
            var element = String.UnicodeScalarView()
            var quoted = false
            if characters[index] == "\"" {
                quoted = true
                index += 1
                while index < characters.count && characters[index] != "\"" {
                    if characters[index] == "\\" { index += 1 }
                    if index < characters.count { element.append(characters[index]) }
                    index += 1
                }
                index += 1  // closing quote
            } else {
                while index < characters.count && characters[index] != "," {
                    element.append(characters[index])
                    index += 1
                }
            }
            let text = String(element)
            if quoted || text != "NULL" { elements.append(text) }
            index += 1  // comma
        }
        return elements
    }
}
