//! A year of daily statements and more: 2,000 camt.053 files in one `bank/`
//! folder load (files load in bounded parallel waves; an unbounded queue once
//! overflowed a worker's stack), every file is reported, every row ties out.

#[test]
fn two_thousand_statement_files_load() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bank = t.path().join("bank");
    std::fs::create_dir_all(&bank).unwrap_or_else(|e| panic!("{e}"));
    // A real bank's statement (several entries, batched transaction details),
    // its references made unique per file.
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/ingest/statements/input/bank/deutsche_camt053.xml");
    let text = std::fs::read_to_string(&fixture).unwrap_or_else(|e| panic!("{e}"));
    for k in 0..2000 {
        let x =
            text.replace("<AcctSvcrRef>", &format!("<AcctSvcrRef>F{k}-")).replace("<MsgId>", &format!("<MsgId>F{k}-"));
        std::fs::write(bank.join(format!("stmt_{k:04}.xml")), x).unwrap_or_else(|e| panic!("{e}"));
    }
    let one = reckon_ingest::load_dir(&fixture.parent().unwrap_or_else(|| panic!("dir")).join(".."))
        .unwrap_or_else(|e| panic!("{e}"));
    let per_file = one.files.iter().find(|f| f.path.ends_with("deutsche_camt053.xml")).map_or(0, |f| f.input_rows);
    assert!(per_file >= 2, "{per_file}");
    let loaded = reckon_ingest::load_dir(t.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.files.len(), 2000);
    for f in &loaded.files {
        assert_eq!(f.input_rows, per_file, "{}", f.path);
        assert_eq!(f.input_rows, f.loaded_rows + f.rejected_rows, "{}", f.path);
    }
    let loaded_rows: u64 = loaded.files.iter().map(|f| f.loaded_rows).sum();
    assert_eq!(loaded.tables[&reckon_core::Table::BankTransactions].height() as u64, loaded_rows);
    assert!(loaded_rows >= 2000);
}
