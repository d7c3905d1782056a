//! Model folders as training writes them: the version a folder's name carries,
//! writing `model.onnx` with its config, metrics and card, the training data's
//! digest and the refusal to validate or evaluate on it.
use std::path::Path;

use crate::LabError;

use reckon_onnx::ModelConfig;

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

pub fn write_folder(out: &Path, bytes: &[u8], cfg: &ModelConfig, extra: &[(&str, String)]) -> Result<(), LabError> {
    std::fs::create_dir_all(out).map_err(LabError::io(out))?;
    let w = |name: &str, b: &[u8]| {
        let p = out.join(name);
        std::fs::write(&p, b).map_err(LabError::io(&p))
    };
    w("model.onnx", bytes)?;
    w("config.json", (serde_json::to_string_pretty(cfg)? + "\n").as_bytes())?;
    for (name, text) in extra {
        w(name, text.as_bytes())?;
    }
    Ok(())
}

/// The engine a model serves, for the training data it is fitted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Cash,
    Duplicates,
    Journals,
}

impl Engine {
    /// The engine of a model by its name in `config.json`.
    pub fn of_model(name: &str) -> Option<Engine> {
        match name {
            "cash" => Some(Engine::Cash),
            "duplicates" => Some(Engine::Duplicates),
            "journals" | "journals_iforest" => Some(Engine::Journals),
            _ => None,
        }
    }

    /// The files of a scenario folder a model of this engine learns from.
    fn files(self) -> &'static [&'static str] {
        match self {
            Engine::Cash => &[
                "bank_transactions.csv",
                "ar_open_items.csv",
                "customers.csv",
                "remittances.csv",
                "truth/cash_matches.csv",
            ],
            Engine::Duplicates => &["ap_invoices.csv"],
            Engine::Journals => &["gl_journal_lines.csv"],
        }
    }
}

/// sha256 of the files a model of `engine` is trained on in `dir` (the
/// `training_data_sha256` of its `config.json`); empty when none is there.
pub fn training_data_sha256(dir: &Path, engine: Engine) -> String {
    let hashes: Vec<String> = engine
        .files()
        .iter()
        .filter_map(|f| std::fs::read(dir.join(f)).ok())
        .map(|b| reckon_core::id::sha256_hex(&b))
        .collect();
    match (engine, hashes.len()) {
        (_, 0) => String::new(),
        (Engine::Cash, _) => reckon_core::id::sha256_hex(hashes.concat().as_bytes()),
        (_, _) => hashes.concat(),
    }
}

/// The training-data digest of a model trained on several scenarios: each
/// scenario's [`training_data_sha256`] joined by `+` (one scenario: its own).
pub fn training_data_sha256_of(dirs: &[std::path::PathBuf], engine: Engine) -> String {
    dirs.iter().map(|d| training_data_sha256(d, engine)).collect::<Vec<_>>().join("+")
}

/// Refuses `other` (a validation or evaluation folder) when it holds the very
/// data a model was trained on (or one of the scenarios it was trained on).
pub fn refuse_same_data(train_hash: &str, other: &Path, engine: Engine, role: &str) -> Result<(), LabError> {
    let theirs = training_data_sha256(other, engine);
    if !train_hash.is_empty() && !theirs.is_empty() && train_hash.split('+').any(|h| h == theirs) {
        return Err(LabError::SameData {
            role: role.to_string(),
            path: other.to_path_buf(),
            digest: train_hash.to_string(),
        });
    }
    Ok(())
}

/// A sentence for a model card when the validation rows were perfectly separable.
pub fn separability(roc_auc: f64) -> &'static str {
    if roc_auc >= 1.0 {
        " **Warning: the validation rows are perfectly separable (ROC-AUC 1.0); the threshold \
         sits in the gap between the classes and says little about how it cuts unseen data.**"
    } else {
        ""
    }
}

/// The settings a scenario's company runs reckon with: `truth/reckon.toml` when
/// the scenario has one (`reckon generate --world` writes the world's approval
/// limits and working day there), else the defaults.
pub fn company_config(dir: &Path) -> Result<reckon_pipeline::Config, LabError> {
    let p = dir.join("truth/reckon.toml");
    if p.is_file() { Ok(reckon_pipeline::Config::load(&p)?) } else { Ok(reckon_pipeline::Config::default()) }
}

/// A scenario folder loaded and converted into engine rows as a run does.
pub fn tables(dir: &Path) -> Result<(reckon_ingest::Loaded, reckon_pipeline::inputs::Tables), LabError> {
    let loaded = reckon_ingest::load_dir(dir).map_err(LabError::in_dir(dir))?;
    let tables = reckon_pipeline::inputs::Tables::from_loaded(&loaded).map_err(LabError::in_dir(dir))?;
    Ok((loaded, tables))
}
