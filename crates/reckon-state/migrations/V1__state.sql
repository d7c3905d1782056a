-- reckon state store, schema 1 (reckon 0.1.0, 2026-11-29).
-- Portable SQL: TEXT and BIGINT only, no engine-specific types, so the same
-- migration runs on SQLite and PostgreSQL. Money is BIGINT minor units of the
-- row's currency; dates and times are ISO 8601 text.

-- The chain of runs: each run names its predecessor and the sha256 of its manifest.
CREATE TABLE runs (
    seq BIGINT PRIMARY KEY,
    run_id TEXT NOT NULL UNIQUE,
    predecessor TEXT,
    predecessor_manifest_sha256 TEXT,
    manifest_sha256 TEXT NOT NULL,
    as_of TEXT NOT NULL,
    started_at TEXT NOT NULL,
    committed_at TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT NOT NULL
);

-- Every bank entry ever loaded: open (in an exception, carried into the next
-- run), matched (by the engine or by a decision) or resolved (by a decision).
CREATE TABLE bank_entries (
    txn_id TEXT PRIMARY KEY,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    row_json TEXT NOT NULL,
    status TEXT NOT NULL,
    first_run TEXT NOT NULL,
    last_run TEXT NOT NULL,
    settled_run TEXT,
    settled_by TEXT
);
CREATE INDEX bank_entries_by_status ON bank_entries (status);

-- Amounts reckon applied to open items that the receivables snapshot does not
-- show yet: an item's open amount in a later run is reduced by them until the
-- snapshot's own open amount falls (the ERP posted it) or the item is gone.
CREATE TABLE applications (
    txn_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    applied_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    open_seen_minor BIGINT NOT NULL,
    run_id TEXT NOT NULL,
    decision_id TEXT,
    PRIMARY KEY (txn_id, item_id)
);

-- Exceptions by the problem they are about; the id stays the first one given.
CREATE TABLE exceptions (
    exception_id TEXT PRIMARY KEY,
    problem_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    subject TEXT NOT NULL,
    band TEXT NOT NULL,
    currency TEXT,
    amount TEXT,
    content_digest TEXT NOT NULL,
    material_digest TEXT NOT NULL,
    first_run TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_run TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    resolved_run TEXT,
    resolution TEXT,
    preparers TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX exceptions_by_state ON exceptions (state);
CREATE INDEX exceptions_by_subject ON exceptions (subject, state);

-- What happened to each exception in each run and by each decision.
CREATE TABLE exception_events (
    exception_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    run_id TEXT,
    decision_id TEXT,
    at TEXT NOT NULL,
    state TEXT NOT NULL,
    band TEXT,
    score TEXT,
    model TEXT,
    detail TEXT NOT NULL,
    PRIMARY KEY (exception_id, seq)
);

-- Every decision received, valid or not, with what became of it.
CREATE TABLE decisions (
    decision_id TEXT PRIMARY KEY,
    exception_id TEXT,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    roles TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    comment TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    source TEXT NOT NULL,
    received_at TEXT NOT NULL,
    approved_by TEXT,
    applied_run TEXT
);
CREATE INDEX decisions_by_exception ON decisions (exception_id);

-- What was learned from decisions.
CREATE TABLE payer_aliases (
    name_key TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    name TEXT NOT NULL,
    decision_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    PRIMARY KEY (name_key, customer_id)
);
CREATE TABLE rejected_pairs (
    txn_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    decision_id TEXT NOT NULL,
    PRIMARY KEY (txn_id, item_id)
);
-- Dismissed duplicates and explained journals: not raised again while their
-- material content (amounts, records) is the same.
CREATE TABLE dismissed (
    problem_key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    material_digest TEXT NOT NULL,
    decision_id TEXT NOT NULL
);
