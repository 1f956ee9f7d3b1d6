import ParCore

/// A statement of the hot path. Each is prepared on every hot-path connection twice over: on the whole event log
/// (`parstore_append`), and on the partition of each day it is used for (`parstore_append_20261130`).
///
/// The partition's own statement is the fast one. A connection keeps PostgreSQL's generic plan of each statement
/// (see ``EventStatements/lookupSession``), and a generic plan over the partitioned log holds every partition: each
/// execution locks and sets up all of them before pruning to the one its day names, so its cost grows with the
/// number of partitions (a week ahead and every day kept). Measured with `pgbench -M prepared`, one client, a
/// three-way key lookup: 3,075 executions/s through the log with nine partitions, 9,557/s with one, 11,854/s on
/// the day's partition itself. Every batch pays that cost once, so it was most of PostgreSQL's work per event when
/// batches are small (several nodes, each with its own smaller batches).
///
/// The last parameter of each is its batch's deadline on the server's clock, checked by `parstore_in_time` before
/// the statement commits.
enum HotPathStatement: String, CaseIterable {
    case append = "parstore_append"
    case consume = "parstore_consume"
    case load = "parstore_load"
    case redeemTicket = "parstore_redeem_ticket"

    /// The statement's name on the partition of `day`, or on the whole log.
    func name(on day: PartitionDay?) -> String {
        day.map { rawValue + "_" + $0.compact } ?? rawValue
    }

    /// The statement's text on the partition of `day` (which holds every event of that day's requests), or on
    /// the whole log.
    func sql(on day: PartitionDay?) -> String {
        let events = day.map { "par_events_" + $0.compact } ?? "par_events"
        switch self {
        case .append: return EventStatements.append(events: events)
        case .consume: return EventStatements.consume(events: events)
        case .load: return EventStatements.load(events: events)
        case .redeemTicket: return EventStatements.redeemTicket(events: events)
        }
    }
}

/// The SQL of the hot path.
enum EventStatements {
    /// The planner settings of the hot-path connections: their statements look requests up by key, never scan.
    ///
    /// A connection keeps one plan per statement (PostgreSQL's generic plan, from the sixth run on), made with the
    /// statistics of that moment. Made while a day's partition was small — a fresh database, the first minutes
    /// of a day — the cheapest plan scanned whole partitions under hash joins, and the connection kept it while
    /// the day filled: every batch then read the whole day (measured on a database that started empty: backend
    /// redemptions fell to 900/s with PostgreSQL's arbiter backend at 100% of a core, against 4,500/s with index
    /// lookups). With scans, hash and merge joins and materialised inner sides switched off, nested loops over
    /// the primary key and the ticket index are the only plans left, whatever the statistics say (which of an
    /// index's key columns a lookup uses still follows them: see ``redeemTicket(events:)``).
    ///
    /// The same sessions keep to that one generic plan (`plan_cache_mode`): their inputs are arrays, so a plan made
    /// for particular values knows nothing more, and planning a statement over a week of partitions costs 15–30 ms
    /// — more than the batch it would serve. And they never compile a plan to machine code (`jit`): a plan whose
    /// estimated cost carries the penalty of a disabled scan passes every JIT threshold, and compiling costs
    /// hundreds of milliseconds per statement, once per execution.
    ///
    /// With hash and merge joins off, a join between two of a statement's own CTEs (its input and what it inserted)
    /// is a nested loop, quadratic in the batch: at 100 rows it was 40 % of the load statement's time. So the final
    /// answers ask whether a row is among the winners or the inserted with `IN (SELECT …)`, which PostgreSQL runs as
    /// a hashed subplan whatever those settings say: once per statement, linear in the batch.
    static let lookupSession = """
        SELECT set_config('enable_seqscan', 'off', false), set_config('enable_hashjoin', 'off', false),
               set_config('enable_mergejoin', 'off', false), set_config('enable_material', 'off', false),
               set_config('plan_cache_mode', 'force_generic_plan', false), set_config('jit', 'off', false)
        """

