//! A GL book held column by column, every text column interned into a sorted
//! dictionary, so that the tests and features work on `u32` ids instead of
//! strings (no allocation per line) and id order is the text's order (results
//! come out in the same order whatever the dictionaries' arrival order).
//!
//! [`Book::journals`] groups lines into journals and [`Book::profile`] holds the
//! book-wide counts both the tests and the features read; each is computed once,
//! in parallel, and is the same whatever the thread count (integer counts, and
//! amount moments summed in fixed point).

use std::sync::OnceLock;

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::Line;

/// One text column: a sorted dictionary and an id per line.
#[derive(Clone, Debug, Default)]
pub struct Dict {
    names: Vec<String>,
    ids: Vec<u32>,
}

impl Dict {
    /// Interns `values` (one per line). Consecutive equal values (journal ids,
    /// entities) skip the hash look-up.
    pub fn intern<'a>(values: impl Iterator<Item = &'a str>) -> Dict {
        let mut map: FxHashMap<&'a str, u32> = FxHashMap::default();
        let mut first: Vec<&'a str> = Vec::new();
        let mut ids: Vec<u32> = Vec::with_capacity(values.size_hint().0);
        let mut last: Option<(&'a str, u32)> = None;
        for v in values {
            let id = match last {
                Some((p, id)) if p == v => id,
                _ => {
                    let id = *map.entry(v).or_insert_with(|| {
                        first.push(v);
                        (first.len() - 1) as u32
                    });
                    last = Some((v, id));
                    id
                }
            };
            ids.push(id);
        }
        let mut order: Vec<u32> = (0..first.len() as u32).collect();
        order.sort_unstable_by_key(|&i| first[i as usize]);
        let mut remap = vec![0u32; first.len()];
        for (new, &old) in order.iter().enumerate() {
            remap[old as usize] = new as u32;
        }
        for id in &mut ids {
            *id = remap[*id as usize];
        }
        Dict { names: order.iter().map(|&o| first[o as usize].to_string()).collect(), ids }
    }

    /// The value of line `row`.
    pub fn at(&self, row: usize) -> &str {
        &self.names[self.ids[row] as usize]
    }

    /// The id of line `row` (ids sort like the texts).
    pub fn id(&self, row: usize) -> u32 {
        self.ids[row]
    }

    /// The text of an id.
    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    /// Distinct values, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// The GL journal lines of a book, column by column (money in minor units,
/// dates in days since 1970-01-01). Checked and frozen into a [`Book`].
#[derive(Debug, Default)]
pub struct Columns {
    pub journal_id: Dict,
    pub entity: Dict,
    pub account: Dict,
    pub fiscal_period: Dict,
    pub currency: Dict,
    pub preparer_id: Dict,
    pub approver_id: Dict,
    pub source: Dict,
    pub line_no: Vec<i64>,
    pub posting_date: Vec<i32>,
    pub document_date: Vec<Option<i32>>,
    pub amount: Vec<i64>,
    /// Minor-unit exponent of each line's currency.
    pub exponent: Vec<u8>,
    /// Day the entry was created in the system, if known.
    pub created_day: Vec<Option<i32>>,
    /// Hour (UTC) the entry was created, if known.
    pub created_hour: Vec<Option<u8>>,
}

/// A checked, immutable book: its [`Columns`] (read through `Deref`) and what is
/// derived from them once (journals, profile).
#[derive(Debug, Default)]
pub struct Book {
    cols: Columns,
    journals: OnceLock<Journals>,
    profile: OnceLock<Profile>,
}

impl std::ops::Deref for Book {
    type Target = Columns;
    fn deref(&self) -> &Columns {
        &self.cols
    }
}

/// Lines grouped into journals, in (entity, journal id) order; within a journal,
/// lines in input order.
#[derive(Debug, Default)]
pub struct Journals {
    order: Vec<u32>,
    starts: Vec<u32>,
}

impl Journals {
    pub fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Line indices of journal `j`.
    pub fn lines(&self, j: usize) -> &[u32] {
        &self.order[self.starts[j] as usize..self.starts[j + 1] as usize]
    }
}

/// Book-wide counts the tests and features are relative to.
#[derive(Debug, Default)]
pub struct Profile {
    /// (entity, account) → journals that use the account.
    pub account_journals: FxHashMap<(u32, u32), u32>,
    /// preparer → lines.
    pub preparer_lines: Vec<u32>,
    /// (preparer, account) → lines.
    pub preparer_account: FxHashMap<(u32, u32), u32>,
    /// (entity, debit account, credit account) → journals booking them together.
    pub pairs: FxHashMap<(u32, u32, u32), u32>,
    /// preparer → first-digit counts.
    pub digits: Vec<[u32; 10]>,
    /// (entity, account) → (lines, Σv, Σv²) of v = log10(|amount| + 1), in units of 1e-9.
    pub amounts: FxHashMap<(u32, u32), (u64, i128, i128)>,
    /// preparer → journals (a journal's preparer is its first line's).
    pub preparer_journals: Vec<u32>,
    /// preparer → journals per hour of entry (UTC), of journals whose hour is known.
    pub preparer_hours: Vec<[u32; 24]>,
    /// (preparer, source) → journals.
    pub preparer_source: FxHashMap<(u32, u32), u32>,
    /// (entity, account) → the median and the 99th percentile of its lines'
    /// absolute amounts (minor units; nearest rank).
    pub amount_quantiles: FxHashMap<(u32, u32), (u64, u64)>,
}

/// Fixed-point scale of [`Profile::amounts`]: integer sums add up the same in any order.
pub const AMOUNT_SCALE: f64 = 1e9;

/// log10(|amount| + 1), the amount scale of the features.
pub fn log_amount(minor: i64) -> f64 {
    ((minor.unsigned_abs() as f64) + 1.0).log10()
}

fn first_digit(mut v: u64) -> usize {
    while v >= 10 {
        v /= 10;
    }
    v as usize
}

/// Sorted, deduplicated ids.
pub(crate) fn set(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v.dedup();
    v
}

impl Profile {
    /// Adds each account's amount quantiles (sorted integers: the same on any thread count).
    fn with_quantiles(mut self, book: &Book) -> Profile {
        let mut by: FxHashMap<(u32, u32), Vec<u64>> = FxHashMap::default();
        for i in 0..book.amount.len() {
            by.entry((book.entity.id(i), book.account.id(i))).or_default().push(book.amount[i].unsigned_abs());
        }
        self.amount_quantiles = by
            .into_par_iter()
            .map(|(k, mut v)| {
                v.sort_unstable();
                let q = |f: f64| v[((v.len() - 1) as f64 * f).round() as usize];
                (k, (q(0.5), q(0.99)))
            })
            .collect();
        self
    }

    fn merge(mut self, o: Profile) -> Profile {
        for (k, v) in o.account_journals {
            *self.account_journals.entry(k).or_default() += v;
        }
        for (k, v) in o.preparer_account {
            *self.preparer_account.entry(k).or_default() += v;
        }
        for (k, v) in o.pairs {
            *self.pairs.entry(k).or_default() += v;
        }
        for (k, v) in o.amounts {
            let e = self.amounts.entry(k).or_default();
            e.0 += v.0;
            e.1 += v.1;
            e.2 += v.2;
        }
        for (k, v) in o.preparer_source {
            *self.preparer_source.entry(k).or_default() += v;
        }
        if self.preparer_lines.len() < o.preparer_lines.len() {
            self.preparer_lines.resize(o.preparer_lines.len(), 0);
            self.digits.resize(o.digits.len(), [0; 10]);
            self.preparer_journals.resize(o.preparer_journals.len(), 0);
            self.preparer_hours.resize(o.preparer_hours.len(), [0; 24]);
        }
        for (a, b) in self.preparer_journals.iter_mut().zip(o.preparer_journals) {
            *a += b;
        }
        for (a, b) in self.preparer_hours.iter_mut().zip(o.preparer_hours) {
            for k in 0..24 {
                a[k] += b[k];
            }
        }
        for (a, b) in self.preparer_lines.iter_mut().zip(o.preparer_lines) {
            *a += b;
        }
        for (a, b) in self.digits.iter_mut().zip(o.digits) {
            for k in 0..10 {
                a[k] += b[k];
            }
        }
        self
    }

    /// How far `minor` lies from the usual amounts of `account` in `entity`:
    /// (z of log10(|amount| + 1) against the account's mean and standard
    /// deviation — at least 0.05 —, lines of the account), if it has any.
    pub fn amount_z(&self, entity: u32, account: u32, minor: i64) -> Option<(f64, u64)> {
        let &(n, s, q) = self.amounts.get(&(entity, account))?;
        if n == 0 {
            return None;
        }
        let nf = n as f64;
        let m = s as f64 / AMOUNT_SCALE / nf;
        let var = (q as f64 / (AMOUNT_SCALE * AMOUNT_SCALE)) / nf - m * m;
        Some(((log_amount(minor) - m) / var.max(0.0).sqrt().max(0.05), n))
    }

    /// How far `minor` lies beyond the usual range of `account` in `entity`: the
    /// distance above the account's 99th percentile in units of its upper
    /// spread (99th percentile − median), on the log scale; 0 within the range.
    /// A quantile fence, not a Gaussian z: it holds for accounts whose amounts
    /// are bounded or skewed. `None` for an account with no lines.
    pub fn amount_fence(&self, entity: u32, account: u32, minor: i64) -> Option<f64> {
        let &(p50, p99) = self.amount_quantiles.get(&(entity, account))?;
        let (v, hi, mid) = (log_amount(minor), log_amount(p99 as i64), log_amount(p50 as i64));
        Some(((v - hi) / (hi - mid).max(0.05)).clamp(0.0, 10.0))
    }

    /// Journals using `account` in `entity`.
    pub fn account_journals(&self, entity: u32, account: u32) -> u32 {
        self.account_journals.get(&(entity, account)).copied().unwrap_or(0)
    }
}

/// Columns of unequal length given to [`Book::new`] (a bug in the caller, not bad input).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("book column {column} has {values} values for {lines} lines")]
pub struct RaggedBook {
    pub column: &'static str,
    pub values: usize,
    pub lines: usize,
}

impl Book {
    /// A book from row structs (tests, small callers).
    pub fn from_lines(lines: &[Line]) -> Book {
        let cols = Columns {
            journal_id: Dict::intern(lines.iter().map(|l| l.journal_id.as_str())),
            entity: Dict::intern(lines.iter().map(|l| l.entity.as_str())),
            account: Dict::intern(lines.iter().map(|l| l.account.as_str())),
            fiscal_period: Dict::intern(lines.iter().map(|l| l.fiscal_period.as_str())),
            currency: Dict::intern(lines.iter().map(|l| l.currency.as_str())),
            preparer_id: Dict::intern(lines.iter().map(|l| l.preparer_id.as_str())),
            approver_id: Dict::intern(lines.iter().map(|l| l.approver_id.as_str())),
            source: Dict::intern(lines.iter().map(|l| l.source.as_str())),
            line_no: lines.iter().map(|l| l.line_no).collect(),
            posting_date: lines.iter().map(|l| l.posting_date).collect(),
            document_date: lines.iter().map(|l| l.document_date).collect(),
            amount: lines.iter().map(|l| l.amount).collect(),
            exponent: lines.iter().map(|l| l.exponent).collect(),
            created_day: lines.iter().map(|l| l.created_day).collect(),
            created_hour: lines.iter().map(|l| l.created_hour).collect(),
        };
        Book { cols, ..Book::default() }
    }

    /// A book from its columns, once every column has one value per line.
    pub fn new(cols: Columns) -> Result<Book, RaggedBook> {
        let book = Book { cols, ..Book::default() };
        book.check()?;
        Ok(book)
    }

    /// Lines.
    pub fn len(&self) -> usize {
        self.amount.len()
    }

    pub fn is_empty(&self) -> bool {
        self.amount.is_empty()
    }

    /// Checks that every column has one value per line.
    fn check(&self) -> Result<(), RaggedBook> {
        let n = self.len();
        let lens = [
            ("journal_id", self.journal_id.len()),
            ("entity", self.entity.len()),
            ("account", self.account.len()),
            ("fiscal_period", self.fiscal_period.len()),
            ("currency", self.currency.len()),
            ("preparer_id", self.preparer_id.len()),
            ("approver_id", self.approver_id.len()),
            ("source", self.source.len()),
            ("line_no", self.line_no.len()),
            ("posting_date", self.posting_date.len()),
            ("document_date", self.document_date.len()),
            ("exponent", self.exponent.len()),
            ("created_day", self.created_day.len()),
            ("created_hour", self.created_hour.len()),
        ];
        match lens.iter().find(|(_, l)| *l != n) {
            Some((c, l)) => Err(RaggedBook { column: c, values: *l, lines: n }),
            None => Ok(()),
        }
    }

    /// Journals of the book (computed once).
    pub fn journals(&self) -> &Journals {
        self.journals.get_or_init(|| {
            let key =
                |i: u32| (u64::from(self.entity.id(i as usize)) << 32) | u64::from(self.journal_id.id(i as usize));
            let mut order: Vec<u32> = (0..self.len() as u32).collect();
            // (key, line) is unique: the order does not depend on the sort's scheduling.
            order.par_sort_unstable_by_key(|&i| (key(i), i));
            let mut starts: Vec<u32> = Vec::new();
            for (p, &i) in order.iter().enumerate() {
                if p == 0 || key(order[p - 1]) != key(i) {
                    starts.push(p as u32);
                }
            }
            starts.push(order.len() as u32);
            if order.is_empty() {
                starts.clear();
            }
            Journals { order, starts }
        })
    }

    /// Book-wide counts (computed once).
    pub fn profile(&self) -> &Profile {
        self.profile.get_or_init(|| {
            let js = self.journals();
            let people = self.preparer_id.names().len();
            (0..js.len())
                .into_par_iter()
                .fold(
                    || Profile {
                        preparer_lines: vec![0; people],
                        digits: vec![[0; 10]; people],
                        preparer_journals: vec![0; people],
                        preparer_hours: vec![[0; 24]; people],
                        ..Profile::default()
                    },
                    |mut p, j| {
                        let ix = js.lines(j);
                        let ent = self.entity.id(ix[0] as usize);
                        let head = ix[0] as usize;
                        let who = self.preparer_id.id(head);
                        p.preparer_journals[who as usize] += 1;
                        if let Some(h) = self.created_hour[head] {
                            p.preparer_hours[who as usize][usize::from(h) % 24] += 1;
                        }
                        *p.preparer_source.entry((who, self.source.id(head))).or_default() += 1;
                        let accts = set(ix.iter().map(|&i| self.account.id(i as usize)).collect());
                        for &a in &accts {
                            *p.account_journals.entry((ent, a)).or_default() += 1;
                        }
                        let (dr, cr) = self.sides(ix);
                        for &d in &dr {
                            for &c in &cr {
                                *p.pairs.entry((ent, d, c)).or_default() += 1;
                            }
                        }
                        for &i in ix {
                            let i = i as usize;
                            let (prep, acct) = (self.preparer_id.id(i), self.account.id(i));
                            p.preparer_lines[prep as usize] += 1;
                            *p.preparer_account.entry((prep, acct)).or_default() += 1;
                            let first = first_digit(self.amount[i].unsigned_abs());
                            if first > 0 {
                                p.digits[prep as usize][first] += 1;
                            }
                            let v = (log_amount(self.amount[i]) * AMOUNT_SCALE).round() as i128;
                            let e = p.amounts.entry((ent, acct)).or_default();
                            e.0 += 1;
                            e.1 += v;
                            e.2 += v * v;
                        }
                        p
                    },
                )
                .reduce(Profile::default, Profile::merge)
                .with_quantiles(self)
        })
    }

    /// Debit and credit accounts of a journal (sorted, distinct).
    pub fn sides(&self, ix: &[u32]) -> (Vec<u32>, Vec<u32>) {
        let side = |pos: bool| {
            set(ix
                .iter()
                .filter(|&&i| if pos { self.amount[i as usize] > 0 } else { self.amount[i as usize] < 0 })
                .map(|&i| self.account.id(i as usize))
                .collect())
        };
        (side(true), side(false))
    }
}
