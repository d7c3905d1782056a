//! The cash-matching stage: loaded frames → reckon-match → `matches.parquet`.

use polars::prelude::*;
use reckon_core::{Currency, Table, format_minor};
use reckon_ingest::Loaded;
use reckon_match::{Customer, MatchConfig, MatchResult, OpenItem, Receipt, RemittanceLine};

use crate::stage::{BuildError, RunInputs, Settled, Stage, StageError, StageOutput, StageReport};
use std::collections::BTreeMap;

pub fn strings(df: &DataFrame, c: &str) -> Vec<String> {
    df.column(c)
        .ok()
        .and_then(|c| c.str().ok().map(|s| s.iter().map(|v| v.unwrap_or("").to_string()).collect()))
        .unwrap_or_else(|| vec![String::new(); df.height()])
}

/// A text column that must be there: a missing column or another type is an
/// error naming it (evaluation must not score blanks).
pub fn required_strings(df: &DataFrame, c: &str) -> Result<Vec<String>, String> {
    let col = df.column(c).map_err(|_| format!("no column {c}"))?;
    let s = col.str().map_err(|_| format!("column {c} is {}, not text", col.dtype()))?;
    Ok(s.iter().map(|v| v.unwrap_or("").to_string()).collect())
}

/// A float column that must be there (nulls are an error too).
pub fn required_f64(df: &DataFrame, c: &str) -> Result<Vec<f64>, String> {
    let col = df.column(c).map_err(|_| format!("no column {c}"))?;
    let a = col.f64().map_err(|_| format!("column {c} is {}, not f64", col.dtype()))?;
    a.iter().enumerate().map(|(i, v)| v.ok_or_else(|| format!("column {c} is empty at row {i}"))).collect()
}

pub fn ints(df: &DataFrame, c: &str) -> Vec<Option<i64>> {
    df.column(c).ok().and_then(|c| c.i64().ok().map(|a| a.iter().collect())).unwrap_or_else(|| vec![None; df.height()])
}

pub fn days(df: &DataFrame, c: &str) -> Vec<Option<i32>> {
    df.column(c)
        .ok()
        .and_then(|c| c.cast(&DataType::Int32).ok())
        .and_then(|c| c.i32().ok().map(|a| a.iter().collect()))
        .unwrap_or_else(|| vec![None; df.height()])
}

fn list(s: &str) -> Vec<String> {
    s.split('|').map(str::trim).filter(|x| !x.is_empty()).map(str::to_string).collect()
}

/// The engine's inputs, taken from the loaded frames.
#[derive(Debug, Default)]
pub struct Inputs {
    pub receipts: Vec<Receipt>,
    pub items: Vec<OpenItem>,
    pub customers: Vec<Customer>,
    pub remittances: Vec<RemittanceLine>,
}

/// Runs cash application when receipts and open items were loaded.
pub fn run(
    loaded: &Loaded,
    cfg: &MatchConfig,
    scorer: Option<&crate::model::OnnxScorer>,
) -> Result<Option<(MatchResult, Vec<Receipt>)>, String> {
    let Some(i) = inputs(loaded) else { return Ok(None) };
    let mut cfg = cfg.clone();
    if let Some(s) = scorer
        && let Some(t) = s.0.config.thresholds.get("auto")
    {
        cfg.auto_threshold = *t;
    }
    let sc = scorer.map(|s| s as &dyn reckon_match::GroupScorer);
    let blocks = reference_blocks(&i.receipts, &i.items).map_err(|e| format!("reference blocking: {e}"))?;
    let result =
        reckon_match::run_blocked(&i.receipts, &i.items, &i.customers, &i.remittances, &cfg, sc, Some(&blocks))?;
    Ok(Some((result, i.receipts)))
}

/// Cash application as a stage: receipts (bank credits) against open AR items,
/// `matches` and `receipt_outcomes` tables, exceptions for every receipt not
/// cleared automatically.
#[derive(Debug)]
pub struct CashStage {
    config: MatchConfig,
    scorer: Option<crate::model::OnnxScorer>,
}

impl CashStage {
    pub fn build(config: &crate::Config) -> Result<Box<dyn Stage>, BuildError> {
        config.matching.validate().map_err(|message| BuildError::Config { section: "matching", message })?;
        let scorer = crate::model::load_scorer(&config.matching)
            .map_err(|message| BuildError::Model { section: "matching", message })?;
        Ok(Box::new(CashStage { config: config.matching.clone(), scorer }))
    }
}

