//! The cash-matching model at run time: where model folders are looked up
//! (`resolve`) and the served model as the engine's group scorer
//! (`load_scorer`, refused when its feature spec is not the engine's). Its
//! training is in reckon-lab (`reckon train match`).

use std::path::{Path, PathBuf};

use reckon_match::{FEATURE_SPEC, FEATURES, GroupScorer, MatchConfig};
use reckon_onnx::Model;

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
