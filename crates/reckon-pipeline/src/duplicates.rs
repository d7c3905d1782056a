//! The duplicates stage: AP invoices → reckon-duplicates → scored pairs, clusters,
//! `duplicates.parquet` and `duplicate_invoice` exceptions. The model's
//! training and evaluation are in reckon-lab.

use std::collections::{BTreeMap, BTreeSet};

use polars::prelude::*;
use reckon_core::{Currency, format_minor};
use reckon_duplicates::{FEATURE_SPEC, FEATURES, Invoice, Vendor};
use reckon_feed::{Band, Exception, ExceptionKind, Reason};
use reckon_onnx::Model;

use crate::stage::{BuildError, RunInputs, Settled, Stage, StageError, StageOutput, StageReport};

/// Duplicate-invoice detection as a stage (`off` when `duplicates.model = "off"`).
#[derive(Debug)]
pub struct DuplicatesStage {
    model: Option<Model>,
    /// The model's training reference (its folder's `reference.json`): every
    /// candidate pair scored is counted against it.
    monitor: Option<crate::model::Monitor>,
    limits: reckon_monitor::DriftLimits,
}

impl DuplicatesStage {
    pub fn build(config: &crate::Config) -> Result<Box<dyn Stage>, BuildError> {
        let err = |source: crate::model::ModelError| BuildError::Model { section: "duplicates", source };
        let model = match config.duplicates.model.as_str() {
            "off" => None,
            name => {
                let dir = crate::model::find("duplicates.model", name, "set it to \"off\" to skip").map_err(err)?;
                // A model trained on other features would score the wrong columns.
                let spec = crate::model::Spec::Fixed(FEATURE_SPEC, FEATURES);
                Some(crate::model::load_checked(&dir, spec).map_err(err)?)
            }
        };
        let monitor = match &model {
            Some(m) => crate::model::Monitor::of(m).map_err(err)?,
            None => None,
        };
        Ok(Box::new(DuplicatesStage { model, monitor, limits: config.monitor.clone() }))
    }
}

impl Stage for DuplicatesStage {
    fn name(&self) -> &'static str {
        "duplicates"
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["duplicates"]
    }

    fn reads(&self) -> &'static [reckon_core::Table] {
        &[reckon_core::Table::ApInvoices, reckon_core::Table::Vendors]
    }

    fn run(&self, inputs: &RunInputs<'_>) -> Result<StageOutput, StageError> {
        let Some(model) = &self.model else {
            return Ok(StageOutput { report: StageReport::summary("off"), ..StageOutput::default() });
        };
        let fail = |message: String| StageError { stage: self.name(), message };
        let Some(invoices) = inputs.tables.invoices.get() else {
            return Ok(StageOutput::no_input());
        };
        let d = detect_monitored(&invoices, &inputs.tables.vendors, model, self.monitor.as_ref())
            .map_err(|e| fail(e.to_string()))?;
        tracing::info!(
            invoices = d.invoices.len(),
            compared = d.compared_pairs,
            flagged = d.flagged.len(),
            "duplicate detection done"
        );
        let table = duplicates_frame(&d).map_err(|e| fail(e.to_string()))?;
        let mut exceptions = exceptions(&d, inputs.run_id);
        // The pairs scored against the model's training reference.
        let mut entry = crate::manifest::ModelEntry::of(model);
        if let Some(drift) = self.monitor.as_ref().map(|m| m.take(&self.limits)) {
            exceptions.extend(crate::model::drift_exception(&entry.id, &drift, inputs.run_id));
            entry.drift = Some(drift);
        }
        // A run with a store keeps each flagged pair's features and score: with
        // the decisions on its exception, a row to retrain the model on.
        let learned = crate::remember::Learned {
            flags: if inputs.memory.is_some() { flag_scores(&d, &exceptions) } else { Vec::new() },
            drift: entry
                .drift
                .as_ref()
                .and_then(|d| serde_json::to_string(d).ok())
                .map(|d| vec![(entry.id.clone(), d)])
                .unwrap_or_default(),
            ..Default::default()
        };
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
            exceptions,
            learned,
            models: vec![entry],
            settled: Settled {
                ap_screened: Some(d.invoices.iter().map(|i| i.doc_id.clone()).collect()),
                ..Settled::default()
            },
        })
    }
}

/// Scored candidate pairs of one AP book.
#[derive(Debug, Default)]
pub struct DedupResult<'a> {
    pub invoices: &'a [Invoice],
    pub compared_pairs: usize,
    /// (a, b, probability, reasons) for pairs at or above the review threshold.
    pub flagged: Vec<(usize, usize, f64, Vec<String>)>,
    /// The features of each flagged pair (as `flagged`), in `FEATURES` order.
    pub flagged_features: Vec<Vec<f32>>,
    pub cluster: Vec<Option<usize>>,
    pub threshold: f64,
    pub model: String,
}

