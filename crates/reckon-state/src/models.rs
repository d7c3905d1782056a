//! Which model serves each engine, and the evidence a challenger is promoted on.
//!
//! A store names, per engine, a `champion` (the model folder a run with the
//! store serves) and a `challenger` (scored beside it in shadow; it decides
//! nothing), with every change as an event ([`ModelAliasEvent`]): `reckon
//! models list | challenge | promote | rollback`. Each run records the scores of
//! the cash proposals it put to people ([`ProposalScore`]); the decisions people
//! take on them label them ([`label_proposals`]): accepted, or matched to the
//! same items → right; a pair rejected, or matched to other items → wrong.
//! [`compare`] holds the challenger to the champion on those labels by the
//! promotion rule ([`PromotionRule`]): enough labels, a better score by the
//! rule's metric, and auto precision at the challenger's own threshold not
//! below the floor.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::decision::{Action, DecisionStatus};
use crate::store::StoredDecision;

/// The cash-matching engine's name in the registry (as in `reckon train cash`).
pub const ENGINE_MATCH: &str = "match";

reckon_core::vocab_enum! {
    /// A model's place for an engine.
    pub enum ModelAlias {
        /// Serves the engine: decides.
        Champion => "champion",
        /// Scored beside the champion in shadow: decides nothing.
        Challenger => "challenger",
    }
}

/// A model folder as the store names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ModelRef {
    /// The folder (as given: a path or a name under `models/`).
    pub model: String,
    /// `name@version` from its config.
    pub model_id: String,
    pub model_sha256: String,
}

/// One alias as it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ModelAliasRecord {
    pub engine: String,
    pub alias: ModelAlias,
    #[serde(flatten)]
    pub model: ModelRef,
    pub since: String,
    pub actor: String,
}

/// One change of an alias: `set`, `promoted`, `rolled_back`, `cleared`, `refused`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ModelAliasEvent {
    pub seq: i64,
    pub engine: String,
    pub alias: ModelAlias,
    pub action: String,
    pub model: Option<String>,
    pub model_id: Option<String>,
    pub at: String,
    pub actor: String,
    pub detail: String,
}

/// The scores of one cash group a run applied: a proposal put to people
/// (`review`) or a match cleared automatically (`auto`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProposalScore {
    pub run_id: String,
    pub txn_id: String,
    /// The group's open items, sorted.
    pub items: Vec<String>,
    pub band: reckon_core::Band,
    pub model: String,
    pub confidence: f64,
    pub challenger: Option<String>,
    pub shadow_confidence: Option<f64>,
    /// The group's features in the order of `feature_spec` (schema 5; empty
    /// for rows kept before).
    #[serde(skip)]
    pub features: Vec<f32>,
    pub feature_spec: Option<String>,
    /// The entity (company code) of the group's open items (schema 7; `None`
    /// for rows kept before, or items of several entities).
    pub entity: Option<String>,
}

/// A proposal people decided on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LabelledProposal {
    #[serde(flatten)]
    pub score: ProposalScore,
    /// The proposal was right.
    pub right: bool,
    pub decision_id: String,
}

/// Labels the latest scores of each proposal (receipt and items) by the
/// decisions on its receipt's exceptions that stand (accepted or applied, not
/// refused, pending or undone): `accept`, or `match`/`choose` of the same
/// items → right; `match`/`choose` of other items, or `reject_pair` of one of
/// its items → wrong. Other actions (dismiss, write-off) say nothing of it.
/// `txn_of` names the bank entry of each exception about one
/// ([`crate::Store::exception_txns`]).
pub fn label_proposals(
    scores: &[ProposalScore],
    decisions: &[StoredDecision],
    txn_of: &HashMap<String, String>,
) -> Vec<LabelledProposal> {
    // The latest scores per (receipt, items): scores are in run order.
    let mut latest: BTreeMap<(&str, Vec<String>), &ProposalScore> = BTreeMap::new();
    for s in scores.iter().filter(|s| s.band == reckon_core::Band::Review) {
        latest.insert((s.txn_id.as_str(), s.items.clone()), s);
    }
    let mut by_txn: BTreeMap<&str, Vec<&ProposalScore>> = BTreeMap::new();
    for ((t, _), s) in &latest {
        by_txn.entry(t).or_default().push(s);
    }
    let mut out: BTreeMap<(String, Vec<String>), LabelledProposal> = BTreeMap::new();
    for d in decisions {
        if !matches!(d.status, DecisionStatus::Accepted | DecisionStatus::Applied) {
            continue;
        }
        let Some(txn) = d.exception_id.as_deref().and_then(|e| txn_of.get(e)) else { continue };
        let Some(proposals) = by_txn.get(txn.as_str()) else { continue };
        let chosen: BTreeSet<&str> = d.input.items.iter().map(|i| i.item_id.as_str()).collect();
        for s in proposals {
            let right = match d.action {
                Action::Accept => Some(true),
                Action::Match | Action::Choose => {
                    Some(chosen.len() == s.items.len() && s.items.iter().all(|i| chosen.contains(i.as_str())))
                }
                Action::RejectPair => d.input.item_id.as_ref().filter(|i| s.items.contains(i)).map(|_| false),
                _ => None,
            };
            if let Some(right) = right {
                out.insert(
                    (s.txn_id.clone(), s.items.clone()),
                    LabelledProposal { score: (*s).clone(), right, decision_id: d.decision_id.clone() },
                );
            }
        }
    }
    out.into_values().collect()
}

