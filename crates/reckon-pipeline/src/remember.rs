//! A run with a state store (`reckon run --state PATH`): decisions in the input
//! folder are taken in, open bank entries of earlier runs are carried into this
//! one, a bank entry the chain already settled is refused, open items are
//! reduced by what reckon applied that the receivables snapshot does not show
//! yet, and the cash stage gets the decisions to apply, the pairs people
//! rejected and the payer names they confirmed ([`RunMemory`]). Once the
//! stages that settle bank entries are done, [`begin_bank`] opens the run's
//! transaction with its bank side; after the stages, [`finish`] computes the
//! exceptions' lifecycle and the rest of the store's changes.

use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use polars::prelude::*;
use reckon_core::col::bank_transactions as bt;
use reckon_core::{ColumnType, ExceptionKind, Reject, RejectCode, Table};
use reckon_feed::Exception;
use reckon_ingest::Loaded;
use reckon_ingest::load::FileReport;
use reckon_state::lifecycle::{self, Facts};
use reckon_state::{
    Alias, Application, DecisionStatus, EntryChange, EntryStatus, Memory, Policy, Sla, Store, StoredDecision,
    Unreadable, Verdict,
};
use serde::Serialize;

use crate::RunError;

/// The `path` of the pseudo-file that carried bank entries are counted under in
/// the manifest.
pub const CARRIED: &str = "state:carried";

/// The `path` of the pseudo-file that remittance advice lines kept from earlier
/// runs are counted under in the manifest.
pub const ADVICES: &str = "state:advices";

/// The name the automatic applications' run file is reported under.
pub const APPLICATIONS: &str = "state:applications";

/// The column of the advices' run file that holds the as-of date of the run
/// that first loaded the line.
const FIRST_SEEN: &str = "first_seen";

/// An open item whose open amount reckon's earlier applications reduced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reduced {
    /// Its open amount in the receivables snapshot.
    pub seen: i64,
    /// Its open amount after the applications the snapshot does not show.
    pub open: i64,
}

/// What the stages see of the store.
#[derive(Debug, Default)]
pub struct RunMemory {
    /// Decisions that match a receipt, oldest first, with what they need.
    pub decided: Vec<Decided>,
    /// Open items whose open amount reckon reduced, by item id (the engine's
    /// rows carry the reduced amount: [`crate::inputs::Tables::reduce_open_items`]).
    pub reduced: FxHashMap<String, Reduced>,
    /// (txn_id, item_id) pairs never to propose.
    pub rejected_pairs: HashSet<(String, String)>,
    /// Payer names people confirmed for customers.
    pub aliases: Vec<Alias>,
    /// Payers (customers of the master, known by their accounts) people
    /// confirmed for other customers.
    pub permissions: Vec<reckon_state::Permission>,
    /// The cash proposals people decided, oldest run first: (model id that
    /// scored it, its probability, found right).
    pub decided_proposals: Vec<(String, f64, bool)>,
    /// `[state] auto_groups_kept`.
    pub auto_groups_kept: usize,
    /// Bank entries an exception of the store is about (its subject): how
    /// this run settles them is told when the exception is resolved.
    pub excepted_entries: HashSet<String>,
}

/// A decision that matches a receipt.
#[derive(Clone, Debug)]
pub struct Decided {
    pub decision: StoredDecision,
    /// The bank entry it settles (`None`: its exception is gone — refused).
    pub txn_id: Option<String>,
    /// The exception's kind.
    pub kind: Option<ExceptionKind>,
    /// The open items the exception proposed (for `accept`).
    pub proposal: Vec<String>,
}

/// The store, opened and read for one run.
#[derive(Debug)]
pub struct Opened {
    pub store: Store,
    pub memory: Memory,
    pub sla: Sla,
    /// `[state] advice_days`.
    pub advice_days: u32,
    /// `[state] auto_groups_kept`.
    pub auto_groups_kept: usize,
    pub verdicts: Vec<Verdict>,
    pub unreadable: Vec<Unreadable>,
}

/// What a run holds of the opened store besides its connection.
#[derive(Debug)]
pub struct Held<'a> {
    pub memory: &'a mut Memory,
    pub sla: &'a Sla,
    pub advice_days: u32,
    pub verdicts: &'a [Verdict],
    pub unreadable: &'a [Unreadable],
}

impl Opened {
    /// The store's connection — for the run's transaction, which lasts from
    /// [`begin_bank`] to the commit — apart from what was read of it.
    pub fn split(&mut self) -> (&mut Store, Held<'_>) {
        (
            &mut self.store,
            Held {
                memory: &mut self.memory,
                sla: &self.sla,
                advice_days: self.advice_days,
                verdicts: &self.verdicts,
                unreadable: &self.unreadable,
            },
        )
    }
}

/// Opens the store (lock, migrations) after checking the `[state]` and
/// `[decisions]` settings: a store another run holds, or a file that is not
/// reckon's store, is refused before any input is read.
pub fn open_store(path: &Path, config: &crate::Config) -> Result<Store, RunError> {
    config.state.build().map_err(RunError::Config)?;
    config.decisions.build().map_err(RunError::Config)?;
    Ok(Store::open(path)?)
}

/// Takes in `decisions/` of the input folder and reads the memory of the
/// store [`open_store`] opened (the run does this while it loads its input).
pub fn read(mut store: Store, config: &crate::Config, input: &Path, at: &str) -> Result<Opened, RunError> {
    let sla = config.state.build().map_err(RunError::Config)?;
    let policy = config.decisions.build().map_err(RunError::Config)?;
    let (verdicts, unreadable) = intake(&mut store, input, &policy, at)?;
    let memory = store.memory_labelling(config.monitor.calibration_window)?;
    Ok(Opened {
        store,
        memory,
        sla,
        advice_days: config.state.advice_days,
        auto_groups_kept: config.state.auto_groups_kept,
        verdicts,
        unreadable,
    })
}

/// Reads and submits `decisions/*.jsonl|*.csv` of `input`, in file-name order.
pub fn intake(
    store: &mut Store,
    input: &Path,
    policy: &Policy,
    at: &str,
) -> Result<(Vec<Verdict>, Vec<Unreadable>), RunError> {
    let dir = input.join(reckon_ingest::discover::DECISIONS_FOLDER);
    let Ok(rd) = std::fs::read_dir(&dir) else { return Ok((Vec::new(), Vec::new())) };
    let mut names: Vec<String> = rd.filter_map(|e| e.ok()).filter_map(|e| e.file_name().into_string().ok()).collect();
    names.sort();
    let (mut ok, mut bad) = (Vec::new(), Vec::new());
    for n in names {
        let lower = n.to_ascii_lowercase();
        let csv = lower.ends_with(".csv");
        if !csv && !lower.ends_with(".jsonl") && !lower.ends_with(".json") {
            bad.push(Unreadable {
                source: format!("decisions/{n}"),
                reason: "not a decisions file (.jsonl or .csv)".into(),
            });
            continue;
        }
        let p = dir.join(&n);
        let text = std::fs::read_to_string(&p).map_err(|e| RunError::Write(p.clone(), format!("read: {e}")))?;
        let (o, b) = reckon_state::decision::read_text(&text, &format!("decisions/{n}"), csv);
        ok.extend(o);
        bad.extend(b);
    }
    for u in &bad {
        tracing::warn!(source = %u.source, reason = %u.reason, "decision unreadable");
    }
    let verdicts = store.submit(&ok, policy, at)?;
    Ok((verdicts, bad))
}

