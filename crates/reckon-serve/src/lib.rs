//! reckon-serve: the HTTP intake of decisions (`reckon serve`).
//!
//! A workflow engine (a Camunda REST connector, an n8n HTTP node, a Temporal
//! activity) POSTs decisions to `/decisions` — one JSON decision or an array
//! of them, the shape `reckon decide` reads — signed like reckon's own feed
//! with Standard Webhooks (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`). A
//! request without a valid signature, with a timestamp outside the tolerance or
//! with a `webhook-id` received before is refused (401 or 409) and logged; a
//! body over the limit is 413, one that is not decisions 400. Each accepted
//! request is one transaction on the state store (`Store::submit_message`):
//! every decision in it validated and recorded with its verdict, the message
//! id with them, so a process killed mid-request has recorded all of it or
//! none. The store is opened per request: while a `reckon run` holds it, the
//! intake waits up to `lock_wait` and then answers 503 with `Retry-After`.
//!
//! The server is hyper's HTTP/1.1 on a current-thread tokio runtime in its own
//! thread; [`start`] refuses to listen without a secret.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use reckon_feed::sign::{Secret, verify};
use reckon_state::{DecisionInput, Policy, StateError, Store};

/// What the intake needs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Address to listen on (`127.0.0.1:8787`; port 0 picks one).
    pub listen: SocketAddr,
    pub state: PathBuf,
    /// Signing secrets (`whsec_…`), newest first; at least one.
    pub secrets: Vec<Secret>,
    pub policy: Policy,
    /// Accepted distance of `webhook-timestamp` from now, in seconds (the
    /// Standard Webhooks default is 5 minutes).
    pub tolerance_s: i64,
    /// Largest body accepted, in bytes.
    pub max_body: usize,
    /// How long a request waits for the store while a run holds it.
    pub lock_wait: Duration,
}

impl ServeConfig {
    pub fn new(listen: SocketAddr, state: PathBuf, secrets: Vec<Secret>, policy: Policy) -> ServeConfig {
        ServeConfig {
            listen,
            state,
            secrets,
            policy,
            tolerance_s: 300,
            max_body: 1 << 20,
            lock_wait: Duration::from_secs(10),
        }
    }
}

/// Why the intake could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("no signing secret: the intake does not listen unauthenticated (set RECKON_INTAKE_SECRET)")]
    NoSecret,
    #[error("listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error(transparent)]
    State(#[from] StateError),
}

/// A running intake; stops when dropped or on [`Server::stop`].
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and waits for the server thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    /// Blocks until the server ends (it ends only when stopped or killed).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts the intake: checks the store opens (migrating it), binds, serves.
pub fn start(cfg: ServeConfig) -> Result<Server, ServeError> {
    if cfg.secrets.is_empty() {
        return Err(ServeError::NoSecret);
    }
    drop(Store::open(&cfg.state)?);
    let listener = std::net::TcpListener::bind(cfg.listen).map_err(|e| ServeError::Listen(cfg.listen, e))?;
    let addr = listener.local_addr().map_err(|e| ServeError::Listen(cfg.listen, e))?;
    listener.set_nonblocking(true).map_err(|e| ServeError::Listen(cfg.listen, e))?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let cfg = Arc::new(cfg);
    let thread = std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build() {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!(error = %e, "intake runtime");
                return;
            }
        };
        rt.block_on(accept_loop(listener, cfg, rx));
    });
    tracing::info!(%addr, "decisions intake listening");
    Ok(Server { addr, stop: Some(tx), thread: Some(thread) })
}

async fn accept_loop(
    listener: std::net::TcpListener,
    cfg: Arc<ServeConfig>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "intake listener");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let cfg = cfg.clone();
                tokio::spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let svc = hyper::service::service_fn(move |req| handle(req, cfg.clone(), peer));
                    if let Err(e) = hyper::server::conn::http1::Builder::new().serve_connection(io, svc).await {
                        tracing::debug!(%peer, error = %e, "intake connection");
                    }
                });
            }
        }
    }
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    r
}

fn refuse(status: StatusCode, reason: &str) -> Response<Full<Bytes>> {
    answer(status, serde_json::json!({ "error": reason }))
}

