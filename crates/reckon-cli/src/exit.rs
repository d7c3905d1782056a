//! The exit codes of every `reckon` command (documented in `docs/data-contract.md`).

use reckon_pipeline::RunStatus;

pub const OK: i32 = 0;
pub const FAILED: i32 = 1;
pub const USAGE: i32 = 2;
pub const REFUSED_INPUT: i32 = 3;
/// The run completed but some exceptions could not be delivered to a configured
/// sink (they are in `outbox/<sink>/dead_letter.jsonl`; `reckon feed replay`).
pub const FEED_UNDELIVERED: i32 = 4;
/// `reckon retrain`: a new challenger was trained and scores in shadow.
pub const RETRAIN_CHALLENGER: i32 = 5;
/// `reckon retrain`: nothing to do yet (too few decisions).
pub const RETRAIN_WAITING: i32 = 6;

/// The exit code of a run that completed.
pub fn of_run(status: RunStatus) -> i32 {
    match status {
        RunStatus::Complete => OK,
        RunStatus::InputRefused => REFUSED_INPUT,
        RunStatus::FeedUndelivered => FEED_UNDELIVERED,
    }
}
