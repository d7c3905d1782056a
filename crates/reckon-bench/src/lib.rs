//! reckon-bench: holds the workspace's criterion benchmarks (`benches/*.rs`).
//!
//! Run them with `cargo bench -p reckon-bench`. The end-to-end benchmark at scale
//! is `reckon bench --scale N` (see README).
