#![allow(clippy::inconsistent_digit_grouping, clippy::field_reassign_with_default)] // amounts in cents written as 1_234_56
//! Each journal-entry test fires on a journal built to trip it and stays quiet on
//! a book of ordinary journals (which every test below also contains).

use reckon_anomaly::{AnomalyConfig, JournalResult, Line};

fn day(s: &str) -> i32 {
    reckon_core::date::parse_iso_date(s).unwrap_or_else(|| panic!("{s}"))
}

#[allow(clippy::too_many_arguments)]
fn line(
    j: &str,
    n: i64,
    acct: &str,
    date: &str,
    amount: i64,
    prep: &str,
    appr: &str,
    source: &str,
    created: &str,
) -> Line {
    Line {
        journal_id: j.into(),
        line_no: n,
        entity: "DE01".into(),
        account: acct.into(),
        posting_date: day(date),
        document_date: None,
        fiscal_period: date[..7].into(),
        amount,
        currency: "EUR".into(),
        exponent: 2,
        preparer_id: prep.into(),
        approver_id: appr.into(),
        source: source.into(),
        created_day: Some(day(created)),
        created_hour: Some(10),
    }
}

/// 120 ordinary two-line journals on weekdays in March 2026 by three preparers
/// over a few account pairs, amounts neither round nor near a limit.
fn book() -> Vec<Line> {
    let weekdays: Vec<String> =
        (2..=31).filter(|d| ![7, 8, 14, 15, 21, 22, 28, 29].contains(d)).map(|d| format!("2026-03-{d:02}")).collect();
    let mut v = Vec::new();
    for k in 0..120 {
        let date = &weekdays[k % weekdays.len()];
        let prep = ["U1", "U2", "U3"][k % 3];
        let (dr, cr) = [("6200", "1200"), ("1400", "4000"), ("6300", "1600")][k % 3];
        let amt = 1_234_56 + (k as i64 * 7_919) % 500_000;
        let j = format!("N{k:03}");
        v.push(line(&j, 1, dr, date, amt, prep, "", "interface", date));
        v.push(line(&j, 2, cr, date, -amt, prep, "", "interface", date));
    }
    v
}

fn run(extra: Vec<Line>) -> Vec<JournalResult> {
    let mut v = book();
    v.extend(extra);
    AnomalyConfig::default().build().unwrap_or_else(|e| panic!("{e}")).run(&v)
}

fn flags_of<'a>(r: &'a [JournalResult], j: &str) -> Vec<&'a str> {
    r.iter().find(|x| x.journal_id == j).map(|x| x.flags.iter().map(|f| f.test).collect()).unwrap_or_default()
}

fn assert_fires(extra: Vec<Line>, j: &str, test: &str) {
    let r = run(extra);
    assert!(flags_of(&r, j).contains(&test), "{test} did not fire on {j}: {:?}", flags_of(&r, j));
    let noisy: Vec<&str> = r
        .iter()
        .filter(|x| x.journal_id.starts_with('N') && x.flags.iter().any(|f| f.test == test))
        .map(|x| x.journal_id.as_str())
        .collect();
    assert!(noisy.is_empty(), "{test} fired on ordinary journals {noisy:?}");
}

#[test]
fn ordinary_journals_are_quiet() {
    let r = run(vec![]);
    let flagged: Vec<(&str, Vec<&str>)> = r
        .iter()
        .filter(|x| !x.flags.is_empty())
        .map(|x| (x.journal_id.as_str(), x.flags.iter().map(|f| f.test).collect()))
        .collect();
    assert!(flagged.is_empty(), "{flagged:?}");
}

#[test]
fn unbalanced_is_a_control_violation() {
    let r = run(vec![
        line("X", 1, "6200", "2026-03-10", 100_00, "U1", "", "interface", "2026-03-10"),
        line("X", 2, "1200", "2026-03-10", -99_00, "U1", "", "interface", "2026-03-10"),
    ]);
    let x = r.iter().find(|x| x.journal_id == "X").unwrap_or_else(|| panic!("X"));
    assert!(x.unbalanced && x.flags.iter().any(|f| f.test == "unbalanced" && f.text.contains("1.00 EUR")));
}

#[test]
fn self_approval() {
    assert_fires(
        vec![
            line("X", 1, "6200", "2026-03-10", 512_33, "U1", "U1", "manual", "2026-03-10"),
            line("X", 2, "1200", "2026-03-10", -512_33, "U1", "U1", "manual", "2026-03-10"),
        ],
        "X",
        "self_approval",
    );
}

