//! Loading one input file into a contract table: decode, scan, map, validate.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::Path;

use polars::prelude::*;
use rayon::prelude::*;
use reckon_core::date::parse_iso_date;
use reckon_core::{ColumnType, Currency, Reject, RejectCode, Table, parse_minor};

use crate::config::DateRange;
use crate::csv::{ScanError, Values, scan};
use crate::mapping::{Encoding, Mapping, Source, TemplatePart};

/// What happened to one input file; the manifest lists these.
#[derive(Clone, Debug, Default, serde::Serialize, PartialEq, Eq)]
pub struct FileReport {
    /// Path relative to the input folder.
    pub path: String,
    pub table: Option<String>,
    pub format: String,
    /// Mapping file used, relative to the input folder (none for contract-shaped files).
    pub mapping: Option<String>,
    pub sha256: String,
    pub bytes: u64,
    /// Data records in the file (blank lines not counted).
    pub input_rows: u64,
    pub blank_lines: u64,
    pub loaded_rows: u64,
    pub rejected_rows: u64,
    /// Why the whole file was refused, if it was.
    pub refused: Option<String>,
    /// For bank/remittance files: the format detected from the content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detected_format: Option<String>,
    /// For bank/remittance files: statements (or advices) in the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statements: Option<u64>,
    /// For bank/remittance files: every statement-level control and its outcome.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<ControlReport>,
}

/// A statement or file control (balance tie-out, control totals) and its outcome.
#[derive(Clone, Debug, Default, serde::Serialize, PartialEq, Eq)]
pub struct ControlReport {
    pub scope: String,
    pub check: String,
    pub ok: bool,
    pub detail: String,
}

/// One file, loaded: typed rows in contract columns plus `source_file`/`source_position`.
#[derive(Debug)]
pub struct LoadedFile {
    pub report: FileReport,
    pub df: Option<DataFrame>,
    pub rejects: Vec<Reject>,
}

/// Time spent in each phase of loading a file, for the debug log.
struct Phases {
    last: std::time::Instant,
    laps: Vec<(&'static str, u128)>,
}

impl Phases {
    fn start() -> Phases {
        Phases { last: std::time::Instant::now(), laps: Vec::new() }
    }

    fn lap(&mut self, phase: &'static str) {
        let now = std::time::Instant::now();
        self.laps.push((phase, (now - self.last).as_millis()));
        self.last = now;
    }
}

impl std::fmt::Display for Phases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (phase, ms)) in self.laps.iter().enumerate() {
            write!(f, "{}{phase} {ms} ms", if i == 0 { "" } else { ", " })?;
        }
        Ok(())
    }
}

/// Raw text of a file in source columns, with the position of each record.
struct Raw {
    text: Text,
    /// Line (text) or record (Parquet) number of each row, for rejects.
    positions: Vec<u64>,
    /// `source_position` of each row.
    labels: Labels,
    /// Problems found before mapping (encoding, ragged rows), per record.
    pre: Vec<Option<(RejectCode, String)>>,
    blank_lines: u64,
}

/// A file's text in its source columns.
enum Text {
    /// As the CSV scanner left it: one buffer of values per column.
    Scanned { names: Vec<String>, columns: Vec<Values> },
    /// String columns (Parquet, statement formats).
    Frame(DataFrame),
}

impl Text {
    fn names(&self) -> Vec<&str> {
        match self {
            Text::Scanned { names, .. } => names.iter().map(String::as_str).collect(),
            Text::Frame(df) => df.get_column_names().into_iter().map(|s| s.as_str()).collect(),
        }
    }

    /// The text as a frame of string columns, for mappings that need polars
    /// expressions (templates).
    fn frame(&self, height: usize) -> PolarsResult<DataFrame> {
        match self {
            Text::Frame(df) => Ok(df.clone()),
            Text::Scanned { names, columns } => {
                let cols: Vec<Column> = names
                    .par_iter()
                    .zip(columns.par_iter())
                    .map(|(name, values)| {
                        let mut b = StringChunkedBuilder::new(name.as_str().into(), values.len());
                        for v in values.iter() {
                            b.append_value(v);
                        }
                        b.finish().into_column()
                    })
                    .collect();
                DataFrame::new(height, cols)
            }
        }
    }
}

/// One contract column's text before it is checked.
enum Mapped<'a> {
    /// A source column as scanned.
    Values(&'a Values),
    /// A column computed by the mapping's polars expressions.
    Strings(StringChunked),
    /// A typed date column (Parquet `Date`): days since 1970-01-01.
    Days(Int32Chunked),
    /// A typed timestamp column (Parquet `Timestamp` without a time zone): µs since 1970.
    Micros(Int64Chunked),
    /// A constant.
    Constant(String),
    /// Not in the file (an optional contract column).
    Absent,
}

impl Mapped<'_> {
    /// Rows `start..start + n`, trimmed ("" for null or absent).
    fn text(&self, start: usize, n: usize) -> Vec<Cow<'_, str>> {
        match self {
            Mapped::Values(v) => v.range(start, n).map(|t| Cow::Borrowed(trim(t))).collect(),
            Mapped::Strings(ca) => {
                // One array: the column is made contiguous when it is mapped.
                let arr = ca.downcast_iter().next();
                (start..start + n)
                    .map(|i| match arr {
                        Some(a) if i < a.len() => Cow::Borrowed(trim(a.get(i).unwrap_or(""))),
                        _ => Cow::Borrowed(""),
                    })
                    .collect()
            }
            Mapped::Days(ca) => {
                (start..start + n).map(|i| ca.get(i).map_or(Cow::Borrowed(""), |d| Cow::Owned(day_text(d)))).collect()
            }
            Mapped::Micros(ca) => (start..start + n)
                .map(|i| ca.get(i).map_or(Cow::Borrowed(""), |us| Cow::Owned(micros_text(us))))
                .collect(),
            Mapped::Constant(c) => vec![Cow::Borrowed(c.trim()); n],
            Mapped::Absent => vec![Cow::Borrowed(""); n],
        }
    }
}

