//! What US banks' descriptions say about a payment when the structured fields
//! are empty: ACH entries rendered as `ORIG CO NAME:… ORIG ID:… CO ENTRY
//! DESCR:… SEC:… TRACE#:… IND ID:… IND NAME:…` (the NACHA Company/Batch Header
//! and Entry Detail fields — Company Name 16 characters, Company Entry
//! Description 10, Individual Name 22, Trace Number 15 — as banks print them),
//! CTX/CCD+ addenda carrying X12 820 `RMR*IV*<invoice>*…` segments, and Fedwire
//! texts (`B/O:` by order of, `ORG:` originator, `OBI:` originator to
//! beneficiary information, `IMAD:`). The interpreter pulls the payer's name,
//! its id and the invoice references out of the text.
//!
//! UK statements name the scheme of a domestic credit in the narrative: `BAC`
//! (Bacs automated credit), `BGC` (bank giro credit), `FPI` (Faster Payment
//! inwards) — RBS, "statement abbreviations"; Raisin UK, "Bank statement
//! abbreviations" — or in words. Their payer names are Bacs names of 18
//! characters ([`crate::account::scheme_name_width`]).

/// Keys that start a value, longest first where one is a prefix of another.
const KEYS: &[&str] = &[
    "ORIG CO NAME:",
    "ORIG ID:",
    "DESC DATE:",
    "CO ENTRY DESCR:",
    "ENTRY DESCR:",
    "SEC:",
    "TRACE#:",
    "EED:",
    "IND ID:",
    "IND NAME:",
    "TRN:",
    "B/O:",
    "ORG:",
    "OBI:",
    "IMAD:",
    "REF:",
    "OMAD:",
    "BNF:",
];

/// What a description says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BankText {
    /// The payer as the bank names it (ACH originator, Fedwire by-order-of).
    pub payer_name: Option<String>,
    /// The payer's id (ACH `ORIG ID`, `IND ID`).
    pub payer_id: Option<String>,
    /// The ACH originator's Company Identification (`ORIG ID`) alone: ICD and
    /// nine digits, identifying the paying company ([`crate::account`]).
    pub originator_id: Option<String>,
    /// Invoice numbers of `RMR*IV*…` remittance segments.
    pub invoices: Vec<String>,
    /// Free remittance text (`OBI:`, the entry description).
    pub remittance: Option<String>,
    /// The width of the field the payer's name came from: ACH Company Name 16
    /// and Individual Name 22 characters (NACHA Operating Rules, Appendix
    /// Three: Company/Batch Header Record field 3, Entry Detail Record field
    /// 8), Fedwire originator name line 35 characters (Fedwire Funds Service
    /// Format Reference Guide, tag {5000} Originator, name line of 35).
    pub payer_name_width: Option<usize>,
    /// The ACH entry's Identification Number (`IND ID`, Entry Detail Record
    /// field 7, 15 characters: the receiver's identification number the
    /// originator keys). Payees identify incoming ACH credits by it and ask
    /// their payers to key the number the payee knows them by (Florida
    /// Treasury, "ACH Payment Identification": field 7 is the key component of
    /// identifying incoming payments), so it may be a customer id.
    pub identification_number: Option<String>,
}

impl BankText {
    /// Whether the payer's name may be cut at its field's width: it fills the
    /// field, or all but the one character a cut after a word leaves blank
    /// ([`fills`]). A cut name is the beginning of the payer's full name, not
    /// the whole of it.
    pub fn payer_name_may_be_cut(&self) -> bool {
        match (&self.payer_name, self.payer_name_width) {
            (Some(n), Some(w)) => fills(n, w),
            _ => false,
        }
    }

