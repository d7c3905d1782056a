//! SWIFT MT940 (customer statement) and MT942 (interim transaction report).
//!
//! The parser first yields the format's own model ([`Statement`], [`Entry`]):
//! every tag as the bank sent it, so it can be compared field by field with
//! other parsers. [`to_rows`] then maps it onto `bank_transactions`, reading the
//! structured `:86:` variants (German `?20…?29`/`?32` subfields with SEPA
//! `EREF+`/`SVWZ+` keys, and `/EREF/ /REMI/ /ORDP/` slash codes).

use reckon_core::{Currency, MoneyFormat, format_minor, format_minor_wide, parse_minor};
use serde::Serialize;

use crate::text::{decode, iso, squash, squash_cow, valid, yymmdd};
use crate::{Control, FormatError, Parsed, Row, Target};

/// A balance tag (`:60F:`, `:62M:`, `:64:`, `:65:`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Balance {
    /// `C` or `D`.
    pub mark: String,
    pub date: String,
    pub currency: String,
    /// Decimal text with a point (`1234.56`), unsigned as in the file.
    pub amount: String,
    /// `F` (final/first) or `M` (intermediate), empty for `:64:`/`:65:`.
    pub kind: String,
}

/// One `:61:` statement line with its `:86:`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Entry {
    pub line: u64,
    pub value_date: String,
    pub entry_date: Option<String>,
    /// `C`, `D`, `RC` (reversal of credit: a debit) or `RD`.
    pub mark: String,
    pub funds_code: Option<String>,
    /// Unsigned decimal text with a point.
    pub amount: String,
    /// Transaction type identification code (`NTRF`, `N192`, `FCHG`…).
    pub type_code: String,
    pub customer_ref: String,
    pub bank_ref: Option<String>,
    pub supplementary: Option<String>,
    /// `:86:` lines joined with `\n`.
    pub info: Option<String>,
    /// The `:86:` read as German structured subfields (`GVC?00…?20…?32…`), when it is.
    pub german: Option<Box<German>>,
    /// SEPA keys (`EREF+`, `SVWZ+`, `KREF+`…) found in the purpose text, raw.
    pub sepa: Vec<(String, String)>,
    /// Problem found in this line (the row is rejected with it).
    pub problem: Option<String>,
}

/// One statement (or MT942 report), from `:20:` to the end of its message.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Statement {
    pub line: u64,
    pub transaction_ref: String,
    pub related_ref: Option<String>,
    pub account: String,
    pub statement_no: Option<String>,
    pub sequence_no: Option<String>,
    pub opening: Option<Balance>,
    pub closing: Option<Balance>,
    pub available: Option<Balance>,
    pub forward_available: Vec<Balance>,
    pub entries: Vec<Entry>,
    /// Statement-level `:86:`.
    pub info: Option<String>,
    /// MT942 `:13D:` date-time indication.
    pub datetime: Option<String>,
    /// MT942 `:34F:` floor limits as written.
    pub floor_limits: Vec<String>,
    /// MT942 `:90D:` / `:90C:` (count, currency, amount).
    pub sum_debits: Option<(u64, String, String)>,
    pub sum_credits: Option<(u64, String, String)>,
    /// Tags the parser did not expect, as (tag, line).
    pub unknown_tags: Vec<(String, u64)>,
    /// Opening or closing balances that could not be read: the statement cannot
    /// be tied out, so its rows are refused with this reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub balance_problems: Vec<String>,
}

struct Tag<'a> {
    name: &'static str,
    /// Borrowed from the text unless continuation lines were joined in.
    value: std::borrow::Cow<'a, str>,
    line: u64,
}

/// Splits the text into tags, removing SWIFT block wrappers (`{1:…}{2:…}{4:` … `-}`),
/// control characters and bank header lines outside messages.
fn tags(text: &str) -> Vec<Tag<'_>> {
    let mut out: Vec<Tag<'_>> = Vec::with_capacity(text.len() / 64);
    // A fragment without any :20: (a single tag sent on its own) is read as one message.
    let mut in_msg = !text.contains(":20:");
    let mut raw_lines: Vec<&str> = Vec::with_capacity(text.len() / 40);
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', text.as_bytes()).chain(std::iter::once(text.len())) {
        // '\n' is ASCII: both ends are character boundaries.
        raw_lines.push(&text[start..end]);
        start = end + 1;
    }
    let mut skip_next = false;
    for (i, raw) in raw_lines.iter().enumerate() {
        if std::mem::take(&mut skip_next) {
            continue;
        }
        let line_no = i as u64 + 1;
        let trimmed = raw.trim_end_matches('\r');
        let mut l: std::borrow::Cow<'_, str> = if trimmed.contains(['\u{1}', '\u{3}']) {
            std::borrow::Cow::Owned(trimmed.chars().filter(|c| !matches!(c, '\u{1}' | '\u{3}')).collect())
        } else {
            std::borrow::Cow::Borrowed(trimmed)
        };
        // A tag broken after its first colon (":" then "86:…" on the next line).
        if l == ":"
            && let Some(next) = raw_lines.get(i + 1)
            && tag_start(&format!(":{}", next.trim_end_matches('\r'))).is_some()
        {
            l = std::borrow::Cow::Owned(format!(":{}", next.trim_end_matches('\r')));
            skip_next = true;
        }
        // Block wrappers: keep only what follows `{4:`; a header line without it is dropped.
        if l.starts_with('{') {
            match l.find("{4:") {
                Some(p) => l = std::borrow::Cow::Owned(l[p + 3..].to_string()),
                None => {
                    in_msg = false;
                    continue;
                }
            }
            in_msg = false;
        }
        let t = l.trim_end();
        // A line `-` inside `:86:` text is text (banks wrap at 65 characters, and a
        // wrapped dash may stand alone): it ends the message only when the message
        // ends there — end of file, the next message's `:20:` or a block wrapper.
        let dash_is_text = t == "-"
            && in_msg
            && out.last().is_some_and(|tag| tag.name == "86")
            && raw_lines[i + 1..].iter().map(|n| n.trim()).find(|n| !n.is_empty()).is_some_and(|n| {
                !(n.starts_with(":20:") || n.starts_with('{') || n.starts_with('$') || n.starts_with('\u{3}'))
            });
        if !dash_is_text && (t == "-" || t == "-}" || t.starts_with("-}")) {
            in_msg = false;
            continue;
        }
        if let Some((name, value)) = tag_start(&l) {
            if name == "20" {
                in_msg = true;
            }
            if in_msg {
                let name = KNOWN_TAGS.iter().find(|t| **t == name).copied().unwrap_or("??");
                let value = match &l {
                    std::borrow::Cow::Borrowed(b) => std::borrow::Cow::Borrowed(&b[b.len() - value.len()..]),
                    std::borrow::Cow::Owned(_) => std::borrow::Cow::Owned(value.to_string()),
                };
                out.push(Tag { name, value, line: line_no });
            }
            continue;
        }
        if in_msg && let Some(last) = out.last_mut() {
            let v = last.value.to_mut();
            v.push('\n');
            v.push_str(&l);
        }
    }
    // Trailing empty continuation lines carry nothing.
    for t in &mut out {
        if t.value.ends_with('\n') {
            let v = t.value.to_mut();
            while v.ends_with('\n') {
                v.pop();
            }
        }
    }
    out
}

