//! Leave-one-world-out evaluation (`reckon worlds`): quality measured on a
//! world no model was trained or tuned on.
//!
//! For every world of [`reckon_synth::world`] three scenarios are generated
//! (train, validation, test; seeds `seed`, `seed + 1`, `seed + 2`). For each
//! world `W` the three models are trained on the *other* trainable worlds'
//! training scenarios, their thresholds chosen on those worlds' validation
//! scenarios, and `reckon run` is scored on `W`'s test scenario. A world marked
//! `held_out` is never trained on: it is judged by models trained on every
//! trainable world. Every book is trained on and run with its company's own
//! settings (`truth/reckon.toml`: approval limits and working day, what its
//! controller configures). The shipped models (trained on what their model
//! cards name: the standard scenario, and for journals also three worlds' training seeds) are
//! scored on the same test scenario beside them, and an isolation forest fit
//! on the test book alone is the journal baseline to beat.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reckon_synth::world::{WORLDS, World};
use serde::Serialize;

/// What can stop the evaluation.
#[derive(Debug, thiserror::Error)]
pub enum WorldsError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("world {world}: training on {trained_on}: {source}")]
    Train {
        world: String,
        trained_on: String,
        #[source]
        source: Box<crate::LabError>,
    },
    #[error("world {world}: run: {source}")]
    Run {
        world: String,
        #[source]
        source: Box<crate::LabError>,
    },
    #[error("world {world}: evaluation: {source}")]
    Eval {
        world: String,
        #[source]
        source: Box<crate::LabError>,
    },
    #[error("{0}")]
    Setting(String),
}

/// What to evaluate.
#[derive(Clone, Debug)]
pub struct WorldsConfig {
    /// Working folder: `data/<world>/{train,validation,test}`, `models/<fold>/`,
    /// `runs/<world>/{fold,shipped}`, `worlds.json`.
    pub dir: PathBuf,
    /// Scale of every scenario (AR open items; journals are a quarter of it).
    pub scale: usize,
    /// Seed of the first scenario of each world.
    pub seed: u64,
    /// The worlds to use (default: all); at least two trainable ones.
    pub worlds: Vec<&'static World>,
    /// Standard errors of the auto threshold's precision bound (as `reckon train
    /// match --z`; default one-sided 95 %). Small scenarios cannot prove 0.998
    /// at 95 %; 0 uses the point estimate.
    pub z: f64,
    /// The probability a group must reach by itself to be cleared automatically
    /// (as `reckon train cash --floor`; default the target, 0.998).
    pub floor: f64,
    /// Also score the shipped models on every test scenario.
    pub shipped: bool,
    /// Keep the scenarios and fold models a previous evaluation left in `dir`
    /// (valid only for the same build of reckon); by default they are made anew.
    pub reuse: bool,
}

impl WorldsConfig {
    pub fn new(dir: &Path, scale: usize, seed: u64) -> WorldsConfig {
        WorldsConfig {
            dir: dir.to_path_buf(),
            scale,
            seed,
            worlds: WORLDS.iter().collect(),
            z: reckon_learn::threshold::Z_95,
            floor: 0.998,
            shipped: true,
            reuse: false,
        }
    }
}

/// One goal of the "done when", as a figure name and its bound.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Goal {
    pub figure: &'static str,
    pub at_least: Option<f64>,
    pub at_most: Option<f64>,
}

/// The goals every world must meet.
pub const GOALS: &[Goal] = &[
    Goal { figure: "cash.auto_precision", at_least: Some(0.998), at_most: None },
    Goal { figure: "cash.touchless", at_least: Some(0.90), at_most: None },
    Goal { figure: "cash.recall_any_band", at_least: Some(0.99), at_most: None },
    Goal { figure: "duplicates.f1", at_least: Some(0.97), at_most: None },
    Goal { figure: "duplicates.worst_false_alarm_rate", at_least: None, at_most: Some(0.01) },
    Goal { figure: "journals.roc_auc", at_least: Some(0.97), at_most: None },
    Goal { figure: "journals.roc_auc_over_iforest", at_least: Some(0.05), at_most: None },
];

impl Goal {
    pub fn met(&self, v: f64) -> bool {
        self.at_least.is_none_or(|lo| v >= lo) && self.at_most.is_none_or(|hi| v <= hi)
    }
}

/// One world's result.
#[derive(Clone, Debug, Serialize)]
pub struct WorldResult {
    pub world: String,
    pub held_out: bool,
    /// The worlds its models were trained on.
    pub trained_on: Vec<String>,
    /// `reckon eval` figures with the fold's models, plus
    /// `duplicates.worst_false_alarm_rate`, `journals.iforest_roc_auc` and
    /// `journals.roc_auc_over_iforest`.
    pub figures: BTreeMap<String, f64>,
    /// The same figures with the shipped models.
    pub shipped: BTreeMap<String, f64>,
    /// Goals missed with the fold's models.
    pub missed: Vec<String>,
}

fn io(p: &Path) -> impl FnOnce(std::io::Error) -> WorldsError + '_ {
    move |e| WorldsError::Io(p.display().to_string(), e)
}