    /// Appends a batch of events in one statement (one round trip, one transaction, one WAL flush), with the
    /// single-use values (JWT `jti`s) that authenticate them: an event whose value was used before (earlier, or by
    /// an earlier row of the same batch) is not written, and its row says which value it was.
    /// `ON CONFLICT DO NOTHING` turns a taken slot into "not inserted" instead of failing the neighbours.
    /// One row per input, in input order: `at` and deadline (ms) when inserted, the replayed value's position.
    static func append(events: String) -> String {
        """
        WITH input AS (
            SELECT t.day, decode(t.rid, 'hex') AS request_id, t.slot, t.kind, t.client_id, t.lifetime_ms, t.payload, t.ord
            FROM unnest($1::date[], $2::text[], $3::smallint[], $4::text[], $5::text[], $6::bigint[], $8::jsonb[])
                 WITH ORDINALITY AS t(day, rid, slot, kind, client_id, lifetime_ms, payload, ord)
        ), uses AS (
            SELECT u.ord, u.position, u.day, decode(u.hash, 'hex') AS hash
            FROM unnest($9::bigint[], $10::integer[], $11::date[], $12::text[]) AS u(ord, position, day, hash)
        ), fresh AS (
            INSERT INTO parstore_single_use (day, hash)
            SELECT day, hash FROM uses
            ON CONFLICT DO NOTHING
            RETURNING day, hash
        ), replayed AS (
            SELECT u.ord, min(u.position) AS position
            FROM uses u
            WHERE NOT EXISTS (SELECT 1 FROM fresh f WHERE f.day = u.day AND f.hash = u.hash)
               OR EXISTS (SELECT 1 FROM uses v WHERE v.day = u.day AND v.hash = u.hash AND v.ord < u.ord)
            GROUP BY u.ord
        ), inserted AS (
            INSERT INTO \(events) (day, request_id, slot, kind, client_id, deadline, node_id, payload)
            SELECT i.day, i.request_id, i.slot, i.kind, i.client_id,
                   CASE WHEN i.lifetime_ms IS NOT NULL THEN now() + i.lifetime_ms * interval '1 millisecond'
                        ELSE coalesce((SELECT p.deadline FROM \(events) p
                                       WHERE p.day = i.day AND p.request_id = i.request_id AND p.slot = 0), now())
                   END,
                   $7, i.payload
            FROM input i
            WHERE NOT EXISTS (SELECT 1 FROM replayed r WHERE r.ord = i.ord)
            ON CONFLICT DO NOTHING
            RETURNING day, request_id, slot
        )
        SELECT CASE WHEN i.inserted THEN (extract(epoch FROM now()) * 1000)::bigint END,
               CASE WHEN i.inserted THEN (extract(epoch FROM now() + i.lifetime_ms * interval '1 millisecond') * 1000)::bigint END,
               (SELECT r.position FROM replayed r WHERE r.ord = i.ord)
        FROM (SELECT input.*, (day, request_id, slot) IN (SELECT day, request_id, slot FROM inserted) AS inserted FROM input) i
        WHERE (SELECT parstore_in_time($13))
        ORDER BY i.ord
        """
    }

    /// The arbiter: consumes each request at most once, only for the client that pushed it and before its
    /// deadline (PostgreSQL's clock), and says for every input what happened. Within one batch, the first
    /// eligible attempt on a request wins; the unique terminal slot makes every other attempt, from this or
    /// any other node, lose.
    static func consume(events: String) -> String {
        """
        WITH input AS (
            SELECT t.day, decode(t.rid, 'hex') AS request_id, t.client_id, t.ord
            FROM unnest($1::date[], $2::text[], $3::text[]) WITH ORDINALITY AS t(day, rid, client_id, ord)
        ), candidates AS (
            SELECT i.ord, i.day, i.request_id, i.client_id, p.client_id AS owner, p.deadline, p.at AS pushed_at,
                   p.payload, t.kind AS terminal, l.request_id IS NOT NULL AS loaded,
                   EXISTS (SELECT 1 FROM parstore_clients r WHERE r.client_id = p.client_id) AS registered
            FROM input i
            LEFT JOIN \(events) p ON p.day = i.day AND p.request_id = i.request_id AND p.slot = 0
            LEFT JOIN \(events) l ON l.day = i.day AND l.request_id = i.request_id AND l.slot = 1
            LEFT JOIN \(events) t ON t.day = i.day AND t.request_id = i.request_id AND t.slot = 2
        ), winners AS (
            SELECT DISTINCT ON (day, request_id) ord, day, request_id, client_id, deadline
            FROM candidates
            WHERE owner = client_id AND registered AND deadline > now() AND terminal IS NULL AND NOT loaded
            ORDER BY day, request_id, ord
        ), consumed AS (
            -- No conflict target: a load racing this consumption conflicts on the first-use key (migration 0006).
            INSERT INTO \(events) (day, request_id, slot, kind, client_id, deadline, node_id)
            SELECT day, request_id, 2, 'consumed', client_id, deadline, $4 FROM winners
            ON CONFLICT DO NOTHING
            RETURNING day, request_id
        )
        SELECT CASE WHEN c.owner IS NULL THEN 'unknown'
                    WHEN c.owner <> c.client_id THEN 'wrong_client'
                    WHEN NOT c.registered THEN 'unregistered_client'
                    WHEN c.ord IN (SELECT ord FROM winners) AND (c.day, c.request_id) IN (SELECT day, request_id FROM consumed) THEN 'consumed'
                    WHEN c.terminal = 'expired' THEN 'expired'
                    WHEN c.terminal IS NOT NULL OR c.loaded THEN 'already_used'
                    WHEN c.deadline <= now() THEN 'expired'
                    ELSE 'already_used' END,
               c.payload::text,
               (extract(epoch FROM c.pushed_at) * 1000)::bigint,
               (extract(epoch FROM c.deadline) * 1000)::bigint
        FROM candidates c
        WHERE (SELECT parstore_in_time($5))
        ORDER BY c.ord
        """
    }

