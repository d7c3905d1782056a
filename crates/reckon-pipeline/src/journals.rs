//! The journal stage: GL lines → reckon-anomaly's journal-entry tests →
//! `journal_scores.parquet`, `journal_anomaly` and `control_violation`
//! exceptions; evaluation against a scenario's truth (ROC-AUC, average
//! precision, precision@k, recall per anomaly type).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use polars::prelude::*;
use reckon_anomaly::{JournalResult, Line, Tests};
use reckon_core::{Currency, Table, format_minor};
use reckon_feed::{Exception, Reason};
use reckon_ingest::Loaded;
use serde::Serialize;

use crate::RunError;
use crate::cash::{days, ints, strings};

/// The name@version the scores carry (the rule set; an ML model will add its own).
pub const MODEL: &str = "journal_tests@1.0";

/// GL lines from the loaded frames.
pub fn inputs(loaded: &Loaded) -> Option<Vec<Line>> {
    let gl = loaded.tables.get(&Table::GlJournalLines)?;
    let s = |c: &str| strings(gl, c);
    let (jid, ent, acct, per, cur, prep, appr, src) = (
        s("journal_id"),
        s("entity"),
        s("account"),
        s("fiscal_period"),
        s("currency"),
        s("preparer_id"),
        s("approver_id"),
        s("source"),
    );
    let (line, amt) = (ints(gl, "line_no"), ints(gl, "amount"));
    let (post, doc) = (days(gl, "posting_date"), days(gl, "document_date"));
    let created: Vec<Option<i64>> = gl
        .column("created_at")
        .ok()
        .and_then(|c| c.cast(&DataType::Int64).ok())
        .and_then(|c| c.i64().ok().map(|a| a.iter().collect()))
        .unwrap_or_else(|| vec![None; gl.height()]);
    Some(
        (0..gl.height())
            .map(|i| Line {
                journal_id: jid[i].clone(),
                line_no: line[i].unwrap_or(0),
                entity: ent[i].clone(),
                account: acct[i].clone(),
                posting_date: post[i].unwrap_or(0),
                document_date: doc[i],
                fiscal_period: per[i].clone(),
                amount: amt[i].unwrap_or(0),
                currency: cur[i].clone(),
                exponent: Currency::parse(&cur[i]).map_or(2, |c| c.exponent()),
                preparer_id: prep[i].clone(),
                approver_id: appr[i].clone(),
                source: src[i].clone(),
                // Timestamps are UTC microseconds.
                created_day: created[i].map(|us| us.div_euclid(86_400_000_000) as i32),
            })
            .collect(),
    )
}

/// Runs the tests on the loaded journals.
pub fn run(loaded: &Loaded, tests: &Tests) -> Option<(Vec<Line>, Vec<JournalResult>)> {
    let lines = inputs(loaded)?;
    let r = tests.run(&lines);
    Some((lines, r))
}

/// Writes `journal_scores.parquet`: one row per line with its journal's score and flags.
pub fn write(path: &Path, lines: &[Line], results: &[JournalResult]) -> Result<u64, RunError> {
    let mut rows: Vec<(usize, f64, String)> = Vec::with_capacity(lines.len());
    for j in results {
        let flags = j.flags.iter().map(|f| f.test).collect::<Vec<_>>().join("|");
        for &i in &j.lines {
            rows.push((i, j.risk, flags.clone()));
        }
    }
    rows.sort_by_key(|r| r.0);
    let cols = vec![
        Column::new("entity".into(), rows.iter().map(|r| lines[r.0].entity.clone()).collect::<Vec<_>>()),
        Column::new("journal_id".into(), rows.iter().map(|r| lines[r.0].journal_id.clone()).collect::<Vec<_>>()),
        Column::new("line_no".into(), rows.iter().map(|r| lines[r.0].line_no).collect::<Vec<_>>()),
        Column::new("score".into(), rows.iter().map(|r| r.1).collect::<Vec<_>>()),
        Column::new("model".into(), vec![MODEL.to_string(); rows.len()]),
        Column::new("flags".into(), rows.iter().map(|r| r.2.clone()).collect::<Vec<_>>()),
    ];
    let mut df = DataFrame::new(rows.len(), cols).map_err(|e| RunError::Write(path.to_path_buf(), e.to_string()))?;
    crate::write_parquet(path, &mut df)?;
    Ok(rows.len() as u64)
}

