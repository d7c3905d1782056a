//! The duplicate and journal models retrained on a team's own decisions
//! (`reckon train duplicates|journals --state S`).
//!
//! A run with a state store keeps, for every duplicate pair and journal it
//! raised as an exception, the served model's features and score
//! (`flag_scores`, schema 8). The decisions people take on those exceptions
//! label them ([`reckon_state::models::label_flags`]): `confirm` → right,
//! `dismiss` or `explain` → wrong. The split is by time: the newest
//! `holdout_runs` runs are held out; the candidate is fitted on the rows of the
//! runs before them, optionally mixed with a generated prior (every candidate
//! pair, or every journal, of generated scenarios labelled by their truth —
//! the rows the flags alone never show: what the champion did not raise).
//! Its review threshold is the cut with the best F1 on the held-out
//! decisions (on the prior's rows when those hold one label only), and the
//! held-out figures are set beside the champion's own scores on the same rows.
//! [`challenge`], [`promote`] and [`job`] are the registry's steps for these
//! engines: a challenger is scored on the features the runs kept of the flags
//! decided since it was registered.
//!
//! The duplicate model is refitted whole (a logistic regression over
//! `ap_pair_v2`). The journal model keeps the isolation forest of the model
//! it starts from (`base`, whose inputs the rows carry) and refits the risk
//! model over the same inputs, every weight at zero or above as
//! `reckon train journals` fits it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use reckon_learn::logistic::Logistic;
use reckon_learn::metrics;
use reckon_learn::threshold::ThresholdRule;
use reckon_onnx::{Model, ModelConfig};
use reckon_state::models::{ENGINE_ANOMALY, ENGINE_DEDUP, LabelledFlag};
use serde::Serialize;

use crate::LabError;
use crate::model::{version_of, write_folder};
use crate::retrain::RetrainError;
use reckon_pipeline::journals::RarityBase;

/// Which model is retrained.
#[derive(Clone, Debug)]
pub enum FlagModel {
    /// The AP duplicate-pair scorer.
    Duplicates,
    /// The journal risk model, starting from the model folder `base` (its
    /// isolation forest is kept; its inputs are the rows' inputs).
    Journals { base: PathBuf },
}

impl FlagModel {
    /// The engine's name in the store.
    pub fn engine(&self) -> &'static str {
        match self {
            FlagModel::Duplicates => ENGINE_DEDUP,
            FlagModel::Journals { .. } => ENGINE_ANOMALY,
        }
    }

    fn what(&self) -> &'static str {
        match self {
            FlagModel::Duplicates => "duplicate pairs",
            FlagModel::Journals { .. } => "journals",
        }
    }
}

/// How the decisions become a model.
#[derive(Clone, Debug, Serialize)]
pub struct FlagRetrainParams {
    /// Runs at the end of the chain held out for the threshold and the figures.
    pub holdout_runs: usize,
    /// Flags decided by people the training window must hold.
    pub min_labels: usize,
    /// Generated scenarios mixed in as a prior, and their rows' weight.
    #[serde(skip)]
    pub prior: Vec<PathBuf>,
    pub prior_weight: f64,
}

impl Default for FlagRetrainParams {
    fn default() -> Self {
        FlagRetrainParams { holdout_runs: 2, min_labels: 100, prior: Vec::new(), prior_weight: 1.0 }
    }
}

/// Counts of one window's labelled flags.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FlagWindow {
    pub runs: usize,
    pub first_as_of: String,
    pub last_as_of: String,
    /// Flags people confirmed.
    pub confirmed: usize,
    /// Flags people dismissed or explained.
    pub not_a_problem: usize,
}

/// Figures of one scorer on the held-out flags, at its review threshold.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FlagHeldOut {
    pub threshold: f64,
    /// Held-out flags at or above the threshold, and of them confirmed.
    pub kept: usize,
    pub kept_confirmed: usize,
    /// Confirmed flags kept, of the confirmed flags held out.
    pub recall: f64,
    /// Confirmed flags kept, of the flags kept.
    pub precision: f64,
    pub f1: f64,
    /// Ranking of the held-out flags (`None` when they hold one label only).
    pub roc_auc: Option<f64>,
    pub average_precision: Option<f64>,
}

