#![allow(clippy::inconsistent_digit_grouping, clippy::field_reassign_with_default)] // amounts in cents written as 1_234_56
//! Each journal-entry test fires on a journal built to trip it and stays quiet on
//! a book of ordinary journals (which every test below also contains).

use reckon_journals::{AnomalyConfig, JournalResult, Line};

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
    r.iter().find(|x| x.journal_id == j).map(|x| x.flags.iter().map(|f| f.test.as_str()).collect()).unwrap_or_default()
}

fn assert_fires(extra: Vec<Line>, j: &str, test: &str) {
    let r = run(extra);
    assert!(flags_of(&r, j).contains(&test), "{test} did not fire on {j}: {:?}", flags_of(&r, j));
    let noisy: Vec<&str> = r
        .iter()
        .filter(|x| x.journal_id.starts_with('N') && x.flags.iter().any(|f| f.test.as_str() == test))
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
        .map(|x| (x.journal_id.as_str(), x.flags.iter().map(|f| f.test.as_str()).collect()))
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
    assert!(x.unbalanced && x.flags.iter().any(|f| f.test.as_str() == "unbalanced" && f.text.contains("1.00 EUR")));
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
    assert!(
        r.iter()
            .filter(|x| x.journal_id.starts_with('N'))
            .all(|x| x.flags.iter().all(|f| f.test.as_str() != "benford"))
    );
}

#[test]
fn bad_config_is_refused() {
    let mut c = AnomalyConfig::default();
    c.holidays = vec!["2026-13-01".into()];
    assert!(c.build().err().map(|e| e.to_string()).unwrap_or_default().contains("holidays"));
    let mut c = AnomalyConfig::default();
    c.approval_limits.insert("EURO".into(), "1".into());
    assert!(c.build().err().map(|e| e.to_string()).unwrap_or_default().contains("ISO 4217"));
}

#[test]
fn outlying_features_name_the_feature_far_from_the_book() {
    // Two features; row 7 is far out on the second.
    let mut f = Vec::new();
    for r in 0..20 {
        f.push(r as f32 * 0.1);
        f.push(if r == 7 { 50.0 } else { 1.0 + (r % 3) as f32 * 0.1 });
    }
    let o = reckon_journals::outlying_features(&f, 2, 3.0);
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
    let b = reckon_journals::Book::from_lines(&v);
    let tests = AnomalyConfig::default().build().unwrap_or_else(|e| panic!("{e}"));
    let r = tests.run_book(&b);
    let f = reckon_journals::features(&tests, &b, &r);
    let k = reckon_journals::FEATURES.len();
    let col = reckon_journals::FEATURES.iter().position(|f| *f == "off_hours").unwrap_or_else(|| panic!("off_hours"));
    let at = |j: &str| f[r.iter().position(|x| x.journal_id == j).unwrap_or_else(|| panic!("{j}")) * k + col];
    assert_eq!(at("L"), 4.0, "22:00 counts 4 (19:00 counts 1)");
    assert_eq!(at("N000"), 0.0, "10:00 is business hours");
    // The entity's own working day: 06–23 makes 22:00 ordinary, 11–19 makes 10:00 one hour early.
    let mut c = AnomalyConfig::default();
    c.business_hours = [6, 23];
    let late_day = c.build().unwrap_or_else(|e| panic!("{e}"));
    let f2 = reckon_journals::features(&late_day, &b, &r);
    assert_eq!(f2[r.iter().position(|x| x.journal_id == "L").unwrap_or(0) * k + col], 0.0);
    c.business_hours = [11, 19];
    let f3 = reckon_journals::features(&c.build().unwrap_or_else(|e| panic!("{e}")), &b, &r);
    assert_eq!(f3[r.iter().position(|x| x.journal_id == "N000").unwrap_or(0) * k + col], 1.0);
    for bad in [[19, 7], [7, 7], [0, 25]] {
        c.business_hours = bad;
        assert!(c.build().err().map(|e| e.to_string()).unwrap_or_default().contains("business_hours"), "{bad:?}");
    }
}