/// A day as the contract writes it (`%Y-%m-%d`).
fn day_text(d: i32) -> String {
    chrono::NaiveDate::from_num_days_from_ce_opt(d.saturating_add(719_163))
        .map_or_else(|| format!("day {d}"), |d| d.format("%Y-%m-%d").to_string())
}

/// How a typed timestamp is written as text (RFC 3339, UTC).
const TIMESTAMP_TEXT: &str = "%Y-%m-%dT%H:%M:%S%.fZ";

/// A timestamp as the contract writes it (RFC 3339, UTC).
fn micros_text(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map_or_else(|| format!("{us} µs"), |t| t.format(TIMESTAMP_TEXT).to_string())
}

/// `v` without leading and trailing whitespace ([`str::trim`]; most values
/// start and end with a visible ASCII character and are returned at once).
fn trim(v: &str) -> &str {
    match (v.as_bytes().first(), v.as_bytes().last()) {
        (Some(a), Some(b)) if a.is_ascii_graphic() && b.is_ascii_graphic() => v,
        _ => v.trim(),
    }
}

/// How a row's `source_position` is written: built per chunk of rows as the
/// rows are validated, not kept as one string per row beforehand.
enum Labels {
    /// `line N`, N the row's position (text files).
    Lines,
    /// `record N`, N counted from 1 (Parquet).
    Records,
    /// Given per row (bank statement formats: line and place in the statement).
    Given(Vec<String>),
}

impl Labels {
    /// The labels of rows `start..start + len` as a string column.
    fn column(&self, start: usize, len: usize, positions: &[u64]) -> Column {
        use std::fmt::Write;
        let mut b = StringChunkedBuilder::new("source_position".into(), len);
        let mut buf = String::new();
        for i in start..start + len {
            buf.clear();
            match self {
                Labels::Lines => {
                    let _ = write!(buf, "line {}", positions[i]);
                }
                Labels::Records => {
                    let _ = write!(buf, "record {}", i + 1);
                }
                Labels::Given(v) => buf.push_str(&v[i]),
            }
            b.append_value(&buf);
        }
        b.finish().into_column()
    }
}

/// The whole file refused: one reject row naming it; every data row it had counts as rejected.
fn refuse(mut report: FileReport, reason: String) -> LoadedFile {
    report.refused = Some(reason.clone());
    report.rejected_rows = report.input_rows;
    let rej = Reject {
        file: report.path.clone(),
        row: None,
        column: None,
        value: None,
        code: RejectCode::FileRefused,
        reason,
        table: report.table.clone(),
    };
    LoadedFile { report, df: None, rejects: vec![rej] }
}

/// Loads `path` (named `rel` in reports) as the mapping's table.
pub fn load_file(path: &Path, rel: &str, mapping: &Mapping, mapping_name: Option<&str>) -> LoadedFile {
    load_file_with(path, rel, mapping, mapping_name, &DateRange::default())
}

/// [`load_file`] with the run's accepted dates.
pub fn load_file_with(
    path: &Path,
    rel: &str,
    mapping: &Mapping,
    mapping_name: Option<&str>,
    dates: &DateRange,
) -> LoadedFile {
    load_file_chunked(path, rel, mapping, mapping_name, dates, VALIDATE_CHUNK)
}

/// [`load_file_with`], validating `chunk` rows per task.
fn load_file_chunked(
    path: &Path,
    rel: &str,
    mapping: &Mapping,
    mapping_name: Option<&str>,
    dates: &DateRange,
    chunk: usize,
) -> LoadedFile {
    let table = mapping.table;
    let mut report = FileReport {
        path: rel.to_string(),
        table: Some(table.name().to_string()),
        mapping: mapping_name.map(str::to_string),
        ..FileReport::default()
    };
    let mut clock = Phases::start();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return refuse(report, format!("cannot read file: {e}")),
    };
    clock.lap("read");
    report.bytes = bytes.len() as u64;
    let is_parquet = bytes.starts_with(b"PAR1") || path.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    report.format = if is_parquet { "parquet" } else { "csv" }.to_string();
    // The file's sha256 beside the scan (a core the scan leaves idle while it
    // waits for its pieces is used for it).
    let (sha256, raw) = std::thread::scope(|s| {
        let sha = s.spawn(|| reckon_core::id::sha256_hex(&bytes));
        let raw = if is_parquet { read_parquet(path, mapping) } else { read_csv(&bytes, mapping) };
        (sha.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), raw)
    });
    report.sha256 = sha256;
    // The scanner copied what it needs: the file's bytes go before the checks.
    drop(bytes);
    let raw = match raw {
        Ok(r) => r,
        Err(reason) => return refuse(report, reason),
    };
    clock.lap("sha256 and scan");
    report.input_rows = raw.positions.len() as u64;
    report.blank_lines = raw.blank_lines;
    // Every source column the mapping reads must exist.
    let have: HashSet<&str> = raw.text.names().into_iter().collect();
    let mut missing: Vec<&str> = mapping.source_columns().into_iter().filter(|c| !have.contains(c)).collect();
    missing.dedup();
    // For contract-shaped files, optional columns may be absent.
    let is_contract = mapping_name.is_none();
    if is_contract {
        let spec = table.spec();
        missing.retain(|c| spec.column(c).is_some_and(|s| s.required));
    }
    if !missing.is_empty() {
        let mut cols: Vec<&str> = have.into_iter().collect();
        cols.sort_unstable();
        return refuse(
            report,
            format!(
                "required column(s) {} missing (the file has: {})",
                missing.iter().map(|m| format!("'{m}'")).collect::<Vec<_>>().join(", "),
                cols.join(", ")
            ),
        );
    }
    match map_and_validate(raw, rel, mapping, is_contract, dates, chunk, &mut clock) {
        Ok((df, rejects, rejected_rows)) => {
            tracing::debug!(file = rel, bytes = report.bytes, phases = %clock, "load phases");
            report.loaded_rows = df.height() as u64;
            report.rejected_rows = rejected_rows;
            LoadedFile { report, df: Some(df), rejects }
        }
        Err(e) => refuse(report, format!("internal error while loading: {e}")),
    }
}

