//! A run as Prometheus metrics (text exposition format 0.0.4), for a
//! node-exporter textfile collector or a push gateway: rows per table, bank
//! entries by outcome, exceptions by kind and band, stage durations, models
//! used, feed delivery, and whether the books balanced. Labels carry the run id
//! so a platform engineer can join them with the logs and the feed events.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::{Delivery, Manifest, RunError};

/// One metric family being written.
struct Family<'a> {
    out: &'a mut String,
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Family<'_> {
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
        let _ = writeln!(self.out, "{name}{{{}}} {value}", l.join(","));
    }
}

fn family<'a>(out: &'a mut String, name: &str, help: &str) -> Family<'a> {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    Family { out }
}

/// Exceptions per (kind, band) of a run's `exceptions.jsonl`.
pub fn exception_counts(out: &Path) -> Result<BTreeMap<(String, String), u64>, RunError> {
    let path = out.join("exceptions.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| RunError::Write(path.clone(), e.to_string()))?;
    let mut counts = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| RunError::Write(path.clone(), format!("line {}: {e}", i + 1)))?;
        let kind = v["data"]["kind"].as_str().unwrap_or("").to_string();
        let band = v["data"]["band"].as_str().unwrap_or("").to_string();
        *counts.entry((kind, band)).or_insert(0) += 1;
    }
    Ok(counts)
}

/// The run's metrics as Prometheus text.
pub fn render(m: &Manifest, exceptions: &BTreeMap<(String, String), u64>, deliveries: &[Delivery]) -> String {
    let mut s = String::new();
    let run = m.run_id.as_str();
    family(&mut s, "reckon_run_info", "The run, its reckon and contract versions (value 1).").sample(
        "reckon_run_info",
        &[("run_id", run), ("reckon_version", m.reckon_version), ("contract_version", m.contract_version)],
        1.0,
    );
    let c = &m.conservation;
    family(&mut s, "reckon_conservation_balanced", "1 when every input row is accounted for and amounts tie out.")
        .sample("reckon_conservation_balanced", &[("run_id", run)], if c.balanced { 1.0 } else { 0.0 });
    for (name, help, pick) in [
        ("reckon_input_rows", "Rows read per table.", 0usize),
        ("reckon_loaded_rows", "Rows loaded per table.", 1),
        ("reckon_rejected_rows", "Rows rejected per table (rejects.parquet says why).", 2),
    ] {
        let mut f = family(&mut s, name, help);
        for (table, t) in &c.tables {
            let v = [t.input_rows, t.loaded_rows, t.rejected_rows][pick];
            f.sample(name, &[("run_id", run), ("table", table)], v as f64);
        }
    }
    let b = &c.bank_transactions;
    let mut f = family(&mut s, "reckon_bank_entries", "Bank entries by where they ended up.");
    for (outcome, v) in [
        ("matched", b.matched),
        ("in_exceptions", b.in_exceptions),
        ("rejected", b.rejected),
        ("unreconciled", b.unreconciled),
    ] {
        f.sample("reckon_bank_entries", &[("run_id", run), ("outcome", outcome)], v as f64);
    }
    let mut f = family(&mut s, "reckon_receipts", "Receipts by cash-matching status.");
    for (status, v) in &b.receipts {
        f.sample("reckon_receipts", &[("run_id", run), ("status", status)], *v as f64);
    }
    let mut f = family(&mut s, "reckon_exceptions", "Exceptions in the feed by kind and band.");
    for ((kind, band), v) in exceptions {
        f.sample("reckon_exceptions", &[("run_id", run), ("kind", kind), ("band", band)], *v as f64);
    }
    let mut f = family(&mut s, "reckon_stage_duration_seconds", "Wall time of each stage.");
    for (stage, ms) in &m.timings_ms {
        f.sample("reckon_stage_duration_seconds", &[("run_id", run), ("stage", stage)], *ms as f64 / 1000.0);
    }
    let mut f = family(&mut s, "reckon_model_info", "Models the run used (value 1).");
    for model in &m.models {
        f.sample("reckon_model_info", &[("run_id", run), ("model", &model.id), ("sha256", &model.sha256)], 1.0);
    }
    let mut f = family(&mut s, "reckon_feed_events", "Feed events per sink by delivery state.");
    for d in deliveries {
        for (state, v) in [
            ("delivered", d.status.delivered_events),
            ("pending", d.status.pending_events),
            ("dead", d.status.dead_events),
        ] {
            f.sample("reckon_feed_events", &[("run_id", run), ("sink", d.sink), ("state", state)], v as f64);
        }
    }
    s
}

/// Writes the metrics file (atomically: a temporary file renamed into place, so
/// a collector never reads half of it).
pub fn write(path: &Path, text: &str) -> Result<(), RunError> {
    let tmp = path.with_extension("prom.tmp");
    std::fs::write(&tmp, text).map_err(|e| RunError::Write(tmp.clone(), e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| RunError::Write(path.to_path_buf(), e.to_string()))
}
