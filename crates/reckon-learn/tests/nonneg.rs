//! The bounded logistic fit: where no bound is active it reaches linfa's
//! optimum; where the data point a weight below zero it holds it at zero and
//! the rest is optimal (the Karush–Kuhn–Tucker conditions hold).

use reckon_learn::logistic::Logistic;

fn data(n: usize, counter: bool) -> (Vec<f64>, Vec<bool>) {
    let mut s: u64 = 11;
    let mut rnd = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64) / ((1u64 << 53) as f64)
    };
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let (a, b, c) = (rnd() * 4.0, rnd() * 2.0 + 50.0, rnd());
        // The third feature is evidence against the class when `counter`.
        let t = 1.5 * a + 0.8 * (b - 50.0) - if counter { 3.0 * c } else { -0.5 * c } + (rnd() - 0.5) * 3.0;
        x.extend([a, b, c]);
        y.push(t > 3.0);
    }
    (x, y)
}

/// Each feature's standard deviation over `n` rows of `k`.
fn spreads(x: &[f64], n: usize, k: usize) -> Vec<f64> {
    (0..k)
        .map(|j| {
            let mean = (0..n).map(|r| x[r * k + j]).sum::<f64>() / n as f64;
            ((0..n).map(|r| (x[r * k + j] - mean).powi(2)).sum::<f64>() / n as f64).sqrt()
        })
        .collect()
}

/// The objective both fits minimise, on the raw-feature weights (standardising
/// is a change of variables: the L2 term is on standardised weights).
fn objective(m: &Logistic, x: &[f64], y: &[bool], k: usize, alpha: f64) -> f64 {
    let n = y.len();
    let sd = spreads(x, n, k);
    let mut f = 0.5 * alpha * (0..k).map(|j| (m.weights[j] * sd[j]).powi(2)).sum::<f64>();
    for r in 0..n {
        let p = m.predict(&x[r * k..(r + 1) * k]).clamp(1e-300, 1.0 - 1e-16);
        f -= if y[r] { p.ln() } else { (1.0 - p).ln() };
    }
    f
}

#[test]
fn without_active_bounds_it_is_linfas_fit() {
    let (x, y) = data(3000, false);
    let free = Logistic::fit(&x, 3, &y, 1.0).unwrap_or_else(|e| panic!("{e}"));
    assert!(free.weights.iter().all(|w| *w > 0.0), "the problem must have no active bound: {free:?}");
    let bounded = Logistic::fit_nonneg(&x, 3, &y, 1.0, &[true; 3]).unwrap_or_else(|e| panic!("{e}"));
    for (a, b) in free.weights.iter().zip(&bounded.weights) {
        assert!((a - b).abs() <= 1e-3 * a.abs().max(1.0), "{free:?} vs {bounded:?}");
    }
    assert!((free.intercept - bounded.intercept).abs() < 1e-2, "{free:?} vs {bounded:?}");
    // Newton reaches at least linfa's objective.
    assert!(objective(&bounded, &x, &y, 3, 1.0) <= objective(&free, &x, &y, 3, 1.0) + 1e-6);
}

#[test]
fn counter_evidence_is_held_at_zero_and_the_rest_is_optimal() {
    let (x, y) = data(3000, true);
    let free = Logistic::fit(&x, 3, &y, 1.0).unwrap_or_else(|e| panic!("{e}"));
    assert!(free.weights[2] < -1.0, "the data point the third weight below zero: {free:?}");
    let m = Logistic::fit_nonneg(&x, 3, &y, 1.0, &[true; 3]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.weights[2], 0.0, "{m:?}");
    assert!(m.weights[0] > 0.0 && m.weights[1] > 0.0, "{m:?}");
    // Optimal within the bounds: moving a free weight either way, or the held one
    // up, does not lower the objective.
    let f0 = objective(&m, &x, &y, 3, 1.0);
    for j in 0..3 {
        for step in [1e-3, -1e-3] {
            if j == 2 && step < 0.0 {
                continue;
            }
            let mut moved = m.clone();
            moved.weights[j] += step;
            assert!(objective(&moved, &x, &y, 3, 1.0) >= f0 - 1e-9, "weight {j} {step:+}: {m:?}");
        }
    }
    // Unbounded features are free to go below zero.
    let m = Logistic::fit_nonneg(&x, 3, &y, 1.0, &[true, true, false]).unwrap_or_else(|e| panic!("{e}"));
    assert!((m.weights[2] - free.weights[2]).abs() < 1e-3 * free.weights[2].abs(), "{m:?} vs {free:?}");
}

