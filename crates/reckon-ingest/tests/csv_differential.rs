//! reckon's CSV scanner against the `csv` crate (the reference implementation
//! of RFC 4180 in Rust) on random well-formed files: the same records, the
//! same fields, the same starting line of each record, whatever the quoting,
//! embedded delimiters, quotes and line breaks (LF and CRLF), ragged rows.

use proptest::prelude::*;

fn field() -> impl Strategy<Value = String> {
    // Text, delimiters, quotes, line breaks, spaces and non-ASCII.
    proptest::collection::vec(
        prop_oneof![
            4 => "[a-zA-Z0-9]{1,6}",
            1 => Just(",".to_string()),
            1 => Just("\"".to_string()),
            1 => Just("\n".to_string()),
            1 => Just("\r\n".to_string()),
            1 => Just(" ".to_string()),
            1 => Just("ü€".to_string()),
        ],
        0..5,
    )
    .prop_map(|parts| parts.concat())
}

fn file() -> impl Strategy<Value = (usize, Vec<Vec<String>>, bool)> {
    (1usize..5).prop_flat_map(|ncol| {
        (Just(ncol), proptest::collection::vec(proptest::collection::vec(field(), 1..ncol + 2), 0..12), any::<bool>())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn scanner_agrees_with_the_csv_crate((ncol, rows, crlf) in file()) {
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .terminator(if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') })
            .from_writer(Vec::new());
        let header: Vec<String> = (0..ncol).map(|i| format!("c{i}")).collect();
        w.write_record(&header).unwrap_or_else(|e| panic!("{e}"));
        // A record of one empty field is written as `""`: the csv crate's way of
        // telling it from a blank line, which both readers skip.
        for r in &rows {
            w.write_record(r).unwrap_or_else(|e| panic!("{e}"));
        }
        let bytes = w.into_inner().unwrap_or_else(|e| panic!("{e}"));

        let mut rd = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(&bytes[..]);
        let mut want: Vec<(u64, Vec<String>)> = Vec::new();
        for rec in rd.records() {
            let rec = rec.unwrap_or_else(|e| panic!("{e}"));
            // The record's line from its byte offset (the csv crate's own line counter
            // is one short after a CRLF terminator) …
            let mut byte = rec.position().map_or(0, |p| p.byte()) as usize;
            // … and its offset may point at the LF of the CRLF before the record.
            if bytes.get(byte) == Some(&b'\n') && byte > 0 && bytes[byte - 1] == b'\r' {
                byte += 1;
            }
            let line = 1 + bytes[..byte].iter().filter(|b| **b == b'\n').count() as u64;
            want.push((line, rec.iter().map(str::to_string).collect()));
        }
        let got = reckon_ingest::csv::scan(&bytes, b',', b'"').unwrap_or_else(|e| panic!("{e}"));
        prop_assert_eq!(&got.header, &header);
        prop_assert_eq!(got.records.len(), want.len(), "records of {:?}", String::from_utf8_lossy(&bytes));
        for (r, (line, fields)) in want.iter().enumerate() {
            let info = &got.records[r];
            prop_assert_eq!(info.line, *line, "line of record {} in {:?}", r, String::from_utf8_lossy(&bytes));
            let effective = if fields.len() == ncol + 1 && fields[ncol].is_empty() { ncol } else { fields.len() };
            prop_assert_eq!(info.fields, effective, "field count of record {}", r);
            prop_assert!(!info.unterminated && !info.bad_utf8 && !info.nul);
            for (c, col) in got.columns.iter().enumerate() {
                let expected = fields.get(c).cloned().unwrap_or_default();
                prop_assert_eq!(&col[r], expected.as_str(), "record {} column {} of {:?}", r, c, String::from_utf8_lossy(&bytes));
            }
        }
    }
}
