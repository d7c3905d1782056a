//! The run report's data model, pinned: the bundled sample run at a fixed start
//! time gives `tests/fixtures/report/sample.json` (timings, which vary, and
//! machine paths left out). `RECKON_BLESS=1` rewrites the file and fails, so a
//! blessing run is never mistaken for a pass.

use std::path::Path;

use reckon_pipeline::{Config, RunOptions, run};

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn the_sample_runs_report_data_is_pinned() {
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut opts = RunOptions::new(&repo().join("data/sample"), out.path(), Config::default());
    opts.started_at = chrono::DateTime::parse_from_rfc3339("2026-11-29T00:00:00Z").ok().map(|t| t.to_utc());
    opts.report = true;
    let o = run(&opts).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.path().join("report.html").is_file(), "run --report writes report.html");
    let mut r = reckon_report::Report::from_output(out.path()).unwrap_or_else(|e| panic!("{e}"));
    // What varies by machine and by run.
    r.timings_ms.clear();
    r.run.input_dir = "data/sample".into();
    for m in &mut r.models {
        m.path = Path::new(&m.path).file_name().map_or(String::new(), |f| f.to_string_lossy().into_owned());
    }
    // The report's figures are the manifest's.
    let c = &o.manifest.conservation.bank_transactions;
    assert_eq!(
        (r.conservation.bank_loaded, r.conservation.bank_matched, r.conservation.bank_in_exceptions),
        (c.loaded, c.matched, c.in_exceptions)
    );
    let statuses: std::collections::BTreeMap<String, u64> =
        r.cash.iter().flat_map(|cv| cv.by_status.iter().map(|s| (s.label.clone(), s.count))).collect();
    assert_eq!(statuses, c.receipts);
    assert_eq!(Some(r.exceptions.total), o.manifest.outputs.get("exceptions.jsonl").map(|e| e.rows));

    let got = serde_json::to_string_pretty(&r).unwrap_or_else(|e| panic!("{e}")) + "\n";
    let golden = repo().join("tests/fixtures/report/sample.json");
    if std::env::var_os("RECKON_BLESS").is_some() {
        std::fs::write(&golden, &got).unwrap_or_else(|e| panic!("{e}"));
        panic!("blessed {}; run again without RECKON_BLESS", golden.display());
    }
    let want = std::fs::read_to_string(&golden).unwrap_or_default();
    assert!(
        got == want,
        "report data model differs from {} (RECKON_BLESS=1 to accept):\n{}",
        golden.display(),
        first_diff(&want, &got)
    );
}

fn first_diff(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}: -{x}\n+{y}", i + 1);
        }
    }
    format!("lengths {} vs {}", a.lines().count(), b.lines().count())
}
