//! The duplicate-invoice stage: AP frames → reckon-dedup → scored pairs,
//! clusters, `duplicates.parquet` and `duplicate_invoice` exceptions; its model's
//! training (`reckon train dedup`) and evaluation against a scenario's truth.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use polars::prelude::*;
use reckon_core::{Currency, Table, format_minor};
use reckon_dedup::{FEATURE_SPEC, FEATURES, Invoice, Vendor};
use reckon_feed::{Exception, Reason};
use reckon_ingest::Loaded;
use reckon_learn::{logistic::Logistic, metrics};
use reckon_onnx::{Model, ModelConfig};
use serde::Serialize;

use crate::RunError;
use crate::cash::{days, ints, strings};

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

/// Writes `disbursements.parquet`: every debit's status, class, invoices, reason.
pub fn write_money_out(path: &Path, m: &MoneyOut) -> Result<u64, RunError> {
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
    let mut df =
        DataFrame::new(m.txn_ids.len(), cols).map_err(|e| RunError::Write(path.to_path_buf(), e.to_string()))?;
    crate::write_parquet(path, &mut df)?;
    Ok(m.txn_ids.len() as u64)
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
    // Scored in chunks on the rayon pool (the same numbers whatever the thread count).
    let parts: Result<Vec<Vec<f32>>, String> = {
        use rayon::prelude::*;
        x.par_chunks(65_536 * k).map(|c| model.score(c.len() / k, c).map_err(|e| e.to_string())).collect()
    };
    let p: Vec<f32> = parts?.into_iter().flatten().collect();
    let threshold = model.config.thresholds.get("review").copied().unwrap_or(0.5);
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

fn band(p: f64) -> &'static str {
    if p >= 0.95 { "escalate" } else { "review" }
}

type OutRow<'a> = (String, String, String, f64, &'a str, String);
/// Labelled pairs: (doc a, doc b) → pattern or hard-negative type.
pub type PairLabels = BTreeMap<(String, String), String>;

