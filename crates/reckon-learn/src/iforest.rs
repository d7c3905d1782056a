//! Isolation forest (Liu, Ting & Zhou 2008) trained in Rust, and its export as
//! ONE `ai.onnx.ml` TreeEnsembleRegressor: every leaf holds its depth plus the
//! expected depth of the points it still holds (`c(size)`), the ensemble
//! averages them to the mean path length `E[h(x)]`, and two plain nodes turn
//! that into the anomaly score `2^(−E[h(x)] / c(ψ))` (higher = more anomalous),
//! the same number [`IsolationForest::score`] computes.

use crate::onnx::{Attr, Elem, Graph, Node};

/// Settings.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Params {
    pub trees: usize,
    /// Sub-sample size ψ per tree.
    pub sample: usize,
    pub seed: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params { trees: 100, sample: 256, seed: 42 }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
enum TreeNode {
    Split { feature: usize, threshold: f32, left: usize, right: usize },
    Leaf { size: usize, depth: usize },
}

/// A fitted forest.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IsolationForest {
    trees: Vec<Vec<TreeNode>>,
    pub features: usize,
    pub sample: usize,
}

/// Average path length of an unsuccessful BST search among n points.
pub fn c(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + 0.577_215_664_901_532_9) - 2.0 * (n - 1.0) / n
        }
    }
}

/// The forest's sampler: SplitMix64 with `usize` helpers.
struct Rng(reckon_core::rng::SplitMix64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0.below(n.max(1) as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        self.0.unit()
    }
}

impl IsolationForest {
    /// Fits on `n` rows of `k` features (row-major).
    pub fn fit(x: &[f32], k: usize, p: &Params) -> Result<IsolationForest, crate::LearnError> {
        if k == 0 || !x.len().is_multiple_of(k) || x.is_empty() {
            return Err(crate::LearnError::Data(format!("{} values are not rows of {k} features", x.len())));
        }
        let n = x.len() / k;
        let psi = p.sample.min(n).max(2);
        let limit = (psi as f64).log2().ceil() as usize;
        let mut rng = Rng(reckon_core::rng::SplitMix64::new(p.seed ^ 0xA5A5_5A5A));
        let mut trees = Vec::with_capacity(p.trees);
        for _ in 0..p.trees {
            // Sample without replacement (partial Fisher–Yates).
            let mut idx: Vec<usize> = (0..n).collect();
            for i in 0..psi.min(n) {
                let j = i + rng.below(n - i);
                idx.swap(i, j);
            }
            idx.truncate(psi.min(n));
            let mut nodes = Vec::new();
            build(x, k, idx, 0, limit, &mut rng, &mut nodes);
            trees.push(nodes);
        }
        Ok(IsolationForest { trees, features: k, sample: psi })
    }

    /// Mean path length of one row.
    pub fn path_length(&self, row: &[f32]) -> f64 {
        let mut total = 0.0;
        for t in &self.trees {
            let mut i = 0;
            loop {
                match &t[i] {
                    TreeNode::Split { feature, threshold, left, right } => {
                        i = if row[*feature] < *threshold { *left } else { *right };
                    }
                    TreeNode::Leaf { size, depth } => {
                        total += *depth as f64 + c(*size);
                        break;
                    }
                }
            }
        }
        total / self.trees.len().max(1) as f64
    }

    /// Anomaly score in (0, 1]: `2^(−E[h]/c(ψ))`.
    pub fn score(&self, row: &[f32]) -> f64 {
        2f64.powf(-self.path_length(row) / c(self.sample))
    }

