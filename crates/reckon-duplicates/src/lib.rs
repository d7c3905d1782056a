//! reckon-duplicates: duplicate-invoice detection on accounts payable.
//!
//! Invoices keyed twice are found where an ERP's exact check (same vendor,
//! reference, amount, date) misses them: an OCR look-alike or a transposed digit
//! in the number, a dropped prefix or leading zeros, a shifted date, the same
//! supplier under a second vendor master record. Recurring invoices, credit
//! memos and re-issues after a credit are what must *not* be flagged.
//!
//! Steps: [`normalize_number`] (kept beside the raw value); vendor resolution
//! ([`vendor_clusters`]: same IBAN or tax id → one supplier; name similarity is
//! a pair feature);
//! blocking on several keys (vendor cluster + number, vendor cluster + amount,
//! amount + date window across vendors, sorted neighbourhood on the number) so
//! comparisons stay near linear; [`features`] of each candidate pair; a scorer
//! (a calibrated model, see `reckon-pipeline`) gives P(duplicate); pairs above
//! the threshold form clusters by strong links only, with reasons a person reads.

use std::collections::BTreeMap;

/// Keys are ids and numbers the engine makes itself: FxHash (no `DoS` to fear, several times
/// faster than SipHash on short keys).
pub type HashMap<K, V> = rustc_hash::FxHashMap<K, V>;

use rayon::prelude::*;

/// An AP invoice (amount in minor units, dates in days since 1970-01-01).
#[derive(Clone, Debug, Default)]
pub struct Invoice {
    pub doc_id: String,
    pub entity: String,
    pub vendor_id: String,
    pub vendor_name: String,
    pub tax_id: String,
    pub iban: String,
    pub invoice_number: String,
    pub invoice_date: i32,
    pub amount: i64,
    pub currency: String,
    pub po_number: String,
    pub description: String,
}

/// A vendor master record.
#[derive(Clone, Debug, Default)]
pub struct Vendor {
    pub vendor_id: String,
    pub name: String,
    pub tax_id: String,
    pub ibans: Vec<String>,
}

/// Letters OCR reads for digits (and back): O/0, I/l/1, S/5, B/8, Z/2, G/6.
fn ocr_digit(c: char) -> char {
    match c {
        'O' | 'Q' | 'D' => '0',
        'I' | 'L' | '|' => '1',
        'S' => '5',
        'B' => '8',
        'Z' => '2',
        'G' => '6',
        other => other,
    }
}

/// Common invoice-number prefixes people add or drop.
const PREFIXES: &[&str] = &["INVOICE", "INV", "RECHNUNG", "RE", "RG", "NR", "NO", "FACT", "FA", "BILL"];

/// Normalised invoice number: upper case, separators dropped, a common prefix
/// dropped, OCR look-alike letters read as digits where the number is mostly
/// digits, leading zeros dropped. A trailing credit/re-issue marker (`-CR`,
/// `-R`, `STORNO`) is kept, separated by `~`, because it makes another document.
pub fn normalize_number(raw: &str) -> String {
    let up = raw.trim().to_uppercase();
    // A suffix after a separator that marks a credit or re-issue.
    let (body, suffix) = match up.rsplit_once(['-', '/', ' ', '_']) {
        Some((b, s)) if matches!(s, "CR" | "R" | "RE" | "STORNO" | "GS" | "CN" | "C") && !b.is_empty() => {
            (b.to_string(), s.to_string())
        }
        _ => (up.clone(), String::new()),
    };
    let mut s: String = body.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    if let Some(p) = PREFIXES.iter().find(|p| s.starts_with(**p) && s.len() > p.len() + 2) {
        let rest = &s[p.len()..];
        if rest.chars().next().is_some_and(|c| c.is_ascii_digit() || ocr_digit(c).is_ascii_digit()) {
            s = rest.to_string();
        }
    }
    let digits = s.chars().filter(char::is_ascii_digit).count();
    if digits * 2 >= s.len() {
        s = s.chars().map(ocr_digit).collect();
    }
    let t = s.trim_start_matches('0');
    let mut out = if t.is_empty() { "0".to_string() } else { t.to_string() };
    if !suffix.is_empty() {
        out.push('~');
        out.push_str(&suffix);
    }
    out
}

fn name_key(s: &str) -> String {
    const LEGAL: &[&str] =
        &["GMBH", "AG", "LTD", "LLC", "PLC", "BV", "SA", "SAS", "SRL", "INC", "CO", "KG", "SE", "NV", "OY", "AB"];
    let up: String = s.to_uppercase().chars().map(|c| if c.is_alphanumeric() { c } else { ' ' }).collect();
    up.split_whitespace().filter(|w| !LEGAL.contains(w)).collect::<Vec<_>>().join(" ")
}