/// Writes `duplicates.parquet` (one row per flagged pair, a < b by doc id).
pub fn write(path: &Path, r: &DedupResult) -> Result<u64, RunError> {
    let mut rows: Vec<OutRow<'_>> = r
        .flagged
        .iter()
        .map(|(a, b, p, why)| {
            let (x, y) = (&r.invoices[*a].doc_id, &r.invoices[*b].doc_id);
            let (x, y) = if x < y { (x, y) } else { (y, x) };
            let cid = r.cluster[*a].map(|c| format!("DC-{}", r.invoices[c].doc_id)).unwrap_or_default();
            (x.clone(), y.clone(), cid, *p, band(*p), serde_json::to_string(why).unwrap_or_default())
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
    let mut df = DataFrame::new(rows.len(), cols).map_err(|e| RunError::Write(path.to_path_buf(), e.to_string()))?;
    crate::write_parquet(path, &mut df)?;
    Ok(rows.len() as u64)
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
                exception_id: Exception::id_for("duplicate_invoice", &records),
                run_id: run_id.to_string(),
                kind: "duplicate_invoice".into(),
                band: band(p).into(),
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
    let correct = flagged.iter().filter(|k| dups.contains_key(*k)).count();
    let mut by_pattern: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (k, pat) in &dups {
        let e = by_pattern.entry(pat.clone()).or_default();
        e.0 += 1;
        if flagged.contains(k) {
            e.1 += 1;
        }
    }
    let mut fa: BTreeMap<String, (usize, usize, f64)> = BTreeMap::new();
    for (k, t) in &negs {
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
    Ok(DedupEval {
        true_pairs: dups.len(),
        flagged: flagged.len(),
        correct,
        precision: p,
        recall: r,
        f1: if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) },
        compared_pairs: compared,
        by_pattern,
        false_alarms: fa,
    })
}

/// Evaluates `out/duplicates.parquet` against `truth/`.
pub fn eval_out(out: &Path, truth_dir: &Path) -> Result<DedupEval, String> {
    let f = std::fs::File::open(out.join("duplicates.parquet")).map_err(|e| format!("duplicates.parquet: {e}"))?;
    let df = ParquetReader::new(f).finish().map_err(|e| e.to_string())?;
    let (a, b) = (strings(&df, "doc_id_a"), strings(&df, "doc_id_b"));
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
    let data_hash =
        std::fs::read(train_dir.join("ap_invoices.csv")).map(|b| reckon_core::id::sha256_hex(&b)).unwrap_or_default();
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
    // F1 at every cut; the threshold is the middle of the best plateau (not its
    // edge, which would sit on the last validation pair).
    let mut evals: Vec<(f64, DedupEval)> = Vec::new();
    for step in 1..100 {
        let t = f64::from(step) / 100.0;
        let flagged: BTreeSet<(String, String)> =
            ps.iter().zip(&p).filter(|(_, s)| **s >= t).map(|(q, _)| key(q)).collect();
        evals.push((t, evaluate(&flagged, ps.len(), &validation.join("truth"))?));
    }
    let top = evals.iter().map(|(_, e)| e.f1).fold(0.0, f64::max);
    let plateau: Vec<&(f64, DedupEval)> = evals.iter().filter(|(_, e)| e.f1 >= top - 1e-12).collect();
    let (threshold, val) = plateau.get(plateau.len() / 2).map(|(t, e)| (*t, e.clone())).ok_or("no threshold")?;
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
        "# Model card: ap_dedup 1.0\n\n## Intended use\nScores candidate pairs of AP invoices (from reckon-dedup's blocking) with the probability that\nthey are the same invoice entered twice. Pairs at or above {threshold} are flagged (`duplicates.parquet`,\n`duplicate_invoice` exceptions; 0.95 and above escalate). Not for other document types.\n\n## Model\nLogistic regression (L2, alpha 0.01, linfa on standardised features), ONNX (MatMul, Add, Sigmoid), served by\nONNX Runtime through `ort`. Features `{FEATURE_SPEC}`: {}.\n\n## Training data\nGenerated scenario `{}`: {} candidate pairs, {} duplicates; recurring invoices, credit memos and re-issues\nare hard negatives in it. ap_invoices.csv sha256 `{}`.\n\n## Validation (`{}`)\n{} pairs: ROC-AUC {:.4}, AP {:.4}, ECE {:.4}; at the threshold (best F1): precision {:.4}, recall {:.4},\nF1 {:.4}; false alarms by hard-negative type: {:?}.\n\n## Limits\nGenerated data only; the generator's duplicates keep equal amounts. Retrain on labelled history before\ntrusting it on real books.\n\n## Reproduce\n```sh\nreckon generate --seed 1001 --scale 20000 --out /tmp/train\nreckon generate --seed 101 --scale 20000 --out /tmp/val\nreckon train dedup --input /tmp/train --validation /tmp/val --out models/ap_dedup_v1_0\n```\n",
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
        report.validation.false_alarms
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

/// Money-out settlement against `truth/disbursements.csv`: per class, (debits, right).
/// An AP payment is right when linked to its invoice; a bank fee / payroll / tax
/// when classified so; a duplicate payment when flagged as paid twice (or as the
/// earlier payment a flagged one cites).
pub fn eval_money_out(out: &Path, truth_dir: &Path) -> Result<BTreeMap<String, (usize, usize)>, String> {
    let f =
        std::fs::File::open(out.join("disbursements.parquet")).map_err(|e| format!("disbursements.parquet: {e}"))?;
    let df = ParquetReader::new(f).finish().map_err(|e| e.to_string())?;
    let (txn, status, class, docs, why) = (
        strings(&df, "txn_id"),
        strings(&df, "status"),
        strings(&df, "class"),
        strings(&df, "doc_ids"),
        strings(&df, "reason"),
    );
    let at: HashMap<&str, usize> = txn.iter().enumerate().map(|(i, t)| (t.as_str(), i)).collect();
    let cited: BTreeSet<&str> = (0..txn.len())
        .filter(|i| status[*i] == "paid_twice")
        .filter_map(|i| why[i].split_whitespace().last())
        .collect();
    let b = std::fs::read(truth_dir.join("disbursements.csv")).map_err(|e| format!("disbursements.csv: {e}"))?;
    let t = reckon_ingest::csv::scan(&b, b',', b'"').map_err(|e| e.to_string())?;
    let ix = |n: &str| t.header.iter().position(|h| h == n).ok_or(format!("disbursements.csv: no {n}"));
    let (ti, ci, di) = (ix("txn_id")?, ix("class")?, ix("doc_id")?);
    let mut res: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for r in 0..t.records.len() {
        let (id, cls, doc) = (&t.columns[ti][r], &t.columns[ci][r], &t.columns[di][r]);
        let ok = at.get(id.as_str()).is_some_and(|&i| match cls.as_str() {
            "ap_payment" => status[i] == "paid" && docs[i].split('|').any(|d| d == doc),
            "duplicate_payment" => status[i] == "paid_twice" || cited.contains(id.as_str()),
            other => status[i] == "classified" && class[i] == other,
        });
        let e = res.entry(cls.clone()).or_default();
        e.0 += 1;
        if ok {
            e.1 += 1;
        }
    }
    Ok(res)
}
