//! Payables side: vendors (with duplicate master records), AP invoices with
//! duplicates by pattern beside hard negatives, and money out on the bank.

use std::io;
use std::path::Path;

use crate::names::{Company, bank_variant, company};
use crate::out::{Csv, date, iban, money};
use crate::rng::Rng;
use crate::{ENTITIES, Summary};

struct Vendor {
    id: String,
    company: Company,
    entity: usize,
    iban: String,
    tax_id: String,
    style: u8,
    /// Index of the vendor this record duplicates (second master record).
    twin_of: Option<usize>,
}

struct Inv {
    doc: String,
    vendor: usize,
    number: String,
    date: i32,
    received: i32,
    amount: i64,
    po: String,
    desc: &'static str,
}

pub const DUP_PATTERNS: &[(&str, u64)] = &[
    ("re_entry", 20),
    ("ocr", 20),
    ("transposed", 20),
    ("prefix_zeros", 15),
    ("second_vendor", 15),
    ("date_shift", 10),
];

const DESCS: &[&str] = &[
    "Freight",
    "Office supplies",
    "Consulting services",
    "Raw material",
    "Maintenance",
    "Software licence",
    "Packaging material",
    "Spare parts",
    "Cleaning services",
    "Travel",
    "Marketing",
    "IT hardware",
];

fn number(rng: &mut Rng, style: u8, serial: u64) -> String {
    match style {
        0 => format!("{}", 10_000 + serial * 7 + rng.below(7)),
        1 => format!("INV-{:06}", serial * 3 + rng.below(3)),
        2 => format!("2026/{:05}", serial * 5 + rng.below(5)),
        3 => format!("RE{:08}", 20_000_000 + serial * 11 + rng.below(11)),
        _ => format!("{:04}-{}", 1000 + rng.below(9000), serial),
    }
}

const LOOKALIKE: &[(char, char)] =
    &[('0', 'O'), ('1', 'I'), ('5', 'S'), ('8', 'B'), ('2', 'Z'), ('1', 'l'), ('6', 'G')];

fn ocr(rng: &mut Rng, s: &str) -> Option<String> {
    let cs: Vec<char> = s.chars().collect();
    let spots: Vec<usize> = (0..cs.len()).filter(|&i| LOOKALIKE.iter().any(|(a, _)| *a == cs[i])).collect();
    if spots.is_empty() {
        return None;
    }
    let i = *rng.pick(&spots);
    let opts: Vec<char> = LOOKALIKE.iter().filter(|(a, _)| *a == cs[i]).map(|(_, b)| *b).collect();
    let mut out = cs.clone();
    out[i] = *rng.pick(&opts);
    Some(out.into_iter().collect())
}

fn transpose(rng: &mut Rng, s: &str) -> Option<String> {
    let cs: Vec<char> = s.chars().collect();
    let spots: Vec<usize> = (0..cs.len().saturating_sub(1))
        .filter(|&i| cs[i].is_ascii_digit() && cs[i + 1].is_ascii_digit() && cs[i] != cs[i + 1])
        .collect();
    if spots.is_empty() {
        return None;
    }
    let i = *rng.pick(&spots);
    let mut out = cs;
    out.swap(i, i + 1);
    Some(out.into_iter().collect())
}

fn prefix_zeros(rng: &mut Rng, s: &str) -> String {
    let digits_start = s.find(|c: char| c.is_ascii_digit()).unwrap_or(0);
    let (pre, num) = s.split_at(digits_start);
    match rng.below(3) {
        0 if !pre.is_empty() => num.to_string(),
        1 => format!("{pre}00{num}"),
        _ => format!("{}{}", pre.replace(['-', '/'], ""), num.trim_start_matches('0')),
    }
}

