//! Receivables side: customers, open items, incoming payments by pattern,
//! remittance advices, and the truth of which payment pays what.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use crate::names::{Company, bank_variant, company, truncate35, typo};
use crate::out::{Csv, date, iban, money, rf_reference};
use crate::rng::Rng;
use crate::{ENTITIES, Entity, Summary};

#[derive(Debug)]
pub struct Customer {
    pub id: String,
    pub company: Company,
    pub entity: usize,
    pub iban: String,
    pub aliases: Vec<String>,
}

#[derive(Debug)]
pub struct Item {
    pub id: String,
    pub cust: usize,
    pub number: String,
    pub date: i32,
    pub due: i32,
    pub amount: i64,
}

/// Payment patterns of the truth set, with their weights (per mille of paid items).
pub const PATTERNS: &[(&str, u64)] = &[
    ("exact_reference", 190),
    ("reference_in_text", 210),
    ("name_only", 120),
    ("one_to_many", 130),
    ("partial", 50),
    ("split", 40),
    ("bank_fee", 70),
    ("discount", 70),
    ("deduction", 40),
    ("overpayment", 30),
    ("unmatched", 50),
    ("fx", 30),
];

/// Reference rates between the scenario's currencies (units of `to` per `from`).
fn fx_rate_ppm(from: &str, to: &str) -> i64 {
    let usd_per = |c: &str| match c {
        "EUR" => 1_080_000i64,
        "GBP" => 1_256_000,
        _ => 1_000_000,
    };
    usd_per(from) * 1_000_000 / usd_per(to)
}

struct Ctx<'a> {
    bank: Csv,
    rem: Csv,
    truth: Csv,
    receipts: Csv,
    seq: u64,
    rem_seq: u64,
    custs: &'a [Customer],
    items: &'a [Item],
    base_day: i32,
    /// How the world's bank writes a receipt (SEPA for the standard scenario).
    style: crate::world::BankStyle,
    /// The world's own draws (unused by the standard scenario).
    wr: Rng,
}

pub fn customers(rng: &mut Rng, n: usize) -> Vec<Customer> {
    (0..n)
        .map(|i| {
            let c = company(rng, i);
            let entity = rng.weighted(&[60, 25, 15]);
            let country = ENTITIES[entity].country;
            let bban = match country {
                "DE" => format!("{:08}{:010}", 10_000_000 + rng.below(89_999_999), rng.below(10_000_000_000)),
                _ => format!(
                    "{}{:06}{:08}",
                    ["BARC", "NWBK", "LOYD", "HBUK"][rng.below(4) as usize],
                    rng.below(1_000_000),
                    rng.below(100_000_000)
                ),
            };
            let iban = iban(if country == "US" { "GB" } else { country }, &bban);
            let mut aliases = Vec::new();
            if rng.permille(300) {
                aliases.push(c.base.to_uppercase());
            }
            if rng.permille(100) {
                aliases.push(format!("{} Holding", c.base));
            }
            Customer { id: format!("C{:06}", 100_000 + i), company: c, entity, iban, aliases }
        })
        .collect()
}

pub fn invoice_number(rng: &mut Rng, entity: &Entity, serial: u64) -> String {
    match entity.code {
        "DE01" => format!("90{:08}", 10_000_000 + serial),
        "GB01" => format!("INV-{:06}", 100_000 + serial),
        _ => format!("{:07}", 3_000_000 + serial * 3 + rng.below(3)),
    }
}

