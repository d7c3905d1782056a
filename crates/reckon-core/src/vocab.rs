//! The contract's words for exceptions: their kinds and bands, as enums with
//! the contract's names (`as_str`, serde, `ALL`), so a kind or band cannot be
//! misspelt in code and the list cannot drift from the contract (a tidy test
//! ties `ExceptionKind::ALL` to `docs/data-contract.md`).

use serde::{Deserialize, Serialize};

/// What an exception is about (contract: "Exception kinds").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionKind {
    UnmatchedReceipt,
    SuggestedMatch,
    AmbiguousMatch,
    PartialPayment,
    Overpayment,
    UnreconciledDisbursement,
    DuplicateInvoice,
    DuplicatePayment,
    JournalAnomaly,
    ControlViolation,
}

impl ExceptionKind {
    pub const ALL: [ExceptionKind; 10] = [
        ExceptionKind::UnmatchedReceipt,
        ExceptionKind::SuggestedMatch,
        ExceptionKind::AmbiguousMatch,
        ExceptionKind::PartialPayment,
        ExceptionKind::Overpayment,
        ExceptionKind::UnreconciledDisbursement,
        ExceptionKind::DuplicateInvoice,
        ExceptionKind::DuplicatePayment,
        ExceptionKind::JournalAnomaly,
        ExceptionKind::ControlViolation,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ExceptionKind::UnmatchedReceipt => "unmatched_receipt",
            ExceptionKind::SuggestedMatch => "suggested_match",
            ExceptionKind::AmbiguousMatch => "ambiguous_match",
            ExceptionKind::PartialPayment => "partial_payment",
            ExceptionKind::Overpayment => "overpayment",
            ExceptionKind::UnreconciledDisbursement => "unreconciled_disbursement",
            ExceptionKind::DuplicateInvoice => "duplicate_invoice",
            ExceptionKind::DuplicatePayment => "duplicate_payment",
            ExceptionKind::JournalAnomaly => "journal_anomaly",
            ExceptionKind::ControlViolation => "control_violation",
        }
    }

    /// The kind named `s`, if it is one.
    pub fn parse(s: &str) -> Option<ExceptionKind> {
        ExceptionKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for ExceptionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who acts: `auto` (reckon applies it), `review` (a person confirms),
/// `escalate` (a person with authority decides).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Auto,
    Review,
    Escalate,
}

impl Band {
    pub const ALL: [Band; 3] = [Band::Auto, Band::Review, Band::Escalate];

    pub const fn as_str(self) -> &'static str {
        match self {
            Band::Auto => "auto",
            Band::Review => "review",
            Band::Escalate => "escalate",
        }
    }
}

impl std::fmt::Display for Band {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_parse() {
        for k in ExceptionKind::ALL {
            assert_eq!(serde_json::to_string(&k).ok(), Some(format!("\"{}\"", k.as_str())));
            assert_eq!(ExceptionKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(ExceptionKind::parse("spam"), None);
        for b in Band::ALL {
            assert_eq!(serde_json::to_string(&b).ok(), Some(format!("\"{b}\"")));
        }
    }
}