/// How loading changed with the memory.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Prepared {
    /// Open bank entries of earlier runs added to this run's bank entries.
    pub carried: u64,
    /// Bank entries the chain had already settled, rejected (`duplicate_key`).
    pub redelivered: u64,
    /// Remittance advice lines earlier runs left unused, added to this run's.
    pub advices_carried: u64,
    /// Advice lines kept from earlier runs that this run's files deliver again
    /// (the delivered line replaces the kept one).
    pub advices_redelivered: u64,
    /// When each carried advice line first arrived, by its position
    /// (`advice N`).
    #[serde(skip)]
    pub advices_first_seen: Vec<String>,
    /// Applications the receivables snapshot now shows (dropped from the store).
    #[serde(skip)]
    pub applications_dropped: Vec<(String, String)>,
    /// Open items whose amount was reduced by reckon's earlier applications.
    pub items_reduced: u64,
    /// Automatic applications of earlier runs the snapshot does not show yet,
    /// as the rows of their run file.
    #[serde(skip)]
    pub auto_outstanding: Option<DataFrame>,
    /// Rows of entries the last run left open that a decision settled since:
    /// kept one by one, so an undo can carry them again (txn_id, row JSON).
    #[serde(skip)]
    pub kept_rows: Vec<(String, String)>,
}

/// A text column of a bank frame (a contract column or the provenance columns
/// ingestion adds); a missing column is an error naming it, never blanks.
fn text_col(df: &DataFrame, c: &str) -> PolarsResult<Vec<Option<String>>> {
    Ok(df.column(c)?.str()?.iter().map(|v| v.map(str::to_string)).collect())
}

