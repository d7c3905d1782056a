//! Days in which the bank changes how it writes payers and references: the
//! cash model's monitoring names the feature that moved, a candidate trained on
//! the store's decisions is written with its card, reference and held-out
//! comparison, registered as challenger and judged for promotion; too few
//! decisions are refused with the count needed.

use reckon_lab::retrain::{RetrainError, RetrainParams, train_from_decisions};
use reckon_lab::simulate::{ModelOp, SimConfig, simulate};

#[test]
fn a_bank_that_changes_its_format_is_seen_and_retrained_for() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let days = tmp.path().join("days");
    let s = reckon_synth::days::write_days_drifting(
        &days,
        &reckon_synth::Config::new(41, 12000),
        6,
        reckon_synth::days::THIRD_PARTY_PERMILLE,
        Some(4),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(s.bank_drift_entries > 1000, "{}", s.bank_drift_entries);
    let day4 = std::fs::read_to_string(days.join("day-04/bank_transactions.csv")).unwrap_or_default();
    let day3 = std::fs::read_to_string(days.join("day-03/bank_transactions.csv")).unwrap_or_default();
    assert!(day4.contains(",/INV/") && !day3.contains(",/INV/"), "the new reference format from day 4 on");
    assert_eq!(reckon_synth::days::drift_name("Quantum Elektrotechnik S.A."), "QUAN ELEK");

    let out = tmp.path().join("sim");
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{e}"));
    let mut sim = SimConfig::default();
    sim.config.monitor.min_rows = 300;
    let params = RetrainParams { min_labels: 20, ..RetrainParams::default() };
    sim.model_ops = vec![
        ModelOp::Retrain { after_day: 4, params },
        ModelOp::Promote {
            after_day: 5,
            rule: reckon_state::models::PromotionRule { min_labels: 10, ..Default::default() },
        },
    ];
    let state = out.join("state.db");
    let rows = simulate(&days, &out, &state, &sim).unwrap_or_else(|e| panic!("{e}"));
    let table = reckon_lab::simulate::table(&rows);
    // Before the change nothing about the payers moved; from it, their similarity did.
    for r in &rows[1..3] {
        assert!(!r.drift_moved.contains(&"payer_similarity".to_string()), "day {}\n{table}", r.day);
    }
    assert!(
        rows[3..5].iter().any(|r| r.drift_moved.contains(&"payer_similarity".to_string())),
        "the drift alert names payer_similarity on day 4 or 5\n{table}"
    );
    let drift_events = std::fs::read_to_string(out.join("runs/day-04/exceptions.jsonl")).unwrap_or_default();
    assert!(drift_events.contains("\"kind\":\"model_drift\""), "a model_drift exception on day 4");
    // The store keeps each run's drift: the trend `reckon models monitor` prints.
    let trend = reckon_state::Store::open(&state).and_then(|mut s| s.model_drift()).unwrap_or_else(|e| panic!("{e}"));
    // The cash model's (the duplicate model is measured too).
    let trend: Vec<_> = trend.into_iter().filter(|t| t.2.starts_with("cash@")).collect();
    assert_eq!(trend.len(), 6, "one measurement a day: {trend:?}");
    let d4: reckon_monitor::Drift = serde_json::from_str(&trend[3].3).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d4.moved, rows[3].drift_moved, "the store and the manifest agree");
    // Each group kept names its items' entity (schema 7): what thresholds per entity are chosen on.
    let kept =
        reckon_state::Store::open(&state).and_then(|mut s| s.proposal_scores()).unwrap_or_else(|e| panic!("{e}"));
    let named = kept.iter().filter(|p| p.entity.as_deref().is_some_and(|e| !e.is_empty())).count();
    assert!(named * 100 >= kept.len() * 99, "{named} of {} groups name an entity", kept.len());
    // The other candidate groups each run scored (schema 10): never the group it
    // applied for the receipt, and the negatives the candidate below is fit to.
    let others =
        reckon_state::Store::open(&state).and_then(|mut s| s.candidate_scores()).unwrap_or_else(|e| panic!("{e}"));
    assert!(others.len() > 100, "{} other candidate groups kept", others.len());
    let applied: std::collections::HashSet<(&str, &str, &[String])> =
        kept.iter().map(|p| (p.run_id.as_str(), p.txn_id.as_str(), p.items.as_slice())).collect();
    assert!(others.iter().all(|c| !applied.contains(&(c.run_id.as_str(), c.txn_id.as_str(), c.items.as_slice()))));
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("models/cash_v4_0/metrics.json")).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    let count = |w: &str| metrics["train"][w].as_u64().unwrap_or(0);
    assert!(
        count("candidates_right") > 0 && count("candidates_wrong") > 0,
        "the other groups of decided receipts are trained on: {}",
        metrics["train"]
    );
    // The candidate: a folder the engine serves, with its card, reference and figures.
    let cand = out.join("models/cash_v4_0");
    for f in ["model.onnx", "config.json", "reference.json", "metrics.json", "MODEL_CARD.md"] {
        assert!(cand.join(f).is_file(), "{f} missing");
    }
    let card = std::fs::read_to_string(cand.join("MODEL_CARD.md")).unwrap_or_default();
    assert!(card.contains("training window") && card.contains("| champion |"), "{card}");
    assert!(rows[3].model_events.iter().any(|e| e.starts_with("retrained cash@4.0")), "{table}");
    assert_eq!(rows[4].challenger, "cash@4.0", "{table}");
    let judged = &rows[4].model_events;
    assert!(judged.iter().any(|e| e.starts_with("promoted") || e.starts_with("refused")), "{table}");
    if judged.iter().any(|e| e.starts_with("promoted")) {
        assert_eq!(rows[5].model, "cash@4.0", "the promoted model decides the next day\n{table}");
    }
    // Pulled hard towards the champion, the candidate keeps the champion's
    // weights; without the pull it does not.
    let champion = reckon_lab::retrain::champion(&state, "cash_v2_2").unwrap_or_else(|e| panic!("{e}"));
    let weights = champion.weights.clone().unwrap_or_else(|| panic!("{} has weights.json", champion.id));
    let fit = |alpha: f64, dir: &str| -> Vec<f64> {
        let p = RetrainParams {
            min_labels: 20,
            anchor_alpha: alpha,
            anchor: Some((champion.id.clone(), weights.clone())),
            ..RetrainParams::default()
        };
        let r =
            train_from_decisions(&state, &tmp.path().join(dir), &p, champion.auto).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.anchored_on.is_some(), alpha > 0.0);
        let w: std::collections::BTreeMap<String, f64> = serde_json::from_str(
            &std::fs::read_to_string(tmp.path().join(dir).join("weights.json")).unwrap_or_default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        reckon_cash::FEATURES.iter().map(|f| w.get(*f).copied().unwrap_or(f64::NAN)).collect()
    };
    let far = |w: &[f64]| w.iter().zip(&weights).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    let (held, free) = (fit(1e12, "held"), fit(0.0, "free"));
    assert!(far(&held) < 1e-3, "{held:?}\nagainst the champion's {weights:?}");
    assert!(far(&free) > 0.1, "the unanchored fit is its own: {free:?}");

    // Too few decisions: refused, saying how many are needed.
    let e = train_from_decisions(
        &state,
        &tmp.path().join("never"),
        &RetrainParams { min_labels: 1_000_000, ..RetrainParams::default() },
        0.998,
    )
    .err();
    assert!(matches!(e, Some(RetrainError::TooFewLabels { needed: 1_000_000, .. })), "{e:?}");
    // A pull with nothing to pull towards, or a negative one: refused, not
    // silently fitted without it.
    for p in [
        RetrainParams { min_labels: 20, anchor_alpha: 1000.0, anchor: None, ..RetrainParams::default() },
        RetrainParams {
            min_labels: 20,
            anchor_alpha: -1.0,
            anchor: Some((champion.id.clone(), weights.clone())),
            ..RetrainParams::default()
        },
    ] {
        let e = train_from_decisions(&state, &tmp.path().join("never"), &p, 0.998).err();
        assert!(matches!(&e, Some(RetrainError::Params(m)) if m.contains("--anchor-alpha")), "{e:?}");
    }
    assert!(!tmp.path().join("never").exists(), "nothing written");
}
