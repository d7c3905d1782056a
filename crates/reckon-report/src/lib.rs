//! reckon-report: the run report, `report.html`, from a run's output folder.
//!
//! [`Report::from_output`] reads what a run wrote — `manifest.json`,
//! `receipt_outcomes.parquet`, `matches.parquet`, `journal_scores.parquet`,
//! `benford.parquet`, `exceptions.jsonl` and the served models' `metrics.json` — into one data
//! model ([`Report`]); [`render`] turns it into a single self-contained HTML
//! file with inline SVG charts (no script, no network, printable). Every count
//! names the rows it counts: the ids (the first [`MAX_IDS`]) and the table and
//! filter that give all of them. Every figure the manifest also holds carries a
//! `data-metric` attribute, so a test can hold the page against the manifest.

mod html;
mod svg;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

pub use html::render;

/// The cuts of the threshold sweep.
pub const SWEEP: [f64; 11] = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999];

/// Ids listed under a count; the rest are named by the table and filter.
pub const MAX_IDS: usize = 200;

/// Why a report cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0}: {1}")]
    Read(PathBuf, String),
    #[error("{0}: {1}")]
    Table(PathBuf, String),
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, String),
}

/// A count of rows, the ids it counts (at most [`MAX_IDS`]) and where to find all.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Count {
    pub label: String,
    pub count: u64,
    pub ids: Vec<String>,
    /// The table and filter that list every row counted.
    pub source: String,
}

/// A histogram bin: `[lo, hi)` and the rows in it per series.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    pub lo: f64,
    pub hi: f64,
    pub counts: Vec<u64>,
}

/// A reliability bin of a model's validation: groups, mean predicted, observed rate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Reliability {
    pub lo: f64,
    pub hi: f64,
    pub n: u64,
    pub predicted: f64,
    pub observed: f64,
}

/// An amount of money as exact decimal text with its currency.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Amount {
    pub currency: String,
    pub amount: String,
}

