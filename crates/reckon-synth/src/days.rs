//! A scenario cut into business days, for runs that remember.
//!
//! `write_days(out, cfg, n)` generates one scenario into `out/all/` (with its
//! `truth/`) and writes `out/day-01/` … `out/day-NN/`: each day's bank entries
//! (the scenario's entries in booking order, cut into `n` equal days; dates
//! are the scenario's own, so a day's business date is its latest booking date
//! and a day spans as many calendar days as the scenario's year divided by
//! `n`), the remittance advices that arrive that day (0–3 days after their
//! payment, dated by the payer as before; an advice due after the last day
//! never arrives), and that day's snapshots of receivables (the items posted so far
//! at their invoiced open amount — what cash application posts to the ERP is
//! the caller's to subtract, since only the ERP's users and reckon know it; one
//! paid item in twenty is posted a day or two after its payment), payables
//! (invoices received so far) and journals posted that day. A share of the
//! customers (`third_party_permille`, one in twenty by default) pays every
//! invoice through a treasury centre, parent or finance company whose name is
//! nothing like the customer's and always the same (`truth/trade_names.csv`):
//! a name no similarity finds until a person confirms it. ERPs model the
//! pattern as parent-company payments (e.g. StreamV ERP, "Processing Parent
//! Company Payments", erp-help.covesys.com). With
//! [`DaysOptions::parent_permille`] a share of the other customers is paid
//! for by another customer of the master under its own name and account, and
//! names it in `customers.payer_ids` (`truth/parent_payers.csv`).
//! `out/truth/days.csv` says on which day every bank entry, advice and item
//! arrived.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::path::{Path, PathBuf};

use crate::out::{Csv, read_csv};
use crate::rng::Rng;
use crate::{Config, Summary, generate};

/// What [`write_days`] wrote.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DaysSummary {
    pub scenario: Summary,
    pub days: usize,
    /// Rows per day and table.
    pub rows: Vec<BTreeMap<String, u64>>,
    /// Advices that would arrive after the last day (not written).
    pub advices_never_arriving: u64,
    /// Items posted after their payment's day.
    pub items_posted_late: u64,
    /// Receipts paid under a customer's trade name.
    pub trade_name_receipts: u64,
    /// Customers whose invoices another customer of the master pays.
    pub parent_paid_customers: u64,
    /// Receipts paid by such a parent.
    pub parent_paid_receipts: u64,
    /// The first day (1-based) the bank writes in its new style, if it changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank_drift_from_day: Option<usize>,
    /// Bank entries written in the bank's new style.
    pub bank_drift_entries: u64,
}

type Row = BTreeMap<String, String>;

fn header(path: &Path) -> io::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text.lines().next().unwrap_or("").split(',').map(str::to_string).collect())
}

fn write(path: &Path, header: &[String], rows: &[&Row]) -> io::Result<u64> {
    let h: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut c = Csv::create(path, &h)?;
    for r in rows {
        let f: Vec<&str> = header.iter().map(|k| r.get(k).map_or("", String::as_str)).collect();
        c.row(&f)?;
    }
    c.finish()
}

/// Day (0-based) of each row when rows ordered by (`date_col`, `id_col`) are cut
/// into `n` equal days.
fn cut(rows: &[Row], date_col: &str, id_col: &str, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| (&rows[a][date_col], &rows[a][id_col]).cmp(&(&rows[b][date_col], &rows[b][id_col])));
    let mut day = vec![0; rows.len()];
    let len = rows.len().max(1);
    for (rank, i) in order.into_iter().enumerate() {
        day[i] = rank * n / len;
    }
    day
}

const TRADE_WORDS: [&str; 12] = [
    "NORTHGATE",
    "HALCYON",
    "MERIDIAN",
    "BLUEPEAK",
    "OAKRIDGE",
    "SUMMIT",
    "KESTREL",
    "LANTERN",
    "IRONBRIDGE",
    "FALCON",
    "CEDAR",
    "HARBOUR",
];
const TRADE_SUFFIX: [&str; 4] = ["TREASURY SVCS", "SHARED SERVICES", "HOLDINGS PAYMENTS", "FINANCE CENTRE"];

