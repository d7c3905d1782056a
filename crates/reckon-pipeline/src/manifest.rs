//! `manifest.json`: the audit record of a run.

use std::collections::BTreeMap;

/// FxHash over bank entry ids (1.2 M per run at scale): the keys are the run's own.
type HashMap<K, V> = rustc_hash::FxHashMap<K, V>;
use std::path::Path;

use reckon_core::Table;
use reckon_ingest::{FileReport, Loaded};
use serde::{Deserialize, Serialize};

use crate::config::Config;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OutputEntry {
    pub rows: u64,
    pub sha256: String,
}

/// A model used by a run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ModelEntry {
    pub id: String,
    pub path: String,
    pub sha256: String,
    /// The rows the model scored in this run against its training reference
    /// (`reference.json` in its folder; absent when the folder has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<reckon_monitor::Drift>,
    /// The newest decisions people took on the model's proposals against the
    /// probabilities it gave them (runs with a state store and decisions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<reckon_monitor::Calibration>,
    /// `shadow` for a challenger scored beside the model that decides
    /// (absent for the models that decide).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<ModelRole>,
}

reckon_core::vocab_enum! {
    /// What a served model does in a run beyond deciding.
    pub enum ModelRole {
        /// Scores the same rows as the model that decides; decides nothing.
        Shadow => "shadow",
    }
}

impl ModelEntry {
    /// The entry of a loaded model folder.
    pub fn of(m: &reckon_onnx::Model) -> ModelEntry {
        ModelEntry {
            id: m.id(),
            path: m.dir.display().to_string(),
            sha256: m.config.model_sha256.clone(),
            drift: None,
            calibration: None,
            role: None,
        }
    }
}

pub fn output_entry(path: &Path, rows: u64) -> OutputEntry {
    let sha256 = std::fs::read(path).map(|b| reckon_core::id::sha256_hex(&b)).unwrap_or_default();
    OutputEntry { rows, sha256 }
}

/// Row accounting of one table.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TableRows {
    pub input_rows: u64,
    pub loaded_rows: u64,
    pub rejected_rows: u64,
}

/// Where each loaded bank entry ended up.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
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

/// Rows of a table an engine reads, checked by id: every loaded row was seen
/// by the engine exactly once.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Screened {
    pub loaded: u64,
    /// Loaded rows the engine took in exactly once.
    pub screened: u64,
    /// Up to ten ids (or row numbers) of loaded rows the engine did not take in,
    /// or took in more than once.
    pub examples: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Conservation {
    /// True when every check below holds.
    pub balanced: bool,
    pub problems: Vec<String>,
    pub tables: BTreeMap<String, TableRows>,
    pub bank_transactions: BankRows,
    /// AP invoices screened for duplicates (absent when the stage is off or has no input).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ap_invoices: Option<Screened>,
    /// GL lines scored by the journal tests (absent without GL input).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gl_journal_lines: Option<Screened>,
}

/// Where the engines put each loaded row, by id, for the conservation check.
#[derive(Clone, Debug, Default)]
pub struct Settlement {
    /// Cash-matching outcome counts per receipt status (for the report).
    pub receipts: BTreeMap<String, u64>,
    /// Bank entries cleared without a person: receipts in the `auto` band, money
    /// out paid or classified.
    pub matched: Vec<String>,
    /// Bank entries that are the subject (first record) of an exception.
    pub in_exceptions: Vec<String>,
    /// AP document ids the duplicate stage screened (None: stage off or no input).
    pub ap_screened: Option<Vec<String>>,
    /// GL line indices (rows of the loaded table) the journal tests scored.
    pub gl_scored: Option<Vec<usize>>,
}

const EXAMPLES: usize = 10;

