//! The accepted date range is the run's setting (`[ingest] first_date`,
//! `last_date`), applied to CSV dates and to bank-statement dates alike.

use reckon_ingest::IngestConfig;

fn range(first: &str, last: &str) -> reckon_ingest::DateRange {
    IngestConfig { first_date: first.into(), last_date: last.into() }.build().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn rows_outside_the_configured_range_are_rejected_with_it() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let csv = "item_id,entity,customer_id,customer_name,invoice_number,invoice_date,due_date,amount_open,currency\n\
AR1,DE01,C1,Alpha GmbH,INV-1,2019-12-31,,10.00,EUR\n\
AR2,DE01,C1,Alpha GmbH,INV-2,2020-01-01,,10.00,EUR\n\
AR3,DE01,C1,Alpha GmbH,INV-3,2026-03-01,2027-01-01,10.00,EUR\n";
    std::fs::write(t.path().join("ar_open_items.csv"), csv).unwrap_or_else(|e| panic!("{e}"));
    let wide = reckon_ingest::load_dir(t.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(wide.files[0].loaded_rows, 3, "the contract's range holds all three");

    let narrow =
        reckon_ingest::load_dir_with(t.path(), &range("2020-01-01", "2026-12-31")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(narrow.files[0].loaded_rows, 1);
    let got: Vec<(Option<u64>, Option<&str>, &str)> =
        narrow.rejects.iter().map(|r| (r.row, r.column.as_deref(), r.reason.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (
                Some(2),
                Some("invoice_date"),
                "'2019-12-31' is outside the accepted dates (2020-01-01 to 2026-12-31; [ingest] first_date, last_date)"
            ),
            (
                Some(4),
                Some("due_date"),
                "'2027-01-01' is outside the accepted dates (2020-01-01 to 2026-12-31; [ingest] first_date, last_date)"
            ),
        ]
    );
}

#[test]
fn statement_dates_obey_the_range() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(t.path().join("bank")).unwrap_or_else(|e| panic!("{e}"));
    let sta = ":20:STMT1\r\n:25:DE89370400440532013000\r\n:28C:1/1\r\n:60F:C250101EUR100,00\r\n\
:61:2501020102C10,00NTRFREF1//B1\r\n:86:ALPHA GMBH INV-1\r\n:62F:C250102EUR110,00\r\n-\r\n";
    std::fs::write(t.path().join("bank/day.sta"), sta).unwrap_or_else(|e| panic!("{e}"));
    let all = reckon_ingest::load_dir(t.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.files[0].loaded_rows, 1, "{:?}", all.rejects);
    let later =
        reckon_ingest::load_dir_with(t.path(), &range("2025-06-01", "2999-12-31")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(later.files[0].loaded_rows, 0);
    assert!(
        later.rejects.iter().any(|r| r.reason.contains("'2025-01-02' is outside the accepted dates")),
        "{:?}",
        later.rejects
    );
}
