//! What can stop training or evaluation, as one typed error.

use std::path::{Path, PathBuf};

use reckon_learn::threshold::ThresholdError;

/// Why a model could not be trained, checked or evaluated.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A file or folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Something went wrong inside one scenario folder.
    #[error("{}: {source}", path.display())]
    In {
        path: PathBuf,
        #[source]
        source: Box<LabError>,
    },
    #[error(transparent)]
    Load(#[from] reckon_ingest::discover::DiscoverError),
    #[error(transparent)]
    Inputs(#[from] reckon_pipeline::inputs::InputsError),
    /// One of reckon's output tables is not what a run writes.
    #[error("{file}: {source}")]
    Output {
        file: &'static str,
        #[source]
        source: reckon_pipeline::frame::FrameError,
    },
    #[error(transparent)]
    Polars(#[from] polars::prelude::PolarsError),
    /// A run's `manifest.json` could not be read back.
    #[error(transparent)]
    Manifest(#[from] reckon_pipeline::manifest::ReadError),
    /// A model folder a run names could not be found or loaded.
    #[error(transparent)]
    Model(#[from] reckon_pipeline::model::ModelError),
    #[error(transparent)]
    Learn(#[from] reckon_learn::LearnError),
    #[error(transparent)]
    Onnx(#[from] reckon_onnx::OnnxError),
    /// A scorer behind `reckon_cash::GroupScorer` failed.
    #[error("scoring: {0}")]
    Scorer(Box<dyn std::error::Error + Send + Sync>),
    #[error(transparent)]
    Monitor(#[from] reckon_monitor::MonitorError),
    #[error("{what}: {source}")]
    Threshold {
        what: &'static str,
        #[source]
        source: ThresholdError,
    },
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Config(#[from] reckon_pipeline::config::ConfigError),
    #[error(transparent)]
    Journals(#[from] reckon_pipeline::journals::RiskError),
    #[error(transparent)]
    Setting(#[from] reckon_core::InvalidSetting),
    #[error(transparent)]
    Run(#[from] Box<reckon_pipeline::RunError>),
    /// A scenario's truth file is missing, unreadable or lacks a column.
    #[error("{}: {reason}", file.display())]
    Truth { file: PathBuf, reason: String },
    /// The training parameters cannot train a model.
    #[error("training parameters: {0}")]
    Params(String),
    /// The data cannot train or judge a model (no receipts, no labels, …).
    #[error("{0}")]
    Data(String),
    /// A validation or test scenario is the training data itself.
    #[error(
        "{role} data {} is the training data (sha256 {digest}): choose thresholds and report quality on other data",
        path.display()
    )]
    SameData { role: String, path: PathBuf, digest: String },
    /// A model card says something other than its config.
    #[error("MODEL_CARD.md does not say what config.json says: missing the line \"{0}\"")]
    CardContradicts(String),
}

/// An L2 strength a trainer can use: finite and above 0.
pub fn check_alpha(alpha: f64) -> Result<(), LabError> {
    if alpha.is_finite() && alpha > 0.0 {
        Ok(())
    } else {
        Err(LabError::Params(format!("alpha {alpha} is not a finite number > 0")))
    }
}

impl LabError {
    /// Wraps an io error with the path it happened at: `.map_err(LabError::io(p))`.
    pub fn io(path: &Path) -> impl Fn(std::io::Error) -> LabError + '_ {
        move |source| LabError::Io { path: path.to_path_buf(), source }
    }

    /// Names the scenario folder an error happened in: `.map_err(LabError::in_dir(d))`.
    pub fn in_dir<E: Into<LabError>>(path: &Path) -> impl Fn(E) -> LabError + '_ {
        move |e| LabError::In { path: path.to_path_buf(), source: Box::new(e.into()) }
    }

    /// An output table's column that could not be read: `.map_err(LabError::output("matches.parquet"))`.
    pub fn output(file: &'static str) -> impl Fn(reckon_pipeline::frame::FrameError) -> LabError {
        move |source| LabError::Output { file, source }
    }

    /// A threshold that could not be chosen.
    pub fn threshold(what: &'static str) -> impl Fn(ThresholdError) -> LabError {
        move |source| LabError::Threshold { what, source }
    }
}

impl From<reckon_pipeline::RunError> for LabError {
    fn from(e: reckon_pipeline::RunError) -> Self {
        LabError::Run(Box::new(e))
    }
}
