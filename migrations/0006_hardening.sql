-- Issue 11: hostile input, floods, and a node that tells the truth.

-- A browser load (slot 1) and a backend consumption by request_uri (slot 2, no ticket) of one request took two
-- different slots, so both could win when they raced. They now also conflict on one key: the first use of a
-- request. A consumption through a ticket follows its own load, and an expiry is no use: neither is in it.
CREATE UNIQUE INDEX par_events_first_use_key ON par_events (day, request_id)
    WHERE slot = 1 OR (slot = 2 AND kind = 'consumed' AND ticket_hash IS NULL);

-- A refusal takes the slot of its reason (10-19; RefusalReason.slot), so it is recorded at most once per request
-- and reason: a flood of refused attempts costs counters, not rows. Refusals written before keep no slot.
ALTER TABLE par_events DROP CONSTRAINT par_events_check;
ALTER TABLE par_events ADD CONSTRAINT par_events_slot_check CHECK (
    CASE kind WHEN 'pushed' THEN slot = 0
              WHEN 'loaded' THEN slot = 1
              WHEN 'consumed' THEN slot = 2
              WHEN 'expired' THEN slot = 2
              WHEN 'refused' THEN slot IS NULL OR slot BETWEEN 10 AND 19
    END);

-- JWT jtis (client assertions, DPoP proofs) used once, recorded in the same transaction as the push they
-- authenticate: Redis is only the fast filter in front. `day` is the UTC day on which the JWT stops being
-- accepted, computed from its own claims, so a replay always meets the first use's key, also across midnight.
-- `hash` is SHA-256 of the value's namespace, client or key, and jti: never the jti itself.
CREATE TABLE parstore_single_use (
    day  date  NOT NULL,
    hash bytea NOT NULL CHECK (octet_length(hash) = 32),
    PRIMARY KEY (day, hash)
) PARTITION BY RANGE (day);

-- Creates the partitions of the event log and of the single-use record from yesterday to `days_ahead` days from
-- now (UTC); safe to call from every node.
CREATE OR REPLACE FUNCTION parstore_ensure_partitions(days_ahead integer) RETURNS integer
LANGUAGE plpgsql SET TimeZone TO 'UTC' AS $$
DECLARE
    d date;
    parent text;
    created integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('parstore.partitions'));
    FOR d IN SELECT generate_series(current_date - 1, current_date + days_ahead, interval '1 day')::date LOOP
        FOREACH parent IN ARRAY ARRAY['par_events', 'parstore_single_use'] LOOP
            IF to_regclass(format('%s_%s', parent, to_char(d, 'YYYYMMDD'))) IS NULL THEN
                EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                               parent || '_' || to_char(d, 'YYYYMMDD'), parent, d, d + 1);
                created := created + 1;
            END IF;
        END LOOP;
    END LOOP;
    RETURN created;
END $$;

