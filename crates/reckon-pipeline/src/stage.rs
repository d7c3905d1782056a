//! The recipe every engine stage follows, and the one place stages are registered.
//!
//! A stage is built from the run's [`Config`] (`build`: settings checked, models
//! resolved and loaded, so every error surfaces before any work), then run on
//! the shared [`RunInputs`] (the loaded tables converted once into engine rows,
//! of which it reads those it declares in [`Stage::reads`]) and returns a
//! [`StageOutput`]: the tables it writes,
//! its exceptions, the models it used, a [`StageReport`] and which loaded rows it
//! settled. The run loop ([`crate::run`]) does the rest the same way for every
//! stage: runs all stages side by side, writes each declared table as
//! `<name>.parquet`, feeds the exceptions to the exception feed, appends models,
//! reports and timings to the manifest and checks conservation; a table's rows
//! are released when the last stage that reads it is done.
//!
//! To add a stage: implement [`Stage`] with a `build` function of type
//! [`Builder`], and add that function to [`STAGES`]. Nothing else changes.
//! `tests/stages.rs` runs every registered stage through the compliance harness.

use std::collections::BTreeMap;
use std::time::Instant;

use polars::prelude::DataFrame;
use reckon_feed::Exception;
use reckon_ingest::Loaded;
use serde::Serialize;

use crate::Config;
use crate::manifest::ModelEntry;

/// What every stage reads: the loaded tables (files, rejects, frames) and the
/// same tables converted once into engine rows ([`crate::inputs::Tables`]; a
/// stage reads those; a stage that reads a frame says so in
/// [`Stage::frames`]), the run's id (exception ids do not
/// depend on it; the events carry it) and, in a run with a state store, what
/// the store remembers (decisions to apply, rejected pairs, payer aliases, open
/// amounts reckon already reduced).
#[derive(Debug)]
pub struct RunInputs<'a> {
    pub loaded: &'a Loaded,
    pub tables: &'a crate::inputs::Tables,
    pub run_id: &'a str,
    pub memory: Option<&'a crate::remember::RunMemory>,
}

/// One engine stage, built and ready to run.
pub trait Stage: Send + Sync + std::fmt::Debug {
    /// The stage's name in the manifest (`stages`, `stage_reports`, `timings_ms`).
    fn name(&self) -> &'static str;
    /// The tables the stage may write (file stems: `matches` → `matches.parquet`).
    fn outputs(&self) -> &'static [&'static str];
    /// The input tables the stage reads from [`RunInputs::tables`]; the run
    /// releases a table's rows when the last stage that reads it is done.
    fn reads(&self) -> &'static [reckon_core::Table];
    /// The loaded tables whose frames the stage reads from
    /// [`RunInputs::loaded`] (through their contract views) instead of, or
    /// beside, the engine rows. The run keeps such a frame whole; the GL lines'
    /// frame is otherwise cut down once the book is built.
    fn frames(&self) -> &'static [reckon_core::Table] {
        &[]
    }
    /// Runs the stage. Business problems are exceptions in the output; `Err` is
    /// for a stage that could not be carried out (a model that fails to score).
    fn run(&self, inputs: &RunInputs<'_>) -> Result<StageOutput, StageError>;
}

/// Builds a stage from the run's configuration.
pub type Builder = fn(&Config) -> Result<Box<dyn Stage>, BuildError>;

/// The registered stages, in the order their exceptions, models and reports
/// appear in the outputs.
pub const STAGES: &[Builder] = &[
    crate::cash::CashStage::build,
    crate::disbursements::DisbursementsStage::build,
    crate::duplicates::DuplicatesStage::build,
    crate::journals::JournalsStage::build,
];

/// Builds every registered stage; the first error stops the run before any work.
pub fn build_all(config: &Config) -> Result<Vec<Box<dyn Stage>>, BuildError> {
    STAGES.iter().map(|b| b(config)).collect()
}

