//! The duplicate-invoice stage: AP frames → reckon-dedup → scored pairs,
//! clusters, `duplicates.parquet` and `duplicate_invoice` exceptions; its model's
//! training (`reckon train dedup`) and evaluation against a scenario's truth.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use polars::prelude::*;
use reckon_core::{Currency, Table, format_minor};
use reckon_dedup::{FEATURE_SPEC, FEATURES, Invoice, Vendor};
use reckon_feed::{Band, Exception, ExceptionKind, Reason};
use reckon_ingest::Loaded;
use reckon_learn::threshold::ThresholdRule;
use reckon_learn::{logistic::Logistic, metrics};
use reckon_onnx::{Model, ModelConfig};
use serde::Serialize;

use crate::cash::{days, ints, required_strings, strings};
use crate::stage::{BuildError, RunInputs, Settled, Stage, StageError, StageOutput, StageReport};

/// The engine's inputs from the loaded frames (None without AP invoices).
pub fn inputs(loaded: &Loaded) -> Option<(Vec<Invoice>, Vec<Vendor>)> {
    let ap = loaded.tables.get(&Table::ApInvoices)?;
    let s = |c: &str| strings(ap, c);
    let (doc, ent, vid, vn, tax, iban, num, cur, po, desc) = (
        s("doc_id"),
        s("entity"),
        s("vendor_id"),
        s("vendor_name"),
        s("vendor_tax_id"),
        s("vendor_iban"),
        s("invoice_number"),
        s("currency"),
        s("po_number"),
        s("description"),
    );
    let (amt, date) = (ints(ap, "amount"), days(ap, "invoice_date"));
    let invoices = (0..ap.height())
        .map(|i| Invoice {
            doc_id: doc[i].clone(),
            entity: ent[i].clone(),
            vendor_id: vid[i].clone(),
            vendor_name: vn[i].clone(),
            tax_id: tax[i].clone(),
            iban: iban[i].clone(),
            invoice_number: num[i].clone(),
            invoice_date: date[i].unwrap_or(0),
            amount: amt[i].unwrap_or(0),
            currency: cur[i].clone(),
            po_number: po[i].clone(),
            description: desc[i].clone(),
        })
        .collect();
    let vendors = loaded
        .tables
        .get(&Table::Vendors)
        .map(|v| {
            let (id, name, tax, ibans) =
                (strings(v, "vendor_id"), strings(v, "name"), strings(v, "tax_id"), strings(v, "ibans"));
            (0..v.height())
                .map(|i| Vendor {
                    vendor_id: id[i].clone(),
                    name: name[i].clone(),
                    tax_id: tax[i].clone(),
                    ibans: ibans[i].split('|').map(str::trim).filter(|x| !x.is_empty()).map(str::to_string).collect(),
                })
                .collect()
        })
        .unwrap_or_default();
    Some((invoices, vendors))
}

/// Money out settled against AP: one outcome per debit (in `txn_ids` order).
#[derive(Debug, Default)]
pub struct MoneyOut {
    pub txn_ids: Vec<String>,
    pub outcomes: Vec<reckon_dedup::payments::Outcome>,
    pub invoices: Vec<Invoice>,
}

/// Links every debit of the loaded bank entries to AP invoices or a bank rule
/// (rules apply even without AP invoices).
pub fn money_out(loaded: &Loaded, rules: &[reckon_dedup::payments::Rule]) -> Option<MoneyOut> {
    let bank = loaded.tables.get(&Table::BankTransactions)?;
    let (ids, cur, name, acct, rf, desc, code) = (
        strings(bank, "txn_id"),
        strings(bank, "currency"),
        strings(bank, "counterparty_name"),
        strings(bank, "counterparty_account"),
        strings(bank, "reference"),
        strings(bank, "description"),
        strings(bank, "bank_code"),
    );
    let amt = ints(bank, "amount");
    let booked = days(bank, "booking_date");
    let mut debits = Vec::new();
    let mut txn_ids = Vec::new();
    for i in 0..bank.height() {
        let a = amt[i].unwrap_or(0);
        if a < 0 {
            txn_ids.push(ids[i].clone());
            debits.push(reckon_dedup::payments::Debit {
                txn_id: ids[i].clone(),
                amount: -a,
                currency: cur[i].clone(),
                counterparty_name: name[i].clone(),
                counterparty_account: acct[i].clone(),
                reference: rf[i].clone(),
                description: desc[i].clone(),
                bank_code: code[i].clone(),
                booking_date: booked[i].unwrap_or(0),
            });
        }
    }
    let (invoices, vendors) = inputs(loaded).unwrap_or_default();
    let (cluster, _) = reckon_dedup::vendor_clusters(&vendors, &invoices);
    let outcomes = reckon_dedup::payments::settle(&debits, &invoices, &vendors, &cluster, rules);
    Some(MoneyOut { txn_ids, outcomes, invoices })
}

