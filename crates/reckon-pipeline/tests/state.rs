//! Runs that remember (`--state`): carried bank entries, lifecycle, decisions,
//! controls, the chain's conservation and the store's failure modes, on small
//! day folders written by the test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use reckon_pipeline::{Config, RunError, RunOptions};
use reckon_state::{DecisionStatus, Store};

const BANK_HEADER: &str = "txn_id,account_id,booking_date,value_date,amount,currency,counterparty_name,counterparty_account,end_to_end_id,reference,description,bank_code,instructed_amount,instructed_currency";
const AR_HEADER: &str =
    "item_id,entity,customer_id,customer_name,invoice_number,invoice_date,due_date,amount_open,currency";
const REMIT_HEADER: &str = "remittance_id,payment_ref,payer_name,advice_date,invoice_ref,paid_amount,discount_amount,deduction_amount,deduction_reason,currency";
const GL_HEADER: &str = "journal_id,line_no,entity,account,cost_center,posting_date,document_date,fiscal_period,amount,currency,preparer_id,approver_id,source,description,created_at";

fn bank(id: &str, date: &str, amount: &str, name: &str, e2e: &str, reference: &str, text: &str) -> String {
    format!("{id},DE89370400440532013000,{date},{date},{amount},EUR,{name},,{e2e},{reference},{text},PMNT-RCDT-ESCT,,")
}

fn item(id: &str, cust: &str, name: &str, inv: &str, amount: &str) -> String {
    format!("{id},DE01,{cust},{name},{inv},2026-10-01,2026-10-31,{amount},EUR")
}

fn write_day(dir: &Path, bank_rows: &[String], ar: &[String], remit: &[String], gl: &[String]) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
    let w = |name: &str, header: &str, rows: &[String]| {
        let mut t = String::from(header);
        t.push('\n');
        for r in rows {
            t.push_str(r);
            t.push('\n');
        }
        std::fs::write(dir.join(name), t).unwrap_or_else(|e| panic!("{e}"));
    };
    w("bank_transactions.csv", BANK_HEADER, bank_rows);
    w("ar_open_items.csv", AR_HEADER, ar);
    w(
        "customers.csv",
        "customer_id,name,aliases,ibans,tax_id",
        &["C1,Acme GmbH,,,".into(), "C2,Beta AG,,,".into(), "C3,Gamma SA,,,".into(), "C4,Delta Handels GmbH,,,".into()],
    );
    if !remit.is_empty() {
        w("remittances.csv", REMIT_HEADER, remit);
    }
    if !gl.is_empty() {
        w("gl_journal_lines.csv", GL_HEADER, gl);
    }
}

fn ar_day1() -> Vec<String> {
    vec![
        item("AR-100", "C1", "Acme GmbH", "INV-100", "1000.00"),
        item("AR-200", "C2", "Beta AG", "INV-200", "500.00"),
        item("AR-300", "C3", "Gamma SA", "INV-300", "250.00"),
        item("AR-400", "C1", "Acme GmbH", "INV-400", "300.00"),
    ]
}

fn gl(lines: usize) -> Vec<String> {
    // One journal that does not balance (a control violation) prepared by u1.
    let mut v = vec![
        "J1,1,DE01,1200,,2026-11-02,2026-11-02,2026-11,100.00,EUR,u1,,manual,adjustment,2026-11-02T10:00:00Z"
            .to_string(),
        "J1,2,DE01,4000,,2026-11-02,2026-11-02,2026-11,-90.00,EUR,u1,,manual,adjustment,2026-11-02T10:00:00Z"
            .to_string(),
    ];
    for i in 2..lines {
        v.push(format!(
            "J1,{},DE01,4100,,2026-11-02,2026-11-02,2026-11,-1.00,EUR,u1,,manual,adjustment,2026-11-02T10:00:00Z",
            i + 1
        ));
    }
    v
}

fn opts(input: &Path, out: &Path, state: &Path, day: u32, config: Config) -> RunOptions {
    let mut o = RunOptions::new(input, out, config);
    o.state = Some(state.to_path_buf());
    o.started_at = chrono::DateTime::parse_from_rfc3339(&format!("2026-11-{day:02}T18:00:00Z"))
        .ok()
        .map(|d| d.with_timezone(&chrono::Utc));
    o.as_of = chrono::NaiveDate::from_ymd_opt(2026, 11, day);
    o
}

fn rules() -> Config {
    let mut c = Config::default();
    c.cash.model = "rules".into();
    c
}

fn read(p: &Path) -> DataFrame {
    let f = std::fs::File::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    ParquetReader::new(f).finish().unwrap_or_else(|e| panic!("{e}"))
}

fn strs(df: &DataFrame, c: &str) -> Vec<String> {
    df.column(c)
        .unwrap_or_else(|e| panic!("{c}: {e}"))
        .str()
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect()
}

/// Exceptions by subject: (exception_id, kind, state, age_days).
fn exceptions(out: &Path) -> BTreeMap<String, (String, String, String, i32)> {
    let df = read(&out.join("exceptions.parquet"));
    let (id, kind, rec, st) = (strs(&df, "exception_id"), strs(&df, "kind"), strs(&df, "records"), strs(&df, "state"));
    let age: Vec<i32> = df
        .column("age_days")
        .unwrap_or_else(|e| panic!("{e}"))
        .i32()
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|v| v.unwrap_or(-1))
        .collect();
    (0..df.height())
        .map(|i| {
            let subject = rec[i].split('|').next().unwrap_or("").to_string();
            (subject, (id[i].clone(), kind[i].clone(), st[i].clone(), age[i]))
        })
        .collect()
}

fn events(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("exceptions.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn manifest(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn decisions_file(dir: &Path, name: &str, lines: &[serde_json::Value]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
    let p = dir.join(name);
    let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    std::fs::write(&p, text.join("\n") + "\n").unwrap_or_else(|e| panic!("{e}"));
    p
}

fn submit(state: &Path, file: &Path, policy: &reckon_state::Policy) -> Vec<reckon_state::Verdict> {
    let (ok, bad) = reckon_state::decision::read_file(file).unwrap_or_else(|e| panic!("{e}"));
    assert!(bad.is_empty(), "{bad:?}");
    let mut s = Store::open(state).unwrap_or_else(|e| panic!("{e}"));
    s.submit(&ok, policy, "2026-11-02T20:00:00Z").unwrap_or_else(|e| panic!("{e}"))
}

/// Three days: carry-forward, a remittance after its payment, an invoice posted
/// after it was paid, an item reckon applied that the ERP has not posted, a
/// bank entry sent again, a decision applied, a payer name learned and used,
/// lifecycle ids and events, the chain's conservation and the audit trail.
#[test]
fn three_days_remember() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    three_days(tmp.path(), &tmp.path().join("state.db"));
}

/// A fresh PostgreSQL database for one test from `RECKON_TEST_POSTGRES` (a
/// server address; `tests/postgres/server.sh` starts one); `None` without it
/// — under CI that is a failure, not a skip.
fn pg_database(name: &str) -> Option<PathBuf> {
    let Ok(url) = std::env::var("RECKON_TEST_POSTGRES") else {
        assert!(std::env::var_os("CI").is_none(), "CI runs the store's tests on PostgreSQL: set RECKON_TEST_POSTGRES");
        eprintln!("skipped on PostgreSQL: RECKON_TEST_POSTGRES is not set");
        return None;
    };
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| panic!("{url}: {e}"));
    c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .and_then(|()| c.batch_execute(&format!("CREATE DATABASE {name}")))
        .unwrap_or_else(|e| panic!("{e}"));
    let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
    Some(PathBuf::from(format!("{base}/{name}")))
}

