//! reckon-journals: journal-entry tests on GL journals (ISA 240 / AU-C 240).
//!
//! Each test is a named flag with a plain explanation and a configurable
//! parameter ([`AnomalyConfig`], checked then built into [`Tests`]): unbalanced
//! journals (per journal and currency — a control violation), preparer =
//! approver, weekend and holiday postings, postings after period close,
//! back-dated entries, round amounts and repeated ending digits, amounts just
//! below an approval limit, seldom-used accounts, a preparer posting to an
//! account they never use, account pairs never seen together, manual revenue
//! entries in the last days of a period, Benford first-digit deviation per
//! preparer (with a minimum sample), duplicate journals, and amounts far above
//! their account's usual amounts.
//!
//! The book is held column by column with interned text ([`Book`]); the
//! book-wide counts every test and feature is relative to ([`Profile`]) and the
//! tests themselves run over journals in parallel (rayon), with results in
//! (entity, journal id) order whatever the thread count.
//!
//! [`Tests::run_book`] flags journals; their rule risk combines the flags' weights
//! (`1 − Π(1 − wᵢ)`). [`features`] gives the `journal_v2` features the ML
//! scorers (ONNX, in `reckon-pipeline`) read beside the flags.

pub mod book;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use rayon::prelude::*;
use reckon_core::InvalidSetting;
use serde::{Deserialize, Serialize};

pub use book::{AMOUNT_SCALE, Book, Columns, Dict, Journals, Profile, RaggedBook, log_amount};

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
    /// Hour (UTC, 0–23) the entry was created, if known.
    pub created_hour: Option<u8>,
}

/// `[journals]` in reckon.toml (read from `[anomaly]` too).
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
    /// Duplicate journals: same entity and lines within this many days …
    pub duplicate_days: i32,
    /// … where chance explains such a match for at most this many journals of
    /// its kind (same entity and accounts on the same sides, a similar total;
    /// [`Rarity::duplicate`]). In a large book many journals with the same two
    /// accounts and a small total meet an equal one within days by chance; 0.001
    /// keeps the test to matches chance explains at most once in a thousand.
    pub duplicate_max_chance: f64,
    /// Amount outlier: a line at least this many standard deviations above its
    /// account's usual amounts (log scale, per entity and account) …
    pub outlier_z: f64,
    /// … on an account with at least this many lines in the book.
    pub outlier_min_lines: usize,
    /// An entity with at least this share of its journals posted on Saturdays or
    /// Sundays (and at least `weekend_routine_min_journals` journals) posts at
    /// weekends as a matter of course: `weekend_holiday` does not fire for its
    /// weekend postings (holidays still count). 0.10 is far above a
    /// Monday-to-Friday ledger's weekend share (its weekend postings are
    /// exceptions) and below a seven-day business's (2/7 ≈ 0.29).
    pub weekend_routine_share: f64,
    pub weekend_routine_min_journals: usize,
    /// An account pair (debit, credit) booked together in at most this share of
    /// the entity's journals (and at least once more than never: the larger of
    /// one journal and the share) is `unusual_account_pair`, so that a pattern
    /// repeated a few times is still seen. 0.005 is one journal in two hundred.
    pub pair_rare_share: f64,
    /// A preparer's own rhythm: with at least `preparer_min_journals` journals,
    /// a journal entered at an hour (±1) at which at most `preparer_rare_share`
    /// of their journals were entered is `unusual_hour`; one entered through a
    /// source they use for at most that share is `unusual_preparer_source`
    /// (a journal alone in its hours or source always is). With at least
    /// `preparer_min_lines` lines, an account they post at most that share of
    /// their lines to (or once) is `unusual_preparer_account`.
    pub preparer_min_journals: usize,
    pub preparer_rare_share: f64,
    /// The working day, `[start, end)` in hours of the entry time (UTC): the
    /// `off_hours` feature counts the hours a journal was entered outside it.
    /// The default 07–19 is a placeholder for an office day, not a convention:
    /// set it to the entity's own working hours (`docs/defaults.md`).
    pub business_hours: [u8; 2],
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
            duplicate_max_chance: 0.001,
            outlier_z: 3.5,
            outlier_min_lines: 30,
            business_hours: [7, 19],
            weekend_routine_share: 0.10,
            weekend_routine_min_journals: 50,
            preparer_min_journals: 30,
            preparer_rare_share: 0.02,
            pair_rare_share: 0.005,
            review_risk: 0.5,
            model: "journals_v5_0".into(),
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

/// A setting of `[journals]` that cannot be used.
fn bad(reason: String) -> InvalidSetting {
    InvalidSetting::new("journals", reason)
}