impl Stage for CashStage {
    fn name(&self) -> &'static str {
        "cash_matching"
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["matches", "receipt_outcomes"]
    }

    fn run(&self, inputs: &RunInputs<'_>) -> Result<StageOutput, StageError> {
        let fail = |message: String| StageError { stage: self.name(), message };
        let result = run(inputs.loaded, &self.config, self.scorer.as_ref()).map_err(fail)?;
        let model_id = self.scorer.as_ref().map(reckon_match::GroupScorer::id);
        let mut exceptions =
            crate::exceptions::from_receipts(inputs.loaded, result.as_ref().map(|r| &r.0), inputs.run_id);
        if let Some(id) = &model_id {
            // The proposals' scores come from the model; unmatched receipts' do not.
            for e in exceptions.iter_mut().filter(|e| e.kind != reckon_feed::ExceptionKind::UnmatchedReceipt) {
                e.model = Some(id.clone());
            }
        }
        let Some((res, _)) = result else {
            return Ok(StageOutput { exceptions, ..StageOutput::no_input() });
        };
        let mut counts = BTreeMap::new();
        for o in &res.outcomes {
            *counts.entry(o.status.to_string()).or_insert(0u64) += 1;
        }
        tracing::info!(receipts = res.outcomes.len(), links = res.rows.len(), "cash matching done");
        let frame = |f: PolarsResult<DataFrame>| f.map_err(|e| fail(e.to_string()));
        let tables = vec![("matches", frame(matches_frame(&res))?), ("receipt_outcomes", frame(outcomes_frame(&res))?)];
        let summary = match &model_id {
            Some(id) => format!("ok (model {id}, auto threshold from the model)"),
            None => "ok (rule-based scores, not calibrated)".to_string(),
        };
        Ok(StageOutput {
            report: StageReport {
                summary,
                rows_in: res.outcomes.len() as u64,
                rows_out: tables.iter().map(|(_, t)| t.height() as u64).sum(),
                counts: counts.clone(),
            },
            tables,
            exceptions,
            models: self.scorer.iter().map(|s| crate::manifest::ModelEntry::of(&s.0)).collect(),
            settled: Settled {
                bank_cleared: res
                    .outcomes
                    .iter()
                    .filter(|o| o.status == reckon_match::ReceiptStatus::Auto)
                    .map(|o| o.txn_id.clone())
                    .collect(),
                receipts: counts,
                ..Settled::default()
            },
        })
    }
}