/// Every loaded bank row as JSON (contract columns), to carry it; columns are
/// read once each.
fn rows_json(df: &DataFrame) -> Vec<String> {
    let n = df.height();
    let mut cols: Vec<(&str, Vec<serde_json::Value>)> = Vec::new();
    for c in Table::BankTransactions.spec().columns {
        let Ok(col) = df.column(c.name) else { continue };
        let vals: Vec<serde_json::Value> = match col.dtype() {
            DataType::String => col
                .str()
                .map(|a| a.iter().map(|v| v.map_or(serde_json::Value::Null, serde_json::Value::from)).collect())
                .unwrap_or_default(),
            DataType::Int64 => col
                .i64()
                .map(|a| a.iter().map(|v| v.map_or(serde_json::Value::Null, serde_json::Value::from)).collect())
                .unwrap_or_default(),
            DataType::Date => col
                .cast(&DataType::Int32)
                .ok()
                .and_then(|c| {
                    c.i32()
                        .ok()
                        .map(|a| a.iter().map(|v| v.map_or(serde_json::Value::Null, serde_json::Value::from)).collect())
                })
                .unwrap_or_default(),
            DataType::Datetime(..) => col
                .cast(&DataType::Int64)
                .ok()
                .and_then(|c| {
                    c.i64()
                        .ok()
                        .map(|a| a.iter().map(|v| v.map_or(serde_json::Value::Null, serde_json::Value::from)).collect())
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        if vals.len() == n {
            cols.push((c.name, vals));
        }
    }
    (0..n)
        .map(|i| {
            let m: serde_json::Map<String, serde_json::Value> =
                cols.iter().map(|(name, v)| (name.to_string(), v[i].clone())).collect();
            serde_json::Value::Object(m).to_string()
        })
        .collect()
}

/// Bank rows from their JSON, typed as loading types them.
fn frame_of(rows: &[(String, String)], like: Option<&DataFrame>) -> PolarsResult<DataFrame> {
    let parsed: Vec<serde_json::Map<String, serde_json::Value>> = rows
        .iter()
        .map(|(_, j)| {
            serde_json::from_str::<serde_json::Value>(j).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default()
        })
        .collect();
    let n = parsed.len();
    let mut cols = Vec::new();
    for c in Table::BankTransactions.spec().columns {
        let get = |m: &serde_json::Map<String, serde_json::Value>| m.get(c.name).cloned().unwrap_or_default();
        let col = match c.ty {
            ColumnType::Date => Column::new(
                c.name.into(),
                parsed.iter().map(|m| get(m).as_i64().map(|x| x as i32)).collect::<Vec<Option<i32>>>(),
            )
            .cast(&DataType::Date)?,
            ColumnType::Timestamp => {
                Column::new(c.name.into(), parsed.iter().map(|m| get(m).as_i64()).collect::<Vec<Option<i64>>>())
                    .cast(&DataType::Datetime(TimeUnit::Microseconds, None))?
            }
            ColumnType::Money | ColumnType::Int => {
                Column::new(c.name.into(), parsed.iter().map(|m| get(m).as_i64()).collect::<Vec<Option<i64>>>())
            }
            _ => Column::new(
                c.name.into(),
                parsed.iter().map(|m| get(m).as_str().map(str::to_string)).collect::<Vec<Option<String>>>(),
            ),
        };
        cols.push(col);
    }
    align(DataFrame::new(n, cols)?, like)
}

/// Carried bank rows (contract columns) with their provenance columns, in the
/// loaded frame's column order and types.
fn align(mut df: DataFrame, like: Option<&DataFrame>) -> PolarsResult<DataFrame> {
    let n = df.height();
    let ids = text_col(&df, bt::TXN_ID)?;
    df.with_column(Column::new("source_file".into(), vec![CARRIED.to_string(); n]))?;
    df.with_column(Column::new(
        "source_position".into(),
        ids.iter().map(|id| format!("carried {}", id.as_deref().unwrap_or(""))).collect::<Vec<_>>(),
    ))?;
    match like {
        // The loaded frame's column order and types.
        Some(l) => conform(df, l),
        None => Ok(df),
    }
}

/// The columns of the automatic applications' file.
const APPLICATION_COLUMNS: [&str; 6] = ["txn_id", "item_id", "applied_minor", "currency", "open_seen_minor", "run_id"];

/// The automatic applications' run file as a frame; each column checked for
/// its type, so a file of another layout is an error, not blanks.
fn applications_frame(bytes: &[u8]) -> PolarsResult<DataFrame> {
    let df = ParquetReader::new(std::io::Cursor::new(bytes)).finish()?;
    for (c, dtype) in APPLICATION_COLUMNS.iter().zip(APPLICATION_TYPES) {
        let found = df.column(c)?.dtype();
        if *found != dtype {
            polars_bail!(SchemaMismatch: "applications file: column {c} is {found}, expected {dtype}");
        }
    }
    df.select(APPLICATION_COLUMNS)
}

/// The types of [`APPLICATION_COLUMNS`].
const APPLICATION_TYPES: [DataType; 6] =
    [DataType::String, DataType::String, DataType::Int64, DataType::String, DataType::Int64, DataType::String];

/// Applications as a frame of the run file's columns.
fn applications_to_frame(apps: &[&Application]) -> PolarsResult<DataFrame> {
    let s = |f: &dyn Fn(&Application) -> &str| apps.iter().map(|a| f(a)).collect::<Vec<&str>>();
    DataFrame::new(
        apps.len(),
        vec![
            Column::new(APPLICATION_COLUMNS[0].into(), s(&|a| &a.txn_id)),
            Column::new(APPLICATION_COLUMNS[1].into(), s(&|a| &a.item_id)),
            Column::new(APPLICATION_COLUMNS[2].into(), apps.iter().map(|a| a.applied_minor).collect::<Vec<i64>>()),
            Column::new(APPLICATION_COLUMNS[3].into(), s(&|a| &a.currency)),
            Column::new(APPLICATION_COLUMNS[4].into(), apps.iter().map(|a| a.open_seen_minor).collect::<Vec<i64>>()),
            Column::new(APPLICATION_COLUMNS[5].into(), s(&|a| &a.run_id)),
        ],
    )
}

/// The automatic applications outstanding after this run, as a Parquet file
/// for the store: those of earlier runs still outstanding (`earlier`, the
/// last file's rows), then this run's.
fn applications_file(
    run_id: &str,
    earlier: Option<&DataFrame>,
    apps: &[&Application],
) -> PolarsResult<reckon_state::RunFile> {
    let mut df = applications_to_frame(apps)?;
    if let Some(e) = earlier {
        df = e.vstack(&df)?;
        df.rechunk_mut();
    }
    run_file(run_id, &mut df)
}

/// A frame as a run file: Parquet, uncompressed (the store's file is written
/// once and read once; compressing cost more time than it saved).
fn run_file(run_id: &str, df: &mut DataFrame) -> PolarsResult<reckon_state::RunFile> {
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf)
        .with_statistics(StatisticsOptions::empty())
        .with_compression(ParquetCompression::Uncompressed)
        .finish(df)?;
    Ok(reckon_state::RunFile {
        run_id: run_id.to_string(),
        rows: df.height() as i64,
        sha256: reckon_core::id::sha256_hex(&buf),
        parquet: buf,
    })
}

/// The identity of a remittance advice line across runs: advice, invoice,
/// amount paid and currency (the contract gives remittances no key).
type AdviceLine = (String, String, Option<i64>, String);

/// Each row's [`AdviceLine`].
fn advice_lines(df: &DataFrame) -> Result<Vec<AdviceLine>, RunError> {
    use reckon_core::col::remittances as rm;
    let v = reckon_ingest::TableView::new(Table::Remittances, df);
    let e = crate::inputs::InputsError::from;
    let (rid, inv, cur) =
        (v.text(rm::REMITTANCE_ID).map_err(e)?, v.text(rm::INVOICE_REF).map_err(e)?, v.text(rm::CURRENCY).map_err(e)?);
    let paid = v.minor(rm::PAID_AMOUNT).map_err(e)?;
    Ok(rid.into_iter().zip(inv).zip(paid).zip(cur).map(|(((r, i), p), c)| (r, i, p, c)).collect())
}

/// Adds the advice lines of the last run's file to the loaded remittances
/// (those this run's files do not deliver again), under [`ADVICES`].
fn carry_advices(loaded: &mut Loaded, f: &reckon_state::RunFile, p: &mut Prepared) -> Result<(), RunError> {
    let fail = |e: PolarsError| RunError::StateFile(ADVICES, e.to_string());
    let df = ParquetReader::new(std::io::Cursor::new(&f.parquet)).finish().map_err(fail)?;
    let delivered: HashSet<AdviceLine> = match loaded.tables.get(&Table::Remittances) {
        Some(r) => advice_lines(r)?.into_iter().collect(),
        None => HashSet::new(),
    };
    let keep: Vec<bool> = advice_lines(&df)?.iter().map(|l| !delivered.contains(l)).collect();
    p.advices_redelivered = keep.iter().filter(|k| !**k).count() as u64;
    let df = df.filter(&keep.into_iter().collect()).map_err(fail)?;
    let n = df.height();
    if n == 0 {
        return Ok(());
    }
    p.advices_first_seen =
        text_col(&df, FIRST_SEEN).map_err(fail)?.into_iter().map(Option::unwrap_or_default).collect();
    let mut df = df.drop(FIRST_SEEN).map_err(fail)?;
    df.with_column(Column::new("source_file".into(), vec![ADVICES.to_string(); n])).map_err(fail)?;
    df.with_column(Column::new("source_position".into(), (0..n).map(|k| format!("advice {k}")).collect::<Vec<_>>()))
        .map_err(fail)?;
    let df = match loaded.tables.get(&Table::Remittances) {
        Some(like) => conform(df, like).map_err(fail)?,
        None => df,
    };
    add_kept(loaded, Table::Remittances, vec![df], ADVICES, f.sha256.clone(), f.parquet.len() as u64).map_err(fail)?;
    p.advices_carried = n as u64;
    Ok(())
}

/// Tells the engine on which day an earlier run received each advice line the
/// store kept (`first_seen`): such a line without a date or a payment
/// reference links by amount only to a payment booked within a week of it,
/// not to any payment of the same amount for as long as it is kept.
pub fn date_kept_advices(
    tables: &mut crate::inputs::Tables,
    loaded: &Loaded,
    prepared: &Prepared,
) -> Result<(), RunError> {
    let Some(r) = loaded.tables.get(&Table::Remittances).filter(|_| prepared.advices_carried > 0) else {
        return Ok(());
    };
    let fail = |e: PolarsError| RunError::StateFile(ADVICES, e.to_string());
    let (files, pos) = (text_col(r, "source_file").map_err(fail)?, text_col(r, "source_position").map_err(fail)?);
    for ((line, file), pos) in tables.remittances.iter_mut().zip(&files).zip(&pos) {
        line.arrived = kept_advice_first_seen(prepared, file.as_deref(), pos.as_deref())
            .and_then(reckon_core::date::parse_iso_date);
    }
    Ok(())
}

/// The as-of date (`YYYY-MM-DD`) of the run that first loaded a kept advice
/// line, for a row of the pseudo-file `state:advices` (`advice <n>`); `None`
/// for a line of the run's own files.
fn kept_advice_first_seen<'a>(prepared: &'a Prepared, file: Option<&str>, pos: Option<&str>) -> Option<&'a str> {
    let k = pos.filter(|_| file == Some(ADVICES))?.strip_prefix("advice ")?.parse::<usize>().ok()?;
    prepared.advices_first_seen.get(k).map(String::as_str)
}

/// Adds rows the store kept to a loaded table (creating it if no file loaded
/// any), counted in the manifest's inputs under the pseudo-file `path`.
fn add_kept(
    loaded: &mut Loaded,
    table: Table,
    parts: Vec<DataFrame>,
    path: &str,
    sha256: String,
    bytes: u64,
) -> PolarsResult<()> {
    let n: u64 = parts.iter().map(|d| d.height() as u64).sum();
    for df in parts {
        match loaded.tables.get_mut(&table) {
            Some(t) => {
                t.vstack_mut_owned(df)?;
            }
            None => {
                loaded.tables.insert(table, df);
            }
        }
    }
    loaded.files.push(FileReport {
        path: path.to_string(),
        table: Some(table.name().to_string()),
        format: "state".to_string(),
        mapping: None,
        sha256,
        bytes,
        input_rows: n,
        blank_lines: 0,
        loaded_rows: n,
        rejected_rows: 0,
        refused: None,
        detected_format: None,
        statements: None,
        controls: Vec::new(),
    });
    Ok(())
}

/// The contract columns of `table` that `df` holds, in the contract's order:
/// what a run file keeps of a loaded frame.
fn contract_columns(table: Table, df: &DataFrame) -> Vec<PlSmallStr> {
    table.spec().columns.iter().filter(|c| df.column(c.name).is_ok()).map(|c| PlSmallStr::from(c.name)).collect()
}