/// What retraining measured (`metrics.json`).
#[derive(Clone, Debug, Serialize)]
pub struct FlagRetrainReport {
    pub engine: String,
    pub params: FlagRetrainParams,
    pub train: FlagWindow,
    pub prior_rows: usize,
    pub holdout: FlagWindow,
    /// sha256 of the labelled rows trained on (run, subject, label) and the prior.
    pub data_sha256: String,
    pub candidate: FlagHeldOut,
    /// Where the candidate's review threshold was chosen.
    pub threshold_from: String,
    /// The champion's own scores on the same held-out flags, at its threshold.
    pub champion: FlagHeldOut,
    pub champion_models: Vec<String>,
    /// The model folder the journal model started from.
    pub base: Option<String>,
}

struct Row<'a> {
    seq: usize,
    flag: &'a LabelledFlag,
}

/// The figures of `scores` on `rows` at `threshold`.
fn held_out(scores: &[f64], labels: &[bool], threshold: f64) -> FlagHeldOut {
    let confirmed = labels.iter().filter(|b| **b).count();
    let kept: Vec<bool> = scores.iter().zip(labels).filter(|(s, _)| **s >= threshold).map(|(_, l)| *l).collect();
    let kept_confirmed = kept.iter().filter(|b| **b).count();
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let (precision, recall) = (ratio(kept_confirmed, kept.len()), ratio(kept_confirmed, confirmed));
    let both = confirmed > 0 && confirmed < labels.len();
    FlagHeldOut {
        threshold,
        kept: kept.len(),
        kept_confirmed,
        recall,
        precision,
        f1: if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 },
        roc_auc: both.then(|| metrics::roc_auc(scores, labels)),
        average_precision: both.then(|| metrics::average_precision(scores, labels)),
    }
}

/// The prior's rows of one generated scenario: (features, labels) — the
/// journal model's inputs through `base` when there is one, else the pair
/// features.
fn prior_rows(base: Option<&reckon_pipeline::journals::RiskModel>, dir: &Path) -> PriorRows {
    match base {
        Some(base) => {
            let tests = crate::model::company_config(dir)?.journals.build()?;
            let book = crate::journals::book_of(dir)?;
            let mut results = tests.run_book(&book);
            let y = crate::journals::labels(&results, &dir.join("truth"))?;
            let x = base.score_with_inputs(&tests, &book, &mut results)?.inputs;
            Ok((x.into_iter().map(f64::from).collect(), y))
        }
        None => {
            let (x, y, _) = crate::duplicates::labelled(dir)?;
            Ok((x, y))
        }
    }
}

type PriorRows = Result<(Vec<f64>, Vec<bool>), LabError>;

