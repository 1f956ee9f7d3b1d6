import Dispatch
import ParWorker
import Synchronization
import Testing

/// The worker's own bounds, with a batch that blocks as a frozen server does (the real frozen server is in
/// `DatabaseFaultTests`): callers are answered by their deadline while the thread is stuck, and the queue does not grow
/// past its bound, so memory stays flat however many requests arrive.
@Suite struct BatchingWorkerTests {
    private final class Stuck: WorkerConnection {
        var isHealthy: Bool { true }
    }

    @Test func aStuckWorkerAnswersQueuedCallersByTheirDeadlineAndRefusesBeyondItsQueue() async throws {
        let started = DispatchSemaphore(value: 0)
        let gate = DispatchSemaphore(value: 0)
        let released = Atomic<Bool>(false)
        let worker = BatchingWorker<Stuck, Int, Int>(
            name: "stuck",
            maxBatchSize: 1,
            maxQueued: 4,
            timeout: .seconds(60),
            connect: { Stuck() },
            process: { _, requests, _ in
                if requests == [0] {  // the first batch is stuck until released
                    started.signal()
                    gate.wait()
                }
                return requests.map { .success($0) }
            }
        )
        // A safety net, so that a broken sweeper fails the test instead of hanging it.
        let release = Task {
            try? await Task.sleep(for: .seconds(30))
            released.store(true, ordering: .sequentiallyConsistent)
            gate.signal()
        }
        async let first = worker.submit(0, deadline: .now + .seconds(60))
        try await runOnOwnThread { started.wait() }  // the thread is now stuck in the first batch

        let queued = await withTaskGroup(of: (any Error)?.self) { group in
            for index in 1...4 {
                group.addTask {
                    do {
                        _ = try await worker.submit(index, deadline: .now + .milliseconds(300))
                        return nil
                    } catch { return error }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(queued.allSatisfy { ($0 as? WorkerError) == .deadlineExceeded })
        let stillStuck = !released.load(ordering: .sequentiallyConsistent)
        #expect(stillStuck, "answered while the thread was still stuck")

        // Four more fill the queue; the next is refused at once instead of waiting.
        let later = Mutex<[Int]>([])
        for index in 5...8 { worker.enqueue(index) { result in later.withLock { $0.append((try? result.get()) ?? -1) } } }
        await #expect(throws: WorkerError.overloaded) { try await worker.submit(9) }

        release.cancel()
        gate.signal()
        #expect(try await first == 0)
        await worker.shutdown()
        #expect(later.withLock { $0 } == [5, 6, 7, 8], "what was queued in time ran, in order")
    }
}
