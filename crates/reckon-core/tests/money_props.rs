//! Property tests: money text round-trips exactly, in every exponent and format.

use proptest::prelude::*;
use reckon_core::{Currency, DecimalMark, MoneyFormat, format_minor, parse_minor};

fn currencies() -> impl Strategy<Value = Currency> {
    prop::sample::select(vec!["EUR", "JPY", "BHD", "CLF", "USD", "KWD"])
        .prop_map(|c| Currency::parse(c).unwrap_or_else(|| panic!("{c}")))
}

/// Writes minor units the way an ERP with `fmt` would.
fn erp_text(minor: i64, exp: u8, fmt: &MoneyFormat) -> String {
    let plain = format_minor(minor, exp);
    let (neg, digits) = match plain.strip_prefix('-') {
        Some(d) => (true, d.to_string()),
        None => (false, plain.clone()),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i.to_string(), Some(f.to_string())),
        None => (digits, None),
    };
    let int = match fmt.thousands {
        Some(sep) => {
            let b: Vec<char> = int.chars().collect();
            let mut out = String::new();
            for (i, c) in b.iter().enumerate() {
                if i > 0 && (b.len() - i).is_multiple_of(3) {
                    out.push(sep);
                }
                out.push(*c);
            }
            out
        }
        None => int,
    };
    let mark = if fmt.decimal == DecimalMark::Comma { ',' } else { '.' };
    let body = match frac {
        Some(f) => format!("{int}{mark}{f}"),
        None => int,
    };
    match (neg, fmt.trailing_minus) {
        (true, true) => format!("{body}-"),
        (true, false) => format!("-{body}"),
        _ => body,
    }
}

proptest! {
    #[test]
    fn contract_round_trip(minor in any::<i64>().prop_filter("i64::MIN has no positive twin", |m| *m != i64::MIN), cur in currencies()) {
        let text = format_minor(minor, cur.exponent());
        prop_assert_eq!(parse_minor(&text, &MoneyFormat::CONTRACT, cur), Ok(minor));
    }

    #[test]
    fn erp_round_trip(minor in -10_000_000_000_000i64..10_000_000_000_000, cur in currencies(),
                      comma in any::<bool>(), group in any::<bool>(), trailing in any::<bool>()) {
        let fmt = MoneyFormat {
            decimal: if comma { DecimalMark::Comma } else { DecimalMark::Point },
            thousands: group.then_some(if comma { '.' } else { ',' }),
            trailing_minus: trailing,
        };
        let text = erp_text(minor, cur.exponent(), &fmt);
        prop_assert_eq!(parse_minor(&text, &fmt, cur), Ok(minor), "{}", text);
    }

    #[test]
    fn trailing_zeros_do_not_change_value(minor in -1_000_000_000i64..1_000_000_000, zeros in 1usize..6) {
        let eur = Currency::parse("EUR").unwrap_or_else(|| panic!("EUR"));
        let text = format!("{}{}", format_minor(minor, 2), "0".repeat(zeros));
        prop_assert_eq!(parse_minor(&text, &MoneyFormat::CONTRACT, eur), Ok(minor));
    }

    #[test]
    fn never_panics(s in "\\PC{0,24}") {
        let eur = Currency::parse("EUR").unwrap_or_else(|| panic!("EUR"));
        let _ = parse_minor(&s, &MoneyFormat::CONTRACT, eur);
        let _ = parse_minor(&s, &MoneyFormat { decimal: DecimalMark::Comma, thousands: Some('.'), trailing_minus: true }, eur);
    }

    #[test]
    fn extra_significant_decimal_is_refused(minor in -1_000_000i64..1_000_000, d in 1u8..10) {
        let eur = Currency::parse("EUR").unwrap_or_else(|| panic!("EUR"));
        let text = format!("{}{}", format_minor(minor, 2), d);
        prop_assert!(parse_minor(&text, &MoneyFormat::CONTRACT, eur).is_err(), "{}", text);
    }
}

proptest! {
    /// The hand-written formatter says exactly what `format!` would, for every exponent in use.
    #[test]
    fn format_minor_is_plain_decimal_text(minor in any::<i64>(), exp in 0u8..=4) {
        let abs = minor.unsigned_abs();
        let scale = 10u64.pow(u32::from(exp));
        let sign = if minor < 0 { "-" } else { "" };
        let want = if exp == 0 {
            format!("{sign}{abs}")
        } else {
            format!("{sign}{}.{:0w$}", abs / scale, abs % scale, w = exp as usize)
        };
        prop_assert_eq!(format_minor(minor, exp), want);
    }
}
