//! Days of reconciliation against one state store, with a simulated analyst
//! and a simulated ERP: `reckon simulate`.
//!
//! Input is a folder of `reckon generate --days N` (day folders, `all/truth/`,
//! `truth/days.csv`). For each day the simulator writes the day's input folder
//! (the generated files; the receivables snapshot less what the ERP has posted
//! of reckon's matches — the workflow posts a day's `auto` and decided links two
//! days later, so the day in between relies on the store's applications; and
//! yesterday's decisions in `decisions/analyst.jsonl`), runs reckon with the
//! store, and lets the analyst decide a share of the open exceptions from the
//! truth — most correctly, some wrongly (matched to another item), of which
//! some are undone the next day. One row per day: receipts, same-day
//! touchless, carried entries and those applied, late invoices and advices and
//! the receipts matched on their arrival, exceptions by lifecycle state and
//! SLA, decisions by outcome, and whether any problem was raised twice as new.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use reckon_pipeline::{Config, RunOptions};
use serde::Serialize;

/// The simulation's settings.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Share of the open exceptions the analyst decides each day (‰).
    pub decide_permille: u64,
    /// Share of those decided wrongly (‰).
    pub wrong_permille: u64,
    /// Share of wrong decisions undone the next day (‰).
    pub undo_permille: u64,
    /// Days between reckon's links and the ERP's snapshot showing them.
    pub erp_lag_days: usize,
    pub seed: u64,
    pub config: Config,
    /// What the team does with its models between days (retrain, promote).
    pub model_ops: Vec<ModelOp>,
}

/// A step of the model lifecycle between two simulated days.
#[derive(Clone, Debug)]
pub enum ModelOp {
    /// After day `after_day`: train a cash-matching candidate on the store's
    /// decisions into `OUT/models/cash_v<day>_0` and register it as
    /// challenger (it then scores in shadow).
    Retrain { after_day: usize, params: crate::retrain::RetrainParams },
    /// After day `after_day`: promote the challenger if the decisions say it
    /// is better.
    Promote { after_day: usize, rule: reckon_state::models::PromotionRule },
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            decide_permille: 600,
            wrong_permille: 30,
            undo_permille: 500,
            erp_lag_days: 2,
            seed: 1,
            config: Config::default(),
            model_ops: Vec::new(),
        }
    }
}

/// One simulated day.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DayRow {
    pub day: usize,
    pub as_of: String,
    /// Receipts first loaded this day.
    pub receipts_new: u64,
    /// Of those, matched automatically this day.
    pub auto_new: u64,
    /// `auto_new / receipts_new`.
    pub touchless_new: f64,
    /// New receipts paid under a customer's trade name (a name no similarity
    /// finds; `truth/trade_names.csv`) with nothing else to identify them (no
    /// reference, end-to-end id or advice), and of those matched automatically
    /// — which happens only once a person's decision taught reckon the name.
    pub trade_name_new: u64,
    pub trade_name_auto: u64,
    /// Of the trade-name receipts, those whose name a person had confirmed on
    /// an earlier day (a payer alias in the store), and of those the ones
    /// matched automatically.
    pub trade_name_known: u64,
    pub trade_name_known_auto: u64,
    /// New receipts paid under a third party's name whatever else they carry
    /// (references, advices), and of those matched automatically: what
    /// confirmed payer names can lift.
    pub third_party_new: u64,
    pub third_party_auto: u64,
    /// New receipts paid by a parent the customer master permits
    /// (`reckon generate --parent-payers`), those matched automatically, and of
    /// those the ones right.
    pub parent_new: u64,
    pub parent_auto: u64,
    pub parent_auto_right: u64,
    /// Open bank entries carried in from earlier days.
    pub carried_in: u64,
    /// Carried receipts matched this day (by the engine or a decision).
    pub carried_applied: u64,
    /// Open receipts whose last late piece (open item or remittance advice)
    /// arrived this day.
    pub late_arrivals: u64,
    /// Of those, matched this day.
    pub matched_on_arrival: u64,
    /// Of those not matched, put to a person this day with the group of their
    /// true items (a proposal in review: the engine found the match and held it).
    pub proposed_on_arrival: u64,
    /// Late arrivals not matched this day, by the receipt's status: a proposal
    /// held for a person (`review`), candidates alike (`ambiguous`), no
    /// candidate (`unmatched`).
    pub waiting_review: u64,
    pub waiting_ambiguous: u64,
    pub waiting_unmatched: u64,
    pub exceptions_new: u64,
    pub exceptions_open: u64,
    pub exceptions_reopened: u64,
    pub exceptions_resolved: u64,
    pub sla_breached: u64,
    pub decisions_sent: u64,
    pub decisions_accepted: u64,
    pub decisions_refused: u64,
    pub decisions_applied: u64,
    pub decisions_pending: u64,
    pub wrong_sent: u64,
    pub undo_sent: u64,
    /// Problems raised as `new` although raised before (must be 0).
    pub raised_twice: u64,
    /// Of the new receipts matched automatically, those whose items are
    /// exactly the truth's.
    pub auto_right: u64,
    /// The cash-matching model that decided, and the challenger in shadow.
    pub model: String,
    pub challenger: String,
    /// Features of the cash model beyond the drift limits (`model_drift`).
    pub drift_moved: Vec<String>,
    /// What was done with the models after the day (retrained, promoted, refused).
    pub model_events: Vec<String>,
    pub chain_balanced: bool,
    pub ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0}: {1}")]
    Data(PathBuf, String),
    #[error(transparent)]
    Run(#[from] reckon_pipeline::RunError),
}

