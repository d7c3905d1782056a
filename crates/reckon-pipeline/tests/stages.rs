//! The compliance harness every stage passes (see `stage.rs` for the recipe):
//! the same output on 1 and 4 threads, exception ids that do not depend on the
//! run, exception kinds from the contract, every table it declares and writes
//! listed in the manifest with its rows, a report and a timing under its name,
//! and conservation still balanced. It runs over every registered stage and a
//! stage added here by the recipe, registered in one place (the list passed to
//! `run_stages`).

use polars::prelude::*;
use reckon_pipeline::stage::{self, BuildError, RunInputs, Stage, StageError, StageOutput, StageReport};
use reckon_pipeline::{Config, RunOptions, run_stages};

/// A stage added by the recipe: AP invoices per entity, as a table.
#[derive(Debug)]
struct InvoiceCounts;

impl InvoiceCounts {
    fn build(_: &Config) -> Result<Box<dyn Stage>, BuildError> {
        Ok(Box::new(InvoiceCounts))
    }
}

impl Stage for InvoiceCounts {
    fn name(&self) -> &'static str {
        "invoice_counts"
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["invoice_counts"]
    }

    fn reads(&self) -> &'static [reckon_core::Table] {
        &[reckon_core::Table::ApInvoices]
    }

    fn frames(&self) -> &'static [reckon_core::Table] {
        &[reckon_core::Table::ApInvoices]
    }

    fn run(&self, inputs: &RunInputs<'_>) -> Result<StageOutput, StageError> {
        // A stage may read a loaded table's frame through its contract view.
        let Some(v) = inputs.loaded.view(reckon_core::Table::ApInvoices) else {
            return Ok(StageOutput::no_input());
        };
        let fail = |e: PolarsError| StageError { stage: "invoice_counts", message: e.to_string() };
        let t = v
            .frame()
            .clone()
            .lazy()
            .group_by([col(reckon_core::col::ap_invoices::ENTITY)])
            .agg([len().alias("invoices")])
            .sort(["entity"], SortMultipleOptions::default())
            .collect()
            .map_err(fail)?;
        Ok(StageOutput {
            report: StageReport {
                summary: format!("ok ({} entities)", t.height()),
                rows_in: v.height() as u64,
                rows_out: t.height() as u64,
                counts: Default::default(),
            },
            tables: vec![("invoice_counts", t)],
            exceptions: Vec::new(),
            models: Vec::new(),
            ..StageOutput::default()
        })
    }
}

fn stages() -> Vec<Box<dyn Stage>> {
    let mut s = stage::build_all(&Config::default()).unwrap_or_else(|e| panic!("{e}"));
    // The one registration point (in the product: `stage::STAGES`).
    s.push(InvoiceCounts::build(&Config::default()).unwrap_or_else(|e| panic!("{e}")));
    s
}

fn pool(n: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap_or_else(|e| panic!("{e}"))
}

/// `a` and `b` are the same output; `between` says what differs between them.
fn same(a: &StageOutput, b: &StageOutput, name: &str, between: &str) {
    assert_eq!(a.tables.len(), b.tables.len(), "{name}: tables");
    for ((na, ta), (nb, tb)) in a.tables.iter().zip(&b.tables) {
        assert_eq!(na, nb, "{name}");
        assert!(ta.equals_missing(tb), "{name}: table {na} differs between {between}");
    }
    let json = |o: &StageOutput| serde_json::to_string(&o.exceptions).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json(a), json(b), "{name}: exceptions differ between {between}");
    assert_eq!(a.models, b.models, "{name}: models");
    assert_eq!(a.report, b.report, "{name}: report");
    assert_eq!(a.settled, b.settled, "{name}: settled rows");
}

