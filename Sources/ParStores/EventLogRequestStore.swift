import Foundation
public import Logging
public import ParCore
public import ParPostgres
public import ParRedis

/// What a request store counts (a node's metrics).
public struct RequestStoreObserver: Sendable {
    /// A record could not be sent to Redis, by operation.
    public var redisError: @Sendable (String) -> Void
    /// A redemption decided by PostgreSQL alone, by why: `not_found`, `rate_limited`, or Redis's failure
    /// (a ``RedisError/Kind`` raw value, or `overloaded`).
    public var redisFallback: @Sendable (String) -> Void
    /// A refused attempt on a request, by reason.
    public var refusal: @Sendable (RefusalReason) -> Void
    /// An input the store could not keep (a value PostgreSQL refuses), by operation.
    public var unstorable: @Sendable (String) -> Void
    /// Sealed parameters that could not be opened, by why: `tampered` (changed, or moved from another request),
    /// `key` (the day's key cannot be had).
    public var unreadable: @Sendable (String) -> Void

    public init(
        redisError: @escaping @Sendable (String) -> Void = { _ in },
        redisFallback: @escaping @Sendable (String) -> Void = { _ in },
        refusal: @escaping @Sendable (RefusalReason) -> Void = { _ in },
        unstorable: @escaping @Sendable (String) -> Void = { _ in },
        unreadable: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.redisError = redisError
        self.redisFallback = redisFallback
        self.refusal = refusal
        self.unstorable = unstorable
        self.unreadable = unreadable
    }
}

/// The request store of a node: PostgreSQL decides and records every event, Redis filters and caches.
///
/// Push: the `pushed` event is committed first (its deadline from PostgreSQL's clock), then the record is sent to
/// Redis with that deadline as `PXAT` and the answer goes out without waiting for Redis: a Redis failure costs
/// speed later (the arbiter alone decides), never the push.
///
/// Redeem: Redis claims atomically (checking the client inside the step), then the arbiter commits the
/// `consumed` event; only its answer is returned. When Redis has no record (lost, flushed, failed over) or is
/// unreachable, the arbiter alone decides. When PostgreSQL is unreachable nothing succeeds (503) and a Redis
/// claim is given back.
///
/// Parameters: sealed with their day's data key before they are stored (``ParameterSeal``), opened only for the
/// redemption's answer and the ticket read. Without a sealing ``DataKeyRing`` they are stored as pushed.
public final class EventLogRequestStore: RequestStore {
    private let eventLog: PostgresEventLog
    private let redis: RedisRequestCache?
    /// Seals what is pushed; `nil`: stored as pushed.
    private let sealing: DataKeyRing?
    /// Opens what was sealed.
    private let opening: DataKeyRing?
    private let observer: RequestStoreObserver
    private let fallback: NodeRateLimiter
    private let refusalWrites: NodeRateLimiter
    private let recordedRefusals: RecentSet
    private let logger: Logger
    private let clock: any WallClock

    /// - Parameters:
    ///   - fallbackRate: redemptions per second that Redis cannot decide and PostgreSQL is asked about, per node.
    ///   - refusalRecordRate: refused attempts per second this node records in the log; beyond it they are
    ///     only counted.
    ///   - clock: the time of day a request_uri's day is taken from.
    public init(
        eventLog: PostgresEventLog,
        redis: RedisRequestCache?,
        sealing: DataKeyRing?,
        opening: DataKeyRing?,
        observer: RequestStoreObserver,
        fallbackRate: Int,
        refusalRecordRate: Int = 500,
        clock: any WallClock = SystemWallClock(),
        logger: Logger
    ) {
        self.eventLog = eventLog
        self.redis = redis
        self.sealing = sealing
        self.opening = opening
        self.observer = observer
        self.fallback = NodeRateLimiter(perSecond: fallbackRate)
        self.refusalWrites = NodeRateLimiter(perSecond: refusalRecordRate)
        self.recordedRefusals = RecentSet(capacity: 16_384)
        self.logger = logger
        self.clock = clock
    }

