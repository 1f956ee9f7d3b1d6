public import ParCore

/// What Redis says about a claim.
public enum RedisClaim: Sendable, Equatable {
    /// This caller claimed the request; the arbiter must still commit it.
    case claimed(RedeemedRequest)
    /// Redis has no such request (never pushed, expired, or lost with Redis data): ask PostgreSQL.
    case notFound
    /// Another client pushed it; nothing changed.
    case wrongClient
    /// It was claimed before.
    case used
}

/// The live requests in Redis: the fast, atomic filter in front of the PostgreSQL arbiter. Never needed for
/// safety: every answer that matters is confirmed by PostgreSQL.
public struct RedisRequestCache: Sendable {
    private let pool: RedisPool

    public init(pool: RedisPool) {
        self.pool = pool
    }

    /// Stores a pushed request until its deadline, never overwriting, without waiting for Redis's answer: the
    /// push is already durable in PostgreSQL, and every later command about the same request (claim, unclaim)
    /// goes out on the same connection, after this one. `failed` is called, on the connection's thread, when the
    /// record could not be stored; redemptions of that request then fall back to PostgreSQL.
    public func push(_ reference: RequestReference, request: RedeemedRequest, failed: @escaping @Sendable () -> Void) {
        let key = Self.key(reference)
        pool.send(
            [
                "FCALL", "parstore_push", "1", key,
                request.clientID, String(request.expiresAtMillis), request.parametersJSON, String(request.pushedAtMillis),
            ],
            key: key,
            shard: Self.shard(reference)
        ) { result in
            if case .failure = result { failed() }
        }
    }

    /// Claims a request for `clientID`, atomically.
    public func claim(_ reference: RequestReference, clientID: String) async throws -> RedisClaim {
        let key = Self.key(reference)
        let reply = try await pool.command(["FCALL", "parstore_claim", "1", key, clientID], key: key, shard: Self.shard(reference))
        guard case .array(let parts) = reply, let status = parts.first?.text else {
            throw RedisError(.reply, message: "unexpected reply to parstore_claim")
        }
        switch status {
        case "ok":
            guard parts.count == 4, let parameters = parts[1].text, let pushedAt = parts[2].text.flatMap({ Int64($0) }),
                let deadline = parts[3].text.flatMap({ Int64($0) })
            else { throw RedisError(.reply, message: "malformed record in Redis") }
            return .claimed(RedeemedRequest(clientID: clientID, parametersJSON: parameters, pushedAtMillis: pushedAt, expiresAtMillis: deadline))
        case "wrong_client": return .wrongClient
        case "used": return .used
        default: return .notFound
        }
    }

    /// Gives back a claim whose commit could not be made, so the request stays usable.
    public func unclaim(_ reference: RequestReference) async throws {
        let key = Self.key(reference)
        _ = try await pool.command(["FCALL", "parstore_unclaim", "1", key], key: key, shard: Self.shard(reference))
    }

    /// The key of a request: a hash of its reference, never the reference itself.
    public static func key(_ reference: RequestReference) -> String {
        "parstore:req:" + reference.requestIDHex
    }

    /// Which connection carries a request's commands, so that they reach Redis in the order they were issued.
    static func shard(_ reference: RequestReference) -> Int {
        Int(reference.requestID[0])
    }
}