/// `disbursements.parquet`: every debit's status, class, invoices, reason.
pub fn money_out_frame(m: &MoneyOut) -> PolarsResult<DataFrame> {
    use reckon_dedup::payments::Outcome;
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
    rules: Vec<reckon_dedup::payments::Rule>,
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

    fn run(&self, inputs: &RunInputs<'_>) -> Result<StageOutput, StageError> {
        use reckon_dedup::payments::Outcome;
        let mo = money_out(inputs.loaded, &self.rules);
        let exceptions = crate::exceptions::from_money_out(inputs.loaded, mo.as_ref(), inputs.run_id);
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

/// Duplicate-invoice detection as a stage (`off` when `duplicates.model = "off"`).
#[derive(Debug)]
pub struct DuplicatesStage {
    model: Option<Model>,
}

impl DuplicatesStage {
    pub fn build(config: &crate::Config) -> Result<Box<dyn Stage>, BuildError> {
        let err = |message: String| BuildError::Model { section: "duplicates", message };
        let model = match config.duplicates.model.as_str() {
            "off" => None,
            name => {
                let dir = crate::model::resolve(name)
                    .ok_or_else(|| err(format!("model '{name}' not found (set it to \"off\" to skip)")))?;
                let m = Model::load(&dir).map_err(|e| err(e.to_string()))?;
                // A model trained on other features would score the wrong columns.
                if m.config.feature_spec != FEATURE_SPEC || m.config.features != FEATURES {
                    return Err(err(format!(
                        "{}: trained on feature spec {} but reckon computes {FEATURE_SPEC}",
                        dir.display(),
                        m.config.feature_spec
                    )));
                }
                Some(m)
            }
        };
        Ok(Box::new(DuplicatesStage { model }))
    }
}

impl Stage for DuplicatesStage {
    fn name(&self) -> &'static str {
        "duplicate_detection"
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["duplicates"]
    }

    fn run(&self, inputs: &RunInputs<'_>) -> Result<StageOutput, StageError> {
        let Some(model) = &self.model else {
            return Ok(StageOutput { report: StageReport::summary("off"), ..StageOutput::default() });
        };
        let fail = |message: String| StageError { stage: self.name(), message };
        let Some(d) = run(inputs.loaded, model).map_err(fail)? else { return Ok(StageOutput::no_input()) };
        tracing::info!(
            invoices = d.invoices.len(),
            compared = d.compared_pairs,
            flagged = d.flagged.len(),
            "duplicate detection done"
        );
        let table = duplicates_frame(&d).map_err(|e| fail(e.to_string()))?;
        let mut counts = BTreeMap::new();
        counts.insert("compared_pairs".to_string(), d.compared_pairs as u64);
        counts.insert("flagged_pairs".to_string(), d.flagged.len() as u64);
        Ok(StageOutput {
            report: StageReport {
                summary: format!(
                    "ok (model {}, {} invoices, {} pairs compared, {} flagged)",
                    model.id(),
                    d.invoices.len(),
                    d.compared_pairs,
                    d.flagged.len()
                ),
                rows_in: d.invoices.len() as u64,
                rows_out: table.height() as u64,
                counts,
            },
            tables: vec![("duplicates", table)],
            exceptions: exceptions(&d, inputs.run_id),
            models: vec![crate::manifest::ModelEntry::of(model)],
            settled: Settled {
                ap_screened: Some(d.invoices.iter().map(|i| i.doc_id.clone()).collect()),
                ..Settled::default()
            },
        })
    }
}

/// Scored candidate pairs of one AP book.
#[derive(Debug, Default)]
pub struct DedupResult {
    pub invoices: Vec<Invoice>,
    pub compared_pairs: usize,
    /// (a, b, probability, reasons) for pairs at or above the review threshold.
    pub flagged: Vec<(usize, usize, f64, Vec<String>)>,
    pub cluster: Vec<Option<usize>>,
    pub threshold: f64,
    pub model: String,
}

/// Candidate pairs with features.
pub fn pairs(
    invoices: &[Invoice],
    vendors: &[Vendor],
) -> (Vec<reckon_dedup::Pair>, BTreeMap<(String, String), String>) {
    let (cluster, why) = reckon_dedup::vendor_clusters(vendors, invoices);
    let names: HashMap<String, String> = vendors.iter().map(|v| (v.vendor_id.clone(), v.name.clone())).collect();
    let cands = reckon_dedup::candidate_pairs(invoices, &cluster, 10);
    (reckon_dedup::features(invoices, &cluster, &names, &cands), why)
}

/// Runs detection with `model` (its `review` threshold flags a pair).
pub fn run(loaded: &Loaded, model: &Model) -> Result<Option<DedupResult>, String> {
    let Some((invoices, vendors)) = inputs(loaded) else { return Ok(None) };
    detect(invoices, &vendors, model).map(Some)
}

/// Detection on plain inputs.
pub fn detect(invoices: Vec<Invoice>, vendors: &[Vendor], model: &Model) -> Result<DedupResult, String> {
    let (ps, why) = pairs(&invoices, vendors);
    let k = FEATURES.len().max(1);
    let x: Vec<f32> = ps.iter().flat_map(|p| p.features.iter().copied()).collect();
    // reckon-onnx scores fixed chunks on the rayon pool (the same numbers whatever
    // the thread count).
    let p: Vec<f32> = model.score(x.len() / k, &x).map_err(|e| e.to_string())?;
    let threshold = model.config.thresholds.get("review").copied().unwrap_or(0.5);
    // Amount, date and vendor alone never make a duplicate: a pair whose numbers
    // cannot be one document (`numbers_linked`) is neither flagged nor clustered,
    // whatever the model's score.
    let linked: Vec<bool> = ps
        .iter()
        .map(|q| reckon_dedup::numbers_linked(&invoices[q.a].invoice_number, &invoices[q.b].invoice_number))
        .collect();
    let p: Vec<f32> = p.iter().zip(&linked).map(|(s, l)| if *l { *s } else { 0.0 }).collect();
    let scored: Vec<(usize, usize, f64)> = ps.iter().zip(&p).map(|(q, s)| (q.a, q.b, f64::from(*s))).collect();
    let cluster = reckon_dedup::clusters(invoices.len(), &scored, threshold, threshold * 0.5);
    let flagged = ps
        .iter()
        .zip(&p)
        .filter(|(_, s)| f64::from(**s) >= threshold)
        .map(|(q, s)| (q.a, q.b, f64::from(*s), reckon_dedup::reasons(&invoices, q, &why)))
        .collect();
    Ok(DedupResult { invoices, compared_pairs: ps.len(), flagged, cluster, threshold, model: model.id() })
}

fn band(p: f64) -> Band {
    if p >= 0.95 { Band::Escalate } else { Band::Review }
}

type OutRow<'a> = (String, String, String, f64, &'a str, String);
/// Labelled pairs: (doc a, doc b) → pattern or hard-negative type.
pub type PairLabels = BTreeMap<(String, String), String>;