/// The same days on PostgreSQL, and the same final state as on SQLite.
#[test]
fn three_days_on_postgres_end_as_on_sqlite() {
    let Some(pg) = pg_database("reckon_three_days") else { return };
    let (a, b) = (tempfile::tempdir(), tempfile::tempdir());
    let (a, b) = (a.unwrap_or_else(|e| panic!("{e}")), b.unwrap_or_else(|e| panic!("{e}")));
    three_days(a.path(), &pg);
    let lite = b.path().join("state.db");
    three_days(b.path(), &lite);
    let on_pg = Store::open(&pg).and_then(|mut s| s.canonical()).unwrap_or_else(|e| panic!("{e}"));
    let on_lite = Store::open(&lite).and_then(|mut s| s.canonical()).unwrap_or_else(|e| panic!("{e}"));
    for (table, rows) in on_lite.as_object().into_iter().flatten() {
        assert_eq!(&on_pg[table], rows, "{table} differs between SQLite and PostgreSQL");
    }
    assert!(on_lite["bank_entries"].as_array().is_some_and(|r| r.len() >= 5), "{on_lite}");
    // One process at a time on PostgreSQL too (an advisory lock).
    let held = Store::open(&pg).unwrap_or_else(|e| panic!("{e}"));
    let e = Store::open(&pg).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("in use by another reckon process"), "{e}");
    assert!(!e.contains("password"), "{e}");
    drop(held);
    assert!(Store::open(&pg).is_ok(), "the lock goes with the connection");
}

fn three_days(t: &Path, state: &Path) {
    three_days_in(t, state, None);
}