/// Tags of MT940 and MT942. Anything else that looks like `:nn:` at a line start is
/// text (an `:86:` continuation may begin with a time such as `:12:11`).
const KNOWN_TAGS: &[&str] = &[
    "20", "21", "25", "25P", "28", "28C", "60F", "60M", "61", "62F", "62M", "64", "65", "86", "13", "13D", "34F",
    "90D", "90C",
];

/// `:61:…` → ("61", "…") for a known tag.
fn tag_start(l: &str) -> Option<(&str, &str)> {
    let b = l.as_bytes();
    if b.len() < 4 || b[0] != b':' || !b[1].is_ascii_digit() || !b[2].is_ascii_digit() {
        return None;
    }
    let (name, rest) = if b[3] == b':' {
        (&l[1..3], &l[4..])
    } else if b.len() >= 5 && b[3].is_ascii_uppercase() && b[4] == b':' {
        (&l[1..4], &l[5..])
    } else {
        return None;
    };
    KNOWN_TAGS.contains(&name).then_some((name, rest))
}

/// `YYMMDD`, where a day past the month's end (banks' 30 February) is clamped to it.
fn yymmdd_lenient(s: &str) -> Option<(i32, u32, u32)> {
    if let Some(x) = yymmdd(s) {
        return Some(x);
    }
    let (y, m, d) = yymmdd(&format!("{}01", s.get(0..4)?))?;
    let day: u32 = s.get(4..6)?.parse().ok()?;
    let last = reckon_core::date::days_in_month(y, m);
    (day > last && day <= 31).then_some((y, m, d.max(last)))
}

fn amount_text(s: &str) -> Option<String> {
    // SWIFT amounts: digits, one comma, up to 15 characters.
    let s = s.trim();
    // Some banks omit the comma of whole amounts (`500`); more than one comma is never valid.
    if s.is_empty() || s.len() > 15 || !s.bytes().all(|b| b.is_ascii_digit() || b == b',') || s.matches(',').count() > 1
    {
        return None;
    }
    let (i, f) = s.split_once(',').unwrap_or((s, ""));
    let i = i.trim_start_matches('0');
    let i = if i.is_empty() { "0" } else { i };
    let f = f.trim_end_matches('0');
    let mut out = String::with_capacity(i.len() + f.len() + 1);
    out.push_str(i);
    if !f.is_empty() {
        out.push('.');
        out.push_str(f);
    }
    Some(out)
}

fn balance(v: &str, kind: &str) -> Option<Balance> {
    read_balance(v, kind).ok()
}

/// A balance `C|D YYMMDD CCY amount`, or why it cannot be read. A day past the
/// month's end is clamped (banks' 31 November); an amount zero-padded past
/// SWIFT's 15 characters is read when its digits fit.
fn read_balance(v: &str, kind: &str) -> Result<Balance, String> {
    let v = v.trim();
    let mark = v.get(0..1).unwrap_or("");
    if mark != "C" && mark != "D" {
        return Err(format!("'{v}' does not start with C or D"));
    }
    let date = v.get(1..7).unwrap_or("");
    let (y, m, d) = yymmdd_lenient(date).ok_or_else(|| format!("date '{date}' is not a valid YYMMDD date"))?;
    let currency = v.get(7..10).filter(|c| c.bytes().all(|b| b.is_ascii_uppercase()));
    let currency = currency.ok_or_else(|| format!("'{v}' has no currency code after the date"))?.to_string();
    let raw = v.get(10..).unwrap_or("").trim();
    let unpadded = raw.trim_start_matches('0');
    let unpadded = if unpadded.starts_with(',') || unpadded.is_empty() {
        // Keep one leading zero (`000,50` → `0,50`); an empty amount stays empty.
        raw.len().checked_sub(unpadded.len() + 1).map_or(unpadded, |i| &raw[i..])
    } else {
        unpadded
    };
    let amount = amount_text(raw)
        .or_else(|| amount_text(unpadded))
        .ok_or_else(|| format!("amount '{raw}' is not a SWIFT amount (digits and one comma)"))?;
    Ok(Balance { mark: mark.to_string(), date: iso(y, m, d), currency, amount, kind: kind.to_string() })
}

