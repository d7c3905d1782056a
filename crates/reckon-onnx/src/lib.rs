//! reckon-onnx: ONNX models served in-process with ONNX Runtime.
//!
//! [`runtime`] finds the ONNX Runtime shared library — `ORT_DYLIB_PATH`, then
//! reckon's cache folder, then a matching Python `onnxruntime` package — and if
//! none is there provisions it from the hash-pinned `onnxruntime` wheel on PyPI
//! (through `pip download`; only the library is extracted). `ort` loads it with
//! `load-dynamic`; no hand install, no CDN.
//!
//! [`Model`] is a model folder (`models/<name>_v<major>_<minor>/`): `model.onnx`,
//! `config.json` (feature names, output, thresholds, the model file's sha256)
//! and `MODEL_CARD.md`. It checks the hash, opens a session and scores rows of
//! `f32` features given as one row-major slice (no ndarray crosses the API, so
//! linfa's ndarray 0.16 and ort's 0.17 never meet).

pub mod runtime;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Why a model cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    #[error("model {0}: {1}")]
    Model(PathBuf, String),
}

/// `config.json` of a model folder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// e.g. `cash`.
    pub name: String,
    /// `major.minor`.
    pub version: String,
    /// What the model is for (`cash_match_group`, `journal_anomaly`, …).
    pub task: String,
    /// Feature spec version the model was trained on.
    pub feature_spec: String,
    /// Input features, in column order.
    pub features: Vec<String>,
    /// ONNX input and output tensor names.
    pub input: String,
    pub output: String,
    /// How the output maps to a score: `probability` (0–1, higher = more likely),
    /// `column:<k>` (take column k of a [N, C] output), `negate` (higher = more anomalous).
    pub output_mapping: String,
    /// Named thresholds (e.g. `auto`), chosen on validation data.
    #[serde(default)]
    pub thresholds: std::collections::BTreeMap<String, f64>,
    /// sha256 of `model.onnx`.
    pub model_sha256: String,
    /// sha256 of the training data (for the card and audits).
    #[serde(default)]
    pub training_data_sha256: String,
}

impl ModelConfig {
    /// The config of a model whose `features` [N, k] input gives `probability`
    /// [N, 1] = P(positive) (reckon's own logistic models).
    pub fn probability(
        name: &str,
        task: &str,
        feature_spec: &str,
        features: Vec<String>,
        model_bytes: &[u8],
        training_data_sha256: String,
    ) -> ModelConfig {
        ModelConfig {
            name: name.into(),
            version: "1.0".into(),
            task: task.into(),
            feature_spec: feature_spec.into(),
            features,
            input: "features".into(),
            output: "probability".into(),
            output_mapping: "probability".into(),
            thresholds: std::collections::BTreeMap::new(),
            model_sha256: reckon_core::id::sha256_hex(model_bytes),
            training_data_sha256,
        }
    }
}

/// Rows per inference call. Fixed, so that the batches — and so the scores — are
/// the same whatever the number of threads.
pub const CHUNK_ROWS: usize = 16_384;

/// A loaded model: one ONNX Runtime session per core, each single-threaded.
#[derive(Debug)]
pub struct Model {
    pub config: ModelConfig,
    pub dir: PathBuf,
    sessions: Vec<Mutex<ort::session::Session>>,
}

fn err(dir: &Path, e: impl std::fmt::Display) -> OnnxError {
    OnnxError::Model(dir.to_path_buf(), e.to_string())
}

impl Model {
    /// Loads `dir/config.json` and `dir/model.onnx`, checking the file's hash.
    pub fn load(dir: &Path) -> Result<Model, OnnxError> {
        let cfg_text =
            std::fs::read_to_string(dir.join("config.json")).map_err(|e| err(dir, format!("config.json: {e}")))?;
        let config: ModelConfig = serde_json::from_str(&cfg_text).map_err(|e| err(dir, format!("config.json: {e}")))?;
        let bytes = std::fs::read(dir.join("model.onnx")).map_err(|e| err(dir, format!("model.onnx: {e}")))?;
        let got = reckon_core::id::sha256_hex(&bytes);
        if got != config.model_sha256 {
            return Err(err(
                dir,
                format!("model.onnx sha256 {got} does not match config.json ({})", config.model_sha256),
            ));
        }
        Model::from_bytes(dir, config, &bytes)
    }

