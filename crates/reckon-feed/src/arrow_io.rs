//! The feed as columnar files for consumers: Arrow IPC (`exceptions.arrow`) and
//! Parquet with schema metadata (`exceptions.parquet`: contract version, run id,
//! producer), written with arrow-rs from a `RecordBatch` that
//! [`exceptions_batch`] builds straight from the exceptions with arrow-rs array
//! builders (text as `Utf8View`, as polars writes text).

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int32Array, RecordBatch, StringViewArray};
use arrow::datatypes::{DataType, Field, Schema};

use crate::{Exception, FeedError};

/// The exceptions as one record batch, one row each in order: `exception_id`,
/// `run_id`, `kind`, `band`, `score`, `confidence`, `entity`, `currency`,
/// `amount`, `records` (`|`-separated), `reasons` (JSON), `recommended_action`,
/// `model`, `priority`.
pub fn exceptions_batch(ex: &[Exception]) -> Result<RecordBatch, FeedError> {
    let text = |f: &dyn Fn(&Exception) -> String| -> ArrayRef {
        Arc::new(ex.iter().map(|e| Some(f(e))).collect::<StringViewArray>())
    };
    let opt = |f: &dyn Fn(&Exception) -> Option<&str>| -> ArrayRef {
        Arc::new(ex.iter().map(f).collect::<StringViewArray>())
    };
    let reasons = ex
        .iter()
        .map(|e| serde_json::to_string(&e.reasons).map(Some))
        .collect::<Result<StringViewArray, _>>()
        .map_err(|e| FeedError::Table(format!("reasons: {e}")))?;
    let columns: Vec<(&str, DataType, ArrayRef)> = vec![
        ("exception_id", DataType::Utf8View, text(&|e| e.exception_id.clone())),
        ("run_id", DataType::Utf8View, text(&|e| e.run_id.clone())),
        ("kind", DataType::Utf8View, text(&|e| e.kind.as_str().to_string())),
        ("band", DataType::Utf8View, text(&|e| e.band.as_str().to_string())),
        ("score", DataType::Float64, Arc::new(ex.iter().map(|e| e.score).collect::<Float64Array>())),
        ("confidence", DataType::Float64, Arc::new(ex.iter().map(|e| e.confidence).collect::<Float64Array>())),
        ("entity", DataType::Utf8View, opt(&|e| e.entity.as_deref())),
        ("currency", DataType::Utf8View, opt(&|e| e.currency.as_deref())),
        ("amount", DataType::Utf8View, opt(&|e| e.amount.as_deref())),
        ("records", DataType::Utf8View, text(&|e| e.records.join("|"))),
        ("reasons", DataType::Utf8View, Arc::new(reasons)),
        ("recommended_action", DataType::Utf8View, text(&|e| e.recommended_action.clone())),
        ("model", DataType::Utf8View, opt(&|e| e.model.as_deref())),
        ("priority", DataType::Int32, Arc::new(ex.iter().map(|e| i32::from(e.priority)).collect::<Int32Array>())),
        // The lifecycle (empty without a state store).
        ("state", DataType::Utf8View, opt(&|e| e.lifecycle.as_ref().map(|l| l.state.as_str()))),
        ("first_seen", DataType::Utf8View, opt(&|e| e.lifecycle.as_ref().map(|l| l.first_seen.as_str()))),
        (
            "age_days",
            DataType::Int32,
            Arc::new(
                ex.iter()
                    .map(|e| e.lifecycle.as_ref().map(|l| i32::try_from(l.age_days).unwrap_or(i32::MAX)))
                    .collect::<Int32Array>(),
            ),
        ),
        (
            "sla_breached",
            DataType::Boolean,
            Arc::new(ex.iter().map(|e| e.lifecycle.as_ref().map(|l| l.sla_breached)).collect::<BooleanArray>()),
        ),
    ];
    let schema = Schema::new(columns.iter().map(|(n, t, _)| Field::new(*n, t.clone(), true)).collect::<Vec<_>>());
    RecordBatch::try_new(Arc::new(schema), columns.into_iter().map(|(_, _, a)| a).collect())
        .map_err(|e| FeedError::Table(e.to_string()))
}

fn err(path: &Path, e: impl std::fmt::Display) -> FeedError {
    FeedError::Outbox(path.to_path_buf(), e.to_string())
}

/// The batch with `metadata` on its schema.
pub fn with_metadata(batch: &RecordBatch, metadata: &[(&str, &str)]) -> Result<RecordBatch, FeedError> {
    let md: std::collections::HashMap<String, String> =
        metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let schema = Arc::new(Schema::new_with_metadata(batch.schema().fields().clone(), md));
    batch.clone().with_schema(schema).map_err(|e| FeedError::Table(e.to_string()))
}

/// Writes an Arrow IPC file.
pub fn write_ipc(path: &Path, batch: &RecordBatch) -> Result<(), FeedError> {
    let f = std::fs::File::create(path).map_err(|e| err(path, e))?;
    let mut w = arrow::ipc::writer::FileWriter::try_new(f, &batch.schema()).map_err(|e| err(path, e))?;
    w.write(batch).map_err(|e| err(path, e))?;
    w.finish().map_err(|e| err(path, e))
}

/// Writes Parquet (zstd) with the schema's metadata as key–value metadata.
pub fn write_parquet(path: &Path, batch: &RecordBatch) -> Result<(), FeedError> {
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::WriterProperties;
    let f = std::fs::File::create(path).map_err(|e| err(path, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_created_by(concat!("reckon ", env!("CARGO_PKG_VERSION")).to_string())
        .build();
    let mut w = ArrowWriter::try_new(f, batch.schema(), Some(props)).map_err(|e| err(path, e))?;
    w.write(batch).map_err(|e| err(path, e))?;
    w.close().map_err(|e| err(path, e))?;
    Ok(())
}