#[allow(clippy::explicit_auto_deref)]
pub fn write(
    dir: &Path,
    rng: &mut Rng,
    scale: usize,
    base_day: i32,
    profile: crate::Profile,
    world: Option<&'static crate::world::World>,
    summary: &mut Summary,
) -> io::Result<()> {
    // A world's own draws come from their own stream (the standard files stay as they are).
    let mut wr = rng.clone().fork(13);
    let n_inv = (scale / 2).max(50);
    let n_vendors = (n_inv / 25).max(12);
    let mut vrng = rng.fork(11);
    let mut vendors: Vec<Vendor> = (0..n_vendors)
        .map(|i| {
            let entity = vrng.weighted(&[60, 25, 15]);
            let country = if ENTITIES[entity].country == "US" { "GB" } else { ENTITIES[entity].country };
            let bban = if country == "DE" {
                format!("{:08}{:010}", 10_000_000 + vrng.below(89_999_999), vrng.below(10_000_000_000))
            } else {
                format!("MIDL{:06}{:08}", vrng.below(1_000_000), vrng.below(100_000_000))
            };
            Vendor {
                id: format!("V{:06}", 200_000 + i),
                company: company(&mut vrng, i + 13),
                entity,
                iban: iban(country, &bban),
                tax_id: format!("{country}{:09}", 300_000_000 + i * 7),
                style: {
                    let s = vrng.below(5) as usize;
                    world.map_or(s as u8, |w| w.ap.number_styles[s % w.ap.number_styles.len()])
                },
                twin_of: None,
            }
        })
        .collect();
    // Second master records for ~4% of vendors: same IBAN or tax id, name written differently.
    for i in 0..n_vendors {
        if vrng.permille(40) {
            let v = &vendors[i];
            let twin = Vendor {
                id: format!("V{:06}", 900_000 + i),
                company: Company {
                    name: bank_variant(&mut vrng, &v.company),
                    base: v.company.base.clone(),
                    suffix_idx: v.company.suffix_idx,
                },
                entity: v.entity,
                iban: if vrng.permille(600) { v.iban.clone() } else { String::new() },
                tax_id: v.tax_id.clone(),
                style: v.style,
                twin_of: Some(i),
            };
            vendors.push(twin);
        }
    }
    let twins: Vec<(usize, usize)> =
        vendors.iter().enumerate().filter_map(|(i, v)| v.twin_of.map(|o| (o, i))).collect();

    let mut irng = rng.fork(12);
    let mut invs: Vec<Inv> = Vec::with_capacity(n_inv + n_inv / 20);
    let mut dups: Vec<(usize, usize, &str)> = Vec::new();
    let mut negs: Vec<(usize, usize, &str)> = Vec::new();
    let mut serial = vec![0u64; vendors.len()];
    let mut doc_seq = 0u64;
    let mut next_doc = || {
        doc_seq += 1;
        format!("AP{:09}", 5_100_000_000u64 + doc_seq)
    };
    let dup_patterns: &[(&str, u64)] = world.map_or(DUP_PATTERNS, |w| w.ap.duplicates);
    let dup_weights: Vec<u64> = dup_patterns.iter().map(|p| p.1).collect();
    while invs.len() < n_inv {
        let v = irng.below(n_vendors as u64) as usize;
        let e = &ENTITIES[vendors[v].entity];
        serial[v] += 1;
        let d = base_day + irng.range(0, 150) as i32;
        let kind = irng.below(1000);
        if kind < 60 {
            // Recurring: monthly, same amount, sequential numbers — not duplicates.
            let amount = irng.amount(100 * e.unit, 20_000 * e.unit);
            let months = irng.range(3, 6);
            let start = invs.len();
            for m in 0..months {
                serial[v] += 1;
                let dd = base_day + 30 * m as i32 + (d - base_day) % 5;
                invs.push(Inv {
                    doc: next_doc(),
                    vendor: v,
                    number: number(&mut irng, vendors[v].style, serial[v]),
                    date: dd,
                    received: dd + 2,
                    amount,
                    po: format!("45{:08}", irng.below(100_000_000)),
                    desc: *irng.pick::<&str>(&[
                        "Monthly rent",
                        "Leasing instalment",
                        "SaaS subscription",
                        "Maintenance contract",
                    ]),
                });
            }
            for k in start + 1..invs.len() {
                negs.push((k - 1, k, "recurring"));
            }
            continue;
        }
        let amount = irng.amount(20 * e.unit, 150_000 * e.unit);
        let num = number(&mut irng, vendors[v].style, serial[v]);
        let a = invs.len();
        invs.push(Inv {
            doc: next_doc(),
            vendor: v,
            number: num.clone(),
            date: d,
            received: d + irng.range(1, 10) as i32,
            amount,
            po: if irng.permille(600) { format!("45{:08}", irng.below(100_000_000)) } else { String::new() },
            desc: *irng.pick::<&str>(DESCS),
        });
        if kind < 100 {
            // Credit memo for the invoice, and sometimes a re-issue after it.
            invs.push(Inv {
                doc: next_doc(),
                vendor: v,
                number: format!("{num}-CR"),
                date: d + 10,
                received: d + 12,
                amount: -amount,
                po: String::new(),
                desc: "Credit memo",
            });
            negs.push((a, a + 1, "credit_memo"));
            if irng.permille(500) {
                invs.push(Inv {
                    doc: next_doc(),
                    vendor: v,
                    number: format!("{num}-R"),
                    date: d + 14,
                    received: d + 15,
                    amount,
                    po: invs[a].po.clone(),
                    desc: invs[a].desc,
                });
                negs.push((a, a + 2, "reissue"));
            }
            continue;
        }
        if kind < 130 {
            let pattern = dup_patterns[irng.weighted(&dup_weights)].0;
            let base = &invs[a];
            let (mut vendor, mut number, mut dd) = (base.vendor, base.number.clone(), base.date);
            let pattern = match pattern {
                "ocr" => match ocr(&mut irng, &number) {
                    Some(n) => {
                        number = n;
                        "ocr"
                    }
                    None => "re_entry",
                },
                "transposed" => match transpose(&mut irng, &number) {
                    Some(n) => {
                        number = n;
                        "transposed"
                    }
                    None => "re_entry",
                },
                "prefix_zeros" => {
                    number = prefix_zeros(&mut irng, &number);
                    "prefix_zeros"
                }
                "second_vendor" => match twins.iter().find(|(o, _)| *o == v) {
                    Some((_, t)) => {
                        vendor = *t;
                        "second_vendor"
                    }
                    None => "re_entry",
                },
                "date_shift" => {
                    dd += irng.range(1, 6) as i32 * if irng.permille(500) { 1 } else { -1 };
                    "date_shift"
                }
                _ => "re_entry",
            };
            let dup = Inv {
                doc: next_doc(),
                vendor,
                number,
                date: dd,
                received: base.received + irng.range(5, 40) as i32,
                amount: base.amount,
                po: base.po.clone(),
                desc: base.desc,
            };
            invs.push(dup);
            dups.push((a, a + 1, pattern));
            *summary.patterns.entry(format!("ap_dup/{pattern}")).or_default() += 1;
        } else if let Some(w) = world
            && wr.permille(w.ap.same_price_permille)
        {
            // A second delivery at the same price on the same day: the vendor's next invoice.
            serial[v] += 1;
            let base = &invs[a];
            let next = Inv {
                doc: next_doc(),
                vendor: v,
                number: number(&mut wr, vendors[v].style, serial[v]),
                date: base.date,
                received: base.received,
                amount: base.amount,
                po: if wr.permille(500) { base.po.clone() } else { String::new() },
                desc: base.desc,
            };
            invs.push(next);
            negs.push((a, a + 1, "same_price_delivery"));
        }
    }
    for (_, _, t) in &negs {
        *summary.patterns.entry(format!("ap_hard_negative/{t}")).or_default() += 1;
    }

    let mut c = Csv::create(&dir.join("vendors.csv"), &["vendor_id", "name", "tax_id", "ibans"])?;
    for v in &vendors {
        c.row(&[&v.id, &v.company.name, &v.tax_id, &v.iban])?;
    }
    summary.rows.insert("vendors".into(), c.finish()?);
    let mut c = Csv::create(
        &dir.join("ap_invoices.csv"),
        &[
            "doc_id",
            "entity",
            "vendor_id",
            "vendor_name",
            "vendor_tax_id",
            "vendor_iban",
            "invoice_number",
            "invoice_date",
            "received_date",
            "amount",
            "currency",
            "po_number",
            "description",
        ],
    )?;
    for i in &invs {
        let v = &vendors[i.vendor];
        let e = &ENTITIES[v.entity];
        c.row(&[
            &i.doc,
            e.code,
            &v.id,
            &v.company.name,
            &v.tax_id,
            &v.iban,
            &i.number,
            &date(i.date),
            &date(i.received),
            &money(i.amount, e.exp),
            e.currency,
            &i.po,
            i.desc,
        ])?;
    }
    summary.rows.insert("ap_invoices".into(), c.finish()?);
    let mut c = Csv::create(&dir.join("truth/ap_duplicates.csv"), &["doc_id_a", "doc_id_b", "pattern"])?;
    for (a, b, p) in &dups {
        c.row(&[&invs[*a].doc, &invs[*b].doc, p])?;
    }
    c.finish()?;
    let mut c = Csv::create(&dir.join("truth/ap_hard_negatives.csv"), &["doc_id_a", "doc_id_b", "type"])?;
    for (a, b, t) in &negs {
        c.row(&[&invs[*a].doc, &invs[*b].doc, t])?;
    }
    c.finish()?;

    // Money out: vendor payments (one duplicate payment among them), fees, payroll, tax.
    let mut bank = Csv::append(&dir.join("bank_transactions.csv"))?;
    let mut truth = Csv::create(&dir.join("truth/disbursements.csv"), &["txn_id", "class", "doc_id"])?;
    let mut brng = rng.fork(13);
    let mut seq = 0u64;
    let mut debit = |bank: &mut Csv,
                     truth: &mut Csv,
                     rng: &mut Rng,
                     ent: usize,
                     day: i32,
                     amt: i64,
                     name: &str,
                     acct: &str,
                     desc: &str,
                     code: &str,
                     class: &str,
                     doc: &str|
     -> io::Result<()> {
        seq += 1;
        let e = &ENTITIES[ent];
        let txn = format!("BD{seq:09}");
        let e2e = if rng.permille(500) { format!("PAY{:010}", rng.below(10_000_000_000)) } else { String::new() };
        bank.row(&[
            &txn,
            e.account,
            &date(day),
            &date(day),
            &money(-amt, e.exp),
            e.currency,
            name,
            acct,
            &e2e,
            "",
            desc,
            code,
            "",
            "",
        ])?;
        truth.row(&[&txn, class, doc])
    };
    let dup_b: std::collections::HashSet<usize> = dups.iter().map(|d| d.1).collect();
    let mut paid_twice = 0;
    for (k, i) in invs.iter().enumerate() {
        if i.amount <= 0 || dup_b.contains(&k) || !brng.permille(450) {
            continue;
        }
        let v = &vendors[i.vendor];
        let name = bank_variant(&mut brng, &v.company);
        let desc = format!("{} {}", brng.pick(&["Inv", "Rechnung", "Invoice", "Payment"]), i.number);
        debit(
            &mut bank,
            &mut truth,
            &mut brng,
            v.entity,
            i.received + 20,
            i.amount,
            &name,
            &v.iban,
            &desc,
            "PMNT-ICDT-ESCT",
            "ap_payment",
            &i.doc,
        )?;
    }
    for (a, b, _) in dups.iter().filter(|d| d.2 == "re_entry").take(3) {
        // The duplicate slipped through: both documents paid.
        for k in [*a, *b] {
            let i = &invs[k];
            let v = &vendors[i.vendor];
            let desc = format!("Invoice {}", i.number);
            debit(
                &mut bank,
                &mut truth,
                &mut brng,
                v.entity,
                i.received + 20,
                i.amount,
                &v.company.name,
                &v.iban,
                &desc,
                "PMNT-ICDT-ESCT",
                "duplicate_payment",
                &i.doc,
            )?;
        }
        paid_twice += 1;
    }
    for m in 0..5 {
        for (ent, e) in ENTITIES.iter().enumerate() {
            let day = base_day + 30 * m + 27;
            let fee = 35 * e.unit + brng.below(20) as i64 * e.unit;
            debit(
                &mut bank,
                &mut truth,
                &mut brng,
                ent,
                day,
                fee,
                "",
                "",
                "Kontofuehrung / account charges",
                "PMNT-MCOP-CHRG",
                "bank_fee",
                "",
            )?;
            let pay = brng.amount(200_000 * e.unit, 900_000 * e.unit);
            debit(
                &mut bank,
                &mut truth,
                &mut brng,
                ent,
                day,
                pay,
                "Payroll run",
                "",
                &format!("SALARIES {:02}/2026", m + 1),
                "PMNT-ICDT-SALA",
                "payroll",
                "",
            )?;
            let tax = brng.amount(50_000 * e.unit, 300_000 * e.unit);
            debit(
                &mut bank,
                &mut truth,
                &mut brng,
                ent,
                day - 17,
                tax,
                e.tax_office,
                "",
                "VAT return",
                "PMNT-ICDT-TAXS",
                "tax",
                "",
            )?;
            if profile == crate::Profile::Wide {
                // Debits nothing explains (no AP invoice, no bank rule): a person must look.
                let mut wrng = brng.fork(900 + m as u64 * 7 + ent as u64);
                for (name, desc, code) in [
                    ("Card Services", "CARD SETTLEMENT 4417", "PMNT-CCRD-POSD"),
                    ("Northwind Leasing", "Contract 88-1201 instalment", "PMNT-ICDT-OTHR"),
                    ("", "Cash withdrawal", "PMNT-CWDL-ATMD"),
                ] {
                    let amt = wrng.amount(100 * e.unit, 20_000 * e.unit);
                    debit(
                        &mut bank,
                        &mut truth,
                        &mut wrng,
                        ent,
                        day - 9,
                        amt,
                        name,
                        "",
                        desc,
                        code,
                        "unreconciled",
                        "",
                    )?;
                }
            }
        }
    }
    summary.rows.insert("bank_transactions(debits)".into(), bank.rows);
    summary.patterns.insert("bank_out/duplicate_payment".into(), paid_twice);
    bank.finish()?;
    truth.finish()?;
    Ok(())
}
