-- Issue 4: the browser-facing load. A request is `loaded` (slot 1) once, bound to one user agent; the loaded event
-- records the SHA-256 of the user agent's binding and of the ticket handed to the authorization server's UI, and
-- its deadline is the interaction deadline. A consumption through a ticket records the ticket's hash too.
ALTER TABLE par_events ADD COLUMN binding_hash bytea CHECK (binding_hash IS NULL OR octet_length(binding_hash) = 32);
ALTER TABLE par_events ADD COLUMN ticket_hash bytea CHECK (ticket_hash IS NULL OR octet_length(ticket_hash) = 32);

-- A ticket finds its request within the partition its day names.
CREATE UNIQUE INDEX par_events_ticket_key ON par_events (day, ticket_hash) WHERE slot = 1;
-- The sweeper also walks loaded requests by their interaction deadline.
CREATE INDEX par_events_loaded_deadline ON par_events (deadline) WHERE slot = 1;

-- Per-client lifetimes and policy; NULL takes the node's default.
ALTER TABLE parstore_clients ADD COLUMN request_lifetime_seconds integer
    CHECK (request_lifetime_seconds IS NULL OR request_lifetime_seconds BETWEEN 1 AND 599);
ALTER TABLE parstore_clients ADD COLUMN interaction_lifetime_seconds integer
    CHECK (interaction_lifetime_seconds IS NULL OR interaction_lifetime_seconds BETWEEN 1 AND 86400);
ALTER TABLE parstore_clients ADD COLUMN require_pushed_authorization_requests boolean NOT NULL DEFAULT false;

-- Expiry now has two sources: a pushed request never loaded expires at its request deadline; a loaded one at its
-- interaction deadline (the loaded event's). Same locking and uniqueness as before.
CREATE OR REPLACE FUNCTION parstore_expire(node text, grace interval) RETURNS integer
LANGUAGE plpgsql SET TimeZone TO 'UTC' AS $$
DECLARE
    since timestamptz;
    upto  timestamptz := now() - grace;
    pushed_count integer;
    loaded_count integer;
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
