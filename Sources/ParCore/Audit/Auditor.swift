/// Replays the log one request at a time: folds each request's events through the lifecycle's state machine
/// (``RequestState``) and checks that each event is what the machine decides for its input at its time.
public struct Auditor: Sendable {
    /// How long past a deadline a request may stay without a terminal event: the sweeper's grace plus its
    /// interval, so that a request the sweeper has not reached yet is not a violation.
    public var settle: Duration
    /// The audit's "now", on the log's clock.
    public var now: LogTime

    private var requests = 0
    private var counts: [EventKind: Int] = [:]
    private var latencies: [Double] = []
    private var firstPush: LogTime? = nil
    private var lastPush: LogTime? = nil
    private var violations: [AuditViolation] = []

    public init(settle: Duration, now: LogTime) {
        self.settle = settle
        self.now = now
    }

    /// Checks the events of one request, in the log's order.
    ///
    /// Whether the request's client was registered at each moment is not in the log: the audit takes it as
    /// registered (a removal only ever refuses more).
    public mutating func replay(requestID: String, events: [RequestEvent]) {
        guard !events.isEmpty else { return }
        requests += 1
        var found: [AuditViolation.Rule] = []
        var state = RequestState()
        for event in events {
            counts[event.kind, default: 0] += 1
            if let input = event.input, let rule = Self.violation(of: event, state: state, decision: state.decide(input, at: event.at)),
                !found.contains(rule)
            {
                found.append(rule)
            }
            state.apply(event)
        }
        if let pushed = state.pushed {
            firstPush = min(firstPush ?? pushed.at, pushed.at)
            lastPush = max(lastPush ?? pushed.at, pushed.at)
            if case .consumed(let at, _)? = state.terminal { latencies.append(at.seconds - pushed.at.seconds) }
        }
        if state.pushed != nil, state.terminal == nil, let deadline = state.deadline, deadline + settle < now {
            found.append(.missingTerminal)
        }
        violations += found.map { AuditViolation(requestID: requestID, rule: $0) }
    }

    /// The rule `event` breaks, when the state machine, deciding its input at its time from `state`, does not
    /// append it.
    private static func violation(of event: RequestEvent, state: RequestState, decision: LifecycleDecision) -> AuditViolation.Rule? {
        if event.kind != .pushed, state.pushed == nil { return .noPushedEvent }
        if event.kind.isTerminal, state.terminal != nil { return .multipleTerminal }
        switch (event.kind, decision.outcome) {
        case (.pushed, .pushed), (.loaded, .loaded), (.expired, .expired):
            return nil
        case (.consumed, .consumed):
            // Through a ticket the caller is the authorization server: the request's own client must be recorded.
            guard decision.event != nil else { return .multipleTerminal }
            return event.clientID == state.pushed?.clientID ? nil : .consumedByOtherClient
        case (.pushed, _):
            return .duplicatePushed
        case (.loaded, .refused(.wrongClient)):
            return .loadedByOtherClient
        case (.loaded, .refused(.expired)) where state.loaded == nil && state.terminal == nil:
            return .loadedAfterDeadline
        case (.loaded, _):
            return state.loaded != nil ? .multipleLoaded : .loadedAfterTerminal
        case (.consumed, .refused(.wrongClient)):
            return .consumedByOtherClient
        case (.consumed, .refused(.expired)):
            return .consumedAfterDeadline
        case (.consumed, _):
            // Consumed by `request_uri` once loaded, or through a ticket the load did not hand out.
            return .consumedWithoutTicket
        case (.expired, _):
            return .expiredBeforeDeadline
        case (.refused, _):
            return nil
        }
    }

    /// The report of everything replayed so far.
    public func report() -> AuditReport {
        let sorted = latencies.sorted()
        func percentile(_ p: Double) -> Double {
            let rank = Int((p * Double(sorted.count)).rounded(.up))
            return sorted[max(0, min(sorted.count, rank) - 1)]
        }
        let latency =
            sorted.isEmpty
            ? nil
            : AuditReport.Latency(count: sorted.count, p50: percentile(0.5), p90: percentile(0.9), p99: percentile(0.99), max: sorted.last!)
        let pushes = counts[.pushed] ?? 0
        let span = lastPush.flatMap { last in firstPush.map { last.seconds - $0.seconds } } ?? 0
        return AuditReport(
            requests: requests,
            events: Dictionary(uniqueKeysWithValues: EventKind.allCases.map { ($0.rawValue, counts[$0] ?? 0) }),
            pushRate: span > 0 ? Double(pushes) / span : Double(pushes),
            pushToRedeem: latency,
            violations: violations
        )
    }
}