/// The three days, with the built-in stages in the order `order` forces
/// (`None`: as they come).
fn three_days_in(t: &Path, state: &Path, order: Option<BankOrder>) {
    let run = |o: &RunOptions| match order {
        None => reckon_pipeline::run(o),
        Some(order) => reckon_pipeline::run_stages(o, &ordered(&o.config, order)),
    };
    let state = state.to_path_buf();
    // Day 1: T1 pays INV-100 by reference; T2's advice and invoice come
    // tomorrow; T3 is from a payer name nobody knows.
    let t1 = bank("T1", "2026-11-02", "1000.00", "ACME GMBH", "", "INV-100", "INV-100");
    let day1 = [
        t1.clone(),
        bank("T2", "2026-11-02", "777.00", "DELTA HANDELS", "E2E-2", "", "Sammelzahlung"),
        bank("T3", "2026-11-02", "500.00", "BX TREASURY SVCS", "", "", "payment"),
    ];
    write_day(&t.join("d1"), &day1, &ar_day1(), &[], &gl(2));
    let o1 = run(&opts(&t.join("d1"), &t.join("o1"), &state, 2, rules())).unwrap_or_else(|e| panic!("day 1: {e}"));
    assert!(o1.manifest.conservation.balanced);
    let ex1 = exceptions(&t.join("o1"));
    let x2 = ex1.get("bank_transactions:T2").unwrap_or_else(|| panic!("T2 not raised: {ex1:?}")).clone();
    let x3 = ex1.get("bank_transactions:T3").unwrap_or_else(|| panic!("T3 not raised: {ex1:?}")).clone();
    assert!(!ex1.contains_key("bank_transactions:T1"), "T1 pays INV-100 by reference: {ex1:?}");
    assert_eq!((x2.2.as_str(), x2.3), ("new", 0));
    assert_eq!(events(&t.join("o1")).len(), ex1.len(), "day 1: every exception is new");

    // A person matches T3 to INV-200; the workflow engine sends it twice; a
    // decision on an unknown exception and a reused id are refused.
    let d = decisions_file(
        &t.join("dec"),
        "a.jsonl",
        &[
            serde_json::json!({"decision_id": "D1", "exception_id": x3.0, "action": "match", "actor": "alice",
                "decided_at": "2026-11-02T19:00:00Z", "items": [{"item_id": "AR-200"}], "comment": "Beta pays via its treasury"}),
            serde_json::json!({"decision_id": "D1", "exception_id": x3.0, "action": "match", "actor": "alice",
                "decided_at": "2026-11-02T19:00:00Z", "items": [{"item_id": "AR-200"}], "comment": "Beta pays via its treasury"}),
            serde_json::json!({"decision_id": "D2", "exception_id": "EX-nope", "action": "dismiss", "actor": "alice",
                "decided_at": "2026-11-02T19:01:00Z"}),
            serde_json::json!({"decision_id": "D1", "exception_id": x2.0, "action": "dismiss", "actor": "bob",
                "decided_at": "2026-11-02T19:02:00Z"}),
            serde_json::json!({"decision_id": "D3", "exception_id": x2.0, "action": "match", "actor": "alice",
                "decided_at": "2026-11-02T19:03:00Z", "items": [{"item_id": "AR-300", "amount": "800.00"}]}),
        ],
    );
    let v = submit(&state, &d, &reckon_state::Policy::default());
    let st: Vec<(Option<DecisionStatus>, bool)> = v.iter().map(|v| (v.status, v.duplicate)).collect();
    assert_eq!(
        st,
        vec![
            (Some(DecisionStatus::Accepted), false),
            (Some(DecisionStatus::Accepted), true),
            (Some(DecisionStatus::Refused), false),
            (None, false),
            (Some(DecisionStatus::Refused), false),
        ],
        "{v:#?}"
    );
    assert!(v[2].reason.as_deref().is_some_and(|r| r.contains("unknown exception EX-nope")), "{v:#?}");
    assert!(v[3].reason.as_deref().is_some_and(|r| r.contains("already used")), "{v:#?}");
    assert!(v[4].reason.as_deref().is_some_and(|r| r.contains("more than the payment")), "{v:#?}");

    // Day 2: the advice for T2 and its invoice arrive; the ERP has not posted
    // T1's application (INV-100 still shows 1000.00 open); a second payment of
    // INV-100 arrives; the bank sends T1 again in an overlapping statement.
    let mut ar2 = ar_day1();
    ar2.push(item("AR-700", "C4", "Delta Handels GmbH", "INV-700", "777.00"));
    let day2 = [t1, bank("T4", "2026-11-03", "1000.00", "ACME GMBH", "", "INV-100", "INV-100 again")];
    let remit2 = ["R1,E2E-2,DELTA HANDELS,2026-11-03,INV-700,777.00,,,,EUR".to_string()];
    write_day(&t.join("d2"), &day2, &ar2, &remit2, &gl(2));
    let o2 = run(&opts(&t.join("d2"), &t.join("o2"), &state, 3, rules())).unwrap_or_else(|e| panic!("day 2: {e}"));
    assert!(o2.manifest.conservation.balanced, "{:?}", o2.manifest.conservation.problems);
    let m2 = manifest(&t.join("o2"));
    assert_eq!(m2["state"]["carried"], 2, "T2 and T3 carried: {}", m2["state"]);
    assert_eq!(m2["state"]["redelivered"], 1, "T1 sent again is refused");
    assert_eq!(m2["state"]["chain"]["balanced"], true, "{}", m2["state"]["chain"]);
    assert_eq!(m2["state"]["chain"]["runs"], 2);
    assert_eq!(m2["state"]["decisions_applied"], 1);
    let rejects = read(&t.join("o2/rejects.parquet"));
    assert!(strs(&rejects, "reason").iter().any(|r| r.contains("T1 was already matched")), "{rejects}");
    let matches = read(&t.join("o2/matches.parquet"));
    let (txn, itm, by) = (strs(&matches, "txn_id"), strs(&matches, "item_id"), strs(&matches, "decided_by"));
    let links: Vec<(String, String, String)> =
        (0..matches.height()).map(|i| (txn[i].clone(), itm[i].clone(), by[i].clone())).collect();
    assert!(links.contains(&("T2".into(), "AR-700".into(), String::new())), "advice after payment: {links:?}");
    assert!(links.contains(&("T3".into(), "AR-200".into(), "alice".into())), "decision applied: {links:?}");
    assert!(!links.iter().any(|l| l.0 == "T4" && l.1 == "AR-100"), "INV-100 is used once over the chain: {links:?}");
    let ex2 = exceptions(&t.join("o2"));
    assert!(!ex2.contains_key("bank_transactions:T2") && !ex2.contains_key("bank_transactions:T3"), "{ex2:?}");
    let x4 = ex2.get("bank_transactions:T4").unwrap_or_else(|| panic!("T4: {ex2:?}")).clone();
    assert_eq!(x4.2, "new");
    // The journal's exception is the same problem: same id, open, a day old,
    // and not sent again (nothing changed).
    let j1 = ex2.get("gl_journal_lines:DE01/J1").unwrap_or_else(|| panic!("J1: {ex2:?}"));
    assert_eq!((j1.0.as_str(), j1.2.as_str(), j1.3), (ex1["gl_journal_lines:DE01/J1"].0.as_str(), "open", 1));
    let ev2 = events(&t.join("o2"));
    let ty = |id: &str| -> Vec<String> {
        ev2.iter()
            .filter(|e| e["data"]["exception_id"] == id)
            .map(|e| e["type"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(ty(&x2.0), vec!["com.reckon.exception.resolved"]);
    assert_eq!(ty(&x3.0), vec!["com.reckon.exception.resolved"]);
    assert!(ty(&j1.0).is_empty(), "unchanged open exceptions are not delivered again");
    let res = ev2.iter().find(|e| e["data"]["exception_id"] == x3.0.as_str()).cloned().unwrap_or_default();
    let why = res["data"]["lifecycle"]["resolution"].as_str().unwrap_or("");
    assert!(why.contains("matched by decision D1 of alice"), "{why}");
    let why2 = ev2
        .iter()
        .find(|e| e["data"]["exception_id"] == x2.0.as_str())
        .map(|e| e["data"]["lifecycle"]["resolution"].to_string());
    assert!(why2.is_some_and(|w| w.contains("matched automatically")));

    // Day 3: Beta AG's treasury pays a new invoice; the name is known now.
    let mut ar3 = ar_day1();
    ar3.retain(|r| !r.starts_with("AR-200"));
    ar3.push(item("AR-201", "C2", "Beta AG", "INV-201", "123.45"));
    let day3 = [bank("T5", "2026-11-04", "123.45", "BX TREASURY SVCS", "", "", "payment")];
    write_day(&t.join("d3"), &day3, &ar3, &[], &gl(2));
    run(&opts(&t.join("d3"), &t.join("o3"), &state, 4, rules())).unwrap_or_else(|e| panic!("day 3: {e}"));
    let m3 = read(&t.join("o3/matches.parquet"));
    let (txn, itm, why) = (strs(&m3, "txn_id"), strs(&m3, "item_id"), strs(&m3, "reasons"));
    let i = (0..m3.height()).find(|&i| txn[i] == "T5").unwrap_or_else(|| panic!("T5 not linked: {m3}"));
    assert_eq!(itm[i], "AR-201");
    assert!(why[i].contains("payer name confirmed for customer C2 by alice on 2026-11-02 (decision D1)"), "{}", why[i]);
    let ex3 = exceptions(&t.join("o3"));
    let x4b = ex3.get("bank_transactions:T4").unwrap_or_else(|| panic!("{ex3:?}"));
    assert_eq!((x4b.0.as_str(), x4b.2.as_str(), x4b.3), (x4.0.as_str(), "open", 1), "same id, a day older");

    // The chain and the trail.
    let mut s = Store::open(&state).unwrap_or_else(|e| panic!("{e}"));
    let runs = s.runs().unwrap_or_default();
    assert_eq!(runs.len(), 3);
    for w in runs.windows(2) {
        assert_eq!(w[1].predecessor.as_deref(), Some(w[0].run_id.as_str()));
        let bytes = std::fs::read(Path::new(&w[0].output).join("manifest.json")).unwrap_or_default();
        assert_eq!(w[1].predecessor_manifest_sha256.as_deref(), Some(reckon_core::id::sha256_hex(&bytes).as_str()));
    }
    let trail = s.audit("T3").unwrap_or_default();
    let text: Vec<&str> = trail.iter().map(|l| l.what.as_str()).collect();
    assert!(text.iter().any(|w| w.contains("raised")), "{text:#?}");
    assert!(text.iter().any(|w| w.contains("decision match by alice") && w.contains("applied")), "{text:#?}");
    assert!(text.iter().any(|w| w.contains("matched by decision D1")), "{text:#?}");
    assert!(text[0].contains("now matched"), "{text:#?}");
}

/// Controls: four eyes, a second person, the preparer of a journal, an
/// explanation that holds until something material changes, undo.
#[test]
fn controls_and_explanations() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let t = tmp.path();
    let state = t.join("state.db");
    let day1 = [bank("T3", "2026-11-02", "500.00", "BX TREASURY SVCS", "", "", "payment")];
    write_day(&t.join("d1"), &day1, &ar_day1(), &[], &gl(2));
    let mut cfg = rules();
    cfg.decisions = toml::from_str(
        r#"
        four_eyes_above = { EUR = "400.00" }
        [people]
        alice = ["analyst"]
        bob = ["controller"]
        u1 = ["controller"]
        [roles.analyst]
        kinds = ["unmatched_receipt", "suggested_match", "ambiguous_match"]
        limit = { EUR = "1000.00" }
        [roles.controller]
        "#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    reckon_pipeline::run(&opts(&t.join("d1"), &t.join("o1"), &state, 2, cfg.clone())).unwrap_or_else(|e| panic!("{e}"));
    let ex = exceptions(&t.join("o1"));
    let x3 = ex["bank_transactions:T3"].0.clone();
    let j1 = ex["gl_journal_lines:DE01/J1"].0.clone();
    let policy = cfg.decisions.build().unwrap_or_else(|e| panic!("{e}"));
    let d = decisions_file(
        &t.join("dec"),
        "a.jsonl",
        &[
            serde_json::json!({"decision_id": "A1", "exception_id": x3, "action": "match", "actor": "alice",
                "decided_at": "2026-11-02T19:00:00Z", "items": [{"item_id": "AR-200"}]}),
            serde_json::json!({"decision_id": "A2", "action": "approve", "actor": "alice",
                "decided_at": "2026-11-02T19:01:00Z", "target": "A1"}),
            serde_json::json!({"decision_id": "A3", "exception_id": j1, "action": "explain", "actor": "alice",
                "decided_at": "2026-11-02T19:02:00Z", "comment": "year-end accrual"}),
            serde_json::json!({"decision_id": "A4", "exception_id": j1, "action": "explain", "actor": "u1",
                "decided_at": "2026-11-02T19:03:00Z", "comment": "my own accrual"}),
            serde_json::json!({"decision_id": "A5", "exception_id": j1, "action": "explain", "actor": "mallory",
                "decided_at": "2026-11-02T19:04:00Z", "comment": "trust me"}),
        ],
    );
    let v = submit(&state, &d, &policy);
    let why = |i: usize| v[i].reason.clone().unwrap_or_default();
    assert_eq!(v[0].status, Some(DecisionStatus::PendingApproval), "{v:#?}");
    assert!(why(0).contains("four-eyes limit of 400.00 EUR"), "{}", why(0));
    assert_eq!(v[1].status, Some(DecisionStatus::Refused));
    assert!(why(1).contains("four eyes: alice took decision A1"), "{}", why(1));
    assert!(why(2).contains("may not decide control_violation"), "{}", why(2));
    assert!(why(3).contains("u1 prepared this journal"), "{}", why(3));
    assert!(why(4).contains("not named in [decisions.people]"), "{}", why(4));

    // Not applied before a second person approves.
    reckon_pipeline::run(&opts(&t.join("d1"), &t.join("o2"), &state, 3, cfg.clone())).unwrap_or_else(|e| panic!("{e}"));
    assert!(exceptions(&t.join("o2")).contains_key("bank_transactions:T3"), "pending approval is not applied");
    let d2 = decisions_file(
        &t.join("dec"),
        "b.jsonl",
        &[
            serde_json::json!({"decision_id": "B1", "action": "approve", "actor": "bob",
                "decided_at": "2026-11-03T09:00:00Z", "target": "A1"}),
            serde_json::json!({"decision_id": "B2", "exception_id": j1, "action": "explain", "actor": "bob",
                "decided_at": "2026-11-03T09:01:00Z", "comment": "year-end accrual, support in ticket 42"}),
        ],
    );
    let v = submit(&state, &d2, &policy);
    assert_eq!(v.iter().map(|v| v.status).collect::<Vec<_>>(), vec![Some(DecisionStatus::Applied); 2], "{v:#?}");
    reckon_pipeline::run(&opts(&t.join("d1"), &t.join("o3"), &state, 4, cfg.clone())).unwrap_or_else(|e| panic!("{e}"));
    let ex3 = exceptions(&t.join("o3"));
    assert!(!ex3.contains_key("bank_transactions:T3"), "approved, then applied: {ex3:?}");
    assert!(!ex3.contains_key("gl_journal_lines:DE01/J1"), "explained and unchanged: {ex3:?}");
    assert_eq!(manifest(&t.join("o3"))["state"]["suppressed"], 1);
    // A new line on the journal is material: it is raised again.
    let mut day = t.join("d4");
    write_day(&day, &[], &ar_day1(), &[], &gl(3));
    reckon_pipeline::run(&opts(&day, &t.join("o4"), &state, 5, cfg.clone())).unwrap_or_else(|e| panic!("{e}"));
    let ex4 = exceptions(&t.join("o4"));
    let j = ex4.get("gl_journal_lines:DE01/J1").unwrap_or_else(|| panic!("{ex4:?}"));
    assert_eq!((j.0.as_str(), j.2.as_str()), (j1.as_str(), "reopened"));
    // Undo of an applied match: the bank entry is open again and carried.
    let d3 = decisions_file(
        &t.join("dec"),
        "c.jsonl",
        &[serde_json::json!({"decision_id": "C1", "action": "undo", "actor": "bob",
            "decided_at": "2026-11-06T09:00:00Z", "target": "A1", "comment": "wrong customer"})],
    );
    let v = submit(&state, &d3, &policy);
    assert_eq!(v[0].status, Some(DecisionStatus::Applied), "{v:#?}");
    day = t.join("d5");
    let t9 = [bank("T9", "2026-11-06", "300.00", "UNKNOWN PAYER", "", "", "refund")];
    write_day(&day, &t9, &ar_day1(), &[], &gl(3));
    reckon_pipeline::run(&opts(&day, &t.join("o5"), &state, 6, cfg.clone())).unwrap_or_else(|e| panic!("{e}"));
    let ex5 = exceptions(&t.join("o5"));
    let x = ex5.get("bank_transactions:T3").unwrap_or_else(|| panic!("undone match is open again: {ex5:?}"));
    assert_eq!((x.0.as_str(), x.2.as_str()), (x3.as_str(), "reopened"));
    let m5 = manifest(&t.join("o5"));
    assert_eq!(m5["state"]["carried"], 1);
    assert_eq!(m5["state"]["chain"]["balanced"], true);
    // An entry dismissed between two runs, then a run (it is no longer
    // carried), then the dismissal undone: it is carried again, from the row
    // the run kept when it saw the dismissal.
    let x9 = ex5["bank_transactions:T9"].0.clone();
    let d4 = decisions_file(
        &t.join("dec"),
        "d.jsonl",
        &[
            // `confirm` is for duplicates and journal anomalies only.
            serde_json::json!({"decision_id": "D0", "exception_id": x9, "action": "confirm", "actor": "bob",
                "decided_at": "2026-11-07T08:59:00Z"}),
            serde_json::json!({"decision_id": "D1", "exception_id": x9, "action": "dismiss", "actor": "bob",
                "decided_at": "2026-11-07T09:00:00Z", "comment": "a refund, not a receipt"}),
        ],
    );
    let v = submit(&state, &d4, &policy);
    assert_eq!(v[0].status, Some(DecisionStatus::Refused), "{v:#?}");
    assert!(v[0].reason.as_deref().is_some_and(|r| r.contains("confirm does not apply to")), "{v:#?}");
    assert_eq!(v[1].status, Some(DecisionStatus::Applied), "{v:#?}");
    day = t.join("d6");
    write_day(&day, &[], &ar_day1(), &[], &gl(3));
    reckon_pipeline::run(&opts(&day, &t.join("o6"), &state, 7, cfg.clone())).unwrap_or_else(|e| panic!("{e}"));
    assert!(!exceptions(&t.join("o6")).contains_key("bank_transactions:T9"), "dismissed");
    let m6 = manifest(&t.join("o6"));
    assert_eq!((m6["state"]["carried"].clone(), m6["state"]["chain"]["balanced"].clone()), (1.into(), true.into()));
    let d5 = decisions_file(
        &t.join("dec"),
        "e.jsonl",
        &[serde_json::json!({"decision_id": "E1", "action": "undo", "actor": "bob",
            "decided_at": "2026-11-08T09:00:00Z", "target": "D1"})],
    );
    assert_eq!(submit(&state, &d5, &policy)[0].status, Some(DecisionStatus::Applied));
    day = t.join("d7");
    write_day(&day, &[], &ar_day1(), &[], &gl(3));
    reckon_pipeline::run(&opts(&day, &t.join("o7"), &state, 8, cfg)).unwrap_or_else(|e| panic!("{e}"));
    let ex7 = exceptions(&t.join("o7"));
    let x = ex7.get("bank_transactions:T9").unwrap_or_else(|| panic!("undone dismissal is open again: {ex7:?}"));
    assert_eq!((x.0.as_str(), x.2.as_str()), (x9.as_str(), "reopened"));
    let m7 = manifest(&t.join("o7"));
    assert_eq!((m7["state"]["carried"].clone(), m7["state"]["chain"]["balanced"].clone()), (2.into(), true.into()));
}

/// Decisions in the input folder are taken in by the run itself.
#[test]
fn decisions_folder_is_read_by_the_run() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let t = tmp.path();
    let state = t.join("state.db");
    let day1 = [bank("T3", "2026-11-02", "500.00", "BX TREASURY SVCS", "", "", "payment")];
    write_day(&t.join("d1"), &day1, &ar_day1(), &[], &[]);
    reckon_pipeline::run(&opts(&t.join("d1"), &t.join("o1"), &state, 2, rules())).unwrap_or_else(|e| panic!("{e}"));
    let x3 = exceptions(&t.join("o1"))["bank_transactions:T3"].0.clone();
    write_day(&t.join("d2"), &[], &ar_day1(), &[], &[]);
    let csv = format!(
        "decision_id,exception_id,action,actor,roles,decided_at,comment,items,item_id,target\n\
         F1,{x3},match,alice,,2026-11-03T08:00:00Z,\"paid INV-200, short by nothing\",AR-200=500.00,,\n\
         F2,{x3},frobnicate,alice,,2026-11-03T08:00:00Z,,,,\n"
    );
    std::fs::create_dir_all(t.join("d2/decisions")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(t.join("d2/decisions/today.csv"), csv).unwrap_or_else(|e| panic!("{e}"));
    reckon_pipeline::run(&opts(&t.join("d2"), &t.join("o2"), &state, 3, rules())).unwrap_or_else(|e| panic!("{e}"));
    let m = manifest(&t.join("o2"));
    assert_eq!(m["state"]["decisions_applied"], 1, "{}", m["state"]);
    assert_eq!(m["state"]["decisions_received"]["accepted"], 1, "{}", m["state"]);
    assert_eq!(m["state"]["decisions_received"]["unreadable"], 1, "{}", m["state"]);
    let refused = m["state"]["decisions_refused"].to_string();
    assert!(refused.contains("decisions/today.csv:3") && refused.contains("frobnicate"), "{refused}");
    assert!(!exceptions(&t.join("o2")).contains_key("bank_transactions:T3"));
    // Without a store the folder is named as ignored, not read.
    let o =
        reckon_pipeline::run(&RunOptions::new(&t.join("d2"), &t.join("o3"), rules())).unwrap_or_else(|e| panic!("{e}"));
    assert!(o.manifest.ignored_files.iter().any(|i| i.starts_with("decisions (")), "{:?}", o.manifest.ignored_files);
    assert!(o.manifest.state.is_none());
}

/// A run that fails leaves the store as it was; a second process is refused;
/// files that are not a store, or from a newer schema, are refused by name.
#[test]
fn store_faults_are_clear_and_leave_it_unchanged() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let t = tmp.path();
    let state = t.join("state.db");
    let day1 = [bank("T3", "2026-11-02", "500.00", "BX TREASURY SVCS", "", "", "payment")];
    write_day(&t.join("d1"), &day1, &ar_day1(), &[], &[]);
    reckon_pipeline::run(&opts(&t.join("d1"), &t.join("o1"), &state, 2, rules())).unwrap_or_else(|e| panic!("{e}"));
    let before = std::fs::read(&state).unwrap_or_default();

    // A stage that fails: the run fails, the store is byte for byte the same.
    #[derive(Debug)]
    struct Broken;
    impl reckon_pipeline::stage::Stage for Broken {
        fn name(&self) -> &'static str {
            "broken"
        }
        fn outputs(&self) -> &'static [&'static str] {
            &[]
        }
        fn reads(&self) -> &'static [reckon_core::Table] {
            &[]
        }
        fn run(
            &self,
            _: &reckon_pipeline::stage::RunInputs<'_>,
        ) -> Result<reckon_pipeline::stage::StageOutput, reckon_pipeline::stage::StageError> {
            Err(reckon_pipeline::stage::StageError { stage: "broken", message: "model failed".into() })
        }
    }
    let mut stages = reckon_pipeline::stage::build_all(&rules()).unwrap_or_else(|e| panic!("{e}"));
    stages.push(Box::new(Broken));
    let r = reckon_pipeline::run_stages(&opts(&t.join("d1"), &t.join("o2"), &state, 3, rules()), &stages);
    assert!(matches!(r, Err(RunError::Stage(_))), "{r:?}");
    assert_eq!(std::fs::read(&state).unwrap_or_default(), before, "a failed run changes nothing");

    // Held by another process (here: this one): refused, a usage error.
    let held = Store::open(&state).unwrap_or_else(|e| panic!("{e}"));
    let r = reckon_pipeline::run(&opts(&t.join("d1"), &t.join("o3"), &state, 3, rules()));
    match r {
        Err(e) => {
            assert!(e.to_string().contains("in use by another reckon process"), "{e}");
            assert!(e.is_usage());
        }
        Ok(_) => panic!("a second process on one store must be refused"),
    }
    drop(held);
    reckon_pipeline::run(&opts(&t.join("d1"), &t.join("o3"), &state, 3, rules())).unwrap_or_else(|e| panic!("{e}"));

    // Not a database.
    let junk = t.join("junk.db");
    std::fs::write(&junk, "txn_id,amount\nT1,5\n").unwrap_or_else(|e| panic!("{e}"));
    let e = Store::open(&junk).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("is not a reckon state database"), "{e}");
    // An SQLite file of someone else's.
    let other = t.join("other.db");
    rusqlite::Connection::open(&other)
        .and_then(|c| c.execute_batch("CREATE TABLE t (x INTEGER);"))
        .unwrap_or_else(|e| panic!("{e}"));
    let e = Store::open(&other).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("without reckon's schema history"), "{e}");
    // A store from a newer reckon.
    let newer = t.join("newer.db");
    std::fs::copy(&state, &newer).unwrap_or_else(|e| panic!("{e}"));
    rusqlite::Connection::open(&newer)
        .and_then(|c| {
            c.execute(
                "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES (99, 'future', '2027-01-01', '0')",
                [],
            )
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let e = Store::open(&newer).err().map(|e| e.to_string()).unwrap_or_default();
    let known = format!("schema version 99, newer than this reckon knows ({})", reckon_state::SCHEMA_VERSION);
    assert!(e.contains(&known), "{e}");
}

/// A PostgreSQL server that drops the run's connection mid-run: the run fails
/// with a clear error, the store is as before, a re-run succeeds.
#[test]
fn postgres_going_away_mid_run_changes_nothing() {
    let Some(pg) = pg_database("reckon_goes_away") else { return };
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let t = tmp.path();
    let day1 = [bank("T3", "2026-11-02", "500.00", "BX TREASURY SVCS", "", "", "payment")];
    write_day(&t.join("d1"), &day1, &ar_day1(), &[], &[]);
    reckon_pipeline::run(&opts(&t.join("d1"), &t.join("o1"), &pg, 2, rules())).unwrap_or_else(|e| panic!("{e}"));
    let before = Store::open(&pg).and_then(|mut s| s.canonical()).unwrap_or_else(|e| panic!("{e}"));

    // A stage that, while the run holds the store, has the server end every
    // other connection to the database (as a restart or a failover would).
    #[derive(Debug)]
    struct Cut(String);
    impl reckon_pipeline::stage::Stage for Cut {
        fn name(&self) -> &'static str {
            "cut"
        }
        fn outputs(&self) -> &'static [&'static str] {
            &[]
        }
        fn reads(&self) -> &'static [reckon_core::Table] {
            &[]
        }
        fn run(
            &self,
            _: &reckon_pipeline::stage::RunInputs<'_>,
        ) -> Result<reckon_pipeline::stage::StageOutput, reckon_pipeline::stage::StageError> {
            let mut c = postgres::Client::connect(&self.0, postgres::NoTls)
                .map_err(|e| reckon_pipeline::stage::StageError { stage: "cut", message: e.to_string() })?;
            c.batch_execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .map_err(|e| reckon_pipeline::stage::StageError { stage: "cut", message: e.to_string() })?;
            Ok(reckon_pipeline::stage::StageOutput::default())
        }
    }
    let mut stages = reckon_pipeline::stage::build_all(&rules()).unwrap_or_else(|e| panic!("{e}"));
    stages.push(Box::new(Cut(pg.to_string_lossy().into_owned())));
    let r = reckon_pipeline::run_stages(&opts(&t.join("d1"), &t.join("o2"), &pg, 3, rules()), &stages);
    match r {
        Err(RunError::State(e)) => {
            let m = e.to_string();
            assert!(m.contains("state store postgres://postgres@"), "{m}");
        }
        other => panic!("a run whose store went away must fail: {other:?}"),
    }
    let after = Store::open(&pg).and_then(|mut s| s.canonical()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(before, after, "the store is as before the failed run");
    reckon_pipeline::run(&opts(&t.join("d1"), &t.join("o3"), &pg, 3, rules()))
        .unwrap_or_else(|e| panic!("re-run: {e}"));
    let runs = Store::open(&pg).and_then(|mut s| s.runs()).unwrap_or_default();
    assert_eq!(runs.len(), 2);
}