/// Loads a bank statement or remittance file (camt, MT940/942, BAI2, X12 820): the
/// format and target table are detected from the content.
pub fn load_statement_file(path: &Path, rel: &str, dates: &DateRange) -> LoadedFile {
    let mut report = FileReport { path: rel.to_string(), ..FileReport::default() };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return refuse(report, format!("cannot read file: {e}")),
    };
    report.bytes = bytes.len() as u64;
    report.sha256 = reckon_core::id::sha256_hex(&bytes);
    let format = reckon_formats::detect(&bytes);
    report.format = format.name().to_string();
    report.detected_format = Some(format.name().to_string());
    let parsed = match reckon_formats::parse(&bytes) {
        Ok(p) => p,
        Err(e @ reckon_formats::FormatError::Unknown(_)) => return refuse(report, e.to_string()),
        Err(e) => return refuse(report, format!("{} file refused: {e}", format.name())),
    };
    let table = match parsed.target {
        reckon_formats::Target::BankTransactions => Table::BankTransactions,
        reckon_formats::Target::Remittances => Table::Remittances,
    };
    report.table = Some(table.name().to_string());
    report.statements = Some(parsed.statements as u64);
    report.controls = parsed
        .controls
        .iter()
        .map(|c| ControlReport { scope: c.scope.clone(), check: c.check.clone(), ok: c.ok, detail: c.detail.clone() })
        .collect();
    let n = parsed.rows.len();
    let mut cols = Vec::new();
    for c in table.spec().columns {
        let vals: Vec<String> = parsed
            .rows
            .iter()
            .map(|r| match r.get(c.name) {
                // Formats without an entry reference get file + position as id.
                Some(v) if c.name == "txn_id" && v.starts_with('@') => format!("{rel}{v}"),
                Some(v) => v.to_string(),
                None => String::new(),
            })
            .collect();
        cols.push(Column::new(c.name.into(), vals));
    }
    let df = match DataFrame::new(n, cols) {
        Ok(d) => d,
        Err(e) => return refuse(report, format!("internal error: {e}")),
    };
    let raw = Raw {
        text: Text::Frame(df),
        positions: parsed.rows.iter().map(|r| r.line).collect(),
        labels: Labels::Given(parsed.rows.iter().map(|r| format!("line {}: {}", r.line, r.position())).collect()),
        pre: parsed
            .rows
            .iter()
            .map(|r| {
                r.reject.as_ref().map(|why| {
                    let code = if r.control_failure { RejectCode::ControlTotal } else { RejectCode::BadRecord };
                    (code, format!("{}: {why}", r.position()))
                })
            })
            .collect(),
        blank_lines: 0,
    };
    report.input_rows = n as u64;
    match map_and_validate(raw, rel, &Mapping::contract(table), true, dates, VALIDATE_CHUNK, &mut Phases::start()) {
        Ok((df, rejects, rejected_rows)) => {
            report.loaded_rows = df.height() as u64;
            report.rejected_rows = rejected_rows;
            LoadedFile { report, df: Some(df), rejects }
        }
        Err(e) => refuse(report, format!("internal error while loading: {e}")),
    }
}

/// UTF-16, with a byte order mark or (text being mostly ASCII) without one:
/// every other byte of the first KiB is zero. Returns the encoding and the
/// length of its BOM.
fn utf16(bytes: &[u8]) -> Option<(&'static encoding_rs::Encoding, usize)> {
    if bytes.starts_with(&[0xFF, 0xFE]) {
        return Some((encoding_rs::UTF_16LE, 2));
    }
    if bytes.starts_with(&[0xFE, 0xFF]) {
        return Some((encoding_rs::UTF_16BE, 2));
    }
    let head = &bytes[..bytes.len().min(1024) & !1];
    if head.len() < 4 {
        return None;
    }
    let pairs = head.len() / 2;
    let zero_even = head.iter().step_by(2).filter(|b| **b == 0).count();
    let zero_odd = head.iter().skip(1).step_by(2).filter(|b| **b == 0).count();
    if zero_odd * 10 >= pairs * 9 && zero_even * 10 <= pairs {
        Some((encoding_rs::UTF_16LE, 0))
    } else if zero_even * 10 >= pairs * 9 && zero_odd * 10 <= pairs {
        Some((encoding_rs::UTF_16BE, 0))
    } else {
        None
    }
}

