//! Leave-one-world-out: no world's models see that world's data, held-out
//! worlds are judged by models trained on every trainable world, and a model
//! trained on several scenarios refuses each of them as evaluation data.

use reckon_lab::model::{Engine, refuse_same_data, training_data_sha256};
use reckon_lab::worlds::{WorldsConfig, evaluate, table};
use reckon_synth::world::by_name;

#[test]
fn each_world_is_judged_by_models_that_never_saw_it() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // Small scenarios: the auto threshold's precision is the point estimate (z 0).
    let mut cfg = WorldsConfig::new(dir.path(), 2_400, 900);
    cfg.z = 0.0;
    cfg.worlds = ["eu_sepa", "us_ach", "shift_plant"].iter().filter_map(|n| by_name(n)).collect();
    let results = evaluate(&cfg).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(results.len(), 3);
    for r in &results {
        assert!(!r.trained_on.contains(&r.world), "{} trained on itself", r.world);
        let want: Vec<&str> = if r.held_out { vec!["eu_sepa", "us_ach"] } else { vec![] };
        if r.held_out {
            assert_eq!(r.trained_on, want);
        } else {
            assert_eq!(r.trained_on.len(), 1);
        }
        for k in
            ["cash.auto_precision", "cash.touchless", "duplicates.f1", "journals.roc_auc", "journals.iforest_roc_auc"]
        {
            let v = r.figures.get(k).copied().unwrap_or(f64::NAN);
            assert!((0.0..=1.0).contains(&v), "{}: {k} = {v}", r.world);
            assert!(r.shipped.contains_key(k), "{}: shipped {k}", r.world);
        }
    }
    // The held-out world's models were trained on two scenarios: their digest names
    // both, and each is refused as evaluation data.
    let fold = dir.path().join("models/eu_sepa+us_ach@z0-floor0.998/cash_v0_1");
    let cfg_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fold.join("config.json")).unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
    let hash = cfg_json["training_data_sha256"].as_str().unwrap_or_default().to_string();
    for w in ["eu_sepa", "us_ach"] {
        let train = dir.path().join("data").join(w).join("train");
        assert!(hash.split('+').any(|h| h == training_data_sha256(&train, Engine::Cash)));
        assert!(refuse_same_data(&hash, &train, Engine::Cash, "evaluation").is_err(), "{w} not refused");
    }
    let test = dir.path().join("data/shift_plant/test");
    assert!(refuse_same_data(&hash, &test, Engine::Cash, "evaluation").is_ok());
    // The card's reproduce section generates every scenario with its world.
    let card = std::fs::read_to_string(fold.join("MODEL_CARD.md")).unwrap_or_else(|e| panic!("{e}"));
    assert!(card.contains("--world us_ach") && card.contains("--world eu_sepa"), "{card}");
    // The table has a row per world and per model set; worlds.json is written.
    let t = table(&results);
    assert_eq!(t.lines().count(), 2 + 2 * results.len(), "{t}");
    assert!(dir.path().join("worlds.json").is_file());
    // A second evaluation reuses the scenarios and models and gives the same figures.
    cfg.shipped = false;
    cfg.reuse = true;
    let again = evaluate(&cfg).unwrap_or_else(|e| panic!("{e}"));
    for (a, b) in results.iter().zip(&again) {
        assert_eq!(a.world, b.world);
        assert_eq!(a.figures, b.figures, "{}", a.world);
        assert!(b.shipped.is_empty());
    }
}