/// A text column of one of the run's output tables (an error naming file and column when it cannot be read).
fn text(df: &DataFrame, file: &Path, c: &str) -> Result<Vec<String>, SimError> {
    reckon_pipeline::frame::required_strings(df, c).map_err(|e| SimError::Data(file.to_path_buf(), e.to_string()))
}

fn io(p: &Path) -> impl Fn(std::io::Error) -> SimError + '_ {
    move |e| SimError::Io(p.to_path_buf(), e)
}

type Row = BTreeMap<String, String>;

fn read_rows(p: &Path) -> Result<(Vec<String>, Vec<Row>), SimError> {
    let mut rd = csv::Reader::from_path(p).map_err(|e| SimError::Data(p.to_path_buf(), e.to_string()))?;
    let header: Vec<String> =
        rd.headers().map_err(|e| SimError::Data(p.to_path_buf(), e.to_string()))?.iter().map(str::to_string).collect();
    let mut rows = Vec::new();
    for r in rd.records() {
        let r = r.map_err(|e| SimError::Data(p.to_path_buf(), e.to_string()))?;
        rows.push(header.iter().cloned().zip(r.iter().map(str::to_string)).collect());
    }
    Ok((header, rows))
}

fn write_rows(p: &Path, header: &[String], rows: &[Row]) -> Result<(), SimError> {
    let mut w = csv::Writer::from_path(p).map_err(|e| SimError::Data(p.to_path_buf(), e.to_string()))?;
    let err = |e: csv::Error| SimError::Data(p.to_path_buf(), e.to_string());
    w.write_record(header).map_err(err)?;
    for r in rows {
        w.write_record(header.iter().map(|h| r.get(h).map_or("", String::as_str))).map_err(err)?;
    }
    w.flush().map_err(io(p))
}

/// An amount in the contract's format as minor units of `currency`, exactly.
fn minor(text: &str, currency: &str, file: &Path) -> Result<i64, SimError> {
    let c = reckon_core::Currency::parse(currency)
        .ok_or_else(|| SimError::Data(file.to_path_buf(), format!("'{currency}' is not a currency")))?;
    reckon_core::parse_minor(text, &reckon_core::MoneyFormat::CONTRACT, c)
        .map_err(|e| SimError::Data(file.to_path_buf(), format!("{text} {currency}: {e}")))
}

fn exponent(currency: &str) -> u8 {
    reckon_core::Currency::parse(currency).map_or(2, |c| c.exponent())
}

fn parquet(p: &Path) -> Result<DataFrame, SimError> {
    let f = std::fs::File::open(p).map_err(io(p))?;
    ParquetReader::new(f).finish().map_err(|e| SimError::Data(p.to_path_buf(), e.to_string()))
}

/// The truth the analyst decides from.
struct Truth {
    links: BTreeMap<String, Vec<String>>,
    /// Receipts the truth says are not receivables cash.
    not_ar: BTreeSet<String>,
    true_duplicates: BTreeSet<(String, String)>,
    anomalies: BTreeSet<String>,
    /// Day (1-based) the last late piece of a receipt arrived (its late open
    /// items and its advice) → the receipts that could be matched from that
    /// day on. A receipt waiting for a piece that never arrives is in none.
    arrivals: BTreeMap<usize, BTreeSet<String>>,
    /// Receipts paid under a trade name, with the name.
    trade_name: BTreeMap<String, String>,
    /// Every receipt paid under a third party's name.
    third_party: BTreeSet<String>,
    /// Every receipt paid by a customer's parent (`truth/parent_payers.csv`).
    parent_paid: BTreeSet<String>,
}

