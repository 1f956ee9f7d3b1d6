/// A registry change that cannot be made.
public enum ClientTableError: Error, CustomStringConvertible {
    case alreadyExists(String)

    public var description: String {
        switch self {
        case .alreadyExists(let id): "a client with id \(id) is already registered"
        }
    }
}
