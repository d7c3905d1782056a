//! Exact money: integer minor units of an ISO 4217 currency.
//!
//! Amounts are parsed from decimal text digit by digit into an `i64` of minor
//! units; no value ever passes through a float. Sums use `i128` or checked
//! arithmetic so that they cannot silently wrap.

use std::fmt;

use crate::currency::Currency;

/// The decimal mark of a money text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecimalMark {
    /// `1234.56` — the contract's format.
    #[default]
    Point,
    /// `1234,56` — common in European ERP exports.
    Comma,
}

/// How money is written in a source. [`MoneyFormat::CONTRACT`] is the contract's
/// strict format (`1234.56`, `-0.5`); mappings may declare others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MoneyFormat {
    pub decimal: DecimalMark,
    /// Grouping character allowed in the integer part (`.`, `,`, `'`, ` `), if any.
    pub thousands: Option<char>,
    /// Accept SAP-style trailing minus (`1234.56-`).
    pub trailing_minus: bool,
}

impl MoneyFormat {
    /// The data contract's format: point decimal mark, no grouping, leading sign.
    pub const CONTRACT: MoneyFormat =
        MoneyFormat { decimal: DecimalMark::Point, thousands: None, trailing_minus: false };

    fn decimal_char(&self) -> char {
        match self.decimal {
            DecimalMark::Point => '.',
            DecimalMark::Comma => ',',
        }
    }
}

impl Default for MoneyFormat {
    fn default() -> Self {
        Self::CONTRACT
    }
}

/// Why a text is not an amount. Messages are meant for the person fixing the file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("empty amount")]
    Empty,
    #[error("'{0}' is not a number: it contains text ({1:?})")]
    Text(String, String),
    #[error(
        "'{0}' uses '{1}' as a separator the format does not allow (the contract writes 1234.56; declare decimal/thousands in the mapping)"
    )]
    Separator(String, char),
    #[error("'{0}' has a misplaced grouping separator")]
    Grouping(String),
    #[error("'{0}' has more than one sign")]
    Sign(String),
    #[error("'{0}' has no digits")]
    NoDigits(String),
    #[error("'{text}' has {decimals} decimal place(s) but {currency} has {exponent}")]
    TooManyDecimals { text: String, decimals: usize, currency: String, exponent: u8 },
    #[error("'{0}' is too large")]
    Overflow(String),
}

/// Parses `text` into minor units of `currency` using `format`.
///
/// Surrounding whitespace is ignored. Trailing zeros beyond the currency's
/// exponent are accepted (`12.340` EUR = 1234); significant extra decimals are
/// refused rather than rounded.
pub fn parse_minor(text: &str, format: &MoneyFormat, currency: Currency) -> Result<i64, MoneyError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(MoneyError::Empty);
    }
    let owned = || t.to_string();
    let mut body = t;
    let mut negative = false;
    let mut signs = 0;
    if let Some(rest) = body.strip_prefix('-') {
        negative = true;
        signs += 1;
        body = rest;
    } else if let Some(rest) = body.strip_prefix('+') {
        signs += 1;
        body = rest;
    }
    if format.trailing_minus
        && let Some(rest) = body.strip_suffix('-')
    {
        negative = true;
        signs += 1;
        body = rest;
    }
    if signs > 1 || body.starts_with(['-', '+']) || body.ends_with(['-', '+']) {
        return Err(MoneyError::Sign(owned()));
    }
    let dec = format.decimal_char();
    // Classify every character before interpreting anything: text first (units,
    // symbols, exponents), then separators the format does not allow.
    let is_sep = |c: char| matches!(c, '.' | ',' | '\'' | ' ' | '\u{a0}');
    if body.chars().any(|c| !c.is_ascii_digit() && !is_sep(c)) {
        let junk: String = body.chars().filter(|c| !c.is_ascii_digit() && !is_sep(*c)).collect();
        return Err(MoneyError::Text(owned(), junk));
    }
    if let Some(c) = body.chars().find(|&c| is_sep(c) && c != dec && Some(c) != format.thousands) {
        return Err(MoneyError::Separator(owned(), c));
    }
    let (int_part, frac_part) = match body.find(dec) {
        Some(i) => {
            let frac = &body[i + dec.len_utf8()..];
            if frac.contains(dec) || format.thousands.is_some_and(|s| frac.contains(s)) {
                return Err(MoneyError::Grouping(owned()));
            }
            (&body[..i], frac)
        }
        None => (body, ""),
    };
    let int_digits: String = match format.thousands {
        Some(sep) if int_part.contains(sep) => {
            let groups: Vec<&str> = int_part.split(sep).collect();
            let ok =
                groups.first().is_some_and(|g| (1..=3).contains(&g.len())) && groups[1..].iter().all(|g| g.len() == 3);
            if !ok {
                return Err(MoneyError::Grouping(owned()));
            }
            groups.concat()
        }
        _ => int_part.to_string(),
    };
    if int_digits.is_empty() && frac_part.is_empty() {
        return Err(MoneyError::NoDigits(owned()));
    }
    let exponent = currency.exponent() as usize;
    let significant = frac_part.trim_end_matches('0');
    if significant.len() > exponent {
        return Err(MoneyError::TooManyDecimals {
            text: owned(),
            decimals: frac_part.len(),
            currency: currency.code().to_string(),
            exponent: currency.exponent(),
        });
    }
    let mut value: i64 = 0;
    let push = |v: i64, d: u8| -> Option<i64> { v.checked_mul(10)?.checked_add(i64::from(d - b'0')) };
    for d in int_digits.bytes() {
        value = push(value, d).ok_or_else(|| MoneyError::Overflow(owned()))?;
    }
    for i in 0..exponent {
        let d = significant.as_bytes().get(i).copied().unwrap_or(b'0');
        value = push(value, d).ok_or_else(|| MoneyError::Overflow(owned()))?;
    }
    Ok(if negative { -value } else { value })
}

