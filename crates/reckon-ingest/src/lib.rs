//! reckon-ingest: loads the contract's input tables from CSV and Parquet.
//!
//! Each file is decoded (UTF-8 with or without BOM, or a declared legacy
//! encoding), scanned with source line numbers, mapped onto contract columns by
//! polars expressions (renames, templates, constants), and validated column by
//! column into typed polars columns: money as `Int64` minor units (parsed
//! exactly, never through a float), dates as `Date`, timestamps as UTC
//! `Datetime[μs]`. A bad row becomes a [`reckon_core::Reject`] naming file, line,
//! column and reason; the rest of the file still loads. A file that cannot be
//! used at all is refused with one reject row.

pub mod config;
pub mod csv;
pub mod discover;
pub mod load;
pub mod mapping;
pub mod normalize;
pub mod view;

pub use config::{DateRange, IngestConfig};
pub use discover::{Loaded, load_dir, load_dir_with};
pub use load::{FileReport, LoadedFile, load_file};
pub use mapping::{Mapping, MappingConfig, MappingError};
pub use view::{TableView, ViewError};