/// Trains a candidate duplicate or journal model on the decisions in `state`
/// and writes its folder to `out`.
pub fn train_from_decisions(
    state: &Path,
    out: &Path,
    model: &FlagModel,
    p: &FlagRetrainParams,
) -> Result<FlagRetrainReport, RetrainError> {
    if p.holdout_runs == 0 || p.prior_weight < 0.0 || p.min_labels == 0 {
        return Err(RetrainError::Params(format!(
            "--holdout-runs {} and --min-labels {} must be at least 1, the prior weight {} at least 0",
            p.holdout_runs, p.min_labels, p.prior_weight
        )));
    }
    // What the rows must carry: the features of the model to fit.
    let base = match model {
        FlagModel::Journals { base } => {
            Some(reckon_pipeline::journals::RiskModel::load(base).map_err(|e| RetrainError::Lab(LabError::Model(e)))?)
        }
        FlagModel::Duplicates => None,
    };
    let (spec, names): (String, Vec<String>) = match &base {
        Some(b) => (b.inputs_spec(), b.risk.config.features.clone()),
        None => (
            reckon_duplicates::FEATURE_SPEC.to_string(),
            reckon_duplicates::FEATURES.iter().map(|s| s.to_string()).collect(),
        ),
    };
    let k = names.len();
    let mut store = reckon_state::Store::open(state)?;
    let runs = store.runs()?;
    let labelled = store.labelled_flags(model.engine())?;
    drop(store);
    let seq_of: BTreeMap<&str, usize> = runs.iter().enumerate().map(|(i, r)| (r.run_id.as_str(), i)).collect();
    let rows: Vec<Row<'_>> = labelled
        .iter()
        .filter(|l| l.score.feature_spec == spec && l.score.features.len() == k)
        .filter_map(|l| Some(Row { seq: *seq_of.get(l.score.run_id.as_str())?, flag: l }))
        .collect();
    let cut = runs.len().saturating_sub(p.holdout_runs);
    let window = |lo: usize, hi: usize, rows: &[&Row<'_>]| FlagWindow {
        runs: hi.saturating_sub(lo),
        first_as_of: runs.get(lo).map(|r| r.as_of.clone()).unwrap_or_default(),
        last_as_of: runs.get(hi.saturating_sub(1)).map(|r| r.as_of.clone()).unwrap_or_default(),
        confirmed: rows.iter().filter(|r| r.flag.right).count(),
        not_a_problem: rows.iter().filter(|r| !r.flag.right).count(),
    };
    let train: Vec<&Row<'_>> = rows.iter().filter(|r| r.seq < cut).collect();
    let hold: Vec<&Row<'_>> = rows.iter().filter(|r| r.seq >= cut).collect();
    let train_counts = window(0, cut, &train);
    if train.len() < p.min_labels {
        return Err(RetrainError::TooFewLabels {
            what: model.what(),
            found: train.len(),
            needed: p.min_labels,
            more: p.min_labels - train.len(),
            first: train_counts.first_as_of.clone(),
            last: train_counts.last_as_of.clone(),
        });
    }
    if hold.is_empty() {
        return Err(RetrainError::Params(format!(
            "the newest {} run(s) hold no decided {}: wait for a run with decisions or lower --holdout-runs",
            p.holdout_runs,
            model.what()
        )));
    }
    // The training matrix: decisions, then the prior.
    let (mut x, mut y, mut w) = (Vec::new(), Vec::new(), Vec::new());
    for r in &train {
        x.extend(r.flag.score.features.iter().map(|v| f64::from(*v)));
        y.push(r.flag.right);
        w.push(1.0);
    }
    let (mut prior_x, mut prior_y) = (Vec::new(), Vec::new());
    for d in &p.prior {
        let (px, py) = prior_rows(base.as_ref(), d).map_err(LabError::in_dir(d))?;
        prior_x.extend(px);
        prior_y.extend(py);
    }
    let prior_rows_n = prior_y.len();
    x.extend(prior_x.iter().copied());
    w.extend(std::iter::repeat_n(p.prior_weight, prior_rows_n));
    y.extend(prior_y.iter().copied());
    if y.iter().all(|b| *b) || !y.iter().any(|b| *b) {
        return Err(RetrainError::OneLabel(format!(
            "the training rows hold one label only ({} confirmed, {} not a problem): the model needs both; add a prior (--input) or wait for more decisions",
            y.iter().filter(|b| **b).count(),
            y.iter().filter(|b| !**b).count()
        )));
    }
    // As the generated training fits each model: the pair scorer freely (L2
    // 0.01), the journal risk model with every weight at zero or above (L2 1).
    let (alpha, nonneg) = match model {
        FlagModel::Duplicates => (0.01, vec![false; k]),
        FlagModel::Journals { .. } => (1.0, vec![true; k]),
    };
    let lr = Logistic::fit_weighted(&x, k, &y, Some(&w), alpha, &nonneg).map_err(LabError::from)?;
    let mut keys: Vec<String> =
        train.iter().map(|r| format!("{}|{}|{}", r.flag.score.run_id, r.flag.score.subject, r.flag.right)).collect();
    keys.sort_unstable();
    let data_sha256 = reckon_core::id::sha256_hex(
        (keys.join("\n") + &format!("\nprior {:?} × {}", p.prior, p.prior_weight)).as_bytes(),
    );
    let (name, task, onnx_spec) = match model {
        FlagModel::Duplicates => ("duplicates", "ap_duplicate_pair", reckon_duplicates::FEATURE_SPEC),
        // A journal model retrained keeps its base's inputs (the rows were built so).
        FlagModel::Journals { .. } => {
            ("journals", "journal_risk", base.as_ref().map_or(RarityBase::TRAINED, |b| b.base).spec())
        }
    };
    let bytes = lr.to_onnx(&[("feature_spec", onnx_spec), ("task", task)]);
    let mut mc = ModelConfig::probability(name, task, onnx_spec, names.clone(), &bytes, data_sha256.clone());
    mc.version = version_of(out);
    let scorer = Model::from_bytes(out, mc.clone(), &bytes).map_err(LabError::from)?;
    let hold_x: Vec<f32> = hold.iter().flat_map(|r| r.flag.score.features.iter().copied()).collect();
    let hold_scores: Vec<f64> =
        scorer.score(hold.len(), &hold_x).map_err(LabError::from)?.into_iter().map(f64::from).collect();
    let labels: Vec<bool> = hold.iter().map(|r| r.flag.right).collect();
    let confirmed = labels.iter().filter(|b| **b).count();
    let best_f1 = |s: &[f64], l: &[bool]| -> Result<f64, LabError> {
        let positives = l.iter().filter(|b| **b).count();
        Ok(ThresholdRule::BestF1
            .check()
            .and_then(|r| r.choose(s, l, positives))
            .map_err(LabError::threshold("review threshold"))?
            .threshold)
    };
    // On the held-out decisions when they hold both labels; otherwise (people
    // confirmed, or dismissed, every held-out flag) they cannot place a cut,
    // and the prior's rows do.
    let (threshold, threshold_from) = if confirmed > 0 && confirmed < labels.len() {
        (best_f1(&hold_scores, &labels)?, "the held-out decisions".to_string())
    } else if prior_y.iter().any(|b| *b) && prior_y.iter().any(|b| !*b) {
        let px: Vec<f32> = prior_x.iter().map(|v| *v as f32).collect();
        let ps: Vec<f64> =
            scorer.score(prior_y.len(), &px).map_err(LabError::from)?.into_iter().map(f64::from).collect();
        (
            best_f1(&ps, &prior_y)?,
            format!(
                "the prior's rows: the held-out decisions hold one label only ({confirmed} of {} confirmed)",
                labels.len()
            ),
        )
    } else {
        return Err(RetrainError::OneLabel(format!(
            "the held-out decisions hold one label only ({confirmed} of {} confirmed) and there is no prior to place the review threshold on: add a prior (--input) or hold out more runs",
            labels.len()
        )));
    };
    mc.thresholds.insert("review".into(), threshold);
    // The champion's threshold as the runs served it (the lowest, if it changed):
    // every held-out flag is at or above it.
    let champion_scores: Vec<f64> = hold.iter().map(|r| r.flag.score.score).collect();
    let champion_threshold = hold.iter().map(|r| r.flag.score.threshold).fold(f64::INFINITY, f64::min);
    let champion_models: BTreeSet<String> = hold.iter().map(|r| r.flag.score.model.clone()).collect();
    let report = FlagRetrainReport {
        engine: model.engine().to_string(),
        params: p.clone(),
        train: train_counts,
        prior_rows: prior_rows_n,
        holdout: window(cut, runs.len(), &hold),
        data_sha256,
        candidate: held_out(&hold_scores, &labels, threshold),
        threshold_from,
        champion: held_out(&champion_scores, &labels, champion_threshold),
        champion_models: champion_models.into_iter().collect(),
        base: match model {
            FlagModel::Journals { base } => Some(base.display().to_string()),
            FlagModel::Duplicates => None,
        },
    };
    let weights: BTreeMap<String, f64> = names.iter().cloned().zip(lr.weights.iter().copied()).collect();
    let weights_json =
        serde_json::to_string_pretty(&serde_json::json!({"weights": weights, "intercept": lr.intercept}))
            .map_err(LabError::from)?
            + "\n";
    let mut parts = Vec::new();
    if let FlagModel::Journals { base } = model {
        // The forest of the model it started from, as it was.
        let dir = out.join("iforest");
        std::fs::create_dir_all(&dir).map_err(LabError::io(&dir))?;
        for f in ["model.onnx", "config.json"] {
            let from = base.join("iforest").join(f);
            std::fs::copy(&from, dir.join(f)).map_err(LabError::io(&from))?;
        }
        if let Some(b) = &base_config(base) {
            parts.push(("iforest/".to_string(), b.clone()));
        }
    }
    let card = card(&mc, &report, state, model, parts);
    let mut files = vec![
        ("metrics.json", serde_json::to_string_pretty(&report).map_err(LabError::from)? + "\n"),
        ("weights.json", weights_json),
    ];
    // The duplicate model's training rows are what runs' candidate pairs are
    // measured against for drift. The journal model has none: its inputs are
    // relative to each book (rarity above the book's median or routine, z within it), so
    // their spread depends on the book's size and a pooled reference would
    // flag every book of another size.
    if let FlagModel::Duplicates = model {
        let xf: Vec<f32> = x.iter().map(|v| *v as f32).collect();
        let train_scores = scorer.score(y.len(), &xf).map_err(LabError::from)?;
        let reference =
            reckon_monitor::Reference::fit(reckon_duplicates::FEATURES, &xf, &train_scores).map_err(LabError::from)?;
        files.push((reckon_monitor::REFERENCE_FILE, reference.to_json()));
    }
    files.push(("MODEL_CARD.md", card));
    write_folder(out, &bytes, &mc, &files)?;
    Ok(report)
}

