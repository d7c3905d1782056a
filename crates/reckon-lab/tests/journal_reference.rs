//! The journal model's drift reference cut from a team's own books
//! (`reckon models reference`): a later book of the same company does not
//! move from it, one whose people post at other hours and days does for a
//! model that reads rarity above the book's median, and the run names the
//! inputs that moved — the same on 1 and 2 threads. For a model that reads
//! rarity above the book's routine (the shipped one) such a book's habits are
//! its routine: its risk does not move.

use std::path::{Path, PathBuf};

use reckon_pipeline::{Config, RunOptions, run};

fn world(dir: &Path, name: &str, seed: u64, scale: usize) {
    let mut c = reckon_synth::Config::new(seed, scale);
    c.world = Some(reckon_synth::world::by_name(name).unwrap_or_else(|| panic!("no world {name}")));
    reckon_synth::generate(dir, &c).unwrap_or_else(|e| panic!("{e}"));
}

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/journals_v5_0")
}

/// A copy of `from` that reads rarity above the book's median
/// (`journal_risk_v2`, as journals 4.0 did).
fn median_copy(from: &Path, to: &Path) -> PathBuf {
    std::fs::create_dir_all(to.join("iforest")).unwrap_or_else(|e| panic!("{e}"));
    for f in ["model.onnx", "iforest/model.onnx", "iforest/config.json"] {
        std::fs::copy(from.join(f), to.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
    let cfg = std::fs::read_to_string(from.join("config.json")).unwrap_or_default();
    assert!(cfg.contains("\"journal_risk_v3\""), "{cfg}");
    std::fs::write(to.join("config.json"), cfg.replace("\"journal_risk_v3\"", "\"journal_risk_v2\""))
        .unwrap_or_else(|e| panic!("{e}"));
    to.to_path_buf()
}

fn drift_of(input: &Path, out: &Path, cfg: &Config, threads: usize) -> (reckon_monitor::Drift, Vec<String>) {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap_or_else(|e| panic!("{e}"));
    let r = pool.install(|| run(&RunOptions::new(input, out, cfg.clone()))).unwrap_or_else(|e| panic!("{e}"));
    let m =
        r.manifest.models.iter().find(|m| m.id == "journals@5.0").unwrap_or_else(|| panic!("journals@5.0 not served"));
    let d = m.drift.clone().unwrap_or_else(|| panic!("no drift for journals@5.0"));
    let text = std::fs::read_to_string(out.join("exceptions.jsonl")).unwrap_or_default();
    let drift: Vec<String> = text
        .lines()
        .filter(|l| l.contains("\"model_drift\"") && l.contains("\"model\":\"journals@5.0\""))
        .map(str::to_string)
        .collect();
    (d, drift)
}

#[test]
fn a_reference_from_the_teams_books_sees_its_journals_move() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // Three thirds of one company's year (journals cut by posting date): the
    // reference is cut from the first, checked against the second; the third
    // is its next book.
    let days = t.path().join("days");
    let mut c = reckon_synth::Config::new(31, 24000);
    c.world = reckon_synth::world::by_name("eu_sepa");
    reckon_synth::days::write_days(&days, &c, 3, 0).unwrap_or_else(|e| panic!("{e}"));
    let (base, check, later) = (days.join("day-01"), days.join("day-02"), days.join("day-03"));
    // A book of the same size from a company with a night shift and weekend
    // postings: the preparers' hours and days move.
    let shifted = t.path().join("shifted");
    world(&shifted, "shift_plant", 33, 8000);
    let cfg = reckon_lab::model::company_config(&days.join("all")).unwrap_or_else(|e| panic!("{e}"));

    // The shipped folder has no reference: nothing is counted.
    let r = run(&RunOptions::new(&later, &t.path().join("plain"), cfg.clone())).unwrap_or_else(|e| panic!("{e}"));
    let m = r.manifest.models.iter().find(|m| m.id == "journals@5.0").unwrap_or_else(|| panic!("not served"));
    assert!(m.drift.is_none(), "{:?}", m.drift);

    let median = median_copy(&shipped(), &t.path().join("journals_median"));
    let model = t.path().join("journals_ours");
    let r = reckon_lab::journals::reference_from_books(&median, &[base.clone(), check.clone()], &cfg, &model)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(r.journals >= reckon_lab::journals::REFERENCE_MIN_JOURNALS, "{r:?}");
    for f in ["model.onnx", "config.json", "iforest/model.onnx", "reference.json"] {
        assert!(model.join(f).is_file(), "{f} not in the copy");
    }
    // The rarity inputs are relative to their book: counted, not judged; so
    // is any input that used more than half its margin on the check book.
    let half: Vec<&str> = r.checks[0]
        .1
        .features
        .iter()
        .filter(|c| c.psi > cfg.monitor.psi / 2.0 || c.outside_range > cfg.monitor.outside_range / 2.0)
        .map(|c| c.name.as_str())
        .collect();
    for (i, f) in reckon_pipeline::journals::RiskModel::load(&shipped())
        .unwrap_or_else(|e| panic!("{e}"))
        .risk
        .config
        .features
        .iter()
        .enumerate()
    {
        let want = f.starts_with("rare_") || half.contains(&f.as_str());
        assert_eq!(r.unjudged.contains(f), want, "input {i} {f}: {r:?}");
    }
    let mut cfg = cfg;
    cfg.journals.model = model.display().to_string();

    let (d, events) = drift_of(&later, &t.path().join("later_out"), &cfg, 2);
    assert!(d.rows as usize >= reckon_lab::journals::REFERENCE_MIN_JOURNALS, "{d:?}");
    assert!(d.moved.is_empty() && !d.score_moved, "the same company's next book moved: {} {d:?}", d.describe());
    assert!(events.is_empty(), "{events:?}");

    let mut seen = Vec::new();
    for threads in [1, 2] {
        let (d, events) = drift_of(&shifted, &t.path().join(format!("shifted_{threads}")), &cfg, threads);
        assert!(
            d.score_moved,
            "the risk of a book with a night shift and weekend postings moved, the reference did not see it: {d:?}"
        );
        assert_eq!(events.len(), 1, "one model_drift exception: {events:?}");
        seen.push(serde_json::to_string(&d).unwrap_or_default());
    }
    assert_eq!(seen[0], seen[1], "the same figures on 1 and 2 threads");

    // The shipped model reads the night shift and the weekend postings as the
    // shifted book's routine: its risk does not move.
    let routine = t.path().join("journals_routine");
    reckon_lab::journals::reference_from_books(&shipped(), &[base.clone(), check], &cfg, &routine)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut cfg_r = cfg.clone();
    cfg_r.journals.model = routine.display().to_string();
    let (d, events) = drift_of(&shifted, &t.path().join("shifted_routine"), &cfg_r, 2);
    assert!(!d.score_moved && events.is_empty(), "{} {d:?}", d.describe());

    // Too small a book is refused with the number needed.
    let small = t.path().join("small");
    world(&small, "eu_sepa", 34, 300);
    let e = reckon_lab::journals::reference_from_books(&shipped(), &[small], &Config::default(), &t.path().join("x"))
        .err()
        .unwrap_or_else(|| panic!("a reference from a tiny book"));
    assert!(e.to_string().contains("at least 500"), "{e}");
}
