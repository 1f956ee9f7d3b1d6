-- Issue 13: a statement whose caller has stopped waiting never commits.
--
-- A node gives each request a deadline and answers 503 when it passes. A statement it sent before that may still
-- reach the server later: a frozen server (SIGSTOP, a stalled disk) reads it from its socket once it runs again,
-- after the node has answered. The hot-path statements therefore carry their batch's deadline, on the server's
-- clock, and call this function: past the deadline it raises query_canceled (57014), the statement's transaction
-- rolls back, and nothing the caller was told failed is committed afterwards.
CREATE OR REPLACE FUNCTION parstore_in_time(deadline_ms bigint) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF deadline_ms IS NOT NULL AND clock_timestamp() >= to_timestamp(deadline_ms / 1000.0) THEN
        RAISE EXCEPTION 'the caller''s deadline passed before this statement ran' USING ERRCODE = 'query_canceled';
    END IF;
    RETURN true;
END $$;

-- A redemption through a ticket may carry the authorization server's key for that attempt (`Idempotency-Key`): its
-- SHA-256 is kept with the `consumed` event, and a retry with the same ticket and key — one whose answer was lost
-- to a dropped connection or a 503 — gets the same request again, within the interaction lifetime, without a new
-- event. Any other attempt is still refused: exactly one attempt ever succeeds.
ALTER TABLE par_events ADD COLUMN attempt_hash bytea CHECK (attempt_hash IS NULL OR octet_length(attempt_hash) = 32);
