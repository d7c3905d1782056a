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
pub mod dedup;
pub mod eval;
pub mod exceptions;
pub mod journals;
pub mod manifest;
pub mod metrics;
pub mod model;
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

/// Exit codes of `reckon run` (and the other commands).
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const REFUSED_INPUT: i32 = 3;
    /// The run completed but some exceptions could not be delivered to a configured
    /// sink (they are in `outbox/<sink>/dead_letter.jsonl`; `reckon feed replay`).
    pub const FEED_UNDELIVERED: i32 = 4;
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Input(#[from] reckon_ingest::discover::DiscoverError),
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, String),
    #[error("conservation check failed: {0}")]
    Conservation(String),
    #[error("feed policy: {0}")]
    Policy(String),
    #[error("cash-matching model: {0}")]
    Model(String),
    #[error(transparent)]
    Feed(#[from] reckon_feed::FeedError),
    #[error("output folder {0} is in use by another reckon run")]
    Busy(PathBuf),
    #[error("config: {0}")]
    Config(String),
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
                | RunError::Policy(_)
                | RunError::Busy(_)
                | RunError::Config(_)
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
    pub exit_code: i32,
    /// Deliveries to the configured sinks (empty when none or `deliver` is off).
    pub deliveries: Vec<Delivery>,
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
        }
    }
}

