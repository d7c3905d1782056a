//! Money out: each outgoing bank entry is linked to the AP invoice(s) it pays
//! (invoice numbers in its text, the vendor's IBAN, the amount), or classified by
//! a configured bank rule (fees, payroll, taxes — by ISO 20022 bank transaction
//! code, counterparty or text), or left unreconciled for a person. An invoice
//! linked to two debits was paid twice.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::{Invoice, Vendor, normalize_number};

/// An outgoing bank entry (`amount` = what left the account, positive minor units).
#[derive(Clone, Debug, Default)]
pub struct Debit {
    pub txn_id: String,
    pub amount: i64,
    pub currency: String,
    pub counterparty_name: String,
    pub counterparty_account: String,
    pub reference: String,
    pub description: String,
    pub bank_code: String,
    /// Days since 1970-01-01: debits are settled in booking order.
    pub booking_date: i32,
}

/// A bank rule: a debit matching any of its patterns gets its class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub class: String,
    /// Substrings of the bank transaction code (e.g. `CHRG`, `SALA`, `TAXS`).
    #[serde(default)]
    pub bank_code: Vec<String>,
    /// Case-insensitive substrings of the counterparty name.
    #[serde(default)]
    pub counterparty: Vec<String>,
    /// Case-insensitive substrings of the reference or description.
    #[serde(default)]
    pub text: Vec<String>,
}

/// Rules a finance team starts with: ISO 20022 family codes and common wording.
pub fn default_rules() -> Vec<Rule> {
    let r = |class: &str, codes: &[&str], cp: &[&str], text: &[&str]| Rule {
        class: class.into(),
        bank_code: codes.iter().map(|s| s.to_string()).collect(),
        counterparty: cp.iter().map(|s| s.to_string()).collect(),
        text: text.iter().map(|s| s.to_string()).collect(),
    };
    vec![
        r(
            "bank_fee",
            &["CHRG", "FEES", "COMM"],
            &[],
            &["account charges", "bank charges", "kontofuehrung", "kontoführung", "entgelt", "gebühr", "gebuehr"],
        ),
        r("payroll", &["SALA", "PENS"], &["payroll"], &["salary", "salaries", "payroll", "gehalt", "lohn"]),
        r(
            "tax",
            &["TAXS", "VATX"],
            &["finanzamt", "hmrc", "irs ", "tax office"],
            &["vat return", "umsatzsteuer", "lohnsteuer", "tax payment"],
        ),
    ]
}

/// What became of one debit.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Pays these invoices (indices), with how it was linked.
    Paid(Vec<usize>, String),
    /// Classified by a bank rule.
    Classified(String, String),
    /// Pays an invoice another debit already paid (the earlier debit, the invoice).
    PaidTwice(usize, usize),
    Unreconciled,
}

fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let words: Vec<&str> =
        text.split(|c: char| c.is_whitespace() || c == ',' || c == ';').filter(|w| !w.is_empty()).collect();
    for (i, w) in words.iter().enumerate() {
        out.push(normalize_number(w));
        if let Some(n) = words.get(i + 1) {
            out.push(normalize_number(&format!("{w}{n}")));
        }
    }
    out.retain(|t| !t.is_empty() && t != "0");
    out
}