/// The isolation forest's config of a journal model folder.
fn base_config(base: &Path) -> Option<ModelConfig> {
    let text = std::fs::read_to_string(base.join("iforest").join("config.json")).ok()?;
    serde_json::from_str(&text).ok()
}

fn card(
    mc: &ModelConfig,
    r: &FlagRetrainReport,
    state: &Path,
    model: &FlagModel,
    parts: Vec<(String, ModelConfig)>,
) -> String {
    let w = |c: &FlagWindow| {
        format!(
            "{} runs ({} to {}): {} {} people confirmed, {} they dismissed or explained",
            c.runs,
            c.first_as_of,
            c.last_as_of,
            c.confirmed,
            model.what(),
            c.not_a_problem
        )
    };
    let opt = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.4}"));
    let h = |name: &str, x: &FlagHeldOut| {
        format!(
            "| {name} | {:.4} | {} | {} | {:.4} | {:.4} | {:.4} | {} | {} |\n",
            x.threshold,
            x.kept,
            x.kept_confirmed,
            x.precision,
            x.recall,
            x.f1,
            opt(x.roc_auc),
            opt(x.average_precision)
        )
    };
    let (intended_use, method, reproduce) = match model {
        FlagModel::Duplicates => (
            "Scores each candidate pair of AP invoices with the probability that it is one\n\
document entered twice, fitted to this team's own decisions. Pairs at or above\n\
the `review` threshold become `duplicate_invoice` exceptions. A candidate: serve\n\
it (`duplicates.model`) only when its held-out figures beat the champion's.",
            format!(
                "Logistic regression on `{}` features (decisions weigh 1, prior rows {};\n\
L2 0.01 on standardised features), exported as ONNX. Weights: `weights.json`; training\nreference (drift): `reference.json`.",
                reckon_duplicates::FEATURE_SPEC,
                r.params.prior_weight
            ),
            "reckon train duplicates --state",
        ),
        FlagModel::Journals { base } => (
            "Ranks GL journals by the probability that they are anomalous, fitted to this\n\
team's own decisions: journals at or above the `review` threshold become\n\
`journal_anomaly` exceptions. A candidate: serve it (`journals.model`) only when\n\
its held-out figures beat the champion's.",
            format!(
                "The isolation forest of `{}` (`iforest/`, unchanged) and a logistic\n\
regression over the same inputs, refitted (decisions weigh 1, prior rows {};\n\
L2 1; every weight at zero or above, as `reckon train journals` fits it),\n\
exported as ONNX. Weights: `weights.json`.",
                base.display(),
                r.params.prior_weight
            ),
            "reckon train journals --base BASE --state",
        ),
    };
    crate::card::ModelCard {
        intended_use: intended_use.into(),
        method,
        training: crate::card::from_decisions(state, &w(&r.train), r.prior_rows, &r.data_sha256),
        validation: format!(
            "Held out, the newest {}.\n\n\
| scorer | review threshold | kept | of them confirmed | precision | recall | F1 | ROC-AUC | AP |\n\
|---|---|---|---|---|---|---|---|---|\n{}{}\n\
The candidate's threshold is the cut with the best F1 on {}.\n\
The champion's figures are its own scores as the runs kept them ({}); it raised\n\
every held-out flag, so it keeps them all.",
            w(&r.holdout),
            h("this candidate", &r.candidate),
            h("champion", &r.champion),
            r.threshold_from,
            r.champion_models.join(", ")
        ),
        limits: "The rows are what the champion raised and people decided: pairs or journals it\n\
never raised are not rows, so the held-out figures say how the candidate ranks\n\
what people saw, not what it would raise that the champion did not. A prior of\n\
generated scenarios (--input) gives the fit those rows; held-out figures are on\n\
the newest runs only."
            .into(),
        reproduce: vec![format!(
            "{} {} --out {} --holdout-runs {} --min-labels {}",
            reproduce.replace("BASE", r.base.as_deref().unwrap_or("")),
            state.display(),
            format_args!("models/{}_v{}", mc.name, mc.version.replace('.', "_")),
            r.params.holdout_runs,
            r.params.min_labels
        )],
        parts,
    }
    .render(mc)
}

