-- reckon state store, schema 5 (reckon 0.1.0, 2026-11-30).
-- Beside the proposals put to people, a run keeps the groups it applied
-- automatically (`band` = 'auto'), and each group's features (a JSON array in
-- the order of `feature_spec`): with the decisions on the proposals, the rows
-- a cash-matching model is retrained on (`reckon train match --state`).
ALTER TABLE proposal_scores ADD COLUMN band TEXT NOT NULL DEFAULT 'review';
ALTER TABLE proposal_scores ADD COLUMN feature_spec TEXT;
ALTER TABLE proposal_scores ADD COLUMN features TEXT;