    /// Stores a validated request, with the single-use values that authenticate it (JWT `jti`s) in the same
    /// transaction, and returns its reference once the `pushed` event is durable.
    ///
    /// - Throws: 503 `temporarily_unavailable` when PostgreSQL cannot be reached: no reference is handed out.
    public func push(_ request: PushedRequest, lifetime: Duration, singleUse: [SingleUse] = []) async throws(OAuthError) -> PushOutcome {
        let reference = RequestReference.mint(secondsSince1970: clock.secondsSince1970)
        var parameters = request.parametersJSON
        if let sealing {
            let key: DataKey
            do {
                key = try await sealing.sealingKey(for: reference.day)
            } catch let error as DataKeyError {
                logger.error("no data key to seal with", metadata: ["why": "\(error)"])
                throw .storeUnavailable
            } catch {
                throw storeFailure(error, operation: "push")
            }
            parameters = ParameterSeal.seal(parameters, requestID: reference.requestID, day: reference.day, with: key)
        }
        var record = EventRecord(
            day: reference.day,
            requestID: reference.requestID,
            kind: .pushed,
            clientID: request.clientID,
            lifetime: lifetime,
            payload: parameters
        )
        record.singleUse = singleUse
        let appended: AppendResult
        do {
            appended = try await eventLog.append(record)
        } catch {
            throw storeFailure(error, operation: "push")
        }
        if let replayed = appended.replayedSingleUse { return .replayed(replayed) }
        // 256 random bits never collide; a taken slot would be a bug, never a silent overwrite.
        guard appended.inserted else {
            logger.error("pushed event slot already taken", metadata: ["request_id": "\(reference.requestIDHex)"])
            throw OAuthError(.serverError, "The request could not be stored.", status: 500)
        }
        if let redis {
            let observer = observer
            redis.push(reference, clientID: request.clientID, deadlineMillis: appended.deadlineMillis) { observer.redisError("push") }
        }
        return .stored(reference)
    }

    /// Redeems a request for `clientID`: exactly one call ever gets `.redeemed` for a request.
    ///
    /// - Throws: 503 `temporarily_unavailable` when PostgreSQL cannot be reached (fail closed), or when too many
    ///   requests Redis does not know are being checked against PostgreSQL at once.
    public func redeem(requestURI: String, clientID: String) async throws(OAuthError) -> RedemptionResult {
        try await opened(decide(requestURI: requestURI, clientID: clientID), refusing: .invalidRequestURI)
    }

    /// The redemption by `request_uri`, its parameters as stored.
    private func decide(requestURI: String, clientID: String) async throws(OAuthError) -> RedemptionResult {
        guard let reference = RequestReference(requestURI: requestURI) else { return .refused(.unknown) }
        let consume = ConsumeRequest(reference: reference, clientID: clientID)
        guard let redis else { return try await arbitrate(consume, reference: reference) }

        let filtered: LifecycleDecision.Outcome
        do {
            filtered = try await redis.consume(reference, clientID: clientID)
        } catch {
            observer.redisFallback((error as? RedisError)?.kind.rawValue ?? "overloaded")
            return try await arbitrate(consume, reference: reference)
        }
        switch filtered {
        case .refused(.unknown):
            guard fallback.allow() else {
                observer.redisFallback("rate_limited")
                throw OAuthError(
                    .temporarilyUnavailable,
                    "Too many unknown request_uris are being checked; retry later.",
                    status: 503,
                    retryAfter: 1
                )
            }
            observer.redisFallback("not_found")
            return try await arbitrate(consume, reference: reference)
        case .refused(let reason):
            // Decided by Redis alone: answered now, recorded off the request path.
            recordRefusal(reason, reference: reference, clientID: clientID)
            return .refused(reason)
        default:
            break
        }
        // Redis let this caller take it: PostgreSQL commits it, or refuses with the last word.
        do {
            let outcome = try await eventLog.consume(consume)
            if case .refused(let reason) = outcome { recordRefusal(reason, reference: reference, clientID: clientID) }
            return outcome
        } catch {
            try? await redis.unclaim(reference)
            throw storeFailure(error, operation: "redeem")
        }
    }

    /// Loads a request at the authorization endpoint for the user agent holding `binding`.
    ///
    /// - Throws: 503 `temporarily_unavailable` when PostgreSQL cannot be reached: nothing is loaded.
    public func load(
        _ reference: RequestReference,
        clientID: String,
        binding: UserAgentBinding,
        interactionLifetime: Duration
    ) async throws(OAuthError) -> LoadResult {
        let request = LoadRequest(reference: reference, clientID: clientID, binding: binding, interactionLifetime: interactionLifetime)
        let result: LoadResult
        do {
            result = try await eventLog.load(request)
        } catch {
            throw storeFailure(error, operation: "load")
        }
        if case .refused(let reason) = result { recordRefusal(reason, reference: request.reference, clientID: request.clientID) }
        return result
    }

    /// Consumes a loaded request through its ticket: exactly one attempt ever gets `.redeemed` for a request; the
    /// same attempt (`attemptKey`) asked again gets it again, within the interaction lifetime.
    ///
    /// - Throws: 503 `temporarily_unavailable` when PostgreSQL cannot be reached or its answer is lost (fail
    ///   closed: the outcome is unknown, and a retry with the same attempt key tells it).
    public func redeem(ticket text: String, attemptKey: String?) async throws(OAuthError) -> RedemptionResult {
        guard let ticket = Ticket(text) else { return .refused(.unknown) }
        let result: RedemptionResult
        do {
            result = try await eventLog.redeem(TicketRedemption(ticket: ticket, attemptKey: attemptKey))
        } catch {
            throw storeFailure(error, operation: "redeem-ticket")
        }
        return try await opened(result, refusing: .invalidTicket)
    }

