//! End-to-end runs: manifest, rejects, exit codes, determinism, normalized round trip.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use reckon_pipeline::{Config, RunOptions, RunStatus, run};

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/ingest").join(case).join("input")
}

fn opts(input: &Path, out: &Path, keep: bool) -> RunOptions {
    let mut config = Config::default();
    config.output.keep_normalized = keep;
    RunOptions::new(input, out, config)
}

fn read_parquet(p: &Path) -> DataFrame {
    let f = std::fs::File::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    ParquetReader::new(f).finish().unwrap_or_else(|e| panic!("{e}"))
}

fn manifest_json(out: &Path) -> serde_json::Value {
    let t = std::fs::read_to_string(out.join("manifest.json")).unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_str(&t).unwrap_or_else(|e| panic!("{e}"))
}

/// Writes `files` (name, contents) into a fresh input folder, runs reckon on it
/// and returns `matches.parquet` as (txn_id, item_id, band, reasons) rows.
fn matches_of(files: &[(&str, String)]) -> Vec<(String, String, String, String)> {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = t.path().join("in");
    std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{e}"));
    for (name, text) in files {
        let p = d.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(p, text).unwrap_or_else(|e| panic!("{e}"));
    }
    let out = t.path().join("out");
    run(&opts(&d, &out, false)).unwrap_or_else(|e| panic!("{e}"));
    let m = read_parquet(&out.join("matches.parquet"));
    let col = |c: &str| -> Vec<String> {
        m.column(c)
            .and_then(|c| c.str().map(|s| s.iter().map(|v| v.unwrap_or("").to_string()).collect()))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let (txn, item, band, reasons) = (col("txn_id"), col("item_id"), col("band"), col("reasons"));
    (0..m.height()).map(|i| (txn[i].clone(), item[i].clone(), band[i].clone(), reasons[i].clone())).collect()
}

/// The (txn_id, item_id) links of a run on `files`, sorted.
fn links_of(files: &[(&str, String)]) -> Vec<(String, String)> {
    let mut links: Vec<(String, String)> = matches_of(files).into_iter().map(|(t, i, _, _)| (t, i)).collect();
    links.sort();
    links
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn refused_files_give_exit_3_and_reject_rows() {
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let o = run(&opts(&fixture("refused"), out.path(), false)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status, RunStatus::InputRefused);
    let m = manifest_json(out.path());
    let refused: Vec<&str> = m["refused_files"].as_array().into_iter().flatten().filter_map(|v| v.as_str()).collect();
    // customers.csv is UTF-16 (with a BOM): decoded and loaded, not refused.
    assert_eq!(refused, ["ap_invoices.csv", "gl_journal_lines.csv", "vendors.parquet"]);
    assert!(m["ignored_files"][0].as_str().is_some_and(|f| f.starts_with("notes.txt (")), "{}", m["ignored_files"]);
    assert_eq!(m["conservation"]["balanced"], true);
    let rej = read_parquet(&out.path().join("rejects.parquet"));
    assert_eq!(rej.height(), 3);
    let names: Vec<String> = rej.get_column_names().iter().map(|s| s.to_string()).collect();
    for c in ["file", "row", "column", "value", "reason"] {
        assert!(names.iter().any(|n| n == c), "rejects.parquet lacks {c}");
    }
    assert_eq!(rej.column("row").map(|c| c.null_count()).ok(), Some(3), "whole-file rejects have no row");
}

#[test]
fn row_rejects_are_written_and_rows_tie_out() {
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let o = run(&opts(&fixture("bad_rows"), out.path(), false)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status, RunStatus::Complete, "row rejects alone do not refuse the file");
    let m = manifest_json(out.path());
    let t = &m["conservation"]["tables"]["ar_open_items"];
    assert_eq!(
        (t["input_rows"].as_u64(), t["loaded_rows"].as_u64(), t["rejected_rows"].as_u64()),
        (Some(15), Some(3), Some(12))
    );
    let rej = read_parquet(&out.path().join("rejects.parquet"));
    assert_eq!(rej.height(), 14);
    // Sorted by file and line.
    let rows: Vec<Option<u64>> = rej
        .column("row")
        .and_then(|c| c.u64().map(|c| c.iter().collect()))
        .unwrap_or_else(|e| panic!("rejects.parquet row must be u64: {e}"));
    assert_eq!(rows.len(), rej.height());
    let mut sorted = rows.clone();
    sorted.sort();
    assert_eq!(rows, sorted);
    assert_eq!(m["amount_totals"]["ar_open_items"]["amount_open"]["EUR"], "1235.06");
    assert_eq!(m["amount_totals"]["ar_open_items"]["amount_open"]["BHD"], "12.345");
}

/// Same input, two runs at 1 and 8 threads: identical outputs apart from run id and timestamps.
#[test]
fn runs_are_deterministic_and_normalized_output_reloads() {
    let input = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    reckon_synth::generate(input.path(), &reckon_synth::Config::new(5, 1500)).unwrap_or_else(|e| panic!("{e}"));
    let a = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let b = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // One thread against eight: the same bytes.
    let pool = |n| rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap_or_else(|e| panic!("{e}"));
    let oa = pool(1).install(|| run(&opts(input.path(), a.path(), true))).unwrap_or_else(|e| panic!("{e}"));
    pool(8).install(|| run(&opts(input.path(), b.path(), true))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(oa.status, RunStatus::Complete);
    let strip = |mut v: serde_json::Value| {
        for k in ["run_id", "started_at", "finished_at", "timings_ms", "input_dir"] {
            v[k] = serde_json::Value::Null;
        }
        // The exception files carry the run id and time; their content is compared below.
        for f in ["exceptions.parquet", "exceptions.jsonl", "exceptions.arrow"] {
            v["outputs"][f]["sha256"] = serde_json::Value::Null;
        }
        v
    };
    assert_eq!(strip(manifest_json(a.path())), strip(manifest_json(b.path())));
    // exceptions.jsonl: identical apart from run id and time.
    let events = |d: &Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(d.join("exceptions.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}"));
                v["time"] = serde_json::Value::Null;
                v["data"]["run_id"] = serde_json::Value::Null;
                v
            })
            .collect()
    };
    let (ea, eb) = (events(a.path()), events(b.path()));
    assert!(!ea.is_empty());
    assert_eq!(ea, eb, "exceptions differ between 1 and 8 threads");
    for e in &ea {
        assert_eq!(e["specversion"], "1.0");
        assert!(e["type"].as_str().is_some_and(|t| t.starts_with("com.reckon.exception.")));
        assert!(e["id"].as_str().is_some_and(|t| t.starts_with("EX-")));
    }
    for f in [
        "rejects.parquet",
        "matches.parquet",
        "receipt_outcomes.parquet",
        "normalized/bank_transactions.parquet",
        "normalized/gl_journal_lines.parquet",
    ] {
        let x = std::fs::read(a.path().join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        let y = std::fs::read(b.path().join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(x, y, "{f} differs between runs");
    }
    let m = manifest_json(a.path());
    assert_eq!(m["conservation"]["balanced"], true);
    let b = &m["conservation"]["bank_transactions"];
    assert_eq!(b["input_rows"], b["loaded"]);
    // Every bank entry is matched or in an exception: nothing falls through.
    assert_eq!(b["unreconciled"], 0);
    assert_eq!(
        b["matched"].as_u64().unwrap_or(0) + b["in_exceptions"].as_u64().unwrap_or(0),
        b["loaded"].as_u64().unwrap_or(1)
    );
    assert!(b["matched"].as_u64().unwrap_or(0) > 0);
    // normalized/ is valid contract input: loading it again gives the rows the
    // input loads to (the run keeps of the GL lines' frame only its height).
    let again = reckon_ingest::load_dir(&a.path().join("normalized")).unwrap_or_else(|e| panic!("{e}"));
    assert!(again.rejects.is_empty(), "{:?}", &again.rejects[..again.rejects.len().min(3)]);
    let first = reckon_ingest::load_dir(input.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.tables.keys().collect::<Vec<_>>(), oa.loaded.tables.keys().collect::<Vec<_>>());
    for (t, df) in &first.tables {
        let other = &again.tables[t];
        let cols: Vec<&str> = t.spec().columns.iter().map(|c| c.name).collect();
        let x = df.select(cols.clone()).unwrap_or_else(|e| panic!("{e}"));
        let y = other.select(cols).unwrap_or_else(|e| panic!("{e}"));
        assert!(x.equals_missing(&y), "{t}: normalized output does not reload to the same rows");
    }
}

#[test]
fn feed_policy_escalates() {
    let input = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    reckon_synth::generate(input.path(), &reckon_synth::Config::new(8, 600)).unwrap_or_else(|e| panic!("{e}"));
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config =
        Config::from_toml("t", "[feed]\nescalate_above = { EUR = \"10000.00\" }\nwatch_entities = [\"GB01\"]\n")
            .unwrap_or_else(|e| panic!("{e}"));
    let o = RunOptions::new(input.path(), out.path(), config);
    run(&o).unwrap_or_else(|e| panic!("{e}"));
    let lines = std::fs::read_to_string(out.path().join("exceptions.jsonl")).unwrap_or_default();
    let events: Vec<serde_json::Value> = lines.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(!events.is_empty());
    // Receipts and money out the engines leave at `review` (duplicates and journal
    // anomalies carry their engines' own bands).
    for e in events.iter().filter(|e| {
        let d = &e["data"];
        d["records"][0].as_str().is_some_and(|r| r.starts_with("bank_transactions:"))
            && !matches!(d["kind"].as_str(), Some("duplicate_payment"))
    }) {
        let d = &e["data"];
        let eur = reckon_core::Currency::parse("EUR").unwrap_or_else(|| panic!("EUR"));
        let big_eur = d["currency"] == "EUR"
            && d["amount"]
                .as_str()
                .and_then(|a| reckon_core::parse_minor(a, &reckon_core::MoneyFormat::CONTRACT, eur).ok())
                .is_some_and(|m| m.abs() > 1_000_000);
        let watched = d["entity"] == "GB01";
        let want = if big_eur || watched { "escalate" } else { "review" };
        assert_eq!(d["band"], want, "{d}");
    }
    assert!(events.iter().any(|e| e["data"]["band"] == "escalate"));
}

/// The issue's determinism contract: 1, 2 and 8 threads give byte-identical
/// `exceptions.parquet`, `exceptions.jsonl` and `manifest.json` apart from
/// timestamps and run id. With the start time pinned (the run id and the events'
/// `time` derive from it) the exception files are compared byte for byte, and the
/// manifest after blanking only what the clock writes (finish time, timings).
#[test]
fn one_two_and_eight_threads_give_byte_identical_feed_and_manifest() {
    let input = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    reckon_synth::generate(input.path(), &reckon_synth::Config::new(11, 1200)).unwrap_or_else(|e| panic!("{e}"));
    let at = chrono::DateTime::parse_from_rfc3339("2026-03-31T18:00:00Z")
        .unwrap_or_else(|e| panic!("{e}"))
        .with_timezone(&chrono::Utc);
    let outs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))).collect();
    for (threads, out) in [1usize, 2, 8].into_iter().zip(&outs) {
        let mut o = RunOptions::new(input.path(), out.path(), Config::default());
        o.started_at = Some(at);
        // Same input folder path in every run: the manifest names it.
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap_or_else(|e| panic!("{e}"));
        let r = pool.install(|| run(&o)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status, RunStatus::Complete);
        // Tools read the written manifest back typed, as the run wrote it.
        let w = reckon_pipeline::manifest::Written::read(out.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w.run_id, r.manifest.run_id);
        assert_eq!(w.config, r.manifest.config);
        assert_eq!(w.stage_reports, r.manifest.stage_reports);
        assert_eq!(w.models, r.manifest.models);
        assert_eq!(w.conservation.tables, r.manifest.conservation.tables);
        assert_eq!(w.contract_version, reckon_core::CONTRACT_VERSION);
    }
    let read = |d: &Path, f: &str| std::fs::read(d.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    let manifest = |d: &Path| {
        let mut v: serde_json::Value =
            serde_json::from_slice(&read(d, "manifest.json")).unwrap_or_else(|e| panic!("{e}"));
        v["finished_at"] = serde_json::Value::Null;
        v["timings_ms"] = serde_json::Value::Null;
        serde_json::to_vec_pretty(&v).unwrap_or_default()
    };
    let first = outs[0].path();
    assert!(read(first, "exceptions.jsonl").len() > 1000, "the scenario should raise exceptions");
    for other in &outs[1..] {
        for f in ["exceptions.parquet", "exceptions.jsonl", "exceptions.arrow", "matches.parquet"] {
            assert!(read(first, f) == read(other.path(), f), "{f} differs between thread counts");
        }
        assert_eq!(manifest(first), manifest(other.path()), "manifest.json differs between thread counts");
    }
}