/// The `manual` feature reads `anomaly.manual_sources`, as the rules do.
#[test]
fn manual_feature_follows_manual_sources() {
    let mut v = book();
    v.extend(vec![
        line("S", 1, "6200", "2026-03-11", 512_33, "U1", "", "spreadsheet", "2026-03-11"),
        line("S", 2, "1200", "2026-03-11", -512_33, "U1", "", "spreadsheet", "2026-03-11"),
    ]);
    let b = reckon_journals::Book::from_lines(&v);
    let col = reckon_journals::FEATURES.iter().position(|f| *f == "manual").unwrap_or_else(|| panic!("manual"));
    let k = reckon_journals::FEATURES.len();
    let value = |c: &AnomalyConfig| {
        let tests = c.build().unwrap_or_else(|e| panic!("{e}"));
        let r = tests.run_book(&b);
        let f = reckon_journals::features(&tests, &b, &r);
        f[r.iter().position(|x| x.journal_id == "S").unwrap_or_else(|| panic!("S")) * k + col]
    };
    assert_eq!(value(&AnomalyConfig::default()), 0.0);
    let mut c = AnomalyConfig::default();
    c.manual_sources = vec!["Spreadsheet".into()];
    assert_eq!(value(&c), 1.0);
}

// Both sides of every rule's threshold: one step inside fires, one step outside
// stays quiet (the default configuration unless a case says otherwise).

fn fires_with(cfg: &AnomalyConfig, extra: Vec<Line>, j: &str, test: &str) -> bool {
    let mut v = book();
    v.extend(extra);
    let r = cfg.build().unwrap_or_else(|e| panic!("{e}")).run(&v);
    flags_of(&r, j).contains(&test)
}

fn fires(extra: Vec<Line>, j: &str, test: &str) -> bool {
    fires_with(&AnomalyConfig::default(), extra, j, test)
}

/// A balanced two-line journal 6200 / 1200 by U1.
fn pair(j: &str, date: &str, amount: i64, created: &str) -> Vec<Line> {
    vec![
        line(j, 1, "6200", date, amount, "U1", "", "interface", created),
        line(j, 2, "1200", date, -amount, "U1", "", "interface", created),
    ]
}

#[test]
fn boundary_backdated_at_30_days() {
    // backdated_days = 30: created more than 30 days after posting.
    assert!(!fires(pair("X", "2026-03-02", 512_33, "2026-04-01"), "X", "backdated"), "30 days");
    assert!(fires(pair("X", "2026-03-02", 512_33, "2026-04-02"), "X", "backdated"), "31 days");
}

#[test]
fn boundary_after_close_at_close_day() {
    // February closes 5 days after its end (2026-02-28): 2026-03-05.
    assert!(!fires(pair("X", "2026-02-20", 512_33, "2026-03-05"), "X", "after_close"), "on the close day");
    assert!(fires(pair("X", "2026-02-20", 512_33, "2026-03-06"), "X", "after_close"), "a day after");
    // An explicit close date wins over close_days.
    let mut c = AnomalyConfig::default();
    c.close_dates.insert("2026-02".into(), "2026-03-10".into());
    assert!(!fires_with(&c, pair("X", "2026-02-20", 512_33, "2026-03-06"), "X", "after_close"));
    assert!(fires_with(&c, pair("X", "2026-02-20", 512_33, "2026-03-11"), "X", "after_close"));
}

#[test]
fn boundary_round_amount_at_the_unit_and_the_nines() {
    let day = "2026-03-10";
    // round_unit = 1000 major units.
    assert!(fires(pair("X", day, 1_000_00, day), "X", "round_amount"), "1,000.00");
    assert!(!fires(pair("X", day, 1_000_01, day), "X", "round_amount"), "1,000.01");
    assert!(!fires(pair("X", day, 500_00, day), "X", "round_amount"), "500.00 is below the unit");
    // …999 from 1,000 up.
    assert!(fires(pair("X", day, 1_999_00, day), "X", "round_amount"), "1,999.00");
    assert!(!fires(pair("X", day, 999_00, day), "X", "round_amount"), "999.00 is below 1,000");
    assert!(!fires(pair("X", day, 1_998_00, day), "X", "round_amount"), "1,998.00");
    let mut c = AnomalyConfig::default();
    c.round_unit = 500;
    assert!(fires_with(&c, pair("X", day, 1_500_00, day), "X", "round_amount"), "1,500.00 at unit 500");
}

