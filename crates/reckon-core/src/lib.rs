//! reckon-core: the data contract in code, with no IO.
//!
//! This crate owns the vocabulary every other reckon crate speaks: exact
//! [`Money`] in integer minor units of an ISO 4217 [`Currency`], the contract's
//! input tables as [`schema`] specs, strict dates, rejects, and deterministic
//! ids. It reads no files and pulls in no heavy dependencies, so engines and
//! tools can depend on it freely.

pub mod creditor_ref;
pub mod currency;
pub mod date;
pub mod id;
pub mod money;
pub mod reject;
pub mod rng;
pub mod schema;
pub mod setting;
pub mod similarity;
pub mod vocab;

pub use currency::Currency;
pub use money::{
    DecimalMark, MAX_ABS_MINOR, Money, MoneyError, MoneyFormat, format_minor, format_minor_wide, parse_minor,
    sum_minor, write_minor,
};
pub use reject::{Reject, RejectCode};
pub use schema::{ColumnSpec, ColumnType, Table, TableSpec};

/// The contract's column names, one module per input table
/// (`col::bank_transactions::TXN_ID`). Code reads columns through these
/// constants, so a misspelt column does not compile.
pub mod col {
    pub use crate::schema::{
        ap_invoices, ar_open_items, bank_accounts, bank_transactions, customers, gl_journal_lines, remittances, vendors,
    };
}
pub use setting::InvalidSetting;
pub use vocab::{Band, ExceptionKind, ExceptionState};

/// Version of the data contract this build implements.
pub const CONTRACT_VERSION: &str = "2";