/// The default run uses the shipped cash-matching model (named in the manifest with
/// its hash, cited by the exceptions it scored); `rules` runs without it; a named
/// model that is missing stops the run instead of silently changing method.
#[test]
fn the_shipped_model_scores_the_run_and_a_missing_one_is_an_error() {
    let input = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    reckon_synth::generate(input.path(), &reckon_synth::Config::new(3, 800)).unwrap_or_else(|e| panic!("{e}"));
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let r = run(&RunOptions::new(input.path(), out.path(), Config::default())).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = r.manifest.models.iter().map(|m| m.id.as_str()).collect();
    // In stage order (stage::STAGES): cash, disbursements, duplicates, journals.
    assert_eq!(ids, ["cash@2.2", "duplicates@2.0", "journals@5.0", "journals_iforest@5.0"]);
    assert!(r.manifest.stages["cash"].contains("model cash@2.2"));
    let ev = std::fs::read_to_string(out.path().join("exceptions.jsonl")).unwrap_or_default();
    assert!(ev.contains("\"model\":\"cash@2.2\""), "proposals should cite the model");

    let mut rules = Config::default();
    rules.cash.model = "rules".into();
    rules.duplicates.model = "off".into();
    rules.journals.model = "rules".into();
    let r = run(&RunOptions::new(input.path(), out.path(), rules)).unwrap_or_else(|e| panic!("{e}"));
    assert!(r.manifest.models.is_empty());
    assert_eq!(r.manifest.stages["duplicates"], "off");

    let mut missing = Config::default();
    missing.cash.model = "cash_v9_9".into();
    let e = run(&RunOptions::new(input.path(), out.path(), missing)).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("cash_v9_9") && e.contains("rules"), "{e}");

    // A model named as before the families were renamed: the error says what to write.
    let mut before = Config::default();
    before.cash.model = "cash_match_v2_2".into();
    let e = run(&RunOptions::new(input.path(), out.path(), before)).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("try 'cash_v2_2'"), "{e}");
    assert_eq!(reckon_pipeline::model::renamed("models/journal_anomaly_v3_0").as_deref(), Some("models/journals_v3_0"));
    assert_eq!(reckon_pipeline::model::renamed("ap_dedup@2.0").as_deref(), Some("duplicates@2.0"));
    assert_eq!(reckon_pipeline::model::renamed("cash_matches"), None);
}

