//! Six generated days against one state store with the simulated analyst:
//! the chain ties out every day, no problem is raised twice as new, receipts
//! whose invoice or advice arrives late are matched on arrival, a payer's trade
//! name is never matched automatically before a person confirmed it, and wrong
//! decisions that are undone reopen their exceptions. (That a confirmed name is
//! then used, with its provenance, is `reckon-pipeline/tests/state.rs`.)

use reckon_lab::simulate::{SimConfig, simulate};

#[test]
fn six_days_with_an_analyst() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let days = tmp.path().join("days");
    let cfg = reckon_synth::Config::new(11, 6000);
    reckon_synth::days::write_days(&days, &cfg, 6).unwrap_or_else(|e| panic!("{e}"));
    let out = tmp.path().join("sim");
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{e}"));
    let sim = SimConfig { wrong_permille: 150, undo_permille: 1000, ..SimConfig::default() };
    let rows = simulate(&days, &out, &out.join("state.db"), &sim).unwrap_or_else(|e| panic!("{e}"));
    let table = reckon_lab::simulate::table(&rows);
    assert_eq!(rows.len(), 6, "{table}");
    for r in &rows {
        assert!(r.chain_balanced, "day {}: chain not balanced\n{table}", r.day);
        assert_eq!(r.raised_twice, 0, "day {}: a problem raised twice as new\n{table}", r.day);
        // A trade name is nothing like the customer's name: without a person's
        // confirmation no similarity finds it.
        assert_eq!(r.trade_name_auto, r.trade_name_known_auto, "day {}\n{table}", r.day);
    }
    let late: u64 = rows.iter().map(|r| r.late_arrivals).sum();
    let on_arrival: u64 = rows.iter().map(|r| r.matched_on_arrival).sum();
    assert!(late >= 50, "{table}");
    assert!(
        on_arrival as f64 >= 0.85 * late as f64,
        "{on_arrival} of {late} late arrivals matched on arrival\n{table}"
    );
    assert!(rows.iter().map(|r| r.carried_applied).sum::<u64>() > 0, "{table}");
    assert!(rows.iter().map(|r| r.undo_sent).sum::<u64>() > 0, "{table}");
    assert!(rows.iter().map(|r| r.exceptions_reopened).sum::<u64>() > 0, "undone matches reopen\n{table}");
    assert!(rows.iter().map(|r| r.decisions_applied).sum::<u64>() > 50, "{table}");
}