/// Vendor records that are one supplier (same IBAN or tax id):
/// vendor id → cluster id (the smallest vendor id of the cluster), and why.
pub fn vendor_clusters(
    vendors: &[Vendor],
    invoices: &[Invoice],
) -> (HashMap<String, String>, BTreeMap<(String, String), String>) {
    let mut unique: Vec<&str> =
        vendors.iter().map(|v| v.vendor_id.as_str()).chain(invoices.iter().map(|i| i.vendor_id.as_str())).collect();
    unique.par_sort_unstable();
    unique.dedup();
    let ids: Vec<String> = unique.into_iter().map(str::to_string).collect();
    let pos: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, v)| (v.as_str(), i)).collect();
    let mut parent: Vec<usize> = (0..ids.len()).collect();
    fn find(p: &mut [usize], x: usize) -> usize {
        let mut r = x;
        while p[r] != r {
            r = p[r];
        }
        let mut y = x;
        while p[y] != r {
            let n = p[y];
            p[y] = r;
            y = n;
        }
        r
    }
    let mut why: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut first: HashMap<(u8, String), usize> = HashMap::default();
    let mut link = |kind: u8, key: String, vid: &str, label: &str, parent: &mut Vec<usize>| {
        if key.len() < 4 {
            return;
        }
        let Some(&i) = pos.get(vid) else { return };
        match first.entry((kind, key)) {
            std::collections::hash_map::Entry::Occupied(e) if *e.get() != i => {
                let j = *e.get();
                let (a, b) = (find(parent, i), find(parent, j));
                if a != b {
                    parent[a.max(b)] = a.min(b);
                    let (x, y) = if ids[i] < ids[j] {
                        (ids[i].clone(), ids[j].clone())
                    } else {
                        (ids[j].clone(), ids[i].clone())
                    };
                    why.entry((x, y)).or_insert_with(|| {
                        format!("same {label} under vendors {} and {}", ids[i.min(j)], ids[i.max(j)])
                    });
                }
            }
            std::collections::hash_map::Entry::Occupied(_) => {}
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(i);
            }
        }
    };
    for v in vendors {
        for iban in &v.ibans {
            link(0, iban.replace(' ', "").to_uppercase(), &v.vendor_id, "IBAN", &mut parent);
        }
        link(1, v.tax_id.trim().to_uppercase(), &v.vendor_id, "tax id", &mut parent);
        // A normalised name alone does not merge records (two suppliers can share
        // a name); name similarity is a pair feature instead.
    }
    // The invoices' keys normalised in parallel, linked in invoice order.
    let keys: Vec<(String, String)> = invoices
        .par_iter()
        .map(|inv| (inv.iban.replace(' ', "").to_uppercase(), inv.tax_id.trim().to_uppercase()))
        .collect();
    for (inv, (iban, tax_id)) in invoices.iter().zip(keys) {
        link(0, iban, &inv.vendor_id, "IBAN", &mut parent);
        link(1, tax_id, &inv.vendor_id, "tax id", &mut parent);
    }
    let map = ids.iter().enumerate().map(|(i, v)| (v.clone(), ids[find(&mut parent, i)].clone())).collect();
    (map, why)
}

/// Feature spec of a candidate pair. `ap_pair_v2` (since 2026-11-30) replaces
/// v1's length-relative number distances (Damerau–Levenshtein over the length,
/// Jaro–Winkler), whose weights learned on one numbering habit did not carry to
/// another's (short numbers such as `INV-000004` move far on one edit), by
/// the edits themselves and [`numbers_linked`].
pub const FEATURE_SPEC: &str = "ap_pair_v2";

pub const FEATURES: &[&str] = &[
    "same_vendor",
    "same_cluster",
    "vendor_name_sim",
    "number_raw_equal",
    "number_norm_equal",
    "number_edits",
    "number_linked",
    "number_transposition",
    "number_suffix_differs",
    "number_sequential",
    "amount_equal",
    "amount_opposite",
    "amount_rel_diff",
    "amount_one_digit",
    "date_diff_months",
    "date_same",
    "date_monthly_gap",
    "po_equal",
    "po_differs",
    "desc_sim",
    "credit_between",
    "log_amount",
];

/// The column of `number_linked` in [`FEATURES`] (a test ties the two).
pub const NUMBER_LINKED: usize = 6;

/// A candidate pair (indices into the invoice slice, a < b by doc id).
#[derive(Clone, Debug, PartialEq)]
pub struct Pair {
    pub a: usize,
    pub b: usize,
    pub features: Vec<f32>,
}

