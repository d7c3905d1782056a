//! The duplicate model's training (`reckon train duplicates`) and the evaluation of
//! duplicate pairs and money out against a scenario's truth.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use reckon_duplicates::{FEATURE_SPEC, FEATURES, Invoice};
use reckon_learn::threshold::ThresholdRule;
use reckon_learn::{logistic::Logistic, metrics};
use reckon_onnx::{Model, ModelConfig};
use serde::Serialize;

use reckon_pipeline::duplicates::pairs;

/// Labelled pairs: (doc a, doc b) → pattern or hard-negative type.
pub type PairLabels = BTreeMap<(String, String), String>;

use reckon_pipeline::frame::required_strings;

use crate::LabError;

/// Truth of a generated scenario: duplicate pairs (with pattern) and hard negatives (with type).
pub fn truth(dir: &Path) -> Result<(PairLabels, PairLabels), LabError> {
    let read = |f: &str, label: &str| -> Result<PairLabels, LabError> {
        let file = dir.join(f);
        let bad = |reason: String| LabError::Truth { file: file.clone(), reason };
        let b = std::fs::read(&file).map_err(|e| bad(e.to_string()))?;
        let s = reckon_ingest::csv::scan(&b, b',', b'"').map_err(|e| bad(e.to_string()))?;
        let ix = |n: &str| s.header.iter().position(|h| h == n).ok_or_else(|| bad(format!("no column {n}")));
        let (a, b2, l) = (ix("doc_id_a")?, ix("doc_id_b")?, ix(label)?);
        Ok((0..s.records.len())
            .map(|r| {
                let (x, y) = (s.columns[a][r].to_string(), s.columns[b2][r].to_string());
                (if x < y { (x, y) } else { (y, x) }, s.columns[l][r].to_string())
            })
            .collect())
    };
    Ok((read("ap_duplicates.csv", "pattern")?, read("ap_hard_negatives.csv", "type")?))
}

