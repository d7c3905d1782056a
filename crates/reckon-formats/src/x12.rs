//! ANSI X12 820 (Payment Order/Remittance Advice) as remittance advices.
//!
//! Separators come from the fixed-width ISA segment (element separator at
//! byte 3, component separator at 104, segment terminator at 105). One
//! `remittances` row per `RMR` (referenced invoice), with `ADX` adjustments in
//! its loop as deductions, the payer from `N1*PR`, the payment reference from
//! `TRN`, and the `BPR` total checked against the sum of the `RMR` amounts.

use reckon_core::{Currency, MoneyFormat, format_minor, format_minor_wide, parse_minor};

use crate::text::{Lines, decode};
use crate::{Control, Format, FormatError, Parsed, Row, Target};

/// A segment: its id, elements and line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub id: String,
    pub elements: Vec<String>,
    pub line: u64,
    pub offset: usize,
}

impl Segment {
    /// Element `n` (1-based, as X12 numbers them), trimmed; "" when absent.
    pub fn el(&self, n: usize) -> &str {
        self.elements.get(n.wrapping_sub(1)).map_or("", |s| s.trim())
    }
}

/// Splits an interchange into segments using the ISA's separators.
pub fn segments(bytes: &[u8]) -> Result<Vec<Segment>, FormatError> {
    let text = decode(bytes);
    let start = text.find("ISA").ok_or(FormatError::Syntax { line: 1, msg: "no ISA segment".into() })?;
    let t = &text[start..];
    let b = t.as_bytes();
    if b.len() < 106 {
        return Err(FormatError::Syntax { line: 1, msg: "ISA segment shorter than 106 characters".into() });
    }
    let elem = b[3] as char;
    let term = b[105] as char;
    if elem.is_ascii_alphanumeric() || term.is_ascii_alphanumeric() || elem == term {
        return Err(FormatError::Syntax {
            line: 1,
            msg: "ISA separators are not usable (element/segment terminator)".into(),
        });
    }
    let lines = Lines::new(t.as_bytes());
    let mut out = Vec::new();
    let mut offset = 0usize;
    for raw in t.split(term) {
        let seg_start = offset;
        offset += raw.len() + term.len_utf8();
        let s = raw.trim_matches(['\r', '\n', ' ']);
        if s.is_empty() {
            continue;
        }
        let lead = raw.len() - raw.trim_start_matches(['\r', '\n', ' ']).len();
        let mut parts = s.split(elem);
        let id = parts.next().unwrap_or("").to_string();
        out.push(Segment {
            id,
            elements: parts.map(str::to_string).collect(),
            line: lines.line_of(seg_start + lead),
            offset: seg_start,
        });
    }
    Ok(out)
}

fn money(v: &str, cur: Currency) -> Option<i64> {
    parse_minor(v, &MoneyFormat::CONTRACT, cur).ok()
}

fn date8(v: &str) -> Option<String> {
    (v.len() == 8 && v.bytes().all(|b| b.is_ascii_digit())).then(|| format!("{}-{}-{}", &v[0..4], &v[4..6], &v[6..8]))
}

