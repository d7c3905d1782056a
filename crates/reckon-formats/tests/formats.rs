//! Format details the fixture snapshots do not pin down one by one, and a property
//! test that no parser panics on arbitrary bytes (the fuzz targets go further).

use proptest::prelude::*;
use reckon_formats::{Format, Target, bai2, camt, detect, mt940, parse, x12};

fn get<'a>(row: &'a reckon_formats::Row, c: &str) -> &'a str {
    row.get(c).unwrap_or("")
}

#[test]
fn mt940_marks_dates_and_references() {
    let f = ":20:A\n:25:X\n:28C:1/1\n:60F:C251231EUR100,\n\
:61:2512310102RC10,NTRFCUST//BANK1\nsupplementary text\n:86:?\n\
:61:251231D1,5NCHG12345678901234567890\n:62F:C251231EUR88,50\n-\n";
    let st = mt940::statements(f.as_bytes());
    assert_eq!(st.len(), 1);
    let e = &st[0].entries;
    assert_eq!(e[0].mark, "RC");
    assert_eq!(e[0].value_date, "2025-12-31");
    assert_eq!(e[0].entry_date.as_deref(), Some("2026-01-02"), "entry date across the year end");
    assert_eq!(e[0].customer_ref, "CUST");
    assert_eq!(e[0].bank_ref.as_deref(), Some("BANK1"));
    assert_eq!(e[0].supplementary.as_deref(), Some("supplementary text"));
    assert_eq!(e[1].amount, "1.5");
    assert_eq!(e[1].customer_ref, "1234567890123456", "16x");
    let p = parse(f.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    // RC is a reversal of a credit: money out.
    assert_eq!(get(&p.rows[0], "amount"), "-10.00");
    assert!(p.controls.iter().all(|c| c.ok), "{:?}", p.controls);
}

#[test]
fn mt940_structured_86_variants() {
    let d = mt940::details("166?00SEPA-GUTSCHRIFT?20EREF+E1?21SVWZ+RE 4711 RF18539007547034?32Max Mustermann");
    assert_eq!(d.end_to_end_id.as_deref(), Some("E1"));
    assert_eq!(d.description.as_deref(), Some("RE 4711 RF18539007547034"));
    assert_eq!(d.name.as_deref(), Some("Max Mustermann"));
    assert_eq!(d.reference.as_deref(), Some("RF18539007547034"));
    assert_eq!(d.code.as_deref(), Some("166"));
    let s = mt940::details("/EREF/E2//CNTP/NL91ABNA0417164300/ABNANL2A/Summit BV/Utrecht/REMI/USTD//Factuur 9/");
    assert_eq!(s.end_to_end_id.as_deref(), Some("E2"));
    assert_eq!(s.account.as_deref(), Some("NL91ABNA0417164300"));
    assert_eq!(s.name.as_deref(), Some("Summit BV"));
    assert_eq!(s.description.as_deref(), Some("Factuur 9"));
    // A check digit error is not an RF reference.
    assert_eq!(mt940::find_rf("paid RF19539007547034"), None);
}

#[test]
fn mt942_sums_are_checked() {
    let good =
        ":20:R\n:25:X\n:28C:1\n:34F:EUR0,\n:13D:2603041200+0100\n:61:260304C5,NTRFN//A\n:90D:0EUR0,\n:90C:1EUR5,\n-";
    let p = parse(good.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.format, Format::Mt942);
    assert!(p.controls.iter().all(|c| c.ok));
    let bad = good.replace(":90C:1EUR5,", ":90C:1EUR6,");
    let p = parse(bad.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert!(p.rows.iter().all(|r| r.control_failure), "a report whose sums disagree is not accepted");
}

#[test]
fn camt_batch_split_and_namespaces() {
    let x = r#"<Document xmlns:c="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><c:BkToCstmrStmt><c:Stmt><c:Id>S</c:Id>
<c:Acct><c:Id><c:IBAN>DE1</c:IBAN></c:Id></c:Acct>
<c:Ntry><c:Amt Ccy="EUR">3.00</c:Amt><c:CdtDbtInd>CRDT</c:CdtDbtInd><c:Sts><c:Cd>BOOK</c:Cd></c:Sts><c:AcctSvcrRef>R</c:AcctSvcrRef>
<c:NtryDtls><c:TxDtls><c:Amt Ccy="EUR">1.00</c:Amt><c:CdtDbtInd>CRDT</c:CdtDbtInd></c:TxDtls>
<c:TxDtls><c:Amt Ccy="EUR">2.00</c:Amt><c:CdtDbtInd>CRDT</c:CdtDbtInd></c:TxDtls></c:NtryDtls></c:Ntry>
<c:Ntry><c:Amt Ccy="EUR">3.00</c:Amt><c:CdtDbtInd>CRDT</c:CdtDbtInd><c:AcctSvcrRef>Q</c:AcctSvcrRef>
<c:NtryDtls><c:TxDtls><c:Amt Ccy="EUR">1.00</c:Amt></c:TxDtls><c:TxDtls><c:Amt Ccy="EUR">1.00</c:Amt></c:TxDtls></c:NtryDtls></c:Ntry>
</c:Stmt></c:BkToCstmrStmt></Document>"#;
    assert_eq!(detect(x.as_bytes()), Format::Camt(53));
    let p = parse(x.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = p.rows.iter().map(|r| get(r, "txn_id")).collect();
    // The first batch adds up and is split; the second does not and stays one row.
    assert_eq!(ids, ["R/1", "R/2", "Q"]);
    assert_eq!(get(&p.rows[2], "amount"), "3.00");
}

#[test]
fn camt_refuses_hostile_xml() {
    let bomb = br#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><Document><BkToCstmrStmt><Stmt><Id>&b;</Id></Stmt></BkToCstmrStmt></Document>"#;
    assert!(matches!(camt::document(bomb), Err(reckon_formats::FormatError::Xml(m)) if m.contains("DOCTYPE")));
    let deep = format!("<Document><BkToCstmrStmt>{}</BkToCstmrStmt></Document>", "<a>".repeat(100));
    assert!(camt::document(deep.as_bytes()).is_err());
}

#[test]
fn bai2_funds_types_and_directions() {
    assert_eq!(bai2::is_credit("195"), Some(true));
    assert_eq!(bai2::is_credit("475"), Some(false));
    assert_eq!(bai2::is_credit("015"), None);
    assert_eq!(bai2::is_credit("930"), Some(true));
    assert_eq!(bai2::is_credit("970"), Some(false));
    let f = "01,B,C,260304,0800,1,,,2/\n02,C,B,1,260304,,JPY,2/\n03,1,,010,1000,,/\n\
16,195,500,D,2,0,250,1,250,BR1,CR1,TEXT, WITH COMMA\n88,AND MORE\n16,495,100,V,260305,,BR2,,OUT\n\
49,1600,5/\n98,1600,1,7/\n99,1600,1,9/\n";
    let (a, _) = bai2::accounts(f.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a[0].currency, "JPY", "currency defaults from the group");
    assert_eq!(a[0].details[0].bank_ref, "BR1");
    assert_eq!(a[0].details[0].text, "TEXT, WITH COMMA AND MORE");
    assert_eq!(a[0].details[1].bank_ref, "BR2");
    let p = parse(f.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(get(&p.rows[0], "amount"), "500", "JPY has no minor unit");
    assert_eq!(get(&p.rows[1], "amount"), "-100");
}

#[test]
fn x12_separators_come_from_isa() {
    let isa =
        "ISA|00|          |00|          |ZZ|A              |ZZ|B              |260302|0900|U|00401|000000001|0|P|^\n";
    let body = "ST|820|1\nBPR|C|10.00|C\nTRN|1|T1\nN1|PR|PAYER\nRMR|IV|INV1||10.00\nSE|6|1\n";
    // The segment terminator is a newline here (position 105 of the ISA), the element separator '|'.
    let p = x12::parse(format!("{isa}{body}").as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.target, Target::Remittances);
    assert_eq!(get(&p.rows[0], "invoice_ref"), "INV1");
    assert_eq!(get(&p.rows[0], "payment_ref"), "T1");
    assert!(p.controls.iter().all(|c| c.ok), "{:?}", p.controls);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    #[test]
    fn no_parser_panics(bytes in prop::collection::vec(any::<u8>(), 0..600), prefix in 0usize..5) {
        let heads: [&[u8]; 5] = [b"", b":20:X\n:25:Y\n:61:", b"01,", b"<Document><BkToCstmrStmt>", b"ISA*00*"];
        let mut input = heads[prefix].to_vec();
        input.extend(bytes);
        let _ = parse(&input);
        let _ = mt940::statements(&input);
        let _ = camt::document(&input);
        let _ = bai2::accounts(&input);
        let _ = x12::segments(&input);
    }
}

#[test]
fn row_buffer_keeps_position_and_values_apart() {
    let mut r = reckon_formats::Row::numbered(7, &["stmt ", " :61: #"], [2, 15]);
    assert_eq!(r.position(), "stmt 2 :61: #15");
    r.set("txn_id", "B1");
    r.set("description", "");
    r.set_minor("amount", -123_405, 2);
    r.set_parts("bank_code", &["NTRF", "/", "166"]);
    r.set("amount", "1.00");
    assert_eq!(r.get("amount"), Some("1.00"), "a later value wins");
    assert_eq!(r.get("description"), None, "empty values are not set");
    r.unset("amount");
    assert_eq!(r.get("amount"), None);
    let v: Vec<(&str, &str)> = r.values().collect();
    assert_eq!(v, vec![("txn_id", "B1"), ("bank_code", "NTRF/166")]);
    let json = serde_json::to_value(&r).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json["position"], "stmt 2 :61: #15");
    assert_eq!(json["values"][1][1], "NTRF/166");
    assert_eq!(reckon_formats::Row::new(1, "Stmt[1]/Ntry[4]").position(), "Stmt[1]/Ntry[4]");
}

/// Charges the banks deducted from a credit: camt `Chrgs/Rcrd` whose
/// `ChrgInclInd` is true (in the transaction's details, else the entry's),
/// MT940 `/CHGS/` in the statement line or `:86:`, become `charges_amount`;
/// charges not included in the amount, credited back, in another currency,
/// of zero, or on a debit add nothing; charges that cannot be read refuse the
/// row, naming them.
#[test]
fn charges_deducted_from_credits() {
    let ntry = |r: &str, amt: &str, dir: &str, tx_chrgs: &str, ntry_chrgs: &str| {
        format!(
            r#"<Ntry><Amt Ccy="EUR">{amt}</Amt><CdtDbtInd>{dir}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><AcctSvcrRef>{r}</AcctSvcrRef>{ntry_chrgs}
<NtryDtls><TxDtls>{tx_chrgs}</TxDtls></NtryDtls></Ntry>"#
        )
    };
    let rec = |amt: &str, ccy: &str, incl: &str, dir: &str| {
        format!(
            r#"<Rcrd><Amt Ccy="{ccy}">{amt}</Amt><CdtDbtInd>{dir}</CdtDbtInd><ChrgInclInd>{incl}</ChrgInclInd></Rcrd>"#
        )
    };
    let chrgs = |recs: &[String]| {
        format!("<Chrgs><TtlChrgsAndTaxAmt Ccy=\"EUR\">0</TtlChrgsAndTaxAmt>{}</Chrgs>", recs.concat())
    };
    let entries = [
        // Two records deducted: 25.00 + 15.00.
        ntry(
            "A",
            "1194.56",
            "CRDT",
            &chrgs(&[rec("25.00", "EUR", "true", "DBIT"), rec("15.00", "EUR", "true", "DBIT")]),
            "",
        ),
        // Charged separately, not from the amount.
        ntry("B", "1234.56", "CRDT", &chrgs(&[rec("15.00", "EUR", "false", "DBIT")]), ""),
        // At the entry's level.
        ntry("C", "985.00", "CRDT", "", &chrgs(&[rec("15.00", "EUR", "true", "DBIT")])),
        // In another currency than the entry: not evidence for its amount.
        ntry("D", "985.00", "CRDT", &chrgs(&[rec("15.00", "USD", "true", "DBIT")]), ""),
        // A debit's charges are not a credit's shortfall.
        ntry("E", "100.00", "DBIT", &chrgs(&[rec("5.00", "EUR", "true", "DBIT")]), ""),
        // Charges that cannot be read refuse the row, naming them.
        ntry("F", "985.00", "CRDT", &chrgs(&[rec("15,0x", "EUR", "true", "DBIT")]), ""),
    ];
    let x = format!(
        r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt><Stmt><Id>S</Id>
<Acct><Id><IBAN>DE1</IBAN></Id></Acct>{}</Stmt></BkToCstmrStmt></Document>"#,
        entries.concat()
    );
    let p = parse(x.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<(&str, &str)> = p.rows.iter().map(|r| (get(r, "amount"), get(r, "charges_amount"))).collect();
    assert_eq!(
        got,
        [("1194.56", "40.00"), ("1234.56", ""), ("985.00", "15.00"), ("985.00", ""), ("-100.00", ""), ("985.00", "")]
    );
    // (The statement has no balances, so every row carries that reason too; a
    // row's own reason comes first.)
    let charges_rejects: Vec<bool> =
        p.rows.iter().map(|r| r.reject.as_deref().is_some_and(|r| r.contains("charges"))).collect();
    assert_eq!(charges_rejects, [false, false, false, false, false, true]);
    assert!(p.rows[5].reject.as_deref().is_some_and(|r| r.contains("charges amount '15,0x' EUR")));

    let f = ":20:A\n:25:X\n:28C:1/1\n:60F:C260301EUR0,\n\
:61:2603020302CR1194,56NTRFNONREF//B1\n/CHGS/EUR40,00/\n:86:/REMI/USTD//INV-77/\n\
:61:2603020302CR10,NTRFNONREF//B2\n:86:/REMI/USTD//INV-78//CHGS/EUR0,/\n\
:61:2603020302CR20,NTRFNONREF//B3\n:86:/CHGS/USD5,/REMI/USTD//INV-79/\n\
:61:2603020302DR5,NTRFNONREF//B4\n:86:/CHGS/EUR1,/\n\
:62F:C260302EUR1219,56\n-\n";
    let p = parse(f.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<(&str, &str, &str)> =
        p.rows.iter().map(|r| (get(r, "amount"), get(r, "charges_amount"), get(r, "description"))).collect();
    assert_eq!(
        got,
        [("1194.56", "40.00", "INV-77"), ("10.00", "", "INV-78"), ("20.00", "", "INV-79"), ("-5.00", "", "")]
    );
    assert!(p.rows.iter().all(|r| r.reject.is_none()), "{:?}", p.rows.iter().map(|r| &r.reject).collect::<Vec<_>>());
    assert_eq!(mt940::charges_amount("/CHGS/EUR12,5/"), Some(("EUR".to_string(), "12.5".to_string())));
    let f = ":20:A\n:25:X\n:28C:1/1\n:60F:C260301EUR0,\n:61:2603020302CR5,NTRFNONREF//B5\n/CHGS/EUR1,2,3/\n:62F:C260302EUR5,\n-\n";
    let p = parse(f.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert!(p.rows[0].reject.as_deref().is_some_and(|r| r.contains("/CHGS/")), "{:?}", p.rows[0].reject);
}

/// Cross-currency payments: what the payer instructed before the bank converted it
/// (camt `AmtDtls/InstdAmt`, MT940 `/OCMT/`) becomes `instructed_amount` /
/// `instructed_currency`, signed like the entry; the same currency adds nothing.
#[test]
fn instructed_amounts_of_cross_currency_payments() {
    let x = r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt><Stmt><Id>S</Id>
<Acct><Id><IBAN>DE1</IBAN></Id></Acct>
<Ntry><Amt Ccy="EUR">921.34</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><AcctSvcrRef>A</AcctSvcrRef>
<NtryDtls><TxDtls><AmtDtls><InstdAmt><Amt Ccy="USD">1000.00</Amt></InstdAmt>
<TxAmt><Amt Ccy="EUR">921.34</Amt></TxAmt></AmtDtls></TxDtls></NtryDtls></Ntry>
<Ntry><Amt Ccy="EUR">65.10</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><AcctSvcrRef>B</AcctSvcrRef>
<NtryDtls><TxDtls><AmtDtls><InstdAmt><Amt Ccy="JPY">10500</Amt></InstdAmt></AmtDtls></TxDtls></NtryDtls></Ntry>
<Ntry><Amt Ccy="EUR">5.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><AcctSvcrRef>C</AcctSvcrRef>
<NtryDtls><TxDtls><AmtDtls><InstdAmt><Amt Ccy="EUR">5.00</Amt></InstdAmt></AmtDtls></TxDtls></NtryDtls></Ntry>
</Stmt></BkToCstmrStmt></Document>"#;
    let p = parse(x.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<(&str, &str, &str)> =
        p.rows.iter().map(|r| (get(r, "amount"), get(r, "instructed_amount"), get(r, "instructed_currency"))).collect();
    assert_eq!(got, [("921.34", "1000.00", "USD"), ("-65.10", "-10500", "JPY"), ("5.00", "", "")]);

    let f = ":20:A\n:25:X\n:28C:1/1\n:60F:C260301EUR0,\n\
:61:2603020302CR921,34NTRFNONREF//B1\n/OCMT/USD1000,/CHGS/EUR0,\n:86:/REMI/USTD//INV-77/\n\
:61:2603020302CR10,NTRFNONREF//B2\n:86:/OCMT/GBP8,75//REMI/USTD//INV-78/\n\
:62F:C260302EUR931,34\n-\n";
    let p = parse(f.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<(&str, &str, &str)> =
        p.rows.iter().map(|r| (get(r, "amount"), get(r, "instructed_amount"), get(r, "instructed_currency"))).collect();
    assert_eq!(got, [("921.34", "1000.00", "USD"), ("10.00", "8.75", "GBP")]);
    // The amount codes are data, not text for a person.
    assert_eq!(get(&p.rows[0], "description"), "INV-77");
    assert_eq!(mt940::original_amount("/OCMT/eur1,00/"), None);
    let f = ":20:A\n:25:X\n:28C:1/1\n:60F:C260301EUR0,\n\
:61:2603020302CR5,NTRFNONREF//B3\nPAYMENT /OCMT/USD5,4/ THANKS\n:62F:C260302EUR5,\n-\n";
    let p = parse(f.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(get(&p.rows[0], "description"), "PAYMENT THANKS");
    assert_eq!(get(&p.rows[0], "instructed_amount"), "5.40");
}

/// Statement sums are taken in i128: entries whose sum leaves i64 neither panic
/// nor wrap into a statement that seems to tie out. The credits below add up to
/// 2^64 + 100 minor units: in wrapping i64 arithmetic 1.00, the closing balance
/// given. (MT940 amounts have at most 15 characters, so it takes 184,468 of them.)
#[test]
fn statement_sums_do_not_wrap() {
    let big = 99_999_999_999_999i128;
    let rest = (1i128 << 64) + 100 - 184_467 * big;
    assert_eq!(rest, 44_073_709_736_183);
    let mut f = String::from(":20:A\n:25:X\n:28C:1/1\n:60F:C260301EUR0,\n");
    for k in 0..184_467 {
        f.push_str(&format!(":61:2603020302C999999999999,99NTRFNONREF//B{k}\n"));
    }
    f.push_str(":61:2603020302C440737097361,83NTRFNONREF//BX\n:62F:C260302EUR1,00\n-\n");
    let p = parse(f.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.rows.len(), 184_468);
    // Every row read, and every row rejected with the statement's difference.
    assert!(p.rows.iter().all(|r| r.control_failure), "{:?}", p.rows[0].reject);
    let c = p.controls.iter().find(|c| !c.ok).unwrap_or_else(|| panic!("no failed control: {:?}", p.controls));
    assert!(c.detail.contains("184467440737095517.16"), "{}", c.detail);
    // camt amounts may have 18 digits: 1,844 credits of 99,999,999,999,999.99 and one of
    // 67,440,737,095,535.60 make the same 2^64 + 100.
    assert_eq!((1i128 << 64) + 100 - 1844 * 9_999_999_999_999_999i128, 6_744_073_709_553_560);
    let mut x = String::from(
        r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt><Stmt><Id>S</Id>
<Acct><Id><IBAN>DE1</IBAN></Id></Acct>
<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></Bal>
<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></Bal>
"#,
    );
    for k in 0..1845 {
        let amt = if k < 1844 { "99999999999999.99" } else { "67440737095535.60" };
        x.push_str(&format!(
            "<Ntry><Amt Ccy=\"EUR\">{amt}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><AcctSvcrRef>R{k}</AcctSvcrRef></Ntry>\n"
        ));
    }
    x.push_str("</Stmt></BkToCstmrStmt></Document>");
    let p = parse(x.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.rows.len(), 1845);
    assert!(p.controls.iter().any(|c| !c.ok), "camt: {:?}", p.controls);
    // X12 820 (found by the x12 fuzz target): two RMR04 of 50,000,000,000,000,002.00
    // pass i64 together; BPR02 may not be compared with a wrapped sum, and an ADX
    // adjustment beyond i64 refuses its line.
    let isa =
        "ISA|00|          |00|          |ZZ|A              |ZZ|B              |260302|0900|U|00401|000000001|0|P|^\n";
    let body = "ST|820|1\nBPR|C|10.00|C\nTRN|1|T1\nRMR|IV|INV1||50000000000000002.00\nRMR|IV|INV2||50000000000000002.00\n\
ADX|-50000000000000002.00|01\nADX|-50000000000000002.00|01\nSE|7|1\n";
    let p = x12::parse(format!("{isa}{body}").as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let c = p.controls.iter().find(|c| c.check == "payment_total").unwrap_or_else(|| panic!("{:?}", p.controls));
    assert!(!c.ok && c.detail.contains("sum of RMR04 100000000000000004.00"), "{}", c.detail);
    assert!(
        p.rows[1].reject.as_deref().is_some_and(|r| r.contains("ADX adjustments total beyond")),
        "{:?}",
        p.rows[1].reject
    );
}

fn rejects(p: &reckon_formats::Parsed) -> Vec<String> {
    p.rows.iter().filter_map(|r| r.reject.clone()).collect()
}

/// MT940 (SWIFT Category 9, MT940 fields 60a/61/86/62a): a line that is only `-`
/// inside wrapped `:86:` text is text, not the end of the message — the
/// entries after it and the closing balance still count.
#[test]
fn mt940_dash_line_inside_86_text() {
    let f = ":20:STMT\n:25:DE89370400440532013000\n:28C:7/1\n:60F:C260301EUR100,00\n\
:61:2603020302C10,00NTRFNONREF//B1\n:86:166?00GUTSCHRIFT?20Rechnung 4711\n-\n?21Rest des Textes\n\
:61:2603020302D5,00NTRFNONREF//B2\n:86:Gebuehr\n:62F:C260302EUR105,00\n-\n";
    let p = parse(f.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.rows.len(), 2, "the entry after the dash line is kept");
    assert!(rejects(&p).is_empty(), "{:?}", rejects(&p));
    assert!(p.controls.iter().any(|c| c.check == "balance" && c.ok), "{:?}", p.controls);
    // The dash that really ends a message before the next :20: still ends it.
    let two = format!("{f}{}", f.replace(":20:STMT", ":20:STMT2"));
    let p = parse(two.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((p.statements, p.rows.len()), (2, 4));
}

/// A statement whose balances cannot be read, or that has none, is refused row
/// by row with the reason; a zero-padded amount and a banks' 31 November are read.
#[test]
fn mt940_balances_tie_out_or_refuse_the_statement() {
    let stmt = |open: &str, close: &str| {
        format!(":20:S\n:25:X\n:28C:1/1\n{open}:61:2611300302C10,00NTRFNONREF//B1\n:86:text\n{close}-\n")
    };
    let ok = parse(stmt(":60F:C261130EUR0000000000000000100,00\n", ":62F:C261131EUR110,\n").as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(rejects(&ok).is_empty(), "{:?}", rejects(&ok));
    assert!(ok.controls.iter().all(|c| c.ok), "{:?}", ok.controls);
    for (open, close, why) in [
        (":60F:C261130EUR100,00\n", ":62F:C000000EUR110,00\n", ":62F: on line 7: date '000000'"),
        (":60F:C261130EUR100,00\n", ":62F:C261130EUR110.00\n", "amount '110.00' is not a SWIFT amount"),
        (":60F:X261130EUR100,00\n", ":62F:C261130EUR110,00\n", ":60F: on line 4: 'X261130EUR100,00' does not start"),
        (":60F:C261130EUR100,00\n", "", "no closing balance"),
        ("", ":62F:C261130EUR110,00\n", "no opening balance"),
        // Found by the mt940 fuzz target (a subtraction that underflowed).
        (":60F:C261130EUR\n", ":62F:C261130EUR110,00\n", "amount '' is not a SWIFT amount"),
    ] {
        let p = parse(stmt(open, close).as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let r = rejects(&p);
        assert_eq!(r.len(), 1, "{why}: the row is refused, not dropped or loaded");
        assert!(r[0].contains("cannot be tied out") && r[0].contains(why), "{why}: {}", r[0]);
        assert!(p.controls.iter().any(|c| !c.ok && c.detail.contains(why)), "{why}: {:?}", p.controls);
    }
}

/// `:61:` subfield 2 (entry date, MMDD) is optional; a bank that leaves it blank
/// writes four spaces. A decimal point in the amount is named as such.
#[test]
fn mt940_blank_entry_date_and_decimal_point() {
    let f = ":20:S\n:25:X\n:28C:1/1\n:60F:C260301EUR0,\n:61:260302    C10,00NTRFNONREF//B1\n:62F:C260302EUR10,\n-\n";
    let st = mt940::statements(f.as_bytes());
    assert_eq!(st[0].entries[0].entry_date, None);
    assert_eq!(st[0].entries[0].problem, None);
    let p = parse(f.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert!(rejects(&p).is_empty(), "{:?}", rejects(&p));
    let f = ":20:S\n:25:X\n:28C:1/1\n:60F:C260301EUR0,\n:61:2603020302C10.00NTRFNONREF//B1\n:62F:C260302EUR10,\n-\n";
    let st = mt940::statements(f.as_bytes());
    let why = st[0].entries[0].problem.clone().unwrap_or_default();
    assert!(why.contains("decimal point") && why.contains("10.00"), "{why}");
}

/// Structured `:86:` of the Dutch banks (Rabobank "Format description MT940
/// Structured" 1.5.3, field 86): `/TRCD/` first, the name after `/ORDP//NAME/`,
/// wrapped at 65 characters mid-word and mid-code.
#[test]
fn mt940_slash_coded_86_with_wrapped_name() {
    let info = "/TRCD/00100/EREF/E2E-2026-0042/ORDP//NAME/Acme Industrial Supplies Neder\n\
land B.V./ADDR/Straat 1 Utrecht/REMI/USTD//INV-2026-0042 INV-2026-0043/ISD\n\
T/2026-03-02/CSID/NL99ZZZ999999990000";
    let d = mt940::details(info);
    assert_eq!(d.name.as_deref(), Some("Acme Industrial Supplies Nederland B.V."));
    assert_eq!(d.end_to_end_id.as_deref(), Some("E2E-2026-0042"));
    assert_eq!(d.description.as_deref(), Some("INV-2026-0042 INV-2026-0043"));
    assert_eq!(d.code.as_deref(), Some("00100"));
    // ING: counterparty in /CNTP/account/BIC/name/city/, structured creditor reference.
    let d = mt940::details(
        "/CNTP/NL69INGB0123456789/INGBNL2A/Beta Trading/Amsterdam/PURP//REMI/STRD/CUR/RF18539007547034/CDTRREFTP//CD/SCOR/ISSR/CUR/CDTRREF/RF18539007547034/EREF/NOTPROVIDED",
    );
    assert_eq!(d.name.as_deref(), Some("Beta Trading"));
    assert_eq!(d.account.as_deref(), Some("NL69INGB0123456789"));
    assert_eq!(d.reference.as_deref(), Some("RF18539007547034"));
    assert_eq!(d.end_to_end_id, None);
    // Through a whole statement: the row carries the name and the end-to-end id.
    let f = format!(
        ":20:S\n:25:NL91RABO0123456789\n:28C:1/1\n:60F:C260301EUR0,\n:61:2603020302C10,00NTRFNONREF//B1\n:86:{info}\n:62F:C260302EUR10,\n-\n"
    );
    let p = parse(f.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(get(&p.rows[0], "counterparty_name"), "Acme Industrial Supplies Nederland B.V.");
    assert_eq!(get(&p.rows[0], "end_to_end_id"), "E2E-2026-0042");
}

/// BAI2 (Cash Management Balance Reporting Specifications, version 2): an `03`
/// record whose summaries run on in an `88` after a trailing `,/` sums every
/// summary; an `88` after a `16` that ended before its text is the text, not
/// part of the customer reference.
#[test]
fn bai2_continuations_of_summaries_and_detail_text() {
    let f = "01,122099999,123456789,260302,0200,1,80,,2/\n\
02,031001234,122099999,1,260301,2359,USD,2/\n\
03,0975312468,USD,010,500000,,,/\n\
88,015,503000,,,040,490000,,/\n\
16,195,5000,,001,CUST77/\n\
88,Payment from ACME CORP INV 4711\n\
16,475,2000,,003,,CHECK 998 paid/\n\
49,1500000,6/\n\
98,1500000,1,8/\n\
99,1500000,1,10/\n";
    let p = parse(f.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert!(p.controls.iter().all(|c| c.ok), "{:?}", p.controls);
    assert_eq!(p.rows.len(), 2);
    assert_eq!(get(&p.rows[0], "reference"), "CUST77");
    assert!(get(&p.rows[0], "description").contains("Payment from ACME CORP INV 4711"), "{:?}", p.rows[0]);
    assert!(get(&p.rows[1], "description").contains("CHECK 998 paid"), "{:?}", p.rows[1]);
    let (accounts, _) = bai2::accounts(f.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let codes: Vec<&str> = accounts[0].summaries.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(codes, ["010", "015", "040"]);
}

/// Found by the bai2 fuzz target: a funds type D whose distribution count is
/// corrupt (25 digits) made an 88 continuation pad the record to that count
/// (gigabytes). The count is bounded by the pairs the record holds.
#[test]
fn bai2_corrupt_distribution_count_is_bounded() {
    let f = "01,122099999,123456789,260302,0200,1,80,,2/\n\
02,031001234,122099999,1,260301,2359,USD,2/\n\
03,0975312468,USD,010,500000,,,/\n\
16,165,1500,D,2555555555555555555,1,1500/\n\
88,more text\n\
49,501500,4/\n\
98,501500,1,6/\n\
99,501500,1,8/\n";
    let recs = bai2::records(f).unwrap_or_else(|e| panic!("{e}"));
    let detail = recs.iter().find(|r| r.code == "16").unwrap_or_else(|| panic!("no 16"));
    assert!(detail.fields.len() < 16, "{} fields", detail.fields.len());
    assert_eq!(detail.fields.last().map(|f| f.as_ref()), Some("more text"));
    let p = parse(f.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.rows.len(), 1);
}

/// camt.053: text given only in `TxDtls/AddtlTxInf` is the description; camt
/// (.001.08, Party40Choice): a counterparty given as a financial institution
/// (`RltdPties/Cdtr/Agt/FinInstnId/Nm`) has its name.
#[test]
fn camt_transaction_text_and_agent_parties() {
    let x = r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt><Stmt><Id>S</Id>
<Acct><Id><IBAN>DE1</IBAN></Id></Acct>
<Ntry><Amt Ccy="EUR">42.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><AcctSvcrRef>A</AcctSvcrRef>
<NtryDtls><TxDtls><RltdPties><Dbtr><Agt><FinInstnId><BICFI>COBADEFFXXX</BICFI><Nm>Commerzbank AG</Nm></FinInstnId></Agt></Dbtr></RltdPties>
<AddtlTxInf>GUTSCHRIFT RE 2026-0815 KD 4711</AddtlTxInf></TxDtls></NtryDtls></Ntry>
</Stmt></BkToCstmrStmt></Document>"#;
    let p = parse(x.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(get(&p.rows[0], "description"), "GUTSCHRIFT RE 2026-0815 KD 4711");
    assert_eq!(get(&p.rows[0], "counterparty_name"), "Commerzbank AG");
    let n = r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"><BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>N1</MsgId><CreDtTm>2026-03-02T10:00:00</CreDtTm></GrpHdr><Ntfctn><Id>N</Id>
<Acct><Id><IBAN>DE1</IBAN></Id></Acct>
<Ntry><Amt Ccy="EUR">100.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
<NtryDtls><TxDtls><Refs><EndToEndId>E2E-1</EndToEndId></Refs><AmtDtls><TxAmt><Amt Ccy="EUR">100.00</Amt></TxAmt></AmtDtls>
<RltdPties><Cdtr><Agt><FinInstnId><Nm>Clearing House Ltd</Nm></FinInstnId></Agt></Cdtr></RltdPties>
<RmtInf><Strd><RfrdDocInf><Nb>INV-9</Nb></RfrdDocInf><RfrdDocAmt><RmtdAmt Ccy="EUR">100.00</RmtdAmt></RfrdDocAmt></Strd></RmtInf>
</TxDtls></NtryDtls></Ntry></Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"#;
    let p = parse(n.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.rows.len(), 1, "{:?}", p.rows);
    assert_eq!(get(&p.rows[0], "payer_name"), "Clearing House Ltd");
    assert_eq!(get(&p.rows[0], "invoice_ref"), "INV-9");
}

/// A camt.053 statement without its closing (or opening) balance cannot be tied
/// out: its rows are refused with the reason. An intraday camt.052 report has
/// no such duty.
#[test]
fn camt053_without_balances_is_refused() {
    let doc = |msg: &str, root: &str, bal: &str| {
        format!(
            r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:{msg}"><{root}><Stmt><Id>S</Id><Acct><Id><IBAN>DE1</IBAN></Id></Acct>{bal}
<Ntry><Amt Ccy="EUR">10.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><AcctSvcrRef>A</AcctSvcrRef></Ntry></Stmt></{root}></Document>"#
        )
    };
    let opbd = r#"<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></Bal>"#;
    let clbd = r#"<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">10.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></Bal>"#;
    for (bal, why) in [(opbd.to_string(), "no closing balance"), (clbd.to_string(), "no opening balance")] {
        let p = parse(doc("camt.053.001.08", "BkToCstmrStmt", &bal).as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let r = rejects(&p);
        assert_eq!(r.len(), 1, "{why}");
        assert!(r[0].contains(why), "{}", r[0]);
    }
    let p = parse(doc("camt.053.001.08", "BkToCstmrStmt", &format!("{opbd}{clbd}")).as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(rejects(&p).is_empty() && p.controls.iter().all(|c| c.ok), "{:?}", p.controls);
    let p = parse(
        doc("camt.052.001.08", "BkToCstmrAcctRpt", "")
            .replace("<Stmt>", "<Rpt>")
            .replace("</Stmt>", "</Rpt>")
            .as_bytes(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.rows.len(), 1);
    assert!(rejects(&p).is_empty(), "{:?}", rejects(&p));
}
