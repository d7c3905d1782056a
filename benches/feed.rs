//! Feed delivery throughput (events/s) to a receiver on loopback, beside a
//! baseline in the same process: the same request bodies POSTed with the same
//! HTTP client, without the outbox (fsynced log per message) and without signing.
//! The gap is the price of durability and signatures per message.

use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use reckon_feed::deliver::{RetryConfig, Sink, deliver};
use reckon_feed::outbox::Outbox;
use reckon_feed::receiver::Receiver;
use reckon_feed::sign::Secret;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn events(n: usize) -> Vec<serde_json::Value> {
    (0..n)
        .map(|i| {
            serde_json::json!({
                "specversion": "1.0", "id": format!("EX-{i:06}"), "source": "urn:reckon:run",
                "type": "com.reckon.exception.suggested_match", "time": "2026-03-31T18:00:00Z",
                "subject": format!("bank_transactions:T{i}"), "datacontenttype": "application/json",
                "data": {
                    "exception_id": format!("EX-{i:06}"), "run_id": "R-1", "kind": "suggested_match",
                    "band": "review", "score": 0.91, "confidence": 0.91, "entity": "DE01", "currency": "EUR",
                    "amount": "1234.50", "records": [format!("bank_transactions:T{i}"), format!("ar_open_items:AR{i}")],
                    "reasons": [{"code": "evidence", "text": "invoice AR123 in text; payer name 0.94 like alias", "weight": 1.0}],
                    "recommended_action": "confirm the proposed invoices or choose others", "model": null
                }
            })
        })
        .collect()
}

fn feed(c: &mut Criterion) {
    let key = Secret::from_bytes(&[7u8; 32]);
    let r = Receiver::start("127.0.0.1:0", vec![key.clone()]).unwrap_or_else(|e| panic!("{e}"));
    let retry = RetryConfig { timeout_ms: 5_000, ..RetryConfig::default() };
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(5))).build().into();
    for (batch, n) in [(50usize, 5_000usize), (1, 500)] {
        let evs = events(n);
        let mut g = c.benchmark_group(format!("feed/batch{batch}"));
        g.throughput(Throughput::Elements(n as u64));
        g.sample_size(10);
        let sink = Sink::Webhook { url: r.url(), secrets: vec![key.clone()], batch_size: batch, retry: retry.clone() };
        g.bench_function("reckon (outbox + signature)", |b| {
            b.iter_batched(
                || {
                    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
                    let mut ob = Outbox::open(&d.path().join("webhook")).unwrap_or_else(|e| panic!("{e}"));
                    ob.enqueue(&evs, batch).unwrap_or_else(|e| panic!("{e}"));
                    (d, ob)
                },
                |(_d, mut ob)| {
                    let rep = deliver(&mut ob, &sink, &mut |_, _| {}).unwrap_or_else(|e| panic!("{e}"));
                    assert_eq!(rep.delivered_events, n);
                },
                BatchSize::PerIteration,
            )
        });
        let bodies: Vec<Vec<u8>> = evs
            .chunks(batch)
            .map(|ch| if ch.len() == 1 { serde_json::to_vec(&ch[0]) } else { serde_json::to_vec(ch) })
            .map(|b| b.unwrap_or_default())
            .collect();
        let url = format!("http://{}/baseline", r.addr());
        // The baseline posts unsigned: this receiver verifies signatures, so it answers 401
        // after reading the whole request — the same HTTP work, without reckon's part.
        g.bench_function("baseline (plain POST)", |b| {
            b.iter(|| {
                for body in &bodies {
                    let _ = agent.post(&url).header("content-type", "application/json").send(&body[..]);
                }
            })
        });
        g.finish();
    }
}

criterion_group!(benches, feed);
criterion_main!(benches);
