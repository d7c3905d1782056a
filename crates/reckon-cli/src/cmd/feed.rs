//! `reckon feed`: deliver, replay, inspect and listen to the exception feed.

use std::path::{Path, PathBuf};

use crate::exit;
use anyhow::Context;
use reckon_feed::deliver::{CamundaConfig, Report, Sink, WebhookConfig};
use reckon_feed::outbox::{Outbox, Status};
use reckon_pipeline::Config;

/// Where to deliver.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// Output folder of a `reckon run` (holds exceptions.jsonl; the outbox goes in OUT/outbox/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Webhook URL (Standard Webhooks signatures with the whsec_ secret(s) in
    /// RECKON_WEBHOOK_SECRET, newest first, space-separated during a key rotation).
    #[arg(long, value_name = "URL")]
    to: Option<String>,
    /// Camunda 8 REST base URL: one message per exception to /v2/messages/publication
    /// (bearer token from RECKON_CAMUNDA_TOKEN if set).
    #[arg(long, value_name = "URL")]
    camunda: Option<String>,
    /// reckon.toml whose [feed.webhook] / [feed.camunda] settings to use (URLs given
    /// here override theirs).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Events per webhook request (default 50, or the config's).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Allow plain http to a host other than loopback.
    #[arg(long)]
    allow_http: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Print what each sink's outbox holds: delivered, pending and dead events (JSON).
    Status {
        #[arg(long)]
        out: PathBuf,
    },
    /// Put dead-lettered messages back in the queue and deliver them again (same ids).
    Replay {
        #[command(flatten)]
        target: Target,
    },
    /// Listen on a local address and print every event received, verifying
    /// signatures with RECKON_WEBHOOK_SECRET when it is set (for wiring and testing).
    Listen {
        #[arg(long, default_value = "127.0.0.1:8787")]
        addr: String,
    },
    /// Print a new random webhook secret (whsec_…) for the sender and the receiver.
    Secret,
}

pub fn dispatch(action: Option<Action>, target: Target) -> anyhow::Result<i32> {
    match action {
        None => deliver(&target, false),
        Some(Action::Replay { target }) => deliver(&target, true),
        Some(Action::Status { out }) => status(&out),
        Some(Action::Listen { addr }) => listen(&addr),
        Some(Action::Secret) => {
            let mut key = [0u8; 32];
            std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut key)
                .context("reading /dev/urandom")?;
            outln!("{}", reckon_feed::sign::Secret::from_bytes(&key).expose());
            Ok(exit::OK)
        }
    }
}

fn usage(msg: String) -> anyhow::Error {
    anyhow::Error::new(reckon_pipeline::ConfigError::Parse("reckon feed".into(), msg))
}

fn sinks(t: &Target) -> anyhow::Result<Vec<Sink>> {
    let feed = match &t.config {
        Some(p) => Config::load(p)?.feed,
        None => reckon_feed::FeedConfig::default(),
    };
    let mut webhook = feed.webhook.clone();
    if let Some(url) = &t.to {
        let mut w = webhook.unwrap_or_else(|| WebhookConfig::for_url(url));
        w.url = url.clone();
        webhook = Some(w);
    }
    let mut camunda = feed.camunda.clone();
    if let Some(url) = &t.camunda {
        let mut c = camunda.unwrap_or_else(|| CamundaConfig::for_url(url));
        c.url = url.clone();
        camunda = Some(c);
    }
    let mut out = Vec::new();
    if let Some(mut w) = webhook {
        w.allow_http |= t.allow_http;
        if let Some(b) = t.batch_size {
            w.batch_size = b;
        }
        out.push(Sink::webhook(&w).map_err(|e| usage(e.to_string()))?);
    }
    if let Some(mut c) = camunda {
        c.allow_http |= t.allow_http;
        out.push(Sink::camunda(&c).map_err(|e| usage(e.to_string()))?);
    }
    if out.is_empty() {
        return Err(usage(
            "nothing to deliver to: give --to URL, --camunda URL, or a --config with [feed.webhook]".into(),
        ));
    }
    Ok(out)
}