/// One exception shown in a list (largest unapplied receipts, duplicate
/// clusters, top journals).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub exception_id: String,
    pub kind: String,
    pub band: String,
    pub score: f64,
    pub entity: Option<String>,
    pub amount: Option<Amount>,
    pub records: Vec<String>,
    /// `code: text` per reason.
    pub reasons: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub run_id: String,
    pub started_at: String,
    pub reckon_version: String,
    pub contract_version: String,
    pub input_dir: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TableLine {
    pub table: String,
    pub input_rows: u64,
    pub loaded_rows: u64,
    pub rejected_rows: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConservationView {
    pub balanced: bool,
    pub problems: Vec<String>,
    pub tables: Vec<TableLine>,
    pub bank_loaded: u64,
    pub bank_matched: u64,
    pub bank_in_exceptions: u64,
    pub bank_unreconciled: u64,
    pub refused_files: Vec<String>,
    pub ignored_files: Vec<String>,
    /// (table, column, currency, exact sum) of every money column loaded.
    pub money: Vec<(String, String, String, String)>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CashView {
    pub receipts: u64,
    pub by_status: Vec<Count>,
    pub by_method: Vec<Count>,
    pub residual_reasons: Vec<Count>,
    /// Confidence of applied links, series `auto`, `review`.
    pub confidence: Vec<Bin>,
    pub auto_threshold: Option<f64>,
    /// The served model's validation reliability (from its `metrics.json`).
    pub reliability: Vec<Reliability>,
    pub model: Option<String>,
    /// The model's own validation at its threshold (from `metrics.json`):
    /// auto precision, its lower bound, touchless.
    pub validation: Option<(f64, f64, f64)>,
    /// Threshold sweep on this run: (cut, receipts whose proposed group scores
    /// at or above it) — how many would be applied without a person at each cut.
    pub sweep: Vec<(f64, u64)>,
    /// Unmatched and ambiguous receipts, largest first (at most 20).
    pub largest_unapplied: Vec<Item>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DuplicatesView {
    pub clusters: Vec<Item>,
    /// Sum per currency of one invoice per cluster (what a second payment would cost).
    pub at_risk: Vec<Amount>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JournalsView {
    pub journals: u64,
    pub lines: u64,
    /// Journals per risk band of 0.1.
    pub risk: Vec<Bin>,
    /// Journal exceptions, highest risk first (at most 20).
    pub top: Vec<Item>,
    /// Journals per test that fired.
    pub by_test: Vec<Count>,
    /// Preparers' first digits against Benford's law (`benford.parquet`):
    /// nonconforming first, then by lines.
    #[serde(default)]
    pub benford: Vec<BenfordLine>,
}

/// One preparer's first digits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BenfordLine {
    pub preparer: String,
    pub lines: u64,
    /// Observed shares of first digits 1–9.
    pub shares: Vec<f64>,
    pub mad: f64,
    pub nonconforming: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExceptionsView {
    pub total: u64,
    pub by_kind: Vec<Count>,
    pub by_band: Vec<Count>,
    pub by_priority: Vec<Count>,
    pub by_entity: Vec<Count>,
    /// (kind, currency, exact sum of the exceptions' amounts).
    pub amount_by_kind: Vec<(String, String, String)>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelLine {
    pub id: String,
    pub path: String,
    pub sha256: String,
}

/// Everything the report shows, read from one output folder.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub run: RunInfo,
    pub conservation: ConservationView,
    pub cash: Option<CashView>,
    pub duplicates: Option<DuplicatesView>,
    pub journals: Option<JournalsView>,
    pub exceptions: ExceptionsView,
    pub models: Vec<ModelLine>,
    /// Stage summaries as the manifest has them.
    pub stages: Vec<(String, String)>,
    /// Milliseconds per step (not part of the golden data model: they vary).
    pub timings_ms: Vec<(String, u64)>,
    /// Trends over earlier runs ([`Report::with_history`]).
    #[serde(default)]
    pub trends: Option<Trends>,
}

/// One run of a history, as the trends show it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunPoint {
    pub run_id: String,
    pub started_at: String,
    pub receipts: u64,
    /// Receipts applied without a person, as a share of all receipts.
    pub touchless: f64,
    /// Exceptions in the run's feed (the backlog as of this run).
    pub exceptions: u64,
    /// Exception ids not in the previous run.
    pub new: u64,
    /// Exception ids of the previous run no longer raised.
    pub gone: u64,
    /// Mean confidence of the receipts applied without a person.
    pub mean_auto_confidence: Option<f64>,
    /// Population stability index of the applied receipts' confidence (10 bins)
    /// against the first run: under 0.1 stable, 0.1–0.25 shifting, above 0.25 drifted.
    pub confidence_psi: Option<f64>,
}

/// Trends across runs, oldest first, and the age of the latest run's exceptions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Trends {
    pub runs: Vec<RunPoint>,
    /// Per kind: exceptions of the latest run first raised 0–1, 2–7, 8–30 and
    /// more than 30 days before it (by the runs' start times).
    pub aging: Vec<(String, [u64; 4])>,
}

// ---- the manifest, as far as the report reads it ----

#[derive(Deserialize)]
struct Manifest {
    run_id: String,
    started_at: String,
    reckon_version: String,
    contract_version: String,
    input_dir: String,
    #[serde(default)]
    ignored_files: Vec<String>,
    #[serde(default)]
    refused_files: Vec<String>,
    #[serde(default)]
    models: Vec<ModelLine>,
    #[serde(default)]
    amount_totals: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>,
    #[serde(default)]
    stages: BTreeMap<String, String>,
    #[serde(default)]
    timings_ms: BTreeMap<String, u64>,
    conservation: MConservation,
}

#[derive(Deserialize)]
struct MConservation {
    balanced: bool,
    #[serde(default)]
    problems: Vec<String>,
    #[serde(default)]
    tables: BTreeMap<String, MTable>,
    bank_transactions: MBank,
}

#[derive(Deserialize)]
struct MTable {
    input_rows: u64,
    loaded_rows: u64,
    rejected_rows: u64,
}

#[derive(Deserialize)]
struct MBank {
    loaded: u64,
    matched: u64,
    in_exceptions: u64,
    unreconciled: u64,
}

/// An exception as `exceptions.jsonl` carries it (`data` of the CloudEvent).
#[derive(Clone, Debug, Deserialize)]
struct Event {
    data: Ex,
}

#[derive(Clone, Debug, Deserialize)]
struct Ex {
    exception_id: String,
    kind: String,
    band: String,
    score: f64,
    entity: Option<String>,
    currency: Option<String>,
    amount: Option<String>,
    records: Vec<String>,
    reasons: Vec<ExReason>,
    priority: u8,
}

#[derive(Clone, Debug, Deserialize)]
struct ExReason {
    code: String,
    text: String,
}

impl Ex {
    fn item(&self) -> Item {
        Item {
            exception_id: self.exception_id.clone(),
            kind: self.kind.clone(),
            band: self.band.clone(),
            score: self.score,
            entity: self.entity.clone(),
            amount: match (&self.currency, &self.amount) {
                (Some(c), Some(a)) => Some(Amount { currency: c.clone(), amount: a.clone() }),
                _ => None,
            },
            records: self.records.clone(),
            reasons: self.reasons.iter().map(|r| format!("{}: {}", r.code, r.text)).collect(),
        }
    }

    /// The amount in minor units, when it reads.
    fn minor(&self) -> Option<(String, i64)> {
        let c = reckon_core::Currency::parse(self.currency.as_deref()?)?;
        let v = reckon_core::parse_minor(self.amount.as_deref()?, &reckon_core::MoneyFormat::CONTRACT, c).ok()?;
        Some((c.code().to_string(), v))
    }
}

/// Counts per label, ids kept in order of appearance (at most [`MAX_IDS`]).
struct Tally {
    source: String,
    counts: BTreeMap<String, (u64, Vec<String>)>,
}

impl Tally {
    fn new(source: &str) -> Tally {
        Tally { source: source.to_string(), counts: BTreeMap::new() }
    }

    fn add(&mut self, label: &str, id: &str) {
        let e = self.counts.entry(label.to_string()).or_default();
        e.0 += 1;
        if e.1.len() < MAX_IDS {
            e.1.push(id.to_string());
        }
    }

    /// Largest count first, then by label.
    fn done(self) -> Vec<Count> {
        let mut v: Vec<Count> = self
            .counts
            .into_iter()
            .map(|(label, (count, ids))| Count { source: self.source.replace("{}", &label), label, count, ids })
            .collect();
        v.sort_by(|a, b| b.count.cmp(&a.count).then(a.label.cmp(&b.label)));
        v
    }
}

fn read_parquet(path: &Path) -> Result<Option<DataFrame>, ReportError> {
    if !path.is_file() {
        return Ok(None);
    }
    let f = std::fs::File::open(path).map_err(|e| ReportError::Read(path.to_path_buf(), e.to_string()))?;
    ParquetReader::new(f).finish().map(Some).map_err(|e| ReportError::Table(path.to_path_buf(), e.to_string()))
}

fn text_col(df: &DataFrame, path: &Path, c: &str) -> Result<Vec<String>, ReportError> {
    let col = df.column(c).map_err(|_| ReportError::Table(path.to_path_buf(), format!("no column {c}")))?;
    let s = col.str().map_err(|_| ReportError::Table(path.to_path_buf(), format!("column {c} is not text")))?;
    Ok(s.iter().map(|v| v.unwrap_or("").to_string()).collect())
}

fn f64_col(df: &DataFrame, path: &Path, c: &str) -> Result<Vec<f64>, ReportError> {
    let col = df.column(c).map_err(|_| ReportError::Table(path.to_path_buf(), format!("no column {c}")))?;
    let cast = col.cast(&DataType::Float64).map_err(|e| ReportError::Table(path.to_path_buf(), e.to_string()))?;
    let s = cast.f64().map_err(|e| ReportError::Table(path.to_path_buf(), e.to_string()))?;
    Ok(s.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

/// Ten bins over [0, 1] (the last one closed); `series` picks the count to add to.
fn bins(values: impl Iterator<Item = (f64, usize)>, series: usize) -> Vec<Bin> {
    let mut out: Vec<Bin> =
        (0..10).map(|i| Bin { lo: i as f64 / 10.0, hi: (i + 1) as f64 / 10.0, counts: vec![0; series] }).collect();
    for (v, s) in values {
        if v.is_finite() {
            let i = ((v.clamp(0.0, 1.0) * 10.0) as usize).min(9);
            out[i].counts[s] += 1;
        }
    }
    out
}

fn sums(rows: impl Iterator<Item = (String, i64)>) -> Vec<Amount> {
    let mut by: BTreeMap<String, i128> = BTreeMap::new();
    for (c, v) in rows {
        *by.entry(c).or_default() += i128::from(v);
    }
    by.into_iter()
        .map(|(c, v)| {
            let e = reckon_core::Currency::parse(&c).map_or(2, |c| c.exponent());
            Amount { amount: reckon_core::format_minor_wide(v, e), currency: c }
        })
        .collect()
}

impl Report {
    /// Reads the run in `dir` (an output folder of `reckon run`).
    pub fn from_output(dir: &Path) -> Result<Report, ReportError> {
        let mpath = dir.join("manifest.json");
        let text = std::fs::read_to_string(&mpath).map_err(|e| ReportError::Read(mpath.clone(), e.to_string()))?;
        let m: Manifest = serde_json::from_str(&text).map_err(|e| ReportError::Read(mpath.clone(), e.to_string()))?;
        let jpath = dir.join("exceptions.jsonl");
        let mut ex: Vec<Ex> = Vec::new();
        if jpath.is_file() {
            let t = std::fs::read_to_string(&jpath).map_err(|e| ReportError::Read(jpath.clone(), e.to_string()))?;
            for (i, line) in t.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let e: Event = serde_json::from_str(line)
                    .map_err(|e| ReportError::Read(jpath.clone(), format!("line {}: {e}", i + 1)))?;
                ex.push(e.data);
            }
        }
        let c = &m.conservation;
        let conservation = ConservationView {
            balanced: c.balanced,
            problems: c.problems.clone(),
            tables: c
                .tables
                .iter()
                .map(|(t, r)| TableLine {
                    table: t.clone(),
                    input_rows: r.input_rows,
                    loaded_rows: r.loaded_rows,
                    rejected_rows: r.rejected_rows,
                })
                .collect(),
            bank_loaded: c.bank_transactions.loaded,
            bank_matched: c.bank_transactions.matched,
            bank_in_exceptions: c.bank_transactions.in_exceptions,
            bank_unreconciled: c.bank_transactions.unreconciled,
            refused_files: m.refused_files.clone(),
            ignored_files: m.ignored_files.clone(),
            money: m
                .amount_totals
                .iter()
                .flat_map(|(t, cols)| {
                    cols.iter().flat_map(move |(col, curs)| {
                        curs.iter().map(move |(cur, a)| (t.clone(), col.clone(), cur.clone(), a.clone()))
                    })
                })
                .collect(),
        };
        let cash = cash_view(dir, &m, &ex)?;
        let duplicates = duplicates_view(&ex);
        let journals = journals_view(dir, &ex)?;
        Ok(Report {
            run: RunInfo {
                run_id: m.run_id,
                started_at: m.started_at,
                reckon_version: m.reckon_version,
                contract_version: m.contract_version,
                input_dir: m.input_dir,
            },
            conservation,
            cash,
            duplicates,
            journals,
            exceptions: exceptions_view(&ex),
            models: m.models,
            stages: m.stages.into_iter().collect(),
            timings_ms: m.timings_ms.into_iter().collect(),
            trends: None,
        })
    }

    /// Adds trends over the runs in `runs` (output folders of `reckon run`; this
    /// report's own run among them or not), ordered by start time.
    pub fn with_history(mut self, runs: &[PathBuf]) -> Result<Report, ReportError> {
        self.trends = Some(trends(runs)?);
        Ok(self)
    }

    /// Writes `report.html` into `dir` and returns its path.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, ReportError> {
        let p = dir.join("report.html");
        std::fs::write(&p, render(self)).map_err(|e| ReportError::Write(p.clone(), e.to_string()))?;
        Ok(p)
    }
}

fn cash_view(dir: &Path, m: &Manifest, ex: &[Ex]) -> Result<Option<CashView>, ReportError> {
    let opath = dir.join("receipt_outcomes.parquet");
    let Some(outcomes) = read_parquet(&opath)? else { return Ok(None) };
    let (txn, status) = (text_col(&outcomes, &opath, "txn_id")?, text_col(&outcomes, &opath, "status")?);
    let mut by_status = Tally::new("receipt_outcomes.parquet where status = '{}'");
    for (t, s) in txn.iter().zip(&status) {
        by_status.add(s, t);
    }
    let mpath = dir.join("matches.parquet");
    let mut by_method = Tally::new("matches.parquet where method = '{}' (txn_id)");
    let mut reasons = Tally::new("matches.parquet where residual_reason = '{}' (txn_id)");
    let mut confidence = bins(std::iter::empty(), 2);
    let mut sweep = Vec::new();
    if let Some(mt) = read_parquet(&mpath)? {
        let (t, method, why, band) = (
            text_col(&mt, &mpath, "txn_id")?,
            text_col(&mt, &mpath, "method")?,
            text_col(&mt, &mpath, "residual_reason")?,
            text_col(&mt, &mpath, "band")?,
        );
        let conf = f64_col(&mt, &mpath, "confidence")?;
        // One count per receipt and group: the first link of each receipt.
        let mut seen = std::collections::HashSet::new();
        let mut firsts = Vec::new();
        for i in 0..t.len() {
            if seen.insert(t[i].as_str()) {
                by_method.add(&method[i], &t[i]);
                reasons.add(&why[i], &t[i]);
                firsts.push((conf[i], usize::from(band[i] != "auto")));
            }
        }
        sweep = SWEEP.iter().map(|&c| (c, firsts.iter().filter(|(v, _)| *v >= c).count() as u64)).collect();
        confidence = bins(firsts.into_iter(), 2);
    }
    // The served cash model: its auto threshold and validation reliability.
    let model = m.models.iter().find(|x| x.id.starts_with("cash@"));
    let mut reliability = Vec::new();
    let mut auto_threshold = None;
    let mut validation = None;
    if let Some(md) = model {
        let dirm = Path::new(&md.path);
        if let Ok(t) = std::fs::read_to_string(dirm.join("metrics.json"))
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&t)
        {
            if let (Some(p), Some(l), Some(t)) = (
                v["validation_auto_precision"].as_f64(),
                v["validation_auto_precision_lower"].as_f64(),
                v["validation_touchless"].as_f64(),
            ) {
                validation = Some((p, l, t));
            }
            for (i, b) in v["validation_reliability"].as_array().into_iter().flatten().enumerate() {
                let n = b[0].as_u64().unwrap_or(0);
                if n > 0 {
                    reliability.push(Reliability {
                        lo: i as f64 / 10.0,
                        hi: (i + 1) as f64 / 10.0,
                        n,
                        predicted: b[1].as_f64().unwrap_or(0.0),
                        observed: b[2].as_f64().unwrap_or(0.0),
                    });
                }
            }
        }
        if let Ok(t) = std::fs::read_to_string(dirm.join("config.json"))
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&t)
        {
            auto_threshold = v["thresholds"]["auto"].as_f64();
        }
    }
    let mut unapplied: Vec<(&Ex, i64)> = ex
        .iter()
        .filter(|e| matches!(e.kind.as_str(), "unmatched_receipt" | "ambiguous_match"))
        .map(|e| (e, e.minor().map_or(0, |m| m.1)))
        .collect();
    unapplied.sort_by(|a, b| b.1.unsigned_abs().cmp(&a.1.unsigned_abs()).then(a.0.exception_id.cmp(&b.0.exception_id)));
    Ok(Some(CashView {
        receipts: txn.len() as u64,
        by_status: by_status.done(),
        by_method: by_method.done(),
        residual_reasons: reasons.done(),
        confidence,
        auto_threshold,
        reliability,
        model: model.map(|x| x.id.clone()),
        validation,
        sweep,
        largest_unapplied: unapplied.iter().take(20).map(|(e, _)| e.item()).collect(),
    }))
}

