import Dispatch
import Foundation
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

/// How a worker maps its callers onto batches: every caller gets its own result, batches never exceed their bound,
/// a failed connection fails the callers of that moment and is made again, and shutdown drains what was accepted.
@Suite struct BatchMappingTests {
    private final class Counting: WorkerConnection {
        var isHealthy: Bool { true }
    }

    @Test func everyCallerGetsItsOwnResultAndBatchesStayWithinTheirBound() async throws {
        let sizes = Mutex<[Int]>([])
        let worker = BatchingWorker<Counting, Int, Int>(
            name: "double",
            maxBatchSize: 8,
            maxQueued: 1000,  // every caller is queued at once, whatever the machine's speed
            batchObserver: { size in sizes.withLock { $0.append(size) } },
            connect: { Counting() },
            process: { _, requests, _ in requests.map { $0 % 7 == 0 ? .failure(WorkerError.overloaded) : .success($0 * 2) } }
        )
        let results = await withTaskGroup(of: (Int, Int?).self) { group in
            for index in 1...200 { group.addTask { (index, try? await worker.submit(index)) } }
            return await group.reduce(into: [Int: Int?]()) { $0[$1.0] = $1.1 }
        }
        await worker.shutdown()
        for index in 1...200 {
            #expect(results[index] == (index % 7 == 0 ? nil : index * 2), "caller \(index)")
        }
        let observed = sizes.withLock { $0 }
        #expect(observed.reduce(0, +) == 200 && observed.allSatisfy { (1...8).contains($0) })
    }

    @Test func aConnectionThatCannotBeMadeFailsItsCallersAndIsTriedAgain() async throws {
        let attempts = Atomic<Int>(0)
        struct Refused: Error {}
        let worker = BatchingWorker<Counting, Int, Int>(
            name: "flaky",
            reconnectInterval: .milliseconds(50),
            connect: {
                if attempts.wrappingAdd(1, ordering: .relaxed).oldValue == 0 { throw Refused() }
                return Counting()
            },
            process: { _, requests, _ in requests.map { .success($0) } }
        )
        await #expect(throws: Refused.self) { try await worker.submit(1) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await worker.submit(2) == 2, "made again after the interval")
        await worker.shutdown()
        await #expect(throws: WorkerError.shutDown) { try await worker.submit(3) }
    }
}

/// Making a worker has no side effect: its thread starts with its first request (a node or a store that is made and
/// never used, and the cluster router's workers for primaries it never sends to, cost no thread).
@Suite struct WorkerLifecycleTests {
    private final class Plain: WorkerConnection {
        var isHealthy: Bool { true }
    }

    /// The names of this process's threads (the kernel keeps 15 characters).
    private static func threadNames() -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8) }
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    @Test func theThreadStartsWithTheFirstRequest() async throws {
        let connections = Atomic<Int>(0)
        let tag = "lazy-\(Int.random(in: 1000...9999))"
        let worker = BatchingWorker<Plain, Int, Int>(
            name: tag,
            connect: {
                connections.add(1, ordering: .relaxed)
                return Plain()
            },
            process: { _, requests, _ in requests.map { .success($0) } }
        )
        try await Task.sleep(for: .milliseconds(100))
        #expect(!Self.threadNames().contains(tag), "no thread before the first request")
        #expect(try await worker.submit(7) == 7)
        #expect(Self.threadNames().contains(tag) && connections.load(ordering: .relaxed) == 1)
        await worker.shutdown()

        let idle = BatchingWorker<Plain, Int, Int>(name: tag + "i", connect: { Plain() }, process: { _, r, _ in r.map { .success($0) } })
        await idle.shutdown()  // returns at once: nothing to stop
        await #expect(throws: WorkerError.shutDown) { try await idle.submit(1) }
        #expect(!Self.threadNames().contains(tag + "i"))
    }
}
