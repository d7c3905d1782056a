//! Reading reckon's own output tables (`matches.parquet`, `journal_scores.parquet`,
//! …) back: a column that must be there, with an error naming it when it is
//! missing, of another type or empty. Input tables are read through
//! [`reckon_ingest::TableView`] instead.

use polars::prelude::*;

/// An output-table column that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("no column {0}")]
    Missing(String),
    #[error("column {column} is {found}, not {expected}")]
    WrongType { column: String, found: String, expected: &'static str },
    #[error("column {column} is empty at row {row}")]
    Null { column: String, row: usize },
}

fn column<'a>(df: &'a DataFrame, c: &str) -> Result<&'a Column, FrameError> {
    df.column(c).map_err(|_| FrameError::Missing(c.to_string()))
}

fn wrong(col: &Column, c: &str, expected: &'static str) -> FrameError {
    FrameError::WrongType { column: c.to_string(), found: col.dtype().to_string(), expected }
}

/// A text column that must be there (nulls read as empty text).
pub fn required_strings(df: &DataFrame, c: &str) -> Result<Vec<String>, FrameError> {
    let col = column(df, c)?;
    let s = col.str().map_err(|_| wrong(col, c, "text"))?;
    Ok(s.iter().map(|v| v.unwrap_or("").to_string()).collect())
}

/// A float column that must be there, without nulls.
pub fn required_f64(df: &DataFrame, c: &str) -> Result<Vec<f64>, FrameError> {
    let col = column(df, c)?;
    let a = col.f64().map_err(|_| wrong(col, c, "f64"))?;
    a.iter().enumerate().map(|(row, v)| v.ok_or_else(|| FrameError::Null { column: c.to_string(), row })).collect()
}

/// An integer column that must be there, without nulls.
pub fn required_i64(df: &DataFrame, c: &str) -> Result<Vec<i64>, FrameError> {
    let col = column(df, c)?;
    let a = col.i64().map_err(|_| wrong(col, c, "i64"))?;
    a.iter().enumerate().map(|(row, v)| v.ok_or_else(|| FrameError::Null { column: c.to_string(), row })).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_column_that_cannot_be_read() {
        let df = df!("txn_id" => ["T1", "T2"], "confidence" => [Some(0.5), None], "n" => [1i64, 2]).unwrap_or_default();
        assert_eq!(required_strings(&df, "txn_id"), Ok(vec!["T1".to_string(), "T2".to_string()]));
        assert_eq!(required_i64(&df, "n"), Ok(vec![1, 2]));
        assert_eq!(required_strings(&df, "txn").map_err(|e| e.to_string()), Err("no column txn".to_string()));
        assert_eq!(
            required_f64(&df, "confidence").map_err(|e| e.to_string()),
            Err("column confidence is empty at row 1".to_string())
        );
        assert!(matches!(required_strings(&df, "n"), Err(FrameError::WrongType { .. })));
    }
}
