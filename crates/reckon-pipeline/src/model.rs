//! The cash-matching model: finding it, serving it as a group scorer, and
//! training it (`reckon train match`).
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

use reckon_learn::logistic::Logistic;
use reckon_learn::metrics;
use reckon_match::{FEATURE_SPEC, FEATURES, GroupScorer, MatchConfig};
use reckon_onnx::{Model, ModelConfig};
use serde::Serialize;

/// A served model as the engine's group scorer.
#[derive(Debug)]
pub struct OnnxScorer(pub Model);

impl GroupScorer for OnnxScorer {
    fn score(&self, rows: usize, features: &[f32]) -> Result<Vec<f32>, String> {
        self.0.score(rows, features).map_err(|e| e.to_string())
    }
    fn id(&self) -> String {
        self.0.id()
    }
}

/// Where model folders are looked up: `$RECKON_MODELS`, `./models`, the source tree's `models/`.
pub fn models_dirs() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(d) = std::env::var_os("RECKON_MODELS") {
        v.push(PathBuf::from(d));
    }
    v.push(PathBuf::from("models"));
    v.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models"));
    v
}

/// Resolves `matching.model` (a folder name or a path) to a folder.
pub fn resolve(name: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.join("config.json").is_file() {
        return Some(p.to_path_buf());
    }
    models_dirs().into_iter().map(|d| d.join(name)).find(|d| d.join("config.json").is_file())
}

/// Loads the configured scorer (None for `rules`). A model that is named but
/// missing or broken is an error: results must not silently change method.
pub fn load_scorer(cfg: &MatchConfig) -> Result<Option<OnnxScorer>, String> {
    if cfg.model == "rules" {
        return Ok(None);
    }
    let dir = resolve(&cfg.model).ok_or_else(|| {
        format!(
            "matching.model '{}' not found in {:?} (set matching.model = \"rules\" to use rule scores)",
            cfg.model,
            models_dirs()
        )
    })?;
    let m = Model::load(&dir).map_err(|e| e.to_string())?;
    if m.config.feature_spec != FEATURE_SPEC || m.config.features != FEATURES {
        return Err(format!(
            "{}: trained on feature spec {} but the engine has {FEATURE_SPEC}",
            dir.display(),
            m.config.feature_spec
        ));
    }
    Ok(Some(OnnxScorer(m)))
}

/// Writes a model folder: `model.onnx`, `config.json` and any further files
/// (`metrics.json`, `weights.json`, `MODEL_CARD.md`).
/// The version a model folder's name carries (`<name>_v<major>_<minor>` →
/// `major.minor`), else `1.0`.
pub fn version_of(dir: &Path) -> String {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    name.rsplit_once("_v")
        .and_then(|(_, v)| v.split_once('_'))
        .filter(|(a, b)| !a.is_empty() && !b.is_empty() && (a.to_string() + b).bytes().all(|c| c.is_ascii_digit()))
        .map_or("1.0".to_string(), |(a, b)| format!("{a}.{b}"))
}

pub fn write_folder(out: &Path, bytes: &[u8], cfg: &ModelConfig, extra: &[(&str, String)]) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let w = |name: &str, b: &[u8]| {
        std::fs::write(out.join(name), b).map_err(|e| format!("{}: {e}", out.join(name).display()))
    };
    w("model.onnx", bytes)?;
    w("config.json", (serde_json::to_string_pretty(cfg).map_err(|e| e.to_string())? + "\n").as_bytes())?;
    for (name, text) in extra {
        w(name, text.as_bytes())?;
    }
    Ok(())
}

/// Candidate rows of a generated scenario with labels.
fn labelled(dir: &Path, cfg: &MatchConfig) -> Result<(Vec<f64>, Vec<bool>, usize), String> {
    let loaded = reckon_ingest::load_dir(dir).map_err(|e| e.to_string())?;
    let i = crate::cash::inputs(&loaded).ok_or("no receipts or open items")?;
    let truth = crate::eval::cash_truth(&dir.join("truth")).map_err(|e| e.to_string())?;
    let rows = reckon_match::training_rows(&i.receipts, &i.items, &i.customers, &i.remittances, cfg);
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
    pub validation_auto_precision: f64,
    pub validation_touchless: f64,
    pub validation_recall_proposed: f64,
    pub target_precision: f64,
}

