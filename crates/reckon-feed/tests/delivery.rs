//! Delivery against a real HTTP receiver on loopback, with faults injected:
//! 5xx, 429 with Retry-After, hangs past the client timeout, dropped
//! connections, a receiver restart, a message refused for good (dead letter,
//! then replay), Camunda's publish API, and key rotation. After each scenario
//! the receiver must hold every event exactly once (by `webhook-id`), every
//! signature must verify, and the outbox must agree.

use std::time::Duration;

use reckon_feed::deliver::{RetryConfig, Sink, deliver};
use reckon_feed::outbox::Outbox;
use reckon_feed::receiver::{Fault, Receiver};
use reckon_feed::sign::Secret;

fn events(n: usize) -> Vec<serde_json::Value> {
    (0..n)
        .map(|i| {
            serde_json::json!({
                "specversion": "1.0", "id": format!("EX-{i:04}"), "source": "urn:reckon:run",
                "type": "com.reckon.exception.unmatched_receipt", "time": "2026-03-01T00:00:00Z",
                "subject": format!("bank_transactions:T{i}"),
                "data": { "exception_id": format!("EX-{i:04}"), "amount": "12.50", "currency": "EUR" }
            })
        })
        .collect()
}

fn fast_retry() -> RetryConfig {
    RetryConfig { max_attempts: 10, base_ms: 5, max_ms: 50, timeout_ms: 400, retry_after_max_ms: 2_000 }
}

fn webhook(r: &Receiver, secrets: Vec<Secret>, batch_size: usize) -> Sink {
    Sink::Webhook { url: r.url(), secrets, batch_size, retry: fast_retry() }
}

fn key(b: u8) -> Secret {
    Secret::from_bytes(&[b; 32])
}

/// Every event held exactly once, every accepted request verified.
fn assert_exactly_once(r: &Receiver, n: usize) {
    let refused = r.refused();
    assert!(refused.is_empty(), "{} requests failed signature verification: {:?}", refused.len(), refused.first());
    let held = r.unique_events();
    assert_eq!(held.len(), n, "events held");
    assert!(held.values().all(|c| *c == 1), "an event held twice: {held:?}");
    assert!(r.accepted().iter().all(|a| a.verified == Some(true)), "unverified request accepted");
}

#[test]
fn transient_faults_are_retried_until_every_event_arrives_once() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let r = Receiver::start("127.0.0.1:0", vec![key(7)]).unwrap_or_else(|e| panic!("{e}"));
    r.push_faults([
        Fault::Status(500),
        Fault::Status(502),
        Fault::RetryAfter(429, 1),
        Fault::Hang(Duration::from_millis(700)),
        Fault::Drop,
        Fault::Status(503),
        Fault::Drop,
    ]);
    let mut ob = Outbox::open(&d.path().join("webhook")).unwrap_or_else(|e| panic!("{e}"));
    ob.enqueue(&events(120), 10).unwrap_or_else(|e| panic!("{e}"));
    let t0 = std::time::Instant::now();
    let rep = deliver(&mut ob, &webhook(&r, vec![key(7)], 10), &mut |_, _| {}).unwrap_or_else(|e| panic!("{e}"));
    assert!(t0.elapsed() >= Duration::from_secs(1), "Retry-After: 1 was not honoured");
    assert_eq!((rep.delivered_batches, rep.delivered_events, rep.dead_batches), (12, 120, 0));
    assert_eq!(rep.retries, 7, "one retry per injected fault");
    assert_exactly_once(&r, 120);
    let s = ob.status();
    assert_eq!((s.delivered_events, s.pending_events, s.dead_events, s.retries), (120, 0, 0, 7));
    assert!(r.accepted().iter().all(|a| a.content_type == "application/cloudevents-batch+json"));
    eprintln!(
        "faults 500,502,429+Retry-After,hang,drop,503,drop: {} requests for 12 batches, {} retries",
        r.requests(),
        rep.retries
    );
}

#[test]
fn a_receiver_restart_mid_delivery_loses_nothing() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut r = Receiver::start("127.0.0.1:0", vec![key(3)]).unwrap_or_else(|e| panic!("{e}"));
    r.set_delay(Duration::from_millis(5));
    let url = r.url();
    let dir = d.path().join("webhook");
    let sink = Sink::Webhook {
        url,
        secrets: vec![key(3)],
        batch_size: 1,
        retry: RetryConfig { max_attempts: 50, base_ms: 20, max_ms: 100, timeout_ms: 400, retry_after_max_ms: 1000 },
    };
    let worker = std::thread::spawn(move || {
        let mut ob = Outbox::open(&dir).unwrap_or_else(|e| panic!("{e}"));
        ob.enqueue(&events(60), 1).unwrap_or_else(|e| panic!("{e}"));
        let rep = deliver(&mut ob, &sink, &mut |_, _| {}).unwrap_or_else(|e| panic!("{e}"));
        (rep, ob.status())
    });
    let t0 = std::time::Instant::now();
    while r.unique_events().len() < 15 {
        assert!(t0.elapsed() < Duration::from_secs(60), "no 15 events within 60 s: delivery made no progress");
        assert!(!worker.is_finished(), "delivery ended before the receiver restart");
        std::thread::sleep(Duration::from_millis(5));
    }
    r.stop();
    std::thread::sleep(Duration::from_millis(400));
    r.restart().unwrap_or_else(|e| panic!("{e}"));
    let (rep, status) = worker.join().unwrap_or_else(|_| panic!("delivery thread panicked"));
    assert_exactly_once(&r, 60);
    assert_eq!((status.delivered_events, status.pending_events, status.dead_events), (60, 0, 0));
    assert!(rep.retries >= 1, "the restart should have cost at least one retry");
    eprintln!("receiver restart: 60 events, {} retries while it was down", rep.retries);
}

