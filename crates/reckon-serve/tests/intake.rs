//! The decisions intake on loopback: signed requests are recorded once;
//! unsigned, badly signed, stale, replayed, oversized and malformed ones are
//! refused and change nothing; a decision above the four-eyes limit waits for
//! a second person; a store held by a run gives 503 with Retry-After.

use std::path::Path;

use reckon_feed::sign::{Secret, signature_header};
use reckon_feed::{Band, Exception, ExceptionKind};
use reckon_serve::{ServeConfig, start};
use reckon_state::{DecisionStatus, ExceptionRecord, ExceptionState, NewRun, RunChanges, Store};

/// A store with one open `unmatched_receipt` about bank entry T1 (EUR 1,200.00).
fn seed(path: &Path) -> String {
    let records = vec!["bank_transactions:T1".to_string()];
    let e = Exception {
        exception_id: Exception::id_for(ExceptionKind::UnmatchedReceipt, &records),
        run_id: "r1".into(),
        kind: ExceptionKind::UnmatchedReceipt,
        band: Band::Review,
        score: 0.5,
        confidence: 0.0,
        entity: None,
        currency: Some("EUR".into()),
        amount: Some("1200.00".into()),
        records: records.clone(),
        reasons: vec![],
        recommended_action: "identify the payer".into(),
        model: None,
        priority: 2,
        lifecycle: None,
    };
    let rec = ExceptionRecord::first_raised(&e, "2026-11-02");
    let mut s = Store::open(path).unwrap_or_else(|e| panic!("{e}"));
    let ch = RunChanges {
        bank: reckon_state::BankChanges {
            entries: vec![reckon_state::EntryChange {
                txn_id: "T1".into(),
                amount_minor: 120_000,
                currency: "EUR".into(),
                status: reckon_state::EntryStatus::Open,
                settled_by: None,
            }],
            ..reckon_state::BankChanges::default()
        },
        exceptions: vec![rec],
        ..RunChanges::new(NewRun {
            run_id: "r1".into(),
            as_of: "2026-11-02".into(),
            started_at: "2026-11-02T18:00:00Z".into(),
            input: "in".into(),
            output: "out".into(),
        })
    };
    let p = s.begin_run(&ch).unwrap_or_else(|e| panic!("{e}"));
    assert!(p.check().balanced, "{:?}", p.check());
    p.commit("0".repeat(64).as_str(), "2026-11-02T18:01:00Z").unwrap_or_else(|e| panic!("{e}"));
    e.exception_id
}

struct Client {
    url: String,
    secret: Secret,
}

impl Client {
    fn post(&self, id: &str, ts: i64, body: &str, sign: Option<&Secret>) -> (u16, serde_json::Value) {
        self.try_post(id, ts, body, sign).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_post(
        &self,
        id: &str,
        ts: i64,
        body: &str,
        sign: Option<&Secret>,
    ) -> Result<(u16, serde_json::Value), ureq::Error> {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut req = agent.post(&self.url).header("content-type", "application/json");
        if let Some(s) = sign {
            req = req
                .header("webhook-id", id)
                .header("webhook-timestamp", &ts.to_string())
                .header("webhook-signature", &signature_header(std::slice::from_ref(s), id, ts, body.as_bytes()));
        }
        let mut r = req.send(body)?;
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        Ok((status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)))
    }

    fn send(&self, id: &str, body: &str) -> (u16, serde_json::Value) {
        self.post(id, chrono::Utc::now().timestamp(), body, Some(&self.secret))
    }
}

fn decision(id: &str, ex: &str, action: &str, actor: &str) -> serde_json::Value {
    serde_json::json!({"decision_id": id, "exception_id": ex, "action": action, "actor": actor,
        "decided_at": "2026-11-03T09:00:00Z", "comment": "not receivables"})
}

