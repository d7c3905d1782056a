//! reckon-monitor: how far the rows a model scores today have moved from the
//! rows it was trained on.
//!
//! At training, [`Reference::fit`] records for every input feature (and the
//! score) the cut points of its deciles on the training rows, the share of
//! training rows in each bin and the training range; the trainers write it as
//! `reference.json` in the model folder. At run time a [`Histogram`] counts the
//! rows a model scores into the same bins (integer counts: the same on any
//! thread count, in any order), and [`Histogram::drift`] compares them with the
//! reference: the population stability index (PSI) of each feature and of the
//! score, and the share of rows outside the training range.
//!
//! PSI = Σ (aᵢ − eᵢ) · ln(aᵢ / eᵢ) over the bins, with shares floored at 10⁻⁴
//! so an empty bin is finite. The customary reading (Siddiqi, *Credit Risk
//! Scorecards*, Wiley 2006, ch. 8; Yurdakul, *Statistical properties of the
//! population stability index*, 2018): below 0.1 no real change, 0.1–0.25 a
//! moderate shift, above 0.25 a major one — [`DriftLimits`]' default.

use serde::{Deserialize, Serialize};

pub mod calibration;
pub use calibration::{Calibration, Decided};

/// File name of a model folder's training reference.
pub const REFERENCE_FILE: &str = "reference.json";

/// Deciles: the bins a reference cuts each feature into.
pub const BINS: usize = 10;

const FLOOR: f64 = 1e-4;

/// Why a reference cannot be built, read or used.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("reference: {0}")]
    Data(String),
    #[error("{path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {source}")]
    Parse { path: String, source: serde_json::Error },
}

/// One column's training distribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// Inner cut points, ascending and distinct: bin `i` holds values above
    /// `edges[i-1]` and at most `edges[i]`. The deciles, and around every
    /// value holding at least 5 % of the rows the float just below it and the
    /// value itself, so that the value is a bin alone (a binary feature has
    /// one edge, 0).
    pub edges: Vec<f32>,
    /// Share of training rows per bin (`edges.len() + 1` bins), to 10⁻⁶.
    pub shares: Vec<f64>,
    pub min: f32,
    pub max: f32,
}

impl Column {
    /// Cuts `values` at their deciles (nearest rank), distinct cut points only.
    fn fit(name: &str, values: &mut [f32]) -> Result<Column, MonitorError> {
        if values.is_empty() {
            return Err(MonitorError::Data(format!("{name}: no rows")));
        }
        if let Some(v) = values.iter().find(|v| !v.is_finite()) {
            return Err(MonitorError::Data(format!("{name}: value {v} is not finite")));
        }
        values.sort_by(f32::total_cmp);
        let n = values.len();
        let mut edges: Vec<f32> = (1..BINS).map(|q| values[((n - 1) * q) / BINS]).collect();
        // A value that holds at least one row in twenty (a flag's 0 and 1, a
        // similarity's 1.0) is a bin of its own, so that rows moving off it are
        // seen even when they stay within the decile it would share.
        let mut at = 0;
        while at < n {
            let v = values[at];
            let end = at + values[at..].partition_point(|x| *x == v);
            if (end - at) * 20 >= n {
                edges.push(v.next_down());
                edges.push(v);
            }
            at = end;
        }
        edges.sort_by(f32::total_cmp);
        edges.dedup();
        // No cut below the smallest value: its bin would always be empty.
        edges.retain(|e| *e >= values[0]);
        // The largest value is no cut: a bin above it would always be empty.
        if edges.last() == values.last() {
            edges.pop();
        }
        let mut counts = vec![0u64; edges.len() + 1];
        for v in values.iter() {
            counts[bin(&edges, *v)] += 1;
        }
        Ok(Column {
            name: name.to_string(),
            shares: counts.iter().map(|c| round6(*c as f64 / n as f64)).collect(),
            edges,
            min: values[0],
            max: values[n - 1],
        })
    }
}

fn bin(edges: &[f32], v: f32) -> usize {
    edges.partition_point(|e| *e < v)
}

/// A model's training reference: its input features and its score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// Training rows the reference was cut from.
    pub rows: u64,
    pub features: Vec<Column>,
    pub score: Column,
    /// Features counted but not judged: inputs whose values are relative to
    /// the book they were computed in, or that moved between two books of
    /// the same company before anything changed, so their moving says
    /// nothing. Empty for a training reference.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unjudged: Vec<String>,
}

