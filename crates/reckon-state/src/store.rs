//! The store on SQLite or PostgreSQL: opening (lock, migrations, version
//! check), a run's memory and changes, decisions and the audit trail.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use reckon_core::{Currency, ExceptionKind, ExceptionState, MoneyFormat, parse_minor};
use serde::Serialize;

use crate::StateError;
use crate::config::Policy;
use crate::decision::{Action, DecisionInput, DecisionStatus, Received};
use crate::sql::{DbError, Row, Sql, ToVal, Tx, Val, vals};

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// The newest schema version this build knows (the last file in `migrations/`).
pub const SCHEMA_VERSION: i64 = 14;

/// How many decided proposals [`Store::memory`] reads at least, when there
/// are as many: `[monitor] calibration_window`'s default.
pub const CALIBRATION_LABELS: usize = 2000;

reckon_core::vocab_enum! {
    /// Where a bank entry stands across the chain of runs.
    pub enum EntryStatus {
        /// In an open exception; carried into the next run as a candidate.
        Open => "open",
        /// Matched, by the engine (`auto`) or by a decision.
        Matched => "matched",
        /// Closed by a decision without a match (dismissed).
        Resolved => "resolved",
    }
}

/// One run of the chain.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunRecord {
    pub seq: i64,
    pub run_id: String,
    pub predecessor: Option<String>,
    pub predecessor_manifest_sha256: Option<String>,
    pub manifest_sha256: String,
    pub as_of: String,
    pub started_at: String,
    pub committed_at: String,
    pub input: String,
    pub output: String,
}

/// The run being committed.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRun {
    pub run_id: String,
    pub as_of: String,
    pub started_at: String,
    pub input: String,
    pub output: String,
}

/// A bank entry as a run leaves it.
#[derive(Clone, Debug, PartialEq)]
pub struct EntryChange {
    pub txn_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub status: EntryStatus,
    /// `auto` or the decision id that settled it.
    pub settled_by: Option<String>,
}

/// An amount applied to an open item that the receivables snapshot may not show yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Application {
    pub txn_id: String,
    pub item_id: String,
    pub applied_minor: i64,
    pub currency: String,
    /// The item's open amount in the run that applied it.
    pub open_seen_minor: i64,
    pub run_id: String,
    pub decision_id: Option<String>,
}

/// An exception as the store keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct ExceptionRecord {
    pub exception_id: String,
    pub problem_key: String,
    pub kind: ExceptionKind,
    pub state: ExceptionState,
    pub subject: String,
    pub band: String,
    pub currency: Option<String>,
    pub amount: Option<String>,
    pub content_digest: String,
    pub material_digest: String,
    pub first_run: String,
    pub first_seen: String,
    pub last_run: String,
    pub last_seen: String,
    /// The run that announced the resolution (empty until one has).
    pub resolved_run: Option<String>,
    pub resolution: Option<String>,
    pub preparers: Vec<String>,
    /// The exception as last published (JSON).
    pub payload: String,
}

impl ExceptionRecord {
    /// The record of an exception a run (`e.run_id`, business date `as_of`)
    /// raises for the first time: `new`, its problem key, digests and payload
    /// as the lifecycle computes them for an exception without extra facts.
    /// For writing a store's history directly (benchmarks, tests).
    pub fn first_raised(e: &reckon_feed::Exception, as_of: &str) -> ExceptionRecord {
        ExceptionRecord {
            exception_id: e.exception_id.clone(),
            problem_key: crate::lifecycle::problem_key(e),
            kind: e.kind,
            state: ExceptionState::New,
            subject: e.records.first().cloned().unwrap_or_default(),
            band: e.band.as_str().to_string(),
            currency: e.currency.clone(),
            amount: e.amount.clone(),
            content_digest: reckon_feed::content_digest(e),
            material_digest: crate::lifecycle::material_digest(e, ""),
            first_run: e.run_id.clone(),
            first_seen: as_of.to_string(),
            last_run: e.run_id.clone(),
            last_seen: as_of.to_string(),
            resolved_run: None,
            resolution: None,
            preparers: Vec::new(),
            payload: serde_json::to_string(e).unwrap_or_default(),
        }
    }

    /// The bank entry the exception is about, if it is about one.
    pub fn txn_id(&self) -> Option<&str> {
        self.subject.strip_prefix("bank_transactions:")
    }

    /// Open items named in the exception's records, in order.
    pub fn items(&self) -> Vec<String> {
        serde_json::from_str::<reckon_feed::Exception>(&self.payload)
            .map(|e| e.records.iter().filter_map(|r| r.strip_prefix("ar_open_items:")).map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// The exception's amount in minor units, when it has one.
    pub fn amount_minor(&self) -> Option<(i64, &str)> {
        let cur = self.currency.as_deref()?;
        let c = Currency::parse(cur)?;
        let v = parse_minor(self.amount.as_deref()?, &MoneyFormat::default(), c).ok()?;
        Some((v, cur))
    }

    fn is_open(&self) -> bool {
        self.state != ExceptionState::Resolved
    }
}

/// One line of an exception's history.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    pub exception_id: String,
    pub run_id: Option<String>,
    pub decision_id: Option<String>,
    pub at: String,
    pub state: ExceptionState,
    pub band: Option<String>,
    pub score: Option<String>,
    pub model: Option<String>,
    pub detail: String,
}

/// A decision as recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredDecision {
    pub decision_id: String,
    pub exception_id: Option<String>,
    pub action: Action,
    pub actor: String,
    pub decided_at: String,
    pub input: DecisionInput,
    pub status: DecisionStatus,
    pub reason: Option<String>,
    pub source: String,
    pub approved_by: Option<String>,
    pub applied_run: Option<String>,
}

/// A payer name a person confirmed for a customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alias {
    pub name_key: String,
    pub customer_id: String,
    pub name: String,
    pub decision_id: String,
    pub actor: String,
    pub decided_at: String,
}

/// A payer a person confirmed for a customer (schema 11): a payment whose
/// account is customer `payer_id`'s, matched by a decision to customer
/// `customer_id`'s open items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permission {
    pub customer_id: String,
    pub payer_id: String,
    pub decision_id: String,
    pub actor: String,
    pub decided_at: String,
}

/// A duplicate or journal closed by a decision (dismissed, explained or
/// confirmed): not raised again while nothing material changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dismissal {
    pub problem_key: String,
    pub kind: String,
    pub material_digest: String,
    pub decision_id: String,
}

/// A file a run leaves for the next (Parquet; see `migrations/V3__carried.sql`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunFile {
    pub run_id: String,
    pub rows: i64,
    pub sha256: String,
    pub parquet: Vec<u8>,
}

/// What a run needs from the store: what is open, and what was learned.
/// Settled bank entries and resolved exceptions are looked up by key when a
/// run meets them again ([`Store::settled_among`], [`PendingRun::exceptions_among`]),
/// so reading the memory costs what is open, not the chain's history.
#[derive(Clone, Debug, Default)]
pub struct Memory {
    pub last_run: Option<RunRecord>,
    /// Bank entries open across the chain (in an exception, to carry).
    pub open_entries: std::collections::HashSet<String>,
    /// Open entries whose row is kept one by one — settled by a decision and
    /// opened again by an undo, or written by schema 2: (txn_id, row JSON).
    pub kept_rows: Vec<(String, String)>,
    /// The open entries the last run left (`None` before any run of schema 3).
    pub carried: Option<RunFile>,
    /// Applications decisions made that the receivables snapshot may not show yet.
    pub applications: Vec<Application>,
    /// Applications reckon made automatically that the snapshot may not show
    /// yet, as the last run left them.
    pub auto_applications: Option<RunFile>,
    /// Remittance advice lines the last run left unused (`migrations/V12__advices.sql`).
    pub advices: Option<RunFile>,
    /// Open exceptions, and resolved ones whose resolution no run has announced
    /// yet, by problem key. Payloads are loaded for the latter and for those a
    /// waiting decision names; [`PendingRun::payloads`] fetches others.
    pub exceptions: HashMap<String, ExceptionRecord>,
    /// Exception id → problem key.
    pub keys_by_id: HashMap<String, String>,
    pub aliases: Vec<Alias>,
    pub permissions: Vec<Permission>,
    pub rejected_pairs: BTreeSet<(String, String)>,
    pub dismissed: HashMap<String, Dismissal>,
    /// Valid decisions a run applies (match, choose, accept, write-off), oldest first.
    pub pending: Vec<StoredDecision>,
    /// The cash proposals people decided, labelled, without features
    /// ([`Store::decided_proposals`]): calibration in the field.
    pub decided_proposals: Vec<crate::models::LabelledProposal>,
}

impl Memory {
    pub fn exception_by_id(&self, id: &str) -> Option<&ExceptionRecord> {
        self.keys_by_id.get(id).and_then(|k| self.exceptions.get(k))
    }
}

/// What a run changes of its bank side: the entries, the rows of those a
/// decision settled, and the files it leaves the next run. Known once the
/// stages that settle bank entries are done, so it can be written
/// ([`PendingRun::write_bank`]) while the other stages still run.
#[derive(Clone, Debug, Default)]
pub struct BankChanges {
    pub entries: Vec<EntryChange>,
    /// Rows to keep one by one for entries a decision settled: (txn_id, row JSON).
    pub kept_rows: Vec<(String, String)>,
    /// The entries this run leaves open, for the next run (replaces the last run's).
    pub carried: Option<RunFile>,
    /// Automatic applications still outstanding after this run (replaces the last run's).
    pub auto_applications: Option<RunFile>,
    /// Remittance advice lines this run leaves unused, for the next run (replaces the last run's).
    pub advices: Option<RunFile>,
}

/// Everything a run changes, written in one transaction. Only what changed:
/// bank entries new to the chain or whose status changed, exceptions whose
/// state, content or resolution changed, and an event for each such change.
#[derive(Clone, Debug)]
pub struct RunChanges {
    pub run: NewRun,
    /// Empty when [`PendingRun::write_bank`] wrote the bank side before.
    pub bank: BankChanges,
    /// Applications decisions made in this run.
    pub applications_added: Vec<Application>,
    /// Applications the receivables snapshot now shows (txn, item).
    pub applications_dropped: Vec<(String, String)>,
    pub exceptions: Vec<ExceptionRecord>,
    pub events: Vec<EventRow>,
    /// Decisions this run applied or refused: (id, status, reason).
    pub decisions: Vec<(String, DecisionStatus, Option<String>)>,
    pub aliases: Vec<Alias>,
    pub permissions: Vec<Permission>,
    /// Dismissals that no longer hold.
    pub lapsed: Vec<String>,
    /// The scores of the cash proposals this run put to people.
    pub proposals: Vec<crate::models::ProposalScore>,
    /// The cash candidate groups this run scored and did not apply.
    pub candidates: Vec<crate::models::CandidateScore>,
    /// The scores of the duplicate pairs and journals this run raised.
    pub flags: Vec<crate::models::FlagScore>,
    /// Each served model's drift against its training reference: (model id, JSON).
    pub drift: Vec<(String, String)>,
    /// Each served model's calibration in the field: (model id, JSON).
    pub calibration: Vec<(String, String)>,
}

impl RunChanges {
    /// The changes of `run` that changes nothing yet.
    pub fn new(run: NewRun) -> RunChanges {
        RunChanges {
            run,
            bank: BankChanges::default(),
            applications_added: Vec::new(),
            applications_dropped: Vec::new(),
            exceptions: Vec::new(),
            events: Vec::new(),
            decisions: Vec::new(),
            aliases: Vec::new(),
            permissions: Vec::new(),
            lapsed: Vec::new(),
            proposals: Vec::new(),
            candidates: Vec::new(),
            flags: Vec::new(),
            drift: Vec::new(),
            calibration: Vec::new(),
        }
    }
}

/// The chain's conservation after a run: every bank entry ever loaded is
/// matched, open in an exception, or resolved by a decision.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ChainCheck {
    pub runs: u64,
    pub predecessor: Option<String>,
    pub predecessor_manifest_sha256: Option<String>,
    pub entries: u64,
    pub matched: u64,
    pub open: u64,
    pub resolved: u64,
    /// Open entries without an open exception about them (first 20).
    pub open_without_exception: Vec<String>,
    /// Resolved or decided entries whose decision is not in the log (first 20).
    pub settled_by_unknown_decision: Vec<String>,
    pub balanced: bool,
}

/// What became of one decision sent to [`Store::submit`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    pub decision_id: String,
    pub source: String,
    /// As recorded; `None` when it could not be recorded (its id was used by
    /// another decision).
    pub status: Option<DecisionStatus>,
    /// The same decision was received before; nothing changed.
    pub duplicate: bool,
    pub reason: Option<String>,
}

/// One line of the audit trail.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditLine {
    pub at: String,
    pub exception_id: Option<String>,
    pub run_id: Option<String>,
    pub decision_id: Option<String>,
    pub what: String,
}

/// An open state store (locked for this process until dropped): an SQLite
/// file, or a PostgreSQL database (`postgres://…`).
pub struct Store {
    db: Backend,
    path: PathBuf,
    _lock: Option<File>,
}

enum Backend {
    Lite(rusqlite::Connection),
    Pg(postgres::Client),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

/// The columns of an exception row, in [`exception_from_row`]'s order, with
/// the payload as `payload` (an SQL expression).
fn exception_columns(payload: &str) -> String {
    format!(
        "exception_id, problem_key, kind, state, subject, band, currency, amount, content_digest, material_digest, \
         first_run, first_seen, last_run, last_seen, resolved_run, resolution, preparers, {payload}"
    )
}

/// At most this many keys in one `IN (…)` list.
const BATCH: usize = 500;

/// Rows of `select` (ending in the key column) whose key is among `keys`, in batches.
fn among(c: &mut dyn Sql, select: &str, keys: &[String]) -> Result<Vec<Row>, DbError> {
    let mut out = Vec::new();
    for chunk in keys.chunks(BATCH) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let args: Vec<Val> = chunk.iter().map(|k| Val::Text(k.clone())).collect();
        out.extend(c.rows(&format!("{select} IN ({})", marks.join(", ")), &args)?);
    }
    Ok(out)
}

fn payloads(c: &mut dyn Sql, ids: &[String]) -> Result<HashMap<String, String>, DbError> {
    among(c, "SELECT exception_id, payload FROM exceptions WHERE exception_id", ids)?
        .iter()
        .map(|r| Ok((r.text(0)?, r.text(1)?)))
        .collect()
}