/// Parses the `:61:` value (first line plus optional supplementary line).
fn entry(v: &str, line: u64) -> Entry {
    let mut e = Entry {
        line,
        value_date: String::new(),
        entry_date: None,
        mark: String::new(),
        funds_code: None,
        amount: String::new(),
        type_code: String::new(),
        customer_ref: String::new(),
        bank_ref: None,
        supplementary: None,
        info: None,
        german: None,
        sepa: Vec::new(),
        problem: None,
    };
    // Some banks (Sparkassen) break the line between the mark and the amount.
    let joined_v;
    let v = match v.split_once('\n') {
        Some((a, b)) if a.trim_end().len() <= 13 && a.trim_end().ends_with(|c: char| c.is_ascii_alphabetic()) => {
            joined_v = format!("{}{b}", a.trim_end());
            joined_v.as_str()
        }
        _ => v,
    };
    let (first, rest) = match v.split_once('\n') {
        Some((a, b)) => (a.trim_end(), Some(b)),
        None => (v.trim_end(), None),
    };
    e.supplementary = rest.map(|r| r.replace('\n', "")).filter(|r| !r.trim().is_empty());
    let b = first.as_bytes();
    let mut p = 0;
    let Some((y, m, d)) = first.get(0..6).and_then(yymmdd_lenient) else {
        e.problem = Some(format!(":61: value date '{}' is not a valid YYMMDD date", first.get(0..6).unwrap_or(first)));
        return e;
    };
    e.value_date = iso(y, m, d);
    p += 6;
    if b.len() >= p + 4 && b[p..p + 4].iter().all(u8::is_ascii_digit) {
        let em: u32 = first[p..p + 2].parse().unwrap_or(0);
        let ed: u32 = first[p + 2..p + 4].parse().unwrap_or(0);
        // The entry date has no year: take the value date's, across a year end if needed.
        let ey = if m == 12 && em == 1 {
            y + 1
        } else if m == 1 && em == 12 {
            y - 1
        } else {
            y
        };
        if valid(ey, em, ed) {
            e.entry_date = Some(iso(ey, em, ed));
        } else if !(em == 2 && (ed == 29 || ed == 30)) {
            // 30 February appears in real files (banks' interest dates); it is ignored, not fatal.
            e.problem = Some(format!(":61: entry date '{}' is not a valid MMDD date", &first[p..p + 4]));
        }
        p += 4;
    } else if b.len() >= p + 5 && b[p..p + 4].iter().all(|c| *c == b' ') {
        // The optional entry date left blank (four spaces).
        p += 4;
    }
    let mark = if first[p..].starts_with("RC") || first[p..].starts_with("RD") {
        &first[p..p + 2]
    } else if first[p..].starts_with('C') || first[p..].starts_with('D') {
        &first[p..p + 1]
    } else {
        e.problem = Some(format!(":61: debit/credit mark missing at '{}'", &first[p..]));
        return e;
    };
    e.mark = mark.to_string();
    p += mark.len();
    if b.get(p).is_some_and(u8::is_ascii_alphabetic) {
        e.funds_code = Some(first[p..p + 1].to_string());
        p += 1;
    }
    let amt_start = p;
    let amt_end = first[p..].find(|c: char| !(c.is_ascii_digit() || c == ',')).map_or(first.len(), |i| p + i);
    match amount_text(&first[p..amt_end]) {
        Some(a) => e.amount = a,
        None => {
            e.problem =
                Some(format!(":61: amount '{}' is not a SWIFT amount (digits and one comma)", &first[p..amt_end]));
            return e;
        }
    }
    p = amt_end;
    if first[p..].starts_with('.') && first[p + 1..].starts_with(|c: char| c.is_ascii_digit()) {
        e.problem = Some(format!(
            ":61: amount '{}' uses a decimal point: SWIFT amounts use a comma",
            &first
                [amt_start..p + 1 + first[p + 1..].find(|c: char| !c.is_ascii_digit()).unwrap_or(first.len() - p - 1)]
        ));
        return e;
    }
    match first.get(p..p + 4) {
        Some(t) if t.as_bytes()[0].is_ascii_alphabetic() => e.type_code = t.to_string(),
        _ => {
            e.problem = Some(format!(":61: transaction type code missing after the amount ('{}')", &first[p..]));
            return e;
        }
    }
    p += 4;
    // 16x customer reference, then optionally //16x bank reference; anything after
    // that on the same line is supplementary detail (some banks put the name there).
    let refs = &first[p..];
    let split =
        refs.char_indices().take_while(|(i, _)| *i <= 16).find(|(i, _)| refs[*i..].starts_with("//")).map(|(i, _)| i);
    let extra_same_line = match split {
        Some(i) => {
            e.customer_ref = refs[..i].to_string();
            let after = &refs[i + 2..];
            let cut = after.char_indices().nth(16).map_or(after.len(), |(k, _)| k);
            let br = after[..cut].trim_end();
            e.bank_ref = (!br.is_empty()).then(|| br.to_string());
            after[cut..].trim().to_string()
        }
        None => {
            let cut = refs.char_indices().nth(16).map_or(refs.len(), |(k, _)| k);
            e.customer_ref = refs[..cut].to_string();
            refs[cut..].trim().to_string()
        }
    };
    if !extra_same_line.is_empty() {
        e.supplementary = Some(match e.supplementary.take() {
            Some(next) => format!("{extra_same_line} {next}"),
            None => extra_same_line,
        });
    }
    e
}

/// Parses a whole MT940/MT942 file into statements.
pub fn statements(bytes: &[u8]) -> Vec<Statement> {
    read_statements(bytes, true)
}

