//! `reckon`: the command line of the reckon engine.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};
use reckon_pipeline::{Config, RunOptions, exit};

/// `println!` that ends the process quietly when stdout is closed (`reckon … | head`)
/// instead of panicking.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($t)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}

// reckon allocates many small strings while parsing and validating; mimalloc is
// markedly faster than glibc malloc for that (see README, Benchmarks) and is what
// polars recommends for its own workloads.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod feed;

/// reckon reconciles finance data in batch: it loads bank statements, remittances,
/// receivables, payables and journals onto one data contract, rejects bad rows with
/// a reason, and writes an audit manifest of every run.
///
/// Exit codes: 0 ok, 1 run failed, 2 bad usage or config, 3 completed but some
/// input was refused (see rejects.parquet and the manifest's refused_files),
/// 4 completed but some exceptions were not delivered to a configured sink
/// (see outbox/<sink>/dead_letter.jsonl; `reckon feed replay`).
#[derive(Debug, Parser)]
#[command(name = "reckon", version, propagate_version = true)]
struct Cli {
    /// Log filter (also RECKON_LOG), e.g. `info`, `reckon_ingest=debug`.
    #[arg(long, global = true, default_value = "warn")]
    log: String,
    /// Log lines on stderr as `text` for people or `json` (one object per line)
    /// for log shippers.
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run reckon on an input folder: load, check, write rejects and the manifest.
    Run {
        /// Folder with the input tables (bank_transactions.csv, ar_open_items.parquet, …
        /// and ERP exports with a sibling <name>.mapping.toml).
        #[arg(long)]
        input: PathBuf,
        /// Output folder (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// reckon.toml with run settings (default: built-in defaults).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Also write normalized/<table>.parquet: every table as reckon understood it.
        #[arg(long)]
        keep_normalized: bool,
        /// Do not deliver the feed to the sinks in [feed.webhook]/[feed.camunda]
        /// (deliver later with `reckon feed --out OUT`).
        #[arg(long)]
        no_deliver: bool,
        /// Also write the run's metrics in Prometheus text format to this file (for a
        /// node-exporter textfile collector or a push gateway): rows per table, bank
        /// entries by outcome, exceptions by kind and band, stage durations, models,
        /// feed delivery.
        #[arg(long, value_name = "FILE")]
        metrics_file: Option<PathBuf>,
        /// Also write OUT/report.html: the run report for people (conservation, cash,
        /// duplicates, journals, exceptions, models, timings), one self-contained file.
        #[arg(long)]
        report: bool,
    },
    /// Write OUT/report.html for the run in OUT: one self-contained page (inline SVG,
    /// no script, no network) with the conservation summary, cash outcomes and
    /// confidence, duplicate clusters, the riskiest journals, exceptions by kind,
    /// band, entity and priority, models and timings. Every count opens the ids it counts.
    Report {
        /// Output folder of a finished `reckon run`.
        #[arg(long)]
        out: PathBuf,
        /// A folder of earlier runs' output folders: adds trends (touchless,
        /// exception backlog, new and no longer raised, age per kind, confidence drift).
        #[arg(long, value_name = "FOLDER")]
        history: Option<PathBuf>,
    },
    /// Deliver a run's exception feed to a workflow engine, durably: a Standard
    /// Webhooks endpoint (CloudEvents, signed with the whsec_ secret in
    /// RECKON_WEBHOOK_SECRET) and/or Camunda 8 (one message per exception). Progress
    /// is kept in OUT/outbox/<sink>/: a killed delivery resumes where it stopped and
    /// re-sends at most the message in flight, under the same webhook-id.
    #[command(args_conflicts_with_subcommands = true)]
    Feed {
        #[command(subcommand)]
        action: Option<feed::Action>,
        #[command(flatten)]
        target: feed::Target,
    },
    /// Run on the bundled sample data (data/sample) into ./reckon-out, write its
    /// report (reckon-out/report.html) and summarise.
    Demo {
        /// Output folder.
        #[arg(long, default_value = "reckon-out")]
        out: PathBuf,
    },
    /// Check an input folder against the data contract without running anything.
    Validate {
        #[arg(long)]
        input: PathBuf,
        /// Print every reject, not only the first 20.
        #[arg(long)]
        all: bool,
    },
    /// Load an input folder and write normalized/<table>.parquet and rejects.parquet.
    Ingest {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Generate a deterministic scenario with ground truth (truth/ holds the labels).
    Generate {
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Random seed: the same seed and scale give byte-identical files.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Number of AR open items; other tables scale with it.
        #[arg(long, default_value_t = 10_000)]
        scale: usize,
        /// `standard`, or `wide`: ranges beyond the engines' defaults (bank charges
        /// above the cap, other discount terms, collective payments of 6–9 invoices,
        /// debits nothing explains, another approval limit and working day), to
        /// measure what each default bound costs (docs/quality.md).
        #[arg(long, default_value = "standard", value_parser = ["standard", "wide"])]
        profile: String,
    },
    /// Evaluate a run's outputs against a generated scenario's truth: cash-matching
    /// precision of `auto`, touchless rate, recall in any band, by pattern, and a
    /// threshold sweep. Prints a summary and writes OUT/eval.json.
    Eval {
        /// Output folder of a `reckon run`.
        #[arg(long)]
        out: PathBuf,
        /// The scenario's truth folder (`reckon generate` writes it as DIR/truth).
        #[arg(long)]
        truth: PathBuf,
    },
    /// Train a model from generated (or labelled) scenarios and write its folder:
    /// model.onnx, config.json (features, thresholds, hashes), metrics.json, MODEL_CARD.md.
    Train {
        #[command(subcommand)]
        what: TrainWhat,
    },
    /// Check a model folder: config.json valid, model.onnx matches its sha256, ONNX
    /// Runtime loads it and a smoke inference gives one finite score per row.
    Models {
        #[command(subcommand)]
        what: ModelsWhat,
    },
    /// Write the features reckon's models see, for data scientists (notebooks/).
    Features {
        #[command(subcommand)]
        what: FeaturesWhat,
    },
    /// Parse bank statement or remittance files (camt.05x, MT940/942, BAI2, X12 820) and
    /// print what they contain as JSON, one line per file: the contract rows with their
    /// positions and the statement controls, or with --model the format's own model
    /// (every tag as the bank sent it; used to compare reckon with other parsers).
    Parse {
        /// Files to parse (the format is detected from the content).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print the format's native model instead of contract rows (MT940/942, camt, BAI2).
        #[arg(long)]
        model: bool,
    },
    /// End-to-end benchmark: generate a scenario at a scale, load it, run cash matching
    /// and a naive baseline (exact invoice number + amount, else unique amount) on the
    /// same data; report throughput (rows/s, MB/s, receipts/s), peak memory, and both
    /// methods' precision/touchless/recall. Build with --release for real numbers.
    Bench {
        #[arg(long, default_value_t = 200_000)]
        scale: usize,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Work folder (default: a temporary folder).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Skip cash matching (`dedup`) or duplicate detection (`cash`). The scenario
        /// has scale/2 AP invoices, so `--scale 2000000 --only dedup` is 1M invoices.
        /// `journals` generates only GL journals (about 0.63 lines per unit of
        /// scale: `--scale 8000000` is ≈ 5M lines) and times tests + features + model.
        #[arg(long, default_value = "all", value_parser = ["all", "cash", "dedup", "journals"])]
        only: String,
    },
}

#[derive(Debug, Subcommand)]
enum TrainWhat {
    /// The journal risk model: an isolation forest (Rust → ONNX tree ensemble) over
    /// journal features plus a logistic regression combining it with the rule flags;
    /// review threshold with the best F1 on --validation.
    Anomaly {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        validation: PathBuf,
        /// Model folder to write, e.g. models/journal_anomaly_v2_2.
        #[arg(long)]
        out: PathBuf,
    },
    /// The AP duplicate-pair scorer (logistic regression, ONNX): fit on --input,
    /// threshold with the best F1 on --validation.
    Dedup {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        validation: PathBuf,
        /// Model folder to write, e.g. models/ap_dedup_v1_1.
        #[arg(long)]
        out: PathBuf,
    },
    /// The cash-matching group scorer (logistic regression, calibrated, ONNX): fit on
    /// --input, threshold for the target auto precision chosen on --validation.
    Match {
        /// Training scenario (a `reckon generate` folder with truth/).
        #[arg(long)]
        input: PathBuf,
        /// A different scenario for the threshold and calibration.
        #[arg(long)]
        validation: PathBuf,
        /// Model folder to write, e.g. models/cash_match_v2_1.
        #[arg(long)]
        out: PathBuf,
        /// Auto precision the threshold must reach on validation (its Wilson lower
        /// bound at --z); a target no cut reaches is an error naming the best cut.
        #[arg(long, default_value_t = 0.998)]
        target_precision: f64,
        /// Standard errors for the precision's lower bound (1.645: one-sided 95 %;
        /// 0: the point estimate).
        #[arg(long, default_value_t = reckon_learn::threshold::Z_95)]
        z: f64,
        /// The probability a group must reach by itself to be cleared automatically,
        /// however good the groups above it make the set look (default: the target).
        #[arg(long)]
        floor: Option<f64>,
    },
}

#[derive(Debug, Subcommand)]
enum ModelsWhat {
    /// Verify one model folder (e.g. models/cash_match_v2_1).
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

#[derive(Debug, Subcommand)]
enum FeaturesWhat {
    /// Journal features (`journal_v2`) of an input folder's GL lines, one row per
    /// journal with entity, journal_id and (when the folder has truth/) the label.
    Journals {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = std::env::var("RECKON_LOG").unwrap_or_else(|_| cli.log.clone());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .with_target(false);
    if cli.log_format == "json" {
        logs.json().with_ansi(false).init();
    } else {
        logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init();
    }
    match dispatch(cli.command) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("reckon: error: {e:#}");
            let usage = e.downcast_ref::<reckon_pipeline::ConfigError>().is_some()
                || e.downcast_ref::<reckon_pipeline::RunError>().is_some_and(reckon_pipeline::RunError::is_usage);
            ExitCode::from(if usage { exit::USAGE } else { exit::FAILED } as u8)
        }
    }
}

fn dispatch(cmd: Command) -> anyhow::Result<i32> {
    match cmd {
        Command::Run { input, out, config, keep_normalized, no_deliver, metrics_file, report } => {
            let mut cfg = match &config {
                Some(p) => Config::load(p)?,
                None => Config::default(),
            };
            cfg.output.keep_normalized |= keep_normalized;
            run(&input, &out, cfg, config, !no_deliver, metrics_file.as_deref(), report)
        }
        Command::Report { out, history } => {
            let mut r = reckon_report::Report::from_output(&out)?;
            if let Some(h) = history {
                let mut runs = reckon_report::run_folders(&h)?;
                if !runs.iter().any(|p| p.canonicalize().ok() == out.canonicalize().ok()) {
                    runs.push(out.clone());
                }
                r = r.with_history(&runs)?;
            }
            let p = r.write(&out)?;
            outln!("wrote {}", p.display());
            Ok(exit::OK)
        }
        Command::Feed { action, target } => feed::dispatch(action, target),
        Command::Features { what: FeaturesWhat::Journals { input, out } } => {
            let loaded = reckon_ingest::load_dir(&input)?;
            let tests = reckon_anomaly::AnomalyConfig::default().build().map_err(|e| anyhow::anyhow!(e))?;
            let (lines, results) = reckon_pipeline::journals::run(&loaded, &tests).context("no GL journal lines")?;
            let f = reckon_anomaly::features(&tests, &lines, &results);
            // The truth's (entity, journal_id) pairs, read with reckon's CSV scanner.
            let mut truth: std::collections::BTreeSet<(String, String)> = Default::default();
            if let Ok(b) = std::fs::read(input.join("truth/journal_anomalies.csv")) {
                let t = reckon_ingest::csv::scan(&b, b',', b'"')
                    .map_err(|e| anyhow::anyhow!("journal_anomalies.csv: {e}"))?;
                let col =
                    |n: &str| t.header.iter().position(|h| h == n).context(format!("journal_anomalies.csv: no {n}"));
                let (e, j) = (col("entity")?, col("journal_id")?);
                truth = (0..t.records.len()).map(|r| (t.columns[e][r].clone(), t.columns[j][r].clone())).collect();
            }
            let k = reckon_anomaly::FEATURES.len();
            // Written with the csv crate: ids with commas or quotes stay one field.
            let mut w = csv::Writer::from_writer(Vec::new());
            let mut header = vec!["entity".to_string(), "journal_id".into(), "label".into()];
            header.extend(reckon_anomaly::FEATURES.iter().map(|f| f.to_string()));
            w.write_record(&header)?;
            for (i, j) in results.iter().enumerate() {
                let label = u8::from(truth.contains(&(j.entity.clone(), j.journal_id.clone())));
                let mut rec = vec![j.entity.clone(), j.journal_id.clone(), label.to_string()];
                rec.extend(f[i * k..(i + 1) * k].iter().map(|v| format!("{v}")));
                w.write_record(&rec)?;
            }
            let text = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
            std::fs::write(&out, text)?;
            outln!("wrote {} journals × {k} features to {}", results.len(), out.display());
            Ok(exit::OK)
        }
        Command::Models { what: ModelsWhat::Score { dir, features, out } } => {
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
        Command::Models { what: ModelsWhat::Verify { dir } } => {
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
        Command::Train { what: TrainWhat::Anomaly { input, validation, out } } => {
            let r = reckon_lab::journals::train(&input, &validation, &out).map_err(|e| anyhow::anyhow!(e))?;
            outln!(
                "trained on {} journals ({} anomalous) in {:.1} s; validation {} journals ({} anomalous):",
                r.train_journals,
                r.train_anomalous,
                r.train_seconds,
                r.validation_journals,
                r.validation_anomalous
            );
            for (name, (auc, ap)) in [
                ("rules only", r.rules_only),
                ("isolation forest only", r.iforest_only),
                ("combined", r.combined),
                ("plain isolation forest, one-hot", r.plain_iforest_one_hot),
            ] {
                outln!("  {name:<34} ROC-AUC {auc:.4}  AP {ap:.4}");
            }
            outln!(
                "review threshold {:.2}: precision {:.3}, recall {:.3}",
                r.review_threshold,
                r.validation_precision,
                r.validation_recall
            );
            outln!("wrote {}", out.display());
            Ok(exit::OK)
        }
        Command::Train { what: TrainWhat::Dedup { input, validation, out } } => {
            let r = reckon_lab::dedup::train(&input, &validation, &out).map_err(|e| anyhow::anyhow!(e))?;
            outln!(
                "trained on {} candidate pairs ({} duplicates); validation: {} pairs, ROC-AUC {:.4}, AP {:.4}",
                r.train_pairs,
                r.train_positive,
                r.validation_pairs,
                r.validation_roc_auc,
                r.validation_average_precision
            );
            outln!(
                "threshold {:.2}: precision {:.4}, recall {:.4}, F1 {:.4}; false alarms {:?}",
                r.threshold,
                r.validation.precision,
                r.validation.recall,
                r.validation.f1,
                r.validation.false_alarms
            );
            outln!("wrote {}", out.display());
            Ok(exit::OK)
        }
        Command::Train { what: TrainWhat::Match { input, validation, out, target_precision, z, floor } } => {
            let pb = spinner("reckon: training the cash-matching model");
            let r = reckon_lab::cash::train(
                &input,
                &validation,
                &out,
                target_precision,
                z,
                floor.unwrap_or(target_precision),
            );
            pb.finish_and_clear();
            let r = r.map_err(|e| anyhow::anyhow!(e))?;
            outln!(
                "trained on {} candidate groups ({} right); validation: ROC-AUC {:.4}, AP {:.4}, Brier {:.4}, ECE {:.4}",
                r.train_rows,
                r.train_positive,
                r.validation_roc_auc,
                r.validation_average_precision,
                r.validation_brier,
                r.validation_ece
            );
            outln!(
                "auto threshold {} (set by {:?}): validation auto precision {:.4} (lower bound {:.4}), touchless {:.4}, recall of proposals {:.4}",
                r.auto_threshold,
                r.bound_by,
                r.validation_auto_precision,
                r.validation_auto_precision_lower,
                r.validation_touchless,
                r.validation_recall_proposed
            );
            outln!("wrote {}", out.display());
            Ok(exit::OK)
        }
        Command::Demo { out } => {
            let input = sample_dir().context("bundled sample data (data/sample) not found")?;
            outln!("reckon demo: input {}  output {}", input.display(), out.display());
            let mut cfg = Config::default();
            cfg.output.keep_normalized = true;
            run(&input, &out, cfg, None, false, None, true)
        }
        Command::Validate { input, all } => {
            let loaded = reckon_ingest::load_dir(&input)?;
            print_files(&loaded);
            let limit = if all { usize::MAX } else { 20 };
            for r in loaded.rejects.iter().take(limit) {
                outln!(
                    "  {}:{} {} [{}] {}",
                    r.file,
                    r.row.map(|x| x.to_string()).unwrap_or_else(|| "-".into()),
                    r.column.as_deref().unwrap_or("-"),
                    r.code.as_str(),
                    r.reason
                );
            }
            if loaded.rejects.len() > limit {
                outln!("  … {} more (use --all)", loaded.rejects.len() - limit);
            }
            Ok(if !loaded.refused_files().is_empty() || !loaded.rejects.is_empty() {
                exit::REFUSED_INPUT
            } else {
                exit::OK
            })
        }
        Command::Ingest { input, out } => {
            let mut cfg = Config::default();
            cfg.output.keep_normalized = true;
            run(&input, &out, cfg, None, false, None, false)
        }
        Command::Generate { out, seed, scale, profile } => {
            let t = Instant::now();
            let pb = spinner(&format!("reckon: generating {scale} open items"));
            let mut cfg = reckon_synth::Config::new(seed, scale);
            if profile == "wide" {
                cfg.profile = reckon_synth::Profile::Wide;
            }
            let s = reckon_synth::generate(&out, &cfg);
            pb.finish_and_clear();
            let s = s?;
            outln!("generated seed={seed} scale={scale} into {} in {:.2?}", out.display(), t.elapsed());
            for (k, v) in &s.rows {
                outln!("  {k:<32} {v:>10}");
            }
            outln!("  patterns: see {}", out.join("truth/summary.json").display());
            Ok(exit::OK)
        }
        Command::Bench { scale, seed, dir, only } => bench(scale, seed, dir, &only),
        Command::Parse { files, model } => parse_files(&files, model),
        Command::Eval { out, truth } => {
            if let Err(e) = reckon_lab::eval::refuse_training_data(&out, &truth) {
                eprintln!("reckon eval: {e}");
                return Ok(exit::USAGE);
            }
            let e = reckon_lab::eval::cash(&out, &truth)?;
            outln!("cash matching: {} matchable receipts", e.matchable);
            outln!(
                "  auto: {} groups, precision {:.4}; touchless {:.4}; false auto on nobody's money {}",
                e.auto_groups,
                e.auto_precision,
                e.touchless,
                e.false_auto_on_unmatched
            );
            outln!(
                "  recall: right items proposed (auto or review) {:.4}; in any band, counting the candidates of ambiguous_match exceptions {:.4}",
                e.recall_proposed,
                e.recall_any_band
            );
            outln!(
                "  {:<18} {:>8} {:>8} {:>10} {:>10} {:>14}",
                "pattern",
                "receipts",
                "auto",
                "auto_ok",
                "proposed",
                "in_candidates"
            );
            for (p, s) in &e.by_pattern {
                outln!(
                    "  {:<18} {:>8} {:>8} {:>10} {:>10} {:>14}",
                    p,
                    s.receipts,
                    s.auto,
                    s.auto_correct,
                    s.any_correct,
                    s.in_candidates
                );
            }
            outln!("  threshold sweep (confidence >= t cleared automatically):");
            for s in &e.sweep {
                outln!(
                    "    t={:.2}: {:>7} groups, precision {:.4}, touchless {:.4}",
                    s.threshold,
                    s.auto_groups,
                    s.auto_precision,
                    s.touchless
                );
            }
            // Duplicate detection, when the run wrote it and the truth has it, beside the
            // ERP's exact-key check on the same invoices.
            let mut dup_json = serde_json::Value::Null;
            if out.join("duplicates.parquet").is_file() && truth.join("ap_duplicates.csv").is_file() {
                let d = reckon_lab::dedup::eval_out(&out, &truth).map_err(|e| anyhow::anyhow!(e))?;
                let scenario = truth.parent().unwrap_or(&truth);
                let baseline =
                    match reckon_ingest::load_dir(scenario).ok().and_then(|l| reckon_pipeline::dedup::inputs(&l)) {
                        Some((inv, _)) => {
                            let flagged = reckon_lab::dedup::exact_key_baseline(&inv);
                            Some(reckon_lab::dedup::evaluate(&flagged, 0, &truth).map_err(|e| anyhow::anyhow!(e))?)
                        }
                        None => None,
                    };
                outln!("duplicate invoices: {} true pairs", d.true_pairs);
                outln!(
                    "  reckon: {} flagged, precision {:.4}, recall {:.4}, F1 {:.4}",
                    d.flagged,
                    d.precision,
                    d.recall,
                    d.f1
                );
                for (p, (n, found)) in &d.by_pattern {
                    outln!("    {p:<14} {found:>5} of {n:>5}");
                }
                for (t, (n, fa, rate)) in &d.false_alarms {
                    outln!("    false alarms on {t:<12} {fa:>5} of {n:>5} ({:.3}%)", rate * 100.0);
                }
                if let Some(b) = &baseline {
                    outln!(
                        "  exact-key check (same vendor, number, amount, date): {} flagged, precision {:.4}, recall {:.4}, F1 {:.4}",
                        b.flagged,
                        b.precision,
                        b.recall,
                        b.f1
                    );
                }
                dup_json = serde_json::json!({ "reckon": d, "exact_key_baseline": baseline });
            }
            let mut journal_json = serde_json::Value::Null;
            if out.join("journal_scores.parquet").is_file() && truth.join("journal_anomalies.csv").is_file() {
                // The threshold the run flagged at: the model's own (from its folder, as the
                // run's manifest names it), else the rules' review risk.
                let risk = reckon_lab::eval::journal_review_threshold(&out);
                let j = reckon_lab::journals::eval_out(&out, &truth, risk).map_err(|e| anyhow::anyhow!(e))?;
                outln!(
                    "journals: {} journals, {} anomalous; ROC-AUC {:.4}, average precision {:.4}, precision@k {:.4}; false positive rate {:.4} at risk {risk}",
                    j.journals,
                    j.anomalous,
                    j.roc_auc,
                    j.average_precision,
                    j.precision_at_k,
                    j.false_positive_rate
                );
                for (t, (n, f)) in &j.recall_by_type {
                    outln!("    {t:<26} {f:>4} of {n:>4} flagged");
                }
                journal_json = serde_json::to_value(&j)?;
            }
            let mut out_json = serde_json::Value::Null;
            if out.join("disbursements.parquet").is_file() && truth.join("disbursements.csv").is_file() {
                let m = reckon_lab::dedup::eval_money_out(&out, &truth).map_err(|e| anyhow::anyhow!(e))?;
                outln!("money out: debits settled right, by class");
                for (c, (n, ok)) in &m {
                    outln!("    {c:<18} {ok:>6} of {n:>6}");
                }
                out_json = serde_json::to_value(&m)?;
            }
            let path = out.join("eval.json");
            std::fs::write(
                &path,
                serde_json::to_string_pretty(&serde_json::json!({
                    "cash": e,
                    "duplicates": dup_json,
                    "money_out": out_json,
                    "journals": journal_json,
                    "figures": reckon_lab::eval::figures(&out, &truth)?,
                }))? + "\n",
            )?;
            outln!("wrote {}", path.display());
            Ok(exit::OK)
        }
    }
}

/// A spinner on stderr while long work runs (only on a terminal; logs and pipes stay clean).
fn spinner(msg: &str) -> indicatif::ProgressBar {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}

fn run(
    input: &Path,
    out: &Path,
    config: Config,
    config_path: Option<PathBuf>,
    deliver: bool,
    metrics_file: Option<&Path>,
    report: bool,
) -> anyhow::Result<i32> {
    let opts = RunOptions {
        input: input.to_path_buf(),
        out: out.to_path_buf(),
        config,
        config_path,
        deliver,
        started_at: None,
        report,
    };
    let pb = spinner(&format!("reckon: loading and checking {}", input.display()));
    let o = reckon_pipeline::run(&opts);
    pb.finish_and_clear();
    let o = o?;
    print_files(&o.loaded);
    let c = &o.manifest.conservation;
    outln!(
        "bank entries: {} in, {} loaded, {} rejected, {} matched, {} in exceptions, {} unreconciled",
        c.bank_transactions.input_rows,
        c.bank_transactions.loaded,
        c.bank_transactions.rejected,
        c.bank_transactions.matched,
        c.bank_transactions.in_exceptions,
        c.bank_transactions.unreconciled
    );
    if !c.bank_transactions.receipts.is_empty() {
        let r = &c.bank_transactions.receipts;
        let g = |k: &str| r.get(k).copied().unwrap_or(0);
        outln!(
            "cash matching: {} receipts: {} auto, {} for review, {} ambiguous, {} unmatched (matches.parquet)",
            r.values().sum::<u64>(),
            g("auto"),
            g("review"),
            g("ambiguous"),
            g("unmatched")
        );
    }
    outln!("conservation: {}", if c.balanced { "balanced" } else { "NOT BALANCED" });
    outln!("wrote {} (run {})", out.join("manifest.json").display(), o.manifest.run_id);
    if report {
        outln!("wrote {}", out.join("report.html").display());
    }
    if !o.manifest.refused_files.is_empty() {
        outln!("some input was refused: {}", o.manifest.refused_files.join(", "));
    }
    for d in &o.deliveries {
        feed::print_delivery(d.sink, &d.report, &d.status);
    }
    if let Some(f) = metrics_file {
        let counts = reckon_pipeline::metrics::exception_counts(out)?;
        reckon_pipeline::metrics::write(f, &reckon_pipeline::metrics::render(&o.manifest, &counts, &o.deliveries))?;
        outln!("wrote {} (Prometheus text format)", f.display());
    }
    Ok(o.exit_code)
}

fn parse_files(files: &[PathBuf], model: bool) -> anyhow::Result<i32> {
    use reckon_formats::Format;
    let mut code = exit::OK;
    for f in files {
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let format = reckon_formats::detect(&bytes);
        let body = if model {
            match format {
                Format::Mt940 | Format::Mt942 => serde_json::to_value(reckon_formats::mt940::statements(&bytes))?,
                Format::Camt(_) => match reckon_formats::camt::document(&bytes) {
                    Ok(d) => serde_json::to_value(d)?,
                    Err(e) => serde_json::json!({ "error": e.to_string() }),
                },
                Format::Bai2 => match reckon_formats::bai2::accounts(&bytes) {
                    Ok((a, c)) => serde_json::json!({ "accounts": a, "controls": c }),
                    Err(e) => serde_json::json!({ "error": e.to_string() }),
                },
                _ => serde_json::json!({ "error": "no native model for this format" }),
            }
        } else {
            match reckon_formats::parse(&bytes) {
                Ok(p) => serde_json::to_value(p)?,
                Err(e) => {
                    code = exit::REFUSED_INPUT;
                    serde_json::json!({ "error": e.to_string() })
                }
            }
        };
        let line = serde_json::json!({ "file": f.display().to_string(), "format": format.name(), "parsed": body });
        outln!("{}", serde_json::to_string(&line)?);
    }
    Ok(code)
}

fn print_files(loaded: &reckon_ingest::Loaded) {
    outln!("{:<34} {:<18} {:>9} {:>9} {:>9}", "file", "table", "rows", "loaded", "rejected");
    for f in &loaded.files {
        outln!(
            "{:<34} {:<18} {:>9} {:>9} {:>9}{}",
            f.path,
            f.table.as_deref().unwrap_or("-"),
            f.input_rows,
            f.loaded_rows,
            f.rejected_rows,
            f.refused.as_ref().map(|r| format!("  REFUSED: {r}")).unwrap_or_default()
        );
    }
    for i in &loaded.ignored {
        outln!("{i:<34} (ignored: not a contract table and no mapping)");
    }
}

/// The bundled sample: ./data/sample, else the one next to the sources this binary was built from.
fn sample_dir() -> Option<PathBuf> {
    let here = PathBuf::from("data/sample");
    if here.is_dir() {
        return Some(here);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    built.is_dir().then_some(built)
}

fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// GL journals only: generate, load, then journal-entry tests, features and the
/// journal risk model (isolation forest + combination) timed together.
fn bench_journals(input: &Path, scale: usize, seed: u64, dir: &Path) -> anyhow::Result<i32> {
    std::fs::create_dir_all(input.join("truth"))?;
    let t = Instant::now();
    let mut summary = reckon_synth::Summary::default();
    let cfg = reckon_synth::Config::new(seed, scale);
    // The same stream `reckon generate` uses for GL (forks advance the parent).
    let mut rng = reckon_synth::rng::Rng::new(seed);
    let _ = (rng.fork(100), rng.fork(200));
    reckon_synth::gl::write(input, &mut rng.fork(300), scale, cfg.base_day, cfg.profile, &mut summary)?;
    let gen_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let loaded = reckon_ingest::load_dir(input)?;
    let load_s = t.elapsed().as_secs_f64();
    let tests = reckon_anomaly::AnomalyConfig::default().build().map_err(|e| anyhow::anyhow!(e))?;
    let name = reckon_anomaly::AnomalyConfig::default().model;
    let dirm = reckon_pipeline::model::resolve(&name).with_context(|| format!("models/{name} not found"))?;
    let model = reckon_pipeline::journals::RiskModel::load(&dirm).map_err(|e| anyhow::anyhow!(e))?;
    // Book, tests, features and model: (book + tests seconds, features + model seconds, results).
    let pass = || -> anyhow::Result<(f64, f64, usize, Vec<reckon_anomaly::JournalResult>)> {
        let t = Instant::now();
        let (book, mut results) = reckon_pipeline::journals::run(&loaded, &tests).context("no GL lines")?;
        let rules_s = t.elapsed().as_secs_f64();
        let t2 = Instant::now();
        model.score(&tests, &book, &mut results).map_err(|e| anyhow::anyhow!(e))?;
        Ok((rules_s, t2.elapsed().as_secs_f64(), book.len(), results))
    };
    let (rules_s, model_s, n_lines, results) = pass()?;
    let total = rules_s + model_s;
    // Baseline in the same process: the same pass on one thread. It must give the
    // same journals, flags and risks.
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let (s_rules, s_model, _, serial) = one.install(pass)?;
    let identical = serial == results;
    let eval = reckon_lab::journals::evaluate(&results, &input.join("truth"), model.review())
        .map_err(|e| anyhow::anyhow!(e))?;
    let profile = if cfg!(debug_assertions) { "debug (use --release for real numbers)" } else { "release" };
    let report = serde_json::json!({
        "profile": profile,
        "scale": scale,
        "seed": seed,
        "gl_lines": n_lines,
        "journals": results.len(),
        "threads": rayon::current_num_threads(),
        "generate_seconds": gen_s,
        "load_seconds": load_s,
        "tests_seconds": rules_s,
        "features_and_model_seconds": model_s,
        "total_seconds": total,
        "lines_per_s": n_lines as f64 / total,
        "baseline_one_thread_seconds": s_rules + s_model,
        "baseline_one_thread_lines_per_s": n_lines as f64 / (s_rules + s_model),
        "speedup_vs_one_thread": (s_rules + s_model) / total,
        "identical_to_one_thread": identical,
        "model": model.risk.id(),
        "roc_auc": eval.roc_auc,
        "average_precision": eval.average_precision,
        "peak_rss_mib": peak_rss_mib(),
    });
    outln!("{}", serde_json::to_string_pretty(&report)?);
    if std::env::var_os("RECKON_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(exit::OK)
}

fn bench(scale: usize, seed: u64, dir: Option<PathBuf>, only: &str) -> anyhow::Result<i32> {
    let tmp;
    let dir = match dir {
        Some(d) => d,
        None => {
            tmp = std::env::temp_dir().join(format!("reckon-bench-{}", std::process::id()));
            tmp.clone()
        }
    };
    let input = dir.join("input");
    if only == "journals" {
        return bench_journals(&input, scale, seed, &dir);
    }
    let t = Instant::now();
    reckon_synth::generate(&input, &reckon_synth::Config::new(seed, scale))?;
    let gen_s = t.elapsed().as_secs_f64();
    let bytes: u64 = std::fs::read_dir(&input)?
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum();
    let t = Instant::now();
    let loaded = reckon_ingest::load_dir(&input)?;
    let load_s = t.elapsed().as_secs_f64();
    let rows: u64 = loaded.files.iter().map(|f| f.input_rows).sum();
    // Cash matching against the naive baseline, on the same data in the same process.
    let matching_report = if only == "dedup" {
        serde_json::Value::Null
    } else {
        let inputs =
            reckon_pipeline::cash::inputs(&loaded).context("generated scenario lacks receipts or open items")?;
        let truth = reckon_lab::eval::cash_truth(&input.join("truth"))?;
        let n_receipts = inputs.receipts.iter().filter(|r| r.amount > 0).count();
        // The shipped model, as `reckon run` uses it (its own auto threshold).
        let mut mcfg = reckon_match::MatchConfig::default();
        let scorer = reckon_pipeline::model::load_scorer(&mcfg).map_err(|e| anyhow::anyhow!(e))?;
        if let Some(t) = scorer.as_ref().and_then(|s| s.0.config.thresholds.get("auto")) {
            mcfg.auto_threshold = *t;
        }
        // As `reckon run` does it: invoice-number blocking as polars joins, then the engine.
        let t = Instant::now();
        let blocks = reckon_pipeline::cash::reference_blocks(&inputs.receipts, &inputs.items)?;
        let blocking_s = t.elapsed().as_secs_f64();
        let res = reckon_match::run_blocked(
            &inputs.receipts,
            &inputs.items,
            &inputs.customers,
            &inputs.remittances,
            &mcfg,
            scorer.as_ref().map(|s| s as &dyn reckon_match::GroupScorer),
            Some(&blocks),
        )
        .map_err(|e| anyhow::anyhow!(e))?;
        let match_s = t.elapsed().as_secs_f64();
        let match_rss = peak_rss_mib();
        let mut pred = reckon_lab::eval::Predicted::new();
        for r in &res.rows {
            let e = pred.entry(r.txn_id.clone()).or_insert((
                Default::default(),
                r.band == reckon_match::Band::Auto,
                r.confidence,
            ));
            e.0.insert(r.item_id.clone());
        }
        let reckon_eval = reckon_lab::eval::score_with(&pred, &reckon_lab::eval::candidates_of(&res), &truth);
        let t = Instant::now();
        let naive = reckon_match::baseline::naive(&inputs.receipts, &inputs.items);
        let naive_s = t.elapsed().as_secs_f64();
        let mut npred = reckon_lab::eval::Predicted::new();
        for (ri, ii) in naive {
            let e = npred.entry(inputs.receipts[ri].txn_id.clone()).or_insert((Default::default(), true, 1.0));
            e.0.insert(inputs.items[ii].item_id.clone());
        }
        let naive_eval = reckon_lab::eval::score(&npred, &truth);
        let summary = |e: &reckon_lab::eval::CashEval| {
            serde_json::json!({
                "auto_groups": e.auto_groups, "auto_precision": e.auto_precision,
                "touchless": e.touchless, "recall_proposed": e.recall_proposed, "recall_any_band": e.recall_any_band,
            })
        };
        serde_json::json!({
            "receipts": n_receipts,
            "open_items": inputs.items.len(),
            "reckon_model": scorer.as_ref().map(reckon_match::GroupScorer::id),
            "reckon_seconds": match_s,
            "reckon_blocking_seconds": blocking_s,
            "reckon_receipts_per_s": n_receipts as f64 / match_s,
            "peak_rss_mib_after_matching": match_rss,
            "reckon": summary(&reckon_eval),
            "naive_baseline_seconds": naive_s,
            "naive_baseline": summary(&naive_eval),
        })
    };
    // Duplicate detection on the scenario's AP invoices, beside the exact-key check.
    let mut dup_report = serde_json::Value::Null;
    if only != "cash"
        && let Some((inv, ven)) = reckon_pipeline::dedup::inputs(&loaded)
    {
        let name = reckon_pipeline::config::DuplicatesConfig::default().model;
        let dir_m = reckon_pipeline::model::resolve(&name).with_context(|| format!("models/{name} not found"))?;
        let m = reckon_onnx::Model::load(&dir_m).map_err(|e| anyhow::anyhow!(e))?;
        let n = inv.len();
        let t = Instant::now();
        let base = reckon_lab::dedup::exact_key_baseline(&inv);
        let base_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let r = reckon_pipeline::dedup::detect(inv, &ven, &m).map_err(|e| anyhow::anyhow!(e))?;
        let dedup_s = t.elapsed().as_secs_f64();
        let key = |a: usize, b: usize| {
            let (x, y) = (&r.invoices[a].doc_id, &r.invoices[b].doc_id);
            if x < y { (x.clone(), y.clone()) } else { (y.clone(), x.clone()) }
        };
        let flagged: std::collections::BTreeSet<(String, String)> =
            r.flagged.iter().map(|(a, b, _, _)| key(*a, *b)).collect();
        let ev = reckon_lab::dedup::evaluate(&flagged, r.compared_pairs, &input.join("truth"))
            .map_err(|e| anyhow::anyhow!(e))?;
        let bev = reckon_lab::dedup::evaluate(&base, 0, &input.join("truth")).map_err(|e| anyhow::anyhow!(e))?;
        dup_report = serde_json::json!({
            "ap_invoices": n,
            "pairs_compared": r.compared_pairs,
            "pairs_per_invoice": r.compared_pairs as f64 / n.max(1) as f64,
            "reckon_seconds": dedup_s,
            "reckon_invoices_per_s": n as f64 / dedup_s,
            "reckon": { "precision": ev.precision, "recall": ev.recall, "f1": ev.f1, "false_alarms": ev.false_alarms },
            "exact_key_seconds": base_s,
            "exact_key": { "precision": bev.precision, "recall": bev.recall, "f1": bev.f1 },
            "peak_rss_mib_after": peak_rss_mib(),
        });
    }
    let profile = if cfg!(debug_assertions) { "debug (use --release for real numbers)" } else { "release" };
    let report = serde_json::json!({
        "profile": profile,
        "scale": scale,
        "seed": seed,
        "generate_seconds": gen_s,
        "generate_open_items_per_s": scale as f64 / gen_s,
        "input_bytes": bytes,
        "input_rows": rows,
        "load_seconds": load_s,
        "load_rows_per_s": rows as f64 / load_s,
        "load_mb_per_s": bytes as f64 / 1e6 / load_s,
        "rejects": loaded.rejects.len(),
        "peak_rss_mib": peak_rss_mib(),
        "matching": matching_report,
        "duplicates": dup_report,
    });
    outln!("{}", serde_json::to_string_pretty(&report)?);
    if std::env::var_os("RECKON_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(exit::OK)
}
