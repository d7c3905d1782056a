//! The run report in a real browser: headless Chromium opens `report.html` of
//! the bundled sample run, logs no console error, shows every section and chart,
//! and the figures it shows (`data-metric`) equal the manifest's. A screenshot
//! of the page is kept in `$CARGO_TARGET_DIR/report-screenshots/` for people.
//!
//! Needs Chromium (`/usr/bin/chromium`, or `RECKON_CHROMIUM`); `.ci/run`
//! installs Debian's package. Without it the test fails under CI and is
//! skipped, saying so, elsewhere.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    let p = std::env::var_os("RECKON_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    p.is_file().then_some(p)
}

/// Runs headless Chromium on `page` with `args`; returns (stdout, stderr).
fn browse(chrome: &Path, page: &Path, args: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let o = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--log-level=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", chrome.display()));
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// Console messages Chromium logged for the page. Headless Chromium logs every
/// console message at one level (`INFO:CONSOLE`); the report has no script, so
/// any message at all is an error of the page.
fn console_errors(stderr: &str) -> Vec<String> {
    stderr.lines().filter(|l| l.contains(":CONSOLE")).map(str::to_string).collect()
}

/// `data-metric` name → text shown.
fn metrics(dom: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = dom;
    while let Some(i) = rest.find("data-metric=\"") {
        rest = &rest[i + 13..];
        let Some(q) = rest.find('"') else { break };
        let name = rest[..q].replace("&amp;", "&");
        let Some(gt) = rest.find('>') else { break };
        let Some(lt) = rest[gt..].find('<') else { break };
        out.insert(name, rest[gt + 1..gt + lt].to_string());
        rest = &rest[gt + lt..];
    }
    out
}

#[test]
fn the_report_renders_in_chromium_and_agrees_with_the_manifest() {
    let Some(chrome) = chromium() else {
        assert!(std::env::var_os("CI").is_none(), "CI must have Chromium (.ci/run installs it)");
        eprintln!("skipped: no Chromium at /usr/bin/chromium (set RECKON_CHROMIUM)");
        return;
    };
    // The detector sees a console error when there is one.
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let control = t.path().join("control.html");
    std::fs::write(&control, "<html><body><script>console.error('reckon-control-error')</script></body></html>")
        .unwrap_or_else(|e| panic!("{e}"));
    let (_, err) = browse(&chrome, &control, &["--dump-dom"]);
    assert!(console_errors(&err).iter().any(|l| l.contains("reckon-control-error")), "detector is blind:\n{err}");

    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    let out = t.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_reckon"))
        .args(["run", "--no-deliver", "--report", "--input"])
        .arg(&sample)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let page = out.join("report.html");
    let (dom, err) = browse(&chrome, &page, &["--dump-dom"]);
    assert!(console_errors(&err).is_empty(), "console errors: {:?}", console_errors(&err));
    for section in ["conservation", "cash", "duplicates", "journals", "exceptions", "models"] {
        assert!(dom.contains(&format!("<section id=\"{section}\"")), "section {section} missing");
    }
    assert!(dom.matches("<svg class=\"chart\"").count() >= 10, "charts missing");

    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    let shown = metrics(&dom);
    let bank = &m["conservation"]["bank_transactions"];
    let mut want: BTreeMap<String, String> = BTreeMap::new();
    want.insert("run_id".into(), m["run_id"].as_str().unwrap_or("").into());
    for k in ["loaded", "matched", "in_exceptions", "unreconciled"] {
        want.insert(format!("bank.{k}"), bank[k].to_string());
    }
    for (status, n) in bank["receipts"].as_object().into_iter().flatten() {
        want.insert(format!("cash.status.{status}"), n.to_string());
    }
    for (t, rows) in m["conservation"]["tables"].as_object().into_iter().flatten() {
        for k in ["input_rows", "loaded_rows", "rejected_rows"] {
            want.insert(format!("tables.{t}.{k}"), rows[k].to_string());
        }
    }
    for (t, cols) in m["amount_totals"].as_object().into_iter().flatten() {
        for (c, curs) in cols.as_object().into_iter().flatten() {
            for (cur, a) in curs.as_object().into_iter().flatten() {
                want.insert(format!("money.{t}.{c}.{cur}"), a.as_str().unwrap_or("").into());
            }
        }
    }
    want.insert("exceptions.total".into(), m["outputs"]["exceptions.jsonl"]["rows"].to_string());
    for mm in m["models"].as_array().into_iter().flatten() {
        let id = mm["id"].as_str().unwrap_or("");
        want.insert(format!("model.{id}"), id.into());
    }
    assert!(want.len() > 40, "{want:?}");
    for (k, v) in &want {
        assert_eq!(shown.get(k), Some(v), "{k}: the page shows {:?}, the manifest {v}", shown.get(k));
    }

    // A picture of the page for people (CI keeps the target folder).
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../report-screenshots");
    std::fs::create_dir_all(&shots).unwrap_or_else(|e| panic!("{e}"));
    let png = shots.join("sample.png");
    let _ = std::fs::remove_file(&png);
    browse(
        &chrome,
        &page,
        &["--hide-scrollbars", "--window-size=1200,6000", &format!("--screenshot={}", png.display())],
    );
    assert!(std::fs::metadata(&png).map(|m| m.len() > 10_000).unwrap_or(false), "no screenshot at {}", png.display());
}
