//! reckon-anomaly: journal-entry tests on GL journals (ISA 240 / AU-C 240).
//!
//! Each test is a named flag with a plain explanation and a configurable
//! parameter ([`AnomalyConfig`], checked then built into [`Tests`]): unbalanced
//! journals (per journal and currency — a control violation), preparer =
//! approver, weekend and holiday postings, postings after period close,
//! back-dated entries, round amounts and repeated ending digits, amounts just
//! below an approval limit, seldom-used accounts, a preparer posting to an
//! account they never use, account pairs never seen together, manual revenue
//! entries in the last days of a period, Benford first-digit deviation per
//! preparer (with a minimum sample) and duplicate journals.
//!
//! [`Tests::run`] flags journals; their risk combines the flags' weights
//! (`1 − Π(1 − wᵢ)`). ML scoring of the same journals (ONNX, issue 6) plugs in
//! beside the rules.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

/// One GL journal line (money in minor units, dates in days since 1970-01-01).
#[derive(Clone, Debug, Default)]
pub struct Line {
    pub journal_id: String,
    pub line_no: i64,
    pub entity: String,
    pub account: String,
    pub posting_date: i32,
    pub document_date: Option<i32>,
    pub fiscal_period: String,
    pub amount: i64,
    pub currency: String,
    pub exponent: u8,
    pub preparer_id: String,
    pub approver_id: String,
    pub source: String,
    /// Day the entry was created in the system (from `created_at`), if known.
    pub created_day: Option<i32>,
}

/// `[anomaly]` in reckon.toml.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnomalyConfig {
    /// Public holidays (ISO dates) on which postings are unusual.
    pub holidays: Vec<String>,
    /// Days after a period's end by which it is closed (absent an explicit close date).
    pub close_days: i32,
    /// Explicit close dates per fiscal period (`"2026-03" = "2026-04-06"`).
    pub close_dates: BTreeMap<String, String>,
    /// Created more than this many days after the posting date: back-dated.
    pub backdated_days: i32,
    /// Round amount: a multiple of this many major units (and at least it).
    pub round_unit: i64,
    /// Approval limits per currency (decimal text) and the band just below them.
    pub approval_limits: BTreeMap<String, String>,
    pub below_limit_percent: f64,
    /// An account used in at most this many journals of the book is seldom used.
    pub seldom_account_max_journals: usize,
    /// A preparer with at least this many lines posting once to an account.
    pub preparer_min_lines: usize,
    /// Sources that mean a manual entry, and revenue account prefixes.
    pub manual_sources: Vec<String>,
    pub revenue_prefixes: Vec<String>,
    /// The last days of a period for the manual-revenue test.
    pub period_end_days: i32,
    /// Benford: minimum lines per preparer and the MAD above which they deviate.
    pub benford_min_lines: usize,
    pub benford_mad: f64,
    /// Duplicate journals: same entity and lines within this many days.
    pub duplicate_days: i32,
    /// Journals at or above this risk become `journal_anomaly` exceptions (rules
    /// only; with a model its own validated threshold applies).
    pub review_risk: f64,
    /// The journal risk model folder under `models/` (or a path), or `rules`.
    pub model: String,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        AnomalyConfig {
            holidays: Vec::new(),
            close_days: 5,
            close_dates: BTreeMap::new(),
            backdated_days: 30,
            round_unit: 1000,
            approval_limits: [("EUR", "10000.00"), ("GBP", "10000.00"), ("USD", "10000.00")]
                .iter()
                .map(|(c, a)| (c.to_string(), a.to_string()))
                .collect(),
            below_limit_percent: 2.0,
            seldom_account_max_journals: 2,
            preparer_min_lines: 30,
            manual_sources: vec!["manual".into()],
            revenue_prefixes: vec!["4".into()],
            period_end_days: 3,
            benford_min_lines: 100,
            benford_mad: 0.015,
            duplicate_days: 14,
            review_risk: 0.5,
            model: "journal_anomaly_v1_0".into(),
        }
    }
}

/// Checked tests.
#[derive(Clone, Debug)]
pub struct Tests {
    cfg: AnomalyConfig,
    holidays: BTreeSet<i32>,
    close: BTreeMap<String, i32>,
    limits: BTreeMap<String, i64>,
}