pub fn items(rng: &mut Rng, custs: &[Customer], n: usize, base_day: i32) -> Vec<Item> {
    let mut out: Vec<Item> = Vec::with_capacity(n);
    let mut serial = [0u64; 3];
    while out.len() < n {
        let cust = rng.below(custs.len() as u64) as usize;
        let ent = custs[cust].entity;
        let e = &ENTITIES[ent];
        serial[ent] += 1;
        let date = base_day + rng.range(0, 89) as i32;
        let credit = rng.permille(30);
        let mut amount = rng.amount(50 * e.unit, 250_000 * e.unit);
        if credit {
            amount = -(amount / 5).max(e.unit);
        }
        out.push(Item {
            id: format!("AR{:08}", out.len() + 1),
            cust,
            number: if credit {
                format!("CN-{}", invoice_number(rng, e, serial[ent]))
            } else {
                invoice_number(rng, e, serial[ent])
            },
            date,
            due: date + *rng.pick(&[14, 30, 30, 45, 60]),
            amount,
        });
        // Subscriptions: a second invoice of the same amount for the same customer.
        if !credit && rng.permille(60) && out.len() < n {
            serial[ent] += 1;
            let d2 = date + 30;
            out.push(Item {
                id: format!("AR{:08}", out.len() + 1),
                cust,
                number: invoice_number(rng, e, serial[ent]),
                date: d2,
                due: d2 + 30,
                amount,
            });
        }
    }
    out
}

/// How a payer writes an invoice number.
pub fn written_ref(rng: &mut Rng, number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    match rng.below(9) {
        0 | 1 => number.to_string(),
        2 => digits.trim_start_matches('0').to_string(),
        3 => number.replace('-', ""),
        4 => number.replace('-', " "),
        5 => number.to_lowercase(),
        6 => digits,
        7 => number.replacen('0', "O", 1), // OCR / typing confusion
        _ => format!("{number}."),
    }
}

fn text_with_refs(rng: &mut Rng, refs: &[String], cust: &Customer) -> String {
    let joined = refs.join(match rng.below(3) {
        0 => ", ",
        1 => " / ",
        _ => " ",
    });
    match rng.below(8) {
        0 => format!("Rechnung {joined}"),
        1 => format!("RE {joined} vom {}", "15.03.2026"),
        2 => format!("INVOICE NO {joined} THANK YOU"),
        3 => format!("Zahlung Kd-Nr {} Re {joined}", cust.id.trim_start_matches('C')),
        4 => format!("SEPA-Ueberweisung {joined}"),
        5 => format!("Payment for invoices {joined}"),
        6 => joined.to_string(),
        _ => format!("Inv {joined} - {}", truncate35(&cust.company.base)),
    }
}

/// A receipt's bank fields as the world's bank writes them.
struct Rendered {
    payer: String,
    account: String,
    e2e: String,
    reference: String,
    description: String,
    code: &'static str,
}

fn yymmdd(day: i32) -> String {
    let (y, m, d) = reckon_core::date::civil_from_days(day);
    format!("{:02}{m:02}{d:02}", y.rem_euclid(100))
}

/// A customer's EIN in a US world: nine digits, stable per customer.
fn ein(c: &Customer) -> String {
    format!("{:09}", 200_000_000 + c.id[1..].parse::<u64>().unwrap_or(0) * 104_729 % 599_999_999)
}

/// Fedwire originators' address lines (street; city, state and ZIP code).
const US_STREETS: &[&str] = &[
    "1250 AVENUE OF THE AMERICAS",
    "400 N MICHIGAN AVE STE 1200",
    "77 W WACKER DR",
    "2200 ROSS AVE SUITE 3600",
    "500 BOYLSTON ST",
    "1 MARKET ST SPEAR TOWER",
];
const US_CITIES: &[&str] =
    &["NEW YORK NY 10020", "CHICAGO IL 60611", "DALLAS TX 75201", "BOSTON MA 02116", "SAN FRANCISCO CA 94105"];

