//! `reckon models verify|score`: a model folder checked, or served on a CSV of
//! features; `reckon models list|challenge|promote|rollback --state S`: which
//! model a state store serves for each engine (champion) and judges beside it
//! (challenger), and promotion on the decisions people took.

use std::path::PathBuf;

use clap::Subcommand;

use crate::exit;
use anyhow::Context;

#[derive(Debug, Subcommand)]
pub enum What {
    /// Verify one model folder (e.g. models/cash_v2_2).
    Verify { dir: PathBuf },
    /// Score rows of a features CSV (a header naming the model's features, plus any
    /// id columns) with a model folder; writes the id columns and `score` as CSV.
    /// This is how a model from outside (scikit-learn via skl2onnx) is checked in reckon.
    Score {
        dir: PathBuf,
        #[arg(long)]
        features: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// The models a state store serves: each engine's champion and challenger,
    /// every change of either, and the labelled proposals a promotion would use.
    List {
        #[arg(long)]
        state: PathBuf,
        /// Also write the labelled proposals as CSV (run, receipt, items, the
        /// champion's and the challenger's probability, right or wrong, the decision).
        #[arg(long, value_name = "FILE")]
        labelled: Option<PathBuf>,
    },
    /// Register a model folder as the challenger of an engine: for `match`, runs
    /// with the store score every candidate group with it in shadow
    /// (`shadow_confidence`); for `dedup` and `anomaly`, promotion scores it on
    /// the features the runs kept of every raised pair or journal. It decides
    /// nothing until promoted.
    Challenge {
        #[arg(long)]
        state: PathBuf,
        /// `match` (cash), `dedup` (duplicates) or `anomaly` (journals).
        #[arg(long, default_value = "match")]
        engine: String,
        /// The model folder (a path, or a name under models/).
        dir: String,
        /// Who registers it (recorded with the change).
        #[arg(long)]
        actor: String,
        /// The runs' reckon.toml: for `anomaly` with no champion registered,
        /// its `journals.model` is the model whose isolation forest the
        /// challenger must share (default: the built-in journals model).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Make the challenger the champion if it beats the champion on the
    /// proposals people decided (accepted or matched to the same items: right;
    /// rejected or matched to others: wrong), by the metric, with enough
    /// labels and without its auto precision falling below the floor; otherwise
    /// refuse (exit 1) and print the comparison. Either way the outcome is
    /// recorded. For `dedup` and `anomaly`: on the duplicate pairs or journals
    /// raised after the challenger was registered and decided by people
    /// (confirm: right; dismiss or explain: wrong), a better F1 than the
    /// champion (which raised them all) without losing more than
    /// --max-recall-loss of the confirmed ones.
    Promote {
        #[arg(long)]
        state: PathBuf,
        /// `match` (cash), `dedup` (duplicates) or `anomaly` (journals).
        #[arg(long, default_value = "match")]
        engine: String,
        #[arg(long)]
        actor: String,
        /// `brier` or `log_loss` (lower is better).
        #[arg(long, default_value = "brier")]
        metric: String,
        /// Labelled proposals with a shadow score needed.
        #[arg(long, default_value_t = 100)]
        min_labels: usize,
        /// Auto precision the challenger must keep at its own auto threshold.
        #[arg(long, default_value_t = 0.998)]
        floor: f64,
        /// Of all the groups scored in shadow, the share the challenger may
        /// clear without a person fewer than the champion did.
        #[arg(long, default_value_t = 0.005)]
        max_touchless_loss: f64,
        /// `dedup`, `anomaly`: how much lower than the champion's the
        /// challenger's recall of the confirmed flags may be.
        #[arg(long, default_value_t = 0.02)]
        max_recall_loss: f64,
    },
    /// The trend across the store's runs: each served model's drift against its
    /// training reference (PSI of the score and the features that moved most),
    /// and calibration in the field — per probability band, how many of the
    /// proposals people decided they found right against what the model said.
    Monitor {
        #[arg(long)]
        state: PathBuf,
    },
    /// Cut the journal model's drift reference from your own books: scores the
    /// GL of INPUT (an input folder, as `reckon run --input`) under the
    /// journal tests of --config, and writes `reference.json` (the quantiles of
    /// every risk-model input and of the risk) into OUT, a copy of the model
    /// folder (or the folder itself). Runs with `journals.model = OUT` then
    /// count every journal against it and raise `model_drift` when a day's
    /// journals move from it. The inputs are relative to each book, so cut it
    /// from a book like the ones the runs score: the same scope and span.
    /// Each --check book (another period of the same company, before anything
    /// changed) is held against the reference; the inputs that move there
    /// anyway (more than half the limits), like the inputs relative to each book
    /// (`rare_*`), are counted in runs but not judged.
    Reference {
        /// The journal model folder (a path, or a name under models/); default
        /// the --config's `journals.model` (the built-in model without one).
        #[arg(long)]
        model: Option<String>,
        /// Input folder holding the books (gl_journal_lines).
        #[arg(long)]
        input: PathBuf,
        /// Another input folder of the same company's books (repeatable).
        #[arg(long)]
        check: Vec<PathBuf>,
        /// reckon.toml whose [journals] settings the runs use (default: built-in defaults).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The model folder to write (created as a copy of --model unless it is --model).
        #[arg(long)]
        out: PathBuf,
    },
    /// Serve the champion before the last promotion again (or the
    /// configuration's model when there was none).
    Rollback {
        #[arg(long)]
        state: PathBuf,
        #[arg(long)]
        actor: String,
    },
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn model_ref(dir: &str) -> anyhow::Result<reckon_state::models::ModelRef> {
    reckon_lab::retrain::model_ref(dir).map_err(|e| anyhow::anyhow!(e))
}

fn registry(what: What) -> anyhow::Result<i32> {
    use reckon_state::models::{self as reg, ENGINE_MATCH, ModelAlias};
    let open = |p: &PathBuf| reckon_state::Store::open(p).map_err(|e| anyhow::anyhow!(e));
    match what {
        What::List { state, labelled: labelled_csv } => {
            let mut s = open(&state)?;
            let aliases = s.model_aliases()?;
            if aliases.is_empty() {
                outln!("no models registered: runs serve the configuration's (cash.model)");
            }
            for a in &aliases {
                outln!(
                    "{} {}: {} ({}) since {} by {}",
                    a.engine,
                    a.alias,
                    a.model.model_id,
                    a.model.model,
                    a.since,
                    a.actor
                );
            }
            for e in s.model_alias_events()? {
                outln!(
                    "  #{} {} {} {} {} {} by {}: {}",
                    e.seq,
                    e.at,
                    e.engine,
                    e.alias,
                    e.action,
                    e.model_id.as_deref().unwrap_or("-"),
                    e.actor,
                    e.detail
                );
            }
            let labelled = s.labelled_proposals()?;
            let shadow = labelled.iter().filter(|l| l.score.shadow_confidence.is_some()).count();
            outln!("labelled proposals: {} ({} with a shadow score)", labelled.len(), shadow);
            if let Some(path) = labelled_csv {
                let mut w = csv::Writer::from_path(&path).with_context(|| path.display().to_string())?;
                w.write_record([
                    "run_id",
                    "txn_id",
                    "items",
                    "model",
                    "confidence",
                    "challenger",
                    "shadow_confidence",
                    "right",
                    "decision_id",
                ])?;
                for l in &labelled {
                    let p = &l.score;
                    w.write_record([
                        p.run_id.as_str(),
                        p.txn_id.as_str(),
                        &p.items.join("|"),
                        p.model.as_str(),
                        &p.confidence.to_string(),
                        p.challenger.as_deref().unwrap_or(""),
                        &p.shadow_confidence.map(|v| v.to_string()).unwrap_or_default(),
                        if l.right { "true" } else { "false" },
                        l.decision_id.as_str(),
                    ])?;
                }
                w.flush()?;
                outln!("wrote {}", path.display());
            }
            Ok(exit::OK)
        }
        What::Challenge { state, engine, dir, actor, config } if engine != ENGINE_MATCH => {
            let configured =
                config.as_deref().map(reckon_pipeline::Config::load).transpose()?.map(|c| c.journals.model);
            let m = reckon_lab::retrain_flags::challenge(&state, &engine, &dir, &actor, &now(), configured.as_deref())
                .map_err(|e| anyhow::anyhow!(e))?;
            outln!(
                "{} registered as {engine} challenger: promotion scores it on the flags runs with {} keep",
                m.model_id,
                state.display()
            );
            Ok(exit::OK)
        }
        What::Promote { state, engine, actor, min_labels, max_recall_loss, .. } if engine != ENGINE_MATCH => {
            anyhow::ensure!(
                (0.0..=1.0).contains(&max_recall_loss),
                "--max-recall-loss {max_recall_loss} must be within 0..=1"
            );
            let rule = reckon_lab::retrain_flags::FlagPromotionRule { min_labels, max_recall_loss };
            let (c, challenger) = reckon_lab::retrain_flags::promote(&state, &engine, &rule, &actor, &now())
                .map_err(|e| anyhow::anyhow!(e))?;
            outln!("decided flags raised since {}: {} ({} confirmed)", c.since, c.labelled, c.confirmed);
            for (name, f) in [("champion", &c.champion), ("challenger", &c.challenger)] {
                outln!(
                    "  {name:<11} threshold {:.4}: keeps {} ({} confirmed), precision {:.4}, recall {:.4}, F1 {:.4}",
                    f.threshold,
                    f.kept,
                    f.kept_confirmed,
                    f.precision,
                    f.recall,
                    f.f1
                );
            }
            if c.promote {
                outln!("promoted {} to {engine} champion", challenger.model_id);
                Ok(exit::OK)
            } else {
                for r in &c.refused {
                    outln!("refused: {r}");
                }
                Ok(exit::FAILED)
            }
        }
        What::Challenge { state, dir, actor, .. } => {
            let m = reckon_lab::retrain::challenge(&state, &dir, &actor, &now()).map_err(|e| anyhow::anyhow!(e))?;
            outln!("{} registered as challenger: runs with {} score it in shadow", m.model_id, state.display());
            Ok(exit::OK)
        }
        What::Promote { state, actor, metric, min_labels, floor, max_touchless_loss, .. } => {
            let metric = reg::PromotionMetric::parse(&metric)
                .ok_or_else(|| anyhow::anyhow!("--metric '{metric}': brier or log_loss"))?;
            anyhow::ensure!((0.0..=1.0).contains(&floor), "--floor {floor} must be within 0..=1");
            anyhow::ensure!(
                (0.0..=1.0).contains(&max_touchless_loss),
                "--max-touchless-loss {max_touchless_loss} must be within 0..=1"
            );
            let rule = reg::PromotionRule { metric, min_labels, auto_floor: floor, max_touchless_loss };
            let (c, challenger) =
                reckon_lab::retrain::promote(&state, &rule, &actor, &now()).map_err(|e| anyhow::anyhow!(e))?;
            let show = |f: &reg::Figures| {
                format!(
                    "Brier {:.4}, log loss {:.4}, auto {} of {} right ({:.4})",
                    f.brier,
                    f.log_loss,
                    f.auto_right,
                    f.auto_selected,
                    f.auto_precision()
                )
            };
            outln!("labelled proposals with both scores: {} ({} right)", c.labelled, c.right);
            outln!("  champion:   {}", show(&c.champion));
            outln!("  challenger: {} ({})", show(&c.challenger), challenger.model_id);
            if let Some(v) = &c.coverage {
                outln!(
                    "groups scored in shadow: {}; cleared without a person: champion {}, challenger {}",
                    v.groups,
                    v.champion_auto,
                    v.challenger_auto
                );
            }
            if c.promote {
                outln!("promoted {} to champion", challenger.model_id);
                Ok(exit::OK)
            } else {
                for r in &c.refused {
                    outln!("refused: {r}");
                }
                Ok(exit::FAILED)
            }
        }
        What::Rollback { state, actor } => {
            let mut s = open(&state)?;
            let events = s.model_alias_events()?;
            // The champion set before the latest promotion (none: the configuration's).
            let champions: Vec<&reg::ModelAliasEvent> = events
                .iter()
                .filter(|e| e.engine == ENGINE_MATCH && e.alias == ModelAlias::Champion && e.model.is_some())
                .filter(|e| matches!(e.action.as_str(), "promoted" | "set" | "rolled_back"))
                .collect();
            let current =
                s.model_aliases()?.into_iter().find(|a| a.engine == ENGINE_MATCH && a.alias == ModelAlias::Champion);
            let Some(current) = current else {
                anyhow::bail!("no champion registered: runs already serve the configuration's model");
            };
            let before =
                champions.iter().rev().skip(1).find(|e| e.model_id.as_deref() != Some(current.model.model_id.as_str()));
            let to = match before.and_then(|e| e.model.clone()) {
                Some(dir) => Some(model_ref(&dir)?),
                None => None,
            };
            let detail = format!(
                "{} replaced by {}",
                current.model.model_id,
                to.as_ref().map_or("the configuration's model".to_string(), |m| m.model_id.clone())
            );
            s.change_model_aliases(
                ENGINE_MATCH,
                &[(ModelAlias::Champion, to)],
                ModelAlias::Champion,
                "rolled_back",
                &now(),
                &actor,
                &detail,
            )?;
            outln!("rolled back: {detail}");
            Ok(exit::OK)
        }
        What::Monitor { state } => {
            let mut s = open(&state)?;
            outln!("| as of | model | rows | score PSI | features that moved most (PSI) | beyond the limits |");
            outln!("|---|---|---|---|---|---|");
            for (as_of, _, model, json) in s.model_drift()? {
                let d: reckon_monitor::Drift = serde_json::from_str(&json)?;
                let mut top: Vec<&reckon_monitor::ColumnDrift> = d.features.iter().collect();
                top.sort_by(|a, b| b.psi.total_cmp(&a.psi).then(a.name.cmp(&b.name)));
                let top: Vec<String> = top.iter().take(3).map(|c| format!("{} {:.3}", c.name, c.psi)).collect();
                outln!(
                    "| {as_of} | {model} | {} | {:.3} | {} | {} |",
                    d.rows,
                    d.score.psi,
                    top.join(", "),
                    if d.moved.is_empty() { "–".to_string() } else { d.moved.join(", ") }
                );
            }
            // Calibration in the field, run by run: what each run judged on the
            // newest decisions on its model's proposals.
            let trend = s.model_calibration()?;
            if !trend.is_empty() {
                outln!(
                    "\n| as of | model | decisions judged | widest gap (band: probability / found right) | beyond the limits |"
                );
                outln!("|---|---|---|---|---|");
                for (as_of, _, model, json) in trend {
                    let c: reckon_monitor::Calibration = serde_json::from_str(&json)?;
                    let widest = c
                        .bands
                        .iter()
                        .max_by(|a, b| {
                            (a.mean_probability - a.found_right)
                                .abs()
                                .total_cmp(&(b.mean_probability - b.found_right).abs())
                        })
                        .map(|b| format!("{}: {:.3} / {:.3}", b.band, b.mean_probability, b.found_right))
                        .unwrap_or_else(|| "–".into());
                    let moved = if c.moved.is_empty() { "–".to_string() } else { c.moved.join(", ") };
                    outln!("| {as_of} | {model} | {} | {widest} | {moved} |", c.decided);
                }
            }
            // Calibration in the field over every decision: the champion's
            // probability of the proposals people decided, against the share
            // they found right.
            let labelled = s.labelled_proposals()?;
            outln!("\n| probability band | decided proposals | mean probability | found right |");
            outln!("|---|---|---|---|");
            for (lo, hi) in [(0.0, 0.5), (0.5, 0.8), (0.8, 0.95), (0.95, 0.99), (0.99, 1.01)] {
                let band: Vec<&reg::LabelledProposal> =
                    labelled.iter().filter(|l| l.score.confidence >= lo && l.score.confidence < hi).collect();
                if band.is_empty() {
                    continue;
                }
                let n = band.len() as f64;
                outln!(
                    "| {lo:.2}–{:.2} | {} | {:.3} | {:.3} |",
                    hi.min(1.0),
                    band.len(),
                    band.iter().map(|l| l.score.confidence).sum::<f64>() / n,
                    band.iter().filter(|l| l.right).count() as f64 / n
                );
            }
            Ok(exit::OK)
        }
        What::Verify { .. } | What::Score { .. } | What::Reference { .. } => anyhow::bail!("not a registry command"),
    }
}

/// Verifies or serves the folder `what` names.
pub fn exec(what: What) -> anyhow::Result<i32> {
    match what {
        w @ (What::List { .. }
        | What::Challenge { .. }
        | What::Promote { .. }
        | What::Rollback { .. }
        | What::Monitor { .. }) => registry(w),
        What::Reference { model, input, check, config, out } => {
            let cfg = match &config {
                Some(p) => reckon_pipeline::Config::load(p)?,
                None => reckon_pipeline::Config::default(),
            };
            let model = model.unwrap_or_else(|| cfg.journals.model.clone());
            let dir = reckon_pipeline::model::find("--model", &model, "name a journal model folder")
                .map_err(|e| anyhow::anyhow!(e))?;
            let books: Vec<PathBuf> = std::iter::once(input.clone()).chain(check).collect();
            let r =
                reckon_lab::journals::reference_from_books(&dir, &books, &cfg, &out).map_err(|e| anyhow::anyhow!(e))?;
            for (book, d) in &r.checks {
                let moved = if d.moved.is_empty() { "nothing".to_string() } else { d.describe() };
                outln!("{}: {} journals; moved from the reference: {moved}", book.display(), d.rows);
            }
            if !r.unjudged.is_empty() {
                outln!(
                    "counted, not judged (relative to each book, or beyond half the limits on a check book): {}",
                    r.unjudged.join(", ")
                );
            }
            outln!(
                "{}: reference of {} journals from {} written to {}",
                r.model,
                r.journals,
                input.display(),
                r.out.join(reckon_monitor::REFERENCE_FILE).display()
            );
            Ok(exit::OK)
        }
        What::Score { dir, features, out } => {
            let m = reckon_onnx::Model::load(&dir).map_err(|e| anyhow::anyhow!(e))?;
            let bytes = std::fs::read(&features)?;
            let scan = reckon_ingest::csv::scan(&bytes, b',', b'"')
                .map_err(|e| anyhow::anyhow!("{}: {e}", features.display()))?;
            let cols: Vec<usize> = m
                .config
                .features
                .iter()
                .map(|f| {
                    scan.header
                        .iter()
                        .position(|h| h == f)
                        .with_context(|| format!("{}: no column {f}", features.display()))
                })
                .collect::<anyhow::Result<_>>()?;
            let n = scan.records.len();
            let mut x = Vec::with_capacity(n * cols.len());
            for r in 0..n {
                for &c in &cols {
                    let v = &scan.columns[c][r];
                    x.push(v.parse::<f32>().with_context(|| {
                        format!("{} line {}: '{v}' is not a number", features.display(), scan.records[r].line)
                    })?);
                }
            }
            let s = m.score(n, &x).map_err(|e| anyhow::anyhow!(e))?;
            let ids: Vec<usize> = scan
                .header
                .iter()
                .enumerate()
                .filter(|(_, h)| !m.config.features.contains(h))
                .map(|(i, _)| i)
                .collect();
            let mut text =
                ids.iter().map(|&i| scan.header[i].clone()).chain(["score".to_string()]).collect::<Vec<_>>().join(",")
                    + "\n";
            for (r, v) in s.iter().enumerate() {
                let mut row: Vec<String> = ids.iter().map(|&i| scan.columns[i][r].to_string()).collect();
                row.push(format!("{v:.9}"));
                text.push_str(&(row.join(",") + "\n"));
            }
            std::fs::write(&out, text)?;
            outln!("{}: scored {n} rows into {}", m.id(), out.display());
            Ok(exit::OK)
        }
        What::Verify { dir } => {
            let m = reckon_onnx::Model::load(&dir).map_err(|e| anyhow::anyhow!(e))?;
            let k = m.config.features.len();
            let rows = 4;
            let x: Vec<f32> = (0..rows * k).map(|i| (i % 7) as f32 * 0.25).collect();
            let s = m.score(rows, &x).map_err(|e| anyhow::anyhow!(e))?;
            anyhow::ensure!(s.len() == rows && s.iter().all(|v| v.is_finite()), "smoke inference gave {s:?}");
            if m.config.output_mapping == "probability" {
                anyhow::ensure!(s.iter().all(|v| (0.0..=1.0).contains(v)), "probabilities outside 0–1: {s:?}");
            }
            // The card says what the configs say.
            let card = std::fs::read_to_string(dir.join("MODEL_CARD.md"))
                .with_context(|| format!("{}: MODEL_CARD.md", dir.display()))?;
            let mut parts = Vec::new();
            // The journal model's forest is the one part a folder has today.
            let p = dir.join("iforest/config.json");
            if p.is_file() {
                let c: reckon_onnx::ModelConfig = serde_json::from_str(&std::fs::read_to_string(&p)?)?;
                parts.push(("iforest/".to_string(), c));
            }
            reckon_lab::card::check(&card, &m.config, &parts).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
            outln!(
                "{}: ok — {} features ({}), model.onnx sha256 {} matches, ONNX Runtime {} ({}), smoke scores {:?}",
                m.id(),
                k,
                m.config.feature_spec,
                &m.config.model_sha256[..12],
                reckon_onnx::runtime::VERSION,
                reckon_onnx::runtime::library().map(|p| p.display().to_string()).unwrap_or_default(),
                s
            );
            Ok(exit::OK)
        }
    }
}
