import DequeModule
import Synchronization

/// The most recent `capacity` distinct keys, forgetting the oldest first: a node-local memory of what it already
/// did, so that repeating it (a flood of the same refusal) costs a lookup instead of a database round trip.
final class RecentSet: Sendable {
    private struct State {
        var members: Set<String> = []
        var order: Deque<String> = []
    }

    private let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Adds `key`; `false` when it was already there.
    func insert(_ key: String) -> Bool {
        state.withLock { state in
            guard state.members.insert(key).inserted else { return false }
            state.order.append(key)
            if state.order.count > capacity { state.members.remove(state.order.removeFirst()) }
            return true
        }
    }

    /// Removes `key` (its place in the eviction order stays until it comes round, which is harmless).
    func forget(_ key: String) {
        _ = state.withLock { $0.members.remove(key) }
    }
}