/// `df` in `like`'s column order and types.
fn conform(df: DataFrame, like: &DataFrame) -> PolarsResult<DataFrame> {
    let names: Vec<PlSmallStr> = like.get_column_names().into_iter().cloned().collect();
    let mut out = df.select(names)?;
    for (i, f) in like.schema().iter_fields().enumerate() {
        if out.columns()[i].dtype() != f.dtype() {
            let c = out.columns()[i].cast(f.dtype())?;
            out.replace_column(i, c)?;
        }
    }
    Ok(out)
}

/// What step 3 of [`prepare`] computes: open amounts after reckon's
/// applications the snapshot does not show yet.
#[derive(Default)]
struct OpenAmounts {
    reduced: FxHashMap<String, Reduced>,
    /// Decisions' applications the ERP posted: (txn_id, item_id).
    dropped: Vec<(String, String)>,
    /// The automatic applications still outstanding (the run file's rows).
    outstanding: Option<DataFrame>,
}

fn open_amounts(loaded: &Loaded, mem: &Memory) -> Result<OpenAmounts, RunError> {
    // 3. Open amounts after reckon's applications the snapshot does not show:
    // the decisions' (rows of the store), then the automatic ones of earlier
    // runs (the last run's file, read as columns).
    let fail_apps = |e: PolarsError| RunError::StateFile(APPLICATIONS, e.to_string());
    let auto = match &mem.auto_applications {
        Some(f) => Some(applications_frame(&f.parquet).map_err(fail_apps)?),
        None => None,
    };
    let mut out = OpenAmounts::default();
    let reduced = &mut out.reduced;
    if !mem.applications.is_empty() || auto.as_ref().is_some_and(|d| d.height() > 0) {
        let (ids, amounts) = match loaded.tables.get(&Table::ArOpenItems) {
            Some(ar) => {
                let v = reckon_ingest::TableView::new(Table::ArOpenItems, ar);
                let ids = v.strs(reckon_core::col::ar_open_items::ITEM_ID).map_err(crate::inputs::InputsError::from)?;
                let amt =
                    v.minor(reckon_core::col::ar_open_items::AMOUNT_OPEN).map_err(crate::inputs::InputsError::from)?;
                (ids, amt)
            }
            None => (Vec::new(), Vec::new()),
        };
        // Each item's row in the snapshot; the amounts are summed by row, not
        // by a map of item ids (0.6 M applications a run at 1.2 M
        // open items: 1.1 s through two maps of owned ids, most of it waiting
        // on memory).
        let mut row_of: FxHashMap<&str, u32> = FxHashMap::with_capacity_and_hasher(ids.len(), Default::default());
        row_of.extend(ids.iter().zip(&amounts).enumerate().filter_map(|(r, (i, a))| a.map(|_| (*i, r as u32))));
        let mut open: Vec<Option<i64>> = vec![None; ids.len()];
        // Applies one application; false when the ERP posted it (gone from
        // the snapshot, or its open amount fell).
        let mut apply = |item: &str, applied: i64, seen: i64| -> bool {
            let Some(&row) = row_of.get(item) else { return false };
            let row = row as usize;
            let Some(snapshot) = amounts[row].filter(|a| *a >= seen) else { return false };
            let o = open[row].get_or_insert(snapshot);
            *o = o.saturating_sub(applied);
            true
        };
        for a in &mem.applications {
            if !apply(&a.item_id, a.applied_minor, a.open_seen_minor) {
                out.dropped.push((a.txn_id.clone(), a.item_id.clone()));
            }
        }
        if let Some(df) = auto {
            let item = df.column(APPLICATION_COLUMNS[1]).and_then(|c| c.str().cloned()).map_err(fail_apps)?;
            let applied = df.column(APPLICATION_COLUMNS[2]).and_then(|c| c.i64().cloned()).map_err(fail_apps)?;
            let seen = df.column(APPLICATION_COLUMNS[4]).and_then(|c| c.i64().cloned()).map_err(fail_apps)?;
            let mut outstanding = Vec::with_capacity(df.height());
            for (row, ((i, a), s)) in item.iter().zip(applied.iter()).zip(seen.iter()).enumerate() {
                let (Some(i), Some(a), Some(s)) = (i, a, s) else {
                    return Err(RunError::StateFile(
                        APPLICATIONS,
                        format!("row {}: item_id, applied_minor and open_seen_minor must all be present", row + 1),
                    ));
                };
                outstanding.push(apply(i, a, s));
            }
            let outstanding: BooleanChunked = outstanding.into_iter().collect();
            out.outstanding = Some(df.filter(&outstanding).map_err(fail_apps)?);
        }
        let n = open.iter().filter(|o| o.is_some()).count();
        reduced.reserve(n);
        for (row, o) in open.into_iter().enumerate() {
            if let (Some(open), Some(seen)) = (o, amounts[row]) {
                reduced.insert(ids[row].to_string(), Reduced { seen, open });
            }
        }
    }
    Ok(out)
}

