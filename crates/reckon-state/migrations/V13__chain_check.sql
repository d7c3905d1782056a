-- reckon state store, schema 13 (reckon 0.1.0, 2026-12-03).
-- What a run reads of the store should not grow with the length of the
-- chain. Every run checks the chain's conservation (each bank entry ever
-- loaded is matched, open in an exception or resolved by a decision);
-- counting entries by status and looking for settlements by unknown
-- decisions scanned every bank entry the chain ever loaded (about 12 s a run
-- at 20 M entries on SQLite). Partial indexes of the resolved entries, of
-- entries of any other status and of the entries a decision settled hold
-- only the few rows the check looks for.
CREATE INDEX bank_entries_resolved ON bank_entries (txn_id) WHERE status = 'resolved';
-- (Inequalities, not `NOT IN`: SQLite builds the list's table each time it
-- evaluates the condition, once per row written.)
CREATE INDEX bank_entries_other_status ON bank_entries (txn_id)
    WHERE status <> 'matched' AND status <> 'open' AND status <> 'resolved';
CREATE INDEX bank_entries_by_decision ON bank_entries (settled_by) WHERE settled_by IS NOT NULL AND settled_by <> 'auto';
-- Each run reads the open exceptions and those a decision resolved; the
-- filter scanned every exception the chain ever raised, payloads included
-- (0.7-1.3 s with a million resolved ones beside 69 k open, 0.25-0.3 s from
-- this index).
CREATE INDEX exceptions_open ON exceptions (exception_id) WHERE state <> 'resolved' OR resolved_run IS NULL;
-- Each run reads the review proposals people decided, to judge its model's
-- calibration in the field; it read every review proposal ever kept.
CREATE INDEX proposal_scores_review_by_txn ON proposal_scores (txn_id) WHERE band = 'review';
-- Each run reads the decisions accepted and not applied yet; it read every
-- decision ever recorded.
CREATE INDEX decisions_to_apply ON decisions (decided_at, decision_id) WHERE status = 'accepted';