/// Trains the cash-matching scorer on `train`, chooses its threshold on
/// `validation` (both generated scenarios with `truth/`), writes the model folder.
pub fn train(train: &Path, validation: &Path, out: &Path, target_precision: f64) -> Result<TrainReport, String> {
    let cfg = MatchConfig { model: "rules".into(), ..MatchConfig::default() };
    let (x, y, _) = labelled(train, &cfg)?;
    let k = FEATURES.len();
    let lr = Logistic::fit(&x, k, &y, 0.05).map_err(|e| e.to_string())?;
    let data_hash = {
        let mut h = String::new();
        for f in
            ["bank_transactions.csv", "ar_open_items.csv", "customers.csv", "remittances.csv", "truth/cash_matches.csv"]
        {
            if let Ok(b) = std::fs::read(train.join(f)) {
                h.push_str(&reckon_core::id::sha256_hex(&b));
            }
        }
        reckon_core::id::sha256_hex(h.as_bytes())
    };
    let bytes = lr.to_onnx(&[("feature_spec", FEATURE_SPEC), ("task", "cash_match_group")]);
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut mc = ModelConfig::probability(
        "cash_match",
        "cash_match_group",
        FEATURE_SPEC,
        FEATURES.iter().map(|s| s.to_string()).collect(),
        &bytes,
        data_hash,
    );
    mc.version = version_of(out);
    let model = Model::from_bytes(out, mc.clone(), &bytes).map_err(|e| e.to_string())?;
    let scorer = OnnxScorer(model);
    // Validation: calibration over candidate rows, threshold over assigned groups.
    let (vx, vy, _) = labelled(validation, &cfg)?;
    let vf: Vec<f32> = vx.iter().map(|v| *v as f32).collect();
    let vp: Vec<f64> = scorer.score(vy.len(), &vf)?.into_iter().map(f64::from).collect();
    let loaded = reckon_ingest::load_dir(validation).map_err(|e| e.to_string())?;
    let i = crate::cash::inputs(&loaded).ok_or("validation: no receipts or open items")?;
    let res = reckon_match::run_with(&i.receipts, &i.items, &i.customers, &i.remittances, &cfg, Some(&scorer))?;
    let truth = crate::eval::cash_truth(&validation.join("truth")).map_err(|e| e.to_string())?;
    let mut pred: crate::eval::Predicted = BTreeMap::new();
    for m in &res.rows {
        pred.entry(m.txn_id.clone()).or_insert((BTreeSet::new(), false, m.confidence)).0.insert(m.item_id.clone());
    }
    // The lowest threshold whose auto precision on validation reaches the target.
    let matchable = truth.items.len().max(1) as f64;
    let mut best = (1.0f64, 0.0f64, 0.0f64);
    for step in 0..=200 {
        let t = 0.5 + f64::from(step) * 0.0025;
        let (mut n, mut ok) = (0u64, 0u64);
        for (txn, p) in &pred {
            if p.2 >= t {
                n += 1;
                if truth.items.get(txn).is_some_and(|s| *s == p.0) {
                    ok += 1;
                }
            }
        }
        let prec = if n == 0 { 1.0 } else { ok as f64 / n as f64 };
        if prec >= target_precision && n > 0 {
            best = (t, prec, ok as f64 / matchable);
            break;
        }
    }
    let any = pred.iter().filter(|(t, p)| truth.items.get(*t).is_some_and(|s| *s == p.0)).count() as f64 / matchable;
    mc.thresholds.insert("auto".into(), (best.0 * 10000.0).round() / 10000.0);
    let report = TrainReport {
        train_rows: y.len(),
        train_positive: y.iter().filter(|b| **b).count(),
        validation_rows: vy.len(),
        validation_roc_auc: metrics::roc_auc(&vp, &vy),
        validation_average_precision: metrics::average_precision(&vp, &vy),
        validation_brier: metrics::brier(&vp, &vy),
        validation_ece: metrics::ece(&vp, &vy, 10),
        validation_reliability: metrics::reliability(&vp, &vy, 10),
        auto_threshold: best.0,
        validation_auto_precision: best.1,
        validation_touchless: best.2,
        validation_recall_proposed: any,
        target_precision,
    };
    let weights = FEATURES.iter().zip(&lr.weights).map(|(f, w)| (f.to_string(), *w)).collect::<BTreeMap<_, _>>();
    write_folder(
        out,
        &bytes,
        &mc,
        &[
            ("metrics.json", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())? + "\n"),
            ("weights.json", serde_json::to_string_pretty(&weights).map_err(|e| e.to_string())? + "\n"),
            ("MODEL_CARD.md", card(&mc, &report, train, validation)),
        ],
    )?;
    Ok(report)
}