fn truth(dir: &Path) -> Result<Truth, SimError> {
    let t = dir.join("all/truth");
    let mut links: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut payers: HashMap<String, Vec<String>> = HashMap::new();
    for r in read_rows(&t.join("cash_matches.csv"))?.1 {
        links.entry(r["txn_id"].clone()).or_default().push(r["item_id"].clone());
        payers.entry(r["item_id"].clone()).or_default().push(r["txn_id"].clone());
    }
    let not_ar = read_rows(&t.join("receipts.csv"))?
        .1
        .into_iter()
        .filter(|r| r["pattern"] == "unmatched")
        .map(|r| r["txn_id"].clone())
        .collect();
    let true_duplicates = read_rows(&t.join("ap_duplicates.csv"))?
        .1
        .into_iter()
        .map(|r| (r["doc_id_a"].clone(), r["doc_id_b"].clone()))
        .collect();
    let anomalies = read_rows(&t.join("journal_anomalies.csv"))?
        .1
        .into_iter()
        .map(|r| format!("{}/{}", r["entity"], r["journal_id"]))
        .collect();
    // Advices linked to their payment by reference.
    let (_, bank) = read_rows(&dir.join("all/bank_transactions.csv"))?;
    let mut by_ref: HashMap<String, String> = HashMap::new();
    for b in &bank {
        for k in ["end_to_end_id", "reference"] {
            if !b[k].is_empty() {
                by_ref.insert(b[k].clone(), b["txn_id"].clone());
            }
        }
    }
    let (_, remit) = read_rows(&dir.join("all/remittances.csv"))?;
    let remit_ref: HashMap<String, String> =
        remit.iter().map(|r| (r["remittance_id"].clone(), r["payment_ref"].clone())).collect();
    // Each receipt's last late piece: a receipt whose advice arrives on day 5
    // and whose last invoice is posted on day 6 can be matched on day 6.
    let mut last: BTreeMap<String, Option<usize>> = BTreeMap::new();
    for r in read_rows(&dir.join("truth/days.csv"))?.1 {
        let day = r["day"].parse::<usize>().ok();
        let waiting: Vec<String> = match r["table"].as_str() {
            "ar_open_items" => payers.get(&r["id"]).cloned().unwrap_or_default(),
            "remittances" => remit_ref.get(&r["id"]).and_then(|p| by_ref.get(p)).cloned().into_iter().collect(),
            _ => Vec::new(),
        };
        for t in waiting {
            let e = last.entry(t).or_insert(Some(0));
            *e = match (*e, day) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
        }
    }
    let mut arrivals: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for (t, day) in last {
        if let Some(day) = day {
            arrivals.entry(day).or_default().insert(t);
        }
    }
    let names: BTreeSet<String> =
        read_rows(&dir.join("truth/trade_names.csv"))?.1.into_iter().map(|r| r["trade_name"].clone()).collect();
    // Only receipts whose payer's name is their one clue (the generator's
    // `name_only` pattern: no reference, no end-to-end id, no advice): a
    // referenced payment under a trade name is matched by its reference.
    let name_only: BTreeSet<String> = read_rows(&dir.join("all/truth/receipts.csv"))?
        .1
        .into_iter()
        .filter(|r| r["pattern"] == "name_only")
        .map(|r| r["txn_id"].clone())
        .collect();
    let mut trade_name = BTreeMap::new();
    let mut third_party = BTreeSet::new();
    for d in std::fs::read_dir(dir).map_err(io(dir))?.filter_map(|e| e.ok().map(|e| e.path())) {
        let f = d.join("bank_transactions.csv");
        if d.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("day-")) && f.is_file() {
            for b in read_rows(&f)?.1 {
                if names.contains(&b["counterparty_name"]) {
                    third_party.insert(b["txn_id"].clone());
                    if name_only.contains(&b["txn_id"]) {
                        trade_name.insert(b["txn_id"].clone(), b["counterparty_name"].clone());
                    }
                }
            }
        }
    }
    // Receipts whose items' customer a parent pays for.
    let mut parent_paid = BTreeSet::new();
    let pp = dir.join("truth/parent_payers.csv");
    if pp.is_file() {
        let children: BTreeSet<String> = read_rows(&pp)?.1.into_iter().map(|r| r["customer_id"].clone()).collect();
        let customer_of: HashMap<String, String> = read_rows(&dir.join("all/ar_open_items.csv"))?
            .1
            .into_iter()
            .map(|r| (r["item_id"].clone(), r["customer_id"].clone()))
            .collect();
        for (t, items) in &links {
            if items.first().and_then(|i| customer_of.get(i)).is_some_and(|c| children.contains(c)) {
                parent_paid.insert(t.clone());
            }
        }
    }
    Ok(Truth { links, not_ar, true_duplicates, anomalies, arrivals, trade_name, third_party, parent_paid })
}

