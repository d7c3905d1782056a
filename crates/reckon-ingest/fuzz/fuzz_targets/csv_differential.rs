#![no_main]
//! Differential fuzz target: reckon's CSV scanner against the `csv` crate.
//!
//! The first byte picks the mode:
//! - even: the rest is a file as found. The scanner must not panic, and where the
//!   file has no quote character (so no recovery rule applies) it must read the
//!   same header, records, field values, field counts and line numbers as the
//!   `csv` crate, refusing the header exactly when the crate's first record has
//!   an empty, duplicate or non-UTF-8 name.
//! - odd: the rest is split into records (0xFF) and fields (0xFE), written by the
//!   `csv` crate's writer (LF or CRLF, quoting as needed / always / non-numeric),
//!   and the scanner must read back exactly what the crate's reader reads.
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/csv.rs"]
mod scanner;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode & 1 == 0 { as_found(rest) } else { written(rest, mode) }
});

/// 1-based line of the record the `csv` crate places at `byte`: every `\r\n`,
/// lone `\r` and lone `\n` before the record's first byte ends a line.
fn line_at(bytes: &[u8], mut byte: usize) -> u64 {
    while byte < bytes.len() && (bytes[byte] == b'\r' || bytes[byte] == b'\n') {
        byte += 1;
    }
    let p = &bytes[..byte];
    let mut lines = 1;
    let mut i = 0;
    while i < p.len() {
        if p[i] == b'\n' || (p[i] == b'\r' && p.get(i + 1) != Some(&b'\n')) {
            lines += 1;
        }
        i += 1;
    }
    lines
}

fn lossy(f: &[u8]) -> String {
    String::from_utf8_lossy(f).into_owned()
}

fn as_found(bytes: &[u8]) {
    let got = scanner::scan(bytes, b',', b'"');
    if bytes.contains(&b'"') || bytes.contains(&0) || bytes.starts_with(b"\xEF\xBB\xBF") {
        // Quote recovery and NUL rules are reckon's own (no second opinion); the
        // scanner must still not panic and must keep its own bookkeeping.
        if let Ok(s) = got {
            check_shape(&s);
        }
        return;
    }
    let mut rd = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    let mut all: Vec<(u64, Vec<Vec<u8>>)> = Vec::new();
    for rec in rd.byte_records() {
        let rec = rec.unwrap_or_else(|e| panic!("csv crate: {e}"));
        let line = line_at(bytes, rec.position().map_or(0, |p| p.byte()) as usize);
        all.push((line, rec.iter().map(<[u8]>::to_vec).collect()));
    }
    let Some((_, header)) = all.first() else {
        assert!(matches!(got, Err(scanner::ScanError::Empty)), "no records, scanner says {got:?}");
        return;
    };
    // The header as reckon reads it: trimmed names, one trailing empty name allowed.
    if header.iter().any(|f| std::str::from_utf8(f).is_err()) {
        assert!(matches!(got, Err(scanner::ScanError::HeaderEncoding)), "{got:?}");
        return;
    }
    // In column order, the first empty name (a trailing one excepted) or repeated
    // name refuses the header.
    let mut names: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, f) in header.iter().enumerate() {
        let name = lossy(f).trim().to_string();
        if name.is_empty() {
            if i + 1 == header.len() && i > 0 {
                continue;
            }
            assert_eq!(got.err(), Some(scanner::ScanError::EmptyHeader(i + 1)));
            return;
        }
        if !seen.insert(name.clone()) {
            assert_eq!(got.err(), Some(scanner::ScanError::DuplicateHeader(name)));
            return;
        }
        names.push(name);
    }
    let got = got.unwrap_or_else(|e| panic!("scanner refused a file the csv crate reads: {e}"));
    assert_eq!(got.header, names);
    compare(&got, &all[1..], bytes);
}

fn written(bytes: &[u8], mode: u8) {
    let rows: Vec<Vec<String>> = bytes
        .split(|b| *b == 0xFF)
        .map(|r| r.split(|b| *b == 0xFE).map(|f| lossy(f).replace('\0', "")).collect())
        .collect();
    let ncol = rows.first().map_or(1, Vec::len).clamp(1, 16);
    let style = match (mode >> 1) % 3 {
        0 => csv::QuoteStyle::Necessary,
        1 => csv::QuoteStyle::Always,
        _ => csv::QuoteStyle::NonNumeric,
    };
    let term = if mode & 8 == 0 { csv::Terminator::Any(b'\n') } else { csv::Terminator::CRLF };
    let mut w = csv::WriterBuilder::new().flexible(true).quote_style(style).terminator(term).from_writer(Vec::new());
    let header: Vec<String> = (0..ncol).map(|i| format!("c{i}")).collect();
    w.write_record(&header).unwrap_or_else(|e| panic!("{e}"));
    for r in &rows {
        w.write_record(r).unwrap_or_else(|e| panic!("{e}"));
    }
    let file = w.into_inner().unwrap_or_else(|e| panic!("{e}"));
    let mut rd = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(&file[..]);
    let mut all: Vec<(u64, Vec<Vec<u8>>)> = Vec::new();
    for rec in rd.byte_records() {
        let rec = rec.unwrap_or_else(|e| panic!("csv crate: {e}"));
        // Quoted fields may hold line breaks, counted like those between records.
        let line = line_at(&file, rec.position().map_or(0, |p| p.byte()) as usize);
        all.push((line, rec.iter().map(<[u8]>::to_vec).collect()));
    }
    let got = scanner::scan(&file, b',', b'"').unwrap_or_else(|e| panic!("{e} in {:?}", lossy(&file)));
    assert_eq!(got.header, header);
    compare(&got, &all[1..], &file);
    assert!(got.records.iter().all(|r| !r.unterminated && !r.bad_utf8 && !r.nul));
}

/// The scanner's records equal the crate's, value by value.
fn compare(got: &scanner::Scanned, want: &[(u64, Vec<Vec<u8>>)], file: &[u8]) {
    check_shape(got);
    let ncol = got.header.len();
    assert_eq!(got.records.len(), want.len(), "records of {:?}", lossy(file));
    for (r, (line, fields)) in want.iter().enumerate() {
        let info = &got.records[r];
        assert_eq!(info.line, *line, "line of record {r} in {:?}", lossy(file));
        let effective = if fields.len() == ncol + 1 && fields[ncol].is_empty() { ncol } else { fields.len() };
        assert_eq!(info.fields, effective, "field count of record {r} in {:?}", lossy(file));
        assert_eq!(info.bad_utf8, fields.iter().any(|f| std::str::from_utf8(f).is_err()));
        for (c, col) in got.columns.iter().enumerate() {
            let expected = fields.get(c).map(|f| lossy(f)).unwrap_or_default();
            assert_eq!(&col[r], expected.as_str(), "record {r} column {c} of {:?}", lossy(file));
        }
    }
}

/// Bookkeeping every scan keeps: one value per column per record, lines increasing.
fn check_shape(s: &scanner::Scanned) {
    assert_eq!(s.columns.len(), s.header.len());
    assert!(s.columns.iter().all(|c| c.len() == s.records.len()));
    assert!(s.records.windows(2).all(|w| w[0].line < w[1].line), "{:?}", s.records);
}