/// Blocking: candidate pairs from several keys, de-duplicated, within one
/// currency. Returns the pairs and how many were generated before de-duplication.
pub fn candidate_pairs(inv: &[Invoice], cluster: &HashMap<String, String>, window_days: i32) -> Vec<(usize, usize)> {
    // Supplier cluster of each invoice as a small integer (compared and sorted often).
    let mut ids: HashMap<&str, u32> = HashMap::default();
    let cid: Vec<u32> = inv
        .iter()
        .map(|x| {
            let c = cluster.get(&x.vendor_id).map_or(x.vendor_id.as_str(), String::as_str);
            let n = ids.len() as u32;
            *ids.entry(c).or_insert(n)
        })
        .collect();
    let cl = |i: usize| cid[i];
    let norm: Vec<String> = inv.par_iter().map(|i| normalize_number(&i.invoice_number)).collect();
    // The number without a credit or re-issue suffix (`normalize_number`'s `~`).
    let base_of = |i: usize| norm[i].split('~').next().unwrap_or(&norm[i]);
    // Vendor records with near-identical names are one block (not one supplier:
    // the model weighs the name similarity).
    let names: Vec<String> = inv.par_iter().map(|x| name_key(&x.vendor_name)).collect();
    // Each blocking key groups the invoices sharing it, in (date, index) order
    // within a group; the pairs are a set (sorted and de-duplicated below), so
    // groups are formed and read in parallel, in any order.
    fn grouped<K: Ord + Send>(inv: &[Invoice], key: impl Fn(usize) -> K + Sync + Send) -> Vec<Vec<usize>> {
        let mut keyed: Vec<(K, i32, usize)> =
            (0..inv.len()).into_par_iter().map(|i| (key(i), inv[i].invoice_date, i)).collect();
        keyed.par_sort_unstable_by(|a, b| (&a.0, a.1, a.2).cmp(&(&b.0, b.1, b.2)));
        keyed.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() >= 2).map(|g| g.iter().map(|k| k.2).collect()).collect()
    }
    // Large blocks (a vendor billing one amount every month) are compared only
    // with their nearest neighbours in time.
    let neighbours = |v: &Vec<usize>| {
        let mut out = Vec::new();
        for x in 0..v.len() {
            for y in x + 1..v.len().min(x + 8) {
                out.push((v[x].min(v[y]), v[x].max(v[y])));
            }
        }
        out
    };
    // Amount + date window across vendors (a second vendor record the master data does not link).
    let within_window = |v: &Vec<usize>| {
        let mut out = Vec::new();
        for x in 0..v.len() {
            for y in x + 1..v.len() {
                if inv[v[y]].invoice_date - inv[v[x]].invoice_date > window_days {
                    break;
                }
                out.push((v[x].min(v[y]), v[x].max(v[y])));
            }
        }
        out
    };
    let ((by_number, by_amount), (by_name, across_vendors)) = rayon::join(
        || {
            rayon::join(
                || grouped(inv, |i| (cl(i), base_of(i))),
                || grouped(inv, |i| (cl(i), inv[i].currency.as_str(), inv[i].amount.abs())),
            )
        },
        || {
            rayon::join(
                || grouped(inv, |i| (names[i].as_str(), base_of(i))),
                || grouped(inv, |i| (inv[i].currency.as_str(), inv[i].amount)),
            )
        },
    );
    let mut pairs: Vec<(usize, usize)> = by_number
        .par_iter()
        .chain(by_amount.par_iter())
        .chain(by_name.par_iter())
        .flat_map_iter(neighbours)
        .chain(across_vendors.par_iter().flat_map_iter(within_window))
        .collect();
    // Sorted neighbourhood on the normalised number within a cluster (typos that change the key).
    let mut order: Vec<usize> = (0..inv.len()).collect();
    order.par_sort_by(|&x, &y| (cl(x), &norm[x], x).cmp(&(cl(y), &norm[y], y)));
    for w in 0..order.len() {
        for k in 1..=3 {
            if let Some(&o) = order.get(w + k)
                && cl(o) == cl(order[w])
            {
                pairs.push((order[w].min(o), order[w].max(o)));
            }
        }
    }
    // And on the reversed number (a typo early in the number keeps the tail).
    let rev: Vec<String> = (0..inv.len()).into_par_iter().map(|i| base_of(i).chars().rev().collect()).collect();
    order.par_sort_by(|&x, &y| (cl(x), &rev[x], x).cmp(&(cl(y), &rev[y], y)));
    for w in 0..order.len() {
        for k in 1..=3 {
            if let Some(&o) = order.get(w + k)
                && cl(o) == cl(order[w])
            {
                pairs.push((order[w].min(o), order[w].max(o)));
            }
        }
    }
    let mut pairs: Vec<(usize, usize)> =
        pairs.into_par_iter().filter(|(a, b)| a != b && inv[*a].currency == inv[*b].currency).collect();
    pairs.par_sort_unstable();
    pairs.dedup();
    pairs
}

