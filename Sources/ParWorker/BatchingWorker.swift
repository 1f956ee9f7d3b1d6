import CGNU
import DequeModule
import Dispatch
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Owns one blocking connection (libpq, hiredis) on a dedicated OS thread and serves async callers in batches.
///
/// Callers `submit` a request and suspend (or `enqueue` it with a callback); the thread takes everything queued so
/// far (up to `maxBatchSize`), runs it in one round trip through `process`, and resumes each caller with its own
/// result. There is no timer: while one batch is in flight the next one fills, so batch size follows load.
///
/// A caller that submitted from a NIO event loop is resumed on that same loop: the batch's callers are handed to
/// each loop in one task, so a batch costs each loop one wake-up rather than one per caller, and a request's
/// handler goes on where its connection lives (resumed from a foreign thread, Swift's global executor would pick
/// any loop, and the response would cross threads once more to reach its channel).
///
/// The connection is made lazily and made again after it breaks. While the server is unreachable, connection
/// attempts are spaced by `reconnectInterval`; requests arriving in between fail at once with the last error,
/// so callers learn quickly that the backing store is down.
///
/// Every wait is bounded. Each request carries a deadline (`timeout` after it was submitted, unless the caller
/// gives one); the queue holds at most `maxQueued` requests. A request whose deadline passes while it is queued is
/// failed with ``WorkerError/deadlineExceeded`` — by the thread before a batch is sent, or by a sweeper while the
/// thread is blocked on a stalled server — so it is never sent afterwards. `process` is given the batch's earliest
/// deadline and must not wait beyond it.
///
/// With a ``BatchWindow``, a batch smaller than its target is held back for as long as the arrival rate says the
/// target takes to fill, within the window's limit (and not at all when fewer than one more request is expected in
/// it), so that the server's price per event does not grow with the number of nodes sharing the load. The rate counts
/// only requests that arrived while a batch was out (``ArrivalRate``): a caller waiting for its answer before it sends
/// again is never held back for itself. A hold ends early once requests stop coming.
public final class BatchingWorker<Connection: WorkerConnection, Request: Sendable, Response: Sendable>: Sendable {
    /// Runs one batch on the connection, waiting for the server no later than the deadline (the batch's earliest),
    /// and returns exactly one result per request, in order.
    public typealias Process = @Sendable (Connection, [Request], ContinuousClock.Instant) -> [Result<Response, any Error>]

    /// Who is told a request's result: a suspended caller, or a callback (``enqueue(_:completion:)``).
    private enum Completion: Sendable {
        case continuation(UnsafeContinuation<Response, any Error>)
        case callback(@Sendable (Result<Response, any Error>) -> Void)

        func callAsFunction(_ result: Result<Response, any Error>) {
            switch self {
            case .continuation(let continuation): continuation.resume(with: result)
            case .callback(let callback): callback(result)
            }
        }
    }

    private struct Pending {
        var request: Request
        var completion: Completion
        var deadline: ContinuousClock.Instant
        /// The event loop a suspended caller is resumed on; `nil` resumes it on the worker's thread.
        var home: (any EventLoop)? = nil
    }

    private struct State {
        var queue: Deque<Pending> = []
        var threadIsWaiting = false
        /// The thread starts with the first request: a worker that is made and never used costs no thread.
        var started = false
        var isShuttingDown = false
        var exited = false
        var exitWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private enum SubmitAction { case none, wake, start, reject(WorkerError) }

    private let state = Mutex(State())
    private let wakeUp = DispatchSemaphore(value: 0)
    private let maxBatchSize: Int
    private let maxQueued: Int
    private let timeout: Duration
    private let reconnectInterval: Duration
    private let connect: @Sendable () throws -> Connection
    private let process: Process
    private let batchObserver: (@Sendable (Int) -> Void)?
    private let holdObserver: (@Sendable (Duration) -> Void)?
    private let window: BatchWindow?
    /// Requests added since the thread last reset it: the arrival rate, for the batch window.
    private let arrivals = Atomic<Int>(0)
    private let name: String

