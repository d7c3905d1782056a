//! The state store's model registry through `reckon models`: a challenger
//! scored in shadow over days an analyst decides, promoted only when it beats
//! the champion on those decisions; a worse one (trained on shuffled labels)
//! refused with the comparison;
//! rollback; a run with the store serves the registered champion.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use reckon_lab::simulate::{SimConfig, simulate};

fn reckon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reckon")).args(args).output().unwrap_or_else(|e| panic!("{e}"))
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn shipped() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/cash_v2_2").display().to_string()
}

/// Writes `m` as a cash model folder named `name` with auto threshold `auto`.
fn write_model(dir: &Path, name: &str, m: &reckon_learn::logistic::Logistic, auto: f64) -> String {
    let bytes = m.to_onnx(&[("feature_spec", reckon_cash::FEATURE_SPEC)]);
    let mut cfg = reckon_onnx::ModelConfig::probability(
        name,
        "cash_match_group",
        reckon_cash::FEATURE_SPEC,
        reckon_cash::FEATURES.iter().map(|s| s.to_string()).collect(),
        &bytes,
        String::new(),
    );
    cfg.thresholds.insert("auto".into(), auto);
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("model.onnx"), &bytes).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("config.json"), serde_json::to_string_pretty(&cfg).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    dir.display().to_string()
}

/// A cash model that reads the rule score alone: cruder than the shipped one.
fn rule_only(dir: &Path) -> String {
    let mut weights = vec![0.0; reckon_cash::FEATURES.len()];
    weights[0] = 9.0;
    write_model(dir, "cash_rule_only", &reckon_learn::logistic::Logistic { weights, intercept: -5.0 }, 0.99)
}

/// A cash model deliberately worse: fitted to a generated scenario's candidate
/// groups with their labels shuffled (what is right no longer goes with its
/// features), auto threshold 0.9.
fn shuffled(dir: &Path, scenario: &Path) -> String {
    reckon_synth::generate(scenario, &reckon_synth::Config::new(7, 2000)).unwrap_or_else(|e| panic!("{e}"));
    let loaded = reckon_ingest::load_dir(scenario).unwrap_or_else(|e| panic!("{e}"));
    let tables = reckon_pipeline::inputs::Tables::from_loaded(&loaded).unwrap_or_else(|e| panic!("{e}"));
    let rows = reckon_pipeline::cash::rows(&tables).unwrap_or_else(|| panic!("no receipts"));
    let i = reckon_pipeline::cash::inputs(&rows, &tables);
    let cfg = reckon_cash::MatchConfig { model: "rules".into(), ..reckon_cash::MatchConfig::default() };
    let rows = reckon_cash::training_rows(&i.receipts, &i.items, &i.customers, &i.remittances, &cfg);
    let truth = std::fs::read_to_string(scenario.join("truth/cash_matches.csv")).unwrap_or_default();
    let mut right: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = Default::default();
    for l in truth.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        right.entry(f[1].to_string()).or_default().insert(f[2].to_string());
    }
    let mut y: Vec<bool> =
        rows.iter().map(|r| right.get(&r.txn_id) == Some(&r.item_ids.iter().cloned().collect())).collect();
    // Fisher–Yates with a fixed LCG: the same shuffle every time.
    let mut s: u64 = 12345;
    for k in (1..y.len()).rev() {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        y.swap(k, (s >> 33) as usize % (k + 1));
    }
    let k = reckon_cash::FEATURES.len();
    let x: Vec<f64> = rows.iter().flat_map(|r| r.features.iter().map(|v| f64::from(*v))).collect();
    let m = reckon_learn::logistic::Logistic::fit(&x, k, &y, 0.05).unwrap_or_else(|e| panic!("{e}"));
    write_model(dir, "cash_shuffled", &m, 0.9)
}

