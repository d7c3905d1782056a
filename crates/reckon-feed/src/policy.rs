//! The routing policy (`[feed]` in reckon.toml): which exceptions must go to a
//! person with authority (`escalate`) whatever the engine's confidence.
//!
//! Rules, each added to the exception as a `policy` reason when it fires:
//! - amount above a limit per currency — feed-wide, per kind
//!   (`[feed.kinds.<kind>] escalate_above`) and per entity
//!   (`[feed.entities.<entity>] escalate_above`); the most specific limit wins
//!   (entity, then kind, then feed);
//! - per kind, a score at or above `escalate_score_above` (risk kinds: journal
//!   anomalies, duplicates) or a confidence below `escalate_confidence_below`
//!   (proposals too weak for a first-line analyst);
//! - kinds always escalated (`escalate_kinds`, feed-wide or per entity);
//! - entities on the watch list;
//! - reason codes that always need a person (`escalate_reason_codes`, e.g.
//!   `vendor_master_change`).
//!
//! The config is checked (ISO currencies, exact amounts, known kinds, scores in
//! 0–1, delivery URLs) and built into a [`Policy`] before any run starts.

use std::collections::BTreeMap;

use reckon_core::InvalidSetting;

use serde::{Deserialize, Serialize};

use crate::deliver::{CamundaConfig, WebhookConfig};
use crate::{Band, Exception, ExceptionKind, Reason};

/// Exception kinds reckon raises, by name (for validating the policy).
pub const KINDS: &[ExceptionKind] = ExceptionKind::ALL;

/// `[feed]` as written.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedConfig {
    /// Exceptions above this absolute amount (per currency, decimal text) go to `escalate`.
    pub escalate_above: BTreeMap<String, String>,
    /// Entities whose exceptions always go to `escalate` (a watch list).
    pub watch_entities: Vec<String>,
    /// Kinds whose exceptions always go to `escalate`.
    pub escalate_kinds: Vec<String>,
    /// Reason codes that always need a person (e.g. `vendor_master_change`).
    pub escalate_reason_codes: Vec<String>,
    /// Per-kind thresholds: `[feed.kinds.suggested_match]`.
    pub kinds: BTreeMap<String, KindPolicy>,
    /// Per-entity overrides: `[feed.entities.DE01]`.
    pub entities: BTreeMap<String, EntityPolicy>,
    /// Leave IBANs readable in the feed (default: masked to `DE89…3000`).
    pub show_account_numbers: bool,
    /// Deliver the feed to a webhook (Standard Webhooks, CloudEvents).
    pub webhook: Option<WebhookConfig>,
    /// Publish the feed to Camunda 8 as messages.
    pub camunda: Option<CamundaConfig>,
}

/// `[feed.kinds.<kind>]`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KindPolicy {
    /// Escalate when the exception's score is at or above this (0–1).
    pub escalate_score_above: Option<f64>,
    /// Escalate when the exception's confidence is below this (0–1).
    pub escalate_confidence_below: Option<f64>,
    /// Amount limits for this kind, per currency (override the feed-wide ones).
    pub escalate_above: BTreeMap<String, String>,
}

/// `[feed.entities.<entity>]`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EntityPolicy {
    /// Amount limits for this entity, per currency (override kind and feed limits).
    pub escalate_above: BTreeMap<String, String>,
    /// Kinds always escalated for this entity (in addition to the feed-wide ones).
    pub escalate_kinds: Vec<String>,
}

/// A checked policy: limits in minor units.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    limits: BTreeMap<String, i64>,
    kind_limits: BTreeMap<ExceptionKind, BTreeMap<String, i64>>,
    kind_scores: BTreeMap<ExceptionKind, (Option<f64>, Option<f64>)>,
    entity_limits: BTreeMap<String, BTreeMap<String, i64>>,
    entity_kinds: BTreeMap<String, Vec<ExceptionKind>>,
    watch: Vec<String>,
    kinds: Vec<ExceptionKind>,
    reason_codes: Vec<String>,
    /// IBANs readable in the feed.
    pub show_account_numbers: bool,
}

