//! One small case per payment pattern, the ambiguity trap, and thread-count independence.

use reckon_cash::{Band, Customer, MatchConfig, OpenItem, PayerNameForm, Receipt, RemittanceLine, run};

fn item(id: &str, cust: &str, inv: &str, amount: i64, day: i32) -> OpenItem {
    OpenItem {
        item_id: id.into(),
        entity: "DE01".into(),
        customer_id: cust.into(),
        customer_name: String::new(),
        invoice_number: inv.into(),
        invoice_date: day,
        due_date: Some(day + 30),
        amount,
        currency: "EUR".into(),
    }
}

fn receipt(id: &str, amount: i64, name: &str, iban: &str, reference: &str, desc: &str) -> Receipt {
    Receipt {
        txn_id: id.into(),
        booking_date: 20_540,
        amount,
        currency: "EUR".into(),
        counterparty_name: name.into(),
        counterparty_account: iban.into(),
        end_to_end_id: String::new(),
        reference: reference.into(),
        description: desc.into(),
        instructed: None,
        charges: None,
        name_form: PayerNameForm::Whole,
        payer_ref: String::new(),
    }
}

fn customers() -> Vec<Customer> {
    vec![
        Customer {
            customer_id: "C1".into(),
            name: "Müller Maschinenbau GmbH".into(),
            aliases: vec![],
            ibans: vec!["DE02120300000000202051".into()],
            tax_id: String::new(),
            payer_ids: vec![],
        },
        Customer {
            customer_id: "C2".into(),
            name: "Atlas Foods Ltd".into(),
            aliases: vec!["ATLAS FOODS UK".into()],
            ibans: vec![],
            tax_id: String::new(),
            payer_ids: vec![],
        },
    ]
}

/// A customer master known by name (and one alias, unless empty) alone.
fn master(id: &str, name: &str, alias: &str) -> Customer {
    Customer {
        customer_id: id.into(),
        name: name.into(),
        aliases: if alias.is_empty() { vec![] } else { vec![alias.into()] },
        ibans: vec![],
        tax_id: String::new(),
        payer_ids: vec![],
    }
}

fn items() -> Vec<OpenItem> {
    vec![
        item("AR1", "C1", "9010000942", 123_456, 20_500),
        item("AR2", "C1", "9010000943", 50_000, 20_505),
        item("AR3", "C1", "CN-9010000944", -10_000, 20_506),
        item("AR4", "C2", "INV-100140", 200_000, 20_500),
        item("AR5", "C2", "INV-100141", 75_000, 20_510),
        item("AR6", "C2", "INV-100142", 75_000, 20_512),
        item("AR7", "C1", "9010000950", 80_000, 20_515),
    ]
}

fn applied(res: &reckon_cash::MatchResult, txn: &str) -> Vec<(String, i64)> {
    res.rows.iter().filter(|r| r.txn_id == txn).map(|r| (r.item_id.clone(), r.applied_minor)).collect()
}

fn status(res: &reckon_cash::MatchResult, txn: &str) -> &'static str {
    res.outcomes.iter().find(|o| o.txn_id == txn).map_or("missing", |o| o.status.as_str())
}

#[test]
fn patterns() {
    let cfg = MatchConfig::default();
    let receipts = vec![
        // exact reference, written with an OCR O and a prefix
        receipt("T1", 123_456, "MUELLER MASCHINENBAU", "DE02120300000000202051", "", "Rechnung 9O10000942"),
        // bank fee deducted (12.50)
        receipt("T2", 198_750, "ATLAS FOODS", "", "", "INV 100140"),
        // 1:N with a credit note netted: 500.00 + 800.00 - 100.00
        receipt("T3", 120_000, "Mueller Maschinenbau", "", "", "9010000943 9010000950 CN-9010000944"),
        // nobody's money
        receipt("T4", 4_711, "Kestrel Retail", "", "", "Deposit"),
        // name only, two open items of the same amount: the classic trap
        receipt("T5", 75_000, "Atlas Foods Ltd", "", "", "PAYMENT"),
    ];
    let res = run(&receipts, &items(), &customers(), &[], &cfg);
    assert_eq!(applied(&res, "T1"), [("AR1".to_string(), 123_456)]);
    assert_eq!(status(&res, "T1"), "auto");
    let t2: Vec<_> = res.rows.iter().filter(|r| r.txn_id == "T2").collect();
    assert_eq!(t2.len(), 1);
    assert_eq!(
        (t2[0].item_id.as_str(), t2[0].residual_minor, t2[0].residual_reason.as_str()),
        ("AR4", 1_250, "bank_fee")
    );
    assert_eq!(t2[0].band, Band::Auto, "a bank fee within tolerance clears at the default threshold");
    let strict = MatchConfig { auto_threshold: 0.97, ..MatchConfig::default() };
    let res_strict = run(&receipts, &items(), &customers(), &[], &strict);
    let t2s: Vec<_> = res_strict.rows.iter().filter(|r| r.txn_id == "T2").collect();
    assert_eq!(t2s[0].band, Band::Review, "above the fee's score it is a proposal for a person");
    let mut t3 = applied(&res, "T3");
    t3.sort();
    assert_eq!(t3, [("AR2".to_string(), 50_000), ("AR3".to_string(), -10_000), ("AR7".to_string(), 80_000)]);
    assert_eq!(status(&res, "T4"), "unmatched");
    assert_eq!(status(&res, "T5"), "ambiguous", "two equal open items must not be guessed");
    assert!(applied(&res, "T5").is_empty());
}