impl AnomalyConfig {
    /// Checks the settings and builds the journal tests.
    pub fn build(&self) -> Result<Tests, InvalidSetting> {
        let day = |f: &str, s: &str| {
            reckon_core::date::parse_iso_date(s).ok_or_else(|| bad(format!("anomaly.{f}: '{s}' is not an ISO date")))
        };
        let holidays = self.holidays.iter().map(|h| day("holidays", h)).collect::<Result<_, _>>()?;
        let close = self
            .close_dates
            .iter()
            .map(|(p, d)| Ok((p.clone(), day("close_dates", d)?)))
            .collect::<Result<_, InvalidSetting>>()?;
        let mut limits = BTreeMap::new();
        for (c, a) in &self.approval_limits {
            let cur = reckon_core::Currency::parse(c)
                .ok_or_else(|| bad(format!("journals.approval_limits: '{c}' is not ISO 4217")))?;
            let v = reckon_core::parse_minor(a, &reckon_core::MoneyFormat::CONTRACT, cur)
                .map_err(|e| bad(format!("journals.approval_limits.{c}: {e}")))?;
            limits.insert(cur.code().to_string(), v);
        }
        let days = |name: &str, v: i32, max: i32| -> Result<(), InvalidSetting> {
            if (0..=max).contains(&v) {
                Ok(())
            } else {
                Err(bad(format!("anomaly.{name} = {v} must be within 0..={max}")))
            }
        };
        days("close_days", self.close_days, 366)?;
        days("backdated_days", self.backdated_days, 3660)?;
        days("period_end_days", self.period_end_days, 31)?;
        days("duplicate_days", self.duplicate_days, 366)?;
        if !(self.duplicate_max_chance > 0.0 && self.duplicate_max_chance <= 1.0) {
            return Err(bad(format!(
                "anomaly.duplicate_max_chance = {} must be within (0, 1]",
                self.duplicate_max_chance
            )));
        }
        let count = |name: &str, v: usize, min: usize| -> Result<(), InvalidSetting> {
            if (min..=100_000_000).contains(&v) {
                Ok(())
            } else {
                Err(bad(format!("anomaly.{name} = {v} must be within {min}..=100000000")))
            }
        };
        count("seldom_account_max_journals", self.seldom_account_max_journals, 0)?;
        count("preparer_min_lines", self.preparer_min_lines, 1)?;
        count("benford_min_lines", self.benford_min_lines, 1)?;
        if !(1..=1_000_000_000_000).contains(&self.round_unit) {
            return Err(bad(format!("journals.round_unit = {} must be within 1..=10^12 major units", self.round_unit)));
        }
        if !(self.below_limit_percent > 0.0 && self.below_limit_percent < 50.0) {
            return Err(bad(format!(
                "journals.below_limit_percent = {} must be within 0..50 (exclusive)",
                self.below_limit_percent
            )));
        }
        if !(0.0..=1.0).contains(&self.review_risk) {
            return Err(bad(format!("journals.review_risk = {} must be within 0..=1", self.review_risk)));
        }
        if !(self.weekend_routine_share > 0.0 && self.weekend_routine_share <= 1.0) {
            return Err(bad(format!(
                "journals.weekend_routine_share = {} must be within 0..=1 (exclusive of 0)",
                self.weekend_routine_share
            )));
        }
        count("weekend_routine_min_journals", self.weekend_routine_min_journals, 1)?;
        count("preparer_min_journals", self.preparer_min_journals, 1)?;
        if !(self.pair_rare_share > 0.0 && self.pair_rare_share <= 0.5) {
            return Err(bad(format!(
                "journals.pair_rare_share = {} must be within 0..=0.5 (exclusive of 0)",
                self.pair_rare_share
            )));
        }
        if !(self.preparer_rare_share > 0.0 && self.preparer_rare_share <= 0.5) {
            return Err(bad(format!(
                "journals.preparer_rare_share = {} must be within 0..=0.5 (exclusive of 0)",
                self.preparer_rare_share
            )));
        }
        if !(self.benford_mad > 0.0 && self.benford_mad < 1.0) {
            return Err(bad(format!("journals.benford_mad = {} must be within 0..1 (exclusive)", self.benford_mad)));
        }
        let [start, end] = self.business_hours;
        if start >= end || end > 24 {
            return Err(bad(format!(
                "journals.business_hours [{start}, {end}] must be [start, end] with start < end ≤ 24"
            )));
        }
        if !(self.outlier_z > 0.0 && self.outlier_z <= 1000.0) {
            return Err(bad(format!(
                "journals.outlier_z = {} must be within 0..=1000 (exclusive of 0)",
                self.outlier_z
            )));
        }
        count("outlier_min_lines", self.outlier_min_lines, 2)?;
        Ok(Tests { cfg: self.clone(), holidays, close, limits })
    }
}

/// A test that fired on a journal, with its explanation. A text that many
/// journals share (a preparer's Benford deviation) is one allocation for all of
/// them.
#[derive(Clone, Debug, PartialEq)]
pub struct Flag {
    pub test: JournalTest,
    pub text: Arc<str>,
    pub weight: f64,
}

/// A journal's outcome. Results are kept for every journal of a book (millions
/// in a year of a large company's GL), so a result holds its lines as the
/// journal's position in [`Book::journals`], and its entity's name is shared.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JournalResult {
    pub entity: Arc<str>,
    pub journal_id: String,
    /// The journal's position in [`Book::journals`]; its lines are [`JournalResult::lines`].
    pub journal: u32,
    pub flags: Vec<Flag>,
    pub risk: f64,
    /// Unbalanced per currency: a control violation.
    pub unbalanced: bool,
    /// The journal's largest amount above its account's usual amounts, in
    /// standard deviations of log amounts (0 when none is above, or the account
    /// has fewer than `outlier_min_lines` lines).
    pub amount_z: f64,
    /// The journal's largest amount beyond its account's usual range
    /// ([`Profile::amount_fence`], 0–10; 0 for accounts with fewer than
    /// `outlier_min_lines` lines).
    pub amount_fence: f64,
    /// How often this book does what the journal does (the preparer's own rhythm).
    pub rarity: Rarity,
}