/// A duplicate (`dedup`) or journal (`anomaly`) model folder as the registry
/// names it, with the scorer a promotion scores the kept flags with and the
/// feature spec of the rows it can score (refused unless the engine can serve it).
struct Served {
    model: reckon_state::models::ModelRef,
    scorer: Model,
    spec: String,
    threshold: f64,
}

fn served(engine: &str, dir: &str) -> Result<Served, RetrainError> {
    let found = reckon_pipeline::model::find("model", dir, "give a model folder").map_err(LabError::from)?;
    let (scorer, spec) = match engine {
        ENGINE_DEDUP => {
            let m = reckon_pipeline::model::load_checked(
                &found,
                reckon_pipeline::model::Spec::Fixed(reckon_duplicates::FEATURE_SPEC, reckon_duplicates::FEATURES),
            )
            .map_err(LabError::from)?;
            (m, reckon_duplicates::FEATURE_SPEC.to_string())
        }
        ENGINE_ANOMALY => {
            let m = reckon_pipeline::journals::RiskModel::load(&found).map_err(LabError::from)?;
            let spec = m.inputs_spec();
            (m.risk, spec)
        }
        other => return Err(RetrainError::Params(format!("engine '{other}' is not dedup or anomaly"))),
    };
    let threshold = scorer.config.thresholds.get("review").copied().unwrap_or(0.5);
    let model = reckon_state::models::ModelRef {
        model: dir.to_string(),
        model_id: scorer.id(),
        model_sha256: scorer.config.model_sha256.clone(),
    };
    Ok(Served { model, scorer, spec, threshold })
}

