import Synchronization

/// The last answer to a question anyone may ask over HTTP (`/readyz`, `/log/checkpoint`), reused while younger than
/// `maxAge`: a flood of such requests asks the stores behind it at most once per `maxAge` per node.
final class RecentAnswer<Value: Sendable>: Sendable {
    private let maxAge: Duration
    private let last = Mutex<(at: ContinuousClock.Instant, value: Value)?>(nil)

    init(maxAge: Duration) {
        self.maxAge = maxAge
    }

    /// The recent answer, else `compute`'s, which is kept (a thrown error is not).
    func value(_ compute: () async throws -> Value) async rethrows -> Value {
        let now = ContinuousClock.now
        if let last = last.withLock({ $0 }), now - last.at < maxAge { return last.value }
        let value = try await compute()
        last.withLock { $0 = (now, value) }
        return value
    }
}
