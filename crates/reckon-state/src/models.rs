//! Which model serves each engine, and the evidence a challenger is promoted on.
//!
//! A store names, per engine, a `champion` (the model folder a run with the
//! store serves) and a `challenger` (scored beside it in shadow; it decides
//! nothing), with every change as an event ([`ModelAliasEvent`]): `reckon
//! models list | challenge | promote | rollback`. Each run records the scores of
//! the cash proposals it put to people ([`ProposalScore`]); the decisions people
//! take on them label them ([`label_proposals`]): accepted, or matched to the
//! same items → right; a pair rejected, or matched to other items → wrong.
//! The other candidate groups a run scored for a receipt ([`CandidateScore`])
//! are labelled by the group people chose for it ([`label_candidates`]).
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
/// The AP duplicate engine's name in the store (`reckon train duplicates`).
pub const ENGINE_DEDUP: &str = "dedup";
/// The journal risk engine's name in the store (`reckon train journals`).
pub const ENGINE_ANOMALY: &str = "anomaly";

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
    /// The engine held the group for a person whatever its score
    /// (`reckon_cash::MatchRow::held`; schema 9, `false` for rows kept before):
    /// neither model would clear it.
    pub held: bool,
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
/// ([`crate::Store::exception_txns`]). Scores come in run order, decisions in
/// the order they were made.
pub fn label_proposals<'a>(
    scores: impl IntoIterator<Item = &'a ProposalScore>,
    decisions: impl IntoIterator<Item = &'a StoredDecision>,
    txn_of: &HashMap<String, String>,
) -> Vec<LabelledProposal> {
    // The latest scores per (receipt, items): scores are in run order.
    let mut latest: BTreeMap<(&str, Vec<String>), &ProposalScore> = BTreeMap::new();
    for s in scores.into_iter().filter(|s| s.band == reckon_core::Band::Review) {
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

/// A cash candidate group a run scored and did not apply (schema 10): a
/// receipt's next best groups, the best ones of an ambiguous receipt, or a best
/// group whose items a stronger match took.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CandidateScore {
    pub run_id: String,
    pub txn_id: String,
    /// The group's open items, sorted.
    pub items: Vec<String>,
    pub model: String,
    pub confidence: f64,
    pub shadow_confidence: Option<f64>,
    pub feature_spec: String,
    #[serde(skip)]
    pub features: Vec<f32>,
    /// The entity (company code) of the group's open items (`None`: several).
    pub entity: Option<String>,
}

/// A candidate group labelled by a person's decision on its receipt.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LabelledCandidate {
    #[serde(flatten)]
    pub score: CandidateScore,
    /// The group is what the person chose for the receipt.
    pub right: bool,
    pub decision_id: String,
}

/// Labels the latest scores of each candidate group (receipt and items) by the
/// decisions that stand on its receipt's exceptions: a receipt pays one group,
/// so once a person named it every other group of the receipt is wrong.
/// `accept` names the receipt's latest proposal put to people (`proposals`:
/// scores in run order); `match`/`choose` name their items (a candidate of
/// those items is right); `reject_pair` makes wrong every candidate holding its
/// item. Other actions (dismiss, write-off) say nothing of them. `txn_of` as in
/// [`label_proposals`]; a later decision on a receipt overrides an earlier one.
pub fn label_candidates(
    candidates: &[CandidateScore],
    proposals: &[ProposalScore],
    decisions: &[StoredDecision],
    txn_of: &HashMap<String, String>,
) -> Vec<LabelledCandidate> {
    let mut latest: BTreeMap<(&str, &[String]), &CandidateScore> = BTreeMap::new();
    for c in candidates {
        latest.insert((c.txn_id.as_str(), c.items.as_slice()), c);
    }
    let mut by_txn: BTreeMap<&str, Vec<&CandidateScore>> = BTreeMap::new();
    for ((t, _), c) in &latest {
        by_txn.entry(t).or_default().push(c);
    }
    // The latest proposal put to people for each receipt: what `accept` accepts.
    let mut proposed: HashMap<&str, &[String]> = HashMap::new();
    for p in proposals.iter().filter(|p| p.band == reckon_core::Band::Review) {
        proposed.insert(p.txn_id.as_str(), p.items.as_slice());
    }
    let mut out: BTreeMap<(&str, &[String]), LabelledCandidate> = BTreeMap::new();
    for d in decisions {
        if !matches!(d.status, DecisionStatus::Accepted | DecisionStatus::Applied) {
            continue;
        }
        let Some(txn) = d.exception_id.as_deref().and_then(|e| txn_of.get(e)) else { continue };
        let Some(cands) = by_txn.get(txn.as_str()) else { continue };
        let chosen: Option<BTreeSet<&str>> = match d.action {
            Action::Accept => proposed.get(txn.as_str()).map(|items| items.iter().map(String::as_str).collect()),
            Action::Match | Action::Choose => Some(d.input.items.iter().map(|i| i.item_id.as_str()).collect()),
            _ => None,
        };
        for c in cands {
            let right = match (&chosen, d.action) {
                (Some(chosen), _) => {
                    Some(chosen.len() == c.items.len() && c.items.iter().all(|i| chosen.contains(i.as_str())))
                }
                (None, Action::RejectPair) => d.input.item_id.as_ref().filter(|i| c.items.contains(i)).map(|_| false),
                _ => None,
            };
            if let Some(right) = right {
                out.insert(
                    (c.txn_id.as_str(), c.items.as_slice()),
                    LabelledCandidate { score: (*c).clone(), right, decision_id: d.decision_id.clone() },
                );
            }
        }
    }
    out.into_values().collect()
}

