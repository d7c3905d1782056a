#![allow(clippy::inconsistent_digit_grouping)] // amounts in cents written as 1_234_50
//! Duplicate-invoice detection with the shipped model, one fixture per duplicate
//! pattern (flagged, with a reason a person understands) and per hard-negative
//! type (not flagged), each inside a small book of unrelated invoices.

use reckon_duplicates::{Invoice, Vendor};
use reckon_pipeline::duplicates::detect;

fn day(y: i32, m: u32, d: u32) -> i32 {
    reckon_core::date::parse_iso_date(&format!("{y:04}-{m:02}-{d:02}")).unwrap_or_else(|| panic!("date"))
}

fn inv(doc: &str, vendor: &str, number: &str, date: i32, amount: i64, po: &str) -> Invoice {
    Invoice {
        doc_id: doc.into(),
        entity: "DE01".into(),
        vendor_id: vendor.into(),
        vendor_name: format!("Vendor {vendor}"),
        tax_id: format!("DE{vendor}"),
        iban: String::new(),
        invoice_number: number.into(),
        invoice_date: date,
        amount,
        currency: "EUR".into(),
        po_number: po.into(),
        description: "Spare parts".into(),
    }
}

/// Unrelated invoices around the fixture, so blocking and scoring see a book.
fn book() -> Vec<Invoice> {
    (0..40)
        .map(|i| {
            inv(
                &format!("BG{i:03}"),
                &format!("V9{:02}", i % 7),
                &format!("{}", 70_000 + i * 37),
                day(2026, 1, 1) + i,
                10_000 + i64::from(i) * 7919,
                "",
            )
        })
        .collect()
}

fn vendors() -> Vec<Vendor> {
    let mut v: Vec<Vendor> = (0..7)
        .map(|i| Vendor {
            vendor_id: format!("V9{i:02}"),
            name: format!("Background {i} GmbH"),
            tax_id: format!("DE9{i:08}"),
            ibans: vec![],
        })
        .collect();
    v.push(Vendor {
        vendor_id: "V100".into(),
        name: "Nordwind Logistik GmbH".into(),
        tax_id: "DE111".into(),
        ibans: vec!["DE89370400440532013000".into()],
    });
    // The same supplier under a second master record (same IBAN).
    v.push(Vendor {
        vendor_id: "V877".into(),
        name: "Nordwind Logistik".into(),
        tax_id: "DE999".into(),
        ibans: vec!["DE89370400440532013000".into()],
    });
    v
}

fn model() -> reckon_onnx::Model {
    let dir = reckon_pipeline::model::resolve("duplicates_v2_0").unwrap_or_else(|| panic!("shipped model missing"));
    reckon_onnx::Model::load(&dir).unwrap_or_else(|e| panic!("{e}"))
}

fn flagged(extra: Vec<Invoice>) -> Vec<(String, String, Vec<String>)> {
    let mut all = book();
    all.extend(extra);
    let r = detect(&all, &vendors(), &model()).unwrap_or_else(|e| panic!("{e}"));
    r.flagged
        .iter()
        .map(|(a, b, _, why)| (r.invoices[*a].doc_id.clone(), r.invoices[*b].doc_id.clone(), why.clone()))
        .collect()
}

fn assert_flagged(a: Invoice, b: Invoice, reason: &str) {
    let (da, db) = (a.doc_id.clone(), b.doc_id.clone());
    let f = flagged(vec![a, b]);
    let hit = f.iter().find(|(x, y, _)| (x == &da && y == &db) || (x == &db && y == &da));
    let Some((_, _, why)) = hit else { panic!("{da}/{db} not flagged; flagged: {f:?}") };
    assert!(why.iter().any(|w| w.contains(reason)), "reasons {why:?} lack '{reason}'");
    assert_eq!(f.len(), 1, "only the duplicate pair: {f:?}");
}