#[test]
fn every_stage_complies() {
    let input = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    reckon_synth::generate(input.path(), &reckon_synth::Config::new(5, 1500)).unwrap_or_else(|e| panic!("{e}"));
    let loaded = reckon_ingest::load_dir(input.path()).unwrap_or_else(|e| panic!("{e}"));
    // The tables are converted into engine rows alike on 1 and 4 threads.
    let convert = |threads: usize| {
        pool(threads)
            .install(|| reckon_pipeline::inputs::Tables::from_loaded(&loaded))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let tables = convert(4);
    assert_eq!(format!("{:?}", convert(1)), format!("{tables:?}"), "tables differ on 1 and 4 threads");
    // Released rows are gone; the tables a stage does not declare are empty to it.
    let gone = convert(1);
    assert!(gone.book.get().is_some());
    gone.release(reckon_core::Table::GlJournalLines);
    assert!(gone.book.get().is_none() && gone.bank.get().is_some());
    assert!(tables.only(&[reckon_core::Table::GlJournalLines]).bank.get().is_none());
    let stages = stages();
    let names: Vec<&str> = stages.iter().map(|s| s.name()).collect();
    assert_eq!(names, ["cash", "disbursements", "duplicates", "journals", "invoice_counts"]);

    // Each stage alone: 1 and 4 threads give the same output; another run id
    // gives the same exception ids; ids are unique; kinds are the contract's.
    let mut produced: Vec<(&str, Vec<(&str, usize)>)> = Vec::new();
    for s in &stages {
        let name = s.name();
        let run = |threads: usize, run_id: &str| {
            pool(threads)
                .install(|| s.run(&RunInputs { loaded: &loaded, tables: &tables, run_id, memory: None }))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let one = run(1, "run-a");
        let four = run(4, "run-a");
        same(&one, &four, name, "1 and 4 threads");
        // A stage reads only the tables it declares: on those alone it gives the
        // same output (the run releases a table once its readers are done).
        let only = tables.only(s.reads());
        let declared = s
            .run(&RunInputs { loaded: &loaded, tables: &only, run_id: "run-a", memory: None })
            .unwrap_or_else(|e| panic!("{e}"));
        same(&one, &declared, name, "all tables and only the tables it declares in reads()");
        let other = run(4, "run-b");
        let ids = |o: &StageOutput| o.exceptions.iter().map(|e| e.exception_id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&one), ids(&other), "{name}: exception ids depend on the run");
        let mut unique = ids(&one);
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), one.exceptions.len(), "{name}: an exception id repeats");
        for e in &one.exceptions {
            assert!(reckon_feed::policy::KINDS.contains(&e.kind), "{name}: kind {} not in the contract", e.kind);
            assert_eq!(e.run_id, "run-a");
        }
        for (t, _) in &one.tables {
            assert!(s.outputs().contains(t), "{name}: undeclared table {t}");
        }
        assert!(!one.report.summary.is_empty(), "{name}: no report");
        produced.push((name, one.tables.iter().map(|(t, df)| (*t, df.height())).collect()));
    }
    // The generated books give every stage work to do.
    for (name, tables) in &produced {
        assert!(!tables.is_empty(), "{name} wrote nothing on a full scenario");
    }

    // The run loop: every table in the manifest with its rows, every stage's
    // report and timing, conservation balanced.
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let r = run_stages(&RunOptions::new(input.path(), out.path(), Config::default()), &stages)
        .unwrap_or_else(|e| panic!("{e}"));
    let m = &r.manifest;
    for (name, tables) in &produced {
        assert!(m.stage_reports.contains_key(*name), "{name}: no report in the manifest");
        assert!(m.stages.contains_key(*name), "{name}: no stage line in the manifest");
        assert!(m.timings_ms.contains_key(*name), "{name}: no timing in the manifest");
        for (t, rows) in tables {
            let file = format!("{t}.parquet");
            let entry = m.outputs.get(&file).unwrap_or_else(|| panic!("{name}: {file} not in the manifest"));
            assert_eq!(entry.rows, *rows as u64, "{name}: {file} rows");
            assert!(out.path().join(&file).is_file(), "{name}: {file} not written");
        }
    }
    assert!(m.conservation.balanced, "{:?}", m.conservation.problems);
    let vc = ParquetReader::new(
        std::fs::File::open(out.path().join("invoice_counts.parquet")).unwrap_or_else(|e| panic!("{e}")),
    )
    .finish()
    .unwrap_or_else(|e| panic!("{e}"));
    let total: u32 =
        vc.column("invoices").ok().and_then(|c| c.u32().ok().map(|c| c.into_no_null_iter().sum())).unwrap_or(0);
    assert_eq!(total as usize, loaded.tables.get(&reckon_core::Table::ApInvoices).map_or(0, |v| v.height()));
}

/// A stage that returns a table it did not declare stops the run with its name.
#[test]
fn an_undeclared_table_is_an_error() {
    #[derive(Debug)]
    struct Sneaky;
    impl Stage for Sneaky {
        fn name(&self) -> &'static str {
            "sneaky"
        }
        fn outputs(&self) -> &'static [&'static str] {
            &[]
        }
        fn reads(&self) -> &'static [reckon_core::Table] {
            &[]
        }
        fn run(&self, _: &RunInputs<'_>) -> Result<StageOutput, StageError> {
            Ok(StageOutput { tables: vec![("extra", DataFrame::empty())], ..StageOutput::default() })
        }
    }
    let input = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    reckon_synth::generate(input.path(), &reckon_synth::Config::new(6, 200)).unwrap_or_else(|e| panic!("{e}"));
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let stages: Vec<Box<dyn Stage>> = vec![Box::new(Sneaky)];
    let e = run_stages(&RunOptions::new(input.path(), &out.path().join("o"), Config::default()), &stages)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("sneaky") && e.contains("extra"), "{e}");
    assert!(!out.path().join("o").exists(), "a failed run leaves no output folder");
}

