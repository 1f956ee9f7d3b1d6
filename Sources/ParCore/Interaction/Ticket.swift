import Crypto

/// The opaque ticket the authorization server's UI receives after a load: `t1.<yyyymmdd>.<43 base64url>`.
///
/// It is derived from the user agent's binding and the request reference, so a reload from the same browser
/// yields the same ticket without storing it; it reveals neither (SHA-256). The day is the request's partition.
public struct Ticket: Sendable, Hashable {
    private static let version = "t1"
    public let value: String
    public let day: PartitionDay

    /// The ticket of `reference` loaded by the user agent holding `binding`.
    public init(binding: UserAgentBinding, reference: RequestReference) {
        let digest = Secret.sha256("parstore-ticket\u{0}" + binding.value + "\u{0}" + reference.value)
        self.day = reference.day
        self.value = Self.version + "." + reference.day.compact + "." + Secret.base64URL(digest)
    }

    /// A ticket sent back by the authorization server; `nil` unless ParStore could have issued it.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == Self.version, let day = PartitionDay(compact: parts[1]),
            Secret.isBase64URL(parts[2], length: 43)
        else { return nil }
        self.value = text
        self.day = day
    }

    /// What the `loaded` event stores and lookups use.
    public var hash: [UInt8] { Secret.sha256(value) }
}
