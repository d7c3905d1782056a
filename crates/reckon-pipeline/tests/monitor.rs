//! Drift of a served model's rows against its training reference: the shipped
//! cash model's rows on a scenario from its own generator do not move; rows
//! the reference never saw are a `model_drift` exception naming the features,
//! under the same id run after run, and the same on one thread and on four.

use std::path::Path;

use polars::prelude::SerReader;

use reckon_pipeline::{Config, RunOptions, run};

fn shipped(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models").join(name)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{e}"));
    for e in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{e}")).flatten() {
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

fn drift_events(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("exceptions.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["data"]["kind"] == "model_drift")
        .collect()
}

#[test]
fn a_run_measures_its_rows_against_the_training_reference() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = t.path().join("in");
    reckon_synth::generate(&input, &reckon_synth::Config::new(17, 3000)).unwrap_or_else(|e| panic!("{e}"));

    // The shipped model on a scenario of the generator it was trained on.
    let out = t.path().join("out");
    let r = run(&RunOptions::new(&input, &out, Config::default())).unwrap_or_else(|e| panic!("{e}"));
    let d = r.manifest.models[0].drift.clone().unwrap_or_else(|| panic!("no drift for {:?}", r.manifest.models[0]));
    assert!(d.rows >= 500, "enough rows to judge: {}", d.rows);
    assert_eq!(d.features.len(), reckon_cash::FEATURES.len());
    assert!(d.moved.is_empty() && !d.score_moved, "nothing moved: {d:?}");
    assert!(drift_events(&out).is_empty());
    let text = std::fs::read_to_string(out.join("manifest.json")).unwrap_or_default();
    assert!(text.contains("\"drift\""), "the manifest carries the drift");

    // A reference in which every row had no name evidence: today's rows with
    // name similarity lie outside its range.
    let model = t.path().join("cash_model");
    copy_dir(&shipped("cash_v2_2"), &model);
    let mut reference =
        reckon_monitor::Reference::read(&model).unwrap_or_default().unwrap_or_else(|| panic!("no reference"));
    let name =
        reference.features.iter_mut().find(|c| c.name == "payer_similarity").unwrap_or_else(|| panic!("no name_sim"));
    (name.edges, name.shares, name.min, name.max) = (vec![], vec![1.0], 0.0, 0.0);
    std::fs::write(model.join("reference.json"), reference.to_json()).unwrap_or_else(|e| panic!("{e}"));
    let mut cfg = Config::default();
    cfg.cash.model = model.display().to_string();
    let mut ids = Vec::new();
    for threads in [1, 4] {
        let out = t.path().join(format!("drift{threads}"));
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap_or_else(|e| panic!("{e}"));
        let r = pool.install(|| run(&RunOptions::new(&input, &out, cfg.clone()))).unwrap_or_else(|e| panic!("{e}"));
        let d = r.manifest.models[0].drift.clone().unwrap_or_else(|| panic!("no drift"));
        assert_eq!(d.moved, vec!["payer_similarity".to_string()], "{d:?}");
        let ev = drift_events(&out);
        assert_eq!(ev.len(), 1, "{ev:?}");
        let text = ev[0]["data"]["reasons"][0]["text"].as_str().unwrap_or_default().to_string();
        assert!(text.contains("payer_similarity (PSI"), "{text}");
        ids.push((ev[0]["data"]["exception_id"].clone(), serde_json::to_string(&d).unwrap_or_default()));
    }
    assert_eq!(ids[0], ids[1], "the same exception and the same figures on 1 and 4 threads");

    // A reference for other features is refused when the stage is built.
    let mut other = reference.clone();
    other.features.pop();
    std::fs::write(model.join("reference.json"), other.to_json()).unwrap_or_else(|e| panic!("{e}"));
    let e = run(&RunOptions::new(&input, &t.path().join("bad"), cfg)).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("reference columns"), "{e}");
}