#[test]
fn discount_partial_split_overpayment_and_remittance() {
    let cfg = MatchConfig::default();
    let receipts = vec![
        // 2% discount on 2000.00
        receipt("D1", 196_000, "Atlas Foods", "", "", "INV-100140 less 2% skonto"),
        // split payment of AR1: two partials referencing it
        receipt("S1", 60_000, "Mueller", "DE02120300000000202051", "", "9010000942 1/2"),
        receipt("S2", 63_456, "Mueller", "DE02120300000000202051", "", "9010000942 2/2"),
        // overpayment of AR5
        receipt("O1", 80_000, "Atlas Foods", "", "INV-100141", ""),
        // remittance-linked 1:N with a deduction
        Receipt { end_to_end_id: "E2E-9".into(), ..receipt("R1", 120_000, "", "", "", "") },
    ];
    let remit = vec![
        RemittanceLine {
            remittance_id: "RA1".into(),
            payment_ref: "E2E-9".into(),
            advice_date: None,
            arrived: None,
            invoice_ref: "9010000943".into(),
            paid: 45_000,
            discount: 0,
            deduction: 5_000,
            currency: "EUR".into(),
        },
        RemittanceLine {
            remittance_id: "RA1".into(),
            payment_ref: "E2E-9".into(),
            advice_date: None,
            arrived: None,
            invoice_ref: "9010000950".into(),
            paid: 75_000,
            discount: 0,
            deduction: 5_000,
            currency: "EUR".into(),
        },
    ];
    let res = run(&receipts, &items(), &customers(), &remit, &cfg);
    // An advice without a payment reference is linked by its total and date.
    let unlinked = vec![RemittanceLine {
        remittance_id: "RA2".into(),
        payment_ref: String::new(),
        advice_date: Some(20_539),
        arrived: None,
        invoice_ref: "INV-100141".into(),
        paid: 75_000,
        discount: 0,
        deduction: 0,
        currency: "EUR".into(),
    }];
    let lone = run(&[receipt("U1", 75_000, "", "", "", "")], &items(), &customers(), &unlinked, &cfg);
    assert_eq!(applied(&lone, "U1"), [("AR5".to_string(), 75_000)]);
    assert_eq!(lone.rows[0].method.as_str(), "remittance_by_amount");
    let far = vec![RemittanceLine { advice_date: Some(20_500), ..unlinked[0].clone() }];
    let lone_far = run(&[receipt("U1", 75_000, "", "", "", "")], &items(), &customers(), &far, &cfg);
    assert!(applied(&lone_far, "U1").is_empty(), "an advice weeks away from the payment is not linked by amount");
    let d1: Vec<_> = res.rows.iter().filter(|r| r.txn_id == "D1").collect();
    assert_eq!((d1[0].item_id.as_str(), d1[0].residual_reason.as_str()), ("AR4", "discount"));
    assert_eq!(applied(&res, "S1"), [("AR1".to_string(), 60_000)]);
    assert_eq!(applied(&res, "S2"), [("AR1".to_string(), 63_456)], "the second part of a split payment");
    let o1: Vec<_> = res.rows.iter().filter(|r| r.txn_id == "O1").collect();
    assert_eq!(
        (o1[0].item_id.as_str(), o1[0].residual_minor, o1[0].residual_reason.as_str()),
        ("AR5", -5_000, "overpayment")
    );
    let r1: Vec<_> = res.rows.iter().filter(|r| r.txn_id == "R1").collect();
    assert_eq!(r1.len(), 2);
    assert!(r1.iter().all(|r| r.remittance_id.as_deref() == Some("RA1") && r.residual_reason.as_str() == "deduction"));
    // No open amount is used twice.
    let total_ar1: i64 = res.rows.iter().filter(|r| r.item_id == "AR1").map(|r| r.applied_minor).sum();
    assert!(total_ar1 <= 123_456);
}

#[test]
fn same_answer_at_any_thread_count() {
    let cfg = MatchConfig::default();
    let mut receipts = Vec::new();
    for k in 0..200 {
        receipts.push(receipt(
            &format!("T{k:03}"),
            [123_456, 198_750, 120_000, 75_000, 4_711][k % 5],
            "Atlas Foods",
            "",
            "",
            ["9010000942", "INV 100140", "", "PAYMENT", "x"][k % 5],
        ));
    }
    let pool = |n| rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap_or_else(|e| panic!("{e}"));
    let a = pool(1).install(|| run(&receipts, &items(), &customers(), &[], &cfg));
    let b = pool(8).install(|| run(&receipts, &items(), &customers(), &[], &cfg));
    assert_eq!(a.rows, b.rows);
    assert_eq!(a.outcomes, b.outcomes);
}

/// A collective payment that names only one of its invoices: the rest is made up
/// by the payer's other open items (credit notes netted). One exact completion is
/// the group; several (equal open amounts) make the receipt ambiguous with each
/// completion as a candidate — never the named invoice cleared as an overpayment.
#[test]
fn named_invoice_plus_the_payers_other_items() {
    let cfg = MatchConfig::default();
    let one = |r: Receipt| run(&[r], &items(), &customers(), &[], &cfg);
    // 1,234.56 named + 500.00 more.
    let res = one(receipt("R1", 173_456, "Mueller", "DE02120300000000202051", "", "RE 9010000942"));
    let mut got = applied(&res, "R1");
    got.sort();
    assert_eq!(got, [("AR1".to_string(), 123_456), ("AR2".to_string(), 50_000)]);
    assert_eq!(res.rows[0].residual_reason.as_str(), "none");
    // 2,000.00 named + 750.00, and the payer has two open items of 750.00.
    let res = one(receipt("R2", 275_000, "Atlas Foods Ltd", "", "", "INV-100140"));
    assert_eq!(status(&res, "R2"), "ambiguous");
    assert!(applied(&res, "R2").is_empty(), "must not clear INV-100140 with a 750.00 overpayment");
    let mut cands = res.outcomes[0].candidates.clone();
    cands.iter_mut().for_each(|g| g.sort());
    cands.sort();
    assert_eq!(cands, [vec!["AR4", "AR5"], vec!["AR4", "AR6"]]);
    // 800.00 named, 700.00 paid: the payer's 100.00 credit note nets the difference.
    let res = one(receipt("R3", 70_000, "Mueller", "DE02120300000000202051", "", "9010000950"));
    let mut got = applied(&res, "R3");
    got.sort();
    assert_eq!(got, [("AR3".to_string(), -10_000), ("AR7".to_string(), 80_000)]);
}

/// Payments made in another currency: a small difference to the open amount is an
/// FX difference (not a bank fee), a large one is not; an invoice billed in the
/// currency the payer instructed is matched on the instructed amount.
#[test]
fn cross_currency_payments() {
    let cfg = MatchConfig { model: "rules".into(), ..MatchConfig::default() };
    let mut its = items();
    its.push(OpenItem { currency: "USD".into(), ..item("AR9", "C1", "9010000990", 100_000, 20_510) });
    let fx = |id: &str, amount: i64, text: &str, instructed: Option<(i64, &str)>| Receipt {
        instructed: instructed.map(|(m, c)| (m, c.to_string())),
        ..receipt(id, amount, "Mueller", "DE02120300000000202051", "", text)
    };
    // 1,234.56 EUR open; 1,229.00 EUR credited for 1,060.00 GBP sent: 5.56 EUR is FX.
    let res = run(&[fx("F1", 122_900, "RE 9010000942", Some((106_000, "GBP")))], &its, &customers(), &[], &cfg);
    let r = &res.rows[0];
    assert_eq!((r.item_id.as_str(), r.residual_minor, r.residual_reason.as_str()), ("AR1", 556, "fx"));
    assert!(r.reasons.iter().any(|x| x.contains("FX difference") && x.contains("1060.00 GBP")), "{:?}", r.reasons);
    // The same short amount paid in the invoice's currency is a bank charge.
    let res = run(&[fx("F2", 122_900, "RE 9010000942", None)], &its, &customers(), &[], &cfg);
    assert_eq!(res.rows[0].residual_reason.as_str(), "bank_fee");
    // 4% short is beyond the FX tolerance: a partial payment, not an FX difference.
    let res = run(&[fx("F3", 118_518, "RE 9010000942", Some((102_000, "GBP")))], &its, &customers(), &[], &cfg);
    assert_eq!(res.rows[0].residual_reason.as_str(), "short_payment");
    // A USD invoice paid in USD, credited in EUR: matched on the instructed 1,000.00 USD.
    let res = run(&[fx("F4", 92_134, "9010000990", Some((100_000, "USD")))], &its, &customers(), &[], &cfg);
    let r = &res.rows[0];
    assert_eq!(
        (r.item_id.as_str(), r.applied_minor, r.currency.as_str(), r.residual_reason.as_str()),
        ("AR9", 100_000, "USD", "none")
    );
    assert!(r.reasons.iter().any(|x| x.contains("instructed")), "{:?}", r.reasons);
}