fn one_digit_apart(a: i64, b: i64) -> bool {
    let (x, y) = (a.abs().to_string(), b.abs().to_string());
    x.len() == y.len() && x.chars().zip(y.chars()).filter(|(p, q)| p != q).count() == 1
}

fn trailing_number(s: &str) -> Option<i64> {
    // The trailing ASCII digits (one byte each, so the cut is a char boundary), the last nine.
    let k = s.bytes().rev().take_while(u8::is_ascii_digit).count();
    let d = &s[s.len() - k..];
    d[d.len().saturating_sub(9)..].parse().ok()
}

/// Whether two invoice numbers can be one document keyed twice: equal once
/// normalised (case, separators, a common prefix, leading zeros, OCR
/// look-alikes — [`normalize_number`]), one adjacent transposition apart, one
/// edit apart without being consecutive numbers (a typo, not the next invoice),
/// or one the other with a prefix (a year, a series) added. Numbers with
/// different credit/re-issue markers are different documents. Two invoices
/// whose numbers are not linked are never duplicates on amount, date and
/// vendor alone: a vendor that delivers twice at one price writes two numbers.
pub fn numbers_linked(a: &str, b: &str) -> bool {
    let (ka, kb) = (NumberKey::new(a), NumberKey::new(b));
    let (dl, lev) = edits(ka.base(), kb.base());
    ka.linked(&kb, dl, lev)
}

/// What [`numbers_linked`] and [`features`] read of one invoice number, computed
/// once per invoice instead of once per pair.
struct NumberKey {
    /// [`normalize_number`]: the base, then `~` and the credit/re-issue marker if any.
    norm: String,
    /// Where the base ends in `norm` (its length without a marker).
    base_end: usize,
    /// The number as written, letters and digits only, upper case.
    compact: String,
    /// The digits after a prefix of letters, without leading zeros (INV45 ~ INV-000045).
    core: String,
    trailing_base: Option<i64>,
    trailing_compact: Option<i64>,
}

impl NumberKey {
    fn new(raw: &str) -> NumberKey {
        let norm = normalize_number(raw);
        let base_end = norm.find('~').unwrap_or(norm.len());
        let compact: String = raw.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_uppercase();
        let core = compact.trim_start_matches(|ch: char| ch.is_ascii_alphabetic()).trim_start_matches('0').to_string();
        let trailing_base = trailing_number(&norm[..base_end]);
        let trailing_compact = trailing_number(&compact);
        NumberKey { norm, base_end, compact, core, trailing_base, trailing_compact }
    }

    fn base(&self) -> &str {
        &self.norm[..self.base_end]
    }

    fn suffix(&self) -> &str {
        self.norm.get(self.base_end + 1..).unwrap_or("")
    }

    /// [`numbers_linked`], given the edits between the two bases ([`edits`]).
    fn linked(&self, o: &NumberKey, dl: usize, lev: usize) -> bool {
        if self.norm == o.norm {
            return true;
        }
        let (ba, bb) = (self.base(), o.base());
        let (sa, sb) = (self.suffix(), o.suffix());
        if sa != sb || ba.is_empty() || bb.is_empty() {
            return false;
        }
        // One slip of the keyboard, on the normalised numbers or on the numbers as
        // written (a digit moved across zero padding: 000019 → 000109).
        let slip = |x: &str, y: &str, dl: usize, lev: usize, tx: Option<i64>, ty: Option<i64>| {
            let consecutive = match (tx, ty) {
                (Some(p), Some(q)) => p != q && (p - q).abs() <= 12 && x.len() == y.len(),
                _ => false,
            };
            let transposition = dl == 1 && lev == 2;
            let typo = dl == 1 && x.len().min(y.len()) >= 4 && !consecutive;
            transposition || typo
        };
        let (ca, cb) = (&self.core, &o.core);
        if !ca.is_empty() && ca == cb && ca.bytes().all(|x| x.is_ascii_digit()) && sa.is_empty() && sb.is_empty() {
            return true;
        }
        let (short, long) = if ba.len() <= bb.len() { (ba, bb) } else { (bb, ba) };
        let prefixed = short.len() >= 3 && long.len() > short.len() && long.ends_with(short);
        slip(ba, bb, dl, lev, self.trailing_base, o.trailing_base)
            || {
                let (x, y) = (self.compact.as_str(), o.compact.as_str());
                let (dl, lev) = edits(x, y);
                slip(x, y, dl, lev, self.trailing_compact, o.trailing_compact)
            }
            || prefixed
    }
}

