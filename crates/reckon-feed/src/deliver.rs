//! Delivery of an outbox to a sink: a Standard Webhooks endpoint (CloudEvents,
//! batched) or Camunda 8 (one published message per exception).
//!
//! Each batch is tried until it is delivered or given up: 2xx is delivered;
//! 408, 425, 429, 5xx, timeouts and connection errors are retried with
//! exponential backoff and jitter (a `Retry-After` in seconds or as an HTTP date
//! is honoured, up to `retry_after_max_ms`); any other 4xx — the receiver refuses
//! the message itself — and the last allowed attempt go to the dead-letter file.
//! Every outcome is in the outbox's log before the next batch starts.

use reckon_core::InvalidSetting;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::FeedError;
use crate::outbox::{Batch, Outbox};
use crate::sign::{Secret, signature_header};

/// `[feed.webhook.retry]` / `[feed.camunda.retry]`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Attempts per batch before it goes to the dead-letter file.
    pub max_attempts: u32,
    /// First backoff; doubled per attempt.
    pub base_ms: u64,
    /// Longest backoff between attempts.
    pub max_ms: u64,
    /// Whole-request timeout.
    pub timeout_ms: u64,
    /// Longest `Retry-After` honoured.
    pub retry_after_max_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig { max_attempts: 8, base_ms: 500, max_ms: 60_000, timeout_ms: 10_000, retry_after_max_ms: 300_000 }
    }
}

impl RetryConfig {
    fn validate(&self, field: &'static str) -> Result<(), InvalidSetting> {
        let bad = |reason: String| InvalidSetting::new(field, reason);
        if !(1..=1000).contains(&self.max_attempts) {
            return Err(bad(format!("{field}.retry.max_attempts = {} must be within 1..=1000", self.max_attempts)));
        }
        let day = 86_400_000;
        for (name, v) in [
            ("timeout_ms", self.timeout_ms),
            ("base_ms", self.base_ms),
            ("max_ms", self.max_ms),
            ("retry_after_max_ms", self.retry_after_max_ms),
        ] {
            if v > day || (name == "timeout_ms" && v == 0) {
                return Err(bad(format!(
                    "{field}.retry.{name} = {v} must be within {}..={day}",
                    u64::from(name == "timeout_ms")
                )));
            }
        }
        if self.base_ms > self.max_ms {
            return Err(bad(format!(
                "{field}.retry.base_ms = {} must not exceed max_ms = {}",
                self.base_ms, self.max_ms
            )));
        }
        Ok(())
    }

    /// Backoff before attempt `attempt + 1` (attempt ≥ 1): half fixed, half random
    /// ("equal jitter"), so clients that failed together do not retry together.
    pub fn backoff(&self, attempt: u32, rng: &mut Jitter) -> Duration {
        let exp = self.base_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(30)).min(self.max_ms);
        Duration::from_millis(exp / 2 + rng.below(exp / 2 + 1))
    }
}

/// Checks a sink URL, parsed by the `url` crate: http(s) with a host; plain http
/// only to a loopback host (the *parsed* host, so `http://localhost@other/`
/// is refused) unless `allow_http`. Messages show the URL redacted.
fn check_url(field: &'static str, raw: &str, allow_http: bool) -> Result<(), InvalidSetting> {
    let bad = |reason: String| InvalidSetting::new(field, reason);
    let u = url::Url::parse(raw).map_err(|e| bad(format!("{field}.url: '{}' is not a URL: {e}", redact_url(raw))))?;
    let host = match u.host() {
        Some(h) => h,
        None => return Err(bad(format!("{field}.url: no host in '{}'", redact_url(raw)))),
    };
    match u.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = match host {
                url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
                url::Host::Ipv4(ip) => ip.is_loopback(),
                url::Host::Ipv6(ip) => ip.is_loopback(),
            };
            if loopback || allow_http {
                Ok(())
            } else {
                Err(bad(format!(
                    "{field}.url: plain http to {host} would send exceptions unencrypted; use https or set allow_http = true"
                )))
            }
        }
        other => Err(bad(format!("{field}.url: '{}' is {other}, not an http(s) URL", redact_url(raw)))),
    }
}