/// The first `n` bytes of the file at `path` (fewer if it is shorter).
fn read_head(path: &Path, n: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(n);
    std::fs::File::open(path)?.take(n as u64).read_to_end(&mut head)?;
    Ok(head)
}

fn db(path: &Path) -> impl Fn(DbError) -> StateError + '_ {
    move |e| match e {
        DbError::NotADatabase => StateError::NotADatabase(path.to_path_buf(), e.to_string()),
        e => StateError::Db(path.to_path_buf(), e.to_string()),
    }
}

fn join(v: &[String]) -> String {
    v.join("|")
}

fn split(s: &str) -> Vec<String> {
    s.split('|').filter(|x| !x.is_empty()).map(str::to_string).collect()
}

/// A `postgres://` or `postgresql://` store address.
pub fn is_postgres(target: &Path) -> bool {
    let s = target.to_string_lossy();
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// The address without its password, for messages.
fn redacted(target: &str) -> String {
    match target.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((cred, host)) => {
                let user = cred.split(':').next().unwrap_or("");
                format!("{scheme}://{user}@{host}")
            }
            None => target.to_string(),
        },
        None => target.to_string(),
    }
}

impl Store {
    /// Opens (or creates) the store at `path` — an SQLite file, or a
    /// `postgres://user:password@host/db` address — takes its lock, refuses a
    /// file that is not an SQLite database, a database without reckon's schema,
    /// or one written by a newer schema, and applies the migrations this build
    /// has that the store lacks.
    pub fn open(path: &Path) -> Result<Store, StateError> {
        if is_postgres(path) {
            return Store::open_postgres(path);
        }
        let lock_path = PathBuf::from(format!("{}.lock", path.display()));
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StateError::Io(lock_path.clone(), e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(StateError::Busy(path.to_path_buf())),
            Err(std::fs::TryLockError::Error(e)) => return Err(StateError::Io(lock_path, e)),
        }
        // The header alone: a store of gigabytes is not read to check its first bytes.
        match read_head(path, SQLITE_MAGIC.len()) {
            Ok(bytes) if !bytes.is_empty() && !bytes.starts_with(SQLITE_MAGIC) => {
                return Err(StateError::NotADatabase(
                    path.to_path_buf(),
                    "the file does not start with the SQLite header".into(),
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StateError::Io(path.to_path_buf(), e)),
        }
        let e = db(path);
        let mut conn = rusqlite::Connection::open(path).map_err(|x| e(x.into()))?;
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -262144;")
            .map_err(|x| e(x.into()))?;
        let history = conn
            .count("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'refinery_schema_history'", &[])
            .map_err(&e)?;
        let tables = conn.count("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'", &[]).map_err(&e)?;
        check_schema(&mut conn, path, history > 0, tables, "an SQLite database")?;
        embedded::migrations::runner()
            .run(&mut conn)
            .map_err(|x| StateError::Migration(path.to_path_buf(), x.to_string()))?;
        Ok(Store { db: Backend::Lite(conn), path: path.to_path_buf(), _lock: Some(lock) })
    }

    fn open_postgres(target: &Path) -> Result<Store, StateError> {
        let url = target.to_string_lossy().into_owned();
        let shown = PathBuf::from(redacted(&url));
        let e = db(&shown);
        let mut client = postgres::Client::connect(&url, postgres::NoTls)
            .map_err(|x| StateError::Db(shown.clone(), format!("cannot connect: {x}")))?;
        // One process at a time: a session advisory lock, released by the
        // server when the connection ends (also when the process is killed).
        let got = client
            .one("SELECT pg_try_advisory_lock(7302626963011) AS got", &[])
            .map_err(&e)?
            .map(|r| r.int(0))
            .transpose()
            .map_err(&e)?;
        if got != Some(1) {
            return Err(StateError::Busy(shown.clone()));
        }
        let history = client
            .count(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() \
                 AND table_name = 'refinery_schema_history'",
                &[],
            )
            .map_err(&e)?;
        let tables = client
            .count("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()", &[])
            .map_err(&e)?;
        check_schema(&mut client, &shown, history > 0, tables, "a PostgreSQL schema")?;
        embedded::migrations::runner()
            .run(&mut client)
            .map_err(|x| StateError::Migration(shown.clone(), x.to_string()))?;
        Ok(Store { db: Backend::Pg(client), path: shown.clone(), _lock: None })
    }

    fn sql(&mut self) -> &mut dyn Sql {
        match &mut self.db {
            Backend::Lite(c) => c,
            Backend::Pg(c) => c,
        }
    }

    fn begin(&mut self) -> Result<Box<dyn Tx + '_>, StateError> {
        let e = db(&self.path);
        Ok(match &mut self.db {
            Backend::Lite(c) => Box::new(c.transaction().map_err(|x| e(x.into()))?),
            Backend::Pg(c) => Box::new(crate::sql::PgTx::new(c.transaction().map_err(|x| e(x.into()))?)),
        })
    }

    /// Where the store is (a PostgreSQL address without its password).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open store.
    pub fn schema_version(&mut self) -> Result<i64, StateError> {
        let path = self.path.clone();
        self.sql().count("SELECT COALESCE(MAX(version), 0) FROM refinery_schema_history", &[]).map_err(db(&path))
    }

    /// The chain of runs, oldest first.
    pub fn runs(&mut self) -> Result<Vec<RunRecord>, StateError> {
        let path = self.path.clone();
        runs(self.sql()).map_err(db(&path))
    }

    /// Everything a run reads from the store: what is open and what was
    /// learned, with the proposals of the newest decisions until
    /// [`CALIBRATION_LABELS`] are labelled ([`Store::memory_labelling`]).
    pub fn memory(&mut self) -> Result<Memory, StateError> {
        self.memory_labelling(CALIBRATION_LABELS)
    }

    /// [`Store::memory`], reading the proposals of the newest decisions until
    /// `calibration_labels` are labelled (a run judges its model's calibration
    /// on the newest `[monitor] calibration_window`).
    pub fn memory_labelling(&mut self, calibration_labels: usize) -> Result<Memory, StateError> {
        let path = self.path.clone();
        let e = db(&path);
        let t = std::time::Instant::now();
        let mut m = Memory { last_run: self.runs()?.pop(), ..Memory::default() };
        let latest = m.last_run.as_ref().map(|r| r.run_id.clone());
        let c = self.sql();
        for r in c
            .rows("SELECT txn_id, row_json FROM bank_entries WHERE status = 'open' ORDER BY txn_id", &[])
            .map_err(&e)?
        {
            let id = r.text(0).map_err(&e)?;
            let row = r.opt_text(1).unwrap_or_default();
            if !row.is_empty() {
                m.kept_rows.push((id.clone(), row));
            }
            m.open_entries.insert(id);
        }
        for r in c.rows("SELECT name, run_id, rows, sha256, parquet FROM run_files", &[]).map_err(&e)? {
            let f = (|| -> Result<RunFile, DbError> {
                Ok(RunFile { run_id: r.text(1)?, rows: r.int(2)?, sha256: r.text(3)?, parquet: r.bytes(4)? })
            })()
            .map_err(&e)?;
            let name = r.text(0).map_err(&e)?;
            // The file is read as the run that wrote it left it, or not at all.
            if reckon_core::id::sha256_hex(&f.parquet) != f.sha256 {
                return Err(StateError::Db(
                    path.clone(),
                    format!(
                        "run file '{name}' of run {}: its bytes do not match the sha256 recorded with them ({}); \
                         the store was changed outside reckon",
                        f.run_id, f.sha256
                    ),
                ));
            }
            match name.as_str() {
                "carried" => m.carried = Some(f),
                "applications" => m.auto_applications = Some(f),
                "advices" => m.advices = Some(f),
                other => {
                    return Err(StateError::Db(
                        path.clone(),
                        format!("run file '{other}' is not one this reckon knows"),
                    ));
                }
            }
        }
        for r in c
            .rows(
                "SELECT txn_id, item_id, applied_minor, currency, open_seen_minor, run_id, decision_id \
                 FROM applications ORDER BY txn_id, item_id",
                &[],
            )
            .map_err(&e)?
        {
            m.applications.push(Application {
                txn_id: r.text(0).map_err(&e)?,
                item_id: r.text(1).map_err(&e)?,
                applied_minor: r.int(2).map_err(&e)?,
                currency: r.text(3).map_err(&e)?,
                open_seen_minor: r.int(4).map_err(&e)?,
                run_id: r.text(5).map_err(&e)?,
                decision_id: r.opt_text(6),
            });
        }
        tracing::debug!(ms = t.elapsed().as_millis() as u64, "memory: entries, run files, applications");
        let t = std::time::Instant::now();
        let open = exception_rows_with(
            c,
            latest.as_deref(),
            "CASE WHEN state = 'resolved' THEN payload ELSE '' END",
            OPEN_EXCEPTIONS,
            &[],
        )
        .map_err(&e)?;
        for r in open {
            m.keys_by_id.insert(r.exception_id.clone(), r.problem_key.clone());
            m.exceptions.insert(r.problem_key.clone(), r);
        }
        tracing::debug!(ms = t.elapsed().as_millis() as u64, open = m.exceptions.len(), "memory: exceptions");
        let t = std::time::Instant::now();
        for r in c
            .rows(
                "SELECT name_key, customer_id, name, decision_id, actor, decided_at FROM payer_aliases \
                 ORDER BY name_key, customer_id",
                &[],
            )
            .map_err(&e)?
        {
            m.aliases.push(Alias {
                name_key: r.text(0).map_err(&e)?,
                customer_id: r.text(1).map_err(&e)?,
                name: r.text(2).map_err(&e)?,
                decision_id: r.text(3).map_err(&e)?,
                actor: r.text(4).map_err(&e)?,
                decided_at: r.text(5).map_err(&e)?,
            });
        }
        for r in c
            .rows(
                "SELECT customer_id, payer_id, decision_id, actor, decided_at FROM payer_permissions \
                 ORDER BY customer_id, payer_id",
                &[],
            )
            .map_err(&e)?
        {
            m.permissions.push(Permission {
                customer_id: r.text(0).map_err(&e)?,
                payer_id: r.text(1).map_err(&e)?,
                decision_id: r.text(2).map_err(&e)?,
                actor: r.text(3).map_err(&e)?,
                decided_at: r.text(4).map_err(&e)?,
            });
        }
        for r in c.rows("SELECT txn_id, item_id FROM rejected_pairs", &[]).map_err(&e)? {
            m.rejected_pairs.insert((r.text(0).map_err(&e)?, r.text(1).map_err(&e)?));
        }
        for r in c.rows("SELECT problem_key, kind, material_digest, decision_id FROM dismissed", &[]).map_err(&e)? {
            let d = Dismissal {
                problem_key: r.text(0).map_err(&e)?,
                kind: r.text(1).map_err(&e)?,
                material_digest: r.text(2).map_err(&e)?,
                decision_id: r.text(3).map_err(&e)?,
            };
            m.dismissed.insert(d.problem_key.clone(), d);
        }
        m.pending = decisions_where(c, &path, PENDING_DECISIONS, &[])?;
        // The exceptions waiting decisions name, with their payloads (their proposals).
        let named: Vec<String> = m
            .pending
            .iter()
            .filter_map(|d| d.exception_id.clone())
            .filter(|id| m.keys_by_id.get(id).and_then(|k| m.exceptions.get(k)).is_some_and(|x| x.payload.is_empty()))
            .collect();
        for (id, p) in payloads(c, &named).map_err(&e)? {
            if let Some(x) = m.keys_by_id.get(&id).and_then(|k| m.exceptions.get_mut(k)) {
                x.payload = p;
            }
        }
        tracing::debug!(ms = t.elapsed().as_millis() as u64, "memory: learned, decisions to apply");
        let t = std::time::Instant::now();
        m.decided_proposals = self.decided_proposals(calibration_labels)?;
        tracing::debug!(
            ms = t.elapsed().as_millis() as u64,
            n = m.decided_proposals.len(),
            "memory: decided proposals"
        );
        Ok(m)
    }

    /// The bank entries among `ids` that the chain settled (matched or
    /// resolved), with the run or decision that settled them.
    pub fn settled_among(
        &mut self,
        ids: &[String],
    ) -> Result<HashMap<String, (EntryStatus, Option<String>)>, StateError> {
        let path = self.path.clone();
        let e = db(&path);
        let mut out = HashMap::new();
        for r in among(
            self.sql(),
            "SELECT txn_id, status, settled_run, settled_by FROM bank_entries WHERE status <> 'open' AND txn_id",
            ids,
        )
        .map_err(&e)?
        {
            let id = r.text(0).map_err(&e)?;
            let status = r.text(1).map_err(&e)?;
            let status = EntryStatus::parse(&status)
                .ok_or_else(|| StateError::Db(path.clone(), format!("bank entry {id}: status '{status}'")))?;
            out.insert(id, (status, r.opt_text(3).or(r.opt_text(2))));
        }
        Ok(out)
    }

    /// Writes a run's changes in one transaction and checks the chain's
    /// conservation; nothing is visible until [`PendingRun::commit`].
    pub fn begin_run(&mut self, ch: &RunChanges) -> Result<PendingRun<'_>, StateError> {
        let mut p = self.start_run(ch.run.clone())?;
        p.write(ch)?;
        Ok(p)
    }