/// Writes a challenger cash model: a logistic regression on the rule score
/// alone (other weights 0), a model unlike the shipped one.
fn challenger(dir: &Path) {
    let k = reckon_cash::FEATURES.len();
    let mut weights = vec![0.0; k];
    weights[0] = 9.0;
    let m = reckon_learn::logistic::Logistic { weights, intercept: -5.0 };
    let bytes = m.to_onnx(&[("feature_spec", reckon_cash::FEATURE_SPEC)]);
    let mut cfg = reckon_onnx::ModelConfig::probability(
        "cash_challenger",
        "cash_match_group",
        reckon_cash::FEATURE_SPEC,
        reckon_cash::FEATURES.iter().map(|s| s.to_string()).collect(),
        &bytes,
        String::new(),
    );
    cfg.thresholds.insert("auto".into(), 0.99);
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("model.onnx"), &bytes).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("config.json"), serde_json::to_string_pretty(&cfg).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
}

fn matches(out: &Path) -> polars::prelude::DataFrame {
    let f = std::fs::File::open(out.join("matches.parquet")).unwrap_or_else(|e| panic!("{e}"));
    polars::prelude::ParquetReader::new(f).finish().unwrap_or_else(|e| panic!("{e}"))
}

/// Groups (receipt, its items) with a score column.
fn scored(df: &polars::prelude::DataFrame, col: &str) -> std::collections::BTreeMap<(String, String), f64> {
    let s = |c: &str| -> Vec<String> {
        let c = df.column(c).unwrap_or_else(|e| panic!("{e}")).str().unwrap_or_else(|e| panic!("{e}")).clone();
        c.iter().map(|v| v.unwrap_or_default().to_string()).collect()
    };
    let (txn, item) = (s("txn_id"), s("item_id"));
    let v = df.column(col).unwrap_or_else(|e| panic!("{e}")).f64().unwrap_or_else(|e| panic!("{e}")).clone();
    let mut groups: std::collections::BTreeMap<String, (Vec<String>, f64)> = Default::default();
    for (i, x) in v.iter().enumerate() {
        let Some(x) = x else { continue };
        let e = groups.entry(txn[i].clone()).or_insert_with(|| (Vec::new(), x));
        e.0.push(item[i].clone());
    }
    groups.into_iter().map(|(t, (mut items, x))| (items.sort(), ((t, items.join("+")), x)).1).collect()
}

/// The challenger scored in shadow decides nothing (the champion's matches are
/// the same with and without it), its scores are `shadow_confidence`, and they
/// equal a run of the challenger alone on every group both runs apply.
#[test]
fn a_challenger_in_shadow_decides_nothing_and_scores_as_it_would_alone() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = t.path().join("in");
    reckon_synth::generate(&input, &reckon_synth::Config::new(23, 2000)).unwrap_or_else(|e| panic!("{e}"));
    let model = t.path().join("challenger");
    challenger(&model);
    let run_with = |name: &str, cfg: Config| {
        let out = t.path().join(name);
        let r = run(&RunOptions::new(&input, &out, cfg)).unwrap_or_else(|e| panic!("{e}"));
        (out, r)
    };
    let (alone_champion, _) = run_with("champion", Config::default());
    let mut shadowed = Config::default();
    shadowed.cash.challenger = model.display().to_string();
    let (both, r) = run_with("both", shadowed);
    let mut alone = Config::default();
    alone.cash.model = model.display().to_string();
    let (challenger_alone, _) = run_with("challenger", alone);

    let roles: Vec<(String, Option<String>)> =
        r.manifest.models.iter().map(|m| (m.id.clone(), m.role.map(|r| r.to_string()))).collect();
    assert!(roles.contains(&("cash_challenger@1.0".into(), Some("shadow".into()))), "{roles:?}");
    let (m0, m1) = (matches(&alone_champion), matches(&both));
    assert!(m0.column("shadow_confidence").is_err(), "no column without a challenger");
    assert_eq!(scored(&m0, "confidence"), scored(&m1, "confidence"), "the champion decides alone");
    assert_eq!(
        m0.column("band").ok().map(|c| c.as_materialized_series().clone()),
        m1.column("band").ok().map(|c| c.as_materialized_series().clone())
    );
    let shadow = scored(&m1, "shadow_confidence");
    let own = scored(&matches(&challenger_alone), "confidence");
    let shared: Vec<_> = shadow.iter().filter(|(g, _)| own.contains_key(*g)).collect();
    assert!(shared.len() > 100, "groups both runs apply: {}", shared.len());
    for (g, s) in &shared {
        assert_eq!(**s, own[*g], "{g:?}: shadow and the challenger alone differ");
    }
    assert!(shadow.iter().any(|(g, s)| scored(&m1, "confidence")[g] != *s), "the challenger scores differently");
}

