//! Six generated days against one state store with the simulated analyst:
//! the chain ties out every day, no problem is raised twice as new, receipts
//! are matched on the day the last of their late invoices and advice arrives, a payer's trade
//! name is never matched automatically before a person confirmed it, and wrong
//! decisions that are undone reopen their exceptions. (That a confirmed name is
//! then used, with its provenance, is `reckon-pipeline/tests/state.rs`.)

use reckon_lab::simulate::{SimConfig, simulate};

#[test]
fn six_days_with_an_analyst() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let days = tmp.path().join("days");
    let cfg = reckon_synth::Config::new(11, 6000);
    reckon_synth::days::write_days(&days, &cfg, 6, reckon_synth::days::THIRD_PARTY_PERMILLE)
        .unwrap_or_else(|e| panic!("{e}"));
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
    // A receipt counts on the day its last late piece arrives; what is not
    // matched then is ambiguous or for a person (179 of 184 on 2026-12-01).
    assert!(
        on_arrival as f64 >= 0.95 * late as f64,
        "{on_arrival} of {late} late arrivals matched on arrival\n{table}"
    );
    // Those not matched and put to a person with the group of their true items
    // are counted apart, never beside a match of the same day.
    // Every late arrival not matched is held, ambiguous or without candidate.
    for r in &rows {
        assert!(r.matched_on_arrival + r.proposed_on_arrival <= r.late_arrivals, "day {}\n{table}", r.day);
        assert_eq!(
            r.waiting_review + r.waiting_ambiguous + r.waiting_unmatched,
            r.late_arrivals - r.matched_on_arrival,
            "day {}\n{table}",
            r.day
        );
        assert!(r.proposed_on_arrival <= r.waiting_review + r.waiting_ambiguous, "day {}\n{table}", r.day);
    }
    assert!(rows.iter().map(|r| r.carried_applied).sum::<u64>() > 0, "{table}");
    assert!(rows.iter().map(|r| r.undo_sent).sum::<u64>() > 0, "{table}");
    assert!(rows.iter().map(|r| r.exceptions_reopened).sum::<u64>() > 0, "undone matches reopen\n{table}");
    assert!(rows.iter().map(|r| r.decisions_applied).sum::<u64>() > 50, "{table}");
}

/// The same six days with the same analyst end in the same state on
/// PostgreSQL as on SQLite (when `RECKON_TEST_POSTGRES` names a server; CI
/// starts one and requires it).
#[test]
fn six_days_end_alike_on_sqlite_and_postgres() {
    let Ok(url) = std::env::var("RECKON_TEST_POSTGRES") else {
        assert!(std::env::var_os("CI").is_none(), "CI runs the store's tests on PostgreSQL: set RECKON_TEST_POSTGRES");
        eprintln!("skipped on PostgreSQL: RECKON_TEST_POSTGRES is not set");
        return;
    };
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| panic!("{url}: {e}"));
    // Two statements: CREATE DATABASE cannot share a transaction.
    admin
        .batch_execute("DROP DATABASE IF EXISTS reckon_six_days WITH (FORCE)")
        .and_then(|()| admin.batch_execute("CREATE DATABASE reckon_six_days"))
        .unwrap_or_else(|e| panic!("{e}"));
    let pg =
        std::path::PathBuf::from(format!("{}/reckon_six_days", url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b)));
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let days = tmp.path().join("days");
    reckon_synth::days::write_days(
        &days,
        &reckon_synth::Config::new(12, 3000),
        4,
        reckon_synth::days::THIRD_PARTY_PERMILLE,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let sim = SimConfig { wrong_permille: 150, undo_permille: 1000, ..SimConfig::default() };
    let mut states = Vec::new();
    for (name, state) in [("lite", tmp.path().join("state.db")), ("pg", pg)] {
        let out = tmp.path().join(name);
        std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{e}"));
        let rows = simulate(&days, &out, &state, &sim).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(rows.iter().all(|r| r.chain_balanced), "{name}");
        states
            .push(reckon_state::Store::open(&state).and_then(|mut s| s.canonical()).unwrap_or_else(|e| panic!("{e}")));
    }
    for (table, rows) in states[0].as_object().into_iter().flatten() {
        assert_eq!(&states[1][table], rows, "{table} differs between SQLite and PostgreSQL");
    }
    assert!(states[0]["decisions"].as_array().is_some_and(|d| d.len() > 10), "{}", states[0]["decisions"]);
}

/// Days where a parent pays for one customer in five under its own master
/// name and account: with the parent recorded in the customers' masters
/// (`payer_ids`) its payments clear as the customers' own from day 1, and
/// rightly; with `payer_ids` left empty they are another customer's and wait
/// for a person on day 1, and clear from the day after a person matched one
/// (a payer people confirmed, kept by the store).
#[test]
fn parents_the_customer_master_permits() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let days = tmp.path().join("days");
    let opts = reckon_synth::days::DaysOptions { parent_permille: 200, ..Default::default() };
    reckon_synth::days::write_days_with(&days, &reckon_synth::Config::new(13, 3000), 3, &opts)
        .unwrap_or_else(|e| panic!("{e}"));
    let run = |name: &str| {
        let out = tmp.path().join(name);
        std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{e}"));
        let rows =
            simulate(&days, &out, &out.join("state.db"), &SimConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        let table = reckon_lab::simulate::table(&rows);
        (rows, table)
    };
    let (rows, table) = run("recorded");
    let sum = |f: &dyn Fn(&reckon_lab::simulate::DayRow) -> u64| rows.iter().map(f).sum::<u64>();
    let (new, auto, right) = (sum(&|r| r.parent_new), sum(&|r| r.parent_auto), sum(&|r| r.parent_auto_right));
    assert!(new >= 50, "{table}");
    assert!(auto as f64 >= 0.8 * new as f64, "{auto} of {new} paid by a parent cleared\n{table}");
    assert!(right as f64 >= 0.99 * auto as f64, "{right} of {auto} right\n{table}");
    // The same days with the masters' payer_ids emptied.
    for d in 1..=3 {
        let p = days.join(format!("day-{d:02}/customers.csv"));
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{e}"));
        let blank: String = text
            .lines()
            .map(|l| match l.rsplit_once(',') {
                Some((head, _)) if !l.starts_with("customer_id,") => format!("{head},\n"),
                _ => format!("{l}\n"),
            })
            .collect();
        std::fs::write(&p, blank).unwrap_or_else(|e| panic!("{e}"));
    }
    let (none, table) = run("not recorded");
    assert_eq!(none.iter().map(|r| r.parent_new).sum::<u64>(), new);
    let (first, last) = (&none[0], &none[2]);
    assert!((first.parent_auto as f64) < 0.2 * first.parent_new as f64, "day 1 without payer_ids\n{table}");
    assert!(
        last.parent_auto as f64 >= 0.3 * last.parent_new as f64 && last.parent_auto > first.parent_auto,
        "day 3: payers people confirmed on day 1\n{table}"
    );
    assert_eq!(
        none.iter().map(|r| r.parent_auto_right).sum::<u64>(),
        none.iter().map(|r| r.parent_auto).sum::<u64>(),
        "{table}"
    );
}
