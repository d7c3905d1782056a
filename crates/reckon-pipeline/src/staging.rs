//! Output folders that never lie: a run writes into a fresh staging folder
//! beside its target (`.NAME.staging-PID`) and moves it into place only when
//! its manifest, written last, is complete. An OS lock (`.NAME.lock`, released
//! by the kernel when a process dies) keeps two runs off one target. So:
//!
//! - a killed run leaves the previous output as it was, and its own staging
//!   folder, which the next run on the target removes;
//! - files a previous run wrote that this run does not write never survive
//!   into its folder;
//! - the delivery state in `outbox/` (what each sink has received, retries,
//!   dead letters) is not a run output but the feed's memory: it is copied
//!   from the previous folder into the staging folder, so a re-run delivers only
//!   what is new and keeps undelivered events and dead letters;
//! - the move is two renames (target → `.NAME.previous`, staging → target); a
//!   run killed between them leaves no target but a complete `.NAME.previous`,
//!   which the next run puts back before it starts.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::RunError;

/// A run's staging folder, held under the target's lock.
#[derive(Debug)]
pub struct Staged {
    target: PathBuf,
    staging: PathBuf,
    previous: PathBuf,
    committed: bool,
    _lock: File,
}

fn io(path: &Path, what: &str, e: std::io::Error) -> RunError {
    RunError::Write(path.to_path_buf(), format!("{what}: {e}"))
}

impl Staged {
    /// Locks `target`, repairs what a killed run left, and creates a fresh
    /// staging folder.
    pub fn begin(target: &Path) -> Result<Staged, RunError> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| RunError::Write(target.to_path_buf(), "the output folder needs a name".into()))?;
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| io(&parent, "create", e))?;
        if target.exists() && !target.is_dir() {
            return Err(RunError::Write(target.to_path_buf(), "exists and is not a folder".into()));
        }
        let lock_path = parent.join(format!(".{name}.lock"));
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io(&lock_path, "lock file", e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(RunError::Busy(target.to_path_buf())),
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&lock_path, "lock", e)),
        }
        let previous = parent.join(format!(".{name}.previous"));
        // A run killed between its two renames: put the previous output back.
        if !target.exists() && previous.is_dir() {
            std::fs::rename(&previous, target).map_err(|e| io(&previous, "restore", e))?;
            tracing::warn!(target = %target.display(), "restored the previous output a killed run had moved aside");
        }
        // What killed runs left: their staging folders, a moved-aside previous output.
        let prefix = format!(".{name}.staging-");
        if let Ok(rd) = std::fs::read_dir(&parent) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    tracing::info!(folder = %e.path().display(), "removing the staging folder of a run that did not finish");
                    std::fs::remove_dir_all(e.path()).map_err(|er| io(&e.path(), "remove stale staging", er))?;
                }
            }
        }
        if previous.exists() {
            std::fs::remove_dir_all(&previous).map_err(|e| io(&previous, "remove", e))?;
        }
        let staging = parent.join(format!("{prefix}{}", std::process::id()));
        std::fs::create_dir_all(&staging).map_err(|e| io(&staging, "create", e))?;
        let outbox = target.join("outbox");
        if outbox.is_dir() {
            copy_tree(&outbox, &staging.join("outbox"))?;
        }
        Ok(Staged { target: target.to_path_buf(), staging, previous, committed: false, _lock: lock })
    }

    /// Where the run writes.
    pub fn dir(&self) -> &Path {
        &self.staging
    }

    /// Moves the staging folder into place (the lock is released when `self` drops).
    pub fn commit(mut self) -> Result<(), RunError> {
        if self.target.exists() {
            std::fs::rename(&self.target, &self.previous).map_err(|e| io(&self.target, "move aside", e))?;
        }
        std::fs::rename(&self.staging, &self.target).map_err(|e| io(&self.staging, "move into place", e))?;
        self.committed = true;
        if self.previous.exists() {
            std::fs::remove_dir_all(&self.previous).map_err(|e| io(&self.previous, "remove", e))?;
        }
        Ok(())
    }
}

/// Copies a folder of regular files (the outbox) into a new folder.
fn copy_tree(from: &Path, to: &Path) -> Result<(), RunError> {
    std::fs::create_dir_all(to).map_err(|e| io(to, "create", e))?;
    for e in std::fs::read_dir(from).map_err(|e| io(from, "read", e))?.flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).map_err(|er| io(&src, "copy", er))?;
        }
    }
    Ok(())
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}
