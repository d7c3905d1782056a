//! Training settings are checked before any data is read: each trainer's
//! `TrainParams::check` refuses what cannot train a model, with the reason.

use reckon_lab::LabError;

#[test]
fn cash_params_are_checked() {
    use reckon_lab::cash::TrainParams;
    assert!(TrainParams::default().check().is_ok());
    let e = TrainParams { alpha: 0.0, ..Default::default() }.check().err();
    assert!(matches!(&e, Some(LabError::Params(m)) if m.contains("alpha 0")), "{e:?}");
    let e = TrainParams { target_precision: 1.5, ..Default::default() }.check().err();
    assert!(matches!(&e, Some(LabError::Threshold { what: "auto threshold", .. })), "{e:?}");
    let e = TrainParams { z: f64::NAN, ..Default::default() }.check().err();
    assert!(matches!(&e, Some(LabError::Threshold { .. })), "{e:?}");
}

#[test]
fn dedup_and_journal_params_are_checked() {
    assert!(reckon_lab::duplicates::TrainParams::default().check().is_ok());
    let e = reckon_lab::duplicates::TrainParams { alpha: f64::INFINITY }.check().err();
    assert!(matches!(&e, Some(LabError::Params(_))), "{e:?}");
    use reckon_lab::journals::TrainParams;
    assert!(TrainParams::default().check().is_ok());
    let e = TrainParams { trees: 0, ..Default::default() }.check().err();
    assert!(matches!(&e, Some(LabError::Params(m)) if m.contains("0 trees")), "{e:?}");
    let e = TrainParams { alpha: -1.0, ..Default::default() }.check().err();
    assert!(matches!(&e, Some(LabError::Params(_))), "{e:?}");
}

#[test]
fn training_without_scenarios_is_refused_before_reading() {
    let none: Vec<std::path::PathBuf> = Vec::new();
    let e = reckon_lab::cash::TrainParams::default().check().and_then(|p| p.fit(&none, &none)).err();
    assert!(matches!(&e, Some(LabError::Data(m)) if m.contains("at least one training")), "{e:?}");
}