/// Formats minor units as the contract's decimal text (`-1234.50`, JPY `1234`).
/// The largest absolute amount the contract holds, in minor units
/// (999,999,999,999,999: fifteen digits, so that sums of thousands of amounts
/// stay far inside `i64`; every sum of money is taken in `i128` all the same).
pub const MAX_ABS_MINOR: i64 = 999_999_999_999_999;

/// The sum of amounts in minor units, taken in `i128` and clamped to `i64`: a
/// sum beyond `i64` (thousands of amounts at the contract's limit) is
/// `i64::MAX`/`MIN`, far beyond any single amount the contract holds, so it
/// never equals one and never wraps.
pub fn sum_minor(amounts: impl IntoIterator<Item = i64>) -> i64 {
    let s: i128 = amounts.into_iter().map(i128::from).sum();
    s.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Formats a sum in `i128` minor units as exact decimal text (sums of many
/// amounts may leave `i64`).
pub fn format_minor_wide(minor: i128, exponent: u8) -> String {
    if let Ok(m) = i64::try_from(minor) {
        return format_minor(m, exponent);
    }
    let digits = minor.unsigned_abs().to_string();
    let e = usize::from(exponent);
    let padded = if digits.len() <= e { format!("{}{digits}", "0".repeat(e + 1 - digits.len())) } else { digits };
    let (int, frac) = padded.split_at(padded.len() - e);
    let sign = if minor < 0 { "-" } else { "" };
    if e == 0 { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") }
}

pub fn format_minor(minor: i64, exponent: u8) -> String {
    let mut s = String::with_capacity(24);
    write_minor(&mut s, minor, exponent);
    s
}

/// Appends [`format_minor`]'s text to `out` (hot in every parser and writer: written
/// digit by digit, the same text as `format!("{sign}{int}.{frac:0e$}")`).
pub fn write_minor(out: &mut String, minor: i64, exponent: u8) {
    let neg = minor < 0;
    let abs = minor.unsigned_abs();
    let e = u32::from(exponent).min(19);
    let scale = 10u64.pow(e);
    let int = abs / scale;
    let frac = abs % scale;
    let mut digits = [0u8; 48];
    let mut at = digits.len();
    let mut push = |d: u8| {
        at -= 1;
        digits[at] = d;
    };
    let mut f = frac;
    for _ in 0..e {
        push(b'0' + (f % 10) as u8);
        f /= 10;
    }
    if e > 0 {
        push(b'.');
    }
    let mut i = int;
    loop {
        push(b'0' + (i % 10) as u8);
        i /= 10;
        if i == 0 {
            break;
        }
    }
    if neg {
        push(b'-');
    }
    out.extend(digits[at..].iter().map(|b| char::from(*b)));
}

/// An exact amount in a currency.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Money { minor, currency }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", format_minor(self.minor, self.currency.exponent()), self.currency)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn sums_clamp_instead_of_wrapping() {
        assert_eq!(sum_minor([1, 2, -4]), -1);
        assert_eq!(sum_minor(std::iter::repeat_n(MAX_ABS_MINOR, 10_000)), i64::MAX);
        assert_eq!(sum_minor(std::iter::repeat_n(-MAX_ABS_MINOR, 10_000)), i64::MIN);
        assert_eq!(sum_minor([i64::MAX, 1, -1]), i64::MAX);
    }

    use super::*;

    #[test]
    fn wide_sums_format_exactly() {
        assert_eq!(format_minor_wide(12_345, 2), "123.45");
        let big = i128::from(i64::MAX) * 3 + 7;
        assert_eq!(format_minor_wide(big, 2), "276701161105643274.28");
        assert_eq!(format_minor_wide(-big, 3), "-27670116110564327.428");
        assert_eq!(format_minor_wide(big, 0), "27670116110564327428");
        assert_eq!(format_minor_wide(i128::from(i64::MIN) - 1, 2), "-92233720368547758.09");
    }

    fn cur(c: &str) -> Currency {
        Currency::parse(c).unwrap_or_else(|| panic!("{c}"))
    }

    #[test]
    fn contract_format() {
        let f = MoneyFormat::CONTRACT;
        let eur = cur("EUR");
        assert_eq!(parse_minor("1234.56", &f, eur), Ok(123456));
        assert_eq!(parse_minor("-0.5", &f, eur), Ok(-50));
        assert_eq!(parse_minor("+7", &f, eur), Ok(700));
        assert_eq!(parse_minor(".5", &f, eur), Ok(50));
        assert_eq!(parse_minor("12.340", &f, eur), Ok(1234));
        assert_eq!(parse_minor(" 1 ", &f, cur("JPY")), Ok(1));
        assert_eq!(parse_minor("1.234", &f, cur("BHD")), Ok(1234));
        assert!(matches!(parse_minor("1.234,56", &f, eur), Err(MoneyError::Separator(_, ','))));
        assert!(matches!(parse_minor("12,34 EUR", &f, eur), Err(MoneyError::Text(_, t)) if t == "EUR"));
        assert!(matches!(parse_minor("€12", &f, eur), Err(MoneyError::Text(..))));
        assert!(matches!(parse_minor("1e5", &f, eur), Err(MoneyError::Text(..))));
        assert!(matches!(parse_minor("12.345", &f, eur), Err(MoneyError::TooManyDecimals { .. })));
        assert!(matches!(parse_minor("1.5", &f, cur("JPY")), Err(MoneyError::TooManyDecimals { .. })));
        assert!(matches!(parse_minor("--1", &f, eur), Err(MoneyError::Sign(_))));
        assert!(matches!(parse_minor("1-", &f, eur), Err(MoneyError::Sign(_))));
        assert!(matches!(parse_minor("-", &f, eur), Err(MoneyError::NoDigits(_))));
        assert!(matches!(parse_minor("1.2.3", &f, eur), Err(MoneyError::Grouping(_))));
        assert_eq!(parse_minor("", &f, eur), Err(MoneyError::Empty));
        assert!(matches!(parse_minor("99999999999999999999", &f, eur), Err(MoneyError::Overflow(_))));
    }

    #[test]
    fn erp_formats() {
        let sap = MoneyFormat { decimal: DecimalMark::Comma, thousands: Some('.'), trailing_minus: true };
        let eur = cur("EUR");
        assert_eq!(parse_minor("1.234,56", &sap, eur), Ok(123456));
        assert_eq!(parse_minor("1.234,56-", &sap, eur), Ok(-123456));
        assert_eq!(parse_minor("1234,5", &sap, eur), Ok(123450));
        assert_eq!(parse_minor("12.345.678,00", &sap, eur), Ok(1234567800));
        assert!(matches!(parse_minor("1.23,56", &sap, eur), Err(MoneyError::Grouping(_))));
        assert!(matches!(parse_minor("1,234.56", &sap, eur), Err(MoneyError::Grouping(_))));
        let swiss = MoneyFormat { decimal: DecimalMark::Point, thousands: Some('\''), trailing_minus: false };
        assert_eq!(parse_minor("1'234.50", &swiss, cur("CHF")), Ok(123450));
    }

    #[test]
    fn formatting() {
        assert_eq!(format_minor(123456, 2), "1234.56");
        assert_eq!(format_minor(-50, 2), "-0.50");
        assert_eq!(format_minor(-5, 3), "-0.005");
        assert_eq!(format_minor(0, 2), "0.00");
        assert_eq!(format_minor(1234, 0), "1234");
        assert_eq!(format_minor(i64::MIN, 2), "-92233720368547758.08");
    }
}