/// Changes `loaded` for the memory and returns what the stages need.
pub fn prepare(loaded: &mut Loaded, opened: &mut Opened) -> Result<(Prepared, RunMemory), RunError> {
    let fail = |e: PolarsError| RunError::StateFile(CARRIED, e.to_string());
    let mut p = Prepared::default();
    let t = std::time::Instant::now();
    // 1. Bank entries the chain already settled are refused; open ones loaded
    // again replace their carried copy.
    let bank = loaded.tables.get(&Table::BankTransactions).cloned();
    let ids = match &bank {
        Some(b) => text_col(b, bt::TXN_ID).map_err(fail)?,
        None => Vec::new(),
    };
    let known: Vec<String> = ids.iter().flatten().cloned().collect();
    // The store is asked which of them the chain settled while the open
    // amounts are computed (step 3): neither depends on the other.
    let (settled, amounts) = std::thread::scope(|s| {
        let (store, known) = (&mut opened.store, &known);
        let asked = s.spawn(move || store.settled_among(known));
        let amounts = open_amounts(loaded, &opened.memory);
        (asked.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), amounts)
    });
    let settled = settled?;
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "prepare: settled entries asked, open amounts");
    let t = std::time::Instant::now();
    if let Some(bank) = bank {
        let files = text_col(&bank, "source_file").map_err(fail)?;
        let pos = text_col(&bank, "source_position").map_err(fail)?;
        let mut keep = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            let id = id.as_deref().unwrap_or("");
            match settled.get(id) {
                Some((status, by)) => {
                    keep.push(false);
                    let file = files[i].clone().unwrap_or_default();
                    let row = pos[i].as_deref().and_then(|s| s.rsplit(' ').next()).and_then(|n| n.parse().ok());
                    loaded.rejects.push(Reject {
                        file: file.clone(),
                        row,
                        column: Some("txn_id".into()),
                        value: Some(id.to_string()),
                        code: RejectCode::DuplicateKey,
                        reason: format!(
                            "bank entry {id} was already {status} ({}) in an earlier run of this state store; an entry is settled once across the chain",
                            by.as_deref().unwrap_or("")
                        ),
                        table: Some(Table::BankTransactions.name().to_string()),
                    });
                    if let Some(f) = loaded.files.iter_mut().find(|f| f.path == file) {
                        f.loaded_rows = f.loaded_rows.saturating_sub(1);
                        f.rejected_rows += 1;
                    }
                    p.redelivered += 1;
                }
                None => keep.push(true),
            }
        }
        if p.redelivered > 0 {
            let mask: BooleanChunked = keep.into_iter().collect();
            let kept = bank.filter(&mask).map_err(fail)?;
            loaded.tables.insert(Table::BankTransactions, kept);
        }
    }
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "prepare: settled entries refused");
    let t = std::time::Instant::now();
    // 2. Open entries of earlier runs not loaded again are carried: from the
    // last run's Parquet file, else from their kept row.
    let mem = &mut opened.memory;
    let present: FxHashSet<String> = match loaded.tables.get(&Table::BankTransactions) {
        Some(b) => text_col(b, bt::TXN_ID).map_err(fail)?.into_iter().flatten().collect(),
        None => FxHashSet::default(),
    };
    let like = loaded.tables.get(&Table::BankTransactions).cloned();
    let mut parts = Vec::new();
    let mut digest_input: Vec<u8> = Vec::new();
    let mut bytes = 0u64;
    let mut from_file: FxHashSet<String> = FxHashSet::default();
    if let Some(c) = mem.carried.take() {
        let df = ParquetReader::new(std::io::Cursor::new(&c.parquet)).finish().map_err(fail)?;
        digest_input.extend_from_slice(c.sha256.as_bytes());
        bytes += c.parquet.len() as u64;
        let ids = text_col(&df, bt::TXN_ID).map_err(fail)?;
        let open: Vec<bool> = ids
            .iter()
            .map(|id| id.as_ref().is_some_and(|i| mem.open_entries.contains(i) && !present.contains(i)))
            .collect();
        // Settled by a decision since that run: keep the row for an undo.
        let gone: Vec<bool> = ids.iter().map(|id| id.as_ref().is_some_and(|i| !mem.open_entries.contains(i))).collect();
        if gone.iter().any(|g| *g) {
            let g = df.filter(&gone.into_iter().collect()).map_err(fail)?;
            let gid = text_col(&g, bt::TXN_ID).map_err(fail)?;
            p.kept_rows = gid.into_iter().map(Option::unwrap_or_default).zip(rows_json(&g)).collect();
        }
        from_file.extend(ids.into_iter().flatten());
        let df = df.filter(&open.into_iter().collect()).map_err(fail)?;
        if df.height() > 0 {
            parts.push(align(df, like.as_ref()).map_err(fail)?);
        }
    }
    let kept: Vec<(String, String)> =
        mem.kept_rows.iter().filter(|(id, _)| !present.contains(id) && !from_file.contains(id)).cloned().collect();
    if !kept.is_empty() {
        for (_, j) in &kept {
            digest_input.extend_from_slice(j.as_bytes());
            digest_input.push(b'\n');
            bytes += j.len() as u64 + 1;
        }
        parts.push(frame_of(&kept, like.as_ref()).map_err(fail)?);
    }
    let n: u64 = parts.iter().map(|d| d.height() as u64).sum();
    if n > 0 {
        let digest = reckon_core::id::sha256_hex(&digest_input);
        add_kept(loaded, Table::BankTransactions, parts, CARRIED, digest, bytes).map_err(fail)?;
        p.carried = n;
    }
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "prepare: entries carried");
    let t = std::time::Instant::now();
    // 2b. Advice lines earlier runs left unused join this run's; a line
    // delivered again replaces its kept copy.
    if let Some(f) = opened.memory.advices.take() {
        carry_advices(loaded, &f, &mut p)?;
    }
    let mem = &opened.memory;
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "prepare: advices carried");
    let amounts = amounts?;
    p.applications_dropped.extend(amounts.dropped);
    p.auto_outstanding = amounts.outstanding;
    p.items_reduced = amounts.reduced.len() as u64;
    let reduced = amounts.reduced;
    // 4. Decisions to apply.
    let decided = mem
        .pending
        .iter()
        .map(|d| {
            let x = d.exception_id.as_deref().and_then(|id| mem.exception_by_id(id));
            Decided {
                decision: d.clone(),
                txn_id: x.and_then(|x| x.txn_id()).map(str::to_string),
                kind: x.map(|x| x.kind),
                proposal: x.map(|x| x.items()).unwrap_or_default(),
            }
        })
        .collect();
    Ok((
        p,
        RunMemory {
            decided,
            reduced,
            rejected_pairs: mem.rejected_pairs.iter().cloned().collect(),
            aliases: mem.aliases.clone(),
            permissions: mem.permissions.clone(),
            decided_proposals: mem
                .decided_proposals
                .iter()
                .map(|l| (l.score.model.clone(), l.score.confidence, l.right))
                .collect(),
            auto_groups_kept: opened.auto_groups_kept,
            excepted_entries: mem
                .exceptions
                .values()
                .filter_map(|x| x.subject.strip_prefix("bank_transactions:").map(str::to_string))
                .collect(),
        },
    ))
}

/// The business date of a run: given, else the latest booking date among the
/// bank entries loaded from files (never before the previous run's), else the
/// run's start date.
pub fn as_of(
    given: Option<chrono::NaiveDate>,
    loaded: &Loaded,
    started: chrono::DateTime<chrono::Utc>,
    mem: &Memory,
) -> chrono::NaiveDate {
    if let Some(d) = given {
        return d;
    }
    let previous = mem.last_run.as_ref().and_then(|r| chrono::NaiveDate::parse_from_str(&r.as_of, "%Y-%m-%d").ok());
    // Loaded bank frames always hold both columns (ingestion adds `source_file`).
    let latest = loaded.tables.get(&Table::BankTransactions).and_then(|b| {
        let days = reckon_ingest::TableView::new(Table::BankTransactions, b).day(bt::BOOKING_DATE).ok()?;
        let files = text_col(b, "source_file").ok()?;
        days.into_iter().zip(files).filter(|(_, f)| f.as_deref() != Some(CARRIED)).filter_map(|(d, _)| d).max()
    });
    let latest = latest.and_then(|d| chrono::NaiveDate::from_num_days_from_ce_opt(d + 719_163));
    match (latest, previous) {
        (Some(l), Some(p)) => l.max(p),
        (l, p) => l.or(p).unwrap_or_else(|| started.date_naive()),
    }
}

/// What the stages left for the store.
#[derive(Debug, Default)]
pub struct Learned {
    /// Decisions applied or refused: (id, status, reason).
    pub decisions: Vec<(String, DecisionStatus, Option<String>)>,
    pub applications: Vec<Application>,
    pub aliases: Vec<Alias>,
    pub permissions: Vec<reckon_state::Permission>,
    /// Bank entries settled by a decision (txn → decision id).
    pub settled_by: BTreeMap<String, String>,
    /// How each bank entry settled this run was settled (for resolutions).
    pub how: BTreeMap<String, String>,
    /// The scores of the cash proposals put to people (with the run's id
    /// filled in when the changes are written).
    pub proposals: Vec<reckon_state::models::ProposalScore>,
    /// The cash candidate groups scored and not applied.
    pub candidates: Vec<reckon_state::models::CandidateScore>,
    /// The scores of the duplicate pairs and journals raised as exceptions.
    pub flags: Vec<reckon_state::models::FlagScore>,
    /// Served models' drift against their training reference: (model id, JSON).
    pub drift: Vec<(String, String)>,
    /// Served models' calibration in the field: (model id, JSON).
    pub calibration: Vec<(String, String)>,
    /// Remittance advices a match this run applied used.
    pub advices_used: BTreeSet<String>,
}

