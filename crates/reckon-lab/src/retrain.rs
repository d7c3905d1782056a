//! The cash-matching model retrained on a team's own decisions
//! (`reckon train cash --state S`).
//!
//! A run with a state store keeps every group it applied with its features
//! and scores (`proposal_scores`, schema 5). The decisions people took on the
//! proposals label them ([`reckon_state::models::label_proposals`]: accepted or
//! matched to the same items → right; a pair rejected or matched to other items
//! → wrong, weight 1); a group cleared automatically and still standing
//! `weak_after_runs` runs later is a weak positive (weight `weak_weight`: no
//! one checked it, and no one undid it). The other candidate groups the runs
//! scored for a receipt (`candidate_scores`, schema 10) are labelled once a
//! person accepted or chose the receipt's group: the group chosen among them
//! right, the others wrong, weight 1 ([`reckon_state::models::label_candidates`]).
//! Optionally mixed with a generated
//! prior (candidate groups of generated scenarios labelled by their truth).
//! The split is by time: the newest `holdout_runs` runs are held out, the model
//! is fit on the rows of the runs before them, the auto threshold is chosen on
//! the held-out rows (lowest cut whose Wilson lower bound of auto precision
//! reaches the target, at least the floor), and the held-out figures are set
//! beside the champion's own scores on the same rows.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use reckon_cash::{FEATURE_SPEC, FEATURES, GroupScorer, MatchConfig};
use reckon_learn::logistic::Logistic;
use reckon_learn::threshold::ThresholdRule;
use reckon_onnx::{Model, ModelConfig};
use reckon_state::models::{ProposalScore, label_candidates, label_proposals};
use serde::Serialize;

use crate::model::{version_of, write_folder};
use reckon_pipeline::model::OnnxScorer;

/// How the decisions become a model.
#[derive(Clone, Debug, Serialize)]
pub struct RetrainParams {
    /// Runs at the end of the chain held out for the threshold and the figures.
    pub holdout_runs: usize,
    /// Labelled proposals (decided by people) the training window must hold.
    pub min_labels: usize,
    /// An automatic match still standing this many runs later is a weak positive.
    pub weak_after_runs: usize,
    pub weak_weight: f64,
    /// Generated scenarios mixed in as a prior, and their rows' weight.
    #[serde(skip)]
    pub prior: Vec<PathBuf>,
    pub prior_weight: f64,
    pub target_precision: f64,
    pub z: f64,
    pub floor: f64,
    /// Held-out rows an entity needs before its own threshold is chosen.
    pub min_entity_labels: usize,
    /// The L2 penalty pulling the candidate's standardised weights towards
    /// the champion's (`anchor`); 0: towards zero with the default 0.05.
    pub anchor_alpha: f64,
    /// The champion to start from: its `name@version` and raw-feature weights
    /// in [`FEATURES`] order ([`champion`]); `None`: no anchor.
    #[serde(skip)]
    pub anchor: Option<(String, Vec<f64>)>,
}

impl Default for RetrainParams {
    fn default() -> Self {
        RetrainParams {
            holdout_runs: 2,
            min_labels: 200,
            weak_after_runs: 2,
            weak_weight: 0.3,
            prior: Vec::new(),
            prior_weight: 1.0,
            target_precision: 0.998,
            z: reckon_learn::threshold::Z_95,
            floor: 0.998,
            min_entity_labels: 200,
            anchor_alpha: 0.0,
            anchor: None,
        }
    }
}

/// Why a model could not be trained from decisions.
#[derive(Debug, thiserror::Error)]
pub enum RetrainError {
    #[error(transparent)]
    State(#[from] reckon_state::StateError),
    #[error("{0}")]
    Params(String),
    #[error(
        "{found} {what} decided by people in the training window (runs {first} to {last}); training needs {needed}: wait for {more} more decisions or lower --min-labels"
    )]
    TooFewLabels { what: &'static str, found: usize, needed: usize, more: usize, first: String, last: String },
    /// The decisions so far hold one label only (every flag confirmed, or
    /// none): nothing to separate yet.
    #[error("{0}")]
    OneLabel(String),
    #[error(transparent)]
    Lab(#[from] crate::LabError),
}

/// Counts of one window's rows.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WindowCounts {
    pub runs: usize,
    pub first_as_of: String,
    pub last_as_of: String,
    pub decided_right: usize,
    pub decided_wrong: usize,
    /// Other candidate groups of receipts people decided: the one they chose
    /// (right), the others (wrong).
    pub candidates_right: usize,
    pub candidates_wrong: usize,
    pub weak_positive: usize,
}

