//! reckon-feed: the scored-exception feed — one exception model for every engine
//! and its wire formats.
//!
//! An [`Exception`] is an item of work for a person or the workflow engine. Its
//! id is a digest of its kind and the records it concerns, so the same input
//! yields the same id on every run and at every thread count (the workflow engine
//! de-duplicates on it). [`cloud_event`] renders one as a CloudEvents 1.0
//! structured-mode event, the line format of `exceptions.jsonl`.
//!
//! Not here yet (issue 7): the threshold policy, webhook delivery with signatures,
//! retries and the durable outbox, and the Camunda adapter.

use serde::Serialize;

/// One reason with a short human explanation and its weight.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reason {
    pub code: String,
    pub text: String,
    pub weight: f64,
}

/// An item of work, as the data contract defines it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Exception {
    pub exception_id: String,
    pub run_id: String,
    /// `unmatched_receipt`, `suggested_match`, `ambiguous_match`, `partial_payment`,
    /// `overpayment`, `unreconciled_disbursement`, …
    pub kind: String,
    /// `review` or `escalate`.
    pub band: String,
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
}

impl Exception {
    /// The deterministic id of an exception of `kind` about `records`.
    pub fn id_for(kind: &str, records: &[String]) -> String {
        let mut parts: Vec<&str> = vec![kind];
        parts.extend(records.iter().map(String::as_str));
        reckon_core::id::stable_id("EX-", &parts)
    }
}

/// `source` attribute of reckon's events.
pub const SOURCE: &str = "urn:reckon:run";

/// A CloudEvents 1.0 structured-mode event for an exception. `time` is the run's
/// time (RFC 3339), so re-running the same input changes only `time` and `run_id`.
pub fn cloud_event(e: &Exception, time: &str) -> serde_json::Value {
    serde_json::json!({
        "specversion": "1.0",
        "id": e.exception_id,
        "source": SOURCE,
        "type": format!("com.reckon.exception.{}", e.kind),
        "time": time,
        "subject": e.records.first().cloned().unwrap_or_default(),
        "datacontenttype": "application/json",
        "data": e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_events_well_formed() {
        let rec = vec!["bank_transactions:TX1".to_string()];
        let id = Exception::id_for("unmatched_receipt", &rec);
        assert_eq!(id, Exception::id_for("unmatched_receipt", &rec));
        assert_ne!(id, Exception::id_for("suggested_match", &rec));
        let e = Exception {
            exception_id: id.clone(),
            run_id: "r1".into(),
            kind: "unmatched_receipt".into(),
            band: "review".into(),
            score: 0.5,
            confidence: 0.0,
            entity: None,
            currency: Some("EUR".into()),
            amount: Some("12.50".into()),
            records: rec,
            reasons: vec![],
            recommended_action: "find the payer".into(),
            model: None,
        };
        let ev = cloud_event(&e, "2026-03-01T00:00:00Z");
        assert_eq!(ev["specversion"], "1.0");
        assert_eq!(ev["id"], id.as_str());
        assert_eq!(ev["type"], "com.reckon.exception.unmatched_receipt");
        assert_eq!(ev["subject"], "bank_transactions:TX1");
        assert_eq!(ev["data"]["amount"], "12.50");
    }
}