fn read_csv(bytes: &[u8], mapping: &Mapping) -> Result<Raw, String> {
    // UTF-16 (Excel's "Unicode text" export) is decoded, with or without its BOM.
    let utf16_text;
    let bytes = match utf16(bytes) {
        Some((enc, bom)) => {
            let (text, had_errors) = enc.decode_without_bom_handling(&bytes[bom..]);
            if had_errors {
                return Err(format!("file looks like {} but is not valid in it", enc.name()));
            }
            utf16_text = text.into_owned();
            utf16_text.as_bytes()
        }
        None => bytes,
    };
    let body = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    let decoded: std::borrow::Cow<'_, [u8]> = match mapping.encoding {
        Encoding::Utf8 => body.into(),
        Encoding::Windows1252 => {
            let (s, _, _) = encoding_rs::WINDOWS_1252.decode(body);
            s.into_owned().into_bytes().into()
        }
        Encoding::Iso8859_15 => {
            let (s, _, _) = encoding_rs::ISO_8859_15.decode(body);
            s.into_owned().into_bytes().into()
        }
    };
    let scanned = scan(&decoded, mapping.delimiter, b'"').map_err(|e| match e {
        ScanError::HeaderEncoding => format!("{e}"),
        other => format!("not a usable CSV file: {other}"),
    })?;
    let ncol = scanned.header.len();
    let pre = scanned
        .records
        .iter()
        .map(|r| {
            if r.unterminated {
                Some((
                    RejectCode::RaggedRow,
                    "a quote opened on this line never closes (unterminated quote); the lines after it are read on their own"
                        .to_string(),
                ))
            } else if r.nul {
                Some((RejectCode::BadEncoding, "row holds a NUL byte (binary data, not text)".to_string()))
            } else if r.bad_utf8 {
                Some((
                    RejectCode::BadEncoding,
                    "row is not valid UTF-8 (a Latin-1/Windows-1252 export? declare encoding in a mapping)".to_string(),
                ))
            } else if r.fields != ncol {
                Some((
                    RejectCode::RaggedRow,
                    format!("row has {} fields, the header has {ncol} (truncated or shifted line)", r.fields),
                ))
            } else {
                None
            }
        })
        .collect();
    Ok(Raw {
        positions: scanned.records.iter().map(|r| r.line).collect(),
        text: Text::Scanned { names: scanned.header, columns: scanned.columns },
        labels: Labels::Lines,
        pre,
        blank_lines: scanned.blank_lines,
    })
}

fn read_parquet(path: &Path, mapping: &Mapping) -> Result<Raw, String> {
    let p = PlRefPath::new(path.to_string_lossy().as_ref());
    let lf = LazyFrame::scan_parquet(p, ScanArgsParquet::default())
        .map_err(|e| format!("not a readable Parquet file: {e}"))?;
    // Only the columns the mapping reads are decoded (the others are not used).
    let schema = lf.clone().collect_schema().map_err(|e| format!("not a readable Parquet file: {e}"))?;
    let wanted: HashSet<&str> = mapping.source_columns().into_iter().collect();
    let keep: Vec<Expr> = schema.iter_names().filter(|n| wanted.contains(n.as_str())).map(|n| col(n.clone())).collect();
    // (With none of them, all are read: the file is refused below for its missing
    // columns, with its rows counted.)
    let df = if keep.is_empty() || keep.len() == schema.len() { lf } else { lf.select(keep) }
        .collect()
        .map_err(|e| format!("not a readable Parquet file: {e}"))?;
    let spec = mapping.table.spec();
    let mut exprs = Vec::new();
    for (name, dtype) in df.schema().iter() {
        let is_money = spec.column(name).is_some_and(|c| c.ty == ColumnType::Money);
        if is_money && dtype.is_float() {
            return Err(format!(
                "money column '{name}' is {dtype}: floats cannot hold exact money; write Decimal128 or a decimal string"
            ));
        }
        let e = match dtype {
            DataType::String => col(name.clone()).fill_null(lit("")),
            // Dates and timestamps without a time zone stay typed: checked as they are, not
            // written as text and read back.
            DataType::Date => col(name.clone()),
            DataType::Datetime(_, None) => col(name.clone()).cast(DataType::Datetime(TimeUnit::Microseconds, None)),
            DataType::Datetime(_, _) => col(name.clone()).dt().to_string(TIMESTAMP_TEXT).fill_null(lit("")),
            _ => col(name.clone()).cast(DataType::String).fill_null(lit("")),
        };
        exprs.push(e.alias(name.clone()));
    }
    let df = df.lazy().select(exprs).collect().map_err(|e| format!("cannot read Parquet columns as text: {e}"))?;
    let n = df.height();
    Ok(Raw {
        text: Text::Frame(df),
        positions: (1..=n as u64).collect(),
        labels: Labels::Records,
        pre: vec![None; n],
        blank_lines: 0,
    })
}

