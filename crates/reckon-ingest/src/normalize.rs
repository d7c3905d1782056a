//! The contract view of a loaded table: money back to exact decimal text.
//!
//! In memory money is `Int64` minor units; `normalized/<table>.parquet` and the
//! snapshot tests show it as the contract's decimal string (so a normalized file
//! is itself valid contract input) with the minor units beside it as
//! `<column>_minor`.

use polars::prelude::*;
use reckon_core::{ColumnType, Currency, Table, format_minor};

/// Converts money columns of a loaded table to decimal text (+ `<col>_minor`).
pub fn contract_view(table: Table, df: &DataFrame) -> PolarsResult<DataFrame> {
    let spec = table.spec();
    let n = df.height();
    let exps_of = |col: &str| -> PolarsResult<Vec<u8>> {
        Ok(match df.column(col) {
            Ok(c) => c.str()?.iter().map(|v| v.and_then(Currency::parse).map_or(2, |c| c.exponent())).collect(),
            Err(_) => vec![2; n],
        })
    };
    let mut cols: Vec<Column> = Vec::with_capacity(df.width() + 2);
    for c in df.columns() {
        let Some(money) = spec.column(c.name()).filter(|s| s.ty == ColumnType::Money) else {
            cols.push(c.clone());
            continue;
        };
        let exps = exps_of(money.currency)?;
        let minor = c.i64()?;
        let text: Vec<Option<String>> = minor.iter().zip(&exps).map(|(m, e)| m.map(|m| format_minor(m, *e))).collect();
        cols.push(Column::new(c.name().clone(), text));
        let mut m = c.clone();
        m.rename(format!("{}_minor", c.name()).into());
        cols.push(m);
    }
    DataFrame::new(n, cols)
}

/// Renders a frame as CSV text (for snapshots and small reports).
pub fn to_csv_string(df: &DataFrame) -> PolarsResult<String> {
    let mut buf = Vec::new();
    let mut df = df.clone();
    CsvWriter::new(&mut buf).include_header(true).finish(&mut df)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}
