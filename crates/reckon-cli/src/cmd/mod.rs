//! One module per command (or family of commands), each with a documented
//! entry function that `main`'s dispatch calls; commands call library APIs only.

pub mod bench;
pub mod data;
pub mod eval;
pub mod features;
pub mod feed;
pub mod models;
pub mod run;
pub mod state;
pub mod train;
