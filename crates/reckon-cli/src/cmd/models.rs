//! `reckon models verify|score`: a model folder checked, or served on a CSV of features.

use std::path::PathBuf;

use clap::Subcommand;

use anyhow::Context;
use reckon_pipeline::exit;

#[derive(Debug, Subcommand)]
pub enum What {
    /// Verify one model folder (e.g. models/cash_match_v2_2).
    Verify { dir: PathBuf },
    /// Score rows of a features CSV (a header naming the model's features, plus any
    /// id columns) with a model folder; writes the id columns and `score` as CSV.
    /// This is how a model from outside (scikit-learn via skl2onnx) is checked in reckon.
    Score {
        dir: PathBuf,
        #[arg(long)]
        features: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

/// Verifies or serves the folder `what` names.
pub fn exec(what: What) -> anyhow::Result<i32> {
    match what {
        What::Score { dir, features, out } => {
            let m = reckon_onnx::Model::load(&dir).map_err(|e| anyhow::anyhow!(e))?;
            let bytes = std::fs::read(&features)?;
            let scan = reckon_ingest::csv::scan(&bytes, b',', b'"')
                .map_err(|e| anyhow::anyhow!("{}: {e}", features.display()))?;
            let cols: Vec<usize> = m
                .config
                .features
                .iter()
                .map(|f| {
                    scan.header
                        .iter()
                        .position(|h| h == f)
                        .with_context(|| format!("{}: no column {f}", features.display()))
                })
                .collect::<anyhow::Result<_>>()?;
            let n = scan.records.len();
            let mut x = Vec::with_capacity(n * cols.len());
            for r in 0..n {
                for &c in &cols {
                    let v = &scan.columns[c][r];
                    x.push(v.parse::<f32>().with_context(|| {
                        format!("{} line {}: '{v}' is not a number", features.display(), scan.records[r].line)
                    })?);
                }
            }
            let s = m.score(n, &x).map_err(|e| anyhow::anyhow!(e))?;
            let ids: Vec<usize> = scan
                .header
                .iter()
                .enumerate()
                .filter(|(_, h)| !m.config.features.contains(h))
                .map(|(i, _)| i)
                .collect();
            let mut text =
                ids.iter().map(|&i| scan.header[i].clone()).chain(["score".to_string()]).collect::<Vec<_>>().join(",")
                    + "\n";
            for (r, v) in s.iter().enumerate() {
                let mut row: Vec<String> = ids.iter().map(|&i| scan.columns[i][r].clone()).collect();
                row.push(format!("{v:.9}"));
                text.push_str(&(row.join(",") + "\n"));
            }
            std::fs::write(&out, text)?;
            outln!("{}: scored {n} rows into {}", m.id(), out.display());
            Ok(exit::OK)
        }
        What::Verify { dir } => {
            let m = reckon_onnx::Model::load(&dir).map_err(|e| anyhow::anyhow!(e))?;
            let k = m.config.features.len();
            let rows = 4;
            let x: Vec<f32> = (0..rows * k).map(|i| (i % 7) as f32 * 0.25).collect();
            let s = m.score(rows, &x).map_err(|e| anyhow::anyhow!(e))?;
            anyhow::ensure!(s.len() == rows && s.iter().all(|v| v.is_finite()), "smoke inference gave {s:?}");
            if m.config.output_mapping == "probability" {
                anyhow::ensure!(s.iter().all(|v| (0.0..=1.0).contains(v)), "probabilities outside 0–1: {s:?}");
            }
            // The card says what the configs say.
            let card = std::fs::read_to_string(dir.join("MODEL_CARD.md"))
                .with_context(|| format!("{}: MODEL_CARD.md", dir.display()))?;
            let mut parts = Vec::new();
            // The journal model's forest is the one part a folder has today.
            let p = dir.join("iforest/config.json");
            if p.is_file() {
                let c: reckon_onnx::ModelConfig = serde_json::from_str(&std::fs::read_to_string(&p)?)?;
                parts.push(("iforest/".to_string(), c));
            }
            reckon_lab::card::check(&card, &m.config, &parts).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
            outln!(
                "{}: ok — {} features ({}), model.onnx sha256 {} matches, ONNX Runtime {} ({}), smoke scores {:?}",
                m.id(),
                k,
                m.config.feature_spec,
                &m.config.model_sha256[..12],
                reckon_onnx::runtime::VERSION,
                reckon_onnx::runtime::library().map(|p| p.display().to_string()).unwrap_or_default(),
                s
            );
            Ok(exit::OK)
        }
    }
}