/// Charges the bank states it deducted from a credit (camt `Chrgs/Rcrd` with
/// `ChrgInclInd` true, MT940 `/CHGS/`) explain a residual of exactly that
/// much, beyond the cap that bounds charges no one states; a residual the bank
/// does not state, or states otherwise, is a short payment.
#[test]
fn charges_the_bank_states_explain_the_residual() {
    let cfg = MatchConfig { model: "rules".into(), ..MatchConfig::default() };
    let with = |id: &str, text: &str, charges: Option<i64>| Receipt {
        charges,
        ..receipt(id, 119_456, "Mueller", "DE02120300000000202051", "", text)
    };
    let reason = |r: Receipt| {
        let res = run(&[r], &items(), &customers(), &[], &cfg);
        res.rows.first().map(|r| (r.item_id.clone(), r.residual_minor, r.residual_reason.as_str(), r.reasons.clone()))
    };
    // 1,234.56 open, 1,194.56 credited: 40.00 short, above the 25.00 cap.
    for text in ["RE 9010000942", "PAYMENT"] {
        let r = reason(with("B1", text, Some(4_000))).unwrap_or_else(|| panic!("{text}: no match"));
        assert_eq!((r.0.as_str(), r.1, r.2), ("AR1", 4_000, "bank_fee"), "{text}: {:?}", r.3);
        assert!(r.3.iter().any(|x| x.contains("as the bank states")), "{:?}", r.3);
    }
    for charges in [None, Some(1_500)] {
        let r = reason(with("B2", "RE 9010000942", charges)).unwrap_or_else(|| panic!("no match"));
        assert_eq!((r.0.as_str(), r.2), ("AR1", "short_payment"), "{charges:?}: {:?}", r.3);
    }
}

/// A bank that abbreviates payer names word by word (`QUAN ELEK COMP`) and
/// writes references as SWIFT MT103 field 70 codes them (`/INV/<YYMMDD>
/// <invoice>`): the payer is the master the name abbreviates, not the one
/// Jaro–Winkler ranks first (`Quantum Logistik`), its invoice is cleared
/// without a payer conflict, and the code's date is not an invoice number. A
/// payer known by its IBAN paying another company's invoice is still for a
/// person.
#[test]
fn a_bank_that_abbreviates_names_and_codes_references() {
    let cfg = MatchConfig::default();
    let mut cust = customers();
    cust.push(master("Q1", "Quantum Logistik GmbH", ""));
    cust.push(master("Q2", "Quantum Elektrotechnik und Components Vertriebsgesellschaft S.A.", ""));
    let mut its = items();
    let named = |mut it: OpenItem, name: &str| {
        it.customer_name = name.into();
        it
    };
    its.push(named(item("ARQ1", "Q1", "9010000811", 90_000, 20_500), "Quantum Logistik GmbH"));
    its.push(named(
        item("ARQ2", "Q2", "9010000777", 100_000, 20_500),
        "Quantum Elektrotechnik und Components Vertriebsgesellschaft S.A.",
    ));
    let receipts = vec![
        receipt("A1", 100_000, "QUAN ELEK COMP", "", "", "/INV/260515 9010000777"),
        // 6.85 paid over: the date after /INV/ is no other invoice held back for.
        receipt("A2", 75_685, "ATLAS FOODS", "", "", "/INV/260515 INV-100141"),
        // Müller's IBAN, Quantum's invoice.
        receipt("A3", 100_000, "MUELLER MASCHINENBAU", "DE02120300000000202051", "", "/INV/260515 9010000777"),
    ];
    let res = run(&receipts, &its, &cust, &[], &cfg);
    let reasons = |t: &str| -> String {
        res.rows.iter().filter(|r| r.txn_id == t).flat_map(|r| r.reasons.iter().cloned()).collect::<Vec<_>>().join("; ")
    };
    assert_eq!(applied(&res, "A1"), [("ARQ2".to_string(), 100_000)]);
    assert!(reasons("A1").contains("like customer Q2"), "{}", reasons("A1"));
    assert!(!reasons("A1").contains("the bank names customer"), "{}", reasons("A1"));
    assert_eq!(status(&res, "A1"), "auto");
    assert_eq!(applied(&res, "A2"), [("AR5".to_string(), 75_000)]);
    assert!(!reasons("A2").contains("260515"), "{}", reasons("A2"));
    // Each on its own: A1 and A3 pay the same invoice.
    let res = run(&receipts[2..], &its, &cust, &[], &cfg);
    let why: Vec<String> = res.rows.iter().flat_map(|r| r.reasons.iter().cloned()).collect();
    assert!(why.iter().any(|w| w.contains("the bank names customer C1")), "{why:?}");
    assert_ne!(status(&res, "A3"), "auto");
}

/// A name abbreviated word by word that many masters share (`REDW SUPP` of
/// forty `Redwood Supplies …` companies): every master it abbreviates is a
/// candidate payer, not only the first ranked, and the open item of the amount
/// decides.
#[test]
fn an_abbreviated_name_many_masters_share() {
    let cfg = MatchConfig::default();
    let mut cust: Vec<Customer> =
        (0..40).map(|i| master(&format!("R{i:02}"), &format!("Redwood Supplies Nord{i} GmbH"), "")).collect();
    cust.push(master("R99", "Redwood Supplies Inc.", ""));
    let its = vec![item("ARR", "R99", "9010000500", 1_054_792, 20_520)];
    let res = run(&[receipt("N1", 1_054_792, "REDW SUPP B.V.", "", "", "BACS")], &its, &cust, &[], &cfg);
    assert_eq!(applied(&res, "N1"), [("ARR".to_string(), 1_054_792)]);
}