fn limits(field: &str, m: &BTreeMap<String, String>) -> Result<BTreeMap<String, i64>, InvalidSetting> {
    let mut out = BTreeMap::new();
    for (cur, amount) in m {
        let c = reckon_core::Currency::parse(cur)
            .ok_or_else(|| bad(format!("{field}: '{cur}' is not an ISO 4217 currency")))?;
        let v = reckon_core::parse_minor(amount, &reckon_core::MoneyFormat::CONTRACT, c)
            .map_err(|e| bad(format!("{field}.{cur}: {e}")))?;
        if v < 0 {
            return Err(bad(format!("{field}.{cur}: the limit must not be negative")));
        }
        out.insert(c.code().to_string(), v);
    }
    Ok(out)
}

fn known_kind(field: &str, k: &str) -> Result<ExceptionKind, InvalidSetting> {
    ExceptionKind::parse(k).ok_or_else(|| {
        let known: Vec<&str> = KINDS.iter().map(|k| k.as_str()).collect();
        bad(format!("{field}: unknown kind '{k}' (known: {})", known.join(", ")))
    })
}

fn unit(field: &str, v: Option<f64>) -> Result<Option<f64>, InvalidSetting> {
    match v {
        Some(x) if !(0.0..=1.0).contains(&x) => Err(bad(format!("{field}: {x} is not between 0 and 1"))),
        other => Ok(other),
    }
}

/// A setting of `[feed]` that cannot be used.
fn bad(reason: String) -> InvalidSetting {
    InvalidSetting::new("feed", reason)
}

impl FeedConfig {
    /// Checks the policy and builds it.
    pub fn build(&self) -> Result<Policy, InvalidSetting> {
        let mut p = Policy {
            limits: limits("feed.escalate_above", &self.escalate_above)?,
            watch: self.watch_entities.clone(),
            reason_codes: self.escalate_reason_codes.clone(),
            show_account_numbers: self.show_account_numbers,
            ..Policy::default()
        };
        for k in &self.escalate_kinds {
            p.kinds.push(known_kind("feed.escalate_kinds", k)?);
        }
        for (k, kp) in &self.kinds {
            let f = format!("feed.kinds.{k}");
            let kind = known_kind(&f, k)?;
            p.kind_limits.insert(kind, limits(&format!("{f}.escalate_above"), &kp.escalate_above)?);
            p.kind_scores.insert(
                kind,
                (
                    unit(&format!("{f}.escalate_score_above"), kp.escalate_score_above)?,
                    unit(&format!("{f}.escalate_confidence_below"), kp.escalate_confidence_below)?,
                ),
            );
        }
        for (ent, ep) in &self.entities {
            let f = format!("feed.entities.{ent}");
            p.entity_limits.insert(ent.clone(), limits(&format!("{f}.escalate_above"), &ep.escalate_above)?);
            let kinds = ep
                .escalate_kinds
                .iter()
                .map(|k| known_kind(&format!("{f}.escalate_kinds"), k))
                .collect::<Result<Vec<_>, _>>()?;
            p.entity_kinds.insert(ent.clone(), kinds);
        }
        if let Some(w) = &self.webhook {
            w.validate()?;
        }
        if let Some(c) = &self.camunda {
            c.validate()?;
        }
        Ok(p)
    }
}

impl Policy {
    /// The limit that applies to an exception: entity, then kind, then feed-wide.
    fn limit(&self, entity: Option<&str>, kind: ExceptionKind, cur: &str) -> Option<(i64, &'static str)> {
        if let Some(v) = entity.and_then(|e| self.entity_limits.get(e)).and_then(|m| m.get(cur)) {
            return Some((*v, "entity"));
        }
        if let Some(v) = self.kind_limits.get(&kind).and_then(|m| m.get(cur)) {
            return Some((*v, "kind"));
        }
        self.limits.get(cur).map(|v| (*v, "feed"))
    }

