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
    // Usage errors exit 2 and write nothing: a missing input, an input that is a
    // file, a configured sink without its secret.
    let fresh = t.path().join("fresh");
    let fresh = fresh.to_string_lossy();
    let o = reckon(&["run", "--input", "/nonexistent/reckon", "--out", &fresh], t.path());
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/reckon"));
    let file = good.join("ar_open_items.csv");
    assert_eq!(reckon(&["run", "--input", &file.to_string_lossy(), "--out", &fresh], t.path()).status.code(), Some(2));
    std::fs::write(t.path().join("hook.toml"), "[feed.webhook]\nurl = \"http://127.0.0.1:9/reckon\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let o = Command::new(env!("CARGO_BIN_EXE_reckon"))
        .args(["run", "--input", &good.to_string_lossy(), "--out", &fresh, "--config", "hook.toml"])
        .current_dir(t.path())
        .env_remove("RECKON_WEBHOOK_SECRET")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no webhook secret"));
    assert!(!t.path().join("fresh").exists(), "a usage error writes no output folder");
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
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/cash_v2_2");
    let o = reckon(&["models", "verify", &shipped.to_string_lossy()], t.path());
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("cash@2.2: ok"));
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

/// `reckon train` on small scenarios writes model folders that `models verify`
/// accepts and that a run serves; training refuses validation data equal to its
/// training data and a precision target no cut reaches; `eval` refuses a
/// scenario that trained a model the run used.
#[test]
fn train_verify_and_serve_each_model() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let p = |s: &str| t.path().join(s).to_string_lossy().into_owned();
    let ok = |o: Output| {
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    ok(reckon(&["generate", "--out", &p("train"), "--seed", "3001", "--scale", "1500"], t.path()));
    ok(reckon(&["generate", "--out", &p("val"), "--seed", "3002", "--scale", "1500"], t.path()));
    ok(reckon(&["generate", "--out", &p("test"), "--seed", "3003", "--scale", "1500"], t.path()));
    let cash = p("m/cash_v9_0");
    let out = ok(reckon(
        &[
            "train",
            "match",
            "--input",
            &p("train"),
            "--validation",
            &p("val"),
            "--target-precision",
            "0.99",
            "--out",
            &cash,
        ],
        t.path(),
    ));
    assert!(out.contains("auto threshold"), "{out}");
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(Path::new(&cash).join("config.json")).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    let auto = cfg["thresholds"]["auto"].as_f64().unwrap_or(-1.0);
    assert!((0.99..=1.0).contains(&auto), "the floor is the target: {auto}");
    let card = std::fs::read_to_string(Path::new(&cash).join("MODEL_CARD.md")).unwrap_or_default();
    assert!(card.contains("cash 9.0") && card.contains(&format!("Thresholds: `auto` = {auto}.")), "{card}");
    let dedup = p("m/duplicates_v9_0");
    ok(reckon(&["train", "duplicates", "--input", &p("train"), "--validation", &p("val"), "--out", &dedup], t.path()));
    let journals = p("m/journals_v9_0");
    ok(reckon(&["train", "journals", "--input", &p("train"), "--validation", &p("val"), "--out", &journals], t.path()));
    for (dir, id) in [(&cash, "cash@9.0"), (&dedup, "duplicates@9.0"), (&journals, "journals@9.0")] {
        let v = ok(reckon(&["models", "verify", dir], t.path()));
        assert!(v.contains(&format!("{id}: ok")), "{v}");
    }
    std::fs::write(
        t.path().join("reckon.toml"),
        format!("[cash]\nmodel = {cash:?}\n[duplicates]\nmodel = {dedup:?}\n[journals]\nmodel = {journals:?}\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for (input, out) in [("test", "o"), ("train", "o_train")] {
        ok(reckon(&["run", "--input", &p(input), "--out", &p(out), "--config", &p("reckon.toml")], t.path()));
    }
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("o/manifest.json")).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = m["models"].as_array().into_iter().flatten().filter_map(|x| x["id"].as_str()).collect();
    assert_eq!(ids, ["cash@9.0", "duplicates@9.0", "journals@9.0", "journals_iforest@9.0"]);
    ok(reckon(&["eval", "--out", &p("o"), "--truth", &p("test/truth")], t.path()));
    // The run on the training scenario cannot be evaluated.
    let e = reckon(&["eval", "--out", &p("o_train"), "--truth", &p("train/truth")], t.path());
    assert_eq!(e.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&e.stderr).contains("is the training data"),
        "{}",
        String::from_utf8_lossy(&e.stderr)
    );
    // Validation = training is refused; so is a target no cut reaches (with the best there is).
    let same =
        reckon(&["train", "cash", "--input", &p("train"), "--validation", &p("train"), "--out", &p("m/x")], t.path());
    assert_ne!(same.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&same.stderr).contains("is the training data"));
    let e = reckon(
        &[
            "train",
            "match",
            "--input",
            &p("train"),
            "--validation",
            &p("val"),
            "--target-precision",
            "1.0",
            "--out",
            &p("m/y"),
        ],
        t.path(),
    );
    assert_ne!(e.status.code(), Some(0));
    let err = String::from_utf8_lossy(&e.stderr);
    assert!(err.contains("no cut reaches precision 1") && err.contains("the best is"), "{err}");
}

