//! The journal stage: GL lines → reckon-anomaly's journal-entry tests →
//! `journal_scores.parquet`, `journal_anomaly` and `control_violation`
//! exceptions; evaluation against a scenario's truth (ROC-AUC, average
//! precision, precision@k, recall per anomaly type).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use reckon_anomaly::{Book, Columns, Dict, JournalResult, Tests};
use reckon_core::{Currency, Table};
use reckon_feed::{Band, Exception, ExceptionKind, Reason};
use reckon_ingest::Loaded;
use serde::Serialize;

use crate::cash::{days, ints};
use crate::stage::{BuildError, RunInputs, Settled, Stage, StageError, StageOutput, StageReport};

/// The name@version the scores carry (the rule set; an ML model will add its own).
pub const MODEL: &str = "journal_tests@1.0";

/// The GL book from the loaded frames: text columns interned straight from
/// polars' string arrays (no `String` per line), columns in parallel.
pub fn inputs(loaded: &Loaded) -> Option<Book> {
    use rayon::prelude::*;
    let gl = loaded.tables.get(&Table::GlJournalLines)?;
    let n = gl.height();
    let names =
        ["journal_id", "entity", "account", "fiscal_period", "currency", "preparer_id", "approver_id", "source"];
    let mut dicts: Vec<Dict> = names
        .par_iter()
        .map(|c| match gl.column(c).ok().and_then(|c| c.str().ok()) {
            Some(s) => Dict::intern(s.iter().map(|v| v.unwrap_or(""))),
            None => Dict::intern(std::iter::repeat_n("", n)),
        })
        .collect();
    let mut take = || dicts.remove(0);
    let (journal_id, entity, account, fiscal_period, currency, preparer_id, approver_id, source) =
        (take(), take(), take(), take(), take(), take(), take(), take());
    let exps: Vec<u8> = currency.names().iter().map(|c| Currency::parse(c).map_or(2, |c| c.exponent())).collect();
    let exponent = (0..n).map(|i| exps[currency.id(i) as usize]).collect();
    // Timestamps are UTC microseconds.
    const DAY_US: i64 = 86_400_000_000;
    let created_us: Vec<Option<i64>> = gl
        .column("created_at")
        .ok()
        .and_then(|c| c.cast(&DataType::Int64).ok())
        .and_then(|c| c.i64().ok().map(|a| a.iter().collect()))
        .unwrap_or_else(|| vec![None; n]);
    let created: Vec<Option<i32>> = created_us.iter().map(|v| v.map(|us| us.div_euclid(DAY_US) as i32)).collect();
    let created_hour: Vec<Option<u8>> =
        created_us.iter().map(|v| v.map(|us| (us.rem_euclid(DAY_US) / 3_600_000_000) as u8)).collect();
    let cols = Columns {
        journal_id,
        entity,
        account,
        fiscal_period,
        currency,
        preparer_id,
        approver_id,
        source,
        line_no: ints(gl, "line_no").into_iter().map(|v| v.unwrap_or(0)).collect(),
        posting_date: days(gl, "posting_date").into_iter().map(|v| v.unwrap_or(0)).collect(),
        document_date: days(gl, "document_date"),
        amount: ints(gl, "amount").into_iter().map(|v| v.unwrap_or(0)).collect(),
        exponent,
        created_day: created,
        created_hour,
    };
    // Every column comes from the same frame, so lengths agree; if they ever did
    // not, say so rather than test a book that is not the input.
    Book::new(cols).map_err(|e| tracing::error!(error = %e, "GL book not built")).ok()
}

/// Journal-entry testing as a stage: the configured tests on every GL journal,
/// risk from the model (or the rules alone), `journal_scores` table,
/// `control_violation` and `journal_anomaly` exceptions.
#[derive(Debug)]
pub struct JournalsStage {
    tests: Tests,
    model: Option<RiskModel>,
    review_risk: f64,
}

impl JournalsStage {
    pub fn build(config: &crate::Config) -> Result<Box<dyn Stage>, BuildError> {
        let tests = config.anomaly.build().map_err(|message| BuildError::Config { section: "anomaly", message })?;
        let err = |message: String| BuildError::Model { section: "anomaly", message };
        let model = match config.anomaly.model.as_str() {
            "rules" => None,
            name => {
                let dir = crate::model::resolve(name).ok_or_else(|| {
                    err(format!("model '{name}' not found (set it to \"rules\" for the tests alone)"))
                })?;
                Some(RiskModel::load(&dir).map_err(err)?)
            }
        };
        let review_risk = model.as_ref().map_or(config.anomaly.review_risk, RiskModel::review);
        Ok(Box::new(JournalsStage { tests, model, review_risk }))
    }
}