fn days(dir: &Path) -> PathBuf {
    let days = dir.join("days");
    reckon_synth::days::write_days(
        &days,
        &reckon_synth::Config::new(31, 3000),
        4,
        reckon_synth::days::THIRD_PARTY_PERMILLE,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    days
}

/// Simulates the days against `state` with `champion` in the configuration.
fn simulate_with(days: &Path, out: &Path, state: &Path, champion: &str) {
    std::fs::create_dir_all(out).unwrap_or_else(|e| panic!("{e}"));
    let mut sim = SimConfig::default();
    sim.config.cash.model = champion.to_string();
    simulate(days, out, state, &sim).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_challenger_is_promoted_only_when_the_decisions_say_it_is_better() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let days = days(t.path());
    let crude = rule_only(&t.path().join("crude"));
    let (state, s) = (t.path().join("a.db"), t.path().join("a.db").display().to_string());

    // The crude model decides; the shipped one is scored in shadow.
    let o = reckon(&["models", "challenge", "--state", &s, &shipped(), "--actor", "dana"]);
    assert!(o.status.success(), "{}", text(&o));
    simulate_with(&days, &t.path().join("sim_a"), &state, &crude);
    let o = reckon(&["models", "list", "--state", &s]);
    assert!(text(&o).contains("match challenger: cash@2.2"), "{}", text(&o));
    // Too few labels for a strict rule: refused, saying how many it needs.
    let o = reckon(&["models", "promote", "--state", &s, "--actor", "lee", "--min-labels", "100000"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("the rule needs 100000"), "{}", text(&o));
    let o = reckon(&["models", "promote", "--state", &s, "--actor", "lee", "--min-labels", "30"]);
    eprintln!("{}", text(&o));
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("promoted cash@2.2 to champion"), "{}", text(&o));

    // A run with the store now serves the champion, not the configuration's model.
    let mut cfg = reckon_pipeline::Config::default();
    cfg.cash.model = crude.clone();
    reckon_pipeline::remember::serve_registered(&state, &mut cfg).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.cash.model, shipped());
    assert!(cfg.cash.challenger.is_empty(), "the challenger became the champion");
    // Rollback: the configuration's model again.
    let o = reckon(&["models", "rollback", "--state", &s, "--actor", "lee"]);
    assert!(o.status.success(), "{}", text(&o));
    let mut cfg = reckon_pipeline::Config::default();
    cfg.cash.model = crude.clone();
    reckon_pipeline::remember::serve_registered(&state, &mut cfg).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.cash.model, crude);
    let listed = text(&reckon(&["models", "list", "--state", &s]));
    for action in ["set", "refused", "promoted", "rolled_back"] {
        assert!(listed.contains(&format!(" {action} ")), "{action} missing:\n{listed}");
    }
    // The retraining job: no challenger now, so a candidate is trained on the
    // decisions and registered (exit 5); run again at once, it waits for
    // decisions on what the candidate scores in shadow (exit 6).
    let models = t.path().join("candidates");
    let m = models.display().to_string();
    let o = reckon(&[
        "retrain",
        "--state",
        &s,
        "--models-dir",
        &m,
        "--min-labels",
        "30",
        "--anchor-alpha",
        "1000",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    assert_eq!(j["action"], "challenger_registered", "{j}");
    // Fitted towards the model serving since the rollback.
    assert_eq!(j["training"]["anchored_on"], "cash@2.2", "{j}");
    assert!(models.join("cash_v4_0/model.onnx").is_file(), "{j}");
    let o = reckon(&["retrain", "--state", &s, "--models-dir", &m, "--min-labels", "30"]);
    assert_eq!(o.status.code(), Some(6), "{}", text(&o));
    assert!(text(&o).contains("has 0 decided proposals scored in shadow"), "{}", text(&o));

    // The shipped model decides; a deliberately worse model (trained on
    // shuffled labels) is in shadow and is refused with the comparison.
    let worse = shuffled(&t.path().join("shuffled"), &t.path().join("scenario"));
    let (state, s) = (t.path().join("b.db"), t.path().join("b.db").display().to_string());
    let o = reckon(&["models", "challenge", "--state", &s, &worse, "--actor", "dana"]);
    assert!(o.status.success(), "{}", text(&o));
    simulate_with(&days, &t.path().join("sim_b"), &state, &shipped());
    // The trend of the shipped model's drift (it carries a training reference)
    // and calibration in the field.
    let o = reckon(&["models", "monitor", "--state", &s]);
    assert!(o.status.success(), "{}", text(&o));
    let m = text(&o);
    let tables: Vec<&str> = m.split("\n\n").collect();
    let rows = |t: &str| t.lines().filter(|l| l.contains("| cash@2.2 |")).count();
    assert_eq!(tables.len(), 3, "drift, calibration run by run, calibration over every decision:\n{m}");
    assert_eq!(rows(tables[0]), 4, "a drift row per day:\n{m}");
    assert!(
        tables[1].contains("| decisions judged |") && rows(tables[1]) >= 1,
        "a calibration row per day with decisions:\n{m}"
    );
    assert!(tables[2].contains("| probability band | decided proposals |"), "{m}");
    let o = reckon(&["models", "promote", "--state", &s, "--actor", "lee", "--min-labels", "30"]);
    eprintln!("{}", text(&o));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("is not below the champion's"), "{}", text(&o));
    assert!(text(&o).contains("champion:   Brier"), "{}", text(&o));

    // A registered folder whose model was replaced is refused by a run.
    std::fs::write(Path::new(&worse).join("model.onnx"), b"not the model").unwrap_or_else(|e| panic!("{e}"));
    let mut cfg = reckon_pipeline::Config::default();
    let e = reckon_pipeline::remember::serve_registered(&state, &mut cfg).err().map(|e| e.to_string());
    assert!(e.is_some(), "a replaced model folder must be refused");
}
