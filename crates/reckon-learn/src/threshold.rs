//! Choosing a model's operating threshold on held-out scores: one rule type
//! for every engine.
//!
//! A rule is checked ([`ThresholdRule::check`]) and then applied to held-out
//! scores and labels ([`CheckedRule::choose`]). Every distinct score is a
//! candidate cut, so the search covers the whole score range; the threshold
//! written into a model sits halfway between the lowest score kept and the
//! highest score left out (or at the lowest score when everything is kept), so
//! it does not sit on one validation row. A precision target that no cut
//! reaches is an error that carries the best cut there is, never a silent
//! threshold of 1.0.

use serde::Serialize;

/// How a threshold is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum ThresholdRule {
    /// The lowest cut whose precision is at least `target`, judged by the
    /// Wilson score lower bound at `z` standard errors (one-sided; `z = 0` is
    /// the point estimate), so a few lucky rows cannot carry a cut — and never
    /// below `floor`, the least score a single row may have to be kept (for a
    /// calibrated probability: how likely each kept row must be right by itself,
    /// however good the rows above it make the set look).
    MinPrecision { target: f64, z: f64, floor: f64 },
    /// The cut with the highest F1 (ties: the higher cut, fewer rows flagged).
    BestF1,
}

/// One-sided 95 % (the z used by `reckon train` unless told otherwise).
pub const Z_95: f64 = 1.645;

/// A rule whose parameters were checked.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CheckedRule(ThresholdRule);

/// A chosen cut and what it measures on the rows it was chosen on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cut {
    pub threshold: f64,
    /// Rows at or above the threshold.
    pub selected: usize,
    /// Positive rows among them.
    pub correct: usize,
    pub precision: f64,
    /// Wilson lower bound of the precision at the rule's z (= precision for BestF1).
    pub precision_lower: f64,
    /// `correct / positives` (positives may include ones no row carries).
    pub recall: f64,
    pub f1: f64,
    /// What set the threshold.
    pub bound_by: Bound,
}

/// What set a threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// The precision target: a lower cut would miss it.
    Precision,
    /// The floor: cuts below it still reach the target on these rows, so they
    /// cannot choose the cut; the floor does.
    Floor,
    /// The best F1.
    F1,
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ThresholdError {
    #[error("threshold rule: {0}")]
    Rule(String),
    #[error("no scores to choose a threshold on")]
    NoScores,
    #[error("{0} scores but {1} labels")]
    Length(usize, usize),
    #[error("score {0} at row {1} is not a finite number")]
    NotFinite(f64, usize),
    #[error(
        "no cut reaches precision {target} (lower bound at z = {z}); the best is {:.6} (lower bound {:.6}) over {} rows at threshold {:.6}",
        best.precision, best.precision_lower, best.selected, best.threshold
    )]
    Unreachable { target: f64, z: f64, best: Cut },
}

impl ThresholdRule {
    /// Checks the rule's parameters: a target in (0, 1], a finite z ≥ 0.
    pub fn check(self) -> Result<CheckedRule, ThresholdError> {
        if let ThresholdRule::MinPrecision { target, z, floor } = self {
            if !floor.is_finite() {
                return Err(ThresholdError::Rule(format!("floor {floor} is not a finite number")));
            }
            if !(target > 0.0 && target <= 1.0) {
                return Err(ThresholdError::Rule(format!("precision target {target} is not in (0, 1]")));
            }
            if !(z.is_finite() && z >= 0.0) {
                return Err(ThresholdError::Rule(format!("z {z} is not a finite number ≥ 0")));
            }
        }
        Ok(CheckedRule(self))
    }
}

/// Wilson score lower bound of `k` successes in `n` trials at `z`.
pub fn wilson_lower(k: usize, n: usize, z: f64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let (n, p) = (n as f64, k as f64 / n as f64);
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let spread = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - spread) / (1.0 + z2 / n)).max(0.0)
}

impl CheckedRule {
    pub fn rule(&self) -> ThresholdRule {
        self.0
    }

    /// Chooses the cut on `scores` with `labels` (true = the row is right);
    /// `positives` is the number of positives in all (for recall and F1; rows
    /// can miss positives the scorer never saw).
    pub fn choose(&self, scores: &[f64], labels: &[bool], positives: usize) -> Result<Cut, ThresholdError> {
        let cuts = cuts(scores, labels, positives, self.z())?;
        match self.0 {
            ThresholdRule::MinPrecision { target, z, floor } => {
                if let Some(c) = cuts.iter().rev().find(|c| c.precision_lower >= target) {
                    if c.threshold >= floor {
                        return Ok(c.clone());
                    }
                    return Ok(at_floor(scores, labels, positives, z, floor));
                }
                let best = cuts
                    .iter()
                    .max_by(|a, b| a.precision_lower.total_cmp(&b.precision_lower).then(a.selected.cmp(&b.selected)))
                    .cloned()
                    .ok_or(ThresholdError::NoScores)?;
                Err(ThresholdError::Unreachable { target, z, best })
            }
            ThresholdRule::BestF1 => {
                // First maximum in descending-score order = the higher cut on ties.
                let mut best: Option<&Cut> = None;
                for c in &cuts {
                    if best.is_none_or(|b| c.f1 > b.f1) {
                        best = Some(c);
                    }
                }
                best.cloned().map(|c| Cut { bound_by: Bound::F1, ..c }).ok_or(ThresholdError::NoScores)
            }
        }
    }