    /// Sets each exception's band: `escalate` when a rule forces a person with
    /// authority, else the band the engine gave. Adds every rule that fired as a
    /// reason. Masks IBANs unless the policy shows them.
    pub fn apply(&self, ex: &mut [Exception]) {
        for e in ex.iter_mut() {
            let mut why = Vec::new();
            let entity = e.entity.as_deref();
            if self.kinds.contains(&e.kind) {
                why.push(format!("kind {} is always escalated", e.kind));
            }
            if let Some(ent) = entity
                && self.entity_kinds.get(ent).is_some_and(|ks| ks.contains(&e.kind))
            {
                why.push(format!("kind {} is always escalated for entity {ent}", e.kind));
            }
            if let Some(ent) = entity.filter(|x| self.watch.iter().any(|w| w == x)) {
                why.push(format!("entity {ent} is on the watch list"));
            }
            if let Some((above, below)) = self.kind_scores.get(&e.kind) {
                if let Some(t) = above.filter(|t| e.score >= *t) {
                    why.push(format!("score {:.3} at or above the {} threshold {t}", e.score, e.kind));
                }
                if let Some(t) = below.filter(|t| e.confidence < *t) {
                    why.push(format!("confidence {:.3} below the {} threshold {t}", e.confidence, e.kind));
                }
            }
            if let Some(code) =
                e.reasons.iter().map(|r| r.code.as_str()).find(|c| self.reason_codes.iter().any(|x| x == c))
            {
                why.push(format!("reason {code} always needs a person"));
            }
            if let (Some(cur), Some(amount)) = (e.currency.as_deref(), e.amount.as_deref())
                && let Some(c) = reckon_core::Currency::parse(cur)
                && let Some((limit, scope)) = self.limit(entity, e.kind, c.code())
                && let Ok(m) = reckon_core::parse_minor(amount, &reckon_core::MoneyFormat::CONTRACT, c)
                && m.unsigned_abs() > limit.unsigned_abs()
            {
                why.push(format!(
                    "amount {amount} {cur} above the {scope} escalation limit {}",
                    reckon_core::format_minor(limit, c.exponent())
                ));
            }
            if !why.is_empty() {
                e.band = Band::Escalate;
                e.reasons.extend(why.into_iter().map(|t| Reason { code: "policy".into(), text: t, weight: 1.0 }));
            }
            e.prioritize();
            if !self.show_account_numbers {
                e.mask_account_numbers();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(kind: &str, entity: &str, cur: &str, amount: &str) -> Exception {
        let kind = ExceptionKind::parse(kind).unwrap_or_else(|| panic!("{kind}"));
        Exception {
            exception_id: Exception::id_for(kind, &[amount.to_string()]),
            run_id: "r".into(),
            kind,
            band: Band::Review,
            score: 0.5,
            confidence: 0.5,
            entity: Some(entity.into()),
            currency: Some(cur.into()),
            amount: Some(amount.into()),
            records: vec![],
            reasons: vec![],
            recommended_action: String::new(),
            model: None,
            priority: 0,
            lifecycle: None,
        }
    }

    fn policy(toml_text: &str) -> Result<Policy, String> {
        let c: FeedConfig = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        c.build().map_err(|e| e.to_string())
    }

    #[test]
    fn escalates_by_amount_entity_and_kind() {
        let p = policy("escalate_above = { EUR = \"50000.00\" }\nwatch_entities = [\"GB01\"]\nescalate_kinds = [\"ambiguous_match\"]")
            .unwrap_or_else(|e| panic!("{e}"));
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
        assert!(v[1].reasons.iter().any(|r| r.text.contains("above the feed escalation limit 50000.00")));
    }

    #[test]
    fn the_most_specific_limit_and_kind_thresholds_win() {
        let p = policy(
            r#"
escalate_above = { EUR = "50000.00" }
escalate_reason_codes = ["vendor_master_change"]
[kinds.suggested_match]
escalate_above = { EUR = "10000.00" }
escalate_confidence_below = 0.3
[kinds.journal_anomaly]
escalate_score_above = 0.9
[entities.FR01]
escalate_above = { EUR = "1000.00" }
escalate_kinds = ["overpayment"]
"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut v = vec![
            ex("suggested_match", "DE01", "EUR", "20000.00"), // kind limit 10000 → escalate
            ex("unmatched_receipt", "DE01", "EUR", "20000.00"), // feed limit 50000 → review
            ex("unmatched_receipt", "FR01", "EUR", "2000.00"), // entity limit 1000 → escalate
            ex("suggested_match", "FR01", "EUR", "900.00"),   // entity limit wins over kind: review
            ex("overpayment", "FR01", "EUR", "1.00"),         // entity kind → escalate
            ex("journal_anomaly", "DE01", "EUR", "1.00"),     // score 0.5 < 0.9 → review
            ex("journal_anomaly", "DE01", "EUR", "1.00"),
            ex("suggested_match", "DE01", "EUR", "1.00"),
            ex("duplicate_invoice", "DE01", "EUR", "1.00"),
        ];
        v[6].score = 0.95;
        v[7].confidence = 0.2;
        v[8].reasons.push(Reason { code: "vendor_master_change".into(), text: "IBAN changed".into(), weight: 1.0 });
        p.apply(&mut v);
        let bands: Vec<&str> = v.iter().map(|e| e.band.as_str()).collect();
        assert_eq!(
            bands,
            ["escalate", "review", "escalate", "review", "escalate", "review", "escalate", "escalate", "escalate"]
        );
        assert!(v[0].reasons.iter().any(|r| r.text.contains("kind escalation limit 10000.00")));
        let prio: Vec<u8> = v.iter().map(|e| e.priority).collect();
        assert_eq!(prio, [1, 2, 1, 3, 1, 2, 1, 1, 1]);
        assert!(v[2].reasons.iter().any(|r| r.text.contains("entity escalation limit 1000.00")));
    }

    #[test]
    fn bad_policies_are_refused_with_the_field() {
        let bad = |t: &str| policy(t).err().unwrap_or_default();
        assert!(bad("escalate_above = { EURO = \"1\" }").contains("ISO 4217"));
        assert!(bad("escalate_above = { EUR = \"1,5\" }").contains("feed.escalate_above.EUR"));
        assert!(bad("escalate_kinds = [\"spam\"]").contains("unknown kind"));
        assert!(bad("[kinds.journal_anomaly]\nescalate_score_above = 1.5").contains("feed.kinds.journal_anomaly"));
        assert!(bad("[kinds.spam]\nescalate_score_above = 0.5").contains("unknown kind 'spam'"));
        assert!(bad("[entities.DE01]\nescalate_above = { XXX1 = \"1\" }").contains("feed.entities.DE01"));
        assert!(bad("[kinds.journal_anomaly]\nescalate_scre_above = 0.5").contains("unknown field"));
    }

    #[test]
    fn ibans_are_masked_unless_shown() {
        let mut v = vec![ex("unmatched_receipt", "DE01", "EUR", "1.00")];
        v[0].reasons.push(Reason { code: "payer".into(), text: "IBAN DE89370400440532013000".into(), weight: 1.0 });
        let mut shown = v.clone();
        policy("").unwrap_or_else(|e| panic!("{e}")).apply(&mut v);
        assert_eq!(v[0].reasons[0].text, "IBAN DE89…3000");
        policy("show_account_numbers = true").unwrap_or_else(|e| panic!("{e}")).apply(&mut shown);
        assert_eq!(shown[0].reasons[0].text, "IBAN DE89370400440532013000");
    }
}
