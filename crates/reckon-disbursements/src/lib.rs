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
    use rayon::prelude::*;
    // Invoices by the number they carry, with and without their vendor, and
    // with their amount: a debit looks up the numbers in its text directly. (A
    // number alone is shared by thousands of invoices in a large ledger — each
    // vendor numbers from 1 — so filtering one number's invoices per debit
    // grew with the square of the ledger.) Vendor clusters, numbers and
    // currencies are interned: every key is integers.
    fn cl<'a>(cluster: &'a HashMap<String, String>, v: &'a str) -> &'a str {
        cluster.get(v).map_or(v, String::as_str)
    }
    fn intern<'a>(map: &mut HashMap<&'a str, u32>, key: &'a str) -> u32 {
        let n = map.len() as u32;
        *map.entry(key).or_insert(n)
    }
    let mut clusters: HashMap<&str, u32> = HashMap::default();
    let inv_cluster: Vec<u32> = invoices.iter().map(|inv| intern(&mut clusters, cl(cluster, &inv.vendor_id))).collect();
    type Key = (u32, u32); // (number, currency)
    let mut numbers: HashMap<String, u32> = HashMap::default();
    let mut currencies: HashMap<&str, u32> = HashMap::default();
    let mut by_number: HashMap<Key, Vec<usize>> = HashMap::default();
    let mut by_vendor_number: HashMap<(u32, Key), Vec<usize>> = HashMap::default();
    let mut by_number_amount: HashMap<(Key, i64), Vec<usize>> = HashMap::default();
    let mut by_vendor_number_amount: HashMap<(u32, Key, i64), Vec<usize>> = HashMap::default();
    let mut by_cluster_amount: HashMap<(u32, u32, i64), Vec<usize>> = HashMap::default();
    // One document family: the same vendor, number and amount (an invoice keyed
    // twice). Paying a second member of a family is paying twice.
    let mut family: HashMap<(u32, u32, i64), Vec<usize>> = HashMap::default();
    let mut family_key: Vec<Option<(u32, u32, i64)>> = vec![None; invoices.len()];
    for (i, inv) in invoices.iter().enumerate() {
        if inv.amount <= 0 {
            continue;
        }
        let n = numbers.len() as u32;
        let number = *numbers.entry(normalize_number(&inv.invoice_number)).or_insert(n);
        let cur = intern(&mut currencies, &inv.currency);
        let key = (number, cur);
        let c = inv_cluster[i];
        by_number.entry(key).or_default().push(i);
        by_vendor_number.entry((c, key)).or_default().push(i);
        by_number_amount.entry((key, inv.amount)).or_default().push(i);
        by_vendor_number_amount.entry((c, key, inv.amount)).or_default().push(i);
        by_cluster_amount.entry((c, cur, inv.amount)).or_default().push(i);
        family.entry((c, number, inv.amount)).or_default().push(i);
        family_key[i] = Some((c, number, inv.amount));
    }
    let mut iban_vendor: HashMap<String, u32> = HashMap::default();
    for v in vendors {
        for iban in &v.ibans {
            let c = intern(&mut clusters, cl(cluster, &v.vendor_id));
            iban_vendor.entry(iban.replace(' ', "").to_uppercase()).or_insert(c);
        }
    }
    for (i, inv) in invoices.iter().enumerate() {
        if !inv.iban.is_empty() {
            iban_vendor.entry(inv.iban.replace(' ', "").to_uppercase()).or_insert(inv_cluster[i]);
        }
    }
    let family_of =
        |i: usize| -> Vec<usize> { family_key[i].and_then(|k| family.get(&k)).cloned().unwrap_or_else(|| vec![i]) };
    // What each debit's own text, account and amount name — independent of
    // the other debits, so found side by side; which of them is already paid
    // is decided below, in booking order.
    struct Named {
        /// The vendor (cluster) its account belongs to.
        vendor: Option<u32>,
        /// Invoices its text names with its amount.
        equal: Vec<usize>,
        /// Every invoice its text names, when each token names at most 12.
        named: Option<Vec<usize>>,
    }
    let prepared: Vec<Named> = debits
        .par_iter()
        .map(|d| {
            let vendor = iban_vendor.get(&d.counterparty_account.replace(' ', "").to_uppercase()).copied();
            // Tokens no invoice carries, or a currency none is in, name nothing.
            let keys: Vec<Key> = match currencies.get(d.currency.as_str()) {
                Some(&cur) => {
                    let text = format!("{} {}", d.reference, d.description);
                    tokens(&text).iter().filter_map(|t| numbers.get(t).map(|&n| (n, cur))).collect()
                }
                None => Vec::new(),
            };
            // The invoices the text names (in the debit's currency, of its vendor when
            // the IBAN says which): each token's invoices.
            let buckets: Vec<&Vec<usize>> = keys
                .iter()
                .filter_map(|k| match vendor {
                    Some(c) => by_vendor_number.get(&(c, *k)),
                    None => by_number.get(k),
                })
                .collect();
            // Of those, the ones of the debit's amount.
            let mut equal: Vec<usize> = keys
                .iter()
                .filter_map(|k| match vendor {
                    Some(c) => by_vendor_number_amount.get(&(c, *k, d.amount)),
                    None => by_number_amount.get(&(*k, d.amount)),
                })
                .flatten()
                .copied()
                .collect();
            equal.sort_unstable();
            equal.dedup();
            // All of them, when they are few enough to add up to the amount (one
            // token naming more than 12 already rules that out).
            let named = buckets.iter().all(|b| b.len() <= 12).then(|| {
                let mut named: Vec<usize> = buckets.iter().flat_map(|b| b.iter().copied()).collect();
                named.sort_unstable();
                named.dedup();
                named
            });
            Named { vendor, equal, named }
        })
        .collect();
    // The rules' patterns, compared as the rules say (codes upper case, the
    // rest lower case): the rule, its codes, counterparties and texts.
    type Patterns<'r> = (&'r Rule, Vec<String>, Vec<String>, Vec<String>);
    let patterns: Vec<Patterns> = rules
        .iter()
        .map(|r| {
            let lc = |v: &[String]| v.iter().map(|c| c.to_lowercase()).collect::<Vec<_>>();
            (r, r.bank_code.iter().map(|c| c.to_uppercase()).collect(), lc(&r.counterparty), lc(&r.text))
        })
        .collect();
    let mut paid_by: BTreeMap<usize, usize> = BTreeMap::new();
    let mut out = vec![Outcome::Unreconciled; debits.len()];
    let mut order: Vec<usize> = (0..debits.len()).collect();
    order.sort_by(|&a, &b| {
        (debits[a].booking_date, &debits[a].txn_id).cmp(&(debits[b].booking_date, &debits[b].txn_id))
    });
    for di in order {
        let d = &debits[di];
        let Named { vendor, equal, named } = &prepared[di];
        // Prefer an unpaid invoice among equal candidates.
        let pick = equal.iter().copied().find(|i| !paid_by.contains_key(i)).or(equal.first().copied());
        let linked: Option<(Vec<usize>, String)> = if let Some(i) = pick {
            Some((vec![i], format!("invoice {} in text, amount equal", invoices[i].invoice_number)))
        } else if let Some(named) = named.as_ref().filter(|n| {
            !n.is_empty() && n.len() <= 12 && reckon_core::sum_minor(n.iter().map(|&i| invoices[i].amount)) == d.amount
        }) {
            Some((named.clone(), format!("{} invoices in text add up to the amount", named.len())))
        } else if let Some(c) = vendor {
            match by_cluster_amount.get(&(
                *c,
                currencies.get(d.currency.as_str()).copied().unwrap_or(u32::MAX),
                d.amount,
            )) {
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
        let text = format!("{} {}", d.reference, d.description);
        let (cp, tx, code) = (d.counterparty_name.to_lowercase(), text.to_lowercase(), d.bank_code.to_uppercase());
        let hit = patterns.iter().find_map(|(r, codes, cps, texts)| {
            if let Some(j) = codes.iter().position(|c| code.contains(c.as_str())) {
                return Some((r.class.clone(), format!("bank code {} contains {}", d.bank_code, r.bank_code[j])));
            }
            if let Some(j) = cps.iter().position(|c| cp.contains(c.as_str())) {
                return Some((r.class.clone(), format!("counterparty contains '{}'", r.counterparty[j])));
            }
            texts
                .iter()
                .position(|c| tx.contains(c.as_str()))
                .map(|j| (r.class.clone(), format!("text contains '{}'", r.text[j])))
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

    /// The debits' texts are read side by side and settled in booking order:
    /// the same outcomes on one thread as on eight, with invoices paid twice
    /// among them.
    #[test]
    fn the_same_outcomes_at_any_thread_count() {
        let mut invoices = Vec::new();
        let mut vendors = Vec::new();
        let mut cluster = HashMap::default();
        for v in 0..40 {
            let id = format!("V{v:02}");
            for n in 0..25 {
                invoices.push(inv(&format!("D{v}-{n}"), &id, &format!("{:06}", 100 + n), 1_000 + (v * 7 + n) % 50));
            }
            vendors.push(Vendor { vendor_id: id.clone(), ibans: vec![format!("DE{v:020}")], ..Vendor::default() });
            cluster.insert(id.clone(), id);
        }
        let debits: Vec<Debit> = (0..3_000usize)
            .map(|k| {
                let (v, n) = (k % 40, k % 31);
                let account = if k % 3 == 0 { String::new() } else { format!("DE{v:020}") };
                let text = match k % 5 {
                    0 => format!("Invoice {:06}", 100 + n),
                    1 => format!("Rechnung {:06} {:06}", 100 + n, 101 + n),
                    2 => "Kontofuehrung".to_string(),
                    _ => format!("payment {k}"),
                };
                debit(
                    &format!("P{k:04}"),
                    1_000 + ((v * 7 + n) % 50) as i64,
                    &account,
                    &text,
                    "PMNT-ICDT-ESCT",
                    (k % 90) as i32,
                )
            })
            .collect();
        let pool = |n| rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap_or_else(|e| panic!("{e}"));
        let one = pool(1).install(|| settle(&debits, &invoices, &vendors, &cluster, &default_rules()));
        let eight = pool(8).install(|| settle(&debits, &invoices, &vendors, &cluster, &default_rules()));
        assert_eq!(one, eight);
        for kind in ["paid", "twice", "classified", "unreconciled"] {
            let found = one.iter().any(|o| match o {
                Outcome::Paid(..) => kind == "paid",
                Outcome::PaidTwice(..) => kind == "twice",
                Outcome::Classified(..) => kind == "classified",
                Outcome::Unreconciled => kind == "unreconciled",
            });
            assert!(found, "no {kind} outcome among {} debits", one.len());
        }
    }
}
