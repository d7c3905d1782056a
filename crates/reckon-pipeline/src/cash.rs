//! The cash-matching stage: the run's receipts and open items → reckon-cash →
//! `matches.parquet`, `receipt_outcomes.parquet` and the receipts' exceptions.

use polars::prelude::*;
use reckon_cash::{Customer, MatchConfig, MatchResult, OpenItem, Receipt, RemittanceLine};
use reckon_core::{Currency, format_minor};

use crate::remember::{Learned, RunMemory};
use crate::stage::{BuildError, RunInputs, Settled, Stage, StageError, StageOutput, StageReport};
use rayon::prelude::*;
use reckon_state::Application;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use reckon_core::Table;

/// The engine's inputs: borrowed from the run's [`crate::inputs::Tables`],
/// copied only where a state store changes them (decided receipts leave,
/// applied amounts reduce open items, confirmed payer names join the master).
#[derive(Clone, Debug, Default)]
pub struct Inputs<'a> {
    pub receipts: Cow<'a, [Receipt]>,
    pub items: Cow<'a, [OpenItem]>,
    pub customers: Cow<'a, [Customer]>,
    pub remittances: Cow<'a, [RemittanceLine]>,
}

/// Why cash application could not complete.
#[derive(Debug, thiserror::Error)]
pub enum CashError {
    #[error(transparent)]
    Match(#[from] reckon_cash::MatchError),
    #[error("reference blocking: {0}")]
    Blocking(#[source] PolarsError),
}

/// Cash application in a run with a state store: decisions are applied first
/// (their receipts and the amounts they apply leave the engine's input), open
/// items carry the amounts reckon already applied, confirmed payer names join
/// the customer master, rejected pairs are never proposed.
pub fn run_remembering(
    mut i: Inputs<'_>,
    cfg: &MatchConfig,
    scorer: Option<&crate::model::OnnxScorer>,
    monitor: Option<&crate::model::Monitor>,
    challenger: Option<&crate::model::OnnxScorer>,
    memory: Option<&RunMemory>,
    run_id: &str,
) -> Result<(MatchResult, Applied), CashError> {
    let mut cfg = cfg.clone();
    // A run with a store keeps the applied groups' features for retraining.
    cfg.keep_features = memory.is_some();
    if let Some(s) = scorer
        && let Some(t) = s.0.config.thresholds.get("auto")
    {
        cfg.auto_threshold = *t;
        // A model retrained on decisions may carry entities' own thresholds.
        cfg.auto_threshold_by_entity =
            s.0.config
                .thresholds
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix("auto@")?.to_string(), *v)))
                .collect();
    }
    let t = std::time::Instant::now();
    // What each item had open in the receivables snapshot (read with a state
    // store only; the rows carry the amounts reduced by earlier applications).
    // `i.items` is borrowed from the run's rows: this copies the reference.
    let loaded = i.items.clone();
    let snapshot: rustc_hash::FxHashMap<&str, i64> = match memory {
        Some(m) => loaded
            .iter()
            .map(|it| (it.item_id.as_str(), m.reduced.get(&it.item_id).map_or(it.amount, |r| r.seen)))
            .collect(),
        None => rustc_hash::FxHashMap::default(),
    };
    let mut applied = Applied::default();
    let empty = std::collections::HashSet::new();
    let mut rejected = &empty;
    if let Some(m) = memory {
        remember_items(&mut i, m);
        // Only decisions change the items here; without any, they stay borrowed.
        if !m.decided.is_empty() {
            applied = apply_decisions(m, &i.receipts, i.items.to_mut(), &i.customers, &snapshot, run_id);
        }
        if !applied.txns.is_empty() {
            advices_of_decided(&i.receipts, &i.items, &i.remittances, &mut applied);
            i.receipts.to_mut().retain(|r| !applied.txns.contains(&r.txn_id));
        }
        rejected = &m.rejected_pairs;
    }
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "cash: memory applied");
    let t = std::time::Instant::now();
    let monitored = scorer.zip(monitor).map(|(scorer, monitor)| crate::model::Monitored { scorer, monitor });
    let sc = match &monitored {
        Some(m) => Some(m as &dyn reckon_cash::GroupScorer),
        None => scorer.map(|s| s as &dyn reckon_cash::GroupScorer),
    };
    let blocks = reference_blocks(&i.receipts, &i.items, &i.customers).map_err(CashError::Blocking)?;
    let mut result = reckon_cash::run_shadowed(
        &i.receipts,
        &i.items,
        &i.customers,
        &i.remittances,
        &cfg,
        sc,
        challenger.map(|c| c as &dyn reckon_cash::GroupScorer),
        Some(&blocks),
        rejected,
    )?;
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "cash: matched");
    let t = std::time::Instant::now();
    if let Some(m) = memory {
        // Provenance of a confirmed payer name or payer, on the links it helped make.
        cite_aliases(&mut result, &i, m);
        cite_permissions(&mut result, m);
        for r in result.rows.iter().filter(|r| r.band == reckon_cash::Band::Auto) {
            if let Some(a) = &r.remittance_id {
                applied.learned.advices_used.insert(a.clone());
            }
            applied.learned.applications.push(Application {
                txn_id: r.txn_id.clone(),
                item_id: r.item_id.clone(),
                applied_minor: r.applied_minor,
                currency: r.currency.clone(),
                open_seen_minor: snapshot.get(r.item_id.as_str()).copied().unwrap_or(0),
                run_id: run_id.to_string(),
                decision_id: None,
            });
        }
        // How a bank entry was settled is told only where an exception was about it.
        for o in result
            .outcomes
            .iter()
            .filter(|o| o.status == reckon_cash::ReceiptStatus::Auto && m.excepted_entries.contains(&o.txn_id))
        {
            applied.learned.how.insert(o.txn_id.clone(), format!("matched automatically in run {run_id}"));
        }
    }
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "cash: applications recorded");
    Ok((result, applied))
}