/// With a store as without: the same days on 1 and 4 threads give the same
/// store, the same exceptions and events and the same links, byte for byte.
/// The three days run by `days` (in a folder, on a store): the store at the
/// end, and each day's exceptions, events, matches and receipt outcomes.
fn three_days_ended(days: &dyn Fn(&Path, &Path)) -> (serde_json::Value, Vec<Vec<u8>>) {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = tmp.path().join("state.db");
    days(tmp.path(), &state);
    let dump = Store::open(&state).and_then(|mut s| s.canonical()).unwrap_or_else(|e| panic!("{e}"));
    let mut files = Vec::new();
    for day in ["o1", "o2", "o3"] {
        for f in ["exceptions.parquet", "exceptions.jsonl", "matches.parquet", "receipt_outcomes.parquet"] {
            files.push(std::fs::read(tmp.path().join(day).join(f)).unwrap_or_else(|e| panic!("{day}/{f}: {e}")));
        }
    }
    (dump, files)
}

/// Which stages finish first: those that settle bank entries (the run writes
/// its bank side while the others still run) or the others (the run writes it
/// after the stages, beside the lifecycle).
#[derive(Clone, Copy, Debug)]
enum BankOrder {
    BankFirst,
    BankLast,
}

/// A built-in stage that waits for the other group of stages before it runs
/// (bank first) or before it returns (bank last); it gives up waiting after
/// 60 s.
#[derive(Debug)]
struct Ordered {
    inner: Box<dyn reckon_pipeline::stage::Stage>,
    order: BankOrder,
    /// Stages done: [settling bank entries, the others], and how many there are.
    done: std::sync::Arc<[std::sync::atomic::AtomicUsize; 2]>,
    of: [usize; 2],
}

