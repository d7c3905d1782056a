//! `reckon eval`: a run's outputs against a scenario's truth.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use polars::prelude::*;
use serde::Serialize;

/// Evaluation's errors are the lab's.
pub type EvalError = crate::LabError;
use crate::LabError;
use reckon_pipeline::manifest::Written;

#[derive(Clone, Debug, Default, Serialize)]
pub struct PatternStats {
    pub receipts: u64,
    pub auto: u64,
    pub auto_correct: u64,
    /// The right items proposed (auto or review).
    pub any_correct: u64,
    /// Not proposed, but the right items are a candidate of an `ambiguous_match`.
    pub in_candidates: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Sweep {
    pub threshold: f64,
    pub auto_groups: u64,
    pub auto_precision: f64,
    pub touchless: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct CashEval {
    /// Receipts the truth says pay something.
    pub matchable: u64,
    pub auto_groups: u64,
    pub auto_correct: u64,
    /// Correct auto groups / auto groups.
    pub auto_precision: f64,
    /// Matchable receipts auto-cleared correctly / matchable receipts.
    pub touchless: f64,
    /// Matchable receipts whose right items were proposed (auto or review) /
    /// matchable receipts.
    pub recall_proposed: f64,
    /// Matchable receipts whose right items are in any band — proposed, or one of
    /// the candidates an `ambiguous_match` exception offers a person, none of
    /// whose items was proposed for another receipt — / matchable receipts.
    pub recall_any_band: f64,
    /// Receipts nobody owes (truth: unmatched) that were cleared automatically.
    pub false_auto_on_unmatched: u64,
    pub by_pattern: BTreeMap<String, PatternStats>,
    pub sweep: Vec<Sweep>,
}

fn read_truth(path: &Path) -> Result<Vec<BTreeMap<String, String>>, EvalError> {
    let bad = |reason: String| LabError::Truth { file: path.to_path_buf(), reason };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let s = reckon_ingest::csv::scan(&bytes, b',', b'"').map_err(|e| bad(e.to_string()))?;
    Ok((0..s.records.len())
        .map(|r| s.header.iter().cloned().zip(s.columns.iter().map(|c| c[r].to_string())).collect())
        .collect())
}

fn read_parquet(path: &Path) -> Result<DataFrame, EvalError> {
    let f = std::fs::File::open(path).map_err(LabError::io(path))?;
    ParquetReader::new(f).finish().map_err(LabError::in_dir(path))
}

/// Refuses to evaluate a run on the data one of its models was trained on:
/// each model the run's manifest names records the sha256 of its training
/// files, and the scenario (the truth folder's parent) must differ.
pub fn refuse_training_data(out: &Path, truth: &Path) -> Result<(), EvalError> {
    let m = Written::read(out)?;
    let scenario = truth.parent().unwrap_or(truth);
    for model in &m.models {
        // A model folder that is gone since the run cannot be checked.
        let cfg = Path::new(&model.path).join("config.json");
        let Ok(c) = std::fs::read_to_string(&cfg) else { continue };
        let c: reckon_onnx::ModelConfig = serde_json::from_str(&c).map_err(LabError::in_dir(&cfg))?;
        let Some(engine) = crate::model::Engine::of_model(&c.name) else { continue };
        let role = format!("evaluation (model {})", model.id);
        crate::model::refuse_same_data(&c.training_data_sha256, scenario, engine, &role)?;
    }
    Ok(())
}

/// The review threshold a run's journal scores were flagged at: the model
/// folder named in its manifest (`config.journals.model`; its `review`
/// threshold), or the rules' `review_risk`.
pub fn journal_review_threshold(out: &Path) -> Result<f64, EvalError> {
    let m = Written::read(out)?;
    let j = &m.config.journals;
    if j.model == "rules" {
        return Ok(j.review_risk);
    }
    let dir = reckon_pipeline::model::find("journals.model", &j.model, "the run's manifest names it")?;
    let p = dir.join("config.json");
    let text = std::fs::read_to_string(&p).map_err(LabError::io(&p))?;
    let c: reckon_onnx::ModelConfig = serde_json::from_str(&text).map_err(LabError::in_dir(&p))?;
    Ok(c.thresholds.get("review").copied().unwrap_or(j.review_risk))
}

/// Every published quality figure of a run against its scenario's truth, by
/// name (`cash.touchless`, `duplicates.false_alarms.recurring`,
/// `journals.roc_auc`, `money_out.ap_payment`, …): what `docs/quality.md`
/// publishes and the CI quality gate holds.
pub fn figures(out: &Path, truth: &Path) -> Result<BTreeMap<String, f64>, EvalError> {
    let mut f = BTreeMap::new();
    let c = cash(out, truth)?;
    f.insert("cash.auto_precision".into(), c.auto_precision);
    f.insert("cash.touchless".into(), c.touchless);
    f.insert("cash.recall_proposed".into(), c.recall_proposed);
    f.insert("cash.recall_any_band".into(), c.recall_any_band);
    if out.join("duplicates.parquet").is_file() && truth.join("ap_duplicates.csv").is_file() {
        let d = crate::duplicates::eval_out(out, truth)?;
        f.insert("duplicates.precision".into(), d.precision);
        f.insert("duplicates.recall".into(), d.recall);
        f.insert("duplicates.f1".into(), d.f1);
        for (kind, (_, _, rate)) in &d.false_alarms {
            f.insert(format!("duplicates.false_alarms.{kind}"), *rate);
        }
    }
    if out.join("journal_scores.parquet").is_file() && truth.join("journal_anomalies.csv").is_file() {
        let j = crate::journals::eval_out(out, truth, journal_review_threshold(out)?)?;
        f.insert("journals.roc_auc".into(), j.roc_auc);
        f.insert("journals.average_precision".into(), j.average_precision);
        f.insert("journals.precision_at_k".into(), j.precision_at_k);
        f.insert("journals.false_positive_rate".into(), j.false_positive_rate);
    }
    if out.join("disbursements.parquet").is_file() && truth.join("disbursements.csv").is_file() {
        for (class, (n, right)) in crate::duplicates::eval_money_out(out, truth)? {
            f.insert(format!("money_out.{class}"), if n == 0 { 0.0 } else { right as f64 / n as f64 });
        }
    }
    Ok(f)
}

/// Predicted groups per receipt: (items, cleared automatically, confidence).
pub type Predicted = BTreeMap<String, (BTreeSet<String>, bool, f64)>;

/// Candidate groups of ambiguous receipts.
pub type Candidates = BTreeMap<String, Vec<BTreeSet<String>>>;

/// The candidates of a match result's ambiguous receipts.
pub fn candidates_of(res: &reckon_cash::MatchResult) -> Candidates {
    res.outcomes
        .iter()
        .filter(|o| !o.candidates.is_empty())
        .map(|o| (o.txn_id.clone(), o.candidates.iter().map(|g| g.iter().cloned().collect()).collect()))
        .collect()
}

/// A scenario's cash truth: items per paying receipt, and every receipt's pattern.
#[derive(Clone, Debug, Default)]
pub struct CashTruth {
    pub items: BTreeMap<String, BTreeSet<String>>,
    pub pattern: BTreeMap<String, String>,
}

/// Reads `truth/cash_matches.csv` and `truth/receipts.csv`.
pub fn cash_truth(truth: &Path) -> Result<CashTruth, EvalError> {
    let t_links = read_truth(&truth.join("cash_matches.csv"))?;
    let t_receipts = read_truth(&truth.join("receipts.csv"))?;
    let mut items: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for l in &t_links {
        items.entry(l["txn_id"].clone()).or_default().insert(l["item_id"].clone());
    }
    let pattern = t_receipts.iter().map(|r| (r["txn_id"].clone(), r["pattern"].clone())).collect();
    Ok(CashTruth { items, pattern })
}

/// Evaluates `out/matches.parquet` against the scenario's truth folder.
pub fn cash(out: &Path, truth: &Path) -> Result<CashEval, EvalError> {
    let t = cash_truth(truth)?;
    let m = read_parquet(&out.join("matches.parquet"))?;
    use reckon_pipeline::frame::{required_f64, required_strings};
    let req = |c: &str| required_strings(&m, c).map_err(LabError::output("matches.parquet"));
    let (txn, item, band) = (req("txn_id")?, req("item_id")?, req("band")?);
    let conf = required_f64(&m, "confidence").map_err(LabError::output("matches.parquet"))?;
    let mut pred: Predicted = BTreeMap::new();
    for i in 0..m.height() {
        let e = pred.entry(txn[i].clone()).or_insert((BTreeSet::new(), band[i] == "auto", conf[i]));
        e.0.insert(item[i].clone());
    }
    // Candidates of ambiguous receipts (outputs before they were written have none).
    let mut cands = Candidates::new();
    if let Ok(o) = read_parquet(&out.join("receipt_outcomes.parquet")) {
        let req = |c: &str| required_strings(&o, c).map_err(LabError::output("receipt_outcomes.parquet"));
        for (txn, c) in req("txn_id")?.into_iter().zip(req("candidates")?) {
            if !c.is_empty() {
                cands.insert(txn, c.split('|').map(|g| g.split('+').map(str::to_string).collect()).collect());
            }
        }
    }
    Ok(score_with(&pred, &cands, &t))
}

/// Scores predicted groups against the truth.
pub fn score(pred: &Predicted, t: &CashTruth) -> CashEval {
    score_with(pred, &Candidates::new(), t)
}

/// Scores predicted groups, and the candidates of ambiguous receipts, against the truth.
pub fn score_with(pred: &Predicted, cands: &Candidates, t: &CashTruth) -> CashEval {
    let (truth_items, pattern) = (&t.items, &t.pattern);
    let matchable = truth_items.len() as u64;
    let correct = |t: &str| -> bool { pred.get(t).is_some_and(|p| truth_items.get(t).is_some_and(|s| *s == p.0)) };
    let mut by_pattern: BTreeMap<String, PatternStats> = BTreeMap::new();
    let (mut auto, mut auto_ok, mut any_ok, mut false_auto) = (0u64, 0u64, 0u64, 0u64);
    let mut cand_ok = 0u64;
    // Which receipt each item was proposed for: a candidate whose items went to
    // another receipt is no longer there for a person to choose.
    let mut taken: BTreeMap<&str, &str> = BTreeMap::new();
    for (t, p) in pred {
        for i in &p.0 {
            taken.insert(i.as_str(), t.as_str());
        }
    }
    let candidate = |t: &str| -> bool {
        truth_items.get(t).is_some_and(|s| {
            cands.get(t).is_some_and(|c| c.iter().any(|g| g == s))
                && s.iter().all(|i| taken.get(i.as_str()).is_none_or(|owner| *owner == t))
        })
    };
    for (t, p) in pattern {
        let st = by_pattern.entry(p.clone()).or_default();
        st.receipts += 1;
        let is_auto = pred.get(t).is_some_and(|x| x.1);
        let ok = correct(t);
        if is_auto {
            auto += 1;
            st.auto += 1;
            if ok {
                auto_ok += 1;
                st.auto_correct += 1;
            }
            if !truth_items.contains_key(t) {
                false_auto += 1;
            }
        }
        if ok {
            any_ok += 1;
            st.any_correct += 1;
        } else if candidate(t) {
            cand_ok += 1;
            st.in_candidates += 1;
        }
    }
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let sweep = [0.30, 0.40, 0.50, 0.60, 0.70, 0.80, 0.85, 0.90, 0.95, 0.98, 0.99]
        .iter()
        .map(|&th| {
            let (mut n, mut ok) = (0u64, 0u64);
            for (t, p) in pred {
                if p.2 >= th {
                    n += 1;
                    if correct(t) {
                        ok += 1;
                    }
                }
            }
            Sweep { threshold: th, auto_groups: n, auto_precision: ratio(ok, n), touchless: ratio(ok, matchable) }
        })
        .collect();
    CashEval {
        matchable,
        auto_groups: auto,
        auto_correct: auto_ok,
        auto_precision: ratio(auto_ok, auto),
        touchless: ratio(auto_ok, matchable),
        recall_proposed: ratio(any_ok, matchable),
        recall_any_band: ratio(any_ok + cand_ok, matchable),
        false_auto_on_unmatched: false_auto,
        by_pattern,
        sweep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// R1 auto right, R2 auto wrong (one item short), R3 review right, R4
    /// ambiguous with the right group among its candidates, R5 owes nothing but
    /// was cleared automatically, R6 ambiguous with its right item proposed for
    /// R3, R7 left unmatched.
    fn world() -> (Predicted, Candidates, CashTruth) {
        let mut t = CashTruth::default();
        for (r, items, pat) in [
            ("R1", &["I1"][..], "exact"),
            ("R2", &["I2", "I3"][..], "multi"),
            ("R3", &["I4"][..], "exact"),
            ("R4", &["I5"][..], "name_only"),
            ("R6", &["I4"][..], "name_only"),
            ("R7", &["I7"][..], "exact"),
        ] {
            t.items.insert(r.into(), set(items));
            t.pattern.insert(r.into(), pat.into());
        }
        t.pattern.insert("R5".into(), "unmatched".into());
        let mut p = Predicted::new();
        p.insert("R1".into(), (set(&["I1"]), true, 0.99));
        p.insert("R2".into(), (set(&["I2"]), true, 0.95));
        p.insert("R3".into(), (set(&["I4"]), false, 0.60));
        p.insert("R5".into(), (set(&["I9"]), true, 0.97));
        let mut c = Candidates::new();
        c.insert("R4".into(), vec![set(&["I6"]), set(&["I5"])]);
        // R6's right item I4 is among its candidates but was proposed for R3.
        c.insert("R6".into(), vec![set(&["I4"])]);
        (p, c, t)
    }

    #[test]
    fn cash_metrics_by_hand() {
        let (p, c, t) = world();
        let e = score_with(&p, &c, &t);
        assert_eq!(e.matchable, 6);
        assert_eq!((e.auto_groups, e.auto_correct), (3, 1));
        assert!((e.auto_precision - 1.0 / 3.0).abs() < 1e-12);
        assert!((e.touchless - 1.0 / 6.0).abs() < 1e-12);
        // Proposed right: R1, R3.
        assert!((e.recall_proposed - 2.0 / 6.0).abs() < 1e-12);
        // Plus R4 from its candidates; R6 is not credited (its item went to R3).
        assert!((e.recall_any_band - 3.0 / 6.0).abs() < 1e-12);
        assert_eq!(e.false_auto_on_unmatched, 1);
        let name_only = &e.by_pattern["name_only"];
        assert_eq!((name_only.receipts, name_only.in_candidates, name_only.any_correct), (2, 1, 0));
        let exact = &e.by_pattern["exact"];
        assert_eq!((exact.receipts, exact.auto, exact.auto_correct, exact.any_correct), (3, 1, 1, 2));
        // Sweep at 0.95: R1 (right), R2 and R5 (wrong).
        let s = e.sweep.iter().find(|s| s.threshold == 0.95).unwrap_or_else(|| panic!("0.95"));
        assert_eq!(s.auto_groups, 3);
        assert!((s.auto_precision - 1.0 / 3.0).abs() < 1e-12);
        let s = e.sweep.iter().find(|s| s.threshold == 0.50).unwrap_or_else(|| panic!("0.50"));
        assert_eq!(s.auto_groups, 4);
        assert!((s.touchless - 2.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn cash_metrics_on_empty_sets() {
        let e = score_with(&Predicted::new(), &Candidates::new(), &CashTruth::default());
        assert_eq!((e.matchable, e.auto_groups), (0, 0));
        assert_eq!((e.auto_precision, e.touchless, e.recall_any_band), (0.0, 0.0, 0.0));
        // Nothing predicted on a world with receipts: recall 0, precision 0 (not NaN).
        let (_, _, t) = world();
        let e = score(&Predicted::new(), &t);
        assert_eq!(e.matchable, 6);
        assert_eq!((e.auto_precision, e.recall_proposed), (0.0, 0.0));
    }
}