/// Figures of one scorer on the held-out rows. "Auto" is by score alone: a
/// group at or above the threshold, before the engine's rules that send some
/// to review whatever their score (a payer the bank names differently).
#[derive(Clone, Debug, Default, Serialize)]
pub struct HeldOut {
    pub brier: f64,
    pub auto_threshold: f64,
    pub auto_groups: usize,
    pub auto_right: usize,
    /// Right groups cleared automatically, of the right groups held out.
    pub touchless: f64,
}

/// What retraining measured (`metrics.json`).
#[derive(Clone, Debug, Serialize)]
pub struct RetrainReport {
    pub params: RetrainParams,
    pub train: WindowCounts,
    pub prior_rows: usize,
    pub holdout: WindowCounts,
    /// sha256 of the labelled rows trained on (run, receipt, items, label, weight).
    pub data_sha256: String,
    pub candidate: HeldOut,
    /// Where the candidate's auto threshold comes from.
    pub threshold_from: String,
    /// The champion's own scores on the same held-out rows, at its threshold.
    pub champion: HeldOut,
    pub champion_models: Vec<String>,
    /// The champion the fit was pulled towards (`anchor_alpha`), if any.
    pub anchored_on: Option<String>,
    /// Entities (company codes) whose own held-out decisions establish an auto
    /// threshold: the model carries it as `auto@<entity>` and the engine uses it
    /// for groups of that entity's open items.
    pub entity_thresholds: BTreeMap<String, EntityThreshold>,
}

/// An entity's own auto threshold and the held-out rows it was chosen on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EntityThreshold {
    pub rows: usize,
    pub threshold: f64,
    /// The Wilson lower bound of auto precision at it.
    pub precision_lower: f64,
}

/// Where a training row comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    /// A proposal people decided.
    Proposal,
    /// Another candidate group of a receipt people decided.
    Candidate,
    /// A standing automatic match.
    Weak,
}

struct Row {
    seq: usize,
    source: Source,
    features: Vec<f32>,
    right: bool,
    weight: f64,
    confidence: f64,
    key: String,
    entity: Option<String>,
}

/// Per entity with at least `min_rows` held-out rows, the threshold `rule`
/// chooses on that entity's rows alone — kept when it is at least the floor
/// and differs from the global one; entities whose rows cannot establish the
/// target keep the global threshold.
fn entity_thresholds(
    scores: &[f64],
    rows: &[&Row],
    rule: &reckon_learn::threshold::CheckedRule,
    min_rows: usize,
    floor: f64,
    global: f64,
) -> BTreeMap<String, EntityThreshold> {
    let mut by_entity: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        if let Some(e) = r.entity.as_deref() {
            by_entity.entry(e).or_default().push(i);
        }
    }
    let mut out = BTreeMap::new();
    for (e, idx) in by_entity {
        if idx.len() < min_rows {
            continue;
        }
        let s: Vec<f64> = idx.iter().map(|&i| scores[i]).collect();
        let l: Vec<bool> = idx.iter().map(|&i| rows[i].right).collect();
        let positives = l.iter().filter(|b| **b).count();
        if let Ok(c) = rule.choose(&s, &l, positives) {
            let threshold = c.threshold.max(floor);
            if (threshold - global).abs() > 1e-9 {
                out.insert(
                    e.to_string(),
                    EntityThreshold { rows: idx.len(), threshold, precision_lower: c.precision_lower },
                );
            }
        }
    }
    out
}

fn held_out(scores: &[f64], rows: &[&Row], threshold: f64) -> HeldOut {
    let n = rows.len().max(1) as f64;
    let brier = rows.iter().zip(scores).map(|(r, s)| (s - if r.right { 1.0 } else { 0.0 }).powi(2)).sum::<f64>() / n;
    let auto: Vec<bool> = rows.iter().zip(scores).filter(|(_, s)| **s >= threshold).map(|(r, _)| r.right).collect();
    let right = rows.iter().filter(|r| r.right).count().max(1) as f64;
    HeldOut {
        brier,
        auto_threshold: threshold,
        auto_groups: auto.len(),
        auto_right: auto.iter().filter(|r| **r).count(),
        touchless: auto.iter().filter(|r| **r).count() as f64 / right,
    }
}

