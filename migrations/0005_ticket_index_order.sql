-- Issue 5 (benchmarks): the ticket index leads with the ticket hash.
--
-- With `(day, ticket_hash) WHERE slot = 1`, the planner could answer "the loaded event of this request"
-- (day, request_id, slot = 1) by walking the ticket index on `day` alone: every loaded event of the day, for each
-- lookup. A generic plan made while the day's partition was still nearly empty kept doing so as it filled, and
-- browser flows slowed down as the day went on. Led by the ticket hash, the index is useless without one, so
-- request lookups always take the (day, request_id, slot) key. It stays unique, and still holds the partition key.
DROP INDEX par_events_ticket_key;
CREATE UNIQUE INDEX par_events_ticket_key ON par_events (ticket_hash, day) WHERE slot = 1;