/// The URL without its secrets: a user name or password and every query value
/// become `***` (the text is returned unchanged when it is not a URL and holds
/// no `@`; otherwise everything before the host is hidden).
pub fn redact_url(raw: &str) -> String {
    let Ok(mut u) = url::Url::parse(raw) else {
        return match raw.rsplit_once('@') {
            Some((_, host)) => format!("***@{host}"),
            None => raw.to_string(),
        };
    };
    if !u.username().is_empty() {
        let _ = u.set_username("***");
    }
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u.query_pairs().map(|(k, _)| (k.into_owned(), "***".to_string())).collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

/// `text` with every occurrence of `raw` (and of its password, if any) redacted.
pub fn redact_in(text: &str, raw: &str) -> String {
    let mut t = text.replace(raw, &redact_url(raw));
    if let Ok(u) = url::Url::parse(raw) {
        if let Some(p) = u.password().filter(|p| p.len() >= 3) {
            t = t.replace(p, "***");
        }
        if !u.username().is_empty() && u.username().len() >= 3 {
            t = t.replace(&format!("{}@", u.username()), "***@");
        }
        for (_, v) in u.query_pairs() {
            if v.len() >= 3 {
                t = t.replace(v.as_ref(), "***");
            }
        }
    }
    t
}

fn serialize_redacted<S: serde::Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&redact_url(url))
}

/// `[feed.webhook]`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Written redacted wherever reckon writes its config (manifest, logs).
    #[serde(serialize_with = "serialize_redacted")]
    pub url: String,
    /// Environment variable holding the `whsec_…` secret(s), newest first.
    #[serde(default = "default_secret_env")]
    pub secret_env: String,
    /// File holding the secret(s), one per line, when the variable is not set.
    #[serde(default)]
    pub secret_file: Option<std::path::PathBuf>,
    /// Events per request (1 = one CloudEvent per request).
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Allow plain http to a host other than loopback.
    #[serde(default)]
    pub allow_http: bool,
    #[serde(default)]
    pub retry: RetryConfig,
}

fn default_secret_env() -> String {
    "RECKON_WEBHOOK_SECRET".into()
}
fn default_batch() -> usize {
    50
}

impl WebhookConfig {
    /// A config for `url` with every default (the command line's `--to`).
    pub fn for_url(url: &str) -> WebhookConfig {
        WebhookConfig {
            url: url.to_string(),
            secret_env: default_secret_env(),
            secret_file: None,
            batch_size: default_batch(),
            allow_http: false,
            retry: RetryConfig::default(),
        }
    }

    pub fn validate(&self) -> Result<(), InvalidSetting> {
        check_url("feed.webhook", &self.url, self.allow_http)?;
        if self.batch_size == 0 || self.batch_size > 10_000 {
            return Err(InvalidSetting::new("feed.webhook", "feed.webhook.batch_size must be 1–10000"));
        }
        self.retry.validate("feed.webhook")
    }
}

/// `[feed.camunda]`: Camunda 8 REST (`POST {url}/v2/messages/publication`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CamundaConfig {
    /// Base URL of the Orchestration Cluster REST API (e.g. `https://…/`);
    /// written redacted wherever reckon writes its config.
    #[serde(serialize_with = "serialize_redacted")]
    pub url: String,
    /// BPMN message name the process waits for.
    #[serde(default = "default_message")]
    pub message_name: String,
    /// How long the broker buffers a message nobody waits for yet.
    #[serde(default = "default_ttl")]
    pub time_to_live_ms: u64,
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Environment variable holding a bearer token (none: no Authorization header).
    #[serde(default = "default_token_env")]
    pub token_env: String,
    #[serde(default)]
    pub allow_http: bool,
    #[serde(default)]
    pub retry: RetryConfig,
}

fn default_message() -> String {
    "reckon-exception".into()
}
fn default_ttl() -> u64 {
    86_400_000
}
fn default_token_env() -> String {
    "RECKON_CAMUNDA_TOKEN".into()
}

impl CamundaConfig {
    pub fn for_url(url: &str) -> CamundaConfig {
        CamundaConfig {
            url: url.to_string(),
            message_name: default_message(),
            time_to_live_ms: default_ttl(),
            tenant_id: None,
            token_env: default_token_env(),
            allow_http: false,
            retry: RetryConfig::default(),
        }
    }

