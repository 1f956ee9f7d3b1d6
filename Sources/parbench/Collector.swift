import Histogram
import Synchronization

/// Everything measured during a run, shared by the connections (one lock; a few tens of thousands of updates a
/// second are far below what it serves).
final class Collector: Sendable {
    struct Second: Sendable {
        var iterations = 0
        var errors = 0
        var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .two)
    }

    struct State: Sendable {
        var iterations = 0
        var unexpected = 0
        var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var operations: [String: Histogram<UInt64>] = [:]
        var classes: [String: Int] = [:]
        var seconds: [Second] = []
        /// Request URIs redeemed successfully (a sample, re-redeemed at the end: each must be refused).
        var redeemed: [String] = []
        var doubleRedemptions = 0
    }

    let state = Mutex(State())
    let measuring: ContinuousClock.Instant
    let progress = Atomic<Int>(0)
    let progressErrors = Atomic<Int>(0)
    private let redeemedSample = 5000

    init(measuringFrom start: ContinuousClock.Instant) {
        measuring = start
    }

    /// Records one exchange's class and latency (microseconds) under its operation.
    func exchange(_ operation: String, _ classLabel: String, micros: UInt64, expected: Bool) {
        state.withLock { state in
            state.classes[classLabel, default: 0] += 1
            if !expected { state.unexpected += 1 }
            _ = state.operations[operation, default: Histogram(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)]
                .record(max(1, micros))
        }
        if !expected { progressErrors.add(1, ordering: .relaxed) }
    }

    /// Records one completed iteration (latency from its intended start, in microseconds).
    func iteration(finishedAt end: ContinuousClock.Instant, micros: UInt64, failed: Bool) {
        guard end >= measuring else { return }
        let second = Int((end - measuring).components.seconds)
        state.withLock { state in
            state.iterations += 1
            _ = state.latency.record(max(1, micros))
            while state.seconds.count <= second { state.seconds.append(Second()) }
            state.seconds[second].iterations += 1
            if failed { state.seconds[second].errors += 1 }
            _ = state.seconds[second].latency.record(max(1, micros))
        }
        progress.add(1, ordering: .relaxed)
    }

    /// Remembers a successful redemption; a second success for the same request is a double redemption.
    func redeemed(_ requestURI: String) {
        state.withLock { state in
            if state.redeemed.count < redeemedSample { state.redeemed.append(requestURI) }
        }
    }

    func doubleRedemption() {
        state.withLock { $0.doubleRedemptions += 1 }
    }
}

extension ContinuousClock.Instant {
    /// Microseconds from `earlier` to this instant.
    func micros(since earlier: ContinuousClock.Instant) -> UInt64 {
        let (seconds, attoseconds) = (self - earlier).components
        return UInt64(max(0, seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
    }
}