impl AnomalyConfig {
    pub fn build(&self) -> Result<Tests, String> {
        let day = |f: &str, s: &str| {
            reckon_core::date::parse_iso_date(s).ok_or_else(|| format!("anomaly.{f}: '{s}' is not an ISO date"))
        };
        let holidays = self.holidays.iter().map(|h| day("holidays", h)).collect::<Result<_, _>>()?;
        let close = self
            .close_dates
            .iter()
            .map(|(p, d)| Ok((p.clone(), day("close_dates", d)?)))
            .collect::<Result<_, String>>()?;
        let mut limits = BTreeMap::new();
        for (c, a) in &self.approval_limits {
            let cur = reckon_core::Currency::parse(c)
                .ok_or_else(|| format!("anomaly.approval_limits: '{c}' is not ISO 4217"))?;
            let v = reckon_core::parse_minor(a, &reckon_core::MoneyFormat::CONTRACT, cur)
                .map_err(|e| format!("anomaly.approval_limits.{c}: {e}"))?;
            limits.insert(cur.code().to_string(), v);
        }
        if !(0.0..50.0).contains(&self.below_limit_percent) || !(0.0..=1.0).contains(&self.review_risk) {
            return Err("anomaly: below_limit_percent must be 0–50 and review_risk 0–1".into());
        }
        Ok(Tests { cfg: self.clone(), holidays, close, limits })
    }
}

/// A test that fired on a journal, with its explanation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Flag {
    pub test: &'static str,
    pub text: String,
    pub weight: f64,
}

/// A journal's outcome.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct JournalResult {
    pub entity: String,
    pub journal_id: String,
    /// Line indices (into the input slice).
    pub lines: Vec<usize>,
    pub flags: Vec<Flag>,
    pub risk: f64,
    /// Unbalanced per currency: a control violation.
    pub unbalanced: bool,
}

/// (posting date, journal id) of a journal with a given set of lines.
type Posted = (i32, String);
/// (entity, sorted (account, amount) lines): journals with the same signature are duplicates.
type Signature = (String, Vec<(String, i64)>);

fn weekday(day: i32) -> i32 {
    // 1970-01-01 was a Thursday (3 with Monday = 0).
    (day + 3).rem_euclid(7)
}

fn money(minor: i64, exp: u8) -> String {
    reckon_core::format_minor(minor, exp)
}

fn period_end(period: &str) -> Option<i32> {
    let (y, m) = period.split_once('-')?;
    let (y, m): (i32, u32) = (y.parse().ok()?, m.parse().ok()?);
    (1..=12).contains(&m).then(|| reckon_core::date::days_from_civil(y, m, reckon_core::date::days_in_month(y, m)))
}

/// Benford expected first-digit shares.
fn benford(d: usize) -> f64 {
    (1.0 + 1.0 / d as f64).log10()
}

impl Tests {
    pub fn config(&self) -> &AnomalyConfig {
        &self.cfg
    }