/// `structured`: also read every `:86:` as German subfields and SEPA keys into the
/// model (for inspection and conformance); [`to_rows`] reads them itself either way.
fn read_statements(bytes: &[u8], structured: bool) -> Vec<Statement> {
    let text = decode(bytes);
    let mut out: Vec<Statement> = Vec::new();
    let mut prev_tag: &str = "";
    for t in tags(&text) {
        let prev = std::mem::replace(&mut prev_tag, t.name);
        if out.is_empty() && t.name != "20" {
            out.push(Statement { line: t.line, ..Statement::default() });
        }
        if t.name == "20" {
            out.push(Statement { line: t.line, transaction_ref: t.value.trim().to_string(), ..Statement::default() });
            continue;
        }
        let Some(s) = out.last_mut() else { continue };
        let v: &str = &t.value;
        match t.name {
            "21" => s.related_ref = Some(v.trim().to_string()),
            "25" | "25P" => s.account = v.lines().next().unwrap_or("").trim().to_string(),
            "28" | "28C" => {
                let v = v.trim();
                match v.split_once('/') {
                    Some((a, b)) => {
                        s.statement_no = Some(a.to_string());
                        s.sequence_no = Some(b.to_string());
                    }
                    None => s.statement_no = Some(v.to_string()),
                }
            }
            "60F" | "60M" | "62F" | "62M" => match read_balance(v, &t.name[2..]) {
                Ok(b) if t.name.starts_with("60") => s.opening = Some(b),
                Ok(b) => s.closing = Some(b),
                Err(why) => s.balance_problems.push(format!(":{}: on line {}: {why}", t.name, t.line)),
            },
            "64" => s.available = balance(v, ""),
            "65" => s.forward_available.extend(balance(v, "")),
            "61" => s.entries.push(entry(v, t.line)),
            "86" => match s.entries.last_mut() {
                Some(e) if s.closing.is_none() && (e.info.is_none() || prev == "86") => {
                    // Several :86: tags after one :61: (seen from Dutch banks) continue its text.
                    let v = v.trim_start();
                    let info = match e.info.take() {
                        Some(p) => format!("{p}\n{v}"),
                        None => v.to_string(),
                    };
                    if structured {
                        e.german = german(&info).map(Box::new);
                        e.sepa = e.german.as_ref().and_then(|g| g.purpose.as_deref()).map(sepa).unwrap_or_default();
                    }
                    e.info = Some(info);
                }
                _ => {
                    s.info = Some(match s.info.take() {
                        Some(prev) => format!("{prev}\n{v}"),
                        None => v.to_string(),
                    })
                }
            },
            "13" | "13D" => s.datetime = Some(v.trim().to_string()),
            "34F" => s.floor_limits.push(v.trim().to_string()),
            "90D" | "90C" => {
                let v = v.trim();
                let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
                let count = v[..digits].parse().unwrap_or(0);
                let cur = v.get(digits..digits + 3).unwrap_or("").to_string();
                let amt = v.get(digits + 3..).and_then(amount_text).unwrap_or_default();
                if t.name == "90D" {
                    s.sum_debits = Some((count, cur, amt));
                } else {
                    s.sum_credits = Some((count, cur, amt));
                }
            }
            other => s.unknown_tags.push((other.to_string(), t.line)),
        }
    }
    out
}

fn signed_minor(amount: &str, negative: bool, cur: Currency) -> Option<i64> {
    let m = parse_minor(amount, &MoneyFormat::CONTRACT, cur).ok()?;
    Some(if negative { -m } else { m })
}

/// The original (instructed) amount of a cross-currency entry: `/OCMT/USD1000,00/`
/// in the `:61:` supplementary details or the `:86:` text (SWIFT's code for the
/// original ordered amount). Returns (currency text, amount text in contract form).
pub fn original_amount(text: &str) -> Option<(String, String)> {
    coded_amount(text, "/OCMT/")
}

/// The charges deducted from an entry: `/CHGS/EUR15,00/` in the `:61:`
/// supplementary details or the `:86:` text (SWIFT MT940 field 61, subfield 9:
/// the codes `OCMT` and `CHGS`; Rabobank's MT940 Structured writes them as
/// `:86:` code words in the order `/OCMT/`, `/EXCH/`, `/CHGS/`). Returns
/// (currency text, amount text in contract form).
pub fn charges_amount(text: &str) -> Option<(String, String)> {
    coded_amount(text, "/CHGS/")
}

fn coded_amount(text: &str, code: &str) -> Option<(String, String)> {
    let at = text.find(code)? + code.len();
    let rest = text.get(at..)?;
    let ccy = rest.get(0..3)?;
    if !ccy.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let v: String = rest[3..].chars().take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '.').collect();
    let v = v.replace(',', ".");
    let v = v.strip_suffix('.').unwrap_or(&v).to_string();
    Some((ccy.to_string(), v))
}

/// Supplementary details without the SWIFT amount codes (`/OCMT/…/`, `/CHGS/…/`),
/// which are data, not text for a person.
fn without_amount_codes(sup: &str) -> std::borrow::Cow<'_, str> {
    if !sup.contains("/OCMT/") && !sup.contains("/CHGS/") {
        return std::borrow::Cow::Borrowed(sup);
    }
    let mut out = sup.to_string();
    for code in ["/OCMT/", "/CHGS/"] {
        while let Some(at) = out.find(code) {
            let body = at + code.len();
            // Up to (not including) the slash that ends the value: it may open the next code.
            let mut end = out[body..].find('/').map_or(out.len(), |j| body + j);
            if end < out.len() && !out[end..].starts_with("/OCMT/") && !out[end..].starts_with("/CHGS/") {
                end += 1;
            }
            out.replace_range(at..end, " ");
        }
    }
    std::borrow::Cow::Owned(out.trim_matches(|c: char| c == ' ' || c == '/').to_string())
}