/// `duplicates.parquet` (one row per flagged pair, a < b by doc id).
pub fn duplicates_frame(r: &DedupResult) -> PolarsResult<DataFrame> {
    let mut rows: Vec<OutRow<'_>> = r
        .flagged
        .iter()
        .map(|(a, b, p, why)| {
            let (x, y) = (&r.invoices[*a].doc_id, &r.invoices[*b].doc_id);
            let (x, y) = if x < y { (x, y) } else { (y, x) };
            let cid = r.cluster[*a].map(|c| format!("DC-{}", r.invoices[c].doc_id)).unwrap_or_default();
            (x.clone(), y.clone(), cid, *p, band(*p).as_str(), serde_json::to_string(why).unwrap_or_default())
        })
        .collect();
    rows.sort_by(|p, q| (&p.0, &p.1).cmp(&(&q.0, &q.1)));
    let col = |f: &dyn Fn(&OutRow<'_>) -> String| rows.iter().map(f).collect::<Vec<_>>();
    let cols = vec![
        Column::new("doc_id_a".into(), col(&|r| r.0.clone())),
        Column::new("doc_id_b".into(), col(&|r| r.1.clone())),
        Column::new("cluster_id".into(), col(&|r| r.2.clone())),
        Column::new("score".into(), rows.iter().map(|r| r.3).collect::<Vec<f64>>()),
        Column::new("band".into(), col(&|r| r.4.to_string())),
        Column::new("reasons".into(), col(&|r| r.5.clone())),
    ];
    DataFrame::new(rows.len(), cols)
}

/// One `duplicate_invoice` exception per cluster (or unclustered flagged pair).
pub fn exceptions(r: &DedupResult, run_id: &str) -> Vec<Exception> {
    let mut groups: BTreeMap<String, (BTreeSet<usize>, f64, Vec<String>)> = BTreeMap::new();
    for (a, b, p, why) in &r.flagged {
        let key = match r.cluster[*a].filter(|c| r.cluster[*b] == Some(*c)) {
            Some(c) => r.invoices[c].doc_id.clone(),
            None => format!("{}+{}", r.invoices[*a].doc_id, r.invoices[*b].doc_id),
        };
        let g = groups.entry(key).or_insert_with(|| (BTreeSet::new(), 0.0, Vec::new()));
        g.0.insert(*a);
        g.0.insert(*b);
        if *p > g.1 {
            g.1 = *p;
            g.2 = why.clone();
        }
    }
    groups
        .into_values()
        .map(|(members, p, why)| {
            let mut docs: Vec<&Invoice> = members.iter().map(|i| &r.invoices[*i]).collect();
            docs.sort_by(|x, y| x.doc_id.cmp(&y.doc_id));
            let records: Vec<String> = docs.iter().map(|d| format!("ap_invoices:{}", d.doc_id)).collect();
            let first = docs[0];
            let exp = Currency::parse(&first.currency).map_or(2, |c| c.exponent());
            Exception {
                exception_id: Exception::id_for(ExceptionKind::DuplicateInvoice, &records),
                run_id: run_id.to_string(),
                kind: ExceptionKind::DuplicateInvoice,
                band: band(p),
                score: p,
                confidence: p,
                entity: Some(first.entity.clone()),
                currency: Some(first.currency.clone()),
                amount: Some(format_minor(first.amount, exp)),
                records,
                reasons: why.into_iter().map(|t| Reason { code: "duplicate".into(), text: t, weight: 1.0 }).collect(),
                recommended_action: "block the later invoice(s) for payment and check with the vendor".into(),
                model: Some(r.model.clone()),
                priority: 0,
            }
        })
        .collect()
}

/// Truth of a generated scenario: duplicate pairs (with pattern) and hard negatives (with type).
pub fn truth(dir: &Path) -> Result<(PairLabels, PairLabels), String> {
    let read = |f: &str, label: &str| -> Result<PairLabels, String> {
        let b = std::fs::read(dir.join(f)).map_err(|e| format!("{f}: {e}"))?;
        let s = reckon_ingest::csv::scan(&b, b',', b'"').map_err(|e| format!("{f}: {e}"))?;
        let ix = |n: &str| s.header.iter().position(|h| h == n).ok_or(format!("{f}: no column {n}"));
        let (a, b2, l) = (ix("doc_id_a")?, ix("doc_id_b")?, ix(label)?);
        Ok((0..s.records.len())
            .map(|r| {
                let (x, y) = (s.columns[a][r].clone(), s.columns[b2][r].clone());
                (if x < y { (x, y) } else { (y, x) }, s.columns[l][r].clone())
            })
            .collect())
    };
    Ok((read("ap_duplicates.csv", "pattern")?, read("ap_hard_negatives.csv", "type")?))
}

fn labelled(dir: &Path) -> Result<(Vec<f64>, Vec<bool>, usize), String> {
    let loaded = reckon_ingest::load_dir(dir).map_err(|e| e.to_string())?;
    let (inv, ven) = inputs(&loaded).ok_or("no AP invoices")?;
    let (dups, _) = truth(&dir.join("truth"))?;
    let (ps, _) = pairs(&inv, &ven);
    let mut x = Vec::with_capacity(ps.len() * FEATURES.len());
    let mut y = Vec::with_capacity(ps.len());
    for p in &ps {
        x.extend(p.features.iter().map(|v| f64::from(*v)));
        let (a, b) = (&inv[p.a].doc_id, &inv[p.b].doc_id);
        let key = if a < b { (a.clone(), b.clone()) } else { (b.clone(), a.clone()) };
        y.push(dups.contains_key(&key));
    }
    Ok((x, y, dups.len()))
}

/// Precision / recall / F1 of flagged pairs, by pattern, and false alarms by
/// hard-negative type, for `reckon eval` and training.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DedupEval {
    pub true_pairs: usize,
    pub flagged: usize,
    pub correct: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub compared_pairs: usize,
    /// pattern → (pairs, found)
    pub by_pattern: BTreeMap<String, (usize, usize)>,
    /// hard-negative type → (pairs, flagged, rate)
    pub false_alarms: BTreeMap<String, (usize, usize, f64)>,
}