    /// Runs every test over the book; journals in (entity, journal id) order.
    pub fn run(&self, lines: &[Line]) -> Vec<JournalResult> {
        let c = &self.cfg;
        let mut journals: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
        for (i, l) in lines.iter().enumerate() {
            journals.entry((l.entity.clone(), l.journal_id.clone())).or_default().push(i);
        }
        // Book-wide statistics.
        let mut acct_journals: HashMap<(&str, &str), usize> = HashMap::new();
        let mut prep_lines: HashMap<&str, usize> = HashMap::new();
        let mut prep_acct: HashMap<(&str, &str), usize> = HashMap::new();
        let mut pair_count: HashMap<(String, String, String), usize> = HashMap::new();
        let mut digits: HashMap<&str, [usize; 10]> = HashMap::new();
        let mut signature: HashMap<Signature, Vec<Posted>> = HashMap::new();
        for ((ent, jid), ix) in &journals {
            let accts: BTreeSet<&str> = ix.iter().map(|&i| lines[i].account.as_str()).collect();
            for a in &accts {
                *acct_journals.entry((ent.as_str(), a)).or_default() += 1;
            }
            let debits: BTreeSet<&str> =
                ix.iter().filter(|&&i| lines[i].amount > 0).map(|&i| lines[i].account.as_str()).collect();
            let credits: BTreeSet<&str> =
                ix.iter().filter(|&&i| lines[i].amount < 0).map(|&i| lines[i].account.as_str()).collect();
            for d in &debits {
                for k in &credits {
                    *pair_count.entry((ent.clone(), d.to_string(), k.to_string())).or_default() += 1;
                }
            }
            let mut sig: Vec<(String, i64)> = ix.iter().map(|&i| (lines[i].account.clone(), lines[i].amount)).collect();
            sig.sort();
            signature.entry((ent.clone(), sig)).or_default().push((lines[ix[0]].posting_date, jid.clone()));
            for &i in ix {
                let l = &lines[i];
                *prep_lines.entry(l.preparer_id.as_str()).or_default() += 1;
                *prep_acct.entry((l.preparer_id.as_str(), l.account.as_str())).or_default() += 1;
                let first = l.amount.unsigned_abs().to_string().bytes().next().map_or(0, |b| (b - b'0') as usize);
                if first > 0 {
                    digits.entry(l.preparer_id.as_str()).or_insert([0; 10])[first] += 1;
                }
            }
        }
        // Benford deviation per preparer (mean absolute deviation of first digits).
        let benford_off: BTreeMap<&str, f64> = digits
            .iter()
            .filter_map(|(p, d)| {
                let n: usize = d.iter().sum();
                (n >= c.benford_min_lines).then(|| {
                    let mad = (1..10).map(|k| (d[k] as f64 / n as f64 - benford(k)).abs()).sum::<f64>() / 9.0;
                    (*p, mad)
                })
            })
            .filter(|(_, m)| *m > c.benford_mad)
            .collect();
        let mut dup_of: HashMap<String, String> = HashMap::new();
        for v in signature.values().filter(|v| v.len() >= 2) {
            let mut v = v.clone();
            v.sort();
            for w in v.windows(2) {
                if (w[1].0 - w[0].0).abs() <= c.duplicate_days {
                    dup_of.insert(w[1].1.clone(), w[0].1.clone());
                }
            }
        }
        journals
            .iter()
            .map(|((ent, jid), ix)| {
                let (ent, jid, ix) = (ent.clone(), jid.clone(), ix.clone());
                let mut flags: Vec<Flag> = Vec::new();
                let mut flag = |test: &'static str, weight: f64, text: String| {
                    if !flags.iter().any(|f| f.test == test) {
                        flags.push(Flag { test, text, weight });
                    }
                };
                let first = &lines[ix[0]];
                // Unbalanced per currency.
                let mut sums: BTreeMap<&str, (i64, u8)> = BTreeMap::new();
                for &i in &ix {
                    let e = sums.entry(lines[i].currency.as_str()).or_insert((0, lines[i].exponent));
                    e.0 += lines[i].amount;
                }
                let unbalanced = sums.values().any(|(s, _)| *s != 0);
                for (cur, (s, e)) in &sums {
                    if *s != 0 {
                        flag("unbalanced", 1.0, format!("debits and credits differ by {} {cur}", money(*s, *e)));
                    }
                }
                for &i in &ix {
                    let l = &lines[i];
                    if !l.approver_id.is_empty() && l.approver_id == l.preparer_id {
                        flag("self_approval", 0.7, format!("{} prepared and approved the entry", l.preparer_id));
                    }
                    let wd = weekday(l.posting_date);
                    if wd >= 5 || self.holidays.contains(&l.posting_date) {
                        let what = if wd >= 5 { "a weekend" } else { "a holiday" };
                        flag(
                            "weekend_holiday",
                            0.35,
                            format!("posted on {what} ({})", reckon_core::date::format_iso_date(l.posting_date)),
                        );
                    }
                    let close = self
                        .close
                        .get(&l.fiscal_period)
                        .copied()
                        .or_else(|| period_end(&l.fiscal_period).map(|e| e + c.close_days));
                    if let (Some(close), Some(created)) = (close, l.created_day)
                        && created > close
                    {
                        flag(
                            "after_close",
                            0.6,
                            format!("entered {} day(s) after period {} closed", created - close, l.fiscal_period),
                        );
                    }
                    if let Some(created) = l.created_day
                        && created - l.posting_date > c.backdated_days
                    {
                        flag(
                            "backdated",
                            0.55,
                            format!("created {} day(s) after its posting date", created - l.posting_date),
                        );
                    }
                    let unit = 10i64.pow(u32::from(l.exponent));
                    let major = l.amount.abs();
                    if major >= c.round_unit * unit && major % (c.round_unit * unit) == 0 {
                        flag("round_amount", 0.3, format!("round amount {}", money(l.amount.abs(), l.exponent)));
                    } else if major >= 1000 * unit && (major / unit) % 1000 == 999 {
                        flag("round_amount", 0.3, format!("amount {} ends in 999", money(l.amount.abs(), l.exponent)));
                    }
                    if let Some(limit) = self.limits.get(&l.currency) {
                        let lo = *limit as f64 * (1.0 - c.below_limit_percent / 100.0);
                        if (major as f64) >= lo && major < *limit {
                            flag(
                                "below_approval_limit",
                                0.5,
                                format!(
                                    "{} is just below the approval limit {}",
                                    money(major, l.exponent),
                                    money(*limit, l.exponent)
                                ),
                            );
                        }
                    }
                    if acct_journals.get(&(ent.as_str(), l.account.as_str())).copied().unwrap_or(0)
                        <= c.seldom_account_max_journals
                    {
                        flag(
                            "seldom_account",
                            0.3,
                            format!(
                                "account {} is used in {} journal(s) of the book",
                                l.account,
                                acct_journals.get(&(ent.as_str(), l.account.as_str())).copied().unwrap_or(0)
                            ),
                        );
                    }
                    if prep_lines.get(l.preparer_id.as_str()).copied().unwrap_or(0) >= c.preparer_min_lines
                        && prep_acct.get(&(l.preparer_id.as_str(), l.account.as_str())).copied().unwrap_or(0) <= 1
                    {
                        flag(
                            "unusual_preparer_account",
                            0.45,
                            format!("{} has never posted to account {} before", l.preparer_id, l.account),
                        );
                    }
                    if c.manual_sources.iter().any(|s| s.eq_ignore_ascii_case(&l.source))
                        && c.revenue_prefixes.iter().any(|p| l.account.starts_with(p.as_str()))
                        && period_end(&l.fiscal_period)
                            .is_some_and(|e| e - l.posting_date < c.period_end_days && e >= l.posting_date)
                    {
                        flag(
                            "period_end_manual_revenue",
                            0.5,
                            format!(
                                "manual entry to revenue account {} in the last days of {}",
                                l.account, l.fiscal_period
                            ),
                        );
                    }
                    if let Some(mad) = benford_off.get(l.preparer_id.as_str()) {
                        flag(
                            "benford",
                            0.15,
                            format!("{}'s first digits deviate from Benford's law (MAD {mad:.3})", l.preparer_id),
                        );
                    }
                }
                let debits: BTreeSet<&str> =
                    ix.iter().filter(|&&i| lines[i].amount > 0).map(|&i| lines[i].account.as_str()).collect();
                let credits: BTreeSet<&str> =
                    ix.iter().filter(|&&i| lines[i].amount < 0).map(|&i| lines[i].account.as_str()).collect();
                'pairs: for d in &debits {
                    for k in &credits {
                        let common = |a: &str| {
                            acct_journals.get(&(ent.as_str(), a)).copied().unwrap_or(0) > c.seldom_account_max_journals
                        };
                        if pair_count.get(&(ent.clone(), d.to_string(), k.to_string())).copied().unwrap_or(0) <= 1
                            && common(d)
                            && common(k)
                        {
                            flag(
                                "unusual_account_pair",
                                0.45,
                                format!("accounts {d} (debit) and {k} (credit) are never otherwise booked together"),
                            );
                            break 'pairs;
                        }
                    }
                }
                if let Some(orig) = dup_of.get(&jid) {
                    flag("duplicate_journal", 0.6, format!("same lines as journal {orig}"));
                }
                let risk = 1.0 - flags.iter().map(|f| 1.0 - f.weight).product::<f64>();
                let _ = first;
                JournalResult { entity: ent, journal_id: jid, lines: ix, flags, risk, unbalanced }
            })
            .collect()
    }
}