/// Marks used the remittance advices of the payments decisions settled this
/// run: an advice such a payment links to ([`reckon_cash::AdviceIndex::links`])
/// that names an invoice the decision applied it to. The engine does not see
/// those payments; an advice left unmarked, linked by amount alone, would be
/// kept and offered to the next payment of the same amount.
fn advices_of_decided(receipts: &[Receipt], items: &[OpenItem], remittances: &[RemittanceLine], applied: &mut Applied) {
    use reckon_cash::normalize::invoice_keys;
    if remittances.is_empty() {
        return;
    }
    let advices = reckon_cash::AdviceIndex::new(remittances);
    // Only the items decisions applied payments to.
    let decided: HashSet<&str> =
        applied.learned.applications.iter().filter(|a| a.decision_id.is_some()).map(|a| a.item_id.as_str()).collect();
    let by_id: HashMap<&str, &OpenItem> =
        items.iter().filter(|it| decided.contains(it.item_id.as_str())).map(|it| (it.item_id.as_str(), it)).collect();
    // The keys (full, tail) of the invoices the decisions applied each payment to.
    type Keys = Vec<(Option<String>, Option<String>)>;
    let mut keys_of: HashMap<&str, Keys> = HashMap::new();
    for a in applied.learned.applications.iter().filter(|a| a.decision_id.is_some()) {
        if let Some(it) = by_id.get(a.item_id.as_str()) {
            keys_of.entry(a.txn_id.as_str()).or_default().push(invoice_keys(&it.invoice_number));
        }
    }
    let mut used = Vec::new();
    for r in receipts.iter().filter(|r| applied.txns.contains(&r.txn_id)) {
        let Some(keys) = keys_of.get(r.txn_id.as_str()) else { continue };
        for (lines, _) in advices.links(r) {
            let names_one = lines.iter().any(|l| {
                let (full, tail) = invoice_keys(&l.invoice_ref);
                keys.iter().any(|(f, t)| (full.is_some() && full == *f) || (tail.is_some() && tail == *t))
            });
            if names_one {
                used.push(lines[0].remittance_id.clone());
            }
        }
    }
    applied.learned.advices_used.extend(used);
}

/// Confirmed payer names and payers added to the customer master (the open
/// amounts reckon reduced are in the rows already:
/// [`crate::inputs::Tables::reduce_open_items`]).
fn remember_items(i: &mut Inputs<'_>, m: &RunMemory) {
    // A payer people confirmed for a customer pays for it as a permitted payer.
    for p in &m.permissions {
        if let Some(c) = i.customers.to_mut().iter_mut().find(|c| c.customer_id == p.customer_id)
            && !c.payer_ids.contains(&p.payer_id)
        {
            c.payer_ids.push(p.payer_id.clone());
        }
    }
    for a in &m.aliases {
        match i.customers.to_mut().iter_mut().find(|c| c.customer_id == a.customer_id) {
            Some(c) => {
                if !c.aliases.contains(&a.name) {
                    c.aliases.push(a.name.clone());
                }
            }
            None => {
                let name = i
                    .items
                    .iter()
                    .find(|it| it.customer_id == a.customer_id)
                    .map_or_else(|| a.name.clone(), |it| it.customer_name.clone());
                i.customers.to_mut().push(Customer {
                    customer_id: a.customer_id.clone(),
                    name,
                    aliases: vec![a.name.clone()],
                    ibans: Vec::new(),
                    tax_id: String::new(),
                    payer_ids: Vec::new(),
                });
            }
        }
    }
}

/// Adds "payer name confirmed …" to the links of receipts whose payer name a
/// person confirmed for the item's customer.
fn cite_aliases(result: &mut MatchResult, i: &Inputs<'_>, m: &RunMemory) {
    use reckon_cash::normalize::name_key;
    if m.aliases.is_empty() {
        return;
    }
    let by_key: HashMap<(String, &str), &reckon_state::Alias> =
        m.aliases.iter().map(|a| ((a.name_key.clone(), a.customer_id.as_str()), a)).collect();
    let payer: HashMap<&str, String> =
        i.receipts.iter().map(|r| (r.txn_id.as_str(), name_key(&r.counterparty_name))).collect();
    let customer: HashMap<&str, &str> =
        i.items.iter().map(|it| (it.item_id.as_str(), it.customer_id.as_str())).collect();
    for r in &mut result.rows {
        let (Some(k), Some(c)) = (payer.get(r.txn_id.as_str()), customer.get(r.item_id.as_str())) else { continue };
        if let Some(a) = by_key.get(&(k.clone(), *c)) {
            r.reasons.push(format!(
                "payer name confirmed for customer {} by {} on {} (decision {})",
                a.customer_id,
                a.actor,
                a.decided_at.get(..10).unwrap_or(&a.decided_at),
                a.decision_id
            ));
        }
    }
}

/// The customer whose master account an account is (IBAN, UK sort code and
/// account: [`reckon_cash::account::keys`]), by account key.
fn account_owners(customers: &[Customer]) -> HashMap<String, &str> {
    let mut owners = HashMap::new();
    for c in customers {
        for k in c.ibans.iter().flat_map(|i| reckon_cash::account::keys(i)) {
            owners.entry(k).or_insert(c.customer_id.as_str());
        }
    }
    owners
}

/// The master customer whose account `account` is, if one.
fn account_owner<'a>(owners: &HashMap<String, &'a str>, account: &str) -> Option<&'a str> {
    reckon_cash::account::keys(account).into_iter().find_map(|k| owners.get(&k).copied())
}

