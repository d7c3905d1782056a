//! reckon-lab: training and evaluation, apart from the run path.
//!
//! Everything a data scientist runs and a run never needs: `eval` (a run's
//! outputs against a generated scenario's truth: cash precision, touchless and
//! recall, the CI quality gate's named figures, refusal of a model's training
//! data), the trainers of the three models (`cash`: `reckon train cash`;
//! `dedup`: `reckon train duplicates`, pair evaluation and money out; `journals`:
//! `reckon train journals` and journal evaluation) with their model cards, and
//! `model` (model folders as training writes them), `card` (one model-card
//! type: the facts from `config.json`, the prose from the trainer), and
//! `worlds` (leave-one-world-out evaluation: `reckon worlds`), `retrain` (the
//! cash model fitted to a state store's decisions: `reckon train cash
//! --state`), `retrain_flags` (the duplicate and journal models fitted to
//! them: `reckon train duplicates|journals --state`). `reckon-pipeline` serves
//! the models these write; it does not link linfa.

pub mod card;
pub mod cash;
pub mod duplicates;
pub mod error;
pub mod eval;
pub mod journals;
pub mod model;
pub mod retrain;
pub mod retrain_flags;
pub mod simulate;
pub mod worlds;

pub use error::LabError;
