//! Turning engine outcomes into the exception feed: `exceptions.parquet` and
//! `exceptions.jsonl` (CloudEvents 1.0, one event per line).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use reckon_cash::{MatchResult, MatchRow, ReceiptStatus, ResidualReason};
use reckon_core::{Currency, format_minor};
use reckon_feed::{Band, Exception, ExceptionKind, Reason};

use crate::RunError;
use crate::inputs::Tables;

fn reasons(texts: &[String], code: &str) -> Vec<Reason> {
    texts.iter().map(|t| Reason { code: code.to_string(), text: t.clone(), weight: 1.0 }).collect()
}

/// Exceptions for every receipt (bank credit) not cleared automatically:
/// proposed, ambiguous or unmatched (`cash` is `None` when no open items were loaded).
pub fn from_receipts(tables: &Tables, cash: Option<&MatchResult>, run_id: &str) -> Vec<Exception> {
    from_bank(tables, Side::Credits(cash), run_id)
}

/// [`from_receipts`] without the receipts in `settled` (matched by a decision).
pub fn from_receipts_except(
    tables: &Tables,
    cash: Option<&MatchResult>,
    run_id: &str,
    settled: &std::collections::BTreeSet<String>,
) -> Vec<Exception> {
    let mut out = from_bank(tables, Side::Credits(cash), run_id);
    if !settled.is_empty() {
        out.retain(|e| {
            e.records.first().and_then(|r| r.strip_prefix("bank_transactions:")).is_none_or(|t| !settled.contains(t))
        });
    }
    out
}

/// Exceptions for every debit not linked to AP or classified by a bank rule.
pub fn from_money_out(
    tables: &Tables,
    money_out: Option<&crate::disbursements::MoneyOut>,
    run_id: &str,
) -> Vec<Exception> {
    from_bank(tables, Side::Debits(money_out), run_id)
}