    /// Opens a run's transaction; its changes are written with
    /// [`PendingRun::write_bank`] and [`PendingRun::write`], and nothing is
    /// visible until [`PendingRun::commit`] (dropped, it is rolled back).
    pub fn start_run(&mut self, run: NewRun) -> Result<PendingRun<'_>, StateError> {
        let path = self.path.clone();
        let predecessor = self.runs()?.pop();
        let tx = self.begin()?;
        Ok(PendingRun { tx, path, run, check: ChainCheck::default(), predecessor })
    }

    /// Records decisions. Each is validated against the store and `policy`;
    /// a valid one is `accepted` (a match a run applies), `pending_approval`
    /// (four eyes) or `applied` at once (reject_pair, dismiss, explain, undo,
    /// approve); an invalid one is recorded `refused` with the rule it broke.
    /// A decision id received before with the same content changes nothing.
    /// All of it in one transaction.
    pub fn submit(
        &mut self,
        received: &[Received],
        policy: &Policy,
        received_at: &str,
    ) -> Result<Vec<Verdict>, StateError> {
        let path = self.path.clone();
        let mut tx = self.begin()?;
        let mut out = Vec::new();
        for r in received {
            out.push(submit_one(tx.as_mut(), &path, r, policy, received_at)?);
        }
        tx.commit().map_err(db(&path))?;
        Ok(out)
    }

    /// [`Store::submit`] for the decisions of one intake message (a
    /// `webhook-id`): `None`, and nothing recorded, when the message was received
    /// before (a replay); else the verdicts, with the message id recorded in the
    /// same transaction.
    pub fn submit_message(
        &mut self,
        message_id: &str,
        received: &[Received],
        policy: &Policy,
        received_at: &str,
    ) -> Result<Option<Vec<Verdict>>, StateError> {
        let path = self.path.clone();
        let e = db(&path);
        let mut tx = self.begin()?;
        if tx
            .one("SELECT received_at FROM intake_messages WHERE message_id = $1", vals![message_id])
            .map_err(&e)?
            .is_some()
        {
            return Ok(None);
        }
        tx.exec(
            "INSERT INTO intake_messages (message_id, received_at, decisions) VALUES ($1, $2, $3)",
            vals![message_id, received_at, received.len() as i64],
        )
        .map_err(&e)?;
        let mut out = Vec::new();
        for r in received {
            out.push(submit_one(tx.as_mut(), &path, r, policy, received_at)?);
        }
        tx.commit().map_err(&e)?;
        Ok(Some(out))
    }

    /// Every decision, oldest first.
    pub fn decisions(&mut self) -> Result<Vec<StoredDecision>, StateError> {
        let path = self.path.clone();
        decisions_where(self.sql(), &path, "1 = 1", &[])
    }

    /// Exceptions in a state (`None`: all).
    pub fn exceptions(&mut self, state: Option<ExceptionState>) -> Result<Vec<ExceptionRecord>, StateError> {
        let path = self.path.clone();
        let latest = self.runs()?.pop().map(|r| r.run_id);
        let all = exception_rows(self.sql(), latest.as_deref(), "1 = 1", &[]).map_err(db(&path))?;
        Ok(all.into_iter().filter(|x| state.is_none_or(|s| x.state == s)).collect())
    }

    /// The champion and challenger of each engine, as they stand.
    pub fn model_aliases(&mut self) -> Result<Vec<crate::models::ModelAliasRecord>, StateError> {
        let path = self.path.clone();
        let e = db(&path);
        let rows = self
            .sql()
            .rows(
                "SELECT engine, alias, model, model_id, model_sha256, since, actor FROM model_aliases ORDER BY engine, alias",
                &[],
            )
            .map_err(&e)?;
        rows.iter()
            .map(|r| {
                let alias = r.text(1)?;
                Ok(crate::models::ModelAliasRecord {
                    engine: r.text(0)?,
                    alias: crate::models::ModelAlias::parse(&alias)
                        .ok_or_else(|| DbError::Other(format!("model alias '{alias}'")))?,
                    model: crate::models::ModelRef {
                        model: r.text(2)?,
                        model_id: r.text(3)?,
                        model_sha256: r.text(4)?,
                    },
                    since: r.text(5)?,
                    actor: r.text(6)?,
                })
            })
            .collect::<Result<_, DbError>>()
            .map_err(&e)
    }

    /// Every change of a model alias, in order.
    pub fn model_alias_events(&mut self) -> Result<Vec<crate::models::ModelAliasEvent>, StateError> {
        let path = self.path.clone();
        let e = db(&path);
        let rows = self
            .sql()
            .rows(
                "SELECT seq, engine, alias, action, model, model_id, at, actor, detail FROM model_alias_events ORDER BY seq",
                &[],
            )
            .map_err(&e)?;
        rows.iter()
            .map(|r| {
                let alias = r.text(2)?;
                Ok(crate::models::ModelAliasEvent {
                    seq: r.int(0)?,
                    engine: r.text(1)?,
                    alias: crate::models::ModelAlias::parse(&alias)
                        .ok_or_else(|| DbError::Other(format!("model alias '{alias}'")))?,
                    action: r.text(3)?,
                    model: r.opt_text(4),
                    model_id: r.opt_text(5),
                    at: r.text(6)?,
                    actor: r.text(7)?,
                    detail: r.text(8)?,
                })
            })
            .collect::<Result<_, DbError>>()
            .map_err(&e)
    }

    /// Changes aliases of `engine` in one transaction, each with its event:
    /// `(alias, Some(model))` sets it, `(alias, None)` clears it. `action`
    /// (`set`, `promoted`, `rolled_back`, `cleared`, `refused`) and `detail` go
    /// into the events; an empty `changes` records the event alone (a refused
    /// promotion).
    #[allow(clippy::too_many_arguments)]
    pub fn change_model_aliases(
        &mut self,
        engine: &str,
        changes: &[(crate::models::ModelAlias, Option<crate::models::ModelRef>)],
        event_alias: crate::models::ModelAlias,
        action: &str,
        at: &str,
        actor: &str,
        detail: &str,
    ) -> Result<(), StateError> {
        let path = self.path.clone();
        let e = db(&path);
        let mut tx = self.begin()?;
        let next = |tx: &mut Box<dyn Tx + '_>| -> Result<i64, DbError> {
            Ok(tx.count("SELECT COALESCE(MAX(seq), 0) FROM model_alias_events", &[])? + 1)
        };
        let log =
            |tx: &mut Box<dyn Tx + '_>, alias: &str, m: Option<&crate::models::ModelRef>| -> Result<(), DbError> {
                let seq = next(tx)?;
                tx.exec(
                    "INSERT INTO model_alias_events (seq, engine, alias, action, model, model_id, at, actor, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    &[
                        Val::Int(seq),
                        Val::Text(engine.to_string()),
                        Val::Text(alias.to_string()),
                        Val::Text(action.to_string()),
                        m.map_or(Val::Null, |m| Val::Text(m.model.clone())),
                        m.map_or(Val::Null, |m| Val::Text(m.model_id.clone())),
                        Val::Text(at.to_string()),
                        Val::Text(actor.to_string()),
                        Val::Text(detail.to_string()),
                    ],
                )?;
                Ok(())
            };
        for (alias, m) in changes {
            tx.exec("DELETE FROM model_aliases WHERE engine = $1 AND alias = $2", vals![engine, alias.as_str()])
                .map_err(&e)?;
            if let Some(m) = m {
                tx.exec(
                    "INSERT INTO model_aliases (engine, alias, model, model_id, model_sha256, since, actor) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    vals![engine, alias.as_str(), m.model, m.model_id, m.model_sha256, at, actor],
                )
                .map_err(&e)?;
            }
            log(&mut tx, alias.as_str(), m.as_ref()).map_err(&e)?;
        }
        if changes.is_empty() {
            log(&mut tx, event_alias.as_str(), None).map_err(&e)?;
        }
        tx.commit().map_err(&e)
    }

    /// Each run's calibration in the field of its served models, in run
    /// order: (run as-of date, run id, model id, calibration JSON).
    pub fn model_calibration(&mut self) -> Result<Vec<(String, String, String, String)>, StateError> {
        let path = self.path.clone();
        let rows = self
            .sql()
            .rows(
                "SELECT r.as_of, c.run_id, c.model, c.calibration FROM model_calibration c \
                 JOIN runs r ON r.run_id = c.run_id ORDER BY r.seq, c.model",
                &[],
            )
            .map_err(db(&path))?;
        rows.iter()
            .map(|r| Ok((r.text(0)?, r.text(1)?, r.text(2)?, r.text(3)?)))
            .collect::<Result<_, DbError>>()
            .map_err(db(&path))
    }

    /// Each run's drift of its served models, in run order: (run as-of date,
    /// run id, model id, drift JSON).
    pub fn model_drift(&mut self) -> Result<Vec<(String, String, String, String)>, StateError> {
        let path = self.path.clone();
        let e = db(&path);
        let rows = self
            .sql()
            .rows(
                "SELECT r.as_of, d.run_id, d.model, d.drift FROM model_drift d JOIN runs r ON r.run_id = d.run_id \
                 ORDER BY r.seq, d.model",
                &[],
            )
            .map_err(&e)?;
        rows.iter()
            .map(|r| Ok((r.text(0)?, r.text(1)?, r.text(2)?, r.text(3)?)))
            .collect::<Result<_, DbError>>()
            .map_err(&e)
    }

    /// Every cash candidate group the runs scored and did not apply, in run
    /// order (schema 10).
    pub fn candidate_scores(&mut self) -> Result<Vec<crate::models::CandidateScore>, StateError> {
        let path = self.path.clone();
        candidate_scores_all(self.sql(), &path)
    }

    /// The proposals people decided, labelled by their decisions
    /// ([`crate::models::label_proposals`]).
    pub fn labelled_proposals(&mut self) -> Result<Vec<crate::models::LabelledProposal>, StateError> {
        let scores = self.proposal_scores()?;
        let decisions = self.decisions()?;
        Ok(crate::models::label_proposals(&scores, &decisions, &self.exception_txns()?))
    }

    /// Exception id → the bank entry it is about, for every exception about
    /// one (ids and subjects only: no payloads read).
    pub fn exception_txns(&mut self) -> Result<HashMap<String, String>, StateError> {
        let path = self.path.clone();
        let rows = self
            .sql()
            .rows("SELECT exception_id, subject FROM exceptions WHERE subject LIKE 'bank_transactions:%'", &[])
            .map_err(db(&path))?;
        rows.iter()
            .map(|r| {
                let subject = r.text(1)?;
                Ok((r.text(0)?, subject.strip_prefix("bank_transactions:").unwrap_or(&subject).to_string()))
            })
            .collect::<Result<_, DbError>>()
            .map_err(db(&path))
    }

    /// The problem key of every exception, by exception id.
    pub fn exception_problems(&mut self) -> Result<HashMap<String, String>, StateError> {
        let path = self.path.clone();
        let rows = self.sql().rows("SELECT exception_id, problem_key FROM exceptions", &[]).map_err(db(&path))?;
        rows.iter().map(|r| Ok((r.text(0)?, r.text(1)?))).collect::<Result<_, DbError>>().map_err(db(&path))
    }

    /// The scores of every duplicate pair or journal (`engine`: `dedup`,
    /// `anomaly`) the runs raised, in run order (subjects in order within a run).
    pub fn flag_scores(&mut self, engine: &str) -> Result<Vec<crate::models::FlagScore>, StateError> {
        let path = self.path.clone();
        let e = db(&path);
        let rows = self
            .sql()
            .rows(
                "SELECT f.run_id, f.subject, f.problem_key, f.model, f.score, f.feature_spec, f.features, f.threshold \
                 FROM flag_scores f JOIN runs r ON r.run_id = f.run_id WHERE f.engine = $1 ORDER BY r.seq, f.subject",
                vals![engine],
            )
            .map_err(&e)?;
        rows.iter()
            .map(|r| {
                let threshold = r.text(7)?;
                Ok(crate::models::FlagScore {
                    run_id: r.text(0)?,
                    engine: engine.to_string(),
                    subject: r.text(1)?,
                    problem_key: r.text(2)?,
                    model: r.text(3)?,
                    score: probability(&r.text(4)?)?,
                    threshold: threshold
                        .parse()
                        .map_err(|x| DbError::Other(format!("threshold '{threshold}': {x}")))?,
                    feature_spec: r.text(5)?,
                    features: feature_list(&r.text(6)?)?,
                })
            })
            .collect::<Result<_, DbError>>()
            .map_err(&e)
    }

    /// The flags of `engine` people decided on ([`crate::models::label_flags`]), in run order.
    pub fn labelled_flags(&mut self, engine: &str) -> Result<Vec<crate::models::LabelledFlag>, StateError> {
        let scores = self.flag_scores(engine)?;
        let decisions = self.decisions()?;
        let problems = self.exception_problems()?;
        Ok(crate::models::label_flags(&scores, &decisions, &problems))
    }

    /// The scores of every cash proposal put to people, in run order.
    pub fn proposal_scores(&mut self) -> Result<Vec<crate::models::ProposalScore>, StateError> {
        let path = self.path.clone();
        proposal_scores_where(self.sql(), &path, "1 = 1", "p.features")
    }

    /// Every group scored in shadow by `challenger` (its `name@version`),
    /// without features: what a promotion's coverage is judged on.
    pub fn shadow_scores(&mut self, challenger: &str) -> Result<Vec<crate::models::ProposalScore>, StateError> {
        let path = self.path.clone();
        let all = proposal_scores_where(self.sql(), &path, "p.shadow_confidence IS NOT NULL", "NULL")?;
        Ok(all.into_iter().filter(|s| s.challenger.as_deref() == Some(challenger)).collect())
    }

    /// The proposals the newest decisions labelled, without their features:
    /// what a run reads to judge its model's calibration in the field. The
    /// decisions that label proposals are read newest first, a page of
    /// `labels` at a time (schema 14's index `decisions_labelling`), until
    /// they label at least `labels` proposals or none are left; then only the
    /// exceptions they name and the review proposals of those entries.
    pub fn decided_proposals(&mut self, labels: usize) -> Result<Vec<crate::models::LabelledProposal>, StateError> {
        let path = self.path.clone();
        let c = self.sql();
        let page = labels.max(1);
        // Newest first, as read.
        let mut decisions: Vec<StoredDecision> = Vec::new();
        let mut txns: HashMap<String, String> = HashMap::new();
        let mut named: BTreeSet<String> = BTreeSet::new();
        let mut scores: Vec<(i64, crate::models::ProposalScore)> = Vec::new();
        loop {
            // The next page starts after the last decision read (by key, not by
            // offset: a decision submitted meanwhile does not shift the pages).
            let batch = match decisions.last() {
                None => decisions_select(
                    c,
                    &path,
                    &format!("WHERE {DECISIONS_LABELLING} ORDER BY decided_at DESC, decision_id DESC LIMIT {page}"),
                    &[],
                )?,
                Some(last) => decisions_select(
                    c,
                    &path,
                    &format!(
                        "WHERE {DECISIONS_LABELLING} AND (decided_at < $1 OR (decided_at = $1 AND decision_id < $2)) \
                         ORDER BY decided_at DESC, decision_id DESC LIMIT {page}"
                    ),
                    &[Val::Text(last.decided_at.clone()), Val::Text(last.decision_id.clone())],
                )?,
            };
            let read = batch.len();
            let ids: BTreeSet<String> =
                batch.iter().filter_map(|d| d.exception_id.clone()).filter(|e| !txns.contains_key(e)).collect();
            let ids: Vec<String> = ids.into_iter().collect();
            for r in
                among(c, "SELECT exception_id, subject FROM exceptions WHERE exception_id", &ids).map_err(db(&path))?
            {
                let (id, subject) = (r.text(0).map_err(db(&path))?, r.text(1).map_err(db(&path))?);
                if let Some(t) = subject.strip_prefix("bank_transactions:") {
                    txns.insert(id, t.to_string());
                }
            }
            // Only the proposals of entries a decision named can be labelled.
            let new: BTreeSet<String> = txns.values().filter(|t| !named.contains(*t)).cloned().collect();
            let new: Vec<String> = new.into_iter().collect();
            scores.extend(review_proposals_seq(c, &path, &new)?);
            named.extend(new);
            decisions.extend(batch);
            if read < page || label_in_order(&mut scores, &decisions, &txns).len() >= labels {
                break;
            }
        }
        let mut out = label_in_order(&mut scores, &decisions, &txns);
        // Oldest run first, as the scores came.
        let seq: HashMap<&str, usize> = scores.iter().enumerate().map(|(i, (_, s))| (s.run_id.as_str(), i)).collect();
        out.sort_by_key(|l| seq.get(l.score.run_id.as_str()).copied().unwrap_or(usize::MAX));
        Ok(out)
    }
}