/// The statement's currency: from the balances, else MT942's floor limit or sums.
fn currency_of(s: &Statement) -> Option<String> {
    s.opening
        .as_ref()
        .or(s.closing.as_ref())
        .map(|b| b.currency.clone())
        .or_else(|| s.floor_limits.first().and_then(|f| f.get(0..3)).map(str::to_string))
        .or_else(|| s.sum_credits.as_ref().or(s.sum_debits.as_ref()).map(|x| x.1.clone()))
}

/// German structured `:86:` (DFÜ-Abkommen / Deutsche Bank MT940 structure): a
/// three-digit business transaction code (GVC) then `?nn` subfields.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct German {
    pub transaction_code: String,
    /// `?00`
    pub posting_text: Option<String>,
    /// `?10`
    pub prima_nota: Option<String>,
    /// `?20`–`?29`, concatenated as sent.
    pub purpose: Option<String>,
    /// `?30` bank code / BIC of the counterparty.
    pub applicant_bin: Option<String>,
    /// `?31` account / IBAN of the counterparty.
    pub applicant_iban: Option<String>,
    /// `?32` + `?33` counterparty name.
    pub applicant_name: Option<String>,
    /// `?34` text key extension (return reasons).
    pub return_debit_notes: Option<String>,
    /// `?35`
    pub recipient_name: Option<String>,
    /// `?60`–`?63`
    pub additional_purpose: Option<String>,
    /// Other subfields as (id, value).
    pub other: Vec<(String, String)>,
}

/// Reads a German structured `:86:`; `None` when the text is not one.
pub fn german(info: &str) -> Option<German> {
    // Lines are joined as sent: a space before a line wrap is content.
    let joined: std::borrow::Cow<'_, str> = if memchr::memchr2(b'\n', b'\r', info.as_bytes()).is_some() {
        let mut j = String::with_capacity(info.len());
        info.split('\n').for_each(|l| j.push_str(l.trim_end_matches('\r')));
        j.into()
    } else {
        info.into()
    };
    let joined = joined.trim_start().trim_end_matches('?');
    let b = joined.as_bytes();
    if b.len() < 6
        || !b[..3].iter().all(u8::is_ascii_digit)
        || b[3] != b'?'
        || !b[4].is_ascii_digit()
        || !b[5].is_ascii_digit()
    {
        return None;
    }
    let mut g = German { transaction_code: joined[..3].to_string(), ..German::default() };
    // Subfield starts: '?' followed by two digits.
    let starts: Vec<usize> = memchr::memchr_iter(b'?', b)
        .filter(|&i| i >= 3 && i + 2 < b.len() && b[i + 1].is_ascii_digit() && b[i + 2].is_ascii_digit())
        .collect();
    let push = |slot: &mut Option<String>, v: &str| slot.get_or_insert_with(String::new).push_str(v);
    for (k, &st) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(joined.len());
        let id = &joined[st + 1..st + 3];
        let v = &joined[st + 3..end];
        match id {
            "00" => push(&mut g.posting_text, v),
            "10" => push(&mut g.prima_nota, v),
            "20" | "21" | "22" | "23" | "24" | "25" | "26" | "27" | "28" | "29" => push(&mut g.purpose, v),
            "30" => push(&mut g.applicant_bin, v),
            "31" => push(&mut g.applicant_iban, v),
            "32" | "33" => push(&mut g.applicant_name, v),
            "34" => push(&mut g.return_debit_notes, v),
            "35" => push(&mut g.recipient_name, v),
            "60" | "61" | "62" | "63" => push(&mut g.additional_purpose, v),
            _ => g.other.push((id.to_string(), v.to_string())),
        }
    }
    Some(g)
}

/// SEPA purpose keys used in German statements (`EREF+`, `SVWZ+`, …).
const SEPA_KEYS: &[&str] = &[
    "IBAN", "BIC ", "EREF", "MREF", "CRED", "PURP", "SVWZ", "MDAT", "ABWA", "ABWE", "SQTP", "ORCR", "ORMR", "DDAT",
    "KREF", "DEBT", "COAM", "OAMT",
];

/// Splits a purpose text at SEPA keys: (key, raw value) in order; text before the
/// first key is returned under the empty key.
pub fn sepa(purpose: &str) -> Vec<(String, String)> {
    sepa_spans(purpose).into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// [`sepa`] borrowing from the purpose text (key without its trailing space).
fn sepa_spans(purpose: &str) -> Vec<(&'static str, &str)> {
    let mut marks: Vec<(usize, &'static str)> = Vec::new();
    for i in memchr::memchr_iter(b'+', purpose.as_bytes()) {
        if i >= 4
            && let Some(k) = SEPA_KEYS.iter().find(|k| purpose.get(i - 4..i) == Some(**k))
        {
            marks.push((i - 4, k));
        }
    }
    let mut out = Vec::new();
    if marks.is_empty() {
        return out;
    }
    if marks[0].0 > 0 {
        out.push(("", &purpose[..marks[0].0]));
    }
    for (n, (pos, key)) in marks.iter().enumerate() {
        let end = marks.get(n + 1).map_or(purpose.len(), |m| m.0);
        out.push((key.trim_end(), &purpose[pos + 5..end]));
    }
    out
}

/// Fields of a German structured `:86:` (with SEPA keys in its purpose).
fn details_german(g: &German, d: &mut Details) {
    d.code = Some(g.transaction_code.clone());
    // German subfields are fixed 27-character chunks joined as sent: trimming is
    // enough, inner spacing is the bank's.
    d.name = g.applicant_name.as_deref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    d.account = g.applicant_iban.as_deref().map(str::trim).map(str::to_string).filter(|s| !s.is_empty());
    let purpose: std::borrow::Cow<'_, str> = match (g.purpose.as_deref(), g.additional_purpose.as_deref()) {
        (Some(p), None) => p.into(),
        (None, None) => "".into(),
        (p, Some(a)) => format!("{}{a}", p.unwrap_or("")).into(),
    };
    let keys = sepa_spans(&purpose);
    for (k, v) in &keys {
        let v = v.trim();
        match *k {
            "EREF" if v != "NOTPROVIDED" && !v.is_empty() => d.end_to_end_id = Some(v.to_string()),
            "SVWZ" => d.description = Some(v.to_string()),
            "ABWA" if d.name.is_none() => d.name = Some(v.to_string()),
            "IBAN" if d.account.is_none() => d.account = Some(v.to_string()),
            _ => {}
        }
    }
    if d.description.is_none() {
        let lead = keys.iter().find(|(k, _)| k.is_empty()).map(|(_, v)| squash(v));
        d.description = match (keys.is_empty(), lead) {
            (true, _) => Some(squash(&purpose)).filter(|s| !s.is_empty()),
            (false, Some(l)) if !l.is_empty() => Some(l),
            _ => None,
        };
    }
}

/// Fields of a structured `:86:`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Details {
    pub name: Option<String>,
    pub account: Option<String>,
    pub end_to_end_id: Option<String>,
    pub reference: Option<String>,
    pub description: Option<String>,
    pub code: Option<String>,
}

