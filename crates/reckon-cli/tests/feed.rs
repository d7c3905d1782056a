//! The feed's delivery guarantees through the binary: a `reckon feed` process is
//! killed with SIGKILL mid-delivery (twice, the receiver failing in between) and
//! restarted; afterwards the receiver holds every exception of the run exactly
//! once by `webhook-id`, every signature verifies, and `reckon feed status`
//! agrees. `reckon run` delivers when [feed.webhook] is configured and exits 4
//! when the receiver refuses.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reckon_feed::receiver::{Fault, Receiver};
use reckon_feed::sign::Secret;

fn sample() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample")
}

fn secret() -> Secret {
    Secret::from_bytes(b"reckon-test-secret-0123456789abcdef")
}

fn reckon(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_reckon"));
    c.args(args).env("RECKON_WEBHOOK_SECRET", secret().expose()).stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

fn exception_ids(out: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(out.join("exceptions.jsonl")).unwrap_or_else(|e| panic!("{e}"));
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}"));
            v["id"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

fn wait_until(r: &Receiver, n: usize, child: &mut Child) {
    let t0 = Instant::now();
    while r.unique_events().len() < n {
        assert!(child.try_wait().ok().flatten().is_none(), "sender finished before it could be killed");
        assert!(t0.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn sigkill_mid_delivery_loses_and_duplicates_nothing() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = t.path().join("out");
    let input = t.path().join("in");
    let g = reckon(&["generate", "--seed", "5", "--scale", "4000", "--out", &input.to_string_lossy()])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(g.status.success());
    let o = reckon(&["run", "--input", &input.to_string_lossy(), "--out", &out.to_string_lossy()])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let ids = exception_ids(&out);
    assert!(ids.len() > 120, "the scenario should raise a good number of exceptions ({})", ids.len());

    let r = Receiver::start("127.0.0.1:0", vec![secret()]).unwrap_or_else(|e| panic!("{e}"));
    r.set_delay(Duration::from_millis(8));
    let url = r.url();
    let args = ["feed", "--out", &out.to_string_lossy(), "--to", &url, "--batch-size", "2"];
    let args: Vec<&str> = args.iter().map(|s| &**s).collect();

    // 1: killed a third of the way.
    let mut c = reckon(&args).spawn().unwrap_or_else(|e| panic!("{e}"));
    wait_until(&r, ids.len() / 3, &mut c);
    c.kill().unwrap_or_else(|e| panic!("{e}")); // SIGKILL on Unix
    let _ = c.wait();
    let after_first = r.unique_events().len();

    // 2: the receiver now fails in several ways; killed again two thirds of the way.
    r.push_faults([Fault::Status(500), Fault::Drop, Fault::Status(503), Fault::RetryAfter(429, 1)]);
    let mut c = reckon(&args).spawn().unwrap_or_else(|e| panic!("{e}"));
    wait_until(&r, 2 * ids.len() / 3, &mut c);
    c.kill().unwrap_or_else(|e| panic!("{e}"));
    let _ = c.wait();

    // 3: runs to the end.
    let o = reckon(&args).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));

    let held = r.unique_events();
    let mut want: Vec<&String> = ids.iter().collect();
    want.sort();
    assert_eq!(held.keys().collect::<Vec<_>>(), want, "the receiver must hold every exception");
    assert!(held.values().all(|c| *c == 1), "an exception arrived twice under different webhook-ids");
    let accepted = r.accepted();
    assert!(accepted.iter().all(|a| a.verified == Some(true)));
    assert!(r.refused().is_empty(), "requests with a bad signature: {:?}", r.refused().first());
    let resent =
        accepted.len() - accepted.iter().map(|a| &a.webhook_id).collect::<std::collections::HashSet<_>>().len();

    let st = reckon(&["feed", "status", "--out", &out.to_string_lossy()]).output().unwrap_or_else(|e| panic!("{e}"));
    let st: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap_or_else(|e| panic!("{e}"));
    let w = &st["webhook"];
    assert_eq!(w["events"].as_u64(), Some(ids.len() as u64));
    assert_eq!(w["delivered_events"].as_u64(), Some(ids.len() as u64));
    assert_eq!((w["pending_events"].as_u64(), w["dead_events"].as_u64()), (Some(0), Some(0)));
    eprintln!(
        "SIGKILL ×2 + 500/drop/503/429: {} exceptions, {} after the first kill, {} requests, {} messages re-sent under the same webhook-id (dropped by the receiver), outbox retries {}",
        ids.len(),
        after_first,
        r.requests(),
        resent,
        w["retries"]
    );
}

#[test]
fn run_delivers_when_configured_and_exits_4_when_refused() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let r = Receiver::start("127.0.0.1:0", vec![secret()]).unwrap_or_else(|e| panic!("{e}"));
    let cfg = t.path().join("reckon.toml");
    std::fs::write(
        &cfg,
        format!("[feed.webhook]\nurl = \"{}\"\nbatch_size = 20\n[feed.webhook.retry]\nbase_ms = 5\nmax_ms = 20\nmax_attempts = 2\n", r.url()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = t.path().join("out");
    let run = |out: &Path| {
        reckon(&[
            "run",
            "--input",
            &sample().to_string_lossy(),
            "--out",
            &out.to_string_lossy(),
            "--config",
            &cfg.to_string_lossy(),
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
    };
    let o = run(&out);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(r.unique_events().len(), exception_ids(&out).len());
    assert!(String::from_utf8_lossy(&o.stdout).contains("feed → webhook"));

    // The receiver refuses everything: the run's books are fine, the feed is not delivered.
    r.push_faults(std::iter::repeat_n(Fault::Status(400), 100));
    let o = run(&t.path().join("out2"));
    assert_eq!(o.status.code(), Some(4), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(t.path().join("out2/outbox/webhook/dead_letter.jsonl").exists());

    // No secret: refused before any work, as a usage error.
    let o = Command::new(env!("CARGO_BIN_EXE_reckon"))
        .args(["run", "--input", &sample().to_string_lossy(), "--out", &t.path().join("o3").to_string_lossy()])
        .args(["--config", &cfg.to_string_lossy()])
        .env_remove("RECKON_WEBHOOK_SECRET")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("RECKON_WEBHOOK_SECRET"));
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{e}")).flatten() {
        if e.path().is_dir() {
            files_under(&e.path(), out);
        } else {
            out.push(e.path());
        }
    }
}

/// Credentials in a sink URL and the signing secret appear in no output file,
/// log line or message of a run that delivers (debug logging on); the feed
/// files and the outbox hold no IBAN that masking would still change.
#[test]
fn secrets_and_account_numbers_stay_out_of_outputs_and_logs() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let r = Receiver::start("127.0.0.1:0", vec![secret()]).unwrap_or_else(|e| panic!("{e}"));
    let url = r.url().replace("http://", "http://svc-user:pw-s3cr3t-77@") + "?token=tok-9f8e7d";
    let cfg = t.path().join("reckon.toml");
    std::fs::write(
        &cfg,
        format!("[feed.webhook]\nurl = \"{url}\"\n[feed.webhook.retry]\nbase_ms = 5\nmax_ms = 20\nmax_attempts = 2\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = t.path().join("out");
    let o = reckon(&[
        "run",
        "--input",
        &sample().to_string_lossy(),
        "--out",
        &out.to_string_lossy(),
        "--config",
        &cfg.to_string_lossy(),
    ])
    .env("RUST_LOG", "debug")
    .output()
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(o.status.code(), Some(0 | 4)), "{}", String::from_utf8_lossy(&o.stderr));
    let mut texts = vec![("stdout".to_string(), o.stdout.clone()), ("stderr".to_string(), o.stderr.clone())];
    let mut files = Vec::new();
    files_under(&out, &mut files);
    assert!(files.len() > 5);
    for f in &files {
        texts.push((f.display().to_string(), std::fs::read(f).unwrap_or_else(|e| panic!("{e}"))));
    }
    let whsec = secret().expose().to_string();
    let key = whsec.trim_start_matches("whsec_");
    assert!(key.len() > 10);
    for (name, bytes) in &texts {
        let s = String::from_utf8_lossy(bytes);
        for needle in ["pw-s3cr3t-77", "tok-9f8e7d", key, "reckon-test-secret-0123456789abcdef"] {
            assert!(!s.contains(needle), "{name} contains a secret");
        }
    }
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap_or_default();
    assert!(manifest.contains("***@127.0.0.1"), "the manifest shows the URL redacted");
    for f in files.iter().filter(|f| {
        let n = f.to_string_lossy();
        n.ends_with("exceptions.jsonl") || n.contains("outbox") || n.ends_with("manifest.json")
    }) {
        let s = std::fs::read_to_string(f).unwrap_or_default();
        assert_eq!(reckon_feed::mask::mask_ibans(&s), s, "{} holds an unmasked IBAN", f.display());
    }
}

/// The outbox is the feed's memory across runs into one output folder: a
/// re-run delivers only what is new, and dead letters of an earlier run stay
/// for `reckon feed replay` (the atomic output folder carries `outbox/` over).
#[test]
fn a_rerun_into_the_same_folder_delivers_only_what_is_new() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let r = Receiver::start("127.0.0.1:0", vec![secret()]).unwrap_or_else(|e| panic!("{e}"));
    let cfg = t.path().join("reckon.toml");
    std::fs::write(
        &cfg,
        format!("[feed.webhook]\nurl = \"{}\"\nbatch_size = 1\n[feed.webhook.retry]\nbase_ms = 5\nmax_ms = 20\nmax_attempts = 1\n", r.url()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = t.path().join("out");
    let run = || {
        reckon(&[
            "run",
            "--input",
            &sample().to_string_lossy(),
            "--out",
            &out.to_string_lossy(),
            "--config",
            &cfg.to_string_lossy(),
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
    };
    // The first message is refused: a dead letter; the rest are delivered.
    r.push_faults([Fault::Status(400)]);
    let o = run();
    assert_eq!(o.status.code(), Some(4), "{}", String::from_utf8_lossy(&o.stderr));
    let n = exception_ids(&out).len();
    let requests = r.requests();
    assert_eq!(requests, n as u64);
    let dead = std::fs::read_to_string(out.join("outbox/webhook/dead_letter.jsonl")).unwrap_or_default();
    assert_eq!(dead.lines().count(), 1);
    // The same run again: nothing new to send, the dead letter is still there.
    let o = run();
    assert_eq!(o.status.code(), Some(4), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(r.requests(), requests, "a re-run sent again what was already delivered or dead");
    assert_eq!(std::fs::read_to_string(out.join("outbox/webhook/dead_letter.jsonl")).unwrap_or_default(), dead);
    assert_eq!(r.unique_events().len(), n - 1);
}