/// Links and classifies every debit. Debits are taken in the given order (the
/// bank's booking order); a second debit for an already-paid invoice is `PaidTwice`.
pub fn settle(
    debits: &[Debit],
    invoices: &[Invoice],
    vendors: &[Vendor],
    cluster: &HashMap<String, String>,
    rules: &[Rule],
) -> Vec<Outcome> {
    let mut by_number: HashMap<String, Vec<usize>> = HashMap::new();
    let mut by_cluster_amount: HashMap<(String, String, i64), Vec<usize>> = HashMap::new();
    let cl = |v: &str| cluster.get(v).cloned().unwrap_or_else(|| v.to_string());
    for (i, inv) in invoices.iter().enumerate() {
        if inv.amount <= 0 {
            continue;
        }
        by_number.entry(normalize_number(&inv.invoice_number)).or_default().push(i);
        by_cluster_amount.entry((cl(&inv.vendor_id), inv.currency.clone(), inv.amount)).or_default().push(i);
    }
    let mut iban_vendor: HashMap<String, String> = HashMap::new();
    for v in vendors {
        for iban in &v.ibans {
            iban_vendor.entry(iban.replace(' ', "").to_uppercase()).or_insert_with(|| cl(&v.vendor_id));
        }
    }
    for inv in invoices {
        if !inv.iban.is_empty() {
            iban_vendor.entry(inv.iban.replace(' ', "").to_uppercase()).or_insert_with(|| cl(&inv.vendor_id));
        }
    }
    // One document family: the same vendor, number and amount (an invoice keyed
    // twice). Paying a second member of a family is paying twice.
    let mut family: HashMap<(String, String, i64), Vec<usize>> = HashMap::new();
    for (i, inv) in invoices.iter().enumerate().filter(|(_, x)| x.amount > 0) {
        family.entry((cl(&inv.vendor_id), normalize_number(&inv.invoice_number), inv.amount)).or_default().push(i);
    }
    let family_of = |i: usize| -> Vec<usize> {
        let inv = &invoices[i];
        family
            .get(&(cl(&inv.vendor_id), normalize_number(&inv.invoice_number), inv.amount))
            .cloned()
            .unwrap_or_else(|| vec![i])
    };
    let mut paid_by: BTreeMap<usize, usize> = BTreeMap::new();
    let mut out = vec![Outcome::Unreconciled; debits.len()];
    let mut order: Vec<usize> = (0..debits.len()).collect();
    order.sort_by(|&a, &b| {
        (debits[a].booking_date, &debits[a].txn_id).cmp(&(debits[b].booking_date, &debits[b].txn_id))
    });
    for di in order {
        let d = &debits[di];
        let vendor = iban_vendor.get(&d.counterparty_account.replace(' ', "").to_uppercase()).cloned();
        let text = format!("{} {}", d.reference, d.description);
        let mut named: Vec<usize> = tokens(&text)
            .iter()
            .filter_map(|t| by_number.get(t))
            .flatten()
            .copied()
            .filter(|&i| {
                invoices[i].currency == d.currency && vendor.as_ref().is_none_or(|v| cl(&invoices[i].vendor_id) == *v)
            })
            .collect();
        named.sort_unstable();
        named.dedup();
        // Prefer an unpaid invoice among equal candidates.
        let equal: Vec<usize> = named.iter().copied().filter(|&i| invoices[i].amount == d.amount).collect();
        let pick = equal.iter().copied().find(|i| !paid_by.contains_key(i)).or(equal.first().copied());
        let linked: Option<(Vec<usize>, String)> = if let Some(i) = pick {
            Some((vec![i], format!("invoice {} in text, amount equal", invoices[i].invoice_number)))
        } else if !named.is_empty()
            && named.len() <= 12
            && reckon_core::sum_minor(named.iter().map(|&i| invoices[i].amount)) == d.amount
        {
            Some((named.clone(), format!("{} invoices in text add up to the amount", named.len())))
        } else if let Some(v) = &vendor {
            match by_cluster_amount.get(&(v.clone(), d.currency.clone(), d.amount)) {
                Some(c) if c.len() == 1 => {
                    Some((c.clone(), format!("vendor IBAN and amount equal invoice {}", invoices[c[0]].invoice_number)))
                }
                _ => None,
            }
        } else {
            None
        };
        if let Some((docs, how)) = linked {
            let prev = docs.iter().flat_map(|i| family_of(*i)).find_map(|f| paid_by.get(&f).copied());
            match prev {
                Some(prev) => {
                    paid_by.entry(docs[0]).or_insert(di);
                    out[di] = Outcome::PaidTwice(prev, docs[0]);
                }
                None => {
                    for i in &docs {
                        paid_by.insert(*i, di);
                    }
                    out[di] = Outcome::Paid(docs, how);
                }
            }
            continue;
        }
        let lc = |s: &str| s.to_lowercase();
        let (cp, tx, code) = (lc(&d.counterparty_name), lc(&text), d.bank_code.to_uppercase());
        let hit = rules.iter().find_map(|r| {
            if let Some(c) = r.bank_code.iter().find(|c| code.contains(&c.to_uppercase())) {
                return Some((r.class.clone(), format!("bank code {} contains {c}", d.bank_code)));
            }
            if let Some(c) = r.counterparty.iter().find(|c| cp.contains(&lc(c))) {
                return Some((r.class.clone(), format!("counterparty contains '{c}'")));
            }
            r.text.iter().find(|c| tx.contains(&lc(c))).map(|c| (r.class.clone(), format!("text contains '{c}'")))
        });
        out[di] = match hit {
            Some((class, why)) => Outcome::Classified(class, why),
            None => Outcome::Unreconciled,
        };
    }
    out
}

