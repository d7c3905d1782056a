-- reckon state store, schema 7 (reckon 0.1.0, 2026-11-30).
-- Events are numbered across the store: the next number is read from this
-- index, not from a scan of every event (a decision that writes an event cost
-- time in proportion to the store's history).
CREATE INDEX exception_events_by_seq ON exception_events (seq);
-- The entity (company code) of the open items a cash group applies: the
-- retraining job chooses an auto threshold per entity that has enough
-- decisions of its own.
ALTER TABLE proposal_scores ADD COLUMN entity TEXT;
-- Each run's calibration in the field of its served models (the manifest's
-- `models[].calibration`, as JSON): the trend `reckon models monitor` prints.
CREATE TABLE model_calibration (
    run_id TEXT NOT NULL,
    model TEXT NOT NULL,
    calibration TEXT NOT NULL,
    PRIMARY KEY (run_id, model)
);