/// How common, in its own book, what a journal does is: shares from 0 to 1, 1
/// where the book has too few of the preparer's journals to judge
/// (`preparer_min_lines` lines, `preparer_min_journals` journals). These are
/// the book-relative inputs of the risk model (as surprise, [`Rarity::surprise`]):
/// a model trained on other companies' books reads "rare here", not "rare in
/// the books it was trained on".
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Rarity {
    /// The smallest share of the preparer's lines posted to one of the journal's accounts.
    pub preparer_account: f64,
    /// The smallest share of the entity's journals booking one of its debit–credit pairs.
    pub account_pair: f64,
    /// Share of the preparer's journals entered within an hour of this one's hour.
    pub preparer_hour: f64,
    /// Share of the preparer's journals posted through this journal's source.
    pub preparer_source: f64,
    /// Share of the entity's journals posted on a Saturday, Sunday or
    /// configured holiday, for a journal posted on one (1 otherwise).
    pub weekend_holiday: f64,
    /// For a journal with the same lines as an earlier one within
    /// `duplicate_days`: how many such matches chance gives a journal of its
    /// kind, capped at 1 (1 for a journal without one). Its kind is the entity
    /// and the accounts on each side; chance is the window's share of the
    /// entity's book (its first to last posting day) times the kind's other
    /// journals per minor unit whose debits total within ×/÷ 1.25 of this one's
    /// (at least one). A total matching to the cent among
    /// many similar totals of the same two accounts is expected in a large book;
    /// among few, it is not.
    pub duplicate: f64,
}

impl JournalResult {
    /// The journal's lines: indices into `book` (into the input slice for
    /// [`Tests::run`]), in the order they came in.
    pub fn lines<'b>(&self, book: &'b Book) -> &'b [u32] {
        book.journals().lines(self.journal as usize)
    }
}

impl Default for Rarity {
    fn default() -> Self {
        Rarity {
            preparer_account: 1.0,
            account_pair: 1.0,
            preparer_hour: 1.0,
            preparer_source: 1.0,
            weekend_holiday: 1.0,
            duplicate: 1.0,
        }
    }
}

impl Rarity {
    /// `-log10(share)`, from 0 (everyone does it) to 4 (one in ten thousand or rarer).
    pub fn surprise(share: f64) -> f64 {
        (-share.clamp(1e-4, 1.0).log10()).clamp(0.0, 4.0)
    }
}

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
/// Benford's expected share of first digit `d` (1–9): log10(1 + 1/d).
pub fn benford(d: usize) -> f64 {
    (1.0 + 1.0 / d as f64).log10()
}

/// Mean absolute deviation of first-digit shares from Benford's law (Nigrini),
/// over `digits[1..=9]` (counts of first digits 1–9); `None` without any.
pub fn benford_mad(digits: &[u32; 10]) -> Option<f64> {
    let n: u32 = digits[1..].iter().sum();
    (n > 0).then(|| (1..10).map(|k| (f64::from(digits[k]) / f64::from(n) - benford(k)).abs()).sum::<f64>() / 9.0)
}

/// A preparer's first digits against Benford's law.
#[derive(Clone, Debug, PartialEq)]
pub struct BenfordProfile {
    pub preparer: String,
    /// Lines with a non-zero amount.
    pub lines: u32,
    /// Counts of first digits 1–9.
    pub counts: [u32; 9],
    pub mad: f64,
    /// Enough lines (`benford_min_lines`) and a MAD above `benford_mad`.
    pub nonconforming: bool,
}

impl Tests {
    /// Every preparer's first digits, as the `benford` test judges them.
    pub fn benford_profiles(&self, book: &Book) -> Vec<BenfordProfile> {
        let c = &self.cfg;
        book.profile()
            .digits
            .iter()
            .enumerate()
            .filter_map(|(p, d)| {
                let mad = benford_mad(d)?;
                let lines: u32 = d[1..].iter().sum();
                let mut counts = [0u32; 9];
                counts.copy_from_slice(&d[1..]);
                Some(BenfordProfile {
                    preparer: book.preparer_id.name(p as u32).to_string(),
                    lines,
                    counts,
                    mad,
                    nonconforming: lines as usize >= c.benford_min_lines && mad > c.benford_mad,
                })
            })
            .collect()
    }
}

impl Tests {
    pub fn config(&self) -> &AnomalyConfig {
        &self.cfg
    }

    /// Runs every test over a book of row structs; journals in (entity, journal id) order.
    pub fn run(&self, lines: &[Line]) -> Vec<JournalResult> {
        self.run_book(&Book::from_lines(lines))
    }