impl Stage for JournalsStage {
    fn name(&self) -> &'static str {
        "journal_tests"
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["journal_scores", "benford"]
    }

    fn run(&self, inputs: &RunInputs<'_>) -> Result<StageOutput, StageError> {
        let fail = |message: String| StageError { stage: self.name(), message };
        let Some((book, mut results)) = run(inputs.loaded, &self.tests) else { return Ok(StageOutput::no_input()) };
        if let Some(m) = &self.model {
            m.score(&self.tests, &book, &mut results).map_err(fail)?;
        }
        let model_id = self.model.as_ref().map_or(MODEL.to_string(), |m| m.risk.id());
        let table = scores_frame(&book, &results, &model_id).map_err(|e| fail(e.to_string()))?;
        let exceptions = exceptions(&book, &results, self.review_risk, &model_id, inputs.run_id);
        let mut counts = BTreeMap::new();
        counts.insert("journals".to_string(), results.len() as u64);
        counts.insert("unbalanced".to_string(), results.iter().filter(|j| j.unbalanced).count() as u64);
        counts.insert(
            "at_or_above_review".to_string(),
            results.iter().filter(|j| j.risk >= self.review_risk).count() as u64,
        );
        Ok(StageOutput {
            report: StageReport {
                summary: format!(
                    "ok ({model_id}: {} lines, {} journals, {} at or above risk {})",
                    book.len(),
                    results.len(),
                    counts["at_or_above_review"],
                    self.review_risk,
                ),
                rows_in: book.len() as u64,
                rows_out: table.height() as u64,
                counts,
            },
            tables: vec![
                ("journal_scores", table),
                ("benford", benford_frame(&self.tests, &book).map_err(|e| fail(e.to_string()))?),
            ],
            exceptions,
            models: self
                .model
                .iter()
                .flat_map(|m| [&m.risk, &m.iforest])
                .map(crate::manifest::ModelEntry::of)
                .collect(),
            settled: Settled {
                gl_scored: Some(results.iter().flat_map(|j| j.lines.iter().copied()).collect()),
                ..Settled::default()
            },
        })
    }
}

/// Runs the tests on the loaded journals.
pub fn run(loaded: &Loaded, tests: &Tests) -> Option<(Book, Vec<JournalResult>)> {
    let book = inputs(loaded)?;
    let r = tests.run_book(&book);
    Some((book, r))
}

/// `benford.parquet`: per preparer, lines with an amount, first digits 1–9, the
/// mean absolute deviation from Benford's law and whether the `benford` test
/// judges it nonconforming.
pub fn benford_frame(tests: &Tests, book: &Book) -> PolarsResult<DataFrame> {
    let rows = tests.benford_profiles(book);
    let mut cols = vec![
        Column::new("preparer_id".into(), rows.iter().map(|r| r.preparer.as_str()).collect::<Vec<_>>()),
        Column::new("lines".into(), rows.iter().map(|r| r.lines).collect::<Vec<_>>()),
    ];
    for d in 1..=9 {
        cols.push(Column::new(format!("digit_{d}").into(), rows.iter().map(|r| r.counts[d - 1]).collect::<Vec<_>>()));
    }
    cols.push(Column::new("mad".into(), rows.iter().map(|r| r.mad).collect::<Vec<_>>()));
    cols.push(Column::new("nonconforming".into(), rows.iter().map(|r| r.nonconforming).collect::<Vec<_>>()));
    DataFrame::new(rows.len(), cols)
}

/// `journal_scores.parquet`: one row per line with its journal's score and flags.
pub fn scores_frame(book: &Book, results: &[JournalResult], model: &str) -> PolarsResult<DataFrame> {
    let flags: Vec<String> =
        results.iter().map(|j| j.flags.iter().map(|f| f.test.as_str()).collect::<Vec<_>>().join("|")).collect();
    let mut rows: Vec<(usize, usize)> = Vec::with_capacity(book.len());
    for (k, j) in results.iter().enumerate() {
        rows.extend(j.lines.iter().map(|&i| (i, k)));
    }
    rows.sort_unstable();
    let cols = vec![
        Column::new("entity".into(), rows.iter().map(|r| book.entity.at(r.0)).collect::<Vec<_>>()),
        Column::new("journal_id".into(), rows.iter().map(|r| book.journal_id.at(r.0)).collect::<Vec<_>>()),
        Column::new("line_no".into(), rows.iter().map(|r| book.line_no[r.0]).collect::<Vec<_>>()),
        Column::new("score".into(), rows.iter().map(|r| results[r.1].risk).collect::<Vec<_>>()),
        Column::new("model".into(), vec![model; rows.len()]),
        Column::new("flags".into(), rows.iter().map(|r| flags[r.1].as_str()).collect::<Vec<_>>()),
    ];
    DataFrame::new(rows.len(), cols)
}