impl Ordered {
    fn wait_for(&self, group: usize) {
        let t = std::time::Instant::now();
        while self.done[group].load(std::sync::atomic::Ordering::Acquire) < self.of[group]
            && t.elapsed() < std::time::Duration::from_secs(60)
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

impl reckon_pipeline::stage::Stage for Ordered {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn outputs(&self) -> &'static [&'static str] {
        self.inner.outputs()
    }
    fn reads(&self) -> &'static [reckon_core::Table] {
        self.inner.reads()
    }
    fn frames(&self) -> &'static [reckon_core::Table] {
        self.inner.frames()
    }
    fn settles_bank(&self) -> bool {
        self.inner.settles_bank()
    }
    fn run(
        &self,
        inputs: &reckon_pipeline::stage::RunInputs<'_>,
    ) -> Result<reckon_pipeline::stage::StageOutput, reckon_pipeline::stage::StageError> {
        let bank = self.settles_bank();
        if let (BankOrder::BankFirst, false) = (self.order, bank) {
            self.wait_for(0);
            // The bank side is written while this stage still runs.
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        let out = self.inner.run(inputs);
        if let (BankOrder::BankLast, true) = (self.order, bank) {
            self.wait_for(1);
        }
        self.done[usize::from(!bank)].fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        out
    }
}

