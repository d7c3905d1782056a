//! The contract's words as enums with the contract's names (`as_str`, serde,
//! `parse`, `ALL`), so a word cannot be misspelt in code and a list cannot drift
//! from the contract (a tidy test ties `ExceptionKind::ALL` to
//! `docs/data-contract.md`). [`vocab_enum!`](crate::vocab_enum) declares such an
//! enum; the engines use it for their own words (match methods, journal tests).

/// Declares a vocabulary enum: variants with their names, `ALL` in declaration
/// order, `as_str`, `parse`, `Display`, and serde under the same names.
#[macro_export]
macro_rules! vocab_enum {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $v:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, ::serde::Serialize, ::serde::Deserialize)]
        $vis enum $name { $($(#[$vm])* #[serde(rename = $s)] $v),+ }

        impl $name {
            /// Every word, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$v),+];

            pub const fn as_str(self) -> &'static str {
                match self { $($name::$v => $s),+ }
            }

            /// The word named `s`, if it is one.
            pub fn parse(s: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|k| k.as_str() == s)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocab_enum! {
    /// What an exception is about (contract: "Exception kinds").
    pub enum ExceptionKind {
        UnmatchedReceipt => "unmatched_receipt",
        SuggestedMatch => "suggested_match",
        AmbiguousMatch => "ambiguous_match",
        PartialPayment => "partial_payment",
        Overpayment => "overpayment",
        UnreconciledDisbursement => "unreconciled_disbursement",
        DuplicateInvoice => "duplicate_invoice",
        DuplicatePayment => "duplicate_payment",
        JournalAnomaly => "journal_anomaly",
        ControlViolation => "control_violation",
        /// A model's inputs or scores in a run have moved from its training
        /// reference beyond `[monitor]`'s limits (reckon extension, since 2026-11-30).
        ModelDrift => "model_drift",
        /// The proposals people decided were found right markedly more or less
        /// often than the model's probability said (reckon extension, since
        /// 2026-11-30).
        CalibrationDrift => "calibration_drift",
    }
}

vocab_enum! {
    /// Who acts: `auto` (reckon applies it), `review` (a person confirms),
    /// `escalate` (a person with authority decides).
    pub enum Band {
        Auto => "auto",
        Review => "review",
        Escalate => "escalate",
    }
}

vocab_enum! {
    /// Where an exception stands across runs (a state store keeps it): `new` the
    /// first run that raises it, `open` every later run that still raises it,
    /// `resolved` by a decision or by evidence in a later run, `reopened` raised
    /// again after it was resolved or after its decision was undone.
    pub enum ExceptionState {
        New => "new",
        Open => "open",
        Resolved => "resolved",
        Reopened => "reopened",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_parse() {
        for &k in ExceptionKind::ALL {
            assert_eq!(serde_json::to_string(&k).ok(), Some(format!("\"{}\"", k.as_str())));
            assert_eq!(ExceptionKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(ExceptionKind::parse("spam"), None);
        for &b in Band::ALL {
            assert_eq!(serde_json::to_string(&b).ok(), Some(format!("\"{b}\"")));
        }
    }
}