#[test]
fn signed_decisions_in_everything_else_out() {
    let t = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = t.path().join("state.db");
    let ex = seed(&state);
    let secret = Secret::from_bytes(b"intake-test-secret-0123456789abcdef");
    let policy = toml_policy(r#"four_eyes_above = { EUR = "1000.00" }"#);
    let addr = "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}"));
    let server =
        start(ServeConfig::new(addr, state.clone(), vec![secret.clone()], policy)).unwrap_or_else(|e| panic!("{e}"));
    let c = Client { url: format!("http://{}/decisions", server.addr()), secret: secret.clone() };
    let body = decision("D1", &ex, "dismiss", "alice").to_string();
    let now = chrono::Utc::now().timestamp();

    // Refused, nothing recorded: unsigned, signed with another key, stale.
    assert_eq!(c.post("msg_1", now, &body, None).0, 401);
    let other = Secret::from_bytes(b"someone-else-entirely-0123456789ab");
    let (s, why) = c.post("msg_1", now, &body, Some(&other));
    assert_eq!(s, 401, "{why}");
    let (s, why) = c.post("msg_1", now - 3600, &body, Some(&secret));
    assert_eq!(s, 401);
    assert!(why["error"].as_str().is_some_and(|e| e.contains("timestamp")), "{why}");
    assert!(
        Store::open(&state).and_then(|mut s| s.decisions()).unwrap_or_default().is_empty(),
        "refused requests record nothing"
    );

    // Signed: recorded; above the four-eyes limit it waits for a second person.
    let (s, v) = c.send("msg_1", &body);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["verdicts"][0]["status"], "pending_approval", "{v}");
    // The same message again is a replay.
    let (s, v) = c.send("msg_1", &body);
    assert_eq!(s, 409, "{v}");
    // The same decision under a new message id changes nothing.
    let (s, v) = c.send("msg_2", &body);
    assert_eq!((s, v["verdicts"][0]["duplicate"].clone()), (200, serde_json::Value::Bool(true)), "{v}");
    // The same person cannot approve; another can.
    let approve = |id: &str, who: &str| {
        serde_json::json!({"decision_id": id, "action": "approve", "actor": who,
            "decided_at": "2026-11-03T10:00:00Z", "target": "D1"})
        .to_string()
    };
    let (_, v) = c.send("msg_3", &approve("D2", "alice"));
    assert_eq!(v["verdicts"][0]["status"], "refused", "{v}");
    let (_, v) = c.send("msg_4", &format!("[{}, {{\"decision_id\": \"\"}}]", approve("D3", "bob")));
    assert_eq!(v["verdicts"][0]["status"], "applied", "{v}");
    assert_eq!(v["unreadable"].as_array().map(Vec::len), Some(1), "{v}");
    let mut s = Store::open(&state).unwrap_or_else(|e| panic!("{e}"));
    let d1 = s.decisions().unwrap_or_default().into_iter().find(|d| d.decision_id == "D1");
    assert_eq!(d1.as_ref().map(|d| d.status), Some(DecisionStatus::Applied), "{d1:?}");
    assert_eq!(d1.and_then(|d| d.approved_by).as_deref(), Some("bob"));
    let x = s.exceptions(Some(ExceptionState::Resolved)).unwrap_or_default();
    assert_eq!(x.len(), 1, "dismissed after approval");
    drop(s);

    // A run holds the store: 503 with Retry-After, nothing recorded.
    let mut short = ServeConfig::new(addr, state.clone(), vec![secret.clone()], reckon_state::Policy::default());
    short.lock_wait = std::time::Duration::from_millis(300);
    drop(server);
    let server = start(short).unwrap_or_else(|e| panic!("{e}"));
    let c = Client { url: format!("http://{}/decisions", server.addr()), secret };
    let held = Store::open(&state).unwrap_or_else(|e| panic!("{e}"));
    let (s, v) = c.send("msg_5", &decision("D9", &ex, "dismiss", "carol").to_string());
    assert_eq!(s, 503, "{v}");
    drop(held);
    let (s, v) = c.send("msg_5", &decision("D9", &ex, "dismiss", "carol").to_string());
    assert_eq!((s, v["verdicts"][0]["status"].clone()), (200, "refused".into()), "resolved already: {v}");
    // Malformed and oversized bodies.
    let (s, v) = c.send("msg_6", "{not json");
    assert_eq!(s, 400, "{v}");
    let big = format!("[{}]", vec![decision("D8", &ex, "dismiss", "carol").to_string(); 20_000].join(","));
    // Refused with 413 — or, when the server closes before the client has sent
    // it all (HTTP/1.1 allows that), as a broken connection; never taken.
    match c.try_post("msg_7", chrono::Utc::now().timestamp(), &big, Some(&c.secret)) {
        Ok((s, v)) => assert_eq!(s, 413, "{v}"),
        Err(e) => assert!(matches!(e, ureq::Error::Io(_)), "{e}"),
    }
    let mut s = Store::open(&state).unwrap_or_else(|e| panic!("{e}"));
    assert!(!s.decisions().unwrap_or_default().iter().any(|d| d.decision_id == "D8"));
    drop(s);
    assert_eq!(c.send("msg_8", "[]").0, 200);
    server.stop();
}

fn toml_policy(text: &str) -> reckon_state::Policy {
    let cfg: reckon_state::DecisionsConfig = toml::from_str(text).unwrap_or_else(|e| panic!("{e}"));
    cfg.build().unwrap_or_else(|e| panic!("{e}"))
}