fn ordered(config: &Config, order: BankOrder) -> Vec<Box<dyn reckon_pipeline::stage::Stage>> {
    let stages = reckon_pipeline::stage::build_all(config).unwrap_or_else(|e| panic!("{e}"));
    let bank = stages.iter().filter(|s| s.settles_bank()).count();
    let (of, done) = ([bank, stages.len() - bank], std::sync::Arc::new(Default::default()));
    stages
        .into_iter()
        .map(|inner| -> Box<dyn reckon_pipeline::stage::Stage> {
            Box::new(Ordered { inner, order, done: std::sync::Arc::clone(&done), of })
        })
        .collect()
}

/// The bank side written while other stages run and written after them give
/// the same store and the same outputs.
#[test]
fn the_bank_side_beside_the_stages_or_after_them_gives_the_same_store() {
    let run = |order: BankOrder| three_days_ended(&|t: &Path, state: &Path| three_days_in(t, state, Some(order)));
    let (first, last) = (run(BankOrder::BankFirst), run(BankOrder::BankLast));
    assert_eq!(first.0, last.0, "the store differs");
    assert!(first.1 == last.1, "the outputs differ");
}

#[test]
fn the_same_days_on_one_and_four_threads() {
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap_or_else(|e| panic!("{e}"));
        three_days_ended(&|t: &Path, state: &Path| pool.install(|| three_days(t, state)))
    };
    let (one, four) = (run(1), run(4));
    assert_eq!(one.0, four.0, "the store differs between 1 and 4 threads");
    assert!(one.1 == four.1, "outputs differ between 1 and 4 threads");
}

/// A parent's payment from its own account for its subsidiary's invoice is
/// another customer's until a person matches it; from then on the subsidiary
/// permits the parent as its payer, and the next such payment clears, citing
/// the decision. Undoing the decision takes the permission back.
#[test]
fn a_payer_a_person_confirmed_pays_for_the_customer() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let t = tmp.path();
    let state = t.join("state.db");
    let parent_iban = "GB33BUKB20201555555555";
    let write = |dir: &Path, bank_rows: &[String]| {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
        let mut b = String::from(BANK_HEADER);
        for r in bank_rows {
            b.push('\n');
            b.push_str(r);
        }
        std::fs::write(dir.join("bank_transactions.csv"), b + "\n").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.join("ar_open_items.csv"),
            format!(
                "{AR_HEADER}\n{}\n{}\n{}\n",
                item("AR-A", "S1", "Kestrel Retail GmbH", "INV-7001", "1200.00"),
                item("AR-B", "S1", "Kestrel Retail GmbH", "INV-7002", "750.50"),
                item("AR-P", "P1", "Holmfirth Holdings AG", "INV-7003", "999.00"),
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.join("customers.csv"),
            format!(
                "customer_id,name,aliases,ibans,tax_id\nP1,Holmfirth Holdings AG,,{parent_iban},\nS1,Kestrel Retail GmbH,,,\n"
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    };
    let from_parent = |id: &str, date: &str, amount: &str, inv: &str| {
        format!(
            "{id},DE89370400440532013000,{date},{date},{amount},EUR,HOLMFIRTH HOLDINGS AG,{parent_iban},,,{inv},PMNT-RCDT-ESCT,,"
        )
    };
    write(&t.join("d1"), &[from_parent("T1", "2026-11-02", "1200.00", "INV-7001")]);
    reckon_pipeline::run(&opts(&t.join("d1"), &t.join("o1"), &state, 2, rules())).unwrap_or_else(|e| panic!("{e}"));
    let x1 = exceptions(&t.join("o1"))["bank_transactions:T1"].0.clone();
    let f = decisions_file(
        &t.join("dec"),
        "d.jsonl",
        &[serde_json::json!({"decision_id": "F1", "exception_id": x1, "action": "match", "actor": "alice",
            "decided_at": "2026-11-02T19:00:00Z", "items": [{"item_id": "AR-A"}]})],
    );
    let v = submit(&state, &f, &reckon_state::Policy::default());
    assert!(v.iter().all(|v| v.status != Some(reckon_state::DecisionStatus::Refused)), "{v:?}");
    write(&t.join("d2"), &[]);
    reckon_pipeline::run(&opts(&t.join("d2"), &t.join("o2"), &state, 3, rules())).unwrap_or_else(|e| panic!("{e}"));
    let mem = Store::open(&state).and_then(|mut s| s.memory()).unwrap_or_else(|e| panic!("{e}"));
    let learned: Vec<(&str, &str, &str)> =
        mem.permissions.iter().map(|p| (p.customer_id.as_str(), p.payer_id.as_str(), p.decision_id.as_str())).collect();
    assert_eq!(learned, [("S1", "P1", "F1")]);
    // The next payment of the parent for the subsidiary clears, citing the decision.
    write(&t.join("d3"), &[from_parent("T2", "2026-11-04", "750.50", "INV-7002")]);
    reckon_pipeline::run(&opts(&t.join("d3"), &t.join("o3"), &state, 4, rules())).unwrap_or_else(|e| panic!("{e}"));
    let m = read(&t.join("o3/matches.parquet"));
    let (txn, band, reasons) = (strs(&m, "txn_id"), strs(&m, "band"), strs(&m, "reasons"));
    let at = txn.iter().position(|x| x == "T2").unwrap_or_else(|| panic!("T2 not matched: {txn:?}"));
    assert_eq!(band[at], "auto", "{}", reasons[at]);
    assert!(
        reasons[at].contains("customer P1 confirmed as payer for customer S1 by alice on 2026-11-02 (decision F1)"),
        "{}",
        reasons[at]
    );
    // The audit trail of the first payment says what its decision taught.
    let trail = Store::open(&state).and_then(|mut s| s.audit("T1")).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        trail.iter().filter(|l| l.decision_id.as_deref() == Some("F1")).any(|l| l.what.contains(
            "taught payer name 'HOLMFIRTH HOLDINGS AG' for customer S1, customer P1 as payer for customer S1"
        )),
        "{trail:?}"
    );
    // Undone, the decision's permission is gone.
    let u = decisions_file(
        &t.join("dec"),
        "u.jsonl",
        &[serde_json::json!({"decision_id": "U1", "action": "undo", "actor": "alice", "target": "F1",
            "decided_at": "2026-11-04T19:00:00Z"})],
    );
    let v = submit(&state, &u, &reckon_state::Policy::default());
    assert!(v.iter().all(|v| v.status != Some(reckon_state::DecisionStatus::Refused)), "{v:?}");
    let mem = Store::open(&state).and_then(|mut s| s.memory()).unwrap_or_else(|e| panic!("{e}"));
    assert!(mem.permissions.is_empty(), "{:?}", mem.permissions);
}

