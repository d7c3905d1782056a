//! A run's exceptions against the store's memory: the same problem keeps its
//! exception id, gets its state (`new`, `open`, `reopened`), age and service
//! level; open exceptions no longer raised are `resolved` with the reason; a
//! dismissed duplicate or explained journal is not raised again while nothing
//! material about it changed.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use reckon_core::{ExceptionKind, ExceptionState};
use reckon_feed::{Exception, Lifecycle};

use crate::config::Sla;
use crate::store::{EventRow, ExceptionRecord, Memory};

/// The problem an exception is about, stable across runs: the bank entry for
/// every kind raised about one (a receipt may be `suggested_match` one day and
/// `ambiguous_match` the next — one problem), the documents for a duplicate
/// invoice, else the kind and the subject.
pub fn problem_key(e: &Exception) -> String {
    let subject = e.records.first().map_or("", String::as_str);
    if subject.starts_with("bank_transactions:") {
        subject.to_string()
    } else if e.kind == ExceptionKind::DuplicateInvoice {
        let docs: BTreeSet<&str> = e.records.iter().map(String::as_str).collect();
        format!("{}|{}", e.kind, docs.into_iter().collect::<Vec<_>>().join("|"))
    } else {
        format!("{}|{subject}", e.kind)
    }
}

/// What is material about an exception for a dismissal or an explanation: its
/// kind, amount, currency, records and the facts the caller adds (a journal's
/// line count).
pub fn material_digest(e: &Exception, extra: &str) -> String {
    let records: BTreeSet<&str> = e.records.iter().map(String::as_str).collect();
    let records = records.into_iter().collect::<Vec<_>>().join("|");
    reckon_core::id::stable_id(
        "",
        &[e.kind.as_str(), e.amount.as_deref().unwrap_or(""), e.currency.as_deref().unwrap_or(""), &records, extra],
    )
}

/// Facts about an exception the run knows and the store keeps: who prepared a
/// journal (they may not explain it away) and material facts beyond the exception.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    pub preparers: Vec<String>,
    pub material: String,
}

/// The run the lifecycle is computed for.
#[derive(Debug)]
pub struct Context<'a> {
    pub run_id: &'a str,
    pub as_of: NaiveDate,
    pub at: &'a str,
    pub sla: &'a Sla,
    /// Bank entries this run settled, with how (`matched automatically in run …`).
    pub settled: &'a BTreeMap<String, String>,
}

/// The outcome: exceptions to publish and the store's new rows.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Open work after this run (new, open, reopened), ids as first given.
    pub open: Vec<Exception>,
    /// Exceptions resolved since the last run (by this run's evidence or by
    /// decisions), for `…exception.resolved` events.
    pub resolved: Vec<Exception>,
    pub records: Vec<ExceptionRecord>,
    pub events: Vec<EventRow>,
    /// Raised again but dismissed or explained with nothing material changed.
    pub suppressed: Vec<String>,
    /// Dismissals that no longer hold (something material changed).
    pub lapsed: Vec<String>,
}

