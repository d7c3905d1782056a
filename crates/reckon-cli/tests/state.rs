//! The state store from the command line: runs killed with SIGKILL leave it as
//! it was or fully committed, never half; a killed run's lock does not block the
//! next; `reckon decide` and `reckon audit` work on it.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

fn reckon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reckon")).args(args).output().unwrap_or_else(|e| panic!("{e}"))
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn runs(state: &Path) -> Vec<String> {
    let o = reckon(&["audit", "--state", &s(state)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).lines().filter(|l| l.starts_with("run ")).map(str::to_string).collect()
}

#[test]
fn killed_runs_leave_the_store_whole() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let days = t.path().join("days");
    let st = reckon(&["generate", "--seed", "9", "--scale", "2000", "--days", "3", "--out", &s(&days)]);
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let state = t.path().join("state.db");
    for d in ["day-01", "day-02"] {
        let o = reckon(&["run", "--input", &s(&days.join(d)), "--out", &s(&t.path().join(d)), "--state", &s(&state)]);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(runs(&state).len(), 2);
    let before = t.path().join("before.db");
    std::fs::copy(&state, &before).unwrap_or_else(|e| panic!("{e}"));
    let day3 = |out: &Path| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_reckon"));
        c.args(["run", "--input", &s(&days.join("day-03")), "--out", &s(out), "--state", &s(&state)]);
        c.stdout(Stdio::null()).stderr(Stdio::null());
        c
    };
    let t0 = Instant::now();
    let full = day3(&t.path().join("full")).status().unwrap_or_else(|e| panic!("{e}"));
    assert!(full.success());
    let took = t0.elapsed();
    assert_eq!(runs(&state).len(), 3);
    let mut seed = 0x5eed_u64;
    let (mut committed, mut untouched) = (0, 0);
    for i in 0..12 {
        std::fs::copy(&before, &state).unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::remove_file(t.path().join("state.db-journal"));
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let at = took.mul_f64(((seed >> 33) % 1000) as f64 / 1000.0 * 1.1);
        let out = t.path().join(format!("k{i}"));
        let mut child = day3(&out).spawn().unwrap_or_else(|e| panic!("{e}"));
        std::thread::sleep(at);
        let _ = child.kill();
        let _ = child.wait();
        // The store opens (a killed process's lock is gone; SQLite rolls back
        // an unfinished transaction) and holds two runs or three, not half a run.
        let r = runs(&state);
        match r.len() {
            2 => untouched += 1,
            3 => {
                committed += 1;
                assert!(out.join("manifest.json").is_file(), "run {i}: the store lists a run whose output is missing");
            }
            n => panic!("run {i} killed after {at:?}: {n} runs in the chain"),
        }
        let check = reckon(&["audit", "--state", &s(&state), "--json"]);
        assert!(check.status.success());
    }
    eprintln!("killed day-3 runs: {untouched} left the store as it was, {committed} had committed");
    // After the kills, the day runs to completion on the store as it was.
    std::fs::copy(&before, &state).unwrap_or_else(|e| panic!("{e}"));
    let o = reckon(&[
        "run",
        "--input",
        &s(&days.join("day-03")),
        "--out",
        &s(&t.path().join("again")),
        "--state",
        &s(&state),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(runs(&state).len(), 3);
}

#[test]
fn decide_and_audit() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    let state = t.path().join("state.db");
    let out = t.path().join("out");
    let o = reckon(&["run", "--input", &s(&input), "--out", &s(&out), "--state", &s(&state)]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(out.join("exceptions.jsonl")).unwrap_or_default();
    let ev: Vec<serde_json::Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let unmatched = ev
        .iter()
        .find(|e| e["data"]["kind"] == "unmatched_receipt")
        .unwrap_or_else(|| panic!("the sample has an unmatched receipt"));
    let id = unmatched["data"]["exception_id"].as_str().unwrap_or("").to_string();
    let txn = unmatched["subject"].as_str().unwrap_or("").trim_start_matches("bank_transactions:").to_string();
    let file = t.path().join("d.jsonl");
    let lines = [
        serde_json::json!({"decision_id": "X1", "exception_id": id, "action": "dismiss", "actor": "alice",
            "decided_at": "2026-11-30T09:00:00Z", "comment": "refund from the tax office"})
        .to_string(),
        "{broken".to_string(),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap_or_else(|e| panic!("{e}"));
    let o = reckon(&["decide", "--state", &s(&state), &s(&file)]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(3), "a line was unreadable: {stdout}");
    assert!(stdout.contains("X1 applied"), "{stdout}");
    assert!(stdout.contains("d.jsonl:2: unreadable"), "{stdout}");
    // Sent again: nothing changes.
    let o = reckon(&["decide", "--state", &s(&state), &s(&file)]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("received before"));
    for key in [id.as_str(), txn.as_str()] {
        let o = reckon(&["audit", "--state", &s(&state), key]);
        let trail = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(trail.contains("unmatched_receipt new: raised"), "{trail}");
        assert!(trail.contains("decision dismiss by alice"), "{trail}");
        assert!(trail.contains("refund from the tax office"), "{trail}");
    }
    let o = reckon(&["audit", "--state", &s(&state), "EX-0000000000000000"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no exception or bank entry"));
}

/// `reckon serve` killed with SIGKILL (once with a request in flight) and
/// restarted: every decision is recorded exactly once; the workflow engine's retries of what
/// was received are refused as replays, the rest is taken; a run on the store
/// while the intake listens goes through.
#[test]
fn serve_survives_kill_and_replays() {
    use std::io::{BufRead, BufReader};
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    let state = t.path().join("state.db");
    let o = reckon(&["run", "--input", &s(&input), "--out", &s(&t.path().join("out")), "--state", &s(&state)]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(t.path().join("out/exceptions.jsonl")).unwrap_or_default();
    let ids: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["data"]["kind"] != "control_violation")
        .filter_map(|e| e["data"]["exception_id"].as_str().map(str::to_string))
        .collect();
    assert!(ids.len() >= 10, "{ids:?}");
    let secret = reckon_feed::sign::Secret::from_bytes(b"serve-cli-test-secret-0123456789ab");
    let start = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_reckon"));
        c.args(["serve", "--state", &s(&state), "--listen", "127.0.0.1:0"])
            .env("RECKON_INTAKE_SECRET", secret.expose())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = c.spawn().unwrap_or_else(|e| panic!("{e}"));
        let mut line = String::new();
        let out = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        BufReader::new(out).read_line(&mut line).unwrap_or_else(|e| panic!("{e}"));
        let url = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or("").to_string();
        assert!(!url.is_empty(), "{line}");
        (child, url)
    };
    let send = |url: &str, i: usize| -> Result<u16, String> {
        let id = format!("msg_{i}");
        let body = serde_json::json!({"decision_id": format!("W{i}"), "exception_id": ids[i], "action": "dismiss",
            "actor": "n8n.flow", "decided_at": "2026-11-30T08:00:00Z", "comment": "closed in the workflow"})
        .to_string();
        let ts = chrono::Utc::now().timestamp();
        let sig = reckon_feed::sign::signature_header(std::slice::from_ref(&secret), &id, ts, body.as_bytes());
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        agent
            .post(url)
            .header("webhook-id", &id)
            .header("webhook-timestamp", &ts.to_string())
            .header("webhook-signature", &sig)
            .send(&body)
            .map(|r| r.status().as_u16())
            .map_err(|e| e.to_string())
    };
    let (mut child, url) = start();
    let half = ids.len() / 2;
    for i in 0..half {
        assert_eq!(send(&url, i), Ok(200));
    }
    // A run while the intake listens: the store is not held between requests.
    let o = reckon(&["run", "--input", &s(&input), "--out", &s(&t.path().join("out2")), "--state", &s(&state)]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    // Killed mid-request: the request waits for the store (held here, as a
    // run would hold it) when the intake is killed; nothing of it is recorded.
    let held = reckon_state::Store::open(&state).unwrap_or_else(|e| panic!("{e}"));
    let pending = {
        let url = url.clone();
        let send = &send;
        std::thread::scope(|sc| {
            let h = sc.spawn(move || send(&url, half));
            std::thread::sleep(std::time::Duration::from_millis(800));
            let _ = child.kill();
            let _ = child.wait();
            h.join().unwrap_or_else(|_| Err("panicked".into()))
        })
    };
    assert!(pending.is_err(), "the killed intake answered: {pending:?}");
    drop(held);
    let (mut child, url) = start();
    // The engine retries everything: what was received is a replay; the
    // message cut off by the kill was not received and is taken now.
    for i in 0..ids.len() {
        let want = if i < half { 409 } else { 200 };
        assert_eq!(send(&url, i), Ok(want), "message {i}");
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut store = reckon_state::Store::open(&state).unwrap_or_else(|e| panic!("{e}"));
    let ds = store.decisions().unwrap_or_default();
    for i in 0..ids.len() {
        assert_eq!(ds.iter().filter(|d| d.decision_id == format!("W{i}")).count(), 1, "W{i}");
    }
}
