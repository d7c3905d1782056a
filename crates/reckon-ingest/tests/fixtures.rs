//! Data-driven ingestion tests: `tests/fixtures/ingest/<case>/input/` is loaded and
//! compared with `<case>/expected/` (one CSV per loaded table, `rejects.csv`,
//! `files.csv`). Set `RECKON_BLESS=1` to rewrite the expected files after a
//! deliberate change, then review the diff.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use reckon_ingest::normalize::{contract_view, to_csv_string};
use reckon_ingest::{Loaded, load_dir};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/ingest")
}

fn load(dir: &Path) -> Loaded {
    load_dir(dir).unwrap_or_else(|e| panic!("{e}"))
}

fn render(loaded: &Loaded) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (t, df) in &loaded.tables {
        let v = contract_view(*t, df).unwrap_or_else(|e| panic!("{e}"));
        out.push((format!("{}.csv", t.name()), to_csv_string(&v).unwrap_or_else(|e| panic!("{e}"))));
    }
    let mut rej = String::from("file,row,column,value,code,reason\n");
    for r in &loaded.rejects {
        rej.push_str(&format!(
            "{},{},{},{},{},{}\n",
            q(&r.file),
            r.row.map(|x| x.to_string()).unwrap_or_default(),
            q(r.column.as_deref().unwrap_or("")),
            q(r.value.as_deref().unwrap_or("")),
            r.code.as_str(),
            q(&r.reason)
        ));
    }
    out.push(("rejects.csv".into(), rej));
    let mut files = String::from("path,table,format,input_rows,blank_lines,loaded_rows,rejected_rows,refused\n");
    for f in &loaded.files {
        files.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            q(&f.path),
            f.table.as_deref().unwrap_or(""),
            f.format,
            f.input_rows,
            f.blank_lines,
            f.loaded_rows,
            f.rejected_rows,
            q(f.refused.as_deref().unwrap_or(""))
        ));
    }
    files.push_str(&format!("# ignored: {}\n", loaded.ignored.join("; ")));
    out.push(("files.csv".into(), files));
    out
}

fn q(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// Checks one case; with `RECKON_BLESS=1` rewrites its expected files instead and
/// returns how many changed (a blessing run then fails, so it is never green).
fn check_case(case: &Path) -> usize {
    let loaded = load(&case.join("input"));
    // Nothing lost: per file, every data record is loaded or rejected.
    for f in &loaded.files {
        assert_eq!(f.input_rows, f.loaded_rows + f.rejected_rows, "{}: rows do not tie out", f.path);
    }
    let total_loaded: u64 = loaded.files.iter().map(|f| f.loaded_rows).sum();
    assert_eq!(total_loaded, loaded.tables.values().map(|d| d.height() as u64).sum::<u64>());
    let expected = case.join("expected");
    let bless = std::env::var("RECKON_BLESS").is_ok_and(|v| v == "1");
    let mut blessed = 0;
    for (name, got) in render(&loaded) {
        let path = expected.join(&name);
        if bless {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(got.as_str()) {
                std::fs::create_dir_all(&expected).unwrap_or_else(|e| panic!("{e}"));
                std::fs::write(&path, &got).unwrap_or_else(|e| panic!("{e}"));
                blessed += 1;
            }
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run with RECKON_BLESS=1 to create)", path.display()));
        assert_eq!(got, want, "{} differs from expected", path.display());
    }
    // No expected table file that the run did not produce.
    if let Ok(rd) = std::fs::read_dir(&expected) {
        let produced: Vec<String> = render(&loaded).into_iter().map(|(n, _)| n).collect();
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            assert!(produced.contains(&n), "{} expected but not produced", e.path().display());
        }
    }
    blessed
}

#[test]
fn every_fixture_case_matches_its_expected_output() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("input").is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 4, "fixture cases missing");
    let blessed: usize = cases.iter().map(|c| check_case(c)).sum();
    assert_eq!(blessed, 0, "RECKON_BLESS=1 rewrote {blessed} expected files: review the diff and run again without it");
}

fn mapping_examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mappings")
}

/// Writes `df` as the Parquet file `path`.
/// A date or timestamp column's values as they are kept (days, or
/// microseconds since 1970); empty when the column is missing.
fn physical(df: &DataFrame, column: &str) -> Vec<i64> {
    df.column(column)
        .ok()
        .and_then(|c| c.cast(&DataType::Int64).ok())
        .and_then(|c| c.i64().ok().map(|a| a.iter().flatten().collect()))
        .unwrap_or_default()
}