pub fn evaluate(flagged: &BTreeSet<(String, String)>, compared: usize, truth_dir: &Path) -> Result<DedupEval, String> {
    let (dups, negs) = truth(truth_dir)?;
    Ok(score_pairs(flagged, compared, &dups, &negs))
}

/// Scores flagged pairs (each ordered `a < b`) against duplicate pairs (with
/// their pattern) and hard negatives (with their type).
pub fn score_pairs(
    flagged: &BTreeSet<(String, String)>,
    compared: usize,
    dups: &PairLabels,
    negs: &PairLabels,
) -> DedupEval {
    let correct = flagged.iter().filter(|k| dups.contains_key(*k)).count();
    let mut by_pattern: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (k, pat) in dups {
        let e = by_pattern.entry(pat.clone()).or_default();
        e.0 += 1;
        if flagged.contains(k) {
            e.1 += 1;
        }
    }
    let mut fa: BTreeMap<String, (usize, usize, f64)> = BTreeMap::new();
    for (k, t) in negs {
        let e = fa.entry(t.clone()).or_default();
        e.0 += 1;
        if flagged.contains(k) {
            e.1 += 1;
        }
    }
    for v in fa.values_mut() {
        v.2 = if v.0 == 0 { 0.0 } else { v.1 as f64 / v.0 as f64 };
    }
    let p = if flagged.is_empty() { 0.0 } else { correct as f64 / flagged.len() as f64 };
    let r = if dups.is_empty() { 0.0 } else { correct as f64 / dups.len() as f64 };
    DedupEval {
        true_pairs: dups.len(),
        flagged: flagged.len(),
        correct,
        precision: p,
        recall: r,
        f1: if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) },
        compared_pairs: compared,
        by_pattern,
        false_alarms: fa,
    }
}