/// Candidate pairs with features.
pub fn pairs(
    invoices: &[Invoice],
    vendors: &[Vendor],
) -> (Vec<reckon_duplicates::Pair>, BTreeMap<(String, String), String>) {
    let (cluster, why) = reckon_duplicates::vendor_clusters(vendors, invoices);
    let names: reckon_duplicates::HashMap<String, String> =
        vendors.iter().map(|v| (v.vendor_id.clone(), v.name.clone())).collect();
    let cands = reckon_duplicates::candidate_pairs(invoices, &cluster, 10);
    (reckon_duplicates::features(invoices, &cluster, &names, &cands), why)
}

/// Detection on plain inputs.
pub fn detect<'a>(
    invoices: &'a [Invoice],
    vendors: &[Vendor],
    model: &Model,
) -> Result<DedupResult<'a>, reckon_onnx::OnnxError> {
    detect_monitored(invoices, vendors, model, None)
}

/// [`detect`], counting every candidate pair's features and score against the
/// model's training reference when there is one.
pub fn detect_monitored<'a>(
    invoices: &'a [Invoice],
    vendors: &[Vendor],
    model: &Model,
    monitor: Option<&crate::model::Monitor>,
) -> Result<DedupResult<'a>, reckon_onnx::OnnxError> {
    let (ps, why) = pairs(invoices, vendors);
    let k = FEATURES.len().max(1);
    let x: Vec<f32> = ps.iter().flat_map(|p| p.features.iter().copied()).collect();
    // reckon-onnx scores fixed chunks on the rayon pool (the same numbers whatever
    // the thread count).
    let p: Vec<f32> = model.score(x.len() / k, &x)?;
    if let Some(m) = monitor {
        m.add(&x, &p);
    }
    let threshold = model.config.thresholds.get("review").copied().unwrap_or(0.5);
    // Amount, date and vendor alone never make a duplicate: a pair whose numbers
    // cannot be one document (`numbers_linked`) is neither flagged nor clustered,
    // whatever the model's score.
    // (`ap_pair_v2` carries it as the `number_linked` feature.)
    let linked: Vec<bool> = ps.iter().map(|q| q.features[reckon_duplicates::NUMBER_LINKED] == 1.0).collect();
    let p: Vec<f32> = p.iter().zip(&linked).map(|(s, l)| if *l { *s } else { 0.0 }).collect();
    let scored: Vec<(usize, usize, f64)> = ps.iter().zip(&p).map(|(q, s)| (q.a, q.b, f64::from(*s))).collect();
    let cluster = reckon_duplicates::clusters(invoices.len(), &scored, threshold, threshold * 0.5);
    let (flagged, flagged_features) = ps
        .iter()
        .zip(&p)
        .filter(|(_, s)| f64::from(**s) >= threshold)
        .map(|(q, s)| ((q.a, q.b, f64::from(*s), reckon_duplicates::reasons(invoices, q, &why)), q.features.to_vec()))
        .unzip();
    Ok(DedupResult {
        invoices,
        compared_pairs: ps.len(),
        flagged,
        flagged_features,
        cluster,
        threshold,
        model: model.id(),
    })
}

/// The scores of each flagged pair, under the problem key of the exception
/// that holds it.
pub fn flag_scores(r: &DedupResult<'_>, exceptions: &[Exception]) -> Vec<reckon_state::models::FlagScore> {
    let mut key_of: reckon_duplicates::HashMap<&str, String> = Default::default();
    for e in exceptions {
        let key = reckon_state::lifecycle::problem_key(e);
        for doc in e.records.iter().filter_map(|r| r.strip_prefix("ap_invoices:")) {
            key_of.insert(doc, key.clone());
        }
    }
    let mut out: Vec<reckon_state::models::FlagScore> = r
        .flagged
        .iter()
        .zip(&r.flagged_features)
        .filter_map(|((a, b, p, _), f)| {
            let (x, y) = (r.invoices[*a].doc_id.as_str(), r.invoices[*b].doc_id.as_str());
            let (x, y) = if x < y { (x, y) } else { (y, x) };
            Some(reckon_state::models::FlagScore {
                run_id: String::new(),
                engine: reckon_state::models::ENGINE_DEDUP.into(),
                subject: format!("{x}+{y}"),
                problem_key: key_of.get(x)?.clone(),
                model: r.model.clone(),
                threshold: r.threshold,
                score: *p,
                feature_spec: FEATURE_SPEC.into(),
                features: f.clone(),
            })
        })
        .collect();
    out.sort_by(|p, q| p.subject.cmp(&q.subject));
    out.dedup_by(|p, q| p.subject == q.subject);
    out
}

fn band(p: f64) -> Band {
    if p >= 0.95 { Band::Escalate } else { Band::Review }
}

type OutRow<'a> = (String, String, String, f64, &'a str, String);

/// `duplicates.parquet` (one row per flagged pair, a < b by doc id).
pub fn duplicates_frame(r: &DedupResult<'_>) -> PolarsResult<DataFrame> {
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
pub fn exceptions(r: &DedupResult<'_>, run_id: &str) -> Vec<Exception> {
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
                lifecycle: None,
            }
        })
        .collect()
}
