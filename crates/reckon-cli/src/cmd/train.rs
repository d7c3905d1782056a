//! `reckon train cash|duplicates|journals`: the trainers of reckon-lab.

use std::path::PathBuf;

use clap::Subcommand;

use crate::exit;

#[derive(Debug, Subcommand)]
pub enum What {
    /// The journal risk model: an isolation forest (Rust → ONNX tree ensemble) over
    /// journal features plus a logistic regression combining it with the rule flags;
    /// review threshold with the best F1 on --validation. (Also `anomaly`, its
    /// name before 2026-11-30.)
    ///
    /// With --state: the risk model refitted to the decisions people took on
    /// the `journal_anomaly` exceptions of the runs with that store (confirm:
    /// anomalous; explain or dismiss: in order), over the inputs of --base,
    /// whose isolation forest it keeps; the newest --holdout-runs runs held out
    /// for the review threshold and the comparison with the champion's own
    /// scores; --input scenarios, if any, mixed in as a prior.
    #[command(alias = "anomaly")]
    Journals {
        /// Training scenarios (`reckon generate` folders with truth/), one or more
        /// (with --state: an optional prior).
        #[arg(long, num_args = 1..)]
        input: Vec<PathBuf>,
        /// Other scenarios for the threshold, one or more (not with --state).
        #[arg(long, num_args = 1..)]
        validation: Vec<PathBuf>,
        #[command(flatten)]
        decisions: FlagDecisions,
        /// With --state: the journal model folder to start from (its isolation
        /// forest and inputs; default: the configured `journals.model`).
        #[arg(long, requires = "state")]
        base: Option<PathBuf>,
        /// Model folder to write, e.g. models/journals_v5_0.
        #[arg(long)]
        out: PathBuf,
    },
    /// The AP duplicate-pair scorer (logistic regression, ONNX): fit on --input,
    /// threshold with the best F1 on --validation. (Also `dedup`.)
    ///
    /// With --state: fit to the decisions people took on the `duplicate_invoice`
    /// exceptions of the runs with that store (confirm: a duplicate; dismiss:
    /// not one), the newest --holdout-runs runs held out for the review
    /// threshold and the comparison with the champion's own scores; --input
    /// scenarios, if any, mixed in as a prior.
    #[command(alias = "dedup")]
    Duplicates {
        /// Training scenarios (`reckon generate` folders with truth/), one or more
        /// (with --state: an optional prior).
        #[arg(long, num_args = 1..)]
        input: Vec<PathBuf>,
        /// Other scenarios for the threshold, one or more (not with --state).
        #[arg(long, num_args = 1..)]
        validation: Vec<PathBuf>,
        #[command(flatten)]
        decisions: FlagDecisions,
        /// Model folder to write, e.g. models/duplicates_v2_0.
        #[arg(long)]
        out: PathBuf,
    },
    /// The cash-matching group scorer (logistic regression, calibrated, ONNX): fit on
    /// --input, threshold for the target auto precision chosen on --validation.
    ///
    /// With --state: fit to the decisions people took on the proposals of the
    /// runs with that store (accepted or matched as proposed: right; rejected
    /// or matched otherwise: wrong; automatic matches still standing
    /// --weak-after-runs runs later: weak positives), the newest --holdout-runs
    /// runs held out for the threshold and the comparison with the champion's
    /// own scores; --input scenarios, if any, are mixed in as a prior. (Also
    /// `match`.)
    #[command(alias = "match")]
    Cash {
        /// Training scenarios (`reckon generate` folders with truth/), one or more
        /// (with --state: an optional prior).
        #[arg(long, num_args = 1..)]
        input: Vec<PathBuf>,
        /// Other scenarios for the threshold and calibration, one or more (not with --state).
        #[arg(long, num_args = 1..)]
        validation: Vec<PathBuf>,
        /// A state store whose decisions to learn from.
        #[arg(long, conflicts_with = "validation")]
        state: Option<PathBuf>,
        /// With --state: the newest runs held out.
        #[arg(long, default_value_t = 2)]
        holdout_runs: usize,
        /// With --state: proposals decided by people the training window must hold.
        #[arg(long, default_value_t = 200)]
        min_labels: usize,
        /// With --state: an automatic match still standing this many runs later is a weak positive.
        #[arg(long, default_value_t = 2)]
        weak_after_runs: usize,
        /// With --state: the weight of a weak positive (a decision weighs 1).
        #[arg(long, default_value_t = 0.3)]
        weak_weight: f64,
        /// With --state: held-out rows an entity (company code) needs before an
        /// auto threshold of its own is chosen on them (`auto@<entity>`; kept
        /// when its rows establish the target precision).
        #[arg(long, default_value_t = 200)]
        min_entity_labels: usize,
        /// With --state: pull the candidate's weights towards the serving
        /// champion's (its folder's weights.json) with this L2 penalty on
        /// standardised weights, so that where the decisions say little it
        /// stays the champion (0: no pull, the usual 0.05 towards zero).
        #[arg(long, default_value_t = 0.0)]
        anchor_alpha: f64,
        /// Model folder to write, e.g. models/cash_v2_2.
        #[arg(long)]
        out: PathBuf,
        /// Auto precision the threshold must reach on validation (its Wilson lower
        /// bound at --z); a target no cut reaches is an error naming the best cut.
        #[arg(long, default_value_t = 0.998)]
        target_precision: f64,
        /// Standard errors for the precision's lower bound (1.645: one-sided 95 %;
        /// 0: the point estimate).
        #[arg(long, default_value_t = reckon_learn::threshold::Z_95)]
        z: f64,
        /// The probability a group must reach by itself to be cleared automatically,
        /// however good the groups above it make the set look (default: the target).
        #[arg(long)]
        floor: Option<f64>,
    },
}