/// A stage that declares the GL lines' frame reads it whole; without one the
/// run keeps of it only its height (tests/run.rs).
#[test]
fn a_stage_that_declares_a_frame_reads_it_whole() {
    use reckon_core::Table::GlJournalLines as Gl;
    #[derive(Debug)]
    struct GlColumns(bool);
    impl Stage for GlColumns {
        fn name(&self) -> &'static str {
            "gl_columns"
        }
        fn outputs(&self) -> &'static [&'static str] {
            &[]
        }
        fn reads(&self) -> &'static [reckon_core::Table] {
            &[]
        }
        fn frames(&self) -> &'static [reckon_core::Table] {
            if self.0 { &[Gl] } else { &[] }
        }
        fn run(&self, inputs: &RunInputs<'_>) -> Result<StageOutput, StageError> {
            let width = inputs.loaded.tables.get(&Gl).map_or(0, |d| d.width());
            let mut counts = std::collections::BTreeMap::new();
            counts.insert("columns".to_string(), width as u64);
            Ok(StageOutput { report: StageReport { counts, ..StageReport::default() }, ..StageOutput::default() })
        }
    }
    let input = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    reckon_synth::generate(input.path(), &reckon_synth::Config::new(6, 200)).unwrap_or_else(|e| panic!("{e}"));
    // The GL lines alone: no bank entry is left for this stage to settle.
    for e in std::fs::read_dir(input.path()).unwrap_or_else(|e| panic!("{e}")).flatten() {
        let p = e.path();
        if p.is_file() && !e.file_name().to_string_lossy().starts_with("gl_journal_lines") {
            std::fs::remove_file(&p).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let whole = reckon_ingest::load_dir(input.path()).unwrap_or_else(|e| panic!("{e}")).tables[&Gl].clone();
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for declared in [true, false] {
        let stages: Vec<Box<dyn Stage>> = vec![Box::new(GlColumns(declared))];
        let o = out.path().join(declared.to_string());
        let r = run_stages(&RunOptions::new(input.path(), &o, Config::default()), &stages)
            .unwrap_or_else(|e| panic!("{e}"));
        let seen = r.manifest.stage_reports["gl_columns"].counts["columns"];
        let kept = &r.loaded.tables[&Gl];
        assert_eq!(kept.height(), whole.height());
        if declared {
            assert_eq!(seen, whole.width() as u64);
            assert!(kept.equals_missing(&whole), "a declared frame is kept whole");
        } else {
            assert_eq!((seen, kept.width()), (0, 0));
        }
    }
}

/// Settings and models are checked when stages are built, before any work.
#[test]
fn stages_refuse_bad_config_at_build() {
    let mut c = Config::default();
    c.duplicates.model = "duplicates_v9_9".into();
    let e = stage::build_all(&c).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.starts_with("duplicates:") && e.contains("duplicates_v9_9"), "{e}");
    let mut c = Config::default();
    c.journals.round_unit = 0;
    let e = stage::build_all(&c).err();
    assert!(matches!(&e, Some(BuildError::Config(s)) if s.section == "journals"), "{e:?}");
}

/// Every stage loads its model through one check: a folder whose features are
/// not the spec the stage computes (here: two columns swapped in the config) is
/// refused when the stage is built, naming the folder.
#[test]
fn a_model_trained_on_other_features_is_refused() {
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let copy = |name: &str, cfg: &str| -> std::path::PathBuf {
        let to = t.path().join(name);
        for e in walk(&models.join(name)) {
            let rel = e.strip_prefix(models.join(name)).unwrap_or_else(|e| panic!("{e}"));
            let dst = to.join(rel);
            std::fs::create_dir_all(dst.parent().unwrap_or(&to)).unwrap_or_else(|e| panic!("{e}"));
            std::fs::copy(&e, &dst).unwrap_or_else(|e| panic!("{e}"));
        }
        let p = to.join(cfg);
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
        let f = v["features"].as_array_mut().unwrap_or_else(|| panic!("features"));
        f.swap(0, 1);
        std::fs::write(&p, v.to_string()).unwrap_or_else(|e| panic!("{e}"));
        to
    };
    let mut c = Config::default();
    c.cash.model = copy("cash_v2_2", "config.json").display().to_string();
    let e = stage::build_all(&c).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("cash_v2_2") && e.contains("feature spec"), "{e}");
    let mut c = Config::default();
    c.duplicates.model = copy("duplicates_v2_0", "config.json").display().to_string();
    let e = stage::build_all(&c).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("duplicates_v2_0") && e.contains("feature spec"), "{e}");
    let mut c = Config::default();
    c.journals.model = copy("journals_v5_0", "iforest/config.json").display().to_string();
    let e = stage::build_all(&c).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("iforest") && e.contains("feature spec"), "{e}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{e}")).flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}
