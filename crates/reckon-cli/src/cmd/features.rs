//! `reckon features journals`: the journal features reckon computes, as CSV for data scientists.

use std::path::PathBuf;

use clap::Subcommand;

use crate::exit;
use anyhow::Context;

#[derive(Debug, Subcommand)]
pub enum What {
    /// Journal features (`journal_v2`) of an input folder's GL lines, one row per
    /// journal with entity, journal_id and (when the folder has truth/) the label.
    Journals {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

/// Writes the features `what` names.
pub fn exec(what: What) -> anyhow::Result<i32> {
    match what {
        What::Journals { input, out } => {
            let loaded = reckon_ingest::load_dir(&input)?;
            let tests = reckon_journals::AnomalyConfig::default().build().map_err(|e| anyhow::anyhow!(e))?;
            let lines = reckon_pipeline::inputs::book(&loaded)?.context("no GL journal lines")?;
            let results = tests.run_book(&lines);
            let f = reckon_journals::features(&tests, &lines, &results);
            // The truth's (entity, journal_id) pairs, read with reckon's CSV scanner.
            let mut truth: std::collections::BTreeSet<(String, String)> = Default::default();
            if let Ok(b) = std::fs::read(input.join("truth/journal_anomalies.csv")) {
                let t = reckon_ingest::csv::scan(&b, b',', b'"')
                    .map_err(|e| anyhow::anyhow!("journal_anomalies.csv: {e}"))?;
                let col =
                    |n: &str| t.header.iter().position(|h| h == n).context(format!("journal_anomalies.csv: no {n}"));
                let (e, j) = (col("entity")?, col("journal_id")?);
                truth =
                    (0..t.records.len()).map(|r| (t.columns[e][r].to_string(), t.columns[j][r].to_string())).collect();
            }
            let k = reckon_journals::FEATURES.len();
            // Written with the csv crate: ids with commas or quotes stay one field.
            let mut w = csv::Writer::from_writer(Vec::new());
            let mut header = vec!["entity".to_string(), "journal_id".into(), "label".into()];
            header.extend(reckon_journals::FEATURES.iter().map(|f| f.to_string()));
            w.write_record(&header)?;
            for (i, j) in results.iter().enumerate() {
                let label = u8::from(truth.contains(&(j.entity.to_string(), j.journal_id.clone())));
                let mut rec = vec![j.entity.to_string(), j.journal_id.clone(), label.to_string()];
                rec.extend(f[i * k..(i + 1) * k].iter().map(|v| format!("{v}")));
                w.write_record(&rec)?;
            }
            let text = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
            std::fs::write(&out, text)?;
            outln!("wrote {} journals × {k} features to {}", results.len(), out.display());
            Ok(exit::OK)
        }
    }
}