#[test]
fn boundary_below_the_approval_limit() {
    let day = "2026-03-10";
    // Limit EUR 10,000.00, 2 % below it: from 9,800.00 up to 9,999.99.
    assert!(!fires(pair("X", day, 9_799_99, day), "X", "below_approval_limit"), "9,799.99");
    assert!(fires(pair("X", day, 9_800_00, day), "X", "below_approval_limit"), "9,800.00");
    assert!(fires(pair("X", day, 9_999_99, day), "X", "below_approval_limit"), "9,999.99");
    assert!(!fires(pair("X", day, 10_000_00, day), "X", "below_approval_limit"), "at the limit");
    // A currency without a limit: never.
    let mut x = pair("X", day, 9_900_00, day);
    for l in &mut x {
        l.currency = "CHF".into();
    }
    assert!(!fires(x, "X", "below_approval_limit"));
}

#[test]
fn boundary_seldom_account_at_two_journals() {
    let day = "2026-03-10";
    let on = |j: &str| {
        vec![
            line(j, 1, "6999", day, 512_33, "U1", "", "interface", day),
            line(j, 2, "1200", day, -512_33, "U1", "", "interface", day),
        ]
    };
    // seldom_account_max_journals = 2: an account in 2 journals is seldom, in 3 it is not.
    let two: Vec<Line> = [on("X"), on("X2")].concat();
    assert!(fires(two, "X", "seldom_account"));
    let three: Vec<Line> = [on("X"), on("X2"), on("X3")].concat();
    assert!(!fires(three, "X", "seldom_account"));
}

#[test]
fn boundary_unusual_preparer_account_needs_a_history() {
    let day = "2026-03-10";
    // U1 never posted to 1400/4000; the book gives U1 80 lines (≥ 30): fires.
    let y = |prep: &str| {
        vec![
            line("Y", 1, "1400", day, 512_33, prep, "", "interface", day),
            line("Y", 2, "4000", day, -512_33, prep, "", "interface", day),
        ]
    };
    assert!(fires(y("U1"), "Y", "unusual_preparer_account"));
    // preparer_min_lines above U1's lines (80 in the book + 2): quiet.
    let mut c = AnomalyConfig::default();
    c.preparer_min_lines = 83;
    assert!(!fires_with(&c, y("U1"), "Y", "unusual_preparer_account"), "82 lines < 83");
    c.preparer_min_lines = 82;
    assert!(fires_with(&c, y("U1"), "Y", "unusual_preparer_account"), "82 lines ≥ 82");
}

#[test]
fn boundary_period_end_manual_revenue_at_three_days() {
    let x = |date: &str, source: &str| {
        vec![
            line("X", 1, "1400", date, 512_33, "U2", "M1", source, date),
            line("X", 2, "4000", date, -512_33, "U2", "M1", source, date),
        ]
    };
    // period_end_days = 3: the last three days (29th–31st of March) count.
    assert!(fires(x("2026-03-29", "manual"), "X", "period_end_manual_revenue"));
    assert!(!fires(x("2026-03-28", "manual"), "X", "period_end_manual_revenue"));
    // Only manual sources (anomaly.manual_sources).
    assert!(!fires(x("2026-03-31", "interface"), "X", "period_end_manual_revenue"));
    let mut c = AnomalyConfig::default();
    c.manual_sources = vec!["spreadsheet".into()];
    assert!(fires_with(&c, x("2026-03-31", "spreadsheet"), "X", "period_end_manual_revenue"));
    assert!(!fires_with(&c, x("2026-03-31", "manual"), "X", "period_end_manual_revenue"));
}