    /// How much of the payer's name the text holds: cut at its field's width
    /// ([`BankText::payer_name_may_be_cut`]), or — a Fedwire originator longer
    /// than its 35-character name line — the name run together with the
    /// originator's address lines (tag {5000}: a name line and three address
    /// lines of 35, which banks print one after the other).
    pub fn payer_name_form(&self) -> crate::PayerNameForm {
        match (&self.payer_name, self.payer_name_width) {
            _ if self.payer_name_may_be_cut() => crate::PayerNameForm::MayBeCut,
            (Some(n), Some(FEDWIRE_NAME_LINE)) if n.trim_end().chars().count() > FEDWIRE_NAME_LINE => {
                crate::PayerNameForm::RunsOn
            }
            _ => crate::PayerNameForm::Whole,
        }
    }
}

/// A Fedwire originator's name without the address lines printed after it: a
/// US address line begins with its primary number (USPS Publication 28,
/// "primary address number"), so the name ends before the first word of
/// digits alone. Without such a word the text is returned whole.
fn without_address(text: &str) -> String {
    let words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
    match words.iter().position(|w| w.bytes().all(|b| b.is_ascii_digit())) {
        Some(at) if at > 0 => words[..at].join(" "),
        _ => text.to_string(),
    }
}

/// Whether a name fills a field of `width` characters: as long as it, or one
/// shorter (a cut after a word leaves the last one blank). A longer name was
/// not written into such a field (a Fedwire `B/O:` followed by the address).
pub fn fills(name: &str, width: usize) -> bool {
    let n = name.trim_end().chars().count();
    n <= width && n + 1 >= width
}

/// ACH Company Name (NACHA Appendix Three, Company/Batch Header field 3).
const ACH_COMPANY_NAME: usize = 16;
/// ACH Individual Name (NACHA Appendix Three, Entry Detail field 8).
const ACH_INDIVIDUAL_NAME: usize = 22;
/// Fedwire {5000} Originator: one name line (Fedwire FAIM, 35 characters a line).
pub const FEDWIRE_NAME_LINE: usize = 35;

/// Whether a description names a UK domestic credit scheme: Bacs or Faster
/// Payments (`BAC`, `BACS`, `FPI`, `BGC`, `BANK GIRO CREDIT`, `FASTER
/// PAYMENT(S)`), as whole words, case ignored.
pub fn uk_domestic_credit(description: &str) -> bool {
    let up = description.to_ascii_uppercase();
    let words: Vec<&str> = up.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
    words.iter().any(|w| matches!(*w, "BAC" | "BACS" | "FPI" | "BGC"))
        || words.windows(3).any(|w| w == ["BANK", "GIRO", "CREDIT"])
        || words.windows(2).any(|w| w[0] == "FASTER" && matches!(w[1], "PAYMENT" | "PAYMENTS"))
}