fn duplicates_view(ex: &[Ex]) -> Option<DuplicatesView> {
    let dups: Vec<&Ex> = ex.iter().filter(|e| e.kind == "duplicate_invoice").collect();
    if dups.is_empty() {
        return None;
    }
    let mut clusters: Vec<Item> = dups.iter().map(|e| e.item()).collect();
    clusters.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.exception_id.cmp(&b.exception_id)));
    Some(DuplicatesView { clusters, at_risk: sums(dups.iter().filter_map(|e| e.minor())) })
}

fn journals_view(dir: &Path, ex: &[Ex]) -> Result<Option<JournalsView>, ReportError> {
    let path = dir.join("journal_scores.parquet");
    let Some(js) = read_parquet(&path)? else { return Ok(None) };
    let (ent, jid, flags) =
        (text_col(&js, &path, "entity")?, text_col(&js, &path, "journal_id")?, text_col(&js, &path, "flags")?);
    let score = f64_col(&js, &path, "score")?;
    let mut seen = std::collections::HashSet::new();
    let mut risks = Vec::new();
    let mut by_test = Tally::new("journal_scores.parquet where flags contains '{}' (entity/journal_id)");
    for i in 0..jid.len() {
        if seen.insert((ent[i].as_str(), jid[i].as_str())) {
            risks.push((score[i], 0));
            for t in flags[i].split('|').filter(|t| !t.is_empty()) {
                by_test.add(t, &format!("{}/{}", ent[i], jid[i]));
            }
        }
    }
    let mut top: Vec<Item> = ex
        .iter()
        .filter(|e| matches!(e.kind.as_str(), "journal_anomaly" | "control_violation"))
        .map(Ex::item)
        .collect();
    top.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.exception_id.cmp(&b.exception_id)));
    top.truncate(20);
    let bpath = dir.join("benford.parquet");
    let mut benford = Vec::new();
    if let Some(b) = read_parquet(&bpath)? {
        let prep = text_col(&b, &bpath, "preparer_id")?;
        let lines = f64_col(&b, &bpath, "lines")?;
        let mad = f64_col(&b, &bpath, "mad")?;
        let digits = (1..=9).map(|d| f64_col(&b, &bpath, &format!("digit_{d}"))).collect::<Result<Vec<_>, _>>()?;
        let bad = b
            .column("nonconforming")
            .ok()
            .and_then(|c| c.bool().ok().map(|c| c.iter().map(|v| v.unwrap_or(false)).collect::<Vec<_>>()))
            .ok_or_else(|| ReportError::Table(bpath.clone(), "no boolean column nonconforming".into()))?;
        for i in 0..prep.len() {
            let n = lines[i].max(1.0);
            benford.push(BenfordLine {
                preparer: prep[i].clone(),
                lines: lines[i] as u64,
                shares: digits.iter().map(|d| d[i] / n).collect(),
                mad: mad[i],
                nonconforming: bad[i],
            });
        }
        // Nonconforming preparers first, then the largest samples (a handful of
        // lines deviates by chance), then by deviation.
        benford.sort_by(|a, b| {
            b.nonconforming
                .cmp(&a.nonconforming)
                .then(b.lines.cmp(&a.lines))
                .then(b.mad.total_cmp(&a.mad))
                .then(a.preparer.cmp(&b.preparer))
        });
    }
    Ok(Some(JournalsView {
        journals: risks.len() as u64,
        lines: jid.len() as u64,
        risk: bins(risks.into_iter(), 1),
        top,
        by_test: by_test.done(),
        benford,
    }))
}