/// A probability kept as decimal text.
fn probability(v: &str) -> Result<f64, DbError> {
    v.parse::<f64>().map_err(|x| DbError::Other(format!("probability '{v}': {x}")))
}

/// A group's open items, kept joined by `|`.
fn item_list(v: &str) -> Vec<String> {
    v.split('|').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// A group's features, kept as a JSON array.
fn feature_list(v: &str) -> Result<Vec<f32>, DbError> {
    serde_json::from_str(v).map_err(|x| DbError::Other(format!("features: {x}")))
}

/// Every cash candidate group the runs scored and did not apply, in run order
/// (receipts and items in order within a run).
fn candidate_scores_all(c: &mut dyn Sql, path: &Path) -> Result<Vec<crate::models::CandidateScore>, StateError> {
    let e = db(path);
    let rows = c
        .rows(
            "SELECT c.run_id, c.txn_id, c.items, c.model, c.confidence, c.shadow_confidence, c.feature_spec, \
             c.features, c.entity FROM candidate_scores c JOIN runs r ON r.run_id = c.run_id \
             ORDER BY r.seq, c.txn_id, c.items",
            &[],
        )
        .map_err(&e)?;
    rows.iter()
        .map(|r| {
            Ok(crate::models::CandidateScore {
                run_id: r.text(0)?,
                txn_id: r.text(1)?,
                items: item_list(&r.text(2)?),
                model: r.text(3)?,
                confidence: probability(&r.text(4)?)?,
                shadow_confidence: r.opt_text(5).map(|v| probability(&v)).transpose()?,
                feature_spec: r.text(6)?,
                features: feature_list(&r.text(7)?)?,
                entity: r.opt_text(8),
            })
        })
        .collect::<Result<_, DbError>>()
        .map_err(&e)
}

/// Proposal scores matching `filter` (on `p`, `proposal_scores`), in run
/// order; `features` is the column to read them from (`NULL`: none).
fn proposal_scores_where(
    c: &mut dyn Sql,
    path: &Path,
    filter: &str,
    features: &str,
) -> Result<Vec<crate::models::ProposalScore>, StateError> {
    let rows = c
        .rows(
            &format!(
                "SELECT {} FROM proposal_scores p JOIN runs r ON r.run_id = p.run_id WHERE {filter} \
                 ORDER BY r.seq, p.txn_id",
                proposal_columns(features)
            ),
            &[],
        )
        .map_err(db(path))?;
    rows.iter().map(proposal_from_row).collect::<Result<_, DbError>>().map_err(db(path))
}

/// The review proposals of the given bank entries with the sequence number of
/// their run, in run order (entries in order within a run): read through the
/// partial index `proposal_scores_review_by_txn` (schema 13), not every
/// proposal kept.
fn review_proposals_seq(
    c: &mut dyn Sql,
    path: &Path,
    txns: &[String],
) -> Result<Vec<(i64, crate::models::ProposalScore)>, StateError> {
    let rows = among(c, &review_proposals_select(), txns).map_err(db(path))?;
    let mut out = rows
        .iter()
        .map(|r| Ok((r.int(12)?, proposal_from_row(r)?)))
        .collect::<Result<Vec<(i64, crate::models::ProposalScore)>, DbError>>()
        .map_err(db(path))?;
    out.sort_by(|(a, x), (b, y)| (a, &x.txn_id).cmp(&(b, &y.txn_id)));
    Ok(out)
}

/// [`crate::models::label_proposals`] on scores gathered page by page (put in
/// run order here) and decisions read newest first.
fn label_in_order(
    scores: &mut [(i64, crate::models::ProposalScore)],
    newest_first: &[StoredDecision],
    txns: &HashMap<String, String>,
) -> Vec<crate::models::LabelledProposal> {
    scores.sort_by(|(a, x), (b, y)| (a, &x.txn_id).cmp(&(b, &y.txn_id)));
    crate::models::label_proposals(scores.iter().map(|(_, s)| s), newest_first.iter().rev(), txns)
}

/// The decisions that label proposals: accepted or applied matches, choices,
/// acceptances and rejected pairs. The condition of the partial index
/// `decisions_labelling` (schema 14), term for term.
const DECISIONS_LABELLING: &str = "(status = 'accepted' OR status = 'applied') \
     AND (action = 'accept' OR action = 'match' OR action = 'choose' OR action = 'reject_pair')";

/// [`review_proposals_seq`]'s query but for the `IN (…)` list of entries.
fn review_proposals_select() -> String {
    format!(
        "SELECT {}, r.seq FROM proposal_scores p JOIN runs r ON r.run_id = p.run_id \
         WHERE p.band = 'review' AND p.txn_id",
        proposal_columns("NULL")
    )
}

/// The columns [`proposal_from_row`] reads, `features` the expression for the
/// features (`NULL` to leave them out).
fn proposal_columns(features: &str) -> String {
    format!(
        "p.run_id, p.txn_id, p.items, p.model, p.confidence, p.challenger, p.shadow_confidence, \
         p.band, p.feature_spec, {features}, p.entity, p.held"
    )
}

fn proposal_from_row(r: &Row) -> Result<crate::models::ProposalScore, DbError> {
    Ok(crate::models::ProposalScore {
        run_id: r.text(0)?,
        txn_id: r.text(1)?,
        items: item_list(&r.text(2)?),
        model: r.text(3)?,
        confidence: probability(&r.text(4)?)?,
        challenger: r.opt_text(5),
        shadow_confidence: r.opt_text(6).map(|v| probability(&v)).transpose()?,
        band: {
            let b = r.text(7)?;
            reckon_core::Band::parse(&b).ok_or_else(|| DbError::Other(format!("band '{b}'")))?
        },
        feature_spec: r.opt_text(8),
        features: match r.opt_text(9) {
            Some(t) => feature_list(&t)?,
            None => Vec::new(),
        },
        entity: r.opt_text(10),
        held: r.int(11)? != 0,
    })
}

impl Store {
    /// The store's content without times and run ids that differ between two
    /// stores fed the same days (for comparing backends): bank entries, exceptions
    /// with their states and resolutions, decisions with their statuses, learned
    /// aliases, rejected pairs and dismissals, applications — each sorted.
    pub fn canonical(&mut self) -> Result<serde_json::Value, StateError> {
        let path = self.path.clone();
        let e = db(&path);
        let c = self.sql();
        let mut dump = serde_json::Map::new();
        for (name, sql) in [
            (
                "bank_entries",
                "SELECT txn_id, amount_minor, currency, status, settled_by, row_json FROM bank_entries ORDER BY txn_id",
            ),
            (
                "exceptions",
                "SELECT exception_id, problem_key, kind, state, subject, band, currency, amount, content_digest, material_digest, first_seen, last_seen, preparers FROM exceptions ORDER BY exception_id",
            ),
            (
                "decisions",
                "SELECT decision_id, exception_id, action, actor, status, reason, approved_by FROM decisions ORDER BY decision_id",
            ),
            (
                "payer_aliases",
                "SELECT name_key, customer_id, name, decision_id FROM payer_aliases ORDER BY name_key, customer_id",
            ),
            (
                "payer_permissions",
                "SELECT customer_id, payer_id, decision_id FROM payer_permissions ORDER BY customer_id, payer_id",
            ),
            ("rejected_pairs", "SELECT txn_id, item_id, decision_id FROM rejected_pairs ORDER BY txn_id, item_id"),
            ("dismissed", "SELECT problem_key, material_digest, decision_id FROM dismissed ORDER BY problem_key"),
            (
                "applications",
                "SELECT txn_id, item_id, applied_minor, currency, open_seen_minor, decision_id FROM applications ORDER BY txn_id, item_id",
            ),
            ("runs", "SELECT seq, as_of FROM runs ORDER BY seq"),
            ("run_files", "SELECT name, rows, sha256, parquet FROM run_files ORDER BY name"),
            (
                "proposal_scores",
                "SELECT txn_id, items, band, model, confidence, challenger, shadow_confidence, features FROM proposal_scores ORDER BY txn_id, items, confidence",
            ),
            (
                "candidate_scores",
                "SELECT txn_id, items, model, confidence, shadow_confidence, features, entity FROM candidate_scores ORDER BY txn_id, items, confidence",
            ),
            (
                "flag_scores",
                "SELECT engine, subject, problem_key, model, threshold, score, feature_spec, features FROM flag_scores ORDER BY engine, subject, score",
            ),
            (
                "model_aliases",
                "SELECT engine, alias, model, model_id, model_sha256 FROM model_aliases ORDER BY engine, alias",
            ),
        ] {
            let rows: Vec<serde_json::Value> = c
                .rows(sql, &[])
                .map_err(&e)?
                .into_iter()
                .map(|r| {
                    serde_json::Value::Array(
                        r.0.into_iter()
                            .map(|v| match v {
                                Val::Null => serde_json::Value::Null,
                                Val::Int(i) => serde_json::Value::from(i),
                                Val::Text(s) => serde_json::Value::from(s),
                                Val::Bytes(b) => serde_json::Value::from(reckon_core::id::sha256_hex(&b)),
                            })
                            .collect(),
                    )
                })
                .collect();
            dump.insert(name.to_string(), serde_json::Value::Array(rows));
        }
        Ok(serde_json::Value::Object(dump))
    }

    /// The evidence trail of an exception (`EX-…`) or a bank entry (its
    /// `txn_id`): every run that raised, updated or resolved it with band, score
    /// and model, every decision and who took it, and what became of the entry.
    pub fn audit(&mut self, id: &str) -> Result<Vec<AuditLine>, StateError> {
        let path = self.path.clone();
        let e = db(&path);
        let chain = self.runs()?;
        let latest = chain.last().map(|r| r.run_id.clone());
        let runs: HashMap<String, RunRecord> = chain.into_iter().map(|r| (r.run_id.clone(), r)).collect();
        let c = self.sql();
        let mut exs = exception_rows(c, latest.as_deref(), "exception_id = $1", vals![id]).map_err(&e)?;
        let subject = format!("bank_transactions:{id}");
        exs.extend(exception_rows(c, latest.as_deref(), "subject = $1", vals![subject]).map_err(&e)?);
        let mut out = Vec::new();
        let txn = exs.first().and_then(|r| r.txn_id()).unwrap_or(id).to_string();
        let entry = c
            .one("SELECT status, settled_run, settled_by, first_run FROM bank_entries WHERE txn_id = $1", vals![txn])
            .map_err(&e)?;
        if exs.is_empty() && entry.is_none() {
            return Ok(out);
        }
        if let Some(r) = &entry {
            let (status, run, by, first) =
                (r.text(0).map_err(&e)?, r.opt_text(1), r.opt_text(2), r.text(3).map_err(&e)?);
            out.push(AuditLine {
                at: runs.get(&first).map_or_else(String::new, |r| r.started_at.clone()),
                exception_id: None,
                run_id: Some(first.clone()),
                decision_id: None,
                what: format!(
                    "bank entry first loaded (as of {}); now {status}{}{}",
                    runs.get(&first).map_or("?", |r| r.as_of.as_str()),
                    run.as_ref().map(|r| format!(" in run {r}")).unwrap_or_default(),
                    by.as_ref().map(|b| format!(" by {b}")).unwrap_or_default()
                ),
            });
        }
        for x in &exs {
            for r in c
                .rows(
                    "SELECT at, run_id, decision_id, state, band, score, model, detail FROM exception_events \
                     WHERE exception_id = $1 ORDER BY seq",
                    vals![x.exception_id],
                )
                .map_err(&e)?
            {
                let mut what = format!("{} {}: {}", x.kind, r.text(3).map_err(&e)?, r.text(7).map_err(&e)?);
                if let Some(b) = r.opt_text(4) {
                    what.push_str(&format!("; band {b}"));
                }
                if let Some(s) = r.opt_text(5) {
                    what.push_str(&format!("; score {s}"));
                }
                if let Some(m) = r.opt_text(6) {
                    what.push_str(&format!("; model {m}"));
                }
                out.push(AuditLine {
                    at: r.text(0).map_err(&e)?,
                    exception_id: Some(x.exception_id.clone()),
                    run_id: r.opt_text(1),
                    decision_id: r.opt_text(2),
                    what,
                });
            }
            for d in decisions_where(c, &path, "exception_id = $1", vals![x.exception_id])? {
                // What the decision taught reckon and still stands (undoing it takes it back).
                let mut taught = Vec::new();
                for r in c
                    .rows(
                        "SELECT name, customer_id FROM payer_aliases WHERE decision_id = $1 ORDER BY name_key, customer_id",
                        vals![d.decision_id],
                    )
                    .map_err(&e)?
                {
                    taught.push(format!(
                        "payer name '{}' for customer {}",
                        r.text(0).map_err(&e)?,
                        r.text(1).map_err(&e)?
                    ));
                }
                for r in c
                    .rows(
                        "SELECT payer_id, customer_id FROM payer_permissions WHERE decision_id = $1 \
                         ORDER BY customer_id, payer_id",
                        vals![d.decision_id],
                    )
                    .map_err(&e)?
                {
                    taught.push(format!(
                        "customer {} as payer for customer {}",
                        r.text(0).map_err(&e)?,
                        r.text(1).map_err(&e)?
                    ));
                }
                out.push(AuditLine {
                    at: d.decided_at.clone(),
                    exception_id: Some(x.exception_id.clone()),
                    run_id: d.applied_run.clone(),
                    decision_id: Some(d.decision_id.clone()),
                    what: format!(
                        "decision {} by {} ({}): {}{}{}{}{}",
                        d.action,
                        d.actor,
                        d.source,
                        d.status,
                        d.reason.as_ref().map(|r| format!(" — {r}")).unwrap_or_default(),
                        d.approved_by.as_ref().map(|a| format!("; approved by {a}")).unwrap_or_default(),
                        if d.input.comment.is_empty() { String::new() } else { format!("; \"{}\"", d.input.comment) },
                        if taught.is_empty() { String::new() } else { format!("; taught {}", taught.join(", ")) }
                    ),
                });
            }
        }
        out.sort_by(|a, b| a.at.cmp(&b.at));
        Ok(out)
    }
}

/// Refuses a database that holds other tables but not reckon's history, or a
/// newer schema than this build knows.
fn check_schema(c: &mut dyn Sql, path: &Path, history: bool, tables: i64, what: &str) -> Result<(), StateError> {
    if history {
        let found = c.count("SELECT COALESCE(MAX(version), 0) FROM refinery_schema_history", &[]).map_err(db(path))?;
        if found > SCHEMA_VERSION {
            return Err(StateError::Newer { path: path.to_path_buf(), found, known: SCHEMA_VERSION });
        }
    } else if tables > 0 {
        return Err(StateError::NotADatabase(path.to_path_buf(), format!("{what} without reckon's schema history")));
    }
    Ok(())
}

fn runs(c: &mut dyn Sql) -> Result<Vec<RunRecord>, DbError> {
    c.rows(
        "SELECT seq, run_id, predecessor, predecessor_manifest_sha256, manifest_sha256, as_of, started_at, \
         committed_at, input, output FROM runs ORDER BY seq",
        &[],
    )?
    .into_iter()
    .map(|r| {
        Ok(RunRecord {
            seq: r.int(0)?,
            run_id: r.text(1)?,
            predecessor: r.opt_text(2),
            predecessor_manifest_sha256: r.opt_text(3),
            manifest_sha256: r.text(4)?,
            as_of: r.text(5)?,
            started_at: r.text(6)?,
            committed_at: r.text(7)?,
            input: r.text(8)?,
            output: r.text(9)?,
        })
    })
    .collect()
}

fn exception_rows(
    c: &mut dyn Sql,
    latest: Option<&str>,
    filter: &str,
    args: &[Val],
) -> Result<Vec<ExceptionRecord>, DbError> {
    exception_rows_with(c, latest, "payload", filter, args)
}

fn exception_rows_with(
    c: &mut dyn Sql,
    latest: Option<&str>,
    payload: &str,
    filter: &str,
    args: &[Val],
) -> Result<Vec<ExceptionRecord>, DbError> {
    let sql = format!("SELECT {} FROM exceptions WHERE {filter} ORDER BY exception_id", exception_columns(payload));
    c.rows(&sql, args)?.into_iter().map(|r| exception_from_row(r, latest)).collect()
}

/// An exception row; `state` as of now: one a run raised as `new` and no later
/// run changed is `open` once a later run exists (`latest`, the chain's last run).
fn exception_from_row(mut r: Row, latest: Option<&str>) -> Result<ExceptionRecord, DbError> {
    let kind = r.take_text(2)?;
    let state = r.take_text(3)?;
    let mut state =
        ExceptionState::parse(&state).ok_or_else(|| DbError::Other(format!("exception state '{state}'")))?;
    let last_run = r.take_text(12)?;
    if state == ExceptionState::New && latest.is_some_and(|l| l != last_run) {
        state = ExceptionState::Open;
    }
    Ok(ExceptionRecord {
        exception_id: r.take_text(0)?,
        problem_key: r.take_text(1)?,
        kind: ExceptionKind::parse(&kind).ok_or_else(|| DbError::Other(format!("exception kind '{kind}'")))?,
        state,
        subject: r.take_text(4)?,
        band: r.take_text(5)?,
        currency: r.take_opt_text(6),
        amount: r.take_opt_text(7),
        content_digest: r.take_text(8)?,
        material_digest: r.take_text(9)?,
        first_run: r.take_text(10)?,
        first_seen: r.take_text(11)?,
        last_run,
        last_seen: r.take_text(13)?,
        resolved_run: r.take_opt_text(14),
        resolution: r.take_opt_text(15),
        preparers: split(&r.take_opt_text(16).unwrap_or_default()),
        payload: r.take_text(17)?,
    })
}

fn decisions_where(
    c: &mut dyn Sql,
    path: &Path,
    filter: &str,
    args: &[Val],
) -> Result<Vec<StoredDecision>, StateError> {
    decisions_select(c, path, &format!("WHERE {filter} ORDER BY decided_at, decision_id"), args)
}

/// Decisions by `tail`, the query's `WHERE … ORDER BY …` and any `LIMIT`.
fn decisions_select(c: &mut dyn Sql, path: &Path, tail: &str, args: &[Val]) -> Result<Vec<StoredDecision>, StateError> {
    let e = db(path);
    let sql = format!(
        "SELECT decision_id, exception_id, action, actor, decided_at, body, status, reason, source, approved_by, applied_run \
         FROM decisions {tail}"
    );
    let mut out = Vec::new();
    for r in c.rows(&sql, args).map_err(&e)? {
        let id = r.text(0).map_err(&e)?;
        let bad = |what: &str| StateError::Db(path.to_path_buf(), format!("decision {id}: {what}"));
        out.push(StoredDecision {
            action: Action::parse(&r.text(2).map_err(&e)?).ok_or_else(|| bad("unknown action"))?,
            status: DecisionStatus::parse(&r.text(6).map_err(&e)?).ok_or_else(|| bad("unknown status"))?,
            input: serde_json::from_str(&r.text(5).map_err(&e)?).map_err(|x| bad(&x.to_string()))?,
            exception_id: r.opt_text(1),
            actor: r.text(3).map_err(&e)?,
            decided_at: r.text(4).map_err(&e)?,
            reason: r.opt_text(7),
            source: r.text(8).map_err(&e)?,
            approved_by: r.opt_text(9),
            applied_run: r.opt_text(10),
            decision_id: id,
        });
    }
    Ok(out)
}

/// Inserts `rows` (each with `columns.len()` values) into `table` in order,
/// `tail` (an `ON CONFLICT` clause) after each statement, as many rows to a
/// statement as the backend does best ([`Sql::rows_per_insert`]).
///
/// - SQLite: one prepared statement executed per row. Multi-row `VALUES`
///   lists of 20–200 rows measured slower (bank entries, exceptions and
///   events of a 258k-entry run, 2026-11-30).
/// - PostgreSQL: one round trip per batch of rows, not per row (one day of
///   17,259 bank entries: 11.1 s → 1.7 s, 2026-12-01).
///
/// An upsert's rows must have distinct keys (the callers build them from
/// maps): PostgreSQL refuses one statement that updates a row twice.
fn insert_many(
    tx: &mut dyn Sql,
    table: &str,
    columns: &[&str],
    rows: impl IntoIterator<Item = Vec<Val>>,
    tail: &str,
) -> Result<(), DbError> {
    let k = columns.len().max(1);
    let per = tx.rows_per_insert(k).max(1);
    let head = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    // The statement for `n` rows: built once per size (a full batch and the last).
    let statement = |n: usize| {
        let mut sql = String::with_capacity(head.len() + n * k * 7 + tail.len() + 2);
        sql.push_str(&head);
        for r in 0..n {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..k {
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("${}", r * k + c + 1));
            }
            sql.push(')');
        }
        if !tail.is_empty() {
            sql.push(' ');
            sql.push_str(tail);
        }
        sql
    };
    let full = statement(per);
    let mut rows = rows.into_iter().peekable();
    if per == 1 {
        // One row a statement: the statement is looked up once per batch of
        // rows, and the rows are built a batch at a time.
        let mut args: Vec<Val> = Vec::with_capacity(ROWS_PER_BATCH * k);
        while rows.peek().is_some() {
            args.clear();
            for r in rows.by_ref().take(ROWS_PER_BATCH) {
                args.extend(r);
            }
            tx.exec_each(&full, &args, k)?;
        }
        return Ok(());
    }
    let mut args: Vec<Val> = Vec::with_capacity(per * k);
    while rows.peek().is_some() {
        args.clear();
        let mut n = 0;
        for r in rows.by_ref().take(per) {
            args.extend(r);
            n += 1;
        }
        if n == per {
            tx.exec(&full, &args)?;
        } else {
            tx.exec(&statement(n), &args)?;
        }
    }
    Ok(())
}

