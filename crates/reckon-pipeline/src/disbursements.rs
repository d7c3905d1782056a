//! The money-out stage (`disbursements`): every bank debit linked to the AP
//! invoices it pays or classified by a bank rule (reckon-disbursements),
//! `disbursements.parquet`, and exceptions for debits nothing explains and
//! invoices paid twice.

use std::collections::BTreeMap;

use polars::prelude::*;
use reckon_duplicates::Invoice;

use crate::inputs::Tables;
use crate::stage::{BuildError, RunInputs, Settled, Stage, StageError, StageOutput, StageReport};

/// Money out settled against AP: one outcome per debit (in `txn_ids` order).
#[derive(Debug, Default)]
pub struct MoneyOut {
    pub txn_ids: Vec<String>,
    pub outcomes: Vec<reckon_disbursements::Outcome>,
    /// The AP invoices the outcomes index (empty without AP input).
    pub invoices: std::sync::Arc<Vec<Invoice>>,
}

/// Links every debit of the run's bank entries to AP invoices or a bank rule
/// (rules apply even without AP invoices).
pub fn money_out(tables: &Tables, rules: &[reckon_disbursements::Rule]) -> Option<MoneyOut> {
    let bank = tables.bank.get()?;
    let debits = &bank.debits;
    // Without AP invoices only the bank rules apply.
    let (invoices, vendors) = match tables.invoices.get() {
        Some(i) => (i, tables.vendors.as_slice()),
        None => (std::sync::Arc::new(Vec::new()), &[][..]),
    };
    let (cluster, _) = reckon_duplicates::vendor_clusters(vendors, &invoices);
    let outcomes = reckon_disbursements::settle(debits, &invoices, vendors, &cluster, rules);
    Some(MoneyOut { txn_ids: debits.iter().map(|d| d.txn_id.clone()).collect(), outcomes, invoices })
}

/// `disbursements.parquet`: every debit's status, class, invoices, reason.
pub fn money_out_frame(m: &MoneyOut) -> PolarsResult<DataFrame> {
    use reckon_disbursements::Outcome;
    let mut status = Vec::new();
    let mut class = Vec::new();
    let mut docs = Vec::new();
    let mut why = Vec::new();
    for o in &m.outcomes {
        let (s, c, d, w) = match o {
            Outcome::Paid(ix, how) => (
                "paid",
                "ap_payment".to_string(),
                ix.iter().map(|i| m.invoices[*i].doc_id.clone()).collect::<Vec<_>>().join("|"),
                how.clone(),
            ),
            Outcome::Classified(c, how) => ("classified", c.clone(), String::new(), how.clone()),
            Outcome::PaidTwice(prev, doc) => (
                "paid_twice",
                "duplicate_payment".to_string(),
                m.invoices[*doc].doc_id.clone(),
                format!("already paid by {}", m.txn_ids[*prev]),
            ),
            Outcome::Unreconciled => ("unreconciled", String::new(), String::new(), String::new()),
        };
        status.push(s.to_string());
        class.push(c);
        docs.push(d);
        why.push(w);
    }
    let cols = vec![
        Column::new("txn_id".into(), m.txn_ids.clone()),
        Column::new("status".into(), status),
        Column::new("class".into(), class),
        Column::new("doc_ids".into(), docs),
        Column::new("reason".into(), why),
    ];
    DataFrame::new(m.txn_ids.len(), cols)
}

/// Money out as a stage: every bank debit linked to AP invoices or classified
/// by a bank rule (`disbursements` table), exceptions for the rest and for
/// invoices paid twice.
#[derive(Debug)]
pub struct DisbursementsStage {
    rules: Vec<reckon_disbursements::Rule>,
}

impl DisbursementsStage {
    pub fn build(config: &crate::Config) -> Result<Box<dyn Stage>, BuildError> {
        Ok(Box::new(DisbursementsStage { rules: config.disbursements.rules.clone() }))
    }
}

impl Stage for DisbursementsStage {
    fn name(&self) -> &'static str {
        "disbursements"
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["disbursements"]
    }

    fn reads(&self) -> &'static [reckon_core::Table] {
        use reckon_core::Table;
        &[Table::BankTransactions, Table::ApInvoices, Table::Vendors, Table::BankAccounts]
    }

    fn settles_bank(&self) -> bool {
        true
    }

    fn run(&self, inputs: &RunInputs<'_>) -> Result<StageOutput, StageError> {
        use reckon_disbursements::Outcome;
        let mo = money_out(inputs.tables, &self.rules);
        let exceptions = crate::exceptions::from_money_out(inputs.tables, mo.as_ref(), inputs.run_id);
        let Some(mo) = mo else { return Ok(StageOutput { exceptions, ..StageOutput::no_input() }) };
        let table = money_out_frame(&mo).map_err(|e| StageError { stage: self.name(), message: e.to_string() })?;
        let mut counts = BTreeMap::new();
        for o in &mo.outcomes {
            let status = match o {
                Outcome::Paid(..) => "paid",
                Outcome::Classified(..) => "classified",
                Outcome::PaidTwice(..) => "paid_twice",
                Outcome::Unreconciled => "unreconciled",
            };
            *counts.entry(status.to_string()).or_insert(0u64) += 1;
        }
        let summary = format!(
            "ok ({} debits: {})",
            mo.txn_ids.len(),
            counts.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", ")
        );
        Ok(StageOutput {
            report: StageReport { summary, rows_in: mo.txn_ids.len() as u64, rows_out: table.height() as u64, counts },
            tables: vec![("disbursements", table)],
            exceptions,
            learned: crate::remember::Learned::default(),
            models: Vec::new(),
            settled: Settled {
                bank_cleared: mo
                    .txn_ids
                    .iter()
                    .zip(&mo.outcomes)
                    .filter(|(_, o)| matches!(o, Outcome::Paid(..) | Outcome::Classified(..)))
                    .map(|(t, _)| t.clone())
                    .collect(),
                ..Settled::default()
            },
        })
    }
}