/// A store whose one earlier run put `n` proposals to people, each scored
/// `probability` by `model`, and people found the first `right` of them right
/// (accepted) and the rest wrong (the pair rejected).
fn decided_store(state: &Path, model: &str, probability: f64, n: usize, right: usize) {
    use reckon_state::{DecisionsConfig, ExceptionKind, ExceptionRecord, NewRun, RunChanges, Store};
    let mut store = Store::open(state).unwrap_or_else(|e| panic!("{e}"));
    let run_id = "RUN-EARLIER".to_string();
    let mut ch = RunChanges::new(NewRun {
        run_id: run_id.clone(),
        as_of: "2020-01-01".into(),
        started_at: "2020-01-01T06:00:00Z".into(),
        input: "earlier".into(),
        output: "earlier".into(),
    });
    let mut received = Vec::new();
    for i in 0..n {
        let (txn, item) = (format!("BTX{i:04}"), format!("ARX{i:04}"));
        let records = vec![format!("bank_transactions:{txn}"), format!("ar_open_items:{item}")];
        let e = reckon_feed::Exception {
            exception_id: reckon_feed::Exception::id_for(ExceptionKind::SuggestedMatch, &records),
            run_id: run_id.clone(),
            kind: ExceptionKind::SuggestedMatch,
            band: reckon_feed::Band::Review,
            score: probability,
            confidence: probability,
            entity: None,
            currency: None,
            amount: None,
            records,
            reasons: vec![],
            recommended_action: "confirm".into(),
            model: Some(model.into()),
            priority: 3,
            lifecycle: None,
        };
        let id = e.exception_id.clone();
        ch.exceptions.push(ExceptionRecord::first_raised(&e, "2020-01-01"));
        ch.proposals.push(reckon_state::models::ProposalScore {
            run_id: run_id.clone(),
            txn_id: txn,
            items: vec![item.clone()],
            band: reckon_core::Band::Review,
            model: model.into(),
            confidence: probability,
            challenger: None,
            shadow_confidence: None,
            features: vec![],
            feature_spec: None,
            entity: None,
            held: false,
        });
        let d = serde_json::json!({"decision_id": format!("D-CAL-{i:04}"), "exception_id": id,
            "action": if i < right { "accept" } else { "reject_pair" }, "actor": "ar.analyst",
            "decided_at": "2020-01-01T12:00:00Z", "item_id": if i < right { None } else { Some(item) }});
        let input: reckon_state::DecisionInput = serde_json::from_value(d).unwrap_or_else(|e| panic!("{e}"));
        received.push(reckon_state::decision::check(input, format!("test:{i}")).unwrap_or_else(|u| panic!("{u:?}")));
    }
    store
        .begin_run(&ch)
        .and_then(|p| p.commit(&"0".repeat(64), "2020-01-01T07:00:00Z"))
        .unwrap_or_else(|e| panic!("{e}"));
    let policy = DecisionsConfig::default().build().unwrap_or_else(|e| panic!("{e}"));
    let v = store.submit(&received, &policy, "2020-01-01T12:00:00Z").unwrap_or_else(|e| panic!("{e}"));
    assert!(v.iter().all(|v| v.status != Some(reckon_state::DecisionStatus::Refused)), "{v:?}");
}