#[test]
fn refused_messages_go_to_the_dead_letter_file_and_replay_delivers_them() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let r = Receiver::start("127.0.0.1:0", vec![key(1)]).unwrap_or_else(|e| panic!("{e}"));
    let dir = d.path().join("webhook");
    let mut ob = Outbox::open(&dir).unwrap_or_else(|e| panic!("{e}"));
    ob.enqueue(&events(5), 1).unwrap_or_else(|e| panic!("{e}"));
    // A 400 is the receiver refusing the message: no retry. Then a batch that keeps failing.
    r.push_faults([Fault::Status(400)]);
    r.push_faults(std::iter::repeat_n(Fault::Status(500), 3));
    let mut sink = webhook(&r, vec![key(1)], 1);
    if let Sink::Webhook { retry, .. } = &mut sink {
        retry.max_attempts = 3;
    }
    let rep = deliver(&mut ob, &sink, &mut |_, _| {}).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((rep.delivered_events, rep.dead_events), (3, 2));
    let dl = std::fs::read_to_string(dir.join("dead_letter.jsonl")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dl.lines().count(), 2);
    assert!(dl.contains("HTTP 400") && dl.contains("HTTP 500"));
    // Replay: the dead batches go out again (same webhook-id), nothing else does.
    assert_eq!(ob.requeue_dead().unwrap_or_else(|e| panic!("{e}")), 2);
    let rep = deliver(&mut ob, &sink, &mut |_, _| {}).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((rep.delivered_events, rep.dead_events), (2, 0));
    assert_exactly_once(&r, 5);
    assert_eq!(ob.status().delivered_events, 5);
}

#[test]
fn a_rotated_key_still_verifies_and_a_wrong_key_is_refused() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // The receiver still has only the old key; reckon signs with new and old.
    let r = Receiver::start("127.0.0.1:0", vec![key(1)]).unwrap_or_else(|e| panic!("{e}"));
    let mut ob = Outbox::open(&d.path().join("a")).unwrap_or_else(|e| panic!("{e}"));
    ob.enqueue(&events(3), 1).unwrap_or_else(|e| panic!("{e}"));
    deliver(&mut ob, &webhook(&r, vec![key(2), key(1)], 1), &mut |_, _| {}).unwrap_or_else(|e| panic!("{e}"));
    assert_exactly_once(&r, 3);
    // Signed with a key the receiver does not know: 401 is a refusal, dead-lettered.
    let mut ob = Outbox::open(&d.path().join("b")).unwrap_or_else(|e| panic!("{e}"));
    ob.enqueue(&events(1), 1).unwrap_or_else(|e| panic!("{e}"));
    let rep = deliver(&mut ob, &webhook(&r, vec![key(9)], 1), &mut |_, _| {}).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rep.dead_events, 1);
}

#[test]
fn camunda_messages_carry_the_exception_id_as_correlation_key_and_message_id() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let r = Receiver::start("127.0.0.1:0", vec![]).unwrap_or_else(|e| panic!("{e}"));
    // 409: Camunda already has a message with this id — that is success, not an error.
    r.push_faults([Fault::Status(500), Fault::Status(409)]);
    let base = format!("http://{}", r.addr());
    let mut c = reckon_feed::deliver::CamundaConfig::for_url(&base);
    c.retry = fast_retry();
    c.tenant_id = Some("finance".into());
    let sink = Sink::camunda(&c).unwrap_or_else(|e| panic!("{e}"));
    let mut ob = Outbox::open(&d.path().join("camunda")).unwrap_or_else(|e| panic!("{e}"));
    ob.enqueue(&events(4), sink.batch_size()).unwrap_or_else(|e| panic!("{e}"));
    let rep = deliver(&mut ob, &sink, &mut |_, _| {}).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rep.delivered_events, 4);
    let got = r.accepted();
    assert_eq!(got.len(), 3, "one was answered 409 (already published)");
    for a in &got {
        assert_eq!(a.path, "/v2/messages/publication");
        let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v["name"], "reckon-exception");
        assert_eq!(v["correlationKey"], v["messageId"]);
        assert_eq!(v["variables"]["exception"]["exception_id"], v["messageId"]);
        assert_eq!(v["tenantId"], "finance");
        assert!(v["timeToLive"].as_u64().is_some());
    }
}