/// Trains a candidate cash-matching model on the decisions in `state` and
/// writes its folder to `out`; `champion_auto` is the auto threshold of the
/// model that scored the held-out rows (its figures are set beside).
pub fn train_from_decisions(
    state: &Path,
    out: &Path,
    p: &RetrainParams,
    champion_auto: f64,
) -> Result<RetrainReport, RetrainError> {
    if p.holdout_runs == 0 || !(0.0..=1.0).contains(&p.weak_weight) || p.prior_weight < 0.0 {
        return Err(RetrainError::Params(format!(
            "--holdout-runs {} must be at least 1, the weak weight {} within 0..=1, the prior weight {} at least 0",
            p.holdout_runs, p.weak_weight, p.prior_weight
        )));
    }
    if !(p.anchor_alpha >= 0.0 && p.anchor_alpha.is_finite()) {
        return Err(RetrainError::Params(format!("--anchor-alpha {} must be at least 0", p.anchor_alpha)));
    }
    if p.anchor_alpha > 0.0 && p.anchor.is_none() {
        return Err(RetrainError::Params(format!(
            "--anchor-alpha {}: the champion has no weights.json of the features {FEATURE_SPEC} to fit towards",
            p.anchor_alpha
        )));
    }
    let mut store = reckon_state::Store::open(state)?;
    let runs = store.runs()?;
    let scores = store.proposal_scores()?;
    let candidates = store.candidate_scores()?;
    let decisions = store.decisions()?;
    let txn_of = store.exception_txns()?;
    let labelled = label_proposals(&scores, &decisions, &txn_of);
    let labelled_candidates = label_candidates(&candidates, &scores, &decisions, &txn_of);
    drop(store);
    let seq_of: BTreeMap<&str, usize> = runs.iter().enumerate().map(|(i, r)| (r.run_id.as_str(), i)).collect();
    let usable =
        |s: &ProposalScore| s.feature_spec.as_deref() == Some(FEATURE_SPEC) && s.features.len() == FEATURES.len();
    let mut rows: Vec<Row> = Vec::new();
    for l in labelled.iter().filter(|l| usable(&l.score)) {
        let Some(&seq) = seq_of.get(l.score.run_id.as_str()) else { continue };
        rows.push(Row {
            seq,
            source: Source::Proposal,
            features: l.score.features.clone(),
            right: l.right,
            weight: 1.0,
            confidence: l.score.confidence,
            key: format!("{}|{}|{}|{}", l.score.run_id, l.score.txn_id, l.score.items.join("+"), l.right),
            entity: l.score.entity.clone(),
        });
    }
    let usable_candidate =
        |c: &reckon_state::models::CandidateScore| c.feature_spec == FEATURE_SPEC && c.features.len() == FEATURES.len();
    for l in labelled_candidates.iter().filter(|l| usable_candidate(&l.score)) {
        let Some(&seq) = seq_of.get(l.score.run_id.as_str()) else { continue };
        rows.push(Row {
            seq,
            source: Source::Candidate,
            features: l.score.features.clone(),
            right: l.right,
            weight: 1.0,
            confidence: l.score.confidence,
            key: format!("{}|{}|{}|{}|candidate", l.score.run_id, l.score.txn_id, l.score.items.join("+"), l.right),
            entity: l.score.entity.clone(),
        });
    }
    let last = runs.len().saturating_sub(1);
    for s in scores.iter().filter(|s| s.band == reckon_core::Band::Auto && usable(s)) {
        let Some(&seq) = seq_of.get(s.run_id.as_str()) else { continue };
        if seq + p.weak_after_runs <= last {
            rows.push(Row {
                seq,
                source: Source::Weak,
                features: s.features.clone(),
                right: true,
                weight: p.weak_weight,
                confidence: s.confidence,
                key: format!("{}|{}|{}|weak", s.run_id, s.txn_id, s.items.join("+")),
                entity: s.entity.clone(),
            });
        }
    }
    let cut = runs.len().saturating_sub(p.holdout_runs);
    let window = |lo: usize, hi: usize, rows: &[&Row]| WindowCounts {
        runs: hi.saturating_sub(lo),
        first_as_of: runs.get(lo).map(|r| r.as_of.clone()).unwrap_or_default(),
        last_as_of: runs.get(hi.saturating_sub(1)).map(|r| r.as_of.clone()).unwrap_or_default(),
        decided_right: rows.iter().filter(|r| r.source == Source::Proposal && r.right).count(),
        decided_wrong: rows.iter().filter(|r| r.source == Source::Proposal && !r.right).count(),
        candidates_right: rows.iter().filter(|r| r.source == Source::Candidate && r.right).count(),
        candidates_wrong: rows.iter().filter(|r| r.source == Source::Candidate && !r.right).count(),
        weak_positive: rows.iter().filter(|r| r.source == Source::Weak).count(),
    };
    let train: Vec<&Row> = rows.iter().filter(|r| r.seq < cut).collect();
    let hold: Vec<&Row> = rows.iter().filter(|r| r.seq >= cut).collect();
    let train_counts = window(0, cut, &train);
    let decided = train_counts.decided_right + train_counts.decided_wrong;
    if hold.is_empty() {
        return Err(RetrainError::Params(format!(
            "the newest {} run(s) hold no decided proposal or standing match to hold out: wait for a run with decisions or lower --holdout-runs",
            p.holdout_runs
        )));
    }
    if decided < p.min_labels {
        return Err(RetrainError::TooFewLabels {
            what: "proposals",
            found: decided,
            needed: p.min_labels.max(1),
            more: p.min_labels.saturating_sub(decided),
            first: train_counts.first_as_of.clone(),
            last: train_counts.last_as_of.clone(),
        });
    }
    // The training matrix: decisions, weak positives, the prior.
    let k = FEATURES.len();
    let (mut x, mut y, mut w) = (Vec::new(), Vec::new(), Vec::new());
    for r in &train {
        x.extend(r.features.iter().map(|v| f64::from(*v)));
        y.push(r.right);
        w.push(r.weight);
    }
    let cfg = MatchConfig { model: "rules".into(), ..MatchConfig::default() };
    let mut prior_rows = 0;
    for d in &p.prior {
        let (px, py, _) = crate::cash::labelled(d, &cfg).map_err(crate::LabError::in_dir(d))?;
        prior_rows += py.len();
        x.extend(px);
        w.extend(std::iter::repeat_n(p.prior_weight, py.len()));
        y.extend(py);
    }
    let (anchor, anchored_on) = match &p.anchor {
        Some((id, weights)) if p.anchor_alpha > 0.0 => (Some(weights.as_slice()), Some(id.clone())),
        _ => (None, None),
    };
    let alpha = if anchor.is_some() { p.anchor_alpha } else { 0.05 };
    let lr =
        Logistic::fit_toward(&x, k, &y, Some(&w), alpha, &vec![false; k], anchor).map_err(crate::LabError::from)?;
    let mut keys: Vec<&str> = train.iter().map(|r| r.key.as_str()).collect();
    keys.sort_unstable();
    let data_sha256 = reckon_core::id::sha256_hex(
        (keys.join("\n")
            + &format!(
                "\nweak {} prior {:?} × {} anchor {:?} × {}",
                p.weak_weight, p.prior, p.prior_weight, anchored_on, p.anchor_alpha
            ))
            .as_bytes(),
    );
    let (bytes, mut mc) = crate::cash::onnx_and_config(&lr, data_sha256.clone());
    mc.version = version_of(out);
    std::fs::create_dir_all(out).map_err(crate::LabError::io(out))?;
    let scorer = OnnxScorer(Model::from_bytes(out, mc.clone(), &bytes).map_err(crate::LabError::from)?);
    let score = |rows: &[&Row]| -> Result<Vec<f64>, RetrainError> {
        let f: Vec<f32> = rows.iter().flat_map(|r| r.features.iter().copied()).collect();
        Ok(scorer.score(rows.len(), &f).map_err(crate::LabError::Scorer)?.into_iter().map(f64::from).collect())
    };
    let hold_scores = score(&hold)?;
    let labels: Vec<bool> = hold.iter().map(|r| r.right).collect();
    let positives = labels.iter().filter(|b| **b).count();
    let rule = ThresholdRule::MinPrecision { target: p.target_precision, z: p.z, floor: p.floor }
        .check()
        .map_err(crate::LabError::threshold("auto threshold"))?;
    // Too few held-out decisions to establish the target's lower bound: the
    // threshold stays where the champion's (or the floor) is, and the report says so.
    let (threshold, threshold_from) = match rule.choose(&hold_scores, &labels, positives) {
        Ok(c) => (
            c.threshold,
            format!("the held-out decisions ({} groups above it, lower bound {:.4})", c.selected, c.precision_lower),
        ),
        Err(reckon_learn::threshold::ThresholdError::Unreachable { best, .. }) => (
            p.floor.max(champion_auto),
            format!(
                "the floor and the champion's threshold: the held-out decisions cannot establish precision {} (best lower bound {:.4} over {} groups)",
                p.target_precision, best.precision_lower, best.selected
            ),
        ),
        Err(e) => return Err(crate::LabError::Threshold { what: "auto threshold", source: e }.into()),
    };
    mc.thresholds.insert("auto".into(), threshold);
    let entity_thresholds = entity_thresholds(&hold_scores, &hold, &rule, p.min_entity_labels, p.floor, threshold);
    for (e, t) in &entity_thresholds {
        mc.thresholds.insert(format!("auto@{e}"), t.threshold);
    }
    let champion_scores: Vec<f64> = hold.iter().map(|r| r.confidence).collect();
    let train_scores = {
        let f: Vec<f32> = train.iter().flat_map(|r| r.features.iter().copied()).collect();
        scorer.score(train.len(), &f).map_err(crate::LabError::Scorer)?
    };
    let train_f: Vec<f32> = train.iter().flat_map(|r| r.features.iter().copied()).collect();
    let reference = reckon_monitor::Reference::fit(FEATURES, &train_f, &train_scores).map_err(crate::LabError::from)?;
    let champion_models: BTreeSet<String> = scores
        .iter()
        .filter(|s| seq_of.get(s.run_id.as_str()).is_some_and(|q| *q >= cut))
        .map(|s| s.model.clone())
        .collect();
    let report = RetrainReport {
        params: p.clone(),
        train: train_counts,
        prior_rows,
        holdout: window(cut, runs.len(), &hold),
        data_sha256,
        candidate: held_out(&hold_scores, &hold, threshold),
        threshold_from,
        champion: held_out(&champion_scores, &hold, champion_auto),
        champion_models: champion_models.into_iter().collect(),
        anchored_on,
        entity_thresholds,
    };
    let weights = FEATURES.iter().zip(&lr.weights).map(|(f, w)| (f.to_string(), *w)).collect::<BTreeMap<_, _>>();
    write_folder(
        out,
        &bytes,
        &mc,
        &[
            ("metrics.json", json(&report)),
            ("weights.json", json(&weights)),
            (reckon_monitor::REFERENCE_FILE, reference.to_json()),
            ("MODEL_CARD.md", card(&mc, &report, state)),
        ],
    )?;
    Ok(report)
}

