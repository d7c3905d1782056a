//! Who paid, by account: the forms in which banks show a payer's account and
//! the customer master records it, reduced to comparable keys.
//!
//! - **IBAN** (ISO 13616): compared whole, without spaces, in upper case.
//! - **UK sort code and account number.** Bacs and Faster Payments credits show
//!   the payer's 6-digit sort code and 8-digit account number, not an IBAN; a GB
//!   IBAN holds both as its last 14 digits (BBAN `4!a6!n8!n`: bank code, sort
//!   code, account — SWIFT IBAN Registry, United Kingdom). Both reduce to one
//!   key, so `20-20-15 55555555` on the statement finds the customer whose
//!   master lists `GB33BUKB20201555555555`.
//! - **US ACH originator.** The Company Identification of an ACH entry is a
//!   one-digit ICD and nine digits; ICD `1` means the nine digits are the
//!   originator's IRS Employer Identification Number (X12 820 TRN03 and NACHA
//!   Company/Batch Header field 5). A customer whose `tax_id` is that EIN
//!   (`NN-NNNNNNN`, or nine digits, optionally after `US`) is the payer.
//!   reckon-pipeline passes the ACH company id read from the description
//!   (`ORIG ID:`) as `ACH:<id>` when the statement has no account.
//!
//! Anything else is compared as written (spaces dropped, upper case).

/// Spaces and hyphens dropped, upper case.
fn compact(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace() && *c != '-').collect::<String>().to_uppercase()
}

fn looks_like_iban(s: &str) -> bool {
    let b = s.as_bytes();
    (15..=34).contains(&b.len())
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..4].iter().all(u8::is_ascii_digit)
        && b[4..].iter().all(u8::is_ascii_alphanumeric)
}

/// The keys of an account as a statement or a master record writes it.
pub fn keys(account: &str) -> Vec<String> {
    let s = compact(account);
    if s.is_empty() {
        return Vec::new();
    }
    if let Some(id) = s.strip_prefix("ACH:") {
        return match id.strip_prefix('1') {
            Some(ein) if ein.len() == 9 && ein.bytes().all(|b| b.is_ascii_digit()) => vec![format!("EIN:{ein}")],
            _ => vec![format!("ACH:{id}")],
        };
    }
    if looks_like_iban(&s) {
        let mut v = vec![s.clone()];
        if s.starts_with("GB") && s.len() == 22 && s[8..].bytes().all(|b| b.is_ascii_digit()) {
            v.push(format!("SCAN:{}", &s[8..]));
        }
        return v;
    }
    if s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit()) {
        return vec![format!("SCAN:{s}")];
    }
    vec![s]
}

/// The width of a payer's name in a UK Bacs or Faster Payments credit: 18
/// characters (Bacs Standard 18: the originator's name and the destination
/// account name are `18a` fields).
pub const BACS_NAME_WIDTH: usize = 18;

/// The width of the payer's name in the payment scheme an account's form
/// shows: a bare UK sort code and account number is a Bacs or Faster Payments
/// credit ([`BACS_NAME_WIDTH`]). A name as long as that may be cut. Other
/// forms: none known.
pub fn scheme_name_width(account: &str) -> Option<usize> {
    let s = compact(account);
    (s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit())).then_some(BACS_NAME_WIDTH)
}

/// Whether an account may be a UK payer's in a domestic scheme: none given, a
/// sort code and account number, or a GB IBAN (an IBAN of another country is
/// not a Bacs or Faster Payments payer's).
pub fn may_be_uk_domestic(account: &str) -> bool {
    let s = compact(account);
    s.is_empty() || scheme_name_width(&s).is_some() || !looks_like_iban(&s) || s.starts_with("GB")
}

/// The key of a tax id that is a US EIN (`NN-NNNNNNN`, nine digits, or `US` and
/// nine digits); other tax ids (VAT numbers) are not account identities.
pub fn ein_key(tax_id: &str) -> Option<String> {
    let t = tax_id.trim().to_uppercase();
    let digits = |x: &str| x.len() == 9 && x.bytes().all(|b| b.is_ascii_digit());
    let d = match t.split_once('-') {
        Some((a, b)) if a.len() == 2 => format!("{a}{b}"),
        Some(_) => return None,
        None => t.strip_prefix("US").unwrap_or(&t).to_string(),
    };
    digits(&d).then(|| format!("EIN:{d}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_account_in_the_forms_banks_write_it() {
        // The SWIFT registry's GB example and its sort code and account number.
        let master = keys("GB29 NWBK 6016 1331 9268 19");
        assert_eq!(master, ["GB29NWBK60161331926819", "SCAN:60161331926819"]);
        assert_eq!(keys("60-16-13 31926819"), ["SCAN:60161331926819"]);
        assert_eq!(keys("601613 31926819"), ["SCAN:60161331926819"]);
        assert_eq!(keys("de89 3704 0044 0532 0130 00"), ["DE89370400440532013000"]);
        assert!(keys("  ").is_empty());
        // ACH: ICD 1 is an EIN, ICD 9 a number the originator assigned itself.
        assert_eq!(keys("ACH:1123456789"), ["EIN:123456789"]);
        assert_eq!(keys("ACH:9123456789"), ["ACH:9123456789"]);
        assert_eq!(ein_key("12-3456789").as_deref(), Some("EIN:123456789"));
        assert_eq!(ein_key("US123456789").as_deref(), Some("EIN:123456789"));
        assert_eq!(ein_key("123456789").as_deref(), Some("EIN:123456789"));
        assert_eq!(ein_key("DE123456789"), None, "a German VAT number is no EIN");
        assert_eq!(ein_key("1234-56789"), None);
        // Bacs and Faster Payments names are 18 characters; an IBAN says nothing.
        assert_eq!(scheme_name_width("60-16-13 31926819"), Some(18));
        assert_eq!(scheme_name_width("GB29NWBK60161331926819"), None);
        assert_eq!(scheme_name_width("ACH:1123456789"), None);
        assert!(may_be_uk_domestic("") && may_be_uk_domestic("GB29NWBK60161331926819"));
        assert!(!may_be_uk_domestic("DE89 3704 0044 0532 0130 00"));
    }
}
