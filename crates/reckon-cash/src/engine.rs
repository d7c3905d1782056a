//! Evidence, candidate groups, global assignment.

use reckon_core::InvalidSetting;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// The engine's hash maps: FxHash (fast, deterministic; keys are reckon's own data).
type HashMap<K, V> = rustc_hash::FxHashMap<K, V>;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::normalize::{
    abbreviates, abbreviates_reordered, invoice_keys, legal_cut, may_abbreviate, name_key, name_similarity_sorted,
    sorted_tokens, without_legal_cuts,
};
use crate::vocab::{MatchMethod, PayerNameForm, ReceiptStatus, ResidualReason};

/// A bank credit to apply.
#[derive(Clone, Debug, Default)]
pub struct Receipt {
    pub txn_id: String,
    pub booking_date: i32,
    pub amount: i64,
    pub currency: String,
    pub counterparty_name: String,
    pub counterparty_account: String,
    pub end_to_end_id: String,
    pub reference: String,
    pub description: String,
    /// What the payer instructed in another currency before the bank converted it
    /// (minor units of that currency, currency code).
    pub instructed: Option<(i64, String)>,
    /// Charges the banks deducted from this credit before booking it, as the
    /// bank states them (minor units of `currency`; `charges_amount`): a
    /// residual of exactly that much is the bank's charges, whatever its size.
    pub charges: Option<i64>,
    /// How much of the payer's name `counterparty_name` holds
    /// ([`crate::bank_text::BankText::payer_name_form`]): cut at the width of
    /// the bank's field (masters whose names begin with it are candidates
    /// too), or run on into an address (masters whose whole name begins it).
    pub name_form: PayerNameForm,
    /// A number the payer keyed to identify itself to the payee (the ACH
    /// Identification Number: [`crate::bank_text::BankText::identification_number`]);
    /// when it is a customer's id, it names that customer as the payer.
    pub payer_ref: String,
}

/// An AR open item.
#[derive(Clone, Debug, Default)]
pub struct OpenItem {
    pub item_id: String,
    pub entity: String,
    pub customer_id: String,
    pub customer_name: String,
    pub invoice_number: String,
    pub invoice_date: i32,
    pub due_date: Option<i32>,
    pub amount: i64,
    pub currency: String,
}

/// A customer master record.
#[derive(Clone, Debug, Default)]
pub struct Customer {
    pub customer_id: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub ibans: Vec<String>,
    /// The customer's tax id: a US EIN identifies an ACH originator ([`crate::account`]).
    pub tax_id: String,
    /// Customers permitted to pay this customer's items: a parent, head office
    /// or group treasury (SAP's alternative payer and permitted payers,
    /// customer master fields KNRZA and table KNZA; Oracle Receivables'
    /// customer relationships). A payment by one of them is the customer's own.
    pub payer_ids: Vec<String>,
}

/// A remittance advice line.
#[derive(Clone, Debug, Default)]
pub struct RemittanceLine {
    pub remittance_id: String,
    pub payment_ref: String,
    /// Days since 1970-01-01, when the advice carries a date.
    pub advice_date: Option<i32>,
    /// Days since 1970-01-01 on which an earlier run received the advice (a
    /// line a state store kept); `None` for a line of this run's files. An
    /// advice without a date or a payment reference links by amount only to
    /// a payment booked within a week of its date, else of its arrival.
    pub arrived: Option<i32>,
    pub invoice_ref: String,
    pub paid: i64,
    pub discount: i64,
    pub deduction: i64,
    pub currency: String,
}

/// Cash application settings (`[cash]` in reckon.toml; read from `[matching]` too).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MatchConfig {
    /// Groups scoring at least this clear without a person (`auto`). The default,
    /// 0.85, was chosen on a validation scenario (`reckon generate --seed 101
    /// --scale 20000`: 9,644 groups, precision 0.9999); partial payments (0.80) and
    /// overpayments (0.75) stay below it by design.
    pub auto_threshold: f64,
    /// Minimum name similarity to take a payer for a customer.
    pub name_threshold: f64,
    /// Largest residual read as a bank charge, per currency, in minor units of
    /// that currency (`{ EUR = 2500 }` is EUR 25.00). A currency without an
    /// entry has no bank-charge explanation: its short payments go to review.
    /// Charges are deducted from cross-border wires sent SHA or BEN (SWIFT
    /// MT103 field 71A); within the EEA the payee's bank credits the full
    /// amount unless the payee agreed otherwise (PSD2, Directive (EU)
    /// 2015/2366, Art. 81). No standard fixes the amount: the default, 25.00 in
    /// EUR, USD, GBP and CHF, is a placeholder to set from your banks' fee
    /// schedules (`docs/defaults.md`).
    pub bank_fee_max_minor: BTreeMap<String, i64>,
    /// Early-payment discount rates in percent.
    pub discount_percent: Vec<i64>,
    /// A payment instructed in another currency may differ from the open amount by
    /// up to this many basis points of it: an FX difference.
    pub fx_tolerance_bp: i64,
    /// Open items considered for a name-only payment: due/invoice date within this many days.
    pub date_window_days: i32,
    /// Subset-sum bounds: items per group and candidates searched.
    pub subset_max_items: usize,
    pub subset_max_candidates: usize,
    /// Two groups for one receipt within this score are ambiguous.
    pub ambiguity_margin: f64,
    /// The group scorer: a model folder name under `models/` (or a path), or
    /// `rules` for the rule scores alone. With a model, confidence is its
    /// calibrated probability and the auto threshold is the model's own (chosen on
    /// validation data), not `auto_threshold`.
    pub model: String,
    /// An overpayment whose excess is above this share (%) of what the group
    /// applies is not cleared automatically: a payment more than twice its
    /// invoices is rather a collective payment whose other invoices it does
    /// not name (or that are not posted yet) than an overpayment of these.
    pub overpayment_auto_max_percent: u32,
    /// A challenger model folder (or path) scored in shadow beside `model`: its
    /// probability for each group applied is written as `shadow_confidence`; it
    /// decides nothing. Empty for none.
    pub challenger: String,
    /// Keep each applied group's features in [`MatchResult::features`], and
    /// each receipt's other candidate groups in [`MatchResult::alternatives`]
    /// (a run with a state store keeps them for retraining); not a setting.
    #[serde(skip)]
    pub keep_features: bool,
    /// Auto thresholds of entities (company codes) that have their own, in
    /// place of `auto_threshold` for groups of their open items (a model
    /// retrained on decisions carries them as `auto@<entity>`); not a setting.
    #[serde(skip)]
    pub auto_threshold_by_entity: BTreeMap<String, f64>,
}

impl MatchConfig {
    /// The auto threshold of a group of these open items: the highest of their
    /// entities' own thresholds, else `auto_threshold`.
    pub fn auto_threshold_for<'a>(&self, entities: impl Iterator<Item = &'a str>) -> f64 {
        if self.auto_threshold_by_entity.is_empty() {
            return self.auto_threshold;
        }
        let t = entities
            .map(|e| self.auto_threshold_by_entity.get(e).copied().unwrap_or(self.auto_threshold))
            .fold(f64::NEG_INFINITY, f64::max);
        if t.is_finite() { t } else { self.auto_threshold }
    }
}

impl Default for MatchConfig {
    fn default() -> Self {
        MatchConfig {
            auto_threshold: 0.85,
            name_threshold: 0.85,
            bank_fee_max_minor: ["CHF", "EUR", "GBP", "USD"].iter().map(|c| (c.to_string(), 2500)).collect(),
            discount_percent: vec![2, 3],
            fx_tolerance_bp: 150,
            date_window_days: 120,
            subset_max_items: 5,
            subset_max_candidates: 24,
            ambiguity_margin: 0.02,
            model: "cash_v2_2".into(),
            overpayment_auto_max_percent: 100,
            challenger: String::new(),
            keep_features: false,
            auto_threshold_by_entity: BTreeMap::new(),
        }
    }
}

/// A setting of `[cash]` that cannot be used.
fn bad(reason: String) -> InvalidSetting {
    InvalidSetting::new("cash", reason)
}

impl MatchConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let unit = |name: &str, v: f64| -> Result<(), InvalidSetting> {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(bad(format!("matching.{name} = {v} must be within 0..=1")))
            }
        };
        unit("auto_threshold", self.auto_threshold)?;
        unit("name_threshold", self.name_threshold)?;
        if self.overpayment_auto_max_percent > 100_000 {
            return Err(bad(format!(
                "cash.overpayment_auto_max_percent = {} must be within 0..=100000",
                self.overpayment_auto_max_percent
            )));
        }
        if !(0.0..0.5).contains(&self.ambiguity_margin) {
            return Err(bad(format!("cash.ambiguity_margin = {} must be within 0..0.5", self.ambiguity_margin)));
        }
        if !(0..=1000).contains(&self.fx_tolerance_bp) {
            return Err(bad("cash.fx_tolerance_bp must be within 0..=1000 (10%)".into()));
        }
        if !(1..=3660).contains(&self.date_window_days) {
            return Err(bad(format!("cash.date_window_days = {} must be within 1..=3660", self.date_window_days)));
        }
        if self.discount_percent.len() > 10 || self.discount_percent.iter().any(|p| !(1..=50).contains(p)) {
            return Err(bad(format!(
                "cash.discount_percent = {:?}: at most 10 rates, each within 1..=50",
                self.discount_percent
            )));
        }
        if !(1..=24).contains(&self.subset_max_candidates)
            || !(1..=self.subset_max_candidates).contains(&self.subset_max_items)
        {
            return Err(bad(format!(
                "cash.subset_max_items = {} and subset_max_candidates = {}: 1 ≤ items ≤ candidates ≤ 24",
                self.subset_max_items, self.subset_max_candidates
            )));
        }
        if let Some((c, v)) =
            self.bank_fee_max_minor.iter().find(|(c, v)| **v < 0 || reckon_core::Currency::parse(c).is_none())
        {
            return Err(bad(format!("cash.bank_fee_max_minor.{c} = {v}: a currency must be ISO 4217 and its cap ≥ 0")));
        }
        Ok(())
    }
}

/// A link's band: `Auto` or `Review` (cash matching never escalates by itself;
/// the feed policy may).
pub use reckon_core::Band;

/// One (receipt, open item) link of an accepted group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MatchRow {
    pub match_id: String,
    pub txn_id: String,
    pub item_id: String,
    pub remittance_id: Option<String>,
    pub currency: String,
    pub applied_minor: i64,
    /// Unexplained or explained difference of the whole group (0 when exact).
    pub residual_minor: i64,
    pub residual_reason: ResidualReason,
    pub confidence: f64,
    /// The challenger's probability for the same group, scored in shadow: it
    /// decides nothing (`None` without a challenger).
    pub shadow_confidence: Option<f64>,
    pub band: Band,
    /// The engine holds the group for a person whatever its score: the bank
    /// names another payer, the text names invoices not posted yet, or the
    /// excess is unexplained. A challenger in shadow would not clear it either.
    pub held: bool,
    pub method: MatchMethod,
    pub reasons: Vec<String>,
}

/// What happened to each receipt.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReceiptOutcome {
    pub txn_id: String,
    pub status: ReceiptStatus,
    pub reasons: Vec<String>,
    /// For `ambiguous`: the candidate groups a person chooses from (item ids of
    /// each, best first, at most three).
    pub candidates: Vec<Vec<String>>,
}