/// The feed for consumers: `exceptions.arrow` (Arrow IPC) and `exceptions.parquet`
/// carry the same rows as `exceptions.jsonl`, with reckon's schema metadata, and
/// polars reads the Parquet that arrow-rs wrote.
#[test]
fn feed_files_for_consumers_agree_and_carry_metadata() {
    let input = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    reckon_synth::generate(input.path(), &reckon_synth::Config::new(4, 1000)).unwrap_or_else(|e| panic!("{e}"));
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    run(&RunOptions::new(input.path(), out.path(), Config::default())).unwrap_or_else(|e| panic!("{e}"));
    let n = std::fs::read_to_string(out.path().join("exceptions.jsonl")).unwrap_or_default().lines().count();
    assert!(n > 0);
    let f = std::fs::File::open(out.path().join("exceptions.arrow")).unwrap_or_else(|e| panic!("{e}"));
    let reader = arrow::ipc::reader::FileReader::try_new(f, None).unwrap_or_else(|e| panic!("{e}"));
    let schema = reader.schema();
    assert_eq!(schema.metadata().get("reckon.table").map(String::as_str), Some("exceptions"));
    assert!(schema.metadata().get("reckon.run_id").is_some_and(|r| r.starts_with("run-")));
    assert!(schema.field_with_name("exception_id").is_ok() && schema.field_with_name("priority").is_ok());
    // The same rows in the same order, field by field, in all three files.
    let cols = ["exception_id", "kind", "band", "amount", "currency"];
    let jsonl: Vec<Vec<String>> = std::fs::read_to_string(out.path().join("exceptions.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}"));
            cols.iter()
                .map(|c| match &v["data"][*c] {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => String::new(),
                    other => panic!("exceptions.jsonl {c}: {other}"),
                })
                .collect()
        })
        .collect();
    let mut arrow_rows: Vec<Vec<String>> = Vec::new();
    for b in reader {
        let b = b.unwrap_or_else(|e| panic!("{e}"));
        let text: Vec<arrow::array::StringArray> = cols
            .iter()
            .map(|c| {
                let a = b.column_by_name(c).unwrap_or_else(|| panic!("exceptions.arrow lacks {c}"));
                let a = arrow::compute::cast(a, &arrow::datatypes::DataType::Utf8).unwrap_or_else(|e| panic!("{e}"));
                a.as_any()
                    .downcast_ref::<arrow::array::StringArray>()
                    .unwrap_or_else(|| panic!("exceptions.arrow {c} is not text"))
                    .clone()
            })
            .collect();
        for r in 0..b.num_rows() {
            arrow_rows.push(
                text.iter()
                    .map(|a| if arrow::array::Array::is_null(a, r) { String::new() } else { a.value(r).to_string() })
                    .collect(),
            );
        }
    }
    assert_eq!(arrow_rows, jsonl, "exceptions.arrow differs from exceptions.jsonl");
    let pf = std::fs::File::open(out.path().join("exceptions.parquet")).unwrap_or_else(|e| panic!("{e}"));
    let df = polars::prelude::ParquetReader::new(pf).finish().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(df.height(), n);
    let parquet_cols: Vec<Vec<String>> = cols
        .iter()
        .map(|c| {
            df.column(c)
                .and_then(|x| x.str().map(|s| s.iter().map(|v| v.unwrap_or("").to_string()).collect()))
                .unwrap_or_else(|e| panic!("exceptions.parquet {c}: {e}"))
        })
        .collect();
    let parquet_rows: Vec<Vec<String>> = (0..n).map(|r| parquet_cols.iter().map(|c| c[r].clone()).collect()).collect();
    assert_eq!(parquet_rows, jsonl, "exceptions.parquet differs from exceptions.jsonl");
    let m = manifest_json(out.path());
    assert_eq!(m["outputs"]["exceptions.arrow"]["rows"], n as u64);
}

/// A risk model names its inputs; reckon builds them by name (so a model trained
/// before a test was added still gets exactly its inputs) and refuses a name it
/// does not compute.
#[test]
fn risk_model_inputs_are_built_by_name() {
    use reckon_pipeline::journals::{RarityBase, combined};
    let j = reckon_journals::JournalResult {
        flags: vec![reckon_journals::Flag {
            test: reckon_journals::JournalTest::Backdated,
            text: "".into(),
            weight: 0.55,
        }],
        risk: 0.55,
        amount_z: 12.0,
        ..Default::default()
    };
    let names: Vec<String> =
        ["amount_z", "flag_backdated", "flag_unbalanced", "rule_risk"].iter().map(|s| s.to_string()).collect();
    let x = combined(std::slice::from_ref(&j), &[0.5], &names, RarityBase::TRAINED).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(x, [10.0, 1.0, 0.0, 0.55]);
    let err = combined(&[j], &[0.5], &["flag_astrology".to_string()], RarityBase::TRAINED).err();
    assert!(
        matches!(&err, Some(reckon_pipeline::journals::RiskError::UnknownInput(n)) if n == "flag_astrology"),
        "{err:?}"
    );
}