/// JSON text of a value (pretty, with a final newline).
fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default() + "\n"
}

fn card(mc: &ModelConfig, r: &RetrainReport, state: &Path) -> String {
    let w = |c: &WindowCounts| {
        format!(
            "{} runs ({} to {}): {} proposals people accepted or matched as proposed, {} they rejected or matched otherwise; \
             of the other candidate groups of the receipts they decided, {} they chose and {} they did not; \
             {} automatic matches still standing (weak positives)",
            c.runs,
            c.first_as_of,
            c.last_as_of,
            c.decided_right,
            c.decided_wrong,
            c.candidates_right,
            c.candidates_wrong,
            c.weak_positive
        )
    };
    let h = |name: &str, x: &HeldOut| {
        format!(
            "| {name} | {:.4} | {:.4} | {} | {} | {:.4} |\n",
            x.brier, x.auto_threshold, x.auto_groups, x.auto_right, x.touchless
        )
    };
    crate::card::ModelCard {
        intended_use: "Scores each candidate group the cash-matching engine builds for a bank receipt\n\
with the probability that it is exactly right, fitted to this team's own\n\
decisions. A candidate: register it as challenger (`reckon models challenge`),\n\
let it score in shadow, and promote it only when it beats the champion\n\
(`reckon models promote`)."
            .into(),
        method: format!(
            "Logistic regression on `{FEATURE_SPEC}` features (weighted: decisions 1, weak\n\
positives {}, prior rows {}; L2 0.05 on standardised features; projected\n\
Newton), exported as ONNX. Weights: `weights.json`; training reference:\n\
`reference.json`.",
            r.params.weak_weight, r.params.prior_weight
        ),
        training: crate::card::from_decisions(state, &w(&r.train), r.prior_rows, &r.data_sha256),
        validation: format!(
            "Held out, the newest {}.\n\n\
| scorer | Brier | auto threshold | auto groups | of them right | touchless |\n|---|---|---|---|---|---|\n{}{}\n\
The candidate's threshold is the lowest cut whose auto precision on the held-out rows reaches {} (Wilson lower bound at z {}), at least {}; this one is set by {}.\n\
The champion's figures are its own scores as the runs kept them ({}). Auto groups are counted by score alone,\n\
before the engine's rules that send a group to review whatever its score (a payer the bank names otherwise).\n\n{}",
            w(&r.holdout),
            h("this candidate", &r.candidate),
            h("champion", &r.champion),
            r.params.target_precision,
            r.params.z,
            r.params.floor,
            r.threshold_from,
            r.champion_models.join(", "),
            if r.entity_thresholds.is_empty() {
                format!(
                    "No entity's own held-out rows ({} or more needed) establish a threshold of their own: every entity uses the one above.",
                    r.params.min_entity_labels
                )
            } else {
                let list: Vec<String> = r
                    .entity_thresholds
                    .iter()
                    .map(|(e, t)| {
                        format!("`{e}` {:.4} ({} held-out rows, lower bound {:.4})", t.threshold, t.rows, t.precision_lower)
                    })
                    .collect();
                format!(
                    "Entities whose own held-out rows establish a threshold of their own (`auto@<entity>`): {}; the others use the one above.",
                    list.join(", ")
                )
            }
        ),
        limits: "Trained on the candidate groups reckon scored: items people matched that no\n\
candidate group held are not rows, and a receipt keeps at most its three next\n\
best groups. Automatic matches are weak positives because no one checked them,\n\
and bring no negatives: the engine seldom builds a second group for a receipt\n\
it clears. Held-out figures are on the newest runs only."
            .into(),
        reproduce: vec![format!(
            "reckon train cash --state {} --out models/cash_v{} --holdout-runs {} --min-labels {}",
            state.display(),
            mc.version.replace('.', "_"),
            r.params.holdout_runs,
            r.params.min_labels
        )],
        parts: Vec::new(),
    }
    .render(mc)
}

