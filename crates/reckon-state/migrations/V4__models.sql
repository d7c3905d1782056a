-- reckon state store, schema 4 (reckon 0.1.0, 2026-11-30).
-- Which model folder decides for an engine (`champion`) and which is scored
-- beside it in shadow (`challenger`), and every change of either: a run with
-- the store serves them in place of the configuration's.
CREATE TABLE model_aliases (
    engine TEXT NOT NULL,
    alias TEXT NOT NULL,
    model TEXT NOT NULL,
    model_id TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    since TEXT NOT NULL,
    actor TEXT NOT NULL,
    PRIMARY KEY (engine, alias)
);
CREATE TABLE model_alias_events (
    seq BIGINT PRIMARY KEY,
    engine TEXT NOT NULL,
    alias TEXT NOT NULL,
    action TEXT NOT NULL,
    model TEXT,
    model_id TEXT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    detail TEXT NOT NULL
);

-- Each cash proposal a run put to people (the review band), with the
-- probability of the model that decided and, with a challenger in shadow, the
-- challenger's: with the decisions on them, the evidence a promotion is
-- judged on. Probabilities are decimal text (shortest round trip).
CREATE TABLE proposal_scores (
    run_id TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    items TEXT NOT NULL,
    model TEXT NOT NULL,
    confidence TEXT NOT NULL,
    challenger TEXT,
    shadow_confidence TEXT,
    PRIMARY KEY (run_id, txn_id)
);
