/// One command for a pipelined connection. With `asking`, `ASKING` goes just before it on the same connection:
/// the command is for a slot that is being imported by that node (a cluster's `ASK` redirection).
public struct RedisRequest: Sendable {
    public var arguments: [String]
    public var asking: Bool

    public init(_ arguments: [String], asking: Bool = false) {
        self.arguments = arguments
        self.asking = asking
    }
}
