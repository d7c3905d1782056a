//! General ledger journals: habitual postings by preparers, plus labelled
//! anomalies of the kinds journal-entry testing looks for.

use std::io;
use std::path::Path;

use crate::out::{Csv, date, money};
use crate::rng::Rng;
use crate::{ENTITIES, Summary};

/// Journal templates: (name, accounts with sign: debit +, credit −).
const TEMPLATES: &[(&str, &[(&str, i64)])] = &[
    ("sales", &[("1400", 1), ("4000", -1), ("3800", -1)]),
    ("purchase", &[("6300", 1), ("1570", 1), ("3300", -1)]),
    ("payroll", &[("6200", 1), ("6210", 1), ("1200", -1)]),
    ("receipt", &[("1200", 1), ("1400", -1)]),
    ("payment", &[("3300", 1), ("1200", -1)]),
    ("accrual", &[("6400", 1), ("3900", -1)]),
    ("depreciation", &[("6220", 1), ("0700", -1)]),
    ("travel", &[("6650", 1), ("1570", 1), ("1600", -1)]),
];

pub const ANOMALIES: &[&str] = &[
    "global_amount",
    "unusual_account_pair",
    "unusual_preparer_account",
    "sod_self_approval",
    "weekend_posting",
    "after_close",
    "backdated",
    "round_amount",
    "below_approval_limit",
    "period_end_manual_revenue",
    "unbalanced",
    "duplicate_journal",
];

struct Line {
    account: String,
    amount: i64,
}

