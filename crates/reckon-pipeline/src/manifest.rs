//! `manifest.json`: the audit record of a run.

use std::collections::BTreeMap;
use std::path::Path;

use reckon_core::Table;
use reckon_ingest::{FileReport, Loaded};
use serde::Serialize;

use crate::config::Config;

#[derive(Clone, Debug, Serialize)]
pub struct OutputEntry {
    pub rows: u64,
    pub sha256: String,
}

/// A model used by a run.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ModelEntry {
    pub id: String,
    pub path: String,
    pub sha256: String,
}

pub fn output_entry(path: &Path, rows: u64) -> OutputEntry {
    let sha256 = std::fs::read(path).map(|b| reckon_core::id::sha256_hex(&b)).unwrap_or_default();
    OutputEntry { rows, sha256 }
}

/// Row accounting of one table.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct TableRows {
    pub input_rows: u64,
    pub loaded_rows: u64,
    pub rejected_rows: u64,
}

/// Where each loaded bank entry ended up.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BankRows {
    pub input_rows: u64,
    pub rejected: u64,
    pub loaded: u64,
    /// Receipts cleared without a person (`auto` band).
    pub matched: u64,
    /// Entries with an exception in the feed (proposed, ambiguous or unmatched
    /// receipts, money out not yet linked or classified).
    pub in_exceptions: u64,
    /// Loaded entries neither matched nor in an exception (0 when the books balance).
    pub unreconciled: u64,
    /// Cash-matching outcome per receipt: auto / review / ambiguous / unmatched.
    pub receipts: BTreeMap<String, u64>,
    /// Loaded amount per currency = matched + exceptions + unreconciled, exact.
    pub loaded_amount: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Conservation {
    /// True when every check below holds.
    pub balanced: bool,
    pub problems: Vec<String>,
    pub tables: BTreeMap<String, TableRows>,
    pub bank_transactions: BankRows,
}

/// Checks that every input row is loaded or rejected, per file and per table.
pub fn conservation(
    loaded: &Loaded,
    receipts: &BTreeMap<String, u64>,
    money_out_settled: u64,
    bank_exceptions: u64,
) -> Conservation {
    let mut c = Conservation::default();
    for f in &loaded.files {
        if f.input_rows != f.loaded_rows + f.rejected_rows {
            c.problems.push(format!(
                "{}: {} input rows but {} loaded + {} rejected",
                f.path, f.input_rows, f.loaded_rows, f.rejected_rows
            ));
        }
        if let Some(t) = &f.table {
            let e = c.tables.entry(t.clone()).or_default();
            e.input_rows += f.input_rows;
            e.loaded_rows += f.loaded_rows;
            e.rejected_rows += f.rejected_rows;
        }
    }
    for (name, rows) in &c.tables {
        let height = Table::from_name(name).and_then(|t| loaded.tables.get(&t)).map_or(0, |d| d.height() as u64);
        if height != rows.loaded_rows {
            c.problems.push(format!("{name}: files report {} loaded rows, the table holds {height}", rows.loaded_rows));
        }
    }
    let bank = c.tables.get("bank_transactions").cloned().unwrap_or_default();
    c.bank_transactions = BankRows {
        input_rows: bank.input_rows,
        rejected: bank.rejected_rows,
        loaded: bank.loaded_rows,
        matched: receipts.get("auto").copied().unwrap_or(0) + money_out_settled,
        in_exceptions: bank_exceptions,
        unreconciled: bank
            .loaded_rows
            .saturating_sub(receipts.get("auto").copied().unwrap_or(0) + money_out_settled)
            .saturating_sub(bank_exceptions),
        receipts: receipts.clone(),
        loaded_amount: crate::amount_totals(loaded)
            .get("bank_transactions")
            .and_then(|m| m.get("amount"))
            .cloned()
            .unwrap_or_default(),
    };
    let b = &c.bank_transactions;
    if b.input_rows != b.rejected + b.matched + b.in_exceptions + b.unreconciled {
        c.problems.push("bank_transactions: input != rejected + matched + exceptions + unreconciled".into());
    }
    if b.unreconciled != 0 {
        c.problems.push(format!(
            "bank_transactions: {} loaded entries are neither matched nor in an exception",
            b.unreconciled
        ));
    }
    c.balanced = c.problems.is_empty();
    c
}

#[derive(Clone, Debug, Serialize)]
pub struct Manifest {
    pub contract_version: &'static str,
    pub reckon_version: &'static str,
    pub run_id: String,
    pub started_at: String,
    pub finished_at: String,
    pub input_dir: String,
    pub config_file: Option<String>,
    pub config: Config,
    pub inputs: Vec<FileReport>,
    pub ignored_files: Vec<String>,
    pub refused_files: Vec<String>,
    /// Models the run used: `name@version`, folder, sha256 of `model.onnx`.
    pub models: Vec<ModelEntry>,
    /// Exact sums of loaded money per table, column and currency.
    pub amount_totals: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>,
    pub outputs: BTreeMap<String, OutputEntry>,
    pub stages: BTreeMap<String, String>,
    pub timings_ms: BTreeMap<String, u64>,
    pub conservation: Conservation,
}

/// Run id: start time plus a digest of what went in, so two runs never share one
/// and the same inputs are recognisable.
pub fn run_id(started: chrono::DateTime<chrono::Utc>, loaded: &Loaded, config: &Config) -> String {
    let mut parts: Vec<String> = loaded.files.iter().map(|f| format!("{}={}", f.path, f.sha256)).collect();
    parts.push(serde_json::to_string(config).unwrap_or_default());
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    let digest = reckon_core::id::stable_id("", &refs);
    format!("run-{}-{}", started.format("%Y%m%dT%H%M%S%.3fZ"), &digest[..8])
}

impl Manifest {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        started: chrono::DateTime<chrono::Utc>,
        input: &Path,
        config: &Config,
        config_path: Option<&Path>,
        loaded: &Loaded,
        amount_totals: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>,
        outputs: BTreeMap<String, OutputEntry>,
        timings_ms: BTreeMap<String, u64>,
        conservation: Conservation,
    ) -> Manifest {
        let run_id = run_id(started, loaded, config);
        let mut stages = BTreeMap::new();
        stages.insert("ingest".to_string(), "ok".to_string());
        Manifest {
            contract_version: reckon_core::CONTRACT_VERSION,
            reckon_version: env!("CARGO_PKG_VERSION"),
            run_id,
            started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            input_dir: input.display().to_string(),
            config_file: config_path.map(|p| p.display().to_string()),
            config: config.clone(),
            inputs: loaded.files.clone(),
            ignored_files: loaded.ignored.clone(),
            refused_files: loaded.refused_files().into_iter().map(str::to_string).collect(),
            models: Vec::new(),
            amount_totals,
            outputs,
            stages,
            timings_ms,
            conservation,
        }
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, json + "\n")
    }
}