/// Checks that every input row is loaded or rejected, per file and per table;
/// that every loaded bank entry is, by id, in exactly one of matched and
/// exceptions; and that every loaded AP invoice and GL line was screened once.
pub fn conservation(loaded: &Loaded, s: &Settlement) -> Conservation {
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
    let ids = ids_of(loaded, Table::BankTransactions, reckon_core::col::bank_transactions::TXN_ID, &mut c.problems);
    // Per loaded id: (times matched, times the subject of an exception).
    let mut seen: HashMap<&str, (u32, u32)> = ids.iter().map(|i| (i.as_str(), (0, 0))).collect();
    let mut unknown = Vec::new();
    for (list, matched) in [(&s.matched, true), (&s.in_exceptions, false)] {
        for id in list {
            match seen.get_mut(id.as_str()) {
                Some(e) if matched => e.0 += 1,
                Some(e) => e.1 += 1,
                None => unknown.push(id.clone()),
            }
        }
    }
    let (mut matched, mut in_ex, mut neither, mut twice) = (0u64, 0u64, Vec::new(), Vec::new());
    for id in &ids {
        match seen.get(id.as_str()).copied().unwrap_or_default() {
            (1, 0) => matched += 1,
            (0, 1) => in_ex += 1,
            (0, 0) => neither.push(id.clone()),
            (m, e) => {
                twice.push(format!("{id} (matched {m}×, in {e} exceptions)"));
                matched += u64::from(m > 0);
                in_ex += u64::from(m == 0);
            }
        }
    }
    c.bank_transactions = BankRows {
        input_rows: bank.input_rows,
        rejected: bank.rejected_rows,
        loaded: bank.loaded_rows,
        matched,
        in_exceptions: in_ex,
        unreconciled: neither.len() as u64,
        receipts: s.receipts.clone(),
        loaded_amount: crate::amount_totals(loaded)
            .get("bank_transactions")
            .and_then(|m| m.get("amount"))
            .cloned()
            .unwrap_or_default(),
    };
    let b = &c.bank_transactions;
    if b.input_rows != b.rejected + b.matched + b.in_exceptions + b.unreconciled {
        c.problems.push(format!(
            "bank_transactions: {} input rows but {} rejected + {} matched + {} in exceptions + {} unreconciled",
            b.input_rows, b.rejected, b.matched, b.in_exceptions, b.unreconciled
        ));
    }
    if !neither.is_empty() {
        c.problems.push(format!(
            "bank_transactions: {} loaded entries are neither matched nor in an exception: {}",
            neither.len(),
            examples(&neither)
        ));
    }
    if !twice.is_empty() {
        c.problems.push(format!(
            "bank_transactions: {} entries are in more than one place: {}",
            twice.len(),
            examples(&twice)
        ));
    }
    if !unknown.is_empty() {
        c.problems.push(format!(
            "bank_transactions: {} matched or excepted entries were never loaded: {}",
            unknown.len(),
            examples(&unknown)
        ));
    }
    if let Some(screened) = &s.ap_screened {
        let ids = ids_of(loaded, Table::ApInvoices, reckon_core::col::ap_invoices::DOC_ID, &mut c.problems);
        c.ap_invoices = Some(screen(&ids, screened, "ap_invoices", &mut c.problems));
    }
    if let Some(lines) = &s.gl_scored {
        let n = loaded.tables.get(&Table::GlJournalLines).map_or(0, |d| d.height());
        c.gl_journal_lines = Some(screen_rows(n, lines, "gl_journal_lines", &mut c.problems));
    }
    c.balanced = c.problems.is_empty();
    c
}

fn examples(v: &[String]) -> String {
    let mut s = v.iter().take(EXAMPLES).cloned().collect::<Vec<_>>().join(", ");
    if v.len() > EXAMPLES {
        s.push_str(", …");
    }
    s
}

/// A table's id column as text; a missing column is a problem (never blanks).
fn ids_of(loaded: &Loaded, t: Table, col: &str, problems: &mut Vec<String>) -> Vec<String> {
    let Some(v) = loaded.view(t) else { return Vec::new() };
    match v.text(col) {
        Ok(v) => v,
        Err(e) => {
            problems.push(e.to_string());
            Vec::new()
        }
    }
}

/// Every loaded id screened exactly once, and nothing screened that was not loaded.
fn screen(loaded: &[String], screened: &[String], table: &str, problems: &mut Vec<String>) -> Screened {
    let mut count: HashMap<&str, u32> = loaded.iter().map(|i| (i.as_str(), 0)).collect();
    let mut unknown = Vec::new();
    for id in screened {
        match count.get_mut(id.as_str()) {
            Some(n) => *n += 1,
            None => unknown.push(id.clone()),
        }
    }
    let bad: Vec<String> = loaded
        .iter()
        .filter_map(|i| match count.get(i.as_str()) {
            Some(1) => None,
            Some(n) => Some(format!("{i} ({n}×)")),
            None => Some(i.clone()),
        })
        .collect();
    if !bad.is_empty() {
        problems.push(format!("{table}: {} loaded rows not screened exactly once: {}", bad.len(), examples(&bad)));
    }
    if !unknown.is_empty() {
        problems.push(format!("{table}: {} screened rows were never loaded: {}", unknown.len(), examples(&unknown)));
    }
    Screened {
        loaded: loaded.len() as u64,
        screened: (loaded.len() - bad.len()) as u64,
        examples: bad.into_iter().take(EXAMPLES).collect(),
    }
}