#[test]
fn boundary_duplicate_journal_within_fourteen_days() {
    // N000 (2026-03-02, 1,234.56, 6200/1200 by U1); the same lines 14 days later fire, 15 do not.
    assert!(fires(pair("X", "2026-03-16", 1_234_56, "2026-03-16"), "X", "duplicate_journal"));
    assert!(!fires(pair("X", "2026-03-17", 1_234_56, "2026-03-17"), "X", "duplicate_journal"));
    // Another amount is not a duplicate.
    assert!(!fires(pair("X", "2026-03-03", 1_234_57, "2026-03-03"), "X", "duplicate_journal"));
}

#[test]
fn boundary_weekend_and_self_approval() {
    // 2026-03-13 is a Friday, 2026-03-14 a Saturday, 2026-03-16 a Monday.
    assert!(!fires(pair("X", "2026-03-13", 512_33, "2026-03-13"), "X", "weekend_holiday"));
    assert!(fires(pair("X", "2026-03-14", 512_33, "2026-03-14"), "X", "weekend_holiday"));
    assert!(!fires(pair("X", "2026-03-16", 512_33, "2026-03-16"), "X", "weekend_holiday"));
    let mut c = AnomalyConfig::default();
    c.holidays = vec!["2026-03-13".into()];
    assert!(fires_with(&c, pair("X", "2026-03-13", 512_33, "2026-03-13"), "X", "weekend_holiday"));
    let appr = |a: &str| {
        let mut v = pair("X", "2026-03-10", 512_33, "2026-03-10");
        for l in &mut v {
            l.approver_id = a.into();
        }
        v
    };
    assert!(fires(appr("U1"), "X", "self_approval"));
    assert!(!fires(appr("U2"), "X", "self_approval"));
}

#[test]
fn boundary_benford_sample_size() {
    // U9: 60 journals, 120 lines all starting with 9.
    let mut extra = Vec::new();
    for k in 0..60 {
        let j = format!("B{k:02}");
        extra.push(line(&j, 1, "6200", "2026-03-10", 9_100_00 + k * 13, "U9", "", "interface", "2026-03-10"));
        extra.push(line(&j, 2, "1200", "2026-03-10", -(9_100_00 + k * 13), "U9", "", "interface", "2026-03-10"));
    }
    let mut c = AnomalyConfig::default();
    c.benford_min_lines = 120;
    assert!(fires_with(&c, extra.clone(), "B00", "benford"), "120 lines ≥ 120");
    c.benford_min_lines = 121;
    assert!(!fires_with(&c, extra.clone(), "B00", "benford"), "120 lines < 121");
    // The deviation threshold: U9's MAD is far above 0.015; a limit above it silences.
    c.benford_min_lines = 100;
    c.benford_mad = 0.5;
    assert!(!fires_with(&c, extra, "B00", "benford"));
}

#[test]
fn boundary_amount_outlier_at_its_z() {
    let x = pair("X", "2026-03-11", 61_234_56, "2026-03-11");
    let mut v = book();
    v.extend(x.clone());
    let r = AnomalyConfig::default().build().unwrap_or_else(|e| panic!("{e}")).run(&v);
    let z = r.iter().find(|j| j.journal_id == "X").map_or(0.0, |j| j.amount_z);
    assert!(z > 1.0, "{z}");
    let mut c = AnomalyConfig::default();
    c.outlier_z = z;
    assert!(fires_with(&c, x.clone(), "X", "amount_outlier"), "z = outlier_z fires");
    c.outlier_z = z + 1e-9;
    assert!(!fires_with(&c, x.clone(), "X", "amount_outlier"), "just above z stays quiet");
    // outlier_min_lines: 6200 has 40 lines in the book + 1.
    c.outlier_z = z;
    c.outlier_min_lines = 42;
    assert!(!fires_with(&c, x.clone(), "X", "amount_outlier"), "41 lines < 42");
    c.outlier_min_lines = 41;
    assert!(fires_with(&c, x, "X", "amount_outlier"), "41 lines ≥ 41");
}

