-- Issue 13: creating a day's partition must never freeze the nodes.
--
-- `CREATE TABLE … PARTITION OF par_events` takes an ACCESS EXCLUSIVE lock on the parent: behind any long reader
-- (pg_dump, an analyst's transaction, `parstore audit`) it waits, and every append, load and redemption on every
-- node queues behind it. Instead the table is created on its own (`LIKE` the parent) and attached with
-- `ATTACH PARTITION`, which takes SHARE UPDATE EXCLUSIVE on the parent: it waits for no reader and no writer, and
-- PostgreSQL builds the new, empty table's indexes as it attaches. A short lock_timeout bounds any other wait (a
-- concurrent schema change): the attempt fails fast, and the next hourly run retries, with days of partitions
-- still ahead.
CREATE OR REPLACE FUNCTION parstore_ensure_partitions(days_ahead integer) RETURNS integer
LANGUAGE plpgsql SET TimeZone TO 'UTC' SET lock_timeout TO '2s' AS $$
DECLARE
    d date;
    parent text;
    child text;
    created integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('parstore.partitions'));
    FOR d IN SELECT generate_series(current_date - 1, current_date + days_ahead, interval '1 day')::date LOOP
        FOREACH parent IN ARRAY ARRAY['par_events', 'parstore_single_use'] LOOP
            child := parent || '_' || to_char(d, 'YYYYMMDD');
            IF to_regclass(child) IS NULL THEN
                EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', child, parent);
                EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, child, d, d + 1);
                created := created + 1;
            END IF;
        END LOOP;
    END LOOP;
    RETURN created;
END $$;