/// Every numeric setting has a checked range: its edge values (0, negative,
/// NaN, infinite, huge) are refused with exit 2 and a message naming the
/// setting, before any output is written; the valid edges load.
#[test]
fn every_numeric_setting_refuses_its_edge_values() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = fixtures().join("bad_rows/input");
    const HUGE_I: &str = "9223372036854775807";
    // (table, key, refused values, accepted values)
    let cases: &[(&str, &str, &[&str], &[&str])] = &[
        ("cash", "auto_threshold", &["-0.1", "1.5", "nan", "inf", "1e300"], &["0.0", "1.0"]),
        ("cash", "name_threshold", &["-0.1", "1.01", "nan"], &["0.0"]),
        ("cash", "ambiguity_margin", &["-0.01", "0.5", "nan", "1e300"], &["0.0"]),
        ("cash", "fx_tolerance_bp", &["-1", "1001", HUGE_I], &["0"]),
        ("cash", "date_window_days", &["0", "-1", "3661", HUGE_I], &["1"]),
        ("cash", "discount_percent", &["[0]", "[-2]", "[51]", "[1,2,3,4,5,6,7,8,9,10,11]"], &["[]"]),
        ("cash", "subset_max_items", &["0", "25", "-1", HUGE_I], &["1"]),
        ("cash", "subset_max_candidates", &["0", "25", "-1"], &["24"]),
        ("cash", "bank_fee_max_minor", &["{ EUR = -1 }", "{ EURO = 100 }"], &["{ EUR = 0 }"]),
        ("journals", "close_days", &["-1", "367", HUGE_I], &["0"]),
        ("journals", "backdated_days", &["-1", "3661"], &["0"]),
        ("journals", "period_end_days", &["-1", "32"], &["0"]),
        ("journals", "duplicate_days", &["-1", "367"], &["0"]),
        ("journals", "duplicate_max_chance", &["0.0", "-0.1", "1.5", "nan"], &["1.0"]),
        ("journals", "round_unit", &["0", "-5", HUGE_I], &["1"]),
        ("journals", "below_limit_percent", &["0.0", "-1.0", "50.0", "nan", "1e300"], &["0.5"]),
        ("journals", "review_risk", &["-0.1", "1.1", "nan"], &["0.0", "1.0"]),
        ("journals", "benford_mad", &["0.0", "-0.1", "1.0", "nan"], &["0.001"]),
        ("journals", "outlier_z", &["0.0", "-1.0", "nan", "inf", "1e300"], &["0.1"]),
        ("journals", "outlier_min_lines", &["0", "1", "-1", "100000001"], &["2"]),
        ("journals", "preparer_min_lines", &["0", "-1", "100000001"], &["1"]),
        ("journals", "benford_min_lines", &["0", "100000001"], &["1"]),
        ("journals", "seldom_account_max_journals", &["-1", "100000001"], &["0"]),
        ("journals", "business_hours", &["[19, 7]", "[7, 7]", "[0, 25]", "[-1, 5]"], &["[0, 24]"]),
        ("journals", "weekend_routine_share", &["0.0", "-0.1", "1.5", "nan"], &["1.0"]),
        ("journals", "weekend_routine_min_journals", &["0", "-1", "100000001"], &["1"]),
        ("journals", "preparer_min_journals", &["0", "-1", "100000001"], &["1"]),
        ("journals", "preparer_rare_share", &["0.0", "-0.1", "0.51", "nan"], &["0.5"]),
        ("ingest", "first_date", &["\"3000-01-01\"", "\"2020-02-30\"", "\"\"", "0"], &["\"2020-01-01\""]),
        ("ingest", "last_date", &["\"1899-12-31\"", "\"20201231\""], &["\"2999-12-31\""]),
        ("feed.kinds.suggested_match", "escalate_score_above", &["-0.1", "1.1", "nan"], &["0.0"]),
        ("feed.webhook.retry", "max_attempts", &["0", "-1", "1001"], &["1"]),
        ("feed.webhook.retry", "timeout_ms", &["0", "86400001"], &["1"]),
        ("feed.webhook.retry", "max_ms", &["86400001"], &["60000"]),
        ("feed.webhook.retry", "base_ms", &["60001"], &["0"]),
    ];
    let mut checked = 0;
    for (table, key, refused, accepted) in cases {
        for (value, ok) in refused.iter().map(|v| (v, false)).chain(accepted.iter().map(|v| (v, true))) {
            let mut toml = String::new();
            if table.starts_with("feed.webhook") {
                toml.push_str("[feed.webhook]\nurl = \"http://127.0.0.1:9/reckon\"\n");
            }
            toml.push_str(&format!("[{table}]\n{key} = {value}\n"));
            let cfg = t.path().join("reckon.toml");
            std::fs::write(&cfg, &toml).unwrap_or_else(|e| panic!("{e}"));
            let out = t.path().join(format!("out{checked}"));
            let o = reckon(
                &[
                    "run",
                    "--no-deliver",
                    "--input",
                    &input.to_string_lossy(),
                    "--out",
                    &out.to_string_lossy(),
                    "--config",
                    &cfg.to_string_lossy(),
                ],
                t.path(),
            );
            let err = String::from_utf8_lossy(&o.stderr);
            if ok {
                assert_eq!(o.status.code(), Some(0), "{table}.{key} = {value} must load: {err}");
            } else {
                assert_eq!(o.status.code(), Some(2), "{table}.{key} = {value} must be refused with exit 2: {err}");
                assert!(err.contains(key), "{table}.{key} = {value}: the message must name the setting: {err}");
                assert!(!out.exists(), "{table}.{key} = {value}: nothing may be written");
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
}

/// `reckon run --metrics-file F` writes Prometheus text that an independent
/// parser of the format (`prometheus-parse`) reads, with the manifest's figures.
#[test]
fn metrics_file_parses_and_agrees_with_the_manifest() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    let out = t.path().join("out");
    let prom = t.path().join("reckon.prom");
    let o = reckon(
        &[
            "run",
            "--input",
            &sample.to_string_lossy(),
            "--out",
            &out.to_string_lossy(),
            "--metrics-file",
            &prom.to_string_lossy(),
        ],
        t.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&prom).unwrap_or_else(|e| panic!("{e}"));
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).unwrap_or_else(|e| panic!("{e}"));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    let value = |name: &str, label: &str, want: &str| -> f64 {
        let s = scrape
            .samples
            .iter()
            .find(|s| s.metric == name && s.labels.get(label) == Some(want))
            .unwrap_or_else(|| panic!("{name}{{{label}=\"{want}\"}} missing"));
        match s.value {
            prometheus_parse::Value::Gauge(v) => v,
            ref other => panic!("{name}: {other:?}"),
        }
    };
    let c = &m["conservation"];
    assert_eq!(
        value("reckon_loaded_rows", "table", "bank_transactions"),
        c["tables"]["bank_transactions"]["loaded_rows"].as_f64().unwrap_or(-1.0)
    );
    assert_eq!(
        value("reckon_bank_entries", "outcome", "matched"),
        c["bank_transactions"]["matched"].as_f64().unwrap_or(-1.0)
    );
    assert_eq!(value("reckon_conservation_balanced", "run_id", m["run_id"].as_str().unwrap_or("")), 1.0);
    let n_ex = std::fs::read_to_string(out.join("exceptions.jsonl")).unwrap_or_default().lines().count() as f64;
    let total: f64 = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "reckon_exceptions")
        .map(|s| if let prometheus_parse::Value::Gauge(v) = s.value { v } else { 0.0 })
        .sum();
    assert_eq!(total, n_ex);
    assert!(
        scrape.samples.iter().all(|s| s.labels.get("run_id") == m["run_id"].as_str()),
        "every sample carries the run id"
    );
    assert!(scrape.docs.contains_key("reckon_stage_duration_seconds"));
}

