//! `reckon decide` and `reckon audit`: decisions into a state store, and the
//! evidence trail out of it.

use std::path::PathBuf;

use crate::exit;
use anyhow::Context;
use reckon_pipeline::Config;
use reckon_state::{ExceptionState, Store};

/// `reckon decide`'s arguments.
#[derive(Debug, clap::Args)]
pub struct DecideArgs {
    /// The state store (an SQLite file written by `reckon run --state`).
    #[arg(long, value_name = "PATH")]
    pub state: PathBuf,
    /// reckon.toml whose [decisions] policy applies (default: anyone may decide).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Decision files: .jsonl (one JSON object per line) or .csv (header
    /// decision_id,exception_id,action,actor,roles,decided_at,comment,items,item_id,target).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// `reckon decide`: reads, checks and records decisions; prints one line per decision.
pub fn decide(a: DecideArgs) -> anyhow::Result<i32> {
    let cfg = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let policy = cfg.decisions.build().map_err(reckon_pipeline::RunError::Config)?;
    let mut received = Vec::new();
    let mut bad = Vec::new();
    for f in &a.files {
        let (ok, b) = reckon_state::decision::read_file(f).with_context(|| format!("read {}", f.display()))?;
        received.extend(ok);
        bad.extend(b);
    }
    let mut store = Store::open(&a.state).map_err(reckon_pipeline::RunError::State)?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let verdicts = store.submit(&received, &policy, &now).map_err(reckon_pipeline::RunError::State)?;
    let mut refused = bad.len();
    for u in &bad {
        outln!("{}: unreadable: {}", u.source, u.reason);
    }
    for v in &verdicts {
        let status = v.status.map_or("refused (not recorded)", |s| s.as_str());
        let dup = if v.duplicate { " (received before; nothing changed)" } else { "" };
        let why = v.reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default();
        outln!("{} {} ({}){dup}{why}", v.decision_id, status, v.source);
        if !v.duplicate && v.status.is_none_or(|s| s == reckon_state::DecisionStatus::Refused) {
            refused += 1;
        }
    }
    outln!("{} decisions read, {} refused or unreadable", verdicts.len() + bad.len(), refused);
    Ok(if refused > 0 { exit::REFUSED_INPUT } else { exit::OK })
}

/// `reckon audit`'s arguments.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// The state store.
    #[arg(long, value_name = "PATH")]
    pub state: PathBuf,
    /// An exception id (EX-…) or a bank entry's txn_id; none: the chain and the open work.
    pub id: Option<String>,
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `reckon audit`: the evidence trail of one exception or bank entry, or the chain.
pub fn audit(a: AuditArgs) -> anyhow::Result<i32> {
    if !a.state.is_file() && !reckon_state::is_postgres(&a.state) {
        anyhow::bail!("state store {} does not exist", a.state.display());
    }
    let mut store = Store::open(&a.state).map_err(reckon_pipeline::RunError::State)?;
    let Some(id) = a.id else {
        for r in store.runs()? {
            outln!(
                "run {} #{} as of {}: manifest sha256 {} (predecessor {}), output {}",
                r.run_id,
                r.seq,
                r.as_of,
                &r.manifest_sha256[..16.min(r.manifest_sha256.len())],
                r.predecessor.as_deref().unwrap_or("none"),
                r.output
            );
        }
        let mut by: std::collections::BTreeMap<(String, String), u64> = Default::default();
        for x in store.exceptions(None)? {
            *by.entry((x.kind.to_string(), x.state.to_string())).or_insert(0) += 1;
        }
        for ((k, s), n) in by {
            outln!("exceptions {k} {s}: {n}");
        }
        let open = store.exceptions(Some(ExceptionState::Open))?.len();
        outln!("{open} exceptions open (state 'open')");
        return Ok(exit::OK);
    };
    let lines = store.audit(&id)?;
    if lines.is_empty() {
        anyhow::bail!("{id}: no exception or bank entry with this id in {}", a.state.display());
    }
    for l in &lines {
        if a.json {
            outln!("{}", serde_json::to_string(l)?);
        } else {
            outln!(
                "{}  {}{}{}",
                l.at,
                l.exception_id.as_ref().map(|x| format!("{x}  ")).unwrap_or_default(),
                l.run_id.as_ref().map(|r| format!("[{r}] ")).unwrap_or_default(),
                l.what
            );
        }
    }
    Ok(exit::OK)
}

/// `reckon simulate`'s arguments.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// A folder written by `reckon generate --days N`.
    #[arg(long)]
    pub days: PathBuf,
    /// Where the day inputs, runs and the table go.
    #[arg(long)]
    pub out: PathBuf,
    /// The state store (default OUT/state.db; it must not exist yet).
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// reckon.toml for the runs.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Share of each day's open exceptions the analyst decides, in per mille.
    #[arg(long, default_value_t = 600)]
    pub decide_permille: u64,
    /// Share of those decided wrongly, in per mille.
    #[arg(long, default_value_t = 30)]
    pub wrong_permille: u64,
    /// Share of wrong decisions undone the next day, in per mille.
    #[arg(long, default_value_t = 500)]
    pub undo_permille: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// After day D, train a cash-matching candidate on the store's decisions
    /// (`reckon train cash --state`) and register it as challenger: it scores
    /// in shadow from the next day.
    #[arg(long, value_name = "D")]
    pub retrain_after_day: Option<usize>,
    /// After day D, promote the challenger if the decisions say it is better
    /// (`reckon models promote`).
    #[arg(long, value_name = "D")]
    pub promote_after_day: Option<usize>,
    /// Decided proposals retraining needs in its training window, and
    /// promotion among the proposals scored in shadow.
    #[arg(long, default_value_t = 200)]
    pub min_labels: usize,
    /// With --retrain-after-day: generated scenarios (`reckon generate`
    /// folders) mixed into the candidate's training as a prior, as `reckon
    /// train cash --state S --input DIR` does. Repeat for several.
    #[arg(long, value_name = "DIR")]
    pub prior: Vec<PathBuf>,
    /// The weight of a prior row (a decision weighs 1).
    #[arg(long, default_value_t = 1.0)]
    pub prior_weight: f64,
    /// With --retrain-after-day: pull the candidate's weights towards the
    /// champion's with this L2 penalty, as `reckon train cash --anchor-alpha`
    /// does (0: no pull).
    #[arg(long, default_value_t = 0.0)]
    pub anchor_alpha: f64,
}