/// Applies the mapping (polars expressions), then checks and types every column.
/// Returns the typed frame of good rows, the rejects, and the number of rejected rows.
fn map_and_validate(
    raw: Raw,
    rel: &str,
    mapping: &Mapping,
    is_contract: bool,
    dates: &DateRange,
    chunk: usize,
    clock: &mut Phases,
) -> PolarsResult<(DataFrame, Vec<Reject>, u64)> {
    let names = raw.text.names();
    let have: HashSet<&str> = names.iter().copied().collect();
    let templates = mapping.sources.iter().any(|(_, src)| matches!(src, Source::Template(_)));
    let mut mapped: Vec<(&'static str, Mapped<'_>)> = Vec::new();
    let n;
    match &raw.text {
        // Renames and constants read the scanned buffers as they are.
        Text::Scanned { columns, .. } if !templates => {
            n = raw.positions.len();
            let source = |c: &str| match names.iter().position(|h| *h == c) {
                Some(i) => Mapped::Values(&columns[i]),
                None => Mapped::Absent,
            };
            for (name, src) in &mapping.sources {
                let m = match src {
                    Source::Column(c) => source(c),
                    Source::Constant(v) => Mapped::Constant(v.clone()),
                    Source::Template(_) => Mapped::Absent,
                };
                mapped.push((*name, m));
            }
            if let Some(sign) = &mapping.sign {
                mapped.push(("__sign", source(&sign.indicator)));
            }
        }
        _ => {
            let input = raw.text.frame(raw.positions.len())?;
            // A template joins text: a typed date or timestamp in it is written as text first.
            let schema = input.schema().clone();
            let as_text = |c: &str| match schema.get(c) {
                Some(DataType::Datetime(_, _)) => col(c).dt().to_string(TIMESTAMP_TEXT),
                Some(DataType::String) | None => col(c),
                Some(_) => col(c).cast(DataType::String),
            };
            let mut exprs: Vec<Expr> = Vec::new();
            for (name, src) in &mapping.sources {
                let e = match src {
                    Source::Column(c) if is_contract && !have.contains(c.as_str()) => lit(""),
                    Source::Column(c) => col(c.as_str()),
                    Source::Constant(v) => lit(v.clone()),
                    Source::Template(parts) => concat_str(
                        parts
                            .iter()
                            .map(|p| match p {
                                TemplatePart::Lit(l) => lit(l.clone()),
                                TemplatePart::Col(c) => as_text(c).str().strip_chars(lit(NULL)),
                            })
                            .collect::<Vec<_>>(),
                        "",
                        true,
                    ),
                };
                exprs.push(e.alias(*name));
            }
            if let Some(s) = &mapping.sign {
                exprs.push(col(s.indicator.as_str()).alias("__sign"));
            }
            let frame = input.lazy().select(exprs).collect()?;
            n = frame.height();
            // The frame's columns are the expressions' in order.
            let targets = mapping.sources.iter().map(|(name, _)| *name).chain(mapping.sign.as_ref().map(|_| "__sign"));
            for (name, c) in targets.zip(frame.columns()) {
                let m = match c.dtype() {
                    DataType::Date => Mapped::Days(c.date()?.physical().rechunk().into_owned()),
                    DataType::Datetime(TimeUnit::Microseconds, None) => {
                        Mapped::Micros(c.datetime()?.physical().rechunk().into_owned())
                    }
                    _ => match c.str() {
                        Ok(ca) => Mapped::Strings(ca.rechunk().into_owned()),
                        Err(_) => Mapped::Strings(c.cast(&DataType::String)?.str()?.rechunk().into_owned()),
                    },
                };
                mapped.push((name, m));
            }
        }
    }
    clock.lap("map");
    // Rows are checked in chunks of a fixed size, side by side; each row's checks
    // read only that row, so the chunks join into what one pass would give, on
    // any number of threads.
    let starts: Vec<usize> = if n == 0 { vec![0] } else { (0..n).step_by(chunk.max(1)).collect() };
    // Text columns taken as they are (no value map) are built once for the
    // whole file after the checks, not per chunk and then joined.
    let spec = mapping.table.spec();
    let whole: Vec<&'static str> = spec
        .columns
        .iter()
        .filter(|c| {
            matches!(c.ty, ColumnType::Str | ColumnType::List)
                && !mapping.values.contains_key(c.name)
                && mapped.iter().any(|(m, v)| *m == c.name && matches!(v, Mapped::Values(_) | Mapped::Strings(_)))
        })
        .map(|c| c.name)
        .collect();
    let parts: Vec<(DataFrame, Vec<Reject>, Vec<bool>)> = starts
        .into_par_iter()
        .map(|start| {
            let len = chunk.max(1).min(n - start);
            validate_rows(&mapped, &whole, start..start + len, &raw, rel, mapping, dates)
        })
        .collect::<PolarsResult<_>>()?;
    clock.lap("validate");
    let mut df: Option<DataFrame> = None;
    let mut rejects = Vec::new();
    let mut bad = Vec::with_capacity(n);
    for (part, r, b) in parts {
        match df.as_mut() {
            None => df = Some(part),
            Some(d) => {
                d.vstack_mut_owned(part)?;
            }
        }
        rejects.extend(r);
        bad.extend(b);
    }
    let df = df.unwrap_or_default();
    clock.lap("join");
    // Each column in one piece, side by side on this crate's threads: the files
    // of a folder load at once, and polars' own pool (`rechunk_mut_par`) made
    // each file wait for the others' work there.
    let height = df.height();
    let cols: Vec<Column> =
        df.into_columns().into_par_iter().map(|c| if c.n_chunks() > 1 { c.rechunk() } else { c }).collect();
    let mut df = DataFrame::new(height, cols)?;
    if !whole.is_empty() {
        let built: Vec<Column> = whole
            .par_iter()
            .map(|name| {
                let mut b = StringChunkedBuilder::new((*name).into(), height);
                let mut push = |t: &str| match trim(t) {
                    "" => b.append_null(),
                    t => b.append_value(t),
                };
                match mapped.iter().find(|(m, _)| m == name) {
                    Some((_, Mapped::Values(v))) => v.range(0, height).for_each(&mut push),
                    Some((_, Mapped::Strings(ca))) => ca.iter().for_each(|t| push(t.unwrap_or(""))),
                    _ => {}
                }
                b.finish().into_column()
            })
            .collect();
        // In the contract's order, then the source columns, as the chunks have them.
        let mut cols = Vec::with_capacity(df.width() + built.len());
        for c in spec.columns {
            match whole.iter().position(|w| *w == c.name) {
                Some(i) => cols.push(built[i].clone()),
                None => cols.push(df.column(c.name)?.clone()),
            }
        }
        cols.push(df.column("source_file")?.clone());
        cols.push(df.column("source_position")?.clone());
        df = DataFrame::new(height, cols)?;
    }
    clock.lap("contiguous");
    // The good rows, filtered once (a filter per chunk costs the whole file's text each time).
    let rejected_rows = bad.iter().filter(|b| **b).count() as u64;
    if rejected_rows > 0 {
        let keep: BooleanChunked = bad.iter().map(|b| !b).collect();
        df = df.filter(&keep)?;
    }
    // Report in file order; within a row, in contract column order (stable sort).
    rejects.sort_by_key(|r| r.row);
    clock.lap("filter");
    Ok((df, rejects, rejected_rows))
}

/// Rows validated per task (fixed: the output does not depend on the thread count).
const VALIDATE_CHUNK: usize = 1 << 16;