/// Registers `dir` as the challenger of `engine` (`dedup` or `anomaly`).
/// `configured` is the journal model the runs serve while no champion is
/// registered (their `journals.model`; the default when `None`).
pub fn challenge(
    state: &Path,
    engine: &str,
    dir: &str,
    actor: &str,
    at: &str,
    configured: Option<&str>,
) -> Result<reckon_state::models::ModelRef, RetrainError> {
    use reckon_state::models::ModelAlias;
    let m = served(engine, dir)?.model;
    if engine == ENGINE_ANOMALY {
        // The inputs the runs keep come from the champion's forest: a
        // challenger is scored on them only if it reads them through the same one.
        let registered = reckon_state::Store::open(state)?
            .model_aliases()?
            .into_iter()
            .find(|a| a.engine == engine && a.alias == ModelAlias::Champion)
            .map(|a| a.model.model);
        let champion = registered.unwrap_or_else(|| {
            configured.map_or_else(|| reckon_pipeline::Config::default().journals.model, str::to_string)
        });
        let forest = |d: &str| -> Result<String, RetrainError> {
            let found = reckon_pipeline::model::find("model", d, "give a model folder").map_err(LabError::from)?;
            let m = reckon_pipeline::journals::RiskModel::load(&found).map_err(LabError::from)?;
            Ok(m.iforest.config.model_sha256.clone())
        };
        if forest(dir)? != forest(&champion)? {
            return Err(RetrainError::Params(format!(
                "{dir}: its isolation forest is not the champion's ({champion}); the journal inputs the runs keep come from the champion's forest, so it cannot be judged on them: train it with --base {champion}"
            )));
        }
    }
    crate::retrain::register_challenger(state, engine, &m, actor, at)?;
    Ok(m)
}

