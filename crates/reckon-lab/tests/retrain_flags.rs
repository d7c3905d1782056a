//! Days with the simulated analyst confirming and dismissing duplicate
//! invoices and confirming and explaining journals: the store keeps every
//! raised pair's and journal's features, the decisions label them, and the
//! duplicate and journal models are retrained on them — a candidate folder
//! with its card and the held-out comparison with the champion; too few
//! decisions are refused with the count needed; the same store trains the
//! same bytes twice.

use std::path::{Path, PathBuf};

use reckon_lab::retrain::RetrainError;
use reckon_lab::retrain_flags::{FlagModel, FlagRetrainParams, train_from_decisions};
use reckon_lab::simulate::{SimConfig, simulate};

fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

/// A copy of the model folder `from` at `to` with its review threshold set to `cut`.
fn copy_model(from: &Path, to: &Path, cut: f64) {
    for sub in ["", "iforest"] {
        let (f, t) = (from.join(sub), to.join(sub));
        if !f.is_dir() {
            continue;
        }
        std::fs::create_dir_all(&t).unwrap_or_else(|e| panic!("{e}"));
        for e in std::fs::read_dir(&f).unwrap_or_else(|e| panic!("{e}")).flatten() {
            if e.path().is_file() {
                std::fs::copy(e.path(), t.join(e.file_name())).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
    let cfg = to.join("config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    v["thresholds"]["review"] = serde_json::json!(cut);
    std::fs::write(&cfg, serde_json::to_string_pretty(&v).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn duplicate_and_journal_models_learn_from_decisions() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let days = tmp.path().join("days");
    // A plant whose vendors deliver twice a day at one price (reckon-synth's
    // `shift_plant` world): pairs a duplicate model may raise that are not one.
    let mut cfg = reckon_synth::Config::new(12, 20000);
    cfg.world = reckon_synth::world::by_name("shift_plant");
    reckon_synth::days::write_days(&days, &cfg, 6, reckon_synth::days::THIRD_PARTY_PERMILLE)
        .unwrap_or_else(|e| panic!("{e}"));
    let out = tmp.path().join("sim");
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{e}"));
    // Champions that raise too much: the shipped models with their review
    // thresholds lowered, so that people dismiss and explain many of their
    // flags — what a model that does not fit a team's books does.
    let loose = tmp.path().join("loose");
    for (name, cut) in [("duplicates_v2_0", 0.02), ("journals_v5_0", 0.003)] {
        copy_model(&models_dir().join(name), &loose.join(name), cut);
    }
    // Every exception decided, so that both engines collect labels in six days.
    let mut sim = SimConfig { decide_permille: 1000, ..SimConfig::default() };
    sim.config.duplicates.model = loose.join("duplicates_v2_0").display().to_string();
    sim.config.journals.model = loose.join("journals_v5_0").display().to_string();
    let state = out.join("state.db");
    let rows = simulate(&days, &out, &state, &sim).unwrap_or_else(|e| panic!("{e}"));
    let table = reckon_lab::simulate::table(&rows);
    assert!(rows.iter().all(|r| r.chain_balanced), "{table}");

    let mut store = reckon_state::Store::open(&state).unwrap_or_else(|e| panic!("{e}"));
    for engine in ["dedup", "anomaly"] {
        let flags = store.flag_scores(engine).unwrap_or_else(|e| panic!("{e}"));
        let labelled = store.labelled_flags(engine).unwrap_or_else(|e| panic!("{e}"));
        let confirmed = labelled.iter().filter(|l| l.right).count();
        eprintln!("{engine}: {} flags kept, {} labelled, {confirmed} confirmed", flags.len(), labelled.len());
        assert!(confirmed > 0 && confirmed < labelled.len(), "{engine}: both labels among {}", labelled.len());
        // Each flag carries the served model's features in its spec's order.
        assert!(flags.iter().all(|f| !f.features.is_empty() && !f.model.is_empty()), "{engine}");
    }
    drop(store);

    for (model, name) in [
        (FlagModel::Duplicates, "duplicates_v9_0"),
        (FlagModel::Journals { base: loose.join("journals_v5_0") }, "journals_v9_0"),
    ] {
        let p = FlagRetrainParams { min_labels: 20, ..FlagRetrainParams::default() };
        let dir = tmp.path().join(name);
        let r = train_from_decisions(&state, &dir, &model, &p).unwrap_or_else(|e| panic!("{name}: {e}"));
        eprintln!("{name}: {}", serde_json::to_string(&r).unwrap_or_default());
        assert_eq!((r.train.runs, r.holdout.runs), (4, 2));
        assert!(r.train.confirmed > 0 && r.train.not_a_problem > 0, "{r:?}");
        assert_eq!(r.champion.kept, r.holdout.confirmed + r.holdout.not_a_problem, "the champion raised them all");
        // Fitted to what people decided, the candidate separates the held-out
        // flags they confirmed from those they closed better than the
        // champion that raised them all.
        assert_eq!(r.threshold_from, "the held-out decisions", "{r:?}");
        assert!(
            r.candidate.f1 > r.champion.f1,
            "{name}: F1 {} against the champion's {}",
            r.candidate.f1,
            r.champion.f1
        );
        assert!(r.candidate.average_precision >= r.champion.average_precision, "{name}: {r:?}");
        for f in ["model.onnx", "config.json", "metrics.json", "weights.json", "MODEL_CARD.md"] {
            assert!(dir.join(f).is_file(), "{name}: {f} missing");
        }
        let card = std::fs::read_to_string(dir.join("MODEL_CARD.md")).unwrap_or_default();
        assert!(card.contains("training window") && card.contains("| champion |"), "{card}");
        // The folder is a model the engine serves.
        let cfg: reckon_onnx::ModelConfig =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap_or_default())
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(cfg.thresholds.contains_key("review"), "{cfg:?}");
        match &model {
            FlagModel::Duplicates => {
                reckon_pipeline::model::load_checked(
                    &dir,
                    reckon_pipeline::model::Spec::Fixed(reckon_duplicates::FEATURE_SPEC, reckon_duplicates::FEATURES),
                )
                .unwrap_or_else(|e| panic!("{e}"));
            }
            FlagModel::Journals { base } => {
                // Its rows were built from the base's inputs: it reads them from the same base.
                let m = reckon_pipeline::journals::RiskModel::load(&dir).unwrap_or_else(|e| panic!("{e}"));
                let b = reckon_pipeline::journals::RiskModel::load(base).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!((m.base, m.inputs_spec()), (b.base, b.inputs_spec()));
            }
        }
        // The same store and settings: the same bytes.
        let again = tmp.path().join(format!("{name}_again")).join(name);
        train_from_decisions(&state, &again, &model, &p).unwrap_or_else(|e| panic!("{e}"));
        for f in ["model.onnx", "metrics.json", "weights.json"] {
            assert_eq!(std::fs::read(dir.join(f)).ok(), std::fs::read(again.join(f)).ok(), "{name}: {f} differs");
        }
        // Too few decisions: refused, saying how many are needed.
        let few = FlagRetrainParams { min_labels: 100_000, ..FlagRetrainParams::default() };
        match train_from_decisions(&state, &tmp.path().join("never"), &model, &few) {
            Err(RetrainError::TooFewLabels { needed: 100_000, found, .. }) => assert!(found > 0),
            other => panic!("{name}: {other:?}"),
        }
        assert!(!tmp.path().join("never").exists(), "nothing written when refused");
    }

    // The registry: a challenger registered after day 4 is judged on the flags
    // of days 5 and 6 that people decided, scored from the features the runs
    // kept. The journal candidate beats the loose champion and is promoted;
    // the loose duplicate champion registered against itself is refused.
    let runs = reckon_state::Store::open(&state).and_then(|mut s| s.runs()).unwrap_or_else(|e| panic!("{e}"));
    let at = format!("{}T20:00:00Z", runs[3].as_of);
    let rule = reckon_lab::retrain_flags::FlagPromotionRule { min_labels: 20, ..Default::default() };
    let journals = tmp.path().join("journals_v9_0").display().to_string();
    reckon_lab::retrain_flags::challenge(&state, "anomaly", &journals, "data.scientist", &at, None)
        .unwrap_or_else(|e| panic!("{e}"));
    let (c, m) = reckon_lab::retrain_flags::promote(&state, "anomaly", &rule, "controller", &at)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(c.promote, "{c:?}");
    assert_eq!(m.model_id, "journals@9.0");
    assert!(c.labelled >= 20 && c.challenger.f1 > c.champion.f1, "{c:?}");
    let loose_dups = loose.join("duplicates_v2_0").display().to_string();
    reckon_lab::retrain_flags::challenge(&state, "dedup", &loose_dups, "data.scientist", &at, None)
        .unwrap_or_else(|e| panic!("{e}"));
    let (c, _) =
        reckon_lab::retrain_flags::promote(&state, "dedup", &rule, "controller", &at).unwrap_or_else(|e| panic!("{e}"));
    assert!(!c.promote && c.refused.iter().any(|r| r.contains("is not above the champion's")), "{c:?}");
    // A journal model with a forest of its own cannot be judged on the inputs
    // the champion's forest gave: refused when registered.
    let (a, b) = (tmp.path().join("j21"), tmp.path().join("j22"));
    for (d, seed) in [(&a, 21), (&b, 22)] {
        reckon_synth::generate(d, &reckon_synth::Config::new(seed, 2000)).unwrap_or_else(|e| panic!("{e}"));
    }
    let other = tmp.path().join("journals_v8_0");
    reckon_lab::journals::train(&[a], &[b], &other, Default::default()).unwrap_or_else(|e| panic!("{e}"));
    let e = reckon_lab::retrain_flags::challenge(&state, "anomaly", &other.display().to_string(), "ds", &at, None)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("its isolation forest is not the champion's"), "{e}");
    // With no champion registered, the runs serve their configuration's
    // journal model: the challenger must share that model's forest.
    let other_dir = other.display().to_string();
    for (name, configured, ok) in [("fresh_a.db", Some(other_dir.as_str()), true), ("fresh_b.db", None, false)] {
        let r =
            reckon_lab::retrain_flags::challenge(&tmp.path().join(name), "anomaly", &other_dir, "ds", &at, configured);
        assert_eq!(r.is_ok(), ok, "configured {configured:?}: {r:?}");
    }
    // The retraining job a scheduler calls: the duplicate challenger was
    // refused on enough decided flags, so a candidate is trained on the
    // decisions and registered; called again, it judges that candidate on the
    // flags of days 5–6 and promotes it.
    let jobs = tmp.path().join("job");
    let p = FlagRetrainParams { min_labels: 20, ..FlagRetrainParams::default() };
    let job = |what: &str| {
        reckon_lab::retrain_flags::job(&state, &FlagModel::Duplicates, &jobs, &p, &rule, "retrain-job", &at)
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    };
    let first = job("first");
    assert_eq!(first.action, reckon_lab::retrain::JobAction::ChallengerRegistered, "{first:?}");
    assert!(jobs.join("duplicates_v6_0/model.onnx").is_file(), "{first:?}");
    let second = job("second");
    assert_eq!(second.action, reckon_lab::retrain::JobAction::Promoted, "{second:?}");
    // A run with the store serves the promoted models.
    let mut cfg = reckon_pipeline::Config::default();
    reckon_pipeline::remember::serve_registered(&state, &mut cfg).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.journals.model, journals);
    assert_eq!(cfg.duplicates.model, jobs.join("duplicates_v6_0").display().to_string());
}