/// Runs reckon on `opts.input` into `opts.out`.
pub fn run(opts: &RunOptions) -> Result<RunOutcome, RunError> {
    let started = opts.started_at.unwrap_or_else(chrono::Utc::now);
    let t0 = Instant::now();
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
    // Everything is written into a staging folder that replaces `opts.out` only
    // when the manifest is complete (see `staging`).
    let staged = staging::Staged::begin(&opts.out)?;
    let out = staged.dir().to_path_buf();
    let loaded = reckon_ingest::load_dir_with(&opts.input, &dates)?;
    let mut timings = BTreeMap::new();
    timings.insert("ingest".to_string(), t0.elapsed().as_millis() as u64);
    tracing::info!(
        files = loaded.files.len(),
        rejects = loaded.rejects.len(),
        refused = loaded.refused_files().len(),
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
    let scorer = model::load_scorer(&opts.config.matching).map_err(RunError::Model)?;
    let dedup_model = match opts.config.duplicates.model.as_str() {
        "off" => None,
        name => {
            let dir = model::resolve(name).ok_or_else(|| {
                RunError::Model(format!("duplicates.model '{name}' not found (set it to \"off\" to skip)"))
            })?;
            Some(reckon_onnx::Model::load(&dir).map_err(|e| RunError::Model(e.to_string()))?)
        }
    };
    let tests = opts.config.anomaly.build().map_err(RunError::Policy)?;
    let journal_model = match opts.config.anomaly.model.as_str() {
        "rules" => None,
        name => {
            let dir = model::resolve(name).ok_or_else(|| {
                RunError::Model(format!("anomaly.model '{name}' not found (set it to \"rules\" for the tests alone)"))
            })?;
            Some(journals::RiskModel::load(&dir).map_err(RunError::Model)?)
        }
    };
    // The engines run side by side on the rayon pool.
    let ((cash, dups), journal_results) = rayon::join(
        || {
            rayon::join(
                || cash::run(&loaded, &opts.config.matching, scorer.as_ref()),
                || dedup_model.as_ref().map(|m| dedup::run(&loaded, m)).transpose(),
            )
        },
        || {
            journals::run(&loaded, &tests).map(|(lines, mut results)| {
                let scored = journal_model.as_ref().map(|m| m.score(&tests, &lines, &mut results)).transpose();
                scored.map(|_| (lines, results))
            })
        },
    );
    let journal_results = journal_results.transpose().map_err(RunError::Model)?;
    let review_risk = journal_model.as_ref().map_or(opts.config.anomaly.review_risk, journals::RiskModel::review);
    let journal_model_id = journal_model.as_ref().map_or(journals::MODEL.to_string(), |m| m.risk.id());
    if let Some((lines, results)) = &journal_results {
        let p = out.join("journal_scores.parquet");
        let rows = journals::write(&p, lines, results, &journal_model_id)?;
        outputs.insert("journal_scores.parquet".to_string(), manifest::output_entry(&p, rows));
    }
    let cash = cash.map_err(RunError::Model)?;
    let dups = dups.map_err(RunError::Model)?.flatten();
    let money_out = dedup::money_out(&loaded, &opts.config.disbursements.rules);
    if let Some(mo) = &money_out {
        let p = out.join("disbursements.parquet");
        let rows = dedup::write_money_out(&p, mo)?;
        outputs.insert("disbursements.parquet".to_string(), manifest::output_entry(&p, rows));
    }
    if let Some(d) = &dups {
        let p = out.join("duplicates.parquet");
        let rows = dedup::write(&p, d)?;
        outputs.insert("duplicates.parquet".to_string(), manifest::output_entry(&p, rows));
        tracing::info!(
            invoices = d.invoices.len(),
            compared = d.compared_pairs,
            flagged = d.flagged.len(),
            "duplicate detection done"
        );
    }
    let mut breakdown = std::collections::BTreeMap::new();
    if let Some((res, _)) = &cash {
        let p = out.join("matches.parquet");
        let rows = cash::write_matches(&p, res)?;
        outputs.insert("matches.parquet".to_string(), manifest::output_entry(&p, rows));
        let p = out.join("receipt_outcomes.parquet");
        let rows = cash::write_outcomes(&p, res)?;
        outputs.insert("receipt_outcomes.parquet".to_string(), manifest::output_entry(&p, rows));
        for o in &res.outcomes {
            *breakdown.entry(o.status.to_string()).or_insert(0u64) += 1;
        }
        tracing::info!(receipts = res.outcomes.len(), links = res.rows.len(), "cash matching done");
    }
    timings.insert("cash_matching".to_string(), t2.elapsed().as_millis() as u64);

    let t3 = Instant::now();
    let run_id = manifest::run_id(started, &loaded, &opts.config);
    let time = started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut ex = exceptions::from_bank(&loaded, cash.as_ref().map(|c| &c.0), money_out.as_ref(), &run_id);
    if let Some(d) = &dups {
        ex.extend(dedup::exceptions(d, &run_id));
    }
    if let Some((lines, results)) = &journal_results {
        ex.extend(journals::exceptions(lines, results, review_risk, &journal_model_id, &run_id));
    }
    if let Some(s) = &scorer {
        let id = reckon_match::GroupScorer::id(s);
        for e in ex.iter_mut().filter(|e| {
            matches!(e.kind.as_str(), "suggested_match" | "partial_payment" | "overpayment" | "ambiguous_match")
        }) {
            e.model = Some(id.clone());
        }
    }
    // The config was validated on load; a policy that fails here is a config error all the same.
    let policy = opts.config.feed.build().map_err(RunError::Policy)?;
    policy.apply(&mut ex);
    let (n, _) = exceptions::write(&out, &ex, &time)?;
    outputs.insert("exceptions.parquet".to_string(), manifest::output_entry(&out.join("exceptions.parquet"), n));
    outputs.insert("exceptions.jsonl".to_string(), manifest::output_entry(&out.join("exceptions.jsonl"), n));
    outputs.insert("exceptions.arrow".to_string(), manifest::output_entry(&out.join("exceptions.arrow"), n));
    timings.insert("exception_feed".to_string(), t3.elapsed().as_millis() as u64);

    // Where every loaded row went, by id. An exception's subject is its first
    // record; duplicate invoices and journals concern AP documents and GL lines.
    let mut matched: Vec<String> = cash
        .as_ref()
        .map(|(res, _)| res.outcomes.iter().filter(|o| o.status == "auto").map(|o| o.txn_id.clone()).collect())
        .unwrap_or_default();
    if let Some(m) = &money_out {
        matched.extend(
            m.txn_ids
                .iter()
                .zip(&m.outcomes)
                .filter(|(_, o)| {
                    matches!(
                        o,
                        reckon_dedup::payments::Outcome::Paid(..) | reckon_dedup::payments::Outcome::Classified(..)
                    )
                })
                .map(|(t, _)| t.clone()),
        );
    }
    let settlement = manifest::Settlement {
        receipts: breakdown,
        matched,
        in_exceptions: ex
            .iter()
            .filter_map(|e| e.records.first().and_then(|r| r.strip_prefix("bank_transactions:")).map(str::to_string))
            .collect(),
        ap_screened: dups.as_ref().map(|d| d.invoices.iter().map(|i| i.doc_id.clone()).collect()),
        gl_scored: journal_results.as_ref().map(|(_, rs)| rs.iter().flat_map(|j| j.lines.iter().copied()).collect()),
    };
    let conservation = manifest::conservation(&loaded, &settlement);
    let refused: Vec<String> = loaded.refused_files().into_iter().map(str::to_string).collect();
    let totals = amount_totals(&loaded);
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
    if let Some(s) = &scorer {
        m.models.push(manifest::ModelEntry {
            id: reckon_match::GroupScorer::id(s),
            path: s.0.dir.display().to_string(),
            sha256: s.0.config.model_sha256.clone(),
        });
    }
    if let Some(jm) = &journal_model {
        for mm in [&jm.risk, &jm.iforest] {
            m.models.push(manifest::ModelEntry {
                id: mm.id(),
                path: mm.dir.display().to_string(),
                sha256: mm.config.model_sha256.clone(),
            });
        }
    }
    if let Some(dm) = &dedup_model {
        m.models.push(manifest::ModelEntry {
            id: dm.id(),
            path: dm.dir.display().to_string(),
            sha256: dm.config.model_sha256.clone(),
        });
    }
    m.stages.insert(
        "journal_tests".to_string(),
        match &journal_results {
            Some((lines, results)) => format!(
                "ok ({MODEL}: {} lines, {} journals, {} at or above risk {})",
                lines.len(),
                results.len(),
                results.iter().filter(|j| j.risk >= review_risk).count(),
                review_risk,
                MODEL = journal_model.as_ref().map_or(journals::MODEL.to_string(), |m| m.risk.id())
            ),
            None => "no input".to_string(),
        },
    );
    m.stages.insert(
        "duplicate_detection".to_string(),
        match (&dups, &dedup_model) {
            (Some(d), Some(dm)) => format!(
                "ok (model {}, {} invoices, {} pairs compared, {} flagged)",
                dm.id(),
                d.invoices.len(),
                d.compared_pairs,
                d.flagged.len()
            ),
            (None, Some(_)) => "no input".to_string(),
            (_, None) => "off".to_string(),
        },
    );
    let names: Vec<&str> = sinks.iter().map(|s| s.name()).collect();
    m.stages.insert(
        "exception_feed".to_string(),
        if names.is_empty() {
            "files (exceptions.parquet, exceptions.jsonl)".to_string()
        } else {
            format!("files (exceptions.parquet, exceptions.jsonl); delivered through outbox/ to {}", names.join(", "))
        },
    );
    m.stages.insert(
        "cash_matching".to_string(),
        match (&cash, &scorer) {
            (None, _) => "no input".to_string(),
            (Some(_), Some(s)) => {
                format!("ok (model {}, auto threshold from the model)", reckon_match::GroupScorer::id(s))
            }
            (Some(_), None) => "ok (rule-based scores, not calibrated)".to_string(),
        },
    );
    let mpath = out.join("manifest.json");
    m.write(&mpath).map_err(|e| RunError::Write(mpath.clone(), e.to_string()))?;
    if !m.conservation.balanced {
        // The folder is complete and its manifest says what does not tie out.
        staged.commit()?;
        return Err(RunError::Conservation(m.conservation.problems.join("; ")));
    }
    let mut deliveries = Vec::new();
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
    let exit_code = if deliveries.iter().any(|d| d.status.dead_events > 0 || d.status.pending_events > 0) {
        exit::FEED_UNDELIVERED
    } else if refused.is_empty() {
        exit::OK
    } else {
        exit::REFUSED_INPUT
    };
    Ok(RunOutcome { manifest: m, loaded, exit_code, deliveries })
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

fn write_normalized(path: &Path, table: Table, df: &DataFrame) -> Result<u64, RunError> {
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
