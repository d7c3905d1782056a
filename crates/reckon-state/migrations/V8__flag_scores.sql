-- reckon state store, schema 8 (reckon 0.1.0, 2026-11-30).
-- Each duplicate pair (`dedup`) and journal (`anomaly`) a run raised as an
-- exception, with the model that scored it, its review threshold, its
-- probability and its features
-- (a JSON array in the order of `feature_spec`). With the decisions people take
-- on the exceptions (`confirm`: right; `dismiss`, `explain`: wrong) these are
-- the rows the duplicate and journal models are retrained on
-- (`reckon train duplicates|journals --state`). `problem_key` is the
-- exception's, as the lifecycle keys it.
CREATE TABLE flag_scores (
    run_id TEXT NOT NULL,
    engine TEXT NOT NULL,
    subject TEXT NOT NULL,
    problem_key TEXT NOT NULL,
    model TEXT NOT NULL,
    threshold TEXT NOT NULL,
    score TEXT NOT NULL,
    feature_spec TEXT NOT NULL,
    features TEXT NOT NULL,
    PRIMARY KEY (run_id, engine, subject)
);
CREATE INDEX flag_scores_by_problem ON flag_scores (problem_key);