/// Runs the days in `days_dir` against the store `state`, writing inputs, runs
/// and `simulation.json` / `simulation.md` under `out`.
pub fn simulate(days_dir: &Path, out: &Path, state: &Path, cfg: &SimConfig) -> Result<Vec<DayRow>, SimError> {
    let truth = truth(days_dir)?;
    let mut day_dirs: Vec<PathBuf> = std::fs::read_dir(days_dir)
        .map_err(io(days_dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("day-")))
        .collect();
    day_dirs.sort();
    let mut rng = reckon_core::rng::SplitMix64::new(cfg.seed);
    let mut rows = Vec::new();
    // What reckon linked each day: (item, applied minor units).
    let mut linked: Vec<Vec<(String, i64)>> = Vec::new();
    let mut decisions: Vec<serde_json::Value> = Vec::new();
    let mut wrong: Vec<String> = Vec::new();
    let mut open_before: BTreeSet<String> = BTreeSet::new();
    let mut raised: BTreeSet<String> = BTreeSet::new();
    let mut next_id = 0u64;
    // Payer names confirmed before the day (name key, customer).
    let mut known_names: BTreeSet<String> = BTreeSet::new();
    for (d, src) in day_dirs.iter().enumerate() {
        let t0 = std::time::Instant::now();
        let input = out.join("input").join(src.file_name().unwrap_or_default());
        std::fs::create_dir_all(&input).map_err(io(&input))?;
        for e in std::fs::read_dir(src).map_err(io(src))? {
            let p = e.map_err(io(src))?.path();
            let name = p.file_name().unwrap_or_default().to_owned();
            if name != "ar_open_items.csv" && p.is_file() {
                std::fs::copy(&p, input.join(&name)).map_err(io(&p))?;
            }
        }
        // The ERP shows reckon's links of `erp_lag_days` ago and earlier.
        let mut posted: HashMap<String, i64> = HashMap::new();
        for day in linked.iter().take((d + 1).saturating_sub(cfg.erp_lag_days)) {
            for (i, a) in day {
                *posted.entry(i.clone()).or_insert(0) += a;
            }
        }
        let (h, items) = read_rows(&src.join("ar_open_items.csv"))?;
        let mut snap = Vec::with_capacity(items.len());
        let mut open_amount: HashMap<String, (i64, String)> = HashMap::new();
        for mut r in items {
            let open = minor(&r["amount_open"], &r["currency"], &src.join("ar_open_items.csv"))?;
            let left = open - posted.get(&r["item_id"]).copied().unwrap_or(0);
            if open > 0 && left <= 0 {
                continue;
            }
            if left != open {
                let exp = exponent(&r["currency"]);
                r.insert("amount_open".into(), reckon_core::format_minor(left, exp));
            }
            open_amount.insert(r["item_id"].clone(), (left, r["currency"].clone()));
            snap.push(r);
        }
        write_rows(&input.join("ar_open_items.csv"), &h, &snap)?;
        let sent = decisions.len() as u64;
        if !decisions.is_empty() {
            let dir = input.join("decisions");
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
            let text: Vec<String> = decisions.drain(..).map(|v| v.to_string()).collect();
            std::fs::write(dir.join("analyst.jsonl"), text.join("\n") + "\n").map_err(io(&dir))?;
        }
        let run_out = out.join("runs").join(src.file_name().unwrap_or_default());
        let mut o = RunOptions::new(&input, &run_out, cfg.config.clone());
        o.state = Some(state.to_path_buf());
        o.started_at = chrono::DateTime::from_timestamp(1_793_000_000 + d as i64 * 86_400, 0);
        let outcome = reckon_pipeline::run(&o)?;
        let m = &outcome.manifest;
        let st = m.state.clone().unwrap_or_default();
        let mut row = DayRow {
            day: d + 1,
            as_of: st.as_of.clone(),
            carried_in: st.prepared.carried,
            exceptions_new: st.exceptions.get("new").copied().unwrap_or(0),
            exceptions_open: st.exceptions.get("open").copied().unwrap_or(0),
            exceptions_reopened: st.exceptions.get("reopened").copied().unwrap_or(0),
            exceptions_resolved: st.exceptions.get("resolved").copied().unwrap_or(0),
            decisions_sent: sent,
            decisions_accepted: st.decisions_received.get("accepted").copied().unwrap_or(0),
            decisions_pending: st.decisions_received.get("pending_approval").copied().unwrap_or(0),
            decisions_refused: st.decisions_refused.len() as u64,
            decisions_applied: st.decisions_applied + st.decisions_received.get("applied").copied().unwrap_or(0),
            chain_balanced: st.chain.balanced && m.conservation.balanced,
            ..DayRow::default()
        };
        // Receipts: new ones and their touchless share; carried ones applied.
        row.model = m.models.first().map(|x| x.id.clone()).unwrap_or_default();
        row.challenger = m
            .models
            .iter()
            .find(|x| x.role == Some(reckon_pipeline::manifest::ModelRole::Shadow))
            .map(|x| x.id.clone())
            .unwrap_or_default();
        row.drift_moved = m
            .models
            .iter()
            .find(|x| x.id.starts_with("cash@"))
            .and_then(|x| x.drift.as_ref())
            .map(|d| d.moved.clone())
            .unwrap_or_default();
        // Automatic matches against the truth: the items of each auto receipt.
        let mp = run_out.join("matches.parquet");
        let matches = parquet(&mp)?;
        let mut auto_items: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut review_items: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for ((t, i), b) in text(&matches, &mp, "txn_id")?
            .into_iter()
            .zip(text(&matches, &mp, "item_id")?)
            .zip(text(&matches, &mp, "band")?)
        {
            if b == "auto" {
                auto_items.entry(t).or_default().insert(i);
            } else {
                review_items.entry(t).or_default().insert(i);
            }
        }
        let op = run_out.join("receipt_outcomes.parquet");
        let outcomes = parquet(&op)?;
        let (txn, status) = (text(&outcomes, &op, "txn_id")?, text(&outcomes, &op, "status")?);
        let settled: BTreeSet<&str> =
            txn.iter().zip(&status).filter(|(_, s)| *s == "auto" || *s == "decided").map(|(t, _)| t.as_str()).collect();
        for (t, s) in txn.iter().zip(&status) {
            if open_before.contains(t) {
                row.carried_applied += u64::from(s == "auto" || s == "decided");
            } else {
                row.receipts_new += 1;
                row.auto_new += u64::from(s == "auto");
                if s == "auto" {
                    let truth_items: Option<BTreeSet<String>> = truth.links.get(t).map(|v| v.iter().cloned().collect());
                    row.auto_right += u64::from(truth_items.as_ref() == auto_items.get(t));
                }
                if truth.third_party.contains(t) {
                    row.third_party_new += 1;
                    row.third_party_auto += u64::from(s == "auto");
                }
                if truth.parent_paid.contains(t) {
                    row.parent_new += 1;
                    if s == "auto" {
                        row.parent_auto += 1;
                        let truth_items: Option<BTreeSet<String>> =
                            truth.links.get(t).map(|v| v.iter().cloned().collect());
                        row.parent_auto_right += u64::from(truth_items.as_ref() == auto_items.get(t));
                    }
                }
                if let Some(name) = truth.trade_name.get(t) {
                    row.trade_name_new += 1;
                    row.trade_name_auto += u64::from(s == "auto");
                    let key = reckon_cash::normalize::name_key(name);
                    if known_names.contains(&key) {
                        row.trade_name_known += 1;
                        row.trade_name_known_auto += u64::from(s == "auto");
                    }
                }
            }
        }
        row.touchless_new = if row.receipts_new == 0 { 0.0 } else { row.auto_new as f64 / row.receipts_new as f64 };
        if let Some(w) = truth.arrivals.get(&(d + 1)) {
            let waiting: Vec<&String> = w.iter().filter(|t| open_before.contains(*t)).collect();
            row.late_arrivals = waiting.len() as u64;
            row.matched_on_arrival = waiting.iter().filter(|t| settled.contains(t.as_str())).count() as u64;
            let status_of: BTreeMap<&str, &str> =
                txn.iter().zip(&status).map(|(t, s)| (t.as_str(), s.as_str())).collect();
            for t in waiting.iter().filter(|t| !settled.contains(t.as_str())) {
                match status_of.get(t.as_str()).copied() {
                    Some("review") => row.waiting_review += 1,
                    Some("ambiguous") => row.waiting_ambiguous += 1,
                    _ => row.waiting_unmatched += 1,
                }
            }
            row.proposed_on_arrival = waiting
                .iter()
                .filter(|t| !settled.contains(t.as_str()))
                .filter(|t| {
                    let truth_items: Option<BTreeSet<String>> =
                        truth.links.get(t.as_str()).map(|v| v.iter().cloned().collect());
                    truth_items.is_some() && truth_items.as_ref() == review_items.get(t.as_str())
                })
                .count() as u64;
        }
        // What reckon linked today, for the ERP.
        let matches = parquet(&mp)?;
        let (mi, mb) = (text(&matches, &mp, "item_id")?, text(&matches, &mp, "band")?);
        let ma = reckon_pipeline::frame::required_i64(&matches, "applied_amount_minor")
            .map_err(|e| SimError::Data(mp.clone(), e.to_string()))?;
        linked
            .push(mi.into_iter().zip(mb).zip(ma).filter(|((_, b), _)| b == "auto").map(|((i, _), a)| (i, a)).collect());
        // Exceptions: lifecycle, SLA, raised twice, and the analyst's work.
        let ep = run_out.join("exceptions.parquet");
        let ex = parquet(&ep)?;
        let (id, kind, rec, state_col, amount, currency) = (
            text(&ex, &ep, "exception_id")?,
            text(&ex, &ep, "kind")?,
            text(&ex, &ep, "records")?,
            text(&ex, &ep, "state")?,
            text(&ex, &ep, "amount")?,
            text(&ex, &ep, "currency")?,
        );
        let breached: Vec<bool> = ex
            .column("sla_breached")
            .ok()
            .and_then(|c| c.bool().ok().map(|b| b.iter().map(|v| v.unwrap_or(false)).collect()))
            .unwrap_or_default();
        row.sla_breached = breached.iter().filter(|b| **b).count() as u64;
        open_before.clear();
        let at = format!("{}T18:00:00Z", st.as_of);
        let mut decide = |v: serde_json::Value| -> String {
            next_id += 1;
            let id = format!("SIM-{next_id:07}");
            let mut v = v;
            v["decision_id"] = serde_json::Value::from(id.clone());
            v["decided_at"] = serde_json::Value::from(at.clone());
            decisions.push(v);
            id
        };
        // Yesterday's wrong matches the analyst notices (those reckon applied).
        let refused_ids: BTreeSet<&str> = st.decisions_refused.iter().filter_map(|r| r.split(' ').next()).collect();
        for w in std::mem::take(&mut wrong).into_iter().filter(|w| !refused_ids.contains(w.as_str())) {
            if rng.below(1000) < cfg.undo_permille {
                row.undo_sent += 1;
                decide(serde_json::json!({"action": "undo", "actor": "ar.lead", "target": w,
                    "comment": "wrong invoice"}));
            }
        }
        let by_currency: BTreeMap<&str, Vec<&str>> = {
            let mut m: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for (i, (_, c)) in &open_amount {
                m.entry(c.as_str()).or_default().push(i.as_str());
            }
            for v in m.values_mut() {
                v.sort_unstable();
            }
            m
        };
        for i in 0..ex.height() {
            let records: Vec<&str> = rec[i].split('|').collect();
            let subject = records.first().copied().unwrap_or("");
            let key = match subject.strip_prefix("bank_transactions:") {
                Some(_) => subject.to_string(),
                None if kind[i] == "duplicate_invoice" => format!("{}|{}", kind[i], rec[i]),
                None => format!("{}|{subject}", kind[i]),
            };
            if state_col[i] == "new" && !raised.insert(key) {
                row.raised_twice += 1;
            }
            if let Some(t) = subject.strip_prefix("bank_transactions:") {
                open_before.insert(t.to_string());
            }
            if rng.below(1000) >= cfg.decide_permille {
                continue;
            }
            let eid = id[i].clone();
            match (kind[i].as_str(), subject.strip_prefix("bank_transactions:")) {
                ("unreconciled_disbursement" | "duplicate_payment", Some(_)) => {
                    decide(serde_json::json!({"exception_id": eid, "action": "dismiss", "actor": "ap.clerk",
                        "comment": "booked by treasury"}));
                }
                (_, Some(t)) => {
                    if truth.not_ar.contains(t) {
                        decide(serde_json::json!({"exception_id": eid, "action": "dismiss", "actor": "ar.analyst",
                            "comment": "not a customer payment"}));
                        continue;
                    }
                    let Some(items) = truth.links.get(t) else { continue };
                    // The analyst sees the ERP: an invoice not posted yet is waited for.
                    if !items.iter().all(|x| open_amount.contains_key(x)) {
                        continue;
                    }
                    let ambiguous = kind[i] == "ambiguous_match";
                    if rng.below(1000) < cfg.wrong_permille {
                        // The wrong one of the candidates, or a wrong item of the same currency.
                        let other = if ambiguous {
                            let cands: Vec<&str> = records
                                .iter()
                                .filter_map(|r| r.strip_prefix("ar_open_items:"))
                                .filter(|c| !items.iter().any(|x| x == c))
                                .collect();
                            (!cands.is_empty()).then(|| cands[rng.below(cands.len() as u64) as usize])
                        } else {
                            by_currency
                                .get(currency[i].as_str())
                                .filter(|p| !p.is_empty())
                                .map(|p| p[rng.below(p.len() as u64) as usize])
                                .filter(|o| !items.iter().any(|x| x == o))
                        };
                        if let Some(other) = other {
                            row.wrong_sent += 1;
                            let action = if ambiguous { "choose" } else { "write_off" };
                            let id = decide(serde_json::json!({"exception_id": eid, "action": action,
                                "actor": "ar.analyst", "items": [{"item_id": other}]}));
                            wrong.push(id);
                            continue;
                        }
                    }
                    let paid = minor(&amount[i], &currency[i], &run_out.join("exceptions.parquet"))?;
                    let open: i64 = items.iter().filter_map(|x| open_amount.get(x)).map(|(a, _)| *a).sum();
                    let action = if ambiguous {
                        "choose"
                    } else if paid > open {
                        "write_off"
                    } else {
                        "match"
                    };
                    let list: Vec<serde_json::Value> =
                        items.iter().map(|x| serde_json::json!({"item_id": x})).collect();
                    decide(serde_json::json!({"exception_id": eid, "action": action, "actor": "ar.analyst",
                        "items": list}));
                }
                ("duplicate_invoice", None) => {
                    let docs: Vec<&str> = records.iter().filter_map(|r| r.strip_prefix("ap_invoices:")).collect();
                    let real = docs.windows(2).any(|w| {
                        truth.true_duplicates.contains(&(w[0].to_string(), w[1].to_string()))
                            || truth.true_duplicates.contains(&(w[1].to_string(), w[0].to_string()))
                    });
                    if real {
                        decide(serde_json::json!({"exception_id": eid, "action": "confirm", "actor": "ap.clerk",
                            "comment": "blocked the later invoice"}));
                    } else {
                        decide(serde_json::json!({"exception_id": eid, "action": "dismiss", "actor": "ap.clerk",
                            "comment": "different deliveries"}));
                    }
                }
                ("journal_anomaly" | "control_violation", None) => {
                    let j = subject.strip_prefix("gl_journal_lines:").unwrap_or("");
                    if kind[i] != "journal_anomaly" {
                        continue;
                    }
                    if truth.anomalies.contains(j) {
                        decide(serde_json::json!({"exception_id": eid, "action": "confirm", "actor": "gl.reviewer",
                            "comment": "correcting entry requested from the preparer"}));
                    } else {
                        decide(serde_json::json!({"exception_id": eid, "action": "explain", "actor": "gl.reviewer",
                            "comment": "supported by the period-end checklist"}));
                    }
                }
                _ => {}
            }
        }
        // What the store knows after the day, for the next one.
        let mut store = reckon_state::Store::open(state).map_err(reckon_pipeline::RunError::State)?;
        known_names =
            store.memory().map_err(reckon_pipeline::RunError::State)?.aliases.into_iter().map(|a| a.name_key).collect();
        drop(store);
        for op in &cfg.model_ops {
            let at = format!("{}T20:00:00Z", row.as_of);
            match op {
                ModelOp::Retrain { after_day, params } if *after_day == d + 1 => {
                    let dir = out.join("models").join(format!("cash_v{}_0", d + 1));
                    // The model that decided the held-out days: the registered champion, or the configuration's.
                    let champion = crate::retrain::champion(state, &cfg.config.cash.model)
                        .map_err(|e| SimError::Data(dir.clone(), e.to_string()))?;
                    let params = crate::retrain::RetrainParams {
                        anchor: champion.weights.map(|w| (champion.id, w)),
                        ..params.clone()
                    };
                    let r = match crate::retrain::train_from_decisions(state, &dir, &params, champion.auto) {
                        Ok(r) => r,
                        Err(e @ crate::retrain::RetrainError::TooFewLabels { .. }) => {
                            row.model_events.push(format!("retraining waits: {e}"));
                            continue;
                        }
                        Err(e) => return Err(SimError::Data(dir.clone(), e.to_string())),
                    };
                    let m = crate::retrain::challenge(state, &dir.display().to_string(), "data.scientist", &at)
                        .map_err(|e| SimError::Data(dir.clone(), e.to_string()))?;
                    row.model_events.push(format!(
                        "retrained {} on {} decided proposals, {} other candidate groups of their receipts and {} weak positives; of {} held-out decided proposals, {} right, at or above its threshold {:.3}: {} ({} right; the champion's scores: {}); challenger",
                        m.model_id,
                        r.train.decided_right + r.train.decided_wrong,
                        r.train.candidates_right + r.train.candidates_wrong,
                        r.train.weak_positive,
                        r.holdout.decided_right + r.holdout.decided_wrong,
                        r.holdout.decided_right,
                        r.candidate.auto_threshold,
                        r.candidate.auto_groups,
                        r.candidate.auto_right,
                        r.champion.auto_groups
                    ));
                }
                ModelOp::Promote { after_day, rule } if *after_day == d + 1 => {
                    let (c, m) = crate::retrain::promote(state, rule, "controller", &at)
                        .map_err(|e| SimError::Data(out.to_path_buf(), e.to_string()))?;
                    row.model_events.push(if c.promote {
                        format!(
                            "promoted {} (Brier {:.4} against {:.4} on {} decided proposals)",
                            m.model_id, c.challenger.brier, c.champion.brier, c.labelled
                        )
                    } else {
                        format!("refused {}: {}", m.model_id, c.refused.join("; "))
                    });
                }
                _ => {}
            }
        }
        row.ms = t0.elapsed().as_millis() as u64;
        tracing::info!(day = row.day, touchless = row.touchless_new, carried = row.carried_in, "simulated day");
        rows.push(row);
    }
    let json = serde_json::to_string_pretty(&rows).map_err(|e| SimError::Data(out.to_path_buf(), e.to_string()))?;
    std::fs::write(out.join("simulation.json"), json + "\n").map_err(io(out))?;
    std::fs::write(out.join("simulation.md"), table(&rows)).map_err(io(out))?;
    Ok(rows)
}

