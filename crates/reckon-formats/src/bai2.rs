//! BAI2 (Bank Administration Institute cash management balance reporting).
//!
//! Records `01 02 03 16 88 49 98 99`, continuation records, funds types
//! (`0 1 2 S V D Z`), implied decimals per currency, the default currency from
//! the group, and every control total and record count checked: a file whose
//! trailers disagree with its content is refused.

use std::borrow::Cow;

use reckon_core::{Currency, format_minor};
use serde::Serialize;

use crate::text::{decode, iso, squash_cow, yymmdd};
use crate::{Control, Format, FormatError, Parsed, Row, Target};

/// A logical record: code, fields (continuations merged), first line.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Record<'a> {
    pub code: &'a str,
    /// Borrowed from the file, owned only where a continuation was merged in.
    pub fields: Vec<std::borrow::Cow<'a, str>>,
    pub line: u64,
    /// Physical records it spans (1 + continuations).
    pub physical: u64,
}

/// A `16` transaction detail (text fields borrowed from the file where it allows).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Detail<'a> {
    pub line: u64,
    pub type_code: Cow<'a, str>,
    pub amount: i64,
    pub funds_type: Cow<'a, str>,
    pub bank_ref: Cow<'a, str>,
    pub customer_ref: Cow<'a, str>,
    pub text: Cow<'a, str>,
}

/// An account section (`03` … `49`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Account<'a> {
    pub line: u64,
    pub number: String,
    pub currency: String,
    pub as_of: String,
    /// Summary/status amounts by type code.
    pub summaries: Vec<(String, Option<i64>)>,
    pub details: Vec<Detail<'a>>,
}

impl Account<'_> {
    fn into_owned(self) -> Account<'static> {
        let own = |c: Cow<'_, str>| Cow::Owned(c.into_owned());
        Account {
            line: self.line,
            number: self.number,
            currency: self.currency,
            as_of: self.as_of,
            summaries: self.summaries,
            details: self
                .details
                .into_iter()
                .map(|d| Detail {
                    line: d.line,
                    type_code: own(d.type_code),
                    amount: d.amount,
                    funds_type: own(d.funds_type),
                    bank_ref: own(d.bank_ref),
                    customer_ref: own(d.customer_ref),
                    text: own(d.text),
                })
                .collect(),
        }
    }
}

/// Splits text into logical records (a `/` ends a record's fields; `88` continues).
pub fn records(text: &str) -> Result<Vec<Record<'_>>, FormatError> {
    let mut out: Vec<Record<'_>> = Vec::with_capacity(text.len() / 48);
    let mut line_start = 0;
    let bytes = text.as_bytes();
    let ends = memchr::memchr_iter(b'\n', bytes).chain(std::iter::once(bytes.len()));
    for (i, end) in ends.enumerate() {
        // '\n' is ASCII, so both ends are character boundaries.
        let raw = &text[line_start..end];
        line_start = end + 1;
        let line = i as u64 + 1;
        let l = raw.trim_end_matches(['\r', ' ']);
        if l.trim().is_empty() {
            continue;
        }
        let (code, rest) = l.split_once(',').unwrap_or((l.trim_end_matches('/'), ""));
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FormatError::Syntax { line, msg: format!("'{code}' is not a BAI2 record code") });
        }
        let mut fields: Vec<Cow<'_, str>> = Vec::with_capacity(8);
        let mut at = 0;
        for comma in memchr::memchr_iter(b',', rest.as_bytes()) {
            fields.push(Cow::Borrowed(&rest[at..comma]));
            at = comma + 1;
        }
        fields.push(Cow::Borrowed(&rest[at..]));
        if code == "88" {
            let Some(prev) = out.last_mut() else {
                return Err(FormatError::Syntax { line, msg: "continuation (88) before any record".into() });
            };
            // A continuation of a 16 carries on its text field when the record has one,
            // else it *is* the text field (BAI2 v2: the text is a 16's last field and
            // may run on in 88 records); of any other record it adds fields.
            let text_at = (prev.code == "16").then(|| {
                let ft = prev.fields.get(2).map_or("", |f| strip_slash(f));
                3 + funds_extra(ft, &prev.fields[3.min(prev.fields.len())..]) + 2
            });
            if text_at.is_some_and(|t| prev.fields.len() > t) {
                if let Some(last) = prev.fields.last_mut() {
                    let merged = format!("{last} {rest}");
                    *last = Cow::Owned(merged);
                }
            } else if let Some(text_at) = text_at {
                // The record ended before its text: drop its end marker, pad the
                // fields it left out, and take the continuation as the text.
                if let Some(last) = prev.fields.last_mut().filter(|f| f.ends_with('/')) {
                    let cut = last[..last.len() - 1].to_string();
                    *last = Cow::Owned(cut);
                }
                while prev.fields.len() < text_at {
                    prev.fields.push(Cow::Borrowed(""));
                }
                prev.fields.push(Cow::Owned(rest.to_string()));
            } else {
                if let Some(last) = prev.fields.last_mut().filter(|f| f.ends_with('/')) {
                    let cut = last[..last.len() - 1].to_string();
                    *last = Cow::Owned(cut);
                }
                prev.fields.extend(fields);
            }
            prev.physical += 1;
            continue;
        }
        out.push(Record { code, fields, line, physical: 1 });
    }
    Ok(out)
}