#[test]
fn boundary_unusual_account_pair_needs_common_accounts() {
    // 6200 against 4000: both common, never together (fires); a seldom account is
    // seldom_account's business, not this test's.
    let z = |d: &str| {
        vec![
            line("Z", 1, d, "2026-03-10", 512_33, "U2", "", "interface", "2026-03-10"),
            line("Z", 2, "4000", "2026-03-10", -512_33, "U2", "", "interface", "2026-03-10"),
        ]
    };
    assert!(fires(z("6200"), "Z", "unusual_account_pair"));
    assert!(!fires(z("6999"), "Z", "unusual_account_pair"));
    // 1400 against 4000 is the book's own pair.
    assert!(!fires(z("1400"), "Z", "unusual_account_pair"));
}

#[test]
fn boundary_unbalanced_at_one_minor_unit() {
    let j = |credit: i64| {
        vec![
            line("X", 1, "6200", "2026-03-10", 100_00, "U1", "", "interface", "2026-03-10"),
            line("X", 2, "1200", "2026-03-10", credit, "U1", "", "interface", "2026-03-10"),
        ]
    };
    assert!(!fires(j(-100_00), "X", "unbalanced"), "balanced to the cent");
    assert!(fires(j(-99_99), "X", "unbalanced"), "one cent short");
    assert!(fires(j(-100_01), "X", "unbalanced"), "one cent over");
}

/// Debits whose sum leaves i64 do not wrap into a balanced journal.
#[test]
fn unbalanced_is_found_when_the_sum_leaves_i64() {
    // i64::MAX + i64::MAX + 2 = 2^64: 0 in wrapping i64 arithmetic.
    let r = run(vec![
        line("X", 1, "6200", "2026-03-10", i64::MAX, "U1", "", "interface", "2026-03-10"),
        line("X", 2, "6200", "2026-03-10", i64::MAX, "U1", "", "interface", "2026-03-10"),
        line("X", 3, "6200", "2026-03-10", 2, "U1", "", "interface", "2026-03-10"),
    ]);
    let x = r.iter().find(|x| x.journal_id == "X").unwrap_or_else(|| panic!("X"));
    assert!(x.unbalanced, "{:?}", x.flags);
    let f = x.flags.iter().find(|f| f.test.as_str() == "unbalanced").unwrap_or_else(|| panic!("flag"));
    assert!(f.text.contains("184467440737095516.16"), "{}", f.text);
}

/// An entity that posts every day of the week (a seven-day business): its
/// weekend postings are routine, not a `weekend_holiday` finding — holidays
/// still are; a Monday-to-Friday ledger's weekend posting still fires.
#[test]
fn weekend_postings_of_a_seven_day_business_are_routine() {
    let mut v = Vec::new();
    for k in 0..140 {
        let date = format!("2026-03-{:02}", 1 + k % 31);
        let amt = 1_234_56 + (k as i64 * 7_919) % 500_000;
        let j = format!("S{k:03}");
        let prep = ["U1", "U2", "U3"][k % 3];
        v.push(line(&j, 1, "6200", &date, amt, prep, "", "interface", &date));
        v.push(line(&j, 2, "1200", &date, -amt, prep, "", "interface", &date));
    }
    v.extend(pair("X", "2026-03-14", 512_33, "2026-03-14"));
    v.extend(pair("H", "2026-03-18", 512_33, "2026-03-18"));
    let mut c = AnomalyConfig::default();
    c.holidays = vec!["2026-03-18".into()];
    let r = c.build().unwrap_or_else(|e| panic!("{e}")).run(&v);
    assert!(!flags_of(&r, "X").contains(&"weekend_holiday"), "{:?}", flags_of(&r, "X"));
    assert!(flags_of(&r, "H").contains(&"weekend_holiday"), "a holiday is still a finding");
    // Raise the share above the entity's (about 2/7): weekends are findings again.
    c.weekend_routine_share = 0.5;
    let r = c.build().unwrap_or_else(|e| panic!("{e}")).run(&v);
    assert!(flags_of(&r, "X").contains(&"weekend_holiday"));
}

fn at_hour(mut l: Line, h: u8) -> Line {
    l.created_hour = Some(h);
    l
}