reckon_core::vocab_enum! {
    /// How a challenger's probabilities are compared with the champion's.
    pub enum PromotionMetric {
        /// Mean squared error of the probability against the label (lower is better).
        Brier => "brier",
        /// Mean negative log likelihood (lower is better).
        LogLoss => "log_loss",
    }
}

/// When a challenger may replace the champion.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PromotionRule {
    pub metric: PromotionMetric,
    /// Labelled proposals with both scores needed before anything is judged.
    pub min_labels: usize,
    /// Auto precision the challenger must keep at its own auto threshold on
    /// the labelled proposals it would have cleared.
    pub auto_floor: f64,
    /// Of all the groups scored in shadow, the share the challenger may clear
    /// automatically fewer than the champion did: better on the decided
    /// proposals must not mean fewer receipts cleared without a person.
    pub max_touchless_loss: f64,
}

impl Default for PromotionRule {
    fn default() -> Self {
        PromotionRule { metric: PromotionMetric::Brier, min_labels: 100, auto_floor: 0.998, max_touchless_loss: 0.005 }
    }
}

/// What the champion and the challenger clear without a person among the
/// groups scored in shadow (proposals and automatic matches alike).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Coverage {
    pub groups: usize,
    /// Groups the champion cleared (band `auto`).
    pub champion_auto: usize,
    /// Groups whose shadow score reaches the challenger's auto threshold,
    /// except those the engine held for a person whatever their score (in
    /// review at or above the champion's threshold: a payer conflict, invoices
    /// not posted yet).
    pub challenger_auto: usize,
}

/// [`Coverage`] of the groups `challenger` was scored on in shadow.
pub fn coverage(scores: &[ProposalScore], challenger: &str, challenger_auto: f64, champion_auto: f64) -> Coverage {
    let both: Vec<&ProposalScore> = scores
        .iter()
        .filter(|s| s.shadow_confidence.is_some() && s.challenger.as_deref() == Some(challenger))
        .collect();
    let held = |s: &ProposalScore| s.band == reckon_core::Band::Review && s.confidence >= champion_auto;
    Coverage {
        groups: both.len(),
        champion_auto: both.iter().filter(|s| s.band == reckon_core::Band::Auto).count(),
        challenger_auto: both
            .iter()
            .filter(|s| !held(s) && s.shadow_confidence.is_some_and(|c| c >= challenger_auto))
            .count(),
    }
}

/// One model's figures on the labelled proposals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Figures {
    pub brier: f64,
    pub log_loss: f64,
    /// Labelled proposals at or above the model's auto threshold, and of
    /// those the right ones (`None` threshold: not counted).
    pub auto_selected: usize,
    pub auto_right: usize,
}

impl Figures {
    fn of(p: &[(f64, bool)], auto: Option<f64>) -> Figures {
        let n = p.len().max(1) as f64;
        let brier = p.iter().map(|(s, y)| (s - if *y { 1.0 } else { 0.0 }).powi(2)).sum::<f64>() / n;
        let log_loss = p
            .iter()
            .map(|(s, y)| {
                let s = s.clamp(1e-6, 1.0 - 1e-6);
                -(if *y { s.ln() } else { (1.0 - s).ln() })
            })
            .sum::<f64>()
            / n;
        let sel: Vec<&(f64, bool)> = p.iter().filter(|(s, _)| auto.is_some_and(|a| *s >= a)).collect();
        Figures { brier, log_loss, auto_selected: sel.len(), auto_right: sel.iter().filter(|(_, y)| *y).count() }
    }

    fn metric(&self, m: PromotionMetric) -> f64 {
        match m {
            PromotionMetric::Brier => self.brier,
            PromotionMetric::LogLoss => self.log_loss,
        }
    }

    /// Auto precision on the labelled proposals (1 when none is selected).
    pub fn auto_precision(&self) -> f64 {
        if self.auto_selected == 0 { 1.0 } else { self.auto_right as f64 / self.auto_selected as f64 }
    }
}

/// The challenger against the champion on the same labelled proposals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    pub rule: PromotionRule,
    pub labelled: usize,
    pub right: usize,
    pub champion: Figures,
    pub challenger: Figures,
    /// Over every group scored in shadow (absent: not measured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
    pub promote: bool,
    /// Why not, one line per unmet condition (empty when `promote`).
    pub refused: Vec<String>,
}

