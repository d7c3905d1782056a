-- reckon state store, schema 14 (reckon 0.1.0, 2026-12-03).
-- Each run judges its model's calibration on the proposals people decided,
-- the newest `[monitor] calibration_window` of them; it read every decision
-- that ever labelled a proposal, and every exception a decision named. This
-- index holds those decisions in the order they were made, so a run reads
-- the newest first and stops when it has the labels it judges. (Equalities
-- joined by OR, not `IN`: the condition is the query's own, term for term.)
CREATE INDEX decisions_labelling ON decisions (decided_at, decision_id)
    WHERE (status = 'accepted' OR status = 'applied')
    AND (action = 'accept' OR action = 'match' OR action = 'choose' OR action = 'reject_pair');
