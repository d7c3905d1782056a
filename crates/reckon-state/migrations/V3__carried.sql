-- reckon state store, schema 3 (reckon 0.1.0, 2026-11-30).
-- The bank entries a run leaves open, as one Parquet file (contract columns):
-- the next run carries them from it. Only the latest run's is kept.
-- `bank_entries.row_json` is from now on written only for entries a decision
-- settled (an undo opens them again, and they are no longer in the latest
-- run's file); open entries written by schema 2 keep theirs.
-- `exceptions.state` and `exceptions.last_run` are as of the run that last
-- changed the exception: one still `new` after a later run is open.
CREATE TABLE carried (
    run_id TEXT PRIMARY KEY,
    rows BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    parquet BYTEA NOT NULL
);

-- Open exceptions are read by a scan that this index does not serve; every
-- change of state paid for it.
DROP INDEX exceptions_by_state;