/// Evaluates `out/duplicates.parquet` against `truth/`.
pub fn eval_out(out: &Path, truth_dir: &Path) -> Result<DedupEval, String> {
    let f = std::fs::File::open(out.join("duplicates.parquet")).map_err(|e| format!("duplicates.parquet: {e}"))?;
    let df = ParquetReader::new(f).finish().map_err(|e| e.to_string())?;
    let req = |c: &str| required_strings(&df, c).map_err(|e| format!("duplicates.parquet: {e}"));
    let (a, b) = (req("doc_id_a")?, req("doc_id_b")?);
    let flagged: BTreeSet<(String, String)> = a.into_iter().zip(b).collect();
    evaluate(&flagged, 0, truth_dir)
}

/// The ERP's exact check on the same data: same vendor, number, amount and date.
pub fn exact_key_baseline(invoices: &[Invoice]) -> BTreeSet<(String, String)> {
    let mut by: HashMap<(&str, &str, i64, i32), Vec<&str>> = HashMap::new();
    for i in invoices {
        by.entry((&i.vendor_id, &i.invoice_number, i.amount, i.invoice_date)).or_default().push(&i.doc_id);
    }
    let mut out = BTreeSet::new();
    for v in by.values() {
        for x in 0..v.len() {
            for y in x + 1..v.len() {
                let (a, b) = (v[x].min(v[y]), v[x].max(v[y]));
                out.insert((a.to_string(), b.to_string()));
            }
        }
    }
    out
}

/// What dedup training measured.
#[derive(Debug, Serialize)]
pub struct DedupTrainReport {
    pub train_pairs: usize,
    pub train_positive: usize,
    pub validation_pairs: usize,
    pub validation_roc_auc: f64,
    pub validation_average_precision: f64,
    pub validation_ece: f64,
    pub threshold: f64,
    pub validation: DedupEval,
}