/// What a person taught the engine does not narrow what the bank's name says.
/// An abbreviated name learned as one customer's alias (`OAKR SUPP`, or `WEST
/// META LL` close to `WEST META`) still names every master it abbreviates, and
/// the open item of the amount decides. A name whose words the bank wrote in
/// another order (`TEXT REDW` of `Redwood Textil`) is abbreviated too, and a
/// legal form cut short (`INCO`) does not hide the masters.
#[test]
fn a_learned_alias_and_reordered_words_keep_every_master_the_name_abbreviates() {
    let cfg = MatchConfig::default();
    let mut cust: Vec<Customer> =
        (0..6).map(|i| master(&format!("O{i}"), &format!("Oakridge Supplies Nord{i} GmbH"), "")).collect();
    // Aliases learned from people's decisions on earlier days.
    cust[0].aliases.push("OAKR SUPP".into());
    cust[1].aliases.push("OAKR SUPP LL".into());
    cust.push(master("T1", "Redwood Textil GmbH", ""));
    // Learned from a payment of another company's, near-exact in order.
    cust.push(master("T0", "Texas Redwater Inc.", "TEXT REDW LL"));
    cust.push(master("T2", "Ashford Instruments Inc.", ""));
    cust.push(master("T3", "Ashford Instruments AG", ""));
    let its = vec![
        item("AR-O4", "O4", "9010000401", 44_372, 20_520),
        item("AR-O1", "O1", "9010000402", 100_000, 20_520),
        item("AR-T1", "T1", "9010000403", 250_000, 20_520),
        item("AR-T3", "T3", "9010000404", 310_000, 20_520),
    ];
    let receipts = vec![
        receipt("L1", 44_372, "OAKR SUPP", "", "", "PAYMENT"),
        receipt("L2", 250_000, "TEXT REDW", "", "", "BACS"),
        receipt("L3", 310_000, "ASHF INST INCO", "", "", "Zahlung"),
    ];
    let res = run(&receipts, &its, &cust, &[], &cfg);
    assert_eq!(applied(&res, "L1"), [("AR-O4".to_string(), 44_372)]);
    assert_eq!(applied(&res, "L2"), [("AR-T1".to_string(), 250_000)]);
    assert_eq!(applied(&res, "L3"), [("AR-T3".to_string(), 310_000)]);
    // Close to a learned alias (`OAKR SUPP LL`), not equal to one.
    cust[0].aliases.clear();
    let res = run(&receipts[..1], &its, &cust, &[], &cfg);
    assert_eq!(applied(&res, "L1"), [("AR-O4".to_string(), 44_372)]);
}

/// A payment that names several invoices and pays more than they hold is not
/// lost as "no invoice reference": the invoices named are its candidates,
/// held for a person (the excess likely pays an invoice it does not name or
/// that is not posted yet). Several named and paid short by a bank charge
/// clears them all.
#[test]
fn several_invoices_named_with_the_rest_over_or_short() {
    let cfg = MatchConfig::default();
    let cust = vec![master("V1", "Vantage Logistik B.V.", "")];
    let its = vec![
        item("AR-V1", "V1", "9010049702", 13_046_079, 20_500),
        item("AR-V2", "V2", "9010077150", 44_992, 20_500),
        item("AR-V3", "V1", "9010091594", 175_392, 20_500),
    ];
    let text = "/INV/260505 9010049702 /INV/260505 9010033284 /INV/260505 9010091594";
    let res = run(&[receipt("V1", 14_034_787, "VANT LOGI", "", "", text)], &its, &cust, &[], &cfg);
    let why: Vec<String> = res.rows.iter().flat_map(|r| r.reasons.iter().cloned()).collect();
    assert_eq!(status(&res, "V1"), "review", "{why:?}");
    assert!(why.iter().any(|w| w.contains("names several invoices and pays more")), "{why:?}");
    assert!(why.iter().any(|w| w.contains("9010033284 that no open item carries today")), "{why:?}");
    let over = 13_046_079 + 175_392 - 1_250;
    let text = "/INV/260505 9010049702 /INV/260505 9010091594";
    let res = run(&[receipt("V2", over, "VANT LOGI", "", "", text)], &its, &cust, &[], &cfg);
    assert_eq!(applied(&res, "V2"), [("AR-V1".to_string(), 13_046_079), ("AR-V3".to_string(), 175_392)]);
}

/// An entity's own auto threshold (a model retrained on decisions carries
/// `auto@<entity>`) decides for groups of its open items; other entities keep
/// the global one.
#[test]
fn an_entity_with_its_own_auto_threshold() {
    let r = receipt("T2", 198_750, "ATLAS FOODS", "", "", "INV 100140");
    let band = |by: &[(&str, f64)]| {
        let cfg = MatchConfig {
            auto_threshold_by_entity: by.iter().map(|(e, t)| (e.to_string(), *t)).collect(),
            ..MatchConfig::default()
        };
        let res = run(std::slice::from_ref(&r), &items(), &customers(), &[], &cfg);
        res.rows.iter().find(|x| x.txn_id == "T2").map(|x| x.band)
    };
    assert_eq!(band(&[]), Some(Band::Auto), "the global threshold");
    assert_eq!(band(&[("DE01", 0.97)]), Some(Band::Review), "the items' entity is stricter");
    assert_eq!(band(&[("GB01", 0.97)]), Some(Band::Auto), "another entity's threshold");
}

/// Known by name alone, the payer is not in conflict with a customer the
/// bank's name does not tell apart from it: one of the same name (a group's
/// companies one legal form apart), or one the name may abbreviate with its
/// brand left out.
#[test]
fn a_payer_known_by_name_alone_and_a_customer_the_name_does_not_tell_apart() {
    let cfg = MatchConfig::default();
    let cust = vec![
        master("E1", "Evergreen International LLC", "EVER INTL"),
        master("E2", "Evergreen International Ltd", ""),
        master("V1", "Vantage Packaging und Engineering Vertriebsgesellschaft Ltd", "PACK ENGI VERT"),
        master("S1", "Sonnen Packaging und Engineering Vertriebsgesellschaft AG", ""),
        master("M1", "Meridian Consulting LLC", "MERIDIAN CONSULTING"),
    ];
    let named = |it: OpenItem, name: &str| OpenItem { customer_name: name.into(), ..it };
    let its = vec![
        named(item("ARE2", "E2", "9010000601", 40_000, 20_500), "Evergreen International Ltd"),
        named(
            item("ARS1", "S1", "9010000602", 50_000, 20_500),
            "Sonnen Packaging und Engineering Vertriebsgesellschaft AG",
        ),
        named(
            item("ARS2", "S1", "9010000603", 60_000, 20_500),
            "Sonnen Packaging und Engineering Vertriebsgesellschaft AG",
        ),
    ];
    let receipts = vec![
        // The alias names E1; the invoice is its same-named sister's.
        receipt("N1", 40_000, "EVER INTL", "", "", "9010000601"),
        // The alias names V1; the name may abbreviate S1 with its brand left out.
        receipt("N2", 50_000, "PACK ENGI VERT", "", "", "9010000602"),
        // A payer whose name tells it apart: still for a person.
        receipt("N3", 60_000, "MERIDIAN CONSULTING", "", "", "9010000603"),
    ];
    let res = run(&receipts, &its, &cust, &[], &cfg);
    let conflict = |t: &str| {
        res.rows
            .iter()
            .filter(|r| r.txn_id == t)
            .any(|r| r.reasons.iter().any(|x| x.contains("the bank names customer")))
    };
    assert_eq!(applied(&res, "N1"), [("ARE2".to_string(), 40_000)]);
    assert!(!conflict("N1"), "same name");
    assert_eq!(applied(&res, "N2"), [("ARS1".to_string(), 50_000)]);
    assert!(!conflict("N2"), "a name that may abbreviate the item's customer");
    assert!(conflict("N3"), "another company's name");
}

