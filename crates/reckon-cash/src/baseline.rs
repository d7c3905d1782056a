//! The naive baseline benchmarks compare with: an invoice number written exactly
//! in the reference or text with the exact amount, else the only open item of
//! exactly that amount. First come, first served; nothing else.

use std::collections::{HashMap, HashSet};

use crate::engine::{OpenItem, Receipt};

/// Returns (receipt index, item index) pairs.
pub fn naive(receipts: &[Receipt], items: &[OpenItem]) -> Vec<(usize, usize)> {
    let mut by_number: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    let mut by_amount: HashMap<(&str, i64), Vec<usize>> = HashMap::new();
    for (i, it) in items.iter().enumerate() {
        by_number.entry((it.currency.as_str(), it.invoice_number.as_str())).or_default().push(i);
        by_amount.entry((it.currency.as_str(), it.amount)).or_default().push(i);
    }
    let mut used: HashSet<usize> = HashSet::new();
    let mut out = Vec::new();
    for (ri, r) in receipts.iter().enumerate() {
        if r.amount <= 0 {
            continue;
        }
        let text = format!("{} {}", r.reference, r.description);
        let by_ref = text
            .split(|c: char| c.is_whitespace() || c == ',' || c == '/')
            .filter_map(|t| by_number.get(&(r.currency.as_str(), t)))
            .flatten()
            .copied()
            .find(|&i| items[i].amount == r.amount && !used.contains(&i));
        let pick = by_ref.or_else(|| {
            by_amount
                .get(&(r.currency.as_str(), r.amount))
                .filter(|v| v.len() == 1)
                .map(|v| v[0])
                .filter(|i| !used.contains(i))
        });
        if let Some(i) = pick {
            used.insert(i);
            out.push((ri, i));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, number: &str, amount: i64) -> OpenItem {
        OpenItem {
            item_id: id.into(),
            invoice_number: number.into(),
            amount,
            currency: "EUR".into(),
            ..OpenItem::default()
        }
    }

    fn receipt(amount: i64, reference: &str, description: &str) -> Receipt {
        Receipt {
            txn_id: format!("T{amount}"),
            amount,
            currency: "EUR".into(),
            reference: reference.into(),
            description: description.into(),
            ..Receipt::default()
        }
    }

    #[test]
    fn exact_number_and_amount_else_unique_amount_first_come_first_served() {
        let items = vec![
            item("I0", "INV-1", 10_000),
            item("I1", "INV-2", 25_000),
            item("I2", "INV-3", 25_000),
            item("I3", "INV-4", 7_700),
            item("I4", "INV-5", 9_900),
        ];
        let receipts = vec![
            // Number and amount: I0.
            receipt(10_000, "INV-1", ""),
            // Number in the text, separated by a slash and a comma.
            receipt(25_000, "", "payment/INV-3,thanks"),
            // Amount 25,000 is not unique and no number: nothing.
            receipt(25_000, "", "no reference"),
            // Number with the wrong amount, but the amount is unique: I3 by amount.
            receipt(7_700, "INV-2", ""),
            // Same amount again: I3 is used already.
            receipt(7_700, "", ""),
            // Money out is never matched.
            receipt(-9_900, "INV-5", ""),
            // Number written differently (no exact token): unique amount still finds I4.
            receipt(9_900, "INV5", ""),
        ];
        assert_eq!(naive(&receipts, &items), vec![(0, 0), (1, 2), (3, 3), (6, 4)]);
    }

    #[test]
    fn currency_must_agree() {
        let items = vec![item("I0", "INV-1", 10_000)];
        let mut r = receipt(10_000, "INV-1", "");
        r.currency = "USD".into();
        assert!(naive(&[r], &items).is_empty());
        assert!(naive(&[], &items).is_empty());
    }
}