/// A journal at an hour the preparer seldom works, or through a source the
/// preparer seldom uses, is unusual *for them*: U1 (40 journals at 10:00 through
/// `interface`) at 03:00, or through `manual`. A night shift (NS: 40 journals
/// between 02:00 and 04:00) posting at 03:00 is its habit, not an anomaly; the
/// global working day does not decide.
#[test]
fn unusual_hour_and_source_for_the_preparer() {
    // Distinct amounts (`n`), so no two are duplicate journals.
    let pair = |j: &str, prep: &str, source: &str, h: u8, n: i64| {
        let amt = 5_432_10 + n * 1_013;
        vec![
            at_hour(line(j, 1, "6200", "2026-03-10", amt, prep, "", source, "2026-03-10"), h),
            at_hour(line(j, 2, "1200", "2026-03-10", -amt, prep, "", source, "2026-03-10"), h),
        ]
    };
    let mut extra = Vec::new();
    for k in 0..40u8 {
        extra.extend(pair(&format!("Q{k:02}"), "NS", "interface", 2 + k % 3, i64::from(k)));
    }
    extra.extend(pair("H1", "U1", "interface", 3, 100));
    extra.extend(pair("S1", "U2", "manual", 10, 101));
    extra.extend(pair("H2", "NS", "interface", 3, 102));
    let r = run(extra.clone());
    assert!(flags_of(&r, "H1").contains(&"unusual_hour"), "{:?}", flags_of(&r, "H1"));
    assert!(!flags_of(&r, "H1").contains(&"unusual_preparer_source"), "{:?}", flags_of(&r, "H1"));
    assert!(flags_of(&r, "S1").contains(&"unusual_preparer_source"), "{:?}", flags_of(&r, "S1"));
    assert!(!flags_of(&r, "S1").contains(&"unusual_hour"), "{:?}", flags_of(&r, "S1"));
    assert!(flags_of(&r, "H2").is_empty(), "the night shift's own hour: {:?}", flags_of(&r, "H2"));
    let noisy: Vec<&str> = r
        .iter()
        .filter(|x| !["H1", "S1"].contains(&x.journal_id.as_str()))
        .filter(|x| x.flags.iter().any(|f| matches!(f.test.as_str(), "unusual_hour" | "unusual_preparer_source")))
        .map(|x| x.journal_id.as_str())
        .collect();
    assert!(noisy.is_empty(), "ordinary journals flagged: {noisy:?}");
    let text = r
        .iter()
        .find(|x| x.journal_id == "H1")
        .and_then(|x| x.flags.iter().find(|f| f.test.as_str() == "unusual_hour"));
    assert!(text.is_some_and(|f| f.text.contains("U1 entered it at 03:00 UTC; 1 of their 41 journals")), "{text:?}");

    // Below `preparer_min_journals`, a preparer has no rhythm to depart from.
    let mut cfg = AnomalyConfig::default();
    cfg.preparer_min_journals = 42;
    let mut v = book();
    v.extend(extra);
    let r = cfg.build().unwrap_or_else(|e| panic!("{e}")).run(&v);
    assert!(!flags_of(&r, "H1").contains(&"unusual_hour"), "41 journals < 42: {:?}", flags_of(&r, "H1"));
    assert!(!flags_of(&r, "S1").contains(&"unusual_preparer_source"), "{:?}", flags_of(&r, "S1"));
}

/// `preparer_rare_share` on both sides: two of U1's 42 journals at 03:00 are
/// 2 near that hour, above 2 % of 42 (0.84) — a habit; at 5 % (2.1) they are rare.
#[test]
fn boundary_unusual_hour_share() {
    let two = |j: &str, n: i64| {
        let amt = 7_777_10 + n * 1_013;
        vec![
            at_hour(line(j, 1, "6200", "2026-03-11", amt, "U1", "", "interface", "2026-03-11"), 3),
            at_hour(line(j, 2, "1200", "2026-03-11", -amt, "U1", "", "interface", "2026-03-11"), 3),
        ]
    };
    let mut extra = two("H1", 1);
    extra.extend(two("H2", 2));
    let r = run(extra.clone());
    assert!(!flags_of(&r, "H1").contains(&"unusual_hour"), "{:?}", flags_of(&r, "H1"));
    let mut cfg = AnomalyConfig::default();
    cfg.preparer_rare_share = 0.05;
    let mut v = book();
    v.extend(extra);
    let r = cfg.build().unwrap_or_else(|e| panic!("{e}")).run(&v);
    assert!(flags_of(&r, "H1").contains(&"unusual_hour") && flags_of(&r, "H2").contains(&"unusual_hour"));
}