#[test]
fn bad_input_is_an_error() {
    let (x, y) = data(100, false);
    assert!(Logistic::fit_nonneg(&x, 3, &y, 1.0, &[true; 2]).is_err(), "bounds of the wrong length");
    assert!(Logistic::fit_nonneg(&x, 3, &y, 0.0, &[true; 3]).is_err(), "alpha 0");
    assert!(Logistic::fit_nonneg(&x, 3, &[true; 100], 1.0, &[true; 3]).is_err(), "one class");
}

/// A row of weight 2 counts as the row twice; weights of the wrong length or
/// below zero are refused.
#[test]
fn a_weight_counts_as_repeated_rows() {
    let (x, y) = data(600, true);
    let (x2, y2): (Vec<f64>, Vec<bool>) = {
        let mut xs = x.clone();
        let mut ys = y.clone();
        xs.extend_from_slice(&x[..300 * 3]);
        ys.extend_from_slice(&y[..300]);
        (xs, ys)
    };
    let w: Vec<f64> = (0..600).map(|i| if i < 300 { 2.0 } else { 1.0 }).collect();
    let free = [false; 3];
    let a = Logistic::fit_weighted(&x, 3, &y, Some(&w), 1.0, &free).unwrap_or_else(|e| panic!("{e}"));
    let b = Logistic::fit_weighted(&x2, 3, &y2, None, 1.0, &free).unwrap_or_else(|e| panic!("{e}"));
    // The standardisation differs (it is over the rows given), so compare predictions.
    for r in 0..600 {
        let (p, q) = (a.predict(&x[r * 3..r * 3 + 3]), b.predict(&x[r * 3..r * 3 + 3]));
        assert!((p - q).abs() < 0.02, "row {r}: {p} vs {q}");
    }
    assert!(Logistic::fit_weighted(&x, 3, &y, Some(&w[..10]), 1.0, &free).is_err());
    assert!(Logistic::fit_weighted(&x, 3, &y, Some(&vec![-1.0; 600]), 1.0, &free).is_err());
}

/// An anchored fit stays at the anchor when the penalty dominates, reaches the
/// unanchored optimum when it does not, and between the two is the optimum
/// of its own objective (the gradient of `Σ log-loss + α/2 ‖w − a‖²` on
/// standardised features is zero).
#[test]
fn an_anchored_fit_moves_from_the_anchor_as_far_as_the_rows_say() {
    let (x, y) = data(2000, true);
    let k = 3;
    let free = [false; 3];
    let plain = Logistic::fit_weighted(&x, k, &y, None, 1.0, &free).unwrap_or_else(|e| panic!("{e}"));
    let anchor = [0.2, -0.1, 4.0];
    let held = Logistic::fit_toward(&x, k, &y, None, 1e9, &free, Some(&anchor)).unwrap_or_else(|e| panic!("{e}"));
    for j in 0..k {
        assert!((held.weights[j] - anchor[j]).abs() < 1e-4, "{:?} against {anchor:?}", held.weights);
    }
    let none = Logistic::fit_toward(&x, k, &y, None, 1.0, &free, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(none, plain, "no anchor: the plain fit");
    let loose = Logistic::fit_toward(&x, k, &y, None, 1e-6, &free, Some(&anchor)).unwrap_or_else(|e| panic!("{e}"));
    let unpenalised = Logistic::fit_weighted(&x, k, &y, None, 1e-6, &free).unwrap_or_else(|e| panic!("{e}"));
    for j in 0..k {
        assert!((loose.weights[j] - unpenalised.weights[j]).abs() < 1e-3, "{loose:?} / {unpenalised:?}");
    }
    // In between: the gradient of its own objective vanishes.
    let alpha = 50.0;
    let mid = Logistic::fit_toward(&x, k, &y, None, alpha, &free, Some(&anchor)).unwrap_or_else(|e| panic!("{e}"));
    let n = y.len();
    let sd = spreads(&x, n, k);
    for j in 0..k {
        // d/d(w_j sd_j) of the objective: Σ (p − y) x_j / sd_j + α (w_j − a_j) sd_j.
        let data: f64 = (0..n)
            .map(|r| (mid.predict(&x[r * k..(r + 1) * k]) - if y[r] { 1.0 } else { 0.0 }) * x[r * k + j] / sd[j])
            .sum();
        let g = data + alpha * (mid.weights[j] - anchor[j]) * sd[j];
        assert!(g.abs() < 1e-4 * n as f64, "feature {j}: gradient {g}");
    }
    assert!(
        (0..k).any(|j| (mid.weights[j] - anchor[j]).abs() > 1e-3 && (mid.weights[j] - plain.weights[j]).abs() > 1e-3),
        "between the anchor and the plain fit: {mid:?}"
    );
}
