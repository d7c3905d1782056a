//! reckon-pipeline: one reckon run, from an input folder to an output folder.
//!
//! A run loads every table (reckon-ingest), runs the engine stages that exist,
//! writes `rejects.parquet` (and `normalized/` on request) and finishes with
//! `manifest.json`: the audit record of what went in, what came out, and the
//! conservation check that every input row is accounted for and that amounts tie
//! out to the minor unit. Business problems are output rows; `Err` is kept for
//! runs that could not be carried out.

pub mod cash;
pub mod config;
pub mod disbursements;
pub mod duplicates;
pub mod exceptions;
pub mod frame;
pub mod inputs;
pub mod journals;
pub mod manifest;
pub mod metrics;
pub mod model;
pub mod remember;
pub mod stage;
pub mod staging;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::*;
use reckon_core::{Currency, Reject, Table, format_minor};
use reckon_ingest::Loaded;
use reckon_ingest::normalize::contract_view;

pub use config::{Config, ConfigError};
pub use manifest::Manifest;

/// How a run that completed ended (a run that could not complete is a
/// [`RunError`]). The CLI turns it into its exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    /// Every file was used and every exception delivered (or no sink is set).
    Complete,
    /// At least one input file was refused as a whole (`refused_files`).
    InputRefused,
    /// Some exceptions could not be delivered to a configured sink (they are in
    /// `outbox/<sink>/dead_letter.jsonl`; `reckon feed replay`).
    FeedUndelivered,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Input(#[from] reckon_ingest::discover::DiscoverError),
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, String),
    /// A file the state store keeps for the next run (`state:carried`,
    /// `state:advices`, `state:applications`) that this run cannot read.
    #[error("state store run file {0}: {1}")]
    StateFile(&'static str, String),
    #[error("conservation check failed: {0}")]
    Conservation(String),
    #[error("cash-matching model: {0}")]
    Model(String),
    #[error(transparent)]
    Feed(#[from] reckon_feed::FeedError),
    #[error("output folder {0} is in use by another reckon run")]
    Busy(PathBuf),
    #[error("config: {0}")]
    Config(#[from] reckon_core::InvalidSetting),
    #[error(transparent)]
    Build(#[from] stage::BuildError),
    #[error(transparent)]
    Stage(#[from] stage::StageError),
    #[error(transparent)]
    Inputs(#[from] inputs::InputsError),
    #[error(transparent)]
    State(#[from] reckon_state::StateError),
}

impl RunError {
    /// A mistake in how reckon was called or configured (exit 2), not a failed
    /// run: an input folder that is missing or not a folder, a configured sink
    /// without its secret, a policy the config should not have held.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            RunError::Input(reckon_ingest::discover::DiscoverError::Folder(..))
                | RunError::Feed(reckon_feed::FeedError::Secret(_) | reckon_feed::FeedError::Config(_))
                | RunError::Busy(_)
                | RunError::Config(_)
                | RunError::Build(stage::BuildError::Config(_))
                | RunError::State(
                    reckon_state::StateError::Busy(_)
                        | reckon_state::StateError::NotADatabase(..)
                        | reckon_state::StateError::Newer { .. }
                )
        )
    }
}

/// One sink's delivery at the end of a run.
#[derive(Debug)]
pub struct Delivery {
    pub sink: &'static str,
    pub report: reckon_feed::deliver::Report,
    pub status: reckon_feed::outbox::Status,
}

/// The sinks configured in `[feed]`, built (secrets loaded) before the run starts so
/// that a missing secret stops the run at once rather than after the work.
pub fn sinks(feed: &reckon_feed::FeedConfig) -> Result<Vec<reckon_feed::deliver::Sink>, reckon_feed::FeedError> {
    let mut out = Vec::new();
    if let Some(w) = &feed.webhook {
        out.push(reckon_feed::deliver::Sink::webhook(w)?);
    }
    if let Some(c) = &feed.camunda {
        out.push(reckon_feed::deliver::Sink::camunda(c)?);
    }
    Ok(out)
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutcome {
    pub manifest: Manifest,
    pub loaded: Loaded,
    pub status: RunStatus,
    /// Deliveries to the configured sinks (empty when none or `deliver` is off).
    pub deliveries: Vec<Delivery>,
    /// How long the state store's commit took (after the manifest, so not in it).
    pub state_commit_ms: Option<u64>,
}

/// Options of one run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub input: PathBuf,
    pub out: PathBuf,
    pub config: Config,
    /// Where the config came from, for the manifest.
    pub config_path: Option<PathBuf>,
    /// Deliver the feed to the sinks in `[feed]` after the run (webhook, Camunda).
    pub deliver: bool,
    /// The run's start time, instead of the clock (reproducible reruns and tests:
    /// the run id and the events' `time` derive from it).
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Also write `report.html` (reckon-report) from the finished outputs, inside
    /// the staging folder, so it arrives with them or not at all.
    pub report: bool,
    /// The state store (overrides `[state] path`): runs remember across days.
    pub state: Option<PathBuf>,
    /// The run's business date (ages and service levels); default the latest
    /// booking date of the bank entries loaded, else the start date.
    pub as_of: Option<chrono::NaiveDate>,
}

impl RunOptions {
    /// Options with defaults: no delivery, the clock's time.
    pub fn new(input: &Path, out: &Path, config: Config) -> RunOptions {
        RunOptions {
            input: input.to_path_buf(),
            out: out.to_path_buf(),
            config,
            config_path: None,
            deliver: false,
            started_at: None,
            report: false,
            state: None,
            as_of: None,
        }
    }
}

/// Runs reckon on `opts.input` into `opts.out` with the registered stages
/// ([`stage::STAGES`]).
pub fn run(opts: &RunOptions) -> Result<RunOutcome, RunError> {
    let state_path = opts.state.clone().or_else(|| opts.config.state.path.as_ref().map(PathBuf::from));
    match state_path {
        // A store names the models it serves: they replace the configuration's.
        Some(p) => {
            let mut config = opts.config.clone();
            remember::serve_registered(&p, &mut config)?;
            let stages = stage::build_all(&config)?;
            run_stages(&RunOptions { config, ..opts.clone() }, &stages)
        }
        None => run_stages(opts, &stage::build_all(&opts.config)?),
    }
}

/// Runs reckon with the given stages (built, so every model is loaded and every
/// setting checked before anything is read or written).
pub fn run_stages(opts: &RunOptions, stages: &[Box<dyn stage::Stage>]) -> Result<RunOutcome, RunError> {
    let started = opts.started_at.unwrap_or_else(chrono::Utc::now);
    // Every log line of the run carries its id (a correlation id for log
    // shippers), from the moment the inputs that make the id are read.
    let span = tracing::info_span!("run", run_id = tracing::field::Empty);
    let _entered = span.enter();
    // Usage errors before anything is written: sinks without secrets, an input
    // that is not a folder.
    let sinks = if opts.deliver { sinks(&opts.config.feed)? } else { Vec::new() };
    let dates = opts.config.ingest.build().map_err(RunError::Config)?;
    match std::fs::metadata(&opts.input) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            let e = std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a folder");
            return Err(reckon_ingest::discover::DiscoverError::Folder(opts.input.clone(), e).into());
        }
        Err(e) => return Err(reckon_ingest::discover::DiscoverError::Folder(opts.input.clone(), e).into()),
    }
    let time = started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    // The state store, locked for the whole run (a store another run holds is
    // refused before any input is read); decisions in `decisions/` are taken
    // in and the store's memory read while the input loads.
    let state_path = opts.state.clone().or_else(|| opts.config.state.path.as_ref().map(PathBuf::from));
    let t_state = Instant::now();
    let store = match &state_path {
        Some(p) => Some(remember::open_store(p, &opts.config)?),
        None => None,
    };
    let store_open = t_state.elapsed();
    // Everything is written into a staging folder that replaces `opts.out` only
    // when the manifest is complete (see `staging`).
    let staged = staging::Staged::begin(&opts.out)?;
    let out = staged.dir().to_path_buf();
    tracing::info!(stage = "ingest", "stage start");
    let t_ingest = Instant::now();
    let (read, loaded, ingest, waited) = std::thread::scope(|s| {
        let reading = store.map(|store| {
            let (span, config, input, time) = (tracing::Span::current(), &opts.config, &opts.input, &time);
            s.spawn(move || {
                let _entered = span.enter();
                let t = Instant::now();
                (remember::read(store, config, input, time), t.elapsed())
            })
        });
        let loaded = reckon_ingest::load_dir_with(&opts.input, &dates);
        let ingest = t_ingest.elapsed();
        let read = reading.map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        (read, loaded, ingest, t_ingest.elapsed() - ingest)
    });
    // The store's error first, as its lock is taken first.
    let (mut opened, state_read_ms) = match read {
        Some((r, took)) => (Some(r?), took.as_millis() as u64),
        None => (None, 0),
    };
    let mut loaded = loaded?;
    // What the run waited for the store: opening it, and its memory after the input was loaded.
    let state_open_ms = (store_open + waited).as_millis() as u64;
    let ingest_ms = ingest.as_millis() as u64;
    let t_prepare = Instant::now();
    let (prepared, memory) = match opened.as_mut() {
        Some(o) => {
            let (p, m) = remember::prepare(&mut loaded, o)?;
            tracing::info!(carried = p.carried, redelivered = p.redelivered, decisions = m.decided.len(), "state read");
            (Some(p), Some(m))
        }
        None => {
            if opts.input.join(reckon_ingest::discover::DECISIONS_FOLDER).is_dir() {
                loaded
                    .ignored
                    .push("decisions (a folder of decisions: read only by a run with a state store, --state)".into());
            }
            (None, None)
        }
    };
    let mut timings = BTreeMap::new();
    if opened.is_some() {
        // The store's part: open + decisions + memory, then carrying and adjusting.
        timings.insert("state_open".to_string(), state_open_ms);
        timings.insert("state_read".to_string(), state_read_ms);
        timings.insert("state_prepare".to_string(), t_prepare.elapsed().as_millis() as u64);
    }
    timings.insert("ingest".to_string(), ingest_ms);
    tracing::info!(
        stage = "ingest",
        ms = ingest_ms,
        files = loaded.files.len(),
        rejects = loaded.rejects.len(),
        refused = loaded.refused_files().len(),
        summary = %format!(
            "{} files, {} rows loaded, {} rejected",
            loaded.files.len(),
            loaded.tables.values().map(|d| d.height()).sum::<usize>(),
            loaded.rejects.len()
        ),
        "ingest done"
    );

    let t1 = Instant::now();
    let mut outputs = BTreeMap::new();
    let rejects_path = out.join("rejects.parquet");
    let rows = write_rejects(&rejects_path, &loaded.rejects)?;
    outputs.insert("rejects.parquet".to_string(), manifest::output_entry(&rejects_path, rows));
    if opts.config.output.keep_normalized {
        let dir = out.join("normalized");
        std::fs::create_dir_all(&dir).map_err(|e| RunError::Write(dir.clone(), e.to_string()))?;
        for (t, df) in &loaded.tables {
            let p = dir.join(format!("{}.parquet", t.name()));
            let rows = write_normalized(&p, *t, df)?;
            outputs.insert(format!("normalized/{}.parquet", t.name()), manifest::output_entry(&p, rows));
        }
    }
    timings.insert("write".to_string(), t1.elapsed().as_millis() as u64);

    let t2 = Instant::now();
    let run_id = manifest::run_id(started, &loaded, &opts.config);
    span.record("run_id", run_id.as_str());
    // Every table converted once into the rows the engines read.
    tracing::info!(stage = "tables", "stage start");
    let mut tables = inputs::Tables::from_loaded(&loaded)?;
    if let Some(m) = &memory {
        tables.reduce_open_items(&m.reduced);
    }
    if let Some(p) = &prepared {
        remember::date_kept_advices(&mut tables, &loaded, p)?;
    }
    // The money totals are read off the loaded tables now, so the GL lines'
    // frame can shrink to what the run still reads of it.
    let totals = amount_totals(&loaded);
    if !stages.iter().any(|s| s.frames().contains(&Table::GlJournalLines)) {
        slim_gl_lines(&mut loaded, opened.is_some());
    }
    let tables_ms = t2.elapsed().as_millis() as u64;
    timings.insert("tables".to_string(), tables_ms);
    tracing::info!(
        stage = "tables",
        ms = tables_ms,
        summary = "loaded tables converted into the engines' rows",
        "tables done"
    );
    // With a state store: the run in the chain, and the store's connection
    // apart from what was read of it — the run's transaction begins once the
    // stages that settle bank entries are done.
    let (mut store, state) = match (opened.as_mut(), &prepared) {
        (Some(o), Some(p)) => {
            let as_of = remember::as_of(opts.as_of, &loaded, started, &o.memory);
            let run = reckon_state::NewRun {
                run_id: run_id.clone(),
                as_of: as_of.format("%Y-%m-%d").to_string(),
                started_at: time.clone(),
                input: opts.input.display().to_string(),
                output: opts.out.display().to_string(),
            };
            let schema_version = o.store.schema_version()?;
            let store_name = o.store.path().display().to_string();
            let (store, held) = o.split();
            (Some(store), Some((held, p, run, as_of, schema_version, store_name)))
        }
        _ => (None, None),
    };
    let t2 = Instant::now();
    tracing::info!("stages start");
    let (ran, bank) = {
        let begin = store.take().zip(state.as_ref()).map(|(store, (held, p, run, as_of, _, _))| {
            let (memory, advice_days) = (&*held.memory, held.advice_days);
            let (p, as_of, loaded) = (*p, *as_of, &loaded);
            once(move |bank: &[&stage::Ran], others_running: bool| {
                let outputs: Vec<&stage::StageOutput> = bank.iter().map(|r| &r.output).collect();
                remember::begin_bank(store, memory, loaded, &outputs, p, run, as_of, advice_days, others_running)
            })
        });
        stage::run_all(
            stages,
            &stage::RunInputs { loaded: &loaded, tables: &tables, run_id: &run_id, memory: memory.as_ref() },
            &out,
            |bank: &[&stage::Ran], others_running: bool| begin.map(|f| f(bank, others_running)),
        )?
    };
    drop(tables);
    timings.insert("stages".to_string(), t2.elapsed().as_millis() as u64);
    // The bank side, computed (and written while other stages ran) beside the
    // stages; the run waited for it only after the last.
    let mut bank_side = None;
    if let Some(b) = bank
        && let Some(r) = b.result
    {
        timings.insert("state_bank".to_string(), b.ms);
        timings.insert("state_bank_after_stages".to_string(), b.after_stages_ms);
        bank_side = Some(r?);
    }
    if state.is_some() && bank_side.is_none() {
        // `run_all` runs it whenever the stages succeed: a run never goes on without it.
        return Err(RunError::StateFile(remember::CARRIED, "the run's bank side was not computed".into()));
    }

    // The same for every stage: its tables are written, its exceptions fed, its
    // models, report and timing go into the manifest, its settled rows into the
    // conservation check.
    let t3 = Instant::now();
    let mut ex = Vec::new();
    let mut models = Vec::new();
    let mut reports = BTreeMap::new();
    let mut settlement = manifest::Settlement::default();
    let mut learned = remember::Learned::default();
    for r in ran {
        for (file, entry) in r.written? {
            outputs.insert(file, entry);
        }
        ex.extend(r.output.exceptions);
        models.extend(r.output.models);
        timings.insert(r.name.to_string(), r.ms);
        reports.insert(r.name.to_string(), r.output.report);
        let s = r.output.settled;
        settlement.matched.extend(s.bank_cleared);
        for (k, v) in s.receipts {
            *settlement.receipts.entry(k).or_insert(0) += v;
        }
        settlement.ap_screened = settlement.ap_screened.or(s.ap_screened);
        settlement.gl_scored = settlement.gl_scored.or(s.gl_scored);
        learned.extend(r.output.learned);
    }
    // The config was validated on load; a policy that fails here is a config error all the same.
    let policy = opts.config.feed.build()?;
    policy.apply(&mut ex);
    // With a state store: the lifecycle decides ids, states and which events go out.
    let mut finished = None;
    let mut pending = None;
    let mut state_rest = None;
    if let (Some((mut held, p, run, as_of, schema_version, store_name)), Some((mut pend, side))) = (state, bank_side) {
        let t_lifecycle = Instant::now();
        let f = remember::finish(
            &mut held,
            &mut pend,
            &loaded,
            std::mem::take(&mut ex),
            learned,
            p,
            side,
            run,
            &time,
            as_of,
        )?;
        ex = f.open.clone();
        timings.insert("state_lifecycle".to_string(), t_lifecycle.elapsed().as_millis() as u64);
        finished = Some((f, as_of));
        pending = Some(pend);
        state_rest = Some((held.verdicts, held.unreadable, schema_version, store_name));
    }
    let events: Vec<&reckon_feed::Exception> = match &finished {
        Some((f, _)) => {
            f.open.iter().filter(|e| e.lifecycle.as_ref().is_none_or(|l| l.changed)).chain(f.resolved.iter()).collect()
        }
        None => ex.iter().collect(),
    };
    // The exception feed's files and — with a state store — the store's changes
    // (written, not committed) are independent: written side by side.
    let (written, began) = {
        let (out_r, ex_r, ev_r, time_r) = (&out, &ex, &events, &time);
        let changes = finished.as_ref().map(|(f, _)| &f.changes);
        let pending = pending.as_mut();
        std::thread::scope(move |s| {
            let feed = s.spawn(move || exceptions::write(out_r, ex_r, ev_r, time_r));
            let began = match (pending, changes) {
                (Some(p), Some(ch)) => {
                    let t = Instant::now();
                    Some(p.write(ch).map(|_| t.elapsed().as_millis() as u64))
                }
                _ => None,
            };
            (feed.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), began)
        })
    };
    let began = began.transpose()?;
    let (n, n_events) = written?;
    for f in ["exceptions.parquet", "exceptions.arrow"] {
        outputs.insert(f.to_string(), manifest::output_entry(&out.join(f), n));
    }
    outputs.insert("exceptions.jsonl".to_string(), manifest::output_entry(&out.join("exceptions.jsonl"), n_events));
    timings.insert("exception_feed".to_string(), t3.elapsed().as_millis() as u64);

    // An exception's subject is its first record: the bank entries in exceptions.
    settlement.in_exceptions = ex
        .iter()
        .filter_map(|e| e.records.first().and_then(|r| r.strip_prefix("bank_transactions:")).map(str::to_string))
        .collect();
    let mut conservation = manifest::conservation(&loaded, &settlement);
    // The store's changes, written but not committed: the chain's conservation
    // goes into the manifest, the commit follows the output folder's.
    let mut state_section = None;
    if let (Some((verdicts, unreadable, schema_version, store)), Some((f, as_of)), Some(write_ms), Some(p)) =
        (state_rest, &finished, began, pending.as_ref())
    {
        let as_of = *as_of;
        let mut received: BTreeMap<String, u64> = BTreeMap::new();
        let mut refused_list = Vec::new();
        for v in verdicts {
            let k = if v.duplicate {
                "duplicate".to_string()
            } else {
                v.status.map_or("refused".to_string(), |s| s.to_string())
            };
            *received.entry(k).or_insert(0) += 1;
            if v.status.is_none_or(|s| s == reckon_state::DecisionStatus::Refused) && !v.duplicate {
                refused_list.push(format!("{} ({}): {}", v.decision_id, v.source, v.reason.as_deref().unwrap_or("")));
            }
        }
        for u in unreadable {
            *received.entry("unreadable".to_string()).or_insert(0) += 1;
            refused_list.push(format!("{}: {}", u.source, u.reason));
        }
        for (id, s, why) in &f.changes.decisions {
            if *s == reckon_state::DecisionStatus::Refused {
                refused_list.push(format!("{id} (applied by this run): {}", why.as_deref().unwrap_or("")));
            }
        }
        let applied =
            f.changes.decisions.iter().filter(|(_, s, _)| *s == reckon_state::DecisionStatus::Applied).count() as u64;
        // Beside the feed's files: its own time, not added to the run's.
        timings.insert("state_write".to_string(), write_ms);
        let chain = p.check().clone();
        if !chain.balanced {
            conservation.balanced = false;
            conservation.problems.push(format!(
                "state chain: {} open bank entries without an open exception (e.g. {}), {} settled by decisions not in the log",
                chain.open_without_exception.len(),
                chain.open_without_exception.join(", "),
                chain.settled_by_unknown_decision.len()
            ));
        }
        state_section = Some(remember::StateSection {
            store,
            schema_version,
            as_of: as_of.format("%Y-%m-%d").to_string(),
            prepared: prepared.clone().unwrap_or_default(),
            decisions_received: received,
            decisions_refused: refused_list,
            decisions_applied: applied,
            exceptions: f.counts.clone(),
            suppressed: f.suppressed,
            advices_kept: f.advices_kept,
            advices_expired: f.advices_expired,
            chain,
        });
    }
    let refused: Vec<String> = loaded.refused_files().into_iter().map(str::to_string).collect();
    let mut m = Manifest::new(
        started,
        &opts.input,
        &opts.config,
        opts.config_path.as_deref(),
        &loaded,
        totals,
        outputs,
        timings,
        conservation,
    );
    m.models = models;
    m.state = state_section;
    for (name, r) in &reports {
        m.stages.insert(name.clone(), r.summary.clone());
    }
    m.stage_reports = reports;
    let names: Vec<&str> = sinks.iter().map(|s| s.name()).collect();
    m.stages.insert(
        "exception_feed".to_string(),
        if names.is_empty() {
            "files (exceptions.parquet, exceptions.jsonl)".to_string()
        } else {
            format!("files (exceptions.parquet, exceptions.jsonl); delivered through outbox/ to {}", names.join(", "))
        },
    );
    let mpath = out.join("manifest.json");
    m.write(&mpath).map_err(|e| RunError::Write(mpath.clone(), e.to_string()))?;
    if opts.report {
        // Derived from the manifest and the tables, so not among the manifest's outputs.
        reckon_report::Report::from_output(&out)
            .and_then(|r| r.write(&out))
            .map_err(|e| RunError::Write(out.join("report.html"), e.to_string()))?;
    }
    if !m.conservation.balanced {
        // The folder is complete and its manifest says what does not tie out.
        staged.commit()?;
        return Err(RunError::Conservation(m.conservation.problems.join("; ")));
    }
    let mut deliveries = Vec::new();
    let mut state_commit_ms = None;
    for sink in &sinks {
        let (report, status) = reckon_feed::deliver::deliver_dir(&out, sink, &mut |_, _| {})?;
        tracing::info!(
            sink = sink.name(),
            delivered = report.delivered_events,
            dead = report.dead_events,
            retries = report.retries,
            "feed delivered"
        );
        deliveries.push(Delivery { sink: sink.name(), report, status });
    }
    staged.commit()?;
    if let Some(p) = pending {
        // The output folder is in place; now the store moves on, in one commit.
        let bytes = std::fs::read(opts.out.join("manifest.json"))
            .map_err(|e| RunError::Write(opts.out.join("manifest.json"), e.to_string()))?;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let t_commit = Instant::now();
        let rec = p.commit(&reckon_core::id::sha256_hex(&bytes), &now)?;
        state_commit_ms = Some(t_commit.elapsed().as_millis() as u64);
        tracing::info!(seq = rec.seq, predecessor = rec.predecessor.as_deref().unwrap_or(""), "state committed");
    }
    let status = if deliveries.iter().any(|d| d.status.dead_events > 0 || d.status.pending_events > 0) {
        RunStatus::FeedUndelivered
    } else if refused.is_empty() {
        RunStatus::Complete
    } else {
        RunStatus::InputRefused
    };
    Ok(RunOutcome { manifest: m, loaded, status, deliveries, state_commit_ms })
}

/// `f` as a closure called once: the store's borrow it holds moves into the
/// run's transaction it returns.
fn once<'s, F>(f: F) -> F
where
    F: FnOnce(&[&stage::Ran], bool) -> Result<(reckon_state::PendingRun<'s>, remember::BankSide), RunError>,
{
    f
}

/// Once the GL lines are the engines' book ([`inputs::Tables::book`]), the run
/// reads of their loaded frame only its height (conservation) and, with a
/// state store, the columns of [`remember::GL_FACT_COLUMNS`]. The other columns
/// are dropped: at 5 M lines they are most of the loaded tables' memory, held
/// until the run ends. The built-in stages read GL lines from the book; a run
/// with a stage that declares the frame ([`stage::Stage::frames`]) keeps it.
fn slim_gl_lines(loaded: &mut Loaded, with_state: bool) {
    let Some(df) = loaded.tables.get_mut(&Table::GlJournalLines) else { return };
    let keep: &[&str] = if with_state { &remember::GL_FACT_COLUMNS } else { &[] };
    let dropped: Vec<PlSmallStr> =
        df.get_column_names().into_iter().filter(|c| !keep.contains(&c.as_str())).cloned().collect();
    // `drop_many` keeps the frame's height, with no columns left too.
    *df = df.drop_many(dropped);
}

/// Sum of every money column per table and currency, as exact decimal text.
pub fn amount_totals(loaded: &Loaded) -> BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>> {
    let mut out = BTreeMap::new();
    for (t, df) in &loaded.tables {
        let mut per_col = BTreeMap::new();
        for c in t.spec().columns.iter().filter(|c| c.ty == reckon_core::ColumnType::Money) {
            let Ok(cur) = df.column(c.currency).and_then(|c| c.str().cloned()) else { continue };
            let Ok(vals) = df.column(c.name).and_then(|c| c.i64().cloned()) else { continue };
            let mut sums: BTreeMap<String, i128> = BTreeMap::new();
            for (cu, v) in cur.iter().zip(vals.iter()) {
                if let (Some(cu), Some(v)) = (cu, v) {
                    *sums.entry(cu.to_string()).or_default() += i128::from(v);
                }
            }
            let txt = sums
                .into_iter()
                .map(|(cu, s)| {
                    let e = Currency::parse(&cu).map_or(2, |c| c.exponent());
                    let s = i64::try_from(s).map_or_else(|_| format!("{s} minor units"), |s| format_minor(s, e));
                    (cu, s)
                })
                .collect();
            per_col.insert(c.name.to_string(), txt);
        }
        out.insert(t.name().to_string(), per_col);
    }
    out
}

/// Writes `rejects.parquet` (file, row, column, value, reason, code, table).
pub fn write_rejects(path: &Path, rejects: &[Reject]) -> Result<u64, RunError> {
    let mut sorted: Vec<&Reject> = rejects.iter().collect();
    sorted.sort_by(|a, b| (&a.file, a.row, &a.column).cmp(&(&b.file, b.row, &b.column)));
    let n = sorted.len();
    let s = |f: &dyn Fn(&Reject) -> Option<String>| -> Vec<Option<String>> { sorted.iter().map(|r| f(r)).collect() };
    let cols = vec![
        Column::new("file".into(), s(&|r| Some(r.file.clone()))),
        Column::new("row".into(), sorted.iter().map(|r| r.row).collect::<Vec<Option<u64>>>()),
        Column::new("column".into(), s(&|r| r.column.clone())),
        Column::new("value".into(), s(&|r| r.value.clone())),
        Column::new("reason".into(), s(&|r| Some(r.reason.clone()))),
        Column::new("code".into(), s(&|r| Some(r.code.as_str().to_string()))),
        Column::new("table".into(), s(&|r| r.table.clone())),
    ];
    let mut df = DataFrame::new(n, cols).map_err(|e| RunError::Write(path.to_path_buf(), e.to_string()))?;
    write_parquet(path, &mut df)?;
    Ok(n as u64)
}

/// Writes a loaded table as `normalized/<table>.parquet` does: its contract
/// columns, as reckon understood them (a folder of these is a valid input).
pub fn write_normalized(path: &Path, table: Table, df: &DataFrame) -> Result<u64, RunError> {
    let mut v = contract_view(table, df).map_err(|e| RunError::Write(path.to_path_buf(), e.to_string()))?;
    write_parquet(path, &mut v)?;
    Ok(v.height() as u64)
}

pub fn write_parquet(path: &Path, df: &mut DataFrame) -> Result<(), RunError> {
    let f = std::fs::File::create(path).map_err(|e| RunError::Write(path.to_path_buf(), e.to_string()))?;
    ParquetWriter::new(f)
        .with_statistics(StatisticsOptions::empty())
        .finish(df)
        .map_err(|e| RunError::Write(path.to_path_buf(), e.to_string()))?;
    Ok(())
}
