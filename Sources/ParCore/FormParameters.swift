/// Limits applied while parsing a form body; exceeding one is a 400 `invalid_request`.
public struct FormLimits: Sendable, Equatable {
    /// The most name/value pairs in one body.
    public var maxParameters: Int
    /// The longest parameter name, in bytes.
    public var maxNameLength: Int
    /// The longest parameter value, in bytes after decoding.
    public var maxValueLength: Int

    public init(maxParameters: Int = 100, maxNameLength: Int = 128, maxValueLength: Int = 16 * 1024) {
        self.maxParameters = maxParameters
        self.maxNameLength = maxNameLength
        self.maxValueLength = maxValueLength
    }
}

/// The name/value pairs of an `application/x-www-form-urlencoded` body, in the order they were sent.
///
/// Parsing keeps repeated names, so that validation can refuse them (RFC 6749 §3.1: a parameter MUST NOT be
/// included more than once). Names and values are decoded (`+` is a space, `%XX` a byte) and must be UTF-8.
public struct FormParameters: Sendable, Equatable {
    /// The decoded pairs, in order.
    public private(set) var pairs: [(name: String, value: String)]

    public init(pairs: [(name: String, value: String)]) {
        self.pairs = pairs
    }

    public static func == (lhs: FormParameters, rhs: FormParameters) -> Bool {
        lhs.pairs.elementsEqual(rhs.pairs) { $0.name == $1.name && $0.value == $1.value }
    }

    /// Parses a form body.
    ///
    /// - Throws: `invalid_request` for a malformed percent escape, bytes that are not UTF-8, a NUL character,
    ///   an empty name, or a body beyond `limits`. The message names the rule, never the offending value.
    public init(parsing body: [UInt8], limits: FormLimits = FormLimits()) throws(OAuthError) {
        var pairs: [(name: String, value: String)] = []
        var start = 0
        let end = body.count
        while start <= end {
            var stop = start
            while stop < end && body[stop] != UInt8(ascii: "&") { stop += 1 }
            if stop > start {
                guard pairs.count < limits.maxParameters else {
                    throw .invalidRequest("The request has more than \(limits.maxParameters) parameters.")
                }
                var equals = start
                while equals < stop && body[equals] != UInt8(ascii: "=") { equals += 1 }
                let name = try Self.decode(body[start..<equals], limit: limits.maxNameLength, what: "parameter name")
                guard !name.isEmpty else { throw .invalidRequest("A parameter has an empty name.") }
                let value =
                    equals < stop
                    ? try Self.decode(body[(equals + 1)..<stop], limit: limits.maxValueLength, what: "value of \(OAuthError.quotable(name))")
                    : ""
                pairs.append((name, value))
            }
            start = stop + 1
        }
        self.pairs = pairs
    }

    private static func decode(_ bytes: ArraySlice<UInt8>, limit: Int, what: @autoclosure () -> String) throws(OAuthError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var isASCII = true
        var index = bytes.startIndex
        while index < bytes.endIndex {
            var byte = bytes[index]
            switch byte {
            case UInt8(ascii: "+"):
                byte = UInt8(ascii: " ")
                index += 1
            case UInt8(ascii: "%"):
                guard index + 2 < bytes.endIndex,
                    let high = Secret.nibble(bytes[index + 1]), let low = Secret.nibble(bytes[index + 2])
                else { throw .invalidRequest("The body is not valid form encoding (a bad percent escape).") }
                byte = high << 4 | low
                index += 3
            default:
                index += 1
            }
            guard byte != 0 else { throw .invalidRequest("The body contains a NUL character.") }
            isASCII = isASCII && byte < 0x80
            out.append(byte)
        }
        guard out.count <= limit else { throw .invalidRequest("The \(what()) is longer than \(limit) bytes.") }
        // ASCII, the usual case, is UTF-8 as it stands; only other bytes go through the (slower, generic) validation.
        if isASCII { return String(decoding: out, as: UTF8.self) }
        guard let string = String(validating: out, as: UTF8.self) else {
            throw .invalidRequest("The body is not valid UTF-8.")
        }
        return string
    }

    /// Whether `name` was sent at all.
    public func contains(_ name: String) -> Bool {
        pairs.contains { $0.name == name }
    }

    /// The value of a parameter that may be sent at most once.
    ///
    /// - Returns: `nil` when absent.
    /// - Throws: `invalid_request` when the parameter was sent more than once.
    public func single(_ name: String) throws(OAuthError) -> String? {
        var found: String? = nil
        for pair in pairs where pair.name == name {
            guard found == nil else { throw .invalidRequest("The parameter \(name) is included more than once.") }
            found = pair.value
        }
        return found
    }

    /// The names sent more than once, in first-seen order.
    ///
    /// Forms hold a handful of pairs (at most ``FormLimits/maxParameters``): comparing each name with the earlier
    /// ones costs less than hashing every name into a set.
    public var repeatedNames: [String] {
        var repeated: [String] = []
        for (index, pair) in pairs.enumerated()
        where pairs[..<index].contains(where: { $0.name == pair.name }) && !repeated.contains(pair.name) {
            repeated.append(pair.name)
        }
        return repeated
    }
}
