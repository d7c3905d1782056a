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

/// Trends across runs: three runs of the sample (the second without some bank
/// entries) on days 1, 5 and 20. New and no-longer-raised exceptions are the set
/// differences of consecutive feeds; the third run's exceptions were first
/// raised on day 1, so they are 19 days old; the same matches give no drift.
#[test]
fn trends_across_runs() {
    let sample = repo().join("data/sample");
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let partial = t.path().join("partial");
    std::fs::create_dir_all(&partial).unwrap_or_else(|e| panic!("{e}"));
    for e in std::fs::read_dir(&sample).unwrap_or_else(|e| panic!("{e}")).flatten() {
        if e.path().is_file() {
            let text = std::fs::read_to_string(e.path()).unwrap_or_else(|e| panic!("{e}"));
            let text = if e.file_name() == "bank_transactions.csv" {
                let lines: Vec<&str> = text.lines().collect();
                lines[..lines.len() - 60].join("\n") + "\n"
            } else {
                text
            };
            std::fs::write(partial.join(e.file_name()), text).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let runs = t.path().join("runs");
    let mut dirs = Vec::new();
    for (day, input) in [("01", &sample), ("05", &partial), ("20", &sample)] {
        let out = runs.join(format!("2026-11-{day}"));
        let mut opts = RunOptions::new(input, &out, Config::default());
        opts.started_at =
            chrono::DateTime::parse_from_rfc3339(&format!("2026-11-{day}T06:00:00Z")).ok().map(|t| t.to_utc());
        run(&opts).unwrap_or_else(|e| panic!("{e}"));
        dirs.push(out);
    }
    let ids = |d: &Path| -> std::collections::BTreeSet<String> {
        std::fs::read_to_string(d.join("exceptions.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["id"].as_str().map(str::to_string))
            .collect()
    };
    let sets: Vec<_> = dirs.iter().map(|d| ids(d)).collect();
    assert!(sets[1].len() < sets[0].len(), "the partial run raises fewer exceptions");
    let folders = reckon_report::run_folders(&runs).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(folders, dirs);
    let r = reckon_report::Report::from_output(&dirs[2])
        .and_then(|r| r.with_history(&folders))
        .unwrap_or_else(|e| panic!("{e}"));
    let tr = r.trends.as_ref().unwrap_or_else(|| panic!("no trends"));
    assert_eq!(tr.runs.len(), 3);
    for i in 1..3 {
        assert_eq!(tr.runs[i].new as usize, sets[i].difference(&sets[i - 1]).count(), "new in run {i}");
        assert_eq!(tr.runs[i].gone as usize, sets[i - 1].difference(&sets[i]).count(), "gone in run {i}");
        assert_eq!(tr.runs[i].exceptions as usize, sets[i].len());
    }
    assert!(tr.runs[1].gone > 0 && tr.runs[2].new > 0);
    let aged: u64 = tr.aging.iter().map(|(_, b)| b[2]).sum();
    assert_eq!(aged as usize, sets[2].len(), "every exception of day 20 was first raised on day 1: {:?}", tr.aging);
    assert_eq!(tr.runs[2].confidence_psi, Some(0.0), "the same matches: no drift");
    assert!(tr.runs[0].touchless > 0.5);
    let html = reckon_report::render(&r);
    assert!(html.contains("<section id=\"trends\"") && html.contains("data-metric=\"trends.runs\">3<"));
}