/// Where a payer people confirmed made a link, the reason says who confirmed it
/// in place of the customer master.
fn cite_permissions(result: &mut MatchResult, m: &RunMemory) {
    if m.permissions.is_empty() {
        return;
    }
    let cited: HashMap<String, String> = m
        .permissions
        .iter()
        .map(|p| {
            (
                reckon_cash::permitted_payer_reason(&p.customer_id, &p.payer_id),
                format!(
                    "customer {} confirmed as payer for customer {} by {} on {} (decision {})",
                    p.payer_id,
                    p.customer_id,
                    p.actor,
                    p.decided_at.get(..10).unwrap_or(&p.decided_at),
                    p.decision_id
                ),
            )
        })
        .collect();
    for x in result.rows.iter_mut().flat_map(|r| r.reasons.iter_mut()) {
        if let Some(to) = cited.get(x.as_str()) {
            x.clone_from(to);
        }
    }
}

/// A link a person decided.
#[derive(Clone, Debug, PartialEq)]
pub struct DecidedRow {
    pub decision_id: String,
    pub decided_by: String,
    pub txn_id: String,
    pub item_id: String,
    pub currency: String,
    pub applied_minor: i64,
    /// Of the whole receipt: positive = payment left unapplied.
    pub residual_minor: i64,
    pub residual_reason: &'static str,
}

/// Decisions applied by the cash stage.
#[derive(Debug, Default)]
pub struct Applied {
    pub rows: Vec<DecidedRow>,
    /// Receipts settled by a decision.
    pub txns: std::collections::BTreeSet<String>,
    pub learned: Learned,
}

/// Applies the match decisions in order, all or nothing each: the receipt must
/// be open in this run, every item in this run's receivables, in the receipt's
/// currency and open for at least the amount applied, and the amounts must not
/// exceed the payment; money left unapplied needs a `write_off` (or an
/// overpayment accepted as one).
pub fn apply_decisions(
    m: &RunMemory,
    receipts: &[Receipt],
    items: &mut [OpenItem],
    customers: &[Customer],
    snapshot: &rustc_hash::FxHashMap<&str, i64>,
    run_id: &str,
) -> Applied {
    use reckon_state::{Action, DecisionStatus};
    let mut out = Applied::default();
    let by_txn: HashMap<&str, &Receipt> = receipts.iter().map(|r| (r.txn_id.as_str(), r)).collect();
    let index: HashMap<String, usize> = items.iter().enumerate().map(|(i, it)| (it.item_id.clone(), i)).collect();
    let owners = if m.decided.is_empty() { HashMap::new() } else { account_owners(customers) };
    for d in &m.decided {
        let s = &d.decision;
        let refuse = |out: &mut Applied, why: String| {
            tracing::warn!(decision = %s.decision_id, reason = %why, "decision refused");
            out.learned.decisions.push((s.decision_id.clone(), DecisionStatus::Refused, Some(why)));
        };
        let Some(txn) = d.txn_id.as_deref() else {
            refuse(&mut out, "its exception is not about a bank entry the store knows".into());
            continue;
        };
        if out.txns.contains(txn) {
            refuse(&mut out, format!("bank entry {txn} was settled by an earlier decision in this run"));
            continue;
        }
        let Some(r) = by_txn.get(txn) else {
            refuse(&mut out, format!("bank entry {txn} is not open in this run"));
            continue;
        };
        let wanted: Vec<reckon_state::ItemAmount> =
            if s.action == Action::Accept || s.action == Action::WriteOff && s.input.items.is_empty() {
                d.proposal.iter().map(|id| reckon_state::ItemAmount { item_id: id.clone(), amount: None }).collect()
            } else {
                s.input.items.clone()
            };
        if wanted.is_empty() {
            refuse(&mut out, "no open items to apply the payment to".into());
            continue;
        }
        let exp = Currency::parse(&r.currency).map_or(2, |c| c.exponent());
        let mut plan: Vec<(usize, i64)> = Vec::new();
        let mut left = r.amount;
        let mut why = None;
        for w in &wanted {
            let Some(&ix) = index.get(&w.item_id) else {
                why = Some(format!(
                    "open item {} is not in this run's receivables (paid, cancelled or unknown)",
                    w.item_id
                ));
                break;
            };
            let it = &items[ix];
            if it.currency != r.currency {
                why = Some(format!("open item {} is in {}, the payment in {}", it.item_id, it.currency, r.currency));
                break;
            }
            if it.amount <= 0 {
                why = Some(format!("open item {} has nothing open", it.item_id));
                break;
            }
            let amount = match &w.amount {
                Some(t) => match Currency::parse(&r.currency)
                    .map(|c| reckon_core::parse_minor(t, &reckon_core::MoneyFormat::default(), c))
                {
                    Some(Ok(v)) => v,
                    _ => {
                        why = Some(format!("amount {t} for {} is not an amount in {}", it.item_id, r.currency));
                        break;
                    }
                },
                None => it.amount.min(left),
            };
            if amount > it.amount {
                why = Some(format!(
                    "{} is more than the {} open on {}",
                    format_minor(amount, exp),
                    format_minor(it.amount, exp),
                    it.item_id
                ));
                break;
            }
            if amount > left || amount <= 0 {
                why = Some(format!(
                    "the amounts add up to more than the payment of {} {}",
                    format_minor(r.amount, exp),
                    r.currency
                ));
                break;
            }
            left -= amount;
            plan.push((ix, amount));
        }
        if let Some(w) = why {
            refuse(&mut out, w);
            continue;
        }
        let write_off = s.action == Action::WriteOff || d.kind == Some(reckon_core::ExceptionKind::Overpayment);
        if left > 0 && !write_off {
            refuse(
                &mut out,
                format!(
                    "{} {} of the payment would stay unapplied; decide write_off or name more items",
                    format_minor(left, exp),
                    r.currency
                ),
            );
            continue;
        }
        for (ix, amount) in &plan {
            let it = &mut items[*ix];
            it.amount -= amount;
            let reason = if left > 0 {
                if s.action == Action::WriteOff { "write_off" } else { "overpayment" }
            } else if it.amount > 0 {
                "short_payment"
            } else {
                "none"
            };
            out.rows.push(DecidedRow {
                decision_id: s.decision_id.clone(),
                decided_by: s.actor.clone(),
                txn_id: txn.to_string(),
                item_id: it.item_id.clone(),
                currency: it.currency.clone(),
                applied_minor: *amount,
                residual_minor: -left,
                residual_reason: reason,
            });
            out.learned.applications.push(Application {
                txn_id: txn.to_string(),
                item_id: it.item_id.clone(),
                applied_minor: *amount,
                currency: it.currency.clone(),
                open_seen_minor: snapshot.get(it.item_id.as_str()).copied().unwrap_or(0),
                run_id: run_id.to_string(),
                decision_id: Some(s.decision_id.clone()),
            });
        }
        // The payer name is the customer's from now on, if one customer was paid.
        let customers_paid: std::collections::BTreeSet<&str> =
            plan.iter().map(|(ix, _)| items[*ix].customer_id.as_str()).collect();
        if let (1, false) = (customers_paid.len(), r.counterparty_name.trim().is_empty()) {
            let cid = customers_paid.iter().next().copied().unwrap_or("");
            let key = reckon_cash::normalize::name_key(&r.counterparty_name);
            let known = m.aliases.iter().any(|a| a.name_key == key && a.customer_id == cid)
                || out.learned.aliases.iter().any(|a| a.name_key == key && a.customer_id == cid);
            if !known && !key.is_empty() {
                out.learned.aliases.push(reckon_state::Alias {
                    name_key: key,
                    customer_id: cid.to_string(),
                    name: r.counterparty_name.clone(),
                    decision_id: s.decision_id.clone(),
                    actor: s.actor.clone(),
                    decided_at: s.decided_at.clone(),
                });
            }
        }
        // A payment from another customer's account, matched to one customer's
        // items: that customer permits the payer from now on (unless its master
        // says so already).
        if let (1, Some(payer)) = (customers_paid.len(), account_owner(&owners, &r.counterparty_account)) {
            let cid = customers_paid.iter().next().copied().unwrap_or("");
            let in_master = customers.iter().any(|c| c.customer_id == cid && c.payer_ids.iter().any(|p| p == payer));
            let known = m.permissions.iter().any(|p| p.customer_id == cid && p.payer_id == payer)
                || out.learned.permissions.iter().any(|p| p.customer_id == cid && p.payer_id == payer);
            if payer != cid && !in_master && !known {
                out.learned.permissions.push(reckon_state::Permission {
                    customer_id: cid.to_string(),
                    payer_id: payer.to_string(),
                    decision_id: s.decision_id.clone(),
                    actor: s.actor.clone(),
                    decided_at: s.decided_at.clone(),
                });
            }
        }
        out.txns.insert(txn.to_string());
        out.learned.settled_by.insert(txn.to_string(), s.decision_id.clone());
        out.learned.how.insert(
            txn.to_string(),
            format!(
                "matched by decision {} of {} on {}",
                s.decision_id,
                s.actor,
                s.decided_at.get(..10).unwrap_or(&s.decided_at)
            ),
        );
        out.learned.decisions.push((s.decision_id.clone(), DecisionStatus::Applied, None));
    }
    out
}

