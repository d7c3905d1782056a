//! Population stability against a training reference: zero on the training rows
//! themselves, a hand-computed value on a known shift, the moved features named,
//! the same counts in any order, and bad references refused.

use reckon_monitor::{DriftLimits, Histogram, Reference, psi};

fn rows(n: usize, shift: f32) -> (Vec<f32>, Vec<f32>) {
    // Feature a: uniform 0..10 (+ shift); b: binary, one row in four; score: a / 10.
    let mut x = Vec::new();
    let mut s = Vec::new();
    for i in 0..n {
        let a = (i % 100) as f32 / 10.0 + shift;
        x.extend([a, if i % 4 == 0 { 1.0 } else { 0.0 }]);
        s.push((a / 10.0).min(1.0));
    }
    (x, s)
}

#[test]
fn the_training_rows_have_not_moved() {
    let (x, s) = rows(1000, 0.0);
    let r = Reference::fit(&["a", "b"], &x, &s).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.features[0].edges.len(), 9, "deciles of a continuous feature");
    // A binary feature: 0 and 1 each a bin alone, and between them a bin no
    // training row fell in (a value there at run time is new).
    assert_eq!(r.features[1].edges, vec![0.0, 1f32.next_down()], "{:?}", r.features[1]);
    assert_eq!(r.features[1].shares, vec![0.75, 0.0, 0.25]);
    let mut h = Histogram::new(&r);
    h.add(&r, &x, &s);
    let d = h.drift(&r, &DriftLimits::default());
    assert!(d.features.iter().all(|c| c.psi == 0.0 && c.outside_range == 0.0), "{d:?}");
    assert!(d.moved.is_empty() && !d.score_moved);
}

#[test]
fn a_shift_is_measured_and_named() {
    let (x, s) = rows(1000, 0.0);
    let r = Reference::fit(&["a", "b"], &x, &s).unwrap_or_else(|e| panic!("{e}"));
    let (x2, s2) = rows(1000, 3.0);
    let mut h = Histogram::new(&r);
    h.add(&r, &x2, &s2);
    let d = h.drift(&r, &DriftLimits::default());
    assert_eq!(d.moved, vec!["a".to_string()], "{d:?}");
    assert!(d.features[0].psi > 1.0, "{d:?}");
    assert!((d.features[0].outside_range - 0.3).abs() < 1e-9, "a + 3 lies above 9.9 in 30 % of rows: {d:?}");
    assert_eq!(d.features[1].psi, 0.0);
    assert!(d.score_moved);
    assert!(d.describe().starts_with("a (PSI "), "{}", d.describe());
    // Too few rows: measured, not judged.
    let mut few = Histogram::new(&r);
    few.add(&r, &x2[..200], &s2[..100]);
    let d = few.drift(&r, &DriftLimits::default());
    assert!(d.moved.is_empty() && !d.score_moved && d.features[0].psi > 1.0, "{d:?}");
}

/// PSI by hand: expected (0.5, 0.5), actual (0.8, 0.2):
/// 0.3·ln(1.6) + (−0.3)·ln(0.4) = 0.141 + 0.275 = 0.4158883…; an empty bin is floored.
/// Rows moving off a value most training rows hold are seen, even when they
/// stay within what would be its decile: a similarity that was 1.0 for nine
/// rows in ten and now is 0.97.
#[test]
fn moving_off_a_point_mass_is_seen() {
    let train: Vec<f32> = (0..1000).map(|i| if i % 10 == 0 { (i % 97) as f32 / 100.0 } else { 1.0 }).collect();
    let r = Reference::fit(&["sim"], &train, &vec![0.5; 1000]).unwrap_or_else(|e| panic!("{e}"));
    let now: Vec<f32> = train.iter().map(|v| if *v == 1.0 { 0.97 } else { *v }).collect();
    let mut h = Histogram::new(&r);
    h.add(&r, &now, &vec![0.5; 1000]);
    let d = h.drift(&r, &DriftLimits::default());
    assert_eq!(d.moved, vec!["sim".to_string()], "{d:?}");
}

#[test]
fn psi_by_hand() {
    let v = psi(&[0.5, 0.5], &[80, 20]);
    assert!((v - (0.3 * 1.6f64.ln() - 0.3 * 0.4f64.ln())).abs() < 1e-12, "{v}");
    assert!(psi(&[0.5, 0.5], &[100, 0]).is_finite());
    assert_eq!(psi(&[0.5, 0.5], &[0, 0]), 0.0);
}

#[test]
fn counts_do_not_depend_on_order_or_chunks() {
    let (x, s) = rows(999, 0.7);
    let r = Reference::fit(&["a", "b"], &rows(1000, 0.0).0, &rows(1000, 0.0).1).unwrap_or_else(|e| panic!("{e}"));
    let mut whole = Histogram::new(&r);
    whole.add(&r, &x, &s);
    let mut parts = Histogram::new(&r);
    for c in (0..999).step_by(100).rev() {
        let end = (c + 100).min(999);
        let mut p = Histogram::new(&r);
        p.add(&r, &x[c * 2..end * 2], &s[c..end]);
        parts.merge(&p);
    }
    assert_eq!(whole, parts);
}

#[test]
fn references_round_trip_and_bad_ones_are_refused() {
    let (x, s) = rows(500, 0.0);
    let r = Reference::fit(&["a", "b"], &x, &s).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    assert!(Reference::read(dir.path()).unwrap_or_else(|e| panic!("{e}")).is_none(), "no file: nothing to compare");
    std::fs::write(dir.path().join("reference.json"), r.to_json()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(Reference::read(dir.path()).unwrap_or_else(|e| panic!("{e}")), Some(r.clone()));
    assert!(r.check_features(&["a".into(), "b".into()]).is_ok());
    assert!(r.check_features(&["b".into(), "a".into()]).is_err());
    let mut bad = r.clone();
    bad.features[0].edges.reverse();
    std::fs::write(dir.path().join("reference.json"), bad.to_json()).unwrap_or_else(|e| panic!("{e}"));
    let e = Reference::read(dir.path()).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("column a"), "{e}");
    std::fs::write(dir.path().join("reference.json"), "{").unwrap_or_else(|e| panic!("{e}"));
    assert!(Reference::read(dir.path()).is_err());
    assert!(Reference::fit(&["a"], &[f32::NAN], &[0.5]).is_err(), "a value that is not finite");
    assert!(Reference::fit(&["a", "b"], &[1.0], &[0.5]).is_err(), "ragged rows");
}