    /// Runs every test over the book, journals in parallel; journals in (entity,
    /// journal id) order, the same whatever the thread count.
    pub fn run_book(&self, book: &Book) -> Vec<JournalResult> {
        let c = &self.cfg;
        let js = book.journals();
        let prof = book.profile();
        // Per-dictionary facts, looked up once per distinct value instead of per line.
        let periods = book.fiscal_period.names();
        let period_ends: Vec<Option<i32>> = periods.iter().map(|p| period_end(p)).collect();
        let closes: Vec<Option<i32>> = periods
            .iter()
            .zip(&period_ends)
            .map(|(p, e)| self.close.get(p).copied().or_else(|| e.map(|e| e + c.close_days)))
            .collect();
        let limits: Vec<Option<i64>> =
            book.currency.names().iter().map(|cur| self.limits.get(cur.as_str()).copied()).collect();
        let manual: Vec<bool> =
            book.source.names().iter().map(|s| c.manual_sources.iter().any(|m| m.eq_ignore_ascii_case(s))).collect();
        let revenue: Vec<bool> =
            book.account.names().iter().map(|a| c.revenue_prefixes.iter().any(|p| a.starts_with(p.as_str()))).collect();
        // Benford deviation per preparer (mean absolute deviation of first digits).
        let benford_off: Vec<Option<f64>> = prof
            .digits
            .iter()
            .map(|d| {
                let n: u32 = d.iter().sum();
                if (n as usize) < c.benford_min_lines {
                    return None;
                }
                benford_mad(d).filter(|mad| *mad > c.benford_mad)
            })
            .collect();
        let dup_of = self.duplicates(book);
        let entity_names: Vec<Arc<str>> = book.entity.names().iter().map(|e| Arc::from(e.as_str())).collect();
        // One text per nonconforming preparer, shared by all of their journals.
        let benford_text: Vec<Option<Arc<str>>> = benford_off
            .iter()
            .enumerate()
            .map(|(p, mad)| {
                mad.map(|mad| {
                    Arc::from(format!(
                        "{}'s first digits deviate from Benford's law (MAD {mad:.3})",
                        book.preparer_id.name(p as u32)
                    ))
                })
            })
            .collect();
        // Entities that post at weekends as a matter of course (retail, hospitality,
        // round-the-clock operations): a weekend posting there is not unusual.
        let off_day = |d: i32| weekday(d) >= 5 || self.holidays.contains(&d);
        let mut weekend_count = vec![(0u64, 0u64); book.entity.names().len()];
        let mut off_count = vec![0u64; book.entity.names().len()];
        for j in 0..js.len() {
            let i0 = js.lines(j)[0] as usize;
            let ent = book.entity.id(i0) as usize;
            let e = &mut weekend_count[ent];
            e.0 += u64::from(weekday(book.posting_date[i0]) >= 5);
            e.1 += 1;
            off_count[ent] += u64::from(off_day(book.posting_date[i0]));
        }
        let entity_journals: Vec<u64> = weekend_count.iter().map(|(_, n)| *n).collect();
        let off_share: Vec<f64> =
            off_count.iter().zip(&entity_journals).map(|(w, n)| *w as f64 / (*n).max(1) as f64).collect();
        let weekend_routine: Vec<bool> = weekend_count
            .iter()
            .map(|(w, n)| {
                *n >= c.weekend_routine_min_journals as u64 && (*w as f64) >= c.weekend_routine_share * (*n as f64)
            })
            .collect();
        (0..js.len())
            .into_par_iter()
            .map(|j| {
                let ix = js.lines(j);
                let i0 = ix[0] as usize;
                let ent = book.entity.id(i0);
                let mut flags: Vec<Flag> = Vec::new();
                let mut rarity = Rarity::default();
                if off_day(book.posting_date[i0]) {
                    rarity.weekend_holiday = off_share[ent as usize];
                }
                // Unbalanced per currency.
                // In i128: lines whose sum leaves i64 must not wrap to a balanced 0.
                let mut sums: Vec<(&str, i128, u8)> = Vec::new();
                for &i in ix {
                    let i = i as usize;
                    let cur = book.currency.at(i);
                    match sums.iter_mut().find(|s| s.0 == cur) {
                        Some(s) => s.1 += i128::from(book.amount[i]),
                        None => sums.push((cur, i128::from(book.amount[i]), book.exponent[i])),
                    }
                }
                sums.sort_by(|a, b| a.0.cmp(b.0));
                let unbalanced = sums.iter().any(|s| s.1 != 0);
                if unbalanced {
                    let off: Vec<String> = sums
                        .iter()
                        .filter(|s| s.1 != 0)
                        .map(|(cur, s, e)| format!("{} {cur}", reckon_core::format_minor_wide(*s, *e)))
                        .collect();
                    flags.push(Flag {
                        test: JournalTest::Unbalanced,
                        text: Arc::from(format!("debits and credits differ by {}", off.join(", "))),
                        weight: 1.0,
                    });
                }
                let mut shared = |test: JournalTest, weight: f64, text: &Arc<str>| {
                    if !flags.iter().any(|f| f.test == test) {
                        flags.push(Flag { test, text: Arc::clone(text), weight });
                    }
                };
                for &i in ix {
                    if let Some(Some(text)) = benford_text.get(book.preparer_id.id(i as usize) as usize) {
                        shared(JournalTest::Benford, 0.15, text);
                    }
                }
                let mut flag = |test: JournalTest, weight: f64, text: &dyn Fn() -> String| {
                    if !flags.iter().any(|f| f.test == test) {
                        flags.push(Flag { test, text: Arc::from(text()), weight });
                    }
                };
                for &i in ix {
                    let i = i as usize;
                    let (prep, acct, per) = (book.preparer_id.id(i), book.account.id(i), book.fiscal_period.id(i));
                    let appr = book.approver_id.at(i);
                    let posted = book.posting_date[i];
                    let created = book.created_day[i];
                    let (amount, exp) = (book.amount[i], book.exponent[i]);
                    if !appr.is_empty() && appr == book.preparer_id.at(i) {
                        flag(JournalTest::SelfApproval, 0.7, &|| format!("{appr} prepared and approved the entry"));
                    }
                    let wd = weekday(posted);
                    let routine_weekend = wd >= 5 && weekend_routine[ent as usize];
                    if (wd >= 5 && !routine_weekend) || self.holidays.contains(&posted) {
                        let what = if wd >= 5 { "a weekend" } else { "a holiday" };
                        flag(JournalTest::WeekendHoliday, 0.35, &|| {
                            format!("posted on {what} ({})", reckon_core::date::format_iso_date(posted))
                        });
                    }
                    if let (Some(close), Some(created)) = (closes[per as usize], created)
                        && created > close
                    {
                        flag(JournalTest::AfterClose, 0.6, &|| {
                            format!(
                                "entered {} day(s) after period {} closed",
                                created - close,
                                book.fiscal_period.at(i)
                            )
                        });
                    }
                    if let Some(created) = created
                        && created - posted > c.backdated_days
                    {
                        flag(JournalTest::Backdated, 0.55, &|| {
                            format!("created {} day(s) after its posting date", created - posted)
                        });
                    }
                    let unit = 10i64.pow(u32::from(exp));
                    let major = amount.abs();
                    if major >= c.round_unit * unit && major % (c.round_unit * unit) == 0 {
                        flag(JournalTest::RoundAmount, 0.3, &|| format!("round amount {}", money(major, exp)));
                    } else if major >= 1000 * unit && (major / unit) % 1000 == 999 {
                        flag(JournalTest::RoundAmount, 0.3, &|| format!("amount {} ends in 999", money(major, exp)));
                    }
                    if let Some(limit) = limits[book.currency.id(i) as usize] {
                        let lo = limit as f64 * (1.0 - c.below_limit_percent / 100.0);
                        if (major as f64) >= lo && major < limit {
                            flag(JournalTest::BelowApprovalLimit, 0.5, &|| {
                                format!("{} is just below the approval limit {}", money(major, exp), money(limit, exp))
                            });
                        }
                    }
                    let prep_lines = prof.preparer_lines.get(prep as usize).copied().unwrap_or(0);
                    if prep_lines as usize >= c.preparer_min_lines {
                        let with = prof.preparer_account.get(&(prep, acct)).copied().unwrap_or(0);
                        rarity.preparer_account = rarity.preparer_account.min(f64::from(with) / f64::from(prep_lines));
                    }
                    let used = prof.account_journals(ent, acct);
                    if used as usize <= c.seldom_account_max_journals {
                        flag(JournalTest::SeldomAccount, 0.3, &|| {
                            format!("account {} is used in {used} journal(s) of the book", book.account.at(i))
                        });
                    }
                    let with_account = prof.preparer_account.get(&(prep, acct)).copied().unwrap_or(0);
                    if prep_lines as usize >= c.preparer_min_lines
                        && f64::from(with_account) <= (c.preparer_rare_share * f64::from(prep_lines)).max(1.0)
                    {
                        flag(JournalTest::UnusualPreparerAccount, 0.45, &|| {
                            format!(
                                "{} posted {with_account} of their {prep_lines} lines to account {}",
                                book.preparer_id.at(i),
                                book.account.at(i)
                            )
                        });
                    }
                    if manual[book.source.id(i) as usize]
                        && revenue[acct as usize]
                        && period_ends[per as usize].is_some_and(|e| e - posted < c.period_end_days && e >= posted)
                    {
                        flag(JournalTest::PeriodEndManualRevenue, 0.5, &|| {
                            format!(
                                "manual entry to revenue account {} in the last days of {}",
                                book.account.at(i),
                                book.fiscal_period.at(i)
                            )
                        });
                    }
                }
                // Amounts far above the account's usual ones.
                let mut amount_z = 0f64;
                let mut amount_fence = 0f64;
                let mut outlier: Option<(usize, f64, u64)> = None;
                for &i in ix {
                    let i = i as usize;
                    if let (Some(f), Some((_, n))) = (
                        prof.amount_fence(ent, book.account.id(i), book.amount[i]),
                        prof.amount_z(ent, book.account.id(i), book.amount[i]),
                    ) && n as usize >= c.outlier_min_lines
                    {
                        amount_fence = amount_fence.max(f);
                    }
                    if let Some((z, n)) = prof.amount_z(ent, book.account.id(i), book.amount[i])
                        && n as usize >= c.outlier_min_lines
                        && z > amount_z
                    {
                        amount_z = z;
                        outlier = Some((i, z, n));
                    }
                }
                if let Some((i, z, n)) = outlier
                    && z >= c.outlier_z
                {
                    flag(JournalTest::AmountOutlier, 0.4, &|| {
                        format!(
                            "{} is far above the usual amounts of account {} (z +{z:.1} on a log scale over {n} lines)",
                            money(book.amount[i].abs(), book.exponent[i]),
                            book.account.at(i)
                        )
                    });
                }
                let (debits, credits) = book.sides(ix);
                let common = |a: u32| prof.account_journals(ent, a) as usize > c.seldom_account_max_journals;
                let ent_journals = entity_journals[ent as usize].max(1) as f64;
                for &d in &debits {
                    for &k in &credits {
                        let n = prof.pairs.get(&(ent, d, k)).copied().unwrap_or(0);
                        rarity.account_pair = rarity.account_pair.min(f64::from(n) / ent_journals);
                    }
                }
                'pairs: for &d in &debits {
                    for &k in &credits {
                        let n = prof.pairs.get(&(ent, d, k)).copied().unwrap_or(0);
                        if f64::from(n) <= (c.pair_rare_share * ent_journals).max(1.0) && common(d) && common(k) {
                            flag(JournalTest::UnusualAccountPair, 0.45, &|| {
                                format!(
                                    "accounts {} (debit) and {} (credit) are booked together in {n} of the entity's {} journals",
                                    book.account.name(d),
                                    book.account.name(k),
                                    entity_journals[ent as usize]
                                )
                            });
                            break 'pairs;
                        }
                    }
                }
                // The preparer's own rhythm: the hour they enter journals and the
                // sources they post through, learned from this book.
                let prep = book.preparer_id.id(i0) as usize;
                let rare = |k: u32, n: u32| f64::from(k) <= (c.preparer_rare_share * f64::from(n)).max(1.0);
                if let (Some(h), Some(hours)) = (book.created_hour[i0], prof.preparer_hours.get(prep)) {
                    let h = usize::from(h) % 24;
                    let known: u32 = hours.iter().sum();
                    let near = hours[(h + 23) % 24] + hours[h] + hours[(h + 1) % 24];
                    if known as usize >= c.preparer_min_journals {
                        rarity.preparer_hour = f64::from(near) / f64::from(known);
                    }
                    if known as usize >= c.preparer_min_journals && rare(near, known) {
                        flag(JournalTest::UnusualHour, 0.45, &|| {
                            format!(
                                "{} entered it at {h:02}:00 UTC; {near} of their {known} journals were entered within an hour of that",
                                book.preparer_id.at(i0)
                            )
                        });
                    }
                }
                let pj = prof.preparer_journals.get(prep).copied().unwrap_or(0);
                let src = book.source.id(i0);
                let with_source = prof.preparer_source.get(&(prep as u32, src)).copied().unwrap_or(0);
                if pj as usize >= c.preparer_min_journals {
                    rarity.preparer_source = f64::from(with_source) / f64::from(pj);
                }
                if pj as usize >= c.preparer_min_journals && rare(with_source, pj) {
                    flag(JournalTest::UnusualPreparerSource, 0.4, &|| {
                        format!(
                            "{} posts through source {} in {with_source} of their {pj} journals",
                            book.preparer_id.at(i0),
                            book.source.at(i0)
                        )
                    });
                }
                if let Some((orig, chance)) = dup_of[j] {
                    rarity.duplicate = chance;
                    if chance <= c.duplicate_max_chance {
                        flag(JournalTest::DuplicateJournal, 0.6, &|| {
                            format!(
                                "same lines as journal {}; chance gives such a match to about one in {:.0} journals like it",
                                book.journal_id.name(orig),
                                1.0 / chance
                            )
                        });
                    }
                }
                // Strongest first; the order (and so the rounding of the risk) does not
                // depend on the order the lines came in.
                flags.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.test.as_str().cmp(b.test.as_str())));
                let risk = 1.0 - flags.iter().map(|f| 1.0 - f.weight).product::<f64>();
                JournalResult {
                    entity: Arc::clone(&entity_names[ent as usize]),
                    journal_id: book.journal_id.at(i0).to_string(),
                    journal: j as u32,
                    flags,
                    risk,
                    unbalanced,
                    amount_z: amount_z.min(20.0),
                    amount_fence,
                    rarity,
                }
            })
            .collect()
    }

    /// For each journal, the journal id of an earlier journal of the same entity
    /// with the same lines (accounts and amounts) posted within `duplicate_days`,
    /// and how many such matches chance gives a journal of its kind
    /// ([`Rarity::duplicate`]).
    fn duplicates(&self, book: &Book) -> Vec<Option<(u32, f64)>> {
        let js = book.journals();
        let sigs: Vec<Vec<(u32, i64)>> = (0..js.len())
            .into_par_iter()
            .map(|j| {
                let mut s: Vec<(u32, i64)> =
                    js.lines(j).iter().map(|&i| (book.account.id(i as usize), book.amount[i as usize])).collect();
                s.sort_unstable();
                s
            })
            .collect();
        let head = |j: usize| js.lines(j)[0] as usize;
        // (entity, signature, posting date, journal id) with the journal's index as the last tie-break.
        let mut order: Vec<u32> = (0..js.len() as u32).collect();
        order.par_sort_unstable_by(|&a, &b| {
            let (a, b) = (a as usize, b as usize);
            book.entity
                .id(head(a))
                .cmp(&book.entity.id(head(b)))
                .then_with(|| sigs[a].cmp(&sigs[b]))
                .then(book.posting_date[head(a)].cmp(&book.posting_date[head(b)]))
                .then(book.journal_id.id(head(a)).cmp(&book.journal_id.id(head(b))))
                .then(a.cmp(&b))
        });
        let mut dup_of = vec![None; js.len()];
        for w in order.windows(2) {
            let (a, b) = (w[0] as usize, w[1] as usize);
            if book.entity.id(head(a)) == book.entity.id(head(b))
                && sigs[a] == sigs[b]
                && (book.posting_date[head(b)] - book.posting_date[head(a)]).abs() <= self.cfg.duplicate_days
            {
                dup_of[b] = Some(book.journal_id.id(head(a)));
            }
        }
        let matched: Vec<usize> = (0..js.len()).filter(|&j| dup_of[j].is_some()).collect();
        if matched.is_empty() {
            return vec![None; js.len()];
        }
        // A journal's kind: its entity and its accounts with their side (debit or
        // credit), in order; its size: the sum of its debits.
        let kind = |j: usize| -> (u32, Vec<(u32, bool)>) {
            let mut k: Vec<(u32, bool)> = sigs[j].iter().map(|&(a, m)| (a, m > 0)).collect();
            k.dedup();
            (book.entity.id(head(j)), k)
        };
        let debits = |j: usize| -> i64 {
            let s: i128 = sigs[j].iter().map(|&(_, m)| i128::from(m.max(0))).sum();
            i64::try_from(s).unwrap_or(i64::MAX)
        };
        // The kinds of the matched journals, and the sizes of every journal of those kinds, sorted.
        let mut kinds: HashMap<(u32, Vec<(u32, bool)>), usize> = HashMap::new();
        for &j in &matched {
            let n = kinds.len();
            kinds.entry(kind(j)).or_insert(n);
        }
        let of_kind: Vec<Option<(usize, i64)>> =
            (0..js.len()).into_par_iter().map(|j| kinds.get(&kind(j)).map(|&k| (k, debits(j)))).collect();
        let mut sizes = vec![Vec::new(); kinds.len()];
        for (k, d) in of_kind.iter().flatten() {
            sizes[*k].push(*d);
        }
        for v in &mut sizes {
            v.sort_unstable();
        }
        // Each entity's book spans these many days.
        let mut span = vec![(i32::MAX, i32::MIN); book.entity.names().len()];
        for j in 0..js.len() {
            let (e, d) = (book.entity.id(head(j)) as usize, book.posting_date[head(j)]);
            span[e] = (span[e].0.min(d), span[e].1.max(d));
        }
        let window = f64::from(2 * self.cfg.duplicate_days + 1);
        let mut out = vec![None; js.len()];
        for j in matched {
            let Some(orig) = dup_of[j] else { continue };
            let Some((k, size)) = of_kind[j] else { continue };
            let (first, last) = span[book.entity.id(head(j)) as usize];
            let days = (f64::from(last) - f64::from(first) + 1.0).max(window);
            // Sizes within ×/÷ 1.25 of this one's: how many, over how many possible values.
            let (lo, hi) = (size - size / 5, size.saturating_add(size / 4));
            let s = &sizes[k];
            let near = s.partition_point(|&v| v <= hi) - s.partition_point(|&v| v < lo);
            let values = (hi - lo).max(0) as f64 + 1.0;
            // Others of the kind near this size (not this journal), at least one.
            let others = (near.saturating_sub(1)).max(1) as f64;
            let chance = (window / days) * others / values;
            out[j] = Some((orig, chance.min(1.0)));
        }
        out
    }
}

