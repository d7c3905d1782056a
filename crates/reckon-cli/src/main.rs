//! `reckon`: the command line of the reckon engine.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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

mod cmd;
mod exit;
mod progress;

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
    /// No progress: no spinners on a terminal, no line per finished stage
    /// otherwise (logs still follow --log).
    #[arg(long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run reckon on an input folder: load, check, write rejects and the manifest.
    Run(cmd::run::RunArgs),
    /// Send decisions to a state store: people's answers to exceptions (accept,
    /// choose, match, reject_pair, dismiss, write_off, explain, undo, approve)
    /// from .jsonl or .csv files. Each is checked against the store and the
    /// [decisions] policy in the config (roles, limits, four eyes) and recorded
    /// with its outcome; matches are applied by the next `reckon run --state`.
    /// Exit 3 when any decision was refused.
    Decide(cmd::state::DecideArgs),
    /// Take decisions over HTTP: `POST /decisions` with one decision or an array
    /// (the JSON `reckon decide` reads), signed with Standard Webhooks
    /// (webhook-id, webhook-timestamp, webhook-signature) using the secret in
    /// RECKON_INTAKE_SECRET. Unsigned, badly signed, stale (--tolerance) and
    /// replayed requests are refused and logged; each request is recorded in one
    /// transaction; answers the verdicts as JSON. While a run holds the store,
    /// requests wait up to 10 s, then get 503 with Retry-After.
    Serve(cmd::state::ServeArgs),
    /// Print the evidence trail of an exception (EX-…) or a bank entry (its
    /// txn_id) from a state store: every run that raised, updated or resolved
    /// it with band, score and model, and every decision and who took it.
    /// Without an id: the chain of runs and the open exceptions by kind.
    Audit(cmd::state::AuditArgs),
    /// Run the days of a `reckon generate --days N` folder against one state
    /// store with a simulated analyst (decides a share of each day's exceptions
    /// from the truth, a few wrongly, some of those undone the next day) and a
    /// simulated ERP (shows reckon's links two days later). Writes
    /// OUT/simulation.md and .json: one row per day (touchless, carried
    /// receipts applied, late invoices and advices matched on arrival,
    /// exceptions new/open/reopened/resolved, SLA, decisions, problems raised twice).
    Simulate(cmd::state::SimulateArgs),
    /// The cash model's retraining job, for a scheduler (cron, Airflow, a
    /// Camunda timer): a registered challenger is judged first and promoted
    /// when the decisions say it is better (exit 0); while it has too few
    /// decided proposals scored in shadow, nothing is done (exit 6); otherwise a
    /// candidate is trained on the store's decisions into --models-dir and
    /// registered as challenger (exit 5), or, with too few decisions, nothing
    /// (exit 6). --json prints the account as one JSON object.
    Retrain(cmd::state::RetrainArgs),
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
        action: Option<cmd::feed::Action>,
        #[command(flatten)]
        target: cmd::feed::Target,
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
    Generate(cmd::data::GenerateArgs),
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
    /// Leave-one-world-out evaluation: for each world (a bank's way of writing
    /// receipts, a company's posting habits, its vendors' habits — `reckon generate
    /// --world`), train the three models on the other worlds, run reckon on the
    /// world left out and score it; held-out worlds are judged by models trained on
    /// every other. Prints a table (worst world first) beside the shipped models'
    /// figures and writes DIR/worlds.json. Exit 1 when a world misses a goal.
    Worlds {
        /// Working folder (scenarios, fold models, runs, worlds.json), made anew
        /// on each call unless --reuse.
        #[arg(long)]
        dir: PathBuf,
        /// Keep the scenarios and fold models of a previous call with the same build.
        #[arg(long)]
        reuse: bool,
        /// Scale of every scenario (AR open items; journals are a quarter of it).
        #[arg(long, default_value_t = 20_000)]
        scale: usize,
        /// Seed of each world's training scenario (validation +1, test +2).
        #[arg(long, default_value_t = 900)]
        seed: u64,
        /// The worlds to use (default all), comma-separated.
        #[arg(long, value_delimiter = ',', value_parser = reckon_synth::world::names())]
        worlds: Vec<String>,
        /// The probability a group must reach by itself to be cleared automatically
        /// (as `reckon train cash --floor`); the auto threshold is still the lowest
        /// cut whose validation precision reaches 0.998 at 95 %.
        #[arg(long, default_value_t = 0.998)]
        floor: f64,
    },
    /// Train a model from generated (or labelled) scenarios and write its folder:
    /// model.onnx, config.json (features, thresholds, hashes), metrics.json, MODEL_CARD.md.
    Train {
        #[command(subcommand)]
        what: cmd::train::What,
    },
    /// Model folders: `verify` (config.json valid, model.onnx matches its sha256, ONNX
    /// Runtime loads it, a smoke inference gives one finite score per row), `score`,
    /// and the state store's registry: `list`, `challenge` (a challenger scored in
    /// shadow), `promote` (only when it beats the champion on people's decisions),
    /// `rollback`.
    Models {
        #[command(subcommand)]
        what: cmd::models::What,
    },
    /// Write the features reckon's models see, for data scientists (notebooks/).
    Features {
        #[command(subcommand)]
        what: cmd::features::What,
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
        /// Only cash matching (`cash`) or only duplicate detection (`duplicates`;
        /// `dedup` is its former name). The scenario has scale/2 AP invoices, so
        /// `--scale 2000000 --only duplicates` is 1M invoices.
        /// `journals` generates only GL journals (about 0.63 lines per unit of
        /// scale: `--scale 8000000` is ≈ 5M lines) and times tests + features + model.
        /// `state` times the state store: a run whose receipts all stay open
        /// (≈ 0.85 × scale bank entries), then one that carries them all in and
        /// matches them, each with the store's share of its wall time.
        /// `e2e` times one whole `reckon run` as a subprocess, from CSV and from
        /// Parquet, on books of 1.2 × scale open items (≈ scale bank entries),
        /// scale AP invoices and ≈ 5 × scale GL lines: wall time, peak memory,
        /// time and rows/s per stage, the bottleneck stage.
        /// `retrain` fills a state store with scale decided cash proposals and
        /// times `reckon train cash --state` on them (wall time, peak memory).
        #[arg(long, default_value = "all", value_parser = ["all", "cash", "duplicates", "dedup", "journals", "state", "e2e", "retrain"])]
        only: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = std::env::var("RECKON_LOG").unwrap_or_else(|_| cli.log.clone());
    {
        use tracing_subscriber::prelude::*;
        let env = tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| "warn".into());
        let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(false);
        // Progress from the pipeline's stage events, whatever the log filter; the
        // JSON logs carry those events themselves.
        progress::set_quiet(cli.quiet);
        if cli.log_format == "json" {
            tracing_subscriber::registry().with(logs.json().with_ansi(false).with_filter(env)).init();
        } else {
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let steps = (!cli.quiet).then(|| {
                progress::StageProgress::for_stderr().with_filter(tracing_subscriber::filter::filter_fn(
                    progress::pipeline_events as fn(&tracing::Metadata<'_>) -> bool,
                ))
            });
            tracing_subscriber::registry().with(logs.with_ansi(ansi).with_filter(env)).with(steps).init();
        }
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
        Command::Run(a) => cmd::run::exec(a),
        Command::Decide(a) => cmd::state::decide(a),
        Command::Audit(a) => cmd::state::audit(a),
        Command::Simulate(a) => cmd::state::simulate(a),
        Command::Retrain(a) => cmd::state::retrain(a),
        Command::Serve(a) => cmd::state::serve(a),
        Command::Report { out, history } => cmd::run::report(out, history),
        Command::Feed { action, target } => cmd::feed::dispatch(action, target),
        Command::Features { what } => cmd::features::exec(what),
        Command::Models { what } => cmd::models::exec(what),
        Command::Train { what } => cmd::train::exec(what),
        Command::Demo { out } => cmd::run::demo(out),
        Command::Validate { input, all } => cmd::data::validate(input, all),
        Command::Ingest { input, out } => cmd::run::ingest(input, out),
        Command::Generate(a) => cmd::data::generate(a),
        Command::Bench { scale, seed, dir, only } => cmd::bench::bench(scale, seed, dir, &only),
        Command::Parse { files, model } => cmd::data::parse_files(&files, model),
        Command::Eval { out, truth } => cmd::eval::exec(out, truth),
        Command::Worlds { dir, scale, seed, worlds, floor, reuse } => {
            cmd::eval::worlds(dir, scale, seed, worlds, floor, reuse)
        }
    }
}