/// The auto threshold of the cash model a store's runs serve: the registered
/// champion, or `configured` (`cash.model`) when none is registered — the
/// model whose scores the held-out rows carry. A model without one: 1.
pub fn champion_auto(state: &Path, configured: &str) -> Result<f64, RetrainError> {
    Ok(champion(state, configured)?.auto)
}

/// The cash model a store's runs serve (see [`champion_auto`]).
#[derive(Clone, Debug)]
pub struct Champion {
    /// `name@version`.
    pub id: String,
    pub auto: f64,
    /// Its raw-feature weights in [`FEATURES`] order, from the folder's
    /// `weights.json` (`None`: no such file, another feature spec, or a
    /// feature missing): what a candidate is pulled towards.
    pub weights: Option<Vec<f64>>,
}

/// The cash model a store's runs serve: the registered champion, or
/// `configured` when none is registered.
pub fn champion(state: &Path, configured: &str) -> Result<Champion, RetrainError> {
    use reckon_state::models::{ENGINE_MATCH, ModelAlias};
    let champion = reckon_state::Store::open(state)?
        .model_aliases()?
        .into_iter()
        .find(|a| a.engine == ENGINE_MATCH && a.alias == ModelAlias::Champion)
        .map_or_else(|| configured.to_string(), |a| a.model.model);
    let dir =
        reckon_pipeline::model::find("champion", &champion, "reckon models list").map_err(crate::LabError::from)?;
    let m = Model::load(&dir).map_err(crate::LabError::from)?;
    let weights = (m.config.feature_spec == FEATURE_SPEC)
        .then(|| std::fs::read_to_string(dir.join("weights.json")).ok())
        .flatten()
        .and_then(|t| serde_json::from_str::<BTreeMap<String, f64>>(&t).ok())
        .and_then(|w| FEATURES.iter().map(|f| w.get(*f).copied()).collect::<Option<Vec<f64>>>());
    Ok(Champion { id: m.id(), auto: m.config.thresholds.get("auto").copied().unwrap_or(1.0), weights })
}

