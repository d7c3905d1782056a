//! reckon-feed: the scored-exception feed — one exception model for every engine
//! and its wire formats.
//!
//! An [`Exception`] is an item of work for a person or the workflow engine. Its
//! id is a digest of its kind and the records it concerns, so the same input
//! yields the same id on every run and at every thread count (the workflow engine
//! de-duplicates on it). [`cloud_event`] renders one as a CloudEvents 1.0
//! structured-mode event, the line format of `exceptions.jsonl`.
//!
//! [`FeedConfig`] is the routing policy (`[feed]` in reckon.toml): amount limits
//! (feed, kind, entity), score thresholds per kind, watched entities and kinds go
//! to `escalate`; IBANs are masked unless allowed ([`policy`], [`mask`]).
//!
//! Delivery to the workflow engine goes through a durable [`outbox`] on disk
//! (one per sink, append-only and fsynced, so a process killed mid-delivery
//! resumes without losing or duplicating a message id) and [`deliver`]: a
//! Standard Webhooks sink ([`sign`]: HMAC-SHA256, key rotation) and a Camunda 8
//! message sink, with retries, exponential backoff with jitter, `Retry-After`
//! and a dead-letter file. [`receiver`] is a small loopback receiver that
//! verifies signatures: the tests' fault-injecting server, the delivery
//! benchmark's peer and `reckon feed listen`.

pub mod arrow_io;
pub mod deliver;
pub mod mask;
pub mod outbox;
pub mod policy;
pub mod receiver;
pub mod sign;

pub use policy::{EntityPolicy, FeedConfig, KINDS, KindPolicy, Policy};
use serde::{Deserialize, Serialize};

pub use reckon_core::{Band, ExceptionKind, ExceptionState};

/// Why the feed could not be written or delivered (business outcomes such as a
/// dead-lettered message are reports, not errors).
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("{0}")]
    Secret(String),
    #[error("outbox {0}: {1}")]
    Outbox(std::path::PathBuf, String),
    #[error("outbox {0} is in use by another reckon process")]
    Busy(std::path::PathBuf),
    #[error("{0}: line {1}: {2}")]
    Corrupt(std::path::PathBuf, u64, String),
    #[error(transparent)]
    Config(#[from] reckon_core::InvalidSetting),
    /// The exceptions could not be laid out as a table (a bug, not bad input).
    #[error("exceptions table: {0}")]
    Table(String),
}

/// One reason with a short human explanation and its weight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub text: String,
    pub weight: f64,
}

/// An item of work, as the data contract defines it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exception {
    pub exception_id: String,
    pub run_id: String,
    pub kind: ExceptionKind,
    /// `review` or `escalate` (`auto` work is applied, not raised).
    pub band: Band,
    pub score: f64,
    pub confidence: f64,
    pub entity: Option<String>,
    pub currency: Option<String>,
    /// Exact decimal text in the currency's minor unit.
    pub amount: Option<String>,
    /// `table:id` strings.
    pub records: Vec<String>,
    pub reasons: Vec<Reason>,
    pub recommended_action: String,
    pub model: Option<String>,
    /// 1 (first) to 3: 1 escalated; 2 money at risk or unapplied (ambiguous,
    /// partial, over- or unmatched payments, duplicates, anomalies, control
    /// violations); 3 proposals to confirm and money out not yet linked. Set by
    /// [`Policy::apply`] from the final band.
    pub priority: u8,
    /// Where the exception stands across runs; `None` for a run without a state
    /// store (reckon extension, since 2026-11-29).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Lifecycle>,
}

/// An exception's place in its lifecycle, kept by the state store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lifecycle {
    pub state: ExceptionState,
    /// The business date of the run that first raised it (`YYYY-MM-DD`).
    pub first_seen: String,
    /// Days from `first_seen` to this run's business date.
    pub age_days: u32,
    /// The kind's service level in days (`[state] sla_days`).
    pub sla_days: u32,
    /// `age_days` is past `sla_days`.
    pub sla_breached: bool,
    /// Why a resolved exception is resolved (a decision or the evidence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    /// Whether the content the workflow engine sees changed since the last run
    /// that delivered it (band, amount, records, reasons).
    #[serde(skip)]
    pub changed: bool,
}

impl Exception {
    /// The priority of this exception from its band and kind (see [`Exception::priority`]).
    pub fn prioritize(&mut self) {
        self.priority = if self.band == Band::Escalate {
            1
        } else if matches!(self.kind, ExceptionKind::SuggestedMatch | ExceptionKind::UnreconciledDisbursement) {
            3
        } else {
            2
        };
    }