/// Progress people can see: off a terminal, one line per finished step (ingest,
/// the conversion into tables, every stage) on stderr, whatever `--log` says;
/// `--quiet` silences them.
#[test]
fn one_progress_line_per_stage_unless_quiet() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    let input = sample.to_string_lossy();
    let o = reckon(&["run", "--input", &input, "--out", &t.path().join("a").to_string_lossy()], t.path());
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    for step in ["ingest", "tables", "cash", "disbursements", "duplicates", "journals"] {
        let lines = err.lines().filter(|l| l.starts_with(&format!("reckon: {step} done"))).count();
        assert_eq!(lines, 1, "{step}: {err}");
    }
    assert!(err.lines().any(|l| l.starts_with("reckon: cash done in ") && l.contains("model cash@")), "{err}");
    let q = reckon(&["--quiet", "run", "--input", &input, "--out", &t.path().join("b").to_string_lossy()], t.path());
    assert_eq!(q.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&q.stderr).contains(" done"), "{}", String::from_utf8_lossy(&q.stderr));
}

/// `--log-format json` writes one JSON object per log line on stderr, each line
/// of the run's stages with the run id (the manifest's) as a correlation id.
#[test]
fn json_logs_are_one_object_per_line() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    let o = reckon(
        &[
            "--log-format",
            "json",
            "--log",
            "info",
            "run",
            "--input",
            &sample.to_string_lossy(),
            "--out",
            &t.path().join("o").to_string_lossy(),
        ],
        t.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 3, "{err}");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("o/manifest.json")).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    let run_id = m["run_id"].as_str().unwrap_or("none");
    let mut after = false;
    let mut stages = 0;
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{l}");
        // From the start of the stages on, every line carries the run id.
        after |= v["fields"]["message"] == "stages start";
        if after {
            assert_eq!(v["span"]["run_id"], run_id, "no run id on {l}");
        }
        stages += usize::from(v["fields"]["message"] == "stage done");
    }
    assert!(after && stages == 4, "the stages' log lines: {err}");
}

