//! Typed reads of a loaded contract table.
//!
//! A [`TableView`] reads a loaded frame's columns by their contract names
//! ([`reckon_core::col`]) and checks each read against the contract: asking for
//! a column the table does not have, a required column missing from the frame,
//! or a column of another type is a [`ViewError`] naming table and column. An
//! optional column a file did not carry reads as blanks, which is what the
//! contract says it means. Nothing reads as blanks by accident.

use polars::prelude::*;
use reckon_core::{ColumnSpec, ColumnType, Table};

/// A column read that the contract does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    #[error("{table}: {column} is not a column of the contract's table")]
    NotInContract { table: Table, column: String },
    #[error("{table}: required column {column} was not loaded")]
    Missing { table: Table, column: &'static str },
    #[error("{table}.{column}: read as {wanted}, but the contract types it {declared:?}")]
    WrongKind { table: Table, column: &'static str, wanted: &'static str, declared: ColumnType },
    #[error("{table}.{column}: loaded as {found}, expected {expected}")]
    WrongType { table: Table, column: &'static str, found: String, expected: &'static str },
}

/// One loaded table, read by contract column.
#[derive(Clone, Copy, Debug)]
pub struct TableView<'a> {
    table: Table,
    df: &'a DataFrame,
}

impl<'a> TableView<'a> {
    pub fn new(table: Table, df: &'a DataFrame) -> Self {
        TableView { table, df }
    }

    pub fn table(&self) -> Table {
        self.table
    }

    /// Rows in the table.
    pub fn height(&self) -> usize {
        self.df.height()
    }

