import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// Where to send load: `host:port` over plain TCP or TLS, with a `Host` header value.
struct Target: Sendable {
    var host: String
    var port: Int
    var tls: Bool
    var hostHeader: String { "\(host):\(port)" }
    /// The base URL, e.g. to name the PAR endpoint as a client assertion's audience.
    var base: String { (tls ? "https://" : "http://") + hostHeader }

    init(url: String) throws {
        guard let components = URLComponents(string: url), let host = components.host, ["http", "https"].contains(components.scheme) else {
            throw BenchError("a target must be an http:// or https:// URL: \(url)")
        }
        self.host = host
        self.tls = components.scheme == "https"
        self.port = components.port ?? (tls ? 443 : 80)
    }
}

/// One benchmark run: N connections over the targets, closed loop (as fast as responses come back) or open loop
/// (a fixed arrival rate; latency counts from each iteration's intended start, so stalls cannot hide).
struct Runner: Sendable {
    var scenario: ScenarioKind
    var targets: [Target]
    var connections: Int
    var duration: Duration
    var warmup: Duration
    var rate: Double?
    var endpoints: Endpoints
    var pool: Int
    var hostileShare: Double
    var progress: Bool
    /// The TLS client context for `https` targets.
    var tls: TLSClient?

    func run() async throws -> Report {
        let pooled = scenario == .redeem ? try await pushPool() : []
        let counters = Counters()
        let start = ContinuousClock.now
        let measuring = start + warmup
        let measuredFrom = Date().timeIntervalSince1970 + Double(warmup.components.seconds) + Double(warmup.components.attoseconds) / 1e18
        let end = measuring + duration
        let collector = Collector(measuringFrom: measuring)
        let reporter = progress ? Task { await Self.reportProgress(collector, measuring: measuring, end: end) } : nil
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<connections {
                group.addTask {
                    await connectionLoop(index: index, end: end) { exchange, target in
                        let intended: ContinuousClock.Instant
                        if let rate {
                            let number = counters.arrivals.wrappingAdd(1, ordering: .relaxed).oldValue
                            intended = start + .nanoseconds(Int64(Double(number) / rate * 1e9))
                            guard intended < end else { return false }
                            if intended > .now { try await Task.sleep(until: intended, clock: .continuous) }
                        } else {
                            intended = .now
                            guard intended < end else { return false }
                        }
                        let failed = try await iterate(exchange, target: target, collector: collector) {
                            let next = counters.pooled.wrappingAdd(1, ordering: .relaxed).oldValue
                            return next < pooled.count ? pooled[next] : nil
                        }
                        guard let failed else { return false }
                        let now = ContinuousClock.now
                        collector.iteration(finishedAt: now, micros: now.micros(since: intended), failed: failed)
                        return true
                    }
                }
            }
        }
        reporter?.cancel()
        if progress { FileHandle.standardError.write(Data("\n".utf8)) }
        let checked = scenario.redeems ? try await checkRedeemedOnce(collector) : 0
        if scenario == .redeem && counters.pooled.load(ordering: .relaxed) >= pooled.count {
            FileHandle.standardError.write(Data("warning: the pool of \(pooled.count) ran out before the end; raise --pool\n".utf8))
        }
        return Report(
            runner: self,
            collector: collector,
            measuredFrom: measuredFrom,
            measured: min(duration, ContinuousClock.now - measuring),
            checked: checked
        )
    }

    typealias Exchange = HTTPConnection.Exchanger

    /// Shared by the connections of a run.
    final class Counters: Sendable {
        /// Open loop: the number of the next arrival.
        let arrivals = Atomic<Int>(0)
        /// Redeem: the next request of the pool.
        let pooled = Atomic<Int>(0)
        /// The pool being pushed.
        let pushed = Mutex<[String]>([])
    }

    /// What a connection sends again and again, built once: the push request never changes (unless it carries a
    /// client assertion, which is signed anew for each push).
    struct PreparedTarget {
        var target: Target
        var push: (head: HTTPRequestHead, body: ByteBuffer)
        var host: String { target.hostHeader }
    }

    /// Keeps one connection busy until `end`, reconnecting after transport errors.
    private func connectionLoop(
        index: Int,
        end: ContinuousClock.Instant,
        _ step: (Exchange, PreparedTarget) async throws -> Bool
    ) async {
        let target = targets[index % targets.count]
        let prepared = PreparedTarget(target: target, push: endpoints.pushRequest(target: target))
        while ContinuousClock.now < end {
            do {
                try await HTTPConnection.with(target, tls: tls) { exchange in
                    while try await step(exchange, prepared) {}
                }
                return
            } catch {
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// One iteration of the scenario; `nil` when there is nothing left to do (the pool ran out).
    private func iterate(
        _ exchange: Exchange,
        target: PreparedTarget,
        collector: Collector,
        nextPooled: () -> String?
    ) async throws -> Bool? {
        let host = target.host
        var failed = false
        /// Sends one request, classifies and times it; `judge` says whether the answer is the scenario's success,
        /// and may name its class (by default the status and the OAuth `reason` or `error`).
        func send(
            _ operation: String,
            _ head: HTTPRequestHead,
            _ body: ByteBuffer?,
            judge: (HTTPConnection.Response) -> (ok: Bool, label: String?)
        ) async throws -> HTTPConnection.Response {
            let started = ContinuousClock.now
            let response = try await exchange.send(head, body)
            let (ok, label) = judge(response)
            if !ok { failed = true }
            collector.exchange(operation, label ?? classify(operation, response), micros: ContinuousClock.now.micros(since: started), expected: ok)
            return response
        }
        func send(_ operation: String, _ head: HTTPRequestHead, _ body: ByteBuffer?, expected: (HTTPConnection.Response) -> Bool) async throws
            -> HTTPConnection.Response
        {
            try await send(operation, head, body) { (expected($0), nil) }
        }
        /// Pushes; `nil` when the push did not give a `request_uri` (counted as unexpected: the iteration cannot go on).
        func push() async throws -> String? {
            let request = endpoints.signsAssertions ? endpoints.pushRequest(target: target.target) : target.push
            var requestURI: String? = nil
            _ = try await send("push", request.head, request.body) { response in
                guard response.status == 201 else { return (false, nil) }
                requestURI = jsonString(response.body, "request_uri")
                return requestURI == nil ? (false, "push 201 without request_uri") : (true, nil)
            }
            return requestURI
        }
        func redeem(_ json: String, expected: @escaping (HTTPConnection.Response) -> Bool) async throws -> HTTPConnection.Response {
            let (head, body) = endpoints.redeemRequest(host: host, json: json)
            return try await send("redeem", head, body, expected: expected)
        }
        func backendJSON(_ clientID: String, _ requestURI: String) -> String {
            #"{"client_id":"\#(clientID)","request_uri":"\#(requestURI)"}"#
        }
        let isOK: (HTTPConnection.Response) -> Bool = { $0.status == 200 }

        switch scenario {
        case .get:
            _ = try await send("get", endpoints.getRequest(host: host), nil, expected: isOK)
        case .push:
            _ = try await push()
        case .authorize:
            guard let requestURI = try await push() else { return failed }
            _ = try await send("authorize", endpoints.authorizeRequest(host: host, requestURI: requestURI), nil) { response in
                let outcome = AuthorizeOutcome(response)
                return (outcome.isSuccess, "authorize \(response.status) \(outcome.label)")
            }
        case .redeem:
            guard let requestURI = nextPooled() else { return nil }
            if try await redeem(backendJSON(endpoints.clientID, requestURI), expected: isOK).status == 200 {
                collector.redeemed("u:" + requestURI)
            }
        case .flowBackend, .hostile:
            guard let requestURI = try await push() else { return failed }
            if scenario == .hostile && Double.random(in: 0..<1) < hostileShare {
                _ = try await redeem(backendJSON("parbench-intruder", requestURI)) { $0.status == 400 }
            }
            if try await redeem(backendJSON(endpoints.clientID, requestURI), expected: isOK).status == 200 {
                collector.redeemed("u:" + requestURI)
            }
            if scenario == .hostile && Double.random(in: 0..<1) < hostileShare {
                let reuse = try await redeem(backendJSON(endpoints.clientID, requestURI)) { $0.status == 400 }
                if reuse.status == 200 { collector.doubleRedemption() }
            }
            if scenario == .hostile && Double.random(in: 0..<1) < hostileShare {
                let unknown = "urn:ietf:params:oauth:request_uri:v1.20000101." + String(repeating: "A", count: 43)
                _ = try await redeem(backendJSON(endpoints.clientID, unknown)) { $0.status == 400 }
            }
        case .flow:
            guard let requestURI = try await push() else { return failed }
            var ticket: String? = nil
            _ = try await send("authorize", endpoints.authorizeRequest(host: host, requestURI: requestURI), nil) { response in
                guard response.status == 303 else { return (false, nil) }
                ticket = AuthorizeOutcome.queryItem("ticket", in: response)
                return ticket == nil ? (false, "authorize 303 without ticket") : (true, nil)
            }
            guard let ticket else { return failed }
            if try await redeem(#"{"ticket":"\#(ticket)"}"#, expected: isOK).status == 200 {
                collector.redeemed("t:" + ticket)
            }
        }
        return failed
    }

    /// Pushes the pool the `redeem` scenario consumes (not measured).
    private func pushPool() async throws -> [String] {
        let counters = Counters()
        let perConnection = (pool + connections - 1) / connections
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<connections {
                group.addTask {
                    let target = targets[index % targets.count]
                    try await HTTPConnection.with(target, tls: tls) { exchange in
                        for _ in 0..<perConnection {
                            let (head, body) = endpoints.pushRequest(target: target)
                            let response = try await exchange.send(head, body)
                            if let uri = jsonString(response.body, "request_uri") { counters.pushed.withLock { $0.append(uri) } }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        return counters.pushed.withLock { $0 }
    }

    /// Redeems again a sample of what was redeemed: every attempt must be refused. A success is a double redemption.
    private func checkRedeemedOnce(_ collector: Collector) async throws -> Int {
        let sample = collector.state.withLock { $0.redeemed }
        guard !sample.isEmpty else { return 0 }
        let target = targets[0]
        try await HTTPConnection.with(target, tls: tls) { exchange in
            for entry in sample {
                let value = String(entry.dropFirst(2))
                let json =
                    entry.hasPrefix("t:")
                    ? #"{"ticket":"\#(value)"}"# : #"{"client_id":"\#(endpoints.clientID)","request_uri":"\#(value)"}"#
                let (head, body) = endpoints.redeemRequest(host: target.hostHeader, json: json)
                if try await exchange.send(head, body).status == 200 { collector.doubleRedemption() }
            }
        }
        return sample.count
    }

    private static func reportProgress(_ collector: Collector, measuring: ContinuousClock.Instant, end: ContinuousClock.Instant) async {
        var last = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            let now = ContinuousClock.now
            let total = collector.progress.load(ordering: .relaxed)
            let phase = now < measuring ? "warm-up" : "\(Int((now - measuring).components.seconds))/\(Int((end - measuring).components.seconds)) s"
            let line = "\r[\(phase)] \(total - last) it/s, \(total) done, \(collector.progressErrors.load(ordering: .relaxed)) unexpected   "
            FileHandle.standardError.write(Data(line.utf8))
            last = total
        }
    }
}