/// Feature spec of a journal for the ML scorers.
pub const FEATURE_SPEC: &str = "journal_v2";

/// Journal features (`journal_v2`: v1 plus `off_hours`), in column order.
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
    "off_hours",
];

reckon_core::vocab_enum! {
    /// A journal-entry test (the `code` of a journal exception's reasons and the
    /// `flags` of `journal_scores.parquet`).
    pub enum JournalTest {
        Unbalanced => "unbalanced",
        SelfApproval => "self_approval",
        WeekendHoliday => "weekend_holiday",
        AfterClose => "after_close",
        Backdated => "backdated",
        RoundAmount => "round_amount",
        BelowApprovalLimit => "below_approval_limit",
        SeldomAccount => "seldom_account",
        UnusualPreparerAccount => "unusual_preparer_account",
        UnusualAccountPair => "unusual_account_pair",
        PeriodEndManualRevenue => "period_end_manual_revenue",
        DuplicateJournal => "duplicate_journal",
        AmountOutlier => "amount_outlier",
        /// Entered at an hour the preparer seldom works.
        UnusualHour => "unusual_hour",
        /// Posted through a source the preparer seldom uses.
        UnusualPreparerSource => "unusual_preparer_source",
        /// A preparer's amounts as a whole depart from Benford's law.
        Benford => "benford",
        /// The isolation forest finds the journal unusual (set by the risk model).
        IsolationForest => "isolation_forest",
    }
}

