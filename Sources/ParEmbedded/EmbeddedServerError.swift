/// A private server could not be started or stopped.
public struct EmbeddedServerError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
