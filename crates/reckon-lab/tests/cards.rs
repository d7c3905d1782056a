//! Every shipped model's card says what its configs say: the fact lines of
//! reckon-lab's card template (name, version, task, input and output, feature
//! spec and features, thresholds, hashes), for the folder and its parts.

use std::path::Path;

#[test]
fn shipped_cards_agree_with_their_configs() {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let mut checked = 0;
    for e in std::fs::read_dir(&models).unwrap_or_else(|e| panic!("{e}")).flatten() {
        let dir = e.path();
        let Ok(text) = std::fs::read_to_string(dir.join("config.json")) else { continue };
        let cfg: reckon_onnx::ModelConfig = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        let mut parts = Vec::new();
        if let Ok(t) = std::fs::read_to_string(dir.join("iforest/config.json")) {
            parts.push(("iforest/".to_string(), serde_json::from_str(&t).unwrap_or_else(|e| panic!("{e}"))));
        }
        let card = std::fs::read_to_string(dir.join("MODEL_CARD.md")).unwrap_or_else(|e| panic!("{e}"));
        reckon_lab::card::check(&card, &cfg, &parts).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        // A card that says something else about a fact fails.
        let wrong = card.replace(&cfg.model_sha256, "0000");
        assert!(reckon_lab::card::check(&wrong, &cfg, &parts).is_err());
        checked += 1;
    }
    assert_eq!(checked, 3, "the three shipped models");
}