/// Cash application as a stage: receipts (bank credits) against open AR items,
/// `matches` and `receipt_outcomes` tables, exceptions for every receipt not
/// cleared automatically.
#[derive(Debug)]
pub struct CashStage {
    config: MatchConfig,
    scorer: Option<crate::model::OnnxScorer>,
    /// The served model's training reference, when its folder has one.
    monitor: Option<crate::model::Monitor>,
    limits: reckon_monitor::DriftLimits,
    /// A challenger scored in shadow (`matching.challenger`).
    challenger: Option<crate::model::OnnxScorer>,
}

impl CashStage {
    pub fn build(config: &crate::Config) -> Result<Box<dyn Stage>, BuildError> {
        config.cash.validate()?;
        let model = |source| BuildError::Model { section: "cash", source };
        let scorer = crate::model::load_scorer(&config.cash).map_err(model)?;
        let monitor = match &scorer {
            Some(s) => crate::model::Monitor::of(&s.0).map_err(model)?,
            None => None,
        };
        let challenger = crate::model::load_challenger(&config.cash).map_err(model)?;
        Ok(Box::new(CashStage {
            config: config.cash.clone(),
            scorer,
            monitor,
            limits: config.monitor.clone(),
            challenger,
        }))
    }
}

impl Stage for CashStage {
    fn name(&self) -> &'static str {
        "cash"
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["matches", "receipt_outcomes"]
    }

    fn reads(&self) -> &'static [Table] {
        &[Table::BankTransactions, Table::ArOpenItems, Table::Customers, Table::Remittances, Table::BankAccounts]
    }

    fn settles_bank(&self) -> bool {
        true
    }

    fn run(&self, inputs: &RunInputs<'_>) -> Result<StageOutput, StageError> {
        let fail = |message: String| StageError { stage: self.name(), message };
        let rows = rows(inputs.tables);
        let result = match &rows {
            Some(r) => Some(
                run_remembering(
                    crate::cash::inputs(r, inputs.tables),
                    &self.config,
                    self.scorer.as_ref(),
                    self.monitor.as_ref(),
                    self.challenger.as_ref(),
                    inputs.memory,
                    inputs.run_id,
                )
                .map_err(|e| fail(e.to_string()))?,
            ),
            None => None,
        };
        // The rows the model scored against its training reference.
        let drift = self.monitor.as_ref().map(|m| m.take(&self.limits));
        let model_id = self.scorer.as_ref().map(reckon_cash::GroupScorer::id);
        let decided = result.as_ref().map(|r| r.1.txns.clone()).unwrap_or_default();
        let t = std::time::Instant::now();
        // The exceptions and the two output tables read the result only: built side by side.
        let (mut exceptions, built) = rayon::join(
            || {
                crate::exceptions::from_receipts_except(
                    inputs.tables,
                    result.as_ref().map(|r| &r.0),
                    inputs.run_id,
                    &decided,
                )
            },
            || {
                result.as_ref().map(|(res, applied)| {
                    rayon::join(|| matches_frame_with(res, &applied.rows), || outcomes_frame_with(res, &applied.txns))
                })
            },
        );
        tracing::debug!(ms = t.elapsed().as_millis() as u64, "cash: exceptions and tables");
        let t = std::time::Instant::now();
        if let Some(id) = &model_id {
            // The proposals' scores come from the model; unmatched receipts' do not.
            for e in exceptions.iter_mut().filter(|e| e.kind != reckon_feed::ExceptionKind::UnmatchedReceipt) {
                e.model = Some(id.clone());
            }
        }
        let mut models: Vec<crate::manifest::ModelEntry> =
            self.scorer.iter().map(|s| crate::manifest::ModelEntry::of(&s.0)).collect();
        if let (Some(entry), Some(d)) = (models.first_mut(), drift) {
            exceptions.extend(crate::model::drift_exception(&entry.id, &d, inputs.run_id));
            entry.drift = Some(d);
        }
        // Calibration in the field: the newest decisions on the served model's proposals.
        if let (Some(entry), Some(memory)) = (models.first_mut(), inputs.memory) {
            let mine: Vec<reckon_monitor::Decided> = memory
                .decided_proposals
                .iter()
                .filter(|(model, _, _)| *model == entry.id)
                .map(|(_, probability, right)| reckon_monitor::Decided { probability: *probability, right: *right })
                .collect();
            if !mine.is_empty() {
                let newest = &mine[mine.len().saturating_sub(self.limits.calibration_window)..];
                let c = reckon_monitor::calibration::calibration(
                    newest,
                    self.limits.calibration_gap,
                    self.limits.calibration_min_labels,
                );
                exceptions.extend(crate::model::calibration_exception(&entry.id, &c, inputs.run_id));
                entry.calibration = Some(c);
            }
        }
        models.extend(self.challenger.iter().map(|c| crate::manifest::ModelEntry {
            role: Some(crate::manifest::ModelRole::Shadow),
            ..crate::manifest::ModelEntry::of(&c.0)
        }));
        let (Some((res, applied)), Some((matches, outcomes))) = (result, built) else {
            return Ok(StageOutput { exceptions, models, ..StageOutput::no_input() });
        };
        let mut counts = BTreeMap::new();
        for o in &res.outcomes {
            *counts.entry(o.status.to_string()).or_insert(0u64) += 1;
        }
        if !applied.txns.is_empty() {
            counts.insert("decided".to_string(), applied.txns.len() as u64);
        }
        tracing::info!(
            receipts = res.outcomes.len(),
            links = res.rows.len(),
            decided = applied.txns.len(),
            "cash matching done"
        );
        let frame = |f: PolarsResult<DataFrame>| f.map_err(|e| fail(e.to_string()));
        let tables = vec![("matches", frame(matches)?), ("receipt_outcomes", frame(outcomes)?)];
        let summary = match &model_id {
            Some(id) => match &self.challenger {
                Some(c) => format!("ok (model {id}, auto threshold from the model; challenger {} in shadow)", c.0.id()),
                None => format!("ok (model {id}, auto threshold from the model)"),
            },
            None => "ok (rule-based scores, not calibrated)".to_string(),
        };
        // The proposals put to people, with the scores of the model that decided
        // and of the challenger in shadow (kept by a state store: the evidence
        // a promotion is judged on).
        let mut learned = applied.learned;
        // Every proposal put to people; of the automatic matches, all while a
        // challenger scores in shadow (promotion compares the two over every
        // group), else the first `auto_groups_kept` by match id (a stable hash:
        // a sample of the run's matches, whatever their order).
        let auto_kept = match (inputs.memory, &self.challenger) {
            (Some(m), None) => m.auto_groups_kept,
            _ => usize::MAX,
        };
        let kept_autos: Option<HashSet<&str>> = (inputs.memory.is_some() && auto_kept != usize::MAX).then(|| {
            let mut ids: Vec<&str> =
                res.rows.iter().filter(|r| r.band == reckon_cash::Band::Auto).map(|r| r.match_id.as_str()).collect();
            ids.par_sort_unstable();
            ids.dedup();
            ids.truncate(auto_kept);
            ids.into_iter().collect()
        });
        let kept = |r: &&reckon_cash::MatchRow| {
            inputs.memory.is_some()
                && (r.band != reckon_cash::Band::Auto
                    || kept_autos.as_ref().is_none_or(|k| k.contains(r.match_id.as_str())))
        };
        // The entity of each open item a kept proposal or candidate names (a
        // proposal's entity is its items').
        let named: HashSet<&str> = res
            .rows
            .iter()
            .filter(kept)
            .map(|r| r.item_id.as_str())
            .chain(res.alternatives.iter().flat_map(|a| a.item_ids.iter().map(String::as_str)))
            .collect();
        let entity_of: HashMap<&str, &str> = match (&rows, inputs.memory) {
            (Some((_, items)), Some(_)) => items
                .iter()
                .filter(|it| named.contains(it.item_id.as_str()))
                .map(|it| (it.item_id.as_str(), it.entity.as_str()))
                .collect(),
            _ => HashMap::new(),
        };
        let mut by_match: BTreeMap<&str, reckon_state::models::ProposalScore> = BTreeMap::new();
        for r in res.rows.iter().filter(kept) {
            let p = by_match.entry(r.match_id.as_str()).or_insert_with(|| reckon_state::models::ProposalScore {
                run_id: inputs.run_id.to_string(),
                txn_id: r.txn_id.clone(),
                items: Vec::new(),
                band: r.band,
                model: model_id.clone().unwrap_or_else(|| "rules".into()),
                confidence: r.confidence,
                challenger: self.challenger.as_ref().map(|c| c.0.id()),
                shadow_confidence: r.shadow_confidence,
                features: res.features.get(&r.match_id).cloned().unwrap_or_default(),
                feature_spec: Some(reckon_cash::FEATURE_SPEC.to_string()),
                entity: entity_of.get(r.item_id.as_str()).map(|e| e.to_string()),
                held: r.held,
            });
            // Items of several entities: no one entity's.
            if p.entity.as_deref() != entity_of.get(r.item_id.as_str()).copied() {
                p.entity = None;
            }
            p.items.push(r.item_id.clone());
        }
        learned.candidates = res
            .alternatives
            .iter()
            .filter(|_| inputs.memory.is_some())
            .map(|a| {
                let mut entities = a.item_ids.iter().map(|i| entity_of.get(i.as_str()).copied());
                let first = entities.next().flatten();
                reckon_state::models::CandidateScore {
                    run_id: inputs.run_id.to_string(),
                    txn_id: a.txn_id.clone(),
                    items: a.item_ids.clone(),
                    model: model_id.clone().unwrap_or_else(|| "rules".into()),
                    confidence: a.confidence,
                    shadow_confidence: a.shadow_confidence,
                    feature_spec: reckon_cash::FEATURE_SPEC.to_string(),
                    features: a.features.clone(),
                    // Items of several entities: no one entity's.
                    entity: first.filter(|e| entities.all(|x| x == Some(*e))).map(str::to_string),
                }
            })
            .collect();
        learned.drift = models
            .iter()
            .filter_map(|m| Some((m.id.clone(), serde_json::to_string(m.drift.as_ref()?).ok()?)))
            .collect();
        learned.calibration = models
            .iter()
            .filter_map(|m| Some((m.id.clone(), serde_json::to_string(m.calibration.as_ref()?).ok()?)))
            .collect();
        learned.proposals = by_match
            .into_values()
            .map(|mut p| {
                p.items.sort();
                p
            })
            .collect();
        let mut bank_cleared: Vec<String> = res
            .outcomes
            .iter()
            .filter(|o| o.status == reckon_cash::ReceiptStatus::Auto)
            .map(|o| o.txn_id.clone())
            .collect();
        bank_cleared.extend(applied.txns.iter().cloned());
        tracing::debug!(ms = t.elapsed().as_millis() as u64, "cash: scores kept");
        Ok(StageOutput {
            report: StageReport {
                summary,
                rows_in: (res.outcomes.len() + applied.txns.len()) as u64,
                rows_out: tables.iter().map(|(_, t)| t.height() as u64).sum(),
                counts: counts.clone(),
            },
            tables,
            exceptions,
            models,
            settled: Settled { bank_cleared, receipts: counts, ..Settled::default() },
            learned,
        })
    }
}