/// Reads the keyed values of a description (case of the keys ignored).
fn values(text: &str) -> Vec<(&'static str, String)> {
    let up = text.to_ascii_uppercase();
    let mut hits: Vec<(usize, &'static str)> = Vec::new();
    let mut i = 0;
    while i < up.len() {
        if let Some(k) = KEYS.iter().find(|k| up[i..].starts_with(**k)) {
            // A key inside a longer one (`ENTRY DESCR:` in `CO ENTRY DESCR:`) was taken already.
            hits.push((i, k));
            i += k.len();
        } else {
            i += up[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    let mut out = Vec::new();
    for (n, (at, k)) in hits.iter().enumerate() {
        let start = at + k.len();
        let end = hits.get(n + 1).map_or(text.len(), |(next, _)| *next);
        if let Some(v) = text.get(start..end) {
            out.push((*k, v.split_whitespace().collect::<Vec<_>>().join(" ")));
        }
    }
    out
}

/// Interprets a bank description; empty when it follows none of the layouts.
pub fn interpret(description: &str) -> BankText {
    let mut t = BankText::default();
    for (k, v) in values(description) {
        let v = v.trim_matches(|c: char| c == ' ' || c == '/').to_string();
        if v.is_empty() {
            continue;
        }
        match k {
            "ORIG CO NAME:" | "B/O:" | "ORG:" if t.payer_name.is_none() => {
                // A remittance segment may follow the name without a key.
                let mut name = v.split("RMR*").next().unwrap_or(&v).trim().to_string();
                if k != "ORIG CO NAME:" && name.chars().count() > FEDWIRE_NAME_LINE {
                    name = without_address(&name);
                }
                t.payer_name = Some(name).filter(|n| !n.is_empty());
                t.payer_name_width = t
                    .payer_name
                    .as_ref()
                    .map(|_| if k == "ORIG CO NAME:" { ACH_COMPANY_NAME } else { FEDWIRE_NAME_LINE });
            }
            "IND NAME:" if t.payer_name.is_none() => {
                let name = v.split("RMR*").next().unwrap_or(&v).trim().to_string();
                t.payer_name = Some(name).filter(|n| !n.is_empty());
                t.payer_name_width = t.payer_name.as_ref().map(|_| ACH_INDIVIDUAL_NAME);
            }
            "ORIG ID:" if t.originator_id.is_none() => {
                t.originator_id = Some(v.clone());
                t.payer_id.get_or_insert(v);
            }
            "IND ID:" => {
                t.identification_number.get_or_insert(v.clone());
                t.payer_id.get_or_insert(v);
            }
            "OBI:" | "CO ENTRY DESCR:" | "ENTRY DESCR:" if t.remittance.is_none() => t.remittance = Some(v),
            _ => {}
        }
    }
    // X12 820 RMR: RMR*IV*<invoice>*PI*<amount>~ (RMR01 = IV: invoice number).
    let mut rest = description;
    while let Some(at) = rest.find("RMR*") {
        let seg = &rest[at + 4..];
        let fields: Vec<&str> = seg.split(['~', '\\', ' ']).next().unwrap_or("").split('*').collect();
        if fields.first().is_some_and(|q| q.eq_ignore_ascii_case("IV"))
            && let Some(inv) = fields.get(1).filter(|x| !x.is_empty())
        {
            t.invoices.push(inv.to_string());
        }
        rest = seg;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ach_ccd_with_a_cut_company_name_and_rmr_addenda() {
        let d = "ORIG CO NAME:ACME INDUSTRIAL  ORIG ID:1234567890 DESC DATE:260302 CO ENTRY DESCR:PAYMENT   \
SEC:CTX TRACE#:021000021234567 EED:260302 IND ID:C100 IND NAME:0001ACME INDUSTRIAL SUP \
RMR*IV*INV-2026-0042*PI*1250.00\\RMR*IV*INV-2026-0043*PI*99.50\\";
        let t = interpret(d);
        assert_eq!(t.payer_name.as_deref(), Some("ACME INDUSTRIAL"));
        assert_eq!(t.payer_id.as_deref(), Some("1234567890"));
        assert_eq!(t.originator_id.as_deref(), Some("1234567890"));
        assert_eq!(t.invoices, ["INV-2026-0042", "INV-2026-0043"]);
        assert_eq!(t.remittance.as_deref(), Some("PAYMENT"));
        assert_eq!(t.identification_number.as_deref(), Some("C100"));
    }

    #[test]
    fn fedwire_by_order_of_and_obi() {
        let d = "FEDWIRE CREDIT VIA: JPMORGAN CHASE BANK/021000021 B/O: BETA TRADING LLC NEW YORK NY 10001 \
REF: CHASE NYC/CTR/BNF=OURCO INC OBI: INV 2026-0815 AND 2026-0816 IMAD: 0302B1QGC08C001234";
        let t = interpret(d);
        assert_eq!(t.payer_name.as_deref(), Some("BETA TRADING LLC NEW YORK NY 10001"));
        assert_eq!(t.remittance.as_deref(), Some("INV 2026-0815 AND 2026-0816"));
    }

    #[test]
    fn a_name_that_fills_its_field_may_be_cut() {
        // Company Name is 16 characters: `ATLAS FOODS UND ENGINEERING` printed cut
        // after a word (15 and a blank) or inside one (16).
        let t = interpret("ORIG CO NAME:ATLAS FOODS UND  ORIG ID:1234567890 CO ENTRY DESCR:PAYMENT   SEC:CCD");
        assert_eq!((t.payer_name.as_deref(), t.payer_name_width), (Some("ATLAS FOODS UND"), Some(16)));
        assert!(t.payer_name_may_be_cut());
        assert!(interpret("ORIG CO NAME:ATLAS FOODS ENGI ORIG ID:1").payer_name_may_be_cut());
        // Longer than the field: not an ACH Company Name as printed.
        assert!(!interpret("ORIG CO NAME:ATLAS FOODS UND ENG ORIG ID:1").payer_name_may_be_cut());
        // A Fedwire originator with its address after the name: the name ends
        // at the address line's primary number, and is whole.
        let f = interpret("B/O: BETA TRADING LLC 1 MAIN STREET NEW YORK NY 10001 OBI: X");
        assert_eq!(f.payer_name.as_deref(), Some("BETA TRADING LLC"));
        assert_eq!(f.payer_name_form(), crate::PayerNameForm::Whole);
        // A name line filled to its 35 characters, then the address: cut.
        let f = interpret("B/O: NORDWIND HOLZWERKE UND PHARMA VERTR 500 BOYLSTON ST BOSTON MA 02116 REF: 1");
        assert_eq!(f.payer_name.as_deref(), Some("NORDWIND HOLZWERKE UND PHARMA VERTR"));
        assert_eq!(f.payer_name_form(), crate::PayerNameForm::MayBeCut);
        // No address number to end the name at: the text runs on.
        let f = interpret("B/O: BETA TRADING LLC CORPORATE TREASURY DEPARTMENT NEW YORK OBI: X");
        assert!(!f.payer_name_may_be_cut());
        assert_eq!(f.payer_name_form(), crate::PayerNameForm::RunsOn);
        assert_eq!(t.payer_name_form(), crate::PayerNameForm::MayBeCut);
        assert_eq!(interpret("B/O: BETA TRADING LLC OBI: X").payer_name_form(), crate::PayerNameForm::Whole);
        // A name two or more short of its field was printed whole.
        let short = interpret("ORIG CO NAME:ATLAS FOODS    ORIG ID:1234567890");
        assert_eq!(short.payer_name_width, Some(16));
        assert!(!short.payer_name_may_be_cut());
        // Individual Name is 22 characters.
        let ind = interpret("SEC:PPD IND ID:C100 IND NAME:NORTHWIND LOGISTICS SO");
        assert_eq!((ind.payer_name.as_deref(), ind.payer_name_width), (Some("NORTHWIND LOGISTICS SO"), Some(22)));
        assert!(ind.payer_name_may_be_cut());
        assert!(!interpret("IND NAME:J SMITH").payer_name_may_be_cut());
        // No name, nothing cut.
        assert!(!interpret("SEC:CCD TRACE#:021000021234567").payer_name_may_be_cut());
    }

    #[test]
    fn uk_narratives_of_bacs_and_faster_payments() {
        for d in
            ["BGC ACME LTD", "FPI 123456 REF", "Bank Giro Credit", "FASTER PAYMENTS RECEIPT", "BACS", "bac payment"]
        {
            assert!(uk_domestic_credit(d), "{d}");
        }
        for d in ["BACKUP SERVICES", "FASTER DELIVERY", "GIRO", "SEPA CREDIT TRANSFER", ""] {
            assert!(!uk_domestic_credit(d), "{d}");
        }
    }

    #[test]
    fn plain_text_says_nothing() {
        assert_eq!(interpret("PAYMENT INVOICE 4711 THANK YOU"), BankText::default());
        assert_eq!(interpret(""), BankText::default());
        // RMR with another qualifier is not an invoice number.
        assert!(interpret("RMR*CR*CM-77*PI*10.00").invoices.is_empty());
    }
}