/// `reckon simulate`: the days against one store; prints the per-day table.
pub fn simulate(a: SimulateArgs) -> anyhow::Result<i32> {
    let config = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let state = a.state.unwrap_or_else(|| a.out.join("state.db"));
    if state.exists() {
        anyhow::bail!("state store {} exists already; a simulation starts from an empty one", state.display());
    }
    std::fs::create_dir_all(&a.out)?;
    let cfg = reckon_lab::simulate::SimConfig {
        decide_permille: a.decide_permille,
        wrong_permille: a.wrong_permille,
        undo_permille: a.undo_permille,
        seed: a.seed,
        config,
        model_ops: a
            .retrain_after_day
            .map(|d| reckon_lab::simulate::ModelOp::Retrain {
                after_day: d,
                params: reckon_lab::retrain::RetrainParams {
                    min_labels: a.min_labels,
                    prior: a.prior.clone(),
                    prior_weight: a.prior_weight,
                    anchor_alpha: a.anchor_alpha,
                    ..reckon_lab::retrain::RetrainParams::default()
                },
            })
            .into_iter()
            .chain(a.promote_after_day.map(|d| reckon_lab::simulate::ModelOp::Promote {
                after_day: d,
                rule: reckon_state::models::PromotionRule {
                    min_labels: a.min_labels,
                    ..reckon_state::models::PromotionRule::default()
                },
            }))
            .collect(),
        ..reckon_lab::simulate::SimConfig::default()
    };
    let rows = reckon_lab::simulate::simulate(&a.days, &a.out, &state, &cfg)?;
    outln!("{}", reckon_lab::simulate::table(&rows));
    outln!("wrote {}", a.out.join("simulation.md").display());
    Ok(if rows.iter().all(|r| r.chain_balanced && r.raised_twice == 0) { exit::OK } else { exit::FAILED })
}

/// `reckon retrain`'s arguments.
#[derive(Debug, clap::Args)]
pub struct RetrainArgs {
    /// The state store whose decisions to learn from.
    #[arg(long, value_name = "PATH")]
    pub state: PathBuf,
    /// Where candidate model folders are written (cash_v<runs>_0).
    #[arg(long)]
    pub models_dir: PathBuf,
    /// Who runs the job (recorded with every registry change).
    #[arg(long, default_value = "retrain-job")]
    pub actor: String,
    /// Decided proposals a candidate's training window, and a promotion, need.
    #[arg(long, default_value_t = 200)]
    pub min_labels: usize,
    /// The newest runs held out for a candidate's threshold and figures.
    #[arg(long, default_value_t = 2)]
    pub holdout_runs: usize,
    /// With `--engine match`: pull a candidate's weights towards the serving
    /// champion's with this L2 penalty, as `reckon train cash --anchor-alpha`
    /// does (0: no pull).
    #[arg(long, default_value_t = 0.0)]
    pub anchor_alpha: f64,
    /// Print the account as one JSON object instead of a sentence.
    #[arg(long)]
    pub json: bool,
    /// The engine whose model to retrain: `match` (cash), `dedup` (duplicates)
    /// or `anomaly` (journals; the candidate keeps the champion's forest).
    #[arg(long, default_value = "match")]
    pub engine: String,
}

