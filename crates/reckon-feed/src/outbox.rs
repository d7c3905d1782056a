//! The durable outbox: what must reach a sink, and what has.
//!
//! One folder per sink (`<out>/outbox/<sink>/`):
//! - `queue.jsonl` — batches in delivery order, each `{"batch": id, "events": […]}`.
//!   A batch's id (`msg_…`, the `webhook-id`) is a digest of its events' ids, so a
//!   batch re-sent after a crash carries the same id and the receiver drops it.
//! - `state.log` — one line per attempt outcome (`retry`, `delivered`, `dead`,
//!   `requeued`), appended and fsynced before the next step, so the state after
//!   any crash is the last line written.
//! - `dead_letter.jsonl` — batches given up on, with the last error.
//! - `lock` — held (OS file lock) while a process delivers; it is released by the
//!   kernel when the process dies, even by SIGKILL.
//!
//! A line torn by a crash mid-write is cut off on open (it was never acknowledged).
//! Delivery is at least once with a stable id: exactly once in effect at a
//! receiver that de-duplicates on `webhook-id` (or the CloudEvents `id`).

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::FeedError;

/// One message to a sink: one or more CloudEvents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub batch: String,
    pub events: Vec<serde_json::Value>,
}

impl Batch {
    /// The events' ids.
    pub fn event_ids(&self) -> impl Iterator<Item = &str> {
        self.events.iter().filter_map(|e| e.get("id").and_then(|v| v.as_str()))
    }
}

/// A line of `state.log`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    pub batch: String,
    /// `retry`, `delivered`, `dead` or `requeued`.
    pub outcome: String,
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub at: String,
}

/// Where a batch stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pending,
    Delivered,
    Dead,
}

/// Counts for `reckon feed status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Status {
    pub batches: usize,
    pub events: usize,
    pub delivered_batches: usize,
    pub delivered_events: usize,
    pub pending_batches: usize,
    pub pending_events: usize,
    pub dead_batches: usize,
    pub dead_events: usize,
    /// Attempts that failed and were retried, over the outbox's life.
    pub retries: u64,
}

/// An open (locked) outbox of one sink.
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    _lock: Option<File>,
    queue: Option<File>,
    log: Option<File>,
    batches: Vec<Batch>,
    state: Vec<(State, u32)>,
    index: BTreeMap<String, usize>,
    events: HashSet<String>,
    retries: u64,
}

fn io(dir: &Path, what: &str, e: std::io::Error) -> FeedError {
    FeedError::Outbox(dir.to_path_buf(), format!("{what}: {e}"))
}

/// Reads complete lines of an append-only file; a torn last line (no newline:
/// the process died while writing it) is cut off so the next append starts clean.
fn read_lines(path: &Path, f: &mut File) -> Result<Vec<String>, FeedError> {
    let dir = path.parent().unwrap_or(path);
    let mut text = String::new();
    f.seek(SeekFrom::Start(0)).map_err(|e| io(dir, "seek", e))?;
    f.read_to_string(&mut text).map_err(|e| FeedError::Outbox(path.to_path_buf(), format!("not UTF-8 text: {e}")))?;
    let complete = text.rfind('\n').map_or(0, |i| i + 1);
    if complete < text.len() {
        tracing::warn!(file = %path.display(), bytes = text.len() - complete, "cutting a torn last line");
        f.set_len(complete as u64).map_err(|e| io(dir, "truncate", e))?;
        text.truncate(complete);
    }
    f.seek(SeekFrom::End(0)).map_err(|e| io(dir, "seek", e))?;
    Ok(text.lines().map(str::to_string).collect())
}