fn exceptions_view(ex: &[Ex]) -> ExceptionsView {
    let mut kind = Tally::new("exceptions.jsonl where kind = '{}'");
    let mut band = Tally::new("exceptions.jsonl where band = '{}'");
    let mut prio = Tally::new("exceptions.jsonl where priority = {}");
    let mut entity = Tally::new("exceptions.jsonl where entity = '{}'");
    let mut amounts: BTreeMap<(String, String), i128> = BTreeMap::new();
    for e in ex {
        kind.add(&e.kind, &e.exception_id);
        band.add(&e.band, &e.exception_id);
        prio.add(&e.priority.to_string(), &e.exception_id);
        entity.add(e.entity.as_deref().unwrap_or("(none)"), &e.exception_id);
        if let Some((c, v)) = e.minor() {
            *amounts.entry((e.kind.clone(), c)).or_default() += i128::from(v);
        }
    }
    let mut by_priority = prio.done();
    by_priority.sort_by(|a, b| a.label.cmp(&b.label));
    ExceptionsView {
        total: ex.len() as u64,
        by_kind: kind.done(),
        by_band: band.done(),
        by_priority,
        by_entity: entity.done(),
        amount_by_kind: amounts
            .into_iter()
            .map(|((k, c), v)| {
                let e = reckon_core::Currency::parse(&c).map_or(2, |c| c.exponent());
                (k, c, reckon_core::format_minor_wide(v, e))
            })
            .collect(),
    }
}