    /// The frame itself, for engines that read polars arrays directly.
    pub fn frame(&self) -> &'a DataFrame {
        self.df
    }

    /// The contract's spec of `name`, checked to be one of `kinds`.
    fn spec(&self, name: &str, wanted: &'static str, kinds: &[ColumnType]) -> Result<&'static ColumnSpec, ViewError> {
        let spec = self
            .table
            .spec()
            .column(name)
            .ok_or_else(|| ViewError::NotInContract { table: self.table, column: name.to_string() })?;
        if !kinds.contains(&spec.ty) {
            return Err(ViewError::WrongKind { table: self.table, column: spec.name, wanted, declared: spec.ty });
        }
        Ok(spec)
    }

    /// The frame's column, `None` for an optional column the file did not carry.
    fn column(&self, spec: &'static ColumnSpec) -> Result<Option<&'a Column>, ViewError> {
        match self.df.column(spec.name) {
            Ok(c) => Ok(Some(c)),
            Err(_) if spec.required => Err(ViewError::Missing { table: self.table, column: spec.name }),
            Err(_) => Ok(None),
        }
    }

    fn wrong(&self, spec: &'static ColumnSpec, c: &Column, expected: &'static str) -> ViewError {
        ViewError::WrongType { table: self.table, column: spec.name, found: c.dtype().to_string(), expected }
    }

    /// A text column (text, currency code, `|`-list or timestamp text); empty
    /// strings where the value or the optional column is absent.
    pub fn text(&self, name: &str) -> Result<Vec<String>, ViewError> {
        let spec = self.spec(name, "text", &[ColumnType::Str, ColumnType::Currency, ColumnType::List])?;
        let Some(c) = self.column(spec)? else { return Ok(vec![String::new(); self.height()]) };
        let s = c.str().map_err(|_| self.wrong(spec, c, "String"))?;
        Ok(s.iter().map(|v| v.unwrap_or("").to_string()).collect())
    }

    /// A text column as [`TableView::text`] reads it, borrowed from the frame.
    pub fn strs(&self, name: &str) -> Result<Vec<&'a str>, ViewError> {
        let spec = self.spec(name, "text", &[ColumnType::Str, ColumnType::Currency, ColumnType::List])?;
        let Some(c) = self.column(spec)? else { return Ok(vec![""; self.height()]) };
        let s = c.str().map_err(|_| self.wrong(spec, c, "String"))?;
        Ok(s.iter().map(|v| v.unwrap_or("")).collect())
    }

    /// A `|`-separated list column, split and trimmed.
    pub fn list(&self, name: &str) -> Result<Vec<Vec<String>>, ViewError> {
        let spec = self.spec(name, "a list", &[ColumnType::List])?;
        let Some(c) = self.column(spec)? else { return Ok(vec![Vec::new(); self.height()]) };
        let s = c.str().map_err(|_| self.wrong(spec, c, "String"))?;
        Ok(s.iter()
            .map(|v| v.unwrap_or("").split('|').map(str::trim).filter(|x| !x.is_empty()).map(str::to_string).collect())
            .collect())
    }

    /// A money column in integer minor units of its row's currency.
    pub fn minor(&self, name: &str) -> Result<Vec<Option<i64>>, ViewError> {
        let spec = self.spec(name, "money", &[ColumnType::Money])?;
        self.int64(spec)
    }

    /// An integer column.
    pub fn int(&self, name: &str) -> Result<Vec<Option<i64>>, ViewError> {
        let spec = self.spec(name, "an integer", &[ColumnType::Int])?;
        self.int64(spec)
    }

    fn int64(&self, spec: &'static ColumnSpec) -> Result<Vec<Option<i64>>, ViewError> {
        let Some(c) = self.column(spec)? else { return Ok(vec![None; self.height()]) };
        let a = c.i64().map_err(|_| self.wrong(spec, c, "Int64"))?;
        Ok(a.iter().collect())
    }

    /// A date column as days since 1970-01-01.
    pub fn day(&self, name: &str) -> Result<Vec<Option<i32>>, ViewError> {
        let spec = self.spec(name, "a date", &[ColumnType::Date])?;
        let Some(c) = self.column(spec)? else { return Ok(vec![None; self.height()]) };
        if !matches!(c.dtype(), DataType::Date) {
            return Err(self.wrong(spec, c, "Date"));
        }
        let days = c.cast(&DataType::Int32).map_err(|_| self.wrong(spec, c, "Date"))?;
        let a = days.i32().map_err(|_| self.wrong(spec, c, "Date"))?;
        Ok(a.iter().collect())
    }

    /// The raw polars column of a contract column (`None` when optional and absent).
    pub fn raw(&self, name: &str) -> Result<Option<&'a Column>, ViewError> {
        let spec = self.spec(
            name,
            "a column",
            &[
                ColumnType::Str,
                ColumnType::Date,
                ColumnType::Timestamp,
                ColumnType::Money,
                ColumnType::Currency,
                ColumnType::Int,
                ColumnType::List,
            ],
        )?;
        self.column(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reckon_core::col::{bank_transactions as bt, customers as cu};

    fn bank() -> DataFrame {
        df!(
            bt::TXN_ID => ["T1", "T2"],
            bt::AMOUNT => [Some(150i64), None],
            bt::CURRENCY => ["EUR", "EUR"],
        )
        .unwrap_or_default()
    }

    #[test]
    fn reads_by_contract_column() {
        let df = bank();
        let v = TableView::new(Table::BankTransactions, &df);
        assert_eq!(v.text(bt::TXN_ID), Ok(vec!["T1".to_string(), "T2".to_string()]));
        assert_eq!(v.minor(bt::AMOUNT), Ok(vec![Some(150), None]));
        // Optional and not loaded: blanks, as the contract says.
        assert_eq!(v.text(bt::REFERENCE), Ok(vec![String::new(), String::new()]));
        assert_eq!(v.day(bt::VALUE_DATE), Ok(vec![None, None]));
    }

    #[test]
    fn refuses_what_the_contract_does_not_allow() {
        let df = bank();
        let v = TableView::new(Table::BankTransactions, &df);
        assert!(matches!(v.text("referense"), Err(ViewError::NotInContract { .. })));
        assert!(matches!(v.day(bt::BOOKING_DATE), Err(ViewError::Missing { column: "booking_date", .. })));
        assert!(matches!(v.minor(bt::TXN_ID), Err(ViewError::WrongKind { .. })));
        let bad = df!(bt::TXN_ID => [1i64]).unwrap_or_default();
        let v = TableView::new(Table::BankTransactions, &bad);
        let e = v.text(bt::TXN_ID).err();
        assert!(matches!(e, Some(ViewError::WrongType { .. })), "{e:?}");
        assert_eq!(
            e.map(|e| e.to_string()).unwrap_or_default(),
            "bank_transactions.txn_id: loaded as i64, expected String"
        );
    }

    #[test]
    fn splits_lists() {
        let df = df!(cu::CUSTOMER_ID => ["C1"], cu::NAME => ["Acme"], cu::ALIASES => [" ACME GMBH | Acme Ltd|"])
            .unwrap_or_default();
        let v = TableView::new(Table::Customers, &df);
        assert_eq!(v.list(cu::ALIASES), Ok(vec![vec!["ACME GMBH".to_string(), "Acme Ltd".to_string()]]));
        assert_eq!(v.list(cu::IBANS), Ok(vec![Vec::<String>::new()]));
    }
}
