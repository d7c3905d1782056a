//! reckon-feed: the scored-exception feed — one exception model for every engine
//! and its wire formats.
//!
//! An [`Exception`] is an item of work for a person or the workflow engine. Its
//! id is a digest of its kind and the records it concerns, so the same input
//! yields the same id on every run and at every thread count (the workflow engine
//! de-duplicates on it). [`cloud_event`] renders one as a CloudEvents 1.0
//! structured-mode event, the line format of `exceptions.jsonl`.
//!
//! [`FeedConfig`] is the routing policy (`[feed]` in reckon.toml): amounts above
//! a per-currency limit, watched entities and chosen kinds go to `escalate`.
//!
//! Not here yet (issue 7): webhook delivery with signatures, retries and the
//! durable outbox, and the Camunda adapter.

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

/// The exception feed's routing policy (`[feed]` in reckon.toml).
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedConfig {
    /// Exceptions above this absolute amount (per currency, decimal text) go to `escalate`.
    pub escalate_above: std::collections::BTreeMap<String, String>,
    /// Entities whose exceptions always go to `escalate` (a watch list).
    pub watch_entities: Vec<String>,
    /// Kinds whose exceptions always go to `escalate`.
    pub escalate_kinds: Vec<String>,
}

/// Exception kinds reckon raises (for validating the policy).
pub const KINDS: &[&str] = &[
    "unmatched_receipt",
    "suggested_match",
    "ambiguous_match",
    "partial_payment",
    "overpayment",
    "unreconciled_disbursement",
    "duplicate_invoice",
    "duplicate_payment",
    "journal_anomaly",
    "control_violation",
];

/// A checked policy: limits in minor units.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    limits: std::collections::BTreeMap<String, i64>,
    watch: Vec<String>,
    kinds: Vec<String>,
}

impl FeedConfig {
    /// Checks the policy (currencies, exact amounts, known kinds) and builds it.
    pub fn build(&self) -> Result<Policy, String> {
        let mut limits = std::collections::BTreeMap::new();
        for (cur, amount) in &self.escalate_above {
            let c = reckon_core::Currency::parse(cur)
                .ok_or_else(|| format!("feed.escalate_above: '{cur}' is not an ISO 4217 currency"))?;
            let m = reckon_core::parse_minor(amount, &reckon_core::MoneyFormat::CONTRACT, c)
                .map_err(|e| format!("feed.escalate_above.{cur}: {e}"))?;
            if m < 0 {
                return Err(format!("feed.escalate_above.{cur}: the limit must not be negative"));
            }
            limits.insert(c.code().to_string(), m);
        }
        for k in &self.escalate_kinds {
            if !KINDS.contains(&k.as_str()) {
                return Err(format!("feed.escalate_kinds: unknown kind '{k}' (known: {})", KINDS.join(", ")));
            }
        }
        Ok(Policy { limits, watch: self.watch_entities.clone(), kinds: self.escalate_kinds.clone() })
    }
}

impl Policy {
    /// Sets each exception's band: `escalate` when a rule forces a person with
    /// authority, else the band the engine gave. Adds the rule as a reason.
    pub fn apply(&self, ex: &mut [Exception]) {
        for e in ex.iter_mut() {
            let mut why = Vec::new();
            if self.kinds.contains(&e.kind) {
                why.push(format!("kind {} is always escalated", e.kind));
            }
            if let Some(ent) = e.entity.as_ref().filter(|x| self.watch.contains(x)) {
                why.push(format!("entity {ent} is on the watch list"));
            }
            if let (Some(cur), Some(amount)) = (e.currency.as_deref(), e.amount.as_deref())
                && let (Some(limit), Some(c)) = (self.limits.get(cur), reckon_core::Currency::parse(cur))
                && let Ok(m) = reckon_core::parse_minor(amount, &reckon_core::MoneyFormat::CONTRACT, c)
                && m.unsigned_abs() > limit.unsigned_abs()
            {
                why.push(format!(
                    "amount {amount} {cur} above the escalation limit {}",
                    reckon_core::format_minor(*limit, c.exponent())
                ));
            }
            if !why.is_empty() {
                e.band = "escalate".to_string();
                e.reasons.extend(why.into_iter().map(|t| Reason { code: "policy".into(), text: t, weight: 1.0 }));
            }
        }
    }
}

#[cfg(test)]
mod policy_tests {
    use super::*;

    fn ex(kind: &str, entity: &str, cur: &str, amount: &str) -> Exception {
        Exception {
            exception_id: Exception::id_for(kind, &[amount.to_string()]),
            run_id: "r".into(),
            kind: kind.into(),
            band: "review".into(),
            score: 0.5,
            confidence: 0.0,
            entity: Some(entity.into()),
            currency: Some(cur.into()),
            amount: Some(amount.into()),
            records: vec![],
            reasons: vec![],
            recommended_action: String::new(),
            model: None,
        }
    }

    #[test]
    fn policy_escalates_by_amount_entity_and_kind() {
        let cfg = FeedConfig {
            escalate_above: [("EUR".to_string(), "50000.00".to_string())].into(),
            watch_entities: vec!["GB01".into()],
            escalate_kinds: vec!["ambiguous_match".into()],
        };
        let p = cfg.build().unwrap_or_else(|e| panic!("{e}"));
        let mut v = vec![
            ex("unmatched_receipt", "DE01", "EUR", "50000.00"),
            ex("unmatched_receipt", "DE01", "EUR", "-50000.01"),
            ex("unmatched_receipt", "GB01", "GBP", "1.00"),
            ex("ambiguous_match", "DE01", "EUR", "1.00"),
            ex("unmatched_receipt", "DE01", "USD", "999999.00"),
        ];
        p.apply(&mut v);
        let bands: Vec<&str> = v.iter().map(|e| e.band.as_str()).collect();
        assert_eq!(bands, ["review", "escalate", "escalate", "escalate", "review"]);
        assert!(v[1].reasons.iter().any(|r| r.text.contains("above the escalation limit 50000.00")));
    }

    #[test]
    fn bad_policies_are_refused() {
        let bad = |c: FeedConfig| c.build().err().unwrap_or_default();
        assert!(
            bad(FeedConfig { escalate_above: [("EURO".into(), "1".into())].into(), ..FeedConfig::default() })
                .contains("ISO 4217")
        );
        assert!(
            bad(FeedConfig { escalate_above: [("EUR".into(), "1,5".into())].into(), ..FeedConfig::default() })
                .contains("EUR")
        );
        assert!(
            bad(FeedConfig { escalate_kinds: vec!["spam".into()], ..FeedConfig::default() }).contains("unknown kind")
        );
    }
}