/// Trains the pair scorer on `train`, picks the threshold with the best F1 on
/// `validation`, writes the model folder.
pub fn train(train_dir: &Path, validation: &Path, out: &Path) -> Result<DedupTrainReport, String> {
    let (x, y, _) = labelled(train_dir)?;
    let lr = Logistic::fit(&x, FEATURES.len(), &y, 0.01).map_err(|e| e.to_string())?;
    let bytes = lr.to_onnx(&[("feature_spec", FEATURE_SPEC), ("task", "ap_duplicate_pair")]);
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let data_hash = crate::model::training_data_sha256(train_dir, crate::model::Engine::Dedup);
    crate::model::refuse_same_data(&data_hash, validation, crate::model::Engine::Dedup, "validation")?;
    let mut mc = ModelConfig::probability(
        "ap_dedup",
        "ap_duplicate_pair",
        FEATURE_SPEC,
        FEATURES.iter().map(|s| s.to_string()).collect(),
        &bytes,
        data_hash,
    );
    mc.version = crate::model::version_of(out);
    let model = Model::from_bytes(out, mc.clone(), &bytes).map_err(|e| e.to_string())?;
    let loaded = reckon_ingest::load_dir(validation).map_err(|e| e.to_string())?;
    let (inv, ven) = inputs(&loaded).ok_or("validation: no AP invoices")?;
    let (ps, _) = pairs(&inv, &ven);
    let xs: Vec<f32> = ps.iter().flat_map(|p| p.features.iter().copied()).collect();
    let p: Vec<f64> = model.score(ps.len(), &xs).map_err(|e| e.to_string())?.into_iter().map(f64::from).collect();
    let (dups, _) = truth(&validation.join("truth"))?;
    let key = |q: &reckon_dedup::Pair| {
        let (a, b) = (&inv[q.a].doc_id, &inv[q.b].doc_id);
        if a < b { (a.clone(), b.clone()) } else { (b.clone(), a.clone()) }
    };
    let vy: Vec<bool> = ps.iter().map(|q| dups.contains_key(&key(q))).collect();
    // The cut with the best F1 over the whole score range, halfway between the
    // lowest pair kept and the highest left out.
    let (_, negs) = truth(&validation.join("truth"))?;
    let cut = ThresholdRule::BestF1
        .check()
        .and_then(|r| r.choose(&p, &vy, dups.len()))
        .map_err(|e| format!("review threshold: {e}"))?;
    let threshold = cut.threshold;
    let flagged: BTreeSet<(String, String)> =
        ps.iter().zip(&p).filter(|(_, s)| **s >= threshold).map(|(q, _)| key(q)).collect();
    let val = score_pairs(&flagged, ps.len(), &dups, &negs);
    mc.thresholds.insert("review".into(), threshold);
    let report = DedupTrainReport {
        train_pairs: y.len(),
        train_positive: y.iter().filter(|b| **b).count(),
        validation_pairs: ps.len(),
        validation_roc_auc: metrics::roc_auc(&p, &vy),
        validation_average_precision: metrics::average_precision(&p, &vy),
        validation_ece: metrics::ece(&p, &vy, 10),
        threshold,
        validation: val,
    };
    let weights = FEATURES.iter().zip(&lr.weights).map(|(f, w)| (f.to_string(), *w)).collect::<BTreeMap<_, _>>();
    let card = format!(
        "# Model card: ap_dedup {version}\n\n## Intended use\nScores candidate pairs of AP invoices (from reckon-dedup's blocking) with the probability that\nthey are the same invoice entered twice. Pairs at or above {threshold} are flagged (`duplicates.parquet`,\n`duplicate_invoice` exceptions; 0.95 and above escalate). Not for other document types.\n\n## Model\nLogistic regression (L2, alpha 0.01, linfa on standardised features), ONNX (MatMul, Add, Sigmoid), served by\nONNX Runtime through `ort`. Features `{FEATURE_SPEC}`: {}.\n\n## Training data\nGenerated scenario `{}`: {} candidate pairs, {} duplicates; recurring invoices, credit memos and re-issues\nare hard negatives in it. ap_invoices.csv sha256 `{}`.\n\n## Validation (`{}`)\n{} pairs: ROC-AUC {:.4}, AP {:.4}, ECE {:.4}; at the threshold (best F1 over the whole score range, halfway\nbetween the lowest pair kept and the highest left out): precision {:.4}, recall {:.4}, F1 {:.4}; false alarms by\nhard-negative type: {:?}.{sep}\n\n## Limits\nGenerated data only; the generator's duplicates keep equal amounts. Retrain on labelled history before\ntrusting it on real books.\n\n## Reproduce\n```sh\nreckon generate --seed 1001 --scale 20000 --out /tmp/train\nreckon generate --seed 101 --scale 20000 --out /tmp/val\nreckon train dedup --input /tmp/train --validation /tmp/val --out models/ap_dedup_v{ver}\n```\n",
        FEATURES.join(", "),
        train_dir.display(),
        report.train_pairs,
        report.train_positive,
        mc.training_data_sha256,
        validation.display(),
        report.validation_pairs,
        report.validation_roc_auc,
        report.validation_average_precision,
        report.validation_ece,
        report.validation.precision,
        report.validation.recall,
        report.validation.f1,
        report.validation.false_alarms,
        version = mc.version,
        ver = mc.version.replace('.', "_"),
        sep = crate::model::separability(report.validation_roc_auc),
    );
    crate::model::write_folder(
        out,
        &bytes,
        &mc,
        &[
            ("metrics.json", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())? + "\n"),
            ("weights.json", serde_json::to_string_pretty(&weights).map_err(|e| e.to_string())? + "\n"),
            ("MODEL_CARD.md", card),
        ],
    )?;
    Ok(report)
}