/// Reads the `:86:` variants: German `?nn` subfields (with SEPA `EREF+`… keys),
/// `/KEY/value` slash codes, or free text.
pub fn details(info: &str) -> Details {
    details_with(info, german(info).as_ref())
}

/// [`details`] with the German structure already parsed (or known absent).
pub fn details_with(info: &str, german_parsed: Option<&German>) -> Details {
    let mut d = Details::default();
    if let Some(g) = german_parsed {
        details_german(g, &mut d);
        d.reference = g.purpose.as_deref().and_then(find_rf).or_else(|| find_rf(info));
        return d;
    }
    let mut joined = String::with_capacity(info.len());
    info.split('\n').for_each(|l| joined.push_str(l.trim_end_matches('\r')));
    if joined.starts_with('/') && slash_key(&joined[1..]).is_some() {
        let mut parts: Vec<(String, String)> = Vec::new();
        let mut rest = &joined[1..];
        while let Some(k) = slash_key(rest) {
            rest = &rest[k.len() + 1..];
            // Value runs to the next "/KEY/".
            let mut end = rest.len();
            let mut i = 0;
            while let Some(j) = rest[i..].find('/') {
                let at = i + j;
                if slash_key(&rest[at + 1..]).is_some() {
                    end = at;
                    break;
                }
                i = at + 1;
            }
            parts.push((k.to_string(), rest[..end].to_string()));
            rest = if end < rest.len() { &rest[end + 1..] } else { "" };
        }
        for (k, v) in &parts {
            let v = v.trim_matches('/');
            match k.as_str() {
                "EREF" if v != "NOTPROVIDED" && !v.is_empty() => d.end_to_end_id = Some(v.to_string()),
                "REMI" => {
                    let t = v.trim_start_matches("USTD//").trim_start_matches("USTD/").trim_start_matches("STRD/");
                    d.description = Some(squash(t));
                }
                "NAME" if d.name.is_none() => d.name = Some(squash(v)),
                "ORDP" | "BENM" if d.name.is_none() => {
                    let n = v.trim_start_matches('/').split("/NAME/").last().unwrap_or(v);
                    let n = n.trim_start_matches("NAME/");
                    d.name = Some(squash(n.split('/').next().unwrap_or(n))).filter(|s| !s.is_empty());
                }
                "IBAN" if d.account.is_none() => d.account = Some(v.to_string()),
                "CNTP" => {
                    // CNTP/account/bic/name/city
                    let f: Vec<&str> = v.split('/').collect();
                    if let Some(a) = f.first().filter(|a| !a.is_empty()) {
                        d.account = Some(a.to_string());
                    }
                    if let Some(n) = f.get(2).filter(|n| !n.is_empty()) {
                        d.name = Some(squash(n));
                    }
                }
                "TRTP" | "TRCD" if d.code.is_none() => d.code = Some(v.to_string()),
                "CDTRREF" if !v.is_empty() => d.reference = Some(v.to_string()),
                _ => {}
            }
        }
    } else {
        d.description = Some(squash(&joined)).filter(|s| !s.is_empty());
    }
    // An ISO 11649 creditor reference anywhere in the purpose is the structured
    // reference (unless the layout named one).
    if d.reference.is_none() {
        d.reference = find_rf(&joined);
    }
    d
}

/// Slash codes of structured `:86:` layouts: SWIFT's `/EREF/ /REMI/ /ORDP/ /BENM/`
/// and the Dutch banks' structured MT940 (Rabobank "Format description MT940
/// Structured" 1.5.3, chapter 3 "Field 86": `/TRCD/ /EREF/ /ORDP//NAME/ /ADDR/
/// /REMI/ /ISDT/ /CSID/ /MARF/`; ING "MT940 & MT942 Structured NL" v4: `/CNTP/
/// /PURP/ /REMI/USTD// /CDTRREFTP/ /CDTRREF/`). A code no table names is part of
/// the value before it.
const SLASH_KEYS: &[&str] = &[
    "EREF",
    "REMI",
    "ORDP",
    "BENM",
    "NAME",
    "IBAN",
    "BIC",
    "CNTP",
    "TRTP",
    "CSID",
    "MARF",
    "PREF",
    "SVCL",
    "PURP",
    "ISDT",
    "RTRN",
    "ADDR",
    "ULTC",
    "ULTD",
    "ULTB",
    "BUSP",
    "ACCW",
    "EXCH",
    "OCMT",
    "CHGS",
    "IREF",
    "CITY",
    "TRCD",
    "CDTRREFTP",
    "CDTRREF",
];

