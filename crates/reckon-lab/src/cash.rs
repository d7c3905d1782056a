//! Training the cash-matching model (`reckon train cash`).
//!
//! Training uses generated scenarios only through their truth folders: every
//! candidate group the engine builds on the training scenario is a row (label:
//! its items are exactly the receipt's true items); a logistic regression is fit
//! with linfa and written as ONNX; the auto threshold is then chosen on a
//! *different* (validation) scenario as the lowest cut whose auto precision is at
//! least the target, and calibration is measured there. Reported quality comes
//! from `reckon eval` on a third scenario.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use reckon_cash::{FEATURE_SPEC, FEATURES, GroupScorer, MatchConfig};
use reckon_learn::logistic::Logistic;
use reckon_learn::metrics;
use reckon_learn::threshold::ThresholdRule;
use reckon_onnx::{Model, ModelConfig};
use serde::Serialize;

use crate::LabError;
use crate::model::{Engine, refuse_same_data, separability, training_data_sha256_of, version_of, write_folder};
use reckon_pipeline::model::OnnxScorer;

/// Candidate rows of a generated scenario with labels.
pub(crate) fn labelled(dir: &Path, cfg: &MatchConfig) -> Result<(Vec<f64>, Vec<bool>, usize), LabError> {
    let (_, tables) = crate::model::tables(dir)?;
    let rows =
        reckon_pipeline::cash::rows(&tables).ok_or_else(|| LabError::Data("no receipts or open items".into()))?;
    let i = reckon_pipeline::cash::inputs(&rows, &tables);
    let truth = crate::eval::cash_truth(&dir.join("truth"))?;
    let rows = reckon_cash::training_rows(&i.receipts, &i.items, &i.customers, &i.remittances, cfg);
    let mut x = Vec::with_capacity(rows.len() * FEATURES.len());
    let mut y = Vec::with_capacity(rows.len());
    for r in &rows {
        x.extend(r.features.iter().map(|v| f64::from(*v)));
        let set: BTreeSet<String> = r.item_ids.iter().cloned().collect();
        y.push(truth.items.get(&r.txn_id).is_some_and(|t| *t == set));
    }
    Ok((x, y, i.receipts.len()))
}

/// What training measured, written to `metrics.json` and the model card.
#[derive(Debug, Serialize)]
pub struct TrainReport {
    pub train_rows: usize,
    pub train_positive: usize,
    pub validation_rows: usize,
    pub validation_roc_auc: f64,
    pub validation_average_precision: f64,
    pub validation_brier: f64,
    pub validation_ece: f64,
    /// (count, mean predicted, observed) per probability decile, validation rows.
    pub validation_reliability: Vec<(usize, f64, f64)>,
    pub auto_threshold: f64,
    /// Assigned groups at or above the threshold on validation.
    pub validation_auto_groups: usize,
    pub validation_auto_precision: f64,
    /// Wilson lower bound of that precision at `z`.
    pub validation_auto_precision_lower: f64,
    pub validation_touchless: f64,
    pub validation_recall_proposed: f64,
    pub target_precision: f64,
    pub z: f64,
    /// The least probability a group must have by itself to be cleared automatically.
    pub floor: f64,
    /// What set the threshold: the precision target or the floor.
    pub bound_by: reckon_learn::threshold::Bound,
    /// The validation rows were perfectly separable (ROC-AUC 1.0): the
    /// threshold then says little about unseen data.
    pub separable: bool,
}

/// A fitted cash scorer as ONNX and its config (name `cash`, task
/// `cash_match_group`, the `cash_group_v2` features), for every cash trainer.
pub(crate) fn onnx_and_config(lr: &Logistic, training_data_sha256: String) -> (Vec<u8>, ModelConfig) {
    let bytes = lr.to_onnx(&[("feature_spec", FEATURE_SPEC), ("task", "cash_match_group")]);
    let mc = ModelConfig::probability(
        "cash",
        "cash_match_group",
        FEATURE_SPEC,
        FEATURES.iter().map(|s| s.to_string()).collect(),
        &bytes,
        training_data_sha256,
    );
    (bytes, mc)
}

