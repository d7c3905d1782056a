//! Account numbers out of the feed: IBANs in any text field of an exception are
//! masked (`DE89 **** **** **** 3000` → `DE89…3000`) unless the policy allows them.
//! Only strings that pass the IBAN check digits (ISO 13616, mod 97) are masked, so
//! invoice numbers and references are left alone.

use std::borrow::Cow;

/// Masks every valid IBAN in `text` (compact or printed in groups of four) to its
/// country, check digits and last four characters.
pub fn mask_ibans(text: &str) -> Cow<'_, str> {
    let b = text.as_bytes();
    let mut out: Option<String> = None;
    let mut last = 0;
    let mut i = 0;
    while i + 15 <= b.len() {
        let boundary = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if boundary
            && b[i].is_ascii_alphabetic()
            && b[i + 1].is_ascii_alphabetic()
            && b[i + 2].is_ascii_digit()
            && b[i + 3].is_ascii_digit()
            && let Some((end, compact)) = iban_at(b, i)
        {
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[last..i]);
            o.push_str(&compact[..4]);
            o.push('…');
            o.push_str(&compact[compact.len() - 4..]);
            last = end;
            i = end;
            continue;
        }
        i += 1;
    }
    match out {
        Some(mut o) => {
            o.push_str(&text[last..]);
            Cow::Owned(o)
        }
        None => Cow::Borrowed(text),
    }
}

/// IBAN lengths by country (ISO 13616 registry).
const LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BI", 27),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DJ", 27),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FK", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("LY", 25),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MN", 20),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NI", 28),
    ("NL", 18),
    ("NO", 15),
    ("OM", 23),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("RU", 33),
    ("SA", 24),
    ("SC", 31),
    ("SD", 18),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("SO", 23),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
    ("YE", 30),
];

/// A valid IBAN of its country's length starting at `start`: (end offset, compact text).
fn iban_at(b: &[u8], start: usize) -> Option<(usize, String)> {
    let country = std::str::from_utf8(&b[start..start + 2]).ok()?.to_ascii_uppercase();
    let len = LENGTHS.iter().find(|(c, _)| *c == country)?.1;
    let mut compact = String::with_capacity(len);
    let mut j = start;
    while j < b.len() && compact.len() < len {
        let c = b[j];
        if c.is_ascii_alphanumeric() {
            compact.push(c.to_ascii_uppercase() as char);
            j += 1;
        } else if matches!(c, b' ' | b'-' | b'.' | b'/')
            && j + 1 < b.len()
            && b[j + 1].is_ascii_alphanumeric()
            && compact.len().is_multiple_of(4)
        {
            // Printed form: groups of four separated by one space (or a dash, dot or slash).
            j += 1;
        } else {
            break;
        }
    }
    let ends_here = j == b.len() || !b[j].is_ascii_alphanumeric();
    (compact.len() == len && ends_here && valid(&compact)).then_some((j, compact))
}

/// ISO 13616 check: move the first four characters to the end, letters → 10..35, mod 97 = 1.
pub fn valid(iban: &str) -> bool {
    if iban.len() < 15 || !iban.bytes().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()) {
        return false;
    }
    let mut r: u32 = 0;
    for c in iban[4..].bytes().chain(iban[..4].bytes()) {
        let v = u32::from(if c.is_ascii_digit() { c - b'0' } else { c - b'A' + 10 });
        r = if v >= 10 { (r * 100 + v) % 97 } else { (r * 10 + v) % 97 };
    }
    r == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_valid_ibans_only() {
        assert_eq!(mask_ibans("payer IBAN DE89370400440532013000 matched"), "payer IBAN DE89…3000 matched");
        assert_eq!(mask_ibans("from GB29 NWBK 6016 1331 9268 19."), "from GB29…6819.");
        // Wrong check digits, an invoice number and a reference stay.
        assert_eq!(mask_ibans("DE88370400440532013000"), "DE88370400440532013000");
        assert_eq!(mask_ibans("invoice INV-2024-000123 RF18539007547034"), "invoice INV-2024-000123 RF18539007547034");
        assert!(matches!(mask_ibans("nothing here"), Cow::Borrowed(_)));
        assert_eq!(mask_ibans("a NL91ABNA0417164300, b FR1420041010050500013M02606"), "a NL91…4300, b FR14…2606");
    }

    #[test]
    fn masks_ibans_in_any_case_and_with_other_separators() {
        assert_eq!(mask_ibans("de89370400440532013000"), "DE89…3000");
        assert_eq!(mask_ibans("iban: gb29 nwbk 6016 1331 9268 19"), "iban: GB29…6819");
        assert_eq!(mask_ibans("DE89-3704-0044-0532-0130-00 paid"), "DE89…3000 paid");
        assert_eq!(mask_ibans("Ref/DE89.3704.0044.0532.0130.00/INV-1"), "Ref/DE89…3000/INV-1");
        // A dash inside a group is not a group separator: left as it is.
        assert_eq!(mask_ibans("DE8-9370400440532013000"), "DE8-9370400440532013000");
    }
}
