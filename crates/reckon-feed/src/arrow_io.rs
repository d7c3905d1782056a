//! The feed as columnar files for consumers: Arrow IPC (`exceptions.arrow`) and
//! Parquet with schema metadata (`exceptions.parquet`: contract version, run id,
//! producer), written with arrow-rs from a `RecordBatch` (which the pipeline
//! builds from its polars frame through the Arrow C Data Interface, no copy).

use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;

use crate::FeedError;

fn err(path: &Path, e: impl std::fmt::Display) -> FeedError {
    FeedError::Outbox(path.to_path_buf(), e.to_string())
}

/// The batch with `metadata` on its schema.
pub fn with_metadata(batch: &RecordBatch, metadata: &[(&str, &str)]) -> Result<RecordBatch, FeedError> {
    let md: std::collections::HashMap<String, String> =
        metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let schema = Arc::new(Schema::new_with_metadata(batch.schema().fields().clone(), md));
    batch.clone().with_schema(schema).map_err(|e| FeedError::Config(e.to_string()))
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