/// The run folders under `dir` (each holding a `manifest.json`), by name.
pub fn run_folders(dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let rd = std::fs::read_dir(dir).map_err(|e| ReportError::Read(dir.to_path_buf(), e.to_string()))?;
    let mut v: Vec<PathBuf> = rd.flatten().map(|e| e.path()).filter(|p| p.join("manifest.json").is_file()).collect();
    v.sort();
    Ok(v)
}

/// Days since 1970-01-01 of an RFC 3339 time's date.
fn day_of(t: &str) -> Option<i32> {
    reckon_core::date::parse_iso_date(t.get(..10)?)
}

struct RunFacts {
    point: RunPoint,
    ids: BTreeMap<String, String>,
    confidence: Vec<f64>,
}

fn run_facts(dir: &Path) -> Result<RunFacts, ReportError> {
    let mpath = dir.join("manifest.json");
    let text = std::fs::read_to_string(&mpath).map_err(|e| ReportError::Read(mpath.clone(), e.to_string()))?;
    let m: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| ReportError::Read(mpath.clone(), e.to_string()))?;
    let receipts: BTreeMap<String, u64> =
        serde_json::from_value(m["conservation"]["bank_transactions"]["receipts"].clone()).unwrap_or_default();
    let total: u64 = receipts.values().sum();
    let auto = receipts.get("auto").copied().unwrap_or(0);
    let mut ids = BTreeMap::new();
    let jpath = dir.join("exceptions.jsonl");
    if jpath.is_file() {
        let t = std::fs::read_to_string(&jpath).map_err(|e| ReportError::Read(jpath.clone(), e.to_string()))?;
        for (i, line) in t.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let e: Event = serde_json::from_str(line)
                .map_err(|e| ReportError::Read(jpath.clone(), format!("line {}: {e}", i + 1)))?;
            ids.insert(e.data.exception_id, e.data.kind);
        }
    }
    let mut confidence = Vec::new();
    let path = dir.join("matches.parquet");
    if let Some(mt) = read_parquet(&path)? {
        let (t, band, conf) =
            (text_col(&mt, &path, "txn_id")?, text_col(&mt, &path, "band")?, f64_col(&mt, &path, "confidence")?);
        let mut seen = std::collections::HashSet::new();
        for i in 0..t.len() {
            if band[i] == "auto" && seen.insert(t[i].as_str()) {
                confidence.push(conf[i]);
            }
        }
    }
    Ok(RunFacts {
        point: RunPoint {
            run_id: m["run_id"].as_str().unwrap_or("").to_string(),
            started_at: m["started_at"].as_str().unwrap_or("").to_string(),
            receipts: total,
            touchless: if total == 0 { 0.0 } else { auto as f64 / total as f64 },
            exceptions: ids.len() as u64,
            mean_auto_confidence: (!confidence.is_empty())
                .then(|| confidence.iter().sum::<f64>() / confidence.len() as f64),
            ..RunPoint::default()
        },
        ids,
        confidence,
    })
}