fn deliver(t: &Target, replay: bool) -> anyhow::Result<i32> {
    let out = t.out.as_deref().ok_or_else(|| usage("--out DIR (the run's output folder) is required".into()))?;
    let sinks = sinks(t)?;
    let mut code = exit::OK;
    for sink in &sinks {
        let dir = out.join("outbox").join(sink.name());
        let mut ob = Outbox::open(&dir)?;
        if replay {
            let n = ob.requeue_dead()?;
            outln!("{}: {n} dead-lettered message(s) put back in the queue", sink.name());
        }
        let jsonl = out.join("exceptions.jsonl");
        if jsonl.exists() {
            let added = ob.enqueue_file(&jsonl, sink.batch_size())?;
            tracing::info!(sink = sink.name(), added, "enqueued");
        } else if ob.status().batches == 0 {
            return Err(usage(format!(
                "{} not found: run `reckon run --out {}` first",
                jsonl.display(),
                out.display()
            )));
        }
        let pending = ob.status().pending_batches as u64;
        let pb = progress(pending, sink.name());
        let report = reckon_feed::deliver::deliver(&mut ob, sink, &mut |done, _| pb.set_position(done as u64))?;
        pb.finish_and_clear();
        let status = ob.status();
        print_delivery(sink.name(), &report, &status);
        if status.dead_events > 0 || status.pending_events > 0 {
            code = exit::FEED_UNDELIVERED;
        }
    }
    Ok(code)
}

fn progress(n: u64, name: &str) -> indicatif::ProgressBar {
    if !crate::progress::visible() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(n);
    pb.set_message(format!("delivering to {name}"));
    pb
}

pub fn print_delivery(sink: &str, r: &Report, s: &Status) {
    let rate = if r.elapsed_ms > 0 { r.delivered_events as f64 * 1000.0 / r.elapsed_ms as f64 } else { 0.0 };
    outln!(
        "feed → {sink}: {} events delivered now ({} messages, {} retries, {:.0} events/s); outbox: {} of {} delivered, {} pending, {} dead{}",
        r.delivered_events,
        r.delivered_batches,
        r.retries,
        rate,
        s.delivered_events,
        s.events,
        s.pending_events,
        s.dead_events,
        if s.dead_events > 0 { " (see outbox dead_letter.jsonl; `reckon feed replay`)" } else { "" }
    );
}

fn status(out: &Path) -> anyhow::Result<i32> {
    let root = out.join("outbox");
    let mut all = serde_json::Map::new();
    let mut names: Vec<PathBuf> = match std::fs::read_dir(&root) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    for dir in names {
        let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let s = Outbox::peek(&dir)?;
        all.insert(name, serde_json::to_value(&s)?);
    }
    outln!("{}", serde_json::to_string_pretty(&all)?);
    Ok(exit::OK)
}

fn listen(addr: &str) -> anyhow::Result<i32> {
    let secrets = match std::env::var("RECKON_WEBHOOK_SECRET") {
        Ok(v) if !v.trim().is_empty() => {
            v.split_whitespace().map(reckon_feed::sign::Secret::parse).collect::<Result<Vec<_>, _>>()?
        }
        _ => Vec::new(),
    };
    let r = reckon_feed::receiver::Receiver::start(addr, secrets.clone())
        .with_context(|| format!("listening on {addr}"))?;
    outln!(
        "listening on {} ({}); Ctrl-C to stop",
        r.url(),
        if secrets.is_empty() {
            "signatures not checked: RECKON_WEBHOOK_SECRET not set"
        } else {
            "verifying signatures"
        }
    );
    let mut shown = 0;
    loop {
        let got = r.accepted();
        for m in &got[shown..] {
            for id in reckon_feed::receiver::event_ids(&m.body) {
                outln!(
                    "{}\t{}\t{}\t{}",
                    m.webhook_id,
                    id,
                    m.path,
                    if m.verified == Some(true) { "verified" } else { "unsigned" }
                );
            }
        }
        shown = got.len();
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