    /// A model from its bytes (tests, training's own check).
    pub fn from_bytes(dir: &Path, config: ModelConfig, bytes: &[u8]) -> Result<Model, OnnxError> {
        let env = runtime::env()?;
        let open = || {
            ort::session::Session::builder(env)
                // One intra-op thread: ONNX Runtime's parallel kernels may sum in another
                // order on another core count, and scores must not depend on the machine.
                // Parallelism comes from scoring fixed chunks on the rayon pool instead.
                .and_then(|b| b.with_intra_threads(1).map_err(ort::Error::from))
                .and_then(|mut b| b.commit_from_memory(bytes))
                .map_err(|e| err(dir, format!("ONNX Runtime refused the model: {e}")))
        };
        let first = open()?;
        let names: Vec<String> = first.inputs().iter().map(|o| o.name().to_string()).collect();
        if !names.contains(&config.input) {
            return Err(err(dir, format!("input '{}' not in the model (it has {names:?})", config.input)));
        }
        let mut sessions = vec![Mutex::new(first)];
        for _ in 1..rayon::current_num_threads().clamp(1, 16) {
            sessions.push(Mutex::new(open()?));
        }
        Ok(Model { config, dir: dir.to_path_buf(), sessions })
    }

    /// `name@version`, as exceptions and manifests cite it.
    pub fn id(&self) -> String {
        format!("{}@{}", self.config.name, self.config.version)
    }

    /// Scores `rows` rows of `features.len() / rows` features (row-major). Returns
    /// one score per row, mapped as the config says. Chunks of [`CHUNK_ROWS`] run
    /// in parallel on the rayon pool, each on a free session.
    pub fn score(&self, rows: usize, features: &[f32]) -> Result<Vec<f32>, OnnxError> {
        use rayon::prelude::*;
        let k = self.config.features.len();
        if rows == 0 {
            return Ok(Vec::new());
        }
        if features.len() != rows * k {
            return Err(err(&self.dir, format!("{} values for {rows} rows of {k} features", features.len())));
        }
        let parts: Vec<Vec<f32>> = features
            .par_chunks(CHUNK_ROWS * k)
            .enumerate()
            .map(|(c, x)| self.score_chunk(c, x.len() / k, x))
            .collect::<Result<_, _>>()?;
        Ok(parts.concat())
    }

    fn score_chunk(&self, chunk: usize, rows: usize, features: &[f32]) -> Result<Vec<f32>, OnnxError> {
        let k = self.config.features.len();
        let input = ort::value::TensorRef::from_array_view(([rows, k], features)).map_err(|e| err(&self.dir, e))?;
        // A free session if there is one, else wait for this chunk's own.
        let n = self.sessions.len();
        let mut s = (0..n)
            .find_map(|o| self.sessions[(chunk + o) % n].try_lock().ok())
            .unwrap_or_else(|| self.sessions[chunk % n].lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let out = s
            .run(ort::inputs![self.config.input.as_str() => input])
            .map_err(|e| err(&self.dir, format!("inference: {e}")))?;
        let v = out
            .get(&self.config.output)
            .ok_or_else(|| err(&self.dir, format!("no output '{}'", self.config.output)))?;
        let (shape, data) = v.try_extract_tensor::<f32>().map_err(|e| err(&self.dir, e))?;
        let cols = if shape.len() >= 2 { shape[1].max(1) as usize } else { 1 };
        let m = self.config.output_mapping.as_str();
        let col = match m.strip_prefix("column:") {
            Some(c) => c.parse::<usize>().map_err(|_| err(&self.dir, format!("bad output_mapping '{m}'")))?,
            None => cols - 1,
        };
        if col >= cols || data.len() != rows * cols {
            return Err(err(&self.dir, format!("output shape {shape:?} does not fit {rows} rows (column {col})")));
        }
        let pick = (0..rows).map(|r| data[r * cols + col]);
        Ok(if m == "negate" { pick.map(|x| -x).collect() } else { pick.collect() })
    }
}