/// A US ACH (CCD, CCD+ or CTX) or Fedwire credit: everything the payer said is in
/// the description (see [`crate::world::BankStyle::UsAch`] for the fields and sources).
#[allow(clippy::too_many_arguments)]
fn us_receipt(
    rng: &mut Rng,
    cust: Option<&Customer>,
    payer: &str,
    amount: i64,
    day: i32,
    reference: &str,
    description: &str,
    seq: u64,
) -> Rendered {
    use crate::world::{cut, document_tokens};
    let text = [reference, description].iter().filter(|t| !t.is_empty()).copied().collect::<Vec<_>>().join(" ");
    let name = payer.to_uppercase();
    // The originator's Company Identification, stable per payer: ICD 1 and its EIN
    // for seven payers in ten, ICD 9 and a number it assigned itself for the rest.
    let orig_id = match cust {
        Some(c) if c.id[1..].parse::<u64>().unwrap_or(0) % 10 < 7 => format!("1{}", ein(c)),
        Some(c) => format!("9{:09}", 100_000_000 + c.id[1..].parse::<u64>().unwrap_or(0) * 7_919 % 899_999_999),
        None => format!("9{:09}", 100_000_000 + rng.below(899_999_999)),
    };
    let our = "NORTHWIND SUPPLY INC";
    let d = yymmdd(day);
    let docs = document_tokens(&text);
    let major = format!("{}.{:02}", amount / 100, amount % 100);
    let kind = rng.below(20);
    let description = if kind >= 16 {
        // Fedwire: by order of the payer, the payer's text as OBI (4 x 35). The
        // originator ({5000}) is a name line and up to three address lines of 35,
        // printed one after the other; every other originator gives its address
        // (chosen from the sequence number: no draw, so the rest of the scenario
        // is as before).
        let address = match seq % 2 {
            0 => format!(
                " {} {}",
                US_STREETS[(seq / 2) as usize % US_STREETS.len()],
                US_CITIES[(seq / 6) as usize % US_CITIES.len()]
            ),
            _ => String::new(),
        };
        format!(
            "FEDWIRE CREDIT VIA: {} B/O: {}{address} REF: {} OBI: {} IMAD: {}{}{:06}",
            rng.pick(&["JPMORGAN CHASE BANK", "BANK OF AMERICA N.A.", "WELLS FARGO BANK", "CITIBANK N.A."]),
            cut(&name, 35),
            cut(&format!("{:016}", rng.below(10_000_000_000_000_000)), 16),
            cut(&text.to_uppercase(), 140),
            // IMAD: the input cycle date (YYYYMMDD), the source, a sequence number.
            crate::out::date(day).replace('-', ""),
            rng.pick(&["QMGFT001", "B1Q8021C", "I1B3CN6C"]),
            seq % 1_000_000
        )
    } else {
        let sec = if kind >= 12 && !docs.is_empty() { "CTX" } else { "CCD" };
        // Individual Identification: what the payer keys for the payee (15
        // characters): the document number it pays, else the payer's number at the
        // payee; the addenda carry RMR segments (CCD+: one, CTX: all).
        let ind_id = match (kind < 6, docs.first(), cust) {
            (true, Some(d), _) => cut(&d.to_uppercase(), 15),
            (true, None, Some(c)) => c.id.clone(),
            _ => String::new(),
        };
        let mut s = format!(
            "ORIG CO NAME:{} ORIG ID:{orig_id} DESC DATE:{d} CO ENTRY DESCR:{} SEC:{sec} TRACE#:{:015} EED:{d} IND ID:{ind_id} IND NAME:{}",
            cut(&name, 16),
            rng.pick(&["PAYMENT", "ACH PMT", "VENDOR PMT", "PAYABLES", "CORP PAY"]),
            21_000_020_000_000u64 + seq,
            cut(our, 22),
        );
        let addenda: Vec<String> = match sec {
            "CTX" => docs.iter().map(|n| format!("RMR*IV*{n}**{major}\\")).collect(),
            _ if kind >= 6 && !docs.is_empty() => vec![format!("RMR*IV*{}**{major}\\", docs[0])],
            _ if kind >= 6 && !text.is_empty() => vec![cut(&text.to_uppercase(), 80)],
            _ => Vec::new(),
        };
        for a in addenda {
            s.push(' ');
            s.push_str(&cut(&a, 80));
        }
        s
    };
    Rendered {
        payer: String::new(),
        account: String::new(),
        e2e: String::new(),
        reference: String::new(),
        description,
        code: if kind >= 16 { "PMNT-RCDT-DMCT" } else { "PMNT-RCDT-ATXN" },
    }
}