/// The scores of one duplicate pair or journal a run raised as an exception
/// (schema 8).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlagScore {
    pub run_id: String,
    /// [`ENGINE_DEDUP`] or [`ENGINE_ANOMALY`].
    pub engine: String,
    /// `DOC_A+DOC_B` (a pair, doc ids in order) or `entity/journal_id`.
    pub subject: String,
    /// The problem key of the exception it was raised in (the lifecycle's).
    pub problem_key: String,
    pub model: String,
    /// The model's review threshold in that run (the flag's score is at or above it).
    pub threshold: f64,
    pub score: f64,
    pub feature_spec: String,
    #[serde(skip)]
    pub features: Vec<f32>,
}

/// A flag people decided on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LabelledFlag {
    #[serde(flatten)]
    pub score: FlagScore,
    /// People found the exception right (`confirm`); `false`: not a problem
    /// (`dismiss`, `explain`).
    pub right: bool,
    pub decision_id: String,
}

/// Labels the flags by the decisions that stand (accepted or applied, not
/// refused, pending or undone) on their exceptions: `confirm` → right,
/// `dismiss` or `explain` → wrong; other actions say nothing of them. Each
/// subject is labelled once, on its scores of the first run that raised it
/// (what people saw when they decided); `problem_of` names the problem key
/// of each exception id ([`crate::Store::exception_problems`]); `scores` are
/// in run order.
pub fn label_flags(
    scores: &[FlagScore],
    decisions: &[StoredDecision],
    problem_of: &HashMap<String, String>,
) -> Vec<LabelledFlag> {
    let mut label: HashMap<&str, (bool, &str)> = HashMap::new();
    for d in decisions {
        if !matches!(d.status, DecisionStatus::Accepted | DecisionStatus::Applied) {
            continue;
        }
        let right = match d.action {
            Action::Confirm => true,
            Action::Dismiss | Action::Explain => false,
            _ => continue,
        };
        if let Some(k) = d.exception_id.as_deref().and_then(|e| problem_of.get(e)) {
            label.insert(k.as_str(), (right, d.decision_id.as_str()));
        }
    }
    let mut seen: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut out = Vec::new();
    for s in scores {
        let Some((right, id)) = label.get(s.problem_key.as_str()) else { continue };
        if seen.insert((s.engine.as_str(), s.subject.as_str())) {
            out.push(LabelledFlag { score: s.clone(), right: *right, decision_id: id.to_string() });
        }
    }
    out
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
    // Held by the engine (schema 9), or, for rows kept before, in review at or
    // above the champion's threshold.
    let held = |s: &ProposalScore| s.held || (s.band == reckon_core::Band::Review && s.confidence >= champion_auto);
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
    /// Labelled proposals at or above the model's auto threshold that the
    /// engine did not hold for a person, and of those the right ones (`None`
    /// threshold: not counted).
    pub auto_selected: usize,
    pub auto_right: usize,
}