/// A large book: the 120 ordinary journals repeated six times over (720, by
/// U1–U3, each preparer 480 lines), amounts all distinct.
fn big_book() -> Vec<Line> {
    let mut v = Vec::new();
    for rep in 0..6i64 {
        for (i, mut l) in book().into_iter().enumerate() {
            l.journal_id = format!("{}-{rep}", l.journal_id);
            l.amount += l.amount.signum() * (rep * 100_000 + (i as i64 / 2) * 3);
            v.push(l);
        }
    }
    v
}

/// A pattern repeated a few times is still unusual: cash debited against
/// revenue in three journals of 740 (at most 0.5 %, `pair_rare_share`), and an
/// account U1 posts two of their 484 lines to (at most 2 %). Below the shares
/// they are not; the journal's rarity in its book says how rare either way.
#[test]
fn a_rare_pattern_repeated_is_still_rare() {
    let mut extra = Vec::new();
    for k in 0..3i64 {
        let (j, amt) = (format!("P{k}"), 8_100_17 + k * 1_001);
        extra.push(line(&j, 1, "1200", "2026-03-17", amt, "U2", "", "interface", "2026-03-17"));
        extra.push(line(&j, 2, "4000", "2026-03-17", -amt, "U2", "", "interface", "2026-03-17"));
    }
    for k in 0..2i64 {
        let (j, amt) = (format!("A{k}"), 6_100_13 + k * 1_003);
        extra.push(line(&j, 1, "6900", "2026-03-18", amt, "U1", "", "interface", "2026-03-18"));
        extra.push(line(&j, 2, "1200", "2026-03-18", -amt, "U1", "", "interface", "2026-03-18"));
    }
    // 6900 is common in the book (by U3), not for U1.
    for k in 0..15i64 {
        let (j, amt) = (format!("C{k}"), 2_200_11 + k * 1_007);
        extra.push(line(&j, 1, "6900", "2026-03-19", amt, "U3", "", "interface", "2026-03-19"));
        extra.push(line(&j, 2, "1600", "2026-03-19", -amt, "U3", "", "interface", "2026-03-19"));
    }
    let mut v = big_book();
    v.extend(extra);
    let run_with = |c: &AnomalyConfig| c.build().unwrap_or_else(|e| panic!("{e}")).run(&v);
    let r = run_with(&AnomalyConfig::default());
    for j in ["P0", "P1", "P2"] {
        assert!(flags_of(&r, j).contains(&"unusual_account_pair"), "{j}: {:?}", flags_of(&r, j));
    }
    for j in ["A0", "A1"] {
        assert!(flags_of(&r, j).contains(&"unusual_preparer_account"), "{j}: {:?}", flags_of(&r, j));
    }
    let noisy: Vec<&str> = r
        .iter()
        .filter(|x| x.journal_id.starts_with('N') || x.journal_id.starts_with('C'))
        .filter(|x| {
            x.flags.iter().any(|f| matches!(f.test.as_str(), "unusual_account_pair" | "unusual_preparer_account"))
        })
        .map(|x| x.journal_id.as_str())
        .collect();
    assert!(noisy.is_empty(), "ordinary journals flagged: {noisy:?}");
    let of = |r: &[JournalResult], j: &str| r.iter().find(|x| x.journal_id == j).map(|x| x.rarity).unwrap_or_default();
    let (p, a, n) = (of(&r, "P0"), of(&r, "A0"), of(&r, "N000-0"));
    assert!((p.account_pair - 3.0 / 740.0).abs() < 1e-12, "{p:?}");
    assert!((a.preparer_account - 2.0 / 484.0).abs() < 1e-12, "{a:?}");
    assert!(n.account_pair > 0.3 && n.preparer_account > 0.4, "ordinary journal: {n:?}");
    assert_eq!(n.weekend_holiday, 1.0, "a weekday posting");
    // Tighter shares: three journals and two lines are a habit.
    let mut c = AnomalyConfig::default();
    c.pair_rare_share = 0.002;
    c.preparer_rare_share = 0.004;
    let r = run_with(&c);
    assert!(!flags_of(&r, "P0").contains(&"unusual_account_pair"), "{:?}", flags_of(&r, "P0"));
    assert!(!flags_of(&r, "A0").contains(&"unusual_preparer_account"), "{:?}", flags_of(&r, "A0"));
    c.pair_rare_share = 0.0;
    assert!(c.build().is_err(), "a share of 0 is refused");
}