/// When a duplicate or journal challenger may replace the champion.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlagPromotionRule {
    /// Decided flags raised since the challenger was registered, needed before
    /// anything is judged.
    pub min_labels: usize,
    /// How much lower than the champion's the challenger's recall of the
    /// confirmed flags may be (the champion raised them all: its recall is 1).
    pub max_recall_loss: f64,
}

impl Default for FlagPromotionRule {
    fn default() -> Self {
        FlagPromotionRule { min_labels: 50, max_recall_loss: 0.02 }
    }
}

/// The champion and the challenger on the decided flags raised since the
/// challenger was registered.
#[derive(Clone, Debug, Serialize)]
pub struct FlagComparison {
    pub engine: String,
    pub since: String,
    pub labelled: usize,
    pub confirmed: usize,
    pub champion: FlagHeldOut,
    pub challenger: FlagHeldOut,
    pub promote: bool,
    pub refused: Vec<String>,
}

/// Scores the challenger of `engine` on the features the runs kept of every
/// flag raised after it was registered and decided by people — the same
/// features it would have scored in shadow — and promotes it when it keeps
/// the flags people confirmed (recall within `max_recall_loss` of the
/// champion's) with a better F1 than the champion, which raised them all;
/// otherwise refuses. Either way the outcome is an event of the registry.
pub fn promote(
    state: &Path,
    engine: &str,
    rule: &FlagPromotionRule,
    actor: &str,
    at: &str,
) -> Result<(FlagComparison, reckon_state::models::ModelRef), RetrainError> {
    use reckon_state::models::ModelAlias;
    let mut s = reckon_state::Store::open(state)?;
    let registered =
        s.model_aliases()?.into_iter().find(|a| a.engine == engine && a.alias == ModelAlias::Challenger).ok_or_else(
            || RetrainError::Params(format!("no {engine} challenger registered (reckon models challenge)")),
        )?;
    let ch = served(engine, &registered.model.model)?;
    let since_day = registered.since.get(..10).unwrap_or(&registered.since).to_string();
    let after: BTreeSet<String> = s.runs()?.into_iter().filter(|r| r.as_of > since_day).map(|r| r.run_id).collect();
    let rows: Vec<LabelledFlag> = s
        .labelled_flags(engine)?
        .into_iter()
        .filter(|l| after.contains(&l.score.run_id) && l.score.feature_spec == ch.spec)
        .collect();
    drop(s);
    let x: Vec<f32> = rows.iter().flat_map(|l| l.score.features.iter().copied()).collect();
    let scores: Vec<f64> = if rows.is_empty() {
        Vec::new()
    } else {
        ch.scorer.score(rows.len(), &x).map_err(LabError::from)?.into_iter().map(f64::from).collect()
    };
    let labels: Vec<bool> = rows.iter().map(|l| l.right).collect();
    let confirmed = labels.iter().filter(|b| **b).count();
    let champion_scores: Vec<f64> = rows.iter().map(|l| l.score.score).collect();
    let champion_threshold = rows.iter().map(|l| l.score.threshold).fold(f64::INFINITY, f64::min);
    let champion = held_out(&champion_scores, &labels, champion_threshold);
    let challenger = held_out(&scores, &labels, ch.threshold);
    let mut refused = Vec::new();
    if rows.len() < rule.min_labels {
        refused.push(format!(
            "{} decided flags raised after {since_day} (since the challenger was registered); {} needed",
            rows.len(),
            rule.min_labels
        ));
    } else if confirmed == 0 || confirmed == rows.len() {
        refused.push(format!("the {} decided flags hold one label only ({confirmed} confirmed)", rows.len()));
    } else {
        if challenger.f1 <= champion.f1 {
            refused.push(format!("F1 {:.4} is not above the champion's {:.4}", challenger.f1, champion.f1));
        }
        if challenger.recall < champion.recall - rule.max_recall_loss {
            refused.push(format!(
                "it would not raise {} of the {confirmed} flags people confirmed: recall {:.4} against the champion's {:.4} (at most {} lower)",
                confirmed - challenger.kept_confirmed,
                challenger.recall,
                champion.recall,
                rule.max_recall_loss
            ));
        }
    }
    let c = FlagComparison {
        engine: engine.to_string(),
        since: registered.since.clone(),
        labelled: rows.len(),
        confirmed,
        champion,
        challenger,
        promote: refused.is_empty(),
        refused,
    };
    let detail = serde_json::to_string(&c).unwrap_or_default();
    crate::retrain::record_verdict(state, engine, &registered.model, c.promote, &detail, actor, at)?;
    Ok((c, registered.model))
}

