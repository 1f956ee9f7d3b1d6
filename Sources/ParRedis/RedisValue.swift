/// A reply from Redis.
public enum RedisValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case array([RedisValue])
    case null
    case status(String)
    case error(String)

    /// The text of a string or status reply.
    public var text: String? {
        switch self {
        case .string(let value), .status(let value): value
        default: nil
        }
    }
}