/// Damerau–Levenshtein and Levenshtein distances (strsim's), 0 for equal text.
fn edits(a: &str, b: &str) -> (usize, usize) {
    if a == b { (0, 0) } else { (strsim::damerau_levenshtein(a, b), strsim::levenshtein(a, b)) }
}

/// [`reckon_core::similarity::jaro_winkler`], which is exactly 1 for equal text.
fn jaro_winkler(a: &str, b: &str) -> f64 {
    if a == b { 1.0 } else { reckon_core::similarity::jaro_winkler(a, b) }
}

/// Features of every pair (see [`FEATURES`]).
pub fn features(
    inv: &[Invoice],
    cluster: &HashMap<String, String>,
    vendors: &HashMap<String, String>,
    pairs: &[(usize, usize)],
) -> Vec<Pair> {
    let keys: Vec<NumberKey> = inv.par_iter().map(|i| NumberKey::new(&i.invoice_number)).collect();
    // Vendors, their clusters and their name keys as small numbers, once per invoice.
    let mut ids: HashMap<&str, u32> = HashMap::default();
    let mut vkeys: Vec<String> = Vec::new();
    let mut clusters: HashMap<&str, u32> = HashMap::default();
    let cl = |i: usize| cluster.get(&inv[i].vendor_id).map(String::as_str).unwrap_or(inv[i].vendor_id.as_str());
    let mut vendor = Vec::with_capacity(inv.len());
    let mut vcluster = Vec::with_capacity(inv.len());
    for (i, x) in inv.iter().enumerate() {
        let n = ids.len() as u32;
        let v = *ids.entry(x.vendor_id.as_str()).or_insert_with(|| {
            vkeys.push(name_key(vendors.get(&x.vendor_id).map_or(x.vendor_name.as_str(), String::as_str)));
            n
        });
        vendor.push(v);
        let n = clusters.len() as u32;
        vcluster.push(*clusters.entry(cl(i)).or_insert(n));
    }
    let descs: Vec<String> = inv.iter().map(|x| x.description.to_lowercase()).collect();
    // Credit memos per (cluster, currency, absolute amount), by date: a credit between
    // two equal invoices makes the second a re-issue, not a duplicate.
    let mut credits: HashMap<(u32, &str, i64), Vec<i32>> = HashMap::default();
    for (i, x) in inv.iter().enumerate() {
        if x.amount < 0 {
            credits.entry((vcluster[i], x.currency.as_str(), -x.amount)).or_default().push(x.invoice_date);
        }
    }
    pairs
        .par_iter()
        .map(|&(a, b)| {
            let (x, y) = (&inv[a], &inv[b]);
            let one = |c: bool| if c { 1.0f32 } else { 0.0 };
            let (ka, kb) = (&keys[a], &keys[b]);
            let (na, nb) = (&ka.norm, &kb.norm);
            let (ba, bb) = (ka.base(), kb.base());
            let (dl, lev) = edits(ba, bb);
            let seq = match (ka.trailing_base, kb.trailing_base) {
                (Some(p), Some(q)) => p != q && (p - q).abs() <= 12 && ba.len() == bb.len() && lev <= 2,
                _ => false,
            };
            let dd = (x.invoice_date - y.invoice_date).abs();
            let (lo, hi) = (x.invoice_date.min(y.invoice_date), x.invoice_date.max(y.invoice_date));
            let credit_between = x.amount == y.amount
                && x.amount > 0
                && credits
                    .get(&(vcluster[a], x.currency.as_str(), x.amount))
                    .is_some_and(|ds| ds.iter().any(|d| *d >= lo - 3 && *d <= hi + 3));
            let f = vec![
                one(vendor[a] == vendor[b]),
                one(vcluster[a] == vcluster[b]),
                jaro_winkler(&vkeys[vendor[a] as usize], &vkeys[vendor[b] as usize]) as f32,
                one(x.invoice_number.trim() == y.invoice_number.trim()),
                one(na == nb),
                // Edits between the normalised numbers, as a count (capped at 4):
                // the same on `INV-000004` as on `9010000004`.
                dl.min(4) as f32 / 4.0,
                one(ka.linked(kb, dl, lev)),
                one(dl == 1 && lev == 2),
                one(ba == bb && na != nb),
                one(seq),
                one(x.amount == y.amount),
                one(x.amount == -y.amount),
                ((x.amount - y.amount).abs() as f64 / x.amount.abs().max(y.amount.abs()).max(1) as f64).min(2.0) as f32,
                one(x.amount != y.amount && one_digit_apart(x.amount, y.amount)),
                (dd as f32 / 30.0).min(24.0),
                one(dd == 0),
                one((27..=32).contains(&(dd % 365)) || (58..=63).contains(&dd) || (88..=94).contains(&dd)),
                one(!x.po_number.is_empty() && x.po_number == y.po_number),
                one(!x.po_number.is_empty() && !y.po_number.is_empty() && x.po_number != y.po_number),
                jaro_winkler(&descs[a], &descs[b]) as f32,
                one(credit_between),
                (x.amount.unsigned_abs() as f32 + 1.0).log10(),
            ];
            Pair { a, b, features: f }
        })
        .collect()
}

