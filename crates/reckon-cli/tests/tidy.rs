//! Tidy checks of the workspace (after rust-analyzer's `tidy`): the docs'
//! code map agrees with `cargo metadata`, no workspace dependency is unused,
//! every library opens with a `//!` doc, and no code opts out of the
//! compiler's memory-safety checks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Package name → (normal dependency names, all dependency names).
fn metadata() -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("cargo metadata: {e}"));
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    m["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let deps = p["dependencies"].as_array().cloned().unwrap_or_default();
            let name = |d: &serde_json::Value| d["name"].as_str().unwrap_or_default().to_string();
            let normal = deps.iter().filter(|d| d["kind"].is_null()).map(name).collect();
            let all = deps.iter().map(name).collect();
            (p["name"].as_str().unwrap_or_default().to_string(), (normal, all))
        })
        .collect()
}

/// The code map in ARCHITECTURE.md: crate → its "depends on" cell.
fn code_map() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap_or_else(|e| panic!("{e}"));
    text.lines()
        .filter(|l| l.starts_with("| `reckon-"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let name = cells[1].trim_matches('`').to_string();
            (name, cells[cells.len() - 2].to_string())
        })
        .collect()
}

/// Names in a "depends on" cell: parenthesised remarks and version numbers dropped.
fn names(cell: &str) -> Vec<String> {
    let mut plain = String::new();
    let mut depth = 0;
    for c in cell.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    plain
        .split([',', ';'])
        .filter_map(|t| t.split_whitespace().next())
        .filter(|t| *t != "none")
        .map(str::to_string)
        .collect()
}

#[test]
fn code_map_matches_cargo_metadata() {
    let meta = metadata();
    let map = code_map();
    let crates: BTreeSet<&String> = meta.keys().collect();
    let rows: BTreeSet<&String> = map.keys().collect();
    assert_eq!(crates, rows, "ARCHITECTURE.md's code map must list exactly the workspace's crates");
    for (krate, cell) in &map {
        let (normal, _) = &meta[krate];
        let listed = names(cell);
        let internal: BTreeSet<String> = listed
            .iter()
            .filter(|n| meta.contains_key(&format!("reckon-{n}")))
            .map(|n| format!("reckon-{n}"))
            .collect();
        let actual: BTreeSet<String> = normal.iter().filter(|d| d.starts_with("reckon-")).cloned().collect();
        assert_eq!(internal, actual, "{krate}: the code map's reckon crates differ from its dependencies");
        for n in listed.iter().filter(|n| !meta.contains_key(&format!("reckon-{n}"))) {
            assert!(normal.contains(n), "{krate}: the code map names {n}, which is not a dependency");
        }
    }
}

#[test]
fn no_workspace_dependency_is_unused() {
    let meta = metadata();
    let used: BTreeSet<&String> = meta.values().flat_map(|(_, all)| all.iter()).collect();
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap_or_else(|e| panic!("{e}"));
    let section = text.split("[workspace.dependencies]").nth(1).unwrap_or_default();
    let section = section.split("\n[").next().unwrap_or_default();
    let declared: Vec<String> = section
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .filter_map(|l| l.split('=').next())
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .collect();
    assert!(declared.len() > 20, "{declared:?}");
    let unused: Vec<&String> = declared.iter().filter(|k| !used.contains(k)).collect();
    assert!(unused.is_empty(), "workspace dependencies no crate uses: {unused:?}");
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten() {
        let p = e.path();
        if p.is_dir() && !p.ends_with("target") && !p.ends_with("fuzz") {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_library_opens_with_a_doc_and_nothing_is_unsafe() {
    for krate in metadata().keys() {
        let lib = root().join("crates").join(krate).join("src/lib.rs");
        if lib.is_file() {
            let text = std::fs::read_to_string(&lib).unwrap_or_else(|e| panic!("{e}"));
            assert!(text.starts_with("//!"), "{} must open with a //! doc", lib.display());
        }
    }
    let mut files = Vec::new();
    rust_files(&root().join("crates"), &mut files);
    rust_files(&root().join("benches"), &mut files);
    assert!(files.len() > 50);
    let needle = ["un", "safe"].concat();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{e}"));
        let hit = text.lines().any(|l| {
            let code = l.split("//").next().unwrap_or_default();
            code.split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|w| w == needle)
        });
        assert!(!hit, "{} contains {needle} code", f.display());
    }
}

/// The contract's table of exception kinds equals `reckon_feed::KINDS`; every
/// kind the shared spec names is one of them; a run on the bundled sample
/// raises only kinds of that list.
#[test]
fn exception_kinds_equal_the_contract() {
    let doc = std::fs::read_to_string(root().join("docs/data-contract.md")).unwrap_or_else(|e| panic!("{e}"));
    let start = doc.find("Exception kinds — the complete list").unwrap_or_else(|| panic!("kinds table missing"));
    let documented: BTreeSet<String> = doc[start..]
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("| kind"))
        .skip(2)
        .take_while(|l| l.trim_start().starts_with("| `"))
        .filter_map(|l| l.split('`').nth(1).map(str::to_string))
        .collect();
    let code: BTreeSet<String> = reckon_feed::KINDS.iter().map(|k| k.to_string()).collect();
    assert_eq!(documented, code, "docs/data-contract.md and reckon_feed::KINDS disagree");
    let shared = std::fs::read_to_string(root().join("../shared/spec/data-contract.md")).unwrap_or_default();
    if let Some(line) = shared.lines().find(|l| l.starts_with("| kind |")) {
        for k in line.split('`').skip(1).step_by(2) {
            assert!(code.contains(k), "the shared spec names kind {k}, which reckon does not know");
        }
    }
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = t.path().join("out");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_reckon"))
        .args(["run", "--input", &root().join("data/sample").to_string_lossy(), "--out", &out.to_string_lossy()])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let raised: BTreeSet<String> = std::fs::read_to_string(out.join("exceptions.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["data"]["kind"].as_str().map(str::to_string))
        .collect();
    assert!(raised.len() >= 3, "{raised:?}");
    assert!(
        raised.is_subset(&code),
        "kinds raised but not in the list: {:?}",
        raised.difference(&code).collect::<Vec<_>>()
    );
}
