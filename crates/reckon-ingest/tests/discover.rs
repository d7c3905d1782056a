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
        "archive (a folder; only bank/, remittance/ and decisions/ are read)",
        "customers.csv (a link whose target is missing)",
        "notes.txt (not .csv, .parquet or .mapping.toml)",
        "bank/.DS_Store (hidden)",
        "bank/old (a folder inside bank/)",
    ] {
        assert!(ignored.contains(want), "{want} missing from:\n{ignored}");
    }
    assert_eq!(loaded.ignored.len(), 6, "{ignored}");
}

/// UTF-16 exports (Excel's "Unicode text"), with or without a byte order mark,
/// load like their UTF-8 twin, with the same line numbers.
#[test]
fn utf16_with_and_without_bom_loads() {
    let csv = "item_id,entity,customer_id,customer_name,invoice_number,invoice_date,due_date,amount_open,currency\n\
AR1,DE01,C1,Müller GmbH,INV-1,2026-03-01,,10.00,EUR\n\
AR2,DE01,C2,Beta,INV-2,2026-03-01,,bad,EUR\n";
    let encode = |le: bool, bom: bool| {
        let mut b: Vec<u8> = Vec::new();
        if bom {
            b.extend(if le { [0xFF, 0xFE] } else { [0xFE, 0xFF] });
        }
        for u in csv.encode_utf16() {
            b.extend(if le { u.to_le_bytes() } else { u.to_be_bytes() });
        }
        b
    };
    for (le, bom) in [(true, true), (true, false), (false, true), (false, false)] {
        let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(t.path().join("ar_open_items.csv"), encode(le, bom)).unwrap_or_else(|e| panic!("{e}"));
        let loaded = reckon_ingest::load_dir(t.path()).unwrap_or_else(|e| panic!("{e}"));
        let f = &loaded.files[0];
        assert_eq!(f.refused, None, "le {le} bom {bom}");
        assert_eq!((f.input_rows, f.loaded_rows, f.rejected_rows), (2, 1, 1), "le {le} bom {bom}");
        assert_eq!(loaded.rejects[0].row, Some(3));
        let df = &loaded.tables[&reckon_core::Table::ArOpenItems];
        let name =
            df.column("customer_name").ok().and_then(|c| c.str().ok().and_then(|s| s.get(0).map(str::to_string)));
        assert_eq!(name.as_deref(), Some("Müller GmbH"));
    }
}