pub fn write(
    dir: &Path,
    rng: &mut Rng,
    scale: usize,
    base_day: i32,
    profile: crate::Profile,
    world: Option<&'static crate::world::World>,
    summary: &mut Summary,
) -> io::Result<()> {
    let wide = profile == crate::Profile::Wide;
    // The entities' approval limit in major units, and their working day [start, end).
    let (limit, hours) = match world {
        Some(w) => (w.gl.approval_limit, w.gl.hours),
        None if wide => (5_000, (6, 21)),
        None => (10_000, (7, 19)),
    };
    // A world's own draws come from their own stream, so that the standard
    // scenario's stream (and files) stay as they are.
    let mut wr = rng.clone().fork(22);
    let world_anomalies: Vec<u64> = world.map_or(Vec::new(), |w| w.gl.anomalies.iter().map(|a| a.1).collect());
    let n_journals = (scale / 4).max(100);
    let mut c = Csv::create(
        &dir.join("gl_journal_lines.csv"),
        &[
            "journal_id",
            "line_no",
            "entity",
            "account",
            "cost_center",
            "posting_date",
            "document_date",
            "fiscal_period",
            "amount",
            "currency",
            "preparer_id",
            "approver_id",
            "source",
            "description",
            "created_at",
        ],
    )?;
    let mut truth = Csv::create(&dir.join("truth/journal_anomalies.csv"), &["entity", "journal_id", "type"])?;
    let mut r = rng.fork(21);
    // Each preparer habitually uses two or three templates.
    let preparers: Vec<(String, Vec<usize>)> = (0..30)
        .map(|i| (format!("U{:03}", i + 1), (0..3).map(|_| r.below(TEMPLATES.len() as u64) as usize).collect()))
        .collect();
    let approvers: Vec<String> = (0..6).map(|i| format!("M{:03}", i + 1)).collect();
    let mut last: Option<(usize, i32, Vec<Line>, String)> = None;
    for j in 0..n_journals {
        let ent = r.weighted(&[60, 25, 15]);
        let e = &ENTITIES[ent];
        let p_ix = r.below(preparers.len() as u64) as usize;
        let (prep, habits) = &preparers[p_ix];
        let mut tpl = habits[r.below(habits.len() as u64) as usize];
        // Business days only for normal postings (a world may post at weekends).
        let mut day = base_day + r.range(0, 179) as i32;
        let weekend_ok = world.is_some_and(|w| wr.permille(w.gl.weekend_permille));
        if weekend_ok {
            while weekday(day) < 5 {
                day += 1;
            }
        }
        while !weekend_ok && weekday(day) >= 5 {
            day += 1;
        }
        let mut manual = r.permille(300);
        let mut approver = if manual { r.pick(&approvers).clone() } else { String::new() };
        let mut created_day = day;
        let mut hour = r.range(hours.0, hours.1 - 1);
        let mut preparer = prep.clone();
        let base_amount = r.amount(50 * e.unit, 40_000 * e.unit);
        let mut anomaly = if r.permille(15) { Some(ANOMALIES[r.below(ANOMALIES.len() as u64) as usize]) } else { None };
        // A world's preparers keep their shift and their source.
        let night = world.is_some_and(|w| p_ix >= preparers.len() - w.gl.night_preparers);
        let interface_only = world.is_some_and(|w| p_ix < w.gl.interface_preparers);
        if let Some(w) = world {
            if night {
                hour = (22 + wr.range(0, 7)) % 24;
            }
            manual = !interface_only && wr.permille(600);
            approver = if manual { wr.pick(&approvers).clone() } else { String::new() };
            anomaly = if wr.permille(15) { Some(w.gl.anomalies[wr.weighted(&world_anomalies)].0) } else { None };
        }
        let mut lines: Vec<Line> = Vec::new();
        let mut amt = base_amount;
        match anomaly {
            Some("global_amount") => {
                amt = base_amount.saturating_mul(r.range(80, 300));
                // A global anomaly is a value rare in the whole book (Schreyer et al.
                // 2017, "Detection of anomalies in large scale accounting data using
                // deep autoencoder networks"): in a world it lies beyond every
                // normal amount (at least twice the largest), not inside the range
                // as 80× a small base may (the standard scenario keeps its draws).
                if world.is_some() {
                    amt = amt.max(40_000 * e.unit * wr.range(2, 10));
                }
            }
            Some("round_amount") => amt = r.range(1, 9) * 10_000 * e.unit * 10,
            Some("below_approval_limit") => amt = limit * e.unit - r.range(1, 60) * e.unit,
            Some("unusual_preparer_account") => {
                let outside: Vec<usize> = (0..TEMPLATES.len()).filter(|t| !habits.contains(t)).collect();
                if let Some(t) = outside.first() {
                    tpl = *t;
                }
            }
            _ => {}
        }
        let tplv = TEMPLATES[tpl].1;
        // Split the amount over debit lines and credit lines so that they balance.
        let debits: Vec<&(&str, i64)> = tplv.iter().filter(|(_, s)| *s > 0).collect();
        let credits: Vec<&(&str, i64)> = tplv.iter().filter(|(_, s)| *s < 0).collect();
        let split = |total: i64, n: usize, r: &mut Rng| -> Vec<i64> {
            if n == 1 {
                return vec![total];
            }
            let first = total * r.range(70, 90) / 100;
            let rest = total - first;
            let mut v = vec![first];
            for k in 1..n {
                v.push(if k == n - 1 { rest - v[1..].iter().sum::<i64>() } else { rest / (n as i64 - 1) });
            }
            v
        };
        for ((a, _), x) in debits.iter().zip(split(amt, debits.len(), &mut r)) {
            lines.push(Line { account: a.to_string(), amount: x });
        }
        for ((a, _), x) in credits.iter().zip(split(amt, credits.len(), &mut r)) {
            lines.push(Line { account: a.to_string(), amount: -x });
        }
        match anomaly {
            Some("unusual_account_pair") => {
                // Revenue straight against cash, a pair no template uses.
                lines =
                    vec![Line { account: "1200".into(), amount: amt }, Line { account: "4000".into(), amount: -amt }];
            }
            Some("sod_self_approval") => approver = preparer.clone(),
            Some("weekend_posting") => {
                while weekday(day) != 5 + (j % 2) as i32 {
                    day += 1;
                }
                created_day = day;
            }
            Some("after_close") => {
                // Created well into the next month, posted into the closed previous period.
                let (y, m, _) = reckon_core::date::civil_from_days(day);
                let next = reckon_core::date::days_from_civil(
                    if m == 12 { y + 1 } else { y },
                    if m == 12 { 1 } else { m + 1 },
                    12,
                );
                created_day = next;
            }
            Some("backdated") => created_day = day + r.range(35, 90) as i32,
            Some("unusual_hour") => {
                hour = if night { wr.range(11, 14) } else { wr.range(1, 4) };
                while weekday(day) >= 5 {
                    day += 1;
                }
                created_day = day;
            }
            Some("unusual_preparer_source") => {
                // An interface-only preparer keys a manual journal.
                let n = world.map_or(1, |w| w.gl.interface_preparers.max(1));
                preparer = preparers[wr.below(n as u64) as usize].0.clone();
                manual = true;
            }
            Some("period_end_manual_revenue") => {
                let (y, m, _) = reckon_core::date::civil_from_days(day);
                day = reckon_core::date::days_from_civil(y, m, reckon_core::date::days_in_month(y, m));
                created_day = day;
                hour = r.range(hours.1, 23);
                approver = r.pick(&approvers).clone();
                lines =
                    vec![Line { account: "1400".into(), amount: amt }, Line { account: "4000".into(), amount: -amt }];
                preparer = format!("U{:03}", 90 + r.below(5));
            }
            Some("unbalanced") => {
                let k = lines.len() - 1;
                lines[k].amount += r.range(1, 500) * e.unit / 100 + 1;
            }
            _ => {}
        }
        let is_manual = manual
            || matches!(anomaly, Some("sod_self_approval" | "period_end_manual_revenue" | "unusual_account_pair"));
        if is_manual && approver.is_empty() {
            approver = r.pick(&approvers).clone();
        }
        let jid = format!("J{:09}", 100_000_000 + j);
        let mut emit = |jid: &str, ent: usize, day: i32, lines: &[Line], preparer: &str| -> io::Result<()> {
            let e = &ENTITIES[ent];
            let (y, m, _) = reckon_core::date::civil_from_days(day);
            let created = format!("{}T{hour:02}:{:02}:00Z", date(created_day), (j * 7) % 60);
            for (ln, l) in lines.iter().enumerate() {
                c.row(&[
                    jid,
                    &(ln + 1).to_string(),
                    e.code,
                    &l.account,
                    if l.account.starts_with('6') { "CC100" } else { "" },
                    &date(day),
                    &date(day - 1),
                    &format!("{y}-{m:02}"),
                    &money(l.amount, e.exp),
                    e.currency,
                    preparer,
                    &approver,
                    if is_manual { "manual" } else { "interface" },
                    TEMPLATES[tpl].0,
                    &created,
                ])?;
            }
            Ok(())
        };
        if anomaly == Some("duplicate_journal")
            && let Some((lent, lday, llines, lprep)) = &last
        {
            {
                emit(&jid, *lent, *lday, llines, lprep)?;
                truth.row(&[ENTITIES[*lent].code, &jid, "duplicate_journal"])?;
                *summary.patterns.entry("gl/duplicate_journal".into()).or_default() += 1;
                continue;
            }
        }
        emit(&jid, ent, day, &lines, &preparer)?;
        if let Some(a) = anomaly {
            truth.row(&[e.code, &jid, a])?;
            *summary.patterns.entry(format!("gl/{a}")).or_default() += 1;
        }
        last = Some((ent, day, lines, preparer));
    }
    summary.rows.insert("gl_journal_lines".into(), c.finish()?);
    truth.finish()?;
    Ok(())
}

/// 0 = Monday … 6 = Sunday.
fn weekday(day: i32) -> i32 {
    (day + 3).rem_euclid(7)
}
