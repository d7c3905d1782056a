-- reckon state store, schema 3 (reckon 0.1.0, 2026-11-30).
-- Files a run leaves for the next, as Parquet, one per name (the latest run's
-- replaces the one before): `carried`, the bank entries left open (contract
-- columns), which the next run carries in; `applications`, the amounts
-- reckon applied automatically that the receivables snapshot did not show yet
-- (an application a decision made stays a row of `applications`, so an undo
-- can remove it).
-- `bank_entries.row_json` is from now on written only for entries a decision
-- settled (an undo opens them again, and they are no longer in the latest
-- run's file); open entries written by schema 2 keep theirs.
-- `exceptions.state` and `exceptions.last_run` are as of the run that last
-- changed the exception: one still `new` after a later run is open.
CREATE TABLE run_files (
    name TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    rows BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    parquet BYTEA NOT NULL
);

-- Open exceptions are read by a scan that this index does not serve; every
-- change of state paid for it.
DROP INDEX exceptions_by_state;

-- Bank entries: only the open ones are read by status (each run's memory);
-- counts by status are one scan in the chain check. A partial index keeps the
-- matched majority out of it.
DROP INDEX bank_entries_by_status;
CREATE INDEX bank_entries_open ON bank_entries (txn_id) WHERE status = 'open';