    /// The forest as ONNX: `features` [N, k] → `score` [N, 1] (and `path_length`).
    pub fn to_onnx(&self, metadata: &[(&str, &str)]) -> Vec<u8> {
        let (mut tree_ids, mut node_ids, mut feat, mut vals, mut modes, mut t_ids, mut f_ids) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        let (mut tt, mut tn, mut tid, mut tw) = (vec![], vec![], vec![], vec![]);
        for (ti, t) in self.trees.iter().enumerate() {
            for (ni, node) in t.iter().enumerate() {
                tree_ids.push(ti as i64);
                node_ids.push(ni as i64);
                match node {
                    TreeNode::Split { feature, threshold, left, right } => {
                        feat.push(*feature as i64);
                        vals.push(*threshold);
                        modes.push("BRANCH_LT".to_string());
                        t_ids.push(*left as i64);
                        f_ids.push(*right as i64);
                    }
                    TreeNode::Leaf { size, depth } => {
                        feat.push(0);
                        vals.push(0.0);
                        modes.push("LEAF".to_string());
                        t_ids.push(0);
                        f_ids.push(0);
                        tt.push(ti as i64);
                        tn.push(ni as i64);
                        tid.push(0);
                        tw.push((*depth as f64 + c(*size)) as f32);
                    }
                }
            }
        }
        let ens = Node::new("TreeEnsembleRegressor", &["features"], &["path_length"])
            .ml()
            .attr("n_targets", Attr::Int(1))
            .attr("aggregate_function", Attr::Str("AVERAGE".into()))
            .attr("post_transform", Attr::Str("NONE".into()))
            .attr("nodes_treeids", Attr::Ints(tree_ids))
            .attr("nodes_nodeids", Attr::Ints(node_ids))
            .attr("nodes_featureids", Attr::Ints(feat))
            .attr("nodes_values", Attr::Floats(vals))
            .attr("nodes_modes", Attr::Strs(modes))
            .attr("nodes_truenodeids", Attr::Ints(t_ids))
            .attr("nodes_falsenodeids", Attr::Ints(f_ids))
            .attr("target_treeids", Attr::Ints(tt))
            .attr("target_nodeids", Attr::Ints(tn))
            .attr("target_ids", Attr::Ints(tid))
            .attr("target_weights", Attr::Floats(tw));
        let k = self.features as i64;
        let g = Graph {
            name: "reckon_isolation_forest".into(),
            nodes: vec![
                ens,
                Node::new("Mul", &["path_length", "neg_inv_c"], &["exponent"]),
                Node::new("Pow", &["two", "exponent"], &["score"]),
            ],
            float_inits: vec![
                ("neg_inv_c".into(), vec![1], vec![(-1.0 / c(self.sample)) as f32]),
                ("two".into(), vec![1], vec![2.0]),
            ],
            int_inits: vec![],
            inputs: vec![("features".into(), Elem::Float, vec![-1, k])],
            outputs: vec![("score".into(), Elem::Float, vec![-1, 1]), ("path_length".into(), Elem::Float, vec![-1, 1])],
        };
        g.to_model(env!("CARGO_PKG_VERSION"), metadata)
    }
}

fn build(
    x: &[f32],
    k: usize,
    idx: Vec<usize>,
    depth: usize,
    limit: usize,
    rng: &mut Rng,
    nodes: &mut Vec<TreeNode>,
) -> usize {
    let me = nodes.len();
    nodes.push(TreeNode::Leaf { size: idx.len(), depth });
    if idx.len() <= 1 || depth >= limit {
        return me;
    }
    // A random feature with spread among these points, a random cut inside it.
    let mut tries = 0;
    while tries < 2 * k {
        tries += 1;
        let f = rng.below(k);
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for &i in &idx {
            let v = x[i * k + f];
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
            continue;
        }
        let t = lo + (rng.unit() as f32) * (hi - lo);
        let t = if t <= lo { lo + (hi - lo) * 0.5 } else { t };
        let (l, r): (Vec<usize>, Vec<usize>) = idx.iter().partition(|&&i| x[i * k + f] < t);
        if l.is_empty() || r.is_empty() {
            continue;
        }
        let left = build(x, k, l, depth + 1, limit, rng, nodes);
        let right = build(x, k, r, depth + 1, limit, rng, nodes);
        nodes[me] = TreeNode::Split { feature: f, threshold: t, left, right };
        return me;
    }
    me
}