/// Invoice-number blocking as polars joins, so candidate generation stays near
/// linear: every text a receipt is probed with ([`reckon_cash::reference_probes`])
/// becomes a row with its invoice keys; the probes join the open items on
/// (currency, full key), and — for probes whose full key names no item — on
/// (currency, numeric tail). Keys cross into polars as 64-bit digests (one
/// integer column joins fastest); every joined pair is then checked against the
/// keys themselves, so a digest collision can never make a candidate. Returns,
/// per receipt, the items its texts name (ascending), which the engine takes
/// instead of its own lookups. A payer reference that is the id of a customer
/// (in `customers` or of an open item) is no invoice's, as in the engine.
pub fn reference_blocks(
    receipts: &[Receipt],
    items: &[OpenItem],
    customers: &[reckon_cash::Customer],
) -> PolarsResult<Vec<Vec<usize>>> {
    use rayon::prelude::*;
    use reckon_cash::normalize::invoice_keys;
    use std::hash::{Hash, Hasher};
    type Keys = (Option<String>, Option<String>);
    let t0 = std::time::Instant::now();
    let digest = |currency: &str, key: &Option<String>| -> Option<u64> {
        key.as_ref().map(|k| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (currency, k).hash(&mut h);
            h.finish()
        })
    };
    // Customer ids, for payer references that are one (only when a receipt has one).
    let ids: std::collections::HashSet<&str> = if receipts.iter().any(|r| !r.payer_ref.is_empty()) {
        customers.iter().map(|c| c.customer_id.as_str()).chain(items.iter().map(|it| it.customer_id.as_str())).collect()
    } else {
        std::collections::HashSet::new()
    };
    // Probe rows (receipt, keys), keyed in parallel, kept in receipt order.
    let per_receipt: Vec<Vec<(u32, Keys)>> = receipts
        .par_iter()
        .enumerate()
        .map(|(ri, r)| {
            if r.amount <= 0 {
                return Vec::new();
            }
            let is_id = |id: &str| ids.contains(id);
            reckon_cash::reference_probes(r, reckon_cash::payer_ref_is_customer(&r.payer_ref, is_id))
                .iter()
                .map(|probe| (ri as u32, invoice_keys(probe)))
                .filter(|(_, (full, tail))| full.is_some() || tail.is_some())
                .collect()
        })
        .collect();
    let probes: Vec<(u32, Keys)> = per_receipt.into_iter().flatten().collect();
    let item_keys: Vec<Keys> = items.par_iter().map(|it| invoice_keys(&it.invoice_number)).collect();
    let (pf, pt): (Vec<Option<u64>>, Vec<Option<u64>>) = probes
        .par_iter()
        .map(|(ri, (f, t))| {
            let c = receipts[*ri as usize].currency.as_str();
            (digest(c, f), digest(c, t))
        })
        .unzip();
    let (ifd, itd): (Vec<Option<u64>>, Vec<Option<u64>>) = item_keys
        .par_iter()
        .zip(items.par_iter())
        .map(|((f, t), it)| (digest(&it.currency, f), digest(&it.currency, t)))
        .unzip();
    let keyed_ms = t0.elapsed().as_millis() as u64;
    let probe_df = DataFrame::new(
        probes.len(),
        vec![
            Column::new("row".into(), (0..probes.len() as u32).collect::<Vec<u32>>()),
            Column::new("full".into(), pf),
            Column::new("tail".into(), pt),
        ],
    )?
    .lazy();
    let item_df = DataFrame::new(
        items.len(),
        vec![
            Column::new("i".into(), (0..items.len() as u32).collect::<Vec<u32>>()),
            Column::new("full".into(), ifd),
            Column::new("tail".into(), itd),
        ],
    )?
    .lazy();
    // Nulls never join: a probe or item without a key matches nothing on it.
    let join = |k: &str| {
        probe_df
            .clone()
            .select([col("row"), col(k)])
            .join(item_df.clone().select([col("i"), col(k)]), [col(k)], [col(k)], JoinArgs::new(JoinType::Inner))
            .select([col("row"), col("i")])
            .collect()
    };
    let (by_full, by_tail) = (join("full")?, join("tail")?);
    let joined_ms = t0.elapsed().as_millis() as u64;
    let pairs = |df: &DataFrame| -> PolarsResult<Vec<(u32, u32)>> {
        let (r, i) = (df.column("row")?.u32()?, df.column("i")?.u32()?);
        Ok(r.iter().zip(i.iter()).filter_map(|(r, i)| Some((r?, i?))).collect())
    };
    // The same currency and the same key, not just the same digest.
    let same = |row: u32, i: u32, full: bool| {
        let (p, it) = (&probes[row as usize], i as usize);
        let (pk, ik) = if full { (&p.1.0, &item_keys[it].0) } else { (&p.1.1, &item_keys[it].1) };
        pk.is_some() && pk == ik && receipts[p.0 as usize].currency == items[it].currency
    };
    let mut hit = vec![false; probes.len()];
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); receipts.len()];
    for (row, i) in pairs(&by_full)? {
        if same(row, i, true) {
            hit[row as usize] = true;
            out[probes[row as usize].0 as usize].push(i as usize);
        }
    }
    for (row, i) in pairs(&by_tail)? {
        if !hit[row as usize] && same(row, i, false) {
            out[probes[row as usize].0 as usize].push(i as usize);
        }
    }
    // Row order out of a parallel join is not fixed: sort, so the answer is.
    for v in &mut out {
        v.sort_unstable();
        v.dedup();
    }
    tracing::debug!(
        probes = probes.len(),
        by_full = by_full.height(),
        by_tail = by_tail.height(),
        keyed_ms,
        joined_ms,
        total_ms = t0.elapsed().as_millis() as u64,
        "reference blocking"
    );
    Ok(out)
}