    /// Makes the worker; its thread starts with the first request, and the connection is opened on that thread
    /// for the first batch.
    ///
    /// - Parameters:
    ///   - name: the thread's name, seen in debuggers and `top -H` (its first 15 bytes).
    ///   - maxBatchSize: the most requests sent in one round trip.
    ///   - maxQueued: the most requests waiting for a batch; more are refused with ``WorkerError/overloaded``.
    ///   - timeout: how long a request may wait, from its submission to its result, unless its caller gives a deadline.
    ///   - reconnectInterval: the least time between two connection attempts while the server is unreachable.
    ///   - window: how long a small batch may be held back to grow; `nil` sends every batch at once.
    ///   - batchObserver: told the size of every batch run (for metrics).
    ///   - holdObserver: with a window, told how long every batch was held back (for metrics; zero when sent at once).
    public init(
        name: String,
        maxBatchSize: Int = 1000,
        maxQueued: Int? = nil,
        timeout: Duration = .seconds(10),
        reconnectInterval: Duration = .milliseconds(250),
        window: BatchWindow? = nil,
        batchObserver: (@Sendable (Int) -> Void)? = nil,
        holdObserver: (@Sendable (Duration) -> Void)? = nil,
        connect: @escaping @Sendable () throws -> Connection,
        process: @escaping Process
    ) {
        precondition(maxBatchSize > 0)
        self.maxBatchSize = maxBatchSize
        self.maxQueued = maxQueued ?? 8 * maxBatchSize
        self.timeout = timeout
        self.reconnectInterval = reconnectInterval
        self.window = window
        self.batchObserver = batchObserver
        self.holdObserver = holdObserver
        self.connect = connect
        self.process = process
        self.name = name
    }

    /// Starts the thread (once: by the request that found it not started).
    private func startThread() {
        OverdueSweeper.shared.watch(self)
        Thread { [self] in
            nameThisThread(name)
            self.threadMain()
        }.start()
    }

    /// Enqueues one request and suspends until its batch has run.
    ///
    /// - Parameter deadline: when the caller stops waiting; `timeout` from now when `nil`.
    /// - Throws: the request's own error, the connection error while the server is unreachable,
    ///   ``WorkerError/deadlineExceeded`` or ``WorkerError/overloaded``, or ``WorkerError/shutDown`` after
    ///   ``shutdown()`` began.
    public func submit(_ request: Request, deadline: ContinuousClock.Instant? = nil) async throws -> Response {
        let deadline = deadline ?? .now + timeout
        return try await withUnsafeThrowingContinuation { continuation in
            add(
                Pending(
                    request: request,
                    completion: .continuation(continuation),
                    deadline: deadline,
                    home: MultiThreadedEventLoopGroup.currentEventLoop
                )
            )
        }
    }

    /// Enqueues one request without waiting for it: `completion` is called on the worker's thread once its batch
    /// has run (or on the sweeper's when its deadline passed first), or at once when the worker refuses it; it must
    /// be quick. Requests keep their order: one enqueued before another `submit` on the same worker is sent before it.
    public func enqueue(_ request: Request, completion: @escaping @Sendable (Result<Response, any Error>) -> Void) {
        add(Pending(request: request, completion: .callback(completion), deadline: .now + timeout))
    }

    private func add(_ pending: Pending) {
        // Counted before the thread can take it: counted after, it would look as if it had arrived while its own batch
        // was out.
        if window != nil { arrivals.add(1, ordering: .relaxed) }
        let action = state.withLock { state -> SubmitAction in
            if state.isShuttingDown { return .reject(.shutDown) }
            if state.queue.count >= maxQueued { return .reject(.overloaded) }
            state.queue.append(pending)
            if !state.started {
                state.started = true
                return .start
            }
            if state.threadIsWaiting {
                state.threadIsWaiting = false
                return .wake
            }
            return .none
        }
        switch action {
        case .reject(let error):
            pending.completion(.failure(error))
            return
        case .wake: wakeUp.signal()
        case .start: startThread()
        case .none: break
        }
    }