fn date_of(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// The exceptions in `mem` whose payload [`reconcile`] may need and `mem`
/// lacks: open ones not raised again (their resolution republishes them) and
/// dismissed ones raised again.
pub fn payloads_needed(mem: &Memory, raised: &[Exception]) -> Vec<String> {
    let keys: BTreeSet<String> = raised.iter().map(problem_key).collect();
    let mut ids: Vec<String> = mem
        .exceptions
        .values()
        .filter(|r| r.payload.is_empty() && r.state != ExceptionState::Resolved)
        .filter(|r| !keys.contains(&r.problem_key) || mem.dismissed.contains_key(&r.problem_key))
        .map(|r| r.exception_id.clone())
        .collect();
    ids.sort();
    ids
}

/// The problem keys of `raised` that `mem` does not hold (resolved earlier,
/// or never seen): the caller looks them up in the store.
pub fn keys_unknown(mem: &Memory, raised: &[Exception]) -> Vec<String> {
    let keys: BTreeSet<String> = raised.iter().map(problem_key).filter(|k| !mem.exceptions.contains_key(k)).collect();
    keys.into_iter().collect()
}

/// Computes the lifecycle of `raised` (this run's exceptions after the feed
/// policy) against `mem`. `facts` gives what the run knows beyond each
/// exception; `payloads` the payloads [`payloads_needed`] named. Only changes
/// become records and events: an exception raised again with the same
/// content stays as the store has it (`new` from an earlier run reads as open).
pub fn reconcile(
    mem: &Memory,
    raised: Vec<Exception>,
    facts: &(dyn Fn(&Exception) -> Facts + Sync),
    payloads: &std::collections::HashMap<String, String>,
    cx: &Context<'_>,
) -> Outcome {
    use rayon::prelude::*;
    let mut out = Outcome::default();
    let as_of = cx.as_of.format("%Y-%m-%d").to_string();
    let mut seen = BTreeSet::new();
    let mut suppressed = BTreeSet::new();
    // What each exception is about, its facts and digests: independent per
    // exception, so computed in parallel (in order).
    let about: Vec<(String, Facts, String, String)> = raised
        .par_iter()
        .map(|e| {
            let f = facts(e);
            let material = material_digest(e, &f.material);
            (problem_key(e), f, material, reckon_feed::content_digest(e))
        })
        .collect();
    // Records to write, by the index of their exception in `out.open`; their
    // payloads are serialised in parallel at the end.
    let mut payload_of: Vec<usize> = Vec::new();
    for (mut e, (key, f, material, content)) in raised.into_iter().zip(about) {
        if let Some(d) = mem.dismissed.get(&key) {
            if d.material_digest == material {
                suppressed.insert(key.clone());
                out.suppressed.push(key);
                continue;
            }
            out.lapsed.push(key.clone());
        }
        if !seen.insert(key.clone()) {
            // Two exceptions about one problem in one run (a bank entry that is
            // both a receipt and money out cannot be): keep the first.
            continue;
        }
        let prev = mem.exceptions.get(&key);
        let (state, first_run, first_seen) = match prev {
            Some(r) if r.state == ExceptionState::Resolved => {
                (ExceptionState::Reopened, r.first_run.clone(), r.first_seen.clone())
            }
            // Reopened by an undone decision since the last run.
            Some(r)
                if r.state == ExceptionState::Reopened
                    && mem.last_run.as_ref().is_none_or(|l| l.run_id != r.last_run) =>
            {
                (ExceptionState::Reopened, r.first_run.clone(), r.first_seen.clone())
            }
            Some(r) => (ExceptionState::Open, r.first_run.clone(), r.first_seen.clone()),
            None => (ExceptionState::New, cx.run_id.to_string(), as_of.clone()),
        };
        if let Some(r) = prev {
            e.exception_id = r.exception_id.clone();
        }
        let changed = prev.is_none_or(|r| r.content_digest != content || r.state == ExceptionState::Resolved);
        // A state the store does not have yet (`new` kept from an earlier run is open).
        let moved = prev
            .is_some_and(|r| r.state != state && !(r.state == ExceptionState::New && state == ExceptionState::Open));
        let age = date_of(&first_seen).map_or(0, |d| (cx.as_of - d).num_days().max(0)) as u32;
        let sla_days = cx.sla.days(e.kind);
        let breached = age > sla_days;
        if breached && e.priority > 1 {
            e.priority -= 1;
        }
        e.lifecycle = Some(Lifecycle {
            state,
            first_seen: first_seen.clone(),
            age_days: age,
            sla_days,
            sla_breached: breached,
            resolution: None,
            changed,
        });
        if !changed && !moved {
            out.open.push(e);
            continue;
        }
        let detail = match state {
            ExceptionState::New => "raised".to_string(),
            ExceptionState::Reopened => "raised again after it was resolved".to_string(),
            _ if changed => "still open; content changed".to_string(),
            _ => "still open".to_string(),
        };
        out.events.push(EventRow {
            exception_id: e.exception_id.clone(),
            run_id: Some(cx.run_id.to_string()),
            decision_id: None,
            at: cx.at.to_string(),
            state,
            band: Some(e.band.as_str().to_string()),
            score: Some(format!("{:.6}", e.score)),
            model: e.model.clone(),
            detail,
        });
        out.records.push(ExceptionRecord {
            exception_id: e.exception_id.clone(),
            problem_key: key,
            kind: e.kind,
            state,
            subject: e.records.first().cloned().unwrap_or_default(),
            band: e.band.as_str().to_string(),
            currency: e.currency.clone(),
            amount: e.amount.clone(),
            content_digest: content,
            material_digest: material,
            first_run,
            first_seen,
            last_run: cx.run_id.to_string(),
            last_seen: as_of.clone(),
            resolved_run: None,
            resolution: None,
            preparers: f.preparers,
            payload: String::new(),
        });
        payload_of.push(out.open.len());
        out.open.push(e);
    }
    let serialised: Vec<String> =
        payload_of.par_iter().map(|&i| serde_json::to_string(&out.open[i]).unwrap_or_default()).collect();
    for (r, p) in out.records.iter_mut().zip(serialised) {
        r.payload = p;
    }
    // What the store had open and this run did not raise is resolved — by the
    // evidence of this run — and what decisions resolved since the last run is
    // announced.
    let mut to_resolve: Vec<(&ExceptionRecord, String, bool)> = Vec::new();
    let mut prior: Vec<&ExceptionRecord> = mem.exceptions.values().collect();
    prior.sort_by(|a, b| a.exception_id.cmp(&b.exception_id));
    for r in prior {
        if seen.contains(&r.problem_key) {
            continue;
        }
        let (resolution, newly) = match r.state {
            ExceptionState::Resolved if r.resolved_run.is_none() => {
                (r.resolution.clone().unwrap_or_else(|| "resolved by a decision".into()), false)
            }
            ExceptionState::Resolved => continue,
            _ => {
                let txn = r.subject.strip_prefix("bank_transactions:");
                let why = match txn.and_then(|t| cx.settled.get(t)) {
                    Some(how) => how.clone(),
                    None if suppressed.contains(&r.problem_key) => {
                        format!("closed by a decision, and nothing material changed (run {})", cx.run_id)
                    }
                    None => format!("no longer raised in run {} (the evidence changed)", cx.run_id),
                };
                (why, true)
            }
        };
        if newly {
            out.events.push(EventRow {
                exception_id: r.exception_id.clone(),
                run_id: Some(cx.run_id.to_string()),
                decision_id: None,
                at: cx.at.to_string(),
                state: ExceptionState::Resolved,
                band: None,
                score: None,
                model: None,
                detail: resolution.clone(),
            });
        }
        to_resolve.push((r, resolution, newly));
    }
    // Each resolved exception republished: parsed and serialised in parallel, in order.
    let resolved: Vec<(Option<Exception>, ExceptionRecord)> = to_resolve
        .into_par_iter()
        .map(|(r, resolution, _)| {
            let payload =
                if r.payload.is_empty() { payloads.get(&r.exception_id).unwrap_or(&r.payload) } else { &r.payload };
            let mut rec = r.clone();
            rec.state = ExceptionState::Resolved;
            rec.resolved_run = Some(cx.run_id.to_string());
            rec.resolution = Some(resolution.clone());
            let Ok(mut e) = serde_json::from_str::<Exception>(payload) else {
                // Not reachable with a store reckon wrote (every exception has
                // its payload); a record without one is still resolved.
                tracing::warn!(exception = %r.exception_id, "resolved exception without a readable payload");
                return (None, rec);
            };
            e.run_id = cx.run_id.to_string();
            let age = date_of(&r.first_seen).map_or(0, |d| (cx.as_of - d).num_days().max(0)) as u32;
            let sla_days = cx.sla.days(e.kind);
            e.lifecycle = Some(Lifecycle {
                state: ExceptionState::Resolved,
                first_seen: r.first_seen.clone(),
                age_days: age,
                sla_days,
                sla_breached: age > sla_days,
                resolution: Some(resolution),
                changed: true,
            });
            rec.payload = serde_json::to_string(&e).unwrap_or_default();
            (Some(e), rec)
        })
        .collect();
    for (e, rec) in resolved {
        out.records.push(rec);
        out.resolved.extend(e);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Dismissal;
    use reckon_feed::{Band, Exception};
    use std::collections::HashMap;

    fn dup(amount: &str) -> Exception {
        let records = vec!["ap_invoices:A1".to_string(), "ap_invoices:A2".to_string()];
        Exception {
            exception_id: Exception::id_for(ExceptionKind::DuplicateInvoice, &records),
            run_id: "r2".into(),
            kind: ExceptionKind::DuplicateInvoice,
            band: Band::Review,
            score: 0.9,
            confidence: 0.9,
            entity: Some("DE01".into()),
            currency: Some("EUR".into()),
            amount: Some(amount.into()),
            records,
            reasons: vec![],
            recommended_action: "block".into(),
            model: None,
            priority: 2,
            lifecycle: None,
        }
    }

    /// A dismissed duplicate stays dismissed while its amount, documents and
    /// their vendors are the same; any of them changing raises it again.
    #[test]
    fn dismissals_hold_until_something_material_changes() {
        let facts_v1 = |_: &Exception| Facts { preparers: vec![], material: "V1:123456:EUR|V1:123456:EUR".into() };
        let facts_v2 = |_: &Exception| Facts { preparers: vec![], material: "V1:123456:EUR|V9:123456:EUR".into() };
        let e = dup("1234.56");
        let key = problem_key(&e);
        let mut mem = Memory::default();
        mem.dismissed.insert(
            key.clone(),
            Dismissal {
                problem_key: key.clone(),
                kind: "duplicate_invoice".into(),
                material_digest: material_digest(&e, &facts_v1(&e).material),
                decision_id: "D1".into(),
            },
        );
        let settled = BTreeMap::new();
        let sla = Sla::default();
        let cx = Context {
            run_id: "r2",
            as_of: NaiveDate::from_ymd_opt(2026, 11, 3).unwrap_or_default(),
            at: "2026-11-03T18:00:00Z",
            sla: &sla,
            settled: &settled,
        };
        let none = HashMap::new();
        let same = reconcile(&mem, vec![dup("1234.56")], &facts_v1, &none, &cx);
        assert!(same.open.is_empty() && same.suppressed == vec![key.clone()], "{same:?}");
        let vendor = reconcile(&mem, vec![dup("1234.56")], &facts_v2, &none, &cx);
        assert_eq!((vendor.open.len(), vendor.lapsed.clone()), (1, vec![key.clone()]), "another vendor");
        let amount = reconcile(&mem, vec![dup("1234.65")], &facts_v1, &none, &cx);
        assert_eq!((amount.open.len(), amount.lapsed.clone()), (1, vec![key]), "another amount");
    }
}
