//! The data contract's input tables as data: names, columns, types, keys.
//!
//! Ingestion, validation, the generator and the docs all read these specs, so a
//! column is declared once.

/// What kind of value a contract column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// Text, trimmed.
    Str,
    /// `YYYY-MM-DD`.
    Date,
    /// RFC 3339 timestamp.
    Timestamp,
    /// Exact decimal in the currency of the row's `currency` column (or of the
    /// column [`ColumnSpec::currency`] names).
    Money,
    /// ISO 4217 code.
    Currency,
    /// Integer.
    Int,
    /// `|`-separated list of text values.
    List,
}

/// One column of a contract table.
#[derive(Clone, Copy, Debug)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub ty: ColumnType,
    pub required: bool,
    /// For money: the column holding its currency.
    pub currency: &'static str,
}

/// One input table of the contract.
#[derive(Clone, Copy, Debug)]
pub struct TableSpec {
    pub table: Table,
    pub columns: &'static [ColumnSpec],
    /// Columns that together identify a row; duplicates are rejected.
    pub key: &'static [&'static str],
}

impl TableSpec {
    pub fn column(&self, name: &str) -> Option<&'static ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }
    pub fn required(&self) -> impl Iterator<Item = &'static ColumnSpec> {
        self.columns.iter().filter(|c| c.required)
    }
}

/// The contract's input tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    BankTransactions,
    Remittances,
    ArOpenItems,
    BankAccounts,
    Customers,
    ApInvoices,
    Vendors,
    GlJournalLines,
}

impl Table {
    pub const ALL: [Table; 8] = [
        Table::BankTransactions,
        Table::Remittances,
        Table::ArOpenItems,
        Table::BankAccounts,
        Table::Customers,
        Table::ApInvoices,
        Table::Vendors,
        Table::GlJournalLines,
    ];

    /// The table's file stem in an input folder (`bank_transactions`).
    pub fn name(self) -> &'static str {
        match self {
            Table::BankTransactions => "bank_transactions",
            Table::Remittances => "remittances",
            Table::ArOpenItems => "ar_open_items",
            Table::BankAccounts => "bank_accounts",
            Table::Customers => "customers",
            Table::ApInvoices => "ap_invoices",
            Table::Vendors => "vendors",
            Table::GlJournalLines => "gl_journal_lines",
        }
    }

    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    pub fn spec(self) -> &'static TableSpec {
        match self {
            Table::BankTransactions => &BANK_TRANSACTIONS,
            Table::Remittances => &REMITTANCES,
            Table::ArOpenItems => &AR_OPEN_ITEMS,
            Table::BankAccounts => &BANK_ACCOUNTS,
            Table::Customers => &CUSTOMERS,
            Table::ApInvoices => &AP_INVOICES,
            Table::Vendors => &VENDORS,
            Table::GlJournalLines => &GL_JOURNAL_LINES,
        }
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

const fn req(name: &'static str, ty: ColumnType) -> ColumnSpec {
    ColumnSpec { name, ty, required: true, currency: "currency" }
}
const fn opt(name: &'static str, ty: ColumnType) -> ColumnSpec {
    ColumnSpec { name, ty, required: false, currency: "currency" }
}
/// Optional money in the currency of another column.
const fn opt_money_in(name: &'static str, currency: &'static str) -> ColumnSpec {
    ColumnSpec { name, ty: Money, required: false, currency }
}
use ColumnType::*;

pub static BANK_TRANSACTIONS: TableSpec = TableSpec {
    table: Table::BankTransactions,
    columns: &[
        req("txn_id", Str),
        req("account_id", Str),
        req("booking_date", Date),
        opt("value_date", Date),
        req("amount", Money),
        req("currency", Currency),
        opt("counterparty_name", Str),
        opt("counterparty_account", Str),
        opt("end_to_end_id", Str),
        opt("reference", Str),
        opt("description", Str),
        opt("bank_code", Str),
        // What the payer instructed before the bank converted it (camt
        // `AmtDtls/InstdAmt`, MT940 `:86:` `/OCMT/`): cross-currency payments.
        opt_money_in("instructed_amount", "instructed_currency"),
        opt("instructed_currency", Currency),
    ],
    key: &["txn_id"],
};