/// What one stage produced.
#[derive(Debug, Default)]
pub struct StageOutput {
    /// Tables to write, by file stem (each must be in [`Stage::outputs`]).
    pub tables: Vec<(&'static str, DataFrame)>,
    pub exceptions: Vec<Exception>,
    /// Models served, as listed in the manifest.
    pub models: Vec<ModelEntry>,
    pub report: StageReport,
    pub settled: Settled,
    /// What the state store keeps of the stage's work (decisions applied or
    /// refused, amounts applied to open items, payer names confirmed).
    pub learned: crate::remember::Learned,
}

impl StageOutput {
    /// The output of a stage that had nothing to work on.
    pub fn no_input() -> StageOutput {
        StageOutput { report: StageReport::summary("no input"), ..StageOutput::default() }
    }
}

/// A stage's account of its work, in the manifest's `stage_reports` (its
/// duration is in `timings_ms` under the stage's name).
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct StageReport {
    /// One line for people (also the manifest's `stages` entry).
    pub summary: String,
    /// Rows the stage read (receipts, debits, invoices, journal lines).
    pub rows_in: u64,
    /// Rows of the tables it wrote.
    pub rows_out: u64,
    /// Counts by outcome (status, band, kind), sorted by name.
    pub counts: BTreeMap<String, u64>,
}

impl StageReport {
    pub fn summary(text: &str) -> StageReport {
        StageReport { summary: text.to_string(), ..StageReport::default() }
    }
}

/// Which loaded rows a stage settled, by id, for the conservation check.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settled {
    /// Bank entries cleared without a person.
    pub bank_cleared: Vec<String>,
    /// Cash-matching outcome counts per receipt status.
    pub receipts: BTreeMap<String, u64>,
    /// AP document ids screened.
    pub ap_screened: Option<Vec<String>>,
    /// GL line indices (rows of the loaded table) scored.
    pub gl_scored: Option<Vec<usize>>,
}

/// A stage that cannot be built from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A setting that cannot hold (exit 2).
    #[error(transparent)]
    Config(#[from] reckon_core::InvalidSetting),
    /// A model that is missing or does not load (exit 1).
    #[error("{section}: {source}")]
    Model { section: &'static str, source: crate::model::ModelError },
}

/// A stage that failed while running.
#[derive(Debug, thiserror::Error)]
#[error("stage {stage}: {message}")]
pub struct StageError {
    pub stage: &'static str,
    pub message: String,
}

/// A stage's output with its wall time; its tables are already written.
pub(crate) struct Ran {
    pub name: &'static str,
    pub ms: u64,
    /// The output without its tables.
    pub output: StageOutput,
    /// Each table written to `<out>/<name>.parquet`, with its manifest entry.
    pub written: Result<Vec<(String, crate::manifest::OutputEntry)>, crate::RunError>,
}

/// Runs the stages side by side, each on a thread of its own (their own work
/// goes to the rayon pool); results in stage order. A stage's tables are
/// written to `out` as soon as it is done, while the others still run (the
/// files are the same whatever finishes first).
///
/// Not one task per stage on the rayon pool: a rayon worker that waits (for a
/// polars query, which runs on polars' own pool) runs other queued tasks
/// meanwhile, so a stage that waited briefly would resume only after whole
/// other stages had run on its thread (measured at 1M open items: cash matching
/// resumed 19.5 s after its reference join was done).
pub(crate) fn run_all(
    stages: &[Box<dyn Stage>],
    inputs: &RunInputs<'_>,
    out: &std::path::Path,
) -> Result<Vec<Ran>, StageError> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // The run's span (and so its id) on every worker thread.
    let span = tracing::Span::current();
    // How many stages still read each table: at 0 its rows are released.
    let readers: BTreeMap<reckon_core::Table, AtomicUsize> = reckon_core::Table::ALL
        .iter()
        .map(|t| (*t, AtomicUsize::new(stages.iter().filter(|s| s.reads().contains(t)).count())))
        .collect();
    let run_one = |s: &dyn Stage| -> Result<Ran, StageError> {
        let _entered = span.enter();
        let t = Instant::now();
        tracing::info!(stage = s.name(), "stage start");
        let mut output = s.run(inputs)?;
        for t in s.reads() {
            if readers.get(t).is_some_and(|n| n.fetch_sub(1, Ordering::AcqRel) == 1) {
                inputs.tables.release(*t);
            }
        }
        if let Some((name, _)) = output.tables.iter().find(|(n, _)| !s.outputs().contains(n)) {
            return Err(StageError { stage: s.name(), message: format!("wrote table '{name}' it does not declare") });
        }
        let ms = t.elapsed().as_millis() as u64;
        tracing::info!(stage = s.name(), ms, summary = %output.report.summary, "stage done");
        let written = std::mem::take(&mut output.tables)
            .into_iter()
            .map(|(name, mut df)| {
                let file = format!("{name}.parquet");
                let p = out.join(&file);
                crate::write_parquet(&p, &mut df)?;
                Ok((file, crate::manifest::output_entry(&p, df.height() as u64)))
            })
            .collect();
        Ok(Ran { name: s.name(), ms, output, written })
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = stages.iter().map(|s| scope.spawn(|| run_one(s.as_ref()))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect::<Vec<_>>()
    })
    .into_iter()
    .collect()
}