#[derive(Clone, Debug, Default)]
pub struct MatchResult {
    pub rows: Vec<MatchRow>,
    pub outcomes: Vec<ReceiptOutcome>,
    /// With [`MatchConfig::keep_features`]: each applied group's features
    /// (`match_id` → [`FEATURES`] values), what a model is retrained on.
    pub features: std::collections::BTreeMap<String, Vec<f32>>,
    /// With [`MatchConfig::keep_features`]: the candidate groups the engine
    /// scored and did not apply — a receipt's next best groups (at most
    /// [`ALTERNATIVES_KEPT`]), the best ones of an ambiguous receipt, a best
    /// group whose items a stronger match took — in (`txn_id`, items) order.
    /// Once a person accepts the receipt's proposal or chooses its group, these
    /// are labelled by it: the rows a model is retrained on beside the groups
    /// applied.
    pub alternatives: Vec<Alternative>,
}

/// How many candidate groups besides the best one a receipt keeps in
/// [`MatchResult::alternatives`] (as many as an ambiguous receipt offers a person).
pub const ALTERNATIVES_KEPT: usize = 3;

/// The shortest name key (bytes) taken as the beginning of a cut name: shorter
/// beginnings (`ACME`) name too many companies to say anything.
const CUT_NAME_MIN: usize = 8;

/// The shortest payer reference (characters) taken as a customer id: shorter
/// numbers are too likely to be some other number that happens to be one.
const PAYER_REF_MIN: usize = 4;

/// Whether a receipt's payer reference ([`Receipt::payer_ref`]) names a
/// customer: it is one's id (`is_customer_id`) and at least
/// [`PAYER_REF_MIN`] characters long.
pub fn payer_ref_is_customer(payer_ref: &str, is_customer_id: impl Fn(&str) -> bool) -> bool {
    payer_ref.len() >= PAYER_REF_MIN && is_customer_id(payer_ref)
}

/// The most masters a cut name may begin and still name the payer.
const CUT_NAME_MASTERS: usize = 32;

/// A candidate group scored and not applied (see [`MatchResult::alternatives`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Alternative {
    pub txn_id: String,
    /// The group's open items, sorted.
    pub item_ids: Vec<String>,
    pub confidence: f64,
    pub shadow_confidence: Option<f64>,
    /// [`FEATURES`] values.
    pub features: Vec<f32>,
}

/// The feature spec of a candidate group, as a model's config names it.
pub const FEATURE_SPEC: &str = "cash_group_v2";

/// Features of a candidate group (`cash_group_v2`), in column order.
pub const FEATURES: &[&str] = &[
    "rule_score",
    "m_remittance",
    "m_remittance_by_amount",
    "m_reference",
    "m_reference_subset_sum",
    "m_reference_partial",
    "m_name_amount",
    "m_subset_sum",
    "m_name_residual",
    "r_none",
    "r_bank_fee",
    "r_discount",
    "r_short_payment",
    "r_overpayment",
    "r_deduction",
    "r_fx",
    "rel_residual",
    "log_items",
    "payer_iban",
    "payer_name",
    "payer_names_tied",
    "payer_similarity",
    "items_of_payer",
    "log_groups",
    "margin_to_next",
    "log_amount",
    "days_after_due",
    "paid_in_other_currency",
];

/// Scores candidate groups from their features (a calibrated model: the output is
/// the probability that the group is exactly right).
/// Why a matching run could not complete (bugs and model failures; bad input
/// rows never get here, loading rejects them).
#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    #[error("{blocks} reference blocks for {receipts} receipts")]
    Blocks { blocks: usize, receipts: usize },
    #[error("scorer: {0}")]
    Scorer(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("scorer returned {scores} scores for {groups} groups")]
    Scores { scores: usize, groups: usize },
}

pub trait GroupScorer: Sync {
    /// One probability per row of `rows` × `FEATURES.len()` features (row-major).
    fn score(&self, rows: usize, features: &[f32]) -> Result<Vec<f32>, Box<dyn std::error::Error + Send + Sync>>;
    /// `name@version`.
    fn id(&self) -> String;
}

/// A candidate group with its features and whether it is right, for training.
#[derive(Clone, Debug)]
pub struct TrainingRow {
    pub txn_id: String,
    pub item_ids: Vec<String>,
    pub features: Vec<f32>,
}

#[derive(Clone, Debug)]
struct Group {
    receipt: usize,
    items: Vec<(usize, i64)>, // (item index, applied)
    residual: i64,
    reason: ResidualReason,
    score: f64,
    method: MatchMethod,
    remittance_id: Option<String>,
    reasons: Vec<String>,
    features: Vec<f32>,
    /// The bank names another customer as the payer than the one whose items the
    /// group applies (by account, or by a name unlike the items' customer): never
    /// cleared without a person.
    payer_conflict: bool,
    /// The shadow scorer's probability for the group (it decides nothing).
    shadow: Option<f64>,
    /// The group pays more than its items and the excess is not explained
    /// (invoices the payment names that no open item carries today, or an
    /// excess above `overpayment_auto_max_percent`): never cleared automatically.
    held: bool,
}

struct Index<'a> {
    items: &'a [OpenItem],
    /// Items by (currency, full invoice key) and (currency, numeric tail).
    by_full: KeyIndex,
    by_tail: KeyIndex,
    customers: Vec<(String, Vec<String>)>, // (customer_id, name keys)
    /// Customer id → its place in `customers`.
    customer_at: HashMap<String, usize>,
    /// Each open item's customer, as its place in `customers`.
    item_customer: Vec<usize>,
    /// Each customer's open items (by place in `customers`), in item order.
    customer_items: Vec<Vec<usize>>,
    /// The customers whose master permits each customer as their payer
    /// ([`Customer::payer_ids`]), by place in `customers`, in master order.
    permitting: Vec<Vec<usize>>,
    /// Each open item's currency as a number ([`Index::currency`]).
    item_currency: Vec<u32>,
    currencies: HashMap<String, u32>,
    sorted_names: Vec<Vec<String>>, // the same keys with sorted tokens
    by_iban: HashMap<String, usize>,
    name_blocks: HashMap<String, Vec<usize>>,
    /// Pairs of name-token prefixes (as a digest) → customers: far more selective
    /// than one token. A digest collision only adds candidates, which are scored.
    pair_blocks: HashMap<u64, Vec<usize>>,
    /// Exact name keys (names and aliases) → customer.
    /// Exact name keys → every customer that has it (several = same-named masters).
    by_name: HashMap<String, Vec<usize>>,
    /// Name keys of at least [`CUT_NAME_MIN`] bytes (names and aliases) with their
    /// customer, sorted: the masters a cut name begins ([`Index::beginning_with`]).
    by_prefix: Vec<(String, usize)>,
    advices: AdviceIndex<'a>,
}

/// Remittance advices as a payment finds them: by the payment reference they
/// give, else (an advice without one) by currency and total paid.
#[derive(Debug, Default)]
pub struct AdviceIndex<'a> {
    by_ref: HashMap<String, Vec<&'a RemittanceLine>>,
    /// Advices without a payment reference, by (currency, total paid).
    by_amount: HashMap<(String, i64), Vec<Vec<&'a RemittanceLine>>>,
}