/// Rule tests, in the order of the combined model's flag columns. Benford is left
/// out: it judges a preparer's whole population of amounts (and only from a
/// minimum sample), so its presence says more about the book's size than about
/// one journal; it stays a flag and part of the rule risk. The isolation forest
/// is an input of its own.
pub const TESTS: &[JournalTest] = &[
    JournalTest::Unbalanced,
    JournalTest::SelfApproval,
    JournalTest::WeekendHoliday,
    JournalTest::AfterClose,
    JournalTest::Backdated,
    JournalTest::RoundAmount,
    JournalTest::BelowApprovalLimit,
    JournalTest::SeldomAccount,
    JournalTest::UnusualPreparerAccount,
    JournalTest::UnusualAccountPair,
    JournalTest::PeriodEndManualRevenue,
    JournalTest::DuplicateJournal,
    JournalTest::AmountOutlier,
    JournalTest::UnusualHour,
    JournalTest::UnusualPreparerSource,
];

/// Features of every journal (same order as `results`), learned from the book itself:
/// frequencies of accounts, preparer–account and account pairs, amount profile per account.
pub fn features(tests: &Tests, book: &Book, results: &[JournalResult]) -> Vec<f32> {
    let c = &tests.cfg;
    let [open, close] = c.business_hours;
    let prof = book.profile();
    let k = FEATURES.len();
    // Frequencies as shares of the book, so that a model trained on one book size
    // reads another alike.
    let journals_n = results.len().max(1) as f32;
    let share = |n: u32, of: f32| ((n as f32 / of) * 100.0).min(100.0);
    // The same sources the rules read as manual (`journals.manual_sources`).
    let manual: Vec<bool> =
        book.source.names().iter().map(|s| c.manual_sources.iter().any(|m| m.eq_ignore_ascii_case(s))).collect();
    let mut out = vec![0f32; results.len() * k];
    out.par_chunks_mut(k).zip(results.par_iter()).for_each(|(row, j)| {
        let ix = j.lines(book);
        let i0 = ix[0] as usize;
        let ent = book.entity.id(i0);
        let exp = book.exponent[i0];
        let unit = 10f64.powi(i32::from(exp));
        let total: i128 = ix.iter().map(|&i| book.amount[i as usize]).filter(|a| *a > 0).map(i128::from).sum();
        let posted = book.posting_date[i0];
        let end = period_end(book.fiscal_period.at(i0));
        let dom = end.map_or(0.5, |e| 1.0 - ((e - posted) as f32 / 31.0).clamp(0.0, 1.0));
        let lag = book.created_day[i0].map_or(0.0, |c| ((c - posted) as f32 / 30.0).clamp(-1.0, 6.0));
        let rare_acct = ix.iter().map(|&i| prof.account_journals(ent, book.account.id(i as usize))).min().unwrap_or(0);
        let rare_pa = ix
            .iter()
            .map(|&i| {
                let i = i as usize;
                let p = book.preparer_id.id(i);
                share(
                    prof.preparer_account.get(&(p, book.account.id(i))).copied().unwrap_or(0),
                    prof.preparer_lines.get(p as usize).copied().unwrap_or(1).max(1) as f32,
                )
            })
            .fold(f32::INFINITY, f32::min);
        let (dr, cr) = book.sides(ix);
        let rare_pair = dr
            .iter()
            .flat_map(|d| cr.iter().map(move |c| (*d, *c)))
            .map(|(d, c)| prof.pairs.get(&(ent, d, c)).copied().unwrap_or(0))
            .min()
            .unwrap_or(0);
        let zmax = ix
            .iter()
            .map(|&i| {
                let i = i as usize;
                prof.amount_z(ent, book.account.id(i), book.amount[i]).map_or(0.0, |(z, _)| z.abs())
            })
            .fold(0.0, f64::max);
        let approved = |i: u32| !book.approver_id.at(i as usize).is_empty();
        row.copy_from_slice(&[
            ((total as f64 / unit) + 1.0).log10() as f32,
            ix.len() as f32,
            if manual[book.source.id(i0) as usize] { 1.0 } else { 0.0 },
            weekday(posted) as f32 / 6.0,
            dom,
            lag,
            share(rare_acct, journals_n),
            if rare_pa.is_finite() { rare_pa } else { 0.0 },
            share(rare_pair, journals_n),
            zmax.min(20.0) as f32,
            if ix.iter().any(|&i| approved(i)) { 1.0 } else { 0.0 },
            if ix.iter().any(|&i| approved(i) && book.approver_id.at(i as usize) == book.preparer_id.at(i as usize)) {
                1.0
            } else {
                0.0
            },
            if ix
                .iter()
                .map(|&i| book.amount[i as usize])
                .any(|a| a != 0 && a.unsigned_abs().is_multiple_of(1000 * unit as u64))
            {
                1.0
            } else {
                0.0
            },
            // Entered outside business hours: hours before the start or from the end.
            book.created_hour[i0].map_or(0.0, |h| {
                if h < open {
                    f32::from(open - h)
                } else if h >= close {
                    f32::from(h - close + 1)
                } else {
                    0.0
                }
            }),
        ]);
    });
    out
}

