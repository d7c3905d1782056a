//! `reckon run`, `demo`, `ingest` and `report`: a run of the pipeline on an input
//! folder, its summary on stdout, and the run report.

use std::path::{Path, PathBuf};

use crate::exit;
use anyhow::Context;
use reckon_pipeline::{Config, RunOptions};

/// `reckon run`'s arguments.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Folder with the input tables (bank_transactions.csv, ar_open_items.parquet, …
    /// and ERP exports with a sibling <name>.mapping.toml); with --state also
    /// decisions/*.jsonl|csv.
    #[arg(long)]
    pub input: PathBuf,
    /// Output folder (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// reckon.toml with run settings (default: built-in defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Also write normalized/<table>.parquet: every table as reckon understood it.
    #[arg(long)]
    pub keep_normalized: bool,
    /// Do not deliver the feed to the sinks in [feed.webhook]/[feed.camunda]
    /// (deliver later with `reckon feed --out OUT`).
    #[arg(long)]
    pub no_deliver: bool,
    /// Also write the run's metrics in Prometheus text format to this file (for a
    /// node-exporter textfile collector or a push gateway): rows per table, bank
    /// entries by outcome, exceptions by kind and band, stage durations, models,
    /// feed delivery.
    #[arg(long, value_name = "FILE")]
    pub metrics_file: Option<PathBuf>,
    /// Also write OUT/report.html: the run report for people (conservation, cash,
    /// duplicates, journals, exceptions, models, timings), one self-contained file.
    #[arg(long)]
    pub report: bool,
    /// Remember across runs in this state store (an SQLite file, created on
    /// first use; overrides [state] path): bank entries left open are carried
    /// into the next run, exceptions keep their id and get a lifecycle (new,
    /// open, resolved, reopened; age, SLA), decisions in INPUT/decisions/ or
    /// from `reckon decide` are applied, rejected pairs and confirmed payer
    /// names are used. One run at a time per store.
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// The run's business date, YYYY-MM-DD (exception ages and SLAs); default
    /// the latest booking date of the bank entries loaded.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<chrono::NaiveDate>,
}

/// `reckon run`: loads the config, runs, summarises; the exit code is the run's.
pub fn exec(a: RunArgs) -> anyhow::Result<i32> {
    let mut cfg = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    cfg.output.keep_normalized |= a.keep_normalized;
    let mut opts = RunOptions::new(&a.input, &a.out, cfg);
    opts.config_path = a.config;
    opts.deliver = !a.no_deliver;
    opts.report = a.report;
    opts.state = a.state;
    opts.as_of = a.as_of;
    run(opts, a.metrics_file.as_deref())
}

/// `reckon report`: writes OUT/report.html, with trends over `history` when given.
pub fn report(out: PathBuf, history: Option<PathBuf>) -> anyhow::Result<i32> {
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

/// `reckon demo`: the bundled sample into `out`, with its report.
pub fn demo(out: PathBuf) -> anyhow::Result<i32> {
    let input = sample_dir().context("bundled sample data (data/sample) not found")?;
    outln!("reckon demo: input {}  output {}", input.display(), out.display());
    let mut cfg = Config::default();
    cfg.output.keep_normalized = true;
    let mut opts = RunOptions::new(&input, &out, cfg);
    opts.report = true;
    run(opts, None)
}

/// `reckon ingest`: a run that keeps the normalized tables.
pub fn ingest(input: PathBuf, out: PathBuf) -> anyhow::Result<i32> {
    let mut cfg = Config::default();
    cfg.output.keep_normalized = true;
    run(RunOptions::new(&input, &out, cfg), None)
}

/// A spinner on stderr while long work runs (only on a terminal; logs and pipes stay clean).
pub fn spinner(msg: &str) -> indicatif::ProgressBar {
    if !crate::progress::visible() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}

pub fn run(opts: RunOptions, metrics_file: Option<&Path>) -> anyhow::Result<i32> {
    let (out, report) = (opts.out.as_path(), opts.report);
    // Progress per stage comes from the pipeline's events (`crate::progress`).
    let o = reckon_pipeline::run(&opts)?;
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
    if let Some(st) = &o.manifest.state {
        let g = |k: &str| st.exceptions.get(k).copied().unwrap_or(0);
        outln!(
            "state {} (as of {}): run {} of the chain; {} bank entries carried in, {} already settled refused; exceptions {} new, {} open, {} reopened, {} resolved; {} decisions applied",
            st.store,
            st.as_of,
            st.chain.runs,
            st.prepared.carried,
            st.prepared.redelivered,
            g("new"),
            g("open"),
            g("reopened"),
            g("resolved"),
            st.decisions_applied
        );
        for r in &st.decisions_refused {
            outln!("decision refused: {r}");
        }
    }
    outln!("wrote {} (run {})", out.join("manifest.json").display(), o.manifest.run_id);
    if report {
        outln!("wrote {}", out.join("report.html").display());
    }
    if !o.manifest.refused_files.is_empty() {
        outln!("some input was refused: {}", o.manifest.refused_files.join(", "));
    }
    for d in &o.deliveries {
        crate::cmd::feed::print_delivery(d.sink, &d.report, &d.status);
    }
    if let Some(f) = metrics_file {
        let counts = reckon_pipeline::metrics::exception_counts(out)?;
        reckon_pipeline::metrics::write(f, &reckon_pipeline::metrics::render(&o.manifest, &counts, &o.deliveries))?;
        outln!("wrote {} (Prometheus text format)", f.display());
    }
    Ok(crate::exit::of_run(o.status))
}

pub fn print_files(loaded: &reckon_ingest::Loaded) {
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
pub fn sample_dir() -> Option<PathBuf> {
    let here = PathBuf::from("data/sample");
    if here.is_dir() {
        return Some(here);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    built.is_dir().then_some(built)
}
