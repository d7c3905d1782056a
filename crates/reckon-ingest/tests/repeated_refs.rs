//! Banks repeat references legitimately; distinct entries keep distinct
//! `txn_id`s by a documented rule (docs/data-contract.md, bank files):
//! a reference given on several accounts is qualified `<ref>@<account>`; a
//! camt `TxDtls` reference that repeats within its entry, or equals the
//! entry's, gives `<entry ref>/<n>`. A true repeat (same reference, same
//! account) is still a duplicate.

fn txn_ids(loaded: &reckon_ingest::Loaded) -> Vec<String> {
    loaded.tables[&reckon_core::Table::BankTransactions]
        .column("txn_id")
        .and_then(|c| c.str().map(|s| s.iter().map(|v| v.unwrap_or("").to_string()).collect()))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn mt940(account: &str, bank_ref: &str, amount: &str) -> String {
    format!(
        ":20:S\n:25:{account}\n:28C:1/1\n:60F:C260301EUR0,\n:61:2603020302{amount}NTRFNONREF//{bank_ref}\n:86:Umbuchung\n:62F:{}260302EUR{},\n-\n",
        &amount[..1],
        amount[1..].trim_end_matches(',')
    )
}

#[test]
fn the_two_legs_of_an_internal_transfer_keep_distinct_ids() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bank = t.path().join("bank");
    std::fs::create_dir_all(&bank).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(bank.join("a.sta"), mt940("DE89370400440532013000", "TRF-0042", "D500,"))
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(bank.join("b.sta"), mt940("DE02120300000000202051", "TRF-0042", "C500,"))
        .unwrap_or_else(|e| panic!("{e}"));
    let loaded = reckon_ingest::load_dir(t.path()).unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.rejects.is_empty(), "{:?}", loaded.rejects);
    let ids = txn_ids(&loaded);
    assert_eq!(ids, ["TRF-0042@DE89370400440532013000", "TRF-0042@DE02120300000000202051"]);
    // The same reference twice on one account is the same entry delivered twice.
    std::fs::write(bank.join("c.sta"), mt940("DE89370400440532013000", "TRF-0042", "D500,"))
        .unwrap_or_else(|e| panic!("{e}"));
    let loaded = reckon_ingest::load_dir(t.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.rejects.len(), 1, "{:?}", loaded.rejects);
    assert_eq!(loaded.rejects[0].code, reckon_core::RejectCode::DuplicateKey);
    assert!(loaded.rejects[0].file.ends_with("c.sta"));
}

#[test]
fn collective_credit_details_that_repeat_a_reference_keep_distinct_ids() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bank = t.path().join("bank");
    std::fs::create_dir_all(&bank).unwrap_or_else(|e| panic!("{e}"));
    let tx = |r: &str, amt: &str| {
        format!(
            "<TxDtls><Refs><AcctSvcrRef>{r}</AcctSvcrRef></Refs><AmtDtls><TxAmt><Amt Ccy=\"CHF\">{amt}</Amt></TxAmt></AmtDtls></TxDtls>"
        )
    };
    let x = format!(
        r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.04"><BkToCstmrStmt><Stmt><Id>S</Id>
<Acct><Id><IBAN>CH9300762011623852957</IBAN></Id></Acct>
<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="CHF">0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></Bal>
<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="CHF">600.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></Bal>
<Ntry><Amt Ccy="CHF">300.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-03-02</Dt></BookgDt><AcctSvcrRef>ESR-1</AcctSvcrRef>
<NtryDtls>{}{}</NtryDtls></Ntry>
<Ntry><Amt Ccy="CHF">300.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-03-02</Dt></BookgDt><AcctSvcrRef>ESR-2</AcctSvcrRef>
<NtryDtls>{}{}</NtryDtls></Ntry>
</Stmt></BkToCstmrStmt></Document>"#,
        tx("ESR-1", "100.00"),
        tx("ESR-1", "200.00"),
        tx("BATCH-7", "120.00"),
        tx("BATCH-7", "180.00"),
    );
    std::fs::write(bank.join("postfinance.xml"), x).unwrap_or_else(|e| panic!("{e}"));
    let loaded = reckon_ingest::load_dir(t.path()).unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.rejects.is_empty(), "{:?}", loaded.rejects);
    let ids = txn_ids(&loaded);
    assert_eq!(ids, ["ESR-1/1", "ESR-1/2", "ESR-2/1", "ESR-2/2"]);
}
