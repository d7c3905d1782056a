//! The binary's contract with its callers: exit codes, help, demo.

use std::path::Path;
use std::process::{Command, Output};

fn reckon(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reckon")).args(args).current_dir(cwd).output().unwrap_or_else(|e| panic!("{e}"))
}

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/ingest")
}

#[test]
fn help_explains_every_command() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let top = reckon(&["--help"], t.path());
    assert!(top.status.success());
    let text = String::from_utf8_lossy(&top.stdout);
    for c in
        ["run", "demo", "validate", "ingest", "generate", "bench", "feed", "train", "models", "features", "Exit codes"]
    {
        assert!(text.contains(c), "top-level help lacks {c}");
    }
    for c in ["run", "demo", "validate", "ingest", "generate", "bench", "feed", "train", "models", "features"] {
        let o = reckon(&[c, "--help"], t.path());
        assert!(o.status.success(), "{c} --help failed");
        assert!(String::from_utf8_lossy(&o.stdout).len() > 100, "{c} --help says too little");
    }
}

#[test]
fn exit_codes() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = t.path().join("o");
    let out = out.to_string_lossy();
    let refused = fixtures().join("refused/input");
    assert_eq!(reckon(&["run", "--input", &refused.to_string_lossy(), "--out", &out], t.path()).status.code(), Some(3));
    let good = fixtures().join("contract_basic/input");
    assert_eq!(reckon(&["run", "--input", &good.to_string_lossy(), "--out", &out], t.path()).status.code(), Some(0));
    assert_eq!(reckon(&["run", "--input", "/nonexistent/reckon", "--out", &out], t.path()).status.code(), Some(1));
    std::fs::write(t.path().join("bad.toml"), "[output]\nkeep_normalised = true\n").unwrap_or_else(|e| panic!("{e}"));
    let o = reckon(&["run", "--input", &good.to_string_lossy(), "--out", &out, "--config", "bad.toml"], t.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("keep_normalised"));
    assert_eq!(reckon(&["run", "--bogus"], t.path()).status.code(), Some(2));
    let bad = fixtures().join("bad_rows/input");
    let v = reckon(&["validate", "--input", &bad.to_string_lossy()], t.path());
    assert_eq!(v.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&v.stdout).contains("ar_open_items.csv:4 amount_open [bad_money]"));
}

#[test]
fn demo_runs_on_bundled_sample() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let o = reckon(&["demo"], t.path());
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(t.path().join("reckon-out/manifest.json").is_file());
    assert!(t.path().join("reckon-out/normalized/ar_open_items.parquet").is_file());
    assert!(String::from_utf8_lossy(&o.stdout).contains("conservation: balanced"));
}

#[test]
fn generate_run_eval() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let p = |s: &str| t.path().join(s).to_string_lossy().into_owned();
    assert_eq!(
        reckon(&["generate", "--out", &p("g"), "--seed", "21", "--scale", "800"], t.path()).status.code(),
        Some(0)
    );
    assert_eq!(reckon(&["run", "--input", &p("g"), "--out", &p("o")], t.path()).status.code(), Some(0));
    assert!(t.path().join("o/matches.parquet").is_file());
    let o = reckon(&["eval", "--out", &p("o"), "--truth", &p("g/truth")], t.path());
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let e: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("o/eval.json")).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    let precision = e["cash"]["auto_precision"].as_f64().unwrap_or(0.0);
    let recall = e["cash"]["recall_any_band"].as_f64().unwrap_or(0.0);
    assert!(precision >= 0.99, "auto precision {precision}");
    assert!(recall >= 0.85, "recall in any band {recall}");
    assert!(e["cash"]["auto_groups"].as_u64().unwrap_or(0) > 50);
}

#[test]
fn models_verify_accepts_the_shipped_model_and_refuses_a_tampered_one() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/cash_match_v2_1");
    let o = reckon(&["models", "verify", &shipped.to_string_lossy()], t.path());
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("cash_match@2.1: ok"));
    let bad = t.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap_or_else(|e| panic!("{e}"));
    for f in ["config.json", "model.onnx"] {
        std::fs::copy(shipped.join(f), bad.join(f)).unwrap_or_else(|e| panic!("{e}"));
    }
    let mut bytes = std::fs::read(bad.join("model.onnx")).unwrap_or_else(|e| panic!("{e}"));
    bytes.push(0);
    std::fs::write(bad.join("model.onnx"), bytes).unwrap_or_else(|e| panic!("{e}"));
    let o = reckon(&["models", "verify", &bad.to_string_lossy()], t.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not match"));
}