/// A book's rarity inputs start at its base: a source a preparer uses for one
/// journal in four is a habit of this book, not evidence, for a model read
/// from the book's routine (`journal_risk_v3`); a source used once in a
/// hundred is. A model read from the median (`journal_risk_v2`, journals 4.0)
/// keeps its inputs.
#[test]
fn rarity_inputs_start_at_the_books_routine() {
    use reckon_pipeline::journals::{RarityBase, RiskModel, combined, inputs_spec};
    let with_share = |share: f64| reckon_journals::JournalResult {
        rarity: reckon_journals::Rarity { preparer_source: share, ..Default::default() },
        ..Default::default()
    };
    // 70 journals through the preparer's usual source, 25 through one they use
    // for a quarter of theirs, 5 through one they use once in a hundred.
    let book: Vec<reckon_journals::JournalResult> = std::iter::repeat_n(1.0, 70)
        .chain(std::iter::repeat_n(0.25, 25))
        .chain(std::iter::repeat_n(0.01, 5))
        .map(with_share)
        .collect();
    let names = vec!["rare_preparer_source".to_string()];
    let forest = vec![0.5; book.len()];
    let at = |base| {
        let x = combined(&book, &forest, &names, base).unwrap_or_else(|e| panic!("{e}"));
        (x[0], x[70], x[95])
    };
    let habit = -(0.25f64.log10()) as f32;
    assert_eq!(at(RarityBase::Median), (0.0, habit, 2.0), "above the median (0): the habit counts");
    let (usual, minority, rare) = at(RarityBase::Routine);
    assert_eq!((usual, minority), (0.0, 0.0), "at the routine (the 90th percentile, the habit): 0");
    assert!((rare - (2.0 - habit)).abs() < 1e-6, "what is rarer than the routine counts: {rare}");

    // A model's feature spec names its base; one reckon does not compute is refused.
    assert_eq!(RarityBase::of_spec("journal_risk_v2"), Some(RarityBase::Median));
    assert_eq!(RarityBase::of_spec("journal_risk_v3"), Some(RarityBase::Routine));
    assert_eq!(RarityBase::of_spec("journal_risk_v1"), None);
    assert_ne!(inputs_spec(&names, RarityBase::Median), inputs_spec(&names, RarityBase::Routine));
    let shipped = reckon_pipeline::model::resolve("journals_v5_0").unwrap_or_else(|| panic!("shipped model"));
    let m = RiskModel::load(&shipped).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.base, RarityBase::Routine);
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (spec, loads) in [("journal_risk_v2", Some(RarityBase::Median)), ("journal_risk_v1", None)] {
        let dir = t.path().join(spec);
        std::fs::create_dir_all(dir.join("iforest")).unwrap_or_else(|e| panic!("{e}"));
        for f in ["model.onnx", "iforest/model.onnx", "iforest/config.json"] {
            std::fs::copy(shipped.join(f), dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        }
        let cfg = std::fs::read_to_string(shipped.join("config.json")).unwrap_or_default();
        assert!(cfg.contains("\"journal_risk_v3\""), "{cfg}");
        std::fs::write(dir.join("config.json"), cfg.replace("\"journal_risk_v3\"", &format!("\"{spec}\"")))
            .unwrap_or_else(|e| panic!("{e}"));
        match (RiskModel::load(&dir), loads) {
            (Ok(m), Some(base)) => assert_eq!(m.base, base),
            (Err(e), None) => assert!(e.to_string().contains(spec), "{e}"),
            (r, _) => panic!("{spec}: {:?}", r.map(|m| m.base)),
        }
    }
}