impl Figures {
    /// Figures of (score, right, held by the engine) triples.
    fn of(p: &[(f64, bool, bool)], auto: Option<f64>) -> Figures {
        let n = p.len().max(1) as f64;
        let brier = p.iter().map(|(s, y, _)| (s - if *y { 1.0 } else { 0.0 }).powi(2)).sum::<f64>() / n;
        let log_loss = p
            .iter()
            .map(|(s, y, _)| {
                let s = s.clamp(1e-6, 1.0 - 1e-6);
                -(if *y { s.ln() } else { (1.0 - s).ln() })
            })
            .sum::<f64>()
            / n;
        let sel: Vec<&(f64, bool, bool)> = p.iter().filter(|(s, _, h)| !h && auto.is_some_and(|a| *s >= a)).collect();
        Figures { brier, log_loss, auto_selected: sel.len(), auto_right: sel.iter().filter(|(_, y, _)| *y).count() }
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
    let champ: Vec<(f64, bool, bool)> = both.iter().map(|l| (l.score.confidence, l.right, l.score.held)).collect();
    let chall: Vec<(f64, bool, bool)> =
        both.iter().map(|l| (l.score.shadow_confidence.unwrap_or(0.0), l.right, l.score.held)).collect();
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
            held: false,
        }
    }

    fn flag(run: &str, subject: &str, key: &str, score: f64) -> FlagScore {
        FlagScore {
            run_id: run.into(),
            engine: ENGINE_DEDUP.into(),
            subject: subject.into(),
            problem_key: key.into(),
            model: "duplicates@2.0".into(),
            threshold: 0.5,
            score,
            feature_spec: "ap_pair_v2".into(),
            features: vec![score as f32],
        }
    }

    fn decided(id: &str, exception: &str, action: Action, status: DecisionStatus) -> StoredDecision {
        StoredDecision {
            decision_id: id.into(),
            exception_id: Some(exception.into()),
            action,
            actor: "ap.clerk".into(),
            decided_at: "2026-03-01T18:00:00Z".into(),
            input: crate::decision::DecisionInput::default(),
            status,
            reason: None,
            source: "test".into(),
            approved_by: None,
            applied_run: None,
        }
    }

    fn candidate(run: &str, txn: &str, items: &[&str], confidence: f64) -> CandidateScore {
        CandidateScore {
            run_id: run.into(),
            txn_id: txn.into(),
            items: items.iter().map(|i| i.to_string()).collect(),
            model: "cash@2.2".into(),
            confidence,
            shadow_confidence: None,
            feature_spec: "cash_group_v2".into(),
            features: vec![confidence as f32],
            entity: None,
        }
    }

    fn with_items(mut d: StoredDecision, items: &[&str]) -> StoredDecision {
        d.input.items =
            items.iter().map(|i| crate::decision::ItemAmount { item_id: i.to_string(), amount: None }).collect();
        d
    }

    /// A receipt pays one group: once a person accepted the proposal, or
    /// matched or chose items, every other candidate group of the receipt is
    /// wrong and a candidate of the chosen items is right; `reject_pair` makes
    /// wrong the candidates holding its item; a refused decision, and a
    /// dismissal, say nothing. Each group is labelled on its latest scores.
    #[test]
    fn candidates_are_labelled_by_the_group_people_chose() {
        use DecisionStatus::*;
        let txn_of: HashMap<String, String> =
            ["T1", "T2", "T3", "T4", "T5"].iter().map(|t| (format!("E-{t}"), t.to_string())).collect();
        let mut proposals = vec![group(1, reckon_core::Band::Review, 0.9, 0.9)];
        proposals[0].items = vec!["A".into()];
        let candidates = vec![
            // T1: proposal A accepted; B and A+C were the other groups.
            candidate("R1", "T1", &["B"], 0.30),
            candidate("R1", "T1", &["A", "C"], 0.20),
            // T2: ambiguous; the person chose D; E was the other.
            candidate("R1", "T2", &["D"], 0.50),
            candidate("R1", "T2", &["E"], 0.49),
            candidate("R2", "T2", &["E"], 0.48),
            // T3: the person rejected the pair (T3, F).
            candidate("R1", "T3", &["F"], 0.40),
            candidate("R1", "T3", &["G"], 0.35),
            // T4: a refused choice; T5: dismissed.
            candidate("R1", "T4", &["H"], 0.40),
            candidate("R1", "T5", &["I"], 0.40),
        ];
        let mut reject = decided("D3", "E-T3", Action::RejectPair, Applied);
        reject.input.item_id = Some("F".into());
        let decisions = vec![
            decided("D1", "E-T1", Action::Accept, Accepted),
            with_items(decided("D2", "E-T2", Action::Choose, Applied), &["D"]),
            reject,
            with_items(decided("D4", "E-T4", Action::Choose, Refused), &["H"]),
            decided("D5", "E-T5", Action::Dismiss, Applied),
        ];
        let got: Vec<(String, Vec<String>, String, bool)> =
            label_candidates(&candidates, &proposals, &decisions, &txn_of)
                .into_iter()
                .map(|l| (l.score.txn_id, l.score.items, l.score.run_id, l.right))
                .collect();
        let want = |t: &str, items: &[&str], run: &str, right: bool| {
            (t.to_string(), items.iter().map(|i| i.to_string()).collect::<Vec<_>>(), run.to_string(), right)
        };
        assert_eq!(
            got,
            vec![
                want("T1", &["A", "C"], "R1", false),
                want("T1", &["B"], "R1", false),
                want("T2", &["D"], "R1", true),
                want("T2", &["E"], "R2", false),
                want("T3", &["F"], "R1", false),
            ]
        );
    }

    /// `confirm` labels a flag right and `dismiss`/`explain` wrong, on the
    /// scores of the first run that raised it; a decision refused, undone or
    /// waiting for a second person labels nothing, nor does an action that
    /// says nothing of the flag. Every pair of a cluster's exception gets its label.
    #[test]
    fn flags_are_labelled_by_the_decisions_that_stand() {
        let scores = vec![
            flag("R1", "A+B", "duplicate_invoice|A|B|C", 0.7),
            flag("R1", "B+C", "duplicate_invoice|A|B|C", 0.6),
            flag("R1", "D+E", "duplicate_invoice|D|E", 0.55),
            flag("R1", "F+G", "duplicate_invoice|F|G", 0.8),
            flag("R1", "H+I", "duplicate_invoice|H|I", 0.9),
            flag("R2", "A+B", "duplicate_invoice|A|B|C", 0.75),
            flag("R2", "J+K", "duplicate_invoice|J|K", 0.65),
        ];
        let problems: HashMap<String, String> = [
            ("X1", "duplicate_invoice|A|B|C"),
            ("X2", "duplicate_invoice|D|E"),
            ("X3", "duplicate_invoice|F|G"),
            ("X4", "duplicate_invoice|H|I"),
            ("X5", "duplicate_invoice|J|K"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let decisions = vec![
            decided("D1", "X1", Action::Confirm, DecisionStatus::Applied),
            decided("D2", "X2", Action::Dismiss, DecisionStatus::Applied),
            decided("D3", "X3", Action::Confirm, DecisionStatus::Undone),
            decided("D4", "X4", Action::Dismiss, DecisionStatus::PendingApproval),
            decided("D5", "X5", Action::Explain, DecisionStatus::Applied),
            decided("D6", "X3", Action::Undo, DecisionStatus::Applied),
        ];
        let got: Vec<(String, String, f64, bool)> = label_flags(&scores, &decisions, &problems)
            .into_iter()
            .map(|l| (l.score.run_id, l.score.subject, l.score.score, l.right))
            .collect();
        let want = vec![
            ("R1".to_string(), "A+B".to_string(), 0.7, true),
            ("R1".into(), "B+C".into(), 0.6, true),
            ("R1".into(), "D+E".into(), 0.55, false),
            ("R2".into(), "J+K".into(), 0.65, false),
        ];
        assert_eq!(got, want);
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

    /// A proposal the engine held for a person (`held`) is cleared by neither
    /// model, whatever the challenger scores it: it does not count against
    /// the challenger's auto precision, nor among the groups it clears.
    #[test]
    fn a_proposal_the_engine_held_counts_for_neither_model() {
        use reckon_core::Band::Review;
        let labelled: Vec<LabelledProposal> = (0..200)
            .map(|i| {
                let mut score = group(i, Review, 0.5, 0.9999);
                // Ten wrong proposals, all held by the engine.
                score.held = i < 10;
                LabelledProposal { score, right: i >= 10, decision_id: format!("D{i}") }
            })
            .collect();
        let rule = PromotionRule { min_labels: 100, ..PromotionRule::default() };
        let c = compare(&labelled, "cash@9.0", Some(0.998), None, &rule);
        assert_eq!((c.challenger.auto_selected, c.challenger.auto_right), (190, 190));
        assert!(c.promote, "{:?}", c.refused);
        let scores: Vec<ProposalScore> = labelled.iter().map(|l| l.score.clone()).collect();
        assert_eq!(coverage(&scores, "cash@9.0", 0.998, 0.998).challenger_auto, 190);
        // Not held, the ten wrong ones are cleared: refused by the floor.
        let unheld: Vec<LabelledProposal> = labelled
            .iter()
            .cloned()
            .map(|mut l| {
                l.score.held = false;
                l
            })
            .collect();
        let c = compare(&unheld, "cash@9.0", Some(0.998), None, &rule);
        assert_eq!((c.challenger.auto_selected, c.challenger.auto_right), (200, 190));
        assert!(!c.promote);
    }
}