/// A cash-matching model folder as the registry names it (refused unless the
/// engine can serve it).
pub fn model_ref(dir: &str) -> Result<reckon_state::models::ModelRef, RetrainError> {
    let found = reckon_pipeline::model::find("model", dir, "give a model folder").map_err(crate::LabError::from)?;
    let m = reckon_pipeline::model::load_checked(&found, reckon_pipeline::model::Spec::Fixed(FEATURE_SPEC, FEATURES))
        .map_err(crate::LabError::from)?;
    Ok(reckon_state::models::ModelRef {
        model: dir.to_string(),
        model_id: m.id(),
        model_sha256: m.config.model_sha256.clone(),
    })
}

/// Registers `dir` as the cash-matching challenger of the store.
pub fn challenge(
    state: &Path,
    dir: &str,
    actor: &str,
    at: &str,
) -> Result<reckon_state::models::ModelRef, RetrainError> {
    let m = model_ref(dir)?;
    register_challenger(state, reckon_state::models::ENGINE_MATCH, &m, actor, at)?;
    Ok(m)
}

/// Compares the registered challenger with the champion on the proposals
/// people decided ([`reckon_state::models::compare`]) and promotes it when the
/// rule is met; either way the outcome is an event of the registry.
pub fn promote(
    state: &Path,
    rule: &reckon_state::models::PromotionRule,
    actor: &str,
    at: &str,
) -> Result<(reckon_state::models::Comparison, reckon_state::models::ModelRef), RetrainError> {
    use reckon_state::models::{ENGINE_MATCH, ModelAlias, compare};
    let mut s = reckon_state::Store::open(state)?;
    let challenger = s
        .model_aliases()?
        .into_iter()
        .find(|a| a.engine == ENGINE_MATCH && a.alias == ModelAlias::Challenger)
        .ok_or_else(|| RetrainError::Params("no challenger registered (reckon models challenge)".into()))?;
    let found = reckon_pipeline::model::find("challenger", &challenger.model.model, "reckon models list")
        .map_err(crate::LabError::from)?;
    let auto = Model::load(&found).map_err(crate::LabError::from)?.config.thresholds.get("auto").copied();
    let labelled = s.labelled_proposals()?;
    let shadow = s.shadow_scores(&challenger.model.model_id)?;
    drop(s);
    // The champion whose bands the runs kept: the registered one, or the configuration's.
    let champion_auto = champion_auto(state, &MatchConfig::default().model)?;
    let cover = auto.map(|a| reckon_state::models::coverage(&shadow, &challenger.model.model_id, a, champion_auto));
    let c = compare(&labelled, &challenger.model.model_id, auto, cover, rule);
    record_verdict(
        state,
        ENGINE_MATCH,
        &challenger.model,
        c.promote,
        &serde_json::to_string(&c).unwrap_or_default(),
        actor,
        at,
    )?;
    Ok((c, challenger.model))
}