/// A test added after a model was trained stays out of the `rule_risk` the model
/// reads, and raises the model's risk afterwards as rules combine.
#[test]
fn tests_a_model_was_not_trained_with_raise_its_risk_afterwards() {
    use reckon_journals::{Flag, JournalTest};
    use reckon_pipeline::journals::{RarityBase, combined, raised, untrained};
    let flag = |test, weight| Flag { test, text: "".into(), weight };
    let j = reckon_journals::JournalResult {
        flags: vec![flag(JournalTest::Backdated, 0.55), flag(JournalTest::SeldomAccount, 0.30)],
        risk: 1.0 - 0.45 * 0.70,
        ..Default::default()
    };
    // The shipped model was trained where seldom_account never fired on an
    // anomalous journal (unusual_hour and unusual_preparer_source did, in the worlds).
    let dir = reckon_pipeline::model::resolve("journals_v5_0").unwrap_or_else(|| panic!("shipped model"));
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<String> =
        cfg["features"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect();
    // Tests that never fired on its training journals are not its inputs.
    assert_eq!(untrained(&names), [JournalTest::SeldomAccount]);
    let x = combined(
        std::slice::from_ref(&j),
        &[0.5],
        &["rule_risk".to_string(), "flag_backdated".to_string()],
        RarityBase::TRAINED,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(x, [0.55, 1.0], "rule_risk without the untrained flag");
    let r = raised(0.2, &j.flags, &untrained(&names));
    assert!((r - (1.0 - 0.8 * 0.70)).abs() < 1e-12, "{r}");
    assert_eq!(raised(0.2, &j.flags[..1], &untrained(&names)), 0.2, "no untrained flag: the model's risk");
}

/// Invoice-number blocking done by polars joins gives the engine exactly the
/// candidates its own index finds: the same matches and outcomes — also for US
/// ACH texts, whose `IND ID:` may be a customer's id (no invoice's) or an
/// invoice number, and for UK books, whose Bacs names may be cut.
#[test]
fn polars_blocking_equals_the_engines_own_lookups() {
    for world in [None, reckon_synth::world::by_name("us_ach"), reckon_synth::world::by_name("uk_retail")] {
        let input = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let config = reckon_synth::Config { world, ..reckon_synth::Config::new(21, 4000) };
        reckon_synth::generate(input.path(), &config).unwrap_or_else(|e| panic!("{e}"));
        let loaded = reckon_ingest::load_dir(input.path()).unwrap_or_else(|e| panic!("{e}"));
        let tables = reckon_pipeline::inputs::Tables::from_loaded(&loaded).unwrap_or_else(|e| panic!("{e}"));
        let rows = reckon_pipeline::cash::rows(&tables).unwrap_or_else(|| panic!("no inputs"));
        let i = reckon_pipeline::cash::inputs(&rows, &tables);
        // Names that may be cut: ACH and Bacs/Faster Payments names as long as
        // their fields; in the standard books only names of 17–18 characters of
        // a credit the text calls Bacs, from no account or a UK one.
        let cut = i.receipts.iter().filter(|r| r.name_form == reckon_cash::PayerNameForm::MayBeCut).count();
        for r in i.receipts.iter().filter(|r| r.name_form != reckon_cash::PayerNameForm::Whole && world.is_none()) {
            let n = r.counterparty_name.trim_end().chars().count();
            assert!(
                (17..=18).contains(&n) && reckon_cash::account::may_be_uk_domestic(&r.counterparty_account),
                "{r:?}"
            );
        }
        let ids: std::collections::HashSet<&str> = i.customers.iter().map(|c| c.customer_id.as_str()).collect();
        let keyed = i.receipts.iter().filter(|r| ids.contains(r.payer_ref.as_str())).count();
        match world.map(|w| w.name) {
            None => assert!(cut < i.receipts.len() / 100 && keyed == 0, "{cut} cut, {keyed} keyed"),
            Some("us_ach") => assert!(cut > 50 && keyed > 20, "{cut} cut, {keyed} keyed"),
            _ => assert!(cut > 50 && keyed == 0, "{cut} cut, {keyed} keyed"),
        }
        let blocks = reckon_pipeline::cash::reference_blocks(&i.receipts, &i.items, &i.customers)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(blocks.iter().filter(|b| !b.is_empty()).count() > 1000, "most receipts name an invoice");
        let cfg = reckon_cash::MatchConfig { model: "rules".into(), ..Default::default() };
        let own = reckon_cash::run(&i.receipts, &i.items, &i.customers, &i.remittances, &cfg);
        let joined =
            reckon_cash::run_blocked(&i.receipts, &i.items, &i.customers, &i.remittances, &cfg, None, Some(&blocks))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(own.rows, joined.rows);
        assert_eq!(own.outcomes, joined.outcomes);
    }
}

/// Conservation by id: the manifest's bank figures agree with the output files
/// read independently (auto receipts and settled money out are matched, every
/// other entry is the subject of exactly one exception), and the check finds a
/// lost entry, an entry in two places and a phantom entry — compensating errors
/// that a count tally would cancel.
/// Once the GL lines are the engines' book, the run keeps of their loaded frame
/// only its height and, with a state store, the columns a journal exception's
/// facts come from; the money totals are those of the whole table.
#[test]
fn the_gl_frame_keeps_only_what_the_run_reads_after_the_stages() {
    use reckon_core::Table::GlJournalLines as Gl;
    let input = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    reckon_synth::generate(input.path(), &reckon_synth::Config::new(8, 600)).unwrap_or_else(|e| panic!("{e}"));
    let fresh = reckon_ingest::load_dir(input.path()).unwrap_or_else(|e| panic!("{e}"));
    let lines = &fresh.tables[&Gl];
    assert!(lines.height() > 0 && lines.width() > 3);
    let totals = reckon_pipeline::amount_totals(&fresh);
    assert!(!totals["gl_journal_lines"]["amount"].is_empty());

    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let o = run(&opts(input.path(), out.path(), false)).unwrap_or_else(|e| panic!("{e}"));
    let kept = &o.loaded.tables[&Gl];
    assert_eq!((kept.height(), kept.width()), (lines.height(), 0));
    assert_eq!(o.manifest.amount_totals, totals);
    assert_eq!(o.manifest.conservation.gl_journal_lines.as_ref().map(|c| c.loaded), Some(lines.height() as u64));

    let mut with_state = opts(input.path(), &out.path().join("with_state"), false);
    with_state.state = Some(out.path().join("state.sqlite"));
    let o = run(&with_state).unwrap_or_else(|e| panic!("{e}"));
    let kept = &o.loaded.tables[&Gl];
    let names: Vec<&str> = kept.get_column_names().into_iter().map(|c| c.as_str()).collect();
    let (mut sorted, mut facts) = (names.clone(), reckon_pipeline::remember::GL_FACT_COLUMNS.to_vec());
    sorted.sort();
    facts.sort();
    assert_eq!(sorted, facts);
    assert!(kept.equals_missing(&lines.select(names).unwrap_or_else(|e| panic!("{e}"))));
    assert_eq!(o.manifest.amount_totals, totals);
}

#[test]
fn conservation_is_checked_entry_by_entry() {
    use reckon_pipeline::manifest::{Settlement, conservation};
    let input = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    reckon_synth::generate(input.path(), &reckon_synth::Config::new(6, 600)).unwrap_or_else(|e| panic!("{e}"));
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let o = run(&opts(input.path(), out.path(), false)).unwrap_or_else(|e| panic!("{e}"));
    let text = |df: &DataFrame, c: &str| -> Vec<String> {
        df.column(c)
            .and_then(|x| x.str().map(|s| s.iter().map(|v| v.unwrap_or("").to_string()).collect()))
            .unwrap_or_else(|e| panic!("{c}: {e}"))
    };
    let outcomes = read_parquet(&out.path().join("receipt_outcomes.parquet"));
    let mut matched: Vec<String> = text(&outcomes, "txn_id")
        .into_iter()
        .zip(text(&outcomes, "status"))
        .filter(|(_, s)| s == "auto")
        .map(|(t, _)| t)
        .collect();
    let d = read_parquet(&out.path().join("disbursements.parquet"));
    matched.extend(
        text(&d, "txn_id")
            .into_iter()
            .zip(text(&d, "status"))
            .filter(|(_, s)| s == "paid" || s == "classified")
            .map(|(t, _)| t),
    );
    let in_exceptions: Vec<String> = std::fs::read_to_string(out.path().join("exceptions.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}"));
            v["data"]["records"][0].as_str().and_then(|r| r.strip_prefix("bank_transactions:")).map(str::to_string)
        })
        .collect();
    let b = &o.manifest.conservation.bank_transactions;
    assert!(o.manifest.conservation.balanced, "{:?}", o.manifest.conservation.problems);
    assert_eq!((b.matched, b.in_exceptions, b.unreconciled), (matched.len() as u64, in_exceptions.len() as u64, 0));
    assert_eq!(b.loaded, b.matched + b.in_exceptions);
    let ap = o.manifest.conservation.ap_invoices.clone().unwrap_or_else(|| panic!("AP screened"));
    assert!(ap.loaded > 0 && ap.loaded == ap.screened, "{ap:?}");
    let gl = o.manifest.conservation.gl_journal_lines.clone().unwrap_or_else(|| panic!("GL scored"));
    assert!(gl.loaded > 0 && gl.loaded == gl.screened, "{gl:?}");

    let good = Settlement {
        receipts: b.receipts.clone(),
        matched: matched.clone(),
        in_exceptions: in_exceptions.clone(),
        ap_screened: None,
        gl_scored: None,
    };
    assert!(conservation(&o.loaded, &good).balanced);
    // One entry lost and another counted twice: the tally still adds up, the ids do not.
    let mut swapped = good.clone();
    let lost = swapped.matched.pop().unwrap_or_default();
    swapped.in_exceptions.push(swapped.in_exceptions[0].clone());
    let c = conservation(&o.loaded, &swapped);
    assert!(!c.balanced);
    assert!(
        c.problems.iter().any(|p| p.contains("neither matched nor in an exception") && p.contains(&lost)),
        "{:?}",
        c.problems
    );
    assert!(c.problems.iter().any(|p| p.contains("more than one place")), "{:?}", c.problems);
    // An entry both matched and the subject of an exception.
    let mut both = good.clone();
    both.in_exceptions.push(both.matched[0].clone());
    let c = conservation(&o.loaded, &both);
    assert!(
        c.problems.iter().any(|p| p.contains("more than one place") && p.contains(&both.matched[0])),
        "{:?}",
        c.problems
    );
    // A matched entry that was never loaded.
    let mut phantom = good.clone();
    phantom.matched.push("BT-NEVER-LOADED".into());
    let c = conservation(&o.loaded, &phantom);
    assert!(c.problems.iter().any(|p| p.contains("never loaded") && p.contains("BT-NEVER-LOADED")), "{:?}", c.problems);
    // An AP invoice the duplicate stage did not screen, a GL line scored twice.
    let mut partial = good.clone();
    let mut ap_ids: Vec<String> = o.loaded.tables[&reckon_core::Table::ApInvoices]
        .column("doc_id")
        .and_then(|c| c.str().map(|s| s.iter().map(|v| v.unwrap_or("").to_string()).collect()))
        .unwrap_or_else(|e| panic!("{e}"));
    let skipped = ap_ids.pop().unwrap_or_default();
    partial.ap_screened = Some(ap_ids);
    partial.gl_scored = Some(vec![0, 0]);
    let c = conservation(&o.loaded, &partial);
    assert!(c.problems.iter().any(|p| p.starts_with("ap_invoices") && p.contains(&skipped)), "{:?}", c.problems);
    assert!(
        c.problems.iter().any(|p| p.starts_with("gl_journal_lines") && p.contains("row 0 (2×)")),
        "{:?}",
        c.problems
    );
}

