-- reckon state store, schema 9 (reckon 0.1.0, 2026-12-01).
-- Whether the engine held a cash group for a person whatever its score (a
-- payer conflict, invoices named that are not posted yet, an unexplained
-- excess): a challenger scored in shadow would not clear it either, so
-- promotion does not count it among what the challenger clears.
ALTER TABLE proposal_scores ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