/// `control_violation` for unbalanced journals, `journal_anomaly` above the review risk.
pub fn exceptions(lines: &[Line], results: &[JournalResult], review_risk: f64, run_id: &str) -> Vec<Exception> {
    let mut out = Vec::new();
    for j in results {
        let (kind, band, action) = if j.unbalanced {
            ("control_violation", "escalate", "correct the journal: debits and credits must balance per currency")
        } else if j.risk >= review_risk {
            (
                "journal_anomaly",
                if j.risk >= 0.9 { "escalate" } else { "review" },
                "review the entry and its support with the preparer",
            )
        } else {
            continue;
        };
        let first = &lines[j.lines[0]];
        let total: i64 = j.lines.iter().map(|&i| lines[i].amount).filter(|a| *a > 0).sum();
        let records = vec![format!("gl_journal_lines:{}/{}", j.entity, j.journal_id)];
        out.push(Exception {
            exception_id: Exception::id_for(kind, &records),
            run_id: run_id.to_string(),
            kind: kind.into(),
            band: band.into(),
            score: j.risk,
            confidence: j.risk,
            entity: Some(j.entity.clone()),
            currency: Some(first.currency.clone()),
            amount: Some(format_minor(total, first.exponent)),
            records,
            reasons: j
                .flags
                .iter()
                .map(|f| Reason { code: f.test.into(), text: f.text.clone(), weight: f.weight })
                .collect(),
            recommended_action: action.into(),
            model: Some(MODEL.into()),
            priority: 0,
        });
    }
    out
}

/// Journal-level evaluation against `truth/journal_anomalies.csv`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct JournalEval {
    pub journals: usize,
    pub anomalous: usize,
    pub roc_auc: f64,
    pub average_precision: f64,
    /// Precision among the k highest-risk journals, k = number of anomalous ones.
    pub precision_at_k: f64,
    /// type → (journals, flagged at the review risk)
    pub recall_by_type: BTreeMap<String, (usize, usize)>,
    pub false_positive_rate: f64,
}

pub fn evaluate(results: &[JournalResult], truth_dir: &Path, review_risk: f64) -> Result<JournalEval, String> {
    let b =
        std::fs::read(truth_dir.join("journal_anomalies.csv")).map_err(|e| format!("journal_anomalies.csv: {e}"))?;
    let t = reckon_ingest::csv::scan(&b, b',', b'"').map_err(|e| e.to_string())?;
    let ix = |n: &str| t.header.iter().position(|h| h == n).ok_or(format!("journal_anomalies.csv: no {n}"));
    let (ei, ji, ti) = (ix("entity")?, ix("journal_id")?, ix("type")?);
    let truth: HashMap<(String, String), String> = (0..t.records.len())
        .map(|r| ((t.columns[ei][r].clone(), t.columns[ji][r].clone()), t.columns[ti][r].clone()))
        .collect();
    let scores: Vec<f64> = results.iter().map(|j| j.risk).collect();
    let labels: Vec<bool> =
        results.iter().map(|j| truth.contains_key(&(j.entity.clone(), j.journal_id.clone()))).collect();
    let k = labels.iter().filter(|b| **b).count();
    let mut order: Vec<usize> = (0..results.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let at_k = order.iter().take(k).filter(|&&i| labels[i]).count();
    let mut recall: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut fp = 0usize;
    for (j, lab) in results.iter().zip(&labels) {
        let flagged = j.risk >= review_risk || j.unbalanced;
        match truth.get(&(j.entity.clone(), j.journal_id.clone())) {
            Some(ty) => {
                let e = recall.entry(ty.clone()).or_default();
                e.0 += 1;
                if flagged {
                    e.1 += 1;
                }
            }
            None if flagged => fp += 1,
            None => {}
        }
        let _ = lab;
    }
    let normal = results.len() - k;
    Ok(JournalEval {
        journals: results.len(),
        anomalous: k,
        roc_auc: reckon_learn::metrics::roc_auc(&scores, &labels),
        average_precision: reckon_learn::metrics::average_precision(&scores, &labels),
        precision_at_k: if k == 0 { 0.0 } else { at_k as f64 / k as f64 },
        recall_by_type: recall,
        false_positive_rate: if normal == 0 { 0.0 } else { fp as f64 / normal as f64 },
    })
}

/// Evaluates `out/journal_scores.parquet` against `truth/`.
pub fn eval_out(out: &Path, truth_dir: &Path, review_risk: f64) -> Result<JournalEval, String> {
    let f =
        std::fs::File::open(out.join("journal_scores.parquet")).map_err(|e| format!("journal_scores.parquet: {e}"))?;
    let df = ParquetReader::new(f).finish().map_err(|e| e.to_string())?;
    let (ent, jid, flags) = (strings(&df, "entity"), strings(&df, "journal_id"), strings(&df, "flags"));
    let score: Vec<f64> = df
        .column("score")
        .ok()
        .and_then(|c| c.f64().ok().map(|a| a.iter().map(|v| v.unwrap_or(0.0)).collect()))
        .unwrap_or_default();
    let mut by: BTreeMap<(String, String), JournalResult> = BTreeMap::new();
    for i in 0..df.height() {
        let e = by.entry((ent[i].clone(), jid[i].clone())).or_insert_with(|| JournalResult {
            entity: ent[i].clone(),
            journal_id: jid[i].clone(),
            risk: score[i],
            unbalanced: flags[i].split('|').any(|f| f == "unbalanced"),
            ..JournalResult::default()
        });
        e.lines.push(i);
    }
    let results: Vec<JournalResult> = by.into_values().collect();
    evaluate(&results, truth_dir, review_risk)
}
