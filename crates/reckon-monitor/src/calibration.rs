//! Calibration in the field: the probability a model gave the proposals people
//! decided, against the share of them people found right.
//!
//! A model is calibrated when, of the proposals it scores 0.9, nine in ten are
//! right. People's decisions on the proposals in review say how many were: per
//! probability band, the decided proposals' mean probability against the share
//! found right. A band has moved when it holds at least `min_labels` decisions,
//! the two differ by more than `gap`, and the mean probability lies outside the
//! Wilson score interval of the share found right at 99 % (z = 2.576; Wilson,
//! *Probable inference, the law of succession, and statistical inference*,
//! JASA 22, 1927) — a difference the decisions establish, not noise of a few.

use serde::{Deserialize, Serialize};

/// The probability bands the decisions are counted in: [lo, hi).
pub const BANDS: [(f64, f64); 5] = [(0.0, 0.5), (0.5, 0.8), (0.8, 0.95), (0.95, 0.99), (0.99, 1.0)];

/// z of the two-sided 99 % Wilson interval.
pub const Z_99: f64 = 2.576;

/// One decided proposal: the probability the model gave it, and whether
/// people found it right.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decided {
    pub probability: f64,
    pub right: bool,
}

/// One band's decisions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BandCalibration {
    /// The band as `lo–hi`.
    pub band: String,
    pub decided: u64,
    pub mean_probability: f64,
    pub found_right: f64,
    /// The 99 % Wilson interval of `found_right`.
    pub lower: f64,
    pub upper: f64,
    pub moved: bool,
}

/// A model's calibration on the newest decisions on its proposals (the
/// manifest's `models[].calibration`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub decided: u64,
    /// Bands holding decisions, lowest first.
    pub bands: Vec<BandCalibration>,
    /// Bands beyond the limits.
    pub moved: Vec<String>,
}

impl Calibration {
    /// The bands that moved with their figures.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .bands
            .iter()
            .filter(|b| b.moved)
            .map(|b| {
                format!(
                    "proposals scored {}: {} decided, mean probability {:.3}, found right {:.3} (99 % interval {:.3}–{:.3})",
                    b.band, b.decided, b.mean_probability, b.found_right, b.lower, b.upper
                )
            })
            .collect();
        parts.join("; ")
    }
}

/// The Wilson score interval of `k` successes in `n` at `z`.
pub fn wilson(k: u64, n: u64, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Calibration of `decided` (in any order: the figures are sums) against the
/// limits: `gap` between mean probability and share found right, and
/// `min_labels` decisions in a band before it is judged.
pub fn calibration(decided: &[Decided], gap: f64, min_labels: u64) -> Calibration {
    let mut bands = Vec::new();
    let mut moved = Vec::new();
    for (i, (lo, hi)) in BANDS.iter().enumerate() {
        let last = i + 1 == BANDS.len();
        let in_band: Vec<&Decided> =
            decided.iter().filter(|d| d.probability >= *lo && (d.probability < *hi || last)).collect();
        if in_band.is_empty() {
            continue;
        }
        let n = in_band.len() as u64;
        let right = in_band.iter().filter(|d| d.right).count() as u64;
        // Summed in a fixed order (sorted), so the mean is the same whatever
        // order the decisions came in.
        let mut p: Vec<f64> = in_band.iter().map(|d| d.probability).collect();
        p.sort_by(f64::total_cmp);
        let mean = p.iter().sum::<f64>() / n as f64;
        let found = right as f64 / n as f64;
        let (lower, upper) = wilson(right, n, Z_99);
        let is_moved = n >= min_labels && (mean - found).abs() > gap && !(lower..=upper).contains(&mean);
        let band = format!("{lo:.2}–{hi:.2}");
        if is_moved {
            moved.push(band.clone());
        }
        bands.push(BandCalibration {
            band,
            decided: n,
            mean_probability: round6(mean),
            found_right: round6(found),
            lower: round6(lower),
            upper: round6(upper),
            moved: is_moved,
        });
    }
    Calibration { decided: decided.len() as u64, bands, moved }
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decided(p: f64, n: usize, right: usize) -> Vec<Decided> {
        (0..n).map(|i| Decided { probability: p, right: i < right }).collect()
    }

    #[test]
    fn wilson_matches_its_textbook_values() {
        // 81 of 263 at 95 %: 0.2553–0.3662 (Newcombe, Stat. Med. 17, 1998, table I).
        let (lo, hi) = wilson(81, 263, 1.96);
        assert!((lo - 0.2553).abs() < 5e-4 && (hi - 0.3662).abs() < 5e-4, "{lo} {hi}");
        assert_eq!(wilson(0, 0, Z_99), (0.0, 1.0));
    }

    #[test]
    fn a_band_moves_only_when_the_decisions_establish_it() {
        // Scored 0.97, found right 97 of 100: calibrated.
        let c = calibration(&decided(0.97, 100, 97), 0.10, 50);
        assert!(c.moved.is_empty(), "{c:?}");
        // Found right 60 of 100: moved, and described.
        let c = calibration(&decided(0.97, 100, 60), 0.10, 50);
        assert_eq!(c.moved, ["0.95–0.99"]);
        assert!(c.describe().contains("100 decided, mean probability 0.970, found right 0.600"), "{}", c.describe());
        // The same share on 20 decisions: too few to judge.
        assert!(calibration(&decided(0.97, 20, 12), 0.10, 50).moved.is_empty());
        // A gap within the limit, though significant on many: not moved.
        assert!(calibration(&decided(0.97, 5000, 4500), 0.10, 50).moved.is_empty());
        // 1.0 is in the top band; order does not change the figures.
        let mut d = decided(1.0, 60, 30);
        let a = calibration(&d, 0.10, 50);
        d.reverse();
        assert_eq!(a, calibration(&d, 0.10, 50));
        assert_eq!(a.moved, ["0.99–1.00"]);
    }
}