/// The settings of a cash-model training: the auto threshold's rule (precision
/// target, its Wilson z, the floor) and the L2 strength.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainParams {
    pub target_precision: f64,
    pub z: f64,
    /// The least probability a group must have by itself to be cleared automatically.
    pub floor: f64,
    /// L2 strength of the logistic regression (linfa's `alpha`).
    pub alpha: f64,
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams { target_precision: 0.998, z: reckon_learn::threshold::Z_95, floor: 0.998, alpha: 0.05 }
    }
}

impl TrainParams {
    /// Checks every setting before any data is read.
    pub fn check(self) -> Result<CheckedTrainParams, LabError> {
        crate::error::check_alpha(self.alpha)?;
        let rule = ThresholdRule::MinPrecision { target: self.target_precision, z: self.z, floor: self.floor }
            .check()
            .map_err(LabError::threshold("auto threshold"))?;
        Ok(CheckedTrainParams { params: self, rule })
    }
}

/// Checked settings, ready to fit.
#[derive(Clone, Debug)]
pub struct CheckedTrainParams {
    params: TrainParams,
    rule: reckon_learn::threshold::CheckedRule,
}

/// A fitted cash model, not yet written: [`Fitted::write`] makes its folder.
#[derive(Debug)]
pub struct Fitted {
    pub report: TrainReport,
    config: ModelConfig,
    onnx: Vec<u8>,
    weights: BTreeMap<String, f64>,
    reference: reckon_monitor::Reference,
    train: Vec<PathBuf>,
    validation: Vec<PathBuf>,
}

impl Fitted {
    /// Writes the model folder (`model.onnx`, `config.json`, `metrics.json`,
    /// `weights.json`, `reference.json`, `MODEL_CARD.md`); the version is the
    /// folder's (`cash_v2_1` → 2.1).
    pub fn write(&self, out: &Path) -> Result<(), LabError> {
        let mut mc = self.config.clone();
        mc.version = version_of(out);
        write_folder(
            out,
            &self.onnx,
            &mc,
            &[
                ("metrics.json", serde_json::to_string_pretty(&self.report)? + "\n"),
                ("weights.json", serde_json::to_string_pretty(&self.weights)? + "\n"),
                (reckon_monitor::REFERENCE_FILE, self.reference.to_json()),
                ("MODEL_CARD.md", card(&mc, &self.report, &self.train, &self.validation)),
            ],
        )
    }
}

/// Trains the cash-matching scorer on the `train` scenarios, chooses its
/// threshold on the `validation` scenarios (all generated, with `truth/`),
/// writes the model folder: `params.check()?.fit(train, validation)?.write(out)`.
pub fn train(
    train: &[PathBuf],
    validation: &[PathBuf],
    out: &Path,
    params: TrainParams,
) -> Result<TrainReport, LabError> {
    let fitted = params.check()?.fit(train, validation)?;
    fitted.write(out)?;
    Ok(fitted.report)
}

