//! Rejected input: a row (or a whole file) reckon refused, with the reason.

/// Machine-readable reason class of a reject; the text reason says the details.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// A required field is empty.
    MissingRequired,
    /// Money text is not an exact decimal in the declared format.
    BadMoney,
    /// Date or timestamp does not parse.
    BadDate,
    /// Not an ISO 4217 currency with a minor unit.
    UnknownCurrency,
    /// Integer field is not an integer.
    BadInteger,
    /// A mapped code has no entry in the mapping's value map.
    UnmappedValue,
    /// The row has more or fewer fields than the header.
    RaggedRow,
    /// The row's bytes are not valid in the file's encoding.
    BadEncoding,
    /// The row repeats the key of an earlier row.
    DuplicateKey,
    /// The whole file cannot be used (unreadable, wrong format, required column missing…).
    FileRefused,
    /// A statement or file's control totals do not tie out.
    ControlTotal,
    /// A record of a bank or remittance file is malformed or unusable (broken `:61:`,
    /// unknown debit/credit, entry not booked…).
    BadRecord,
}

impl RejectCode {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::MissingRequired => "missing_required",
            RejectCode::BadMoney => "bad_money",
            RejectCode::BadDate => "bad_date",
            RejectCode::UnknownCurrency => "unknown_currency",
            RejectCode::BadInteger => "bad_integer",
            RejectCode::UnmappedValue => "unmapped_value",
            RejectCode::RaggedRow => "ragged_row",
            RejectCode::BadEncoding => "bad_encoding",
            RejectCode::DuplicateKey => "duplicate_key",
            RejectCode::FileRefused => "file_refused",
            RejectCode::ControlTotal => "control_total",
            RejectCode::BadRecord => "bad_record",
        }
    }
}

/// One reject row of `rejects.parquet`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Reject {
    /// Path of the input file, relative to the input folder.
    pub file: String,
    /// 1-based line number of the record's first line in a text file (header = 1),
    /// 1-based record index in Parquet; `None` when the whole file is refused.
    pub row: Option<u64>,
    /// Contract column (or source column for mapping errors); `None` when not one column.
    pub column: Option<String>,
    /// The raw value refused, when there is one.
    pub value: Option<String>,
    pub code: RejectCode,
    /// A sentence for the person fixing the input.
    pub reason: String,
    /// Contract table the file was loaded as, when known.
    pub table: Option<String>,
}
