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
        let sd: Vec<f64> = sd.into_iter().map(|v| if v > 1e-12 { v.sqrt() } else { 1.0 }).collect();
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

    pub fn predict(&self, row: &[f64]) -> f64 {
        sigmoid(row.iter().zip(&self.weights).map(|(x, w)| x * w).sum::<f64>() + self.intercept)
    }

    /// The model as ONNX (`features` [N, k] → `probability` [N, 1]).
    pub fn to_onnx(&self, metadata: &[(&str, &str)]) -> Vec<u8> {
        let w: Vec<f32> = self.weights.iter().map(|v| *v as f32).collect();
        crate::onnx::logistic(&w, self.intercept as f32).to_model(env!("CARGO_PKG_VERSION"), metadata)
    }
}
