/// A failure to talk to Redis. Every one of them leaves the node to carry on through PostgreSQL.
public struct RedisError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, in the words of the node's metrics.
    public enum Kind: String, Sendable {
        /// The connection was refused, lost or timed out; the worker makes it again.
        case connection
        /// Redis answered with an error, or with a reply ParStore cannot read.
        case reply
        /// The cluster answered `CLUSTERDOWN` (slots without a primary) until the retries ran out.
        case clusterDown = "cluster_down"
        /// The cluster answered `TRYAGAIN` (a slot being migrated) until the retries ran out.
        case tryAgain = "try_again"
        /// No primary is known for the key's slot, or redirections did not settle.
        case noRoute = "no_route"
    }

    public var kind: Kind
    public var message: String
    public var description: String { "Redis error (\(kind.rawValue)): \(message)" }

    public init(_ kind: Kind = .connection, message: String) {
        self.kind = kind
        self.message = message
    }
}
