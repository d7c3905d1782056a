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

/// Declares one contract table: a module of its column names (constants, so a
/// misspelt column does not compile) and its [`TableSpec`], built from those
/// constants so the two cannot disagree.
macro_rules! contract_table {
    ($spec:ident, $table:expr, $module:ident, key [$($key:ident),*], { $($const:ident = $ctor:ident($name:literal, $arg:expr)),+ $(,)? }) => {
        #[doc = concat!("Column names of `", stringify!($module), "`, as the contract spells them.")]
        pub mod $module {
            $(pub const $const: &str = $name;)+
            /// Every column, in contract order.
            pub const ALL: &[&str] = &[$($const),+];
        }
        pub static $spec: TableSpec = TableSpec {
            table: $table,
            columns: &[$($ctor($module::$const, $arg)),+],
            key: &[$($module::$key),*],
        };
    };
}

contract_table! {
    BANK_TRANSACTIONS, Table::BankTransactions, bank_transactions, key [TXN_ID], {
        TXN_ID = req("txn_id", Str),
        ACCOUNT_ID = req("account_id", Str),
        BOOKING_DATE = req("booking_date", Date),
        VALUE_DATE = opt("value_date", Date),
        AMOUNT = req("amount", Money),
        CURRENCY = req("currency", Currency),
        COUNTERPARTY_NAME = opt("counterparty_name", Str),
        COUNTERPARTY_ACCOUNT = opt("counterparty_account", Str),
        END_TO_END_ID = opt("end_to_end_id", Str),
        REFERENCE = opt("reference", Str),
        DESCRIPTION = opt("description", Str),
        BANK_CODE = opt("bank_code", Str),
        // What the payer instructed before the bank converted it (camt
        // `AmtDtls/InstdAmt`, MT940 `:86:` `/OCMT/`): cross-currency payments.
        INSTRUCTED_AMOUNT = opt_money_in("instructed_amount", "instructed_currency"),
        INSTRUCTED_CURRENCY = opt("instructed_currency", Currency),
        // Charges the banks deducted from a credit before booking it, in
        // `currency` (camt `Chrgs/Rcrd` with `ChrgInclInd` true, MT940 `/CHGS/`).
        CHARGES_AMOUNT = opt("charges_amount", Money),
    }
}

contract_table! {
    REMITTANCES, Table::Remittances, remittances, key [], {
        REMITTANCE_ID = req("remittance_id", Str),
        PAYMENT_REF = opt("payment_ref", Str),
        PAYER_NAME = opt("payer_name", Str),
        ADVICE_DATE = opt("advice_date", Date),
        INVOICE_REF = req("invoice_ref", Str),
        PAID_AMOUNT = req("paid_amount", Money),
        DISCOUNT_AMOUNT = opt("discount_amount", Money),
        DEDUCTION_AMOUNT = opt("deduction_amount", Money),
        DEDUCTION_REASON = opt("deduction_reason", Str),
        CURRENCY = req("currency", Currency),
    }
}

contract_table! {
    AR_OPEN_ITEMS, Table::ArOpenItems, ar_open_items, key [ITEM_ID], {
        ITEM_ID = req("item_id", Str),
        ENTITY = req("entity", Str),
        CUSTOMER_ID = req("customer_id", Str),
        CUSTOMER_NAME = req("customer_name", Str),
        INVOICE_NUMBER = req("invoice_number", Str),
        INVOICE_DATE = req("invoice_date", Date),
        DUE_DATE = opt("due_date", Date),
        AMOUNT_OPEN = req("amount_open", Money),
        CURRENCY = req("currency", Currency),
    }
}

contract_table! {
    BANK_ACCOUNTS, Table::BankAccounts, bank_accounts, key [ACCOUNT_ID], {
        ACCOUNT_ID = req("account_id", Str),
        ENTITY = req("entity", Str),
        CURRENCY = req("currency", Currency),
        GL_ACCOUNT = opt("gl_account", Str),
    }
}

contract_table! {
    CUSTOMERS, Table::Customers, customers, key [CUSTOMER_ID], {
        CUSTOMER_ID = req("customer_id", Str),
        NAME = req("name", Str),
        ALIASES = opt("aliases", List),
        IBANS = opt("ibans", List),
        TAX_ID = opt("tax_id", Str),
        PAYER_IDS = opt("payer_ids", List),
    }
}

contract_table! {
    AP_INVOICES, Table::ApInvoices, ap_invoices, key [DOC_ID], {
        DOC_ID = req("doc_id", Str),
        ENTITY = req("entity", Str),
        VENDOR_ID = req("vendor_id", Str),
        VENDOR_NAME = req("vendor_name", Str),
        VENDOR_TAX_ID = opt("vendor_tax_id", Str),
        VENDOR_IBAN = opt("vendor_iban", Str),
        INVOICE_NUMBER = req("invoice_number", Str),
        INVOICE_DATE = req("invoice_date", Date),
        RECEIVED_DATE = opt("received_date", Date),
        AMOUNT = req("amount", Money),
        CURRENCY = req("currency", Currency),
        PO_NUMBER = opt("po_number", Str),
        DESCRIPTION = opt("description", Str),
    }
}

contract_table! {
    VENDORS, Table::Vendors, vendors, key [VENDOR_ID], {
        VENDOR_ID = req("vendor_id", Str),
        NAME = req("name", Str),
        TAX_ID = opt("tax_id", Str),
        IBANS = opt("ibans", List),
    }
}

contract_table! {
    GL_JOURNAL_LINES, Table::GlJournalLines, gl_journal_lines, key [ENTITY, JOURNAL_ID, LINE_NO], {
        JOURNAL_ID = req("journal_id", Str),
        LINE_NO = req("line_no", Int),
        ENTITY = req("entity", Str),
        ACCOUNT = req("account", Str),
        COST_CENTER = opt("cost_center", Str),
        POSTING_DATE = req("posting_date", Date),
        DOCUMENT_DATE = opt("document_date", Date),
        FISCAL_PERIOD = opt("fiscal_period", Str),
        AMOUNT = req("amount", Money),
        CURRENCY = req("currency", Currency),
        PREPARER_ID = req("preparer_id", Str),
        APPROVER_ID = opt("approver_id", Str),
        SOURCE = opt("source", Str),
        DESCRIPTION = opt("description", Str),
        CREATED_AT = opt("created_at", Timestamp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_constants_are_the_spec_in_order() {
        let all: [(Table, &[&str]); 8] = [
            (Table::BankTransactions, bank_transactions::ALL),
            (Table::Remittances, remittances::ALL),
            (Table::ArOpenItems, ar_open_items::ALL),
            (Table::BankAccounts, bank_accounts::ALL),
            (Table::Customers, customers::ALL),
            (Table::ApInvoices, ap_invoices::ALL),
            (Table::Vendors, vendors::ALL),
            (Table::GlJournalLines, gl_journal_lines::ALL),
        ];
        for (t, names) in all {
            let spec: Vec<&str> = t.spec().columns.iter().map(|c| c.name).collect();
            assert_eq!(spec, names, "{t}");
        }
        assert_eq!(bank_transactions::TXN_ID, "txn_id");
    }

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