    /// The load: binds each request to a user agent at most once — only for the client that pushed it, before its
    /// request deadline, while it has no terminal event — with the interaction deadline from PostgreSQL's clock.
    /// For every input it says `loaded` (this call bound it), `reloaded` (bound to this same user agent and still
    /// within its interaction lifetime), a refusal, or `retry` when it lost a race whose winner this statement's
    /// snapshot cannot see yet (the caller runs it again).
    static func load(events: String) -> String {
        """
        WITH input AS (
            SELECT t.day, decode(t.rid, 'hex') AS request_id, t.client_id, decode(t.binding, 'hex') AS binding_hash,
                   decode(t.ticket, 'hex') AS ticket_hash, t.interaction_ms, t.ord
            FROM unnest($1::date[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) WITH ORDINALITY
                 AS t(day, rid, client_id, binding, ticket, interaction_ms, ord)
        ), candidates AS (
            SELECT i.*, p.client_id AS owner, p.deadline, l.binding_hash AS bound_to, l.deadline AS interaction_deadline,
                   t.kind AS terminal, EXISTS (SELECT 1 FROM parstore_clients r WHERE r.client_id = p.client_id) AS registered
            FROM input i
            LEFT JOIN \(events) p ON p.day = i.day AND p.request_id = i.request_id AND p.slot = 0
            LEFT JOIN \(events) l ON l.day = i.day AND l.request_id = i.request_id AND l.slot = 1
            LEFT JOIN \(events) t ON t.day = i.day AND t.request_id = i.request_id AND t.slot = 2
        ), winners AS (
            SELECT DISTINCT ON (day, request_id) ord, day, request_id, client_id, binding_hash, ticket_hash, interaction_ms
            FROM candidates
            WHERE owner = client_id AND registered AND deadline > now() AND terminal IS NULL AND bound_to IS NULL
            ORDER BY day, request_id, ord
        ), loaded AS (
            -- No conflict target: a backend consumption racing this load conflicts on the first-use key.
            INSERT INTO \(events) (day, request_id, slot, kind, client_id, deadline, node_id, binding_hash, ticket_hash)
            SELECT day, request_id, 1, 'loaded', client_id, now() + interaction_ms * interval '1 millisecond', $7,
                   binding_hash, ticket_hash
            FROM winners
            ON CONFLICT DO NOTHING
            RETURNING day, request_id
        )
        SELECT CASE WHEN c.owner IS NULL THEN 'unknown'
                    WHEN c.owner <> c.client_id THEN 'wrong_client'
                    WHEN NOT c.registered THEN 'unregistered_client'
                    WHEN c.ord IN (SELECT ord FROM winners) AND (c.day, c.request_id) IN (SELECT day, request_id FROM loaded) THEN 'loaded'
                    WHEN c.terminal = 'expired' THEN 'expired'
                    WHEN c.terminal IS NOT NULL THEN 'already_used'
                    WHEN c.bound_to = c.binding_hash AND c.interaction_deadline > now() THEN 'reloaded'
                    WHEN c.bound_to = c.binding_hash THEN 'expired'
                    WHEN c.bound_to IS NOT NULL THEN 'wrong_user_agent'
                    WHEN c.deadline <= now() THEN 'expired'
                    ELSE 'retry' END
        FROM candidates c
        WHERE (SELECT parstore_in_time($8))
        ORDER BY c.ord
        """
    }