/// One row of `disbursements.parquet` as evaluation reads it.
#[derive(Clone, Debug, Default)]
pub struct SettledRow {
    pub txn_id: String,
    pub status: String,
    pub class: String,
    /// `|`-separated AP document ids.
    pub doc_ids: String,
    pub reason: String,
}

/// The truth of one debit: (txn_id, class, doc_id).
pub type MoneyOutTruth = (String, String, String);

/// Money-out settlement against `truth/disbursements.csv`: per class, (debits, right).
/// An AP payment is right when linked to its invoice; a bank fee / payroll / tax
/// when classified so; a duplicate payment when flagged as paid twice (or as the
/// earlier payment a flagged one cites).
pub fn eval_money_out(out: &Path, truth_dir: &Path) -> Result<BTreeMap<String, (usize, usize)>, String> {
    let f =
        std::fs::File::open(out.join("disbursements.parquet")).map_err(|e| format!("disbursements.parquet: {e}"))?;
    let df = ParquetReader::new(f).finish().map_err(|e| e.to_string())?;
    let req = |c: &str| required_strings(&df, c).map_err(|e| format!("disbursements.parquet: {e}"));
    let (txn, status, class, docs, why) =
        (req("txn_id")?, req("status")?, req("class")?, req("doc_ids")?, req("reason")?);
    let rows: Vec<SettledRow> = (0..df.height())
        .map(|i| SettledRow {
            txn_id: txn[i].clone(),
            status: status[i].clone(),
            class: class[i].clone(),
            doc_ids: docs[i].clone(),
            reason: why[i].clone(),
        })
        .collect();
    let b = std::fs::read(truth_dir.join("disbursements.csv")).map_err(|e| format!("disbursements.csv: {e}"))?;
    let t = reckon_ingest::csv::scan(&b, b',', b'"').map_err(|e| e.to_string())?;
    let ix = |n: &str| t.header.iter().position(|h| h == n).ok_or(format!("disbursements.csv: no {n}"));
    let (ti, ci, di) = (ix("txn_id")?, ix("class")?, ix("doc_id")?);
    let truth: Vec<MoneyOutTruth> = (0..t.records.len())
        .map(|r| (t.columns[ti][r].clone(), t.columns[ci][r].clone(), t.columns[di][r].clone()))
        .collect();
    Ok(score_money_out(&rows, &truth))
}