impl Learned {
    pub fn extend(&mut self, o: Learned) {
        self.proposals.extend(o.proposals);
        self.candidates.extend(o.candidates);
        self.flags.extend(o.flags);
        self.drift.extend(o.drift);
        self.calibration.extend(o.calibration);
        self.decisions.extend(o.decisions);
        self.applications.extend(o.applications);
        self.aliases.extend(o.aliases);
        self.permissions.extend(o.permissions);
        self.settled_by.extend(o.settled_by);
        self.how.extend(o.how);
        self.advices_used.extend(o.advices_used);
    }
}

/// The lifecycle section of the manifest.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StateSection {
    pub store: String,
    pub schema_version: i64,
    pub as_of: String,
    #[serde(flatten)]
    pub prepared: Prepared,
    /// Decisions received with this run's input (`decisions/`), by outcome.
    pub decisions_received: BTreeMap<String, u64>,
    /// Decisions refused or unreadable, with the reason.
    pub decisions_refused: Vec<String>,
    /// Decisions this run applied.
    pub decisions_applied: u64,
    /// Exceptions by lifecycle state after this run (new, open, reopened) and
    /// resolved by this run or since the last one.
    pub exceptions: BTreeMap<String, u64>,
    /// Dismissed or explained exceptions not raised again.
    pub suppressed: u64,
    /// Remittance advice lines this run leaves for the next (unused).
    pub advices_kept: u64,
    /// Advice lines that named no bank entry of this run and arrived more than
    /// `[state] advice_days` ago: not kept.
    pub advices_expired: u64,
    pub chain: reckon_state::ChainCheck,
}

/// The run's exceptions through the lifecycle, and the store's changes.
#[derive(Debug)]
pub struct Finished {
    pub open: Vec<Exception>,
    pub resolved: Vec<Exception>,
    pub changes: reckon_state::RunChanges,
    pub counts: BTreeMap<String, u64>,
    pub suppressed: u64,
    pub advices_kept: u64,
    pub advices_expired: u64,
}

/// The columns of the loaded GL lines [`facts_of`] reads: all a run keeps of
/// that frame once its lines are the engines' book (see [`crate::run`]).
pub const GL_FACT_COLUMNS: [&str; 3] = [
    reckon_core::col::gl_journal_lines::ENTITY,
    reckon_core::col::gl_journal_lines::JOURNAL_ID,
    reckon_core::col::gl_journal_lines::PREPARER_ID,
];

/// Facts about an exception from the loaded books: a journal's preparers and
/// line count; for AP documents (duplicates), each document's vendor and
/// amount — what makes a dismissal or an explanation lapse when it changes.
/// Only the journals and documents `raised` names are collected (one pass over
/// each table's columns, without copying the others).
pub fn facts_of<'a>(loaded: &'a Loaded, raised: &[Exception]) -> impl Fn(&Exception) -> Facts + Sync + 'a {
    let mut journals: HashSet<String> = HashSet::new();
    let mut documents: HashSet<String> = HashSet::new();
    for e in raised {
        for r in &e.records {
            if let Some(k) = r.strip_prefix("gl_journal_lines:") {
                journals.insert(k.to_string());
            } else if let Some(d) = r.strip_prefix("ap_invoices:") {
                documents.insert(d.to_string());
            }
        }
    }
    let strs = |df: &DataFrame, c: &str| df.column(c).ok().and_then(|c| c.str().ok().cloned());
    let mut by_journal: HashMap<String, (BTreeSet<String>, u64)> = HashMap::new();
    if let Some(gl) = loaded.tables.get(&Table::GlJournalLines).filter(|_| !journals.is_empty())
        && let [entity, journal_id, preparer_id] = GL_FACT_COLUMNS
        && let (Some(ent), Some(jid)) = (strs(gl, entity), strs(gl, journal_id))
    {
        let ids: HashSet<&str> = journals.iter().filter_map(|k| k.split_once('/').map(|(_, j)| j)).collect();
        let prep = strs(gl, preparer_id);
        for (i, (e, j)) in ent.iter().zip(jid.iter()).enumerate() {
            let Some(j) = j.filter(|j| ids.contains(j)) else { continue };
            let key = format!("{}/{j}", e.unwrap_or(""));
            if !journals.contains(&key) {
                continue;
            }
            let f = by_journal.entry(key).or_default();
            if let Some(p) = prep.as_ref().and_then(|p| p.get(i)) {
                f.0.insert(p.to_string());
            }
            f.1 += 1;
        }
    }
    let mut docs: HashMap<String, String> = HashMap::new();
    if let Some(ap) = loaded.tables.get(&Table::ApInvoices).filter(|_| !documents.is_empty())
        && let Some(id) = strs(ap, "doc_id")
    {
        let (vendor, cur) = (strs(ap, "vendor_id"), strs(ap, "currency"));
        let amount = ap.column("amount").ok().and_then(|c| c.i64().ok().cloned());
        for (i, d) in id.iter().enumerate() {
            let Some(d) = d.filter(|d| documents.contains(*d)) else { continue };
            let v = format!(
                "{}:{}:{}",
                vendor.as_ref().and_then(|c| c.get(i)).unwrap_or(""),
                amount.as_ref().and_then(|c| c.get(i)).unwrap_or(0),
                cur.as_ref().and_then(|c| c.get(i)).unwrap_or("")
            );
            docs.insert(d.to_string(), v);
        }
    }
    move |e: &Exception| {
        let subject = e.records.first().map_or("", String::as_str);
        if let Some((p, n)) = subject.strip_prefix("gl_journal_lines:").and_then(|k| by_journal.get(k)) {
            return Facts { preparers: p.iter().cloned().collect(), material: format!("lines={n}") };
        }
        let ap: Vec<&str> = e
            .records
            .iter()
            .filter_map(|r| r.strip_prefix("ap_invoices:"))
            .map(|d| docs.get(d).map_or("?", String::as_str))
            .collect();
        if ap.is_empty() { Facts::default() } else { Facts { preparers: Vec::new(), material: ap.join("|") } }
    }
}

/// The bank side of a run ([`begin_bank`]).
#[derive(Debug, Default)]
pub struct BankSide {
    /// The changes, when they were left for [`finish`] to write (no other
    /// stage was running any more).
    pub unwritten: Option<reckon_state::BankChanges>,
    /// Remittance advice lines left for the next run.
    pub advices_kept: u64,
    /// Advice lines that named no bank entry of this run and arrived more than
    /// `[state] advice_days` ago: not kept.
    pub advices_expired: u64,
}