fn write_parquet(path: &Path, df: &mut DataFrame) {
    let f = std::fs::File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetWriter::new(f).finish(df).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn without_source(df: &DataFrame) -> DataFrame {
    df.drop_many(["source_file", "source_position"])
}

/// A mapped ERP export loads to exactly the rows of its contract-shaped twin.
fn assert_twin(case: &str) {
    let dir = mapping_examples().join(case);
    let a = load(&dir.join("input"));
    let b = load(&dir.join("twin"));
    assert!(a.rejects.is_empty(), "{case}: {:?}", a.rejects);
    assert!(b.rejects.is_empty(), "{case} twin: {:?}", b.rejects);
    assert_eq!(a.tables.len(), 1);
    for (t, df) in &a.tables {
        let other = b.tables.get(t).unwrap_or_else(|| panic!("twin lacks {t}"));
        let (x, y) = (without_source(df), without_source(other));
        assert!(x.height() > 0);
        assert!(
            x.equals_missing(&y),
            "{case}: mapped rows differ from twin\n{}\n{}",
            to_csv_string(&x).unwrap_or_default(),
            to_csv_string(&y).unwrap_or_default()
        );
    }
}

#[test]
fn sap_fbl5n_export_equals_contract_twin() {
    assert_twin("sap_fbl5n");
}

#[test]
fn netsuite_export_equals_contract_twin() {
    assert_twin("netsuite_ap");
}

#[test]
fn parquet_input_loads_like_csv() {
    // Write the contract_basic AR table as Parquet with typed columns and read it back.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let csv = load(&fixtures().join("contract_basic/input"));
    let ar = csv.tables.get(&reckon_core::Table::ArOpenItems).unwrap_or_else(|| panic!("no AR"));
    let mut view = contract_view(reckon_core::Table::ArOpenItems, ar).unwrap_or_else(|e| panic!("{e}")).drop_many([
        "source_file",
        "source_position",
        "amount_open_minor",
    ]);
    write_parquet(&dir.path().join("ar_open_items.parquet"), &mut view);
    let pq = load(dir.path());
    assert!(pq.rejects.is_empty(), "{:?}", pq.rejects);
    let got = pq.tables.get(&reckon_core::Table::ArOpenItems).unwrap_or_else(|| panic!("no AR"));
    assert_eq!(
        got.column("source_position").ok().and_then(|c| c.str().ok()?.get(0).map(str::to_string)).as_deref(),
        Some("record 1")
    );
    assert!(without_source(got).equals_missing(&without_source(ar)));
}

#[test]
fn parquet_float_money_is_refused() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut df = df!(
        "account_id" => ["A1"], "entity" => ["E1"], "currency" => ["EUR"],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    write_parquet(&dir.path().join("bank_accounts.parquet"), &mut df);
    let mut gl = df!(
        "journal_id" => ["J1"], "line_no" => [1i64], "entity" => ["E1"], "account" => ["4000"],
        "posting_date" => ["2026-03-01"], "amount" => [12.5f64], "currency" => ["EUR"], "preparer_id" => ["u1"],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    write_parquet(&dir.path().join("gl_journal_lines.parquet"), &mut gl);
    let l = load(dir.path());
    assert_eq!(l.refused_files(), vec!["gl_journal_lines.parquet"]);
    assert!(l.rejects[0].reason.contains("floats cannot hold exact money"), "{}", l.rejects[0].reason);
    assert_eq!(l.tables.get(&reckon_core::Table::BankAccounts).map(|d| d.height()), Some(1));
}

#[test]
fn parquet_typed_columns_decimal_money_dates_timestamps() {
    // An ERP's Parquet export: Decimal128 money (scale 4), Date and Datetime columns, Int64 line numbers.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let amounts = Series::new("amount".into(), ["1234.5600", "-0.5000", "7.1250"])
        .cast(&DataType::Decimal(20, 4))
        .unwrap_or_else(|e| panic!("{e}"));
    let days = Series::new("posting_date".into(), [20_515i32, 20_516, 20_517])
        .cast(&DataType::Date)
        .unwrap_or_else(|e| panic!("{e}"));
    let created =
        Series::new("created_at".into(), [1_772_409_600_000_000i64, 1_772_496_000_000_000, 1_772_582_400_000_000])
            .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
            .unwrap_or_else(|e| panic!("{e}"));
    let mut df = DataFrame::new(
        3,
        vec![
            Column::new("journal_id".into(), ["J1", "J1", "J2"]),
            Column::new("line_no".into(), [1i64, 2, 1]),
            Column::new("entity".into(), ["DE01", "DE01", "BH01"]),
            Column::new("account".into(), ["4000", "1200", "4000"]),
            days.into(),
            amounts.into(),
            Column::new("currency".into(), ["EUR", "EUR", "BHD"]),
            Column::new("preparer_id".into(), ["u1", "u1", "u2"]),
            created.into(),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    write_parquet(&dir.path().join("gl_journal_lines.parquet"), &mut df);
    let l = load(dir.path());
    // 7.1250 BHD is exact at 3 decimals; -0.5000 EUR is -0.50; nothing rejected.
    assert!(l.rejects.is_empty(), "{:?}", l.rejects);
    let gl = &l.tables[&reckon_core::Table::GlJournalLines];
    let minor: Vec<i64> =
        gl.column("amount").ok().and_then(|c| c.i64().ok().map(|a| a.iter().flatten().collect())).unwrap_or_default();
    assert_eq!(minor, [123_456, -50, 7_125]);
    assert_eq!(physical(gl, "posting_date"), [20_515, 20_516, 20_517]);
    assert_eq!(physical(gl, "created_at"), [1_772_409_600_000_000, 1_772_496_000_000_000, 1_772_582_400_000_000]);
}

/// Typed Parquet dates and timestamps are checked as they are; the same rows
/// with them written as text give the same rows and the same rejects: a date
/// before the contract's range, a timestamp after it, an empty required date.
#[test]
fn parquet_typed_dates_give_what_text_dates_give() {
    let write = |dir: &Path, days: Column, created: Column| {
        let mut df = DataFrame::new(
            4,
            vec![
                Column::new("journal_id".into(), ["J1", "J1", "J2", "J3"]),
                Column::new("line_no".into(), [1i64, 2, 1, 1]),
                Column::new("entity".into(), ["DE01", "DE01", "DE01", "DE01"]),
                Column::new("account".into(), ["4000", "1200", "4000", "4000"]),
                days,
                Column::new("amount".into(), ["10.00", "-10.00", "5.00", "1.00"]),
                Column::new("currency".into(), ["EUR", "EUR", "EUR", "EUR"]),
                Column::new("preparer_id".into(), ["u1", "u1", "u2", "u2"]),
                created,
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        write_parquet(&dir.join("gl_journal_lines.parquet"), &mut df);
    };
    // 2026-03-01, 1899-12-31 (before the range), none, 2026-03-02.
    let day_values = [Some(20_513i32), Some(-25_568), None, Some(20_514)];
    // Milliseconds: 2026-03-01T12:00:00.250Z, …, 3000-01-01T00:00:00Z (after the range).
    let ms_values =
        [Some(1_772_366_400_250i64), Some(1_772_366_400_000), Some(1_772_366_400_000), Some(32_503_680_000_000)];
    let typed = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(
        typed.path(),
        Series::new("posting_date".into(), day_values).cast(&DataType::Date).unwrap_or_else(|e| panic!("{e}")).into(),
        Series::new("created_at".into(), ms_values)
            .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
            .unwrap_or_else(|e| panic!("{e}"))
            .into(),
    );
    let text = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(
        text.path(),
        Column::new("posting_date".into(), ["2026-03-01", "1899-12-31", "", "2026-03-02"]),
        Column::new(
            "created_at".into(),
            ["2026-03-01T12:00:00.250Z", "2026-03-01T12:00:00Z", "2026-03-01T12:00:00Z", "3000-01-01T00:00:00Z"],
        ),
    );
    let (a, b) = (load(typed.path()), load(text.path()));
    let facts = |l: &Loaded| {
        l.rejects
            .iter()
            .map(|r| format!("{:?} {:?} {:?} {:?} {}", r.row, r.column, r.value, r.code, r.reason))
            .collect::<Vec<_>>()
    };
    assert_eq!(facts(&a).len(), 3, "{:?}", facts(&a));
    assert_eq!(facts(&a), facts(&b));
    let gl = |l: &Loaded| without_source(&l.tables[&reckon_core::Table::GlJournalLines]);
    assert_eq!(gl(&a).height(), 1);
    assert!(gl(&a).equals_missing(&gl(&b)), "{:?}\n{:?}", gl(&a), gl(&b));
}

/// Two GL lines of an ERP's Parquet export in its own column names, the
/// posting date typed, then `more` columns.
fn erp_gl(more: Vec<Column>) -> DataFrame {
    let mut cols = vec![
        Column::new("Beleg".into(), ["J1", "J1"]),
        Column::new("Zeile".into(), [1i64, 2]),
        Column::new("Buchungskreis".into(), ["DE01", "DE01"]),
        Column::new("Konto".into(), ["4000", "1200"]),
        Series::new("Buchungsdatum".into(), [20_513i32, 20_513])
            .cast(&DataType::Date)
            .unwrap_or_else(|e| panic!("{e}"))
            .into(),
        Column::new("Betrag".into(), ["10.00", "-10.00"]),
        Column::new("Währung".into(), ["EUR", "EUR"]),
        Column::new("Erfasser".into(), ["u1", "u1"]),
    ];
    cols.extend(more);
    DataFrame::new(2, cols).unwrap_or_else(|e| panic!("{e}"))
}

/// A mapping's `date_format` is for text: a Parquet export with typed dates
/// under the same mapping loads its dates as they are.
#[test]
fn parquet_typed_dates_ignore_a_text_date_format() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("erp_gl.mapping.toml"),
        "table = \"gl_journal_lines\"\ndate_format = \"%d.%m.%Y\"\n\n[columns]\njournal_id = \"Beleg\"\nline_no = \"Zeile\"\n\
         entity = \"Buchungskreis\"\naccount = \"Konto\"\nposting_date = \"Buchungsdatum\"\namount = \"Betrag\"\n\
         currency = \"Währung\"\npreparer_id = \"Erfasser\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut df = erp_gl(Vec::new());
    write_parquet(&dir.path().join("erp_gl.parquet"), &mut df);
    let l = load(dir.path());
    assert!(l.rejects.is_empty(), "{:?}", l.rejects);
    let gl = &l.tables[&reckon_core::Table::GlJournalLines];
    assert_eq!(physical(gl, "posting_date"), [20_513, 20_513]);
}

/// A template may join a typed Parquet date or timestamp: it is written as
/// the contract writes it (`2026-03-01`, RFC 3339 in UTC) before it is joined.
#[test]
fn parquet_typed_dates_join_templates_as_text() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("erp_gl.mapping.toml"),
        "table = \"gl_journal_lines\"\n\n[columns]\njournal_id = \"{Beleg}/{Buchungsdatum}\"\nline_no = \"Zeile\"\n\
         entity = \"Buchungskreis\"\naccount = \"Konto\"\nposting_date = \"Buchungsdatum\"\namount = \"Betrag\"\n\
         currency = \"Währung\"\npreparer_id = \"Erfasser\"\ndescription = \"Text {Erfasst}\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut df = erp_gl(vec![
        Series::new("Erfasst".into(), [1_772_366_400_250i64, 1_772_366_400_000])
            .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
            .unwrap_or_else(|e| panic!("{e}"))
            .into(),
    ]);
    write_parquet(&dir.path().join("erp_gl.parquet"), &mut df);
    let l = load(dir.path());
    assert!(l.rejects.is_empty(), "{:?}", l.rejects);
    let gl = &l.tables[&reckon_core::Table::GlJournalLines];
    let text = |c: &str| -> Vec<String> {
        gl.column(c)
            .ok()
            .and_then(|c| c.str().ok().map(|a| a.iter().flatten().map(str::to_string).collect()))
            .unwrap_or_default()
    };
    assert_eq!(text("journal_id"), ["J1/2026-03-01", "J1/2026-03-01"]);
    assert_eq!(text("description"), ["Text 2026-03-01T12:00:00.250Z", "Text 2026-03-01T12:00:00Z"]);
}

/// A Parquet file with none of its table's columns is refused with every row
/// it holds counted as rejected.
#[test]
fn parquet_without_any_contract_column_is_refused_with_its_rows() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut df = df!("x" => ["a", "b", "c"], "y" => [1i64, 2, 3]).unwrap_or_else(|e| panic!("{e}"));
    write_parquet(&dir.path().join("gl_journal_lines.parquet"), &mut df);
    let l = load(dir.path());
    assert_eq!(l.refused_files(), vec!["gl_journal_lines.parquet"]);
    let r = &l.files[0];
    assert_eq!((r.input_rows, r.rejected_rows, r.loaded_rows), (3, 3, 0));
}