#[test]
fn an_advice_waits_for_its_invoice_and_its_payment() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let t = tmp.path();
    let state = t.join("state.db");
    // The payer's name is no customer's and the text names no invoice: only
    // the advice can link these payments to their invoices.
    let pay =
        |id: &str, date: &str, amount: &str, e2e: &str| bank(id, date, amount, "ORBIT TREASURY", e2e, "", "Payment");
    let line = |rid: &str, e2e: &str, inv: &str, amount: &str| {
        format!("{rid},{e2e},ORBIT TREASURY,2026-11-02,{inv},{amount},,,,EUR")
    };
    let ar1 = vec![item("AR-1", "C4", "Delta Handels GmbH", "INV-501", "120.00")];
    let mut ar2 = ar1.clone();
    ar2.push(item("AR-2", "C4", "Delta Handels GmbH", "INV-502", "80.00"));
    ar2.push(item("AR-3", "C4", "Delta Handels GmbH", "INV-503", "45.00"));
    // Day 1: payment P1 and its advice, which names an invoice not posted yet;
    // advice A2 arrives before its payment.
    write_day(
        &t.join("d1"),
        &[pay("P1", "2026-11-02", "200.00", "E2E-1")],
        &ar1,
        &[
            line("A1", "E2E-1", "INV-501", "120.00"),
            line("A1", "E2E-1", "INV-502", "80.00"),
            line("A2", "E2E-2", "INV-503", "45.00"),
            line("A9", "E2E-9", "INV-999", "10.00"),
        ],
        &[],
    );
    reckon_pipeline::run(&opts(&t.join("d1"), &t.join("o1"), &state, 2, rules())).unwrap_or_else(|e| panic!("{e}"));
    let m1 = manifest(&t.join("o1"));
    assert_eq!(m1["state"]["advices_kept"], 4, "{}", m1["state"]);
    // Day 2: the invoice is posted and payment P2 arrives; of the advices only
    // A9 is delivered again (the kept copy gives way to it).
    write_day(
        &t.join("d2"),
        &[pay("P2", "2026-11-03", "45.00", "E2E-2")],
        &ar2,
        &[line("A9", "E2E-9", "INV-999", "10.00")],
        &[],
    );
    reckon_pipeline::run(&opts(&t.join("d2"), &t.join("o2"), &state, 3, rules())).unwrap_or_else(|e| panic!("{e}"));
    let m = read(&t.join("o2/matches.parquet"));
    let (txn, band, rid) = (strs(&m, "txn_id"), strs(&m, "band"), strs(&m, "remittance_id"));
    for (p, a) in [("P1", "A1"), ("P2", "A2")] {
        let at = txn.iter().position(|x| x == p).unwrap_or_else(|| panic!("{p} not matched: {txn:?}"));
        assert_eq!((band[at].as_str(), rid[at].as_str()), ("auto", a), "{p}");
    }
    let m2 = manifest(&t.join("o2"));
    let s = &m2["state"];
    assert_eq!((s["advices_carried"].as_u64(), s["advices_redelivered"].as_u64()), (Some(3), Some(1)), "{s}");
    // Used advices are not kept; the one naming no payment waits.
    assert_eq!(s["advices_kept"], 1, "{s}");
    assert!(m2["conservation"]["balanced"].as_bool().unwrap_or(false), "{}", m2["conservation"]);
    let carried = &m2["inputs"];
    assert!(carried.to_string().contains(reckon_pipeline::remember::ADVICES), "{carried}");
    // Thirty days after it last arrived, an advice that names no payment is let go.
    write_day(&t.join("d3"), &[], &ar2, &[], &[]);
    reckon_pipeline::run(&opts(&t.join("d3"), &t.join("o3"), &state, 30, rules())).unwrap_or_else(|e| panic!("{e}"));
    let s = manifest(&t.join("o3"))["state"].clone();
    assert_eq!((s["advices_kept"].as_u64(), s["advices_expired"].as_u64()), (Some(1), Some(0)), "{s}");
    let mut o = opts(&t.join("d3"), &t.join("o4"), &state, 30, rules());
    o.as_of = chrono::NaiveDate::from_ymd_opt(2026, 12, 4);
    o.started_at =
        chrono::DateTime::parse_from_rfc3339("2026-12-04T18:00:00Z").ok().map(|d| d.with_timezone(&chrono::Utc));
    reckon_pipeline::run(&o).unwrap_or_else(|e| panic!("{e}"));
    let s = manifest(&t.join("o4"))["state"].clone();
    assert_eq!((s["advices_kept"].as_u64(), s["advices_expired"].as_u64()), (Some(0), Some(1)), "{s}");
}

#[test]
fn a_kept_advice_without_date_or_reference_links_by_amount_only_near_its_arrival() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let t = tmp.path();
    let state = t.join("state.db");
    // Advices with neither a date nor a payment reference, from a payer that
    // is no customer: only their amount can link them to a payment.
    let line = |rid: &str, inv: &str, amount: &str| format!("{rid},,ORBIT TREASURY,,{inv},{amount},,,,EUR");
    let pay = |id: &str, date: &str, amount: &str| bank(id, date, amount, "ORBIT TREASURY", "", "", "Payment");
    let ar = vec![
        item("AR-11", "C5", "Kappa Ltd", "INV-611", "150.00"),
        item("AR-12", "C5", "Kappa Ltd", "INV-612", "90.00"),
    ];
    write_day(&t.join("d1"), &[], &ar, &[line("U1", "INV-611", "150.00"), line("U2", "INV-612", "90.00")], &[]);
    reckon_pipeline::run(&opts(&t.join("d1"), &t.join("o1"), &state, 2, rules())).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(manifest(&t.join("o1"))["state"]["advices_kept"], 2);
    let linked = |day: u32, txn: &str| {
        let m = read(&t.join(format!("o{day}/matches.parquet")));
        let (ids, rid) = (strs(&m, "txn_id"), strs(&m, "remittance_id"));
        ids.iter().zip(rid).filter(|(i, _)| *i == txn).map(|(_, r)| r).collect::<Vec<_>>()
    };
    // Three days after the advices arrived: a payment of one's amount is its.
    write_day(&t.join("d5"), &[pay("Q1", "2026-11-05", "90.00")], &ar, &[], &[]);
    reckon_pipeline::run(&opts(&t.join("d5"), &t.join("o5"), &state, 5, rules())).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(linked(5, "Q1"), vec!["U2".to_string()]);
    // Eighteen days after: the other advice is still kept, but a payment of
    // its amount is no longer taken for its payment on the amount alone.
    write_day(&t.join("d20"), &[pay("Q2", "2026-11-20", "150.00")], &ar, &[], &[]);
    reckon_pipeline::run(&opts(&t.join("d20"), &t.join("o20"), &state, 20, rules())).unwrap_or_else(|e| panic!("{e}"));
    assert!(linked(20, "Q2").iter().all(|r| r != "U1"), "{:?}", linked(20, "Q2"));
    let s = manifest(&t.join("o20"))["state"].clone();
    assert!(s["advices_kept"].as_u64() >= Some(1) && s["advices_expired"] == 0, "{s}");
}

