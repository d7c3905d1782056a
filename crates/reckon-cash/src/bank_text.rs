//! What US banks' descriptions say about a payment when the structured fields
//! are empty: ACH entries rendered as `ORIG CO NAME:… ORIG ID:… CO ENTRY
//! DESCR:… SEC:… TRACE#:… IND ID:… IND NAME:…` (the NACHA Company/Batch Header
//! and Entry Detail fields — Company Name 16 characters, Company Entry
//! Description 10, Individual Name 22, Trace Number 15 — as banks print them),
//! CTX/CCD+ addenda carrying X12 820 `RMR*IV*<invoice>*…` segments, and Fedwire
//! texts (`B/O:` by order of, `ORG:` originator, `OBI:` originator to
//! beneficiary information, `IMAD:`). The interpreter pulls the payer's name,
//! its id and the invoice references out of the text.

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
                let name = v.split("RMR*").next().unwrap_or(&v).trim().to_string();
                t.payer_name = Some(name).filter(|n| !n.is_empty());
            }
            "IND NAME:" if t.payer_name.is_none() => {
                t.payer_name = Some(v.split("RMR*").next().unwrap_or(&v).trim().to_string())
            }
            "ORIG ID:" if t.originator_id.is_none() => {
                t.originator_id = Some(v.clone());
                t.payer_id.get_or_insert(v);
            }
            "IND ID:" if t.payer_id.is_none() => t.payer_id = Some(v),
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
    fn plain_text_says_nothing() {
        assert_eq!(interpret("PAYMENT INVOICE 4711 THANK YOU"), BankText::default());
        assert_eq!(interpret(""), BankText::default());
        // RMR with another qualifier is not an invoice number.
        assert!(interpret("RMR*CR*CM-77*PI*10.00").invoices.is_empty());
    }
}
