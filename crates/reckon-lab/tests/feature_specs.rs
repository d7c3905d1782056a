//! Feature specs are fixed column lists: each one's digest (sha256 of its
//! feature names joined by newlines) is recorded in `docs/data-contract.md`,
//! equals the code's list, and every shipped model folder trained on a spec
//! lists exactly those features, in that order. A spec that changes without a
//! new name and a new digest in the contract fails here.

use std::collections::BTreeMap;
use std::path::Path;

fn digest(features: &[&str]) -> String {
    reckon_core::id::sha256_hex(features.join("\n").as_bytes())
}

#[test]
fn feature_spec_digests_are_recorded_and_models_follow_them() {
    let code: BTreeMap<&str, (usize, String)> = [
        (reckon_cash::FEATURE_SPEC, reckon_cash::FEATURES),
        (reckon_duplicates::FEATURE_SPEC, reckon_duplicates::FEATURES),
        (reckon_journals::FEATURE_SPEC, reckon_journals::FEATURES),
    ]
    .into_iter()
    .map(|(s, f)| (s, (f.len(), digest(f))))
    .collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let doc = std::fs::read_to_string(root.join("docs/data-contract.md")).unwrap_or_default();
    let start = doc.find("Feature specs").unwrap_or_else(|| panic!("no 'Feature specs' table in the contract"));
    let mut documented: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for l in doc[start..].lines().skip_while(|l| !l.starts_with("| spec")).skip(2).take_while(|l| l.starts_with('|')) {
        let c: Vec<&str> = l.split('|').map(|x| x.trim().trim_matches('`')).collect();
        documented.insert(c[1].to_string(), (c[2].parse().unwrap_or(0), c[3].to_string()));
    }
    let code_owned: BTreeMap<String, (usize, String)> = code.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    assert_eq!(documented, code_owned, "docs/data-contract.md's feature specs and the code disagree");

    let mut models = 0;
    for e in std::fs::read_dir(root.join("models")).unwrap_or_else(|e| panic!("{e}")).flatten() {
        for cfg in [e.path().join("config.json"), e.path().join("iforest/config.json")] {
            let Ok(t) = std::fs::read_to_string(&cfg) else { continue };
            let c: reckon_onnx::ModelConfig = serde_json::from_str(&t).unwrap_or_else(|e| panic!("{e}"));
            if let Some((n, d)) = code.get(c.feature_spec.as_str()) {
                let names: Vec<&str> = c.features.iter().map(String::as_str).collect();
                assert_eq!(
                    (names.len(), &digest(&names)),
                    (*n, d),
                    "{}: features differ from {}",
                    cfg.display(),
                    c.feature_spec
                );
                models += 1;
            }
        }
    }
    assert_eq!(models, 3, "cash, dedup and the journal forest follow a fixed spec");
}
