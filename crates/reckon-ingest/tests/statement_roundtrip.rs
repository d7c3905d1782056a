//! A bank statement file and the CSV it was written from load to the same rows:
//! generated bank entries → camt.053 / MT940 / BAI2 → reckon → compared with the
//! CSV load, column by column (each format carries the columns it has room for).

use std::path::Path;

use polars::prelude::*;
use reckon_core::Table;
use reckon_ingest::load_dir;
use reckon_synth::bankfile::{self, BankLine};

fn strings(df: &DataFrame, c: &str) -> Vec<String> {
    df.column(c)
        .ok()
        .and_then(|c| c.cast(&DataType::String).ok())
        .and_then(|c| c.str().ok().map(|s| s.iter().map(|v| v.unwrap_or("").to_string()).collect()))
        .unwrap_or_default()
}

fn load_bank(dir: &Path) -> DataFrame {
    let l = load_dir(dir).unwrap_or_else(|e| panic!("{e}"));
    assert!(l.rejects.is_empty(), "{:?}", &l.rejects[..l.rejects.len().min(3)]);
    let df = l.tables.get(&Table::BankTransactions).cloned().unwrap_or_default();
    df.sort(["txn_id"], SortMultipleOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn compare(
    format: &str,
    base: &[BankLine],
    csv: &DataFrame,
    file: &DataFrame,
    columns: &[&str],
    only: impl Fn(&BankLine) -> bool,
) {
    assert_eq!(csv.height(), file.height(), "{format}: row count");
    assert_eq!(base.len(), csv.height());
    for c in columns {
        let (a, b) = (strings(csv, c), strings(file, c));
        let mut checked = 0;
        for (i, l) in base.iter().enumerate() {
            if only(l) {
                assert_eq!(a[i], b[i], "{format}: column {c} differs for {}", l.txn_id);
                checked += 1;
            }
        }
        assert!(checked > csv.height() / 2, "{format}: {c} compared on too few rows ({checked})");
    }
}

#[test]
fn camt_mt940_bai2_load_like_their_csv() {
    let gen_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    reckon_synth::generate(gen_dir.path(), &reckon_synth::Config::new(11, 1500)).unwrap_or_else(|e| panic!("{e}"));
    let only = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(gen_dir.path().join("bank_transactions.csv"), only.path().join("bank_transactions.csv"))
        .unwrap_or_else(|e| panic!("{e}"));
    let csv = load_bank(only.path());
    assert!(csv.height() > 1000);
    // The same entries as the generator wrote them, sorted by txn_id like the loaded frames.
    let bank =
        bankfile::read_generated(&gen_dir.path().join("bank_transactions.csv")).unwrap_or_else(|e| panic!("{e}"));
    let write = |name: &str, text: String| {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(d.path().join("bank")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(d.path().join("bank").join(name), text).unwrap_or_else(|e| panic!("{e}"));
        d
    };
    // Every contract column of bank_transactions, from the schema.
    let all: Vec<&str> = Table::BankTransactions.spec().columns.iter().map(|c| c.name).collect();
    let camt = write("statement.xml", bankfile::camt053(&bank));
    compare("camt.053", &bank, &csv, &load_bank(camt.path()), &all, |_| true);

    let mt = write("statement.sta", bankfile::mt940(&bank));
    // The bank code becomes the SWIFT type code + GVC, so it is not compared.
    let mt_cols: Vec<&str> = all.iter().copied().filter(|c| *c != "bank_code").collect();
    compare("mt940", &bank, &csv, &load_bank(mt.path()), &mt_cols, |l| l.reference.chars().count() <= 16);

    let bai = write("statement.bai", bankfile::bai2(&bank));
    compare(
        "bai2",
        &bank,
        &csv,
        &load_bank(bai.path()),
        &["txn_id", "account_id", "booking_date", "amount", "currency", "reference", "description"],
        |_| true,
    );
}
