/// A value that may be used once across all nodes, such as a JWT's `jti` (RFC 7523 §3 item 7, RFC 9449 §11.1).
///
/// Recorded by its hash, never as sent: in Redis as the fast filter in front, and durably in PostgreSQL in the
/// same transaction as the push it authenticates, so that losing Redis never lets a value be used twice.
public struct SingleUse: Sendable, Hashable {
    /// SHA-256 of the namespace and the parts.
    public let hash: [UInt8]
    /// The UTC day of the instant after which the JWT is refused anyway, computed from its own claims: the same
    /// JWT always falls on the same day, so a unique key per day catches every replay, also across midnight.
    public let day: PartitionDay
    /// How long from now the record must stay: until the JWT is refused anyway, plus a margin for nodes whose
    /// clocks lag behind this one's. Relative, so no node's clock turns it into an absolute time.
    public let lifetime: Duration

    /// The longest time a record is kept, whatever the claims say: verifiers accept JWTs for a minute or so.
    public static let longestLifetime: Duration = .seconds(600)

    /// - Parameters:
    ///   - namespace: separates kinds of values (`jti` of client assertions, `dpop` proofs).
    ///   - parts: what makes the value unique within the namespace (the client and the `jti`).
    ///   - acceptedUntil: seconds since 1970 after which the JWT is refused anyway (checked by its verifier).
    ///   - now: seconds since 1970.
    ///   - margin: seconds added for clock skew between nodes.
    public init(namespace: String, parts: [String], acceptedUntil: Double, now: Double, margin: Double) {
        self.hash = Secret.sha256(([namespace] + parts).joined(separator: "\u{0}"))
        // Bounded before any conversion: the claims are the sender's numbers.
        let limit = Double(Self.longestLifetime.components.seconds)
        let remaining = (acceptedUntil - now).isFinite ? min(max(acceptedUntil - now, 0), limit) : limit
        let seconds = min(remaining + max(margin, 0), limit)
        self.day = PartitionDay(secondsSince1970: now + remaining)
        self.lifetime = .milliseconds(Int64((seconds * 1000).rounded(.up)).clamped(to: 1_000...Int64(limit * 1000)))
    }

    /// The hash as lowercase hex: the key in Redis and in PostgreSQL's array literals.
    public var hex: String { Secret.hex(hash) }
}

extension Comparable {
    fileprivate func clamped(to range: ClosedRange<Self>) -> Self { min(max(self, range.lowerBound), range.upperBound) }
}