/// Invoice-number blocking as polars joins, so candidate generation stays near
/// linear: every text a receipt is probed with ([`reckon_match::reference_probes`])
/// becomes a row with its invoice keys; the probes join the open items on
/// (currency, full key), and — for probes whose full key names no item — on
/// (currency, numeric tail). Keys cross into polars as 64-bit digests (one
/// integer column joins fastest); every joined pair is then checked against the
/// keys themselves, so a digest collision can never make a candidate. Returns,
/// per receipt, the items its texts name (ascending), which the engine takes
/// instead of its own lookups.
pub fn reference_blocks(receipts: &[Receipt], items: &[OpenItem]) -> PolarsResult<Vec<Vec<usize>>> {
    use rayon::prelude::*;
    use reckon_match::normalize::invoice_keys;
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
    // Probe rows (receipt, keys), keyed in parallel, kept in receipt order.
    let per_receipt: Vec<Vec<(u32, Keys)>> = receipts
        .par_iter()
        .enumerate()
        .map(|(ri, r)| {
            if r.amount <= 0 {
                return Vec::new();
            }
            reckon_match::reference_probes(r)
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
        keyed_ms,
        joined_ms,
        total_ms = t0.elapsed().as_millis() as u64,
        "reference blocking"
    );
    Ok(out)
}

/// Extracts the engine's inputs (None without bank transactions and open items).
pub fn inputs(loaded: &Loaded) -> Option<Inputs> {
    let bank = loaded.tables.get(&Table::BankTransactions)?;
    let ar = loaded.tables.get(&Table::ArOpenItems)?;
    let (id, cur, name, acct, e2e, rf, desc) = (
        strings(bank, "txn_id"),
        strings(bank, "currency"),
        strings(bank, "counterparty_name"),
        strings(bank, "counterparty_account"),
        strings(bank, "end_to_end_id"),
        strings(bank, "reference"),
        strings(bank, "description"),
    );
    let (amt, bd) = (ints(bank, "amount"), days(bank, "booking_date"));
    let (iamt, icur) = (ints(bank, "instructed_amount"), strings(bank, "instructed_currency"));
    let receipts: Vec<Receipt> = (0..bank.height())
        .map(|i| {
            // Where the bank left the structured fields empty, its description may
            // still name the payer and the invoices (ACH, Fedwire: `bank_text`).
            let told = if name[i].is_empty() || rf[i].is_empty() {
                reckon_match::bank_text::interpret(&desc[i])
            } else {
                reckon_match::bank_text::BankText::default()
            };
            Receipt {
                txn_id: id[i].clone(),
                booking_date: bd[i].unwrap_or(0),
                amount: amt[i].unwrap_or(0),
                currency: cur[i].clone(),
                counterparty_name: if name[i].is_empty() {
                    told.payer_name.clone().unwrap_or_default()
                } else {
                    name[i].clone()
                },
                counterparty_account: acct[i].clone(),
                end_to_end_id: e2e[i].clone(),
                reference: if rf[i].is_empty() && !told.invoices.is_empty() {
                    told.invoices.join(" ")
                } else {
                    rf[i].clone()
                },
                description: desc[i].clone(),
                instructed: iamt[i].filter(|_| !icur[i].is_empty()).map(|m| (m, icur[i].clone())),
            }
        })
        .collect();
    let (iid, ent, cid, cname, inv, icur) = (
        strings(ar, "item_id"),
        strings(ar, "entity"),
        strings(ar, "customer_id"),
        strings(ar, "customer_name"),
        strings(ar, "invoice_number"),
        strings(ar, "currency"),
    );
    let (open, idate, due) = (ints(ar, "amount_open"), days(ar, "invoice_date"), days(ar, "due_date"));
    let items: Vec<OpenItem> = (0..ar.height())
        .map(|i| OpenItem {
            item_id: iid[i].clone(),
            entity: ent[i].clone(),
            customer_id: cid[i].clone(),
            customer_name: cname[i].clone(),
            invoice_number: inv[i].clone(),
            invoice_date: idate[i].unwrap_or(0),
            due_date: due[i],
            amount: open[i].unwrap_or(0),
            currency: icur[i].clone(),
        })
        .collect();
    let customers: Vec<Customer> = match loaded.tables.get(&Table::Customers) {
        Some(c) => {
            let (cid, n, al, ib) =
                (strings(c, "customer_id"), strings(c, "name"), strings(c, "aliases"), strings(c, "ibans"));
            (0..c.height())
                .map(|i| Customer {
                    customer_id: cid[i].clone(),
                    name: n[i].clone(),
                    aliases: list(&al[i]),
                    ibans: list(&ib[i]),
                })
                .collect()
        }
        None => Vec::new(),
    };
    let remittances: Vec<RemittanceLine> = match loaded.tables.get(&Table::Remittances) {
        Some(r) => {
            let (rid, pref, inv, cur) = (
                strings(r, "remittance_id"),
                strings(r, "payment_ref"),
                strings(r, "invoice_ref"),
                strings(r, "currency"),
            );
            let (paid, disc, ded) = (ints(r, "paid_amount"), ints(r, "discount_amount"), ints(r, "deduction_amount"));
            let adate = days(r, "advice_date");
            (0..r.height())
                .map(|i| RemittanceLine {
                    remittance_id: rid[i].clone(),
                    payment_ref: pref[i].clone(),
                    advice_date: adate[i],
                    invoice_ref: inv[i].clone(),
                    paid: paid[i].unwrap_or(0),
                    discount: disc[i].unwrap_or(0),
                    deduction: ded[i].unwrap_or(0),
                    currency: cur[i].clone(),
                })
                .collect()
        }
        None => Vec::new(),
    };
    Some(Inputs { receipts, items, customers, remittances })
}

/// `matches.parquet` (contract columns, money as exact decimal text plus minor units).
pub fn matches_frame(result: &MatchResult) -> PolarsResult<DataFrame> {
    let rows = &result.rows;
    let exp = |c: &str| Currency::parse(c).map_or(2, |c| c.exponent());
    let s = |f: &dyn Fn(&reckon_match::MatchRow) -> String| -> Vec<String> { rows.iter().map(f).collect() };
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
            s(&|r| if r.band == reckon_match::Band::Auto { "auto".into() } else { "review".into() }),
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
