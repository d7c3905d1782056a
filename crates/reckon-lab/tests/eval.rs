//! `reckon eval` on a run: ambiguous receipts offer their candidates, and a
//! right candidate counts as found in a band.

use polars::prelude::{ParquetReader, SerReader};
use reckon_pipeline::{Config, RunOptions, run};

/// An ambiguous receipt's exception carries the candidate open items (so the
/// workflow can offer the choice), `receipt_outcomes.parquet` lists the candidate
/// groups, and `reckon eval` counts a right candidate as found in a band — next
/// to, not instead of, recall of proposed groups.
#[test]
fn ambiguous_receipts_offer_their_candidates() {
    let input = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    reckon_synth::generate(input.path(), &reckon_synth::Config::new(9, 3000)).unwrap_or_else(|e| panic!("{e}"));
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    run(&RunOptions::new(input.path(), out.path(), Config::default())).unwrap_or_else(|e| panic!("{e}"));
    let ev: Vec<serde_json::Value> = std::fs::read_to_string(out.path().join("exceptions.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let amb: Vec<&serde_json::Value> = ev.iter().filter(|e| e["data"]["kind"] == "ambiguous_match").collect();
    assert!(!amb.is_empty(), "the scenario has ambiguity traps");
    for e in &amb {
        let recs: Vec<&str> =
            e["data"]["records"].as_array().map(|a| a.iter().filter_map(|v| v.as_str()).collect()).unwrap_or_default();
        assert!(recs[0].starts_with("bank_transactions:"));
        assert!(recs.iter().filter(|r| r.starts_with("ar_open_items:")).count() >= 1, "{recs:?}");
    }
    let o = ParquetReader::new(
        std::fs::File::open(out.path().join("receipt_outcomes.parquet")).unwrap_or_else(|e| panic!("{e}")),
    )
    .finish()
    .unwrap_or_else(|e| panic!("{e}"));
    let text = |c: &str| -> Vec<String> {
        o.column(c)
            .and_then(|c| c.str().map(|s| s.iter().map(|v| v.unwrap_or("").to_string()).collect()))
            .unwrap_or_else(|e| panic!("receipt_outcomes.parquet {c} must be text: {e}"))
    };
    let (status, cands) = (text("status"), text("candidates"));
    assert!(o.height() > 0);
    assert_eq!((status.len(), cands.len()), (o.height(), o.height()));
    assert!(status.iter().any(|s| s == "ambiguous"));
    for (s, c) in status.iter().zip(&cands) {
        assert_eq!(s == "ambiguous", !c.is_empty(), "{s}: '{c}'");
    }
    let e = reckon_lab::eval::cash(out.path(), &input.path().join("truth")).unwrap_or_else(|e| panic!("{e}"));
    let trap = &e.by_pattern["ambiguous_trap"];
    assert!(trap.in_candidates > 0, "{trap:?}");
    assert!(e.recall_any_band > e.recall_proposed);
}