/// Shares of `v` in ten bins over [0, 1], each at least 1e-4 (so the PSI is finite).
fn shares(v: &[f64]) -> [f64; 10] {
    let mut c = [0f64; 10];
    for x in v {
        c[((x.clamp(0.0, 1.0) * 10.0) as usize).min(9)] += 1.0;
    }
    let n = v.len().max(1) as f64;
    c.map(|k| (k / n).max(1e-4))
}

/// Population stability index of `now` against `base`: Σ (p − q) ln(p / q).
pub fn psi(base: &[f64], now: &[f64]) -> f64 {
    let (q, p) = (shares(base), shares(now));
    p.iter().zip(q.iter()).map(|(p, q)| (p - q) * (p / q).ln()).sum()
}

fn trends(runs: &[PathBuf]) -> Result<Trends, ReportError> {
    let mut facts = runs.iter().map(|d| run_facts(d)).collect::<Result<Vec<_>, _>>()?;
    facts.sort_by(|a, b| (&a.point.started_at, &a.point.run_id).cmp(&(&b.point.started_at, &b.point.run_id)));
    let mut first_seen: BTreeMap<String, i32> = BTreeMap::new();
    for i in 0..facts.len() {
        let day = day_of(&facts[i].point.started_at).unwrap_or(0);
        for id in facts[i].ids.keys() {
            first_seen.entry(id.clone()).or_insert(day);
        }
        if i > 0 {
            let (prev, now) = (&facts[i - 1].ids, &facts[i].ids);
            let new = now.keys().filter(|k| !prev.contains_key(*k)).count() as u64;
            let gone = prev.keys().filter(|k| !now.contains_key(*k)).count() as u64;
            facts[i].point.new = new;
            facts[i].point.gone = gone;
        } else {
            facts[i].point.new = facts[i].ids.len() as u64;
        }
        if !facts[0].confidence.is_empty() && !facts[i].confidence.is_empty() {
            let p = psi(&facts[0].confidence, &facts[i].confidence);
            facts[i].point.confidence_psi = Some(p);
        }
    }
    let mut aging: BTreeMap<String, [u64; 4]> = BTreeMap::new();
    if let Some(last) = facts.last() {
        let today = day_of(&last.point.started_at).unwrap_or(0);
        for (id, kind) in &last.ids {
            let age = today - first_seen.get(id).copied().unwrap_or(today);
            let b = match age {
                ..=1 => 0,
                2..=7 => 1,
                8..=30 => 2,
                _ => 3,
            };
            aging.entry(kind.clone()).or_insert([0; 4])[b] += 1;
        }
    }
    Ok(Trends { runs: facts.into_iter().map(|f| f.point).collect(), aging: aging.into_iter().collect() })
}