/// Rows [`insert_many`] builds and executes at a time where a statement
/// carries one row (SQLite).
const ROWS_PER_BATCH: usize = 4096;

/// The columns of `bank_entries`, in the order a run writes them.
const BANK_ENTRY_COLUMNS: [&str; 9] =
    ["txn_id", "amount_minor", "currency", "row_json", "status", "first_run", "last_run", "settled_run", "settled_by"];

/// Writes a run's bank side: its entries' changes, the rows kept of entries
/// a decision settled, and the run files it leaves the next run.
fn write_bank(tx: &mut dyn Sql, run_id: &str, ch: &BankChanges) -> Result<(), DbError> {
    let t = std::time::Instant::now();
    // New entries are inserted; a known entry's status and settlement change.
    // One row per entry (the last change wins), as one statement may not touch a row twice.
    // In key order (the index grows in order); of changes to one entry the last.
    use rayon::slice::ParallelSliceMut;
    let mut by_id: Vec<(usize, &EntryChange)> = ch.entries.iter().enumerate().collect();
    by_id.par_sort_unstable_by(|(i, a), (j, b)| a.txn_id.cmp(&b.txn_id).then(j.cmp(i)));
    by_id.dedup_by(|b, a| a.1.txn_id == b.1.txn_id);
    let run = Val::Text(run_id.to_string());
    let rows = by_id.into_iter().map(|(_, c)| {
        let settled_run = if c.status != EntryStatus::Open { run.clone() } else { Val::Null };
        vec![
            Val::Text(c.txn_id.clone()),
            Val::Int(c.amount_minor),
            Val::Text(c.currency.clone()),
            Val::Text(String::new()),
            Val::Text(c.status.as_str().to_string()),
            run.clone(),
            run.clone(),
            settled_run,
            c.settled_by.to_val(),
        ]
    });
    insert_many(
        tx,
        "bank_entries",
        &BANK_ENTRY_COLUMNS,
        rows,
        "ON CONFLICT (txn_id) DO UPDATE SET status = excluded.status, last_run = excluded.last_run, \
         settled_run = excluded.settled_run, settled_by = excluded.settled_by",
    )?;
    tracing::debug!(ms = t.elapsed().as_millis() as u64, entries = ch.entries.len(), "state: entries");
    let t = std::time::Instant::now();
    for (id, row) in &ch.kept_rows {
        tx.exec("UPDATE bank_entries SET row_json = $1 WHERE txn_id = $2", vals![row, id])?;
    }
    for (name, f) in [("carried", &ch.carried), ("applications", &ch.auto_applications), ("advices", &ch.advices)] {
        if let Some(f) = f {
            tx.exec("DELETE FROM run_files WHERE name = $1", vals![name])?;
            tx.exec(
                "INSERT INTO run_files (name, run_id, rows, sha256, parquet) VALUES ($1, $2, $3, $4, $5)",
                vals![name, run_id, f.rows, f.sha256, f.parquet.as_slice()],
            )?;
        }
    }
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "state: kept rows, run files");
    Ok(())
}