fn append(dir: &Path, f: &mut Option<File>, line: &str) -> Result<(), FeedError> {
    let Some(f) = f.as_mut() else {
        return Err(FeedError::Outbox(dir.to_path_buf(), "opened read-only".into()));
    };
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    f.write_all(&buf).map_err(|e| io(dir, "append", e))?;
    f.sync_data().map_err(|e| io(dir, "fsync", e))
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Outbox {
    /// Opens (creating) the outbox in `dir` and takes its lock.
    pub fn open(dir: &Path) -> Result<Outbox, FeedError> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, "create", e))?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("lock"))
            .map_err(|e| io(dir, "lock file", e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(FeedError::Busy(dir.to_path_buf())),
            Err(std::fs::TryLockError::Error(e)) => return Err(io(dir, "lock", e)),
        }
        let open = |name: &str| {
            OpenOptions::new().create(true).read(true).append(true).open(dir.join(name)).map_err(|e| io(dir, name, e))
        };
        let (mut queue, mut log) = (open("queue.jsonl")?, open("state.log")?);
        let (qpath, lpath) = (dir.join("queue.jsonl"), dir.join("state.log"));
        let qlines = read_lines(&qpath, &mut queue)?;
        let llines = read_lines(&lpath, &mut log)?;
        let mut ob = Outbox {
            dir: dir.to_path_buf(),
            _lock: Some(lock),
            queue: Some(queue),
            log: Some(log),
            batches: Vec::new(),
            state: Vec::new(),
            index: BTreeMap::new(),
            events: HashSet::new(),
            retries: 0,
        };
        for (i, line) in qlines.iter().enumerate() {
            let b: Batch = serde_json::from_str(line)
                .map_err(|e| FeedError::Corrupt(qpath.clone(), i as u64 + 1, e.to_string()))?;
            ob.add(b);
        }
        for (i, line) in llines.iter().enumerate() {
            let e: LogEntry = serde_json::from_str(line)
                .map_err(|e| FeedError::Corrupt(lpath.clone(), i as u64 + 1, e.to_string()))?;
            ob.note(&e);
        }
        Ok(ob)
    }

    /// The status of an outbox without taking its lock (another process may be
    /// delivering): complete lines only, nothing changed on disk.
    pub fn peek(dir: &Path) -> Result<Status, FeedError> {
        let read = |name: &str| -> Result<Vec<String>, FeedError> {
            match std::fs::read_to_string(dir.join(name)) {
                Ok(t) => {
                    let complete = t.rfind('\n').map_or(0, |i| i + 1);
                    Ok(t[..complete].lines().map(str::to_string).collect())
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(io(dir, name, e)),
            }
        };
        let mut ob = Outbox {
            dir: dir.to_path_buf(),
            _lock: None,
            queue: None,
            log: None,
            batches: Vec::new(),
            state: Vec::new(),
            index: BTreeMap::new(),
            events: HashSet::new(),
            retries: 0,
        };
        for (i, line) in read("queue.jsonl")?.iter().enumerate() {
            let b: Batch = serde_json::from_str(line)
                .map_err(|e| FeedError::Corrupt(dir.join("queue.jsonl"), i as u64 + 1, e.to_string()))?;
            ob.add(b);
        }
        for (i, line) in read("state.log")?.iter().enumerate() {
            let e: LogEntry = serde_json::from_str(line)
                .map_err(|e| FeedError::Corrupt(dir.join("state.log"), i as u64 + 1, e.to_string()))?;
            ob.note(&e);
        }
        Ok(ob.status())
    }

    /// The folder of this outbox.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn add(&mut self, b: Batch) {
        self.events.extend(b.event_ids().map(str::to_string));
        self.index.insert(b.batch.clone(), self.batches.len());
        self.batches.push(b);
        self.state.push((State::Pending, 0));
    }

    fn note(&mut self, e: &LogEntry) {
        let Some(&i) = self.index.get(&e.batch) else { return };
        let s = &mut self.state[i];
        match e.outcome.as_str() {
            "delivered" => *s = (State::Delivered, e.attempt),
            "dead" => *s = (State::Dead, e.attempt),
            "requeued" => *s = (State::Pending, 0),
            _ => {
                self.retries += 1;
                s.1 = s.1.max(e.attempt);
            }
        }
    }

    /// Adds the events not yet in the outbox (by CloudEvents `id`), in order, as
    /// batches of up to `batch_size`. Returns how many events were added.
    pub fn enqueue(&mut self, events: &[serde_json::Value], batch_size: usize) -> Result<usize, FeedError> {
        let fresh: Vec<&serde_json::Value> = events
            .iter()
            .filter(|e| e.get("id").and_then(|v| v.as_str()).is_some_and(|id| !self.events.contains(id)))
            .collect();
        let mut seen = HashSet::new();
        let fresh: Vec<&serde_json::Value> = fresh
            .into_iter()
            .filter(|e| seen.insert(e.get("id").and_then(|v| v.as_str()).unwrap_or_default().to_string()))
            .collect();
        for chunk in fresh.chunks(batch_size.max(1)) {
            let ids: Vec<&str> = chunk.iter().filter_map(|e| e.get("id").and_then(|v| v.as_str())).collect();
            let id = if ids.len() == 1 { format!("msg_{}", ids[0]) } else { reckon_core::id::stable_id("msg_", &ids) };
            let b = Batch { batch: id, events: chunk.iter().map(|e| (*e).clone()).collect() };
            let line = serde_json::to_string(&b).map_err(|e| FeedError::Outbox(self.dir.clone(), e.to_string()))?;
            append(&self.dir, &mut self.queue, &line)?;
            self.add(b);
        }
        Ok(seen.len())
    }

    /// Reads `exceptions.jsonl` (one CloudEvent per line) and enqueues its events.
    pub fn enqueue_file(&mut self, jsonl: &Path, batch_size: usize) -> Result<usize, FeedError> {
        let text = std::fs::read_to_string(jsonl).map_err(|e| io(jsonl, "read", e))?;
        let mut events = Vec::new();
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| FeedError::Corrupt(jsonl.to_path_buf(), i as u64 + 1, e.to_string()))?;
            if v.get("id").and_then(|x| x.as_str()).is_none() {
                return Err(FeedError::Corrupt(jsonl.to_path_buf(), i as u64 + 1, "event without an id".into()));
            }
            events.push(v);
        }
        self.enqueue(&events, batch_size)
    }

    /// Batches still to deliver, in order, with the attempts already made.
    pub fn pending(&self) -> Vec<(Batch, u32)> {
        self.batches
            .iter()
            .zip(&self.state)
            .filter(|(_, (s, _))| *s == State::Pending)
            .map(|(b, (_, n))| (b.clone(), *n))
            .collect()
    }

    /// Records an attempt's outcome durably (fsynced) before returning.
    pub fn record(
        &mut self,
        batch: &Batch,
        outcome: &str,
        attempt: u32,
        status: Option<u16>,
        error: Option<String>,
    ) -> Result<(), FeedError> {
        let e =
            LogEntry { batch: batch.batch.clone(), outcome: outcome.to_string(), attempt, status, error, at: now() };
        let line = serde_json::to_string(&e).map_err(|x| FeedError::Outbox(self.dir.clone(), x.to_string()))?;
        if outcome == "dead" {
            let dl = serde_json::json!({ "batch": batch.batch, "attempts": attempt, "status": status, "error": e.error, "at": e.at, "events": batch.events });
            let mut f = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.join("dead_letter.jsonl"))
                    .map_err(|x| io(&self.dir, "dead_letter.jsonl", x))?,
            );
            append(&self.dir, &mut f, &dl.to_string())?;
        }
        append(&self.dir, &mut self.log, &line)?;
        self.note(&e);
        Ok(())
    }

    /// Puts dead batches back in the queue (`reckon feed replay`). Returns how many.
    pub fn requeue_dead(&mut self) -> Result<usize, FeedError> {
        let dead: Vec<Batch> = self
            .batches
            .iter()
            .zip(&self.state)
            .filter(|(_, (s, _))| *s == State::Dead)
            .map(|(b, _)| b.clone())
            .collect();
        for b in &dead {
            self.record(b, "requeued", 0, None, None)?;
        }
        Ok(dead.len())
    }

    /// Counts by state.
    pub fn status(&self) -> Status {
        let mut s = Status { batches: self.batches.len(), retries: self.retries, ..Status::default() };
        for (b, (st, _)) in self.batches.iter().zip(&self.state) {
            let n = b.events.len();
            s.events += n;
            match st {
                State::Pending => (s.pending_batches += 1, s.pending_events += n),
                State::Delivered => (s.delivered_batches += 1, s.delivered_events += n),
                State::Dead => (s.dead_batches += 1, s.dead_events += n),
            };
        }
        s
    }

    /// The state of each batch, in queue order (for audits and tests).
    pub fn states(&self) -> Vec<(String, State)> {
        self.batches.iter().zip(&self.state).map(|(b, (s, _))| (b.batch.clone(), *s)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str) -> serde_json::Value {
        serde_json::json!({ "specversion": "1.0", "id": id, "type": "t", "data": {} })
    }

    #[test]
    fn survives_reopen_torn_lines_and_refuses_a_second_owner() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = d.path().join("webhook");
        {
            let mut ob = Outbox::open(&dir).unwrap_or_else(|e| panic!("{e}"));
            assert!(matches!(Outbox::open(&dir), Err(FeedError::Busy(_))));
            let evs: Vec<_> = (0..5).map(|i| ev(&format!("EX-{i}"))).collect();
            assert_eq!(ob.enqueue(&evs, 2).unwrap_or_else(|e| panic!("{e}")), 5);
            assert_eq!(ob.enqueue(&evs, 2).unwrap_or_else(|e| panic!("{e}")), 0, "same ids are not queued twice");
            let p = ob.pending();
            assert_eq!(p.len(), 3);
            ob.record(&p[0].0, "retry", 1, Some(500), Some("HTTP 500".into())).unwrap_or_else(|e| panic!("{e}"));
            ob.record(&p[0].0, "delivered", 2, Some(200), None).unwrap_or_else(|e| panic!("{e}"));
            ob.record(&p[1].0, "dead", 8, Some(400), Some("HTTP 400".into())).unwrap_or_else(|e| panic!("{e}"));
        }
        // A crash mid-append leaves half a line.
        let mut f = OpenOptions::new().append(true).open(dir.join("state.log")).unwrap_or_else(|e| panic!("{e}"));
        f.write_all(b"{\"batch\":\"msg_").unwrap_or_else(|e| panic!("{e}"));
        drop(f);
        let mut ob = Outbox::open(&dir).unwrap_or_else(|e| panic!("{e}"));
        let s = ob.status();
        assert_eq!(
            (s.batches, s.events, s.delivered_events, s.dead_events, s.pending_events, s.retries),
            (3, 5, 2, 2, 1, 1)
        );
        assert_eq!(ob.pending().len(), 1);
        assert_eq!(ob.requeue_dead().unwrap_or_else(|e| panic!("{e}")), 1);
        assert_eq!(ob.status().pending_batches, 2);
        let dl = std::fs::read_to_string(dir.join("dead_letter.jsonl")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(dl.lines().count(), 1);
        assert!(dl.contains("HTTP 400"));
    }
}