impl CheckedTrainParams {
    /// Fits the scorer on the `train` scenarios and chooses its threshold on the
    /// `validation` scenarios (which must hold other data).
    pub fn fit(&self, train: &[PathBuf], validation: &[PathBuf]) -> Result<Fitted, LabError> {
        let TrainParams { target_precision, z, floor, alpha } = self.params;
        if train.is_empty() || validation.is_empty() {
            return Err(LabError::Data("training needs at least one training and one validation scenario".into()));
        }
        let cfg = MatchConfig { model: "rules".into(), ..MatchConfig::default() };
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for t in train {
            let (tx, ty, _) = labelled(t, &cfg).map_err(LabError::in_dir(t))?;
            x.extend(tx);
            y.extend(ty);
        }
        let k = FEATURES.len();
        let lr = Logistic::fit(&x, k, &y, alpha)?;
        let data_hash = training_data_sha256_of(train, Engine::Cash);
        for v in validation {
            refuse_same_data(&data_hash, v, Engine::Cash, "validation")?;
        }
        let (bytes, mut mc) = onnx_and_config(&lr, data_hash);
        let model = Model::from_bytes(Path::new("cash"), mc.clone(), &bytes)?;
        let scorer = OnnxScorer(model);
        // The training reference a run's rows are held against (`reference.json`).
        let xf: Vec<f32> = x.iter().map(|v| *v as f32).collect();
        let train_scores = scorer.score(y.len(), &xf).map_err(LabError::Scorer)?;
        let reference = reckon_monitor::Reference::fit(FEATURES, &xf, &train_scores)?;
        // Validation: calibration over candidate rows, threshold over assigned groups,
        // pooled over the validation scenarios.
        let (mut vp, mut vy) = (Vec::new(), Vec::new());
        let (mut scores, mut right, mut matchable_n) = (Vec::new(), Vec::new(), 0usize);
        for v in validation {
            let (vx, y1, _) = labelled(v, &cfg).map_err(LabError::in_dir(v))?;
            let vf: Vec<f32> = vx.iter().map(|v| *v as f32).collect();
            vp.extend(scorer.score(y1.len(), &vf).map_err(LabError::Scorer)?.into_iter().map(f64::from));
            vy.extend(y1);
            let (_, tables) = crate::model::tables(v)?;
            let rows = reckon_pipeline::cash::rows(&tables).ok_or_else(|| LabError::In {
                path: v.clone(),
                source: Box::new(LabError::Data("no receipts or open items".into())),
            })?;
            let i = reckon_pipeline::cash::inputs(&rows, &tables);
            let res = reckon_cash::run_with(&i.receipts, &i.items, &i.customers, &i.remittances, &cfg, Some(&scorer))
                .map_err(|e| LabError::Data(e.to_string()))?;
            let truth = crate::eval::cash_truth(&v.join("truth"))?;
            let mut pred: crate::eval::Predicted = BTreeMap::new();
            for m in &res.rows {
                pred.entry(m.txn_id.clone())
                    .or_insert((BTreeSet::new(), false, m.confidence))
                    .0
                    .insert(m.item_id.clone());
            }
            for (txn, p) in &pred {
                scores.push(p.2);
                right.push(truth.items.get(txn).is_some_and(|s| *s == p.0));
            }
            matchable_n += truth.items.len();
        }
        // The lowest cut whose auto precision on validation reaches the target (its
        // Wilson lower bound at `z`), over the whole score range; a target no cut
        // reaches is an error that names the best there is.
        let cut = self.rule.choose(&scores, &right, matchable_n).map_err(LabError::threshold("auto threshold"))?;
        let matchable = matchable_n.max(1) as f64;
        let any = right.iter().filter(|r| **r).count() as f64 / matchable;
        mc.thresholds.insert("auto".into(), cut.threshold);
        let validation_roc_auc = metrics::roc_auc(&vp, &vy);
        let report = TrainReport {
            train_rows: y.len(),
            train_positive: y.iter().filter(|b| **b).count(),
            validation_rows: vy.len(),
            validation_roc_auc,
            validation_average_precision: metrics::average_precision(&vp, &vy),
            validation_brier: metrics::brier(&vp, &vy),
            validation_ece: metrics::ece(&vp, &vy, 10),
            validation_reliability: metrics::reliability(&vp, &vy, 10),
            auto_threshold: cut.threshold,
            validation_auto_groups: cut.selected,
            validation_auto_precision: cut.precision,
            validation_auto_precision_lower: cut.precision_lower,
            validation_touchless: cut.recall,
            validation_recall_proposed: any,
            target_precision,
            z,
            floor,
            bound_by: cut.bound_by,
            separable: validation_roc_auc >= 1.0,
        };
        let weights = FEATURES.iter().zip(&lr.weights).map(|(f, w)| (f.to_string(), *w)).collect::<BTreeMap<_, _>>();
        Ok(Fitted {
            report,
            config: mc,
            onnx: bytes,
            weights,
            reference,
            train: train.to_vec(),
            validation: validation.to_vec(),
        })
    }
}

