//! The cash-matching model at run time: where model folders are looked up
//! (`resolve`) and the served model as the engine's group scorer
//! (`load_scorer`, refused when its feature spec is not the engine's). Its
//! training is in reckon-lab (`reckon train cash`).

use std::path::{Path, PathBuf};

use reckon_cash::{FEATURE_SPEC, FEATURES, GroupScorer, MatchConfig};
use reckon_onnx::Model;

/// Why a stage cannot use a model folder.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Onnx(#[from] reckon_onnx::OnnxError),
    #[error("{dir}: trained on feature spec {trained} ({features} features) but reckon computes {computes}")]
    Spec { dir: PathBuf, trained: String, features: usize, computes: String },
    #[error("{setting} '{name}' not found in {dirs:?} ({hint}){renamed}")]
    NotFound { setting: &'static str, name: String, dirs: Vec<PathBuf>, hint: &'static str, renamed: String },
    #[error("{dir}: {reason}")]
    Inputs { dir: PathBuf, reason: String },
}

/// A served model as the engine's group scorer.
#[derive(Debug)]
pub struct OnnxScorer(pub Model);

impl GroupScorer for OnnxScorer {
    fn score(&self, rows: usize, features: &[f32]) -> Result<Vec<f32>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.0.score(rows, features)?)
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

/// Resolves a configured model (`cash.model`, …: a folder name or a path) to a folder.
pub fn resolve(name: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.join("config.json").is_file() {
        return Some(p.to_path_buf());
    }
    models_dirs().into_iter().map(|d| d.join(name)).find(|d| d.join("config.json").is_file())
}

/// [`resolve`], or a [`ModelError::NotFound`] naming the setting and what to
/// set instead (`hint`).
pub fn find(setting: &'static str, name: &str, hint: &'static str) -> Result<PathBuf, ModelError> {
    resolve(name).ok_or_else(|| ModelError::NotFound {
        setting,
        name: name.to_string(),
        dirs: models_dirs(),
        hint,
        renamed: renamed(name)
            .map(|n| format!("; model families were renamed on 2026-11-30: try '{n}'"))
            .unwrap_or_default(),
    })
}

/// The model families' names before 2026-11-30 (one name per engine since):
/// `cash_match_v2_2` → `cash_v2_2`, `ap_dedup_v2_0` → `duplicates_v2_0`,
/// `journal_anomaly_v3_0` → `journals_v3_0`.
pub fn renamed(name: &str) -> Option<String> {
    [("cash_match", "cash"), ("ap_dedup", "duplicates"), ("journal_anomaly", "journals")].iter().find_map(
        |(old, new)| {
            let (dir, file) = name.rsplit_once('/').map_or(("", name), |(d, f)| (d, f));
            let rest = file.strip_prefix(old).filter(|r| r.is_empty() || r.starts_with("_v") || r.starts_with('@'))?;
            Some(if dir.is_empty() { format!("{new}{rest}") } else { format!("{dir}/{new}{rest}") })
        },
    )
}

/// What a stage computes for a model: a fixed feature spec (name and columns in
/// order), or inputs the model names one by one and the stage builds by name.
#[derive(Clone, Copy, Debug)]
pub enum Spec<'a> {
    Fixed(&'a str, &'a [&'a str]),
    ByName(&'a str),
}

/// The one way a stage loads a model folder: `model.onnx` checked against its
/// config's hash (reckon-onnx), then refused unless it was trained on what the
/// stage computes — the spec's name and, for a fixed spec, its features in order.
pub fn load_checked(dir: &Path, spec: Spec<'_>) -> Result<Model, ModelError> {
    let m = Model::load(dir)?;
    let (name, fixed) = match spec {
        Spec::Fixed(n, f) => (n, Some(f)),
        Spec::ByName(n) => (n, None),
    };
    let same = m.config.feature_spec == name
        && fixed.is_none_or(|f| m.config.features.iter().map(String::as_str).eq(f.iter().copied()));
    if !same {
        return Err(ModelError::Spec {
            dir: dir.to_path_buf(),
            trained: m.config.feature_spec.clone(),
            features: m.config.features.len(),
            computes: name.to_string(),
        });
    }
    Ok(m)
}

/// Loads the configured scorer (None for `rules`). A model that is named but
/// missing or broken is an error: results must not silently change method.
pub fn load_scorer(cfg: &MatchConfig) -> Result<Option<OnnxScorer>, ModelError> {
    if cfg.model == "rules" {
        return Ok(None);
    }
    let dir = find("cash.model", &cfg.model, "set cash.model = \"rules\" to use rule scores")?;
    Ok(Some(OnnxScorer(load_checked(&dir, Spec::Fixed(FEATURE_SPEC, FEATURES))?)))
}

/// Loads `matching.challenger` (None when empty): a model of the same feature
/// spec as the engine computes, scored in shadow.
pub fn load_challenger(cfg: &MatchConfig) -> Result<Option<OnnxScorer>, ModelError> {
    if cfg.challenger.is_empty() {
        return Ok(None);
    }
    let dir = find("cash.challenger", &cfg.challenger, "leave matching.challenger empty to run without one")?;
    Ok(Some(OnnxScorer(load_checked(&dir, Spec::Fixed(FEATURE_SPEC, FEATURES))?)))
}

/// A model's training reference and the run's rows counted against it: wraps
/// the served scorer, so every row the engine scores is counted (integer bin
/// counts, the same whatever the thread count).
#[derive(Debug)]
pub struct Monitor {
    reference: reckon_monitor::Reference,
    counts: std::sync::Mutex<reckon_monitor::Histogram>,
}

impl Monitor {
    /// The monitor of a loaded model: `None` when its folder has no
    /// `reference.json`; an error when the reference is unreadable or does not
    /// describe the model's features.
    pub fn of(m: &Model) -> Result<Option<Monitor>, ModelError> {
        let inputs = |reason: String| ModelError::Inputs { dir: m.dir.clone(), reason };
        let Some(reference) = reckon_monitor::Reference::read(&m.dir).map_err(|e| inputs(e.to_string()))? else {
            return Ok(None);
        };
        reference.check_features(&m.config.features).map_err(|e| inputs(e.to_string()))?;
        let counts = std::sync::Mutex::new(reckon_monitor::Histogram::new(&reference));
        Ok(Some(Monitor { reference, counts }))
    }

    /// Counts scored rows.
    pub fn add(&self, features: &[f32], scores: &[f32]) {
        let mut h = reckon_monitor::Histogram::new(&self.reference);
        h.add(&self.reference, features, scores);
        self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner).merge(&h);
    }

    /// The drift of the rows counted so far, and starts counting anew.
    pub fn take(&self, limits: &reckon_monitor::DriftLimits) -> reckon_monitor::Drift {
        let mut c = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let d = c.drift(&self.reference, limits);
        *c = reckon_monitor::Histogram::new(&self.reference);
        d
    }
}

/// A served scorer whose rows are counted by its monitor.
#[derive(Debug)]
pub struct Monitored<'a> {
    pub scorer: &'a OnnxScorer,
    pub monitor: &'a Monitor,
}

