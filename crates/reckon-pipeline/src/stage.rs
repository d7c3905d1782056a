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
    /// Whether the stage settles bank entries ([`Settled::bank_cleared`]) or
    /// leaves the store what it knows of them ([`crate::remember::Learned`]:
    /// entries settled by a decision, applications, advices used). Once every
    /// such stage is done, a run with a state store computes its bank side
    /// (and writes it, if other stages still run); a stage that settles bank
    /// entries without saying so fails.
    fn settles_bank(&self) -> bool {
        false
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

/// What [`run_all`] did once the stages that settle bank entries were done.
pub(crate) struct AfterBank<R> {
    pub result: R,
    /// Its wall time.
    pub ms: u64,
    /// The part of it after the last stage was done: the time the run waited for it.
    pub after_stages_ms: u64,
}

/// Runs the stages side by side, each on a thread of its own (their own work
/// goes to the rayon pool); results in stage order. A stage's tables are
/// written to `out` as soon as it is done, while the others still run (the
/// files are the same whatever finishes first).
///
/// Once every stage that [`Stage::settles_bank`] is done (at once if none
/// does), `after_bank` runs on the calling thread with their outputs, in stage
/// order, and whether other stages still run; not if one of them failed.
///
/// Not one task per stage on the rayon pool: a rayon worker that waits (for a
/// polars query, which runs on polars' own pool) runs other queued tasks
/// meanwhile, so a stage that waited briefly would resume only after whole
/// other stages had run on its thread (measured at 1M open items: cash matching
/// resumed 19.5 s after its reference join was done).
pub(crate) fn run_all<R>(
    stages: &[Box<dyn Stage>],
    inputs: &RunInputs<'_>,
    out: &std::path::Path,
    after_bank: impl FnOnce(&[&Ran], bool) -> R,
) -> Result<(Vec<Ran>, Option<AfterBank<R>>), StageError> {
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
        let l = &output.learned;
        let bank = !output.settled.bank_cleared.is_empty()
            || !l.settled_by.is_empty()
            || !l.applications.is_empty()
            || !l.advices_used.is_empty();
        if bank && !s.settles_bank() {
            return Err(StageError {
                stage: s.name(),
                message: "settled bank entries, and does not declare it (Stage::settles_bank)".into(),
            });
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
    let bank: Vec<usize> = (0..stages.len()).filter(|i| stages[*i].settles_bank()).collect();
    let mut after_bank = Some(after_bank);
    let mut after = None;
    let mut done: Vec<Option<Result<Ran, StageError>>> = stages.iter().map(|_| None).collect();
    let mut last_done = None;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel();
        let handles: Vec<_> = stages
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let (tx, run_one) = (tx.clone(), &run_one);
                scope.spawn(move || {
                    let r = run_one(s.as_ref());
                    // The receiver outlives every stage thread.
                    let _ = tx.send((i, r, Instant::now()));
                })
            })
            .collect();
        drop(tx);
        let mut next = |done: &[Option<Result<Ran, StageError>>]| {
            if after_bank.is_none() || !bank.iter().all(|i| matches!(done[*i], Some(Ok(_)))) {
                return;
            }
            if let Some(f) = after_bank.take() {
                let ran: Vec<&Ran> =
                    bank.iter().filter_map(|i| done[*i].as_ref().and_then(|r| r.as_ref().ok())).collect();
                let others_running = done.iter().any(Option::is_none);
                let t = Instant::now();
                let result = f(&ran, others_running);
                after = Some((result, t.elapsed(), Instant::now()));
            }
        };
        next(&done);
        // Ends when every stage thread has ended (a panicked one sends nothing).
        for (i, r, at) in rx {
            done[i] = Some(r);
            last_done = Some(last_done.map_or(at, |l: Instant| l.max(at)));
            next(&done);
        }
        for h in handles {
            h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
    });
    let ran = done
        .into_iter()
        .map(|r| r.unwrap_or_else(|| unreachable!("a stage thread that ends without panicking sends its result")))
        .collect::<Result<Vec<Ran>, StageError>>()?;
    let after = after.map(|(result, took, end)| AfterBank {
        result,
        ms: took.as_millis() as u64,
        after_stages_ms: last_done.map_or(0, |l| end.saturating_duration_since(l).as_millis() as u64),
    });
    Ok((ran, after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::mpsc::{Receiver, Sender, channel};
    use std::time::Duration;

    /// Settles a bank entry, or fails.
    #[derive(Debug)]
    struct Bank(bool);

    impl Stage for Bank {
        fn name(&self) -> &'static str {
            "bank"
        }
        fn outputs(&self) -> &'static [&'static str] {
            &[]
        }
        fn reads(&self) -> &'static [reckon_core::Table] {
            &[]
        }
        fn settles_bank(&self) -> bool {
            true
        }
        fn run(&self, _: &RunInputs<'_>) -> Result<StageOutput, StageError> {
            if !self.0 {
                return Err(StageError { stage: "bank", message: "failed".into() });
            }
            let settled = Settled { bank_cleared: vec!["T1".into()], ..Settled::default() };
            Ok(StageOutput { settled, ..StageOutput::default() })
        }
    }

    /// Done only once it is told (by the work after the bank stages), or
    /// fails after `wait`.
    #[derive(Debug)]
    struct Waiter(Mutex<Receiver<()>>, Duration);

    impl Stage for Waiter {
        fn name(&self) -> &'static str {
            "waiter"
        }
        fn outputs(&self) -> &'static [&'static str] {
            &[]
        }
        fn reads(&self) -> &'static [reckon_core::Table] {
            &[]
        }
        fn run(&self, _: &RunInputs<'_>) -> Result<StageOutput, StageError> {
            let told =
                self.0.lock().map_err(|e| StageError { stage: "waiter", message: e.to_string() })?.recv_timeout(self.1);
            let summary = if told.is_ok() { "told" } else { "not told" };
            Ok(StageOutput { report: StageReport::summary(summary), ..StageOutput::default() })
        }
    }

    /// The stages' results; the bank entries the work after the bank stages
    /// saw, and whether other stages still ran.
    type Outcome = Result<(Vec<Ran>, Option<AfterBank<(Vec<String>, bool)>>), StageError>;

    fn run(stages: &[Box<dyn Stage>], tell: Sender<()>) -> Outcome {
        let (loaded, tables) = (Loaded::default(), crate::inputs::Tables::default());
        let inputs = RunInputs { loaded: &loaded, tables: &tables, run_id: "r", memory: None };
        let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        run_all(stages, &inputs, out.path(), |bank: &[&Ran], others_running| {
            let _ = tell.send(());
            (bank.iter().flat_map(|r| r.output.settled.bank_cleared.clone()).collect(), others_running)
        })
    }

    fn waiter(wait: Duration) -> (Box<dyn Stage>, Sender<()>) {
        let (tx, rx) = channel();
        (Box::new(Waiter(Mutex::new(rx), wait)), tx)
    }

    /// The work after the bank stages runs while another stage still runs:
    /// the waiting stage is told by it (not after a 20 s timeout).
    #[test]
    fn after_the_bank_stages_work_runs_beside_the_others() {
        let (w, tell) = waiter(Duration::from_secs(20));
        let stages: Vec<Box<dyn Stage>> = vec![Box::new(Bank(true)), w];
        let (ran, after) = run(&stages, tell).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = ran.iter().map(|r| r.name).collect();
        assert_eq!(names, ["bank", "waiter"], "results in stage order");
        assert_eq!(ran[1].output.report.summary, "told");
        let after = after.unwrap_or_else(|| panic!("the work after the bank stages did not run"));
        assert_eq!(after.result, (vec!["T1".to_string()], true), "it gets the bank stages' outputs");
        // Alone, the bank stage leaves no other stage running.
        let (tell, _) = channel();
        let (_, after) = run(&[Box::new(Bank(true))], tell).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(after.map(|a| a.result), Some((vec!["T1".to_string()], false)));
    }

    /// Without a stage that settles bank entries it runs at once; after a
    /// bank stage that failed it does not run, and the run fails.
    #[test]
    fn it_runs_at_once_without_bank_stages_and_never_after_a_failed_one() {
        let (w, tell) = waiter(Duration::from_secs(20));
        let (ran, after) = run(&[w], tell).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ran[0].output.report.summary, "told");
        assert_eq!(after.map(|a| a.result), Some((Vec::new(), true)));

        let (w, tell) = waiter(Duration::from_millis(200));
        let e = run(&[Box::new(Bank(false)), w], tell).err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("stage bank: failed"));
    }

    /// A stage that settles bank entries without declaring it fails.
    #[test]
    fn an_undeclared_bank_settlement_fails() {
        #[derive(Debug)]
        struct Sneaky;
        impl Stage for Sneaky {
            fn name(&self) -> &'static str {
                "sneaky"
            }
            fn outputs(&self) -> &'static [&'static str] {
                &[]
            }
            fn reads(&self) -> &'static [reckon_core::Table] {
                &[]
            }
            fn run(&self, _: &RunInputs<'_>) -> Result<StageOutput, StageError> {
                Bank(true).run(&RunInputs {
                    loaded: &Loaded::default(),
                    tables: &crate::inputs::Tables::default(),
                    run_id: "r",
                    memory: None,
                })
            }
        }
        let (tell, _) = channel();
        let e = run(&[Box::new(Sneaky)], tell).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("sneaky") && e.contains("settles_bank"), "{e}");
    }
}
