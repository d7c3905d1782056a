//! An output folder never lies: runs killed with SIGKILL at sampled moments
//! never leave a folder whose manifest does not describe its files; a second
//! run on a folder in use is refused; files of an earlier run do not survive.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn reckon() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_reckon"));
    c.stdout(Stdio::null()).stderr(Stdio::null());
    c
}

fn files(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten() {
        if e.path().is_dir() {
            files(&e.path(), root, out);
        } else {
            let rel = e.path().strip_prefix(root).unwrap_or_else(|e| panic!("{e}")).to_string_lossy().into_owned();
            out.insert(rel);
        }
    }
}

/// The folder's manifest lists exactly its files (besides itself), with their hashes.
fn describes_itself(out: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(out.join("manifest.json")).map_err(|e| format!("no manifest: {e}"))?;
    let m: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("manifest: {e}"))?;
    let listed: BTreeSet<String> = m["outputs"].as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    let mut found = BTreeSet::new();
    files(out, out, &mut found);
    found.remove("manifest.json");
    if listed != found {
        return Err(format!("manifest lists {listed:?}, the folder holds {found:?}"));
    }
    for f in &listed {
        let bytes = std::fs::read(out.join(f)).map_err(|e| format!("{f}: {e}"))?;
        if m["outputs"][f]["sha256"].as_str() != Some(reckon_core::id::sha256_hex(&bytes).as_str()) {
            return Err(format!("{f}: sha256 differs from the manifest"));
        }
    }
    Ok(())
}

fn staging_left(parent: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(parent)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().contains(".staging-")))
        .collect()
}

#[test]
fn killed_runs_never_leave_a_lying_output_folder() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = t.path().join("in");
    let out = t.path().join("out");
    let st = reckon()
        .args(["generate", "--seed", "8", "--scale", "1500", "--out", &input.to_string_lossy()])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(st.success());
    let run = |keep: bool| {
        let mut c = reckon();
        c.args(["run", "--input", &input.to_string_lossy(), "--out", &out.to_string_lossy()]);
        if keep {
            c.arg("--keep-normalized");
        }
        c
    };
    // A first, complete run.
    let t0 = Instant::now();
    assert_eq!(run(true).status().unwrap_or_else(|e| panic!("{e}")).code(), Some(0));
    let full = t0.elapsed();
    describes_itself(&out).unwrap_or_else(|e| panic!("{e}"));
    // 20 runs killed at sampled moments across a run's duration (fixed seed: reproducible).
    let mut state = 0x2026_1129_u64;
    let mut killed_after = Vec::new();
    for i in 0..20 {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let at = full.mul_f64(((state >> 33) % 1000) as f64 / 1000.0 * 1.1);
        let mut child = run(i % 2 == 0).spawn().unwrap_or_else(|e| panic!("{e}"));
        std::thread::sleep(at);
        let _ = child.kill();
        let _ = child.wait();
        killed_after.push(at.as_millis());
        if out.exists() {
            describes_itself(&out).unwrap_or_else(|e| panic!("run {i} killed after {at:?}: {e}"));
        } else {
            // Killed between its two renames: the previous output is intact beside it.
            describes_itself(&t.path().join(".out.previous"))
                .unwrap_or_else(|e| panic!("run {i} killed after {at:?} between the renames: {e}"));
        }
    }
    eprintln!("runs killed after (ms): {killed_after:?} (a full run took {full:?})");
    // A file no run writes, put beside the outputs.
    if out.exists() {
        std::fs::write(out.join("duplicates_from_last_year.parquet"), b"stale").unwrap_or_else(|e| panic!("{e}"));
    }
    // The next run repairs what the killed ones left and writes a clean folder.
    assert_eq!(run(false).status().unwrap_or_else(|e| panic!("{e}")).code(), Some(0));
    describes_itself(&out).unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.join("duplicates_from_last_year.parquet").exists(), "a file no run wrote survived");
    assert!(!out.join("normalized").exists(), "outputs of an earlier run survived");
    assert!(staging_left(t.path()).is_empty(), "{:?}", staging_left(t.path()));
    assert!(!t.path().join(".out.previous").exists());
}

#[test]
fn a_second_run_on_a_folder_in_use_is_refused() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    let out = t.path().join("out");
    // Another process holds the folder's lock.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(t.path().join(".out.lock"))
        .unwrap_or_else(|e| panic!("{e}"));
    lock.try_lock().unwrap_or_else(|e| panic!("{e}"));
    let o = Command::new(env!("CARGO_BIN_EXE_reckon"))
        .args(["run", "--input", &input.to_string_lossy(), "--out", &out.to_string_lossy()])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("in use by another reckon run"));
    assert!(!out.exists());
    drop(lock);
    let started = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_reckon"))
        .args(["run", "--input", &input.to_string_lossy(), "--out", &out.to_string_lossy()])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(started.elapsed() < Duration::from_secs(300));
    describes_itself(&out).unwrap_or_else(|e| panic!("{e}"));
}
