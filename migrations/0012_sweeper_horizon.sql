-- Issue 16: a sweeper that misses nothing.
--
-- The sweeper expires requests whose deadline is past its watermark plus grace, and moves the watermark on. A request
-- whose `pushed` (or `loaded`) row was written by a transaction still open at a sweep — its deadline already set
-- from that transaction's start — committed after the watermark had passed its deadline, and was never expired: a
-- request without a terminal event, an audit gap. Now the watermark never passes the horizon below which no open
-- transaction can still commit a deadline.
--
-- The horizon comes from the transaction ids of snapshots (`pg_current_snapshot()`, which needs no privilege): a
-- sweep marks the next transaction id to be assigned and its own start time. Once no transaction with an id below
-- that mark is in progress, every transaction that can still commit got its id after the mark, so its write started
-- after the mark's time less the longest a writer's statement runs (`writer_timeout`: ParStore's writes are single
-- statements that take their deadline from their own start, and the session's statement_timeout bounds them).
-- When no older transaction than the sweep's own is in progress, the sweep's own start is the horizon at once.
ALTER TABLE parstore_sweeper
    ADD COLUMN horizon timestamptz,
    ADD COLUMN mark_xid xid8,
    ADD COLUMN mark_at timestamptz;

CREATE FUNCTION parstore_expire(node text, grace interval, max_rows integer, writer_timeout interval) RETURNS integer
LANGUAGE plpgsql SET TimeZone TO 'UTC' SET jit TO off AS $$
DECLARE
    since timestamptz;
    upto  timestamptz;
    horizon_at timestamptz;
    marked xid8;
    marked_at timestamptz;
    snap pg_snapshot;
    own xid8;
    pushed_upto timestamptz;
    loaded_upto timestamptz;
    pushed_count integer;
    loaded_count integer;
BEGIN
    IF grace < interval '0' OR writer_timeout < interval '0' THEN
        RAISE EXCEPTION 'parstore_expire: grace and writer_timeout must not be negative' USING ERRCODE = '22023';
    END IF;
    SELECT swept_until, horizon, mark_xid, mark_at INTO since, horizon_at, marked, marked_at
    FROM parstore_sweeper WHERE id = 1 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN -1;
    END IF;
    own := pg_current_xact_id();
    snap := pg_current_snapshot();
    IF NOT EXISTS (SELECT 1 FROM pg_snapshot_xip(snap) x WHERE x < own) THEN
        -- Every transaction that can still commit began its write after this one took its id.
        horizon_at := now();
        marked := NULL;
    ELSIF marked IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_snapshot_xip(snap) x WHERE x < marked) THEN
        horizon_at := marked_at;
        marked := NULL;
    END IF;
    IF marked IS NULL THEN
        marked := pg_snapshot_xmax(snap);
        marked_at := now();
    END IF;
    UPDATE parstore_sweeper SET horizon = horizon_at, mark_xid = marked, mark_at = marked_at WHERE id = 1;
    IF horizon_at IS NULL THEN
        RETURN 0;
    END IF;
    upto := least(now() - grace, horizon_at - writer_timeout);
    IF upto <= since THEN
        RETURN 0;
    END IF;

    -- How far `max_rows` requests of each kind reach (all the way when fewer are due).
    SELECT CASE WHEN count(*) < max_rows THEN upto ELSE max(d.deadline) END INTO pushed_upto
    FROM (SELECT p.deadline FROM par_events p
          WHERE p.slot = 0 AND p.deadline IS NOT NULL AND p.deadline > since AND p.deadline <= upto
            AND p.day BETWEEN since::date - 1 AND upto::date
          ORDER BY p.deadline LIMIT max_rows) d;
    SELECT CASE WHEN count(*) < max_rows THEN upto ELSE max(d.deadline) END INTO loaded_upto
    FROM (SELECT l.deadline FROM par_events l
          WHERE l.slot = 1 AND l.deadline IS NOT NULL AND l.deadline > since AND l.deadline <= upto
            AND l.day BETWEEN since::date - 2 AND upto::date
          ORDER BY l.deadline LIMIT max_rows) d;
    upto := least(pushed_upto, loaded_upto);

    INSERT INTO par_events (day, request_id, slot, kind, client_id, deadline, node_id)
    SELECT p.day, p.request_id, 2, 'expired', p.client_id, p.deadline, node
    FROM par_events p
    WHERE p.slot = 0 AND p.deadline > since AND p.deadline <= upto
      AND p.day BETWEEN since::date - 1 AND upto::date
      AND NOT EXISTS (SELECT 1 FROM par_events t
                      WHERE t.day = p.day AND t.request_id = p.request_id AND t.slot IN (1, 2))
    ON CONFLICT (day, request_id, slot) DO NOTHING;
    GET DIAGNOSTICS pushed_count = ROW_COUNT;
    INSERT INTO par_events (day, request_id, slot, kind, client_id, deadline, node_id)
    SELECT l.day, l.request_id, 2, 'expired', l.client_id, l.deadline, node
    FROM par_events l
    WHERE l.slot = 1 AND l.deadline > since AND l.deadline <= upto
      AND l.day BETWEEN since::date - 2 AND upto::date
      AND NOT EXISTS (SELECT 1 FROM par_events t
                      WHERE t.day = l.day AND t.request_id = l.request_id AND t.slot = 2)
    ON CONFLICT (day, request_id, slot) DO NOTHING;
    GET DIAGNOSTICS loaded_count = ROW_COUNT;
    UPDATE parstore_sweeper SET swept_until = upto WHERE id = 1 AND upto > swept_until;
    RETURN pushed_count + loaded_count;
END $$;

-- Nodes of the previous versions call the shorter forms during a rolling upgrade: their statements ran at most
-- PARSTORE_DATABASE_TIMEOUT's default, 10 s.
CREATE OR REPLACE FUNCTION parstore_expire(node text, grace interval, max_rows integer) RETURNS integer
LANGUAGE sql AS $$ SELECT parstore_expire(node, grace, max_rows, interval '10 seconds') $$;