/// One customer in twenty pays through a third party by default.
pub const THIRD_PARTY_PERMILLE: u32 = 50;

/// Writes the day folders (see the module docs); `third_party_permille` of the
/// customers pay under a third party's name.
pub fn write_days(out: &Path, cfg: &Config, n: usize, third_party_permille: u32) -> io::Result<DaysSummary> {
    write_days_drifting(out, cfg, n, third_party_permille, None)
}

/// How the days differ from the scenario they are cut from.
#[derive(Clone, Debug, Default)]
pub struct DaysOptions {
    /// Customers (per mille) that pay through a third party under its own name.
    pub third_party_permille: u32,
    /// The first day (1-based) of the bank's new style ([`write_days_drifting`]).
    pub drift_from_day: Option<usize>,
    /// Customers (per mille) whose invoices another customer of the master — a
    /// parent or head office — pays under its own master name and account,
    /// recorded in the customer's master as a permitted payer
    /// (`customers.payer_ids`; SAP's alternative payer, Oracle Receivables'
    /// customer relationships). 0 leaves the scenario as without it.
    pub parent_permille: u32,
}

/// Legal forms the bank's new style drops from a payer's name.
const DRIFT_LEGAL: [&str; 22] = [
    "GMBH", "AG", "KG", "CO", "LTD", "PLC", "LLC", "INC", "SA", "S.A.", "SAS", "BV", "NV", "SPA", "SRL", "LLP", "CORP",
    "&", "UND", "AND", "OHG", "SE",
];