fn ratio(a: u64, b: u64) -> String {
    if b == 0 { "–".to_string() } else { format!("{:.3}", a as f64 / b as f64) }
}

/// The per-day table as Markdown, with touchless on days 6–10 against day 1
/// when there are ten days or more.
pub fn table(rows: &[DayRow]) -> String {
    let mut s = String::from(
        "| day | as of | receipts new | touchless (new) | touchless: paid under a third party's name / others | trade-name receipts, name only: auto / new | of those, name confirmed earlier: auto / all | carried in | carried applied | late arrivals | matched on arrival / proposed with their items | not matched on arrival: held / ambiguous / no candidate | exceptions new / open / reopened / resolved | SLA breached | decisions sent / accepted / applied / refused | wrong / undone | raised twice | chain |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {} | {:.3} | {} / {} | {} / {} | {} / {} | {} | {} | {} | {} / {} | {} / {} / {} | {} / {} / {} / {} | {} | {} / {} / {} / {} | {} / {} | {} | {} |\n",
            r.day,
            r.as_of,
            r.receipts_new,
            r.touchless_new,
            ratio(r.third_party_auto, r.third_party_new),
            ratio(r.auto_new - r.third_party_auto, r.receipts_new - r.third_party_new),
            r.trade_name_auto,
            r.trade_name_new,
            r.trade_name_known_auto,
            r.trade_name_known,
            r.carried_in,
            r.carried_applied,
            r.late_arrivals,
            r.matched_on_arrival,
            r.proposed_on_arrival,
            r.waiting_review,
            r.waiting_ambiguous,
            r.waiting_unmatched,
            r.exceptions_new,
            r.exceptions_open,
            r.exceptions_reopened,
            r.exceptions_resolved,
            r.sla_breached,
            r.decisions_sent,
            r.decisions_accepted,
            r.decisions_applied,
            r.decisions_refused,
            r.wrong_sent,
            r.undo_sent,
            r.raised_twice,
            if r.chain_balanced { "balanced" } else { "NOT BALANCED" }
        ));
    }
    if rows.len() >= 10 {
        let sum =
            |f: &dyn Fn(&DayRow) -> (u64, u64)| rows[5..10].iter().map(f).fold((0, 0), |(a, b), (x, y)| (a + x, b + y));
        let all = sum(&|r| (r.auto_new, r.receipts_new));
        let third = sum(&|r| (r.third_party_auto, r.third_party_new));
        let d1 = &rows[0];
        s.push_str(&format!(
            "\nTouchless on day 1: {} (third party's name {}, others {}); days 6–10: {} (third party's name {}, others {}).\n",
            ratio(d1.auto_new, d1.receipts_new),
            ratio(d1.third_party_auto, d1.third_party_new),
            ratio(d1.auto_new - d1.third_party_auto, d1.receipts_new - d1.third_party_new),
            ratio(all.0, all.1),
            ratio(third.0, third.1),
            ratio(all.0 - third.0, all.1 - third.1),
        ));
    }
    let late: u64 = rows.iter().map(|r| r.late_arrivals).sum();
    if late > 0 {
        let t = |f: &dyn Fn(&DayRow) -> u64| rows.iter().map(f).sum::<u64>();
        let matched = t(&|r| r.matched_on_arrival);
        s.push_str(&format!(
            "\nLate arrivals, all days: {late}; matched on arrival {matched} ({}); not matched: held for a person {}, ambiguous {}, no candidate {}; proposed with their true items {}.\n",
            ratio(matched, late),
            t(&|r| r.waiting_review),
            t(&|r| r.waiting_ambiguous),
            t(&|r| r.waiting_unmatched),
            t(&|r| r.proposed_on_arrival),
        ));
    }
    // Receipts a parent paid, when the days have any.
    if rows.iter().any(|r| r.parent_new > 0) {
        s.push_str("\n| day | paid by a parent the customer master permits: new | matched automatically | of those right |\n|---|---|---|---|\n");
        for r in rows {
            s.push_str(&format!("| {} | {} | {} | {} |\n", r.day, r.parent_new, r.parent_auto, r.parent_auto_right));
        }
    }
    // The models: which decided, what moved, what was done with them.
    s.push_str("\n| day | cash model | challenger in shadow | auto precision (new receipts) | features beyond the drift limits | after the day |\n|---|---|---|---|---|---|\n");
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r.day,
            r.model,
            if r.challenger.is_empty() { "–" } else { &r.challenger },
            ratio(r.auto_right, r.auto_new),
            if r.drift_moved.is_empty() { "–".to_string() } else { r.drift_moved.join(", ") },
            if r.model_events.is_empty() { "–".to_string() } else { r.model_events.join("; ") }
        ));
    }
    s
}
