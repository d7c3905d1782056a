#![no_main]
//! Fuzz target: the mt940 parser must return rows or an error for any bytes, never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = reckon_formats::mt940::parse(data);
});
