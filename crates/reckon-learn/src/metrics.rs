//! Metrics of scores against labels: ROC-AUC, average precision, Brier score,
//! log loss and a reliability table (calibration).

/// Area under the ROC curve (ties count half).
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut v: Vec<(f64, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut rank_sum, mut i) = (0.0, 0);
    let pos = labels.iter().filter(|b| **b).count() as f64;
    let neg = labels.len() as f64 - pos;
    while i < v.len() {
        let mut j = i;
        while j < v.len() && v[j].0 == v[i].0 {
            j += 1;
        }
        let avg_rank = (i + j + 1) as f64 / 2.0;
        rank_sum += avg_rank * v[i..j].iter().filter(|x| x.1).count() as f64;
        i = j;
    }
    if pos == 0.0 || neg == 0.0 { f64::NAN } else { (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg) }
}

/// Average precision (area under precision–recall, step-wise).
pub fn average_precision(scores: &[f64], labels: &[bool]) -> f64 {
    let mut v: Vec<(f64, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    v.sort_by(|a, b| b.0.total_cmp(&a.0));
    let pos = labels.iter().filter(|b| **b).count() as f64;
    let (mut tp, mut ap) = (0.0, 0.0);
    for (i, (_, y)) in v.iter().enumerate() {
        if *y {
            tp += 1.0;
            ap += tp / (i + 1) as f64;
        }
    }
    if pos == 0.0 { f64::NAN } else { ap / pos }
}

pub fn brier(p: &[f64], labels: &[bool]) -> f64 {
    p.iter().zip(labels).map(|(p, y)| (p - if *y { 1.0 } else { 0.0 }).powi(2)).sum::<f64>() / p.len().max(1) as f64
}

/// Reliability: per probability decile (count, mean predicted, observed rate).
pub fn reliability(p: &[f64], labels: &[bool], bins: usize) -> Vec<(usize, f64, f64)> {
    let mut acc = vec![(0usize, 0.0f64, 0.0f64); bins];
    for (pi, y) in p.iter().zip(labels) {
        let b = ((pi * bins as f64) as usize).min(bins - 1);
        acc[b].0 += 1;
        acc[b].1 += pi;
        acc[b].2 += if *y { 1.0 } else { 0.0 };
    }
    acc.into_iter()
        .map(|(n, s, o)| (n, if n > 0 { s / n as f64 } else { 0.0 }, if n > 0 { o / n as f64 } else { 0.0 }))
        .collect()
}

/// Expected calibration error over `bins` equal-width bins.
pub fn ece(p: &[f64], labels: &[bool], bins: usize) -> f64 {
    let n = p.len().max(1) as f64;
    reliability(p, labels, bins).iter().map(|(c, m, o)| *c as f64 / n * (m - o).abs()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_and_ap_on_known_cases() {
        assert_eq!(roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]), 0.75);
        assert_eq!(roc_auc(&[1.0, 2.0], &[false, true]), 1.0);
        let ap = average_precision(&[0.9, 0.8, 0.7], &[true, false, true]);
        assert!((ap - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        assert!(brier(&[1.0, 0.0], &[true, false]) == 0.0);
    }

    #[test]
    fn auc_counts_ties_half_and_is_undefined_for_one_class() {
        // One positive and one negative at the same score: 0.5.
        assert_eq!(roc_auc(&[0.3, 0.3], &[true, false]), 0.5);
        // Positive 0.5 ties one of two negatives (0.5) and beats the other (0.2): (0.5 + 1) / 2.
        assert_eq!(roc_auc(&[0.5, 0.5, 0.2], &[true, false, false]), 0.75);
        // Perfectly wrong ranking.
        assert_eq!(roc_auc(&[0.9, 0.1], &[false, true]), 0.0);
        assert!(roc_auc(&[0.1, 0.2], &[true, true]).is_nan());
        assert!(roc_auc(&[0.1, 0.2], &[false, false]).is_nan());
        assert!(roc_auc(&[], &[]).is_nan());
    }

    #[test]
    fn average_precision_by_hand() {
        // Ranking + - + -: precision at the positives 1/1 and 2/3.
        let ap = average_precision(&[0.9, 0.8, 0.7, 0.6], &[true, false, true, false]);
        assert!((ap - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        // Positives last: 1/3 and 2/4.
        let ap = average_precision(&[0.9, 0.8, 0.7, 0.6], &[false, false, true, true]);
        assert!((ap - (1.0 / 3.0 + 0.5) / 2.0).abs() < 1e-12);
        assert_eq!(average_precision(&[0.2, 0.1], &[true, true]), 1.0);
        assert!(average_precision(&[0.2, 0.1], &[false, false]).is_nan());
    }

    #[test]
    fn brier_reliability_and_ece_by_hand() {
        // (0.8-1)² + (0.4-0)² = 0.04 + 0.16 → mean 0.1.
        assert!((brier(&[0.8, 0.4], &[true, false]) - 0.1).abs() < 1e-12);
        assert_eq!(brier(&[], &[]), 0.0);
        // Two bins: [0, 0.5) holds 0.1 (no) and 0.3 (yes); [0.5, 1] holds 0.7 (yes) and 1.0 (yes).
        let p = [0.1, 0.3, 0.7, 1.0];
        let y = [false, true, true, true];
        let r = reliability(&p, &y, 2);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].0, 2);
        assert!((r[0].1 - 0.2).abs() < 1e-12 && (r[0].2 - 0.5).abs() < 1e-12);
        assert_eq!(r[1].0, 2);
        assert!((r[1].1 - 0.85).abs() < 1e-12 && (r[1].2 - 1.0).abs() < 1e-12);
        // ECE = 2/4·|0.2-0.5| + 2/4·|0.85-1| = 0.15 + 0.075.
        assert!((ece(&p, &y, 2) - 0.225).abs() < 1e-12);
        // An empty bin counts nothing; perfectly calibrated extremes give 0.
        assert_eq!(ece(&[0.0, 1.0], &[false, true], 10), 0.0);
        assert_eq!(reliability(&[], &[], 3), vec![(0, 0.0, 0.0); 3]);
    }
}