/// Human reasons for a scored pair.
pub fn reasons(inv: &[Invoice], p: &Pair, vendor_why: &BTreeMap<(String, String), String>) -> Vec<String> {
    let (x, y) = (&inv[p.a], &inv[p.b]);
    let f = |name: &str| FEATURES.iter().position(|n| *n == name).map_or(0.0, |i| p.features[i]);
    let mut r = Vec::new();
    if x.invoice_number == y.invoice_number {
        r.push(format!("same invoice number {}", x.invoice_number));
    } else if f("number_norm_equal") == 1.0 {
        let ocr = x.invoice_number.len() == y.invoice_number.len()
            && x.invoice_number
                .chars()
                .zip(y.invoice_number.chars())
                .any(|(a, b)| a != b && (a.is_ascii_digit() != b.is_ascii_digit()));
        if ocr {
            r.push(format!("numbers {} and {} differ only by OCR look-alikes", x.invoice_number, y.invoice_number));
        } else {
            r.push(format!(
                "numbers {} and {} are the same once prefixes, separators and zeros are dropped",
                x.invoice_number, y.invoice_number
            ));
        }
    } else if f("number_transposition") == 1.0 {
        r.push(format!("numbers {} and {} differ by two swapped digits", x.invoice_number, y.invoice_number));
    } else {
        r.push(format!(
            "numbers {} and {} are {:.0}% alike",
            x.invoice_number,
            y.invoice_number,
            reckon_core::similarity::jaro_winkler(
                &normalize_number(&x.invoice_number),
                &normalize_number(&y.invoice_number)
            ) * 100.0
        ));
    }
    if x.vendor_id != y.vendor_id {
        let key = if x.vendor_id < y.vendor_id {
            (x.vendor_id.clone(), y.vendor_id.clone())
        } else {
            (y.vendor_id.clone(), x.vendor_id.clone())
        };
        r.push(vendor_why.get(&key).cloned().unwrap_or_else(|| {
            format!(
                "vendors {} and {} have alike names ({:.0}% similar: '{}' / '{}')",
                x.vendor_id,
                y.vendor_id,
                f("vendor_name_sim") * 100.0,
                x.vendor_name,
                y.vendor_name
            )
        }));
    }
    let dd = (x.invoice_date - y.invoice_date).abs();
    if x.amount == y.amount {
        r.push(format!("amount equal, dates {dd} day(s) apart"));
    } else {
        r.push(format!("amounts differ by {:.1}%, dates {dd} day(s) apart", f("amount_rel_diff") * 100.0));
    }
    if f("po_equal") == 1.0 {
        r.push(format!("same PO {}", x.po_number));
    }
    r
}