/// Learning from a state store's decisions on duplicates or journals.
#[derive(Debug, clap::Args)]
pub struct FlagDecisions {
    /// A state store whose decisions to learn from.
    #[arg(long, conflicts_with = "validation")]
    state: Option<PathBuf>,
    /// With --state: the newest runs held out.
    #[arg(long, default_value_t = 2)]
    holdout_runs: usize,
    /// With --state: exceptions decided by people the training window must hold.
    #[arg(long, default_value_t = 100)]
    min_labels: usize,
}

/// A trainer's result on decisions: too few labels, or one label only, is
/// `None` (exit 1, what is missing on stderr: retraining waits), any other
/// failure an error.
fn waits<T>(r: Result<T, reckon_lab::retrain::RetrainError>) -> anyhow::Result<Option<T>> {
    match r {
        Ok(r) => Ok(Some(r)),
        Err(
            e @ (reckon_lab::retrain::RetrainError::TooFewLabels { .. }
            | reckon_lab::retrain::RetrainError::OneLabel(_)),
        ) => {
            eprintln!("reckon: {e}");
            Ok(None)
        }
        Err(e) => Err(anyhow::anyhow!(e)),
    }
}

/// `reckon train duplicates|journals --state`.
fn from_decisions(
    state: &std::path::Path,
    out: &std::path::Path,
    model: reckon_lab::retrain_flags::FlagModel,
    input: Vec<PathBuf>,
    d: &FlagDecisions,
) -> anyhow::Result<i32> {
    let p = reckon_lab::retrain_flags::FlagRetrainParams {
        holdout_runs: d.holdout_runs,
        min_labels: d.min_labels,
        prior: input,
        ..Default::default()
    };
    let Some(r) = waits(reckon_lab::retrain_flags::train_from_decisions(state, out, &model, &p))? else {
        return Ok(exit::FAILED);
    };
    outln!(
        "trained on {} runs ({} to {}): {} confirmed and {} dismissed or explained by people, {} prior rows",
        r.train.runs,
        r.train.first_as_of,
        r.train.last_as_of,
        r.train.confirmed,
        r.train.not_a_problem,
        r.prior_rows
    );
    let opt = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.4}"));
    for (name, h) in [("candidate", &r.candidate), ("champion", &r.champion)] {
        outln!(
            "held out ({} runs, {} confirmed, {} not a problem) — {name}: review threshold {:.4} keeps {} ({} confirmed): precision {:.4}, recall {:.4}, F1 {:.4}; ROC-AUC {}, AP {}",
            r.holdout.runs,
            r.holdout.confirmed,
            r.holdout.not_a_problem,
            h.threshold,
            h.kept,
            h.kept_confirmed,
            h.precision,
            h.recall,
            h.f1,
            opt(h.roc_auc),
            opt(h.average_precision)
        );
    }
    outln!("wrote {} (a candidate: serve it only when it beats the champion)", out.display());
    Ok(exit::OK)
}