    /// Masks IBANs in every text field (reasons, action, records, entity).
    pub fn mask_account_numbers(&mut self) {
        let m = |s: &mut String| {
            if let std::borrow::Cow::Owned(o) = mask::mask_ibans(s) {
                *s = o;
            }
        };
        self.reasons.iter_mut().for_each(|r| m(&mut r.text));
        self.records.iter_mut().for_each(m);
        m(&mut self.recommended_action);
        if let Some(e) = self.entity.as_mut() {
            m(e);
        }
    }

    /// The deterministic id of an exception of `kind` about `records`.
    pub fn id_for(kind: ExceptionKind, records: &[String]) -> String {
        let mut parts: Vec<&str> = vec![kind.as_str()];
        parts.extend(records.iter().map(String::as_str));
        reckon_core::id::stable_id("EX-", &parts)
    }
}

/// `source` attribute of reckon's events.
pub const SOURCE: &str = "urn:reckon:run";

/// A CloudEvents 1.0 structured-mode event for an exception. `time` is the run's
/// time (RFC 3339), so re-running the same input changes only `time` and `run_id`.
pub fn cloud_event(e: &Exception, time: &str) -> serde_json::Value {
    let (id, ty) = event_id_and_type(e);
    serde_json::json!({
        "specversion": "1.0",
        "id": id,
        "source": SOURCE,
        "type": ty,
        "time": time,
        "subject": e.records.first().cloned().unwrap_or_default(),
        "datacontenttype": "application/json",
        "data": e,
    })
}

/// What an exception's event announces, from its lifecycle: a new (or reopened)
/// exception is `com.reckon.exception.<kind>` under the exception id; a change
/// to an open one is `com.reckon.exception.updated` and a resolution
/// `com.reckon.exception.resolved`, each under an id derived from the exception
/// id (and, for an update, the content), so a re-run sends the same ids and a
/// receiver that de-duplicates on them closes or updates its task once.
pub fn event_id_and_type(e: &Exception) -> (String, String) {
    match e.lifecycle.as_ref().map(|l| l.state) {
        Some(ExceptionState::Resolved) => {
            (format!("{}.resolved", e.exception_id), "com.reckon.exception.resolved".to_string())
        }
        Some(ExceptionState::Open) => {
            (format!("{}.updated.{}", e.exception_id, content_digest(e)), "com.reckon.exception.updated".to_string())
        }
        _ => (e.exception_id.clone(), format!("com.reckon.exception.{}", e.kind)),
    }
}

/// A digest of what the workflow engine sees of an exception (kind, band,
/// amount, records, reasons, action), not its run, lifecycle or score noise.
pub fn content_digest(e: &Exception) -> String {
    let reasons: Vec<&str> = e.reasons.iter().map(|r| r.text.as_str()).collect();
    let records = e.records.join("|");
    let parts = [
        e.kind.as_str(),
        e.band.as_str(),
        e.amount.as_deref().unwrap_or(""),
        e.currency.as_deref().unwrap_or(""),
        records.as_str(),
        &reasons.join("\n"),
        e.recommended_action.as_str(),
    ];
    reckon_core::id::stable_id("", &parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_events_well_formed() {
        let rec = vec!["bank_transactions:TX1".to_string()];
        let id = Exception::id_for(ExceptionKind::UnmatchedReceipt, &rec);
        assert_eq!(id, Exception::id_for(ExceptionKind::UnmatchedReceipt, &rec));
        assert_ne!(id, Exception::id_for(ExceptionKind::SuggestedMatch, &rec));
        let e = Exception {
            exception_id: id.clone(),
            run_id: "r1".into(),
            kind: ExceptionKind::UnmatchedReceipt,
            band: Band::Review,
            score: 0.5,
            confidence: 0.0,
            entity: None,
            currency: Some("EUR".into()),
            amount: Some("12.50".into()),
            records: rec,
            reasons: vec![],
            recommended_action: "find the payer".into(),
            model: None,
            priority: 2,
            lifecycle: None,
        };
        let ev = cloud_event(&e, "2026-03-01T00:00:00Z");
        assert_eq!(ev["specversion"], "1.0");
        assert_eq!(ev["id"], id.as_str());
        assert_eq!(ev["type"], "com.reckon.exception.unmatched_receipt");
        assert_eq!(ev["subject"], "bank_transactions:TX1");
        assert_eq!(ev["data"]["amount"], "12.50");
    }
}