    fn z(&self) -> f64 {
        match self.0 {
            ThresholdRule::MinPrecision { z, .. } => z,
            ThresholdRule::BestF1 => 0.0,
        }
    }
}

/// The cut at exactly `floor`.
fn at_floor(scores: &[f64], labels: &[bool], positives: usize, z: f64, floor: f64) -> Cut {
    let (mut n, mut ok) = (0usize, 0usize);
    for (s, y) in scores.iter().zip(labels) {
        if *s >= floor {
            n += 1;
            ok += usize::from(*y);
        }
    }
    let precision = if n == 0 { 1.0 } else { ok as f64 / n as f64 };
    Cut {
        threshold: floor,
        selected: n,
        correct: ok,
        precision,
        precision_lower: if z == 0.0 || n == 0 { precision } else { wilson_lower(ok, n, z) },
        recall: if positives == 0 { 0.0 } else { ok as f64 / positives as f64 },
        f1: if n + positives == 0 { 0.0 } else { 2.0 * ok as f64 / (n + positives) as f64 },
        bound_by: Bound::Floor,
    }
}

/// Every cut, from the highest score down: after each group of equal scores.
fn cuts(scores: &[f64], labels: &[bool], positives: usize, z: f64) -> Result<Vec<Cut>, ThresholdError> {
    if scores.len() != labels.len() {
        return Err(ThresholdError::Length(scores.len(), labels.len()));
    }
    if scores.is_empty() {
        return Err(ThresholdError::NoScores);
    }
    if let Some((i, s)) = scores.iter().enumerate().find(|(_, s)| !s.is_finite()) {
        return Err(ThresholdError::NotFinite(*s, i));
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let mut out = Vec::new();
    let (mut n, mut ok, mut i) = (0usize, 0usize, 0usize);
    while i < order.len() {
        let s = scores[order[i]];
        while i < order.len() && scores[order[i]] == s {
            n += 1;
            ok += usize::from(labels[order[i]]);
            i += 1;
        }
        let threshold = if i < order.len() { (s + scores[order[i]]) / 2.0 } else { s };
        let precision = ok as f64 / n as f64;
        let recall = if positives == 0 { 0.0 } else { ok as f64 / positives as f64 };
        out.push(Cut {
            threshold,
            selected: n,
            correct: ok,
            precision,
            precision_lower: if z == 0.0 { precision } else { wilson_lower(ok, n, z) },
            recall,
            f1: if n + positives == 0 { 0.0 } else { 2.0 * ok as f64 / (n + positives) as f64 },
            bound_by: Bound::Precision,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn min_prec(target: f64, z: f64) -> CheckedRule {
        ThresholdRule::MinPrecision { target, z, floor: 0.0 }.check().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_floor_binds_when_the_rows_cannot_choose() {
        let s = [0.99, 0.9, 0.6, 0.2];
        let y = [true, true, true, true];
        let r =
            ThresholdRule::MinPrecision { target: 0.9, z: 0.0, floor: 0.5 }.check().unwrap_or_else(|e| panic!("{e}"));
        let c = r.choose(&s, &y, 4).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.threshold, c.selected, c.bound_by), (0.5, 3, Bound::Floor));
        assert!((c.recall - 0.75).abs() < 1e-12);
        // Above the floor the precision target decides.
        let y = [true, true, false, true];
        let c = r.choose(&s, &y, 3).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.selected, c.bound_by), (2, Bound::Precision));
        assert!((c.threshold - 0.75).abs() < 1e-12);
    }

    #[test]
    fn lowest_cut_reaching_the_target_is_chosen_over_the_whole_range() {
        // Scores well below 0.5 still count: the cut may be anywhere.
        let s = [0.9, 0.8, 0.4, 0.3, 0.2, 0.1];
        let y = [true, true, true, true, false, true];
        let c = min_prec(1.0, 0.0).choose(&s, &y, 5).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.selected, c.correct), (4, 4));
        assert!((c.threshold - 0.25).abs() < 1e-12, "{c:?}");
        assert!((c.recall - 0.8).abs() < 1e-12);
        // 5 of 6 = 0.8333 reaches 0.8 at the lowest score: everything kept, cut at the lowest score.
        let c = min_prec(0.8, 0.0).choose(&s, &y, 5).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.selected, c.threshold), (6, 0.1));
    }

    #[test]
    fn unreachable_target_is_an_error_with_the_best_cut() {
        let s = [0.9, 0.8, 0.7];
        let y = [false, true, true];
        match min_prec(0.99, 0.0).choose(&s, &y, 2) {
            Err(ThresholdError::Unreachable { best, .. }) => {
                assert_eq!(best.selected, 3);
                assert!((best.precision - 2.0 / 3.0).abs() < 1e-12);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ties_move_together() {
        // Two rows at 0.5, one right and one wrong: no cut separates them.
        let s = [0.9, 0.5, 0.5];
        let y = [true, true, false];
        let c = min_prec(1.0, 0.0).choose(&s, &y, 2).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.selected, 1);
        assert!((c.threshold - 0.7).abs() < 1e-12);
    }

    #[test]
    fn the_wilson_bound_needs_enough_rows() {
        // 10 of 10 right: point estimate 1.0, lower bound 10 / (10 + z²) = 0.787 at z 1.645.
        let s: Vec<f64> = (0..10).map(|i| 1.0 - f64::from(i) / 100.0).collect();
        let y = vec![true; 10];
        assert!(min_prec(0.95, Z_95).choose(&s, &y, 10).is_err());
        assert!(min_prec(0.95, 0.0).choose(&s, &y, 10).is_ok());
        assert!((wilson_lower(10, 10, Z_95) - 10.0 / (10.0 + Z_95 * Z_95)).abs() < 1e-12);
        // Hand-computed: k = 8, n = 10, z = 1.96 → 0.4902 (Wilson 1927; e.g. Agresti & Coull 1998).
        assert!((wilson_lower(8, 10, 1.96) - 0.490_16).abs() < 1e-4, "{}", wilson_lower(8, 10, 1.96));
        assert_eq!(wilson_lower(0, 0, Z_95), 0.0);
    }

    #[test]
    fn best_f1_sits_in_the_gap_of_a_separable_set() {
        let s = [0.95, 0.9, 0.6, 0.2, 0.1];
        let y = [true, true, true, false, false];
        let c = ThresholdRule::BestF1
            .check()
            .unwrap_or_else(|e| panic!("{e}"))
            .choose(&s, &y, 3)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.selected, c.correct), (3, 3));
        assert!((c.threshold - 0.4).abs() < 1e-12);
        assert_eq!(c.f1, 1.0);
        // A positive the scorer never saw lowers recall and F1, not the cut.
        let c = ThresholdRule::BestF1
            .check()
            .unwrap_or_else(|e| panic!("{e}"))
            .choose(&s, &y, 4)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!((c.f1 - 6.0 / 7.0).abs() < 1e-12 && (c.threshold - 0.4).abs() < 1e-12);
    }

    #[test]
    fn best_f1_prefers_the_higher_cut_on_ties_and_handles_one_class() {
        // Cut after row 1: F1 = 2·1/(1+2) = 0.667; after row 3: 2·2/(3+2) = 0.8; after row 2: 2·1/(2+2) = 0.5.
        let s = [0.9, 0.8, 0.7];
        let y = [true, false, true];
        let c = ThresholdRule::BestF1
            .check()
            .unwrap_or_else(|e| panic!("{e}"))
            .choose(&s, &y, 2)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.selected, 3);
        // All negative: every F1 is 0, the highest cut wins.
        let c = ThresholdRule::BestF1
            .check()
            .unwrap_or_else(|e| panic!("{e}"))
            .choose(&s, &[false; 3], 0)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.selected, 1);
        assert_eq!(c.f1, 0.0);
        // All positive.
        let c = ThresholdRule::BestF1
            .check()
            .unwrap_or_else(|e| panic!("{e}"))
            .choose(&s, &[true; 3], 3)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.selected, c.f1), (3, 1.0));
    }

    #[test]
    fn bad_input_and_bad_rules_are_errors() {
        let r = ThresholdRule::BestF1.check().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.choose(&[], &[], 0), Err(ThresholdError::NoScores));
        assert_eq!(r.choose(&[0.1], &[], 0), Err(ThresholdError::Length(1, 0)));
        assert!(matches!(r.choose(&[f64::NAN], &[true], 1), Err(ThresholdError::NotFinite(..))));
        let mp = |target: f64, z: f64, floor: f64| ThresholdRule::MinPrecision { target, z, floor }.check();
        assert!(mp(0.0, 1.0, 0.0).is_err());
        assert!(mp(1.2, 1.0, 0.0).is_err());
        assert!(mp(0.9, -1.0, 0.0).is_err());
        assert!(mp(f64::NAN, 1.0, 0.0).is_err());
        assert!(mp(0.9, 1.0, f64::INFINITY).is_err());
    }
}