/// Starts the run's transaction and computes its bank side — the bank entries
/// new to the chain or settled by this run, the rows kept of those a decision
/// settled, the rows left open (the carried file), the advices kept and the
/// automatic applications outstanding. These depend only on the stages that
/// settle bank entries (`bank`, their outputs), so the run calls this as soon
/// as they are done ([`crate::stage::run_all`]). While other stages still run
/// (`others_running`) it writes them at once; otherwise [`finish`] writes them
/// while it reconciles the lifecycle.
#[allow(clippy::too_many_arguments)]
pub fn begin_bank<'s>(
    store: &'s mut Store,
    memory: &Memory,
    loaded: &Loaded,
    bank: &[&crate::stage::StageOutput],
    prepared: &Prepared,
    run: &reckon_state::NewRun,
    as_of: chrono::NaiveDate,
    advice_days: u32,
    others_running: bool,
) -> Result<(reckon_state::PendingRun<'s>, BankSide), RunError> {
    let matched: HashSet<&str> = bank.iter().flat_map(|o| o.settled.bank_cleared.iter().map(String::as_str)).collect();
    let learned: Vec<&Learned> = bank.iter().map(|o| &o.learned).collect();
    let run_id = run.run_id.as_str();
    // The advices' and the applications' files beside the entries.
    let (changes, side) = std::thread::scope(|scope| -> Result<_, RunError> {
        let files = scope.spawn(|| -> Result<_, RunError> {
            let t = std::time::Instant::now();
            let used = |rid: &str| learned.iter().any(|l| l.advices_used.contains(rid));
            let advices = keep_advices(loaded, &matched, &used, prepared, as_of, advice_days, run_id)?;
            tracing::debug!(ms = t.elapsed().as_millis() as u64, kept = advices.1, expired = advices.2, "advices kept");
            // Automatic applications outstanding: earlier ones the snapshot does
            // not show yet, and this run's; a decision's stay rows of their own.
            let t = std::time::Instant::now();
            let auto: Vec<&Application> =
                learned.iter().flat_map(|l| l.applications.iter()).filter(|a| a.decision_id.is_none()).collect();
            let applications = applications_file(run_id, prepared.auto_outstanding.as_ref(), &auto)
                .map_err(|e| RunError::Write(APPLICATIONS.into(), e.to_string()))?;
            tracing::debug!(ms = t.elapsed().as_millis() as u64, rows = applications.rows, "applications file");
            Ok((advices, applications))
        });
        let (entries, kept_rows, carried) = bank_entries(memory, loaded, &matched, &learned, prepared, run_id)?;
        let ((advices, advices_kept, advices_expired), applications) =
            files.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        let changes =
            reckon_state::BankChanges { entries, kept_rows, carried, auto_applications: Some(applications), advices };
        Ok((changes, (advices_kept, advices_expired)))
    })?;
    let mut pending = store.start_run(run.clone())?;
    let unwritten = if others_running {
        pending.write_bank(&changes)?;
        None
    } else {
        Some(changes)
    };
    Ok((pending, BankSide { unwritten, advices_kept: side.0, advices_expired: side.1 }))
}

/// Bank entries new to the chain, and those this run settled (an open entry
/// that stays open is as the store has it); the rows kept of entries a
/// decision settled; the rows left open, for the next run.
#[allow(clippy::type_complexity)]
fn bank_entries(
    memory: &Memory,
    loaded: &Loaded,
    matched: &HashSet<&str>,
    learned: &[&Learned],
    prepared: &Prepared,
    run_id: &str,
) -> Result<(Vec<EntryChange>, Vec<(String, String)>, Option<reckon_state::RunFile>), RunError> {
    let t = std::time::Instant::now();
    let mut entries = Vec::new();
    let mut kept_rows = prepared.kept_rows.clone();
    let Some(b) = loaded.tables.get(&Table::BankTransactions) else { return Ok((entries, kept_rows, None)) };
    let fail = |e: PolarsError| RunError::Write(CARRIED.into(), e.to_string());
    // Borrowed from the frame: an owned id and currency only for the
    // entries that change.
    let str_col = |c: &str| b.column(c).and_then(|c| c.str().cloned()).map_err(fail);
    let (ids, cur) = (str_col(bt::TXN_ID)?, str_col(bt::CURRENCY)?);
    let amt = reckon_ingest::TableView::new(Table::BankTransactions, b)
        .minor(bt::AMOUNT)
        .map_err(crate::inputs::InputsError::from)?;
    let mut open_mask = Vec::with_capacity(b.height());
    let mut by_decision = Vec::with_capacity(b.height());
    entries.reserve(b.height());
    for ((id, currency), amount) in ids.iter().zip(cur.iter()).zip(amt) {
        let Some(id) = id else {
            open_mask.push(false);
            by_decision.push(false);
            continue;
        };
        let status = if matched.contains(id) { EntryStatus::Matched } else { EntryStatus::Open };
        open_mask.push(status == EntryStatus::Open);
        let decided = learned.iter().find_map(|l| l.settled_by.get(id));
        by_decision.push(status == EntryStatus::Matched && decided.is_some());
        if status == EntryStatus::Open && memory.open_entries.contains(id) {
            continue;
        }
        let settled_by = match status {
            EntryStatus::Matched => Some(decided.cloned().unwrap_or_else(|| "auto".into())),
            _ => None,
        };
        entries.push(EntryChange {
            txn_id: id.to_string(),
            amount_minor: amount.unwrap_or(0),
            currency: currency.unwrap_or_default().to_string(),
            status,
            settled_by,
        });
    }
    // Entries a decision settled keep their row (an undo carries them again).
    if by_decision.iter().any(|d| *d) {
        let d = b.filter(&by_decision.into_iter().collect()).map_err(fail)?;
        let did = text_col(&d, bt::TXN_ID).map_err(fail)?;
        kept_rows.extend(did.into_iter().map(Option::unwrap_or_default).zip(rows_json(&d)));
    }
    // The rows left open, for the next run.
    let cols = contract_columns(Table::BankTransactions, b);
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "bank side: entries");
    let t = std::time::Instant::now();
    let mut open = b.filter(&open_mask.into_iter().collect()).and_then(|d| d.select(cols)).map_err(fail)?;
    let carried = run_file(run_id, &mut open).map_err(fail)?;
    tracing::debug!(ms = t.elapsed().as_millis() as u64, rows = open.height(), "bank side: carried file");
    Ok((entries, kept_rows, Some(carried)))
}