/// Trains the model `what` names and writes its folder.
pub fn exec(what: What) -> anyhow::Result<i32> {
    match what {
        What::Journals { input, decisions: d @ FlagDecisions { state: Some(_), .. }, base, out, .. } => {
            let base = base.unwrap_or_else(|| PathBuf::from(reckon_pipeline::Config::default().journals.model));
            let base =
                reckon_pipeline::model::find("--base", &base.display().to_string(), "name a journal model folder")
                    .map_err(|e| anyhow::anyhow!(e))?;
            let state = d.state.clone().unwrap_or_default();
            from_decisions(&state, &out, reckon_lab::retrain_flags::FlagModel::Journals { base }, input, &d)
        }
        What::Duplicates { input, decisions: d @ FlagDecisions { state: Some(_), .. }, out, .. } => {
            let state = d.state.clone().unwrap_or_default();
            from_decisions(&state, &out, reckon_lab::retrain_flags::FlagModel::Duplicates, input, &d)
        }
        What::Journals { input, validation, out, .. } => {
            anyhow::ensure!(
                !input.is_empty() && !validation.is_empty(),
                "train journals needs --input and --validation scenarios (or --state)"
            );
            let r = reckon_lab::journals::train(&input, &validation, &out, Default::default())
                .map_err(|e| anyhow::anyhow!(e))?;
            outln!(
                "trained on {} journals ({} anomalous) in {:.1} s; validation {} journals ({} anomalous):",
                r.train_journals,
                r.train_anomalous,
                r.train_seconds,
                r.validation_journals,
                r.validation_anomalous
            );
            for (name, (auc, ap)) in [
                ("rules only", r.rules_only),
                ("isolation forest only", r.iforest_only),
                ("combined", r.combined),
                ("plain isolation forest, one-hot", r.plain_iforest_one_hot),
            ] {
                outln!("  {name:<34} ROC-AUC {auc:.4}  AP {ap:.4}");
            }
            outln!(
                "review threshold {:.2}: precision {:.3}, recall {:.3}",
                r.review_threshold,
                r.validation_precision,
                r.validation_recall
            );
            outln!("wrote {}", out.display());
            Ok(exit::OK)
        }
        What::Duplicates { input, validation, out, .. } => {
            anyhow::ensure!(
                !input.is_empty() && !validation.is_empty(),
                "train duplicates needs --input and --validation scenarios (or --state)"
            );
            let r = reckon_lab::duplicates::train(&input, &validation, &out, Default::default())
                .map_err(|e| anyhow::anyhow!(e))?;
            outln!(
                "trained on {} candidate pairs ({} duplicates); validation: {} pairs, ROC-AUC {:.4}, AP {:.4}",
                r.train_pairs,
                r.train_positive,
                r.validation_pairs,
                r.validation_roc_auc,
                r.validation_average_precision
            );
            outln!(
                "threshold {:.2}: precision {:.4}, recall {:.4}, F1 {:.4}; false alarms {:?}",
                r.threshold,
                r.validation.precision,
                r.validation.recall,
                r.validation.f1,
                r.validation.false_alarms
            );
            outln!("wrote {}", out.display());
            Ok(exit::OK)
        }
        What::Cash {
            input,
            validation,
            state: Some(state),
            out,
            target_precision,
            z,
            floor,
            holdout_runs,
            min_labels,
            weak_after_runs,
            weak_weight,
            min_entity_labels,
            anchor_alpha,
        } => {
            // The champion that scored the held-out rows: the store's, or the configuration's default.
            let champion = reckon_lab::retrain::champion(&state, &reckon_cash::MatchConfig::default().model)
                .map_err(|e| anyhow::anyhow!(e))?;
            let champion_auto = champion.auto;
            drop(validation);
            let p = reckon_lab::retrain::RetrainParams {
                holdout_runs,
                min_labels,
                weak_after_runs,
                weak_weight,
                min_entity_labels,
                prior: input,
                target_precision,
                z,
                floor: floor.unwrap_or(target_precision),
                anchor_alpha,
                anchor: champion.weights.map(|w| (champion.id, w)),
                ..reckon_lab::retrain::RetrainParams::default()
            };
            let pb = crate::cmd::run::spinner("reckon: training the cash-matching model on decisions");
            let r = reckon_lab::retrain::train_from_decisions(&state, &out, &p, champion_auto);
            pb.finish_and_clear();
            let Some(r) = waits(r)? else { return Ok(exit::FAILED) };
            outln!(
                "trained on {} runs ({} to {}): {} right and {} wrong proposals decided by people, {} right and {} wrong other candidate groups of their receipts, {} weak positives, {} prior rows",
                r.train.runs,
                r.train.first_as_of,
                r.train.last_as_of,
                r.train.decided_right,
                r.train.decided_wrong,
                r.train.candidates_right,
                r.train.candidates_wrong,
                r.train.weak_positive,
                r.prior_rows
            );
            for (name, h) in [("candidate", &r.candidate), ("champion", &r.champion)] {
                outln!(
                    "held out ({} runs) — {name}: Brier {:.4}, auto threshold {:.4}: {} groups, {} right, touchless {:.4}",
                    r.holdout.runs,
                    h.brier,
                    h.auto_threshold,
                    h.auto_groups,
                    h.auto_right,
                    h.touchless
                );
            }
            outln!("wrote {} (a candidate: reckon models challenge, then promote)", out.display());
            Ok(exit::OK)
        }
        What::Cash { input, validation, out, target_precision, z, floor, .. } => {
            anyhow::ensure!(
                !input.is_empty() && !validation.is_empty(),
                "train cash needs --input and --validation scenarios (or --state)"
            );
            let pb = crate::cmd::run::spinner("reckon: training the cash-matching model");
            let params = reckon_lab::cash::TrainParams {
                target_precision,
                z,
                floor: floor.unwrap_or(target_precision),
                ..Default::default()
            };
            let r = reckon_lab::cash::train(&input, &validation, &out, params);
            pb.finish_and_clear();
            let r = r.map_err(|e| anyhow::anyhow!(e))?;
            outln!(
                "trained on {} candidate groups ({} right); validation: ROC-AUC {:.4}, AP {:.4}, Brier {:.4}, ECE {:.4}",
                r.train_rows,
                r.train_positive,
                r.validation_roc_auc,
                r.validation_average_precision,
                r.validation_brier,
                r.validation_ece
            );
            outln!(
                "auto threshold {} (set by {:?}): validation auto precision {:.4} (lower bound {:.4}), touchless {:.4}, recall of proposals {:.4}",
                r.auto_threshold,
                r.bound_by,
                r.validation_auto_precision,
                r.validation_auto_precision_lower,
                r.validation_touchless,
                r.validation_recall_proposed
            );
            outln!("wrote {}", out.display());
            Ok(exit::OK)
        }
    }
}