    /// The request behind a ticket, for the login and consent UI; changes nothing.
    public func read(ticket text: String) async throws(OAuthError) -> Result<TicketedRequest, RefusalReason> {
        guard let ticket = Ticket(text) else { return .failure(.unknown) }
        let result: Result<TicketedRequest, RefusalReason>
        do {
            result = try await eventLog.read(ticket)
        } catch {
            throw storeFailure(error, operation: "read-ticket")
        }
        guard case .success(var found) = result else { return result }
        found.parameters = try await opened(found.parameters, refusing: .invalidTicket)
        return .success(found)
    }

    /// A redemption's answer with its parameters opened.
    private func opened(_ result: RedemptionResult, refusing code: OAuthError.Code) async throws(OAuthError) -> RedemptionResult {
        guard case .redeemed(var redeemed) = result else { return result }
        redeemed.parameters = try await opened(redeemed.parameters, refusing: code)
        return .redeemed(redeemed)
    }

    /// Sealed parameters opened with their day's key: `.erased` when that key was destroyed. Parameters that do not
    /// open (changed, moved onto another request's row, or under a key this node cannot have) are never answered:
    /// the caller gets `code` (the request is used up: its terminal event is already committed).
    private func opened(_ parameters: StoredParameters, refusing code: OAuthError.Code) async throws(OAuthError) -> StoredParameters {
        guard case .sealed(let payload, let requestID, let day) = parameters else { return parameters }
        let requestIDHex = Secret.hex(requestID)
        let unreadable = { (why: String) -> OAuthError in
            self.observer.unreadable(why)
            return OAuthError(
                code,
                "The request's stored parameters cannot be read; it cannot be used.",
                status: 400,
                reason: "unreadable_parameters"
            )
        }
        guard let opening else {
            logger.error("sealed parameters, and no PARSTORE_DATA_KEY_FILE to open them", metadata: ["request_id": "\(requestIDHex)"])
            throw unreadable("key")
        }
        let key: DataKey
        do {
            key = try await opening.openingKey(for: day)
        } catch DataKeyError.erased {
            return .erased
        } catch let error as DataKeyError {
            logger.error("sealed parameters cannot be opened", metadata: ["request_id": "\(requestIDHex)", "why": "\(error)"])
            throw unreadable("key")
        } catch {
            throw storeFailure(error, operation: "open")
        }
        guard let clear = ParameterSeal.open(payload, requestID: requestID, day: day, with: key) else {
            logger.error("sealed parameters do not open: changed, or moved from another request", metadata: ["request_id": "\(requestIDHex)"])
            throw unreadable("tampered")
        }
        return .clear(clear)
    }

    /// Lets the arbiter decide alone, and records a refusal of a known request.
    private func arbitrate(_ consume: ConsumeRequest, reference: RequestReference) async throws(OAuthError) -> RedemptionResult {
        let outcome: RedemptionResult
        do {
            outcome = try await eventLog.consume(consume)
        } catch {
            throw storeFailure(error, operation: "redeem")
        }
        switch outcome {
        case .refused(let reason): recordRefusal(reason, reference: reference, clientID: consume.clientID)
        case .redeemed(let redeemed): redis?.markUsed(reference, clientID: consume.clientID, deadlineMillis: redeemed.expiresAtMillis)
        }
        return outcome
    }

    /// Counts a refused attempt on a known request (reuse, wrong client, wrong user agent, too late) and records it
    /// in the log so that auditors see someone tried: at most once per request and reason (the slot of the reason
    /// makes a second row impossible; this node also skips what it recorded recently), within a per-node budget,
    /// and off the request path. Unknown references are only counted: a flood of them must not become writes.
    private func recordRefusal(_ reason: RefusalReason, reference: RequestReference, clientID: String) {
        observer.refusal(reason)
        let key = reference.requestIDHex + "/" + reason.rawValue
        guard reason != .unknown, recordedRefusals.insert(key) else { return }
        // Over the budget the refusal is only counted, and forgotten here so that a later one can still be recorded.
        guard refusalWrites.allow() else {
            recordedRefusals.forget(key)
            return
        }
        let logger = logger
        eventLog.appendDetached(.refusal(reason, of: reference, by: clientID)) { result in
            if case .failure = result {
                logger.warning("could not record a refused attempt", metadata: ["request_id": "\(reference.requestIDHex)"])
            }
        }
    }

    private func storeFailure(_ error: any Error, operation: String) -> OAuthError {
        if PostgresEventLog.isUnavailable(error) {
            logger.debug("event store unavailable", metadata: ["operation": "\(operation)", "error": "\(error)"])
            return .storeUnavailable
        }
        // The batch isolated this caller's row: its input was at fault, not the store.
        if let error = error as? PGError, error.isDataError {
            observer.unstorable(operation)
            return .invalidRequest("The request contains a value that cannot be stored.")
        }
        let state = (error as? PGError)?.sqlState ?? "-"
        logger.error("event store error", metadata: ["operation": "\(operation)", "sqlstate": "\(state)"])
        return OAuthError(.serverError, "The request could not be processed.", status: 500)
    }
}