/// Calibration in the field: when people found the served model's proposals
/// right far less often than its probability said, the next run with the
/// store measures it (`models[].calibration`) and raises `calibration_drift`
/// naming the band; when they found them right about as often, it measures
/// and raises nothing.
#[test]
fn decisions_that_contradict_the_probabilities_raise_calibration_drift() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = t.path().join("in");
    reckon_synth::generate(&input, &reckon_synth::Config::new(29, 1500)).unwrap_or_else(|e| panic!("{e}"));
    let served = reckon_pipeline::model::load_checked(
        &shipped("cash_v2_2"),
        reckon_pipeline::model::Spec::Fixed(reckon_cash::FEATURE_SPEC, reckon_cash::FEATURES),
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .id();
    for (right, moved) in [(60, true), (97, false)] {
        let state = t.path().join(format!("state-{right}.db"));
        decided_store(&state, &served, 0.97, 100, right);
        let out = t.path().join(format!("out-{right}"));
        let mut opts = RunOptions::new(&input, &out, Config::default());
        opts.state = Some(state.clone());
        let r = run(&opts).unwrap_or_else(|e| panic!("{e}"));
        let c = r.manifest.models[0].calibration.clone().unwrap_or_else(|| panic!("no calibration"));
        // The store keeps each run's calibration: the trend `reckon models monitor` prints.
        let kept =
            reckon_state::Store::open(&state).and_then(|mut s| s.model_calibration()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(kept.len(), 1, "{kept:?}");
        let stored: reckon_monitor::Calibration = serde_json::from_str(&kept[0].3).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((kept[0].2.as_str(), &stored), (served.as_str(), &c), "the store and the manifest agree");
        assert_eq!(c.decided, 100, "{c:?}");
        let band = c.bands.iter().find(|b| b.band == "0.95–0.99").unwrap_or_else(|| panic!("{c:?}"));
        assert_eq!((band.decided, band.found_right), (100, right as f64 / 100.0), "{c:?}");
        let events: Vec<serde_json::Value> = std::fs::read_to_string(out.join("exceptions.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["data"]["kind"] == "calibration_drift")
            .collect();
        if moved {
            assert_eq!(c.moved, ["0.95–0.99"], "{c:?}");
            assert_eq!(events.len(), 1, "{events:?}");
            let text = events[0]["data"]["reasons"][0]["text"].as_str().unwrap_or_default();
            assert!(text.contains("mean probability 0.970, found right 0.600"), "{text}");
            assert_eq!(events[0]["data"]["records"][0], format!("models:{served}"));
        } else {
            assert!(c.moved.is_empty() && events.is_empty(), "{c:?} {events:?}");
        }
    }
}

/// A run reads the proposals of the newest decisions until it has the labels
/// it judges (`[monitor] calibration_window`), not every decision ever made;
/// what it reads is labelled as a read of all of them labels it.
#[test]
fn calibration_reads_the_newest_decisions_until_it_has_its_labels() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = t.path().join("state.db");
    decided_store(&state, "cash@9.9", 0.97, 100, 60);
    let mut store = reckon_state::Store::open(&state).unwrap_or_else(|e| panic!("{e}"));
    let all = store.decided_proposals(1000).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.len(), 100);
    for (labels, from) in [(30, 70), (1, 99), (100, 0)] {
        let newest = store.decided_proposals(labels).unwrap_or_else(|e| panic!("{e}"));
        let ids: std::collections::BTreeSet<String> = newest.iter().map(|l| l.decision_id.clone()).collect();
        let expected: std::collections::BTreeSet<String> = (from..100).map(|i| format!("D-CAL-{i:04}")).collect();
        assert_eq!(ids, expected, "{labels}");
        assert!(newest.iter().all(|l| all.contains(l)), "{labels}");
    }
    // The store's default is the monitor's.
    assert_eq!(reckon_state::CALIBRATION_LABELS, reckon_monitor::DriftLimits::default().calibration_window);
}

/// A served model that carries an entity's own auto threshold
/// (`auto@<entity>`, as `reckon train cash --state` writes it): the run clears
/// none of that entity's groups at a threshold none reaches, and the other
/// entities' groups as before.
#[test]
fn an_entitys_own_threshold_in_the_model_decides_for_its_groups() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = t.path().join("in");
    reckon_synth::generate(&input, &reckon_synth::Config::new(31, 2000)).unwrap_or_else(|e| panic!("{e}"));
    // item_id and entity lead every line of the generated file (no quoting there).
    let entity_of: std::collections::HashMap<String, String> = std::fs::read_to_string(input.join("ar_open_items.csv"))
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split(',');
            Some((f.next()?.to_string(), f.next()?.to_string()))
        })
        .collect();
    let model = t.path().join("model");
    challenger(&model);
    let auto_by_entity = |thresholds: &[(&str, f64)]| -> std::collections::BTreeMap<String, usize> {
        let path = model.join("config.json");
        let mut cfg: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
        cfg["thresholds"] = serde_json::json!({});
        for (k, v) in thresholds {
            cfg["thresholds"][*k] = serde_json::json!(v);
        }
        std::fs::write(&path, cfg.to_string()).unwrap_or_else(|e| panic!("{e}"));
        let mut c = Config::default();
        c.cash.model = model.display().to_string();
        let out = t.path().join(format!("out{}", thresholds.len()));
        run(&RunOptions::new(&input, &out, c)).unwrap_or_else(|e| panic!("{e}"));
        let m = matches(&out);
        let col = |n: &str| -> Vec<String> {
            m.column(n)
                .unwrap_or_else(|e| panic!("{e}"))
                .str()
                .unwrap_or_else(|e| panic!("{e}"))
                .iter()
                .map(|v| v.unwrap_or_default().to_string())
                .collect()
        };
        let mut n = std::collections::BTreeMap::new();
        for (item, band) in col("item_id").iter().zip(col("band")) {
            if band == "auto" {
                *n.entry(entity_of.get(item).cloned().unwrap_or_default()).or_insert(0) += 1;
            }
        }
        n
    };
    let before = auto_by_entity(&[("auto", 0.5)]);
    assert!(before.get("DE01").is_some_and(|n| *n > 0) && before.len() > 1, "{before:?}");
    let after = auto_by_entity(&[("auto", 0.5), ("auto@DE01", 0.999_999)]);
    let mut expected = before.clone();
    expected.remove("DE01");
    assert_eq!(after, expected, "DE01 cleared nothing, the others as before");
}

