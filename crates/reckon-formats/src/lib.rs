//! reckon-formats: bank statement and remittance files → contract rows.
//!
//! Parsers for the files banks and payers actually send — ISO 20022 camt.053 /
//! camt.052 (statements, reports) and camt.054 (notifications, as remittance
//! advices), SWIFT MT940 / MT942, BAI2, and ANSI X12 820 — each into a faithful
//! model of its format, then into rows of the data contract's
//! `bank_transactions` or `remittances` with the source position of every row.
//! Statement-level controls (opening balance + entries = closing balance, BAI2
//! and X12 control totals) are checked; rows of a statement that does not tie
//! out carry a reject reason instead of being accepted.
//!
//! Parsers never panic on any input and never expand XML entities (no DTD
//! processing at all: a `DOCTYPE` refuses the file).

pub mod bai2;
pub mod camt;
pub mod detect;
pub mod mt940;
mod text;
pub mod x12;

pub use detect::{Format, detect};

/// Which contract table a file's rows belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Target {
    BankTransactions,
    Remittances,
}

/// One contract row produced from a file: contract column → text value (money as
/// the contract's decimal text), with where it came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Row {
    /// 1-based line of the record (`:61:` line, `16` record, `<Ntry>` start tag, `RMR` segment).
    pub line: u64,
    /// Human-readable position (`stmt 2 :61: #3`, `Stmt[1]/Ntry[4]/TxDtls[2]`).
    pub position: String,
    pub values: Vec<(&'static str, String)>,
    /// Set when the row must not be accepted (e.g. its statement does not tie out).
    pub reject: Option<String>,
    /// The reject comes from a failed statement or file control, not from the record itself.
    pub control_failure: bool,
}

impl Row {
    pub fn new(line: u64, position: String) -> Row {
        Row { line, position, values: Vec::new(), reject: None, control_failure: false }
    }

    /// Marks the row as refused because a control of its statement failed (unless it
    /// already carries a reason of its own).
    pub fn fail_control(&mut self, reason: impl FnOnce() -> String) {
        if self.reject.is_none() {
            self.reject = Some(reason());
            self.control_failure = true;
        }
    }

    /// Sets a column (empty values are skipped).
    pub fn set(&mut self, column: &'static str, value: impl Into<String>) {
        let v = value.into();
        if !v.is_empty() {
            self.values.push((column, v));
        }
    }

    pub fn get(&self, column: &str) -> Option<&str> {
        self.values.iter().rev().find(|(c, _)| *c == column).map(|(_, v)| v.as_str())
    }
}

/// A statement-level control and whether it held.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Control {
    /// Which statement/account/file (e.g. `:20: 123 / :28C: 5/1`).
    pub scope: String,
    pub check: String,
    pub ok: bool,
    pub detail: String,
}

/// What a file turned into.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Parsed {
    pub format: Format,
    pub target: Target,
    pub rows: Vec<Row>,
    pub controls: Vec<Control>,
    /// Number of statements / reports / advices / transaction sets in the file.
    pub statements: usize,
}

/// Why a whole file cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("not a recognised bank or remittance format ({0})")]
    Unknown(String),
    #[error("XML refused: {0}")]
    Xml(String),
    #[error("line {line}: {msg}")]
    Syntax { line: u64, msg: String },
    #[error("control totals do not tie out: {0}")]
    Control(String),
    #[error("file too large ({0} bytes; limit {1})")]
    TooLarge(usize, usize),
    #[error("no statements or entries found")]
    Empty,
}

/// Largest file accepted (bank files are far smaller; this bounds memory on hostile input).
pub const MAX_FILE_BYTES: usize = 1 << 30;

/// Detects the format of `bytes` and parses it.
pub fn parse(bytes: &[u8]) -> Result<Parsed, FormatError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(FormatError::TooLarge(bytes.len(), MAX_FILE_BYTES));
    }
    match detect(bytes) {
        Format::Camt(_) => camt::parse(bytes),
        Format::Mt940 | Format::Mt942 => mt940::parse(bytes),
        Format::Bai2 => bai2::parse(bytes),
        Format::X12_820 => x12::parse(bytes),
        Format::Unknown => Err(FormatError::Unknown(detect::describe(bytes))),
    }
}