/// `control_violation` for unbalanced journals, `journal_anomaly` above the review risk.
pub fn exceptions(
    book: &Book,
    results: &[JournalResult],
    review_risk: f64,
    model: &str,
    run_id: &str,
) -> Vec<Exception> {
    let mut out = Vec::new();
    for j in results {
        let (kind, band, action) = if j.unbalanced {
            (
                ExceptionKind::ControlViolation,
                Band::Escalate,
                "correct the journal: debits and credits must balance per currency",
            )
        } else if j.risk >= review_risk {
            (
                ExceptionKind::JournalAnomaly,
                if j.risk >= 0.9 { Band::Escalate } else { Band::Review },
                "review the entry and its support with the preparer",
            )
        } else {
            continue;
        };
        let i0 = j.lines[0];
        let total: i128 = j.lines.iter().map(|&i| i128::from(book.amount[i])).filter(|a| *a > 0).sum();
        let records = vec![format!("gl_journal_lines:{}/{}", j.entity, j.journal_id)];
        out.push(Exception {
            exception_id: Exception::id_for(kind, &records),
            run_id: run_id.to_string(),
            kind,
            band,
            score: j.risk,
            confidence: j.risk,
            entity: Some(j.entity.clone()),
            currency: Some(book.currency.at(i0).to_string()),
            amount: Some(reckon_core::format_minor_wide(total, book.exponent[i0])),
            records,
            reasons: j
                .flags
                .iter()
                .map(|f| Reason { code: f.test.as_str().into(), text: f.text.clone(), weight: f.weight })
                .collect(),
            recommended_action: action.into(),
            model: Some(model.into()),
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
    let truth: JournalTruth = (0..t.records.len())
        .map(|r| ((t.columns[ei][r].clone(), t.columns[ji][r].clone()), t.columns[ti][r].clone()))
        .collect();
    Ok(score_journals(results, &truth, review_risk))
}

/// Anomalous journals of a scenario: (entity, journal_id) → anomaly type.
pub type JournalTruth = HashMap<(String, String), String>;

/// Scores journals' risks against the anomalous ones: ranking (ROC-AUC, AP,
/// precision at k) and, at `review_risk` (or unbalanced), recall per type and
/// the false-positive rate.
pub fn score_journals(results: &[JournalResult], truth: &JournalTruth, review_risk: f64) -> JournalEval {
    let scores: Vec<f64> = results.iter().map(|j| j.risk).collect();
    let labels: Vec<bool> =
        results.iter().map(|j| truth.contains_key(&(j.entity.clone(), j.journal_id.clone()))).collect();
    let k = labels.iter().filter(|b| **b).count();
    let mut order: Vec<usize> = (0..results.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let at_k = order.iter().take(k).filter(|&&i| labels[i]).count();
    let mut recall: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut fp = 0usize;
    for j in results {
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
    }
    let normal = results.len() - k;
    JournalEval {
        journals: results.len(),
        anomalous: k,
        roc_auc: reckon_learn::metrics::roc_auc(&scores, &labels),
        average_precision: reckon_learn::metrics::average_precision(&scores, &labels),
        precision_at_k: if k == 0 { 0.0 } else { at_k as f64 / k as f64 },
        recall_by_type: recall,
        false_positive_rate: if normal == 0 { 0.0 } else { fp as f64 / normal as f64 },
    }
}

/// Evaluates `out/journal_scores.parquet` against `truth/`.
pub fn eval_out(out: &Path, truth_dir: &Path, review_risk: f64) -> Result<JournalEval, String> {
    let f =
        std::fs::File::open(out.join("journal_scores.parquet")).map_err(|e| format!("journal_scores.parquet: {e}"))?;
    let df = ParquetReader::new(f).finish().map_err(|e| e.to_string())?;
    let req = |c: &str| crate::cash::required_strings(&df, c).map_err(|e| format!("journal_scores.parquet: {e}"));
    let (ent, jid, flags) = (req("entity")?, req("journal_id")?, req("flags")?);
    let score = crate::cash::required_f64(&df, "score").map_err(|e| format!("journal_scores.parquet: {e}"))?;
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

/// The journal risk model: an isolation forest over `journal_v2` features (its
/// folder's `iforest/`) and a logistic regression over the rule flags, the rule
/// risk and the forest's score (the folder's `model.onnx`) giving a calibrated risk.
#[derive(Debug)]
pub struct RiskModel {
    pub iforest: reckon_onnx::Model,
    pub risk: reckon_onnx::Model,
}

impl RiskModel {
    pub fn load(dir: &Path) -> Result<RiskModel, String> {
        let risk = reckon_onnx::Model::load(dir).map_err(|e| e.to_string())?;
        let iforest = reckon_onnx::Model::load(&dir.join("iforest")).map_err(|e| e.to_string())?;
        combined(&[], &[], &risk.config.features).map_err(|e| format!("{}: {e}", dir.display()))?;
        if iforest.config.feature_spec != reckon_anomaly::FEATURE_SPEC {
            return Err(format!(
                "{}: forest trained on {} but reckon computes {}",
                dir.display(),
                iforest.config.feature_spec,
                reckon_anomaly::FEATURE_SPEC
            ));
        }
        Ok(RiskModel { iforest, risk })
    }

    pub fn review(&self) -> f64 {
        self.risk.config.thresholds.get("review").copied().unwrap_or(0.5)
    }

    /// Replaces each journal's rule risk by the model's risk; returns the forest scores.
    pub fn score(&self, tests: &Tests, book: &Book, results: &mut [JournalResult]) -> Result<Vec<f32>, String> {
        let n = results.len();
        let f = reckon_anomaly::features(tests, book, results);
        let ifs = self.iforest.score(n, &f).map_err(|e| e.to_string())?;
        let x = combined(results, &ifs, &self.risk.config.features)?;
        let p = self.risk.score(n, &x).map_err(|e| e.to_string())?;
        let k = reckon_anomaly::FEATURES.len();
        let outl = reckon_anomaly::outlying_features(&f, k, 3.0);
        let untrained = untrained(&self.risk.config.features);
        for (((j, r), s), o) in results.iter_mut().zip(p).zip(&ifs).zip(&outl) {
            j.risk = raised(f64::from(r), &j.flags, &untrained);
            // The model's own evidence is a reason too: the forest's score and the
            // features that stand furthest from the book.
            if *s >= 0.6 || (j.risk >= 0.5 && !o.is_empty()) {
                let top: Vec<String> = o
                    .iter()
                    .map(|(fi, z)| {
                        let sign = if *z >= 0.0 { "+" } else { "" };
                        format!("{} (z {sign}{z:.1} against this book)", reckon_anomaly::FEATURE_WORDS[*fi])
                    })
                    .collect();
                let text = if top.is_empty() {
                    format!("unusual combination of values (isolation forest score {s:.2})")
                } else {
                    format!(
                        "unusual combination of values (isolation forest score {s:.2}); most unusual: {}",
                        top.join(", ")
                    )
                };
                j.flags.push(reckon_anomaly::Flag {
                    test: reckon_anomaly::JournalTest::IsolationForest,
                    text,
                    weight: f64::from(*s),
                });
            }
        }
        Ok(ifs)
    }
}

/// The risk model's inputs, in the order its config names them, journal by
/// journal: `flag_<test>` (1 when the test fired), `rule_risk`, `iforest_z` (the
/// forest's score as a z-score within the book — relative, because raw forest
/// scores shift with a book's size and mix; clipped at 0, only the unusual side is
/// evidence) and `amount_z` (the journal's largest amount above its account's
/// usual ones, clipped to 0–10). A model names the inputs it was trained on, so
/// older models keep working when tests are added.
pub fn combined(results: &[JournalResult], iforest: &[f32], names: &[String]) -> Result<Vec<f32>, String> {
    enum In {
        Flag(reckon_anomaly::JournalTest),
        RuleRisk,
        IforestZ,
        AmountZ,
    }
    let ins: Vec<In> = names
        .iter()
        .map(|n| match n.as_str() {
            "rule_risk" => Ok(In::RuleRisk),
            "iforest_z" => Ok(In::IforestZ),
            "amount_z" => Ok(In::AmountZ),
            f => match f.strip_prefix("flag_") {
                Some(t) => match reckon_anomaly::JournalTest::parse(t).filter(|t| reckon_anomaly::TESTS.contains(t)) {
                    Some(t) => Ok(In::Flag(t)),
                    None => Err(format!("risk model input '{n}' is not one reckon computes")),
                },
                _ => Err(format!("risk model input '{n}' is not one reckon computes")),
            },
        })
        .collect::<Result<_, _>>()?;
    let untrained = untrained(names);
    let n = iforest.len().max(1) as f64;
    let mean = iforest.iter().map(|v| f64::from(*v)).sum::<f64>() / n;
    let sd = (iforest.iter().map(|v| (f64::from(*v) - mean).powi(2)).sum::<f64>() / n).sqrt().max(1e-3);
    let mut x = Vec::with_capacity(results.len() * ins.len());
    for (j, s) in results.iter().zip(iforest) {
        for i in &ins {
            x.push(match i {
                In::Flag(t) => {
                    if j.flags.iter().any(|f| f.test == *t) {
                        1.0
                    } else {
                        0.0
                    }
                }
                In::RuleRisk => trained_rule_risk(j, &untrained) as f32,
                In::IforestZ => ((f64::from(*s) - mean) / sd).clamp(0.0, 10.0) as f32,
                In::AmountZ => j.amount_z.clamp(0.0, 10.0) as f32,
            });
        }
    }
    Ok(x)
}

/// Tests added after a model was trained: in [`reckon_anomaly::TESTS`] but not
/// among the model's `flag_` inputs. The model never saw them, so they stay out
/// of the `rule_risk` it reads (its calibration holds) and raise its risk
/// afterwards like any rule (see [`RiskModel::score`]).
pub fn untrained(names: &[String]) -> Vec<reckon_anomaly::JournalTest> {
    reckon_anomaly::TESTS
        .iter()
        .copied()
        .filter(|t| !names.iter().any(|n| n.strip_prefix("flag_") == Some(t.as_str())))
        .collect()
}

/// The model's risk raised by the flags of tests it was not trained with, as
/// rules combine: 1 − (1 − risk) · Π(1 − weight). Unchanged without such flags.
pub fn raised(risk: f64, flags: &[reckon_anomaly::Flag], untrained: &[reckon_anomaly::JournalTest]) -> f64 {
    let extra: Vec<f64> = flags.iter().filter(|f| untrained.contains(&f.test)).map(|f| f.weight).collect();
    if extra.is_empty() { risk } else { 1.0 - (1.0 - risk) * extra.iter().map(|w| 1.0 - w).product::<f64>() }
}

/// The rule risk over the tests the model was trained with (the flags are in
/// the order the rule risk was taken in, so with no untrained flag it is `j.risk`).
fn trained_rule_risk(j: &JournalResult, untrained: &[reckon_anomaly::JournalTest]) -> f64 {
    if !j.flags.iter().any(|f| untrained.contains(&f.test)) {
        return j.risk;
    }
    1.0 - j.flags.iter().filter(|f| !untrained.contains(&f.test)).map(|f| 1.0 - f.weight).product::<f64>()
}

/// The inputs `reckon train anomaly` gives a new risk model.
pub fn combined_features() -> Vec<String> {
    let mut v: Vec<String> = reckon_anomaly::TESTS.iter().map(|t| format!("flag_{t}")).collect();
    v.push("rule_risk".into());
    v.push("iforest_z".into());
    v.push("amount_z".into());
    v
}

fn labels(results: &[JournalResult], truth_dir: &Path) -> Result<Vec<bool>, String> {
    let b =
        std::fs::read(truth_dir.join("journal_anomalies.csv")).map_err(|e| format!("journal_anomalies.csv: {e}"))?;
    let t = reckon_ingest::csv::scan(&b, b',', b'"').map_err(|e| e.to_string())?;
    let ix = |n: &str| t.header.iter().position(|h| h == n).ok_or(format!("no {n}"));
    let (ei, ji) = (ix("entity")?, ix("journal_id")?);
    let set: std::collections::HashSet<(String, String)> =
        (0..t.records.len()).map(|r| (t.columns[ei][r].clone(), t.columns[ji][r].clone())).collect();
    Ok(results.iter().map(|j| set.contains(&(j.entity.clone(), j.journal_id.clone()))).collect())
}

/// A plain isolation forest on raw one-hot features (account, source, preparer,
/// log amount) — the baseline the issue compares with.
fn one_hot(book: &Book, results: &[JournalResult], vocab: &mut Option<Vec<String>>) -> (Vec<f32>, usize) {
    let v = vocab.get_or_insert_with(|| {
        let mut s: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        for (p, d) in [("a", &book.account), ("s", &book.source), ("p", &book.preparer_id)] {
            s.extend(d.names().iter().map(|n| format!("{p}:{n}")));
        }
        s.into_iter().collect()
    });
    let pos: HashMap<&str, usize> = v.iter().enumerate().map(|(i, s)| (s.as_str(), i)).collect();
    let k = v.len() + 1;
    let mut x = vec![0f32; results.len() * k];
    for (r, j) in results.iter().enumerate() {
        let mut total = 0i128;
        for &i in &j.lines {
            let keys = [
                format!("a:{}", book.account.at(i)),
                format!("s:{}", book.source.at(i)),
                format!("p:{}", book.preparer_id.at(i)),
            ];
            for key in keys {
                if let Some(&p) = pos.get(key.as_str()) {
                    x[r * k + p] = 1.0;
                }
            }
            if book.amount[i] > 0 {
                total += i128::from(book.amount[i]);
            }
        }
        x[r * k + v.len()] = ((total as f64) / 100.0 + 1.0).log10() as f32;
    }
    (x, k)
}

/// What training measured.
#[derive(Debug, Serialize)]
pub struct AnomalyTrainReport {
    pub train_journals: usize,
    pub train_anomalous: usize,
    pub validation_journals: usize,
    pub validation_anomalous: usize,
    pub rules_only: (f64, f64),
    pub iforest_only: (f64, f64),
    pub combined: (f64, f64),
    pub plain_iforest_one_hot: (f64, f64),
    pub review_threshold: f64,
    pub validation_precision: f64,
    pub validation_recall: f64,
    pub train_seconds: f64,
}

/// Trains the journal risk model on `train`, chooses its review threshold (best F1)
/// and reports on `validation`; writes `out` (model.onnx + iforest/).
pub fn train(train_dir: &Path, validation: &Path, out: &Path) -> Result<AnomalyTrainReport, String> {
    use reckon_learn::{iforest, logistic::Logistic, metrics};
    let t0 = std::time::Instant::now();
    let tests = reckon_anomaly::AnomalyConfig::default().build()?;
    type Labelled = (Book, Vec<JournalResult>, Vec<bool>);
    let load = |d: &Path| -> Result<Labelled, String> {
        let loaded = reckon_ingest::load_dir(d).map_err(|e| e.to_string())?;
        let (lines, results) = run(&loaded, &tests).ok_or("no GL journal lines")?;
        let y = labels(&results, &d.join("truth"))?;
        Ok((lines, results, y))
    };
    let (tl, tr, ty) = load(train_dir)?;
    let k = reckon_anomaly::FEATURES.len();
    let tf = reckon_anomaly::features(&tests, &tl, &tr);
    let forest = iforest::IsolationForest::fit(&tf, k, &iforest::Params { trees: 100, sample: 256, seed: 7 })
        .map_err(|e| e.to_string())?;
    let t_if: Vec<f32> = (0..tr.len()).map(|i| forest.score(&tf[i * k..(i + 1) * k]) as f32).collect();
    let tx: Vec<f64> = combined(&tr, &t_if, &combined_features())?.into_iter().map(f64::from).collect();
    let w = combined_features().len();
    // Strong shrinkage: the forest's score shifts with the book, and a steep weight
    // on it would turn any book's most unusual journal into a certain anomaly.
    let lr = Logistic::fit(&tx, w, &ty, 1.0).map_err(|e| e.to_string())?;
    let train_seconds = t0.elapsed().as_secs_f64();
    // Model folders.
    let if_bytes = forest.to_onnx(&[("feature_spec", reckon_anomaly::FEATURE_SPEC)]);
    let lr_bytes = lr.to_onnx(&[("feature_spec", "journal_risk_v2")]);
    let data_hash = crate::model::training_data_sha256(train_dir, crate::model::Engine::Journals);
    crate::model::refuse_same_data(&data_hash, validation, crate::model::Engine::Journals, "validation")?;
    let version = crate::model::version_of(out);
    let if_cfg = reckon_onnx::ModelConfig {
        name: "journal_iforest".into(),
        version: version.clone(),
        task: "journal_isolation".into(),
        feature_spec: reckon_anomaly::FEATURE_SPEC.into(),
        features: reckon_anomaly::FEATURES.iter().map(|s| s.to_string()).collect(),
        input: "features".into(),
        output: "score".into(),
        output_mapping: "column:0".into(),
        thresholds: BTreeMap::new(),
        model_sha256: reckon_core::id::sha256_hex(&if_bytes),
        training_data_sha256: data_hash.clone(),
    };
    let mut risk_cfg = reckon_onnx::ModelConfig {
        name: "journal_anomaly".into(),
        version: version.clone(),
        task: "journal_risk".into(),
        feature_spec: "journal_risk_v2".into(),
        features: combined_features(),
        input: "features".into(),
        output: "probability".into(),
        output_mapping: "probability".into(),
        thresholds: BTreeMap::new(),
        model_sha256: reckon_core::id::sha256_hex(&lr_bytes),
        training_data_sha256: data_hash,
    };
    std::fs::create_dir_all(out.join("iforest")).map_err(|e| format!("{}: {e}", out.display()))?;
    let model = RiskModel {
        iforest: reckon_onnx::Model::from_bytes(&out.join("iforest"), if_cfg.clone(), &if_bytes)
            .map_err(|e| e.to_string())?,
        risk: reckon_onnx::Model::from_bytes(out, risk_cfg.clone(), &lr_bytes).map_err(|e| e.to_string())?,
    };
    // Validation, through ONNX Runtime as `reckon run` serves it.
    let (vl, mut vr, vy) = load(validation)?;
    let rule_scores: Vec<f64> = vr.iter().map(|j| j.risk).collect();
    let v_if: Vec<f64> = model.score(&tests, &vl, &mut vr)?.into_iter().map(f64::from).collect();
    let comb: Vec<f64> = vr.iter().map(|j| j.risk).collect();
    let pair = |s: &[f64]| (metrics::roc_auc(s, &vy), metrics::average_precision(s, &vy));
    let mut vocab = None;
    let (ox, ok) = one_hot(&tl, &tr, &mut vocab);
    let plain = iforest::IsolationForest::fit(&ox, ok, &iforest::Params { trees: 100, sample: 256, seed: 7 })
        .map_err(|e| e.to_string())?;
    let (vx, vk) = one_hot(&vl, &vr, &mut vocab);
    let plain_s: Vec<f64> = (0..vr.len()).map(|i| plain.score(&vx[i * vk..(i + 1) * vk])).collect();
    // Review threshold: the best F1 on validation over the whole score range.
    let positives = vy.iter().filter(|y| **y).count();
    let cut = reckon_learn::threshold::ThresholdRule::BestF1
        .check()
        .and_then(|r| r.choose(&comb, &vy, positives))
        .map_err(|e| format!("review threshold: {e}"))?;
    let best = (cut.threshold, cut.f1, cut.precision, cut.recall);
    risk_cfg.thresholds.insert("review".into(), best.0);
    let report = AnomalyTrainReport {
        train_journals: tr.len(),
        train_anomalous: ty.iter().filter(|b| **b).count(),
        validation_journals: vr.len(),
        validation_anomalous: vy.iter().filter(|b| **b).count(),
        rules_only: pair(&rule_scores),
        iforest_only: pair(&v_if),
        combined: pair(&comb),
        plain_iforest_one_hot: pair(&plain_s),
        review_threshold: best.0,
        validation_precision: best.2,
        validation_recall: best.3,
        train_seconds,
    };
    let w = |p: PathBuf, text: String| std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()));
    std::fs::write(out.join("model.onnx"), &lr_bytes).map_err(|e| e.to_string())?;
    w(
        out.join("weights.json"),
        serde_json::to_string_pretty(&serde_json::json!({
            "weights": combined_features().iter().zip(&lr.weights).map(|(f, w)| (f.clone(), *w)).collect::<BTreeMap<_, _>>(),
            "intercept": lr.intercept,
        }))
        .map_err(|e| e.to_string())?
            + "\n",
    )?;
    std::fs::write(out.join("iforest/model.onnx"), &if_bytes).map_err(|e| e.to_string())?;
    w(out.join("config.json"), serde_json::to_string_pretty(&risk_cfg).map_err(|e| e.to_string())? + "\n")?;
    w(out.join("iforest/config.json"), serde_json::to_string_pretty(&if_cfg).map_err(|e| e.to_string())? + "\n")?;
    w(out.join("metrics.json"), serde_json::to_string_pretty(&report).map_err(|e| e.to_string())? + "\n")?;
    w(
        out.join("MODEL_CARD.md"),
        format!(
            "# Model card: journal_anomaly {version}\n\n## Intended use\nRanks GL journals by the probability that they are anomalous (fraud or error patterns of\nISA 240 journal-entry testing), for review by controllers and auditors. Journals at or above\n{thr} become `journal_anomaly` exceptions (0.9 and above escalate); unbalanced journals are always\n`control_violation`.\n\n## Model\nTwo parts, both ONNX served by ONNX Runtime through `ort`: `iforest/` — an isolation forest\n(100 trees, ψ = 256) trained by reckon in Rust on `{spec}` features and exported as one\n`ai.onnx.ml` TreeEnsembleRegressor; `model.onnx` — a logistic regression (linfa) over the {tests}\nrule flags, the rule risk, the forest's score (z within the book) and the largest amount's\nz above its account's usual amounts, i.e. the calibrated combination.\n\n## Training data\nGenerated scenario `{}`: {} journals, {} anomalous (labels from `truth/journal_anomalies.csv`).\n\n## Validation (`{}`: {} journals, {} anomalous)\n| scorer | ROC-AUC | average precision |\n|---|---|---|\n| rules only | {:.4} | {:.4} |\n| isolation forest ({spec}) only | {:.4} | {:.4} |\n| combined (this model) | {:.4} | {:.4} |\n| plain isolation forest on raw one-hot features | {:.4} | {:.4} |\n\nReview threshold {thr} (best F1 on validation over the whole score range, halfway between the lowest\njournal kept and the highest left out): precision {:.3}, recall {:.3}.{sep}\n\n## Limits\nGenerated data only; anomaly types the generator does not make are only caught by the rules\nand the forest's notion of unusual. Retrain on the entity's own labelled history.\n\n## Reproduce\n```sh\nreckon generate --seed 1001 --scale 20000 --out /tmp/train\nreckon generate --seed 101 --scale 20000 --out /tmp/val\nreckon train anomaly --input /tmp/train --validation /tmp/val --out {out}\n```\n",
            train_dir.display(),
            report.train_journals,
            report.train_anomalous,
            validation.display(),
            report.validation_journals,
            report.validation_anomalous,
            report.rules_only.0,
            report.rules_only.1,
            report.iforest_only.0,
            report.iforest_only.1,
            report.combined.0,
            report.combined.1,
            report.plain_iforest_one_hot.0,
            report.plain_iforest_one_hot.1,
            report.validation_precision,
            report.validation_recall,
            thr = best.0,
            sep = crate::model::separability(report.combined.0),
            spec = reckon_anomaly::FEATURE_SPEC,
            tests = reckon_anomaly::TESTS.len(),
            out = out.file_name().map_or(out.display().to_string(), |n| format!("models/{}", n.to_string_lossy()))
        ),
    )?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(id: &str, risk: f64, unbalanced: bool) -> JournalResult {
        JournalResult { entity: "E1".into(), journal_id: id.into(), risk, unbalanced, ..JournalResult::default() }
    }

    #[test]
    fn journal_metrics_by_hand() {
        let results = vec![
            j("J1", 0.9, false),  // anomalous (split), flagged
            j("J2", 0.8, false),  // normal, flagged: a false positive
            j("J3", 0.3, true),   // anomalous (unbalanced), flagged as unbalanced below the risk
            j("J4", 0.2, false),  // anomalous (split), missed
            j("J5", 0.1, false),  // normal
            j("J6", 0.05, false), // normal
            j("J7", 0.5, false),  // normal, exactly at the review risk: flagged
        ];
        let truth: JournalTruth = [("J1", "split"), ("J3", "unbalanced"), ("J4", "split")]
            .iter()
            .map(|(id, t)| (("E1".to_string(), id.to_string()), t.to_string()))
            .collect();
        let e = score_journals(&results, &truth, 0.5);
        assert_eq!((e.journals, e.anomalous), (7, 3));
        // Ascending ranks: J6 1, J5 2, J4 3 (+), J3 4 (+), J7 5, J2 6, J1 7 (+): (3 + 4 + 7 - 3·4/2) / (3·4).
        assert!((e.roc_auc - (14.0 - 6.0) / 12.0).abs() < 1e-12, "{}", e.roc_auc);
        // Descending: J1 +, J2 -, J7 -, J3 +, J4 + → AP = (1 + 2/4 + 3/5) / 3.
        assert!((e.average_precision - (1.0 + 0.5 + 0.6) / 3.0).abs() < 1e-12);
        // Top 3: J1, J2, J7 → 1 right.
        assert!((e.precision_at_k - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(e.recall_by_type["split"], (2, 1));
        assert_eq!(e.recall_by_type["unbalanced"], (1, 1));
        // J2 and J7 (at the review risk) of four normal journals.
        assert!((e.false_positive_rate - 2.0 / 4.0).abs() < 1e-12);
        // Another entity's journal with the same id is not the anomalous one.
        let mut other = j("J1", 0.99, false);
        other.entity = "E2".into();
        let e2 = score_journals(&[other], &truth, 0.5);
        assert_eq!((e2.anomalous, e2.false_positive_rate), (0, 1.0));
    }

    #[test]
    fn journal_metrics_on_empty_sets() {
        let e = score_journals(&[], &JournalTruth::new(), 0.5);
        assert_eq!((e.journals, e.anomalous, e.precision_at_k, e.false_positive_rate), (0, 0, 0.0, 0.0));
        assert!(e.roc_auc.is_nan());
    }
}