/// Writes everything of a run but its bank side ([`write_bank`]).
fn write_run(tx: &mut dyn Sql, ch: &RunChanges) -> Result<(), DbError> {
    let t = std::time::Instant::now();
    // In key order: rows inserted in the order of their primary key extend the
    // index at its end instead of splitting pages all over it.
    let mut proposals: Vec<&crate::models::ProposalScore> = ch.proposals.iter().collect();
    proposals.sort_by(|a, b| (&a.run_id, &a.txn_id, &a.items).cmp(&(&b.run_id, &b.txn_id, &b.items)));
    let proposals: Vec<Vec<Val>> = proposals
        .into_iter()
        .map(|p| {
            vec![
                Val::Text(p.run_id.clone()),
                Val::Text(p.txn_id.clone()),
                Val::Text(p.items.join("|")),
                Val::Text(p.model.clone()),
                Val::Text(p.confidence.to_string()),
                p.challenger.clone().map_or(Val::Null, Val::Text),
                p.shadow_confidence.map_or(Val::Null, |v| Val::Text(v.to_string())),
                Val::Text(p.band.as_str().to_string()),
                p.feature_spec.clone().map_or(Val::Null, Val::Text),
                if p.features.is_empty() {
                    Val::Null
                } else {
                    Val::Text(serde_json::to_string(&p.features).unwrap_or_default())
                },
                p.entity.clone().map_or(Val::Null, Val::Text),
                Val::Int(i64::from(p.held)),
            ]
        })
        .collect();
    let mut candidates: Vec<&crate::models::CandidateScore> = ch.candidates.iter().collect();
    candidates.sort_by(|a, b| (&a.run_id, &a.txn_id, &a.items).cmp(&(&b.run_id, &b.txn_id, &b.items)));
    let candidates: Vec<Vec<Val>> = candidates
        .into_iter()
        .map(|c| {
            vec![
                Val::Text(c.run_id.clone()),
                Val::Text(c.txn_id.clone()),
                Val::Text(c.items.join("|")),
                Val::Text(c.model.clone()),
                Val::Text(c.confidence.to_string()),
                c.shadow_confidence.map_or(Val::Null, |v| Val::Text(v.to_string())),
                Val::Text(c.feature_spec.clone()),
                Val::Text(serde_json::to_string(&c.features).unwrap_or_default()),
                c.entity.clone().map_or(Val::Null, Val::Text),
            ]
        })
        .collect();
    let flags: Vec<Vec<Val>> = ch
        .flags
        .iter()
        .map(|f| {
            vec![
                Val::Text(ch.run.run_id.clone()),
                Val::Text(f.engine.clone()),
                Val::Text(f.subject.clone()),
                Val::Text(f.problem_key.clone()),
                Val::Text(f.model.clone()),
                Val::Text(f.threshold.to_string()),
                Val::Text(f.score.to_string()),
                Val::Text(f.feature_spec.clone()),
                Val::Text(serde_json::to_string(&f.features).unwrap_or_default()),
            ]
        })
        .collect();
    insert_many(
        tx,
        "flag_scores",
        &["run_id", "engine", "subject", "problem_key", "model", "threshold", "score", "feature_spec", "features"],
        flags,
        "",
    )?;
    for (model, drift) in &ch.drift {
        tx.exec(
            "INSERT INTO model_drift (run_id, model, drift) VALUES ($1, $2, $3)",
            vals![ch.run.run_id, model, drift],
        )?;
    }
    for (model, calibration) in &ch.calibration {
        tx.exec(
            "INSERT INTO model_calibration (run_id, model, calibration) VALUES ($1, $2, $3)",
            vals![ch.run.run_id, model, calibration],
        )?;
    }
    insert_many(
        tx,
        "proposal_scores",
        &[
            "run_id",
            "txn_id",
            "items",
            "model",
            "confidence",
            "challenger",
            "shadow_confidence",
            "band",
            "feature_spec",
            "features",
            "entity",
            "held",
        ],
        proposals,
        "",
    )?;
    insert_many(
        tx,
        "candidate_scores",
        &[
            "run_id",
            "txn_id",
            "items",
            "model",
            "confidence",
            "shadow_confidence",
            "feature_spec",
            "features",
            "entity",
        ],
        candidates,
        "",
    )?;
    tracing::debug!(
        ms = t.elapsed().as_millis() as u64,
        proposals = ch.proposals.len(),
        candidates = ch.candidates.len(),
        flags = ch.flags.len(),
        "state: scores"
    );
    for (t, i) in &ch.applications_dropped {
        tx.exec("DELETE FROM applications WHERE txn_id = $1 AND item_id = $2", vals![t, i])?;
    }
    let mut by_pair: std::collections::BTreeMap<(&str, &str), &Application> = std::collections::BTreeMap::new();
    for a in &ch.applications_added {
        by_pair.insert((a.txn_id.as_str(), a.item_id.as_str()), a);
    }
    let rows: Vec<Vec<Val>> = by_pair
        .values()
        .map(|a| {
            vec![
                Val::Text(a.txn_id.clone()),
                Val::Text(a.item_id.clone()),
                Val::Int(a.applied_minor),
                Val::Text(a.currency.clone()),
                Val::Int(a.open_seen_minor),
                Val::Text(a.run_id.clone()),
                a.decision_id.to_val(),
            ]
        })
        .collect();
    insert_many(
        tx,
        "applications",
        &["txn_id", "item_id", "applied_minor", "currency", "open_seen_minor", "run_id", "decision_id"],
        rows,
        "ON CONFLICT (txn_id, item_id) DO UPDATE SET applied_minor = excluded.applied_minor, \
         open_seen_minor = excluded.open_seen_minor, run_id = excluded.run_id, decision_id = excluded.decision_id",
    )?;
    let t = std::time::Instant::now();
    // Exceptions first raised by this run are inserted together; others updated.
    let (mut new, known): (Vec<&ExceptionRecord>, Vec<&ExceptionRecord>) =
        ch.exceptions.iter().partition(|r| r.first_run == ch.run.run_id);
    // In key order: the index grows at its end instead of splitting pages at random.
    new.sort_by(|a, b| a.exception_id.cmp(&b.exception_id));
    let rows: Vec<Vec<Val>> = new
        .iter()
        .map(|r| {
            vec![
                Val::Text(r.exception_id.clone()),
                Val::Text(r.problem_key.clone()),
                Val::Text(r.kind.as_str().to_string()),
                Val::Text(r.state.as_str().to_string()),
                Val::Text(r.subject.clone()),
                Val::Text(r.band.clone()),
                r.currency.to_val(),
                r.amount.to_val(),
                Val::Text(r.content_digest.clone()),
                Val::Text(r.material_digest.clone()),
                Val::Text(r.first_run.clone()),
                Val::Text(r.first_seen.clone()),
                Val::Text(r.last_run.clone()),
                Val::Text(r.last_seen.clone()),
                r.resolved_run.to_val(),
                r.resolution.to_val(),
                Val::Text(join(&r.preparers)),
                Val::Text(r.payload.clone()),
            ]
        })
        .collect();
    insert_many(
        tx,
        "exceptions",
        &[
            "exception_id",
            "problem_key",
            "kind",
            "state",
            "subject",
            "band",
            "currency",
            "amount",
            "content_digest",
            "material_digest",
            "first_run",
            "first_seen",
            "last_run",
            "last_seen",
            "resolved_run",
            "resolution",
            "preparers",
            "payload",
        ],
        rows,
        "",
    )?;
    for r in known {
        update_exception(tx, r)?;
    }
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "state: exceptions");
    let t = std::time::Instant::now();
    insert_events(tx, &ch.events)?;
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "state: events");
    for (id, status, reason) in &ch.decisions {
        let applied = (*status == DecisionStatus::Applied).then_some(ch.run.run_id.as_str());
        tx.exec(
            "UPDATE decisions SET status = $1, reason = COALESCE($2, reason), applied_run = $3 WHERE decision_id = $4",
            vals![status.as_str(), reason, applied, id],
        )?;
    }
    for a in &ch.aliases {
        tx.exec(
            "INSERT INTO payer_aliases (name_key, customer_id, name, decision_id, actor, decided_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name_key, customer_id) DO NOTHING",
            vals![a.name_key, a.customer_id, a.name, a.decision_id, a.actor, a.decided_at],
        )?;
    }
    for p in &ch.permissions {
        tx.exec(
            "INSERT INTO payer_permissions (customer_id, payer_id, decision_id, actor, decided_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (customer_id, payer_id) DO NOTHING",
            vals![p.customer_id, p.payer_id, p.decision_id, p.actor, p.decided_at],
        )?;
    }
    for k in &ch.lapsed {
        tx.exec("DELETE FROM dismissed WHERE problem_key = $1", vals![k])?;
    }
    Ok(())
}

/// Updates a known exception's state, content and resolution.
fn update_exception(tx: &mut dyn Sql, r: &ExceptionRecord) -> Result<u64, DbError> {
    tx.exec(
        "UPDATE exceptions SET kind = $1, state = $2, band = $3, currency = $4, amount = $5, content_digest = $6, \
         material_digest = $7, last_run = $8, last_seen = $9, resolved_run = $10, resolution = $11, preparers = $12, \
         payload = $13 WHERE exception_id = $14",
        vals![
            r.kind.as_str(),
            r.state.as_str(),
            r.band,
            r.currency,
            r.amount,
            r.content_digest,
            r.material_digest,
            r.last_run,
            r.last_seen,
            r.resolved_run,
            r.resolution,
            join(&r.preparers),
            r.payload,
            r.exception_id
        ],
    )
}

fn insert_events(tx: &mut dyn Sql, events: &[EventRow]) -> Result<(), DbError> {
    let seq = tx.count("SELECT COALESCE(MAX(seq), 0) FROM exception_events", &[])?;
    // By exception (a stable sort keeps each exception's events in order), for
    // the same reason as exceptions.
    let mut events: Vec<&EventRow> = events.iter().collect();
    events.sort_by(|a, b| a.exception_id.cmp(&b.exception_id));
    let rows: Vec<Vec<Val>> = events
        .iter()
        .zip(seq + 1..)
        .map(|(ev, seq)| {
            vec![
                Val::Text(ev.exception_id.clone()),
                Val::Int(seq),
                ev.run_id.to_val(),
                ev.decision_id.to_val(),
                Val::Text(ev.at.clone()),
                Val::Text(ev.state.as_str().to_string()),
                ev.band.to_val(),
                ev.score.to_val(),
                ev.model.to_val(),
                Val::Text(ev.detail.clone()),
            ]
        })
        .collect();
    insert_many(
        tx,
        "exception_events",
        &["exception_id", "seq", "run_id", "decision_id", "at", "state", "band", "score", "model", "detail"],
        rows,
        "",
    )
}

/// The exceptions a run reads: open, or resolved by a decision. The condition
/// of the partial index `exceptions_open` (schema 13) word for word, so the
/// store reads that index, not every exception the chain raised.
const OPEN_EXCEPTIONS: &str = "state <> 'resolved' OR resolved_run IS NULL";

/// The decisions a run applies: accepted, not applied yet. The condition of
/// the partial index `decisions_to_apply` (schema 13), not every decision.
const PENDING_DECISIONS: &str = "status = 'accepted'";

/// The chain check's queries. Each reads a partial index of the few rows it
/// looks for (schema 13; `COUNT_ENTRIES` the smallest index of all entries),
/// so the check does not grow with every entry the chain ever loaded.
const COUNT_OPEN: &str = "SELECT COUNT(*) FROM bank_entries WHERE status = 'open'";
const COUNT_RESOLVED: &str = "SELECT COUNT(*) FROM bank_entries WHERE status = 'resolved'";
const COUNT_OTHER_STATUS: &str =
    "SELECT COUNT(*) FROM bank_entries WHERE status <> 'matched' AND status <> 'open' AND status <> 'resolved'";
const COUNT_ENTRIES: &str = "SELECT COUNT(*) FROM bank_entries";
const OPEN_WITHOUT_EXCEPTION: &str = "SELECT b.txn_id FROM bank_entries b WHERE b.status = 'open' \
     AND NOT EXISTS (SELECT 1 FROM exceptions e WHERE e.subject = 'bank_transactions:' || b.txn_id \
     AND e.state <> 'resolved') ORDER BY b.txn_id LIMIT 20";
const SETTLED_BY_UNKNOWN_DECISION: &str = "SELECT b.txn_id FROM bank_entries b \
     WHERE b.settled_by IS NOT NULL AND b.settled_by <> 'auto' AND b.status <> 'open' \
     AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.decision_id = b.settled_by) \
     ORDER BY b.settled_by, b.txn_id LIMIT 20";

fn chain_check(tx: &mut dyn Sql, predecessor: Option<&RunRecord>) -> Result<ChainCheck, DbError> {
    // Entries of any status but the three make the chain unbalanced.
    let open = tx.count(COUNT_OPEN, &[])? as u64;
    let resolved = tx.count(COUNT_RESOLVED, &[])? as u64;
    let other = tx.count(COUNT_OTHER_STATUS, &[])? as u64;
    let entries = tx.count(COUNT_ENTRIES, &[])? as u64;
    let matched = entries.saturating_sub(open + resolved + other);
    let mut list =
        |sql: &str| -> Result<Vec<String>, DbError> { tx.rows(sql, &[])?.iter().map(|r| r.text(0)).collect() };
    let open_without_exception = list(OPEN_WITHOUT_EXCEPTION)?;
    let settled_by_unknown_decision = list(SETTLED_BY_UNKNOWN_DECISION)?;
    let runs = tx.count("SELECT COUNT(*) FROM runs", &[])?;
    Ok(ChainCheck {
        runs: runs as u64 + 1,
        predecessor: predecessor.map(|p| p.run_id.clone()),
        predecessor_manifest_sha256: predecessor.map(|p| p.manifest_sha256.clone()),
        entries,
        matched,
        open,
        resolved,
        balanced: other == 0 && open_without_exception.is_empty() && settled_by_unknown_decision.is_empty(),
        open_without_exception,
        settled_by_unknown_decision,
    })
}

/// A run's changes, written but not committed.
pub struct PendingRun<'a> {
    tx: Box<dyn Tx + 'a>,
    path: PathBuf,
    run: NewRun,
    check: ChainCheck,
    predecessor: Option<RunRecord>,
}

impl std::fmt::Debug for PendingRun<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingRun").field("run", &self.run).field("check", &self.check).finish()
    }
}

impl PendingRun<'_> {
    /// Writes the run's bank side; a later [`PendingRun::write`] writes the rest.
    pub fn write_bank(&mut self, bank: &BankChanges) -> Result<(), StateError> {
        write_bank(self.tx.as_mut(), &self.run.run_id, bank).map_err(db(&self.path))
    }

    /// Writes the run's changes (their bank side too, empty when
    /// [`PendingRun::write_bank`] wrote it) and checks the chain's
    /// conservation with them.
    pub fn write(&mut self, ch: &RunChanges) -> Result<&ChainCheck, StateError> {
        if ch.run != self.run {
            return Err(StateError::Db(
                self.path.clone(),
                format!("the changes of run {} written in the transaction of run {}", ch.run.run_id, self.run.run_id),
            ));
        }
        let e = db(&self.path);
        let t = std::time::Instant::now();
        write_bank(self.tx.as_mut(), &self.run.run_id, &ch.bank).map_err(&e)?;
        write_run(self.tx.as_mut(), ch).map_err(&e)?;
        let written = t.elapsed();
        self.check = chain_check(self.tx.as_mut(), self.predecessor.as_ref()).map_err(&e)?;
        tracing::debug!(
            exceptions = ch.exceptions.len(),
            events = ch.events.len(),
            write_ms = written.as_millis() as u64,
            check_ms = (t.elapsed() - written).as_millis() as u64,
            "state written"
        );
        Ok(&self.check)
    }

    /// The exceptions with the given problem keys, in any state (without
    /// payloads), as this transaction sees them.
    pub fn exceptions_among(&mut self, keys: &[String]) -> Result<Vec<ExceptionRecord>, StateError> {
        let e = db(&self.path);
        // The latest run of the chain is the one before this.
        let latest = self.predecessor.as_ref().map(|r| r.run_id.as_str());
        let cols = exception_columns("''");
        let rows =
            among(self.tx.as_mut(), &format!("SELECT {cols} FROM exceptions WHERE problem_key"), keys).map_err(&e)?;
        rows.into_iter().map(|r| exception_from_row(r, latest)).collect::<Result<_, _>>().map_err(&e)
    }

    /// The published payloads of the given exceptions (id → JSON), as this
    /// transaction sees them.
    pub fn payloads(&mut self, ids: &[String]) -> Result<HashMap<String, String>, StateError> {
        payloads(self.tx.as_mut(), ids).map_err(db(&self.path))
    }

    /// The chain's conservation with this run's changes (after [`PendingRun::write`]).
    pub fn check(&self) -> &ChainCheck {
        &self.check
    }

    /// Adds the run to the chain with its manifest's sha256 and commits; until
    /// this returns, the store is as before the run.
    pub fn commit(mut self, manifest_sha256: &str, committed_at: &str) -> Result<RunRecord, StateError> {
        let e = db(&self.path);
        let seq = self.predecessor.as_ref().map_or(1, |p| p.seq + 1);
        let rec = RunRecord {
            seq,
            run_id: self.run.run_id.clone(),
            predecessor: self.predecessor.as_ref().map(|p| p.run_id.clone()),
            predecessor_manifest_sha256: self.predecessor.as_ref().map(|p| p.manifest_sha256.clone()),
            manifest_sha256: manifest_sha256.to_string(),
            as_of: self.run.as_of.clone(),
            started_at: self.run.started_at.clone(),
            committed_at: committed_at.to_string(),
            input: self.run.input.clone(),
            output: self.run.output.clone(),
        };
        self.tx
            .exec(
                "INSERT INTO runs (seq, run_id, predecessor, predecessor_manifest_sha256, manifest_sha256, as_of, \
                 started_at, committed_at, input, output) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                vals![
                    rec.seq,
                    rec.run_id,
                    rec.predecessor,
                    rec.predecessor_manifest_sha256,
                    rec.manifest_sha256,
                    rec.as_of,
                    rec.started_at,
                    rec.committed_at,
                    rec.input,
                    rec.output
                ],
            )
            .map_err(|x| match x {
                DbError::Constraint(_) => {
                    StateError::Db(self.path.clone(), format!("run {} is already in the chain", rec.run_id))
                }
                x => e(x),
            })?;
        self.tx.commit().map_err(&e)?;
        Ok(rec)
    }
}