/// Compares the challenger's shadow scores with the scores of the champion
/// that decided, on the labelled proposals the challenger (`challenger`, its
/// `name@version`) was scored on in shadow (`challenger_auto`: its own auto
/// threshold).
pub fn compare(
    labelled: &[LabelledProposal],
    challenger: &str,
    challenger_auto: Option<f64>,
    coverage: Option<Coverage>,
    rule: &PromotionRule,
) -> Comparison {
    let both: Vec<&LabelledProposal> = labelled
        .iter()
        .filter(|l| l.score.shadow_confidence.is_some() && l.score.challenger.as_deref() == Some(challenger))
        .collect();
    let champ: Vec<(f64, bool)> = both.iter().map(|l| (l.score.confidence, l.right)).collect();
    let chall: Vec<(f64, bool)> = both.iter().map(|l| (l.score.shadow_confidence.unwrap_or(0.0), l.right)).collect();
    let champion = Figures::of(&champ, None);
    let challenger = Figures::of(&chall, challenger_auto);
    let mut refused = Vec::new();
    if both.len() < rule.min_labels {
        refused.push(format!(
            "{} labelled proposals carry a shadow score; the rule needs {} ({} more decisions on proposals scored in shadow)",
            both.len(),
            rule.min_labels,
            rule.min_labels - both.len()
        ));
    }
    let (a, b) = (challenger.metric(rule.metric), champion.metric(rule.metric));
    if both.is_empty() || a >= b {
        refused.push(format!("the challenger's {} {a:.4} is not below the champion's {b:.4}", rule.metric));
    }
    if challenger.auto_precision() < rule.auto_floor {
        refused.push(format!(
            "the challenger would clear {} labelled proposals automatically, {} of them right: auto precision {:.4} below the floor {}",
            challenger.auto_selected,
            challenger.auto_right,
            challenger.auto_precision(),
            rule.auto_floor
        ));
    }
    if let Some(c) = &coverage {
        let allowed = (rule.max_touchless_loss * c.groups as f64).floor() as usize;
        if c.challenger_auto + allowed < c.champion_auto {
            refused.push(format!(
                "of the {} groups scored in shadow the challenger would clear {} without a person, the champion cleared {}: more than {} % of them fewer",
                c.groups,
                c.challenger_auto,
                c.champion_auto,
                rule.max_touchless_loss * 100.0
            ));
        }
    }
    Comparison {
        rule: rule.clone(),
        labelled: both.len(),
        right: both.iter().filter(|l| l.right).count(),
        promote: refused.is_empty(),
        champion,
        challenger,
        coverage,
        refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(i: usize, band: reckon_core::Band, confidence: f64, shadow: f64) -> ProposalScore {
        ProposalScore {
            run_id: "R1".into(),
            txn_id: format!("T{i}"),
            items: vec![format!("I{i}")],
            band,
            model: "cash@2.2".into(),
            confidence,
            challenger: Some("cash@9.0".into()),
            shadow_confidence: Some(shadow),
            features: Vec::new(),
            feature_spec: None,
            entity: None,
        }
    }

    /// A challenger better on the decided proposals but clearing fewer of the
    /// groups the champion cleared is refused; one that clears as many is not
    /// refused for coverage. A group held for a person whatever its score
    /// counts for neither.
    #[test]
    fn a_challenger_must_clear_about_as_many_groups_as_the_champion() {
        use reckon_core::Band::{Auto, Review};
        let mut scores: Vec<ProposalScore> = (0..1000).map(|i| group(i, Auto, 0.9995, 0.999)).collect();
        // Held by a rule (in review above the champion's threshold).
        scores.push(group(1000, Review, 0.9999, 0.9999));
        let rule = PromotionRule { min_labels: 0, auto_floor: 0.0, ..PromotionRule::default() };
        let c = coverage(&scores, "cash@9.0", 0.998, 0.998);
        assert_eq!((c.groups, c.champion_auto, c.challenger_auto), (1001, 1000, 1000));
        let ok = compare(&[], "cash@9.0", Some(0.998), Some(c), &rule);
        assert!(!ok.refused.iter().any(|r| r.contains("groups scored in shadow")), "{:?}", ok.refused);
        // At a stricter threshold of its own it clears none of them.
        let c = coverage(&scores, "cash@9.0", 0.9992, 0.998);
        assert_eq!(c.challenger_auto, 0);
        let refused = compare(&[], "cash@9.0", Some(0.9992), Some(c), &rule);
        assert!(
            refused.refused.iter().any(|r| r.contains("would clear 0 without a person, the champion cleared 1000")),
            "{:?}",
            refused.refused
        );
        assert!(!refused.promote);
    }
}