/// The duplicate model is measured against its training reference as the
/// cash model is: its candidate pairs on a scenario of the generator it was
/// trained on do not move; a reference in which every pair had equal
/// amounts names `amount_equal`, in the manifest and as a `model_drift`
/// exception, the same on one thread and on four.
#[test]
fn the_duplicate_model_is_measured_against_its_reference() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = t.path().join("in");
    reckon_synth::generate(&input, &reckon_synth::Config::new(17, 6000)).unwrap_or_else(|e| panic!("{e}"));
    let mut cfg = Config::default();
    cfg.monitor.min_rows = 200;
    let r = run(&RunOptions::new(&input, &t.path().join("out"), cfg.clone())).unwrap_or_else(|e| panic!("{e}"));
    let id = "duplicates@2.0";
    let m = r.manifest.models.iter().find(|m| m.id == id).unwrap_or_else(|| panic!("{id} not served"));
    let d = m.drift.clone().unwrap_or_else(|| panic!("no drift for {id}"));
    assert!(d.rows >= 200, "enough rows to judge: {}", d.rows);
    assert_eq!(d.features.len(), reckon_duplicates::FEATURES.len());
    assert!(d.moved.is_empty() && !d.score_moved, "nothing moved: {d:?}");
    assert!(drift_events(&t.path().join("out")).is_empty());

    let model = t.path().join("duplicates_model");
    copy_dir(&shipped("duplicates_v2_0"), &model);
    let mut reference =
        reckon_monitor::Reference::read(&model).unwrap_or_default().unwrap_or_else(|| panic!("no reference"));
    let eq = reference.features.iter_mut().find(|c| c.name == "amount_equal").unwrap_or_else(|| panic!("none"));
    (eq.edges, eq.shares, eq.min, eq.max) = (vec![], vec![1.0], 1.0, 1.0);
    std::fs::write(model.join("reference.json"), reference.to_json()).unwrap_or_else(|e| panic!("{e}"));
    cfg.duplicates.model = model.display().to_string();
    let mut seen = Vec::new();
    for threads in [1, 4] {
        let out = t.path().join(format!("drift{threads}"));
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap_or_else(|e| panic!("{e}"));
        let r = pool.install(|| run(&RunOptions::new(&input, &out, cfg.clone()))).unwrap_or_else(|e| panic!("{e}"));
        let m = r.manifest.models.iter().find(|m| m.id == id).unwrap_or_else(|| panic!("not served"));
        let d = m.drift.clone().unwrap_or_else(|| panic!("no drift"));
        assert_eq!(d.moved, vec!["amount_equal".to_string()], "{d:?}");
        let ev = drift_events(&out);
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert_eq!(ev[0]["data"]["model"], id, "{ev:?}");
        seen.push((ev[0]["data"]["exception_id"].clone(), serde_json::to_string(&d).unwrap_or_default()));
    }
    assert_eq!(seen[0], seen[1], "the same exception and the same figures on 1 and 4 threads");
}