/// Which actions apply to which kinds.
fn allowed(action: Action, kind: ExceptionKind) -> bool {
    use ExceptionKind as K;
    let receipt = matches!(
        kind,
        K::UnmatchedReceipt | K::SuggestedMatch | K::AmbiguousMatch | K::PartialPayment | K::Overpayment
    );
    match action {
        Action::Accept => matches!(kind, K::SuggestedMatch | K::PartialPayment | K::Overpayment),
        Action::Choose => kind == K::AmbiguousMatch,
        Action::Match | Action::RejectPair => receipt,
        Action::WriteOff => {
            matches!(kind, K::SuggestedMatch | K::PartialPayment | K::Overpayment | K::UnmatchedReceipt)
        }
        Action::Dismiss => !matches!(kind, K::ControlViolation),
        Action::Explain => matches!(kind, K::JournalAnomaly | K::ControlViolation),
        Action::Confirm => matches!(kind, K::DuplicateInvoice | K::JournalAnomaly),
        Action::Undo | Action::Approve => true,
    }
}

/// Actions that settle a receipt by matching it (applied by the next run).
pub fn is_match(action: Action) -> bool {
    matches!(action, Action::Accept | Action::Choose | Action::Match | Action::WriteOff)
}

fn record(
    tx: &mut dyn Sql,
    r: &Received,
    status: DecisionStatus,
    reason: Option<&str>,
    received_at: &str,
) -> Result<u64, DbError> {
    let d = &r.input;
    let body = serde_json::to_string(d).unwrap_or_default();
    tx.exec(
        "INSERT INTO decisions (decision_id, exception_id, action, actor, roles, decided_at, comment, body, status, reason, \
         source, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        vals![
            d.decision_id,
            d.exception_id,
            r.action.as_str(),
            d.actor,
            join(&d.roles),
            d.decided_at,
            d.comment,
            body,
            status.as_str(),
            reason,
            r.source,
            received_at
        ],
    )
}

fn exception_by_id(tx: &mut dyn Sql, id: &str) -> Result<Option<ExceptionRecord>, DbError> {
    let latest = tx.one("SELECT run_id FROM runs ORDER BY seq DESC LIMIT 1", &[])?.map(|r| r.text(0)).transpose()?;
    Ok(exception_rows(tx, latest.as_deref(), "exception_id = $1", vals![id])?.pop())
}

fn event(
    tx: &mut dyn Sql,
    exception_id: &str,
    decision_id: &str,
    at: &str,
    state: ExceptionState,
    detail: String,
) -> Result<(), DbError> {
    insert_events(
        tx,
        &[EventRow {
            exception_id: exception_id.to_string(),
            run_id: None,
            decision_id: Some(decision_id.to_string()),
            at: at.to_string(),
            state,
            band: None,
            score: None,
            model: None,
            detail,
        }],
    )
}

fn resolve_now(tx: &mut dyn Sql, x: &ExceptionRecord, d: &DecisionInput, what: &str) -> Result<(), DbError> {
    let day = d.decided_at.get(..10).unwrap_or(&d.decided_at);
    let comment = if d.comment.is_empty() { String::new() } else { format!(": {}", d.comment) };
    let resolution = format!("{what} by {} on {day} (decision {}){comment}", d.actor, d.decision_id);
    tx.exec(
        "UPDATE exceptions SET state = 'resolved', resolved_run = NULL, resolution = $1 WHERE exception_id = $2",
        vals![resolution, x.exception_id],
    )?;
    event(tx, &x.exception_id, &d.decision_id, &d.decided_at, ExceptionState::Resolved, resolution)
}

fn submit_one(
    tx: &mut dyn Sql,
    path: &Path,
    r: &Received,
    policy: &Policy,
    received_at: &str,
) -> Result<Verdict, StateError> {
    let e = db(path);
    let d = &r.input;
    let verdict = |status: Option<DecisionStatus>, reason: Option<String>, duplicate: bool| Verdict {
        decision_id: d.decision_id.clone(),
        source: r.source.clone(),
        status,
        duplicate,
        reason,
    };
    // Idempotent by id: the same decision again changes nothing; another
    // decision under a used id is refused and not recorded.
    let body = serde_json::to_string(d).unwrap_or_default();
    let prior = tx
        .one("SELECT body, status, reason FROM decisions WHERE decision_id = $1", vals![d.decision_id])
        .map_err(&e)?;
    if let Some(p) = prior {
        let (b, status, reason) = (p.text(0).map_err(&e)?, p.text(1).map_err(&e)?, p.opt_text(2));
        if b == body {
            return Ok(verdict(DecisionStatus::parse(&status), reason, true));
        }
        return Ok(verdict(
            None,
            Some(format!("decision id {} was already used for a different decision", d.decision_id)),
            false,
        ));
    }
    let outcome = validate_and_apply(tx, r, policy).map_err(&e)?;
    let (status, reason) = match outcome {
        Ok((s, why)) => (s, why),
        Err(why) => (DecisionStatus::Refused, Some(why)),
    };
    record(tx, r, status, reason.as_deref(), received_at).map_err(&e)?;
    if status == DecisionStatus::Refused {
        tracing::warn!(decision = %d.decision_id, source = %r.source, reason = reason.as_deref().unwrap_or(""), "decision refused");
    }
    Ok(verdict(Some(status), reason, false))
}

type Check = Result<(DecisionStatus, Option<String>), String>;

fn validate_and_apply(tx: &mut dyn Sql, r: &Received, policy: &Policy) -> Result<Check, DbError> {
    let d = &r.input;
    match r.action {
        Action::Undo | Action::Approve => return on_decision(tx, r, policy),
        _ => {}
    }
    let id = d.exception_id.as_deref().unwrap_or("");
    let Some(x) = exception_by_id(tx, id)? else {
        return Ok(Err(format!("unknown exception {id}")));
    };
    if !x.is_open() {
        return Ok(Err(format!(
            "exception {id} is resolved ({})",
            x.resolution.as_deref().unwrap_or("no reason recorded")
        )));
    }
    if !allowed(r.action, x.kind) {
        return Ok(Err(format!("{} does not apply to a {}", r.action, x.kind)));
    }
    let amount = x.amount_minor();
    if let Err(why) = policy.authorize(&d.actor, &d.roles, r.action, x.kind, amount) {
        return Ok(Err(why));
    }
    if matches!(r.action, Action::Explain | Action::Dismiss)
        && matches!(x.kind, ExceptionKind::JournalAnomaly | ExceptionKind::ControlViolation)
        && x.preparers.iter().any(|p| p == &d.actor)
    {
        return Ok(Err(format!(
            "{} prepared this journal and may not {} it (segregation of duties)",
            d.actor, r.action
        )));
    }
    // Items and amounts that can be checked without the day's receivables.
    let (receipt, cur) = amount.unwrap_or((0, "XXX"));
    if r.action == Action::Choose {
        let named = x.items();
        if let Some(i) = d.items.iter().find(|i| !named.contains(&i.item_id)) {
            return Ok(Err(format!("{} is not one of the exception's candidates ({})", i.item_id, named.join(", "))));
        }
    }
    let mut total: i128 = 0;
    for i in &d.items {
        if let Some(a) = &i.amount {
            let Some(c) = Currency::parse(cur) else {
                return Ok(Err(format!("the exception has no currency to read {a} in")));
            };
            match parse_minor(a, &MoneyFormat::default(), c) {
                Ok(v) if v > 0 => total += i128::from(v),
                Ok(_) => return Ok(Err(format!("{}: amount {a} is not positive", i.item_id))),
                Err(err) => return Ok(Err(format!("{}: amount {a}: {err}", i.item_id))),
            }
        }
    }
    if total > i128::from(receipt.abs()) {
        return Ok(Err(format!(
            "the items' amounts add up to {}, more than the payment of {} {cur}",
            reckon_core::format_minor_wide(total, Currency::parse(cur).map_or(2, |c| c.exponent())),
            x.amount.as_deref().unwrap_or("?")
        )));
    }
    let mut seen = BTreeSet::new();
    if let Some(i) = d.items.iter().find(|i| !seen.insert(i.item_id.as_str())) {
        return Ok(Err(format!("{} is named twice", i.item_id)));
    }
    // One settling decision per exception at a time.
    if is_match(r.action) || r.action == Action::Dismiss {
        let waiting = tx
            .one(
                "SELECT decision_id FROM decisions WHERE exception_id = $1 AND status IN ('accepted', 'pending_approval') \
                 AND action IN ('accept', 'choose', 'match', 'write_off', 'dismiss') ORDER BY decided_at LIMIT 1",
                vals![x.exception_id],
            )?
            .and_then(|r| r.opt_text(0));
        if let Some(w) = waiting {
            return Ok(Err(format!("exception {} already has decision {w} waiting; undo it first", x.exception_id)));
        }
    }
    if let Some(why) =
        (is_match(r.action) || r.action == Action::Dismiss).then(|| policy.needs_second_person(amount)).flatten()
    {
        event(
            tx,
            &x.exception_id,
            &d.decision_id,
            &d.decided_at,
            x.state,
            format!("{} by {} waits for a second person: {why}", r.action, d.actor),
        )?;
        return Ok(Ok((DecisionStatus::PendingApproval, Some(why))));
    }
    apply_now(tx, r, &x)
}

/// Applies what needs no run: rejected pairs, dismissals, explanations. Matches
/// wait for the next run, which checks them against the day's receivables.
fn apply_now(tx: &mut dyn Sql, r: &Received, x: &ExceptionRecord) -> Result<Check, DbError> {
    let d = &r.input;
    match r.action {
        Action::RejectPair => {
            let (Some(txn), Some(item)) = (x.txn_id(), d.item_id.as_deref()) else {
                return Ok(Err("reject_pair needs an exception about a bank entry and item_id".into()));
            };
            tx.exec(
                "INSERT INTO rejected_pairs (txn_id, item_id, decision_id) VALUES ($1, $2, $3) \
                 ON CONFLICT (txn_id, item_id) DO NOTHING",
                vals![txn, item, d.decision_id],
            )?;
            event(
                tx,
                &x.exception_id,
                &d.decision_id,
                &d.decided_at,
                x.state,
                format!("{} rejected {item} for {txn}: it will not be proposed again", d.actor),
            )?;
            Ok(Ok((DecisionStatus::Applied, None)))
        }
        Action::Dismiss | Action::Explain | Action::Confirm => {
            match x.txn_id() {
                Some(txn) => {
                    tx.exec(
                        "UPDATE bank_entries SET status = 'resolved', settled_by = $1, settled_run = NULL WHERE txn_id = $2",
                        vals![d.decision_id, txn],
                    )?;
                }
                None => {
                    tx.exec(
                        "INSERT INTO dismissed (problem_key, kind, material_digest, decision_id) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (problem_key) DO UPDATE SET material_digest = excluded.material_digest, \
                         decision_id = excluded.decision_id",
                        vals![x.problem_key, x.kind.as_str(), x.material_digest, d.decision_id],
                    )?;
                }
            }
            let what = match r.action {
                Action::Explain => "explained",
                Action::Confirm => "confirmed",
                _ => "dismissed",
            };
            resolve_now(tx, x, d, what)?;
            Ok(Ok((DecisionStatus::Applied, None)))
        }
        _ => {
            event(
                tx,
                &x.exception_id,
                &d.decision_id,
                &d.decided_at,
                x.state,
                format!("{} by {}: accepted, applied by the next run", r.action, d.actor),
            )?;
            Ok(Ok((DecisionStatus::Accepted, None)))
        }
    }
}