/// Computes the lifecycle of this run's exceptions and the rest of what the
/// store keeps of the run: changed exceptions and their events, decisions,
/// learned names, scores. The bank side comes from [`begin_bank`]; when it
/// was left unwritten there, it is written here while the lifecycle is
/// reconciled.
#[allow(clippy::too_many_arguments)]
pub fn finish(
    held: &mut Held<'_>,
    pending: &mut reckon_state::PendingRun<'_>,
    loaded: &Loaded,
    raised: Vec<Exception>,
    learned: Learned,
    prepared: &Prepared,
    bank: BankSide,
    run: reckon_state::NewRun,
    at: &str,
    as_of: chrono::NaiveDate,
) -> Result<Finished, RunError> {
    let t = std::time::Instant::now();
    let facts = facts_of(loaded, &raised);
    // Resolved exceptions raised again, and payloads of those to announce.
    let memory = &mut *held.memory;
    let unknown = lifecycle::keys_unknown(memory, &raised);
    for r in pending.exceptions_among(&unknown)? {
        memory.keys_by_id.insert(r.exception_id.clone(), r.problem_key.clone());
        memory.exceptions.insert(r.problem_key.clone(), r);
    }
    let needed = lifecycle::payloads_needed(memory, &raised);
    let payloads = pending.payloads(&needed)?;
    let run_id = run.run_id.clone();
    let cx = lifecycle::Context { run_id: &run_id, as_of, at, sla: held.sla, settled: &learned.how };
    tracing::debug!(
        ms = t.elapsed().as_millis() as u64,
        keys = unknown.len(),
        payloads = needed.len(),
        "lifecycle: looked up"
    );
    // The bank side, if it is left to write, is written while the lifecycle is reconciled.
    let t = std::time::Instant::now();
    let (out, written) = std::thread::scope(|scope| {
        let (memory, facts, payloads, cx) = (&*memory, &facts, &payloads, &cx);
        let reconciled = scope.spawn(move || lifecycle::reconcile(memory, raised, facts, payloads, cx));
        let written = bank.unwritten.as_ref().map(|ch| pending.write_bank(ch)).transpose();
        (reconciled.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), written)
    });
    written?;
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "lifecycle: reconciled");
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for e in &out.open {
        if let Some(l) = &e.lifecycle {
            *counts.entry(l.state.as_str().to_string()).or_insert(0) += 1;
        }
    }
    counts.insert("resolved".into(), out.resolved.len() as u64);
    let decided: Vec<Application> = learned.applications.into_iter().filter(|a| a.decision_id.is_some()).collect();
    let changes = reckon_state::RunChanges {
        run,
        bank: reckon_state::BankChanges::default(),
        applications_added: decided,
        applications_dropped: prepared.applications_dropped.clone(),
        exceptions: out.records,
        events: out.events,
        decisions: learned.decisions,
        aliases: learned.aliases,
        permissions: learned.permissions,
        lapsed: out.lapsed,
        proposals: learned.proposals,
        candidates: learned.candidates,
        flags: learned.flags,
        drift: learned.drift,
        calibration: learned.calibration,
    };
    Ok(Finished {
        open: out.open,
        resolved: out.resolved,
        changes,
        counts,
        suppressed: out.suppressed.len() as u64,
        advices_kept: bank.advices_kept,
        advices_expired: bank.advices_expired,
    })
}

/// The remittance advice lines this run leaves for the next: every loaded line
/// (this run's files and those kept before) that no applied match used and
/// whose bank entry was not settled; of the lines that name no bank entry of
/// this run, those that first arrived at most `advice_days` before `as_of`.
/// Returns the file (`None` without remittances), the lines kept and the
/// lines expired.
fn keep_advices(
    loaded: &Loaded,
    matched: &HashSet<&str>,
    used: &dyn Fn(&str) -> bool,
    prepared: &Prepared,
    as_of: chrono::NaiveDate,
    advice_days: u32,
    run_id: &str,
) -> Result<(Option<reckon_state::RunFile>, u64, u64), RunError> {
    use reckon_core::col::remittances as rm;
    let Some(r) = loaded.tables.get(&Table::Remittances) else { return Ok((None, 0, 0)) };
    let fail = |e: PolarsError| RunError::Write(ADVICES.into(), e.to_string());
    let str_col = |df: &DataFrame, c: &str| -> Result<StringChunked, RunError> {
        df.column(c).and_then(|c| c.str().cloned()).map_err(fail)
    };
    let v = reckon_ingest::TableView::new(Table::Remittances, r);
    let rid = v.text(rm::REMITTANCE_ID).map_err(crate::inputs::InputsError::from)?;
    let pref = v.text(rm::PAYMENT_REF).map_err(crate::inputs::InputsError::from)?;
    // Of the references the advices name, those of a bank entry of this run,
    // settled or open.
    let named: HashSet<&str> = pref.iter().map(String::as_str).filter(|x| !x.is_empty()).collect();
    let (mut settled, mut open): (HashSet<&str>, HashSet<&str>) = (HashSet::new(), HashSet::new());
    let bank = match loaded.tables.get(&Table::BankTransactions) {
        Some(b) => Some((str_col(b, bt::TXN_ID)?, str_col(b, bt::END_TO_END_ID)?, str_col(b, bt::REFERENCE)?)),
        None => None,
    };
    if let Some((ids, e2e, refs)) = &bank {
        for ((id, e), f) in ids.iter().zip(e2e.iter()).zip(refs.iter()) {
            for x in [e, f].into_iter().flatten().filter(|x| named.contains(x)) {
                if id.is_some_and(|i| matched.contains(i)) {
                    settled.insert(x);
                } else {
                    open.insert(x);
                }
            }
        }
    }
    let files = text_col(r, "source_file").map_err(fail)?;
    let pos = text_col(r, "source_position").map_err(fail)?;
    let today = as_of.format("%Y-%m-%d").to_string();
    let oldest = (as_of - chrono::Days::new(u64::from(advice_days))).format("%Y-%m-%d").to_string();
    let (mut keep, mut first_seen, mut expired) = (Vec::with_capacity(r.height()), Vec::new(), 0u64);
    for i in 0..r.height() {
        let since = kept_advice_first_seen(prepared, files[i].as_deref(), pos[i].as_deref())
            .map_or_else(|| today.clone(), str::to_string);
        let r = pref[i].as_str();
        let k = if used(&rid[i]) || (!r.is_empty() && settled.contains(r)) {
            false
        } else if !r.is_empty() && open.contains(r) {
            true
        } else if since < oldest {
            expired += 1;
            false
        } else {
            true
        };
        if k {
            first_seen.push(since);
        }
        keep.push(k);
    }
    let cols = contract_columns(Table::Remittances, r);
    let mut df = r.filter(&keep.into_iter().collect()).and_then(|d| d.select(cols)).map_err(fail)?;
    let n = df.height() as u64;
    df.with_column(Column::new(FIRST_SEEN.into(), first_seen)).map_err(fail)?;
    Ok((Some(run_file(run_id, &mut df).map_err(fail)?), n, expired))
}

/// The models the store at `path` serves (`reckon models challenge|promote`):
/// the cash champion replaces `cash.model`, the challenger
/// `matching.challenger`; the duplicate and journal champions replace
/// `duplicates.model` and `journals.model` (their challengers are judged on
/// the features the runs keep of every flag, not scored in the run). A
/// registered folder whose model no longer has the registered hash is refused
/// (it was replaced after it was registered).
pub fn serve_registered(path: &Path, config: &mut crate::Config) -> Result<(), RunError> {
    use reckon_state::models::{ENGINE_ANOMALY, ENGINE_DEDUP, ENGINE_MATCH, ModelAlias};
    let aliases = reckon_state::Store::open(path)?.model_aliases()?;
    for a in &aliases {
        let target = match (a.engine.as_str(), a.alias) {
            (ENGINE_MATCH, ModelAlias::Champion) => &mut config.cash.model,
            (ENGINE_MATCH, ModelAlias::Challenger) => &mut config.cash.challenger,
            (ENGINE_DEDUP, ModelAlias::Champion) => &mut config.duplicates.model,
            (ENGINE_ANOMALY, ModelAlias::Champion) => &mut config.journals.model,
            _ => continue,
        };
        let dir =
            crate::model::find("state model registry", &a.model.model, "reckon models list --state shows the registry")
                .map_err(|e| RunError::Model(e.to_string()))?;
        let m = reckon_onnx::Model::load(&dir).map_err(|e| RunError::Model(e.to_string()))?;
        if m.config.model_sha256 != a.model.model_sha256 {
            return Err(RunError::Model(format!(
                "{}: the {} {} registered in the state store has model.onnx sha256 {}, the folder now holds {}; register it again (reckon models challenge) or restore the folder",
                dir.display(),
                a.engine,
                a.alias,
                a.model.model_sha256,
                m.config.model_sha256
            )));
        }
        *target = a.model.model.clone();
    }
    Ok(())
}