/// Parses an X12 820 interchange into `remittances` rows.
pub fn parse(bytes: &[u8]) -> Result<Parsed, FormatError> {
    let segs = segments(bytes)?;
    let mut rows = Vec::new();
    let mut controls = Vec::new();
    let mut isa_ctl = String::new();
    let mut sets = 0usize;
    let mut i = 0;
    while i < segs.len() {
        let s = &segs[i];
        match s.id.as_str() {
            "ISA" => isa_ctl = s.el(13).to_string(),
            "ST" if s.el(1) == "820" => {
                sets += 1;
                let st_ctl = s.el(2).to_string();
                let st_index = i;
                // Transaction set header data.
                let mut payment_total: Option<String> = None;
                let mut payment_ref = String::new();
                let mut payer = String::new();
                let mut ccy = "USD".to_string();
                let mut advice_date = String::new();
                let mut set_rows: Vec<Row> = Vec::new();
                let mut j = i + 1;
                let mut in_payer = false;
                while j < segs.len() && segs[j].id != "SE" {
                    let g = &segs[j];
                    match g.id.as_str() {
                        "BPR" => {
                            payment_total = Some(g.el(2).to_string());
                            advice_date = date8(g.el(16)).unwrap_or_default();
                        }
                        "TRN" => payment_ref = g.el(2).to_string(),
                        "CUR" if !g.el(2).is_empty() => ccy = g.el(2).to_string(),
                        "DTM" if advice_date.is_empty() && (g.el(1) == "097" || g.el(1) == "009") => {
                            advice_date = date8(g.el(2)).unwrap_or_default();
                        }
                        "N1" => {
                            in_payer = g.el(1) == "PR";
                            if in_payer {
                                payer = g.el(2).to_string();
                            }
                        }
                        "RMR" => {
                            let _ = in_payer;
                            let mut r = Row::new(g.line, format!("ST {st_ctl} RMR #{}", set_rows.len() + 1));
                            r.set("remittance_id", format!("{isa_ctl}-{st_ctl}"));
                            r.set("payment_ref", payment_ref.clone());
                            r.set("payer_name", payer.clone());
                            r.set("advice_date", advice_date.clone());
                            r.set("invoice_ref", g.el(2));
                            r.set("currency", ccy.clone());
                            match Currency::parse(&ccy) {
                                Some(c) => {
                                    match money(g.el(4), c) {
                                        Some(m) => r.set("paid_amount", format_minor(m, c.exponent())),
                                        None => {
                                            r.reject = Some(format!("RMR04 paid amount '{}' is not a decimal", g.el(4)))
                                        }
                                    }
                                    if let Some(m) = money(g.el(6), c).filter(|m| *m != 0) {
                                        r.set("discount_amount", format_minor(m, c.exponent()));
                                    }
                                }
                                None => r.reject = Some(format!("currency '{ccy}' is not ISO 4217")),
                            }
                            if g.el(1) != "IV" && !g.el(1).is_empty() {
                                r.set("deduction_reason", format!("reference qualifier {}", g.el(1)));
                            }
                            set_rows.push(r);
                        }
                        "ADX" => {
                            // Adjustment in the current RMR loop: negative amounts reduce the payment.
                            if let (Some(r), Some(c)) = (set_rows.last_mut(), Currency::parse(&ccy)) {
                                match money(g.el(1), c) {
                                    Some(m) => {
                                        let prev = r.get("deduction_amount").and_then(|p| money(p, c)).unwrap_or(0);
                                        r.unset("deduction_amount");
                                        r.unset("deduction_reason");
                                        // Adjustments add up in i128; beyond i64 the line is refused.
                                        match i64::try_from(i128::from(prev) - i128::from(m)) {
                                            Ok(d) => r.set("deduction_amount", format_minor(d, c.exponent())),
                                            Err(_) => {
                                                r.reject = Some(format!(
                                                    "ADX adjustments total beyond any amount ({prev} − {m} minor units)"
                                                ))
                                            }
                                        }
                                        r.set("deduction_reason", format!("ADX {}", g.el(2)));
                                    }
                                    None => r.reject = Some(format!("ADX01 amount '{}' is not a decimal", g.el(1))),
                                }
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                let scope = format!("ISA {isa_ctl} ST {st_ctl}");
                // SE01 counts the segments from ST to SE inclusive.
                if let Some(se) = segs.get(j).filter(|s| s.id == "SE") {
                    let stated: usize = se.el(1).parse().unwrap_or(0);
                    let actual = j - st_index + 1;
                    let ok = stated == actual;
                    controls.push(Control {
                        scope: scope.clone(),
                        check: "segment_count".into(),
                        ok,
                        detail: format!("{actual} segments, SE01 says {stated}"),
                    });
                    if !ok {
                        for r in &mut set_rows {
                            r.fail_control(|| format!("{scope}: SE01 says {stated} segments, found {actual}"));
                        }
                    }
                } else {
                    for r in &mut set_rows {
                        r.fail_control(|| format!("{scope}: transaction set has no SE trailer (truncated)"));
                    }
                }
                if let (Some(total), Some(c)) = (payment_total, Currency::parse(&ccy)) {
                    // In i128: remitted lines whose sum leaves i64 must not wrap.
                    let paid: i128 = set_rows
                        .iter()
                        .filter_map(|r| r.get("paid_amount").and_then(|p| money(p, c)))
                        .map(i128::from)
                        .sum();
                    let stated = money(&total, c);
                    let ok = stated.map(i128::from) == Some(paid);
                    controls.push(Control {
                        scope: scope.clone(),
                        check: "payment_total".into(),
                        ok,
                        detail: format!("sum of RMR04 {} vs BPR02 {total}", format_minor_wide(paid, c.exponent())),
                    });
                    if !ok {
                        for r in &mut set_rows {
                            r.fail_control(|| {
                                format!(
                                    "{scope}: remitted lines total {} but BPR02 pays {total}",
                                    format_minor_wide(paid, c.exponent())
                                )
                            });
                        }
                    }
                }
                rows.extend(set_rows);
                i = j;
            }
            _ => {}
        }
        i += 1;
    }
    if sets == 0 {
        return Err(FormatError::Unknown("X12 interchange without an 820 transaction set".into()));
    }
    Ok(Parsed { format: Format::X12_820, target: Target::Remittances, rows, controls, statements: sets })
}