/// A collective payment naming each invoice it pays, one of them with a twin
/// (the payer's next invoice, of the same amount): the named one is paid, not
/// its twin.
#[test]
fn a_named_invoice_is_paid_and_not_its_twin_of_the_same_amount() {
    let cfg = MatchConfig::default();
    let mut its = items();
    its.push(item("ART1", "C1", "9010115084", 361_805, 20_500));
    its.push(item("ART2", "C1", "9010115085", 361_805, 20_530));
    its.push(item("ART3", "C1", "9010027340", 149_347, 20_510));
    let receipts = vec![receipt(
        "W1",
        511_152,
        "MUEL MASC",
        "DE02120300000000202051",
        "",
        "/INV/260406 9010115084 /INV/260406 9010027340",
    )];
    let res = run(&receipts, &its, &customers(), &[], &cfg);
    let mut got = applied(&res, "W1");
    got.sort();
    assert_eq!(got, [("ART1".to_string(), 361_805), ("ART3".to_string(), 149_347)], "{:?}", res.outcomes);
    assert_eq!(status(&res, "W1"), "auto");
    // The named invoice not posted yet (an invoice booked after its customer
    // paid): its twin makes up the amount, but the text names another
    // invoice. Held for a person, or for the day the named one is posted.
    its.retain(|i| i.item_id != "ART1");
    let res = run(&receipts, &its, &customers(), &[], &cfg);
    assert_ne!(status(&res, "W1"), "auto", "{:?} {:?}", applied(&res, "W1"), res.outcomes);
    let why: Vec<String> = res.rows.iter().flat_map(|r| r.reasons.iter().cloned()).collect();
    assert!(why.iter().any(|w| w.contains("9010115084") && w.contains("no open item carries")), "{why:?}");
}

/// A remittance advice without a payment reference is linked to a payment by
/// amount and date only; a payment whose own reference names another open
/// invoice (the payer's next payment of the same amount has the advice) is
/// for the invoice it names.
#[test]
fn an_advice_linked_by_amount_does_not_override_the_payments_own_reference() {
    let cfg = MatchConfig::default();
    let mut its = items();
    its.push(item("ARA1", "C1", "INV-120209", 4_862_287, 20_480));
    its.push(item("ARA2", "C1", "INV-120210", 4_862_287, 20_520));
    let advice = vec![RemittanceLine {
        remittance_id: "RA9".into(),
        payment_ref: String::new(),
        advice_date: None,
        arrived: None,
        invoice_ref: "INV-120209".into(),
        paid: 4_862_287,
        discount: 0,
        deduction: 0,
        currency: "EUR".into(),
    }];
    let receipts =
        vec![receipt("V1", 4_862_287, "MUEL MASC", "DE02120300000000202051", "INV-120210", "/INV/260331 INV-120210")];
    let res = run(&receipts, &its, &customers(), &advice, &cfg);
    assert_eq!(applied(&res, "V1"), [("ARA2".to_string(), 4_862_287)], "{:?}", res.outcomes);
}

/// Structured creditor references whose check digits hold name the invoice
/// they carry: ISO 11649 `RF` whole or in printed blocks of four (zero-padded
/// inside), the Belgian `+++…+++` structured communication, the Swiss QR
/// reference; with wrong check digits they name nothing.
#[test]
fn structured_creditor_references_name_their_invoice() {
    let cfg = MatchConfig::default();
    let receipts = vec![
        receipt("S1", 123_456, "", "", "", "Zahlung RF49 9010 0009 42 danke"),
        receipt("S2", 50_000, "", "", "RF22000000009010000943", "SEPA CT"),
        receipt("S3", 80_000, "", "", "", "+++901/0000/95071+++"),
        // One check digit off: no reference, and no payer to go by.
        receipt("S4", 80_000, "", "", "", "+++901/0000/95072+++"),
        // A Swiss QR reference, zero-filled, printed in its blocks.
        receipt("S5", 80_000, "", "", "", "QRR 00 00000 00000 00009 01000 09503"),
    ];
    let res = run(&receipts, &items(), &customers(), &[], &cfg);
    assert_eq!(applied(&res, "S1"), [("AR1".to_string(), 123_456)], "{:?}", res.outcomes);
    assert_eq!(applied(&res, "S2"), [("AR2".to_string(), 50_000)], "{:?}", res.outcomes);
    assert_eq!(applied(&res, "S3"), [("AR7".to_string(), 80_000)], "{:?}", res.outcomes);
    // S3 and S5 pay the same invoice: each on its own.
    let res5 = run(&receipts[4..], &items(), &customers(), &[], &cfg);
    assert_eq!(applied(&res5, "S5"), [("AR7".to_string(), 80_000)], "{:?}", res5.outcomes);
    let rows5: Vec<String> = res5.rows.iter().flat_map(|r| r.reasons.iter().cloned()).collect();
    assert!(rows5.iter().any(|w| w == "invoice 9010000950 in text"), "{rows5:?}");
    let why = |t: &str| res.outcomes.iter().find(|o| o.txn_id == t).map(|o| o.reasons.join("; ")).unwrap_or_default();
    assert!(!why("S4").contains("9010000950 in text"), "{}", why("S4"));
}

/// Words of a payment's text are no invoice it names: `INVOICE NO INV-100140`
/// does not name an invoice `INVOICENO` that no open item carries, so the
/// group is not held for one.
#[test]
fn words_around_an_invoice_number_are_no_invoice_not_posted() {
    let cfg = MatchConfig::default();
    let mut its = items();
    its.push(item("AR8", "C2", "INV-100150", 33_000, 20_515));
    let receipts = vec![receipt("I1", 233_000, "ATLAS FOODS LTD", "", "", "INVOICE NO INV-100140 THANK YOU")];
    let res = run(&receipts, &its, &customers(), &[], &cfg);
    let mut got = applied(&res, "I1");
    got.sort();
    assert_eq!(got, [("AR4".to_string(), 200_000), ("AR8".to_string(), 33_000)], "{:?}", res.outcomes);
    let why: Vec<String> = res.rows.iter().flat_map(|r| r.reasons.iter().cloned()).collect();
    assert!(!why.iter().any(|w| w.contains("no open item carries")), "{why:?}");
}