/// Records a promotion's outcome for `engine`: the challenger `model` becomes
/// the champion (`promoted`), or stays challenger (`refused`); `detail` is the
/// comparison as JSON.
pub(crate) fn record_verdict(
    state: &Path,
    engine: &str,
    model: &reckon_state::models::ModelRef,
    promote: bool,
    detail: &str,
    actor: &str,
    at: &str,
) -> Result<(), RetrainError> {
    use reckon_state::models::ModelAlias;
    let mut s = reckon_state::Store::open(state)?;
    if promote {
        s.change_model_aliases(
            engine,
            &[(ModelAlias::Champion, Some(model.clone())), (ModelAlias::Challenger, None)],
            ModelAlias::Champion,
            "promoted",
            at,
            actor,
            detail,
        )?;
    } else {
        s.change_model_aliases(engine, &[], ModelAlias::Challenger, "refused", at, actor, detail)?;
    }
    Ok(())
}

/// Registers `m` as the challenger of `engine`.
pub(crate) fn register_challenger(
    state: &Path,
    engine: &str,
    m: &reckon_state::models::ModelRef,
    actor: &str,
    at: &str,
) -> Result<(), RetrainError> {
    use reckon_state::models::ModelAlias;
    let detail = format!("{} registered as challenger", m.model_id);
    reckon_state::Store::open(state)?.change_model_aliases(
        engine,
        &[(ModelAlias::Challenger, Some(m.clone()))],
        ModelAlias::Challenger,
        "set",
        at,
        actor,
        &detail,
    )?;
    Ok(())
}

/// What one run of the retraining job did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobAction {
    /// The challenger beat the champion on the decisions and now decides.
    Promoted,
    /// A new candidate was trained on the decisions and scores in shadow.
    ChallengerRegistered,
    /// Nothing to do yet: the challenger has too few decided proposals scored
    /// in shadow, or the store too few decisions to train on.
    Waiting,
}

/// The retraining job's account (`reckon retrain --json`).
#[derive(Clone, Debug, Serialize)]
pub struct JobSummary {
    pub action: JobAction,
    /// Why, in a sentence.
    pub detail: String,
    /// The promotion comparison, when a challenger was judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<reckon_state::models::Comparison>,
    /// The candidate trained, when one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub training: Option<RetrainReport>,
}

