/// The reference inside a `request_uri`: `v1.<yyyymmdd>.<43 base64url characters>`.
///
/// The random part carries 256 bits from the system CSPRNG (RFC 9126 §2.2, RFC 6749 §10.10). The day names
/// the event-log partition. Nothing stores the reference itself: storage keys are its SHA-256
/// (``requestID``), so a leaked database or Redis dump yields no usable `request_uri`.
public struct RequestReference: Sendable, Hashable {
    /// The URN prefix registered by RFC 9126 §8.3.
    public static let urnPrefix = "urn:ietf:params:oauth:request_uri:"
    private static let version = "v1"
    private static let randomLength = 43

    /// The reference, e.g. `v1.20261124.Kd…`.
    public let value: String
    /// The partition day, taken from the reference.
    public let day: PartitionDay
    /// SHA-256 of the reference: the request's id in every store and log.
    public let requestID: [UInt8]
    /// The request id in hexadecimal, as `parstore audit` prints it.
    public let requestIDHex: String

    /// Mints a new reference for a request pushed at `secondsSince1970`.
    public static func mint(secondsSince1970: Double) -> RequestReference {
        let day = PartitionDay(secondsSince1970: secondsSince1970)
        return RequestReference(value: version + "." + day.compact + "." + Secret.random(byteCount: 32), day: day)
    }

    private init(value: String, day: PartitionDay) {
        self.value = value
        self.day = day
        self.requestID = Secret.sha256(value)
        self.requestIDHex = Secret.hex(requestID)
    }

    /// Parses a full `request_uri`; `nil` for anything ParStore could not have issued.
    public init?(requestURI: String) {
        guard requestURI.hasPrefix(Self.urnPrefix) else { return nil }
        self.init(reference: requestURI.dropFirst(Self.urnPrefix.utf8.count))
    }

    /// Parses a bare reference; `nil` for anything ParStore could not have issued.
    public init?(reference: Substring) {
        let parts = reference.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == Self.version, let day = PartitionDay(compact: parts[1]),
            parts[2].utf8.count == Self.randomLength,
            parts[2].utf8.allSatisfy(Secret.isBase64URL)
        else { return nil }
        self.init(value: String(reference), day: day)
    }

    /// The full `request_uri` handed to the client.
    public var requestURI: String { Self.urnPrefix + value }
}