pub static REMITTANCES: TableSpec = TableSpec {
    table: Table::Remittances,
    columns: &[
        req("remittance_id", Str),
        opt("payment_ref", Str),
        opt("payer_name", Str),
        opt("advice_date", Date),
        req("invoice_ref", Str),
        req("paid_amount", Money),
        opt("discount_amount", Money),
        opt("deduction_amount", Money),
        opt("deduction_reason", Str),
        req("currency", Currency),
    ],
    key: &[],
};

pub static AR_OPEN_ITEMS: TableSpec = TableSpec {
    table: Table::ArOpenItems,
    columns: &[
        req("item_id", Str),
        req("entity", Str),
        req("customer_id", Str),
        req("customer_name", Str),
        req("invoice_number", Str),
        req("invoice_date", Date),
        opt("due_date", Date),
        req("amount_open", Money),
        req("currency", Currency),
    ],
    key: &["item_id"],
};

pub static BANK_ACCOUNTS: TableSpec = TableSpec {
    table: Table::BankAccounts,
    columns: &[req("account_id", Str), req("entity", Str), req("currency", Currency), opt("gl_account", Str)],
    key: &["account_id"],
};

pub static CUSTOMERS: TableSpec = TableSpec {
    table: Table::Customers,
    columns: &[req("customer_id", Str), req("name", Str), opt("aliases", List), opt("ibans", List), opt("tax_id", Str)],
    key: &["customer_id"],
};

pub static AP_INVOICES: TableSpec = TableSpec {
    table: Table::ApInvoices,
    columns: &[
        req("doc_id", Str),
        req("entity", Str),
        req("vendor_id", Str),
        req("vendor_name", Str),
        opt("vendor_tax_id", Str),
        opt("vendor_iban", Str),
        req("invoice_number", Str),
        req("invoice_date", Date),
        opt("received_date", Date),
        req("amount", Money),
        req("currency", Currency),
        opt("po_number", Str),
        opt("description", Str),
    ],
    key: &["doc_id"],
};

pub static VENDORS: TableSpec = TableSpec {
    table: Table::Vendors,
    columns: &[req("vendor_id", Str), req("name", Str), opt("tax_id", Str), opt("ibans", List)],
    key: &["vendor_id"],
};

pub static GL_JOURNAL_LINES: TableSpec = TableSpec {
    table: Table::GlJournalLines,
    columns: &[
        req("journal_id", Str),
        req("line_no", Int),
        req("entity", Str),
        req("account", Str),
        opt("cost_center", Str),
        req("posting_date", Date),
        opt("document_date", Date),
        opt("fiscal_period", Str),
        req("amount", Money),
        req("currency", Currency),
        req("preparer_id", Str),
        opt("approver_id", Str),
        opt("source", Str),
        opt("description", Str),
        opt("created_at", Timestamp),
    ],
    key: &["entity", "journal_id", "line_no"],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_money_table_has_currency_and_keys_exist() {
        for t in Table::ALL {
            let s = t.spec();
            assert_eq!(s.table, t);
            assert_eq!(Table::from_name(t.name()), Some(t));
            if s.columns.iter().any(|c| c.ty == ColumnType::Money) {
                assert!(s.column("currency").is_some_and(|c| c.required), "{t}");
            }
            for c in s.columns.iter().filter(|c| c.ty == ColumnType::Money) {
                assert!(s.column(c.currency).is_some_and(|k| k.ty == ColumnType::Currency), "{t}.{}", c.name);
            }
            for k in s.key {
                assert!(s.column(k).is_some_and(|c| c.required), "{t}.{k}");
            }
        }
    }
}