/// A US ACH credit whose payer is named only in the bank's description
/// (`ORIG CO NAME:`, cut at 16 characters) and whose invoices are only in its
/// CTX addenda (`RMR*IV*…`) is applied to the right invoices.
#[test]
fn ach_description_names_the_payer_and_the_invoices() {
    let mut files: Vec<(&str, String)> = Vec::new();
    let mut w = |n: &'static str, s: &str| files.push((n, s.to_string()));
    w("bank_accounts.csv", "account_id,entity,currency,gl_account\n021000021-4432190876,US01,USD,1200\n");
    w(
        "customers.csv",
        "customer_id,name,aliases,ibans,tax_id\nC1,Acme Industrial Supplies Inc,,,\nC2,Beta Trading LLC,,,\n",
    );
    w(
        "ar_open_items.csv",
        "item_id,entity,customer_id,customer_name,invoice_number,invoice_date,due_date,amount_open,currency\n\
AR1,US01,C1,Acme Industrial Supplies Inc,90017,2026-02-01,2026-03-03,1250.00,USD\n\
AR2,US01,C1,Acme Industrial Supplies Inc,90018,2026-02-02,2026-03-04,775.25,USD\n\
AR3,US01,C2,Beta Trading LLC,90019,2026-02-02,2026-03-04,1250.00,USD\n\
AR4,US01,C1,Acme Industrial Supplies Inc,90020,2026-02-10,2026-03-12,430.10,USD\n\
AR5,US01,C2,Beta Trading LLC,90021,2026-02-10,2026-03-12,430.10,USD\n",
    );
    w(
        "bank_transactions.csv",
        "txn_id,account_id,booking_date,value_date,amount,currency,counterparty_name,counterparty_account,end_to_end_id,reference,description,bank_code,instructed_amount,instructed_currency\n\
BT1,021000021-4432190876,2026-03-05,2026-03-05,2025.25,USD,,,,,ORIG CO NAME:ACME INDUSTRIAL  ORIG ID:1234567890 DESC DATE:260305 CO ENTRY DESCR:PAYMENT   SEC:CTX TRACE#:021000021234567 EED:260305 IND ID:C1 IND NAME:ACME RMR*IV*90017*PI*1250.00\\RMR*IV*90018*PI*775.25\\,,,\n\
BT2,021000021-4432190876,2026-03-06,2026-03-06,430.10,USD,,,,,ORIG CO NAME:ACME INDUSTRIAL  ORIG ID:1234567890 DESC DATE:260306 CO ENTRY DESCR:PAYMENT   SEC:CCD TRACE#:021000021234568 EED:260306 IND ID:C1,,,\n",
    );
    let links = links_of(&files);
    // BT1 names its invoices in RMR addenda; BT2 names only its payer (ORIG CO NAME),
    // whose open item of that amount is AR4 (Beta's AR5 has the same amount).
    let want = pairs(&[("BT1", "AR1"), ("BT1", "AR2"), ("BT2", "AR4")]);
    assert_eq!(links, want);
}

/// A payer the bank names too briefly to tell from another customer is known by
/// its account in the form its bank gives it: a UK sort code and account number
/// (inside the customer's GB IBAN), a US ACH originator id whose ICD `1` carries
/// the customer's EIN. Without those, both receipts are ambiguous between two
/// customers with open items of the same amount.
#[test]
fn payers_known_by_sort_code_or_ach_originator_ein() {
    let mut files: Vec<(&str, String)> = Vec::new();
    let mut w = |n: &'static str, s: &str| files.push((n, s.to_string()));
    w("bank_accounts.csv", "account_id,entity,currency,gl_account\nGB33BUKB20201555555555,GB01,GBP,1200\n");
    w(
        "customers.csv",
        "customer_id,name,aliases,ibans,tax_id\n\
C1,Consolidated Widgets Ltd,,GB29NWBK60161331926819,\n\
C2,Consolidated Wireworks Ltd,,GB94BARC10201530093459,\n\
C3,Harbor Freight Logistics Inc,,,12-3456789\n\
C4,Harbor Freight Lines Inc,,,98-7654321\n",
    );
    w(
        "ar_open_items.csv",
        "item_id,entity,customer_id,customer_name,invoice_number,invoice_date,due_date,amount_open,currency\n\
AR1,GB01,C1,Consolidated Widgets Ltd,50011,2026-02-01,2026-03-03,500.00,GBP\n\
AR2,GB01,C2,Consolidated Wireworks Ltd,50012,2026-02-01,2026-03-03,500.00,GBP\n\
AR3,GB01,C3,Harbor Freight Logistics Inc,50013,2026-02-02,2026-03-04,300.00,GBP\n\
AR4,GB01,C4,Harbor Freight Lines Inc,50014,2026-02-02,2026-03-04,300.00,GBP\n",
    );
    w(
        "bank_transactions.csv",
        "txn_id,account_id,booking_date,value_date,amount,currency,counterparty_name,counterparty_account,end_to_end_id,reference,description,bank_code,instructed_amount,instructed_currency\n\
BT1,GB33BUKB20201555555555,2026-03-05,2026-03-05,500.00,GBP,CONSOLIDATED W,60-16-13 31926819,,,FASTER PAYMENTS RECEIPT,PMNT-RCDT-DMCT,,\n\
BT2,GB33BUKB20201555555555,2026-03-06,2026-03-06,300.00,GBP,,,,,ORIG CO NAME:HARBOR FREIGHT L ORIG ID:1123456789 DESC DATE:260306 CO ENTRY DESCR:PAYMENT SEC:CCD TRACE#:021000021234568 EED:260306 IND ID: IND NAME:OURCO,PMNT-RCDT-ATXN,,\n",
    );
    let links = links_of(&files);
    let want = pairs(&[("BT1", "AR1"), ("BT2", "AR3")]);
    assert_eq!(links, want);
}