fn on_decision(tx: &mut dyn Sql, r: &Received, policy: &Policy) -> Result<Check, DbError> {
    let d = &r.input;
    let target_id = d.target.as_deref().unwrap_or("");
    let target = tx
        .one(
            "SELECT action, exception_id, actor, status, body FROM decisions WHERE decision_id = $1",
            vals![target_id],
        )?
        .map(|q| -> Result<_, DbError> { Ok((q.text(0)?, q.opt_text(1), q.text(2)?, q.text(3)?, q.text(4)?)) })
        .transpose()?;
    let Some((t_action, t_ex, t_actor, t_status, _)) = target else {
        return Ok(Err(format!("unknown decision {target_id}")));
    };
    let t_action = Action::parse(&t_action).unwrap_or(Action::Match);
    let t_status = DecisionStatus::parse(&t_status).unwrap_or(DecisionStatus::Refused);
    let x = match &t_ex {
        Some(id) => exception_by_id(tx, id)?,
        None => None,
    };
    let kind = x.as_ref().map_or(ExceptionKind::UnmatchedReceipt, |x| x.kind);
    let amount = x.as_ref().and_then(|x| x.amount_minor());
    match r.action {
        Action::Approve => {
            if t_status != DecisionStatus::PendingApproval {
                return Ok(Err(format!("decision {target_id} is {t_status}, not waiting for approval")));
            }
            if t_actor == d.actor {
                return Ok(Err(format!(
                    "four eyes: {} took decision {target_id} and may not approve it; a second person must",
                    d.actor
                )));
            }
            if let Err(why) = policy.authorize(&d.actor, &d.roles, t_action, kind, amount) {
                return Ok(Err(why));
            }
            tx.exec(
                "UPDATE decisions SET status = 'accepted', approved_by = $1 WHERE decision_id = $2",
                vals![d.actor, target_id],
            )?;
            if let Some(x) = &x {
                let rec = Received {
                    input: serde_json::from_str(&r_body(tx, target_id)?).unwrap_or_default(),
                    action: t_action,
                    source: r.source.clone(),
                };
                event(
                    tx,
                    &x.exception_id,
                    &d.decision_id,
                    &d.decided_at,
                    x.state,
                    format!("{} approved decision {target_id}", d.actor),
                )?;
                if !is_match(t_action) {
                    // A dismissal waiting for approval takes effect now.
                    if let Ok((s, _)) = apply_now(tx, &rec, x)? {
                        tx.exec(
                            "UPDATE decisions SET status = $1 WHERE decision_id = $2",
                            vals![s.as_str(), target_id],
                        )?;
                    }
                }
            }
            Ok(Ok((DecisionStatus::Applied, None)))
        }
        _ => {
            // Undo.
            if matches!(t_status, DecisionStatus::Refused | DecisionStatus::Undone) {
                return Ok(Err(format!("decision {target_id} is {t_status}; there is nothing to undo")));
            }
            if matches!(t_action, Action::Undo | Action::Approve) {
                return Ok(Err(format!("decision {target_id} is an {t_action}; undo the decision it acted on")));
            }
            if let Err(why) = policy.authorize(&d.actor, &d.roles, Action::Undo, kind, amount) {
                return Ok(Err(why));
            }
            tx.exec("UPDATE decisions SET status = 'undone' WHERE decision_id = $1", vals![target_id])?;
            tx.exec("DELETE FROM payer_aliases WHERE decision_id = $1", vals![target_id])?;
            tx.exec("DELETE FROM payer_permissions WHERE decision_id = $1", vals![target_id])?;
            tx.exec("DELETE FROM rejected_pairs WHERE decision_id = $1", vals![target_id])?;
            tx.exec("DELETE FROM dismissed WHERE decision_id = $1", vals![target_id])?;
            tx.exec("DELETE FROM applications WHERE decision_id = $1", vals![target_id])?;
            tx.exec(
                "UPDATE bank_entries SET status = 'open', settled_by = NULL, settled_run = NULL WHERE settled_by = $1",
                vals![target_id],
            )?;
            if let Some(x) = &x {
                let was_applied = t_status == DecisionStatus::Applied && t_action != Action::RejectPair;
                if was_applied && x.state == ExceptionState::Resolved {
                    tx.exec(
                        "UPDATE exceptions SET state = 'reopened', resolved_run = NULL, resolution = NULL WHERE exception_id = $1",
                        vals![x.exception_id],
                    )?;
                }
                event(
                    tx,
                    &x.exception_id,
                    &d.decision_id,
                    &d.decided_at,
                    if was_applied { ExceptionState::Reopened } else { x.state },
                    format!(
                        "{} undid decision {target_id} ({t_action}){}",
                        d.actor,
                        if d.comment.is_empty() { String::new() } else { format!(": {}", d.comment) }
                    ),
                )?;
            }
            Ok(Ok((DecisionStatus::Applied, None)))
        }
    }
}

fn r_body(tx: &mut dyn Sql, id: &str) -> Result<String, DbError> {
    tx.one("SELECT body FROM decisions WHERE decision_id = $1", vals![id])?.map_or(Ok(String::new()), |r| r.text(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An SQLite store in `dir`, and a fresh PostgreSQL database `name` when
    /// `RECKON_TEST_POSTGRES` names a server (CI starts one and requires it).
    fn test_stores(dir: &Path, name: &str) -> Vec<PathBuf> {
        let mut stores = vec![dir.join("state.db")];
        match std::env::var("RECKON_TEST_POSTGRES") {
            Ok(url) => {
                let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| panic!("{e}"));
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .and_then(|()| admin.batch_execute(&format!("CREATE DATABASE {name}")))
                    .unwrap_or_else(|e| panic!("{e}"));
                let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
                stores.push(PathBuf::from(format!("{base}/{name}")));
            }
            Err(_) => assert!(std::env::var_os("CI").is_none(), "CI runs the store's tests on PostgreSQL"),
        }
        stores
    }

    /// Every row `insert_many` is given is written once, across statements of
    /// at most [`Sql::rows_per_insert`] rows, and an upsert's tail applies to
    /// every batch: on SQLite, and on PostgreSQL when `RECKON_TEST_POSTGRES`
    /// names a server (CI starts one and requires it).
    #[test]
    fn insert_many_writes_every_row_across_statements() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let stores = test_stores(tmp.path(), "reckon_insert_many");
        // 8,193 rows of three columns: on SQLite two batches of
        // `ROWS_PER_BATCH` (4,096) and one of a row, on PostgreSQL eight
        // statements of 1,000 rows and one of 193.
        let n = 2 * ROWS_PER_BATCH + 1;
        let rows = |decision: &str| -> Vec<Vec<Val>> {
            (0..n)
                .map(|i| {
                    vec![
                        Val::Text(format!("T{i:05}")),
                        Val::Text(format!("I{i:05}")),
                        Val::Text(format!("{decision}{i}")),
                    ]
                })
                .collect()
        };
        let upsert = "ON CONFLICT (txn_id, item_id) DO UPDATE SET decision_id = excluded.decision_id";
        for path in stores {
            let mut store = Store::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for decision in ["D", "E"] {
                let mut tx = store.begin().unwrap_or_else(|e| panic!("{e}"));
                let cols = ["txn_id", "item_id", "decision_id"];
                insert_many(tx.as_mut(), "rejected_pairs", &cols, rows(decision), upsert)
                    .unwrap_or_else(|e| panic!("{e}"));
                tx.commit().unwrap_or_else(|e| panic!("{e}"));
            }
            let got = store
                .sql()
                .rows("SELECT txn_id, item_id, decision_id FROM rejected_pairs ORDER BY txn_id", &[])
                .unwrap_or_else(|e| panic!("{e}"));
            let want: Vec<Row> = rows("E").into_iter().map(Row).collect();
            assert_eq!(got.len(), n, "{}", path.display());
            assert!(got == want, "{}: rows differ from what was written", path.display());
        }
    }

    /// The chain check counts entries by status from partial indexes
    /// (schema 13) and still finds what does not balance: an entry of another
    /// status, an open entry no exception is about, settlements by decisions
    /// the store does not hold. On SQLite, and on PostgreSQL when
    /// `RECKON_TEST_POSTGRES` names a server.
    #[test]
    fn chain_check_counts_by_status_and_finds_what_does_not_balance() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let stores = test_stores(tmp.path(), "reckon_chain_check");
        for path in stores {
            let mut store = Store::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let mut tx = store.begin().unwrap_or_else(|e| panic!("{e}"));
            let entry = |id: &str, status: &str, by: Option<&str>| {
                vec![
                    Val::Text(id.into()),
                    Val::Int(100),
                    Val::Text("EUR".into()),
                    Val::Text(String::new()),
                    Val::Text(status.into()),
                    Val::Text("R1".into()),
                    Val::Text("R1".into()),
                    if status == "open" { Val::Null } else { Val::Text("R1".into()) },
                    by.map_or(Val::Null, |b| Val::Text(b.into())),
                ]
            };
            let rows = vec![
                entry("M1", "matched", Some("auto")),
                entry("M2", "matched", Some("auto")),
                entry("M3", "matched", Some("D-missing")),
                entry("O1", "open", None),
                entry("R1", "resolved", Some("D-gone")),
                entry("X1", "settled", Some("auto")),
            ];
            insert_many(tx.as_mut(), "bank_entries", &BANK_ENTRY_COLUMNS, rows, "").unwrap_or_else(|e| panic!("{e}"));
            let c = chain_check(tx.as_mut(), None).unwrap_or_else(|e| panic!("{e}"));
            let at = path.display();
            assert_eq!((c.entries, c.matched, c.open, c.resolved), (6, 3, 1, 1), "{at}: {c:?}");
            assert_eq!(c.open_without_exception, vec!["O1".to_string()], "{at}");
            assert_eq!(c.settled_by_unknown_decision, vec!["R1".to_string(), "M3".to_string()], "{at}");
            assert!(!c.balanced, "{at}");
            tx.exec("DELETE FROM bank_entries WHERE txn_id IN ('O1', 'R1', 'M3')", &[])
                .unwrap_or_else(|e| panic!("{e}"));
            let c = chain_check(tx.as_mut(), None).unwrap_or_else(|e| panic!("{e}"));
            assert!(!c.balanced, "{at}: an entry of another status: {c:?}");
            tx.exec("DELETE FROM bank_entries WHERE txn_id = 'X1'", &[]).unwrap_or_else(|e| panic!("{e}"));
            let c = chain_check(tx.as_mut(), None).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((c.entries, c.matched, c.balanced), (2, 2, true), "{at}: {c:?}");
        }
    }

    /// Calibration reads the decisions that label proposals a page at a time,
    /// newest first, until enough proposals are labelled: decisions that label
    /// none (about no bank entry) make it read on, page after page by key,
    /// through decisions made at the same second.
    #[test]
    fn decided_proposals_are_read_page_after_page_until_enough_are_labelled() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for path in test_stores(tmp.path(), "reckon_calibration_pages") {
            let mut store = Store::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let run_id = "RUN-1".to_string();
            let mut ch = RunChanges::new(NewRun {
                run_id: run_id.clone(),
                as_of: "2026-01-01".into(),
                started_at: "2026-01-01T06:00:00Z".into(),
                input: "in".into(),
                output: "out".into(),
            });
            let mut exception_ids = Vec::new();
            for i in 0..10 {
                let records = vec![format!("bank_transactions:T{i}"), format!("ar_open_items:A{i}")];
                let e = reckon_feed::Exception {
                    exception_id: reckon_feed::Exception::id_for(ExceptionKind::SuggestedMatch, &records),
                    run_id: run_id.clone(),
                    kind: ExceptionKind::SuggestedMatch,
                    band: reckon_feed::Band::Review,
                    score: 0.9,
                    confidence: 0.9,
                    entity: None,
                    currency: None,
                    amount: None,
                    records,
                    reasons: vec![],
                    recommended_action: "confirm".into(),
                    model: Some("cash@1.0".into()),
                    priority: 3,
                    lifecycle: None,
                };
                exception_ids.push(e.exception_id.clone());
                ch.exceptions.push(ExceptionRecord::first_raised(&e, "2026-01-01"));
                ch.proposals.push(crate::models::ProposalScore {
                    run_id: run_id.clone(),
                    txn_id: format!("T{i}"),
                    items: vec![format!("A{i}")],
                    band: reckon_core::Band::Review,
                    model: "cash@1.0".into(),
                    confidence: 0.9,
                    challenger: None,
                    shadow_confidence: None,
                    features: vec![],
                    feature_spec: None,
                    entity: None,
                    held: false,
                });
            }
            store
                .begin_run(&ch)
                .and_then(|p| p.commit(&"0".repeat(64), "2026-01-01T07:00:00Z"))
                .unwrap_or_else(|e| panic!("{e}"));
            // Ten decisions accept a proposal each; twenty-five later ones, all
            // made at one second, are about no bank entry.
            let mut decide = |id: String, exception: Option<&str>, at: &str| {
                let input: DecisionInput = serde_json::from_value(serde_json::json!({"decision_id": id,
                    "exception_id": exception, "action": "accept", "actor": "a", "decided_at": at}))
                .unwrap_or_else(|e| panic!("{e}"));
                let body = serde_json::to_string(&input).unwrap_or_default();
                store
                    .sql()
                    .exec(
                        "INSERT INTO decisions (decision_id, exception_id, action, actor, roles, decided_at, comment, \
                         body, status, source, received_at) VALUES ($1, $2, 'accept', 'a', '', $3, '', $4, 'applied', 't', $3)",
                        vals![id, exception, at, body],
                    )
                    .unwrap_or_else(|e| panic!("{e}"));
            };
            for (i, x) in exception_ids.iter().enumerate() {
                decide(format!("D-L-{i}"), Some(x), &format!("2026-01-01T12:00:0{i}Z"));
            }
            for i in 0..25 {
                decide(format!("D-N-{i:02}"), None, "2026-01-02T12:00:00Z");
            }
            let ids = |labels: usize, store: &mut Store| -> BTreeSet<String> {
                let got = store.decided_proposals(labels).unwrap_or_else(|e| panic!("{e}"));
                got.iter().map(|l| l.decision_id.clone()).collect()
            };
            let at = path.display();
            // Pages of four: six of decisions that label nothing, the seventh
            // labels three, the eighth four more.
            let expected: BTreeSet<String> = (3..10).map(|i| format!("D-L-{i}")).collect();
            assert_eq!(ids(4, &mut store), expected, "{at}");
            let all: BTreeSet<String> = (0..10).map(|i| format!("D-L-{i}")).collect();
            assert_eq!(ids(100, &mut store), all, "{at}");
            // Pages of seven: the fourth labels three, the fifth the other seven.
            assert_eq!(ids(7, &mut store), all, "{at}");
        }
    }

    /// The reads that would otherwise grow with the chain use the partial
    /// indexes of schema 13 (SQLite's query plans; a filter edited apart from
    /// its index would scan every row again).
    #[test]
    fn reads_that_grow_with_the_chain_use_their_partial_indexes() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut store = Store::open(&tmp.path().join("state.db")).unwrap_or_else(|e| panic!("{e}"));
        let open = format!("SELECT exception_id FROM exceptions WHERE {OPEN_EXCEPTIONS} ORDER BY exception_id");
        let review = format!("{} IN ('T1', 'T2')", review_proposals_select());
        let pending =
            format!("SELECT decision_id FROM decisions WHERE {PENDING_DECISIONS} ORDER BY decided_at, decision_id");
        let labelling = format!(
            "SELECT decision_id FROM decisions WHERE {DECISIONS_LABELLING} \
             AND (decided_at < '2026-12-01' OR (decided_at = '2026-12-01' AND decision_id < 'D9')) \
             ORDER BY decided_at DESC, decision_id DESC LIMIT 2000"
        );
        for (sql, index) in [
            (open.as_str(), "exceptions_open"),
            (review.as_str(), "proposal_scores_review_by_txn"),
            (pending.as_str(), "decisions_to_apply"),
            (labelling.as_str(), "decisions_labelling"),
            (COUNT_OPEN, "bank_entries_open"),
            (COUNT_RESOLVED, "bank_entries_resolved"),
            (COUNT_OTHER_STATUS, "bank_entries_other_status"),
            (OPEN_WITHOUT_EXCEPTION, "bank_entries_open"),
            (SETTLED_BY_UNKNOWN_DECISION, "bank_entries_by_decision"),
        ] {
            let plan: Vec<String> = store
                .sql()
                .rows(&format!("EXPLAIN QUERY PLAN {sql}"), &[])
                .unwrap_or_else(|e| panic!("{e}"))
                .iter()
                .map(|r| r.text(3).unwrap_or_default())
                .collect();
            assert!(plan.iter().any(|p| p.contains(index)), "{sql}: {plan:?}");
        }
    }
}