/// A payment naming by its number alone (`INVOICE NO 146115`) an invoice no
/// open item carries yet, whose twin of the same amount (`INV-146114`) is
/// open: the payer's items that sum to the amount are not cleared with the
/// twin; the group is held for a person, or for the day the named one is posted.
#[test]
fn a_bare_number_names_an_invoice_not_posted() {
    let cfg = MatchConfig::default();
    let mut its = items();
    its.push(item("ARX1", "C2", "INV-146114", 13_965_374, 20_500));
    its.push(item("ARX2", "C2", "INV-113350", 4_053_432, 20_500));
    let receipts = vec![receipt("X1", 18_018_806, "ATLAS FOODS LTD", "", "", "INVOICE NO 146115 THANK YOU")];
    let res = run(&receipts, &its, &customers(), &[], &cfg);
    assert_ne!(status(&res, "X1"), "auto", "{:?} {:?}", applied(&res, "X1"), res.outcomes);
    let why: Vec<String> = res.rows.iter().flat_map(|r| r.reasons.iter().cloned()).collect();
    assert!(why.iter().any(|w| w.contains("146115") && w.contains("no open item carries")), "{why:?}");
}

/// With `keep_features` (a run with a state store), the candidate groups the
/// engine scored and did not apply are kept with their features — the
/// negatives a model is retrained on: the best groups of an ambiguous receipt,
/// the next groups of a matched one, never the group applied — and the same at
/// any thread count. Without it, none are kept.
#[test]
fn other_candidate_groups_are_kept_for_retraining() {
    let cfg = MatchConfig { keep_features: true, ..MatchConfig::default() };
    let receipts = vec![
        receipt("R1", 173_456, "Mueller", "DE02120300000000202051", "", "RE 9010000942"),
        receipt("R2", 275_000, "Atlas Foods Ltd", "", "", "INV-100140"),
    ];
    let res = run(&receipts, &items(), &customers(), &[], &cfg);
    let groups = |t: &str| -> Vec<Vec<String>> {
        res.alternatives.iter().filter(|a| a.txn_id == t).map(|a| a.item_ids.clone()).collect()
    };
    assert_eq!(status(&res, "R2"), "ambiguous");
    assert_eq!(groups("R2"), [vec!["AR4", "AR5"], vec!["AR4", "AR6"]]);
    let mut r1 = applied(&res, "R1").into_iter().map(|(i, _)| i).collect::<Vec<_>>();
    r1.sort();
    assert_eq!(r1, ["AR1", "AR2"]);
    assert!(!groups("R1").contains(&r1), "the group applied is not an alternative: {:?}", groups("R1"));
    assert!(groups("R1").len() <= reckon_cash::ALTERNATIVES_KEPT);
    assert!(res.alternatives.iter().all(|a| a.features.len() == reckon_cash::FEATURES.len()));
    assert!(
        res.alternatives.windows(2).all(|w| (&w[0].txn_id, &w[0].item_ids) < (&w[1].txn_id, &w[1].item_ids)),
        "in (receipt, items) order, each once"
    );

    let many: Vec<Receipt> = (0..200)
        .map(|k| {
            let desc = ["9010000942", "INV 100140", "", "PAYMENT", "x"][k % 5];
            receipt(&format!("T{k:03}"), [123_456, 198_750, 75_000, 4_711][k % 4], "Atlas Foods", "", "", desc)
        })
        .collect();
    let pool = |n| rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap_or_else(|e| panic!("{e}"));
    let a = pool(1).install(|| run(&many, &items(), &customers(), &[], &cfg));
    let b = pool(8).install(|| run(&many, &items(), &customers(), &[], &cfg));
    assert!(!a.alternatives.is_empty());
    assert_eq!(a.alternatives, b.alternatives);

    let off = run(&receipts, &items(), &customers(), &[], &MatchConfig::default());
    assert!(off.alternatives.is_empty() && off.features.is_empty());
    assert_eq!(off.rows, res.rows, "keeping alternatives changes no match");
}

/// An ACH credit whose payer is only in the bank's text, its Company Name cut
/// at the field's 16 characters (NACHA Appendix Three): `ATLAS FOODS UND` is
/// the beginning of `Atlas Foods und Engineering GmbH`, and also — with `UND`
/// a word left out of name keys — exactly the name of `Atlas Foods AG`. Both
/// are the payer; the open item of the amount decides.
#[test]
fn a_company_name_cut_at_the_ach_field_width_names_every_master_it_begins() {
    let cfg = MatchConfig::default();
    let cust = vec![
        master("A1", "Atlas Foods AG", ""),
        master("A2", "Atlas Foods und Engineering GmbH", ""),
        master("B1", "Birchwood Trading LLC", ""),
    ];
    let named = |it: OpenItem, name: &str| OpenItem { customer_name: name.into(), currency: "USD".into(), ..it };
    let its = vec![
        named(item("ARA1", "A1", "9010000701", 31_000, 20_500), "Atlas Foods AG"),
        named(item("ARA2", "A2", "9010000702", 48_275, 20_500), "Atlas Foods und Engineering GmbH"),
        named(item("ARB1", "B1", "9010000703", 48_275, 20_500), "Birchwood Trading LLC"),
    ];
    let desc = "ORIG CO NAME:ATLAS FOODS UND  ORIG ID:1234567890 DESC DATE:260302 CO ENTRY DESCR:PAYMENT   \
SEC:CCD TRACE#:021000021234567 EED:260302";
    let told = reckon_cash::bank_text::interpret(desc);
    let ach = |cut: bool| Receipt {
        currency: "USD".into(),
        counterparty_name: told.payer_name.clone().unwrap_or_default(),
        name_form: if cut { PayerNameForm::MayBeCut } else { PayerNameForm::Whole },
        ..receipt("U1", 48_275, "", "", "", desc)
    };
    let conflict = |res: &reckon_cash::MatchResult| {
        res.rows.iter().any(|r| r.reasons.iter().any(|x| x.contains("the bank names customer")))
    };
    let res = run(&[ach(told.payer_name_may_be_cut())], &its, &cust, &[], &cfg);
    assert_eq!(applied(&res, "U1"), [("ARA2".to_string(), 48_275)]);
    assert!(!conflict(&res), "the cut name begins A2's name");
    // Read as a whole name it is Atlas Foods AG's alone: A2's item of the amount
    // is not the payer's.
    let whole = run(&[ach(false)], &its, &cust, &[], &cfg);
    assert!(applied(&whole, "U1") != [("ARA2".to_string(), 48_275)] || conflict(&whole));
}

