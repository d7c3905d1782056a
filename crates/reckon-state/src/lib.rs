//! reckon-state: what reckon remembers between runs.
//!
//! A [`Store`] is one SQLite file (created on first use, schema upgraded by
//! refinery's versioned migrations in `migrations/`, written in portable SQL so
//! the same migrations serve PostgreSQL). It holds the chain of runs (each names
//! its predecessor and the sha256 of its manifest), every bank entry ever loaded
//! and whether it is open, matched or resolved, the open entries' rows as one
//! Parquet file of the latest run, amounts applied to open items that the
//! receivables snapshot does not show yet (reckon's own as the latest run's
//! Parquet file, a decision's as rows), exceptions with their lifecycle and
//! an event per change (by a run or a decision), the decisions log, and what
//! was learned from decisions (payer aliases, rejected pairs, dismissed
//! duplicates and explained journals).
//!
//! A run reads its [`Memory`] (what is open and what was learned; settled
//! entries and resolved exceptions are looked up by key) at the start and
//! writes its [`RunChanges`] (only what changed) in one transaction
//! ([`Store::start_run`] → [`PendingRun::write_bank`], its [`BankChanges`],
//! as soon as they are known → [`PendingRun::write`] → [`PendingRun::commit`];
//! [`Store::begin_run`] writes all at once); a
//! run that fails or is killed leaves the store as it was. An OS lock on
//! `PATH.lock` (released by the kernel when the process dies) refuses a second
//! process on the same store. Decisions arrive through [`Store::submit`]
//! ([`decision`] reads files of them; [`config::Policy`] says who may decide
//! what); [`lifecycle`] turns a run's exceptions into lifecycle states;
//! [`models`] names each engine's champion and challenger and holds the scores
//! of the proposals people decide on (schema 4) and of the other candidate
//! groups the runs scored (schema 10).

pub mod config;
pub mod decision;
pub mod lifecycle;
pub mod models;
mod sql;
mod store;

pub use config::{DecisionsConfig, Policy, Sla, StateConfig};
pub use decision::{Action, DecisionInput, DecisionStatus, ItemAmount, Received, Unreadable};
pub use reckon_core::{ExceptionKind, ExceptionState};
pub use store::{
    Alias, Application, AuditLine, BankChanges, CALIBRATION_LABELS, ChainCheck, Dismissal, EntryChange, EntryStatus,
    EventRow, ExceptionRecord, Memory, NewRun, PendingRun, Permission, RunChanges, RunFile, RunRecord, SCHEMA_VERSION,
    Store, StoredDecision, Verdict, is_postgres,
};

use std::path::PathBuf;

/// Why the state store cannot be used. Refused decisions are verdicts, not errors.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state store {0} is in use by another reckon process (it holds {0}.lock); wait for it to finish")]
    Busy(PathBuf),
    #[error("state store {0} is not a reckon state database: {1}")]
    NotADatabase(PathBuf, String),
    #[error(
        "state store {path} has schema version {found}, newer than this reckon knows ({known}); use the reckon that wrote it or a newer one"
    )]
    Newer { path: PathBuf, found: i64, known: i64 },
    #[error("state store {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("state store {0}: {1}")]
    Db(PathBuf, String),
    #[error("state store {0}: migration failed: {1}")]
    Migration(PathBuf, String),
}