/// The rows cash application needs from the run's tables (None without bank
/// transactions and open items); [`inputs`] borrows from them.
pub fn rows(tables: &crate::inputs::Tables) -> Option<Rows> {
    Some((tables.bank.get()?, tables.open_items.get()?))
}

/// The bank entries and open items a cash run holds while it runs.
pub type Rows = (Arc<crate::inputs::Bank>, Arc<Vec<OpenItem>>);

/// The engine's inputs, borrowed from [`rows`] and the run's small tables.
pub fn inputs<'a>((bank, items): &'a Rows, tables: &'a crate::inputs::Tables) -> Inputs<'a> {
    Inputs {
        receipts: Cow::Borrowed(&bank.receipts),
        items: Cow::Borrowed(items.as_slice()),
        customers: Cow::Borrowed(&tables.customers),
        remittances: Cow::Borrowed(&tables.remittances),
    }
}

/// `matches.parquet` (contract columns, money as exact decimal text plus minor units).
pub fn matches_frame(result: &MatchResult) -> PolarsResult<DataFrame> {
    matches_frame_with(result, &[])
}

/// `matches.parquet` with the links people decided after the engine's, and
/// `decided_by` / `decision_id` (empty for the engine's links).
pub fn matches_frame_with(result: &MatchResult, decided: &[DecidedRow]) -> PolarsResult<DataFrame> {
    let mut df = matches_frame_decided(result, decided)?;
    // A challenger scored in shadow: its probability beside the champion's
    // (the column only when a challenger ran; decided rows have none).
    if result.rows.iter().any(|r| r.shadow_confidence.is_some()) {
        let mut shadow: Vec<Option<f64>> = result.rows.iter().map(|r| r.shadow_confidence).collect();
        shadow.resize(df.height(), None);
        df.with_column(Column::new("shadow_confidence".into(), shadow))?;
    }
    Ok(df)
}