impl Reference {
    /// The reference of `rows` training rows of `names.len()` features
    /// (row-major `x`) and their scores.
    pub fn fit(names: &[&str], x: &[f32], scores: &[f32]) -> Result<Reference, MonitorError> {
        let k = names.len();
        let n = scores.len();
        if k == 0 || n == 0 || x.len() != n * k {
            return Err(MonitorError::Data(format!("{} values for {n} rows of {k} features", x.len())));
        }
        let features = (0..k)
            .map(|j| {
                let mut col: Vec<f32> = (0..n).map(|r| x[r * k + j]).collect();
                Column::fit(names[j], &mut col)
            })
            .collect::<Result<_, _>>()?;
        let mut s: Vec<f32> = scores.to_vec();
        Ok(Reference { rows: n as u64, features, score: Column::fit("score", &mut s)?, unjudged: Vec::new() })
    }

    /// Reads `dir/reference.json`; `None` when the folder has none (a model
    /// trained before references were written: nothing to compare with).
    pub fn read(dir: &std::path::Path) -> Result<Option<Reference>, MonitorError> {
        let path = dir.join(REFERENCE_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        let shown = path.display().to_string();
        let text =
            std::fs::read_to_string(&path).map_err(|source| MonitorError::Read { path: shown.clone(), source })?;
        let r: Reference =
            serde_json::from_str(&text).map_err(|source| MonitorError::Parse { path: shown.clone(), source })?;
        for c in r.features.iter().chain([&r.score]) {
            let sorted = c.edges.windows(2).all(|w| w[0] < w[1]);
            if !sorted || c.shares.len() != c.edges.len() + 1 {
                return Err(MonitorError::Data(format!(
                    "{shown}: column {} has {} edges (ascending: {sorted}) and {} shares",
                    c.name,
                    c.edges.len(),
                    c.shares.len()
                )));
            }
        }
        Ok(Some(r))
    }

    /// The reference as `reference.json` text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Checks that the reference describes `features` in that order.
    pub fn check_features(&self, features: &[String]) -> Result<(), MonitorError> {
        if self.features.iter().map(|c| &c.name).eq(features.iter()) {
            Ok(())
        } else {
            Err(MonitorError::Data(format!(
                "reference columns {:?} are not the model's features {features:?}",
                self.features.iter().map(|c| c.name.as_str()).collect::<Vec<_>>()
            )))
        }
    }
}

/// Rows counted into a reference's bins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Histogram {
    /// Per feature, then the score: counts per bin, and rows below the
    /// training minimum or above its maximum.
    counts: Vec<Vec<u64>>,
    outside: Vec<u64>,
    rows: u64,
}

impl Histogram {
    pub fn new(r: &Reference) -> Histogram {
        let counts: Vec<Vec<u64>> = r.features.iter().chain([&r.score]).map(|c| vec![0; c.shares.len()]).collect();
        Histogram { outside: vec![0; counts.len()], counts, rows: 0 }
    }

    /// Counts `scores.len()` rows of features (row-major) and their scores.
    pub fn add(&mut self, r: &Reference, x: &[f32], scores: &[f32]) {
        let k = r.features.len();
        for (row, s) in x.chunks_exact(k).zip(scores) {
            for (j, c) in r.features.iter().chain([&r.score]).enumerate() {
                let v = if j < k { row[j] } else { *s };
                self.counts[j][bin(&c.edges, v)] += 1;
                if v < c.min || v > c.max {
                    self.outside[j] += 1;
                }
            }
            self.rows += 1;
        }
    }

