//! The journal risk model's training (`reckon train journals`) and journal
//! evaluation against a scenario's truth (ROC-AUC, average precision,
//! precision@k, recall per anomaly type).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use reckon_journals::{Book, JournalResult};
use serde::Serialize;

use reckon_pipeline::journals::{RarityBase, RiskModel, combined, combined_features, input_test};

use crate::LabError;

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

pub fn evaluate(results: &[JournalResult], truth_dir: &Path, review_risk: f64) -> Result<JournalEval, LabError> {
    let file = truth_dir.join("journal_anomalies.csv");
    let bad = |reason: String| LabError::Truth { file: file.clone(), reason };
    let b = std::fs::read(&file).map_err(|e| bad(e.to_string()))?;
    let t = reckon_ingest::csv::scan(&b, b',', b'"').map_err(|e| bad(e.to_string()))?;
    let ix = |n: &str| t.header.iter().position(|h| h == n).ok_or_else(|| bad(format!("no column {n}")));
    let (ei, ji, ti) = (ix("entity")?, ix("journal_id")?, ix("type")?);
    let truth: JournalTruth = (0..t.records.len())
        .map(|r| ((t.columns[ei][r].to_string(), t.columns[ji][r].to_string()), t.columns[ti][r].to_string()))
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
        results.iter().map(|j| truth.contains_key(&(j.entity.to_string(), j.journal_id.clone()))).collect();
    let k = labels.iter().filter(|b| **b).count();
    let mut order: Vec<usize> = (0..results.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let at_k = order.iter().take(k).filter(|&&i| labels[i]).count();
    let mut recall: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut fp = 0usize;
    for j in results {
        let flagged = j.risk >= review_risk || j.unbalanced;
        match truth.get(&(j.entity.to_string(), j.journal_id.clone())) {
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
pub fn eval_out(out: &Path, truth_dir: &Path, review_risk: f64) -> Result<JournalEval, LabError> {
    use reckon_pipeline::frame::{required_f64, required_strings};
    let p = out.join("journal_scores.parquet");
    let df = ParquetReader::new(std::fs::File::open(&p).map_err(LabError::io(&p))?).finish()?;
    let bad = LabError::output("journal_scores.parquet");
    let req = |c: &str| required_strings(&df, c).map_err(&bad);
    let (ent, jid, flags) = (req("entity")?, req("journal_id")?, req("flags")?);
    let score = required_f64(&df, "score").map_err(&bad)?;
    let mut by: BTreeMap<(String, String), JournalResult> = BTreeMap::new();
    for i in 0..df.height() {
        by.entry((ent[i].clone(), jid[i].clone())).or_insert_with(|| JournalResult {
            entity: ent[i].as_str().into(),
            journal_id: jid[i].clone(),
            risk: score[i],
            unbalanced: flags[i].split('|').any(|f| f == "unbalanced"),
            ..JournalResult::default()
        });
    }
    let results: Vec<JournalResult> = by.into_values().collect();
    evaluate(&results, truth_dir, review_risk)
}

pub(crate) fn labels(results: &[JournalResult], truth_dir: &Path) -> Result<Vec<bool>, LabError> {
    let file = truth_dir.join("journal_anomalies.csv");
    let bad = |reason: String| LabError::Truth { file: file.clone(), reason };
    let b = std::fs::read(&file).map_err(|e| bad(e.to_string()))?;
    let t = reckon_ingest::csv::scan(&b, b',', b'"').map_err(|e| bad(e.to_string()))?;
    let ix = |n: &str| t.header.iter().position(|h| h == n).ok_or_else(|| bad(format!("no column {n}")));
    let (ei, ji) = (ix("entity")?, ix("journal_id")?);
    let set: std::collections::HashSet<(String, String)> =
        (0..t.records.len()).map(|r| (t.columns[ei][r].to_string(), t.columns[ji][r].to_string())).collect();
    Ok(results.iter().map(|j| set.contains(&(j.entity.to_string(), j.journal_id.clone()))).collect())
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
        for &i in j.lines(book) {
            let i = i as usize;
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

/// The unsupervised baseline on one book, fit on that book alone: an isolation
/// forest (reckon-learn's: 100 trees, ψ = 256, the settings of scikit-learn's
/// `IsolationForest` defaults) over one-hot account, source and preparer and
/// the log amount — the baseline `reckon train journals` reports too. Returns its ROC-AUC against
/// the scenario's truth, the figure reckon's journal model must beat.
pub fn in_book_iforest_roc_auc(dir: &Path) -> Result<f64, LabError> {
    use reckon_learn::{iforest, metrics};
    let tests = reckon_journals::AnomalyConfig::default().build()?;
    let book = book_of(dir)?;
    let results = tests.run_book(&book);
    let y = labels(&results, &dir.join("truth"))?;
    let mut vocab = None;
    let (x, k) = one_hot(&book, &results, &mut vocab);
    let forest = iforest::IsolationForest::fit(&x, k, &iforest::Params { trees: 100, sample: 256, seed: 7 })?;
    let s: Vec<f64> = (0..results.len()).map(|i| forest.score(&x[i * k..(i + 1) * k])).collect();
    Ok(metrics::roc_auc(&s, &y))
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
    /// Wall time of training: printed, not written to `metrics.json`, so that
    /// retraining reproduces the folder byte for byte.
    #[serde(skip)]
    pub train_seconds: f64,
}

/// The settings of a journal model's training: the isolation forest's and the
/// risk model's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainParams {
    /// Trees of the isolation forest.
    pub trees: usize,
    /// Rows each tree is grown on (ψ).
    pub sample: usize,
    pub seed: u64,
    /// L2 strength of the risk model (strong: the forest's score shifts with the book).
    pub alpha: f64,
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams { trees: 100, sample: 256, seed: 7, alpha: 1.0 }
    }
}

impl TrainParams {
    /// Checks every setting before any data is read.
    pub fn check(self) -> Result<CheckedTrainParams, LabError> {
        if self.trees == 0 || self.sample < 2 {
            return Err(LabError::Params(format!(
                "isolation forest of {} trees on {} rows each: needs at least one tree and two rows",
                self.trees, self.sample
            )));
        }
        crate::error::check_alpha(self.alpha)?;
        Ok(CheckedTrainParams(self))
    }
}

/// Checked settings, ready to fit.
#[derive(Clone, Copy, Debug)]
pub struct CheckedTrainParams(TrainParams);

/// A fitted journal model (risk model and forest), not yet written.
#[derive(Debug)]
pub struct Fitted {
    pub report: AnomalyTrainReport,
    risk_cfg: reckon_onnx::ModelConfig,
    if_cfg: reckon_onnx::ModelConfig,
    lr_bytes: Vec<u8>,
    if_bytes: Vec<u8>,
    weights_json: String,
    train: Vec<PathBuf>,
    validation: Vec<PathBuf>,
}

/// Trains the journal risk model on `train`, chooses its review threshold (best F1)
/// and reports on `validation`; writes `out` (model.onnx + iforest/):
/// `params.check()?.fit(train, validation)?.write(out)`.
pub fn train(
    train: &[PathBuf],
    validation: &[PathBuf],
    out: &Path,
    params: TrainParams,
) -> Result<AnomalyTrainReport, LabError> {
    let fitted = params.check()?.fit(train, validation)?;
    fitted.write(out)?;
    Ok(fitted.report)
}

impl CheckedTrainParams {
    /// Fits the forest and the risk model on `train`, chooses the review
    /// threshold on `validation` (which must hold other data).
    pub fn fit(&self, train: &[PathBuf], validation: &[PathBuf]) -> Result<Fitted, LabError> {
        let TrainParams { trees, sample, seed, alpha } = self.0;
        if train.is_empty() || validation.is_empty() {
            return Err(LabError::Data("training needs at least one training and one validation scenario".into()));
        }
        use reckon_learn::{iforest, logistic::Logistic, metrics};
        let t0 = std::time::Instant::now();
        // Each book is read with its company's settings (approval limits, working
        // day: `truth/reckon.toml` when the scenario has one), as its runs read it.
        type Labelled = (std::sync::Arc<Book>, Vec<JournalResult>, Vec<bool>, reckon_journals::Tests);
        let load = |d: &Path| -> Result<Labelled, LabError> {
            let tests = crate::model::company_config(d)?.journals.build()?;
            let lines = book_of(d)?;
            let results = tests.run_book(&lines);
            let y = labels(&results, &d.join("truth"))?;
            Ok((lines, results, y, tests))
        };
        let books: Vec<Labelled> =
            train.iter().map(|d| load(d).map_err(LabError::in_dir(d))).collect::<Result<_, _>>()?;
        let k = reckon_journals::FEATURES.len();
        let tfs: Vec<Vec<f32>> = books.iter().map(|(tl, tr, _, t)| reckon_journals::features(t, tl, tr)).collect();
        let tf: Vec<f32> = tfs.concat();
        let forest = iforest::IsolationForest::fit(&tf, k, &iforest::Params { trees, sample, seed })?;
        let tr: Vec<JournalResult> = books.iter().flat_map(|b| b.1.iter().cloned()).collect();
        let ty: Vec<bool> = books.iter().flat_map(|b| b.2.iter().copied()).collect();
        // A test that never fired on the training journals teaches the model nothing
        // (its weight would be 0): its input (flag or graded) is left out, so that it
        // raises the model's risk afterwards as rules combine (`journals::raised`).
        let inputs: Vec<String> = combined_features()
            .into_iter()
            .filter(|n| input_test(n).is_none_or(|t| tr.iter().any(|j| j.flags.iter().any(|f| f.test == t))))
            .collect();
        // The forest's score is read within each book (as a run reads it).
        let mut tx: Vec<f64> = Vec::new();
        for ((_, btr, _, _), bf) in books.iter().zip(&tfs) {
            let t_if: Vec<f32> = (0..btr.len()).map(|i| forest.score(&bf[i * k..(i + 1) * k]) as f32).collect();
            tx.extend(combined(btr, &t_if, &inputs, RarityBase::TRAINED)?.into_iter().map(f64::from));
        }
        let w = inputs.len();
        // Strong shrinkage: the forest's score shifts with the book, and a steep weight
        // on it would turn any book's most unusual journal into a certain anomaly.
        // Every input is evidence for an anomaly (a test fired, the forest or the
        // amount stands out, the book seldom does this): none may carry a negative
        // weight, which would only mirror the training books' mix of anomalies.
        let lr = Logistic::fit_nonneg(&tx, w, &ty, alpha, &vec![true; w])?;
        let train_seconds = t0.elapsed().as_secs_f64();
        // Model folders.
        let if_bytes = forest.to_onnx(&[("feature_spec", reckon_journals::FEATURE_SPEC)]);
        let lr_bytes = lr.to_onnx(&[("feature_spec", RarityBase::TRAINED.spec())]);
        let data_hash = crate::model::training_data_sha256_of(train, crate::model::Engine::Journals);
        for v in validation {
            crate::model::refuse_same_data(&data_hash, v, crate::model::Engine::Journals, "validation")?;
        }
        // The version is the folder's, set when written.
        let version = String::new();
        let if_cfg = reckon_onnx::ModelConfig {
            name: "journals_iforest".into(),
            version: version.clone(),
            task: "journal_isolation".into(),
            feature_spec: reckon_journals::FEATURE_SPEC.into(),
            features: reckon_journals::FEATURES.iter().map(|s| s.to_string()).collect(),
            input: "features".into(),
            output: "score".into(),
            output_mapping: "column:0".into(),
            thresholds: BTreeMap::new(),
            model_sha256: reckon_core::id::sha256_hex(&if_bytes),
            training_data_sha256: data_hash.clone(),
        };
        let mut risk_cfg = reckon_onnx::ModelConfig {
            name: "journals".into(),
            version: version.clone(),
            task: "journal_risk".into(),
            feature_spec: RarityBase::TRAINED.spec().into(),
            features: inputs.clone(),
            input: "features".into(),
            output: "probability".into(),
            output_mapping: "probability".into(),
            thresholds: BTreeMap::new(),
            model_sha256: reckon_core::id::sha256_hex(&lr_bytes),
            training_data_sha256: data_hash,
        };
        let model = RiskModel {
            iforest: reckon_onnx::Model::from_bytes(Path::new("journals/iforest"), if_cfg.clone(), &if_bytes)?,
            risk: reckon_onnx::Model::from_bytes(Path::new("journals"), risk_cfg.clone(), &lr_bytes)?,
            base: RarityBase::TRAINED,
        };
        // Validation, through ONNX Runtime as `reckon run` serves it.
        let (mut rule_scores, mut v_if, mut comb, mut vy) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut vbooks = Vec::new();
        for v in validation {
            let (vl, mut vr, y1, vt) = load(v).map_err(LabError::in_dir(v))?;
            rule_scores.extend(vr.iter().map(|j| j.risk));
            v_if.extend(model.score(&vt, &vl, &mut vr)?.into_iter().map(f64::from));
            comb.extend(vr.iter().map(|j| j.risk));
            vy.extend(y1);
            vbooks.push((vl, vr));
        }
        let pair = |s: &[f64]| (metrics::roc_auc(s, &vy), metrics::average_precision(s, &vy));
        // The plain baseline: one vocabulary over every training book.
        let mut all: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        for (b, _, _, _) in &books {
            for (p, d) in [("a", &b.account), ("s", &b.source), ("p", &b.preparer_id)] {
                all.extend(d.names().iter().map(|n| format!("{p}:{n}")));
            }
        }
        let mut vocab = Some(all.into_iter().collect());
        let mut ox = Vec::new();
        let mut ok = 0;
        for (tl, btr, _, _) in &books {
            let (x1, k1) = one_hot(tl, btr, &mut vocab);
            ox.extend(x1);
            ok = k1;
        }
        let plain = iforest::IsolationForest::fit(&ox, ok, &iforest::Params { trees, sample, seed })?;
        let mut plain_s: Vec<f64> = Vec::new();
        for (vl, vr) in &vbooks {
            let (vx, vk) = one_hot(vl, vr, &mut vocab);
            plain_s.extend((0..vr.len()).map(|i| plain.score(&vx[i * vk..(i + 1) * vk])));
        }
        // Review threshold: the best F1 on validation over the whole score range.
        let positives = vy.iter().filter(|y| **y).count();
        let cut = reckon_learn::threshold::ThresholdRule::BestF1
            .check()
            .and_then(|r| r.choose(&comb, &vy, positives))
            .map_err(LabError::threshold("review threshold"))?;
        let best = (cut.threshold, cut.f1, cut.precision, cut.recall);
        risk_cfg.thresholds.insert("review".into(), best.0);
        let report = AnomalyTrainReport {
            train_journals: tr.len(),
            train_anomalous: ty.iter().filter(|b| **b).count(),
            validation_journals: vy.len(),
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
        let weights_json = serde_json::to_string_pretty(&serde_json::json!({
            "weights": inputs.iter().zip(&lr.weights).map(|(f, w)| (f.clone(), *w)).collect::<BTreeMap<_, _>>(),
            "intercept": lr.intercept,
        }))? + "\n";
        Ok(Fitted {
            report,
            risk_cfg,
            if_cfg,
            lr_bytes,
            if_bytes,
            weights_json,
            train: train.to_vec(),
            validation: validation.to_vec(),
        })
    }
}

impl Fitted {
    /// Writes the model folder (`model.onnx`, `config.json`, `weights.json`,
    /// `metrics.json`, `MODEL_CARD.md`, `iforest/`); the version is the
    /// folder's (`journals_v3_0` → 3.0).
    pub fn write(&self, out: &Path) -> Result<(), LabError> {
        let (report, train, validation) = (&self.report, self.train.as_slice(), self.validation.as_slice());
        let version = crate::model::version_of(out);
        let mut risk_cfg = self.risk_cfg.clone();
        let mut if_cfg = self.if_cfg.clone();
        risk_cfg.version = version.clone();
        if_cfg.version = version;
        std::fs::create_dir_all(out.join("iforest")).map_err(LabError::io(out))?;
        let w = |p: PathBuf, bytes: &[u8]| std::fs::write(&p, bytes).map_err(LabError::io(&p));
        w(out.join("model.onnx"), &self.lr_bytes)?;
        w(out.join("weights.json"), self.weights_json.as_bytes())?;
        w(out.join("iforest/model.onnx"), &self.if_bytes)?;
        w(out.join("config.json"), (serde_json::to_string_pretty(&risk_cfg)? + "\n").as_bytes())?;
        w(out.join("iforest/config.json"), (serde_json::to_string_pretty(&if_cfg)? + "\n").as_bytes())?;
        w(out.join("metrics.json"), (serde_json::to_string_pretty(report)? + "\n").as_bytes())?;
        let card = crate::card::ModelCard {
            intended_use: "Ranks GL journals by the probability that they are anomalous (fraud or error\n\
patterns of ISA 240 journal-entry testing), for review by controllers and\n\
auditors. Journals at or above the `review` threshold become `journal_anomaly`\n\
exceptions (0.9 and above escalate); unbalanced journals are always\n\
`control_violation`."
                .into(),
            method: format!(
                "Two parts, both ONNX: `iforest/` — an isolation forest (100 trees, ψ = 256)\n\
trained by reckon in Rust on `{spec}` features and exported as one `ai.onnx.ml`\n\
TreeEnsembleRegressor; `model.onnx` — a logistic regression over the rule\n\
flags, the journal's rarity in its own book in place of the flags of the tests\n\
that measure it (preparer–account, account pair, the preparer's hour and\n\
source, weekend or holiday: surprise above the book's routine, the surprise of\n\
its journal at the 90th percentile, so that what one journal in ten of the book\n\
does reads as usual; the amount beyond\n\
its account's 99th percentile; a repeat of another journal: how seldom chance\n\
gives a journal of its kind such a match), the rule risk, the forest's score (z within the\n\
book) and the largest amount's z: the calibrated combination. Every weight is\n\
held at zero or above (projected Newton on linfa's objective), so no input\n\
reads as evidence of a normal journal. Weights: `weights.json`.",
                spec = reckon_journals::FEATURE_SPEC
            ),
            training: format!(
                "Generated scenario{} `{}`: {} journals, {} anomalous (labels from\n\
`truth/journal_anomalies.csv`).",
                if train.len() > 1 { "s" } else { "" },
                crate::card::shown(train),
                report.train_journals,
                report.train_anomalous
            ),
            validation: format!(
                "{}, `{}`: {} journals, {} anomalous.\n\n\
| scorer | ROC-AUC | average precision |\n|---|---|---|\n\
| rules only | {:.4} | {:.4} |\n\
| isolation forest ({spec}) only | {:.4} | {:.4} |\n\
| combined (this model) | {:.4} | {:.4} |\n\
| plain isolation forest on raw one-hot features | {:.4} | {:.4} |\n\n\
The `review` threshold is the best F1 on validation over the whole score range,\n\
halfway between the lowest journal kept and the highest left out: precision\n\
{:.3}, recall {:.3}.{sep}",
                if validation.len() > 1 { "Different scenarios" } else { "A different scenario" },
                crate::card::shown(validation),
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
                spec = reckon_journals::FEATURE_SPEC,
                sep = crate::model::separability(report.combined.0),
            ),
            limits: "Generated data only; anomaly types the generator does not make are only caught\n\
by the rules and the forest's notion of unusual. Retrain on the entity's own\n\
labelled history."
                .into(),
            reproduce: crate::card::reproduce(
                &train.iter().chain(validation).map(PathBuf::as_path).collect::<Vec<_>>(),
                format!(
                    "reckon train journals --input {} --validation {} --out {}",
                    crate::card::shown(train),
                    crate::card::shown(validation),
                    out.file_name().map_or(out.display().to_string(), |n| format!("models/{}", n.to_string_lossy()))
                ),
            ),
            parts: vec![("iforest/".to_string(), if_cfg.clone())],
        }
        .render(&risk_cfg);
        w(out.join("MODEL_CARD.md"), card.as_bytes())
    }
}

/// A scenario's GL book, converted as a run converts it.
/// What [`reference_from_books`] cut.
#[derive(Clone, Debug, Serialize)]
pub struct BookReference {
    /// The risk model the reference is for (`name@version`).
    pub model: String,
    /// Journals of the book the reference was cut from.
    pub journals: usize,
    /// Inputs that moved beyond the limits between the reference book and a
    /// check book of the same company: measured in runs, not judged.
    pub unjudged: Vec<String>,
    /// Each check book: its journals and the drift from the reference.
    pub checks: Vec<(PathBuf, reckon_monitor::Drift)>,
    /// The model folder holding it.
    pub out: PathBuf,
}

/// The risk-model inputs measured against the journal's own book (reckon-journals'
/// rarity inputs): counted in a book reference, not judged.
pub const RELATIVE_PREFIX: &str = "rare_";

/// Journals a reference must be cut from: fewer say little about a book.
pub const REFERENCE_MIN_JOURNALS: usize = 500;

/// Cuts the journal risk model's drift reference (`reference.json`) from a
/// team's own books (`books[0]`, an input folder with its GL), scored under
/// `config`'s journal tests as a run scores them, and writes it into `out`:
/// the model folder itself, or a copy of it made there.
///
/// The model's inputs are how rare a journal's behaviour is *in its own book*
/// (the preparer's accounts and hours, the account pair, …), so their spread
/// depends on the book's size and habits: a reference from pooled training
/// books says more about those books than about a team's drift. Cut from a
/// book like the ones the runs will score (the same scope and span), it says
/// when a day's journals stop looking like the team's own. Some inputs slide
/// from one book to the next of the same company even so (the rarity of an
/// account pair among a few thousand journals rests on counts of one, two,
/// three): each further book in `books` (another period of the same company,
/// before anything changed) is held against the reference, and the inputs
/// that move more than half `config.monitor`'s limits there are recorded as
/// unjudged.
pub fn reference_from_books(
    model: &Path,
    books: &[PathBuf],
    config: &reckon_pipeline::Config,
    out: &Path,
) -> Result<BookReference, LabError> {
    let m = RiskModel::load(model)?;
    let tests = config.journals.build()?;
    let names: Vec<&str> = m.risk.config.features.iter().map(String::as_str).collect();
    let Some((first, checks)) = books.split_first() else {
        return Err(LabError::Params("no books to cut a reference from".into()));
    };
    let scored = |dir: &Path| -> Result<(usize, reckon_pipeline::journals::RiskScores), LabError> {
        let book = book_of(dir)?;
        let mut results = tests.run_book(&book);
        if results.len() < REFERENCE_MIN_JOURNALS {
            return Err(LabError::In {
                path: dir.to_path_buf(),
                source: Box::new(LabError::Data(format!(
                    "{} journals: a reference needs at least {REFERENCE_MIN_JOURNALS}",
                    results.len()
                ))),
            });
        }
        Ok((results.len(), m.score_with_inputs(&tests, &book, &mut results)?))
    };
    let (journals, s) = scored(first)?;
    let mut reference = reckon_monitor::Reference::fit(&names, &s.inputs, &s.risk)?;
    // How rare a journal's behaviour is in its book is relative to the book's
    // own counts: its values slide from one book to the next of the same
    // company (PSI 0.25–2.2 for the account-pair and preparer inputs between
    // periods of one generated company, 2026-12-01).
    reference.unjudged = names.iter().filter(|n| n.starts_with(RELATIVE_PREFIX)).map(|n| n.to_string()).collect();
    let mut report = Vec::new();
    for dir in checks {
        let (_, s) = scored(dir)?;
        let mut h = reckon_monitor::Histogram::new(&reference);
        h.add(&reference, &s.inputs, &s.risk);
        let d = h.drift(&reference, &config.monitor);
        // Half the limits: an input that uses half its margin while nothing
        // changed would raise the alert on noise the next time.
        let (psi, outside) = (config.monitor.psi / 2.0, config.monitor.outside_range / 2.0);
        for c in d.features.iter().filter(|c| c.psi > psi || c.outside_range > outside) {
            if !reference.unjudged.contains(&c.name) {
                reference.unjudged.push(c.name.clone());
            }
        }
        report.push((dir.clone(), d));
    }
    // In the model's input order.
    reference.unjudged =
        names.iter().filter(|n| reference.unjudged.iter().any(|u| u == *n)).map(|n| n.to_string()).collect();
    let same = |a: &Path, b: &Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y);
    if !same(model, out) {
        copy_folder(model, out)?;
    }
    let path = out.join(reckon_monitor::REFERENCE_FILE);
    std::fs::write(&path, reference.to_json()).map_err(|source| LabError::Io { path, source })?;
    Ok(BookReference {
        model: m.risk.id(),
        journals,
        unjudged: reference.unjudged,
        checks: report,
        out: out.to_path_buf(),
    })
}

/// Copies the files of folder `from` (and its folders, recursively) into `to`.
fn copy_folder(from: &Path, to: &Path) -> Result<(), LabError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LabError::Io { path, source }
    };
    std::fs::create_dir_all(to).map_err(io(to))?;
    let mut entries: Vec<_> = std::fs::read_dir(from).map_err(io(from))?.collect::<Result<_, _>>().map_err(io(from))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_folder(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).map_err(io(&src))?;
        }
    }
    Ok(())
}

pub(crate) fn book_of(dir: &Path) -> Result<std::sync::Arc<Book>, LabError> {
    let (_, tables) = crate::model::tables(dir)?;
    tables.book.get().ok_or_else(|| LabError::In {
        path: dir.to_path_buf(),
        source: Box::new(LabError::Data("no GL journal lines".into())),
    })
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
