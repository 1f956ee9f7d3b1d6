-- The event log: append-only, partitioned by the UTC day carried in each request_uri.
-- A request's events all live in the partition of its push day, so the unique key below
-- (which must contain the partition key) is what makes forbidden transitions impossible:
--   slot 0: the one `pushed` event;  slot 1: the first `loaded` event (reserved);
--   slot 2: the one terminal event (`consumed` or `expired`);  refusals take no slot.
CREATE TABLE par_events (
    seq        bigserial,
    day        date        NOT NULL,
    request_id bytea       NOT NULL CHECK (octet_length(request_id) = 32),
    slot       smallint,
    kind       text        NOT NULL CHECK (kind IN ('pushed', 'loaded', 'consumed', 'expired', 'refused')),
    client_id  text        NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    deadline   timestamptz NOT NULL,
    node_id    text        NOT NULL,
    payload    jsonb,
    -- The writing transaction: followers read below pg_snapshot_xmin so that no late commit is skipped.
    xid        xid8        NOT NULL DEFAULT pg_current_xact_id(),
    CHECK (slot IS NOT DISTINCT FROM (CASE kind WHEN 'pushed' THEN 0 WHEN 'loaded' THEN 1
                                                WHEN 'consumed' THEN 2 WHEN 'expired' THEN 2 END))
) PARTITION BY RANGE (day);

CREATE UNIQUE INDEX par_events_slot_key ON par_events (day, request_id, slot);
-- The sweeper walks pushed requests by deadline.
CREATE INDEX par_events_pushed_deadline ON par_events (deadline) WHERE slot = 0;
-- Audits and feeds read time ranges; BRIN stays tiny on an append-only table.
CREATE INDEX par_events_at ON par_events USING brin (at);

-- Creates the partitions from yesterday to `days_ahead` days from now (UTC); safe to call from every node.
CREATE FUNCTION parstore_ensure_partitions(days_ahead integer) RETURNS integer
LANGUAGE plpgsql SET TimeZone TO 'UTC' AS $$
DECLARE
    d date;
    created integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('parstore.partitions'));
    FOR d IN SELECT generate_series(current_date - 1, current_date + days_ahead, interval '1 day')::date LOOP
        IF to_regclass(format('par_events_%s', to_char(d, 'YYYYMMDD'))) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF par_events FOR VALUES FROM (%L) TO (%L)',
                           'par_events_' || to_char(d, 'YYYYMMDD'), d, d + 1);
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END $$;

-- The sweeper's watermark: deadlines up to swept_until have been expired.
CREATE TABLE parstore_sweeper (
    id          integer PRIMARY KEY CHECK (id = 1),
    swept_until timestamptz NOT NULL
);
INSERT INTO parstore_sweeper VALUES (1, now() - interval '1 day');

-- Appends `expired` for every pushed request whose deadline is more than `grace` ago and that has no terminal
-- event. Every node may call it: the row lock (SKIP LOCKED) lets one sweep at a time, and the unique slot
-- makes a consumed request impossible to expire. Returns the number expired, or -1 when another node holds
-- the sweep.
CREATE FUNCTION parstore_expire(node text, grace interval) RETURNS integer
LANGUAGE plpgsql SET TimeZone TO 'UTC' AS $$
DECLARE
    since timestamptz;
    upto  timestamptz := now() - grace;
    expired_count integer;
BEGIN
    SELECT swept_until INTO since FROM parstore_sweeper WHERE id = 1 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN -1;
    END IF;
    INSERT INTO par_events (day, request_id, slot, kind, client_id, deadline, node_id)
    SELECT p.day, p.request_id, 2, 'expired', p.client_id, p.deadline, node
    FROM par_events p
    WHERE p.slot = 0 AND p.deadline > since AND p.deadline <= upto
      AND p.day BETWEEN since::date - 1 AND upto::date
      AND NOT EXISTS (SELECT 1 FROM par_events t
                      WHERE t.day = p.day AND t.request_id = p.request_id AND t.slot = 2)
    ON CONFLICT (day, request_id, slot) DO NOTHING;
    GET DIAGNOSTICS expired_count = ROW_COUNT;
    UPDATE parstore_sweeper SET swept_until = upto WHERE id = 1 AND upto > swept_until;
    RETURN expired_count;
END $$;
