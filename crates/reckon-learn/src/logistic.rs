//! Logistic regression trained with linfa (L2-regularised, on standardised
//! features), folded back to raw-feature weights and written as ONNX.

use linfa::prelude::*;
use ndarray::{Array1, Array2};

use crate::LearnError;

/// A fitted model: `P(y) = sigmoid(x · weights + intercept)` on raw features.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Logistic {
    pub weights: Vec<f64>,
    pub intercept: f64,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl Logistic {
    /// Fits on `n` rows of `k` features (row-major) with labels `y`; `alpha` is the
    /// L2 penalty on standardised weights.
    pub fn fit(x: &[f64], k: usize, y: &[bool], alpha: f64) -> Result<Logistic, LearnError> {
        let n = y.len();
        if n == 0 || k == 0 || x.len() != n * k {
            return Err(LearnError::Data(format!("{} values for {n} rows of {k} features", x.len())));
        }
        let positives = y.iter().filter(|b| **b).count();
        if positives == 0 || positives == n {
            return Err(LearnError::Data("training labels are all one class".into()));
        }
        let (mean, sd) = moments(x, n, k);
        let z = Array2::from_shape_fn((n, k), |(r, j)| (x[r * k + j] - mean[j]) / sd[j]);
        let labels: Array1<bool> = y.iter().copied().collect();
        let ds = Dataset::new(z, labels);
        let fitted = linfa_logistic::LogisticRegression::default()
            .alpha(alpha)
            .max_iterations(300)
            .gradient_tolerance(1e-6)
            .fit(&ds)
            .map_err(|e| LearnError::Fit(e.to_string()))?;
        // linfa's positive class is the larger one: orient the model to P(true).
        let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
        let wz: Vec<f64> = fitted.params().iter().map(|w| sign * w).collect();
        let bz = sign * fitted.intercept();
        let weights: Vec<f64> = (0..k).map(|j| wz[j] / sd[j]).collect();
        let intercept = bz - (0..k).map(|j| wz[j] * mean[j] / sd[j]).sum::<f64>();
        Ok(Logistic { weights, intercept })
    }

    /// Fits like [`Logistic::fit`] (the same objective: `Σ log(1 + e^(−sᵢ zᵢ)) +
    /// α/2 ‖w‖²` on standardised features), with the weights of the features
    /// marked in `nonneg` held at zero or above: evidence that can only raise
    /// the probability (a test firing, a rarer behaviour) is never read as
    /// evidence against it, whatever the training books' mix. linfa has no bound
    /// constraints, so this is a projected Newton method (Bertsekas 1982) over
    /// at most `k + 1` variables; without active bounds it reaches linfa's
    /// optimum (a test compares them). Sums run in row order: the same result
    /// on any thread count.
    pub fn fit_nonneg(x: &[f64], k: usize, y: &[bool], alpha: f64, nonneg: &[bool]) -> Result<Logistic, LearnError> {
        Logistic::fit_weighted(x, k, y, None, alpha, nonneg)
    }

    /// [`Logistic::fit_nonneg`] with a weight per row (`None`: every row 1): the
    /// objective is `Σ wᵢ log(1 + e^(−sᵢ zᵢ)) + α/2 ‖w‖²`, so a row of weight 0.3
    /// counts as 0.3 of a row (a weak label).
    pub fn fit_weighted(
        x: &[f64],
        k: usize,
        y: &[bool],
        weights: Option<&[f64]>,
        alpha: f64,
        nonneg: &[bool],
    ) -> Result<Logistic, LearnError> {
        Logistic::fit_toward(x, k, y, weights, alpha, nonneg, None)
    }

    /// [`Logistic::fit_weighted`] with the penalty centred on the raw-feature
    /// weights `anchor` instead of zero: `Σ wᵢ log(1 + e^(−sᵢ zᵢ)) + α/2 ‖w −
    /// a‖²` on standardised features (`a` the anchor's weights standardised by
    /// this data's spread). Where the rows say little, the fit stays near the
    /// anchor (a model already serving, fine-tuned on a team's few decisions);
    /// with `None` it is [`Logistic::fit_weighted`]. The intercept is free.
    #[allow(clippy::too_many_arguments)]
    pub fn fit_toward(
        x: &[f64],
        k: usize,
        y: &[bool],
        weights: Option<&[f64]>,
        alpha: f64,
        nonneg: &[bool],
        anchor: Option<&[f64]>,
    ) -> Result<Logistic, LearnError> {
        if let Some(a) = anchor
            && (a.len() != k || a.iter().any(|v| !v.is_finite()))
        {
            return Err(LearnError::Data(format!("{} finite anchor weights for {k} features", a.len())));
        }
        let n = y.len();
        if let Some(w) = weights
            && (w.len() != n || w.iter().any(|v| !(v.is_finite() && *v >= 0.0)))
        {
            return Err(LearnError::Data(format!("{} row weights for {n} rows, each finite and at least 0", w.len())));
        }
        let wt = |r: usize| weights.map_or(1.0, |w| w[r]);
        if n == 0 || k == 0 || x.len() != n * k || nonneg.len() != k {
            return Err(LearnError::Data(format!(
                "{} values for {n} rows of {k} features ({} bounds)",
                x.len(),
                nonneg.len()
            )));
        }
        if !(alpha > 0.0 && alpha.is_finite()) {
            return Err(LearnError::Data(format!("alpha {alpha} must be above 0")));
        }
        let positives = y.iter().filter(|b| **b).count();
        if positives == 0 || positives == n {
            return Err(LearnError::Data("training labels are all one class".into()));
        }
        let (mean, sd) = moments(x, n, k);
        let z: Vec<f64> = (0..n * k).map(|i| (x[i] - mean[i % k]) / sd[i % k]).collect();
        // The anchor on standardised features (zero without one).
        let centre: Vec<f64> = match anchor {
            Some(a) => (0..k).map(|j| a[j] * sd[j]).collect(),
            None => vec![0.0; k],
        };
        // Variables: k weights, then the intercept (free, not penalised).
        let m = k + 1;
        let loss = |w: &[f64]| -> f64 {
            let mut f = 0.5 * alpha * w[..k].iter().zip(&centre).map(|(v, c)| (v - c) * (v - c)).sum::<f64>();
            for r in 0..n {
                let t = dot(&z[r * k..(r + 1) * k], &w[..k]) + w[k];
                let s = if y[r] { t } else { -t };
                // log(1 + e^(−s)), stable on both sides.
                f += wt(r) * if s > 0.0 { (-s).exp().ln_1p() } else { -s + s.exp().ln_1p() };
            }
            f
        };
        let mut w = vec![0.0; m];
        let mut f = loss(&w);
        for _ in 0..200 {
            // Gradient and Hessian.
            let mut g = vec![0.0; m];
            let mut h = vec![0.0; m * m];
            for r in 0..n {
                let row = &z[r * k..(r + 1) * k];
                let p = sigmoid(dot(row, &w[..k]) + w[k]);
                let e = wt(r) * (p - if y[r] { 1.0 } else { 0.0 });
                let d = wt(r) * p * (1.0 - p);
                for a in 0..m {
                    let xa = if a < k { row[a] } else { 1.0 };
                    g[a] += e * xa;
                    for b in a..m {
                        let xb = if b < k { row[b] } else { 1.0 };
                        h[a * m + b] += d * xa * xb;
                    }
                }
            }
            for a in 0..k {
                g[a] += alpha * (w[a] - centre[a]);
                h[a * m + a] += alpha;
            }
            for a in 0..m {
                for b in 0..a {
                    h[a * m + b] = h[b * m + a];
                }
            }
            // Bound variables pushed outwards stay where they are.
            let held: Vec<bool> = (0..m).map(|a| a < k && nonneg[a] && w[a] <= 1e-12 && g[a] > 0.0).collect();
            let projected: f64 = (0..m).filter(|a| !held[*a]).map(|a| g[a] * g[a]).sum::<f64>().sqrt();
            if projected <= 1e-9 * n as f64 {
                break;
            }
            let free: Vec<usize> = (0..m).filter(|a| !held[*a]).collect();
            let hf: Vec<f64> =
                free.iter().flat_map(|&a| free.iter().map(move |&b| (a, b))).map(|(a, b)| h[a * m + b]).collect();
            let gf: Vec<f64> = free.iter().map(|&a| -g[a]).collect();
            let Some(step) = cholesky_solve(&hf, &gf, free.len()) else {
                return Err(LearnError::Fit("Hessian is not positive definite".into()));
            };
            let mut dir = vec![0.0; m];
            for (i, &a) in free.iter().enumerate() {
                dir[a] = step[i];
            }
            // Backtracking along the projected arc (Armijo).
            let mut t = 1.0;
            let mut moved = false;
            for _ in 0..40 {
                let next: Vec<f64> = (0..m)
                    .map(|a| {
                        let v = w[a] + t * dir[a];
                        if a < k && nonneg[a] { v.max(0.0) } else { v }
                    })
                    .collect();
                let fn_ = loss(&next);
                let decrease: f64 = (0..m).map(|a| g[a] * (next[a] - w[a])).sum();
                if fn_ <= f + 1e-4 * decrease {
                    moved = (f - fn_).abs() > 1e-14 * f.abs().max(1.0);
                    w = next;
                    f = fn_;
                    break;
                }
                t *= 0.5;
            }
            if !moved {
                break;
            }
        }
        let weights: Vec<f64> = (0..k).map(|j| w[j] / sd[j]).collect();
        let intercept = w[k] - (0..k).map(|j| w[j] * mean[j] / sd[j]).sum::<f64>();
        Ok(Logistic { weights, intercept })
    }

    pub fn predict(&self, row: &[f64]) -> f64 {
        sigmoid(row.iter().zip(&self.weights).map(|(x, w)| x * w).sum::<f64>() + self.intercept)
    }

    /// The model as ONNX (`features` [N, k] → `probability` [N, 1]).
    pub fn to_onnx(&self, metadata: &[(&str, &str)]) -> Vec<u8> {
        let w: Vec<f32> = self.weights.iter().map(|v| *v as f32).collect();
        crate::onnx::logistic(&w, self.intercept as f32).to_model(env!("CARGO_PKG_VERSION"), metadata)
    }
}

