//! Every entry of the input tree is accounted for: loaded, refused, or ignored
//! with why. Links are followed (the target is read under the link's name);
//! hidden names, broken links and other folders are listed as ignored.

#[test]
fn every_entry_is_loaded_or_listed() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let shared = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let csv = "item_id,entity,customer_id,customer_name,invoice_number,invoice_date,due_date,amount_open,currency\n\
AR1,DE01,C1,Alpha GmbH,INV-1,2026-03-01,,10.00,EUR\n";
    std::fs::write(shared.path().join("export.csv"), csv).unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(shared.path().join("export.csv"), t.path().join("ar_open_items.csv"))
        .unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(shared.path().join("gone.csv"), t.path().join("customers.csv"))
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(t.path().join(".ar_open_items.csv.swp"), "x").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(t.path().join("notes.txt"), "x").unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(t.path().join("archive")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(t.path().join("bank/old")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(t.path().join("bank/.DS_Store"), "x").unwrap_or_else(|e| panic!("{e}"));
    let loaded = reckon_ingest::load_dir(t.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.files.len(), 1);
    assert_eq!(loaded.files[0].path, "ar_open_items.csv");
    assert_eq!(loaded.files[0].loaded_rows, 1, "a link is followed");
    let ignored = loaded.ignored.join("\n");
    for want in [
        ".ar_open_items.csv.swp (hidden)",
        "archive (a folder; only bank/ and remittance/ are read)",
        "customers.csv (a link whose target is missing)",
        "notes.txt (not .csv, .parquet or .mapping.toml)",
        "bank/.DS_Store (hidden)",
        "bank/old (a folder inside bank/)",
    ] {
        assert!(ignored.contains(want), "{want} missing from:\n{ignored}");
    }
    assert_eq!(loaded.ignored.len(), 6, "{ignored}");
}