/// `reckon retrain`: one run of the retraining job.
pub fn retrain(a: RetrainArgs) -> anyhow::Result<i32> {
    use reckon_lab::retrain_flags::FlagModel;
    use reckon_state::models::{ENGINE_ANOMALY, ENGINE_DEDUP, ENGINE_MATCH, ModelAlias};
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let model = match a.engine.as_str() {
        ENGINE_MATCH => None,
        ENGINE_DEDUP => Some(FlagModel::Duplicates),
        ENGINE_ANOMALY => {
            // The champion's folder: the registered one, or the configuration's.
            let registered = reckon_state::Store::open(&a.state)?
                .model_aliases()?
                .into_iter()
                .find(|x| x.engine == ENGINE_ANOMALY && x.alias == ModelAlias::Champion)
                .map(|x| x.model.model);
            let base = registered.unwrap_or_else(|| Config::default().journals.model);
            let base = reckon_pipeline::model::find("journal champion", &base, "reckon models list --state")?;
            Some(FlagModel::Journals { base })
        }
        other => anyhow::bail!("--engine '{other}': match, dedup or anomaly"),
    };
    if let Some(model) = model {
        let params = reckon_lab::retrain_flags::FlagRetrainParams {
            min_labels: a.min_labels,
            holdout_runs: a.holdout_runs,
            ..Default::default()
        };
        let rule = reckon_lab::retrain_flags::FlagPromotionRule { min_labels: a.min_labels, ..Default::default() };
        let s = reckon_lab::retrain_flags::job(&a.state, &model, &a.models_dir, &params, &rule, &a.actor, &at)
            .map_err(|e| anyhow::anyhow!(e))?;
        if a.json {
            outln!("{}", serde_json::to_string(&s)?);
        } else {
            outln!("{:?}: {}", s.action, s.detail);
        }
        return Ok(job_exit(&s.action));
    }
    let params = reckon_lab::retrain::RetrainParams {
        min_labels: a.min_labels,
        holdout_runs: a.holdout_runs,
        anchor_alpha: a.anchor_alpha,
        ..reckon_lab::retrain::RetrainParams::default()
    };
    let rule = reckon_state::models::PromotionRule { min_labels: a.min_labels, ..Default::default() };
    let s = reckon_lab::retrain::job(&a.state, &a.models_dir, &params, &rule, &a.actor, &at)
        .map_err(|e| anyhow::anyhow!(e))?;
    if a.json {
        outln!("{}", serde_json::to_string(&s)?);
    } else {
        outln!("{:?}: {}", s.action, s.detail);
    }
    Ok(job_exit(&s.action))
}

/// The retraining job's exit code: what happened.
fn job_exit(action: &reckon_lab::retrain::JobAction) -> i32 {
    match action {
        reckon_lab::retrain::JobAction::Promoted => exit::OK,
        reckon_lab::retrain::JobAction::ChallengerRegistered => exit::RETRAIN_CHALLENGER,
        reckon_lab::retrain::JobAction::Waiting => exit::RETRAIN_WAITING,
    }
}

/// `reckon serve`'s arguments.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The state store decisions are recorded in.
    #[arg(long, value_name = "PATH")]
    pub state: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: std::net::SocketAddr,
    /// reckon.toml whose [decisions] policy applies.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// File with the signing secret(s), one `whsec_…` per line, when
    /// RECKON_INTAKE_SECRET is not set (the same format as the feed's).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// Accepted age of `webhook-timestamp`, in seconds.
    #[arg(long, default_value_t = 300)]
    pub tolerance: i64,
}

/// `reckon serve`: the decisions intake until the process is stopped.
pub fn serve(a: ServeArgs) -> anyhow::Result<i32> {
    let cfg = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let policy = cfg.decisions.build().map_err(reckon_pipeline::RunError::Config)?;
    let secrets = reckon_feed::sign::load_secrets("RECKON_INTAKE_SECRET", a.secret_file.as_deref())?;
    let mut sc = reckon_serve::ServeConfig::new(a.listen, a.state.clone(), secrets, policy);
    sc.tolerance_s = a.tolerance;
    let server = reckon_serve::start(sc)?;
    outln!(
        "reckon serve: POST http://{}/decisions (Standard Webhooks signatures) into {}",
        server.addr(),
        a.state.display()
    );
    server.wait();
    Ok(exit::OK)
}