/// Scores settled money out against its truth: per class, (debits, right).
pub fn score_money_out(rows: &[SettledRow], truth: &[MoneyOutTruth]) -> BTreeMap<String, (usize, usize)> {
    let at: HashMap<&str, &SettledRow> = rows.iter().map(|r| (r.txn_id.as_str(), r)).collect();
    // The earlier payment a `paid_twice` row cites is the last word of its reason.
    let cited: BTreeSet<&str> =
        rows.iter().filter(|r| r.status == "paid_twice").filter_map(|r| r.reason.split_whitespace().last()).collect();
    let mut res: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (id, cls, doc) in truth {
        let ok = at.get(id.as_str()).is_some_and(|r| match cls.as_str() {
            "ap_payment" => r.status == "paid" && r.doc_ids.split('|').any(|d| d == doc),
            "duplicate_payment" => r.status == "paid_twice" || cited.contains(id.as_str()),
            // Nothing explains it: right only when it stayed with a person.
            "unreconciled" => r.status == "unreconciled",
            other => r.status == "classified" && r.class == other,
        });
        let e = res.entry(cls.clone()).or_default();
        e.0 += 1;
        if ok {
            e.1 += 1;
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(a: &str, b: &str) -> (String, String) {
        (a.to_string(), b.to_string())
    }

    fn labels(v: &[(&str, &str, &str)]) -> PairLabels {
        v.iter().map(|(a, b, l)| (pair(a, b), l.to_string())).collect()
    }

    #[test]
    fn pair_metrics_by_hand() {
        let dups = labels(&[("A", "B", "exact"), ("C", "D", "ocr"), ("E", "F", "ocr")]);
        let negs = labels(&[("G", "H", "recurring"), ("I", "J", "recurring"), ("K", "L", "credit_memo")]);
        // Flagged: two true duplicates, one recurring hard negative, one pair that is neither.
        let flagged: BTreeSet<_> = [pair("A", "B"), pair("C", "D"), pair("G", "H"), pair("X", "Y")].into();
        let e = score_pairs(&flagged, 40, &dups, &negs);
        assert_eq!((e.true_pairs, e.flagged, e.correct, e.compared_pairs), (3, 4, 2, 40));
        assert!((e.precision - 0.5).abs() < 1e-12);
        assert!((e.recall - 2.0 / 3.0).abs() < 1e-12);
        assert!((e.f1 - 2.0 * 0.5 * (2.0 / 3.0) / (0.5 + 2.0 / 3.0)).abs() < 1e-12);
        assert_eq!(e.by_pattern["exact"], (1, 1));
        assert_eq!(e.by_pattern["ocr"], (2, 1));
        assert_eq!(e.false_alarms["recurring"], (2, 1, 0.5));
        assert_eq!(e.false_alarms["credit_memo"], (1, 0, 0.0));
    }

    #[test]
    fn pair_metrics_on_empty_sets() {
        let e = score_pairs(&BTreeSet::new(), 0, &PairLabels::new(), &PairLabels::new());
        assert_eq!((e.precision, e.recall, e.f1), (0.0, 0.0, 0.0));
        let dups = labels(&[("A", "B", "exact")]);
        let e = score_pairs(&BTreeSet::new(), 0, &dups, &PairLabels::new());
        assert_eq!((e.precision, e.recall, e.f1), (0.0, 0.0, 0.0));
        let e = score_pairs(&[pair("A", "B")].into(), 0, &dups, &PairLabels::new());
        assert_eq!((e.precision, e.recall, e.f1), (1.0, 1.0, 1.0));
    }

    fn invoice(doc: &str, vendor: &str, number: &str, amount: i64, date: i32) -> Invoice {
        Invoice {
            doc_id: doc.into(),
            vendor_id: vendor.into(),
            invoice_number: number.into(),
            amount,
            invoice_date: date,
            currency: "EUR".into(),
            ..Invoice::default()
        }
    }

    #[test]
    fn exact_key_baseline_needs_all_four_keys() {
        let inv = vec![
            invoice("D3", "V1", "100", 500, 10),
            invoice("D1", "V1", "100", 500, 10),
            invoice("D2", "V1", "100", 500, 10),
            // One key differs each: number, amount, date, vendor.
            invoice("D4", "V1", "100A", 500, 10),
            invoice("D5", "V1", "100", 501, 10),
            invoice("D6", "V1", "100", 500, 11),
            invoice("D7", "V2", "100", 500, 10),
        ];
        let got = exact_key_baseline(&inv);
        let want: BTreeSet<_> = [pair("D1", "D3"), pair("D2", "D3"), pair("D1", "D2")].into();
        assert_eq!(got, want);
        assert!(exact_key_baseline(&[]).is_empty());
    }

    fn settled(txn: &str, status: &str, class: &str, docs: &str, reason: &str) -> SettledRow {
        SettledRow {
            txn_id: txn.into(),
            status: status.into(),
            class: class.into(),
            doc_ids: docs.into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn money_out_scoring_by_hand() {
        let rows = vec![
            settled("T1", "paid", "", "D1|D2", ""),
            settled("T2", "paid", "", "D9", ""),
            settled("T3", "classified", "bank_fee", "", ""),
            settled("T4", "classified", "payroll", "", ""),
            settled("T5", "paid_twice", "", "D5", "D5 was already paid by T6"),
            settled("T6", "paid", "", "D5", ""),
            settled("T7", "unreconciled", "", "", ""),
            settled("T9", "unreconciled", "", "", ""),
            settled("T10", "classified", "bank_fee", "", ""),
        ];
        let t = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        let truth = vec![
            t("T1", "ap_payment", "D2"),
            t("T2", "ap_payment", "D3"),
            t("T3", "bank_fee", ""),
            t("T4", "tax", ""),
            t("T5", "duplicate_payment", "D5"),
            // The earlier payment the flagged one cites counts as found.
            t("T6", "duplicate_payment", "D5"),
            t("T7", "bank_fee", ""),
            // A debit missing from the output is wrong.
            t("T8", "ap_payment", "D8"),
            // Debits nothing explains must stay unreconciled, not be classified.
            t("T9", "unreconciled", ""),
            t("T10", "unreconciled", ""),
        ];
        let r = score_money_out(&rows, &truth);
        assert_eq!(r["ap_payment"], (3, 1));
        assert_eq!(r["bank_fee"], (2, 1));
        assert_eq!(r["tax"], (1, 0));
        assert_eq!(r["duplicate_payment"], (2, 2));
        assert_eq!(r["unreconciled"], (2, 1));
        assert!(score_money_out(&[], &[]).is_empty());
    }
}
