//! Cash matching's words as enums: how a group was found ([`MatchMethod`]), what
//! explains its residual ([`ResidualReason`]) and what happened to a receipt
//! ([`ReceiptStatus`]), declared with [`reckon_core::vocab_enum!`]: `as_str` is
//! the name in `matches.parquet`, `receipt_outcomes.parquet` and the model's
//! feature names; `ALL` is the order of the model's one-hot features.

/// How much of a payer's name the bank's text holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PayerNameForm {
    /// The name, whole.
    #[default]
    Whole,
    /// The beginning of the name, cut at the width of the bank's field.
    MayBeCut,
    /// The name followed by more text: a Fedwire originator's name line run
    /// together with its address lines.
    RunsOn,
}

reckon_core::vocab_enum! {
    /// How a candidate group of open items was found for a receipt.
    pub enum MatchMethod {
        /// A remittance advice linked to the payment lists the invoices.
        Remittance => "remittance",
        /// An advice without a payment reference, linked by amount and date.
        RemittanceByAmount => "remittance_by_amount",
        /// Invoice numbers in the payment's reference or text.
        Reference => "reference",
        /// Referenced invoices of which a subset adds up to the payment.
        ReferenceSubsetSum => "reference_subset_sum",
        /// A referenced invoice paid in part.
        ReferencePartial => "reference_partial",
        /// The payer's one open item of the paid amount.
        NameAmount => "name_amount",
        /// The payer's open items that add up to the payment.
        SubsetSum => "subset_sum",
        /// The payer's open item whose difference a fee or discount explains.
        NameResidual => "name_residual",
    }
}

reckon_core::vocab_enum! {
    /// What explains the difference between the open amount and the payment.
    pub enum ResidualReason {
        None => "none",
        BankFee => "bank_fee",
        Discount => "discount",
        ShortPayment => "short_payment",
        Overpayment => "overpayment",
        Deduction => "deduction",
        Fx => "fx",
    }
}

reckon_core::vocab_enum! {
    /// What happened to a receipt.
    pub enum ReceiptStatus {
        /// Applied without a person.
        Auto => "auto",
        /// Proposed: a person confirms.
        Review => "review",
        /// Several candidate groups score alike: a person chooses.
        Ambiguous => "ambiguous",
        /// No candidate.
        Unmatched => "unmatched",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The model's one-hot features are named after these lists, in this order.
    #[test]
    fn feature_names_follow_the_vocabulary() {
        let f = crate::FEATURES;
        let methods: Vec<String> = MatchMethod::ALL.iter().map(|m| format!("m_{m}")).collect();
        let reasons: Vec<String> = ResidualReason::ALL.iter().map(|r| format!("r_{r}")).collect();
        assert_eq!(&f[1..1 + methods.len()], methods.as_slice());
        assert_eq!(&f[1 + methods.len()..1 + methods.len() + reasons.len()], reasons.as_slice());
    }
}
