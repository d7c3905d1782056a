//! Structured payment references a creditor prints on its invoice for the
//! payer to quote, with their check digits, as they reach a bank statement:
//!
//! - **ISO 11649 RF Creditor Reference** (`RF` + two check digits + up to 21
//!   letters and digits; ISO 11649:2009, named in the EPC SEPA Credit
//!   Transfer rulebook as the structured creditor reference, `RmtInf/Strd/
//!   CdtrRefInf` type `SCOR`). Valid when the reference with its first four
//!   characters moved to the end, letters read as 10–35, is 1 modulo 97 (ISO
//!   7064 MOD 97-10, as for an IBAN). Printed in blocks of four characters
//!   separated by a space (`RF18 5390 0754 7034`), which payers and banks
//!   carry into the remittance text.
//! - **Belgian structured communication** (OGM-VCS, Febelfin): twelve digits,
//!   printed `+++123/4567/89002+++` (or between `***`); the last two are the
//!   first ten modulo 97, or 97 when that is 0.
//! - **Swiss QR reference** (QRR; SIX, Swiss Implementation Guidelines
//!   QR-bill, the successor of the ESR reference): 27 digits, the last a
//!   check digit by modulo 10 recursive, printed as two digits and five
//!   blocks of five (`21 00000 00003 13947 14300 09017`); carried in camt.054
//!   `CdtrRefInf/Ref`. Mandatory on Swiss QR-bills with a QR-IBAN since
//!   2022-10-01.
//!
//! What the creditor puts inside is its own choice: most often the invoice
//! number, zero-padded or not.

/// ISO 7064 MOD 97-10 of letters and digits (letters as 10–35, either case);
/// `None` for any other character.
pub fn mod97(s: &str) -> Option<u32> {
    let mut r: u32 = 0;
    for c in s.chars() {
        let v = c.to_digit(36)?;
        r = if v >= 10 { (r * 100 + v) % 97 } else { (r * 10 + v) % 97 };
    }
    Some(r)
}

/// Whether `rf` (compact, `RF…`) is an ISO 11649 reference with valid check digits.
pub fn rf_valid(rf: &str) -> bool {
    let b = rf.as_bytes();
    (5..=25).contains(&b.len())
        && b[..2].eq_ignore_ascii_case(b"RF")
        && b[2].is_ascii_digit()
        && b[3].is_ascii_digit()
        && b[4..].iter().all(u8::is_ascii_alphanumeric)
        && mod97(&format!("{}{}", &rf[4..], &rf[..4])) == Some(1)
}

/// The valid RF creditor references in `text`, compact and upper case, in
/// order: written whole (`RF18539007547034`) or in printed blocks of four
/// separated by single spaces (`RF18 5390 0754 7034`).
pub fn rf_references(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 < b.len() {
        let starts = b[i].eq_ignore_ascii_case(&b'R')
            && b[i + 1].eq_ignore_ascii_case(&b'F')
            && b[i + 2].is_ascii_digit()
            && b[i + 3].is_ascii_digit()
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric());
        if !starts {
            i += 1;
            continue;
        }
        // The longest valid reading: the whole run of letters and digits,
        // then with each following block of at most four after one space.
        // Printed, every block but the last holds four characters, the first
        // being `RFnn`: no block follows a shorter one.
        let mut end = i + b[i..].iter().position(|c| !c.is_ascii_alphanumeric()).unwrap_or(b.len() - i);
        let mut best = None;
        let mut compact: String = text[i..end].to_ascii_uppercase();
        let mut block = compact.len();
        loop {
            if rf_valid(&compact) {
                best = Some((compact.clone(), end));
            }
            let next = end + 1;
            if block != 4 || end >= b.len() || b[end] != b' ' || next >= b.len() || !b[next].is_ascii_alphanumeric() {
                break;
            }
            let len = b[next..].iter().position(|c| !c.is_ascii_alphanumeric()).unwrap_or(b.len() - next);
            if len > 4 || compact.len() + len > 25 {
                break;
            }
            block = len;
            compact.push_str(&text[next..next + len].to_ascii_uppercase());
            end = next + len;
        }
        match best {
            Some((rf, e)) => {
                out.push(rf);
                i = e;
            }
            None => i += 1,
        }
    }
    out
}

/// Whether twelve digits are a Belgian structured communication.
pub fn ogm_vcs_valid(digits: &str) -> bool {
    if digits.len() != 12 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let (base, check) = digits.split_at(10);
    let r = mod97(base).unwrap_or(u32::MAX);
    check.parse::<u32>().ok() == Some(if r == 0 { 97 } else { r })
}