/// Checks and types `rows` of the file (`mapped`: the file's text in contract
/// columns): every row typed except the columns in `whole` (built by the
/// caller for the whole file), the rejects, and which rows they reject.
fn validate_rows(
    mapped: &[(&'static str, Mapped<'_>)],
    whole: &[&'static str],
    rows: std::ops::Range<usize>,
    raw: &Raw,
    rel: &str,
    mapping: &Mapping,
    dates: &DateRange,
) -> PolarsResult<(DataFrame, Vec<Reject>, Vec<bool>)> {
    let table = mapping.table;
    let spec = table.spec();
    let (start, n) = (rows.start, rows.len());
    let positions = &raw.positions[start..start + n];
    let pre = &raw.pre[start..start + n];
    // Borrowed, trimmed text of a mapped column ("" for null or absent).
    let text = |name: &str| -> Vec<Cow<'_, str>> {
        match mapped.iter().find(|(m, _)| *m == name) {
            Some((_, m)) => m.text(start, n),
            None => vec![Cow::Borrowed(""); n],
        }
    };
    let mut bad = vec![false; n];
    let mut rejects = Vec::new();
    let mut reject = |row: usize, column: Option<&str>, value: &str, code: RejectCode, reason: String| {
        rejects.push(Reject {
            file: rel.to_string(),
            row: Some(positions[row]),
            column: column.map(str::to_string),
            value: (!value.is_empty()).then(|| value.to_string()),
            code,
            reason,
            table: Some(table.name().to_string()),
        });
    };
    for (i, p) in pre.iter().enumerate() {
        if let Some((code, reason)) = p {
            bad[i] = true;
            reject(i, None, "", *code, reason.clone());
        }
    }
    // Rows broken before mapping (ragged, undecodable) get no column-level reports:
    // their fields are not where the header says. Other rows get every problem reported.
    let broken: Vec<bool> = bad.clone();
    // Sign indicator.
    let mut negate = vec![false; n];
    if let Some(s) = &mapping.sign {
        for (i, v) in text("__sign").iter().enumerate() {
            if broken[i] {
                continue;
            }
            if s.negative.iter().any(|x| x == v) {
                negate[i] = true;
            } else if !s.positive.iter().any(|x| x == v) {
                bad[i] = true;
                reject(
                    i,
                    Some(s.indicator.as_str()),
                    v,
                    RejectCode::UnmappedValue,
                    format!(
                        "debit/credit indicator '{v}' is neither negative ({}) nor positive ({})",
                        s.negative.join("/"),
                        s.positive.join("/")
                    ),
                );
            }
        }
    }
    // Currencies first: money depends on them.
    let mut curs: HashMap<&'static str, Vec<Option<Currency>>> = HashMap::new();
    let mut out_cols: Vec<Column> = Vec::new();
    let present: HashSet<&str> = mapping.sources.iter().map(|(c, _)| *c).collect();
    let missing = |name: &str| {
        let why = if present.contains(name) { "is empty" } else { "has no source" };
        format!("required field {name} {why}")
    };
    let mut texts: Vec<(&'static str, Vec<Cow<'_, str>>)> = Vec::new();
    // Typed dates and timestamps (Parquet) checked as they are, not as text.
    let typed = |c: &reckon_core::ColumnSpec| -> Option<&Mapped<'_>> {
        if mapping.values.contains_key(c.name) {
            return None;
        }
        match mapped.iter().find(|(m, _)| *m == c.name) {
            Some((_, m @ Mapped::Days(_))) if c.ty == ColumnType::Date => Some(m),
            Some((_, m @ Mapped::Micros(_))) if c.ty == ColumnType::Timestamp => Some(m),
            _ => None,
        }
    };
    for c in spec.columns {
        if typed(c).is_some() {
            texts.push((c.name, Vec::new()));
            continue;
        }
        if !c.required && whole.contains(&c.name) {
            // Nothing to check here, and built by the caller.
            texts.push((c.name, Vec::new()));
            continue;
        }
        let mut vals = text(c.name);
        if let Some(map) = mapping.values.get(c.name) {
            let strict = mapping.strict_values.iter().any(|s| s == c.name);
            for (i, v) in vals.iter_mut().enumerate() {
                match map.get(v.as_ref()) {
                    Some(m) => *v = Cow::Owned(m.clone()),
                    None if strict && !broken[i] && !v.is_empty() => {
                        bad[i] = true;
                        reject(
                            i,
                            Some(c.name),
                            v,
                            RejectCode::UnmappedValue,
                            format!("value '{v}' of {} has no entry in the mapping's [values.{}]", c.name, c.name),
                        );
                    }
                    None => {}
                }
            }
        }
        texts.push((c.name, vals));
    }
    for (c, (name, vals)) in spec.columns.iter().zip(&texts) {
        if c.ty != ColumnType::Currency {
            continue;
        }
        let mut currencies: Vec<Option<Currency>> = vec![None; n];
        // Rows mostly repeat the row before's currency: parsed once per change.
        let mut last: Option<(&str, Option<Currency>)> = None;
        for (i, v) in vals.iter().enumerate() {
            if v.is_empty() {
                continue; // reported as missing below
            }
            let parsed = match last {
                Some((t, c)) if t == v.as_ref() => c,
                _ => {
                    let c = Currency::parse(v);
                    last = Some((v.as_ref(), c));
                    c
                }
            };
            match parsed {
                Some(c) => currencies[i] = Some(c),
                None => {
                    if !broken[i] {
                        bad[i] = true;
                        reject(
                            i,
                            Some(name),
                            v,
                            RejectCode::UnknownCurrency,
                            format!("'{v}' is not an ISO 4217 currency code with a minor unit"),
                        );
                    }
                }
            }
        }
        curs.insert(name, currencies);
    }
    let none: Vec<Option<Currency>> = vec![None; n];
    let date_fmt = mapping.date_format.as_deref();
    for (c, (_, vals)) in spec.columns.iter().zip(&texts) {
        let name = c.name;
        // Required-ness: empty required field.
        for (i, v) in vals.iter().enumerate() {
            if c.required && v.is_empty() && !broken[i] {
                bad[i] = true;
                reject(i, Some(name), "", RejectCode::MissingRequired, missing(name));
            }
        }
        if whole.contains(&name) {
            continue; // built for the whole file by the caller
        }
        if let Some(m) = typed(c) {
            let value = |i: usize| match m {
                Mapped::Days(ca) => ca.get(start + i).map(|d| (i64::from(d), d)),
                Mapped::Micros(ca) => ca
                    .get(start + i)
                    .map(|us| (us, us.div_euclid(86_400_000_000).clamp(i32::MIN.into(), i32::MAX.into()) as i32)),
                _ => None,
            };
            let mut out: Vec<Option<i64>> = Vec::with_capacity(n);
            for i in 0..n {
                match value(i) {
                    None => {
                        if c.required && !broken[i] {
                            bad[i] = true;
                            reject(i, Some(name), "", RejectCode::MissingRequired, missing(name));
                        }
                        out.push(None);
                    }
                    Some((v, day)) if !dates.contains(day) => {
                        if !broken[i] {
                            bad[i] = true;
                            let text = if c.ty == ColumnType::Date { day_text(day) } else { micros_text(v) };
                            reject(i, Some(name), &text, RejectCode::BadDate, out_of_range(&text, dates));
                        }
                        out.push(None);
                    }
                    Some((v, _)) => out.push(Some(v)),
                }
            }
            let column = Column::new(name.into(), out);
            out_cols.push(if c.ty == ColumnType::Date {
                column.cast(&DataType::Int32)?.cast(&DataType::Date)?
            } else {
                column.cast(&DataType::Datetime(TimeUnit::Microseconds, None))?
            });
            continue;
        }
        let column = match c.ty {
            ColumnType::Str | ColumnType::List => {
                Column::new(name.into(), vals.iter().map(|v| (!v.is_empty()).then_some(v.as_ref())).collect::<Vec<_>>())
            }
            ColumnType::Currency => Column::new(
                name.into(),
                curs.get(name).unwrap_or(&none).iter().map(|c| c.map(|c| c.code().to_string())).collect::<Vec<_>>(),
            ),
            ColumnType::Date => {
                let mut out: Vec<Option<i32>> = Vec::with_capacity(n);
                for (i, v) in vals.iter().enumerate() {
                    let parsed = if v.is_empty() { None } else { parse_date(v, date_fmt) };
                    if let Some(d) = parsed
                        && !dates.contains(d)
                    {
                        if !broken[i] {
                            bad[i] = true;
                            reject(i, Some(name), v, RejectCode::BadDate, out_of_range(v, dates));
                        }
                        out.push(None);
                        continue;
                    }
                    if !v.is_empty() && parsed.is_none() && !broken[i] {
                        bad[i] = true;
                        let want = date_fmt.unwrap_or("%Y-%m-%d");
                        reject(
                            i,
                            Some(name),
                            v,
                            RejectCode::BadDate,
                            format!("'{v}' is not a valid date in format {want}"),
                        );
                    }
                    out.push(parsed);
                }
                Column::new(name.into(), out).cast(&DataType::Date)?
            }
            ColumnType::Timestamp => {
                let mut out: Vec<Option<i64>> = Vec::with_capacity(n);
                for (i, v) in vals.iter().enumerate() {
                    let parsed =
                        if v.is_empty() { None } else { parse_timestamp(v, mapping.timestamp_format.as_deref()) };
                    if let Some(us) = parsed
                        && !dates.contains(us.div_euclid(86_400_000_000).clamp(i32::MIN.into(), i32::MAX.into()) as i32)
                    {
                        if !broken[i] {
                            bad[i] = true;
                            reject(i, Some(name), v, RejectCode::BadDate, out_of_range(v, dates));
                        }
                        out.push(None);
                        continue;
                    }
                    if !v.is_empty() && parsed.is_none() && !broken[i] {
                        bad[i] = true;
                        reject(i, Some(name), v, RejectCode::BadDate, format!("'{v}' is not an RFC 3339 timestamp"));
                    }
                    out.push(parsed);
                }
                Column::new(name.into(), out).cast(&DataType::Datetime(TimeUnit::Microseconds, None))?
            }
            ColumnType::Int => {
                let mut out: Vec<Option<i64>> = Vec::with_capacity(n);
                for (i, v) in vals.iter().enumerate() {
                    let parsed = if v.is_empty() { None } else { v.parse::<i64>().ok() };
                    if !v.is_empty() && parsed.is_none() && !broken[i] {
                        bad[i] = true;
                        reject(i, Some(name), v, RejectCode::BadInteger, format!("'{v}' is not an integer"));
                    }
                    out.push(parsed);
                }
                Column::new(name.into(), out)
            }
            ColumnType::Money => {
                let sign_applies = mapping.sign.as_ref().is_some_and(|s| s.applies_to.contains(&name));
                let mut out: Vec<Option<i64>> = Vec::with_capacity(n);
                let currencies = curs.get(c.currency).unwrap_or(&none);
                for (i, v) in vals.iter().enumerate() {
                    let mut parsed = None;
                    // (The row's own `currency` is required: its absence is reported as such.)
                    if c.currency != "currency" && !v.is_empty() && currencies[i].is_none() && !broken[i] && !bad[i] {
                        // Money whose currency column is empty cannot be read exactly.
                        bad[i] = true;
                        reject(
                            i,
                            Some(name),
                            v,
                            RejectCode::MissingRequired,
                            format!("{name} is given without its currency ({})", c.currency),
                        );
                    }
                    if let (false, Some(cur)) = (v.is_empty(), currencies[i]) {
                        match parse_minor(v, &mapping.money, cur) {
                            Ok(m) if m.unsigned_abs() > reckon_core::MAX_ABS_MINOR.unsigned_abs() => {
                                if !broken[i] {
                                    bad[i] = true;
                                    reject(
                                        i,
                                        Some(name),
                                        v,
                                        RejectCode::BadMoney,
                                        format!(
                                            "'{v}' is beyond the contract's range of ±{} minor units",
                                            reckon_core::MAX_ABS_MINOR
                                        ),
                                    );
                                }
                            }
                            // Charges a bank deducted are an amount taken off, never a negative one.
                            Ok(m)
                                if m < 0
                                    && table == Table::BankTransactions
                                    && name == reckon_core::col::bank_transactions::CHARGES_AMOUNT =>
                            {
                                if !broken[i] {
                                    bad[i] = true;
                                    reject(
                                        i,
                                        Some(name),
                                        v,
                                        RejectCode::BadMoney,
                                        format!("'{v}': charges deducted from a credit are 0 or more"),
                                    );
                                }
                            }
                            Ok(m) => parsed = Some(if sign_applies && negate[i] { -m } else { m }),
                            Err(e) if !broken[i] => {
                                bad[i] = true;
                                reject(i, Some(name), v, RejectCode::BadMoney, e.to_string());
                            }
                            Err(_) => {}
                        }
                    }
                    out.push(parsed);
                }
                Column::new(name.into(), out)
            }
        };
        out_cols.push(column);
    }
    out_cols.push(Column::new_scalar(
        "source_file".into(),
        Scalar::new(DataType::String, AnyValue::StringOwned(rel.into())),
        n,
    ));
    out_cols.push(raw.labels.column(start, n, &raw.positions));
    let df = DataFrame::new(n, out_cols)?;
    rejects.sort_by_key(|r| r.row);
    Ok((df, rejects, bad))
}