/// The bank's new way of writing a payer's name: upper case, legal forms
/// dropped, each word cut to its first four characters.
pub fn drift_name(name: &str) -> String {
    name.to_uppercase()
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty() && !DRIFT_LEGAL.contains(w))
        .map(|w| w.chars().take(4).collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// [`write_days`] where, from day `drift_from_day` (1-based) on, the bank
/// writes its receipts in a new style: the payer's name abbreviated
/// ([`drift_name`]) and a description that names the paid invoices as SWIFT
/// MT103 field 70 codes them (`/INV/` followed by the date and the invoice
/// reference: `/INV/260609 9010002031`; SWIFT User Handbook, MT103 field 70
/// "Remittance Information"). The drift a model's monitoring must see and a
/// model retrained on people's decisions must learn.
pub fn write_days_drifting(
    out: &Path,
    cfg: &Config,
    n: usize,
    third_party_permille: u32,
    drift_from_day: Option<usize>,
) -> io::Result<DaysSummary> {
    write_days_with(out, cfg, n, &DaysOptions { third_party_permille, drift_from_day, parent_permille: 0 })
}

/// [`write_days`] with every option ([`DaysOptions`]).
pub fn write_days_with(out: &Path, cfg: &Config, n: usize, o: &DaysOptions) -> io::Result<DaysSummary> {
    let (third_party_permille, drift_from_day) = (o.third_party_permille, o.drift_from_day);
    if n == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "--days must be at least 1"));
    }
    let all = out.join("all");
    let scenario = generate(&all, cfg)?;
    let mut rng = Rng::new(cfg.seed).fork(900);
    let mut s = DaysSummary { scenario, days: n, rows: vec![BTreeMap::new(); n], ..DaysSummary::default() };
    let t = |name: &str| all.join(name);
    let bank_h = header(&t("bank_transactions.csv"))?;
    let mut bank = read_csv(&t("bank_transactions.csv"))?;
    let items_h = header(&t("ar_open_items.csv"))?;
    let items = read_csv(&t("ar_open_items.csv"))?;
    let remit_h = header(&t("remittances.csv"))?;
    let remit = read_csv(&t("remittances.csv"))?;
    let ap_h = header(&t("ap_invoices.csv"))?;
    let ap = read_csv(&t("ap_invoices.csv"))?;
    let gl_h = header(&t("gl_journal_lines.csv"))?;
    let gl = read_csv(&t("gl_journal_lines.csv"))?;
    let links = read_csv(&all.join("truth/cash_matches.csv"))?;

    // Bank entries: cut into days by booking order, dated with the day.
    let bank_day = cut(&bank, "booking_date", "txn_id", n);
    let day_of_txn: HashMap<String, usize> =
        bank.iter().zip(&bank_day).map(|(r, d)| (r["txn_id"].clone(), *d)).collect();
    // Old booking date → day, for advices not linked by reference.
    let mut bounds: Vec<(String, usize)> =
        bank.iter().zip(&bank_day).map(|(r, d)| (r["booking_date"].clone(), *d)).collect();
    bounds.sort();
    let by_ref: HashMap<String, usize> = bank
        .iter()
        .zip(&bank_day)
        .flat_map(|(r, d)| [(r["end_to_end_id"].clone(), *d), (r["reference"].clone(), *d)])
        .filter(|(k, _)| !k.is_empty())
        .collect();

    // Truth links: receipt → items; item → customer.
    let customer_of: HashMap<&str, &str> =
        items.iter().map(|r| (r["item_id"].as_str(), r["customer_id"].as_str())).collect();
    let mut items_of: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for l in &links {
        items_of.entry(l["txn_id"].as_str()).or_default().push(l["item_id"].as_str());
    }
    // Trade names: a share of the customers, a stable name unlike their own.
    let customers: BTreeSet<&str> = items.iter().map(|r| r["customer_id"].as_str()).collect();
    // Unique per customer: a trade name paying for two customers would not
    // name either.
    let mut trade: HashMap<&str, String> = HashMap::new();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for c in &customers {
        if rng.permille(u64::from(third_party_permille)) {
            for _ in 0..32 {
                let name = format!("{} {} {}", rng.pick(&TRADE_WORDS), rng.pick(&TRADE_WORDS), rng.pick(&TRADE_SUFFIX));
                if taken.insert(name.clone()) {
                    trade.insert(c, name);
                    break;
                }
            }
        }
    }
    // Parents: a share of the other customers is paid for by another customer
    // of the master, under that customer's own name and account (a random
    // stream of its own, so that without parents the days are as before).
    let masters_h = header(&t("customers.csv"))?;
    let mut masters = read_csv(&t("customers.csv"))?;
    let mut parent: BTreeMap<String, String> = BTreeMap::new();
    let mut parents: BTreeSet<String> = BTreeSet::new();
    if o.parent_permille > 0 {
        let mut prng = Rng::new(cfg.seed).fork(901);
        let ids: Vec<String> = masters.iter().map(|m| m["customer_id"].clone()).collect();
        for c in customers.iter().filter(|c| !trade.contains_key(*c)) {
            if ids.len() > 1 && prng.permille(u64::from(o.parent_permille)) {
                let p = prng.pick(&ids).clone();
                // A parent is no one's child, and pays for others, not itself.
                if p.as_str() != *c && !parent.contains_key(&p) && !parents.contains(*c) {
                    parents.insert(p.clone());
                    parent.insert(c.to_string(), p);
                }
            }
        }
    }
    let master_of: HashMap<String, (String, String)> = masters
        .iter()
        .map(|m| {
            let iban = m.get("ibans").and_then(|v| v.split('|').next()).unwrap_or("").to_string();
            (m["customer_id"].clone(), (m["name"].clone(), iban))
        })
        .collect();
    for r in bank.iter_mut() {
        let txn = r["txn_id"].clone();
        // The third party pays every invoice of the customer, under its name and
        // from its own account (unknown to the customer master).
        let first = items_of.get(txn.as_str()).and_then(|v| v.first()).and_then(|i| customer_of.get(i));
        if let Some(c) = first
            && let Some(name) = trade.get(c)
        {
            r.insert("counterparty_name".into(), name.clone());
            r.insert("counterparty_account".into(), String::new());
            s.trade_name_receipts += 1;
        } else if let Some(c) = first
            && let Some((name, iban)) = parent.get(*c).and_then(|p| master_of.get(p))
        {
            r.insert("counterparty_name".into(), name.to_uppercase());
            r.insert("counterparty_account".into(), iban.clone());
            s.parent_paid_receipts += 1;
        }
    }
    s.parent_paid_customers = parent.len() as u64;
    let masters_h = if parent.is_empty() {
        masters_h
    } else {
        for m in masters.iter_mut() {
            let p = parent.get(&m["customer_id"]).cloned().unwrap_or_default();
            m.insert("payer_ids".into(), p);
        }
        masters_h.into_iter().chain(["payer_ids".to_string()]).collect()
    };

    // The bank's new style from the drift day on.
    if let Some(from) = drift_from_day {
        if from == 0 || from > n {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the drift day {from} is not one of days 1-{n}"),
            ));
        }
        s.bank_drift_from_day = Some(from);
        let number_of: HashMap<&str, &str> =
            items.iter().map(|r| (r["item_id"].as_str(), r["invoice_number"].as_str())).collect();
        for (r, d) in bank.iter_mut().zip(&bank_day) {
            if *d + 1 < from {
                continue;
            }
            let nums: Vec<&str> = items_of
                .get(r["txn_id"].as_str())
                .map(|its| its.iter().filter_map(|i| number_of.get(i).copied()).collect())
                .unwrap_or_default();
            let date = r["booking_date"].replace('-', "");
            let yymmdd = date.get(2..).unwrap_or("").to_string();
            if !nums.is_empty() && nums.iter().any(|num| r["description"].contains(num)) {
                let text: Vec<String> = nums.iter().map(|num| format!("/INV/{yymmdd} {num}")).collect();
                r.insert("description".into(), text.join(" "));
            }
            let name = drift_name(&r["counterparty_name"]);
            r.insert("counterparty_name".into(), name);
            s.bank_drift_entries += 1;
        }
    }

    // Items: posted on day 1, or — one paid item in twenty — a day or two after
    // the day of its payment.
    let mut posted: HashMap<&str, usize> = HashMap::new();
    for (txn, its) in &items_of {
        let Some(&d) = day_of_txn.get(*txn) else { continue };
        for i in its {
            if rng.permille(50) {
                posted.insert(*i, d + 1 + rng.below(2) as usize);
            }
        }
    }
    s.items_posted_late = posted.len() as u64;

    // Advices: the day of their payment plus 0–3 days. An advice is one
    // message (a camt.054, an X12 820, an e-mail): its lines arrive together.
    let mut remit_day = Vec::with_capacity(remit.len());
    let mut advice_day: HashMap<&str, usize> = HashMap::new();
    for r in &remit {
        if let Some(&d) = advice_day.get(r["remittance_id"].as_str()) {
            remit_day.push(d);
            continue;
        }
        let paid = by_ref.get(&r["payment_ref"]).copied().unwrap_or_else(|| {
            let k = r["advice_date"].clone();
            let at = bounds.partition_point(|(b, _)| *b < k).min(bounds.len().saturating_sub(1));
            bounds.get(at).map_or(0, |(_, d)| *d)
        });
        let lag = [0usize, 0, 0, 0, 0, 0, 1, 1, 2, 3][rng.below(10) as usize];
        let d = paid + lag;
        if d >= n {
            s.advices_never_arriving += 1;
        }
        advice_day.insert(r["remittance_id"].as_str(), d);
        remit_day.push(d);
    }

    let ap_day = cut(&ap, "received_date", "doc_id", n);
    let journal_day: HashMap<String, usize> = {
        let firsts: Vec<Row> = gl.iter().filter(|r| r["line_no"] == "1").cloned().collect();
        let d = cut(&firsts, "posting_date", "journal_id", n);
        firsts.iter().zip(d).map(|(r, d)| (format!("{}/{}", r["entity"], r["journal_id"]), d)).collect()
    };

    std::fs::create_dir_all(out.join("truth"))?;
    let mut days_truth = Csv::create(&out.join("truth/days.csv"), &["table", "id", "day"])?;
    for (r, d) in bank.iter().zip(&bank_day) {
        days_truth.row(&["bank_transactions", &r["txn_id"], &(d + 1).to_string()])?;
    }
    for (r, d) in remit.iter().zip(&remit_day) {
        let day = if *d < n { (d + 1).to_string() } else { "never".into() };
        days_truth.row(&["remittances", &r["remittance_id"], &day])?;
    }
    let mut late: Vec<(&&str, &usize)> = posted.iter().collect();
    late.sort();
    for (i, d) in late {
        let day = if *d < n { (d + 1).to_string() } else { "never".into() };
        days_truth.row(&["ar_open_items", i, &day])?;
    }
    days_truth.finish()?;

    for d in 0..n {
        let dir: PathBuf = out.join(format!("day-{:02}", d + 1));
        std::fs::create_dir_all(&dir)?;
        let rows = &mut s.rows[d];
        for f in ["vendors.csv", "bank_accounts.csv"] {
            std::fs::copy(all.join(f), dir.join(f))?;
        }
        if parent.is_empty() {
            std::fs::copy(all.join("customers.csv"), dir.join("customers.csv"))?;
        } else {
            let m: Vec<&Row> = masters.iter().collect();
            write(&dir.join("customers.csv"), &masters_h, &m)?;
        }
        let b: Vec<&Row> = bank.iter().zip(&bank_day).filter(|(_, x)| **x == d).map(|(r, _)| r).collect();
        rows.insert("bank_transactions".into(), write(&dir.join("bank_transactions.csv"), &bank_h, &b)?);
        let rm: Vec<&Row> = remit.iter().zip(&remit_day).filter(|(_, x)| **x == d).map(|(r, _)| r).collect();
        rows.insert("remittances".into(), write(&dir.join("remittances.csv"), &remit_h, &rm)?);
        let snap: Vec<&Row> =
            items.iter().filter(|r| posted.get(r["item_id"].as_str()).is_none_or(|p| *p <= d)).collect();
        rows.insert("ar_open_items".into(), write(&dir.join("ar_open_items.csv"), &items_h, &snap)?);
        let a: Vec<&Row> = ap.iter().zip(&ap_day).filter(|(_, x)| **x <= d).map(|(r, _)| r).collect();
        rows.insert("ap_invoices".into(), write(&dir.join("ap_invoices.csv"), &ap_h, &a)?);
        let g: Vec<&Row> = gl
            .iter()
            .filter(|r| journal_day.get(&format!("{}/{}", r["entity"], r["journal_id"])) == Some(&d))
            .collect();
        rows.insert("gl_journal_lines".into(), write(&dir.join("gl_journal_lines.csv"), &gl_h, &g)?);
    }
    let json = serde_json::to_string_pretty(&s).map_err(io::Error::other)?;
    std::fs::write(out.join("truth/days.json"), json + "\n")?;
    // The trade names, as truth.
    let mut tn = Csv::create(&out.join("truth/trade_names.csv"), &["customer_id", "trade_name"])?;
    let mut tr: Vec<(&&str, &String)> = trade.iter().collect();
    tr.sort();
    for (c, name) in tr {
        tn.row(&[c, name])?;
    }
    tn.finish()?;
    // The parents, as truth (none: no file).
    if !parent.is_empty() {
        let mut pp = Csv::create(&out.join("truth/parent_payers.csv"), &["customer_id", "parent_id"])?;
        for (c, p) in &parent {
            pp.row(&[c, p])?;
        }
        pp.finish()?;
    }
    Ok(s)
}