/// One run of the retraining job a scheduler calls: a registered challenger
/// is judged first (promoted when the rule is met; left to gather evidence
/// while it has fewer decided proposals scored in shadow than the rule needs);
/// otherwise — no challenger, or one the decisions refused — a candidate is
/// trained on the decisions into `models_dir/cash_v<runs>_0` and
/// registered as challenger.
pub fn job(
    state: &Path,
    models_dir: &Path,
    params: &RetrainParams,
    rule: &reckon_state::models::PromotionRule,
    actor: &str,
    at: &str,
) -> Result<JobSummary, RetrainError> {
    use reckon_state::models::{ENGINE_MATCH, ModelAlias};
    let mut s = reckon_state::Store::open(state)?;
    let aliases = s.model_aliases()?;
    let runs = s.runs()?.len();
    drop(s);
    let find = |alias| aliases.iter().find(|a| a.engine == ENGINE_MATCH && a.alias == alias);
    if find(ModelAlias::Challenger).is_some() {
        let (c, m) = promote(state, rule, actor, at)?;
        if c.promote {
            return Ok(JobSummary {
                action: JobAction::Promoted,
                detail: format!(
                    "{} promoted: {} {:.4} against {:.4} on {} decided proposals",
                    m.model_id,
                    rule.metric,
                    metric(&c.challenger, rule),
                    metric(&c.champion, rule),
                    c.labelled
                ),
                comparison: Some(c),
                candidate: None,
                training: None,
            });
        }
        if c.labelled < rule.min_labels {
            return Ok(JobSummary {
                action: JobAction::Waiting,
                detail: format!(
                    "{} has {} decided proposals scored in shadow; the rule needs {}",
                    m.model_id, c.labelled, rule.min_labels
                ),
                comparison: Some(c),
                candidate: None,
                training: None,
            });
        }
    }
    let champion = champion(state, &MatchConfig::default().model)?;
    let params = RetrainParams { anchor: champion.weights.map(|w| (champion.id, w)), ..params.clone() };
    let out = models_dir.join(format!("cash_v{runs}_0"));
    match train_from_decisions(state, &out, &params, champion.auto) {
        Ok(r) => {
            let m = challenge(state, &out.display().to_string(), actor, at)?;
            Ok(JobSummary {
                action: JobAction::ChallengerRegistered,
                detail: format!(
                    "{} trained on {} decided proposals, {} other candidate groups of their receipts and {} weak positives; it scores in shadow until promoted",
                    m.model_id,
                    r.train.decided_right + r.train.decided_wrong,
                    r.train.candidates_right + r.train.candidates_wrong,
                    r.train.weak_positive
                ),
                comparison: None,
                candidate: Some(out.display().to_string()),
                training: Some(r),
            })
        }
        Err(e @ RetrainError::TooFewLabels { .. }) => Ok(JobSummary {
            action: JobAction::Waiting,
            detail: e.to_string(),
            comparison: None,
            candidate: None,
            training: None,
        }),
        Err(e) => Err(e),
    }
}

fn metric(f: &reckon_state::models::Figures, rule: &reckon_state::models::PromotionRule) -> f64 {
    match rule.metric {
        reckon_state::models::PromotionMetric::Brier => f.brier,
        reckon_state::models::PromotionMetric::LogLoss => f.log_loss,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(entity: &str, right: bool) -> Row {
        Row {
            seq: 0,
            source: Source::Proposal,
            features: Vec::new(),
            right,
            weight: 1.0,
            confidence: 0.0,
            key: String::new(),
            entity: Some(entity.to_string()),
        }
    }

    /// An entity whose own held-out rows establish the target gets its own
    /// threshold; one with too few rows, or whose rows put it where the global
    /// one is, does not.
    #[test]
    fn entities_with_decisions_enough_get_their_own_threshold() {
        let (mut scores, mut rows) = (Vec::new(), Vec::new());
        // DE01: 3,000 rows; right above 0.7, wrong below.
        for i in 0..3000 {
            let s = i as f64 / 3000.0;
            scores.push(s);
            rows.push(row("DE01", s > 0.7));
        }
        // US01: 100 rows, every one right.
        for i in 0..100 {
            scores.push(0.9 + i as f64 / 1000.0);
            rows.push(row("US01", true));
        }
        let refs: Vec<&Row> = rows.iter().collect();
        let rule = reckon_learn::threshold::ThresholdRule::MinPrecision { target: 0.99, z: 1.645, floor: 0.5 }
            .check()
            .unwrap_or_else(|e| panic!("{e}"));
        let t = entity_thresholds(&scores, &refs, &rule, 200, 0.5, 0.95);
        assert_eq!(t.keys().collect::<Vec<_>>(), ["DE01"], "{t:?}");
        let de = &t["DE01"];
        assert!(de.threshold > 0.69 && de.threshold < 0.71, "{de:?}");
        assert_eq!(de.rows, 3000);
        assert!(de.precision_lower >= 0.99, "{de:?}");
        // The same cut as the global threshold: nothing of its own.
        assert!(entity_thresholds(&scores, &refs, &rule, 200, 0.5, de.threshold).is_empty());
        // Judged from 50 rows, US01's 100 rows, all right, still cannot
        // establish 0.99 (Wilson lower bound 100/102.7 = 0.974).
        let t = entity_thresholds(&scores, &refs, &rule, 50, 0.5, 0.95);
        assert_eq!(t.keys().collect::<Vec<_>>(), ["DE01"], "{t:?}");
    }
}
