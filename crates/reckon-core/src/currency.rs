//! ISO 4217 currencies with their minor-unit exponents.
//!
//! The table lists the active codes of ISO 4217 (list one) that carry a minor-unit
//! exponent. Codes without one (precious metals `XAU`…, `XXX`, `XTS`, `XDR`) are
//! not money reckon can book and are refused.

use std::fmt;

/// An ISO 4217 currency with its minor-unit exponent (EUR 2, JPY 0, BHD 3, CLF 4).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

impl Currency {
    /// Looks up a code; surrounding whitespace is ignored and letters may be in any case.
    pub fn parse(code: &str) -> Option<Currency> {
        let code = code.trim();
        let b = code.as_bytes();
        if b.len() != 3 || !b.iter().all(u8::is_ascii_alphabetic) {
            return None;
        }
        let up = [b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase(), b[2].to_ascii_uppercase()];
        // Loaders parse a currency per row: one table read, not a search.
        match BY_LETTERS.get(letters_index(up)) {
            Some(&e) if e > 0 => Some(Currency { code: up, exponent: e - 1 }),
            _ => None,
        }
    }

    /// The three-letter code.
    pub fn code(&self) -> &str {
        // The bytes are checked ASCII letters from the table.
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    /// Number of decimal places of the minor unit.
    pub fn exponent(&self) -> u8 {
        self.exponent
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.code(), self.exponent)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Every three-letter code's exponent plus one (0: not in [`ISO_4217`]),
/// indexed by [`letters_index`].
static BY_LETTERS: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
    let mut t = vec![0u8; 26 * 26 * 26];
    for (code, exponent) in ISO_4217 {
        if let &[a, b, c] = code.as_bytes() {
            t[letters_index([a, b, c])] = exponent + 1;
        }
    }
    t
});

/// The place of three upper-case ASCII letters in `AAA`…`ZZZ`.
fn letters_index(up: [u8; 3]) -> usize {
    up.iter().fold(0, |i, l| i * 26 + usize::from(l.saturating_sub(b'A')))
}

/// Active ISO 4217 codes with a minor unit, sorted by code ([`BY_LETTERS`] is
/// built from it).
const ISO_4217: &[(&str, u8)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("ANG", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BOV", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHE", 2),
    ("CHF", 2),
    ("CHW", 2),
    ("CLF", 4),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("COU", 2),
    ("CRC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MXV", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("USN", 2),
    ("UYI", 0),
    ("UYU", 2),
    ("UYW", 4),
    ("UZS", 2),
    ("VED", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XCG", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for w in ISO_4217.windows(2) {
            assert!(w[0].0 < w[1].0, "{} !< {}", w[0].0, w[1].0);
        }
    }

    /// The table gives what a search of the list gives, for every three letters.
    #[test]
    fn table_agrees_with_the_list() {
        for i in 0..26 * 26 * 26u32 {
            let code: String = [i / 676, i / 26 % 26, i % 26].iter().map(|l| char::from(b'A' + *l as u8)).collect();
            let searched = ISO_4217.binary_search_by(|(c, _)| c.cmp(&code.as_str())).ok().map(|k| ISO_4217[k].1);
            assert_eq!(Currency::parse(&code).map(|c| c.exponent()), searched, "{code}");
            assert_eq!(Currency::parse(&code.to_lowercase()).map(|c| c.exponent()), searched, "{code}");
        }
    }

    #[test]
    fn exponents() {
        assert_eq!(Currency::parse("EUR").map(|c| c.exponent()), Some(2));
        assert_eq!(Currency::parse("jpy").map(|c| c.exponent()), Some(0));
        assert_eq!(Currency::parse(" BHD ").map(|c| c.exponent()), Some(3));
        assert_eq!(Currency::parse("CLF").map(|c| c.exponent()), Some(4));
        assert_eq!(Currency::parse("XXX"), None);
        assert_eq!(Currency::parse("EURO"), None);
        assert_eq!(Currency::parse("€"), None);
        assert_eq!(Currency::parse(""), None);
    }
}