/// Two ways a payer's own invoice was missed: (1) the payer, known by its ACH
/// originator EIN, quotes its customer number, which is also another customer's
/// invoice number — that group goes to review and the payer's own open item of
/// the amount is found; (2) a payer name cut by the bank and misspelt shares only
/// one word with the master, a word forty other customers share too — the
/// customers whose names begin most like it are compared, not the first 32 by
/// position.
#[test]
fn payers_own_items_behind_a_conflicting_number_or_a_common_word() {
    let mut files: Vec<(&str, String)> = Vec::new();
    let mut w = |n: &'static str, s: &str| files.push((n, s.to_string()));
    w("bank_accounts.csv", "account_id,entity,currency,gl_account\n021000021-4432190876,US01,USD,1200\n");
    let mut customers = String::from("customer_id,name,aliases,ibans,tax_id\n");
    let mut items = String::from(
        "item_id,entity,customer_id,customer_name,invoice_number,invoice_date,due_date,amount_open,currency\n",
    );
    customers.push_str("C100766,Kingsley Industries Inc,,,55-3122431\nC200001,Falken Technologies Inc,,,\n");
    items.push_str("AR1,US01,C100766,Kingsley Industries Inc,INV-200455,2026-02-01,2026-03-03,4643.49,USD\n");
    items.push_str("AR2,US01,C200001,Falken Technologies Inc,INV-100766,2026-02-01,2026-03-03,4743.83,USD\n");
    // Forty other `… Trading LLC` customers, listed before Summit in the master.
    for k in 0..40 {
        customers.push_str(&format!("C3{k:05},Vendor{k:02} Trading LLC,,,\n"));
    }
    customers.push_str("C399999,Summit Trading LLC,,,\n");
    items.push_str("AR3,US01,C399999,Summit Trading LLC,INV-300001,2026-02-05,2026-03-07,812.40,USD\n");
    w("customers.csv", &customers);
    w("ar_open_items.csv", &items);
    w(
        "bank_transactions.csv",
        "txn_id,account_id,booking_date,value_date,amount,currency,counterparty_name,counterparty_account,end_to_end_id,reference,description,bank_code,instructed_amount,instructed_currency\n\
BT1,021000021-4432190876,2026-03-05,2026-03-05,4643.49,USD,,,,,ORIG CO NAME:KINGSLEY INDUSTR ORIG ID:1553122431 DESC DATE:260305 CO ENTRY DESCR:PAYABLES SEC:CCD TRACE#:021000020000054 EED:260305 IND ID:C100766 IND NAME:OURCO,PMNT-RCDT-ATXN,,\n\
BT2,021000021-4432190876,2026-03-07,2026-03-07,812.40,USD,,,,,ORIG CO NAME:SUMIT TRADING LL ORIG ID:9900207031 DESC DATE:260307 CO ENTRY DESCR:PAYABLES SEC:CCD TRACE#:021000020000055 EED:260307 IND ID: IND NAME:OURCO,PMNT-RCDT-ATXN,,\n",
    );
    let links = links_of(&files);
    let want = pairs(&[("BT1", "AR1"), ("BT2", "AR3")]);
    assert_eq!(links, want);
}

/// A camt.053 credit whose bank states the charges it deducted (`Chrgs/Rcrd`
/// included in the amount) is matched to its invoice with the residual
/// explained as the bank's charges, though 40.00 is above the default
/// `bank_fee_max_minor` (25.00); the same credit without the statement is a
/// short payment.
#[test]
fn charges_a_camt_statement_states_explain_the_residual() {
    let mut files: Vec<(&str, String)> = Vec::new();
    let mut w = |n: &'static str, s: &str| files.push((n, s.to_string()));
    w("bank_accounts.csv", "account_id,entity,currency,gl_account\nDE89370400440532013000,DE01,EUR,1200\n");
    w("customers.csv", "customer_id,name,aliases,ibans,tax_id\nC1,Nordlicht Maschinenbau GmbH,,,\n");
    w(
        "ar_open_items.csv",
        "item_id,entity,customer_id,customer_name,invoice_number,invoice_date,due_date,amount_open,currency\n\
AR1,DE01,C1,Nordlicht Maschinenbau GmbH,9010000011,2026-02-01,2026-03-03,1234.56,EUR\n\
AR2,DE01,C1,Nordlicht Maschinenbau GmbH,9010000022,2026-02-01,2026-03-03,1234.56,EUR\n",
    );
    let ntry = |r: &str, inv: &str, chrgs: &str| {
        format!(
            r#"<Ntry><Amt Ccy="EUR">1194.56</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-03-05</Dt></BookgDt><AcctSvcrRef>{r}</AcctSvcrRef>
<NtryDtls><TxDtls><RltdPties><Dbtr><Nm>NORDLICHT MASCHINENBAU GMBH</Nm></Dbtr></RltdPties>{chrgs}<RmtInf><Ustrd>RE {inv}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"#
        )
    };
    let chrgs = r#"<Chrgs><Rcrd><Amt Ccy="EUR">40.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><ChrgInclInd>true</ChrgInclInd></Rcrd></Chrgs>"#;
    w(
        "bank/statement.xml",
        &format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-03-05T18:00:00</CreDtTm></GrpHdr>
<Stmt><Id>S1</Id><CreDtTm>2026-03-05T18:00:00</CreDtTm><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>
<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-03-04</Dt></Dt></Bal>
<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">2389.12</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-03-05</Dt></Dt></Bal>
{}{}</Stmt></BkToCstmrStmt></Document>"#,
            ntry("X1", "9010000011", chrgs),
            ntry("X2", "9010000022", "")
        ),
    );
    let m = matches_of(&files);
    let of = |t: &str| m.iter().find(|r| r.0 == t).unwrap_or_else(|| panic!("{t} not matched: {m:?}"));
    assert_eq!(of("X1").1, "AR1");
    assert!(of("X1").3.contains("bank charges, as the bank states them"), "{:?}", of("X1"));
    assert_eq!(of("X2").1, "AR2");
    assert!(!of("X2").3.contains("bank charges"), "{:?}", of("X2"));
}