/// The retraining job's account for the duplicate or journal model (`reckon
/// retrain --engine dedup|anomaly --json`).
#[derive(Clone, Debug, Serialize)]
pub struct FlagJobSummary {
    pub action: crate::retrain::JobAction,
    /// Why, in a sentence.
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<FlagComparison>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub training: Option<FlagRetrainReport>,
}

/// One run of the retraining job for `model`'s engine, as the cash job runs:
/// a registered challenger is judged first (promoted when the rule is met;
/// left to gather decided flags while it has fewer than the rule needs);
/// otherwise a candidate is trained on the decisions into
/// `models_dir/<name>_v<runs>_0` and registered as challenger.
pub fn job(
    state: &Path,
    model: &FlagModel,
    models_dir: &Path,
    params: &FlagRetrainParams,
    rule: &FlagPromotionRule,
    actor: &str,
    at: &str,
) -> Result<FlagJobSummary, RetrainError> {
    use crate::retrain::JobAction;
    use reckon_state::models::ModelAlias;
    let engine = model.engine();
    let mut s = reckon_state::Store::open(state)?;
    let has_challenger = s.model_aliases()?.iter().any(|a| a.engine == engine && a.alias == ModelAlias::Challenger);
    let runs = s.runs()?.len();
    drop(s);
    let summary = |action, detail, comparison, candidate, training| FlagJobSummary {
        action,
        detail,
        comparison,
        candidate,
        training,
    };
    if has_challenger {
        let (c, m) = promote(state, engine, rule, actor, at)?;
        if c.promote {
            let detail = format!(
                "{} promoted: F1 {:.4} against {:.4} on {} decided flags",
                m.model_id, c.challenger.f1, c.champion.f1, c.labelled
            );
            return Ok(summary(JobAction::Promoted, detail, Some(c), None, None));
        }
        if c.labelled < rule.min_labels {
            let detail = format!(
                "{} has {} decided flags raised since it was registered; the rule needs {}",
                m.model_id, c.labelled, rule.min_labels
            );
            return Ok(summary(JobAction::Waiting, detail, Some(c), None, None));
        }
    }
    let name = match model {
        FlagModel::Duplicates => "duplicates",
        FlagModel::Journals { .. } => "journals",
    };
    let out = models_dir.join(format!("{name}_v{runs}_0"));
    match train_from_decisions(state, &out, model, params) {
        Ok(r) => {
            // The candidate reads its inputs through the base model's forest.
            let base = match model {
                FlagModel::Journals { base } => Some(base.display().to_string()),
                FlagModel::Duplicates => None,
            };
            let m = challenge(state, engine, &out.display().to_string(), actor, at, base.as_deref())?;
            let detail = format!(
                "{} trained on {} decided {}; it is judged on the flags decided from now on",
                m.model_id,
                r.train.confirmed + r.train.not_a_problem,
                model.what()
            );
            Ok(summary(JobAction::ChallengerRegistered, detail, None, Some(out.display().to_string()), Some(r)))
        }
        Err(e @ (RetrainError::TooFewLabels { .. } | RetrainError::OneLabel(_))) => {
            Ok(summary(JobAction::Waiting, e.to_string(), None, None, None))
        }
        Err(e) => Err(e),
    }
}
