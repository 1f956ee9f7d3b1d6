-- Issue 5 (benchmarks): lookups by request never walk a partial index.
--
-- The deadline indexes (`WHERE slot = 0`, `WHERE slot = 1`) and the ticket index (`WHERE slot = 1`) matched every
-- "event of this request in slot N" lookup, so the planner could answer one by scanning the whole partial index.
-- It did, whenever the day's statistics said the slot was empty (a new day, a fresh database): plans are cached per
-- connection, so each lookup then walked every loaded event of the day, and browser flows slowed down as the day
-- filled (measured: 767 flows/s on a fresh database against 2,258/s once analysed). Each predicate now also names
-- its key column as non-null: the sweeper (`deadline > …`) and ticket lookups (`ticket_hash = …`) imply it, lookups
-- by request id do not, so those always take the (day, request_id, slot) key.
DROP INDEX par_events_pushed_deadline;
CREATE INDEX par_events_pushed_deadline ON par_events (deadline) WHERE slot = 0 AND deadline IS NOT NULL;
DROP INDEX par_events_loaded_deadline;
CREATE INDEX par_events_loaded_deadline ON par_events (deadline) WHERE slot = 1 AND deadline IS NOT NULL;
DROP INDEX par_events_ticket_key;
CREATE UNIQUE INDEX par_events_ticket_key ON par_events (day, ticket_hash) WHERE slot = 1 AND ticket_hash IS NOT NULL;
