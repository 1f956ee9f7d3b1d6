public import ParCore

/// The live requests in Redis: the fast, atomic filter in front of the PostgreSQL arbiter. Never needed for
/// safety: every answer that matters is confirmed by PostgreSQL.
public struct RedisRequestCache: Sendable {
    private let pool: RedisPool

    public init(pool: RedisPool) {
        self.pool = pool
    }

    /// Records a pushed request (its client, unused) until its deadline, never overwriting, without waiting for
    /// Redis's answer: the push is already durable in PostgreSQL, and every later command about the same request
    /// (consume, unclaim) goes out on the same connection, after this one. `failed` is called, on the connection's
    /// thread, when the record could not be stored; redemptions of that request then fall back to PostgreSQL.
    public func push(_ reference: RequestReference, clientID: String, deadlineMillis: Int64, failed: @escaping @Sendable () -> Void) {
        let key = Self.key(reference)
        pool.send(["FCALL", "parstore_push", "1", key, clientID, String(deadlineMillis)], key: key, shard: Self.shard(reference)) { result in
            if case .failure = result { failed() }
        }
    }

    /// Takes a request for `clientID`, atomically: `.consumed` when this caller took it (PostgreSQL must still
    /// commit it), else the refusal Redis can decide alone (`wrongClient`, `alreadyUsed`), or `unknown` when Redis
    /// has no record of it (never pushed, expired, or lost with Redis data): then PostgreSQL decides.
    public func consume(_ reference: RequestReference, clientID: String) async throws -> LifecycleDecision.Outcome {
        let key = Self.key(reference)
        let reply = try await pool.command(["FCALL", "parstore_consume", "1", key, clientID], key: key, shard: Self.shard(reference))
        if reply.text == "consumed" { return .consumed }
        guard let reason = reply.text.flatMap(RefusalReason.init(rawValue:)) else {
            throw RedisError(.reply, message: "unexpected reply to parstore_consume")
        }
        return .refused(reason)
    }

    /// Records a request rebuilt from the log: unused (`p`) or used (`u`: loaded by a browser) until `deadlineMillis`,
    /// never overwriting what Redis holds. Returns whether it was stored.
    public func restore(requestID: [UInt8], clientID: String, deadlineMillis: Int64, used: Bool) async throws -> Bool {
        let key = Self.key(requestID: requestID)
        let reply = try await pool.command(
            ["FCALL", "parstore_restore", "1", key, clientID, String(deadlineMillis), used ? "u" : "p"],
            key: key,
            shard: Int(requestID[0])
        )
        guard case .integer(let stored) = reply else { throw RedisError(.reply, message: "unexpected reply to parstore_restore") }
        return stored == 1
    }

    /// Marks a request used until its deadline, whether Redis holds it or not, without waiting for the answer: a
    /// consumption PostgreSQL decided alone (Redis had no record), which a `parstore rebuild` running meanwhile must
    /// not bring back as unused.
    public func markUsed(_ reference: RequestReference, clientID: String, deadlineMillis: Int64) {
        let key = Self.key(reference)
        pool.send(["FCALL", "parstore_used", "1", key, clientID, String(deadlineMillis)], key: key, shard: Self.shard(reference)) { _ in }
    }

    /// Gives back a claim whose commit could not be made, so the request stays usable.
    public func unclaim(_ reference: RequestReference) async throws {
        let key = Self.key(reference)
        _ = try await pool.command(["FCALL", "parstore_unclaim", "1", key], key: key, shard: Self.shard(reference))
    }

    /// The key of a request: a hash of its reference, never the reference itself.
    public static func key(_ reference: RequestReference) -> String {
        key(requestID: reference.requestID)
    }

    static func key(requestID: [UInt8]) -> String {
        "parstore:req:" + Secret.hex(requestID)
    }

    /// Which connection carries a request's commands, so that they reach Redis in the order they were issued.
    static func shard(_ reference: RequestReference) -> Int {
        Int(reference.requestID[0])
    }
}
