-- reckon state store, schema 7 (reckon 0.1.0, 2026-11-30).
-- Events are numbered across the store: the next number is read from this
-- index, not from a scan of every event (a decision that writes an event cost
-- time in proportion to the store's history).
CREATE INDEX exception_events_by_seq ON exception_events (seq);