/// An ACH credit whose payer keyed its number with us as the entry's
/// Identification Number (`IND ID`, Entry Detail field 7), as payees ask their
/// payers to: the customer is the payer, however the Company Name reads, and
/// the number is no invoice's.
#[test]
fn an_ach_identification_number_that_is_a_customer_id_names_the_payer() {
    let cfg = MatchConfig::default();
    let cust = vec![
        master("C102069", "Hanse Elektrotechnik und Anlagenbau GmbH", ""),
        master("C102070", "Elektrotechnik Ulm GmbH", ""),
    ];
    let named = |it: OpenItem, name: &str| OpenItem { customer_name: name.into(), currency: "USD".into(), ..it };
    let its = vec![
        named(item("ARH1", "C102069", "9010000901", 26_476, 20_500), "Hanse Elektrotechnik und Anlagenbau GmbH"),
        named(item("ARH2", "C102069", "9010000902", 91_000, 20_500), "Hanse Elektrotechnik und Anlagenbau GmbH"),
        // Another customer's invoice whose number the customer id ends with.
        named(item("ARU1", "C102070", "INV-102069", 11_000, 20_500), "Elektrotechnik Ulm GmbH"),
    ];
    let ach = |ind_id: &str, amount: i64| {
        let desc = format!(
            "ORIG CO NAME:ELEKTROTECHNIK U ORIG ID:9908284411 DESC DATE:260318 CO ENTRY DESCR:PAYABLES SEC:CCD \
TRACE#:021000020011182 EED:260318 IND ID:{ind_id} IND NAME:NORTHWIND SUPPLY INC"
        );
        let told = reckon_cash::bank_text::interpret(&desc);
        Receipt {
            currency: "USD".into(),
            counterparty_name: told.payer_name.clone().unwrap_or_default(),
            name_form: told.payer_name_form(),
            payer_ref: told.identification_number.clone().unwrap_or_default(),
            ..receipt("U2", amount, "", "", "", &desc)
        }
    };
    let res = run(&[ach("C102069", 26_476)], &its, &cust, &[], &cfg);
    assert_eq!(applied(&res, "U2"), [("ARH1".to_string(), 26_476)]);
    // The customer id is the payer's number, not invoice INV-102069: a payment
    // of two of the payer's invoices is theirs, not a payment of another
    // customer's invoice held for a person.
    let res = run(&[ach("C102069", 117_476)], &its, &cust, &[], &cfg);
    let mut paid = applied(&res, "U2");
    paid.sort();
    assert_eq!(paid, [("ARH1".to_string(), 26_476), ("ARH2".to_string(), 91_000)]);
    assert!(
        res.rows.iter().all(|m| m.reasons.iter().all(|x| !x.contains("INV-102069") && !x.contains("the bank names"))),
        "{:?}",
        res.rows
    );
    assert!(
        res.rows.iter().any(|m| m.reasons.iter().any(|x| x.contains("ACH identification number is customer C102069"))),
        "{:?}",
        res.rows
    );
    // A number that is no customer's id names no one: the cut name reads like
    // C102070's, whose item of the amount is not C102069's.
    let res = run(&[ach("PO 4471", 26_476)], &its, &cust, &[], &cfg);
    assert!(applied(&res, "U2") != [("ARH1".to_string(), 26_476)]);
}

/// A Bacs name is 18 characters (Bacs Standard 18): `WESTBROOK GROUP UN` is
/// cut inside `und`, a word name keys leave out, so it begins `Westbrook
/// Group und Group Vertriebsgesellschaft KG`'s key as well as naming
/// `Westbrook Group KG` whole; the open item of the amount decides.
#[test]
fn a_bacs_name_cut_inside_a_connector_begins_the_masters_it_may_be() {
    let cfg = MatchConfig::default();
    let cust = vec![
        master("W1", "Westbrook Group KG", ""),
        master("W2", "Westbrook Group und Group Vertriebsgesellschaft KG", ""),
    ];
    let named = |it: OpenItem, name: &str| OpenItem { customer_name: name.into(), ..it };
    let its = vec![
        named(item("ARW1", "W1", "9010000950", 12_000, 20_500), "Westbrook Group KG"),
        named(item("ARW2", "W2", "9010000951", 70_914, 20_500), "Westbrook Group und Group Vertriebsgesellschaft KG"),
    ];
    let bacs = Receipt {
        name_form: PayerNameForm::MayBeCut,
        ..receipt("K1", 70_914, "WESTBROOK GROUP UN", "", "", "BGC ZAHLUNG")
    };
    let res = run(&[bacs], &its, &cust, &[], &cfg);
    assert_eq!(applied(&res, "K1"), [("ARW2".to_string(), 70_914)]);
    assert!(res.rows.iter().all(|m| m.reasons.iter().all(|x| !x.contains("the bank names"))), "{:?}", res.rows);
}

/// A Fedwire credit names its originator as banks print tag {5000}: the name
/// line and then the address lines, run together after `B/O:`. The customer
/// whose whole name begins the text is the payer.
#[test]
fn a_fedwire_originator_followed_by_its_address_names_the_customer() {
    let cfg = MatchConfig::default();
    let cust = vec![
        master("B1", "Beta Trading LLC", ""),
        master("B2", "Beta Industries Inc", ""),
        master("D1", "Delta Trading LLC", ""),
    ];
    let named = |it: OpenItem, name: &str| OpenItem { customer_name: name.into(), currency: "USD".into(), ..it };
    let its = vec![
        named(item("ARB1", "B1", "9010001001", 52_000, 20_500), "Beta Trading LLC"),
        named(item("ARB2", "B1", "9010001002", 13_000, 20_500), "Beta Trading LLC"),
        named(item("ARD1", "D1", "9010001003", 52_000, 20_500), "Delta Trading LLC"),
    ];
    let desc = "FEDWIRE CREDIT VIA: JPMORGAN CHASE BANK/021000021 B/O: BETA TRADING LLC 1250 AVENUE OF THE AMERICAS SUITE 400 NEW YORK NY 10020 \
REF: CHASE NYC/CTR/BNF=OURCO INC OBI: PAYMENT IMAD: 0302B1QGC08C001234";
    let told = reckon_cash::bank_text::interpret(desc);
    let r = Receipt {
        currency: "USD".into(),
        counterparty_name: told.payer_name.clone().unwrap_or_default(),
        name_form: told.payer_name_form(),
        ..receipt("F1", 52_000, "", "", "", desc)
    };
    let res = run(&[r], &its, &cust, &[], &cfg);
    assert_eq!(applied(&res, "F1"), [("ARB1".to_string(), 52_000)]);
    assert!(res.rows.iter().all(|m| m.reasons.iter().all(|x| !x.contains("the bank names"))), "{:?}", res.rows);

    // An address line without a number to end the name at: the text runs on,
    // and the customer whose whole name begins it is the payer.
    let desc = "FEDWIRE CREDIT VIA: JPMORGAN CHASE BANK/021000021 B/O: BETA TRADING LLC CORPORATE TREASURY \
DEPARTMENT NEW YORK REF: CHASE NYC/CTR/BNF=OURCO INC OBI: PAYMENT IMAD: 0302B1QGC08C001235";
    let told = reckon_cash::bank_text::interpret(desc);
    assert_eq!(told.payer_name_form(), PayerNameForm::RunsOn);
    let r = Receipt {
        currency: "USD".into(),
        counterparty_name: told.payer_name.clone().unwrap_or_default(),
        name_form: told.payer_name_form(),
        ..receipt("F3", 52_000, "", "", "", desc)
    };
    let res = run(&[r], &its, &cust, &[], &cfg);
    assert_eq!(applied(&res, "F3"), [("ARB1".to_string(), 52_000)]);

    // A name longer than its line is cut at 35 before the address: the cut line
    // begins the payer's name; a shorter master name it also begins with is not
    // the payer.
    let cust = vec![
        master("N1", "Nordwind Holzwerke GmbH", ""),
        master("N2", "Nordwind Holzwerke und Pharma Vertriebsgesellschaft mbH", ""),
    ];
    let its = vec![
        named(item("ARN1", "N1", "9010001101", 40_000, 20_500), "Nordwind Holzwerke GmbH"),
        named(
            item("ARN2", "N2", "9010001102", 61_500, 20_500),
            "Nordwind Holzwerke und Pharma Vertriebsgesellschaft mbH",
        ),
    ];
    let desc = "FEDWIRE CREDIT VIA: CITIBANK N.A. B/O: NORDWIND HOLZWERKE UND PHARMA VERTR 500 BOYLSTON ST \
BOSTON MA 02116 REF: 1485209911889115 OBI: PAYMENT IMAD: 20260207I1B3CN6C000920";
    let told = reckon_cash::bank_text::interpret(desc);
    assert_eq!(told.payer_name_form(), PayerNameForm::MayBeCut);
    let r = Receipt {
        currency: "USD".into(),
        counterparty_name: told.payer_name.clone().unwrap_or_default(),
        name_form: told.payer_name_form(),
        ..receipt("F2", 61_500, "", "", "", desc)
    };
    let res = run(&[r], &its, &cust, &[], &cfg);
    assert_eq!(applied(&res, "F2"), [("ARN2".to_string(), 61_500)]);
    assert!(res.rows.iter().all(|m| m.reasons.iter().all(|x| !x.contains("the bank names"))), "{:?}", res.rows);
}

