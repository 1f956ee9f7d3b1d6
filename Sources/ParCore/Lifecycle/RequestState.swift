/// The request lifecycle (ARCHITECTURE §3): a request's state, folded from its events, and for every input the
/// decision and the event to append.
///
/// ```
///            load                    redeemTicket
///   pushed ───────▶ loaded ──────────────────────────▶ consumed
///     │  redeem        │  (interaction deadline)
///     ├───────────────────────────────────────────────▶ consumed
///     │                │ expire
///     └────────────────┴──────────────────────────────▶ expired
/// ```
///
/// - A request is redeemed at most once: by the client that pushed it, before its deadline; once loaded, only
///   through its ticket and before the interaction deadline. Exactly one terminal event ends it.
/// - A load binds it to one user agent, once; the same user agent reloads it, any other is refused.
/// - Every refusal of a known request may be recorded, once per reason.
///
/// This type is the rules. PostgreSQL executes the same decisions atomically, many requests per statement, in
/// the hot-path statements (ParPostgres' `EventStatements`), and a parity test runs the same sequences through
/// both; the ``Auditor`` folds the log through it.
public struct RequestState: Sendable, Equatable {
    public struct Loaded: Sendable, Equatable {
        public var at: LogTime
        /// The interaction deadline: redeem through the ticket before it.
        public var deadline: LogTime
        public var bindingHash: [UInt8]
        public var ticketHash: [UInt8]
    }

    public enum Terminal: Sendable, Equatable {
        /// Redeemed; through a ticket, with the attempt key's hash if one was given.
        case consumed(at: LogTime, attemptHash: [UInt8]?)
        case expired(at: LogTime)
    }

    /// The `pushed` event; `nil` for a request never pushed.
    public private(set) var pushed: RequestEvent?
    public private(set) var loaded: Loaded?
    public private(set) var terminal: Terminal?
    /// The reasons whose refusal is already recorded.
    public private(set) var recordedRefusals: Set<RefusalReason> = []

    /// A request nobody pushed.
    public init() {}

    /// The state of a request with these events, in the log's order.
    public init(folding events: some Sequence<RequestEvent>) {
        for event in events { apply(event) }
    }

    /// The deadline now in force: the interaction's once loaded, else the request's.
    public var deadline: LogTime? { loaded?.deadline ?? pushed?.deadline }

    /// Folds one more event in. The log keeps at most one event per slot, so an event whose slot is taken (which
    /// only a corrupted log holds) changes nothing.
    public mutating func apply(_ event: RequestEvent) {
        switch event.kind {
        case .pushed:
            if pushed == nil { pushed = event }
        case .loaded:
            if loaded == nil {
                loaded = Loaded(at: event.at, deadline: event.deadline, bindingHash: event.bindingHash ?? [], ticketHash: event.ticketHash ?? [])
            }
        case .consumed:
            if terminal == nil { terminal = .consumed(at: event.at, attemptHash: event.attemptHash) }
        case .expired:
            if terminal == nil { terminal = .expired(at: event.at) }
        case .refused:
            if let reason = event.refusal { recordedRefusals.insert(reason) }
        }
    }

