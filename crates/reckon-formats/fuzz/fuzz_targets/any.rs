#![no_main]
//! Fuzz target: detection plus whichever parser it picks, as ingestion calls them.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = reckon_formats::parse(data);
    let _ = reckon_formats::mt940::statements(data);
    let _ = reckon_formats::camt::document(data);
});
