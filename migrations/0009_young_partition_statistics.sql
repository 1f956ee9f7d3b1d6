-- Issue 13: steady from the first second of a partition.
--
-- Without statistics PostgreSQL takes `day = $1` for a selective condition (0.5 % of the rows), when every row of a
-- day's partition has that day. A plan made for a partition that is empty or was never analysed — each new day's at
-- midnight, every partition of a fresh database — therefore found a row or two for `day = $1 AND slot = 0` alone,
-- looked requests up by that prefix of the key and joined on the request id afterwards: once the day filled, every
-- lookup read the whole day (flows fell to 1/20 of their rate) until autovacuum's first analyse of the partition, a
-- minute or more later (its threshold is 10 % of the rows, looked at once a minute).
--
-- Every node calls this function twice a second. It analyses today's partitions each time they have doubled (at
-- least 100 rows changed since the last analyse, and at least as many as were there then): within a second or two
-- of the first rows the day's statistics are in place (one distinct `day`), the only plans left use the whole key,
-- and analysing invalidates the plans made before. Past the first minutes a doubling is rare (about twenty a day).
-- SKIP_LOCKED: a partition another node is analysing is skipped, not waited for.
CREATE OR REPLACE FUNCTION parstore_analyze_today() RETURNS integer
LANGUAGE plpgsql SET TimeZone TO 'UTC' AS $$
DECLARE
    parent text;
    child regclass;
    analysed integer := 0;
BEGIN
    FOREACH parent IN ARRAY ARRAY['par_events', 'parstore_single_use'] LOOP
        child := to_regclass(parent || '_' || to_char(current_date, 'YYYYMMDD'));
        CONTINUE WHEN child IS NULL;
        IF EXISTS (SELECT 1 FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
                   WHERE s.relid = child AND s.n_mod_since_analyze >= greatest(100, c.reltuples)) THEN
            EXECUTE format('ANALYZE (SKIP_LOCKED) %s', child);
            analysed := analysed + 1;
        END IF;
    END LOOP;
    RETURN analysed;
END $$;
