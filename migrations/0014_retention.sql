-- Issue 16: retention drops whole day partitions; the tamper-evident log keeps verifying.
--
-- When retention drops a day whose events the log integrated, it records which leaf indices they had, in a note
-- signed with the log's key (c2sp.org/signed-note; the README gives its text): the audit takes those leaves from the
-- tree (their hashes stay in the tiles, under every checkpoint) and still names any other event that goes missing.
CREATE TABLE parstore_log_prunings (
    day       date        PRIMARY KEY,
    leaves    bigint      NOT NULL CHECK (leaves >= 0),
    note      text        NOT NULL,
    pruned_at timestamptz NOT NULL DEFAULT now()
);