/// The valid Belgian structured communications in `text` (twelve digits),
/// written `+++ddd/dddd/ddddd+++` or between `***`.
pub fn ogm_vcs_references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for delim in ["+++", "***"] {
        let mut rest = text;
        while let Some(at) = rest.find(delim) {
            let after = &rest[at + 3..];
            let Some(close) = after.find(delim) else { break };
            let inner: String = after[..close].chars().filter(|c| !matches!(c, '/' | ' ')).collect();
            if ogm_vcs_valid(&inner) && after[..close].chars().all(|c| c.is_ascii_digit() || matches!(c, '/' | ' ')) {
                out.push(inner);
                rest = &after[close + 3..];
            } else {
                rest = after;
            }
        }
    }
    out
}

/// The modulo 10 recursive check digit of a string of digits (SIX; the ESR
/// and QR reference's), `None` for anything else.
pub fn mod10_recursive(digits: &str) -> Option<u8> {
    const T: [u8; 10] = [0, 9, 4, 6, 8, 2, 7, 1, 3, 5];
    let mut carry = 0u8;
    for c in digits.bytes() {
        if !c.is_ascii_digit() {
            return None;
        }
        carry = T[usize::from((carry + (c - b'0')) % 10)];
    }
    Some((10 - carry) % 10)
}

/// Whether 27 digits are a Swiss QR reference.
pub fn qr_reference_valid(digits: &str) -> bool {
    digits.len() == 27
        && digits.bytes().all(|c| c.is_ascii_digit())
        && mod10_recursive(&digits[..26]) == Some(digits.as_bytes()[26] - b'0')
}

/// The valid Swiss QR references in `text` (27 digits), written whole or in
/// the printed blocks `dd ddddd ddddd ddddd ddddd ddddd`.
pub fn qr_references(text: &str) -> Vec<String> {
    // Runs of digits and single spaces between digits, cut at anything else.
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        let mut groups: Vec<(usize, usize)> = Vec::new();
        let mut j = i;
        loop {
            let start = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            groups.push((start, j));
            if j + 1 < b.len() && b[j] == b' ' && b[j + 1].is_ascii_digit() {
                j += 1;
            } else {
                break;
            }
        }
        let end_ok = j >= b.len() || !b[j].is_ascii_alphanumeric();
        let lens: Vec<usize> = groups.iter().map(|(a, z)| z - a).collect();
        let whole = lens.len() == 1 && lens[0] == 27;
        let printed = lens == [2, 5, 5, 5, 5, 5];
        if end_ok && (whole || printed) {
            let d: String = groups.iter().map(|(a, z)| &text[*a..*z]).collect();
            if qr_reference_valid(&d) {
                out.push(d);
            }
        }
        i = j.max(i + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rf_references_written_whole_and_in_blocks() {
        // ISO 11649's example, as python-stdnum documents it.
        assert_eq!(rf_references("RF18539007547034"), ["RF18539007547034"]);
        assert_eq!(rf_references("Zahlung RF18 5390 0754 7034 danke"), ["RF18539007547034"]);
        assert_eq!(rf_references("ref rf18 5390 0754 7034, 12.03."), ["RF18539007547034"]);
        // Wrong check digits: nothing.
        assert!(rf_references("RF17 5390 0754 7034").is_empty());
        assert!(rf_references("RF17539007547034").is_empty());
        // Inside a word it is no reference.
        assert!(rf_references("XRF18539007547034").is_empty());
        // Letters in the reference; the last block shorter.
        assert!(rf_valid("RF185390075470Y") == (mod97("5390075470YRF18") == Some(1)));
    }

    #[test]
    fn belgian_structured_communication() {
        // Febelfin's format; examples as python-stdnum and eConnect document them.
        assert_eq!(ogm_vcs_references("+++010/8068/17183+++"), ["010806817183"]);
        assert_eq!(ogm_vcs_references("Mededeling ***090/9337/55493*** ok"), ["090933755493"]);
        assert!(ogm_vcs_references("+++010/8068/17180+++").is_empty());
        assert!(ogm_vcs_valid("312401398067"));
        // First ten digits a multiple of 97: the check digits are 97.
        assert!(ogm_vcs_valid("000000009797"));
        assert!(!ogm_vcs_valid("000000009700"));
    }

    #[test]
    fn swiss_qr_reference() {
        // The QR reference python-stdnum's ch.esr documents, printed and whole.
        assert_eq!(qr_references("Ref 21 00000 00003 13947 14300 09017 ok"), ["210000000003139471430009017"]);
        assert_eq!(qr_references("210000000003139471430009017"), ["210000000003139471430009017"]);
        // One digit off, or one digit short: nothing.
        assert!(qr_references("21 00000 00003 13947 14300 09018").is_empty());
        assert!(qr_references("21 00000 00003 13947 14300 0901").is_empty());
        assert_eq!(mod10_recursive("00000000000000000000001234"), Some(7));
    }
}
