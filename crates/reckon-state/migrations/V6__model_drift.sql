-- reckon state store, schema 6 (reckon 0.1.0, 2026-11-30).
-- Each run's measurement of a served model against its training reference
-- (the manifest's `models[].drift`, as JSON): the trend `reckon models
-- monitor` prints.
CREATE TABLE model_drift (
    run_id TEXT NOT NULL,
    model TEXT NOT NULL,
    drift TEXT NOT NULL,
    PRIMARY KEY (run_id, model)
);
