-- reckon state store, schema 10 (reckon 0.1.0, 2026-12-01).
-- The cash candidate groups a run scored and did not apply: each receipt's
-- next best groups (at most three), the best ones of an ambiguous receipt, a
-- best group whose items a stronger match took. Probabilities are decimal
-- text, features a JSON array in the order of `feature_spec`, items sorted and
-- joined by `|`. Once a person accepts the receipt's proposal or chooses its
-- group, the group chosen is right and the others wrong: with the proposals,
-- the rows a cash-matching model is retrained on (`reckon train cash --state`).
CREATE TABLE candidate_scores (
    run_id TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    items TEXT NOT NULL,
    model TEXT NOT NULL,
    confidence TEXT NOT NULL,
    shadow_confidence TEXT,
    feature_spec TEXT NOT NULL,
    features TEXT NOT NULL,
    entity TEXT,
    PRIMARY KEY (run_id, txn_id, items)
);
