//! The generator is deterministic, its truth is consistent with its data, and
//! the scenario is hard: a naive matcher (exact invoice number in the text and
//! exact amount) clears only a minority of the receipts correctly.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use reckon_synth::{Config, generate};

fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for sub in [dir.to_path_buf(), dir.join("truth")] {
        for e in std::fs::read_dir(&sub).unwrap_or_else(|e| panic!("{e}")).flatten() {
            if e.path().is_file() {
                let rel = e.path().strip_prefix(dir).unwrap_or_else(|e| panic!("{e}")).to_path_buf();
                out.insert(rel, std::fs::read(e.path()).unwrap_or_else(|e| panic!("{e}")));
            }
        }
    }
    out
}

fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    reckon_synth::out::read_csv(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .map(|r| r.into_iter().collect())
        .collect()
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let b = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let c = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    generate(a.path(), &Config::new(9, 3000)).unwrap_or_else(|e| panic!("{e}"));
    generate(b.path(), &Config::new(9, 3000)).unwrap_or_else(|e| panic!("{e}"));
    generate(c.path(), &Config::new(10, 3000)).unwrap_or_else(|e| panic!("{e}"));
    let (fa, fb, fc) = (files(a.path()), files(b.path()), files(c.path()));
    assert!(fa.len() >= 14, "{:?}", fa.keys());
    assert_eq!(fa, fb);
    assert_ne!(fa.get(Path::new("bank_transactions.csv")), fc.get(Path::new("bank_transactions.csv")));
}

#[test]
fn bundled_sample_is_the_generators_output() {
    // data/sample must be exactly `reckon generate --seed 42 --scale 400`.
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    generate(t.path(), &Config::new(42, 400)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        files(&sample),
        files(t.path()),
        "regenerate data/sample: reckon generate --out data/sample --seed 42 --scale 400"
    );
}

#[test]
fn truth_is_consistent_and_scenario_is_hard() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = t.path();
    let s = generate(d, &Config::new(3, 5000)).unwrap_or_else(|e| panic!("{e}"));
    let bank = read_csv(&d.join("bank_transactions.csv"));
    let items = read_csv(&d.join("ar_open_items.csv"));
    let truth = read_csv(&d.join("truth/cash_matches.csv"));
    let receipts = read_csv(&d.join("truth/receipts.csv"));
    let txns: HashMap<&str, &HashMap<String, String>> = bank.iter().map(|r| (r["txn_id"].as_str(), r)).collect();
    let item_by: HashMap<&str, &HashMap<String, String>> = items.iter().map(|r| (r["item_id"].as_str(), r)).collect();
    assert_eq!(txns.len(), bank.len(), "txn ids unique");
    // Every credit is labelled exactly once; every label points at real rows.
    let credits: BTreeSet<&str> =
        bank.iter().filter(|r| !r["amount"].starts_with('-')).map(|r| r["txn_id"].as_str()).collect();
    let labelled: BTreeSet<&str> = receipts.iter().map(|r| r["txn_id"].as_str()).collect();
    assert_eq!(credits, labelled);
    let mut used_items = BTreeSet::new();
    for r in &truth {
        assert!(txns.contains_key(r["txn_id"].as_str()));
        let it = item_by[r["item_id"].as_str()];
        // An item belongs to one group only.
        let key = (r["item_id"].clone(), r["match_group"].clone());
        used_items.insert(key);
        assert_eq!(txns[r["txn_id"].as_str()]["currency"], it["currency"]);
    }
    let groups_per_item: BTreeMap<&str, BTreeSet<&str>> = truth.iter().fold(BTreeMap::new(), |mut m, r| {
        m.entry(r["item_id"].as_str()).or_insert_with(BTreeSet::new).insert(r["match_group"].as_str());
        m
    });
    assert!(groups_per_item.values().all(|g| g.len() == 1), "an item is paid by one group");
    // Every pattern the issue names is present.
    for p in [
        "exact_reference",
        "reference_in_text",
        "name_only",
        "one_to_many",
        "partial",
        "split",
        "bank_fee",
        "discount",
        "overpayment",
        "unmatched",
        "deduction",
        "ambiguous_trap",
    ] {
        assert!(s.patterns.get(&format!("cash/{p}")).copied().unwrap_or(0) > 0, "pattern {p} missing");
    }
    for p in ["re_entry", "ocr", "transposed", "prefix_zeros", "date_shift"] {
        assert!(s.patterns.get(&format!("ap_dup/{p}")).copied().unwrap_or(0) > 0, "dup pattern {p} missing");
    }
    // Naive baseline: exact invoice number as a token of reference/description and exact amount.
    let mut by_number: HashMap<&str, Vec<&HashMap<String, String>>> = HashMap::new();
    for it in &items {
        by_number.entry(it["invoice_number"].as_str()).or_default().push(it);
    }
    let truth_by_txn: BTreeMap<&str, BTreeSet<&str>> = truth.iter().fold(BTreeMap::new(), |mut m, r| {
        m.entry(r["txn_id"].as_str()).or_insert_with(BTreeSet::new).insert(r["item_id"].as_str());
        m
    });
    let mut correct = 0usize;
    for tx in bank.iter().filter(|r| !r["amount"].starts_with('-')) {
        let text = format!("{} {}", tx["reference"], tx["description"]);
        let hit = text
            .split(|c: char| c.is_whitespace() || c == ',' || c == '/')
            .filter_map(|tok| by_number.get(tok))
            .flatten()
            .find(|it| it["amount_open"] == tx["amount"]);
        if let Some(it) = hit
            && truth_by_txn
                .get(tx["txn_id"].as_str())
                .is_some_and(|s| s.len() == 1 && s.contains(it["item_id"].as_str()))
        {
            correct += 1;
        }
    }
    let matchable = truth_by_txn.len();
    let recall = correct as f64 / matchable as f64;
    eprintln!("naive exact-number+amount baseline: {correct}/{matchable} = {recall:.3}");
    assert!(recall < 0.5, "scenario too easy: naive baseline clears {recall:.3}");
    assert!(recall > 0.05, "naive baseline should still find the easy ones: {recall:.3}");
}