fn card(mc: &ModelConfig, r: &TrainReport, train: &[PathBuf], validation: &[PathBuf]) -> String {
    let rel: String = r
        .validation_reliability
        .iter()
        .enumerate()
        .filter(|(_, (n, _, _))| *n > 0)
        .map(|(i, (n, m, o))| {
            format!("| {:.1}–{:.1} | {n} | {m:.3} | {o:.3} |\n", i as f64 / 10.0, (i + 1) as f64 / 10.0)
        })
        .collect();
    let (bound, bound_text) = match r.bound_by {
        reckon_learn::threshold::Bound::Floor => (
            "floor",
            "every lower cut still reaches the target on the validation scenario, so its\n\
             rows cannot choose the cut; the floor does.",
        ),
        _ => ("precision target", "a lower cut would miss the target on the validation scenario."),
    };
    let ver = mc.version.replace('.', "_");
    crate::card::ModelCard {
        intended_use: "Scores each candidate group the cash-matching engine builds for a bank receipt\n\
(one payment ↔ one or more open items, or a partial/over payment) with the\n\
probability that the group is exactly right. reckon clears a receipt without a\n\
person when its assigned group's probability is at least the `auto` threshold;\n\
other groups go to review. Not for other tasks, currencies or matching engines\n\
than the one whose feature spec it names."
            .into(),
        method: "Logistic regression (L2, alpha 0.05, linfa 0.8 on standardised features, folded\n\
back to raw features), exported as ONNX (MatMul, Add, Sigmoid; IR 8, opset 17)\n\
by reckon's own writer. Weights: `weights.json`."
            .into(),
        training: format!(
            "Generated scenario{} `{}` ({} candidate groups, {} right ones). Labels come from\n\
the scenario's truth (`truth/cash_matches.csv`): a group is right when its items\n\
are exactly the receipt's true items.",
            if train.len() > 1 { "s" } else { "" },
            crate::card::shown(train),
            r.train_rows,
            r.train_positive
        ),
        validation: format!(
            "{different}, `{val}`. Candidate groups: {vrows}; ROC-AUC {auc:.4}, average\n\
precision {ap:.4}, Brier {brier:.4}, expected calibration error {ece:.4} (10 bins).\n\n\
| predicted | groups | mean predicted | observed right |\n|---|---|---|---|\n{rel}\n\
The `auto` threshold is the lowest cut, over the whole score range, whose auto\n\
precision on validation has a Wilson lower bound (z = {z}) of at least {target},\n\
and never below {floor}, the probability each group must reach by itself. Set by\n\
the {bound}: {bound_text} At the threshold: {groups} groups, precision {prec:.4}\n\
(lower bound {lower:.4}), touchless {touch:.4}; recall of proposals {any:.4}.{sep}\n\
`docs/quality.md` reports `reckon eval` on scenarios no model was trained or tuned on.",
            different = if validation.len() > 1 { "Different scenarios" } else { "A different scenario" },
            val = crate::card::shown(validation),
            vrows = r.validation_rows,
            auc = r.validation_roc_auc,
            ap = r.validation_average_precision,
            brier = r.validation_brier,
            ece = r.validation_ece,
            z = r.z,
            target = r.target_precision,
            floor = r.floor,
            groups = r.validation_auto_groups,
            prec = r.validation_auto_precision,
            lower = r.validation_auto_precision_lower,
            touch = r.validation_touchless,
            any = r.validation_recall_proposed,
            sep = separability(r.validation_roc_auc),
        ),
        limits: "Trained on generated data: real payers write references, names and amounts in\n\
ways the generator does not; retrain on labelled history (`reckon train cash`)\n\
before trusting the threshold on real books. The probability is calibrated for\n\
the engine's candidate groups, not for arbitrary pairs."
            .into(),
        reproduce: crate::card::reproduce(
            &train.iter().chain(validation).map(PathBuf::as_path).collect::<Vec<_>>(),
            format!(
                "reckon train cash --input {} --validation {} --target-precision {} --z {} --floor {} --out models/{}_v{ver}",
                crate::card::shown(train),
                crate::card::shown(validation),
                r.target_precision,
                r.z,
                r.floor,
                mc.name
            ),
        ),
        parts: Vec::new(),
    }
    .render(mc)
}