/// Feature spec of a journal for the ML scorers.
pub const FEATURE_SPEC: &str = "journal_v1";

/// Journal features (`journal_v1`), in column order.
pub const FEATURES: &[&str] = &[
    "log_total",
    "lines",
    "manual",
    "weekday",
    "day_of_period",
    "created_lag",
    "rarest_account",
    "rarest_preparer_account",
    "rarest_account_pair",
    "amount_z_max",
    "has_approver",
    "self_approval",
    "round_thousand",
];

/// Rule tests, in the order of the combined model's flag columns. Benford is left
/// out: it judges a preparer's whole population of amounts (and only from a
/// minimum sample), so its presence says more about the book's size than about
/// one journal; it stays a flag and part of the rule risk.
pub const TESTS: &[&str] = &[
    "unbalanced",
    "self_approval",
    "weekend_holiday",
    "after_close",
    "backdated",
    "round_amount",
    "below_approval_limit",
    "seldom_account",
    "unusual_preparer_account",
    "unusual_account_pair",
    "period_end_manual_revenue",
    "duplicate_journal",
];

/// Features of every journal (same order as `results`), learned from the book itself:
/// frequencies of accounts, preparer–account and account pairs, amount profile per account.
pub fn features(lines: &[Line], results: &[JournalResult]) -> Vec<f32> {
    let mut acct: HashMap<(&str, &str), usize> = HashMap::new();
    let mut prep_acct: HashMap<(&str, &str), usize> = HashMap::new();
    let mut pairs: HashMap<(&str, &str, &str), usize> = HashMap::new();
    let mut stats: HashMap<(&str, &str), (f64, f64, f64)> = HashMap::new(); // n, sum, sumsq of log10|amount|
    for j in results {
        let accts: BTreeSet<&str> = j.lines.iter().map(|&i| lines[i].account.as_str()).collect();
        for a in &accts {
            *acct.entry((j.entity.as_str(), a)).or_default() += 1;
        }
        let dr: BTreeSet<&str> =
            j.lines.iter().filter(|&&i| lines[i].amount > 0).map(|&i| lines[i].account.as_str()).collect();
        let cr: BTreeSet<&str> =
            j.lines.iter().filter(|&&i| lines[i].amount < 0).map(|&i| lines[i].account.as_str()).collect();
        for d in &dr {
            for c in &cr {
                *pairs.entry((j.entity.as_str(), d, c)).or_default() += 1;
            }
        }
        for &i in &j.lines {
            let l = &lines[i];
            *prep_acct.entry((l.preparer_id.as_str(), l.account.as_str())).or_default() += 1;
            let v = ((l.amount.unsigned_abs() as f64) + 1.0).log10();
            let e = stats.entry((j.entity.as_str(), l.account.as_str())).or_insert((0.0, 0.0, 0.0));
            e.0 += 1.0;
            e.1 += v;
            e.2 += v * v;
        }
    }
    // Frequencies as shares of the book, so that a model trained on one book size
    // reads another alike.
    let journals_n = results.len().max(1) as f32;
    let mut prep_n: HashMap<&str, usize> = HashMap::new();
    for l in lines {
        *prep_n.entry(l.preparer_id.as_str()).or_default() += 1;
    }
    let share = |n: usize, of: f32| ((n as f32 / of) * 100.0).min(100.0);
    let mut out = Vec::with_capacity(results.len() * FEATURES.len());
    for j in results {
        let ls: Vec<&Line> = j.lines.iter().map(|&i| &lines[i]).collect();
        let first = ls[0];
        let unit = 10f64.powi(i32::from(first.exponent));
        let total: i64 = ls.iter().map(|l| l.amount).filter(|a| *a > 0).sum();
        let end = period_end(&first.fiscal_period);
        let dom = end.map_or(0.5, |e| 1.0 - ((e - first.posting_date) as f32 / 31.0).clamp(0.0, 1.0));
        let lag = first.created_day.map_or(0.0, |c| ((c - first.posting_date) as f32 / 30.0).clamp(-1.0, 6.0));
        let rare_acct = ls
            .iter()
            .map(|l| acct.get(&(j.entity.as_str(), l.account.as_str())).copied().unwrap_or(0))
            .min()
            .unwrap_or(0);
        let rare_pa = ls
            .iter()
            .map(|l| {
                share(
                    prep_acct.get(&(l.preparer_id.as_str(), l.account.as_str())).copied().unwrap_or(0),
                    prep_n.get(l.preparer_id.as_str()).copied().unwrap_or(1) as f32,
                )
            })
            .fold(f32::INFINITY, f32::min);
        let dr: Vec<&str> = ls.iter().filter(|l| l.amount > 0).map(|l| l.account.as_str()).collect();
        let cr: Vec<&str> = ls.iter().filter(|l| l.amount < 0).map(|l| l.account.as_str()).collect();
        let rare_pair = dr
            .iter()
            .flat_map(|d| cr.iter().map(move |c| (*d, *c)))
            .map(|(d, c)| pairs.get(&(j.entity.as_str(), d, c)).copied().unwrap_or(0))
            .min()
            .unwrap_or(0);
        let zmax = ls
            .iter()
            .map(|l| {
                let v = ((l.amount.unsigned_abs() as f64) + 1.0).log10();
                let (n, s, q) = stats.get(&(j.entity.as_str(), l.account.as_str())).copied().unwrap_or((1.0, v, v * v));
                let m = s / n;
                let sd = (q / n - m * m).max(0.0).sqrt().max(0.05);
                ((v - m) / sd).abs()
            })
            .fold(0.0, f64::max);
        out.extend([
            ((total as f64 / unit) + 1.0).log10() as f32,
            ls.len() as f32,
            if first.source.eq_ignore_ascii_case("manual") { 1.0 } else { 0.0 },
            weekday(first.posting_date) as f32 / 6.0,
            dom,
            lag,
            share(rare_acct, journals_n),
            if rare_pa.is_finite() { rare_pa } else { 0.0 },
            share(rare_pair, journals_n),
            zmax.min(20.0) as f32,
            if ls.iter().any(|l| !l.approver_id.is_empty()) { 1.0 } else { 0.0 },
            if ls.iter().any(|l| !l.approver_id.is_empty() && l.approver_id == l.preparer_id) { 1.0 } else { 0.0 },
            if ls.iter().any(|l| l.amount != 0 && l.amount.unsigned_abs() % (1000 * unit as u64) == 0) {
                1.0
            } else {
                0.0
            },
        ]);
    }
    out
}