fn slash_key(s: &str) -> Option<&'static str> {
    // Longest first: `CDTRREFTP` before `CDTRREF`.
    SLASH_KEYS.iter().filter(|k| s.starts_with(*k) && s[k.len()..].starts_with('/')).max_by_key(|k| k.len()).copied()
}

/// First ISO 11649 `RFnn…` reference with valid check digits.
pub fn find_rf(text: &str) -> Option<String> {
    let b = text.as_bytes();
    // Find the `F` (rarer in text than `R`), then look back for the `R`.
    for f in memchr::memchr2_iter(b'F', b'f', b) {
        let Some(start) = f.checked_sub(1) else { continue };
        if start + 4 >= b.len() {
            break;
        }
        if !b[start].eq_ignore_ascii_case(&b'R') {
            continue;
        }
        if !(b[start + 2].is_ascii_digit() && b[start + 3].is_ascii_digit()) {
            continue;
        }
        if start > 0 && b[start - 1].is_ascii_alphanumeric() {
            continue;
        }
        let end = b[start..].iter().position(|c| !c.is_ascii_alphanumeric()).map_or(b.len(), |k| start + k);
        let cand = text[start..end].to_ascii_uppercase();
        if (5..=25).contains(&cand.len()) && rf_valid(&cand) {
            return Some(cand);
        }
    }
    None
}

fn rf_valid(rf: &str) -> bool {
    reckon_core::creditor_ref::rf_valid(rf)
}

