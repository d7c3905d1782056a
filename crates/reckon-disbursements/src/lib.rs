//! reckon-disbursements: money out. Each outgoing bank entry is linked to the AP invoice(s) it pays
//! (invoice numbers in its text, the vendor's IBAN, the amount), or classified by
//! a configured bank rule (fees, payroll, taxes — by ISO 20022 bank transaction
//! code, counterparty or text), or left unreconciled for a person. An invoice
//! linked to two debits was paid twice.

use std::collections::BTreeMap;

/// FxHash: the keys are the engine's own ids and numbers.
type HashMap<K, V> = rustc_hash::FxHashMap<K, V>;

use serde::{Deserialize, Serialize};

use reckon_duplicates::{Invoice, Vendor, normalize_number};

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
    // Invoices by the number they carry, with and without their vendor, and
    // with their amount: a debit looks up the numbers in its text directly. (A
    // number alone is shared by thousands of invoices in a large ledger — each
    // vendor numbers from 1 — so filtering one number's invoices per debit
    // grew with the square of the ledger.)
    let cl = |v: &str| cluster.get(v).cloned().unwrap_or_else(|| v.to_string());
    let mut clusters: HashMap<String, u32> = HashMap::default();
    let mut inv_cluster: Vec<u32> = Vec::with_capacity(invoices.len());
    for inv in invoices {
        let n = clusters.len() as u32;
        inv_cluster.push(*clusters.entry(cl(&inv.vendor_id)).or_insert(n));
    }
    // Numbers and currencies interned: keys are two integers.
    type Key = (u32, u32);
    let mut numbers: HashMap<String, u32> = HashMap::default();
    let mut currencies: HashMap<String, u32> = HashMap::default();
    let mut by_number: HashMap<Key, Vec<usize>> = HashMap::default();
    let mut by_vendor_number: HashMap<(u32, Key), Vec<usize>> = HashMap::default();
    let mut by_number_amount: HashMap<(Key, i64), Vec<usize>> = HashMap::default();
    let mut by_vendor_number_amount: HashMap<(u32, Key, i64), Vec<usize>> = HashMap::default();
    let mut by_cluster_amount: HashMap<(String, String, i64), Vec<usize>> = HashMap::default();
    for (i, inv) in invoices.iter().enumerate() {
        if inv.amount <= 0 {
            continue;
        }
        let n = numbers.len() as u32;
        let number = *numbers.entry(normalize_number(&inv.invoice_number)).or_insert(n);
        let n = currencies.len() as u32;
        let cur = *currencies.entry(inv.currency.clone()).or_insert(n);
        let key = (number, cur);
        let c = inv_cluster[i];
        by_number.entry(key).or_default().push(i);
        by_vendor_number.entry((c, key)).or_default().push(i);
        by_number_amount.entry((key, inv.amount)).or_default().push(i);
        by_vendor_number_amount.entry((c, key, inv.amount)).or_default().push(i);
        by_cluster_amount.entry((cl(&inv.vendor_id), inv.currency.clone(), inv.amount)).or_default().push(i);
    }
    let mut iban_vendor: HashMap<String, String> = HashMap::default();
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
    let mut family: HashMap<(String, String, i64), Vec<usize>> = HashMap::default();
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
        let vendor_id = vendor.as_ref().and_then(|v| clusters.get(v).copied());
        // Tokens no invoice carries, or a currency none is in, name nothing.
        let keys: Vec<Key> = match currencies.get(&d.currency) {
            Some(&cur) => tokens(&text).iter().filter_map(|t| numbers.get(t).map(|&n| (n, cur))).collect(),
            None => Vec::new(),
        };
        // The invoices the text names (in the debit's currency, of its vendor when
        // the IBAN says which): each token's invoices.
        let buckets: Vec<&Vec<usize>> = keys
            .iter()
            .filter_map(|k| match (&vendor, vendor_id) {
                (Some(_), Some(c)) => by_vendor_number.get(&(c, *k)),
                (Some(_), None) => None,
                (None, _) => by_number.get(k),
            })
            .collect();
        // Of those, the ones of the debit's amount.
        let mut equal: Vec<usize> = keys
            .iter()
            .filter_map(|k| match (&vendor, vendor_id) {
                (Some(_), Some(c)) => by_vendor_number_amount.get(&(c, *k, d.amount)),
                (Some(_), None) => None,
                (None, _) => by_number_amount.get(&(*k, d.amount)),
            })
            .flatten()
            .copied()
            .collect();
        equal.sort_unstable();
        equal.dedup();
        // All of them, when they are few enough to add up to the amount (one
        // token naming more than 12 already rules that out).
        let few = buckets.iter().all(|b| b.len() <= 12);
        let mut named: Vec<usize> =
            if few { buckets.iter().flat_map(|b| b.iter().copied()).collect() } else { Vec::new() };
        named.sort_unstable();
        named.dedup();
        // Prefer an unpaid invoice among equal candidates.
        let pick = equal.iter().copied().find(|i| !paid_by.contains_key(i)).or(equal.first().copied());
        let linked: Option<(Vec<usize>, String)> = if let Some(i) = pick {
            Some((vec![i], format!("invoice {} in text, amount equal", invoices[i].invoice_number)))
        } else if few
            && !named.is_empty()
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

    /// Every vendor numbers its invoices from 1: a number in a debit's text
    /// names one invoice only with the vendor's IBAN or the amount. Linked to
    /// the vendor's own invoice, never another vendor's of the same number and
    /// amount.
    #[test]
    fn a_number_many_vendors_share_links_by_vendor_or_amount() {
        let mut invoices = Vec::new();
        let mut vendors = Vec::new();
        let mut cluster = HashMap::default();
        for v in 0..21 {
            let id = format!("V{v:02}");
            // Four vendors each at 100.00 … 104.99 (V02, V07, V12, V17 at 100.02); V20 alone.
            let amount = if v == 20 { 555_55 } else { 100_00 + v % 5 };
            invoices.push(inv(&format!("D{v}"), &id, "000018", amount));
            vendors.push(Vendor { vendor_id: id.clone(), ibans: vec![format!("DE{v:020}")], ..Vendor::default() });
            cluster.insert(id.clone(), id);
        }
        let debits = vec![
            // The IBAN says V07: its invoice, not V02's, V12's or V17's of the same number and amount.
            debit("P1", 100_02, "DE00000000000000000007", "Invoice 000018", "PMNT-ICDT-ESCT", 1),
            // No IBAN: the amount picks the one invoice of the number.
            debit("P2", 555_55, "", "Invoice 000018", "PMNT-ICDT-ESCT", 2),
            // No IBAN and no invoice of that amount: 21 invoices of the number
            // cannot add up to a payment (more than twelve); a person decides.
            debit("P3", 999_00, "", "Invoice 000018", "PMNT-ICDT-ESCT", 3),
            // V07 has no invoice of the number at this amount (V03 and V08 have).
            debit("P4", 100_03, "DE00000000000000000007", "Invoice 000018", "PMNT-ICDT-ESCT", 4),
        ];
        let o = settle(&debits, &invoices, &vendors, &cluster, &default_rules());
        assert!(matches!(&o[0], Outcome::Paid(d, why) if d == &[7] && why.contains("in text")), "{:?}", o[0]);
        assert!(matches!(&o[1], Outcome::Paid(d, _) if d == &[20]), "{:?}", o[1]);
        assert_eq!(o[2], Outcome::Unreconciled);
        assert_eq!(o[3], Outcome::Unreconciled, "{:?}", o[3]);
    }
}
