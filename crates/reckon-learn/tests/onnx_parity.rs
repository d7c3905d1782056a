//! A logistic regression trained in Rust and its ONNX export served by ONNX
//! Runtime give the same probabilities (to 1e-5) on held-out rows.

use reckon_learn::logistic::Logistic;
use reckon_onnx::{Model, ModelConfig};

#[test]
fn rust_model_and_its_onnx_export_agree() {
    // A separable-ish synthetic problem: y = [2x0 - x1 + noise > 0.5].
    let mut s: u64 = 7;
    let mut rnd = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64) / ((1u64 << 53) as f64)
    };
    let (n, k) = (2000, 3);
    let mut x = Vec::with_capacity(n * k);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let (a, b, c) = (rnd() * 10.0, rnd() * 3.0 + 100.0, rnd());
        x.extend([a, b, c]);
        y.push(2.0 * a - (b - 100.0) + (rnd() - 0.5) * 4.0 > 5.0);
    }
    let m = Logistic::fit(&x, k, &y, 0.01).unwrap_or_else(|e| panic!("{e}"));
    let acc = (0..n).filter(|&i| (m.predict(&x[i * k..i * k + k]) > 0.5) == y[i]).count() as f64 / n as f64;
    assert!(acc > 0.85, "training accuracy {acc}");
    let bytes = m.to_onnx(&[("purpose", "parity test")]);
    let cfg = ModelConfig {
        name: "parity".into(),
        version: "0.1".into(),
        task: "test".into(),
        feature_spec: "test".into(),
        features: vec!["a".into(), "b".into(), "c".into()],
        input: "features".into(),
        output: "probability".into(),
        output_mapping: "probability".into(),
        thresholds: Default::default(),
        model_sha256: reckon_core::id::sha256_hex(&bytes),
        training_data_sha256: String::new(),
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let model = Model::from_bytes(dir.path(), cfg, &bytes).unwrap_or_else(|e| panic!("{e}"));
    let rows: Vec<f32> = x[..300 * k].iter().map(|v| *v as f32).collect();
    let onnx = model.score(300, &rows).unwrap_or_else(|e| panic!("{e}"));
    let mut worst = 0.0f64;
    for i in 0..300 {
        let r: Vec<f64> = rows[i * k..i * k + k].iter().map(|v| f64::from(*v)).collect();
        worst = worst.max((m.predict(&r) - f64::from(onnx[i])).abs());
    }
    assert!(worst < 1e-5, "Rust and ONNX Runtime differ by {worst}");
}

#[test]
fn isolation_forest_and_its_onnx_tree_ensemble_agree() {
    use reckon_learn::iforest::{IsolationForest, Params};
    let mut s: u64 = 11;
    let mut rnd = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) as f32
    };
    let k = 4;
    let mut x: Vec<f32> = (0..3000 * k).map(|_| rnd()).collect();
    // A few outliers far from the cloud.
    for r in 0..5 {
        x[r * k] = 5.0 + r as f32;
    }
    let f = IsolationForest::fit(&x, k, &Params::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(f.score(&x[0..k]) > f.score(&x[100 * k..101 * k]), "an outlier must score higher");
    let bytes = f.to_onnx(&[]);
    let cfg = forest_config(k, &bytes);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let m = Model::from_bytes(dir.path(), cfg, &bytes).unwrap_or_else(|e| panic!("{e}"));
    let n = 500;
    let onnx = m.score(n, &x[..n * k]).unwrap_or_else(|e| panic!("{e}"));
    let worst = (0..n).map(|i| (f.score(&x[i * k..i * k + k]) - f64::from(onnx[i])).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-5, "Rust and ONNX Runtime isolation-forest scores differ by {worst}");
}

/// Scoring runs in fixed chunks on several sessions: more rows than one chunk,
/// scored with 1 and 4 threads (and as many sessions), give the same bits, and
/// every chunk still agrees with the Rust forest.
#[test]
fn chunked_parallel_scoring_is_the_same_on_any_thread_count() {
    use reckon_learn::iforest::{IsolationForest, Params};
    let mut s: u64 = 5;
    let mut rnd = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) as f32
    };
    let k = 3;
    let n = reckon_onnx::CHUNK_ROWS * 2 + 1234;
    let x: Vec<f32> = (0..n * k).map(|_| rnd()).collect();
    let f = IsolationForest::fit(&x[..3000 * k], k, &Params::default()).unwrap_or_else(|e| panic!("{e}"));
    let bytes = f.to_onnx(&[]);
    let cfg = forest_config(k, &bytes);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let score = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap_or_else(|e| panic!("{e}"));
        pool.install(|| {
            let m = Model::from_bytes(dir.path(), cfg.clone(), &bytes).unwrap_or_else(|e| panic!("{e}"));
            m.score(n, &x).unwrap_or_else(|e| panic!("{e}"))
        })
    };
    let (one, four) = (score(1), score(4));
    assert_eq!(one.len(), n);
    assert!(one.iter().zip(&four).all(|(a, b)| a.to_bits() == b.to_bits()), "scores depend on the thread count");
    let worst =
        (0..n).step_by(97).map(|i| (f.score(&x[i * k..i * k + k]) - f64::from(one[i])).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-5, "Rust and ONNX Runtime scores differ by {worst} across chunks");
}

/// The config of an isolation forest over `k` features exported as ONNX.
fn forest_config(k: usize, bytes: &[u8]) -> ModelConfig {
    ModelConfig {
        name: "if".into(),
        version: "0.1".into(),
        task: "test".into(),
        feature_spec: "test".into(),
        features: (0..k).map(|i| format!("f{i}")).collect(),
        input: "features".into(),
        output: "score".into(),
        output_mapping: "column:0".into(),
        thresholds: Default::default(),
        model_sha256: reckon_core::id::sha256_hex(bytes),
        training_data_sha256: String::new(),
    }
}