    pub fn validate(&self) -> Result<(), InvalidSetting> {
        check_url("feed.camunda", &self.url, self.allow_http)?;
        if self.message_name.trim().is_empty() {
            return Err(InvalidSetting::new("feed.camunda", "feed.camunda.message_name must not be empty"));
        }
        self.retry.validate("feed.camunda")
    }
}

/// A token that is never printed.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

/// A built sink.
#[derive(Clone, Debug)]
pub enum Sink {
    Webhook {
        url: String,
        secrets: Vec<Secret>,
        batch_size: usize,
        retry: RetryConfig,
    },
    Camunda {
        publish_url: String,
        message_name: String,
        ttl_ms: u64,
        tenant: Option<String>,
        token: Option<Token>,
        retry: RetryConfig,
    },
}

impl Sink {
    /// The webhook sink, with its secrets loaded (never logged).
    pub fn webhook(c: &WebhookConfig) -> Result<Sink, FeedError> {
        c.validate().map_err(FeedError::Config)?;
        let secrets = crate::sign::load_secrets(&c.secret_env, c.secret_file.as_deref())?;
        Ok(Sink::Webhook { url: c.url.clone(), secrets, batch_size: c.batch_size, retry: c.retry.clone() })
    }

    pub fn camunda(c: &CamundaConfig) -> Result<Sink, FeedError> {
        c.validate().map_err(FeedError::Config)?;
        let token =
            std::env::var(&c.token_env).ok().filter(|t| !t.trim().is_empty()).map(|t| Token(t.trim().to_string()));
        Ok(Sink::Camunda {
            publish_url: format!("{}/v2/messages/publication", c.url.trim_end_matches('/')),
            message_name: c.message_name.clone(),
            ttl_ms: c.time_to_live_ms,
            tenant: c.tenant_id.clone(),
            token,
            retry: c.retry.clone(),
        })
    }

    /// The outbox folder name of this sink.
    pub fn name(&self) -> &'static str {
        match self {
            Sink::Webhook { .. } => "webhook",
            Sink::Camunda { .. } => "camunda",
        }
    }

    /// Events per message.
    pub fn batch_size(&self) -> usize {
        match self {
            Sink::Webhook { batch_size, .. } => *batch_size,
            Sink::Camunda { .. } => 1,
        }
    }

    fn retry(&self) -> &RetryConfig {
        match self {
            Sink::Webhook { retry, .. } | Sink::Camunda { retry, .. } => retry,
        }
    }
}

/// Retry jitter (not for secrets): SplitMix64 seeded from the clock and pid.
#[derive(Debug)]
pub struct Jitter(reckon_core::rng::SplitMix64);

impl Jitter {
    pub fn new() -> Jitter {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        Jitter(reckon_core::rng::SplitMix64::new(t ^ (u64::from(std::process::id()) << 32) | 1))
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.0.below(n)
    }
}

impl Default for Jitter {
    fn default() -> Self {
        Jitter::new()
    }
}

/// What one delivery pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub delivered_batches: usize,
    pub delivered_events: usize,
    pub dead_batches: usize,
    pub dead_events: usize,
    pub attempts: u64,
    pub retries: u64,
    pub elapsed_ms: u64,
}

/// The outcome of one HTTP attempt.
#[derive(Debug)]
enum Outcome {
    Delivered(u16),
    Retry { status: Option<u16>, error: String, retry_after: Option<Duration> },
    Refused(u16, String),
}

fn retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    // HTTP date (RFC 9110 IMF-fixdate).
    let t = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let d = t.signed_duration_since(chrono::Utc::now());
    Some(d.to_std().unwrap_or(Duration::ZERO))
}

