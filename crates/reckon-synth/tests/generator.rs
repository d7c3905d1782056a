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

/// The wide profile draws beyond the engines' default bounds (so an evaluation
/// can show what each costs) and leaves the standard profile's files unchanged.
#[test]
fn the_wide_profile_goes_past_the_default_bounds() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut cfg = Config::new(77, 3000);
    cfg.profile = reckon_synth::Profile::Wide;
    generate(&t.path().join("w"), &cfg).unwrap_or_else(|e| panic!("{e}"));
    generate(&t.path().join("s"), &Config::new(77, 3000)).unwrap_or_else(|e| panic!("{e}"));
    let summary = std::fs::read_to_string(t.path().join("w/truth/summary.json")).unwrap_or_default();
    assert!(summary.contains("\"profile\": \"wide\""), "{summary}");
    let std_summary = std::fs::read_to_string(t.path().join("s/truth/summary.json")).unwrap_or_default();
    assert!(!std_summary.contains("profile"), "the standard profile's summary is unchanged");
    let links = read_csv(&t.path().join("w/truth/cash_matches.csv"));
    let cents = |s: &str| -> i64 {
        let (a, b) = s.split_once('.').unwrap_or((s, "00"));
        a.parse::<i64>().unwrap_or(0) * 100 + b.parse::<i64>().unwrap_or(0)
    };
    let fees: Vec<i64> =
        links.iter().filter(|l| l["residual_reason"] == "bank_fee").map(|l| cents(&l["residual_amount"])).collect();
    assert!(fees.iter().any(|f| *f > 2500), "bank charges above the 25.00 cap");
    let mut groups: BTreeMap<&str, usize> = BTreeMap::new();
    for l in links.iter().filter(|l| l["pattern"] == "one_to_many") {
        *groups.entry(l["match_group"].as_str()).or_default() += 1;
    }
    assert!(groups.values().any(|n| *n >= 6), "collective payments of 6+ invoices");
    let out = read_csv(&t.path().join("w/truth/disbursements.csv"));
    assert!(out.iter().any(|d| d["class"] == "unreconciled"), "debits nothing explains");
    let std_out = read_csv(&t.path().join("s/truth/disbursements.csv"));
    assert!(std_out.iter().all(|d| d["class"] != "unreconciled"));
}

/// Days without parents are the days as before, byte for byte; with them, the
/// customers a parent pays for name it in `payer_ids`, and their receipts
/// carry the parent's master name and account.
#[test]
fn days_with_parent_payers() {
    use reckon_synth::days::{DaysOptions, THIRD_PARTY_PERMILLE, write_days, write_days_with};
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = Config::new(21, 2000);
    let (a, b, c) = (t.path().join("a"), t.path().join("b"), t.path().join("c"));
    write_days(&a, &cfg, 3, THIRD_PARTY_PERMILLE).unwrap_or_else(|e| panic!("{e}"));
    let none = DaysOptions { third_party_permille: THIRD_PARTY_PERMILLE, ..DaysOptions::default() };
    write_days_with(&b, &cfg, 3, &none).unwrap_or_else(|e| panic!("{e}"));
    assert!(tree(&a, &a) == tree(&b, &b), "parent_permille 0 changes the days");
    let with = DaysOptions { parent_permille: 200, ..none };
    let s = write_days_with(&c, &cfg, 3, &with).unwrap_or_else(|e| panic!("{e}"));
    assert!(s.parent_paid_customers > 0 && s.parent_paid_receipts > 0, "{s:?}");
    let parents: HashMap<String, String> = read_csv(&c.join("truth/parent_payers.csv"))
        .into_iter()
        .map(|r| (r["customer_id"].clone(), r["parent_id"].clone()))
        .collect();
    assert_eq!(parents.len() as u64, s.parent_paid_customers);
    let masters = read_csv(&c.join("day-01/customers.csv"));
    let name_of: HashMap<&str, &str> =
        masters.iter().map(|m| (m["customer_id"].as_str(), m["name"].as_str())).collect();
    for m in &masters {
        assert_eq!(m["payer_ids"].as_str(), parents.get(&m["customer_id"]).map_or("", String::as_str));
    }
    // A parent is no one's child.
    assert!(parents.values().all(|p| !parents.contains_key(p)));
    // Every receipt of a child's invoices comes under its parent's name.
    let item_customer: HashMap<String, String> = read_csv(&c.join("all/ar_open_items.csv"))
        .into_iter()
        .map(|r| (r["item_id"].clone(), r["customer_id"].clone()))
        .collect();
    let mut first_item: BTreeMap<String, String> = BTreeMap::new();
    for l in read_csv(&c.join("all/truth/cash_matches.csv")) {
        first_item.entry(l["txn_id"].clone()).or_insert(l["item_id"].clone());
    }
    let mut seen = 0;
    for d in 1..=3 {
        for r in read_csv(&c.join(format!("day-{d:02}/bank_transactions.csv"))) {
            let Some(p) = first_item.get(&r["txn_id"]).and_then(|i| item_customer.get(i)).and_then(|c| parents.get(c))
            else {
                continue;
            };
            assert_eq!(r["counterparty_name"], name_of[p.as_str()].to_uppercase());
            seen += 1;
        }
    }
    assert_eq!(seen as u64, s.parent_paid_receipts);
}

/// Every file under `dir`, by its path relative to `root`.
fn tree(root: &Path, dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{e}")).flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(tree(root, &p));
        } else {
            let rel = p.strip_prefix(root).unwrap_or_else(|e| panic!("{e}")).to_path_buf();
            out.insert(rel, std::fs::read(&p).unwrap_or_else(|e| panic!("{e}")));
        }
    }
    out
}
