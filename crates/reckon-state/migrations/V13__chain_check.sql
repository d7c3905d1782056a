-- reckon state store, schema 13 (reckon 0.1.0, 2026-12-03).
-- Every run checks the chain's conservation (each bank entry ever loaded is
-- matched, open in an exception or resolved by a decision). Counting entries
-- by status and looking for settlements by unknown decisions scanned every
-- bank entry the chain ever loaded: about 12 s a run at 20 M entries on
-- SQLite, growing with every run. These partial indexes hold only the few
-- rows the check looks for, so it reads the open, resolved and
-- decision-settled entries and one count of all of them.
CREATE INDEX bank_entries_resolved ON bank_entries (txn_id) WHERE status = 'resolved';
CREATE INDEX bank_entries_other_status ON bank_entries (txn_id) WHERE status NOT IN ('matched', 'open', 'resolved');
CREATE INDEX bank_entries_by_decision ON bank_entries (settled_by) WHERE settled_by IS NOT NULL AND settled_by <> 'auto';
