//! Random amounts at the edges of the contract's range (±999,999,999,999,999
//! minor units) through every engine: cash matching (exact, short, over and
//! several-invoice payments), AP duplicates, money out and journal tests. No
//! panic, no wrapped sum: every run completes, conservation balances by id, and
//! the manifest's totals equal the exact sums.

use std::collections::BTreeMap;

use polars::prelude::{ParquetReader, SerReader};
use proptest::prelude::*;
use reckon_pipeline::{Config, RunOptions, run};

const MAX: i64 = reckon_core::MAX_ABS_MINOR;

fn eur(minor: i64) -> String {
    reckon_core::format_minor(minor, 2)
}

fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![Just(MAX), Just(MAX - 1), Just(1), (MAX / 2..=MAX), (1i64..=MAX),]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn extreme_amounts_through_every_engine(items in proptest::collection::vec(amount(), 3..6), gl in proptest::collection::vec(amount(), 2..5)) {
        let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let d = t.path().join("in");
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{e}"));
        let w = |name: &str, text: String| std::fs::write(d.join(name), text).unwrap_or_else(|e| panic!("{e}"));
        w("bank_accounts.csv", "account_id,entity,currency,gl_account\nDE89370400440532013000,DE01,EUR,1200\n".into());
        w("customers.csv", "customer_id,name,aliases,ibans,tax_id\nC1,Edge Holding GmbH,,,\n".into());
        w("vendors.csv", "vendor_id,name,tax_id,ibans\nV1,Edge Supplies SE,DE300000000,\n".into());
        let mut ar = String::from("item_id,entity,customer_id,customer_name,invoice_number,invoice_date,due_date,amount_open,currency\n");
        let mut bank = String::from("txn_id,account_id,booking_date,value_date,amount,currency,counterparty_name,counterparty_account,end_to_end_id,reference,description,bank_code,instructed_amount,instructed_currency\n");
        let mut ap = String::from("doc_id,entity,vendor_id,vendor_name,vendor_tax_id,vendor_iban,invoice_number,invoice_date,received_date,amount,currency,po_number,description\n");
        for (k, a) in items.iter().enumerate() {
            ar.push_str(&format!("AR{k},DE01,C1,Edge Holding GmbH,INV-{k},2026-03-01,2026-03-31,{},EUR\n", eur(*a)));
            // Paid exactly, short by one minor unit, and over by one (where the range allows).
            let paid = match k % 3 { 0 => *a, 1 => a - 1, _ => (a + 1).min(MAX) };
            if paid > 0 {
                bank.push_str(&format!("BT{k},DE89370400440532013000,2026-03-05,2026-03-05,{},EUR,Edge Holding GmbH,,,INV-{k},INV-{k},,,\n", eur(paid)));
            }
            // Every invoice twice (one keyed twice) and paid out at the full amount.
            for copy in 0..2 {
                ap.push_str(&format!("AP{k}{copy},DE01,V1,Edge Supplies SE,DE300000000,,R-{k},2026-03-01,2026-03-02,{},EUR,,\n", eur(*a)));
            }
            bank.push_str(&format!("BD{k},DE89370400440532013000,2026-03-06,2026-03-06,{},EUR,Edge Supplies SE,,,R-{k},Invoice R-{k},,,\n", eur(-a)));
        }
        // One payment of the first two invoices together (when the sum is in range).
        if items[0] + items[1] <= MAX {
            bank.push_str(&format!("BTX,DE89370400440532013000,2026-03-07,2026-03-07,{},EUR,Edge Holding GmbH,,,,INV-0 INV-1,,,\n", eur(items[0] + items[1])));
        }
        w("ar_open_items.csv", ar);
        w("bank_transactions.csv", bank);
        w("ap_invoices.csv", ap);
        // Journals: lines at the edge whose sums leave i64, balanced and not.
        let mut gll = String::from("journal_id,line_no,entity,account,cost_center,posting_date,document_date,fiscal_period,amount,currency,preparer_id,approver_id,source,description,created_at\n");
        for (k, a) in gl.iter().enumerate() {
            gll.push_str(&format!("J1,{},DE01,6200,,2026-03-02,2026-03-02,2026-03,{},EUR,U1,,manual,edge,2026-03-02T10:00:00Z\n", k + 1, eur(*a)));
            gll.push_str(&format!("J2,{},DE01,6200,,2026-03-02,2026-03-02,2026-03,{},EUR,U1,,manual,edge,2026-03-02T10:00:00Z\n", 2 * k + 1, eur(*a)));
            gll.push_str(&format!("J2,{},DE01,1200,,2026-03-02,2026-03-02,2026-03,{},EUR,U1,,manual,edge,2026-03-02T10:00:00Z\n", 2 * k + 2, eur(-a)));
        }
        w("gl_journal_lines.csv", gll);

        let out = t.path().join("out");
        let o = run(&RunOptions::new(&d, &out, Config::default())).unwrap_or_else(|e| panic!("{e}"));
        let c = &o.manifest.conservation;
        prop_assert!(c.balanced, "{:?}", c.problems);
        prop_assert_eq!(c.bank_transactions.rejected, 0);
        // The manifest's exact totals.
        let ar_total: i128 = items.iter().map(|a| i128::from(*a)).sum();
        let want = if let Ok(v) = i64::try_from(ar_total) { eur(v) } else { format!("{ar_total} minor units") };
        prop_assert_eq!(&o.manifest.amount_totals["ar_open_items"]["amount_open"]["EUR"], &want);
        // J1 (all debits) is unbalanced by its exact sum; J2 balances.
        let scores = std::fs::File::open(out.join("journal_scores.parquet")).unwrap_or_else(|e| panic!("{e}"));
        let df = ParquetReader::new(scores).finish().unwrap_or_else(|e| panic!("{e}"));
        let flags: BTreeMap<String, String> = df.column("journal_id").and_then(|j| j.str().cloned()).unwrap_or_else(|e| panic!("{e}"))
            .iter().zip(df.column("flags").and_then(|f| f.str().cloned()).unwrap_or_else(|e| panic!("{e}")).iter())
            .map(|(j, f)| (j.unwrap_or("").to_string(), f.unwrap_or("").to_string())).collect();
        prop_assert!(flags["J1"].split('|').any(|f| f == "unbalanced"), "{:?}", flags);
        prop_assert!(!flags["J2"].split('|').any(|f| f == "unbalanced"), "{:?}", flags);
        let ex = std::fs::read_to_string(out.join("exceptions.jsonl")).unwrap_or_default();
        prop_assert!(ex.contains("\"kind\":\"control_violation\""));
    }
}