/// A match chance explains is not a finding. In a year of 600 journals 6200 /
/// 1200 with totals between 10.00 and 12.49, two with the same total within a
/// fortnight are expected now and then; the same match at a total of its own, or
/// on accounts that seldom take such totals, is not.
#[test]
fn duplicate_journal_weighs_chance() {
    let date = |k: i64| format!("2026-{:02}-{:02}", k % 12 + 1, (k / 12) % 28 + 1);
    let mut v = Vec::new();
    for k in 0..600i64 {
        let (j, d, a) = (format!("Y{k:03}"), date(k), 10_00 + (k * 37) % 250);
        v.push(line(&j, 1, "6200", &d, a, "U1", "", "interface", &d));
        v.push(line(&j, 2, "1200", &d, -a, "U1", "", "interface", &d));
    }
    let two = |j: &str, d: &str, dr: &str, cr: &str, a: i64| {
        vec![line(j, 1, dr, d, a, "U2", "", "interface", d), line(j, 2, cr, d, -a, "U2", "", "interface", d)]
    };
    v.extend(two("S1", "2026-06-10", "6200", "1200", 11_00));
    v.extend(two("D1", "2026-06-12", "6200", "1200", 11_00));
    v.extend(two("S2", "2026-06-10", "6200", "1200", 98_765_43));
    v.extend(two("D2", "2026-06-12", "6200", "1200", 98_765_43));
    v.extend(two("S3", "2026-06-10", "6300", "1600", 11_00));
    v.extend(two("D3", "2026-06-12", "6300", "1600", 11_00));
    let r = AnomalyConfig::default().build().unwrap_or_else(|e| panic!("{e}")).run(&v);
    let of = |j: &str| r.iter().find(|x| x.journal_id == j).unwrap_or_else(|| panic!("{j}"));
    // 29 days of a 362-day book, 601 others of the kind among the 496 cent values
    // from 8.80 to 13.75.
    let expected = 29.0 / 362.0 * 601.0 / 496.0;
    assert!((of("D1").rarity.duplicate - expected).abs() < 1e-9, "{}", of("D1").rarity.duplicate);
    assert!(!flags_of(&r, "D1").contains(&"duplicate_journal"), "{:?}", flags_of(&r, "D1"));
    assert!(flags_of(&r, "D2").contains(&"duplicate_journal"), "{:?}", flags_of(&r, "D2"));
    assert!(of("D2").rarity.duplicate < 1e-6);
    assert!(flags_of(&r, "D3").contains(&"duplicate_journal"), "{:?}", flags_of(&r, "D3"));
    assert_eq!(of("S1").rarity.duplicate, 1.0, "the first of a pair is not the repeat");
    // At a looser bound the chance match is a finding too.
    let mut c = AnomalyConfig::default();
    c.duplicate_max_chance = 0.5;
    let r = c.build().unwrap_or_else(|e| panic!("{e}")).run(&v);
    assert!(flags_of(&r, "D1").contains(&"duplicate_journal"));
    for bad in [0.0, -0.1, 1.5, f64::NAN] {
        c.duplicate_max_chance = bad;
        assert!(c.build().err().map(|e| e.to_string()).unwrap_or_default().contains("duplicate_max_chance"), "{bad}");
    }
}