impl GroupScorer for Monitored<'_> {
    fn score(&self, rows: usize, features: &[f32]) -> Result<Vec<f32>, Box<dyn std::error::Error + Send + Sync>> {
        let s = self.scorer.score(rows, features)?;
        self.monitor.add(features, &s);
        Ok(s)
    }
    fn id(&self) -> String {
        self.scorer.id()
    }
}

/// An exception about a served model (one problem per kind and model id: the
/// same exception id while the model is served), for a person to review.
fn model_exception(
    kind: reckon_feed::ExceptionKind,
    model_id: &str,
    run_id: &str,
    score: f64,
    reasons: Vec<reckon_feed::Reason>,
    recommended_action: &str,
) -> reckon_feed::Exception {
    use reckon_feed::{Band, Exception};
    let records = vec![format!("models:{model_id}")];
    Exception {
        exception_id: Exception::id_for(kind, &records),
        run_id: run_id.to_string(),
        kind,
        band: Band::Review,
        score,
        confidence: 0.0,
        entity: None,
        currency: None,
        amount: None,
        records,
        reasons,
        recommended_action: recommended_action.to_string(),
        model: Some(model_id.to_string()),
        priority: 0,
        lifecycle: None,
    }
}

/// The `calibration_drift` exception for a model whose decided proposals were
/// found right markedly more or less often than it said.
pub fn calibration_exception(
    model_id: &str,
    c: &reckon_monitor::Calibration,
    run_id: &str,
) -> Option<reckon_feed::Exception> {
    use reckon_feed::{ExceptionKind, Reason};
    if c.moved.is_empty() {
        return None;
    }
    let worst =
        c.bands.iter().filter(|b| b.moved).map(|b| (b.mean_probability - b.found_right).abs()).fold(0.0, f64::max);
    let reason = Reason {
        code: "calibration_drift".into(),
        text: format!("of the newest {} decisions on its proposals, {}", c.decided, c.describe()),
        weight: 1.0,
    };
    Some(model_exception(
        ExceptionKind::CalibrationDrift,
        model_id,
        run_id,
        worst,
        vec![reason],
        "the model's probabilities no longer say how often its proposals are right: check the auto threshold, retrain on recent decisions and run the candidate in shadow",
    ))
}

/// The `model_drift` exception for a model whose rows moved in this run.
pub fn drift_exception(model_id: &str, d: &reckon_monitor::Drift, run_id: &str) -> Option<reckon_feed::Exception> {
    use reckon_feed::{ExceptionKind, Reason};
    if d.moved.is_empty() && !d.score_moved {
        return None;
    }
    let mut reasons = Vec::new();
    if !d.moved.is_empty() {
        reasons.push(Reason {
            code: "feature_drift".into(),
            text: format!(
                "{} of the {} rows scored moved from the training reference of {} rows: {}",
                d.moved.len(),
                d.rows,
                d.reference_rows,
                d.describe()
            ),
            weight: 1.0,
        });
    }
    if d.score_moved {
        reasons.push(Reason {
            code: "score_drift".into(),
            text: format!("the scores moved from the training reference (PSI {:.3})", d.score.psi),
            weight: 1.0,
        });
    }
    let worst = d.features.iter().chain([&d.score]).map(|c| c.psi).fold(0.0, f64::max);
    Some(model_exception(
        ExceptionKind::ModelDrift,
        model_id,
        run_id,
        worst,
        reasons,
        "check the bank's and the books' formats for a change, retrain the model on recent decisions and run it in shadow before promoting it",
    ))
}
