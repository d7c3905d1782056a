//! `reckon eval`: a run's outputs against a scenario's truth.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use polars::prelude::*;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{0}: {1}")]
    Read(String, String),
}

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
    /// the candidates an `ambiguous_match` exception offers a person — /
    /// matchable receipts.
    pub recall_any_band: f64,
    /// Receipts nobody owes (truth: unmatched) that were cleared automatically.
    pub false_auto_on_unmatched: u64,
    pub by_pattern: BTreeMap<String, PatternStats>,
    pub sweep: Vec<Sweep>,
}

fn read_truth(path: &Path) -> Result<Vec<BTreeMap<String, String>>, EvalError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| EvalError::Read(name.clone(), e.to_string()))?;
    let s = reckon_ingest::csv::scan(&bytes, b',', b'"').map_err(|e| EvalError::Read(name, e.to_string()))?;
    Ok((0..s.records.len())
        .map(|r| s.header.iter().cloned().zip(s.columns.iter().map(|c| c[r].clone())).collect())
        .collect())
}

fn read_parquet(path: &Path) -> Result<DataFrame, EvalError> {
    let f = std::fs::File::open(path).map_err(|e| EvalError::Read(path.display().to_string(), e.to_string()))?;
    ParquetReader::new(f).finish().map_err(|e| EvalError::Read(path.display().to_string(), e.to_string()))
}

fn col(df: &DataFrame, c: &str) -> Vec<String> {
    df.column(c)
        .ok()
        .and_then(|c| c.str().ok().map(|s| s.iter().map(|v| v.unwrap_or("").to_string()).collect()))
        .unwrap_or_default()
}

/// Predicted groups per receipt: (items, cleared automatically, confidence).
pub type Predicted = BTreeMap<String, (BTreeSet<String>, bool, f64)>;

/// Candidate groups of ambiguous receipts.
pub type Candidates = BTreeMap<String, Vec<BTreeSet<String>>>;

/// The candidates of a match result's ambiguous receipts.
pub fn candidates_of(res: &reckon_match::MatchResult) -> Candidates {
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
    let (txn, item, band) = (col(&m, "txn_id"), col(&m, "item_id"), col(&m, "band"));
    let conf: Vec<f64> = m
        .column("confidence")
        .ok()
        .and_then(|c| c.f64().ok().map(|a| a.iter().flatten().collect()))
        .unwrap_or_default();
    let mut pred: Predicted = BTreeMap::new();
    for i in 0..m.height() {
        let e = pred.entry(txn[i].clone()).or_insert((BTreeSet::new(), band[i] == "auto", conf[i]));
        e.0.insert(item[i].clone());
    }
    // Candidates of ambiguous receipts (outputs before they were written have none).
    let mut cands = Candidates::new();
    if let Ok(o) = read_parquet(&out.join("receipt_outcomes.parquet")) {
        for (txn, c) in col(&o, "txn_id").into_iter().zip(col(&o, "candidates")) {
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
    let candidate = |t: &str| -> bool {
        truth_items.get(t).is_some_and(|s| cands.get(t).is_some_and(|c| c.iter().any(|g| g == s)))
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
    let sweep = [0.80, 0.85, 0.86, 0.88, 0.90, 0.93, 0.95, 0.97, 0.98, 0.99]
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
