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