/// Flag indicators of every journal (`TESTS` order) followed by the rule risk.
pub fn flag_matrix(results: &[JournalResult]) -> Vec<f32> {
    let mut out = Vec::with_capacity(results.len() * (TESTS.len() + 1));
    for j in results {
        out.extend(TESTS.iter().map(|t| if j.flags.iter().any(|f| f.test == *t) { 1.0f32 } else { 0.0 }));
        out.push(j.risk as f32);
    }
    out
}

/// Plain words for each `journal_v1` feature (for reasons).
pub const FEATURE_WORDS: &[&str] = &[
    "total amount",
    "number of lines",
    "manual entry",
    "weekday",
    "day of the period",
    "days between posting and entry",
    "how common its rarest account is",
    "how often the preparer uses these accounts",
    "how common its account pair is",
    "amount against the account's usual amounts",
    "approval",
    "self-approval",
    "round thousands",
];

/// Per journal, the features furthest from the book's typical value (robust
/// z-score: distance from the median in scaled median absolute deviations, or
/// standard deviations where the MAD is 0), strongest
/// first, only those beyond `min_z`: the "top contributing features" of a reason.
pub fn outlying_features(features: &[f32], k: usize, min_z: f32) -> Vec<Vec<(usize, f32)>> {
    let n = features.len().checked_div(k).unwrap_or(0);
    let mut med = vec![0f32; k];
    let mut mad = vec![1f32; k];
    for f in 0..k {
        let mut col: Vec<f32> = (0..n).map(|r| features[r * k + f]).collect();
        col.sort_by(f32::total_cmp);
        let m = col.get(n / 2).copied().unwrap_or(0.0);
        let mut dev: Vec<f32> = col.iter().map(|v| (v - m).abs()).collect();
        dev.sort_by(f32::total_cmp);
        med[f] = m;
        let d = dev.get(n / 2).copied().unwrap_or(0.0) * 1.4826;
        // Mostly-constant features (MAD 0) are scaled by their standard deviation.
        let mean = col.iter().sum::<f32>() / n.max(1) as f32;
        let sd = (col.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n.max(1) as f32).sqrt();
        mad[f] = if d > 1e-6 { d } else { sd.max(1e-3) };
    }
    (0..n)
        .map(|r| {
            let mut v: Vec<(usize, f32)> = (0..k)
                .map(|f| (f, (features[r * k + f] - med[f]) / mad[f]))
                .filter(|(_, z)| z.abs() >= min_z)
                .collect();
            v.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
            v.truncate(2);
            v
        })
        .collect()
}