/// [`screen`] for rows named by their position (`row {i}`), counted in place:
/// a GL of millions of lines is screened without a string per line.
fn screen_rows(loaded: usize, screened: &[usize], table: &str, problems: &mut Vec<String>) -> Screened {
    let mut count = vec![0u32; loaded];
    let mut unknown = Vec::new();
    for &i in screened {
        match count.get_mut(i) {
            Some(n) => *n = n.saturating_add(1),
            None => unknown.push(format!("row {i}")),
        }
    }
    let bad: Vec<String> =
        count.iter().enumerate().filter(|(_, n)| **n != 1).map(|(i, n)| format!("row {i} ({n}×)")).collect();
    if !bad.is_empty() {
        problems.push(format!("{table}: {} loaded rows not screened exactly once: {}", bad.len(), examples(&bad)));
    }
    if !unknown.is_empty() {
        problems.push(format!("{table}: {} screened rows were never loaded: {}", unknown.len(), examples(&unknown)));
    }
    Screened {
        loaded: loaded as u64,
        screened: (loaded - bad.len()) as u64,
        examples: bad.into_iter().take(EXAMPLES).collect(),
    }
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
    /// Each engine stage's report (rows in and out, counts by outcome).
    pub stage_reports: BTreeMap<String, crate::stage::StageReport>,
    pub timings_ms: BTreeMap<String, u64>,
    pub conservation: Conservation,
    /// The state store's part in the run (reckon extension, since 2026-11-29;
    /// absent without `--state`): carried and refused bank entries, decisions
    /// received and applied, exceptions by lifecycle state, and the chain's
    /// conservation over every run of the store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<crate::remember::StateSection>,
}

/// A written `manifest.json` as tools read it back: typed, so a renamed or
/// missing field is an error naming it, not a silent default (fields it does
/// not name are ignored).
#[derive(Clone, Debug, Deserialize)]
pub struct Written {
    pub contract_version: String,
    pub reckon_version: String,
    pub run_id: String,
    pub config: Config,
    #[serde(default)]
    pub refused_files: Vec<String>,
    #[serde(default)]
    pub models: Vec<ModelEntry>,
    #[serde(default)]
    pub outputs: BTreeMap<String, OutputEntry>,
    #[serde(default)]
    pub stages: BTreeMap<String, String>,
    #[serde(default)]
    pub stage_reports: BTreeMap<String, crate::stage::StageReport>,
    #[serde(default)]
    pub timings_ms: BTreeMap<String, u64>,
    pub conservation: Conservation,
}

/// Why a written manifest could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Json {
        path: std::path::PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl Written {
    /// Reads `manifest.json` (a file, or the output folder holding it).
    pub fn read(path: &Path) -> Result<Written, ReadError> {
        let path = if path.is_dir() { path.join("manifest.json") } else { path.to_path_buf() };
        let bytes = std::fs::read(&path).map_err(|source| ReadError::Io { path: path.clone(), source })?;
        serde_json::from_slice(&bytes).map_err(|source| ReadError::Json { path, source })
    }
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
            stage_reports: BTreeMap::new(),
            timings_ms,
            conservation,
            state: None,
        }
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, json + "\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counting rows in place says what naming each row and screening the
    /// names says, problems included.
    #[test]
    fn rows_screened_in_place_agree_with_rows_screened_by_name() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        for _ in 0..300 {
            let n = next(40) as usize;
            let mut scored: Vec<usize> = (0..n).collect();
            for _ in 0..next(4) {
                match next(3) {
                    0 if !scored.is_empty() => {
                        let k = next(scored.len() as u64) as usize;
                        scored.remove(k);
                    }
                    1 => scored.push(next(n as u64 + 3) as usize),
                    _ => {}
                }
            }
            let names: Vec<String> = (0..n).map(|i| format!("row {i}")).collect();
            let named: Vec<String> = scored.iter().map(|i| format!("row {i}")).collect();
            let (mut want, mut got) = (Vec::new(), Vec::new());
            let a = screen(&names, &named, "gl_journal_lines", &mut want);
            let b = screen_rows(n, &scored, "gl_journal_lines", &mut got);
            assert_eq!((a, want), (b, got), "{n} rows, screened {scored:?}");
        }
    }
}