/// A parent that pays its subsidiary's invoices: named by the subsidiary's
/// master as a permitted payer (SAP's alternative payer, Oracle Receivables'
/// customer relationships), its payment quoting the subsidiary's invoice is
/// the subsidiary's own and clears; its payment naming no invoice finds the
/// subsidiary's open items. Without the permission the same payment is
/// another customer's, held for a person, and the name-only one finds nothing.
#[test]
fn a_permitted_payer_pays_its_subsidiarys_invoices() {
    let cfg = MatchConfig::default();
    let master_with = |payers: &[&str]| {
        vec![
            Customer {
                customer_id: "P1".into(),
                name: "Holmfirth Holdings plc".into(),
                aliases: vec![],
                ibans: vec!["GB33BUKB20201555555555".into()],
                tax_id: String::new(),
                payer_ids: vec![],
            },
            Customer {
                customer_id: "S1".into(),
                name: "Kestrel Retail Ltd".into(),
                aliases: vec![],
                ibans: vec![],
                tax_id: String::new(),
                payer_ids: payers.iter().map(|p| p.to_string()).collect(),
            },
        ]
    };
    let its = vec![
        item("ARS1", "S1", "9010000701", 120_000, 20_500),
        item("ARS2", "S1", "9010000702", 75_050, 20_510),
        item("ARP1", "P1", "9010000703", 99_900, 20_500),
    ];
    let receipts = vec![
        // The parent's account, the subsidiary's invoice.
        receipt("R1", 120_000, "HOLMFIRTH HOLDINGS PLC", "GB33BUKB20201555555555", "", "INV 9010000701"),
        // The parent's account, no invoice named: the subsidiary's item of that amount.
        receipt("R2", 75_050, "HOLMFIRTH HOLDINGS PLC", "GB33BUKB20201555555555", "", "PAYMENT"),
    ];
    let conflict = |res: &reckon_cash::MatchResult, t: &str| {
        res.rows
            .iter()
            .filter(|r| r.txn_id == t)
            .any(|r| r.reasons.iter().any(|x| x.contains("the bank names customer")))
    };
    let band = |res: &reckon_cash::MatchResult, t: &str| res.rows.iter().find(|r| r.txn_id == t).map(|r| r.band);

    let without = run(&receipts, &its, &master_with(&[]), &[], &cfg);
    assert!(conflict(&without, "R1"), "another customer's invoice: for a person");
    let r1 = without.rows.iter().find(|r| r.txn_id == "R1").map(|r| r.reasons.join("; ")).unwrap_or_default();
    assert!(r1.contains("recorded in customers.payer_ids, or learned from the decision"), "{r1}");
    assert_ne!(band(&without, "R1"), Some(Band::Auto));
    assert!(applied(&without, "R2").is_empty(), "the parent's own items do not make 750.50");

    // An id that is no customer names no one.
    let unknown = run(&receipts, &its, &master_with(&["P9"]), &[], &cfg);
    assert!(conflict(&unknown, "R1"));

    let with = run(&receipts, &its, &master_with(&["P1"]), &[], &cfg);
    assert_eq!(applied(&with, "R1"), [("ARS1".to_string(), 120_000)]);
    assert!(!conflict(&with, "R1"));
    assert_eq!(band(&with, "R1"), Some(Band::Auto));
    let r1 = with.rows.iter().find(|r| r.txn_id == "R1").map(|r| r.reasons.join("; ")).unwrap_or_default();
    assert!(r1.contains("customer S1 permits customer P1 as its payer (customer master)"), "{r1}");
    assert_eq!(applied(&with, "R2"), [("ARS2".to_string(), 75_050)]);
}

/// A payment whose payer the bank names by its account but which no open item
/// or set of items of the payer makes up says who paid, for the person who
/// applies it on account; one from an account nobody knows says nothing of a
/// payer.
#[test]
fn an_unmatched_payment_from_a_known_payer_names_it() {
    let cfg = MatchConfig::default();
    let receipts = vec![
        receipt("U1", 4_567_891, "MUELLER MASCHINENBAU", "DE02120300000000202051", "", "VORAUSZAHLUNG"),
        receipt("U2", 4_567_891, "SOMEONE ELSE LTD", "GB82WEST12345698765432", "", "PAYMENT"),
    ];
    let res = run(&receipts, &items(), &customers(), &[], &cfg);
    let why = |t: &str| {
        res.outcomes
            .iter()
            .find(|o| o.txn_id == t)
            .map(|o| (o.status.as_str(), o.reasons.join("; ")))
            .unwrap_or_default()
    };
    let (s1, r1) = why("U1");
    assert_eq!(s1, "unmatched", "{r1}");
    assert!(r1.contains("payer IBAN is customer C1's") && r1.contains("apply on account"), "{r1}");
    let (s2, r2) = why("U2");
    assert_eq!(s2, "unmatched", "{r2}");
    assert_eq!(r2, "no invoice reference, remittance or payer match");
}
