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
///
/// Values live in one text buffer per row (one allocation instead of one per
/// column: rows are built for every entry of every file).
#[derive(Clone, Debug, Default)]
pub struct Row {
    /// 1-based line of the record (`:61:` line, `16` record, `<Ntry>` start tag, `RMR` segment).
    pub line: u64,
    /// The position (first `pos_end` bytes) then every value.
    text: String,
    pos_end: u32,
    /// (column, start, end) into `text`, in the order set.
    spans: Vec<(&'static str, u32, u32)>,
    /// Set when the row must not be accepted (e.g. its statement does not tie out).
    pub reject: Option<String>,
    /// The reject comes from a failed statement or file control, not from the record itself.
    pub control_failure: bool,
}

impl Row {
    /// A row at `position` (human-readable: `stmt 2 :61: #3`, `Stmt[1]/Ntry[4]/TxDtls[2]`).
    pub fn new(line: u64, position: impl AsRef<str>) -> Row {
        let mut text = String::with_capacity(256);
        text.push_str(position.as_ref());
        Row::with_text(line, text)
    }

    /// A row whose position is `parts` interleaved with `numbers`:
    /// `numbered(7, &["stmt ", " :61: #"], [2, 5])` is at `stmt 2 :61: #5` (no `format!`:
    /// one row per entry of every file).
    pub fn numbered<const N: usize>(line: u64, parts: &[&str; N], numbers: [usize; N]) -> Row {
        let mut text = String::with_capacity(256);
        for (p, n) in parts.iter().zip(numbers) {
            text.push_str(p);
            let mut digits = [0u8; 20];
            let mut at = digits.len();
            let mut v = n;
            loop {
                at -= 1;
                digits[at] = b'0' + (v % 10) as u8;
                v /= 10;
                if v == 0 {
                    break;
                }
            }
            text.extend(digits[at..].iter().map(|b| char::from(*b)));
        }
        Row::with_text(line, text)
    }

    fn with_text(line: u64, mut text: String) -> Row {
        if u32::try_from(text.len()).is_err() {
            text.clear();
        }
        let pos_end = u32::try_from(text.len()).unwrap_or(0);
        Row { line, text, pos_end, spans: Vec::with_capacity(12), reject: None, control_failure: false }
    }

    /// Where the row is in its file (`stmt 2 :61: #3`, `Stmt[1]/Ntry[4]/TxDtls[2]`).
    pub fn position(&self) -> &str {
        &self.text[..self.pos_end as usize]
    }

    /// Marks the row as refused because a control of its statement failed (unless it
    /// already carries a reason of its own).
    pub fn fail_control(&mut self, reason: impl FnOnce() -> String) {
        if self.reject.is_none() {
            self.reject = Some(reason());
            self.control_failure = true;
        }
    }

    /// Sets a column (empty values are skipped; a later value for the same column wins).
    pub fn set(&mut self, column: &'static str, value: impl AsRef<str>) {
        let v = value.as_ref();
        // Rows are far below 4 GiB; a value that would overflow the offsets is dropped
        // rather than stored wrongly (the parsers bound their inputs well below that).
        let (Ok(start), Ok(end)) = (u32::try_from(self.text.len()), u32::try_from(self.text.len() + v.len())) else {
            return;
        };
        if !v.is_empty() {
            self.text.push_str(v);
            self.spans.push((column, start, end));
        }
    }

    /// Sets a column to the concatenation of `parts` (skipped when that is empty).
    pub fn set_parts(&mut self, column: &'static str, parts: &[&str]) {
        let start = self.text.len();
        parts.iter().for_each(|p| self.text.push_str(p));
        match (u32::try_from(start), u32::try_from(self.text.len())) {
            (Ok(a), Ok(b)) if b > a => self.spans.push((column, a, b)),
            _ => self.text.truncate(start),
        }
    }

    /// Sets a money column from minor units, as the contract's decimal text.
    pub fn set_minor(&mut self, column: &'static str, minor: i64, exponent: u8) {
        let start = self.text.len();
        reckon_core::write_minor(&mut self.text, minor, exponent);
        if let (Ok(a), Ok(b)) = (u32::try_from(start), u32::try_from(self.text.len())) {
            self.spans.push((column, a, b));
        } else {
            self.text.truncate(start);
        }
    }

    /// Removes every value of `column`.
    pub fn unset(&mut self, column: &str) {
        self.spans.retain(|(c, _, _)| *c != column);
    }

    pub fn get(&self, column: &str) -> Option<&str> {
        self.spans.iter().rev().find(|(c, _, _)| *c == column).map(|(_, a, b)| &self.text[*a as usize..*b as usize])
    }

    /// (column, value) in the order set.
    pub fn values(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        self.spans.iter().map(|(c, a, b)| (*c, &self.text[*a as usize..*b as usize]))
    }
}

impl PartialEq for Row {
    fn eq(&self, other: &Row) -> bool {
        self.line == other.line
            && self.position() == other.position()
            && self.reject == other.reject
            && self.control_failure == other.control_failure
            && self.values().eq(other.values())
    }
}

impl Eq for Row {}

impl serde::Serialize for Row {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let values: Vec<(&str, &str)> = self.values().collect();
        let mut st = ser.serialize_struct("Row", 5)?;
        st.serialize_field("line", &self.line)?;
        st.serialize_field("position", self.position())?;
        st.serialize_field("values", &values)?;
        st.serialize_field("reject", &self.reject)?;
        st.serialize_field("control_failure", &self.control_failure)?;
        st.end()
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