    /// What happens when `input` arrives at `now`.
    ///
    /// - Parameter ownerIsRegistered: whether the client that pushed the request is still registered; a removed
    ///   client's requests are dead (RFC 9126 §7.4).
    public func decide(_ input: LifecycleInput, at now: LogTime, ownerIsRegistered: Bool = true) -> LifecycleDecision {
        switch input {
        case .push(let clientID, let lifetime):
            guard pushed == nil else { return LifecycleDecision(.refused(.alreadyUsed)) }
            return LifecycleDecision(.pushed, event: RequestEvent(kind: .pushed, clientID: clientID, at: now, deadline: now + lifetime))

        case .load(let clientID, let binding, let ticket, let interactionLifetime):
            guard let pushed else { return refuse(.unknown, caller: clientID, at: now) }
            guard pushed.clientID == clientID else { return refuse(.wrongClient, caller: clientID, at: now) }
            guard ownerIsRegistered else { return refuse(.unregisteredClient, caller: clientID, at: now) }
            if terminal == nil, loaded == nil, now < pushed.deadline {
                let event = RequestEvent(
                    kind: .loaded,
                    clientID: clientID,
                    at: now,
                    deadline: now + interactionLifetime,
                    bindingHash: binding,
                    ticketHash: ticket
                )
                return LifecycleDecision(.loaded, event: event)
            }
            if let terminal { return refuse(terminal.isExpiry ? .expired : .alreadyUsed, caller: clientID, at: now) }
            if let loaded {
                guard loaded.bindingHash == binding else { return refuse(.wrongUserAgent, caller: clientID, at: now) }
                return now < loaded.deadline ? LifecycleDecision(.reloaded) : refuse(.expired, caller: clientID, at: now)
            }
            return refuse(.expired, caller: clientID, at: now)

        case .redeem(let clientID):
            guard let pushed else { return refuse(.unknown, caller: clientID, at: now) }
            guard pushed.clientID == clientID else { return refuse(.wrongClient, caller: clientID, at: now) }
            guard ownerIsRegistered else { return refuse(.unregisteredClient, caller: clientID, at: now) }
            if terminal == nil, loaded == nil, now < pushed.deadline {
                return LifecycleDecision(.consumed, event: RequestEvent(kind: .consumed, clientID: clientID, at: now, deadline: pushed.deadline))
            }
            if let terminal { return refuse(terminal.isExpiry ? .expired : .alreadyUsed, caller: clientID, at: now) }
            // A loaded request is redeemed through its ticket only.
            return refuse(loaded != nil ? .alreadyUsed : .expired, caller: clientID, at: now)

        case .redeemTicket(let ticket, let attempt):
            guard let pushed, let loaded, loaded.ticketHash == ticket else { return refuse(.unknown, caller: "", at: now) }
            guard ownerIsRegistered else { return refuse(.unregisteredClient, caller: pushed.clientID, at: now) }
            switch terminal {
            case nil where now < loaded.deadline:
                let event = RequestEvent(
                    kind: .consumed,
                    clientID: pushed.clientID,
                    at: now,
                    deadline: loaded.deadline,
                    ticketHash: ticket,
                    attemptHash: attempt
                )
                return LifecycleDecision(.consumed, event: event)
            case .consumed(_, let winner?) where winner == attempt && now < loaded.deadline:
                return LifecycleDecision(.consumed)  // the same attempt again: its answer was lost
            case .expired?:
                return refuse(.expired, caller: pushed.clientID, at: now)
            case .consumed?:
                return refuse(.alreadyUsed, caller: pushed.clientID, at: now)
            case nil:
                return refuse(.expired, caller: pushed.clientID, at: now)
            }

        case .readTicket(let ticket):
            guard pushed != nil, let loaded, loaded.ticketHash == ticket else { return LifecycleDecision(.refused(.unknown)) }
            guard ownerIsRegistered else { return LifecycleDecision(.refused(.unregisteredClient)) }
            if let terminal { return LifecycleDecision(.refused(terminal.isExpiry ? .expired : .alreadyUsed)) }
            return LifecycleDecision(now < loaded.deadline ? .live : .refused(.expired))

        case .expire(let grace):
            guard let pushed, let deadline else { return LifecycleDecision(.refused(.unknown)) }
            guard terminal == nil else { return LifecycleDecision(.refused(.alreadyUsed)) }
            guard deadline <= now - grace else { return LifecycleDecision(.notDue) }
            return LifecycleDecision(.expired, event: RequestEvent(kind: .expired, clientID: pushed.clientID, at: now, deadline: deadline))
        }
    }

    /// A refusal, with its record when this request has none for `reason` yet (never for requests nobody pushed).
    private func refuse(_ reason: RefusalReason, caller: String, at now: LogTime) -> LifecycleDecision {
        guard let pushed, reason != .unknown, !recordedRefusals.contains(reason) else { return LifecycleDecision(.refused(reason)) }
        let record = RequestEvent(kind: .refused, clientID: caller, at: now, deadline: pushed.deadline, refusal: reason)
        return LifecycleDecision(.refused(reason), event: record)
    }
}

extension RequestState.Terminal {
    var isExpiry: Bool {
        if case .expired = self { return true }
        return false
    }
}