/// Maps statements to `bank_transactions` rows and checks every statement's balances.
pub fn to_rows(stmts: Vec<Statement>) -> (Vec<Row>, Vec<Control>) {
    let mut rows = Vec::with_capacity(stmts.iter().map(|s| s.entries.len()).sum());
    let mut controls = Vec::new();
    for (si, mut s) in stmts.into_iter().enumerate() {
        let scope =
            format!(":20:{} :25:{} :28C:{}", s.transaction_ref, s.account, s.statement_no.as_deref().unwrap_or("-"));
        let cur_code = currency_of(&s);
        let cur = cur_code.as_deref().and_then(Currency::parse);
        let mut stmt_rows: Vec<Row> = Vec::with_capacity(s.entries.len());
        // Sums of money in i128: a statement of many large entries cannot wrap.
        let mut sum: i128 = 0;
        let mut sum_ok = true;
        // Repeated bank references within a statement get `#2`, `#3`… (rare: only
        // the repeats are counted).
        let mut bank_refs: Vec<&str> =
            s.entries.iter().filter_map(|e| e.bank_ref.as_deref().map(str::trim)).filter(|b| !b.is_empty()).collect();
        bank_refs.sort_unstable();
        let repeated: std::collections::HashSet<String> =
            bank_refs.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0].to_string()).collect();
        let mut seen_refs: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        // Moved out so that entries can be consumed while the statement's other fields are read.
        let entries = std::mem::take(&mut s.entries);
        let debit_credit: Vec<(bool, String)> = if s.sum_debits.is_some() || s.sum_credits.is_some() {
            entries.iter().map(|e| (e.mark == "D" || e.mark == "RC", e.amount.clone())).collect()
        } else {
            Vec::new()
        };
        for (k, e) in entries.into_iter().enumerate() {
            let mut r = Row::numbered(e.line, &["stmt ", " :61: #"], [si + 1, k + 1]);
            let negative = e.mark == "D" || e.mark == "RC";
            let id = match e.bank_ref.as_deref().map(str::trim) {
                Some(b) if !b.is_empty() && !b.eq_ignore_ascii_case("NONREF") => {
                    if repeated.contains(b) {
                        let n = seen_refs.entry(b.to_string()).or_insert(0);
                        *n += 1;
                        if *n == 1 { b.into() } else { format!("{b}#{n}").into() }
                    } else {
                        std::borrow::Cow::Borrowed(b)
                    }
                }
                _ => format!("@{}", r.position()).into(),
            };
            r.set("txn_id", id);
            r.set("account_id", s.account.as_str());
            match e.entry_date {
                Some(d) => r.set("booking_date", d),
                None => r.set("booking_date", e.value_date.as_str()),
            }
            r.set("value_date", e.value_date);
            if let Some(c) = &cur_code {
                r.set("currency", c.as_str());
            }
            match cur.and_then(|c| signed_minor(&e.amount, negative, c).map(|m| (m, c))) {
                Some((m, c)) => {
                    sum += i128::from(m);
                    r.set_minor("amount", m, c.exponent());
                }
                None => {
                    sum_ok = false;
                    if e.problem.is_none() {
                        r.reject = Some(format!(
                            "amount {} cannot be read in currency {}",
                            e.amount,
                            cur_code.as_deref().unwrap_or("(none: no balance tag)")
                        ));
                    }
                }
            }
            // A payment instructed in another currency (`/OCMT/`): what the payer sent.
            if let Some((ccy, v)) = e
                .supplementary
                .as_deref()
                .and_then(original_amount)
                .or_else(|| e.info.as_deref().and_then(original_amount))
                && Some(&ccy) != cur_code.as_ref()
            {
                match Currency::parse(&ccy).and_then(|c| signed_minor(&v, negative, c).map(|m| (m, c))) {
                    Some((m, c)) => {
                        r.set_minor("instructed_amount", m, c.exponent());
                        r.set("instructed_currency", c.code());
                    }
                    None => r.reject = Some(format!("original amount /OCMT/{ccy}{v} cannot be read")),
                }
            }
            // Charges the banks deducted from a credit (`/CHGS/`), in the statement's currency.
            if !negative
                && let Some((ccy, v)) = e
                    .supplementary
                    .as_deref()
                    .and_then(charges_amount)
                    .or_else(|| e.info.as_deref().and_then(charges_amount))
                && Some(&ccy) == cur_code.as_ref()
            {
                match Currency::parse(&ccy).and_then(|c| signed_minor(&v, false, c).map(|m| (m, c))) {
                    Some((m, c)) if m > 0 => r.set_minor("charges_amount", m, c.exponent()),
                    // No charges (`/CHGS/EUR0,`): nothing deducted.
                    Some(_) => {}
                    None => r.reject = Some(format!("charges /CHGS/{ccy}{v} cannot be read")),
                }
            }
            if let Some(p) = &e.problem {
                r.reject = Some(p.clone());
                sum_ok = false;
            }
            let det = match (e.info.as_deref(), &e.german) {
                (Some(i), Some(g)) => details_with(i, Some(g)),
                (Some(i), None) => details(i),
                (None, _) => Details::default(),
            };
            r.set("counterparty_name", det.name.unwrap_or_default());
            r.set("counterparty_account", det.account.unwrap_or_default());
            r.set("end_to_end_id", det.end_to_end_id.unwrap_or_default());
            let cref = e.customer_ref.trim();
            let reference = det
                .reference
                .or_else(|| (!cref.is_empty() && !cref.eq_ignore_ascii_case("NONREF")).then(|| cref.to_string()));
            r.set("reference", reference.unwrap_or_default());
            let sup = e.supplementary.as_deref().map(without_amount_codes).filter(|x| !x.is_empty());
            match (det.description, &sup) {
                (Some(d), Some(sup)) => {
                    let mut both = String::with_capacity(d.len() + sup.len() + 1);
                    both.push_str(&d);
                    both.push(' ');
                    both.push_str(sup);
                    r.set("description", squash_cow(&both));
                }
                (None, Some(sup)) => r.set("description", squash_cow(sup)),
                (Some(d), None) => r.set("description", d),
                (None, None) => {}
            }
            match det.code {
                Some(c) => r.set_parts("bank_code", &[&e.type_code, "/", &c]),
                None => r.set("bank_code", e.type_code),
            }
            stmt_rows.push(r);
        }
        // Controls: opening + entries = closing (MT940); counts and sums (MT942 :90D:/:90C:).
        if let (Some(o), Some(c), Some(cu)) = (&s.opening, &s.closing, cur) {
            let open = signed_minor(&o.amount, o.mark == "D", cu);
            let close = signed_minor(&c.amount, c.mark == "D", cu);
            if let (Some(open), Some(close)) = (open, close) {
                let (open, close) = (i128::from(open), i128::from(close));
                let ok = sum_ok && open + sum == close;
                let e = cu.exponent();
                let detail = format!(
                    "opening {} + entries {} = {} vs closing {} (difference {})",
                    format_minor_wide(open, e),
                    format_minor_wide(sum, e),
                    format_minor_wide(open + sum, e),
                    format_minor_wide(close, e),
                    format_minor_wide(close - open - sum, e)
                );
                if !ok {
                    for r in &mut stmt_rows {
                        r.fail_control(|| format!("statement {scope} does not tie out: {detail}"));
                    }
                }
                controls.push(Control { scope: scope.clone(), check: "balance".into(), ok, detail });
            }
        }
        // A statement that cannot be tied out is refused, never loaded unchecked.
        let is_report = s.sum_debits.is_some() || s.sum_credits.is_some() || s.datetime.is_some();
        let mut problems = s.balance_problems.clone();
        if !is_report && problems.is_empty() {
            if s.opening.is_none() {
                problems.push("no opening balance (:60F:/:60M:)".to_string());
            }
            if s.closing.is_none() {
                problems.push("no closing balance (:62F:/:62M:)".to_string());
            }
        }
        if !is_report && cur.is_none() && problems.is_empty() {
            problems.push("no currency in its balances".to_string());
        }
        for why in problems {
            let detail = format!("statement {scope} cannot be tied out: {why}");
            for r in &mut stmt_rows {
                r.fail_control(|| detail.clone());
            }
            controls.push(Control { scope: scope.clone(), check: "balance".into(), ok: false, detail });
        }
        for (which, sums, want_neg) in [("debits", &s.sum_debits, true), ("credits", &s.sum_credits, false)] {
            if let (Some((count, _, amt)), Some(cu)) = (sums, cur) {
                let mine: Vec<&String> =
                    debit_credit.iter().filter(|(neg, _)| *neg == want_neg).map(|(_, a)| a).collect();
                let total: i128 = mine.iter().filter_map(|a| signed_minor(a, false, cu)).map(i128::from).sum();
                let stated = signed_minor(amt, false, cu).unwrap_or(-1);
                let ok = mine.len() as u64 == *count && total == i128::from(stated);
                let detail = format!(
                    "{which}: {} entries totalling {} vs stated {count} totalling {}",
                    mine.len(),
                    format_minor_wide(total, cu.exponent()),
                    format_minor(stated, cu.exponent())
                );
                if !ok {
                    for r in &mut stmt_rows {
                        r.fail_control(|| format!("report {scope} does not tie out: {detail}"));
                    }
                }
                controls.push(Control { scope: scope.clone(), check: format!("sum_{which}"), ok, detail });
            }
        }
        rows.extend(stmt_rows);
    }
    (rows, controls)
}

/// Parses an MT940/MT942 file into contract rows.
pub fn parse(bytes: &[u8]) -> Result<Parsed, FormatError> {
    let stmts = read_statements(bytes, false);
    if stmts.is_empty() {
        return Err(FormatError::Empty);
    }
    let is942 = stmts.iter().any(|s| s.datetime.is_some() || !s.floor_limits.is_empty());
    let statements = stmts.len();
    let (rows, controls) = to_rows(stmts);
    Ok(Parsed {
        format: if is942 { crate::Format::Mt942 } else { crate::Format::Mt940 },
        target: Target::BankTransactions,
        rows,
        controls,
        statements,
    })
}