/// `reckon bench` runs the registered stages (as `reckon run` builds them) on a
/// generated scenario and evaluates their tables beside the baselines.
#[test]
fn bench_runs_the_real_stages() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = t.path().join("b");
    let o = reckon(&["bench", "--scale", "800", "--seed", "3", "--dir", &dir.to_string_lossy()], t.path());
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let m = &v["cash"];
    assert!(m["reckon_stage"].as_str().is_some_and(|s| s.starts_with("ok (model cash@")), "{m}");
    assert!(
        m["reckon"]["touchless"].as_f64().is_some_and(|x| x > m["naive_baseline"]["touchless"].as_f64().unwrap_or(1.0)),
        "{m}"
    );
    let d = &v["duplicates"];
    assert!(d["reckon_stage"].as_str().is_some_and(|s| s.contains("pairs compared")), "{d}");
    assert!(d["pairs_compared"].as_u64().is_some_and(|n| n > 0), "{d}");
}

/// `reckon bench --only retrain` fills a store with decided proposals through
/// the store's API and trains on them: the training window holds the decisions
/// of the first five runs, the held-out window the sixth's.
#[test]
fn bench_retrain_trains_on_the_decisions_it_stored() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = t.path().join("b");
    let o = reckon(&["bench", "--only", "retrain", "--scale", "1200", "--dir", &dir.to_string_lossy()], t.path());
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let n = |w: &str| v[w]["decided_right"].as_u64().unwrap_or(0) + v[w]["decided_wrong"].as_u64().unwrap_or(0);
    assert_eq!((n("train"), n("holdout")), (1000, 200), "{v}");
    assert!(v["train_wall_seconds"].as_f64().is_some_and(|s| s > 0.0), "{v}");
    assert!(v["train_peak_rss_gib"].as_f64().is_some_and(|g| g > 0.0), "{v}");
}