/// Ten thousand lines at the contract's limit in one journal: their sum
/// (9,999,999,999,999,990,000 minor units) leaves i64; the journal is a
/// `control_violation` whose amount is the exact sum of its debits.
#[test]
fn a_journal_of_ten_thousand_edge_lines() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = t.path().join("in");
    std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{e}"));
    let mut gll = String::from(
        "journal_id,line_no,entity,account,cost_center,posting_date,document_date,fiscal_period,amount,currency,preparer_id,approver_id,source,description,created_at\n",
    );
    for k in 0..10_000 {
        gll.push_str(&format!(
            "J3,{},DE01,6200,,2026-03-02,2026-03-02,2026-03,{},EUR,U1,,manual,edge,2026-03-02T10:00:00Z\n",
            k + 1,
            eur(MAX)
        ));
    }
    std::fs::write(d.join("gl_journal_lines.csv"), gll).unwrap_or_else(|e| panic!("{e}"));
    let out = t.path().join("out");
    let o = run(&RunOptions::new(&d, &out, Config::default())).unwrap_or_else(|e| panic!("{e}"));
    assert!(o.manifest.conservation.balanced, "{:?}", o.manifest.conservation.problems);
    let ex = std::fs::read_to_string(out.join("exceptions.jsonl")).unwrap_or_default();
    assert!(ex.contains("\"kind\":\"control_violation\""), "{ex}");
    assert!(ex.contains("\"amount\":\"99999999999999900.00\""), "{ex}");
}
