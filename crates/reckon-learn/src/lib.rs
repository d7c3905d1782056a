//! reckon-learn: training reckon's models in Rust and writing them as ONNX.
//!
//! [`logistic`] fits an L2 logistic regression with linfa on standardised
//! features and folds the scaling back into raw-feature weights; [`onnx`] writes
//! the fitted model as an ONNX graph (a small hand-written protobuf encoder:
//! IR 8, opset 17 / ai.onnx.ml 3) that ONNX Runtime serves through
//! `reckon-onnx`; [`metrics`] measures discrimination and calibration on held-out
//! data; [`threshold`] is the one rule type that chooses every model's
//! operating threshold on held-out scores. Training commands live with the engines that own the features.

pub mod iforest;
pub mod logistic;
pub mod metrics;
pub mod onnx;
pub mod threshold;

/// Why a model could not be trained.
#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    #[error("training data: {0}")]
    Data(String),
    #[error("fit: {0}")]
    Fit(String),
}