/// Column means and standard deviations (1 for a constant column).
fn moments(x: &[f64], n: usize, k: usize) -> (Vec<f64>, Vec<f64>) {
    let mut mean = vec![0.0; k];
    let mut sd = vec![0.0; k];
    for r in 0..n {
        for j in 0..k {
            mean[j] += x[r * k + j] / n as f64;
        }
    }
    for r in 0..n {
        for j in 0..k {
            sd[j] += (x[r * k + j] - mean[j]).powi(2) / n as f64;
        }
    }
    (mean, sd.into_iter().map(|v| if v > 1e-12 { v.sqrt() } else { 1.0 }).collect())
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Solves `A x = b` for a symmetric positive definite `A` (`m × m`, row-major)
/// by Cholesky; `None` when `A` is not positive definite.
fn cholesky_solve(a: &[f64], b: &[f64], m: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; m * m];
    for i in 0..m {
        for j in 0..=i {
            let s = a[i * m + j] - (0..j).map(|p| l[i * m + p] * l[j * m + p]).sum::<f64>();
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * m + i] = s.sqrt();
            } else {
                l[i * m + j] = s / l[j * m + j];
            }
        }
    }
    let mut v = vec![0.0; m];
    for i in 0..m {
        v[i] = (b[i] - (0..i).map(|p| l[i * m + p] * v[p]).sum::<f64>()) / l[i * m + i];
    }
    let mut x = vec![0.0; m];
    for i in (0..m).rev() {
        x[i] = (v[i] - (i + 1..m).map(|p| l[p * m + i] * x[p]).sum::<f64>()) / l[i * m + i];
    }
    Some(x)
}
