//! polars → arrow-rs through the Arrow C Data Interface: each column's buffers
//! are exported by polars-arrow as the C `ArrowArray`/`ArrowSchema` structs and
//! imported by arrow-rs without copying. The only `unsafe` in reckon: both sides
//! implement the same C ABI (the structs are `repr(C)` and identical by the
//! spec), and ownership passes with the release callback, as the interface
//! defines.
#![allow(unsafe_code)]

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, make_array};
use arrow::datatypes::{Field, Schema};
use arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema, from_ffi};
use polars::prelude::*;

/// The frame as one arrow-rs record batch (one chunk per column).
pub fn record_batch(df: &DataFrame) -> Result<RecordBatch, String> {
    let mut fields = Vec::with_capacity(df.width());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(df.width());
    for col in df.columns() {
        let s = col.as_materialized_series().rechunk();
        let array = s.to_arrow(0, CompatLevel::newest());
        let field = s.field().to_arrow(CompatLevel::newest());
        let c_array = polars_arrow::ffi::export_array_to_c(array);
        let c_schema = polars_arrow::ffi::export_field_to_c(&field);
        // SAFETY: both are the Arrow C Data Interface structs (`repr(C)`, same fields
        // in the same order, by the specification); size equality is checked by
        // `transmute` at compile time. The release callbacks travel with them.
        let (a, sch): (FFI_ArrowArray, FFI_ArrowSchema) = unsafe {
            (
                std::mem::transmute::<polars_arrow::ffi::ArrowArray, FFI_ArrowArray>(c_array),
                std::mem::transmute::<polars_arrow::ffi::ArrowSchema, FFI_ArrowSchema>(c_schema),
            )
        };
        // SAFETY: `a` and `sch` are valid, freshly exported C Data Interface values.
        let data = unsafe { from_ffi(a, &sch) }.map_err(|e| format!("column {}: {e}", s.name()))?;
        fields.push(Field::try_from(&sch).map_err(|e| format!("column {}: {e}", s.name()))?);
        arrays.push(make_array(data));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| e.to_string())
}