/// A UK Bacs or Faster Payments credit: name and reference of 18 Bacs
/// characters, the payer's sort code and account number instead of an IBAN.
/// The payer quotes what the invoice asks it to quote within the 18 characters
/// (Bacs reference guidance): the document numbers first, else its own text.
fn uk_receipt(rng: &mut Rng, iban: &str, payer: &str, reference: &str, description: &str) -> Rendered {
    use crate::world::{bacs_text, cut, document_tokens};
    let said = if reference.is_empty() { description } else { reference };
    let docs = document_tokens(said);
    let joined = docs.join(" ");
    let text = if docs.is_empty() { said } else { joined.as_str() };
    // A GB IBAN holds bank code (4), sort code (6), account (8); any other is shown by its last 14 digits.
    let digits: String = iban.chars().filter(char::is_ascii_digit).collect();
    let account = if digits.len() >= 16 {
        let t = &digits[digits.len() - 14..];
        format!("{} {}", &t[..6], &t[6..])
    } else {
        String::new()
    };
    let fps = rng.permille(600);
    Rendered {
        payer: cut(&bacs_text(payer), 18).trim_end().to_string(),
        account,
        e2e: String::new(),
        reference: cut(&bacs_text(text), 18).trim_end().to_string(),
        description: if fps { "FASTER PAYMENTS RECEIPT".into() } else { "BANK GIRO CREDIT".into() },
        code: "PMNT-RCDT-DMCT",
    }
}

impl Ctx<'_> {
    #[allow(clippy::too_many_arguments)]
    fn receipt(
        &mut self,
        rng: &mut Rng,
        cust: Option<&Customer>,
        payer: &str,
        amount: i64,
        day: i32,
        reference: &str,
        description: &str,
        cross_border: bool,
        entity: usize,
        instructed: Option<(i64, &str)>,
    ) -> io::Result<(String, String)> {
        self.seq += 1;
        let txn = format!("BT{:09}", self.seq);
        let e = &ENTITIES[entity];
        let e2e = if rng.permille(650) { format!("E2E{:012}", rng.below(1_000_000_000_000)) } else { String::new() };
        let cp_acct = match cust {
            Some(c) if rng.permille(800) => c.iban.clone(),
            _ => String::new(),
        };
        let value_day = day + if rng.permille(200) { 1 } else { 0 };
        let code = if cross_border { "PMNT-RCDT-XBCT" } else { "PMNT-RCDT-ESCT" };
        let r = match self.style {
            crate::world::BankStyle::Sepa => Rendered {
                payer: payer.to_string(),
                account: cp_acct,
                e2e: e2e.clone(),
                reference: reference.to_string(),
                description: description.to_string(),
                code,
            },
            crate::world::BankStyle::UsAch => {
                us_receipt(&mut self.wr, cust, payer, amount, day, reference, description, self.seq)
            }
            crate::world::BankStyle::UkBacs => uk_receipt(&mut self.wr, &cp_acct, payer, reference, description),
        };
        let e2e = r.e2e.clone();
        self.bank.row(&[
            &txn,
            e.account,
            &date(day),
            &date(value_day),
            &money(amount, e.exp),
            e.currency,
            &r.payer,
            &r.account,
            &r.e2e,
            &r.reference,
            &r.description,
            r.code,
            &instructed.map_or(String::new(), |(m, _)| money(m, 2)),
            instructed.map_or("", |(_, c)| c),
        ])?;
        Ok((txn, e2e))
    }

    #[allow(clippy::too_many_arguments)]
    fn truth(
        &mut self,
        txn: &str,
        item: &Item,
        applied: i64,
        pattern: &str,
        group: &str,
        residual: i64,
        reason: &str,
    ) -> io::Result<()> {
        let e = &ENTITIES[self.custs[item.cust].entity];
        self.truth.row(&[group, txn, &item.id, &money(applied, e.exp), &money(residual, e.exp), reason, pattern])
    }

    #[allow(clippy::too_many_arguments)]
    fn remittance(
        &mut self,
        rng: &mut Rng,
        e2e: &str,
        payer: &str,
        day: i32,
        lines: &[(String, i64, i64, i64, &str)],
        entity: usize,
    ) -> io::Result<()> {
        self.rem_seq += 1;
        let id = format!("RA{:08}", self.rem_seq);
        let e = &ENTITIES[entity];
        // Some advices arrive without the payment's reference: linked by amount/date/payer only.
        let pref = if rng.permille(800) { e2e } else { "" };
        for (inv, paid, disc, ded, reason) in lines {
            self.rem.row(&[
                &id,
                pref,
                payer,
                &date(day - 1),
                inv,
                &money(*paid, e.exp),
                &if *disc != 0 { money(*disc, e.exp) } else { String::new() },
                &if *ded != 0 { money(*ded, e.exp) } else { String::new() },
                reason,
                e.currency,
            ])?;
        }
        Ok(())
    }
}