/// Plain words for each `journal_v2` feature (for reasons).
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
    "hours outside business hours (UTC) when entered",
];

/// Per journal, the features furthest from the book's typical value (robust
/// z-score: distance from the median in scaled median absolute deviations, or
/// standard deviations where the MAD is 0), strongest
/// first, only those beyond `min_z`: the "top contributing features" of a reason.
pub fn outlying_features(features: &[f32], k: usize, min_z: f32) -> Vec<Vec<(usize, f32)>> {
    let n = features.len().checked_div(k).unwrap_or(0);
    let (med, mad): (Vec<f32>, Vec<f32>) = (0..k)
        .into_par_iter()
        .map(|f| {
            let mut col: Vec<f32> = (0..n).map(|r| features[r * k + f]).collect();
            col.par_sort_unstable_by(f32::total_cmp);
            let m = col.get(n / 2).copied().unwrap_or(0.0);
            let mut dev: Vec<f32> = col.iter().map(|v| (v - m).abs()).collect();
            dev.par_sort_unstable_by(f32::total_cmp);
            let d = dev.get(n / 2).copied().unwrap_or(0.0) * 1.4826;
            // Mostly-constant features (MAD 0) are scaled by their standard deviation
            // (summed in a fixed order: the same whatever the thread count).
            let mean = col.iter().sum::<f32>() / n.max(1) as f32;
            let sd = (col.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n.max(1) as f32).sqrt();
            (m, if d > 1e-6 { d } else { sd.max(1e-3) })
        })
        .unzip();
    (0..n)
        .into_par_iter()
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