impl<'a> AdviceIndex<'a> {
    /// Indexes the advice lines of a run (its files' and those kept from earlier runs).
    pub fn new(remittances: &'a [RemittanceLine]) -> AdviceIndex<'a> {
        let mut by_ref: HashMap<String, Vec<&RemittanceLine>> = HashMap::default();
        let mut advices: BTreeMap<&str, Vec<&RemittanceLine>> = BTreeMap::new();
        for r in remittances {
            if r.payment_ref.is_empty() {
                advices.entry(r.remittance_id.as_str()).or_default().push(r);
            } else {
                by_ref.entry(r.payment_ref.clone()).or_default().push(r);
            }
        }
        let mut by_amount: HashMap<(String, i64), Vec<Vec<&RemittanceLine>>> = HashMap::default();
        for (_, lines) in advices {
            let total = reckon_core::sum_minor(lines.iter().map(|l| l.paid));
            by_amount.entry((lines[0].currency.clone(), total)).or_default().push(lines);
        }
        AdviceIndex { by_ref, by_amount }
    }

    /// The advices a payment links to, each with whether it was linked by
    /// reference (`true`) or by amount and date (`false`): those naming the
    /// payment's end-to-end id or reference; without one, the only advice
    /// without a payment reference that pays exactly this amount within a
    /// week of the booking (of the advice's date, else of the day an earlier
    /// run received it; an advice of this run's files without a date is near
    /// any payment).
    pub fn links(&self, r: &Receipt) -> Vec<(&[&'a RemittanceLine], bool)> {
        let mut out: Vec<(&[&'a RemittanceLine], bool)> = Vec::new();
        for key in [&r.end_to_end_id, &r.reference] {
            if let Some(lines) = self.by_ref.get(key.as_str()).filter(|_| !key.is_empty()) {
                out.push((lines.as_slice(), true));
            }
        }
        if out.is_empty()
            && let Some(cands) = self.by_amount.get(&(r.currency.clone(), r.amount))
        {
            let near: Vec<&Vec<&RemittanceLine>> = cands
                .iter()
                .filter(|ls| ls[0].advice_date.or(ls[0].arrived).is_none_or(|d| (r.booking_date - d).abs() <= 7))
                .collect();
            if near.len() == 1 {
                out.push((near[0].as_slice(), false));
            }
        }
        out
    }
}

fn block_keys(key: &str) -> Vec<String> {
    key.split(' ').filter(|t| t.len() >= 3).map(|t| t.chars().take(4).collect()).collect()
}

/// Unordered pairs of the first six token prefixes (word order does not matter),
/// as digests.
fn pair_keys(key: &str) -> Vec<u64> {
    use std::hash::{Hash, Hasher};
    let mut toks: Vec<&str> = key
        .split(' ')
        .filter(|t| t.len() >= 3)
        .map(|t| t.char_indices().nth(4).map_or(t, |(at, _)| &t[..at]))
        .take(6)
        .collect();
    toks.sort_unstable();
    toks.dedup();
    let mut out = Vec::with_capacity(toks.len() * (toks.len().saturating_sub(1)) / 2);
    for i in 0..toks.len() {
        for j in i + 1..toks.len() {
            let mut h = rustc_hash::FxHasher::default();
            (toks[i], toks[j]).hash(&mut h);
            out.push(h.finish());
        }
    }
    out
}

/// The customer side of an [`Index`]: masters and customers known only from
/// their open items, with their name keys, blocks and account keys.
struct CustomerIndex {
    customers: Vec<(String, Vec<String>)>,
    customer_at: HashMap<String, usize>,
    sorted_names: Vec<Vec<String>>,
    by_iban: HashMap<String, usize>,
    name_blocks: HashMap<String, Vec<usize>>,
    pair_blocks: HashMap<u64, Vec<usize>>,
    by_name: HashMap<String, Vec<usize>>,
    by_prefix: Vec<(String, usize)>,
}

impl CustomerIndex {
    fn new(items: &[OpenItem], customers: &[Customer]) -> CustomerIndex {
        // Name keys and account keys computed in parallel, inserted in order.
        let masters: Vec<(Vec<String>, Vec<String>)> = customers
            .par_iter()
            .map(|c| {
                let mut names = vec![name_key(&c.name)];
                names.extend(c.aliases.iter().map(|a| name_key(a)));
                names.retain(|n| !n.is_empty());
                let mut ids: Vec<String> = c.ibans.iter().flat_map(|i| crate::account::keys(i)).collect();
                ids.extend(crate::account::ein_key(&c.tax_id));
                (names, ids)
            })
            .collect();
        let mut cust: Vec<(String, Vec<String>)> = Vec::with_capacity(customers.len());
        let mut by_iban = HashMap::default();
        let mut seen: HashSet<&str> = HashSet::with_capacity(customers.len());
        let mut rows: Vec<(String, Vec<String>, Vec<String>)> = Vec::with_capacity(customers.len());
        for (c, (names, ids)) in customers.iter().zip(masters) {
            seen.insert(c.customer_id.as_str());
            rows.push((c.customer_id.clone(), names, ids));
        }
        // Customers known only from their open items.
        for it in items {
            if seen.insert(it.customer_id.as_str()) {
                rows.push((it.customer_id.clone(), vec![name_key(&it.customer_name)], Vec::new()));
            }
        }
        let blocks: Vec<(Vec<String>, Vec<u64>)> = rows
            .par_iter()
            .map(|(_, names, _)| {
                (names.iter().flat_map(|n| block_keys(n)).collect(), names.iter().flat_map(|n| pair_keys(n)).collect())
            })
            .collect();
        let mut name_blocks: HashMap<String, Vec<usize>> = HashMap::default();
        let mut pair_blocks: HashMap<u64, Vec<usize>> = HashMap::default();
        for (ci, ((id, names, ids), (bs, ps))) in rows.into_iter().zip(blocks).enumerate() {
            for k in ids {
                by_iban.insert(k, ci);
            }
            for b in bs {
                name_blocks.entry(b).or_default().push(ci);
            }
            for p in ps {
                pair_blocks.entry(p).or_default().push(ci);
            }
            cust.push((id, names));
        }
        for v in name_blocks.values_mut().chain(pair_blocks.values_mut()) {
            v.sort_unstable();
            v.dedup();
        }
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::default();
        for (ci, (_, names)) in cust.iter().enumerate() {
            for n in names {
                let v = by_name.entry(n.clone()).or_default();
                if v.last() != Some(&ci) {
                    v.push(ci);
                }
            }
        }
        let sorted_names = cust.par_iter().map(|(_, names)| names.iter().map(|n| sorted_tokens(n)).collect()).collect();
        let customer_at: HashMap<String, usize> =
            cust.iter().enumerate().map(|(ci, (id, _))| (id.clone(), ci)).collect();
        let mut by_prefix: Vec<(String, usize)> = cust
            .iter()
            .enumerate()
            .flat_map(|(ci, (_, names))| names.iter().filter(|n| n.len() >= CUT_NAME_MIN).map(move |n| (n.clone(), ci)))
            .collect();
        by_prefix.par_sort_unstable();
        by_prefix.dedup();
        CustomerIndex {
            customers: cust,
            customer_at,
            sorted_names,
            by_iban,
            name_blocks,
            pair_blocks,
            by_name,
            by_prefix,
        }
    }
}

/// Items by invoice key within their currency (as [`Index::currency`] numbers it).
type KeyIndex = HashMap<(u32, String), Vec<usize>>;

/// The items' full and numeric-tail invoice keys, each map filled in item order.
fn key_indexes(items: &[OpenItem], item_currency: &[u32]) -> (KeyIndex, KeyIndex) {
    let keys: Vec<(Option<String>, Option<String>)> =
        items.par_iter().map(|it| invoice_keys(&it.invoice_number)).collect();
    let fill = |tail: bool| {
        let mut m: KeyIndex = HashMap::default();
        for (i, (full, t)) in keys.iter().enumerate() {
            if let Some(k) = if tail { t } else { full } {
                m.entry((item_currency[i], k.clone())).or_default().push(i);
            }
        }
        m
    };
    rayon::join(|| fill(false), || fill(true))
}

impl<'a> Index<'a> {
    fn new(items: &'a [OpenItem], customers: &'a [Customer], remittances: &'a [RemittanceLine]) -> Index<'a> {
        let mut currencies: HashMap<String, u32> = HashMap::default();
        let item_currency: Vec<u32> = items
            .iter()
            .map(|it| match currencies.get(&it.currency) {
                Some(&c) => c,
                None => {
                    let next = currencies.len() as u32;
                    currencies.insert(it.currency.clone(), next);
                    next
                }
            })
            .collect();
        // The item keys and the customer side are independent: built side by side.
        let ((by_full, by_tail), c) =
            rayon::join(|| key_indexes(items, &item_currency), || CustomerIndex::new(items, customers));
        let advices = AdviceIndex::new(remittances);
        // Every item's customer is in `customers` (masters, then customers known only from items).
        let item_customer: Vec<usize> =
            items.par_iter().map(|it| c.customer_at.get(&it.customer_id).copied().unwrap_or(usize::MAX)).collect();
        let mut customer_items: Vec<Vec<usize>> = vec![Vec::new(); c.customers.len()];
        for (i, &ci) in item_customer.iter().enumerate() {
            if let Some(v) = customer_items.get_mut(ci) {
                v.push(i);
            }
        }
        // A payer id that is no customer names no one.
        let mut permitting: Vec<Vec<usize>> = vec![Vec::new(); c.customers.len()];
        for cu in customers {
            let Some(&child) = c.customer_at.get(&cu.customer_id) else { continue };
            for p in &cu.payer_ids {
                if let Some(&pi) = c.customer_at.get(p)
                    && pi != child
                    && !permitting[pi].contains(&child)
                {
                    permitting[pi].push(child);
                }
            }
        }
        Index {
            items,
            by_full,
            by_tail,
            customers: c.customers,
            customer_at: c.customer_at,
            item_customer,
            customer_items,
            permitting,
            item_currency,
            currencies,
            sorted_names: c.sorted_names,
            by_iban: c.by_iban,
            name_blocks: c.name_blocks,
            pair_blocks: c.pair_blocks,
            by_name: c.by_name,
            by_prefix: c.by_prefix,
            advices,
        }
    }

    /// A currency as the number `item_currency` uses (none any item has: `u32::MAX`).
    fn currency(&self, code: &str) -> u32 {
        self.currencies.get(code).copied().unwrap_or(u32::MAX)
    }

    /// The payer's customers as places in `customers`, in the payer's order,
    /// then the customers whose master permits one of them as their payer
    /// ([`Customer::payer_ids`]): their items are the payer's to pay.
    fn payer_at(&self, payer: &Payer) -> Vec<usize> {
        let mut at = self.payer_own(payer);
        for k in 0..at.len() {
            for &c in &self.permitting[at[k]] {
                if !at.contains(&c) {
                    at.push(c);
                }
            }
        }
        at
    }

    /// The payer's own customers as places in `customers`, in the payer's order.
    fn payer_own(&self, payer: &Payer) -> Vec<usize> {
        payer.as_ref().map_or(Vec::new(), |p| p.0.iter().filter_map(|id| self.customer_at.get(id)).copied().collect())
    }

    /// The payer as a customer: by its account (IBAN, UK sort code and account,
    /// ACH originator's EIN: [`crate::account`]), else by name. Returns
    /// (customer_id, similarity, how).
    fn payer(&self, r: &Receipt, threshold: f64) -> Payer {
        for k in crate::account::keys(&r.counterparty_account) {
            if let Some(&ci) = self.by_iban.get(&k) {
                let how = if k.starts_with("SCAN:") {
                    "sort_code"
                } else if k.starts_with("EIN:") {
                    "ein"
                } else {
                    "iban"
                };
                return Some((vec![self.customers[ci].0.clone()], 1.0, how));
            }
        }
        // The payer's number with us, keyed by the payer itself: as good as its account.
        if self.payer_ref_is_customer(r)
            && let Some(&ci) = self.customer_at.get(&r.payer_ref)
        {
            return Some((vec![self.customers[ci].0.clone()], 1.0, "customer_id"));
        }
        let key = name_key(&r.counterparty_name);
        if key.is_empty() {
            return None;
        }
        // A name the bank's field may have cut is the beginning of the payer's own:
        // every master whose name begins with it is as much the payer as one whose
        // name it is (`ATLAS FOODS UND` for Atlas Foods AG and for Atlas Foods und
        // Engineering), so their open items decide.
        // A name that runs on into an address begins with the payer's whole name.
        let begun = match r.name_form {
            PayerNameForm::Whole => Vec::new(),
            PayerNameForm::MayBeCut => self.beginning_with(&key),
            // The name line is the text's first 35 characters: full, it is a name
            // cut at its width, which begins the payer's; else the name ends
            // before the address, and the longest master name the text begins
            // with is the payer's.
            PayerNameForm::RunsOn => {
                let line: String = r.counterparty_name.chars().take(crate::bank_text::FEDWIRE_NAME_LINE).collect();
                let cut = self.beginning_with(&name_key(&line));
                if cut.is_empty() { self.begun_by(&key) } else { cut }
            }
        };
        // The exact name of one master identifies it; the exact name of several
        // (same-named companies) makes them all candidates: their open items decide.
        if let Some(cis) = self.by_name.get(&key) {
            let mut ids: Vec<String> = cis.iter().chain(&begun).map(|&ci| self.customers[ci].0.clone()).collect();
            // A name only aliases carry (the master file's, or one learned from a
            // person's decision) says who has used it, not that no one else may: when
            // it abbreviates masters word by word, they are candidates too.
            if !cis.iter().any(|&ci| self.customers[ci].1.first() == Some(&key)) {
                ids.extend(self.abbreviated(&key).into_iter().map(|ci| self.customers[ci].0.clone()));
            }
            ids.sort();
            ids.dedup();
            let how = if ids.len() > 1 { "names" } else { "name" };
            return Some((ids, 1.0, how));
        }
        if !begun.is_empty() {
            let mut ids: Vec<String> = begun.iter().map(|&ci| self.customers[ci].0.clone()).collect();
            ids.sort();
            ids.dedup();
            let how = if ids.len() > 1 { "names" } else { "name" };
            return Some((ids, 1.0, how));
        }
        // Blocking: customers sharing pairs of name tokens (selective even in a large
        // master; survives truncation and word order), else — one token misspelt in a
        // two-word name — customers sharing single tokens, rarest first. Only the
        // candidates sharing the most are compared in full.
        let key_sorted = sorted_tokens(&key);
        // The candidates sharing the most blocks, compared in full.
        // The longest prefix a master name key shares with the payer's (cheap: a
        // misspelt or cut name keeps its first letters).
        let prefix = |ci: usize| -> usize {
            self.customers[ci]
                .1
                .iter()
                .map(|n| n.bytes().zip(key.bytes()).take_while(|(a, b)| a == b).count())
                .max()
                .unwrap_or(0)
        };
        // The payer's name against a master's names (the best of them).
        let similarity = |ci: usize| -> f64 {
            self.customers[ci]
                .1
                .iter()
                .zip(&self.sorted_names[ci])
                .map(|(n, ns)| name_similarity_sorted(&key, &key_sorted, n, ns))
                .fold(0.0, f64::max)
        };
        let score = |shared: HashMap<usize, u32>, by_prefix: bool| -> Vec<(f64, usize)> {
            // Ranking a huge block (a word half the master shares) costs more than it finds.
            let by_prefix = by_prefix && shared.len() <= 1024;
            let mut cands: Vec<(u32, usize, usize)> =
                shared.into_iter().map(|(ci, n)| (n, if by_prefix { prefix(ci) } else { 0 }, ci)).collect();
            // The 32 best (a total order: the same as sorting all and keeping 32).
            let order = |a: &(u32, usize, usize), b: &(u32, usize, usize)| {
                b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2))
            };
            if cands.len() > 32 {
                cands.select_nth_unstable_by(31, order);
                cands.truncate(32);
            }
            cands.sort_unstable_by(order);
            cands.into_iter().map(|(_, _, ci)| (similarity(ci), ci)).collect()
        };
        let key_pairs = pair_keys(&key);
        let blocks: Vec<&Vec<usize>> =
            key_pairs.iter().filter_map(|p| self.pair_blocks.get(p).filter(|v| v.len() <= 20_000)).collect();
        let mut shared: HashMap<usize, u32> = HashMap::with_capacity_and_hasher(
            blocks.iter().map(|v| v.len()).sum::<usize>().min(1 << 12),
            Default::default(),
        );
        for v in blocks {
            for &ci in v {
                *shared.entry(ci).or_insert(0) += 1;
            }
        }
        let mut scored = score(shared, false);
        if scored.iter().all(|x| x.0 < threshold) {
            let mut blocks: Vec<&Vec<usize>> =
                block_keys(&key).iter().filter_map(|b| self.name_blocks.get(b)).collect();
            blocks.sort_by_key(|v| v.len());
            let mut shared: HashMap<usize, u32> = HashMap::default();
            for (k, v) in blocks.iter().enumerate() {
                if k > 0 && v.len() > 20_000 {
                    break; // a word half the master shares says nothing
                }
                for &ci in v.iter() {
                    *shared.entry(ci).or_insert(0) += 1;
                }
                if shared.len() >= 256 {
                    break;
                }
            }
            // Single tokens tie often (every `TRADING` company shares one block):
            // the candidates whose names begin most like the payer's are compared,
            // not the first by position (up to 1,024 gathered).
            scored = score(shared, true);
        }
        let best = scored.iter().map(|x| x.0).fold(0.0, f64::max);
        // Short of a near-exact name in the same word order, the masters the bank's
        // name abbreviates word by word are the payer (several: their open items
        // decide), however Jaro–Winkler ranks them; the similarity stays
        // Jaro–Winkler's. A name that is near-exact only with its words reordered
        // (`CEDA OAKR TREA SVCS` for `OAKR CEDA TREA SVCS`) is another company's
        // as likely as not; one abbreviated in order is the better evidence.
        let in_order = |ci: usize| {
            self.customers[ci].1.iter().map(|n| reckon_core::similarity::jaro_winkler(&key, n)).fold(0.0, f64::max)
        };
        let near_exact = scored.iter().any(|&(s, ci)| s >= 0.95 && in_order(ci) >= 0.95);
        let mut abbr: Vec<(f64, usize)> = self.abbreviated(&key).into_iter().map(|ci| (similarity(ci), ci)).collect();
        if !near_exact && !abbr.is_empty() {
            abbr.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let mut ids: Vec<String> = abbr.iter().map(|(_, ci)| self.customers[*ci].0.clone()).collect();
            ids.sort();
            ids.dedup();
            let how = if ids.len() > 1 { "names" } else { "name" };
            return Some((ids, abbr[0].0, how));
        }
        if best < threshold {
            return None;
        }
        // Customers the name fits equally well (masters with the same name) are all
        // candidates: their open items decide, not the order of the master file.
        // So are the masters it abbreviates word by word beside a near-exact one
        // (`WEST META` beside a name learned as `WEST META LL`).
        let mut ids: Vec<String> = scored
            .iter()
            .filter(|(s, _)| *s >= best - 0.005)
            .chain(&abbr)
            .map(|(_, ci)| self.customers[*ci].0.clone())
            .collect();
        ids.sort();
        ids.dedup();
        let how = if ids.len() > 1 { "names" } else { "name" };
        Some((ids, best, how))
    }

    /// The masters (by place, in place order) with a name key that begins with
    /// `key`, a name the bank may have cut: none when `key` is shorter than
    /// [`CUT_NAME_MIN`] or begins more than [`CUT_NAME_MASTERS`] masters' names
    /// (a beginning that common names no one).
    fn beginning_with(&self, key: &str) -> Vec<usize> {
        // A last word cut inside a legal form or connector (`UN` of `UND`) is
        // not in the masters' keys, which drop the whole word.
        let key = match key.rsplit_once(' ') {
            Some((head, last)) if legal_cut(last) => head,
            _ => key,
        };
        if key.len() < CUT_NAME_MIN {
            return Vec::new();
        }
        let from = self.by_prefix.partition_point(|(n, _)| n.as_str() < key);
        let mut out: Vec<usize> = Vec::new();
        for (n, ci) in &self.by_prefix[from..] {
            if !n.starts_with(key) {
                break;
            }
            out.push(*ci);
            if out.len() > CUT_NAME_MASTERS {
                return Vec::new();
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The masters (by place, in place order) whose whole name key (or alias) is
    /// the longest beginning of `key`, ending at a word and at least
    /// [`CUT_NAME_MIN`] bytes long: the payer's name, where the text runs on
    /// after it (an address).
    fn begun_by(&self, key: &str) -> Vec<usize> {
        let ends: Vec<usize> = key.match_indices(' ').map(|(at, _)| at).collect();
        for &end in ends.iter().rev() {
            let head = &key[..end];
            if head.len() < CUT_NAME_MIN {
                break;
            }
            if let Some(cis) = self.by_name.get(head) {
                return cis.clone();
            }
        }
        Vec::new()
    }

    /// The masters (by place, in place order) whose names the payer's name key
    /// abbreviates word by word ([`abbreviates`]); only if none, those it
    /// abbreviates with its words in another order ([`abbreviates_reordered`]).
    /// Each shares every pair of the key's name prefixes ([`pair_keys`]), legal
    /// forms cut short left out.
    fn abbreviated(&self, key: &str) -> Vec<usize> {
        let pairs = pair_keys(&without_legal_cuts(key));
        let mut blocks: Vec<&Vec<usize>> = Vec::with_capacity(pairs.len());
        for p in &pairs {
            match self.pair_blocks.get(p) {
                Some(v) => blocks.push(v),
                None => return Vec::new(),
            }
        }
        blocks.sort_by_key(|v| v.len());
        let Some((first, rest)) = blocks.split_first() else { return Vec::new() };
        let shared: Vec<usize> =
            first.iter().copied().filter(|ci| rest.iter().all(|v| v.binary_search(ci).is_ok())).collect();
        let in_order: Vec<usize> =
            shared.iter().copied().filter(|&ci| self.customers[ci].1.iter().any(|n| abbreviates(key, n))).collect();
        if !in_order.is_empty() {
            return in_order;
        }
        shared.into_iter().filter(|&ci| self.customers[ci].1.iter().any(|n| abbreviates_reordered(key, n))).collect()
    }

    /// Whether the receipt's payer reference is a customer's id
    /// ([`payer_ref_is_customer`]).
    fn payer_ref_is_customer(&self, r: &Receipt) -> bool {
        payer_ref_is_customer(&r.payer_ref, |id| self.customer_at.contains_key(id))
    }

    /// Open items whose invoice number appears in the receipt's reference or text.
    fn referenced(&self, r: &Receipt) -> Vec<usize> {
        let mut found: BTreeSet<usize> = BTreeSet::new();
        for s in reference_probes(r, self.payer_ref_is_customer(r)) {
            let (full, tail) = invoice_keys(&s);
            if let Some(f) = full
                && let Some(v) = self.by_full.get(&(self.currency(&r.currency), f))
            {
                found.extend(v);
                continue;
            }
            if let Some(t) = tail
                && let Some(v) = self.by_tail.get(&(self.currency(&r.currency), t))
            {
                found.extend(v);
            }
        }
        found.into_iter().collect()
    }
}

/// Minor units as decimal text in the currency (for reasons a person reads).
fn money(minor: i64, currency: &str) -> String {
    let e = reckon_core::Currency::parse(currency).map_or(2, |c| c.exponent());
    format!("{} {currency}", reckon_core::format_minor(minor, e))
}

/// The instructed amount of a payment made in another currency, as text.
fn instructed_other(r: &Receipt) -> Option<String> {
    r.instructed.as_ref().filter(|(_, c)| *c != r.currency).map(|(m, c)| money(*m, c))
}

/// Why `paid` falls short of (or exceeds) `open`, if a rule explains it.
/// `charges`: what the bank states it deducted from the credit
/// ([`Receipt::charges`]); a residual of exactly that is the bank's charges,
/// whatever the configured cap (`bank_fee_max_minor` bounds a residual the
/// bank does not explain).
fn explain(
    open: i64,
    paid: i64,
    cfg: &MatchConfig,
    currency: &str,
    fx: Option<&str>,
    charges: Option<i64>,
) -> Option<(ResidualReason, f64, String)> {
    let diff = open - paid;
    if diff == 0 {
        return Some((ResidualReason::None, 1.0, "amount equal".into()));
    }
    if diff > 0 && charges == Some(diff) {
        return Some((
            ResidualReason::BankFee,
            0.97,
            format!("residual {} = bank charges, as the bank states them", money(diff, currency)),
        ));
    }
    // Paid in another currency: a small difference either way is the conversion.
    if let Some(sent) = fx
        && i128::from(diff.unsigned_abs()) * 10_000 <= i128::from(cfg.fx_tolerance_bp) * i128::from(open.unsigned_abs())
    {
        let sign = if diff < 0 { "-" } else { "" };
        return Some((
            ResidualReason::Fx,
            0.92,
            format!(
                "residual {sign}{} = FX difference (paid as {sent}, within {}.{:02}%)",
                money(diff.abs(), currency),
                cfg.fx_tolerance_bp / 100,
                cfg.fx_tolerance_bp % 100
            ),
        ));
    }
    if diff < 0 {
        return Some((ResidualReason::Overpayment, 0.75, format!("paid {} more than open", money(-diff, currency))));
    }
    for p in &cfg.discount_percent {
        let d = open * p / 100;
        if (diff - d).abs() <= 1 {
            return Some((
                ResidualReason::Discount,
                0.95,
                format!("residual {} = {p}% early-payment discount", money(diff, currency)),
            ));
        }
    }
    if cfg.bank_fee_max_minor.get(currency).is_some_and(|cap| diff <= *cap) {
        return Some((ResidualReason::BankFee, 0.94, format!("residual {} = bank charges", money(diff, currency))));
    }
    None
}

/// Exact subset-sum over `pool` (bounded: at most `max` items, stops after 3 solutions).
#[allow(clippy::too_many_arguments)]
fn search(
    pool: &[usize],
    items: &[OpenItem],
    start: usize,
    left: i64,
    max: usize,
    min: usize,
    stack: &mut Vec<usize>,
    found: &mut Vec<Vec<usize>>,
) {
    if found.len() > 2 {
        return;
    }
    if left == 0 && stack.len() >= min {
        found.push(stack.clone());
        return;
    }
    if stack.len() == max {
        return;
    }
    for k in start..pool.len() {
        stack.push(pool[k]);
        search(pool, items, k + 1, left - items[pool[k]].amount, max, min, stack, found);
        stack.pop();
    }
}

/// The texts a receipt is probed with for invoice numbers: every token of its
/// reference and description, every two adjacent tokens joined (`INV 4711`), and
/// the invoice part of an RF creditor reference. Each is looked up by its full
/// invoice key, else by its numeric tail ([`invoice_keys`]), in the receipt's
/// currency — here or, as a join, by whoever blocks outside the engine. A
/// payer reference that is a customer's id (`payer_ref_is_customer`:
/// [`payer_ref_is_customer`]) is the payer's number, not an invoice's: the
/// tokens that are it are left out (`IND ID:C101210` is no invoice 101210).
pub fn reference_probes(r: &Receipt, payer_ref_is_customer: bool) -> Vec<String> {
    let text = format!("{} {}", r.reference, r.description);
    let text = without_field70_dates(&text);
    let toks: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '/' | ':' | '(' | ')'))
        .map(|t| t.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|t| !t.is_empty())
        .filter(|t| !(payer_ref_is_customer && t.eq_ignore_ascii_case(&r.payer_ref)))
        .collect();
    let mut out: Vec<String> = Vec::with_capacity(toks.len() * 2 + 1);
    for (i, t) in toks.iter().enumerate() {
        out.push(t.to_string());
        if let Some(next) = toks.get(i + 1) {
            out.push(format!("{t}{next}"));
        }
    }
    // A structured creditor reference carries the creditor's own reference
    // (most often the invoice number, zero-padded or not) after its check
    // digits (ISO 11649 `RF`) or before them (Belgian `+++…+++`, Swiss QR
    // reference): read only when the check digits hold
    // (`reckon_core::creditor_ref`).
    use reckon_core::creditor_ref::{ogm_vcs_references, qr_references, rf_references};
    for field in [r.reference.as_str(), r.description.as_str()] {
        let bodies = rf_references(field)
            .into_iter()
            .map(|rf| rf[4..].to_string())
            .chain(ogm_vcs_references(field).into_iter().map(|d| d[..10].to_string()))
            .chain(qr_references(field).into_iter().map(|d| d[..26].to_string()));
        for body in bodies {
            let trimmed = body.trim_start_matches('0');
            if !trimmed.is_empty() && trimmed.len() < body.len() {
                out.push(trimmed.to_string());
            }
            out.push(body);
        }
    }
    out
}

/// The text with the invoice date taken out of SWIFT MT103 field 70 codes:
/// `/INV/` is followed by the invoice's date (`YYMMDD`), then its reference
/// (SWIFT Standards MT, MT 103 field 70 Remittance Information, code `INV`:
/// "invoice, followed by the date, reference and details of the invoice").
/// Left in, `/INV/260515 INV-104519` would also read as an invoice number
/// `INV260515`.
fn without_field70_dates(text: &str) -> std::borrow::Cow<'_, str> {
    let up = text.to_ascii_uppercase();
    if !up.contains("/INV/") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.to_ascii_uppercase().find("/INV/") {
        let (head, tail) = rest.split_at(at + 5);
        out.push_str(head);
        let b = tail.as_bytes();
        let is_date = b.len() > 6
            && b[..6].iter().all(u8::is_ascii_digit)
            && b[6] == b' '
            && matches!(tail[2..4].parse::<u8>(), Ok(1..=12))
            && matches!(tail[4..6].parse::<u8>(), Ok(1..=31));
        rest = if is_date { &tail[6..] } else { tail };
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// The payer as customer(s): ids, similarity, and how (`iban`, `name`, `names` = several equally likely).
type Payer = Option<(Vec<String>, f64, &'static str)>;

fn candidates(
    idx: &Index<'_>,
    ri: usize,
    r: &Receipt,
    cfg: &MatchConfig,
    payer: &Payer,
    payer_at: &[usize],
    blocked: Option<&[usize]>,
) -> Vec<Group> {
    let items = idx.items;
    let mut out = Vec::new();
    let payer_ids: &[String] = payer.as_ref().map_or(&[], |p| p.0.as_slice());
    // Whether item `i` is one of the payer's (by customer position, not text).
    let is_payer = |i: usize| payer_at.contains(&idx.item_customer[i]);
    let currency = idx.currency(&r.currency);
    let payer_reason = payer_reason(payer);
    // 1. Remittance advice linked by the payment's reference, else by amount
    // and date ([`AdviceIndex::links`]).
    let advices = idx.advices.links(r);
    // The open invoices the payment's own text names: an advice linked by
    // amount and date alone that names none of them is another payment's.
    let named_in_text: Vec<usize> = if advices.iter().any(|(_, linked)| !linked) {
        blocked.map_or_else(|| idx.referenced(r), <[usize]>::to_vec)
    } else {
        Vec::new()
    };
    for (lines, linked) in advices {
        let mut applied = Vec::new();
        let mut ok = true;
        let (mut paid, mut disc, mut ded) = (0i64, 0i64, 0i64);
        for l in lines {
            let (full, tail) = invoice_keys(&l.invoice_ref);
            let hit = full
                .and_then(|f| idx.by_full.get(&(idx.currency(&r.currency), f)))
                .or_else(|| tail.and_then(|t| idx.by_tail.get(&(idx.currency(&r.currency), t))));
            let it = hit
                .and_then(|v| v.iter().copied().find(|&i| payer_ids.is_empty() || is_payer(i)).or(v.first().copied()));
            match it {
                // What an advice settles on an item is at most what is open on it; an
                // advice paying more leaves an overpayment (the group's residual).
                Some(i) => {
                    let settle = l.paid + l.discount + l.deduction;
                    let open = items[i].amount;
                    applied.push((i, if open >= 0 { settle.min(open) } else { settle }));
                }
                None => ok = false,
            }
            paid += l.paid;
            disc += l.discount;
            ded += l.deduction;
        }
        if !linked && !named_in_text.is_empty() && !applied.iter().any(|(i, _)| named_in_text.contains(i)) {
            continue;
        }
        if ok && paid == r.amount && !applied.is_empty() {
            let open = reckon_core::sum_minor(applied.iter().map(|(i, _)| items[*i].amount));
            let reason = if open < paid + disc + ded {
                ResidualReason::Overpayment
            } else if ded > 0 {
                ResidualReason::Deduction
            } else if disc > 0 {
                ResidualReason::Discount
            } else {
                ResidualReason::None
            };
            let mut reasons = vec![format!("remittance {} lists {} invoice(s)", lines[0].remittance_id, applied.len())];
            if !linked {
                reasons.push("advice has no payment reference: linked by amount and date".into());
            }
            reasons.extend(payer_reason.clone());
            // Linked by amount alone, the advice needs the payer to confirm it.
            let consistent = !payer_ids.is_empty() && applied.iter().all(|(i, _)| is_payer(*i));
            let exact = open - paid == disc + ded;
            out.push(Group {
                receipt: ri,
                items: applied,
                residual: open - paid,
                reason,
                score: match (exact, linked, consistent) {
                    (true, true, _) => 0.99,
                    (true, false, true) => 0.93,
                    (true, false, false) => 0.8,
                    _ => 0.8,
                },
                method: if linked { MatchMethod::Remittance } else { MatchMethod::RemittanceByAmount },
                remittance_id: Some(lines[0].remittance_id.clone()),
                features: Vec::new(),
                payer_conflict: false,
                shadow: None,
                held: false,
                reasons,
            });
            return out;
        }
    }
    // 2. Invoice numbers in the text.
    let mut refs = match blocked {
        Some(b) => b.to_vec(),
        None => idx.referenced(r),
    };
    if !payer_ids.is_empty() {
        let own: Vec<usize> = refs.iter().copied().filter(|&i| is_payer(i)).collect();
        if !own.is_empty() {
            refs = own;
        }
    }
    refs.retain(|&i| items[i].amount != 0);
    // The payer is known and none of the numbers in its text is its invoice (a
    // customer number that is also another customer's invoice number, a parent
    // paying a subsidiary's invoice): those groups stay candidates for a person,
    // and the payer's own open items are searched as well.
    let conflicting = !payer_ids.is_empty() && !refs.is_empty() && !refs.iter().any(|&i| is_payer(i));
    'refs: {
        if !refs.is_empty() && refs.len() <= 12 {
            let consistent = payer_ids.is_empty() || refs.iter().all(|&i| is_payer(i));
            let mut reasons: Vec<String> =
                refs.iter().map(|&i| format!("invoice {} in text", items[i].invoice_number)).collect();
            reasons.extend(payer_reason.clone());
            // Subsets of the referenced items (all, then smaller) that pay exactly.
            let n = refs.len();
            let mut exact: Option<Vec<usize>> = None;
            if reckon_core::sum_minor(refs.iter().map(|&i| items[i].amount)) == r.amount {
                exact = Some(refs.clone());
            } else if n <= 10 {
                for mask in (1u32..(1 << n)).rev() {
                    let s: i64 = (0..n).filter(|b| mask >> b & 1 == 1).map(|b| items[refs[b]].amount).sum();
                    if s == r.amount {
                        exact = Some((0..n).filter(|b| mask >> b & 1 == 1).map(|b| refs[b]).collect());
                        break;
                    }
                }
            }
            if let Some(set) = exact {
                out.push(Group {
                    receipt: ri,
                    items: set.iter().map(|&i| (i, items[i].amount)).collect(),
                    residual: 0,
                    reason: ResidualReason::None,
                    score: if consistent { 0.985 } else { 0.85 },
                    method: MatchMethod::Reference,
                    remittance_id: None,
                    features: Vec::new(),
                    payer_conflict: false,
                    shadow: None,
                    held: false,
                    reasons,
                });
                if conflicting {
                    break 'refs;
                }
                return out;
            }
            // Some of the invoices named, the rest of the payment for other open items of
            // the payer (a collective payment naming only its first invoice).
            let own: Vec<usize> = payer_at.iter().flat_map(|&ci| idx.customer_items[ci].iter().copied()).collect();
            if consistent && !own.is_empty() {
                // What the named invoices leave over (or, with credit notes netted, under).
                let need: i64 = r.amount.saturating_sub(reckon_core::sum_minor(refs.iter().map(|&i| items[i].amount)));
                // The rest comes from the named invoices' own customer(s).
                let mut named: Vec<usize> = refs.iter().map(|&i| idx.item_customer[i]).collect();
                named.sort_unstable();
                named.dedup();
                let mut pool: Vec<usize> = own
                    .iter()
                    .copied()
                    .filter(|&i| {
                        idx.item_currency[i] == currency
                            && items[i].amount != 0
                            && named.binary_search(&idx.item_customer[i]).is_ok()
                            && !refs.contains(&i)
                    })
                    .collect();
                // A shortfall can only be made up by credit notes.
                if need < 0 && !pool.iter().any(|&i| items[i].amount < 0) {
                    pool.clear();
                }
                if need != 0 && !pool.is_empty() {
                    pool.sort_by_key(|&i| {
                        ((r.booking_date - items[i].due_date.unwrap_or(items[i].invoice_date)).abs(), i)
                    });
                    pool.truncate(cfg.subset_max_candidates);
                    let mut found = Vec::new();
                    let mut stack = Vec::new();
                    search(&pool, items, 0, need, cfg.subset_max_items, 1, &mut stack, &mut found);
                    // One completion: the group. Several (the payer has open items of equal
                    // amounts): each is a candidate and the receipt is ambiguous — never an
                    // overpayment of the named invoice cleared on its own.
                    for f in &found {
                        let mut set = refs.clone();
                        set.extend(f.iter().copied());
                        let mut rs = reasons.clone();
                        let credit = f.iter().any(|&i| items[i].amount < 0);
                        rs.push(format!(
                            "{} more open item(s) of the payer{} make up the rest",
                            f.len(),
                            if credit { ", credit notes netted," } else { "" }
                        ));
                        out.push(Group {
                            receipt: ri,
                            items: set.iter().map(|&i| (i, items[i].amount)).collect(),
                            residual: 0,
                            reason: ResidualReason::None,
                            score: 0.9,
                            method: MatchMethod::ReferenceSubsetSum,
                            remittance_id: None,
                            features: Vec::new(),
                            payer_conflict: false,
                            shadow: None,
                            held: false,
                            reasons: rs,
                        });
                    }
                    if !found.is_empty() {
                        if conflicting {
                            break 'refs;
                        }
                        return out;
                    }
                }
            }
            // The invoices named, with what is short or over explained (a bank
            // charge, a discount, FX, an overpayment: held for a person when several
            // are named); one invoice paid short, a partial payment.
            let open: i64 = reckon_core::sum_minor(refs.iter().map(|&i| items[i].amount));
            let explained = explain(open, r.amount, cfg, &r.currency, instructed_other(r).as_deref(), r.charges);
            if n == 1 || explained.is_some() {
                let i = refs[0];
                match explained {
                    Some((why, s, text)) => {
                        let mut rs = reasons.clone();
                        rs.push(text);
                        // Several invoices named and more paid: the excess likely pays
                        // one not named (no open item of the payer made it up).
                        let held = n > 1 && why == ResidualReason::Overpayment;
                        if held {
                            rs.push(
                                "the payment names several invoices and pays more than they hold: for a person".into(),
                            );
                        }
                        out.push(Group {
                            receipt: ri,
                            items: refs.iter().map(|&i| (i, items[i].amount)).collect(),
                            residual: open - r.amount,
                            reason: why,
                            score: if consistent { s } else { s * 0.85 },
                            method: MatchMethod::Reference,
                            remittance_id: None,
                            features: Vec::new(),
                            payer_conflict: false,
                            shadow: None,
                            held,
                            reasons: rs,
                        });
                    }
                    None => {
                        // Less than open and not a fee or discount: a partial (or split) payment.
                        let mut rs = reasons.clone();
                        rs.push(format!("pays {} of {} open", money(r.amount, &r.currency), money(open, &r.currency)));
                        out.push(Group {
                            receipt: ri,
                            items: vec![(i, r.amount)],
                            residual: open - r.amount,
                            reason: ResidualReason::ShortPayment,
                            score: if consistent { 0.8 } else { 0.6 },
                            method: MatchMethod::ReferencePartial,
                            remittance_id: None,
                            features: Vec::new(),
                            payer_conflict: false,
                            shadow: None,
                            held: false,
                            reasons: rs,
                        });
                    }
                }
                if conflicting {
                    break 'refs;
                }
                return out;
            }
        }
    }
    // 3. Name only: the payer's open items.
    // (item, the place of its customer among the payer's, which are in id order).
    let own: Vec<(usize, usize)> =
        payer_at.iter().enumerate().flat_map(|(k, &ci)| idx.customer_items[ci].iter().map(move |&i| (i, k))).collect();
    if own.is_empty() {
        return out;
    }
    let in_window: Vec<(usize, usize)> = own
        .into_iter()
        .filter(|&(i, _)| idx.item_currency[i] == currency && items[i].amount != 0)
        .filter(|&(i, _)| {
            let d = items[i].due_date.unwrap_or(items[i].invoice_date);
            (r.booking_date - d).abs() <= cfg.date_window_days && items[i].invoice_date <= r.booking_date
        })
        .collect();
    let window: Vec<usize> = in_window.iter().map(|&(i, _)| i).collect();
    let base_score = match payer.as_ref().map(|x| x.2) {
        Some("iban" | "sort_code" | "ein" | "customer_id") => 0.95,
        Some("name") => 0.9,
        // Several masters with the payer's name: a proposal for a person.
        _ => 0.82,
    };
    let same: Vec<usize> = window.iter().copied().filter(|&i| items[i].amount == r.amount).collect();
    for &i in &same {
        let mut rs = vec![format!("amount equals invoice {}", items[i].invoice_number)];
        rs.extend(payer_reason.clone());
        out.push(Group {
            receipt: ri,
            items: vec![(i, r.amount)],
            residual: 0,
            reason: ResidualReason::None,
            score: base_score,
            method: MatchMethod::NameAmount,
            remittance_id: None,
            features: Vec::new(),
            payer_conflict: false,
            shadow: None,
            held: false,
            reasons: rs,
        });
    }
    if !same.is_empty() {
        return out;
    }
    // Behind numbers that are another customer's invoices, only an open item of
    // the exact amount is looked for (no subset search).
    if conflicting && !out.is_empty() {
        return out;
    }
    // Bounded exact subset-sum over the payer's open items closest in date — per
    // customer, when the name fits several: one payment settles one customer's items.
    let mut found: Vec<Vec<usize>> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    // In customer id order (the payer's customers are).
    let mut by_customer: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &(i, k) in &in_window {
        by_customer.entry(k).or_default().push(i);
    }
    for mut pool in by_customer.into_values() {
        pool.sort_by_key(|&i| ((r.booking_date - items[i].due_date.unwrap_or(items[i].invoice_date)).abs(), i));
        pool.truncate(cfg.subset_max_candidates);
        search(&pool, items, 0, r.amount, cfg.subset_max_items, 2, &mut stack, &mut found);
    }
    for set in found {
        let mut rs = vec![format!("{} open items of the payer sum to the amount", set.len())];
        rs.extend(payer_reason.clone());
        out.push(Group {
            receipt: ri,
            items: set.iter().map(|&i| (i, items[i].amount)).collect(),
            residual: 0,
            reason: ResidualReason::None,
            score: base_score - 0.07,
            method: MatchMethod::SubsetSum,
            remittance_id: None,
            features: Vec::new(),
            payer_conflict: false,
            shadow: None,
            held: false,
            reasons: rs,
        });
    }
    if !out.is_empty() {
        return out;
    }
    // One open item of the payer explained by a fee or discount.
    for &i in &window {
        if let Some((why, s, text)) =
            explain(items[i].amount, r.amount, cfg, &r.currency, instructed_other(r).as_deref(), r.charges)
                .filter(|x| x.0 != ResidualReason::Overpayment)
            && why != ResidualReason::None
        {
            let mut rs = vec![text, format!("invoice {}", items[i].invoice_number)];
            rs.extend(payer_reason.clone());
            out.push(Group {
                receipt: ri,
                items: vec![(i, items[i].amount)],
                residual: items[i].amount - r.amount,
                reason: why,
                score: s * 0.8,
                method: MatchMethod::NameResidual,
                remittance_id: None,
                features: Vec::new(),
                payer_conflict: false,
                shadow: None,
                held: false,
                reasons: rs,
            });
        }
    }
    out
}

/// The reason a link gives when `customer`'s master permits `payer` as its
/// payer ([`Customer::payer_ids`]); a caller that put a permission there
/// from elsewhere (a person's decision) finds it by this text.
pub fn permitted_payer_reason(customer: &str, payer: &str) -> String {
    format!("customer {customer} permits customer {payer} as its payer (customer master)")
}

/// How the payer was identified, as a reason.
fn payer_reason(payer: &Payer) -> Option<String> {
    payer.as_ref().map(|(c, s, how)| match *how {
        "iban" => format!("payer IBAN is customer {}'s", c.join("")),
        "sort_code" => format!("payer sort code and account are customer {}'s", c.join("")),
        "ein" => format!("ACH originator id is customer {}'s EIN", c.join("")),
        "customer_id" => format!("ACH identification number is customer {}'s id", c.join("")),
        _ => format!("payer name {s:.2} like customer {}", c.join(" or ")),
    })
}

/// Runs cash application over all receipts (amount > 0).
/// The features of group `g` of receipt `r` (see [`FEATURES`]).
#[allow(clippy::too_many_arguments)]
fn features(
    g: &Group,
    r: &Receipt,
    idx: &Index<'_>,
    payer: &Payer,
    payer_at: &[usize],
    n_groups: usize,
    margin: f64,
    other_currency: bool,
) -> Vec<f32> {
    let one = |b: bool| if b { 1.0f32 } else { 0.0 };
    let mut f = Vec::with_capacity(FEATURES.len());
    f.push(g.score as f32);
    f.extend(MatchMethod::ALL.iter().map(|m| one(g.method == *m)));
    f.extend(ResidualReason::ALL.iter().map(|x| one(g.reason == *x)));
    f.push((g.residual.unsigned_abs() as f64 / r.amount.unsigned_abs().max(1) as f64).min(2.0) as f32);
    f.push((1.0 + g.items.len() as f32).ln());
    let kind = payer.as_ref().map_or("", |p| p.2);
    // `payer_iban`: the payer is known by its account, in whichever form the bank gives it.
    f.push(one(matches!(kind, "iban" | "sort_code" | "ein" | "customer_id")));
    f.push(one(kind == "name"));
    f.push(one(kind == "names"));
    f.push(payer.as_ref().map_or(0.0, |p| p.1 as f32));
    f.push(one(!payer_at.is_empty() && g.items.iter().all(|(i, _)| payer_at.contains(&idx.item_customer[*i]))));
    f.push((1.0 + n_groups as f32).ln());
    f.push(margin as f32);
    f.push((r.amount.unsigned_abs() as f32 + 1.0).log10());
    let due = g
        .items
        .iter()
        .map(|(i, _)| idx.items[*i].due_date.unwrap_or(idx.items[*i].invoice_date))
        .max()
        .unwrap_or(r.booking_date);
    f.push(((r.booking_date - due) as f32 / 30.0).clamp(-2.0, 12.0));
    f.push(one(other_currency));
    f
}

/// What a receipt says of its payer ([`Index::payer`] reads nothing else).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct PayerKey<'r> {
    account: &'r str,
    name: &'r str,
    name_form: PayerNameForm,
    payer_ref: &'r str,
}

impl<'r> PayerKey<'r> {
    fn of(r: &'r Receipt) -> PayerKey<'r> {
        PayerKey {
            account: &r.counterparty_account,
            name: &r.counterparty_name,
            name_form: r.name_form,
            payer_ref: &r.payer_ref,
        }
    }
}

/// Candidate groups per receipt with their features, sorted by rule score.
/// Each distinct payer evidence of the receipts (payers repeat), identified
/// once: the payer and its customers as [`Index::payer_at`] gives them.
fn payers_of<'r>(idx: &Index<'_>, receipts: &'r [Receipt], cfg: &MatchConfig) -> Payers<'r> {
    let mut keys: Vec<PayerKey<'r>> = receipts.iter().filter(|r| r.amount > 0).map(PayerKey::of).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.par_iter()
        .map(|k| {
            let probe = Receipt {
                counterparty_account: k.account.to_string(),
                counterparty_name: k.name.to_string(),
                name_form: k.name_form,
                payer_ref: k.payer_ref.to_string(),
                ..Receipt::default()
            };
            let payer = idx.payer(&probe, cfg.name_threshold);
            let at = idx.payer_at(&payer);
            (*k, (payer, at))
        })
        .collect()
}

/// [`payers_of`]: payer evidence → (payer, its customers).
type Payers<'r> = HashMap<PayerKey<'r>, (Payer, Vec<usize>)>;

fn candidate_groups(
    idx: &Index<'_>,
    receipts: &[Receipt],
    payers: &Payers<'_>,
    cfg: &MatchConfig,
    blocks: Option<&[Vec<usize>]>,
) -> Vec<Vec<Group>> {
    let unknown: (Payer, Vec<usize>) = (None, Vec::new());
    receipts
        .par_iter()
        .enumerate()
        .map(|(ri, r)| {
            if r.amount <= 0 {
                return Vec::new();
            }
            let (payer, payer_at) = payers.get(&PayerKey::of(r)).unwrap_or(&unknown);
            let other_currency = instructed_other(r).is_some();
            let mut gs =
                candidates(idx, ri, r, cfg, payer, payer_at, blocks.and_then(|b| b.get(ri)).map(Vec::as_slice));
            // Paid in another currency and nothing fits the amount credited: match
            // what the payer instructed, in that currency (an invoice billed in it).
            let instructed;
            let mut r = r;
            if gs.is_empty()
                && let Some((m, c)) = r.instructed.as_ref().filter(|(_, c)| *c != r.currency)
            {
                instructed = Receipt { amount: *m, currency: c.clone(), ..r.clone() };
                let credited = money(r.amount, &r.currency);
                gs = candidates(idx, ri, &instructed, cfg, payer, payer_at, None);
                for g in &mut gs {
                    g.reasons.push(format!("matched on the amount instructed, {} (credited {credited})", money(*m, c)));
                }
                r = &instructed;
            }
            mark_payer_conflicts(&mut gs, r, idx, payer, payer_at, cfg);
            mark_unexplained_excess(&mut gs, r, idx, cfg);
            gs.sort_by(|a, b| b.score.total_cmp(&a.score));
            let n = gs.len();
            let scores: Vec<f64> = gs.iter().map(|g| g.score).collect();
            for (k, g) in gs.iter_mut().enumerate() {
                let other = if k == 0 { scores.get(1) } else { scores.first() };
                let margin = other.map_or(1.0, |o| g.score - o);
                g.features = features(g, r, idx, payer, payer_at, n, margin, other_currency);
            }
            gs
        })
        .collect()
}

/// Whether two invoice keys of one length have one form: the same first three
/// characters, as many characters before the first digit, and a digit in
/// `b` (`INV100140` and `INV100150`; not `INVOICENO`, the words `INVOICE NO`
/// read as one key).
fn same_shape(a: &str, b: &str) -> bool {
    let letters = |s: &str| s.bytes().take_while(|c| !c.is_ascii_digit()).count();
    let lb = letters(b);
    lb < b.len() && letters(a) == lb && a.get(..3) == b.get(..3)
}

/// Holds back groups whose payment names invoice numbers of the same form as
/// one of the group's own ([`same_shape`], or the number alone without its
/// letters) that no open item in the currency carries, when the group pays
/// more than its items or was found by amount rather than by those
/// references — the payment may be for those invoices, posted later (an
/// invoice booked after its customer paid), not for the payer's item of the
/// same amount — and overpaying groups whose excess is above
/// `overpayment_auto_max_percent` of what the group applies (a collective
/// payment whose other invoices are not named). Applied automatically, the
/// excess would stay unapplied cash and those invoices open; held, it is for a
/// person — or, with a state store, for the day they are posted (the receipt
/// is carried).
fn mark_unexplained_excess(gs: &mut [Group], r: &Receipt, idx: &Index<'_>, cfg: &MatchConfig) {
    // Groups with items found without the payment's own references (the
    // payer's items by amount, also those making up the rest after the named
    // invoices) or paying more than their items.
    let judged = |g: &Group| {
        g.reason == ResidualReason::Overpayment
            || matches!(
                g.method,
                MatchMethod::NameAmount
                    | MatchMethod::SubsetSum
                    | MatchMethod::NameResidual
                    | MatchMethod::ReferenceSubsetSum
            )
    };
    if !gs.iter().any(judged) {
        return;
    }
    let keys: Vec<String> = reference_probes(r, idx.payer_ref_is_customer(r))
        .iter()
        .filter_map(|t| invoice_keys(t).0)
        .collect::<std::collections::BTreeSet<String>>()
        .into_iter()
        .collect();
    for g in gs.iter_mut().filter(|g| judged(g)) {
        let own: Vec<String> =
            g.items.iter().filter_map(|(i, _)| invoice_keys(&idx.items[*i].invoice_number).0).collect();
        let own_tails: Vec<String> =
            g.items.iter().filter_map(|(i, _)| invoice_keys(&idx.items[*i].invoice_number).1).collect();
        // An invoice of the group's form, or its number written without the
        // group's letters (`146115` beside `INV-146114`).
        let like_own = |k: &str| {
            own.iter().any(|o| o.len() == k.len() && o.len() >= 5 && same_shape(o, k))
                || (k.bytes().all(|c| c.is_ascii_digit())
                    && own_tails.iter().any(|t| t.len() == k.len() && t.len() >= 5 && t.get(..3) == k.get(..3)))
        };
        let unseen: Vec<String> = keys
            .iter()
            .filter(|k| !own.contains(k) && !own_tails.contains(k))
            .filter(|k| like_own(k))
            .filter(|k| !idx.by_full.contains_key(&(idx.currency(&r.currency), (*k).clone())))
            .filter(|k| invoice_keys(k).1.is_none_or(|t| !idx.by_tail.contains_key(&(idx.currency(&r.currency), t))))
            .cloned()
            .collect();
        if !unseen.is_empty() {
            g.reasons.push(format!(
                "the payment also names invoice(s) {} that no open item carries today: for a person, or for the day they are posted",
                unseen.join(", ")
            ));
            g.held = true;
        }
        let applied: i128 = g.items.iter().map(|(_, a)| i128::from(*a)).sum();
        let excess = -i128::from(g.residual);
        if g.reason == ResidualReason::Overpayment
            && excess * 100 > applied * i128::from(cfg.overpayment_auto_max_percent)
        {
            g.reasons.push(format!(
                "the excess is more than {} % of the invoices applied: it likely pays invoices it does not name",
                cfg.overpayment_auto_max_percent
            ));
            g.held = true;
        }
    }
}

/// How much less like the bank's name than the payer's master a customer's
/// name must be for the bank's name to tell the two apart, when the payer is
/// known by name alone (Jaro–Winkler: a letter or two of a short name).
const TOLD_APART: f64 = 0.05;

/// Marks groups that apply another customer's items than the payer the bank
/// names: the payer is identified (by its account, or by a name like a master
/// record) and an item's customer is not among them, nor like the bank's payer
/// name. A reference such a payment quotes (a number that is also another
/// customer's invoice, a parent paying for a subsidiary) is for a person to
/// confirm, however strong the rest of the evidence. Known by name alone, the
/// payer is not told apart from a customer of the same name, one whose name is
/// within [`TOLD_APART`] as like the bank's, or one the bank's name may
/// abbreviate ([`may_abbreviate`]).
fn mark_payer_conflicts(
    gs: &mut [Group],
    r: &Receipt,
    idx: &Index<'_>,
    payer: &Payer,
    payer_at: &[usize],
    cfg: &MatchConfig,
) {
    let Some((ids, payer_sim, how)) = payer else { return };
    let items = idx.items;
    // Items of customers that permit the payer: evidence, said once per customer.
    let own = idx.payer_own(payer);
    for g in gs.iter_mut() {
        let mut permitted: Vec<usize> =
            g.items.iter().map(|(i, _)| idx.item_customer[*i]).filter(|ci| !own.contains(ci)).collect();
        permitted.sort_unstable();
        permitted.dedup();
        for ci in permitted {
            let by: Vec<&str> = own
                .iter()
                .filter(|&&pi| idx.permitting[pi].contains(&ci))
                .map(|&pi| idx.customers[pi].0.as_str())
                .collect();
            if !by.is_empty() {
                g.reasons.push(permitted_payer_reason(&idx.customers[ci].0, &by.join(" or ")));
            }
        }
    }
    // The payers' own names: known by name, the payer is not told apart from a
    // customer of the same name (a group's companies in several countries, one
    // legal form apart).
    let payer_names: Vec<&str> =
        payer_at.iter().filter_map(|&ci| idx.customers[ci].1.first().map(String::as_str)).collect();
    let bank = name_key(&r.counterparty_name);
    let bank_sorted = sorted_tokens(&bank);
    // Known by name alone, the payer is only the master the bank's name is most
    // like: a customer whose name is about as like it is not told apart.
    let by_name = matches!(*how, "name" | "names");
    let like = |sim: f64| sim >= cfg.name_threshold || (by_name && sim >= payer_sim - TOLD_APART);
    for g in gs {
        let other =
            g.items.iter().filter(|(i, _)| !payer_at.contains(&idx.item_customer[*i])).map(|(i, _)| &items[*i]).find(
                |it| {
                    let m = name_key(&it.customer_name);
                    !(by_name && payer_names.contains(&m.as_str()))
                        && (bank.is_empty()
                            || (!like(name_similarity_sorted(&bank, &bank_sorted, &m, &sorted_tokens(&m)))
                                && !may_abbreviate(&bank, &m)))
                },
            );
        if let Some(it) = other {
            g.payer_conflict = true;
            g.reasons.push(format!(
                "the bank names customer {} as the payer, but invoice {} is customer {}'s: for a person to confirm \
                 (a payer that pays for the customer is recorded in customers.payer_ids, or learned from the decision)",
                ids.join(" or "),
                it.invoice_number,
                it.customer_id
            ));
        }
    }
}

/// Every candidate group with its features (for training a scorer): one row per
/// group, labelled later against the truth by its items.
pub fn training_rows(
    receipts: &[Receipt],
    items: &[OpenItem],
    customers: &[Customer],
    remittances: &[RemittanceLine],
    cfg: &MatchConfig,
) -> Vec<TrainingRow> {
    let idx = Index::new(items, customers, remittances);
    candidate_groups(&idx, receipts, &payers_of(&idx, receipts, cfg), cfg, None)
        .into_iter()
        .flatten()
        .map(|g| TrainingRow {
            txn_id: receipts[g.receipt].txn_id.clone(),
            item_ids: g.items.iter().map(|(i, _)| items[*i].item_id.clone()).collect(),
            features: g.features,
        })
        .collect()
}

/// Cash application with the rule scores as confidence.
pub fn run(
    receipts: &[Receipt],
    items: &[OpenItem],
    customers: &[Customer],
    remittances: &[RemittanceLine],
    cfg: &MatchConfig,
) -> MatchResult {
    // Without a scorer nothing can fail.
    run_with(receipts, items, customers, remittances, cfg, None).unwrap_or_default()
}

/// Cash application; with a `scorer`, every candidate group's confidence is the
/// model's probability (ambiguity, assignment and bands then use it).
pub fn run_with(
    receipts: &[Receipt],
    items: &[OpenItem],
    customers: &[Customer],
    remittances: &[RemittanceLine],
    cfg: &MatchConfig,
    scorer: Option<&dyn GroupScorer>,
) -> Result<MatchResult, MatchError> {
    run_blocked(receipts, items, customers, remittances, cfg, scorer, None)
}

/// [`run_with`] with the invoice-number blocking done outside the engine:
/// `blocks[r]` = the open items (indices, ascending) whose invoice number receipt
/// `r`'s texts name, as [`reference_probes`] + [`invoice_keys`] define it
/// (reckon-pipeline computes it as a polars join). The result is the same as with
/// the engine's own index.
#[allow(clippy::too_many_arguments)]
pub fn run_blocked(
    receipts: &[Receipt],
    items: &[OpenItem],
    customers: &[Customer],
    remittances: &[RemittanceLine],
    cfg: &MatchConfig,
    scorer: Option<&dyn GroupScorer>,
    blocks: Option<&[Vec<usize>]>,
) -> Result<MatchResult, MatchError> {
    run_excluding(receipts, items, customers, remittances, cfg, scorer, blocks, &HashSet::new())
}

/// [`run_blocked`] that never proposes the (txn_id, item_id) pairs in
/// `rejected` (a person said the receipt does not pay the item): a candidate
/// group holding such a pair is dropped before scoring.
#[allow(clippy::too_many_arguments)]
pub fn run_excluding(
    receipts: &[Receipt],
    items: &[OpenItem],
    customers: &[Customer],
    remittances: &[RemittanceLine],
    cfg: &MatchConfig,
    scorer: Option<&dyn GroupScorer>,
    blocks: Option<&[Vec<usize>]>,
    rejected: &HashSet<(String, String)>,
) -> Result<MatchResult, MatchError> {
    run_shadowed(receipts, items, customers, remittances, cfg, scorer, None, blocks, rejected)
}

/// [`run_excluding`] with a `shadow` scorer (a challenger model): it scores the
/// same candidate groups from the same features as `scorer`, and its
/// probability for each group applied is `shadow_confidence`; what is matched,
/// its band and its confidence are `scorer`'s alone.
#[allow(clippy::too_many_arguments)]
pub fn run_shadowed(
    receipts: &[Receipt],
    items: &[OpenItem],
    customers: &[Customer],
    remittances: &[RemittanceLine],
    cfg: &MatchConfig,
    scorer: Option<&dyn GroupScorer>,
    shadow: Option<&dyn GroupScorer>,
    blocks: Option<&[Vec<usize>]>,
    rejected: &HashSet<(String, String)>,
) -> Result<MatchResult, MatchError> {
    if let Some(b) = blocks
        && b.len() != receipts.len()
    {
        return Err(MatchError::Blocks { blocks: b.len(), receipts: receipts.len() });
    }
    let idx = Index::new(items, customers, remittances);
    let payers = payers_of(&idx, receipts, cfg);
    let per_receipt = candidate_groups(&idx, receipts, &payers, cfg, blocks);
    // Receipts with no candidate at all whose payer the bank names by its
    // account or by a master's exact name: who paid, for the person who applies
    // the money on account or asks the payer. A name only like a master's is
    // not said: it may be anyone's.
    let known_payer: HashMap<&str, String> = per_receipt
        .par_iter()
        .zip(receipts)
        .filter(|(gs, r)| gs.is_empty() && r.amount > 0)
        .filter_map(|(_, r)| {
            let payer = payers.get(&PayerKey::of(r)).and_then(|(p, _)| p.clone()).filter(|(_, sim, how)| {
                matches!(*how, "iban" | "sort_code" | "ein" | "customer_id") || (*how == "name" && *sim >= 1.0)
            });
            Some((r.txn_id.as_str(), payer_reason(&payer)?))
        })
        .collect();
    drop(payers);
    // The index is not read past here: freed beside the scoring.
    let ((), out) = rayon::join(
        move || drop(idx),
        || score_and_assign(receipts, items, per_receipt, cfg, scorer, shadow, rejected),
    );
    let mut out = out?;
    for o in out.outcomes.iter_mut().filter(|o| o.status == ReceiptStatus::Unmatched) {
        if let Some(who) = known_payer.get(o.txn_id.as_str()) {
            o.reasons = vec![format!(
                "no invoice reference or remittance; {who}, and no open item or set of its open items makes up the amount: \
                 for a person to apply on account or ask the payer"
            )];
        }
    }
    Ok(out)
}

/// Scores the candidate groups (with `scorer` and `shadow`, when given) and
/// assigns the best of each receipt, strongest first.
fn score_and_assign(
    receipts: &[Receipt],
    items: &[OpenItem],
    mut per_receipt: Vec<Vec<Group>>,
    cfg: &MatchConfig,
    scorer: Option<&dyn GroupScorer>,
    shadow: Option<&dyn GroupScorer>,
    rejected: &HashSet<(String, String)>,
) -> Result<MatchResult, MatchError> {
    if !rejected.is_empty() {
        for (r, gs) in receipts.iter().zip(per_receipt.iter_mut()) {
            gs.retain(|g| {
                !g.items.iter().any(|(i, _)| rejected.contains(&(r.txn_id.clone(), items[*i].item_id.clone())))
            });
        }
    }
    // Ambiguity is decided on the evidence (rule scores) before any model: two
    // groups the evidence cannot tell apart (the same amount twice for one payer)
    // stay ambiguous even when a model's features would break the tie.
    let tied: Vec<bool> =
        per_receipt.iter().map(|gs| gs.len() >= 2 && gs[0].score - gs[1].score < cfg.ambiguity_margin).collect();
    if scorer.is_some() || shadow.is_some() {
        let k = FEATURES.len();
        let rows: usize = per_receipt.iter().map(Vec::len).sum();
        let mut x = Vec::with_capacity(rows * k);
        for g in per_receipt.iter().flatten() {
            x.extend_from_slice(&g.features);
        }
        // One call each: the scorer batches (reckon-onnx scores fixed chunks on
        // the rayon pool, so the numbers do not depend on the thread count).
        let score = |sc: &dyn GroupScorer| -> Result<Vec<f32>, MatchError> {
            let p: Vec<f32> = sc.score(rows, &x).map_err(MatchError::Scorer)?;
            if p.len() != rows {
                return Err(MatchError::Scores { scores: p.len(), groups: rows });
            }
            Ok(p)
        };
        let p = scorer.map(score).transpose()?;
        let q = shadow.map(score).transpose()?;
        let mut at = 0;
        for gs in &mut per_receipt {
            for g in gs.iter_mut() {
                if let Some(p) = &p {
                    g.score = f64::from(p[at]);
                }
                g.shadow = q.as_ref().map(|q| f64::from(q[at]));
                at += 1;
            }
            if p.is_some() {
                gs.sort_by(|a, b| b.score.total_cmp(&a.score));
            }
        }
    }
    // Features are not needed past scoring (but for each receipt's best group
    // when they are kept): free them on the pool.
    let keep = cfg.keep_features;
    per_receipt.par_iter_mut().for_each(|gs| {
        for (i, g) in gs.iter_mut().enumerate() {
            if !(keep && i <= ALTERNATIVES_KEPT) {
                g.features = Vec::new();
            }
        }
    });
    let out = assign(receipts, items, per_receipt, &tied, cfg);
    Ok(out)
}

fn assign(
    receipts: &[Receipt],
    items: &[OpenItem],
    per_receipt: Vec<Vec<Group>>,
    tied: &[bool],
    cfg: &MatchConfig,
) -> MatchResult {
    // Receipts whose two best groups are too close to call are ambiguous.
    type Why = (Vec<String>, Vec<Vec<String>>);
    let mut ambiguous: Vec<Option<Why>> = vec![None; receipts.len()];
    let ids_of = |g: &Group| g.items.iter().map(|(i, _)| items[*i].item_id.clone()).collect::<Vec<_>>();
    let mut alternatives: Vec<Alternative> = Vec::new();
    let alternative = |g: &Group| {
        let mut item_ids = ids_of(g);
        item_ids.sort();
        Alternative {
            txn_id: receipts[g.receipt].txn_id.clone(),
            item_ids,
            confidence: g.score,
            shadow_confidence: g.shadow,
            features: g.features.clone(),
        }
    };
    let mut all: Vec<Group> = Vec::new();
    for (ri, gs) in per_receipt.into_iter().enumerate() {
        if cfg.keep_features && receipts[ri].amount > 0 {
            // The best group is kept here only when it is not assigned below.
            let ambiguous = gs.len() >= 2 && (tied[ri] || gs[0].score - gs[1].score < cfg.ambiguity_margin);
            let skip = usize::from(!ambiguous);
            alternatives.extend(gs.iter().skip(skip).take(ALTERNATIVES_KEPT + 1 - skip).map(alternative));
        }
        if gs.len() >= 2 && (tied[ri] || gs[0].score - gs[1].score < cfg.ambiguity_margin) {
            let alts = gs
                .iter()
                .take(3)
                .map(|g| g.items.iter().map(|(i, _)| items[*i].invoice_number.clone()).collect::<Vec<_>>().join("+"))
                .collect::<Vec<_>>()
                .join(" or ");
            let cands = gs.iter().take(3).map(ids_of).collect();
            ambiguous[ri] = Some((vec![format!("equally likely: {alts}")], cands));
            continue;
        }
        all.extend(gs.into_iter().take(1));
    }
    // Global assignment: best score first; ties by receipt order. An item's open
    // amount is consumed by what is applied to it.
    // A stable sort, so the order is the same on any number of threads.
    all.par_sort_by(|a, b| {
        b.score.total_cmp(&a.score).then(receipts[a.receipt].txn_id.cmp(&receipts[b.receipt].txn_id))
    });
    let mut remaining: Vec<i64> = items.iter().map(|i| i.amount).collect();
    let mut taken: Vec<Option<Group>> = (0..receipts.len()).map(|_| None).collect();
    let mut lost: Vec<Option<Why>> = vec![None; receipts.len()];
    for g in all {
        let fits = g.items.iter().all(|(i, a)| {
            let rem = remaining[*i];
            if items[*i].amount >= 0 { *a <= rem } else { rem != 0 }
        });
        if !fits {
            if cfg.keep_features && receipts[g.receipt].amount > 0 {
                alternatives.push(alternative(&g));
            }
            let cands = vec![ids_of(&g)];
            lost[g.receipt] = Some((vec!["its invoices were already applied to a stronger match".into()], cands));
            continue;
        }
        for (i, a) in &g.items {
            remaining[*i] -= a;
        }
        let ri = g.receipt;
        taken[ri] = Some(g);
    }
    // Rows and outcomes per receipt in parallel, collected in receipt order.
    type Features = Option<(String, Vec<f32>)>;
    let per: Vec<(Vec<MatchRow>, Option<ReceiptOutcome>, Features)> = receipts
        .par_iter()
        .enumerate()
        .map(|(ri, r)| {
            if r.amount <= 0 {
                return (Vec::new(), None, None);
            }
            if let Some(g) = &taken[ri] {
                let threshold = cfg.auto_threshold_for(g.items.iter().map(|(i, _)| items[*i].entity.as_str()));
                let band = if g.score >= threshold && !g.payer_conflict && !g.held { Band::Auto } else { Band::Review };
                let mut parts = vec![r.txn_id.as_str()];
                parts.extend(g.items.iter().map(|(i, _)| items[*i].item_id.as_str()));
                let match_id = reckon_core::id::stable_id("M-", &parts);
                let rows = g
                    .items
                    .iter()
                    .map(|(i, a)| MatchRow {
                        match_id: match_id.clone(),
                        txn_id: r.txn_id.clone(),
                        item_id: items[*i].item_id.clone(),
                        remittance_id: g.remittance_id.clone(),
                        // Applied and residual amounts are in the open item's currency.
                        currency: items[*i].currency.clone(),
                        applied_minor: *a,
                        residual_minor: g.residual,
                        residual_reason: g.reason,
                        confidence: g.score,
                        shadow_confidence: g.shadow,
                        held: g.held || g.payer_conflict,
                        band,
                        method: g.method,
                        reasons: g.reasons.clone(),
                    })
                    .collect();
                let status = if band == Band::Auto { ReceiptStatus::Auto } else { ReceiptStatus::Review };
                let o = ReceiptOutcome {
                    txn_id: r.txn_id.clone(),
                    status,
                    reasons: g.reasons.clone(),
                    candidates: Vec::new(),
                };
                let f = (!g.features.is_empty()).then(|| (match_id.clone(), g.features.clone()));
                (rows, Some(o), f)
            } else if let Some((why, cands)) = ambiguous[ri].as_ref().or(lost[ri].as_ref()) {
                let o = ReceiptOutcome {
                    txn_id: r.txn_id.clone(),
                    status: ReceiptStatus::Ambiguous,
                    reasons: why.clone(),
                    candidates: cands.clone(),
                };
                (Vec::new(), Some(o), None)
            } else {
                let o = ReceiptOutcome {
                    txn_id: r.txn_id.clone(),
                    status: ReceiptStatus::Unmatched,
                    reasons: vec!["no invoice reference, remittance or payer match".into()],
                    candidates: Vec::new(),
                };
                (Vec::new(), Some(o), None)
            }
        })
        .collect();
    let mut result = MatchResult {
        rows: Vec::with_capacity(per.iter().map(|p| p.0.len()).sum()),
        outcomes: Vec::with_capacity(per.len()),
        features: std::collections::BTreeMap::new(),
        alternatives,
    };
    // Stable: of two groups of the same items (another method or residual),
    // the better ranked is kept.
    result.alternatives.sort_by(|a, b| (&a.txn_id, &a.item_ids).cmp(&(&b.txn_id, &b.item_ids)));
    result.alternatives.dedup_by(|a, b| a.txn_id == b.txn_id && a.item_ids == b.item_ids);
    for (rows, o, f) in per {
        result.rows.extend(rows);
        result.outcomes.extend(o);
        result.features.extend(f);
    }
    // Free the groups on the pool rather than on this thread.
    taken.into_par_iter().for_each(drop);
    result
}