/// The scenario of `world` for `role` (`train`, `validation`, `test`), generated
/// when missing (the same seed and scale give the same files).
fn scenario(cfg: &WorldsConfig, world: &'static World, role: usize) -> Result<PathBuf, WorldsError> {
    let name = ["train", "validation", "test"][role];
    let dir = cfg.dir.join("data").join(world.name).join(name);
    let mut g = reckon_synth::Config::new(cfg.seed + role as u64, cfg.scale);
    g.world = Some(world);
    let want = serde_json::to_value(&g).map_err(|e| WorldsError::Setting(e.to_string()))?;
    let have = std::fs::read_to_string(dir.join("truth/summary.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .map(|v| v["config"].clone());
    let settings = std::fs::read_to_string(dir.join("truth/reckon.toml")).ok();
    if have.as_ref() != Some(&want) || settings.as_deref() != Some(world.settings().as_str()) {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
        }
        tracing::info!(world = world.name, role = name, "generating");
        reckon_synth::generate(&dir, &g).map_err(io(&dir))?;
    }
    Ok(dir)
}

/// Trains the three models on `train` worlds into `cfg.dir/models/<a+b+…>/`
/// (kept: a second call with the same worlds reuses them).
fn train_fold(cfg: &WorldsConfig, train: &[&'static World], target: &str) -> Result<PathBuf, WorldsError> {
    let names: Vec<&str> = train.iter().map(|w| w.name).collect();
    let fold = cfg.dir.join("models").join(format!("{}@z{}-floor{}", names.join("+"), cfg.z, cfg.floor));
    let err = |e| WorldsError::Train { world: target.into(), trained_on: names.join(", "), source: Box::new(e) };
    let mut tr = Vec::new();
    let mut va = Vec::new();
    for w in train {
        tr.push(scenario(cfg, w, 0)?);
        va.push(scenario(cfg, w, 1)?);
    }
    let done = |m: &str| fold.join(m).join("config.json").is_file() && fold.join(m).join("MODEL_CARD.md").is_file();
    if !done("cash_v0_1") {
        tracing::info!(fold = %names.join("+"), "training cash matching");
        let params =
            crate::cash::TrainParams { target_precision: 0.998, z: cfg.z, floor: cfg.floor, ..Default::default() };
        crate::cash::train(&tr, &va, &fold.join("cash_v0_1"), params).map_err(err)?;
    }
    if !done("duplicates_v0_1") {
        tracing::info!(fold = %names.join("+"), "training duplicates");
        crate::duplicates::train(&tr, &va, &fold.join("duplicates_v0_1"), Default::default()).map_err(err)?;
    }
    if !done("journals_v0_1") {
        tracing::info!(fold = %names.join("+"), "training journals");
        crate::journals::train(&tr, &va, &fold.join("journals_v0_1"), Default::default()).map_err(err)?;
    }
    Ok(fold)
}

/// Runs reckon on `test` with the models of `fold` (or the shipped ones) and
/// evaluates the outputs.
fn run_and_eval(
    test: &Path,
    out: &Path,
    fold: Option<&Path>,
    world: &str,
) -> Result<BTreeMap<String, f64>, WorldsError> {
    // The company's own settings (approval limits, working day), as its controller
    // would configure them; the models are the fold's.
    let mut config = crate::model::company_config(test)
        .map_err(|e| WorldsError::Run { world: world.into(), source: Box::new(e) })?;
    if let Some(f) = fold {
        config.cash.model = f.join("cash_v0_1").display().to_string();
        config.duplicates.model = f.join("duplicates_v0_1").display().to_string();
        config.journals.model = f.join("journals_v0_1").display().to_string();
    }
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(io(out))?;
    }
    let mut opts = reckon_pipeline::RunOptions::new(test, out, config);
    opts.started_at = chrono::DateTime::parse_from_rfc3339("2026-11-30T00:00:00Z").ok().map(|t| t.to_utc());
    reckon_pipeline::run(&opts).map_err(|e| WorldsError::Run { world: world.into(), source: Box::new(e.into()) })?;
    let mut f = crate::eval::figures(out, &test.join("truth"))
        .map_err(|e| WorldsError::Eval { world: world.into(), source: Box::new(e) })?;
    let worst =
        f.iter().filter(|(k, _)| k.starts_with("duplicates.false_alarms.")).map(|(_, v)| *v).fold(0.0f64, f64::max);
    f.insert("duplicates.worst_false_alarm_rate".into(), worst);
    Ok(f)
}

/// Runs the leave-one-world-out evaluation; results with the worst world first
/// (most goals missed, then lowest journal ROC-AUC, then lowest touchless).
pub fn evaluate(cfg: &WorldsConfig) -> Result<Vec<WorldResult>, WorldsError> {
    let trainable: Vec<&'static World> = cfg.worlds.iter().copied().filter(|w| !w.held_out).collect();
    if trainable.len() < 2 {
        return Err(WorldsError::Setting(format!(
            "leave-one-world-out needs at least two trainable worlds, got {}",
            trainable.len()
        )));
    }
    if !cfg.reuse {
        for sub in ["data", "models", "runs"] {
            let d = cfg.dir.join(sub);
            if d.exists() {
                std::fs::remove_dir_all(&d).map_err(io(&d))?;
            }
        }
    }
    std::fs::create_dir_all(&cfg.dir).map_err(io(&cfg.dir))?;
    let mut results = Vec::new();
    for &w in &cfg.worlds {
        let train: Vec<&'static World> = trainable.iter().copied().filter(|t| t.name != w.name).collect();
        let fold = train_fold(cfg, &train, w.name)?;
        let test = scenario(cfg, w, 2)?;
        let runs = cfg.dir.join("runs").join(format!("{}@z{}-floor{}", w.name, cfg.z, cfg.floor));
        tracing::info!(world = w.name, "running and evaluating");
        let mut figures = run_and_eval(&test, &runs.join("fold"), Some(&fold), w.name)?;
        let mut shipped =
            if cfg.shipped { run_and_eval(&test, &runs.join("shipped"), None, w.name)? } else { BTreeMap::new() };
        let iforest = crate::journals::in_book_iforest_roc_auc(&test)
            .map_err(|e| WorldsError::Eval { world: w.name.into(), source: Box::new(e) })?;
        for f in [&mut figures, &mut shipped].into_iter().filter(|f| !f.is_empty()) {
            f.insert("journals.iforest_roc_auc".into(), iforest);
            if let Some(auc) = f.get("journals.roc_auc").copied() {
                f.insert("journals.roc_auc_over_iforest".into(), auc - iforest);
            }
        }
        let missed = GOALS
            .iter()
            .filter(|g| figures.get(g.figure).is_none_or(|v| !g.met(*v)))
            .map(|g| g.figure.to_string())
            .collect();
        results.push(WorldResult {
            world: w.name.into(),
            held_out: w.held_out,
            trained_on: train.iter().map(|t| t.name.to_string()).collect(),
            figures,
            shipped,
            missed,
        });
    }
    let key = |r: &WorldResult, k: &str| r.figures.get(k).copied().unwrap_or(0.0);
    results.sort_by(|a, b| {
        b.missed
            .len()
            .cmp(&a.missed.len())
            .then(key(a, "journals.roc_auc").total_cmp(&key(b, "journals.roc_auc")))
            .then(key(a, "cash.touchless").total_cmp(&key(b, "cash.touchless")))
            .then(a.world.cmp(&b.world))
    });
    let json = serde_json::to_string_pretty(&results).map_err(|e| WorldsError::Setting(e.to_string()))?;
    let path = cfg.dir.join("worlds.json");
    std::fs::write(&path, json + "\n").map_err(io(&path))?;
    Ok(results)
}

/// The figures a table shows, in order, with a short heading.
pub const COLUMNS: &[(&str, &str)] = &[
    ("cash.auto_precision", "cash auto precision"),
    ("cash.touchless", "touchless"),
    ("cash.recall_any_band", "recall"),
    ("duplicates.f1", "dup F1"),
    ("duplicates.worst_false_alarm_rate", "worst hard-negative rate"),
    ("journals.roc_auc", "journal ROC-AUC"),
    ("journals.iforest_roc_auc", "IsolationForest ROC-AUC"),
];

/// A Markdown table of the results: one row per world with the fold's models
/// (a figure that misses its goal in bold), and one with the shipped models.
pub fn table(results: &[WorldResult]) -> String {
    let mut s = String::from("| world | models | trained on |");
    for (_, h) in COLUMNS {
        s.push_str(&format!(" {h} |"));
    }
    s.push_str("\n|---|---|---|");
    s.push_str(&"---|".repeat(COLUMNS.len()));
    s.push('\n');
    for r in results {
        for (label, f, trained) in [
            ("left out", &r.figures, r.trained_on.join(", ")),
            ("shipped", &r.shipped, "their model cards' scenarios".to_string()),
        ]
        .into_iter()
        .filter(|(_, f, _)| !f.is_empty())
        {
            let name = if r.held_out { format!("{} (held out)", r.world) } else { r.world.clone() };
            s.push_str(&format!("| {name} | {label} | {trained} |"));
            for (k, _) in COLUMNS {
                let v = f.get(*k).copied();
                let goal = GOALS.iter().find(|g| g.figure == *k);
                let cell = match v {
                    None => "—".to_string(),
                    Some(v) if goal.is_some_and(|g| !g.met(v)) => format!("**{v:.4}**"),
                    Some(v) => format!("{v:.4}"),
                };
                s.push_str(&format!(" {cell} |"));
            }
            s.push('\n');
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goals_bind_on_both_sides() {
        let g = GOALS.iter().find(|g| g.figure == "cash.touchless").map(|g| (g.met(0.90), g.met(0.8999)));
        assert_eq!(g, Some((true, false)));
        let g = GOALS
            .iter()
            .find(|g| g.figure == "duplicates.worst_false_alarm_rate")
            .map(|g| (g.met(0.01), g.met(0.0101)));
        assert_eq!(g, Some((true, false)));
    }
}
