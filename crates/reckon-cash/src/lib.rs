//! reckon-cash: cash application — incoming payments to open receivables.
//!
//! For every receipt (a bank credit) the engine gathers evidence — remittance
//! advice lines linked by payment reference, invoice numbers found in the
//! reference and free text however the payer wrote them, the payer's identity
//! from its IBAN or a fuzzy match of its name against the customer master — and
//! builds candidate groups: 1:1, 1:N (credit notes netted), partial and split
//! payments, residuals explained as bank fee, early-payment discount, deduction
//! or overpayment, and, for name-only payments, a bounded exact subset-sum over
//! the customer's open items. Groups from all receipts are then assigned
//! globally by score (no payment and no open amount used twice); near-equal
//! alternatives are reported as ambiguous instead of guessed.
//!
//! Scores are rule-based and **not yet calibrated probabilities**: the trained,
//! calibrated model is future work (see ARCHITECTURE.md).

pub mod account;
pub mod bank_text;
pub mod baseline;
pub mod engine;
pub mod normalize;
pub mod vocab;

pub use engine::{
    ALTERNATIVES_KEPT, AdviceIndex, Alternative, Band, Customer, FEATURE_SPEC, FEATURES, GroupScorer, MatchConfig,
    MatchError, MatchResult, MatchRow, OpenItem, Receipt, ReceiptOutcome, RemittanceLine, TrainingRow,
    payer_ref_is_customer, permitted_payer_reason, reference_probes, run, run_blocked, run_excluding, run_shadowed,
    run_with, training_rows,
};
pub use vocab::{MatchMethod, PayerNameForm, ReceiptStatus, ResidualReason};