fn body_of(sink: &Sink, b: &Batch) -> Result<(Vec<u8>, &'static str), FeedError> {
    let err = |e: serde_json::Error| FeedError::Outbox(std::path::PathBuf::from(&b.batch), e.to_string());
    match sink {
        Sink::Webhook { .. } if b.events.len() == 1 => {
            Ok((serde_json::to_vec(&b.events[0]).map_err(err)?, "application/cloudevents+json"))
        }
        Sink::Webhook { .. } => Ok((serde_json::to_vec(&b.events).map_err(err)?, "application/cloudevents-batch+json")),
        Sink::Camunda { message_name, ttl_ms, tenant, .. } => {
            let ev = b.events.first().cloned().unwrap_or_default();
            let id = ev.get("id").and_then(|v| v.as_str()).unwrap_or_default().to_string();
            let mut m = serde_json::json!({
                "name": message_name,
                "correlationKey": id,
                "messageId": id,
                "timeToLive": ttl_ms,
                "variables": { "exception": ev.get("data").cloned().unwrap_or_default(), "eventType": ev.get("type").cloned().unwrap_or_default() },
            });
            if let Some(t) = tenant {
                m["tenantId"] = serde_json::Value::String(t.clone());
            }
            Ok((serde_json::to_vec(&m).map_err(err)?, "application/json"))
        }
    }
}

fn attempt(agent: &ureq::Agent, sink: &Sink, b: &Batch) -> Result<Outcome, FeedError> {
    let (body, content_type) = body_of(sink, b)?;
    let req = match sink {
        Sink::Webhook { url, secrets, .. } => {
            let ts = chrono::Utc::now().timestamp();
            agent
                .post(url)
                .header("content-type", content_type)
                .header("webhook-id", &b.batch)
                .header("webhook-timestamp", ts.to_string())
                .header("webhook-signature", signature_header(secrets, &b.batch, ts, &body))
        }
        Sink::Camunda { publish_url, token, .. } => {
            let r = agent.post(publish_url).header("content-type", content_type).header("accept", "application/json");
            match token {
                Some(Token(t)) => r.header("authorization", format!("Bearer {t}")),
                None => r,
            }
        }
    };
    let req = req.header("user-agent", concat!("reckon/", env!("CARGO_PKG_VERSION")));
    Ok(match req.send(&body[..]) {
        Ok(mut resp) => {
            let code = resp.status().as_u16();
            let ra = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(retry_after);
            let text = resp.body_mut().read_to_string().unwrap_or_default();
            let snippet: String = text.chars().take(200).collect();
            match code {
                200..=299 => Outcome::Delivered(code),
                // Camunda: a message with this messageId is already published (idempotent success).
                409 if matches!(sink, Sink::Camunda { .. }) => Outcome::Delivered(code),
                408 | 425 | 429 | 500..=599 => {
                    Outcome::Retry { status: Some(code), error: format!("HTTP {code} {snippet}"), retry_after: ra }
                }
                _ => Outcome::Refused(code, format!("HTTP {code} {snippet}")),
            }
        }
        // Transport errors may quote the URL: never with its secrets (they go to state.log).
        Err(e) => {
            let raw = match sink {
                Sink::Webhook { url, .. } => url.as_str(),
                Sink::Camunda { publish_url, .. } => publish_url.as_str(),
            };
            Outcome::Retry { status: None, error: redact_in(&e.to_string(), raw), retry_after: None }
        }
    })
}

/// Delivers every pending batch of `outbox` to `sink`, in order. `progress` is
/// called after each batch with (batches done, batches pending at start).
pub fn deliver(outbox: &mut Outbox, sink: &Sink, progress: &mut dyn FnMut(usize, usize)) -> Result<Report, FeedError> {
    let t0 = Instant::now();
    let retry = sink.retry().clone();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_millis(retry.timeout_ms)))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut rng = Jitter::new();
    let mut report = Report::default();
    let pending = outbox.pending();
    let total = pending.len();
    for (done, (batch, mut attempts)) in pending.into_iter().enumerate() {
        loop {
            attempts += 1;
            report.attempts += 1;
            match attempt(&agent, sink, &batch)? {
                Outcome::Delivered(code) => {
                    outbox.record(&batch, "delivered", attempts, Some(code), None)?;
                    report.delivered_batches += 1;
                    report.delivered_events += batch.events.len();
                    break;
                }
                Outcome::Refused(code, error) => {
                    tracing::warn!(batch = %batch.batch, status = code, "receiver refused the message; dead-lettered");
                    outbox.record(&batch, "dead", attempts, Some(code), Some(error))?;
                    report.dead_batches += 1;
                    report.dead_events += batch.events.len();
                    break;
                }
                Outcome::Retry { status, error, retry_after } => {
                    if attempts >= retry.max_attempts {
                        tracing::warn!(batch = %batch.batch, attempts, error = %error, "giving up; dead-lettered");
                        outbox.record(&batch, "dead", attempts, status, Some(error))?;
                        report.dead_batches += 1;
                        report.dead_events += batch.events.len();
                        break;
                    }
                    outbox.record(&batch, "retry", attempts, status, Some(error.clone()))?;
                    report.retries += 1;
                    let wait = match retry_after {
                        Some(d) => d.min(Duration::from_millis(retry.retry_after_max_ms)),
                        None => retry.backoff(attempts, &mut rng),
                    };
                    tracing::info!(batch = %batch.batch, attempt = attempts, wait_ms = wait.as_millis() as u64, error = %error, "retrying");
                    std::thread::sleep(wait);
                }
            }
        }
        progress(done + 1, total);
    }
    report.elapsed_ms = t0.elapsed().as_millis() as u64;
    Ok(report)
}