fn matches_frame_decided(result: &MatchResult, decided: &[DecidedRow]) -> PolarsResult<DataFrame> {
    let mut df = engine_matches_frame(result)?;
    let n = df.height();
    df.with_column(Column::new("decided_by".into(), vec![None::<String>; n]))?;
    df.with_column(Column::new("decision_id".into(), vec![None::<String>; n]))?;
    if decided.is_empty() {
        return Ok(df);
    }
    let exp = |c: &str| Currency::parse(c).map_or(2, |c| c.exponent());
    let s = |f: &dyn Fn(&DecidedRow) -> String| -> Vec<String> { decided.iter().map(f).collect() };
    let cols = vec![
        Column::new(
            "match_id".into(),
            s(&|r| reckon_core::id::stable_id("MD-", &[&r.decision_id, &r.txn_id, &r.item_id])),
        ),
        Column::new("txn_id".into(), s(&|r| r.txn_id.clone())),
        Column::new("item_id".into(), s(&|r| r.item_id.clone())),
        Column::new("remittance_id".into(), vec![None::<String>; decided.len()]),
        Column::new("applied_amount".into(), s(&|r| format_minor(r.applied_minor, exp(&r.currency)))),
        Column::new("residual_amount".into(), s(&|r| format_minor(r.residual_minor, exp(&r.currency)))),
        Column::new("residual_reason".into(), s(&|r| r.residual_reason.to_string())),
        Column::new("confidence".into(), vec![1.0f64; decided.len()]),
        Column::new("band".into(), vec!["auto".to_string(); decided.len()]),
        Column::new("method".into(), vec!["decision".to_string(); decided.len()]),
        Column::new("currency".into(), s(&|r| r.currency.clone())),
        Column::new("applied_amount_minor".into(), decided.iter().map(|r| r.applied_minor).collect::<Vec<i64>>()),
        Column::new("residual_amount_minor".into(), decided.iter().map(|r| r.residual_minor).collect::<Vec<i64>>()),
        Column::new("reasons".into(), s(&|r| format!("decided by {} (decision {})", r.decided_by, r.decision_id))),
        Column::new("decided_by".into(), decided.iter().map(|r| Some(r.decided_by.clone())).collect::<Vec<_>>()),
        Column::new("decision_id".into(), decided.iter().map(|r| Some(r.decision_id.clone())).collect::<Vec<_>>()),
    ];
    df.vstack(&DataFrame::new(decided.len(), cols)?)
}