/// Writes customers, AR open items, receipts, remittances and their truth.
pub fn write(
    dir: &Path,
    rng: &mut Rng,
    scale: usize,
    base_day: i32,
    profile: crate::Profile,
    world: Option<&'static crate::world::World>,
    summary: &mut Summary,
) -> io::Result<Vec<Customer>> {
    let wide = profile == crate::Profile::Wide;
    let n_cust = (scale / 8).max(20);
    let mut custs = customers(&mut rng.fork(1), n_cust);
    let style = world.map_or(crate::world::BankStyle::Sepa, |w| w.bank);
    if style == crate::world::BankStyle::UkBacs {
        // A UK company's customers pay from UK accounts: every master IBAN is a GB one.
        for c in custs.iter_mut().filter(|c| !c.iban.starts_with("GB")) {
            let d: String = c.iban.chars().filter(char::is_ascii_digit).collect();
            let tail = &d[d.len().saturating_sub(14)..];
            c.iban = iban("GB", &format!("{}{tail:0>14}", ["BARC", "NWBK", "LOYD", "HBUK"][d.len() % 4]));
        }
    }
    let items = items(&mut rng.fork(2), &custs, scale, base_day);

    let mut c = Csv::create(&dir.join("customers.csv"), &["customer_id", "name", "aliases", "ibans", "tax_id"])?;
    for cu in &custs {
        let tax = match style {
            // US customers' tax ids are EINs (IRS format NN-NNNNNNN).
            crate::world::BankStyle::UsAch => {
                let e = ein(cu);
                format!("{}-{}", &e[..2], &e[2..])
            }
            _ => format!("{}{:09}", ENTITIES[cu.entity].country, 100_000_000 + cu.id[1..].parse::<u64>().unwrap_or(0)),
        };
        c.row(&[&cu.id, &cu.company.name, &cu.aliases.join("|"), &cu.iban, &tax])?;
    }
    summary.rows.insert("customers".into(), c.finish()?);
    let mut c = Csv::create(
        &dir.join("ar_open_items.csv"),
        &[
            "item_id",
            "entity",
            "customer_id",
            "customer_name",
            "invoice_number",
            "invoice_date",
            "due_date",
            "amount_open",
            "currency",
        ],
    )?;
    for it in &items {
        let cu = &custs[it.cust];
        let e = &ENTITIES[cu.entity];
        c.row(&[
            &it.id,
            e.code,
            &cu.id,
            &cu.company.name,
            &it.number,
            &date(it.date),
            &date(it.due),
            &money(it.amount, e.exp),
            e.currency,
        ])?;
    }
    summary.rows.insert("ar_open_items".into(), c.finish()?);

    let mut ctx = Ctx {
        bank: Csv::create(
            &dir.join("bank_transactions.csv"),
            &[
                "txn_id",
                "account_id",
                "booking_date",
                "value_date",
                "amount",
                "currency",
                "counterparty_name",
                "counterparty_account",
                "end_to_end_id",
                "reference",
                "description",
                "bank_code",
                "instructed_amount",
                "instructed_currency",
            ],
        )?,
        rem: Csv::create(
            &dir.join("remittances.csv"),
            &[
                "remittance_id",
                "payment_ref",
                "payer_name",
                "advice_date",
                "invoice_ref",
                "paid_amount",
                "discount_amount",
                "deduction_amount",
                "deduction_reason",
                "currency",
            ],
        )?,
        truth: Csv::create(
            &dir.join("truth/cash_matches.csv"),
            &["match_group", "txn_id", "item_id", "applied_amount", "residual_amount", "residual_reason", "pattern"],
        )?,
        receipts: Csv::create(&dir.join("truth/receipts.csv"), &["txn_id", "pattern", "match_group"])?,
        seq: 0,
        rem_seq: 0,
        custs: &custs,
        items: &items,
        base_day,
        style,
        wr: rng.clone().fork(5),
    };
    // Open (unused) invoices per customer, for 1:N groups and ambiguity.
    let mut by_cust: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, it) in items.iter().enumerate() {
        by_cust.entry(it.cust).or_default().push(i);
    }
    let mut used = vec![false; items.len()];
    let mut order: Vec<usize> = (0..items.len()).collect();
    let mut orng = rng.fork(3);
    for i in (1..order.len()).rev() {
        let j = orng.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    let weights: Vec<u64> = PATTERNS.iter().map(|p| p.1).collect();
    let mut prng = rng.fork(4);
    let mut group_seq = 0u64;
    for &ix in &order {
        if used[ix] || items[ix].amount <= 0 || !prng.permille(720) {
            continue;
        }
        let mut pattern = PATTERNS[prng.weighted(&weights)].0;
        let it = &items[ix];
        let cu = &custs[it.cust];
        let e = &ENTITIES[cu.entity];
        let payer = bank_variant(&mut prng, &cu.company);
        let day = (it.due + prng.range(-20, 15) as i32).max(it.date + 1);
        group_seq += 1;
        let group = format!("G{group_seq:08}");
        used[ix] = true;
        // An identical-amount open sibling makes a name-only payment a trap.
        let sibling = by_cust[&it.cust].iter().any(|&j| j != ix && !used[j] && items[j].amount == it.amount);
        if pattern == "name_only" && sibling {
            pattern = "ambiguous_trap";
        }
        match pattern {
            "exact_reference" => {
                let reference = if prng.permille(500) { rf_reference(&it.number) } else { it.number.clone() };
                let desc = if prng.permille(500) { format!("Invoice {}", it.number) } else { String::new() };
                let (txn, e2e) = ctx.receipt(
                    &mut prng,
                    Some(cu),
                    &payer,
                    it.amount,
                    day,
                    &reference,
                    &desc,
                    false,
                    cu.entity,
                    None,
                )?;
                ctx.truth(&txn, it, it.amount, pattern, &group, 0, "none")?;
                ctx.receipts.row(&[&txn, pattern, &group])?;
                if prng.permille(100) {
                    let r = written_ref(&mut prng, &it.number);
                    ctx.remittance(&mut prng, &e2e, &payer, day, &[(r, it.amount, 0, 0, "")], cu.entity)?;
                }
            }
            "reference_in_text" | "bank_fee" | "discount" | "overpayment" | "deduction" | "partial" => {
                let r = written_ref(&mut prng, &it.number);
                let desc = text_with_refs(&mut prng, std::slice::from_ref(&r), cu);
                let (paid, residual, reason, cross) = match pattern {
                    "bank_fee" => {
                        let fees: &[i64] = if wide {
                            &[500, 750, 1000, 1500, 2500, 3000, 4000, 5000, 6000]
                        } else {
                            &[500, 750, 1000, 1250, 1500, 2000, 2500]
                        };
                        let fee = *prng.pick(fees) * e.unit / 100;
                        (it.amount - fee, fee, "bank_fee", true)
                    }
                    "discount" => {
                        let pct = *prng.pick(if wide { &[1i64, 2, 3, 4, 5][..] } else { &[2i64, 2, 3][..] });
                        let d = it.amount * pct / 100;
                        (it.amount - d, d, "discount", false)
                    }
                    "overpayment" => {
                        let extra = prng.amount(e.unit, (it.amount / 10).max(2 * e.unit));
                        (it.amount + extra, -extra, "overpayment", false)
                    }
                    "deduction" => {
                        let d = (it.amount * prng.range(3, 15) / 100).max(e.unit);
                        (it.amount - d, d, "deduction", false)
                    }
                    "partial" => {
                        let p = it.amount * prng.range(20, 70) / 100;
                        (p, 0, "partial", false)
                    }
                    // reference_in_text: the full amount, the invoice number only in the free text.
                    _ => (it.amount, 0, "none", false),
                };
                let (txn, e2e) =
                    ctx.receipt(&mut prng, Some(cu), &payer, paid, day, "", &desc, cross, cu.entity, None)?;
                let applied = if pattern == "overpayment" { it.amount } else { paid };
                let applied = if pattern == "bank_fee" || pattern == "discount" || pattern == "deduction" {
                    it.amount
                } else {
                    applied
                };
                ctx.truth(&txn, it, applied, pattern, &group, residual, reason)?;
                ctx.receipts.row(&[&txn, pattern, &group])?;
                let advice = match pattern {
                    "discount" => prng.permille(400),
                    "deduction" => prng.permille(700),
                    _ => prng.permille(80),
                };
                if advice {
                    let (disc, ded, why) = match pattern {
                        "discount" => (residual, 0, ""),
                        "deduction" => (
                            0,
                            residual,
                            *prng.pick(&[
                                "damaged goods",
                                "price difference",
                                "short delivery",
                                "DED-17 promo allowance",
                            ]),
                        ),
                        _ => (0, 0, ""),
                    };
                    ctx.remittance(&mut prng, &e2e, &payer, day, &[(r, paid, disc, ded, why)], cu.entity)?;
                }
            }
            "name_only" | "ambiguous_trap" => {
                let desc = *prng.pick(&["", "Zahlung", "PAYMENT", "Ueberweisung", "BACS"]);
                let (txn, _) =
                    ctx.receipt(&mut prng, Some(cu), &payer, it.amount, day, "", desc, false, cu.entity, None)?;
                ctx.truth(&txn, it, it.amount, pattern, &group, 0, "none")?;
                ctx.receipts.row(&[&txn, pattern, &group])?;
            }
            "one_to_many" => {
                let mut members = vec![ix];
                let want = prng.range(1, if wide { 9 } else { 4 }) as usize;
                for &j in &by_cust[&it.cust] {
                    if members.len() > want {
                        break;
                    }
                    if !used[j] && j != ix && items[j].date < day && day - items[j].date < 90 {
                        members.push(j);
                    }
                }
                if members.len() == 1 {
                    pattern = "exact_reference";
                }
                let total: i64 = members.iter().map(|&j| items[j].amount).sum();
                if total <= 0 {
                    continue;
                }
                for &j in &members {
                    used[j] = true;
                }
                let refs: Vec<String> = members.iter().map(|&j| written_ref(&mut prng, &items[j].number)).collect();
                let desc = match prng.below(3) {
                    0 => text_with_refs(&mut prng, &refs, cu),
                    1 => text_with_refs(&mut prng, &refs[..1], cu),
                    _ => format!("Sammelzahlung {}", members.len()),
                };
                let (txn, e2e) =
                    ctx.receipt(&mut prng, Some(cu), &payer, total, day, "", &desc, false, cu.entity, None)?;
                for &j in &members {
                    ctx.truth(&txn, &items[j], items[j].amount, pattern, &group, 0, "none")?;
                }
                ctx.receipts.row(&[&txn, pattern, &group])?;
                if prng.permille(600) {
                    let lines: Vec<(String, i64, i64, i64, &str)> =
                        members.iter().zip(&refs).map(|(&j, r)| (r.clone(), items[j].amount, 0, 0, "")).collect();
                    ctx.remittance(&mut prng, &e2e, &payer, day, &lines, cu.entity)?;
                }
            }
            "fx" => {
                // Paid from abroad in another currency: the payer converted the invoice
                // at their own rate, so the amount credited differs from the open amount
                // by a small FX difference (0.1–1.2%, either way).
                let others: Vec<&str> = ["EUR", "GBP", "USD"].into_iter().filter(|c| *c != e.currency).collect();
                let foreign = *prng.pick(&others);
                let bp = prng.range(10, 120) * if prng.permille(700) { -1 } else { 1 };
                let credited = it.amount + it.amount * bp / 10_000;
                let instructed = it.amount * fx_rate_ppm(e.currency, foreign) / 1_000_000;
                let (reference, desc) = if prng.permille(750) {
                    let r = written_ref(&mut prng, &it.number);
                    (String::new(), text_with_refs(&mut prng, &[r], cu))
                } else {
                    (String::new(), "INTERNATIONAL PAYMENT".to_string())
                };
                let (txn, _) = ctx.receipt(
                    &mut prng,
                    Some(cu),
                    &payer,
                    credited,
                    day,
                    &reference,
                    &desc,
                    true,
                    cu.entity,
                    Some((instructed, foreign)),
                )?;
                ctx.truth(&txn, it, it.amount, pattern, &group, it.amount - credited, "fx")?;
                ctx.receipts.row(&[&txn, pattern, &group])?;
            }
            "split" => {
                let first = it.amount * prng.range(30, 70) / 100;
                let r = written_ref(&mut prng, &it.number);
                for (k, part) in [first, it.amount - first].into_iter().enumerate() {
                    let desc = format!("{} {}/2", text_with_refs(&mut prng, std::slice::from_ref(&r), cu), k + 1);
                    let (txn, _) = ctx.receipt(
                        &mut prng,
                        Some(cu),
                        &payer,
                        part,
                        day + 7 * k as i32,
                        "",
                        &desc,
                        false,
                        cu.entity,
                        None,
                    )?;
                    ctx.truth(&txn, it, part, pattern, &group, 0, "none")?;
                    ctx.receipts.row(&[&txn, pattern, &group])?;
                }
            }
            _ => {
                // Nobody's money: a payer not in the master, an amount no invoice has.
                used[ix] = false;
                let stranger = company(&mut prng, 7 * group_seq as usize + 1);
                let payer = bank_variant(&mut prng, &stranger);
                let amt = prng.amount(10 * e.unit, 50_000 * e.unit);
                let desc = *prng.pick(&["Vorauszahlung", "Refund", "Deposit", "", "Order 77812"]);
                let (txn, _) = ctx.receipt(&mut prng, None, &payer, amt, day, "", desc, false, cu.entity, None)?;
                ctx.receipts.row(&[&txn, "unmatched", ""])?;
            }
        }
        *summary.patterns.entry(format!("cash/{pattern}")).or_default() += 1;
    }
    let _ = (ctx.items, ctx.base_day);
    summary.rows.insert("bank_transactions(receipts)".into(), ctx.bank.rows);
    summary.rows.insert("remittances".into(), ctx.rem.rows);
    // Debits are appended by the AP stage through the same file: reopen in append mode there.
    ctx.bank.finish()?;
    ctx.rem.finish()?;
    ctx.truth.finish()?;
    ctx.receipts.finish()?;
    let _ = typo;
    Ok(custs)
}
