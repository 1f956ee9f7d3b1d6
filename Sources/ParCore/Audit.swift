/// One event as `parstore audit` replays it.
public struct AuditEvent: Sendable {
    public var requestID: String
    public var kind: EventKind
    public var clientID: String
    /// Seconds since 1970, PostgreSQL's clock.
    public var at: Double
    /// The request's deadline, seconds since 1970 (for `loaded`: the interaction deadline).
    public var deadline: Double
    /// The ticket's hash, on `loaded` events and on consumptions through a ticket.
    public var ticketHash: String?

    public init(requestID: String, kind: EventKind, clientID: String, at: Double, deadline: Double, ticketHash: String? = nil) {
        self.requestID = requestID
        self.kind = kind
        self.clientID = clientID
        self.at = at
        self.deadline = deadline
        self.ticketHash = ticketHash
    }
}

/// A broken invariant of ARCHITECTURE §3, found by replaying the log.
public struct AuditViolation: Sendable, Codable, Equatable {
    public enum Rule: String, Sendable, Codable {
        case noPushedEvent = "no_pushed_event"
        case duplicatePushed = "duplicate_pushed"
        case multipleTerminal = "multiple_terminal"
        case multipleLoaded = "multiple_loaded"
        case loadedByOtherClient = "loaded_by_other_client"
        case loadedAfterDeadline = "loaded_after_deadline"
        case consumedWithoutTicket = "consumed_without_ticket"
        case consumedByOtherClient = "consumed_by_other_client"
        case consumedAfterDeadline = "consumed_after_deadline"
        case expiredBeforeDeadline = "expired_before_deadline"
        case missingTerminal = "missing_terminal"
    }

    public var requestID: String
    public var rule: Rule
}

/// What `parstore audit` reports.
public struct AuditReport: Sendable, Codable {
    public struct Latency: Sendable, Codable {
        public var count: Int
        public var p50: Double
        public var p90: Double
        public var p99: Double
        public var max: Double
    }

    public var requests: Int
    public var events: [String: Int]
    /// Pushes per second over the time the replayed pushes span.
    public var pushRate: Double
    /// Seconds from push to redemption.
    public var pushToRedeem: Latency?
    public var violations: [AuditViolation]
}

/// Replays the events of requests, one request at a time, and checks the invariants.
public struct Auditor: Sendable {
    /// How long past a deadline a request may stay without a terminal event: the sweeper's grace plus its
    /// interval, so that a request the sweeper has not reached yet is not a violation.
    public var settle: Double
    /// The audit's "now", seconds since 1970 (PostgreSQL's clock).
    public var now: Double

    private var requests = 0
    private var counts: [EventKind: Int] = [:]
    private var latencies: [Double] = []
    private var firstPush = Double.infinity
    private var lastPush = -Double.infinity
    private var violations: [AuditViolation] = []

    public init(settle: Double, now: Double) {
        self.settle = settle
        self.now = now
    }

    /// Checks the events of one request.
    public mutating func replay(request events: [AuditEvent]) {
        guard let requestID = events.first?.requestID else { return }
        requests += 1
        for event in events { counts[event.kind, default: 0] += 1 }
        func violation(_ rule: AuditViolation.Rule) { violations.append(AuditViolation(requestID: requestID, rule: rule)) }

        let pushes = events.filter { $0.kind == .pushed }
        guard let pushed = pushes.first else { return violation(.noPushedEvent) }
        if pushes.count > 1 { violation(.duplicatePushed) }
        firstPush = min(firstPush, pushed.at)
        lastPush = max(lastPush, pushed.at)

        // A loaded request is bound to its client, loaded within the request lifetime, and from then on lives until
        // the interaction deadline and may only be consumed through its ticket.
        let loads = events.filter { $0.kind == .loaded }
        if loads.count > 1 { violation(.multipleLoaded) }
        let loaded = loads.first
        if let loaded {
            if loaded.clientID != pushed.clientID { violation(.loadedByOtherClient) }
            if loaded.at > pushed.deadline { violation(.loadedAfterDeadline) }
        }
        let deadline = loaded?.deadline ?? pushed.deadline

        let terminals = events.filter { $0.kind.isTerminal }
        if terminals.count > 1 { violation(.multipleTerminal) }
        for terminal in terminals {
            switch terminal.kind {
            case .consumed:
                if terminal.clientID != pushed.clientID { violation(.consumedByOtherClient) }
                if terminal.at > deadline { violation(.consumedAfterDeadline) }
                if let loaded, terminal.ticketHash != loaded.ticketHash { violation(.consumedWithoutTicket) }
                latencies.append(terminal.at - pushed.at)
            case .expired:
                if terminal.at < deadline { violation(.expiredBeforeDeadline) }
            case .pushed, .loaded, .refused:
                break
            }
        }
        if terminals.isEmpty && deadline + settle < now { violation(.missingTerminal) }
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
        let span = lastPush - firstPush
        return AuditReport(
            requests: requests,
            events: Dictionary(uniqueKeysWithValues: EventKind.allCases.map { ($0.rawValue, counts[$0] ?? 0) }),
            pushRate: span > 0 ? Double(pushes) / span : Double(pushes),
            pushToRedeem: latency,
            violations: violations
        )
    }
}