fn card(mc: &ModelConfig, r: &TrainReport, train: &Path, validation: &Path) -> String {
    let rel: String = r
        .validation_reliability
        .iter()
        .enumerate()
        .filter(|(_, (n, _, _))| *n > 0)
        .map(|(i, (n, m, o))| {
            format!("| {:.1}–{:.1} | {n} | {m:.3} | {o:.3} |\n", i as f64 / 10.0, (i + 1) as f64 / 10.0)
        })
        .collect();
    format!(
        "# Model card: {name} {version}\n\n\
## Intended use\n\
Scores each candidate group the cash-matching engine builds for a bank receipt\n\
(one payment ↔ one or more open items, or a partial/over payment) with the\n\
probability that the group is exactly right. reckon clears a receipt without a\n\
person when its assigned group's probability is at least the auto threshold\n\
({auto}); other groups go to review. Not for other tasks, currencies or\n\
matching engines than the one whose feature spec it names ({spec}).\n\n\
## Model\n\
Logistic regression (L2, alpha 0.05, linfa 0.8 on standardised features, folded\n\
back to raw features), exported as ONNX (MatMul, Add, Sigmoid; IR 8, opset 17)\n\
by reckon's own writer, served by ONNX Runtime {ort} through `ort`. Features\n\
(`{spec}`): {features}. Weights: `weights.json`.\n\n\
## Training data\n\
Generated scenario `{train}` ({rows} candidate groups, {pos} right ones);\n\
training data sha256 `{hash}`. Labels come from the scenario's truth\n\
(`truth/cash_matches.csv`): a group is right when its items are exactly the\n\
receipt's true items.\n\n\
## Validation (a different scenario: `{val}`)\n\
Candidate groups: {vrows}; ROC-AUC {auc:.4}, average precision {ap:.4}, Brier\n\
{brier:.4}, expected calibration error {ece:.4} (10 bins).\n\n\
| predicted | groups | mean predicted | observed right |\n|---|---|---|---|\n{rel}\n\
Auto threshold {auto}: the lowest cut whose auto precision on validation is at\n\
least {target} — measured {prec:.4}, touchless {touch:.4}; recall of proposals\n\
{any:.4}. The README reports `reckon eval` on a third scenario.\n\n\
## Limits\n\
Trained on generated data: real payers write references, names and amounts in\n\
ways the generator does not; retrain on labelled history (`reckon train match`)\n\
before trusting the threshold on real books. The probability is calibrated for\n\
the engine's candidate groups, not for arbitrary pairs. No FX features yet.\n\n\
## Reproduce\n\
```sh\n\
reckon generate --seed 1001 --scale 20000 --out /tmp/train\n\
reckon generate --seed 101 --scale 20000 --out /tmp/val\n\
reckon train match --input /tmp/train --validation /tmp/val --out models/{name}_v{ver}\n\
```\n",
        name = mc.name,
        version = mc.version,
        ver = mc.version.replace('.', "_"),
        auto = mc.thresholds.get("auto").copied().unwrap_or(1.0),
        spec = mc.feature_spec,
        ort = reckon_onnx::runtime::VERSION,
        features = mc.features.join(", "),
        train = train.display(),
        val = validation.display(),
        rows = r.train_rows,
        pos = r.train_positive,
        hash = mc.training_data_sha256,
        vrows = r.validation_rows,
        auc = r.validation_roc_auc,
        ap = r.validation_average_precision,
        brier = r.validation_brier,
        ece = r.validation_ece,
        target = r.target_precision,
        prec = r.validation_auto_precision,
        touch = r.validation_touchless,
        any = r.validation_recall_proposed,
    )
}
