import Foundation
import ParWorker
import Synchronization
import Testing

/// The batch window holds a small batch back only for requests that can come: other callers' (counted while a batch
/// is out), never a lone caller's next one, which waits for its answer. Before this rule, a client pushing one request
/// at a time waited the whole window (5 ms) on every push, load and redemption: 7.6 ms a push instead of 1.7 on an
/// idle node.
@Suite struct BatchWindowTests {
    private let window = BatchWindow(target: 32, limit: .milliseconds(5))

    private func rate(_ arrivals: Int, per time: Duration, rounds: Int = 40) -> ArrivalRate {
        var rate = ArrivalRate()
        for _ in 0..<rounds { rate.record(arrivals: arrivals, whileOut: time) }
        return rate
    }

    private let t0 = ContinuousClock.now

    @Test func aBatchIsHeldAsLongAsTheTargetTakesToFillWithinTheLimit() throws {
        // 10,000 a second: 31 more take 3.1 ms, within the limit; it looks every two arrivals' time (200 µs, at least 250).
        let fast = rate(10, per: .milliseconds(1))
        #expect(abs(fast.perSecond - 10_000) < 1)
        let hold = try #require(window.hold(count: 1, rate: fast, now: t0))
        #expect(abs((hold.end - t0 - .microseconds(3_100)) / .microseconds(1)) < 1)
        #expect(hold.step == .microseconds(250) && hold.firstLook == t0 + .microseconds(250))
        // 1,000 a second: 31 more would take 31 ms; held for the limit only, looking every 1.25 ms (two arrivals' time
        // is 2 ms, but it looks at least four times).
        let slow = try #require(window.hold(count: 1, rate: rate(1, per: .milliseconds(1)), now: t0))
        #expect(slow.end == t0 + .milliseconds(5))
        #expect(slow.step == .microseconds(1_250))
        let moderate = try #require(window.hold(count: 1, rate: rate(5, per: .milliseconds(1)), now: t0))
        #expect(abs((moderate.step - .microseconds(400)) / .microseconds(1)) < 1, "two arrivals' time at 5,000 a second")
        // At or past the target: sent at once.
        #expect(window.hold(count: 32, rate: fast, now: t0) == nil)
        #expect(window.hold(count: 40, rate: fast, now: t0) == nil)
    }

    @Test func aBatchIsNotHeldWhenLessThanOneMoreRequestIsExpectedWithinTheLimit() {
        // 150 a second: 0.75 expected in 5 ms.
        #expect(window.hold(count: 1, rate: rate(3, per: .milliseconds(20)), now: t0) == nil)
        #expect(window.hold(count: 1, rate: ArrivalRate(), now: t0) == nil)
    }

    @Test func theRateForgetsABurst() {
        var rate = rate(10, per: .milliseconds(1))
        for _ in 0..<30 { rate.record(arrivals: 0, whileOut: .milliseconds(1)) }
        #expect(window.hold(count: 1, rate: rate, now: t0) == nil)
    }

    /// A few connections taking turns, each waiting for its answer, never fill the target: once they are all in, a
    /// look finds nothing, and the batch goes instead of waiting out the limit.
    @Test func aHoldEndsWhenALookFindsNothingOrTheTargetOrTheEndIsReached() throws {
        let hold = try #require(window.hold(count: 1, rate: rate(1, per: .milliseconds(1)), now: t0))
        let look = hold.firstLook
        #expect(look == t0 + hold.step)
        #expect(hold.nextLook(found: 3, count: 4, now: look) == look + hold.step, "requests keep coming: look again")
        #expect(hold.nextLook(found: 0, count: 4, now: look) == nil, "the stream ran dry")
        #expect(hold.nextLook(found: 28, count: 32, now: look) == nil, "the target is reached")
        #expect(hold.nextLook(found: 1, count: 5, now: hold.end - .microseconds(100)) == hold.end, "never past the end")
        #expect(hold.nextLook(found: 1, count: 5, now: hold.end) == nil)
    }

    /// What a worker told its observers.
    private final class Observed: Sendable {
        let holds = Mutex<[Duration]>([])
        let sizes = Mutex<[Int]>([])
    }

    /// A worker with a window, whose server takes 1 ms a batch.
    private func worker(_ observed: Observed, limit: Duration = .milliseconds(50)) -> BatchingWorker<Server, Int, Int> {
        BatchingWorker<Server, Int, Int>(
            name: "window",
            maxQueued: 10_000,
            window: BatchWindow(target: 32, limit: limit),
            batchObserver: { size in observed.sizes.withLock { $0.append(size) } },
            holdObserver: { hold in observed.holds.withLock { $0.append(hold) } },
            connect: { Server() },
            process: { _, requests, _ in
                Thread.sleep(forTimeInterval: 0.001)
                return requests.map { .success($0) }
            }
        )
    }

    private final class Server: WorkerConnection {
        var isHealthy: Bool { true }
    }

    @Test func aCallerThatWaitsForItsAnswerIsNeverHeldBack() async throws {
        let observed = Observed()
        let worker = worker(observed)
        // A thousand requests a second, one at a time: counted over all time, that pace would hold each for 31 ms.
        for index in 0..<100 {
            #expect(try await worker.submit(index) == index)
        }
        await worker.shutdown()
        #expect(observed.holds.withLock { $0 }.count == 100)
        #expect(observed.holds.withLock { $0 }.allSatisfy { $0 == .zero }, "a lone caller waited for itself")
        #expect(observed.sizes.withLock { $0 }.allSatisfy { $0 == 1 })
    }

    @Test func requestsFromOthersWhileABatchIsOutAreWaitedFor() async throws {
        let observed = Observed()
        let worker = worker(observed)
        let answered = Atomic<Int>(0)
        // Independent callers: a request every 200 µs, none waiting for an answer before the next.
        try await runOnOwnThread {
            for index in 0..<400 {
                worker.enqueue(index) { _ in answered.add(1, ordering: .relaxed) }
                Thread.sleep(forTimeInterval: 0.0002)
            }
        }
        await worker.shutdown()
        #expect(answered.load(ordering: .relaxed) == 400)
        #expect(observed.holds.withLock { $0 }.contains { $0 > .zero }, "never held for others' requests")
        #expect(observed.sizes.withLock { $0 }.contains { $0 > 8 }, "batches never grew")
    }

}