/// Per receipt of a run on `files`, its band and reasons.
fn bands_of(files: &[(&str, String)]) -> std::collections::BTreeMap<String, (String, String)> {
    matches_of(files).into_iter().map(|(t, _, b, r)| (t, (b, r))).collect()
}

/// A payment that names an invoice no open item carries yet (posted after its
/// customer paid) is not cleared automatically against what is open today —
/// neither its named invoice with the excess left unapplied (BT1), nor the
/// payer's other invoice of the same amount (BT2) — and an excess above
/// `overpayment_auto_max_percent` of what is applied is held too (BT3); a small
/// overpayment naming nothing else is not held (BT4).
#[test]
fn a_payment_for_invoices_not_posted_yet_is_held() {
    let mut files: Vec<(&str, String)> = Vec::new();
    let mut w = |n: &'static str, s: &str| files.push((n, s.to_string()));
    w("bank_accounts.csv", "account_id,entity,currency,gl_account\nDE89370400440532013000,DE01,EUR,1200\n");
    w(
        "customers.csv",
        "customer_id,name,aliases,ibans,tax_id\nC1,Nordlicht Maschinenbau GmbH,,DE44500105175407324931,\n",
    );
    w(
        "ar_open_items.csv",
        "item_id,entity,customer_id,customer_name,invoice_number,invoice_date,due_date,amount_open,currency\n\
AR1,DE01,C1,Nordlicht Maschinenbau GmbH,9010000011,2026-02-01,2026-03-03,100.00,EUR\n\
AR2,DE01,C1,Nordlicht Maschinenbau GmbH,9010000022,2026-02-01,2026-03-03,250.00,EUR\n\
AR3,DE01,C1,Nordlicht Maschinenbau GmbH,9010000033,2026-02-02,2026-03-04,120.00,EUR\n\
AR4,DE01,C1,Nordlicht Maschinenbau GmbH,9010000044,2026-02-02,2026-03-04,200.00,EUR\n",
    );
    w(
        "bank_transactions.csv",
        "txn_id,account_id,booking_date,value_date,amount,currency,counterparty_name,counterparty_account,end_to_end_id,reference,description,bank_code,instructed_amount,instructed_currency\n\
BT1,DE89370400440532013000,2026-03-05,2026-03-05,400.00,EUR,NORDLICHT MASCHINENBAU GMBH,DE44500105175407324931,,,RE 9010000011 / 9010000012,PMNT-RCDT-ESCT,,\n\
BT2,DE89370400440532013000,2026-03-05,2026-03-05,250.00,EUR,NORDLICHT MASCHINENBAU GMBH,DE44500105175407324931,,,Rechnung 9010000077,PMNT-RCDT-ESCT,,\n\
BT3,DE89370400440532013000,2026-03-06,2026-03-06,1200.00,EUR,NORDLICHT MASCHINENBAU GMBH,DE44500105175407324931,,,RE 9010000033,PMNT-RCDT-ESCT,,\n\
BT4,DE89370400440532013000,2026-03-06,2026-03-06,204.00,EUR,NORDLICHT MASCHINENBAU GMBH,DE44500105175407324931,,,RE 9010000044,PMNT-RCDT-ESCT,,\n",
    );
    let b = bands_of(&files);
    let held = |t: &str, why: &str| {
        let (band, reasons) = b.get(t).unwrap_or_else(|| panic!("{t} not matched: {b:?}"));
        assert_eq!(band, "review", "{t}: {reasons}");
        assert!(reasons.contains(why), "{t}: {reasons}");
    };
    held("BT1", "names invoice(s) 9010000012 that no open item carries today");
    held("BT2", "names invoice(s) 9010000077 that no open item carries today");
    held("BT3", "the excess is more than 100 %");
    let (_, r4) = b.get("BT4").unwrap_or_else(|| panic!("BT4 not matched: {b:?}"));
    assert!(!r4.contains("no open item carries") && !r4.contains("the excess is more than"), "{r4}");
}

/// A parent's payment for its subsidiary's invoice, from a customer master CSV
/// whose `payer_ids` names the parent: cleared as the subsidiary's own, the
/// reason naming the permission; the same files with an empty `payer_ids`
/// hold it for a person as another customer's invoice.
#[test]
fn a_payer_the_customer_master_permits_pays_the_customers_invoice() {
    let files = |payers: &str| {
        let mut files: Vec<(&str, String)> = Vec::new();
        let mut w = |n: &'static str, s: String| files.push((n, s));
        w("bank_accounts.csv", "account_id,entity,currency,gl_account\nGB29NWBK60161331926819,GB01,GBP,1200\n".into());
        w(
            "customers.csv",
            format!(
                "customer_id,name,aliases,ibans,tax_id,payer_ids\n\
P1,Holmfirth Holdings plc,,GB33BUKB20201555555555,,\n\
S1,Kestrel Retail Ltd,,,,{payers}\n"
            ),
        );
        w(
            "ar_open_items.csv",
            "item_id,entity,customer_id,customer_name,invoice_number,invoice_date,due_date,amount_open,currency\n\
AR1,GB01,S1,Kestrel Retail Ltd,INV-104711,2026-02-01,2026-03-03,1200.00,GBP\n\
AR2,GB01,P1,Holmfirth Holdings plc,INV-104712,2026-02-01,2026-03-03,999.00,GBP\n"
                .into(),
        );
        w(
            "bank_transactions.csv",
            "txn_id,account_id,booking_date,value_date,amount,currency,counterparty_name,counterparty_account,end_to_end_id,reference,description,bank_code,instructed_amount,instructed_currency\n\
BT1,GB29NWBK60161331926819,2026-03-05,2026-03-05,1200.00,GBP,HOLMFIRTH HOLDINGS PLC,GB33BUKB20201555555555,,,INV-104711,,,\n"
                .into(),
        );
        files
    };
    let with = bands_of(&files("P1"));
    let (band, reasons) = with.get("BT1").unwrap_or_else(|| panic!("BT1 not matched: {with:?}"));
    assert_eq!(band, "auto", "{reasons}");
    assert!(reasons.contains("customer S1 permits customer P1 as its payer (customer master)"), "{reasons}");
    let without = bands_of(&files(""));
    let (band, reasons) = without.get("BT1").unwrap_or_else(|| panic!("BT1 not matched: {without:?}"));
    assert_eq!(band, "review", "{reasons}");
    assert!(reasons.contains("the bank names customer P1 as the payer"), "{reasons}");
}