    /// Stops taking requests, runs everything already queued, closes the connection on its thread, then returns.
    public func shutdown() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let alreadyExited = state.withLock { state -> Bool in
                state.isShuttingDown = true
                if !state.started { state.exited = true }  // never used: no thread to stop
                if state.exited { return true }
                state.exitWaiters.append(waiter)
                return false
            }
            if alreadyExited { waiter.resume() } else { wakeUp.signal() }
        }
    }

    /// The next batch: the requests queued so far whose deadline has not passed (the others are failed here, never
    /// sent); `[]` when the thread should wait, `nil` when it should exit.
    private func nextBatch() -> [Pending]? {
        take(upTo: maxBatchSize, waitWhenEmpty: true)
    }

    /// Up to `limit` queued requests whose deadline has not passed; when none are queued, `[]` (and, with
    /// `waitWhenEmpty`, the thread is marked as waiting for a wake-up), or `nil` once shutting down.
    private func take(upTo limit: Int, waitWhenEmpty: Bool) -> [Pending]? {
        let (batch, overdue) = state.withLock { state -> ([Pending]?, [Pending]) in
            if state.queue.isEmpty {
                if state.isShuttingDown { return (nil, []) }
                if waitWhenEmpty { state.threadIsWaiting = true }
                return ([], [])
            }
            let count = min(state.queue.count, limit)
            let taken = state.queue.prefix(count)
            state.queue.removeFirst(count)
            let now = ContinuousClock.now
            var batch: [Pending] = []
            var overdue: [Pending] = []
            batch.reserveCapacity(count)
            for pending in taken {
                if pending.deadline > now { batch.append(pending) } else { overdue.append(pending) }
            }
            return (batch, overdue)
        }
        if !overdue.isEmpty { deliver(overdue.map { _ in .failure(WorkerError.deadlineExceeded) }, to: overdue) }
        guard let batch, batch.isEmpty, !overdue.isEmpty else { return batch }
        return take(upTo: limit, waitWhenEmpty: waitWhenEmpty)  // everything taken was overdue: look again rather than wait
    }

    /// Holds a small batch back while requests keep arriving (see ``BatchWindow``), and returns it grown.
    private func grow(_ batch: [Pending], in window: BatchWindow, rate: ArrivalRate) -> [Pending] {
        guard let hold = window.hold(count: batch.count, rate: rate, now: .now) else {
            holdObserver?(.zero)
            return batch
        }
        var batch = batch
        var look: ContinuousClock.Instant? = hold.firstLook
        while let next = look {
            let now = ContinuousClock.now
            if next > now { Thread.sleep(forTimeInterval: (next - now).seconds) }
            guard let more = take(upTo: min(maxBatchSize, window.target) - batch.count, waitWhenEmpty: false) else { break }
            batch += more
            look = hold.nextLook(found: more.count, count: batch.count, now: .now)
        }
        holdObserver?(.now - hold.start)
        return batch
    }

    /// Fails the queued requests, from the front, whose deadline has passed. Called by the sweeper, so that callers
    /// get their answer on time while the thread is blocked on a server that does not answer.
    fileprivate func failOverdue(now: ContinuousClock.Instant) {
        let overdue = state.withLock { state -> [Pending] in
            var overdue: [Pending] = []
            while let first = state.queue.first, first.deadline <= now { overdue.append(state.queue.removeFirst()) }
            return overdue
        }
        if !overdue.isEmpty { deliver(overdue.map { _ in .failure(WorkerError.deadlineExceeded) }, to: overdue) }
    }

    private func threadMain() {
        var connection: Connection? = nil
        var lastFailure: (error: any Error, at: ContinuousClock.Instant)? = nil
        var rate = ArrivalRate()
        while var batch = nextBatch() {
            if batch.isEmpty {
                wakeUp.wait()
                continue
            }
            // The batch is out from here until its results are in: what arrives meanwhile is the rate.
            let out = ContinuousClock.now
            if let window {
                arrivals.store(0, ordering: .relaxed)
                batch = grow(batch, in: window, rate: rate)
            }
            let live: Connection
            if let existing = connection, existing.isHealthy {
                live = existing
            } else {
                connection = nil
                if let failure = lastFailure, ContinuousClock.now - failure.at < reconnectInterval {
                    for pending in batch { pending.completion(.failure(failure.error)) }
                    continue
                }
                do {
                    live = try connect()
                    connection = live
                    lastFailure = nil
                } catch {
                    lastFailure = (error, ContinuousClock.now)
                    for pending in batch { pending.completion(.failure(error)) }
                    continue
                }
            }
            batchObserver?(batch.count)
            let deadline = batch.lazy.map { $0.deadline }.min()!
            let results = process(live, batch.map { $0.request }, deadline)  // a closure: a key path here is built at run time, generically
            precondition(results.count == batch.count, "a batch must yield one result per request")
            // Before the answers go out: a caller answered now may send its next request at once, and that one did not
            // arrive while the batch was out.
            if window != nil { rate.record(arrivals: arrivals.load(ordering: .relaxed), whileOut: .now - out) }
            deliver(results, to: batch)
        }
        connection = nil
        let waiters = state.withLock { state in
            state.exited = true
            defer { state.exitWaiters = [] }
            return state.exitWaiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

extension BatchingWorker {
    /// Hands each result to its caller: callers without a home event loop at once, the others in one task per loop.
    private func deliver(_ results: [Result<Response, any Error>], to batch: [Pending]) {
        var byLoop: [(loop: any EventLoop, deliveries: [(Completion, Result<Response, any Error>)])] = []
        for (pending, result) in zip(batch, results) {
            guard let home = pending.home else {
                pending.completion(result)
                continue
            }
            if let index = byLoop.firstIndex(where: { $0.loop === home }) {
                byLoop[index].deliveries.append((pending.completion, result))
            } else {
                byLoop.append((home, [(pending.completion, result)]))
            }
        }
        for (loop, deliveries) in byLoop {
            loop.execute { for (completion, result) in deliveries { completion(result) } }
        }
    }
}

/// One thread for the whole process that, ten times a second, fails the overdue requests at the front of every
/// worker's queue (``BatchingWorker`` is generic, so the workers are watched through this protocol).
private protocol OverdueFailing: AnyObject, Sendable {
    func failOverdue(now: ContinuousClock.Instant)
}

extension BatchingWorker: OverdueFailing {}

private final class OverdueSweeper: Sendable {
    static let shared = OverdueSweeper()

    private struct Watched { weak var worker: (any OverdueFailing)? }
    private let watched = Mutex<[Watched]>([])

    private init() {
        Thread { [self] in
            nameThisThread("overdue-sweeper")
            while true {
                Thread.sleep(forTimeInterval: 0.1)
                let workers = watched.withLock { watched in
                    watched.removeAll { $0.worker == nil }
                    return watched.compactMap(\.worker)
                }
                let now = ContinuousClock.now
                for worker in workers { worker.failOverdue(now: now) }
            }
        }.start()
    }

    func watch(_ worker: some OverdueFailing) {
        watched.withLock { $0.append(Watched(worker: worker)) }
    }
}

/// Runs a blocking closure on a new OS thread and suspends until it returns, so that one-off blocking work
/// (migrations, starting servers) never occupies the concurrency pool.
public func runOnOwnThread<T: Sendable>(name: String = "blocking", _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            nameThisThread(name)
            continuation.resume(with: Result { try body() })
        }.start()
    }
}

/// Names the calling thread for the OS (`top -H`, debuggers, `/proc/self/task/*/comm`), which keeps 15 bytes.
///
/// Not through Foundation's `Thread.name`: on Linux it reaches the OS thread only once `start()` has recorded the
/// thread's handle, and the new thread can run before that (under load it did, and stayed unnamed).
func nameThisThread(_ name: String) {
    cgnu_name_this_thread(name)
}