fn assert_not_flagged(extra: Vec<Invoice>) {
    let f = flagged(extra);
    assert!(f.is_empty(), "false alarm: {f:?}");
}

#[test]
fn ocr_look_alike() {
    let d = day(2026, 3, 2);
    assert_flagged(
        inv("A1", "V100", "2026/00105", d, 1_234_50, ""),
        inv("A2", "V100", "2026/OO1O5", d, 1_234_50, ""),
        "OCR look-alikes",
    );
}

#[test]
fn transposed_digits() {
    let d = day(2026, 3, 2);
    assert_flagged(
        inv("A1", "V100", "10483", d, 99_10, ""),
        inv("A2", "V100", "10438", d, 99_10, ""),
        "two swapped digits",
    );
}

#[test]
fn prefix_and_leading_zeros() {
    let d = day(2026, 3, 2);
    assert_flagged(
        inv("A1", "V100", "INV-004711", d, 5_000_00, "4500001"),
        inv("A2", "V100", "4711", d + 9, 5_000_00, "4500001"),
        "prefixes",
    );
}

#[test]
fn re_entry_and_shifted_date() {
    let d = day(2026, 3, 2);
    assert_flagged(
        inv("A1", "V100", "RE20001234", d, 812_40, ""),
        inv("A2", "V100", "RE20001234", d, 812_40, ""),
        "same invoice number",
    );
    assert_flagged(
        inv("A1", "V100", "RE20001234", d, 812_40, ""),
        inv("A2", "V100", "RE20001234", d + 4, 812_40, ""),
        "4 day(s) apart",
    );
}

#[test]
fn the_same_supplier_under_a_second_vendor_record() {
    let d = day(2026, 3, 2);
    assert_flagged(
        inv("A1", "V100", "88123", d, 14_999_00, ""),
        inv("A2", "V877", "88123", d, 14_999_00, ""),
        "same IBAN under vendors V100 and V877",
    );
}

#[test]
fn recurring_invoices_are_not_duplicates() {
    let v: Vec<Invoice> = (0..6)
        .map(|m| {
            inv(
                &format!("R{m}"),
                "V100",
                &format!("MIETE-{}", 2026_01 + m),
                day(2026, 1 + m as u32, 1),
                2_500_00,
                "4500777",
            )
        })
        .collect();
    assert_not_flagged(v);
}

#[test]
fn credit_memo_and_reissue_are_not_duplicates() {
    let d = day(2026, 3, 2);
    assert_not_flagged(vec![
        inv("C1", "V100", "4711", d, 7_700_00, "4500888"),
        inv("C2", "V100", "4711-CR", d + 10, -7_700_00, ""),
        inv("C3", "V100", "4711-R", d + 14, 7_700_00, "4500888"),
    ]);
}

/// Two deliveries at one price: one vendor, the same amount on the same day,
/// numbers that cannot be one document (consecutive, or unrelated). Never a
/// duplicate on amount, date and vendor alone — whatever the model's score.
#[test]
fn two_deliveries_at_one_price_are_not_duplicates() {
    let d = day(2026, 3, 10);
    for (na, nb) in [("INV-2026-1041", "INV-2026-1042"), ("4711", "8815"), ("RE-100", "RE-7")] {
        let f = flagged(vec![inv("D1", "V100", na, d, 1_250_00, ""), inv("D2", "V100", nb, d, 1_250_00, "")]);
        assert!(!f.iter().any(|(x, y, _)| (x == "D1" && y == "D2") || (x == "D2" && y == "D1")), "{na}/{nb}: {f:?}");
    }
    // The same number keyed twice stays a duplicate.
    let f = flagged(vec![
        inv("D1", "V100", "INV-2026-1041", d, 1_250_00, ""),
        inv("D2", "V100", "INV 2026 1041", d, 1_250_00, ""),
    ]);
    assert!(f.iter().any(|(x, y, _)| (x == "D1" && y == "D2") || (x == "D2" && y == "D1")), "{f:?}");
}
