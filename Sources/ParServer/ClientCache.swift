public import ParCore
import Synchronization

/// The node's in-memory copy of the client registry, read on every request and replaced whole on reload.
public final class ClientCache: Sendable {
    private struct Snapshot {
        var version: Int64 = -1
        var clients: [String: Client] = [:]
        var authorizationDetailsTypes: Set<String> = []
    }

    private let snapshot = Mutex(Snapshot())

    public init() {}

    /// The registered client with this id.
    public func client(_ id: String) -> Client? {
        snapshot.withLock { $0.clients[id] }
    }

    /// Every `authorization_details` type some client is registered for (RFC 8414 metadata).
    public var authorizationDetailsTypes: Set<String> { snapshot.withLock { $0.authorizationDetailsTypes } }

    /// The version of the registry this copy holds (-1 before the first load).
    public var version: Int64 { snapshot.withLock { $0.version } }

    /// Replaces the copy.
    public func replace(with clients: [Client], version: Int64) {
        let byID = Dictionary(clients.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
        let types = clients.reduce(into: Set<String>()) { $0.formUnion($1.authorizationDetailsTypes) }
        snapshot.withLock { $0 = Snapshot(version: version, clients: byID, authorizationDetailsTypes: types) }
    }
}