fn engine_matches_frame(result: &MatchResult) -> PolarsResult<DataFrame> {
    let rows = &result.rows;
    let exp = |c: &str| Currency::parse(c).map_or(2, |c| c.exponent());
    let s = |f: &dyn Fn(&reckon_cash::MatchRow) -> String| -> Vec<String> { rows.iter().map(f).collect() };
    let cols = vec![
        Column::new("match_id".into(), s(&|r| r.match_id.clone())),
        Column::new("txn_id".into(), s(&|r| r.txn_id.clone())),
        Column::new("item_id".into(), s(&|r| r.item_id.clone())),
        Column::new(
            "remittance_id".into(),
            rows.iter().map(|r| r.remittance_id.clone()).collect::<Vec<Option<String>>>(),
        ),
        Column::new("applied_amount".into(), s(&|r| format_minor(r.applied_minor, exp(&r.currency)))),
        Column::new("residual_amount".into(), s(&|r| format_minor(r.residual_minor, exp(&r.currency)))),
        Column::new("residual_reason".into(), s(&|r| r.residual_reason.to_string())),
        Column::new("confidence".into(), rows.iter().map(|r| r.confidence).collect::<Vec<f64>>()),
        Column::new(
            "band".into(),
            s(&|r| if r.band == reckon_cash::Band::Auto { "auto".into() } else { "review".into() }),
        ),
        Column::new("method".into(), s(&|r| r.method.to_string())),
        Column::new("currency".into(), s(&|r| r.currency.clone())),
        Column::new("applied_amount_minor".into(), rows.iter().map(|r| r.applied_minor).collect::<Vec<i64>>()),
        Column::new("residual_amount_minor".into(), rows.iter().map(|r| r.residual_minor).collect::<Vec<i64>>()),
        Column::new("reasons".into(), s(&|r| r.reasons.join("; "))),
    ];
    DataFrame::new(rows.len(), cols)
}

/// `receipt_outcomes.parquet`: what happened to every receipt (auto, review,
/// ambiguous, unmatched) with reasons — the input of the exception feed.
pub fn outcomes_frame(result: &MatchResult) -> PolarsResult<DataFrame> {
    outcomes_frame_with(result, &std::collections::BTreeSet::new())
}

/// `receipt_outcomes.parquet` with a `decided` row for each receipt a decision matched.
pub fn outcomes_frame_with(
    result: &MatchResult,
    decided: &std::collections::BTreeSet<String>,
) -> PolarsResult<DataFrame> {
    let df = engine_outcomes_frame(result)?;
    if decided.is_empty() {
        return Ok(df);
    }
    let n = decided.len();
    let extra = DataFrame::new(
        n,
        vec![
            Column::new("txn_id".into(), decided.iter().cloned().collect::<Vec<_>>()),
            Column::new("status".into(), vec!["decided".to_string(); n]),
            Column::new("reasons".into(), vec!["matched by a person's decision".to_string(); n]),
            Column::new("candidates".into(), vec![String::new(); n]),
        ],
    )?;
    df.vstack(&extra)
}

fn engine_outcomes_frame(result: &MatchResult) -> PolarsResult<DataFrame> {
    let o = &result.outcomes;
    let cols = vec![
        Column::new("txn_id".into(), o.iter().map(|x| x.txn_id.clone()).collect::<Vec<_>>()),
        Column::new("status".into(), o.iter().map(|x| x.status.to_string()).collect::<Vec<_>>()),
        Column::new("reasons".into(), o.iter().map(|x| x.reasons.join("; ")).collect::<Vec<_>>()),
        // Ambiguous receipts: the candidate groups, `|` between groups, `+` between items.
        Column::new(
            "candidates".into(),
            o.iter()
                .map(|x| x.candidates.iter().map(|g| g.join("+")).collect::<Vec<_>>().join("|"))
                .collect::<Vec<_>>(),
        ),
    ];
    DataFrame::new(o.len(), cols)
}