    /// The final consumption of a loaded request through its ticket, before the interaction deadline: the same
    /// arbiter as ``consume`` (one terminal event per request), keyed by the ticket's hash.
    ///
    /// Idempotent for one attempt within the interaction lifetime: an input carrying the attempt key (hash) of the
    /// winning consumption — in this batch, or earlier (a redemption whose answer was lost) — is `consumed` too,
    /// with the same request, and nothing more is written. Every other attempt is refused.
    ///
    /// Its plan must hold on an empty partition (a new day, whose statements are planned before any statistics):
    /// there, with the ticket hashes decoded from text, the cheapest plan found the loaded event through the
    /// first-use index on the day alone, and the pushed and terminal events by day and slot with the request id as a
    /// join filter — walking the whole day for every ticket until the day's next `ANALYZE`. So the ticket hashes come
    /// as `bytea` (the ticket index is then the cheaper one), and the pushed and terminal events are looked up in
    /// `LATERAL` subqueries that cannot be flattened (`OFFSET 0`), where the request id is a key the index must use.
    static func redeemTicket(events: String) -> String {
        """
        WITH input AS (
            SELECT t.day, t.ticket AS ticket_hash, decode(t.attempt, 'hex') AS attempt_hash, t.ord
            FROM unnest($1::date[], $2::bytea[], $4::text[]) WITH ORDINALITY AS t(day, ticket, attempt, ord)
        ), candidates AS (
            SELECT i.ord, i.day, i.ticket_hash, i.attempt_hash, l.request_id, l.client_id, l.deadline, p.at AS pushed_at,
                   p.payload, t.kind AS terminal, t.attempt_hash AS terminal_attempt,
                   EXISTS (SELECT 1 FROM parstore_clients r WHERE r.client_id = l.client_id) AS registered
            FROM input i
            LEFT JOIN \(events) l ON l.day = i.day AND l.ticket_hash = i.ticket_hash AND l.slot = 1 AND l.ticket_hash IS NOT NULL
            LEFT JOIN LATERAL (SELECT p.at, p.payload FROM \(events) p
                               WHERE p.day = i.day AND p.request_id = l.request_id AND p.slot = 0 OFFSET 0) p ON true
            LEFT JOIN LATERAL (SELECT t.kind, t.attempt_hash FROM \(events) t
                               WHERE t.day = i.day AND t.request_id = l.request_id AND t.slot = 2 OFFSET 0) t ON true
        ), winners AS (
            SELECT DISTINCT ON (day, request_id) ord, day, request_id, client_id, deadline, ticket_hash, attempt_hash
            FROM candidates
            WHERE request_id IS NOT NULL AND registered AND deadline > now() AND terminal IS NULL
            ORDER BY day, request_id, ord
        ), consumed AS (
            INSERT INTO \(events) (day, request_id, slot, kind, client_id, deadline, node_id, ticket_hash, attempt_hash)
            SELECT day, request_id, 2, 'consumed', client_id, deadline, $3, ticket_hash, attempt_hash FROM winners
            ON CONFLICT (day, request_id, slot) DO NOTHING
            RETURNING day, request_id
        )
        SELECT CASE WHEN c.request_id IS NULL THEN 'unknown'
                    WHEN NOT c.registered THEN 'unregistered_client'
                    WHEN (c.day, c.request_id) IN (SELECT day, request_id FROM consumed)
                         AND (c.ord IN (SELECT ord FROM winners)
                              OR (c.day, c.request_id, c.attempt_hash) IN (SELECT day, request_id, attempt_hash FROM winners)) THEN 'consumed'
                    WHEN c.terminal = 'consumed' AND c.attempt_hash = c.terminal_attempt AND c.deadline > now() THEN 'consumed'
                    WHEN c.terminal = 'expired' THEN 'expired'
                    WHEN c.terminal IS NOT NULL THEN 'already_used'
                    WHEN c.deadline <= now() THEN 'expired'
                    ELSE 'already_used' END,
               c.payload::text,
               (extract(epoch FROM c.pushed_at) * 1000)::bigint,
               (extract(epoch FROM c.deadline) * 1000)::bigint,
               c.client_id, encode(c.request_id, 'hex')
        FROM candidates c
        WHERE (SELECT parstore_in_time($5))
        ORDER BY c.ord
        """
    }

    /// Reads the request behind a ticket without changing anything.
    static let readTicket = """
        SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM parstore_clients r WHERE r.client_id = l.client_id) THEN 'unregistered_client'
                    WHEN t.kind = 'expired' THEN 'expired'
                    WHEN t.kind IS NOT NULL THEN 'already_used'
                    WHEN l.deadline <= now() THEN 'expired'
                    ELSE 'live' END,
               l.client_id, p.payload::text,
               (extract(epoch FROM p.at) * 1000)::bigint, (extract(epoch FROM l.at) * 1000)::bigint,
               (extract(epoch FROM l.deadline) * 1000)::bigint, encode(l.request_id, 'hex')
        FROM par_events l
        JOIN par_events p ON p.day = l.day AND p.request_id = l.request_id AND p.slot = 0
        LEFT JOIN par_events t ON t.day = l.day AND t.request_id = l.request_id AND t.slot = 2
        WHERE l.day = $1::date AND l.ticket_hash = decode($2, 'hex') AND l.slot = 1
        """
}