#[test]
fn weekend_and_holiday() {
    assert_fires(
        vec![
            line("X", 1, "6200", "2026-03-14", 512_33, "U1", "", "interface", "2026-03-14"),
            line("X", 2, "1200", "2026-03-14", -512_33, "U1", "", "interface", "2026-03-14"),
        ],
        "X",
        "weekend_holiday",
    );
    let mut cfg = AnomalyConfig::default();
    cfg.holidays = vec!["2026-04-03".into()];
    let mut v = book();
    v.push(line("H", 1, "6200", "2026-04-03", 512_33, "U1", "", "interface", "2026-04-03"));
    v.push(line("H", 2, "1200", "2026-04-03", -512_33, "U1", "", "interface", "2026-04-03"));
    let r = cfg.build().unwrap_or_else(|e| panic!("{e}")).run(&v);
    assert!(flags_of(&r, "H").contains(&"weekend_holiday"));
}

#[test]
fn after_close_and_backdated() {
    assert_fires(
        vec![
            line("X", 1, "6200", "2026-02-20", 512_33, "U1", "", "interface", "2026-03-09"),
            line("X", 2, "1200", "2026-02-20", -512_33, "U1", "", "interface", "2026-03-09"),
        ],
        "X",
        "after_close",
    );
    assert_fires(
        vec![
            line("Y", 1, "6200", "2026-03-02", 512_33, "U1", "", "interface", "2026-04-20"),
            line("Y", 2, "1200", "2026-03-02", -512_33, "U1", "", "interface", "2026-04-20"),
        ],
        "Y",
        "backdated",
    );
}

#[test]
fn round_and_nines() {
    assert_fires(
        vec![
            line("X", 1, "6200", "2026-03-10", 50_000_00, "U1", "", "interface", "2026-03-10"),
            line("X", 2, "1200", "2026-03-10", -50_000_00, "U1", "", "interface", "2026-03-10"),
        ],
        "X",
        "round_amount",
    );
    assert_fires(
        vec![
            line("Y", 1, "6200", "2026-03-10", 4_999_00, "U1", "", "interface", "2026-03-10"),
            line("Y", 2, "1200", "2026-03-10", -4_999_00, "U1", "", "interface", "2026-03-10"),
        ],
        "Y",
        "round_amount",
    );
}

#[test]
fn just_below_the_approval_limit() {
    assert_fires(
        vec![
            line("X", 1, "6200", "2026-03-10", 9_950_00, "U1", "", "interface", "2026-03-10"),
            line("X", 2, "1200", "2026-03-10", -9_950_00, "U1", "", "interface", "2026-03-10"),
        ],
        "X",
        "below_approval_limit",
    );
}

#[test]
fn seldom_account_unusual_preparer_account_and_pair() {
    assert_fires(
        vec![
            line("X", 1, "6999", "2026-03-10", 512_33, "U1", "", "interface", "2026-03-10"),
            line("X", 2, "1200", "2026-03-10", -512_33, "U1", "", "interface", "2026-03-10"),
        ],
        "X",
        "seldom_account",
    );
    // U1 posts 6200/1200 only; here U1 books 1400/4000 (U2's pair) — accounts U1 never used.
    assert_fires(
        vec![
            line("Y", 1, "1400", "2026-03-10", 512_33, "U1", "", "interface", "2026-03-10"),
            line("Y", 2, "4000", "2026-03-10", -512_33, "U1", "", "interface", "2026-03-10"),
        ],
        "Y",
        "unusual_preparer_account",
    );
    // 6200 against 4000: both common, never together.
    assert_fires(
        vec![
            line("Z", 1, "6200", "2026-03-10", 512_33, "U2", "", "interface", "2026-03-10"),
            line("Z", 2, "4000", "2026-03-10", -512_33, "U2", "", "interface", "2026-03-10"),
        ],
        "Z",
        "unusual_account_pair",
    );
}

#[test]
fn manual_revenue_at_period_end() {
    assert_fires(
        vec![
            line("X", 1, "1400", "2026-03-31", 512_33, "U2", "M1", "manual", "2026-03-31"),
            line("X", 2, "4000", "2026-03-31", -512_33, "U2", "M1", "manual", "2026-03-31"),
        ],
        "X",
        "period_end_manual_revenue",
    );
}

#[test]
fn duplicate_journal() {
    assert_fires(
        vec![
            line("X", 1, "6200", "2026-03-11", 1_234_56, "U1", "", "interface", "2026-03-11"),
            line("X", 2, "1200", "2026-03-11", -1_234_56, "U1", "", "interface", "2026-03-11"),
        ],
        "X",
        "duplicate_journal",
    );
}