/// Clusters of duplicates from pairs at or above `threshold`: connected by strong
/// links only; a cluster whose members are not all linked at least at `weak`
/// (a chain through one link) is split back into its strong pairs.
pub fn clusters(n: usize, scored: &[(usize, usize, f64)], threshold: f64, weak: f64) -> Vec<Option<usize>> {
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], x: usize) -> usize {
        let mut r = x;
        while p[r] != r {
            r = p[r];
        }
        p[x] = r;
        r
    }
    // Only links at least `weak` matter for the no-chaining check.
    let score: HashMap<(usize, usize), f64> =
        scored.iter().filter(|(_, _, s)| *s >= weak).map(|(a, b, s)| ((*a, *b), *s)).collect();
    let mut strong: Vec<&(usize, usize, f64)> = scored.iter().filter(|(_, _, s)| *s >= threshold).collect();
    strong.sort_by(|x, y| y.2.total_cmp(&x.2).then((x.0, x.1).cmp(&(y.0, y.1))));
    let mut members: HashMap<usize, Vec<usize>> = HashMap::default();
    for (a, b, _) in strong {
        let (ra, rb) = (find(&mut parent, *a), find(&mut parent, *b));
        if ra == rb {
            continue;
        }
        let ma = members.get(&ra).cloned().unwrap_or_else(|| vec![*a]);
        let mb = members.get(&rb).cloned().unwrap_or_else(|| vec![*b]);
        // Every cross pair must be at least weakly linked: no chaining.
        let ok =
            ma.iter().all(|x| mb.iter().all(|y| score.get(&((*x).min(*y), (*x).max(*y))).is_some_and(|s| *s >= weak)));
        if !ok {
            continue;
        }
        let (root, other) = (ra.min(rb), ra.max(rb));
        parent[other] = root;
        let mut all = ma;
        all.extend(mb);
        members.remove(&other);
        members.insert(root, all);
    }
    let mut out = vec![None; n];
    for (root, ms) in &members {
        if ms.len() >= 2 {
            for m in ms {
                out[*m] = Some(*root);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_that_can_be_one_document() {
        for (a, b) in [
            ("INV-2026-0042", "inv 2026 0042"),
            ("2026/00105", "105"),
            ("RE 4711", "4711"),
            ("1O5", "105"),
            ("47118", "47181"),
            ("INV-47110", "INV-47190"),
            ("INV-000019", "INV-000109"),
            ("INV-000071", "INV-000701"),
            ("INV-000045", "INV45"),
        ] {
            assert!(numbers_linked(a, b), "{a} ~ {b}");
        }
        for (a, b) in [
            ("INV-1041", "INV-1042"),
            ("2026-0042", "2026-0043"),
            ("4711", "8815"),
            ("4711-CR", "4711"),
            ("A-77", "B-78"),
        ] {
            assert!(!numbers_linked(a, b), "{a} !~ {b}");
        }
    }

    #[test]
    fn numbers_normalise_like_a_clerk_reads_them() {
        assert_eq!(normalize_number("INV-000123"), "123");
        assert_eq!(normalize_number("inv 123"), "123");
        assert_eq!(normalize_number("RE20000123"), normalize_number("20000123"));
        assert_eq!(normalize_number("2026/00O45"), normalize_number("2026/00045"), "O for 0");
        assert_eq!(normalize_number("1OI5"), "1015");
        assert_eq!(normalize_number("INV-000123-CR"), "123~CR", "a credit memo stays another document");
        assert_ne!(normalize_number("4711-R"), normalize_number("4711"));
    }

    #[test]
    fn number_linked_column_is_named_so() {
        assert_eq!(FEATURES[NUMBER_LINKED], "number_linked");
    }

    /// Blocking as a plain sequential statement of the rule: each key's group
    /// in (date, index) order with its seven nearest neighbours, the amount and
    /// date window across vendors, and the sorted neighbourhoods on the number
    /// and on the reversed number.
    fn reference_pairs(inv: &[Invoice], cluster: &HashMap<String, String>, window_days: i32) -> Vec<(usize, usize)> {
        let cl = |i: usize| cluster.get(&inv[i].vendor_id).map_or(inv[i].vendor_id.clone(), Clone::clone);
        let norm: Vec<String> = inv.iter().map(|i| normalize_number(&i.invoice_number)).collect();
        let base = |n: &str| n.split('~').next().unwrap_or(n).to_string();
        let mut blocks: BTreeMap<(u8, String, String, i64), Vec<usize>> = BTreeMap::new();
        for i in 0..inv.len() {
            blocks.entry((0, cl(i), base(&norm[i]), 0)).or_default().push(i);
            blocks.entry((1, cl(i), inv[i].currency.clone(), inv[i].amount.abs())).or_default().push(i);
            blocks.entry((2, name_key(&inv[i].vendor_name), base(&norm[i]), 0)).or_default().push(i);
        }
        let mut pairs = Vec::new();
        for v in blocks.values_mut() {
            v.sort_by_key(|&i| (inv[i].invoice_date, i));
            for x in 0..v.len() {
                for y in x + 1..v.len().min(x + 8) {
                    pairs.push((v[x].min(v[y]), v[x].max(v[y])));
                }
            }
        }
        let mut by_amount: BTreeMap<(String, i64), Vec<usize>> = BTreeMap::new();
        for (i, x) in inv.iter().enumerate() {
            by_amount.entry((x.currency.clone(), x.amount)).or_default().push(i);
        }
        for v in by_amount.values_mut() {
            v.sort_by_key(|&i| (inv[i].invoice_date, i));
            for x in 0..v.len() {
                for y in x + 1..v.len() {
                    if inv[v[y]].invoice_date - inv[v[x]].invoice_date > window_days {
                        break;
                    }
                    pairs.push((v[x].min(v[y]), v[x].max(v[y])));
                }
            }
        }
        // Clusters numbered by first appearance, as the engine sorts them.
        let mut first: Vec<String> = Vec::new();
        let cid: Vec<usize> = (0..inv.len())
            .map(|i| {
                let c = cl(i);
                first.iter().position(|f| *f == c).unwrap_or_else(|| {
                    first.push(c);
                    first.len() - 1
                })
            })
            .collect();
        let rev: Vec<String> = norm.iter().map(|n| base(n).chars().rev().collect()).collect();
        for text in [&norm, &rev] {
            let mut order: Vec<usize> = (0..inv.len()).collect();
            order.sort_by(|&x, &y| (cid[x], &text[x], x).cmp(&(cid[y], &text[y], y)));
            for w in 0..order.len() {
                for k in 1..=3 {
                    if let Some(&o) = order.get(w + k)
                        && cid[o] == cid[order[w]]
                    {
                        pairs.push((order[w].min(o), order[w].max(o)));
                    }
                }
            }
        }
        pairs.retain(|(a, b)| a != b && inv[*a].currency == inv[*b].currency);
        pairs.sort_unstable();
        pairs.dedup();
        pairs
    }

    /// A book with colliding numbers, amounts, names and shared tax ids.
    fn random_book(n: usize, seed: u64) -> (Vec<Vendor>, Vec<Invoice>) {
        let mut state = seed;
        let mut next = move |m: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % m
        };
        let names = ["Acme GmbH", "ACME Gmbh.", "Borealis Ltd", "Cobalt Supplies", "Delta & Co KG", "Echo SA"];
        let vendors: Vec<Vendor> = (0..40)
            .map(|v| Vendor {
                vendor_id: format!("V{v:03}"),
                name: names[v % names.len()].to_string(),
                tax_id: if v % 7 == 0 { "DE123456789".into() } else { format!("TAX{v}") },
                ibans: Vec::new(),
            })
            .collect();
        let invoices = (0..n)
            .map(|i| {
                let v = next(40) as usize;
                let k = next(800);
                let invoice_number = match next(4) {
                    0 => format!("INV-{k:06}"),
                    1 => format!("{k}"),
                    2 => format!("RE{k}-CR"),
                    _ => format!("{}", k * 10 + next(10)),
                };
                Invoice {
                    doc_id: format!("D{i:05}"),
                    vendor_id: vendors[v].vendor_id.clone(),
                    vendor_name: vendors[v].name.clone(),
                    invoice_number,
                    invoice_date: next(120) as i32,
                    amount: [10_000, 12_345, 99_900, -10_000, 5_000][next(5) as usize] + next(3) as i64,
                    currency: if next(10) == 0 { "USD".into() } else { "EUR".into() },
                    ..Invoice::default()
                }
            })
            .collect();
        (vendors, invoices)
    }

    #[test]
    fn blocking_is_the_rule_on_any_number_of_threads() {
        let pool = |n| rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap_or_else(|e| panic!("{e}"));
        for seed in [1, 7, 42] {
            let (vendors, invoices) = random_book(3_000, seed);
            let (cluster, why) = pool(1).install(|| vendor_clusters(&vendors, &invoices));
            assert_eq!((cluster.clone(), why.clone()), pool(8).install(|| vendor_clusters(&vendors, &invoices)));
            assert!(cluster.values().any(|c| c != "V000") && cluster["V007"] == "V000", "tax ids link V000 and V007");
            let one = pool(1).install(|| candidate_pairs(&invoices, &cluster, 10));
            assert!(one.len() > invoices.len(), "{} pairs", one.len());
            assert_eq!(one, reference_pairs(&invoices, &cluster, 10));
            assert_eq!(one, pool(8).install(|| candidate_pairs(&invoices, &cluster, 10)));
        }
    }

    #[test]
    fn chains_are_not_clusters() {
        // 0–1 strong, 1–2 strong, 0–2 unrelated: no cluster of three.
        let c = clusters(3, &[(0, 1, 0.99), (1, 2, 0.98), (0, 2, 0.05)], 0.9, 0.5);
        assert_eq!(c[0], c[1]);
        assert!(c[2].is_none());
        let c = clusters(3, &[(0, 1, 0.99), (1, 2, 0.98), (0, 2, 0.7)], 0.9, 0.5);
        assert!(c[0].is_some() && c[0] == c[2]);
    }
}