/// Enqueues `<out>/exceptions.jsonl` into `<out>/outbox/<sink>/` and delivers it.
pub fn deliver_dir(
    out: &std::path::Path,
    sink: &Sink,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Report, crate::outbox::Status), FeedError> {
    let mut ob = Outbox::open(&out.join("outbox").join(sink.name()))?;
    let added = ob.enqueue_file(&out.join("exceptions.jsonl"), sink.batch_size())?;
    tracing::info!(sink = sink.name(), added, "outbox enqueued");
    let r = deliver(&mut ob, sink, progress)?;
    Ok((r, ob.status()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let r = RetryConfig { base_ms: 100, max_ms: 1_000, ..RetryConfig::default() };
        let mut j = Jitter::new();
        for _ in 0..100 {
            let b1 = r.backoff(1, &mut j).as_millis();
            assert!((50..=100).contains(&b1), "{b1}");
            let b3 = r.backoff(3, &mut j).as_millis();
            assert!((200..=400).contains(&b3), "{b3}");
            let b9 = r.backoff(9, &mut j).as_millis();
            assert!((500..=1000).contains(&b9), "{b9}");
        }
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn urls_are_checked() {
        assert!(WebhookConfig::for_url("https://hooks.example.com/reckon").validate().is_ok());
        assert!(WebhookConfig::for_url("http://127.0.0.1:9000/x").validate().is_ok());
        let e = WebhookConfig::for_url("http://hooks.example.com/x")
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("unencrypted"), "{e}");
        assert!(WebhookConfig::for_url("ftp://x").validate().is_err());
        assert!(CamundaConfig::for_url("https://camunda.example.com").validate().is_ok());
        // The guard reads the parsed host: loopback named in the user part is not loopback.
        let e = WebhookConfig::for_url("http://localhost:80@other-host.example/x")
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("unencrypted") && e.contains("other-host.example"), "{e}");
        assert!(!e.contains("localhost:80"), "credentials in the message: {e}");
        assert!(WebhookConfig::for_url("http://[::1]:9/x").validate().is_ok());
        assert!(WebhookConfig::for_url("http://127.0.0.2/x").validate().is_ok());
        assert!(WebhookConfig::for_url("http://127.0.0.1.example.com/x").validate().is_err());
    }

    #[test]
    fn urls_are_redacted_wherever_they_are_written() {
        let raw = "https://user:s3cr3t-t0ken@hooks.example.com/reckon?token=abc123&x=1";
        let r = redact_url(raw);
        assert_eq!(r, "https://***:***@hooks.example.com/reckon?token=***&x=***");
        let w = WebhookConfig::for_url(raw);
        let json = serde_json::to_string(&w).unwrap_or_default();
        assert!(!json.contains("s3cr3t") && !json.contains("abc123") && json.contains("hooks.example.com"), "{json}");
        let msg = format!("error sending to {raw}: refused (password s3cr3t-t0ken)");
        let red = redact_in(&msg, raw);
        assert!(!red.contains("s3cr3t") && !red.contains("abc123"), "{red}");
        assert_eq!(redact_url("https://hooks.example.com/x"), "https://hooks.example.com/x");
    }
}