fn parse_date(v: &str, fmt: Option<&str>) -> Option<i32> {
    match fmt {
        None => parse_iso_date(v),
        Some(f) => {
            let d = chrono::NaiveDate::parse_from_str(v, f).ok()?;
            Some(d.num_days_from_ce() - 719_163)
        }
    }
}

use chrono::Datelike;

fn parse_timestamp(v: &str, fmt: Option<&str>) -> Option<i64> {
    match fmt {
        None => chrono::DateTime::parse_from_rfc3339(v).ok().map(|t| t.timestamp_micros()),
        Some(f) => chrono::NaiveDateTime::parse_from_str(v, f).ok().map(|t| t.and_utc().timestamp_micros()),
    }
}

fn out_of_range(v: &str, dates: &DateRange) -> String {
    format!("'{v}' is outside the accepted dates ({}; [ingest] first_date, last_date)", dates.describe())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of every kind the checks tell apart: good, bad date, bad money,
    /// unknown currency, a missing required field, ragged, blank lines between.
    fn bank_csv(rows: usize) -> String {
        let mut s = String::from(
            "txn_id,account_id,booking_date,value_date,amount,currency,counterparty_name,counterparty_account,end_to_end_id,reference,description,bank_code,instructed_amount,instructed_currency\n",
        );
        for i in 0..rows {
            let line = match i % 11 {
                1 => format!("T{i},ACC,2026-02-31,,1.00,EUR,N,,,,d,,,"),
                3 => format!("T{i},ACC,2026-02-01,,1.0x,EUR,N,,,,d,,,"),
                4 => format!("T{i},ACC,2026-02-01,,1.00,XXQ,N,,,,d,,,"),
                6 => ",ACC,2026-02-01,,1.00,EUR,N,,,,d,,,".to_string(),
                7 => format!("T{i},ACC,2026-02-01"),
                8 => format!("T{i},ACC,2026-02-01,,2.50,EUR,N,,,,d,,3.00,"),
                9 => format!("T{i},ACC,2026-02-01,,1.00,EUR,N,,,,d,,,\n"),
                _ => format!("T{i},ACC,2026-02-{:02},,{}.{:02},EUR,Name {i},,,,text {i},,,", 1 + i % 28, i, i % 100),
            };
            s.push_str(&line);
            s.push('\n');
        }
        s
    }

    fn render(f: &LoadedFile) -> (String, Vec<String>, FileReport) {
        let df = f.df.as_ref().unwrap_or_else(|| panic!("refused: {:?}", f.report.refused));
        let table = crate::normalize::contract_view(Table::BankTransactions, df).unwrap_or_else(|e| panic!("{e}"));
        let text = crate::normalize::to_csv_string(&table).unwrap_or_else(|e| panic!("{e}"));
        (text, f.rejects.iter().map(|r| format!("{r:?}")).collect(), f.report.clone())
    }

    #[test]
    fn rows_checked_in_chunks_give_what_one_pass_gives() {
        let dir = std::env::temp_dir().join(format!("reckon-chunks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.join("bank_transactions.csv");
        std::fs::write(&path, bank_csv(500)).unwrap_or_else(|e| panic!("{e}"));
        let mapping = Mapping::contract(Table::BankTransactions);
        let load = |chunk| {
            render(&load_file_chunked(&path, "bank_transactions.csv", &mapping, None, &DateRange::default(), chunk))
        };
        let whole = load(usize::MAX);
        assert!(whole.1.len() > 200, "the file has rejects of every kind: {}", whole.1.len());
        assert!(whole.0.lines().count() > 200, "and good rows");
        for chunk in [1, 7, 64, 499] {
            assert_eq!(load(chunk), whole, "{chunk} rows per chunk");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
