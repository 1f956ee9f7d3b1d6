/// Builds PostgreSQL array literals (`{"a","b",NULL}`) for `unnest` batch statements.
enum PostgresArray {
    /// Each element quoted, with `"` and `\` escaped; `nil` is NULL.
    static func literal(_ elements: [String?]) -> String {
        var out = "{"
        out.reserveCapacity(elements.count * 16)
        for (index, element) in elements.enumerated() {
            if index > 0 { out += "," }
            guard let element else {
                out += "NULL"
                continue
            }
            out += "\""
            for character in element.unicodeScalars {
                if character == "\"" || character == "\\" { out += "\\" }
                out.unicodeScalars.append(character)
            }
            out += "\""
        }
        out += "}"
        return out
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