fn strip_slash(s: &str) -> &str {
    s.strip_suffix('/').unwrap_or(s).trim()
}

fn amount(s: &str, line: u64) -> Result<Option<i64>, FormatError> {
    let s = strip_slash(s);
    if s.is_empty() {
        return Ok(None);
    }
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 18 {
        return Err(FormatError::Syntax { line, msg: format!("amount '{s}' is not an integer of minor units") });
    }
    let v: i64 = digits.parse().map_err(|_| FormatError::Syntax { line, msg: format!("amount '{s}' too large") })?;
    Ok(Some(if neg { -v } else { v }))
}

/// Extra fields a funds type adds after it.
fn funds_extra(ft: &str, rest: &[std::borrow::Cow<'_, str>]) -> usize {
    match strip_slash(ft) {
        "S" => 3,
        "V" => 2,
        // A count, then (days, amount) per distribution: never more pairs than the
        // record holds, so a corrupt count cannot pad a record to its size.
        "D" => {
            let pairs = rest.len().saturating_sub(1) / 2;
            1 + 2 * rest.first().and_then(|n| strip_slash(n).parse::<usize>().ok()).unwrap_or(0).min(pairs)
        }
        _ => 0,
    }
}

/// Direction of a type code: `Some(true)` credit, `Some(false)` debit, `None` status/unknown.
pub fn is_credit(code: &str) -> Option<bool> {
    let n: u32 = code.parse().ok()?;
    match n {
        100..=399 | 920..=959 => Some(true),
        400..=699 | 960..=999 => Some(false),
        _ => None,
    }
}

/// Parses a BAI2 file into accounts, checking trailers.
pub fn accounts(bytes: &[u8]) -> Result<(Vec<Account<'static>>, Vec<Control>), FormatError> {
    let text = decode(bytes);
    let (accounts, controls) = accounts_in(&text)?;
    Ok((accounts.into_iter().map(Account::into_owned).collect(), controls))
}

/// [`accounts`] of decoded text, borrowing from it.
fn accounts_in(text: &str) -> Result<(Vec<Account<'_>>, Vec<Control>), FormatError> {
    let recs = records(text)?;
    let mut accounts: Vec<Account> = Vec::new();
    let mut controls = Vec::new();
    let mut group_ccy = "USD".to_string();
    let mut as_of = String::new();
    let (mut acct_total, mut acct_records) = (0i128, 0u64);
    let (mut group_total, mut group_records, mut group_accounts) = (0i128, 0u64, 0u64);
    let (mut file_total, mut file_records, mut file_groups) = (0i128, 0u64, 0u64);
    let mut in_account = false;
    let mut saw_99 = false;
    let check = |scope: String, what: &str, got: i128, want: i128, controls: &mut Vec<Control>| {
        let ok = got == want;
        controls.push(Control {
            scope,
            check: what.to_string(),
            ok,
            detail: format!("computed {got}, trailer says {want}"),
        });
        ok
    };
    let mut failures: Vec<String> = Vec::new();
    for r in &recs {
        let f = &r.fields;
        file_records += r.physical;
        group_records += r.physical;
        if in_account {
            acct_records += r.physical;
        }
        match r.code {
            "01" => {}
            "02" => {
                group_records = r.physical;
                group_total = 0;
                group_accounts = 0;
                file_groups += 1;
                if let Some(d) = f.get(3).and_then(|d| yymmdd(strip_slash(d))) {
                    as_of = iso(d.0, d.1, d.2);
                }
                group_ccy = f.get(5).map(|c| strip_slash(c)).filter(|c| !c.is_empty()).unwrap_or("USD").to_string();
            }
            "03" => {
                in_account = true;
                acct_records = r.physical;
                acct_total = 0;
                group_accounts += 1;
                let number = f.first().map(|s| strip_slash(s).to_string()).unwrap_or_default();
                let ccy = f.get(1).map(|c| strip_slash(c)).filter(|c| !c.is_empty()).unwrap_or(&group_ccy).to_string();
                let mut summaries = Vec::new();
                let mut i = 2;
                while i + 1 < f.len() {
                    let code = strip_slash(&f[i]).to_string();
                    if code.is_empty() {
                        // An empty field between summaries (a record ended with `,/`
                        // and continued on an 88): padding, not the end.
                        i += 1;
                        continue;
                    }
                    let amt = amount(&f[i + 1], r.line)?;
                    acct_total += i128::from(amt.unwrap_or(0));
                    let ft = f.get(i + 3).map(|c| c.as_ref()).unwrap_or("");
                    i += 4 + funds_extra(ft, &f[(i + 4).min(f.len())..]);
                    summaries.push((code, amt));
                }
                accounts.push(Account {
                    line: r.line,
                    number,
                    currency: ccy,
                    as_of: as_of.clone(),
                    summaries,
                    details: Vec::new(),
                });
            }
            "16" => {
                let Some(acct) = accounts.last_mut().filter(|_| in_account) else {
                    return Err(FormatError::Syntax {
                        line: r.line,
                        msg: "transaction detail (16) outside an account".into(),
                    });
                };
                // A field borrowed from the file stays borrowed; one merged from a continuation is owned.
                let field = |i: usize| match f.get(i) {
                    Some(Cow::Borrowed(b)) => Cow::Borrowed(strip_slash(b)),
                    Some(Cow::Owned(o)) => Cow::Owned(strip_slash(o).to_string()),
                    None => Cow::Borrowed(""),
                };
                let type_code = field(0);
                let amt = amount(f.get(1).map(|c| c.as_ref()).unwrap_or(""), r.line)?.unwrap_or(0);
                acct_total += i128::from(amt);
                let ft = field(2);
                let at = 3 + funds_extra(&ft, &f[3.min(f.len())..]);
                let bank_ref = field(at);
                let customer_ref = field(at + 1);
                let text = match f.get(at + 2..) {
                    Some([_]) => field(at + 2),
                    Some(more) if !more.is_empty() => Cow::Owned(strip_slash(&more.join(",")).to_string()),
                    _ => Cow::Borrowed(""),
                };
                acct.details.push(Detail {
                    line: r.line,
                    type_code,
                    amount: amt,
                    funds_type: ft,
                    bank_ref,
                    customer_ref,
                    text,
                });
            }
            "49" => {
                let want = amount(f.first().map(|c| c.as_ref()).unwrap_or(""), r.line)?.unwrap_or(0);
                let scope = format!("account {} (line {})", accounts.last().map_or("", |a| a.number.as_str()), r.line);
                if !check(scope.clone(), "account_control_total", acct_total, i128::from(want), &mut controls) {
                    failures.push(format!("{scope}: control total {acct_total} but trailer says {want}"));
                }
                let n: u64 = f.get(1).map(|s| strip_slash(s)).and_then(|s| s.parse().ok()).unwrap_or(0);
                if !check(scope.clone(), "account_record_count", i128::from(acct_records), i128::from(n), &mut controls)
                {
                    failures.push(format!("{scope}: {acct_records} records but trailer says {n}"));
                }
                group_total += i128::from(want);
                in_account = false;
            }
            "98" => {
                let want = amount(f.first().map(|c| c.as_ref()).unwrap_or(""), r.line)?.unwrap_or(0);
                let scope = format!("group ending line {}", r.line);
                if !check(scope.clone(), "group_control_total", group_total, i128::from(want), &mut controls) {
                    failures.push(format!("{scope}: control total {group_total} but trailer says {want}"));
                }
                let na: u64 = f.get(1).map(|s| strip_slash(s)).and_then(|s| s.parse().ok()).unwrap_or(0);
                let nr: u64 = f.get(2).map(|s| strip_slash(s)).and_then(|s| s.parse().ok()).unwrap_or(0);
                if !check(
                    scope.clone(),
                    "group_account_count",
                    i128::from(group_accounts),
                    i128::from(na),
                    &mut controls,
                ) | !check(
                    scope.clone(),
                    "group_record_count",
                    i128::from(group_records),
                    i128::from(nr),
                    &mut controls,
                ) {
                    failures.push(format!(
                        "{scope}: {group_accounts} accounts / {group_records} records disagree with trailer {na}/{nr}"
                    ));
                }
                file_total += i128::from(want);
            }
            "99" => {
                saw_99 = true;
                let want = amount(f.first().map(|c| c.as_ref()).unwrap_or(""), r.line)?.unwrap_or(0);
                let ng: u64 = f.get(1).map(|s| strip_slash(s)).and_then(|s| s.parse().ok()).unwrap_or(0);
                let nr: u64 = f.get(2).map(|s| strip_slash(s)).and_then(|s| s.parse().ok()).unwrap_or(0);
                let scope = "file".to_string();
                let a = check(scope.clone(), "file_control_total", file_total, i128::from(want), &mut controls);
                let b =
                    check(scope.clone(), "file_group_count", i128::from(file_groups), i128::from(ng), &mut controls);
                let c = check(scope, "file_record_count", i128::from(file_records), i128::from(nr), &mut controls);
                if !(a && b && c) {
                    failures.push(format!(
                        "file trailer: total {file_total}/{want}, groups {file_groups}/{ng}, records {file_records}/{nr} (computed/stated)"
                    ));
                }
            }
            other => {
                return Err(FormatError::Syntax { line: r.line, msg: format!("unknown BAI2 record code {other}") });
            }
        }
    }
    if !saw_99 {
        return Err(FormatError::Syntax {
            line: recs.last().map_or(1, |r| r.line),
            msg: "file trailer (99) missing: truncated file".into(),
        });
    }
    if !failures.is_empty() {
        return Err(FormatError::Control(failures.join("; ")));
    }
    Ok((accounts, controls))
}

/// Parses a BAI2 file into `bank_transactions` rows.
pub fn parse(bytes: &[u8]) -> Result<Parsed, FormatError> {
    let text = decode(bytes);
    let (mut accounts, mut controls) = accounts_in(&text)?;
    let mut rows = Vec::with_capacity(accounts.iter().map(|a| a.details.len()).sum());
    let statements = accounts.len();
    for (ai, a) in accounts.iter_mut().enumerate() {
        let cur = Currency::parse(&a.currency);
        let mut acct_rows = Vec::with_capacity(a.details.len());
        let mut net: i64 = 0;
        let has_details = !a.details.is_empty();
        for (di, d) in std::mem::take(&mut a.details).into_iter().enumerate() {
            let mut r = Row::numbered(d.line, &["account ", " 16 #"], [ai + 1, di + 1]);
            let id = if d.bank_ref.is_empty() { Cow::Owned(format!("@{}", r.position())) } else { d.bank_ref };
            r.set("txn_id", id);
            r.set("account_id", a.number.as_str());
            r.set("booking_date", a.as_of.as_str());
            r.set("currency", a.currency.as_str());
            let signed = match is_credit(&d.type_code) {
                Some(true) => Some(d.amount),
                Some(false) => Some(-d.amount),
                None => None,
            };
            match (signed, cur) {
                (Some(m), Some(c)) => {
                    net += m;
                    r.set_minor("amount", m, c.exponent());
                }
                (None, _) => {
                    r.reject = Some(format!(
                        "type code {} has no credit/debit direction (not 100–399/400–699/920–999)",
                        d.type_code
                    ))
                }
                (_, None) => r.reject = Some(format!("currency '{}' is not ISO 4217", a.currency)),
            }
            r.set("reference", d.customer_ref);
            r.set("description", squash_cow(&d.text));
            r.set("bank_code", d.type_code);
            acct_rows.push(r);
        }
        // Opening ledger (010) + detail = closing ledger (015), when both are reported.
        let get = |code: &str| a.summaries.iter().find(|(c, _)| c == code).and_then(|(_, v)| *v);
        if let (Some(open), Some(close), Some(c), false) = (get("010"), get("015"), cur, !has_details) {
            let ok = open + net == close && acct_rows.iter().all(|r| r.reject.is_none());
            let e = c.exponent();
            let detail = format!(
                "opening ledger {} + details {} = {} vs closing ledger {} (difference {})",
                format_minor(open, e),
                format_minor(net, e),
                format_minor(open + net, e),
                format_minor(close, e),
                format_minor(close - open - net, e)
            );
            let scope = format!("account {} {}", a.number, a.as_of);
            if !ok {
                for r in &mut acct_rows {
                    r.fail_control(|| format!("{scope} does not tie out: {detail}"));
                }
            }
            controls.push(Control { scope, check: "balance".into(), ok, detail });
        }
        rows.extend(acct_rows);
    }
    Ok(Parsed { format: Format::Bai2, target: Target::BankTransactions, rows, controls, statements })
}
