-- Issue 13: every wait has a deadline, the sweeper's too.
--
-- One call of parstore_expire() expired everything due since the last sweep in one transaction. After a burst of
-- pushes nobody redeemed (the benchmark pushes a pool of 250,000) that was hundreds of thousands of rows: a
-- transaction of many seconds whose uncommitted `expired` rows made the redemptions of the same requests wait, and
-- which the sessions' statement_timeout (PARSTORE_DATABASE_TIMEOUT) cancelled — to be started again, and cancelled
-- again, at every sweep, PostgreSQL busy and redemptions slow for good. Now a call expires at most `max_rows` pushed
-- and `max_rows` loaded requests, the earliest deadlines first, and moves the watermark only as far as it got; the
-- node calls again while a call comes back full. Never compiled to machine code (jit): a sweep is short and frequent.
DROP FUNCTION parstore_expire(text, interval);
CREATE FUNCTION parstore_expire(node text, grace interval, max_rows integer) RETURNS integer
LANGUAGE plpgsql SET TimeZone TO 'UTC' SET jit TO off AS $$
DECLARE
    since timestamptz;
    upto  timestamptz := now() - grace;
    pushed_upto timestamptz;
    loaded_upto timestamptz;
    pushed_count integer;
    loaded_count integer;
BEGIN
    SELECT swept_until INTO since FROM parstore_sweeper WHERE id = 1 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN -1;
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

-- Nodes of the previous version call the two-argument form during a rolling upgrade: bounded too.
CREATE FUNCTION parstore_expire(node text, grace interval) RETURNS integer
LANGUAGE sql AS $$ SELECT parstore_expire(node, grace, 10000) $$;