/// Which bank entries an exception pass covers: credits (cash application) or
/// debits and zero amounts (money out).
enum Side<'a> {
    Credits(Option<&'a MatchResult>),
    Debits(Option<&'a crate::disbursements::MoneyOut>),
}

fn from_bank(tables: &Tables, side: Side<'_>, run_id: &str) -> Vec<Exception> {
    let (cash, money_out, credits) = match side {
        Side::Credits(c) => (c, None, true),
        Side::Debits(m) => (None, m, false),
    };
    let settled: BTreeMap<&str, &reckon_disbursements::Outcome> =
        money_out.map(|m| m.txn_ids.iter().map(String::as_str).zip(m.outcomes.iter()).collect()).unwrap_or_default();
    let Some(bank) = tables.bank.get() else { return Vec::new() };
    let entity_of = &tables.entity_of_account;
    let mut rows_by_txn: BTreeMap<&str, Vec<&MatchRow>> = BTreeMap::new();
    let mut outcome: BTreeMap<&str, (ReceiptStatus, &[String])> = BTreeMap::new();
    let mut candidates: BTreeMap<&str, &[Vec<String>]> = BTreeMap::new();
    if let Some(res) = cash {
        for r in &res.rows {
            rows_by_txn.entry(r.txn_id.as_str()).or_default().push(r);
        }
        for o in &res.outcomes {
            outcome.insert(o.txn_id.as_str(), (o.status, o.reasons.as_slice()));
            candidates.insert(o.txn_id.as_str(), o.candidates.as_slice());
        }
    }
    let mut out = Vec::new();
    for (entry, account) in bank.receipts.iter().zip(&bank.account_id) {
        let (id, amount, currency) = (entry.txn_id.as_str(), entry.amount, entry.currency.as_str());
        if (amount > 0) != credits {
            continue;
        }
        let exp = Currency::parse(currency).map_or(2, |c| c.exponent());
        let mut records = vec![format!("bank_transactions:{id}")];
        let (kind, score, confidence, why, action): (ExceptionKind, f64, f64, Vec<Reason>, &str) = if amount > 0 {
            match outcome.get(id) {
                Some((ReceiptStatus::Auto, _)) => continue,
                Some((ReceiptStatus::Review, rs)) => {
                    let group = rows_by_txn.get(id).cloned().unwrap_or_default();
                    records.extend(group.iter().map(|r| format!("ar_open_items:{}", r.item_id)));
                    let first = group.first();
                    let (kind, action) = match first.map(|r| r.residual_reason) {
                        Some(ResidualReason::ShortPayment) => (
                            ExceptionKind::PartialPayment,
                            "apply the payment and keep the rest of the invoice open, or ask the customer",
                        ),
                        Some(ResidualReason::Overpayment) => {
                            (ExceptionKind::Overpayment, "apply the invoice and refund or hold the excess as a credit")
                        }
                        _ => (ExceptionKind::SuggestedMatch, "confirm the proposed invoices or choose others"),
                    };
                    let c = first.map_or(0.0, |r| r.confidence);
                    debug_assert!(first.is_none_or(|r| r.band == Band::Review));
                    (kind, c, c, reasons(rs, "evidence"), action)
                }
                Some((ReceiptStatus::Ambiguous, rs)) => {
                    // The candidates' open items, so the workflow can offer the choice.
                    let mut seen = std::collections::BTreeSet::new();
                    for item in candidates.get(id).copied().unwrap_or_default().iter().flatten() {
                        if seen.insert(item.as_str()) {
                            records.push(format!("ar_open_items:{item}"));
                        }
                    }
                    (
                        ExceptionKind::AmbiguousMatch,
                        0.5,
                        0.0,
                        reasons(rs, "ambiguous"),
                        "decide which open item the payment is for",
                    )
                }
                Some((_, rs)) => (
                    ExceptionKind::UnmatchedReceipt,
                    0.5,
                    0.0,
                    reasons(rs, "no_evidence"),
                    "identify the payer and the invoices it pays",
                ),
                None => (
                    ExceptionKind::UnmatchedReceipt,
                    0.5,
                    0.0,
                    vec![Reason {
                        code: "no_open_items".into(),
                        text: "no receivables were loaded to match against".into(),
                        weight: 1.0,
                    }],
                    "load the open items or identify the payment",
                ),
            }
        } else {
            use reckon_disbursements::Outcome;
            match settled.get(id) {
                Some(Outcome::Paid(..) | Outcome::Classified(..)) => continue,
                Some(Outcome::PaidTwice(prev, doc)) => {
                    let m = money_out.map(|m| (&m.txn_ids[*prev], &m.invoices[*doc]));
                    if let Some((prev_txn, inv)) = m {
                        records.push(format!("bank_transactions:{prev_txn}"));
                        records.push(format!("ap_invoices:{}", inv.doc_id));
                    }
                    (
                        ExceptionKind::DuplicatePayment,
                        0.95,
                        0.95,
                        vec![Reason {
                            code: "paid_twice".into(),
                            text: m.map_or_else(
                                || "this invoice was already paid".to_string(),
                                |(p, inv)| {
                                    format!(
                                        "invoice {} of {} was already paid by {p}",
                                        inv.invoice_number, inv.vendor_id
                                    )
                                },
                            ),
                            weight: 1.0,
                        }],
                        "stop or recall the second payment and ask the vendor for a refund",
                    )
                }
                _ => (
                    ExceptionKind::UnreconciledDisbursement,
                    0.5,
                    0.0,
                    vec![Reason {
                        code: "money_out".into(),
                        text: if money_out.is_some() {
                            "money out not linked to an AP invoice (no invoice number, vendor IBAN or amount fits) and no bank rule applies".into()
                        } else {
                            "money out: no AP invoices were loaded to link it to, and no bank rule applies".into()
                        },
                        weight: 1.0,
                    }],
                    "link the payment to the invoices it pays or classify it",
                ),
            }
        };
        out.push(Exception {
            exception_id: Exception::id_for(kind, &records),
            run_id: run_id.to_string(),
            kind,
            band: if kind == ExceptionKind::DuplicatePayment { Band::Escalate } else { Band::Review },
            score,
            confidence,
            entity: entity_of.get(account).cloned(),
            currency: Some(currency.to_string()),
            amount: Some(format_minor(amount, exp)),
            records,
            reasons: why,
            recommended_action: action.to_string(),
            model: None,
            priority: 0,
            lifecycle: None,
        });
    }
    out
}

/// Writes `exceptions.parquet` and `exceptions.arrow` (the open exceptions `ex`;
/// records `|`-joined, reasons as JSON) and `exceptions.jsonl` (the `events`
/// to deliver: every exception in a run without a state store; with one, the
/// new, reopened and changed ones and those resolved). Returns both row counts.
pub fn write(dir: &Path, ex: &[Exception], events: &[&Exception], time: &str) -> Result<(u64, u64), RunError> {
    let p = dir.join("exceptions.parquet");
    // The feed boundary: arrow-rs builds the batch from the exceptions and writes
    // Parquet (with schema metadata) and Arrow IPC for consumers from it.
    let batch = reckon_feed::arrow_io::exceptions_batch(ex)?;
    let run_id = ex.first().map_or("", |e| e.run_id.as_str());
    let batch = reckon_feed::arrow_io::with_metadata(
        &batch,
        &[
            ("reckon.contract_version", reckon_core::CONTRACT_VERSION),
            ("reckon.table", "exceptions"),
            ("reckon.run_id", run_id),
            ("reckon.time", time),
        ],
    )?;
    let j = dir.join("exceptions.jsonl");
    // The tables are written while the events are rendered (in parallel, in order).
    let (tables, lines) = rayon::join(
        || -> Result<(), RunError> {
            reckon_feed::arrow_io::write_parquet(&p, &batch)?;
            reckon_feed::arrow_io::write_ipc(&dir.join("exceptions.arrow"), &batch)?;
            Ok(())
        },
        || {
            use rayon::prelude::*;
            events
                .par_iter()
                .map(|e| serde_json::to_string(&reckon_feed::cloud_event(e, time)))
                .collect::<Result<Vec<String>, _>>()
        },
    );
    tables?;
    let lines = lines.map_err(|e| RunError::Write(j.clone(), e.to_string()))?;
    let f = std::fs::File::create(&j).map_err(|e| RunError::Write(j.clone(), e.to_string()))?;
    let mut w = std::io::BufWriter::new(f);
    for line in lines {
        writeln!(w, "{line}").map_err(|e| RunError::Write(j.clone(), e.to_string()))?;
    }
    w.flush().map_err(|e| RunError::Write(j.clone(), e.to_string()))?;
    Ok((ex.len() as u64, events.len() as u64))
}