#[cfg(test)]
#[allow(clippy::inconsistent_digit_grouping)] // amounts in cents written as 1_000_00
mod tests {
    use super::*;

    fn inv(doc: &str, vendor: &str, number: &str, amount: i64) -> Invoice {
        Invoice {
            doc_id: doc.into(),
            vendor_id: vendor.into(),
            invoice_number: number.into(),
            amount,
            currency: "EUR".into(),
            ..Invoice::default()
        }
    }

    fn debit(id: &str, amount: i64, account: &str, text: &str, code: &str, day: i32) -> Debit {
        Debit {
            txn_id: id.into(),
            amount,
            currency: "EUR".into(),
            counterparty_account: account.into(),
            description: text.into(),
            bank_code: code.into(),
            booking_date: day,
            ..Debit::default()
        }
    }

    #[test]
    fn money_out_is_linked_classified_flagged_or_left_for_a_person() {
        let invoices = vec![
            inv("A1", "V1", "INV-000018", 1_000_00),
            inv("A2", "V1", "4711", 250_00),
            inv("A3", "V2", "9000", 77_00),
            inv("A4", "V2", "9000", 77_00), // keyed twice
        ];
        let vendors = vec![
            Vendor { vendor_id: "V1".into(), ibans: vec!["DE89370400440532013000".into()], ..Vendor::default() },
            Vendor { vendor_id: "V2".into(), ibans: vec!["GB29NWBK60161331926819".into()], ..Vendor::default() },
        ];
        let cluster: HashMap<String, String> =
            [("V1", "V1"), ("V2", "V2")].iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        let debits = vec![
            debit("D1", 1_000_00, "", "Rechnung INV-000018", "PMNT-ICDT-ESCT", 1),
            debit("D2", 250_00, "DE89370400440532013000", "Zahlung", "PMNT-ICDT-ESCT", 2),
            debit("D3", 53_00, "", "Kontofuehrung / account charges", "PMNT-MCOP-CHRG", 3),
            debit("D4", 77_00, "GB29NWBK60161331926819", "Invoice 9000", "PMNT-ICDT-ESCT", 4),
            debit("D5", 77_00, "GB29NWBK60161331926819", "Invoice 9000", "PMNT-ICDT-ESCT", 30),
            debit("D6", 12_345_00, "", "Transfer", "PMNT-ICDT-ESCT", 5),
        ];
        let o = settle(&debits, &invoices, &vendors, &cluster, &default_rules());
        assert!(matches!(&o[0], Outcome::Paid(d, why) if d == &[0] && why.contains("in text")));
        assert!(matches!(&o[1], Outcome::Paid(d, why) if d == &[1] && why.contains("IBAN")));
        assert!(matches!(&o[2], Outcome::Classified(c, _) if c == "bank_fee"));
        assert!(matches!(&o[3], Outcome::Paid(d, _) if d == &[2]));
        assert_eq!(o[4], Outcome::PaidTwice(3, 3), "the copy of a paid invoice, paid again");
        assert_eq!(o[5], Outcome::Unreconciled);
    }
}