#[test]
fn an_advice_a_decision_settled_is_not_offered_to_the_next_payment_of_its_amount() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let t = tmp.path();
    let state = t.join("state.db");
    // An advice without a payment reference from a payer that is no customer:
    // linked to the payment by amount and date alone, it waits for a person.
    let line = |rid: &str, inv: &str, amount: &str| format!("{rid},,ORBIT TREASURY,2026-11-02,{inv},{amount},,,,EUR");
    let pay = |id: &str, date: &str, amount: &str| bank(id, date, amount, "ORBIT TREASURY", "", "", "Payment");
    let ar = vec![
        item("AR-21", "C6", "Lambda Oy", "INV-721", "150.00"),
        item("AR-22", "C6", "Lambda Oy", "INV-722", "150.00"),
    ];
    write_day(&t.join("d1"), &[pay("R1", "2026-11-02", "150.00")], &ar, &[line("W1", "INV-721", "150.00")], &[]);
    reckon_pipeline::run(&opts(&t.join("d1"), &t.join("o1"), &state, 2, rules())).unwrap_or_else(|e| panic!("{e}"));
    let x1 = exceptions(&t.join("o1"))["bank_transactions:R1"].0.clone();
    // Proposed with the advice's invoice, for a person.
    let df = read(&t.join("o1/exceptions.parquet"));
    let records = strs(&df, "records");
    assert!(records.iter().any(|r| r == "bank_transactions:R1|ar_open_items:AR-21"), "{records:?}");
    let f = decisions_file(
        &t.join("dec"),
        "d.jsonl",
        &[serde_json::json!({"decision_id": "D1", "exception_id": x1, "action": "accept", "actor": "alice",
            "decided_at": "2026-11-02T19:00:00Z"})],
    );
    let v = submit(&state, &f, &reckon_state::Policy::default());
    assert!(v.iter().all(|v| v.status != Some(reckon_state::DecisionStatus::Refused)), "{v:?}");
    // The decision applies the payment (the ERP has not posted it yet); its
    // advice is used and no longer kept.
    write_day(&t.join("d3"), &[], &ar, &[], &[]);
    reckon_pipeline::run(&opts(&t.join("d3"), &t.join("o3"), &state, 3, rules())).unwrap_or_else(|e| panic!("{e}"));
    let m3 = manifest(&t.join("o3"));
    assert_eq!(m3["state"]["decisions_applied"], 1, "{}", m3["state"]);
    assert_eq!(m3["state"]["advices_kept"], 0, "{}", m3["state"]);
    // The payer's next payment of the same amount is not linked to it.
    write_day(&t.join("d4"), &[pay("R2", "2026-11-04", "150.00")], &ar, &[], &[]);
    reckon_pipeline::run(&opts(&t.join("d4"), &t.join("o4"), &state, 4, rules())).unwrap_or_else(|e| panic!("{e}"));
    let m = read(&t.join("o4/matches.parquet"));
    let (ids, rid) = (strs(&m, "txn_id"), strs(&m, "remittance_id"));
    assert!(ids.iter().zip(&rid).all(|(i, r)| i != "R2" || r != "W1"), "{ids:?} {rid:?}");
}

#[test]
fn a_run_keeps_a_bounded_sample_of_its_automatic_matches() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let t = tmp.path();
    let bank_rows = [
        bank("T1", "2026-11-02", "1000.00", "Acme GmbH", "", "", "INV-100"),
        bank("T2", "2026-11-02", "500.00", "Beta AG", "", "", "INV-200"),
        bank("T3", "2026-11-02", "250.00", "Gamma SA", "", "", "INV-300"),
        bank("T4", "2026-11-02", "77.00", "Nobody Known", "", "", "thanks"),
    ];
    write_day(&t.join("d1"), &bank_rows, &ar_day1(), &[], &[]);
    let kept = |name: &str, n: Option<usize>| {
        let mut c = rules();
        if let Some(n) = n {
            c.state.auto_groups_kept = n;
        }
        let state = t.join(format!("{name}.db"));
        reckon_pipeline::run(&opts(&t.join("d1"), &t.join(name), &state, 2, c)).unwrap_or_else(|e| panic!("{e}"));
        let scores = Store::open(&state).and_then(|mut s| s.proposal_scores()).unwrap_or_else(|e| panic!("{e}"));
        let auto: Vec<String> =
            scores.iter().filter(|s| s.band == reckon_core::Band::Auto).map(|s| s.txn_id.clone()).collect();
        (auto, scores.len())
    };
    let (all, n_all) = kept("all", None);
    assert_eq!(all.len(), 3, "{all:?}");
    let (two, n_two) = kept("two", Some(2));
    assert_eq!(two.len(), 2, "{two:?}");
    assert!(two.iter().all(|t| all.contains(t)), "{two:?} of {all:?}");
    // Only automatic matches are sampled.
    assert_eq!(n_all - n_two, 1);
}

/// A file the store keeps for the next run is read as the run that wrote it
/// left it: bytes changed outside reckon are refused (sha256), and a file whose
/// rows lack a value is refused by its name and row, not read as blanks. The
/// failed run leaves the store as it was.
#[test]
fn a_run_file_changed_outside_reckon_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let t = tmp.path();
    let state = t.join("state.db");
    // An automatic match the receivables snapshot does not show yet: day 1
    // leaves an applications file.
    let day1 = [bank("T1", "2026-11-02", "1000.00", "ACME GMBH", "", "INV-100", "INV-100")];
    write_day(&t.join("d1"), &day1, &ar_day1(), &[], &[]);
    reckon_pipeline::run(&opts(&t.join("d1"), &t.join("o1"), &state, 2, rules())).unwrap_or_else(|e| panic!("{e}"));
    write_day(&t.join("d2"), &[], &ar_day1(), &[], &[]);
    let (bytes, sha): (Vec<u8>, String) = rusqlite::Connection::open(&state)
        .and_then(|c| {
            c.query_row("SELECT parquet, sha256 FROM run_files WHERE name = 'applications'", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
        })
        .unwrap_or_else(|e| panic!("day 1 leaves an applications file: {e}"));
    assert_eq!(reckon_core::id::sha256_hex(&bytes), sha);
    let store_with = |name: &str, parquet: &[u8], sha: &str| -> PathBuf {
        let p = t.join(name);
        std::fs::copy(&state, &p).unwrap_or_else(|e| panic!("{e}"));
        rusqlite::Connection::open(&p)
            .and_then(|c| {
                c.execute(
                    "UPDATE run_files SET parquet = ?1, sha256 = ?2 WHERE name = 'applications'",
                    rusqlite::params![parquet, sha],
                )
            })
            .unwrap_or_else(|e| panic!("{e}"));
        p
    };

    // One byte changed, the recorded sha256 kept.
    let mut changed = bytes.clone();
    let mid = changed.len() / 2;
    changed[mid] ^= 0x20;
    let s = store_with("changed.db", &changed, &sha);
    let before = std::fs::read(&s).unwrap_or_default();
    let e = reckon_pipeline::run(&opts(&t.join("d2"), &t.join("o2"), &s, 3, rules())).err().map(|e| e.to_string());
    let e = e.unwrap_or_else(|| panic!("a changed run file must be refused"));
    assert!(e.contains("run file 'applications'") && e.contains("do not match the sha256"), "{e}");
    assert_eq!(std::fs::read(&s).unwrap_or_default(), before, "a refused run changes nothing");

    // A file of the right layout (and a matching sha256) with a row missing its item.
    let mut df = df!(
        "txn_id" => ["T1"],
        "item_id" => [None::<&str>],
        "applied_minor" => [100_000i64],
        "currency" => ["EUR"],
        "open_seen_minor" => [100_000i64],
        "run_id" => ["R"],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf).finish(&mut df).unwrap_or_else(|e| panic!("{e}"));
    let s = store_with("blank.db", &buf, &reckon_core::id::sha256_hex(&buf));
    let before = std::fs::read(&s).unwrap_or_default();
    let e = reckon_pipeline::run(&opts(&t.join("d2"), &t.join("o3"), &s, 3, rules())).err().map(|e| e.to_string());
    let e = e.unwrap_or_else(|| panic!("a run file with a blank item must be refused"));
    assert!(e.contains("state store run file state:applications: row 1:"), "{e}");
    assert_eq!(std::fs::read(&s).unwrap_or_default(), before, "a refused run changes nothing");

    // The store as day 1 left it runs on.
    reckon_pipeline::run(&opts(&t.join("d2"), &t.join("o4"), &state, 3, rules())).unwrap_or_else(|e| panic!("{e}"));
}