    /// Adds another histogram of the same reference.
    pub fn merge(&mut self, o: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        for (a, b) in self.outside.iter_mut().zip(&o.outside) {
            *a += b;
        }
        self.rows += o.rows;
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Each column's PSI and share outside the training range.
    pub fn drift(&self, r: &Reference, limits: &DriftLimits) -> Drift {
        let n = self.rows.max(1) as f64;
        let cols: Vec<ColumnDrift> = r
            .features
            .iter()
            .chain([&r.score])
            .zip(self.counts.iter().zip(&self.outside))
            .map(|(c, (counts, outside))| ColumnDrift {
                name: c.name.clone(),
                psi: round6(psi(&c.shares, counts)),
                outside_range: round6(*outside as f64 / n),
            })
            .collect();
        let (features, score) = cols.split_at(cols.len() - 1);
        let judged = self.rows >= limits.min_rows;
        let moved: Vec<String> = features
            .iter()
            .filter(|c| judged && (c.psi > limits.psi || c.outside_range > limits.outside_range))
            .filter(|c| !r.unjudged.contains(&c.name))
            .map(|c| c.name.clone())
            .collect();
        Drift {
            rows: self.rows,
            reference_rows: r.rows,
            score: score[0].clone(),
            features: features.to_vec(),
            score_moved: judged && score[0].psi > limits.psi,
            moved,
        }
    }
}

/// PSI of counts against reference shares (shares floored at 10⁻⁴).
pub fn psi(expected: &[f64], counts: &[u64]) -> f64 {
    let n: u64 = counts.iter().sum();
    if n == 0 {
        return 0.0;
    }
    expected
        .iter()
        .zip(counts)
        .map(|(e, c)| {
            let (e, a) = (e.max(FLOOR), (*c as f64 / n as f64).max(FLOOR));
            (a - e) * (a / e).ln()
        })
        .sum()
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// When a model's rows have moved: `[monitor]` in reckon.toml.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DriftLimits {
    /// A feature (or the score) whose PSI is above this has moved (0.25: a
    /// major shift by the customary reading).
    pub psi: f64,
    /// A feature with more than this share of rows outside its training range has moved.
    pub outside_range: f64,
    /// Runs that score fewer rows are measured but not judged.
    pub min_rows: u64,
    /// A probability band whose decided proposals were found right more than
    /// this far from the probability the model gave them is miscalibrated
    /// ([`calibration`]).
    pub calibration_gap: f64,
    /// Decisions a band needs before it is judged.
    pub calibration_min_labels: u64,
    /// The newest decisions on the served model's proposals that are judged.
    pub calibration_window: usize,
}

impl Default for DriftLimits {
    fn default() -> Self {
        DriftLimits {
            psi: 0.25,
            outside_range: 0.05,
            min_rows: 500,
            calibration_gap: 0.10,
            calibration_min_labels: 50,
            calibration_window: 2000,
        }
    }
}

impl DriftLimits {
    /// Checks the limits: a PSI limit above 0, a share within 0–1.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.psi > 0.0 && self.psi.is_finite()) {
            return Err(format!("monitor.psi = {} must be above 0", self.psi));
        }
        if !(0.0..=1.0).contains(&self.outside_range) {
            return Err(format!("monitor.outside_range = {} must be within 0..=1", self.outside_range));
        }
        if !(self.calibration_gap > 0.0 && self.calibration_gap < 1.0) {
            return Err(format!("monitor.calibration_gap = {} must be above 0 and below 1", self.calibration_gap));
        }
        if self.calibration_min_labels == 0 || self.calibration_window == 0 {
            return Err(format!(
                "monitor.calibration_min_labels = {} and monitor.calibration_window = {} must be at least 1",
                self.calibration_min_labels, self.calibration_window
            ));
        }
        Ok(())
    }
}

/// One column's movement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnDrift {
    pub name: String,
    pub psi: f64,
    pub outside_range: f64,
}

/// A model's rows in one run against its training reference (the manifest's
/// `models[].drift`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    /// Rows scored in the run, and in the training reference.
    pub rows: u64,
    pub reference_rows: u64,
    pub features: Vec<ColumnDrift>,
    pub score: ColumnDrift,
    /// Features beyond the limits, in the model's feature order (empty when
    /// the run scored fewer than `min_rows`).
    pub moved: Vec<String>,
    pub score_moved: bool,
}

impl Drift {
    /// The features that moved, strongest PSI first, with their figures.
    pub fn describe(&self) -> String {
        let mut m: Vec<&ColumnDrift> = self.features.iter().filter(|c| self.moved.contains(&c.name)).collect();
        m.sort_by(|a, b| b.psi.total_cmp(&a.psi).then(a.name.cmp(&b.name)));
        let parts: Vec<String> = m
            .iter()
            .map(|c| {
                format!("{} (PSI {:.3}, {:.1} % outside the training range)", c.name, c.psi, c.outside_range * 100.0)
            })
            .collect();
        parts.join(", ")
    }
}
