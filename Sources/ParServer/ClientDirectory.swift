public import ParCore
import Synchronization

/// The node's in-memory copy of the client registry, read on every request and replaced whole on reload.
public final class ClientDirectory: Sendable {
    private struct Snapshot {
        var version: Int64 = -1
        var clients: [String: Client] = [:]
    }

    private let snapshot = Mutex(Snapshot())

    public init() {}

    /// The registered client with this id.
    public func client(_ id: String) -> Client? {
        snapshot.withLock { $0.clients[id] }
    }

    /// The version of the registry this copy holds (-1 before the first load).
    public var version: Int64 { snapshot.withLock { $0.version } }

    /// Replaces the copy.
    public func replace(with clients: [Client], version: Int64) {
        let byID = Dictionary(clients.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
        snapshot.withLock { $0 = Snapshot(version: version, clients: byID) }
    }
}
