-- Issue 15: the tamper-evident log. An integrator (one node at a time) gives every committed event a leaf index,
-- keeps the RFC 6962 Merkle tree of the leaves as tiles, and signs C2SP checkpoints. Nothing here is on the request
-- path but one BRIN entry per block range.
--
-- The order of the leaves: the integrator takes a snapshot S and integrates the events visible in S but not in the
-- snapshot P it integrated before (their transactions committed in between), in (xid, seq) order; then S becomes
-- P. A transaction that commits late is in P's in-progress list, so its events come in a later delta, with later
-- indices: none is skipped, none repeated, and an open transaction holds nothing back.

-- The integrator reads the events of the transactions that committed since its last run: a BRIN range over the xid
-- (xid8 has no BRIN operator class; its text is its 64-bit value). Events are appended in xid order within a few
-- milliseconds, so each block range holds a narrow band of xids.
CREATE INDEX par_events_xid ON par_events USING brin (((xid::text)::bigint)) WITH (pages_per_range = 32);

-- A BRIN scan reads every block range not yet summarized. The integrator summarizes the new ranges itself before
-- each run, on its own connection (autosummarize would queue one request per range to autovacuum, whose queue
-- overflows under load and drops them, leaving the newest ranges to be read in full at every run). A partition
-- whose lock is taken (by VACUUM or ANALYZE) is left for the next run.
CREATE FUNCTION parstore_log_summarize() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public SET lock_timeout = '100ms' AS $$
DECLARE
    partition_index regclass;
    summarized integer := 0;
BEGIN
    FOR partition_index IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'par_events_xid'::regclass LOOP
        BEGIN
            summarized := summarized + brin_summarize_new_values(partition_index);
        EXCEPTION WHEN lock_not_available THEN
            NULL;
        END;
    END LOOP;
    RETURN summarized;
END $$;

-- Where integration stands: `size` leaves; every event visible in `done_snapshot` is integrated; while
-- `target_snapshot` is set, its delta is being integrated and (last_xid, last_seq) is the last event taken from
-- it. `range` is the tree's right edge (the roots of its perfect subtrees, largest first, 32 bytes each);
-- `last_at` the newest integrated event's time.
CREATE TABLE parstore_log_state (
    id              integer     PRIMARY KEY CHECK (id = 1),
    size            bigint      NOT NULL CHECK (size >= 0),
    done_snapshot   pg_snapshot NOT NULL,
    target_snapshot pg_snapshot,
    last_xid        xid8        NOT NULL,
    last_seq        bigint      NOT NULL,
    range           bytea       NOT NULL,
    last_at         timestamptz,
    integrated_at   timestamptz NOT NULL
);
-- The empty snapshot: nothing is visible in it, so the first delta is every event.
INSERT INTO parstore_log_state VALUES (1, 0, '1:1:', NULL, '0', 0, '', NULL, now());

-- The tree as c2sp.org/tlog-tiles lays it out: tile (level L, index N) holds up to 256 hashes of tree level 8·L,
-- those of nodes N·256 onwards; level 0 holds the leaf hashes. Only the right-most tile of a level is partial.
CREATE TABLE parstore_log_tiles (
    level  smallint NOT NULL CHECK (level >= 0),
    index  bigint   NOT NULL CHECK (index >= 0),
    hashes bytea    NOT NULL CHECK (octet_length(hashes) BETWEEN 32 AND 8192 AND octet_length(hashes) % 32 = 0),
    PRIMARY KEY (level, index)
);

-- One row per integration transaction: leaves first_index .. first_index + size - 1 are the events of the delta
-- (visible in target_snapshot, not in done_snapshot) after (after_xid, after_seq) up to (last_xid, last_seq), in
-- (xid, seq) order. Export and proofs find an index through it; the audit reads each delta whole.
CREATE TABLE parstore_log_batches (
    first_index     bigint      PRIMARY KEY CHECK (first_index >= 0),
    size            integer     NOT NULL CHECK (size > 0),
    done_snapshot   pg_snapshot NOT NULL,
    target_snapshot pg_snapshot NOT NULL,
    after_xid       xid8        NOT NULL,
    after_seq       bigint      NOT NULL,
    last_xid        xid8        NOT NULL,
    last_seq        bigint      NOT NULL,
    integrated_at   timestamptz NOT NULL DEFAULT now()
);

-- Every signed checkpoint (c2sp.org/tlog-checkpoint in a c2sp.org/signed-note); `last_at` is the time of the
-- newest event it covers.
CREATE TABLE parstore_log_checkpoints (
    size      bigint      PRIMARY KEY CHECK (size > 0),
    root      bytea       NOT NULL CHECK (octet_length(root) = 32),
    note      text        NOT NULL,
    last_at   timestamptz,
    signed_at timestamptz NOT NULL DEFAULT now()
);