pub(crate) fn labelled(dir: &Path) -> Result<(Vec<f64>, Vec<bool>, usize), LabError> {
    let (_, tables) = crate::model::tables(dir)?;
    let inv = tables.invoices.get().ok_or_else(|| LabError::Data("no AP invoices".into()))?;
    let (dups, _) = truth(&dir.join("truth"))?;
    let (ps, _) = pairs(&inv, &tables.vendors);
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

pub fn evaluate(
    flagged: &BTreeSet<(String, String)>,
    compared: usize,
    truth_dir: &Path,
) -> Result<DedupEval, LabError> {
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
pub fn eval_out(out: &Path, truth_dir: &Path) -> Result<DedupEval, LabError> {
    let p = out.join("duplicates.parquet");
    let df = ParquetReader::new(std::fs::File::open(&p).map_err(LabError::io(&p))?).finish()?;
    let req = |c: &str| required_strings(&df, c).map_err(LabError::output("duplicates.parquet"));
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

/// The settings of a duplicate-pair model's training.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainParams {
    /// L2 strength of the logistic regression (linfa's `alpha`).
    pub alpha: f64,
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams { alpha: 0.01 }
    }
}

impl TrainParams {
    /// Checks every setting before any data is read.
    pub fn check(self) -> Result<CheckedTrainParams, LabError> {
        crate::error::check_alpha(self.alpha)?;
        Ok(CheckedTrainParams(self))
    }
}

/// Checked settings, ready to fit.
#[derive(Clone, Copy, Debug)]
pub struct CheckedTrainParams(TrainParams);

/// A fitted duplicate-pair model, not yet written: [`Fitted::write`] makes its folder.
#[derive(Debug)]
pub struct Fitted {
    pub report: DedupTrainReport,
    config: ModelConfig,
    onnx: Vec<u8>,
    weights: BTreeMap<String, f64>,
    /// The training pairs' features and scores (`reference.json`): what a run's
    /// pairs are measured against for drift.
    reference: String,
    train: Vec<PathBuf>,
    validation: Vec<PathBuf>,
}

impl Fitted {
    /// Writes the model folder; the version is the folder's (`duplicates_v2_0` → 2.0).
    pub fn write(&self, out: &Path) -> Result<(), LabError> {
        let mut mc = self.config.clone();
        mc.version = crate::model::version_of(out);
        let card = card(&mc, &self.report, &self.train, &self.validation);
        crate::model::write_folder(
            out,
            &self.onnx,
            &mc,
            &[
                ("metrics.json", serde_json::to_string_pretty(&self.report)? + "\n"),
                ("weights.json", serde_json::to_string_pretty(&self.weights)? + "\n"),
                (reckon_monitor::REFERENCE_FILE, self.reference.clone()),
                ("MODEL_CARD.md", card),
            ],
        )
    }
}

/// Trains the pair scorer on the `train` scenarios, picks the threshold with
/// the best F1 on the `validation` scenarios (pooled), writes the model folder:
/// `params.check()?.fit(train, validation)?.write(out)`.
pub fn train(
    train: &[PathBuf],
    validation: &[PathBuf],
    out: &Path,
    params: TrainParams,
) -> Result<DedupTrainReport, LabError> {
    let fitted = params.check()?.fit(train, validation)?;
    fitted.write(out)?;
    Ok(fitted.report)
}

impl CheckedTrainParams {
    /// Fits the pair scorer on `train` and chooses its review threshold on
    /// `validation` (which must hold other data).
    pub fn fit(&self, train: &[PathBuf], validation: &[PathBuf]) -> Result<Fitted, LabError> {
        if train.is_empty() || validation.is_empty() {
            return Err(LabError::Data("training needs at least one training and one validation scenario".into()));
        }
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for t in train {
            let (tx, ty, _) = labelled(t).map_err(LabError::in_dir(t))?;
            x.extend(tx);
            y.extend(ty);
        }
        let lr = Logistic::fit(&x, FEATURES.len(), &y, self.0.alpha)?;
        let bytes = lr.to_onnx(&[("feature_spec", FEATURE_SPEC), ("task", "ap_duplicate_pair")]);
        let data_hash = crate::model::training_data_sha256_of(train, crate::model::Engine::Duplicates);
        for v in validation {
            crate::model::refuse_same_data(&data_hash, v, crate::model::Engine::Duplicates, "validation")?;
        }
        let mut mc = ModelConfig::probability(
            "duplicates",
            "ap_duplicate_pair",
            FEATURE_SPEC,
            FEATURES.iter().map(|s| s.to_string()).collect(),
            &bytes,
            data_hash,
        );
        let model = Model::from_bytes(Path::new("duplicates"), mc.clone(), &bytes)?;
        let xf: Vec<f32> = x.iter().map(|v| *v as f32).collect();
        let reference = reckon_monitor::Reference::fit(FEATURES, &xf, &model.score(y.len(), &xf)?)?.to_json();
        // Every validation scenario's pairs, keyed by (scenario, doc a, doc b).
        let (mut p, mut vy, mut keys) = (Vec::new(), Vec::new(), Vec::new());
        let (mut dups, mut negs): (PairLabels, PairLabels) = Default::default();
        for (n, v) in validation.iter().enumerate() {
            let (_, tables) = crate::model::tables(v)?;
            let inv = tables.invoices.get().ok_or_else(|| LabError::In {
                path: v.clone(),
                source: Box::new(LabError::Data("no AP invoices".into())),
            })?;
            let (ps, _) = pairs(&inv, &tables.vendors);
            let xs: Vec<f32> = ps.iter().flat_map(|p| p.features.iter().copied()).collect();
            p.extend(model.score(ps.len(), &xs)?.into_iter().map(f64::from));
            let (d, ng) = truth(&v.join("truth"))?;
            let tag = |(a, b): (String, String)| (format!("{n}/{a}"), format!("{n}/{b}"));
            for q in &ps {
                let (a, b) = (&inv[q.a].doc_id, &inv[q.b].doc_id);
                let k = if a < b { (a.clone(), b.clone()) } else { (b.clone(), a.clone()) };
                vy.push(d.contains_key(&k));
                keys.push(tag(k));
            }
            dups.extend(d.into_iter().map(|(k, t)| (tag(k), t)));
            negs.extend(ng.into_iter().map(|(k, t)| (tag(k), t)));
        }
        // The cut with the best F1 over the whole score range, halfway between the
        // lowest pair kept and the highest left out.
        let cut = ThresholdRule::BestF1
            .check()
            .and_then(|r| r.choose(&p, &vy, dups.len()))
            .map_err(LabError::threshold("review threshold"))?;
        let threshold = cut.threshold;
        let flagged: BTreeSet<(String, String)> =
            keys.iter().zip(&p).filter(|(_, s)| **s >= threshold).map(|(k, _)| k.clone()).collect();
        let val = score_pairs(&flagged, keys.len(), &dups, &negs);
        mc.thresholds.insert("review".into(), threshold);
        let report = DedupTrainReport {
            train_pairs: y.len(),
            train_positive: y.iter().filter(|b| **b).count(),
            validation_pairs: keys.len(),
            validation_roc_auc: metrics::roc_auc(&p, &vy),
            validation_average_precision: metrics::average_precision(&p, &vy),
            validation_ece: metrics::ece(&p, &vy, 10),
            threshold,
            validation: val,
        };
        let weights = FEATURES.iter().zip(&lr.weights).map(|(f, w)| (f.to_string(), *w)).collect::<BTreeMap<_, _>>();
        Ok(Fitted {
            report,
            config: mc,
            onnx: bytes,
            weights,
            reference,
            train: train.to_vec(),
            validation: validation.to_vec(),
        })
    }
}

fn card(mc: &ModelConfig, report: &DedupTrainReport, train: &[PathBuf], validation: &[PathBuf]) -> String {
    crate::card::ModelCard {
        intended_use: "Scores candidate pairs of AP invoices (from reckon-duplicates's blocking) with the\n\
probability that they are the same invoice entered twice. Pairs at or above the\n\
`review` threshold are flagged (`duplicates.parquet`, `duplicate_invoice`\n\
exceptions; 0.95 and above escalate) when their numbers can be one document.\n\
Not for other document types."
            .into(),
        method: "Logistic regression (L2, alpha 0.01, linfa on standardised features), exported as\n\
ONNX (MatMul, Add, Sigmoid). Weights: `weights.json`; training\nreference (drift): `reference.json`."
            .into(),
        training: format!(
            "Generated scenario{} `{}`: {} candidate pairs, {} duplicates; recurring invoices,\n\
credit memos and re-issues are hard negatives in it (the training data digest is\n\
of its `ap_invoices.csv`).",
            if train.len() > 1 { "s" } else { "" },
            crate::card::shown(train),
            report.train_pairs,
            report.train_positive
        ),
        validation: format!(
            "{}, `{}`: {} pairs; ROC-AUC {:.4}, AP {:.4}, ECE {:.4}. The\n\
`review` threshold is the best F1 over the whole score range, halfway between\n\
the lowest pair kept and the highest left out: precision {:.4}, recall {:.4},\n\
F1 {:.4}; false alarms by hard-negative type: {:?}.{}",
            if validation.len() > 1 { "Different scenarios" } else { "A different scenario" },
            crate::card::shown(validation),
            report.validation_pairs,
            report.validation_roc_auc,
            report.validation_average_precision,
            report.validation_ece,
            report.validation.precision,
            report.validation.recall,
            report.validation.f1,
            report.validation.false_alarms,
            crate::model::separability(report.validation_roc_auc),
        ),
        limits: "Generated data only; the generator's duplicates keep equal amounts. Retrain on\n\
labelled history before trusting it on real books."
            .into(),
        reproduce: crate::card::reproduce(
            &train.iter().chain(validation).map(std::path::PathBuf::as_path).collect::<Vec<_>>(),
            format!(
                "reckon train duplicates --input {} --validation {} --out models/duplicates_v{}",
                crate::card::shown(train),
                crate::card::shown(validation),
                mc.version.replace('.', "_")
            ),
        ),
        parts: Vec::new(),
    }
    .render(mc)
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
pub fn eval_money_out(out: &Path, truth_dir: &Path) -> Result<BTreeMap<String, (usize, usize)>, LabError> {
    let p = out.join("disbursements.parquet");
    let df = ParquetReader::new(std::fs::File::open(&p).map_err(LabError::io(&p))?).finish()?;
    let req = |c: &str| required_strings(&df, c).map_err(LabError::output("disbursements.parquet"));
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
    let file = truth_dir.join("disbursements.csv");
    let bad = |reason: String| LabError::Truth { file: file.clone(), reason };
    let b = std::fs::read(&file).map_err(|e| bad(e.to_string()))?;
    let t = reckon_ingest::csv::scan(&b, b',', b'"').map_err(|e| bad(e.to_string()))?;
    let ix = |n: &str| t.header.iter().position(|h| h == n).ok_or_else(|| bad(format!("no column {n}")));
    let (ti, ci, di) = (ix("txn_id")?, ix("class")?, ix("doc_id")?);
    let truth: Vec<MoneyOutTruth> = (0..t.records.len())
        .map(|r| (t.columns[ti][r].to_string(), t.columns[ci][r].to_string(), t.columns[di][r].to_string()))
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
