//! The quality gate: every published quality figure, re-measured on the CI
//! world (generated scenarios no model was trained, validated or tuned on:
//! seeds 501–508, scale 10,000; training used seeds 1001 and 101), must lie
//! within its stated noise band of the value published in
//! `tests/quality/published.json` and `docs/quality.md`. A figure that falls
//! out of its band — worse, or better without being re-published — fails CI.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use reckon_pipeline::{Config, RunOptions, run};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[derive(Debug)]
struct Published {
    seeds: Vec<u64>,
    scale: usize,
    /// name → (value, band)
    figures: BTreeMap<String, (f64, f64)>,
}

fn published() -> Published {
    let text = std::fs::read_to_string(repo().join("tests/quality/published.json")).unwrap_or_else(|e| panic!("{e}"));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let seeds =
        v["world"]["seeds"].as_array().map(|a| a.iter().filter_map(|s| s.as_u64()).collect()).unwrap_or_default();
    let scale = v["world"]["scale"].as_u64().unwrap_or(0) as usize;
    let figures = v["figures"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, f)| (k.clone(), (f["value"].as_f64().unwrap_or(f64::NAN), f["band"].as_f64().unwrap_or(0.0))))
                .collect()
        })
        .unwrap_or_default();
    Published { seeds, scale, figures }
}

/// The figures of the CI world: each scenario generated, run with the shipped
/// models and evaluated; figures averaged over the seeds. Computed once.
fn measured() -> &'static BTreeMap<String, f64> {
    static M: OnceLock<BTreeMap<String, f64>> = OnceLock::new();
    M.get_or_init(|| {
        let p = published();
        assert!(p.seeds.len() >= 4 && p.scale >= 1000, "published.json names no world: {p:?}");
        let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
        for &seed in &p.seeds {
            assert!(![1001, 101].contains(&seed), "seed {seed} trained or validated a shipped model");
            let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let (input, out) = (t.path().join("in"), t.path().join("out"));
            reckon_synth::generate(&input, &reckon_synth::Config::new(seed, p.scale)).unwrap_or_else(|e| panic!("{e}"));
            run(&RunOptions::new(&input, &out, Config::default())).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            reckon_lab::eval::refuse_training_data(&out, &input.join("truth")).unwrap_or_else(|e| panic!("{e}"));
            let f = reckon_lab::eval::figures(&out, &input.join("truth")).unwrap_or_else(|e| panic!("{e}"));
            for (k, v) in f {
                let e = sums.entry(k).or_default();
                e.0 += v;
                e.1 += 1;
            }
        }
        let m: BTreeMap<String, f64> = sums.into_iter().map(|(k, (s, n))| (k, s / n as f64)).collect();
        eprintln!("CI world figures: {}", serde_json::to_string_pretty(&m).unwrap_or_default());
        m
    })
}

fn gate(prefix: &str) {
    let p = published();
    let m = measured();
    let mut checked = 0;
    let mut out_of_band = Vec::new();
    for (name, (value, band)) in p.figures.iter().filter(|(k, _)| k.starts_with(prefix)) {
        let got = *m.get(name).unwrap_or_else(|| panic!("{name} is published but no longer measured"));
        if got.is_nan() || (got - value).abs() > band + 1e-9 {
            out_of_band.push(format!("{name}: measured {got:.4}, published {value:.4} ± {band}"));
        }
        checked += 1;
    }
    // Every figure measured for this engine is published (a new one must be added).
    for name in m.keys().filter(|k| k.starts_with(prefix)) {
        assert!(p.figures.contains_key(name), "{name} is measured but not published in tests/quality/published.json");
    }
    assert!(checked >= 3, "{prefix}: only {checked} figures published");
    assert!(out_of_band.is_empty(), "figures out of their noise band:\n{}", out_of_band.join("\n"));
}

#[test]
fn cash_holds_its_published_quality() {
    gate("cash.");
}

#[test]
fn duplicates_hold_their_published_quality() {
    gate("duplicates.");
}

#[test]
fn journal_scoring_holds_its_published_quality() {
    gate("journals.");
}

#[test]
fn money_out_holds_its_published_quality() {
    gate("money_out.");
}

/// `docs/quality.md` shows the published figures as `published.json` holds them.
#[test]
fn docs_quality_md_shows_the_published_figures() {
    let doc = std::fs::read_to_string(repo().join("docs/quality.md")).unwrap_or_else(|e| panic!("{e}"));
    for (name, (value, band)) in published().figures {
        let row = format!("| `{name}` | {value:.4} | ±{band} |");
        assert!(doc.contains(&row), "docs/quality.md lacks the row {row}");
    }
}