async fn handle(
    req: Request<Incoming>,
    cfg: Arc<ServeConfig>,
    peer: SocketAddr,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    if parts.uri.path() != "/decisions" {
        return Ok(refuse(StatusCode::NOT_FOUND, "the intake takes POST /decisions"));
    }
    if parts.method != Method::POST {
        return Ok(refuse(StatusCode::METHOD_NOT_ALLOWED, "POST decisions"));
    }
    let body = match Limited::new(body, cfg.max_body).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            tracing::warn!(%peer, "intake: body over the limit or cut off");
            return Ok(refuse(StatusCode::PAYLOAD_TOO_LARGE, &format!("body over {} bytes", cfg.max_body)));
        }
    };
    let header = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (Some(id), Some(ts), Some(sig)) =
        (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"))
    else {
        tracing::warn!(%peer, "intake refused: unsigned request");
        return Ok(refuse(
            StatusCode::UNAUTHORIZED,
            "unsigned: webhook-id, webhook-timestamp and webhook-signature are required (Standard Webhooks)",
        ));
    };
    let now = chrono::Utc::now().timestamp();
    if let Err(e) = verify(&cfg.secrets, &id, &ts, &sig, &body, now, cfg.tolerance_s) {
        tracing::warn!(%peer, webhook_id = %id, reason = %e, "intake refused: signature");
        return Ok(refuse(StatusCode::UNAUTHORIZED, &format!("signature refused: {e}")));
    }
    // One decision or an array; an element that is not a decision is named
    // as unreadable and the others are taken.
    let values: Vec<serde_json::Value> = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(serde_json::Value::Array(v)) => v,
        Ok(v @ serde_json::Value::Object(_)) => vec![v],
        Ok(_) => return Ok(refuse(StatusCode::BAD_REQUEST, "a decision object or an array of them")),
        Err(e) => return Ok(refuse(StatusCode::BAD_REQUEST, &format!("not JSON: {e}"))),
    };
    let (mut received, mut unreadable) = (Vec::new(), Vec::new());
    for (i, v) in values.into_iter().enumerate() {
        let source = format!("http:{id}#{}", i + 1);
        match serde_json::from_value::<DecisionInput>(v) {
            Ok(d) => match reckon_state::decision::check(d, source) {
                Ok(r) => received.push(r),
                Err(u) => unreadable.push(serde_json::json!({ "source": u.source, "reason": u.reason })),
            },
            Err(e) => {
                unreadable.push(serde_json::json!({ "source": source, "reason": format!("not a decision: {e}") }))
            }
        }
    }
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let job = {
        let cfg = cfg.clone();
        let id = id.clone();
        tokio::task::spawn_blocking(move || {
            let deadline = std::time::Instant::now() + cfg.lock_wait;
            loop {
                match Store::open(&cfg.state) {
                    Ok(mut s) => return s.submit_message(&id, &received, &cfg.policy, &at).map(Some),
                    Err(StateError::Busy(_)) if std::time::Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    Err(StateError::Busy(_)) => return Ok(None),
                    Err(e) => return Err(e),
                }
            }
        })
    };
    let outcome = match job.await {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "intake worker");
            return Ok(refuse(StatusCode::INTERNAL_SERVER_ERROR, "intake worker failed"));
        }
    };
    Ok(match outcome {
        Ok(Some(Some(verdicts))) => {
            tracing::info!(%peer, webhook_id = %id, decisions = verdicts.len(), unreadable = unreadable.len(), "intake");
            answer(StatusCode::OK, serde_json::json!({ "verdicts": verdicts, "unreadable": unreadable }))
        }
        Ok(Some(None)) => {
            tracing::warn!(%peer, webhook_id = %id, "intake refused: replayed webhook-id");
            refuse(StatusCode::CONFLICT, &format!("webhook-id {id} was received before (a replay); nothing recorded"))
        }
        Ok(None) => {
            let mut r = refuse(StatusCode::SERVICE_UNAVAILABLE, "the state store is in use by a run; retry");
            r.headers_mut().insert(hyper::header::RETRY_AFTER, hyper::header::HeaderValue::from_static("5"));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "intake: state store");
            refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
        }
    })
}