#[test]
fn benford_needs_a_sample_and_a_deviation() {
    // U9 posts 120 lines that all start with 9: far from Benford.
    let mut extra = Vec::new();
    for k in 0..60 {
        let j = format!("B{k:02}");
        extra.push(line(&j, 1, "6200", "2026-03-10", 9_100_00 + k * 13, "U9", "", "interface", "2026-03-10"));
        extra.push(line(&j, 2, "1200", "2026-03-10", -(9_100_00 + k * 13), "U9", "", "interface", "2026-03-10"));
    }
    let r = run(extra);
    assert!(flags_of(&r, "B00").contains(&"benford"));
    // The ordinary preparers' first digits are spread: no flag.
    assert!(r.iter().filter(|x| x.journal_id.starts_with('N')).all(|x| x.flags.iter().all(|f| f.test != "benford")));
}

#[test]
fn bad_config_is_refused() {
    let mut c = AnomalyConfig::default();
    c.holidays = vec!["2026-13-01".into()];
    assert!(c.build().err().unwrap_or_default().contains("holidays"));
    let mut c = AnomalyConfig::default();
    c.approval_limits.insert("EURO".into(), "1".into());
    assert!(c.build().err().unwrap_or_default().contains("ISO 4217"));
}

#[test]
fn outlying_features_name_the_feature_far_from_the_book() {
    // Two features; row 7 is far out on the second.
    let mut f = Vec::new();
    for r in 0..20 {
        f.push(r as f32 * 0.1);
        f.push(if r == 7 { 50.0 } else { 1.0 + (r % 3) as f32 * 0.1 });
    }
    let o = reckon_anomaly::outlying_features(&f, 2, 3.0);
    assert_eq!(o[7].first().map(|x| x.0), Some(1));
    assert!(o.iter().enumerate().all(|(i, v)| i == 7 || v.is_empty()), "{o:?}");
}

#[test]
fn amount_far_above_the_accounts_usual_amounts() {
    // The book's 6200 lines are 1,234.56 to 6,234; 612,345.67 is far above them.
    assert_fires(
        vec![
            line("X", 1, "6200", "2026-03-11", 612_345_67, "U1", "", "interface", "2026-03-11"),
            line("X", 2, "1200", "2026-03-11", -612_345_67, "U1", "", "interface", "2026-03-11"),
        ],
        "X",
        "amount_outlier",
    );
    let r = run(vec![
        line("X", 1, "6200", "2026-03-11", 612_345_67, "U1", "", "interface", "2026-03-11"),
        line("X", 2, "1200", "2026-03-11", -612_345_67, "U1", "", "interface", "2026-03-11"),
    ]);
    let x = r.iter().find(|j| j.journal_id == "X").unwrap_or_else(|| panic!("X"));
    assert!(x.amount_z > 3.5, "{}", x.amount_z);
    // An account with too few lines to know its usual amounts stays quiet, and so
    // does an amount within the usual range.
    let r = run(vec![
        line("Y", 1, "7100", "2026-03-11", 612_345_67, "U1", "", "interface", "2026-03-11"),
        line("Y", 2, "2900", "2026-03-11", -612_345_67, "U1", "", "interface", "2026-03-11"),
        line("Z", 1, "6200", "2026-03-12", 5_000_00, "U1", "", "interface", "2026-03-12"),
        line("Z", 2, "1200", "2026-03-12", -5_000_00, "U1", "", "interface", "2026-03-12"),
    ]);
    assert!(!flags_of(&r, "Y").contains(&"amount_outlier"), "{:?}", flags_of(&r, "Y"));
    assert!(!flags_of(&r, "Z").contains(&"amount_outlier"), "{:?}", flags_of(&r, "Z"));
}

#[test]
fn off_hours_feature_counts_hours_outside_business_hours() {
    let mut v = book();
    let mut late = line("L", 1, "6200", "2026-03-11", 512_33, "U1", "", "interface", "2026-03-11");
    late.created_hour = Some(22);
    let mut late2 = line("L", 2, "1200", "2026-03-11", -512_33, "U1", "", "interface", "2026-03-11");
    late2.created_hour = Some(22);
    v.extend([late, late2]);
    let b = reckon_anomaly::Book::from_lines(&v);
    let tests = AnomalyConfig::default().build().unwrap_or_else(|e| panic!("{e}"));
    let r = tests.run_book(&b);
    let f = reckon_anomaly::features(&b, &r);
    let k = reckon_anomaly::FEATURES.len();
    let col = reckon_anomaly::FEATURES.iter().position(|f| *f == "off_hours").unwrap_or_else(|| panic!("off_hours"));
    let at = |j: &str| f[r.iter().position(|x| x.journal_id == j).unwrap_or_else(|| panic!("{j}")) * k + col];
    assert_eq!(at("L"), 4.0, "22:00 counts 4 (19:00 counts 1)");
    assert_eq!(at("N000"), 0.0, "10:00 is business hours");
}
