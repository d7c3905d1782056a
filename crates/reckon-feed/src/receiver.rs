//! A small HTTP/1.1 receiver on loopback that verifies Standard Webhooks
//! signatures and de-duplicates on `webhook-id`, with scripted faults (status
//! codes, `Retry-After`, hangs past the client's timeout, dropped connections).
//!
//! It is the peer of the delivery tests and benchmark, and of `reckon feed listen`
//! (for platform engineers wiring a workflow engine: see what reckon sends and
//! whether the signatures verify with your secret). It is not a production server.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::sign::{Secret, verify};

/// How the receiver answers one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status (e.g. 500).
    Status(u16),
    /// Answer 429 or 503 with `Retry-After: <seconds>`.
    RetryAfter(u16, u64),
    /// Read the request, then say nothing for this long and close (a timeout).
    Hang(Duration),
    /// Close the connection without an answer.
    Drop,
}

/// A request the receiver accepted (answered 2xx).
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub webhook_id: String,
    pub content_type: String,
    pub body: Vec<u8>,
    /// `Some(true)` when a signature verified, `None` when the receiver has no secret.
    pub verified: Option<bool>,
}

#[derive(Debug, Default)]
struct Shared {
    faults: VecDeque<Fault>,
    accepted: Vec<Received>,
    /// Requests whose signature did not verify (answered 401).
    refused: Vec<Received>,
    /// Requests seen (any answer), by `webhook-id`.
    attempts: BTreeMap<String, u32>,
    requests: u64,
    delay: Duration,
}

/// A running receiver. Stops when dropped.
#[derive(Debug)]
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    secrets: Arc<Vec<Secret>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn lock(s: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Receiver {
    /// Listens on `addr` (`127.0.0.1:0` for any free port). With `secrets`, every
    /// request must carry a valid signature (else 401).
    pub fn start(addr: &str, secrets: Vec<Secret>) -> std::io::Result<Receiver> {
        Receiver::start_shared(addr, Arc::new(Mutex::new(Shared::default())), Arc::new(secrets))
    }

    fn start_shared(addr: &str, shared: Arc<Mutex<Shared>>, secrets: Arc<Vec<Secret>>) -> std::io::Result<Receiver> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (sh, se, st) = (shared.clone(), secrets.clone(), stop.clone());
        // Blocking accept: `stop` sets the flag and connects once to wake it.
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let _ = conn.set_nodelay(true);
                    let (sh, se) = (sh.clone(), se.clone());
                    std::thread::spawn(move || handle(conn, &sh, &se));
                }
            }
        });
        Ok(Receiver { addr, shared, secrets, stop, thread: Some(thread) })
    }

    /// `http://127.0.0.1:<port>/reckon`.
    pub fn url(&self) -> String {
        format!("http://{}/reckon", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The next requests are answered with these faults, in order, then normally.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.shared).faults.extend(faults);
    }

    /// Each request waits this long before it is answered (a slow receiver).
    pub fn set_delay(&self, d: Duration) {
        lock(&self.shared).delay = d;
    }

    /// Stops listening (connections in flight finish), keeping what was received.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
            let _ = t.join();
        }
    }

    /// Listens again on the same port after [`stop`](Self::stop) (a receiver restart).
    pub fn restart(&mut self) -> std::io::Result<()> {
        self.stop();
        let r = Receiver::start_shared(&self.addr.to_string(), self.shared.clone(), self.secrets.clone())?;
        let mut r = std::mem::ManuallyDrop::new(r);
        self.stop = r.stop.clone();
        self.thread = r.thread.take();
        Ok(())
    }

    /// Everything accepted, in arrival order (duplicates included).
    pub fn accepted(&self) -> Vec<Received> {
        lock(&self.shared).accepted.clone()
    }

    /// Requests refused because their signature did not verify (401), in arrival order.
    pub fn refused(&self) -> Vec<Received> {
        lock(&self.shared).refused.clone()
    }

    /// Requests seen in total (any answer).
    pub fn requests(&self) -> u64 {
        lock(&self.shared).requests
    }

    /// The CloudEvents held after de-duplication on `webhook-id`: (event id → times
    /// it was accepted in a message not seen before). Exactly once means every
    /// value is 1.
    pub fn unique_events(&self) -> BTreeMap<String, u32> {
        let s = lock(&self.shared);
        let mut seen_msgs = std::collections::HashSet::new();
        let mut out: BTreeMap<String, u32> = BTreeMap::new();
        for r in &s.accepted {
            if !seen_msgs.insert(r.webhook_id.clone()) {
                continue;
            }
            for id in event_ids(&r.body) {
                *out.entry(id).or_insert(0) += 1;
            }
        }
        out
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Event ids in a body: one CloudEvent, a batch (array) or a Camunda message.
pub fn event_ids(body: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else { return Vec::new() };
    let one =
        |e: &serde_json::Value| e.get("id").or_else(|| e.get("messageId")).and_then(|x| x.as_str()).map(str::to_string);
    match &v {
        serde_json::Value::Array(a) => a.iter().filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    }
}

fn handle(conn: TcpStream, shared: &Mutex<Shared>, secrets: &[Secret]) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            return;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    if len > 64 << 20 {
        let _ = respond(&conn, 413, None);
        return;
    }
    let mut body = vec![0u8; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let webhook_id = headers.get("webhook-id").cloned().unwrap_or_else(|| event_ids(&body).join(","));
    let (fault, delay) = {
        let mut s = lock(shared);
        s.requests += 1;
        *s.attempts.entry(webhook_id.clone()).or_insert(0) += 1;
        (s.faults.pop_front(), s.delay)
    };
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
    match fault {
        Some(Fault::Drop) => return,
        Some(Fault::Hang(d)) => {
            std::thread::sleep(d);
            return;
        }
        Some(Fault::Status(code)) => {
            let _ = respond(&conn, code, None);
            return;
        }
        Some(Fault::RetryAfter(code, secs)) => {
            let _ = respond(&conn, code, Some(secs));
            return;
        }
        None => {}
    }
    let verified = if secrets.is_empty() {
        None
    } else {
        let now = chrono::Utc::now().timestamp();
        let ok = verify(
            secrets,
            &webhook_id,
            headers.get("webhook-timestamp").map_or("", String::as_str),
            headers.get("webhook-signature").map_or("", String::as_str),
            &body,
            now,
            300,
        )
        .is_ok();
        if !ok {
            lock(shared).refused.push(Received {
                path,
                webhook_id,
                content_type: headers.get("content-type").cloned().unwrap_or_default(),
                body,
                verified: Some(false),
            });
            let _ = respond(&conn, 401, None);
            return;
        }
        Some(true)
    };
    let r = Received {
        path,
        webhook_id,
        content_type: headers.get("content-type").cloned().unwrap_or_default(),
        body,
        verified,
    };
    lock(shared).accepted.push(r);
    let _ = respond(&conn, 204, None);
}

fn respond(mut conn: &TcpStream, code: u16, retry_after: Option<u64>) -> std::io::Result<()> {
    let reason = match code {
        204 => "No Content",
        401 => "Unauthorized",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let ra = retry_after.map(|s| format!("retry-after: {s}\r\n")).unwrap_or_default();
    write!(conn, "HTTP/1.1 {code} {reason}\r\n{ra}content-length: 0\r\nconnection: close\r\n\r\n")?;
    conn.flush()
}
