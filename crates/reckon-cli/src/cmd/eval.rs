//! `reckon eval`: a run's outputs against a scenario's truth (reckon-lab).

use std::path::PathBuf;

use crate::exit;

/// Evaluates the run in `out` against `truth`; writes OUT/eval.json.
pub fn exec(out: PathBuf, truth: PathBuf) -> anyhow::Result<i32> {
    if let Err(e) = reckon_lab::eval::refuse_training_data(&out, &truth) {
        eprintln!("reckon eval: {e}");
        return Ok(exit::USAGE);
    }
    let e = reckon_lab::eval::cash(&out, &truth)?;
    outln!("cash matching: {} matchable receipts", e.matchable);
    outln!(
        "  auto: {} groups, precision {:.4}; touchless {:.4}; false auto on nobody's money {}",
        e.auto_groups,
        e.auto_precision,
        e.touchless,
        e.false_auto_on_unmatched
    );
    outln!(
        "  recall: right items proposed (auto or review) {:.4}; in any band, counting the candidates of ambiguous_match exceptions {:.4}",
        e.recall_proposed,
        e.recall_any_band
    );
    outln!(
        "  {:<18} {:>8} {:>8} {:>10} {:>10} {:>14}",
        "pattern",
        "receipts",
        "auto",
        "auto_ok",
        "proposed",
        "in_candidates"
    );
    for (p, s) in &e.by_pattern {
        outln!(
            "  {:<18} {:>8} {:>8} {:>10} {:>10} {:>14}",
            p,
            s.receipts,
            s.auto,
            s.auto_correct,
            s.any_correct,
            s.in_candidates
        );
    }
    outln!("  threshold sweep (confidence >= t cleared automatically):");
    for s in &e.sweep {
        outln!(
            "    t={:.2}: {:>7} groups, precision {:.4}, touchless {:.4}",
            s.threshold,
            s.auto_groups,
            s.auto_precision,
            s.touchless
        );
    }
    // Duplicate detection, when the run wrote it and the truth has it, beside the
    // ERP's exact-key check on the same invoices.
    let mut dup_json = serde_json::Value::Null;
    if out.join("duplicates.parquet").is_file() && truth.join("ap_duplicates.csv").is_file() {
        let d = reckon_lab::duplicates::eval_out(&out, &truth).map_err(|e| anyhow::anyhow!(e))?;
        let scenario = truth.parent().unwrap_or(&truth);
        let invoices = match reckon_ingest::load_dir(scenario) {
            Ok(l) => reckon_pipeline::inputs::invoices(&l)?,
            Err(_) => None,
        };
        let baseline = match invoices {
            Some(inv) => {
                let flagged = reckon_lab::duplicates::exact_key_baseline(&inv);
                Some(reckon_lab::duplicates::evaluate(&flagged, 0, &truth).map_err(|e| anyhow::anyhow!(e))?)
            }
            None => None,
        };
        outln!("duplicate invoices: {} true pairs", d.true_pairs);
        outln!("  reckon: {} flagged, precision {:.4}, recall {:.4}, F1 {:.4}", d.flagged, d.precision, d.recall, d.f1);
        for (p, (n, found)) in &d.by_pattern {
            outln!("    {p:<14} {found:>5} of {n:>5}");
        }
        for (t, (n, fa, rate)) in &d.false_alarms {
            outln!("    false alarms on {t:<12} {fa:>5} of {n:>5} ({:.3}%)", rate * 100.0);
        }
        if let Some(b) = &baseline {
            outln!(
                "  exact-key check (same vendor, number, amount, date): {} flagged, precision {:.4}, recall {:.4}, F1 {:.4}",
                b.flagged,
                b.precision,
                b.recall,
                b.f1
            );
        }
        dup_json = serde_json::json!({ "reckon": d, "exact_key_baseline": baseline });
    }
    let mut journal_json = serde_json::Value::Null;
    if out.join("journal_scores.parquet").is_file() && truth.join("journal_anomalies.csv").is_file() {
        // The threshold the run flagged at: the model's own (from its folder, as the
        // run's manifest names it), else the rules' review risk.
        let risk = reckon_lab::eval::journal_review_threshold(&out)?;
        let j = reckon_lab::journals::eval_out(&out, &truth, risk).map_err(|e| anyhow::anyhow!(e))?;
        outln!(
            "journals: {} journals, {} anomalous; ROC-AUC {:.4}, average precision {:.4}, precision@k {:.4}; false positive rate {:.4} at risk {risk}",
            j.journals,
            j.anomalous,
            j.roc_auc,
            j.average_precision,
            j.precision_at_k,
            j.false_positive_rate
        );
        for (t, (n, f)) in &j.recall_by_type {
            outln!("    {t:<26} {f:>4} of {n:>4} flagged");
        }
        journal_json = serde_json::to_value(&j)?;
    }
    let mut out_json = serde_json::Value::Null;
    if out.join("disbursements.parquet").is_file() && truth.join("disbursements.csv").is_file() {
        let m = reckon_lab::duplicates::eval_money_out(&out, &truth).map_err(|e| anyhow::anyhow!(e))?;
        outln!("money out: debits settled right, by class");
        for (c, (n, ok)) in &m {
            outln!("    {c:<18} {ok:>6} of {n:>6}");
        }
        out_json = serde_json::to_value(&m)?;
    }
    let path = out.join("eval.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&serde_json::json!({
            "cash": e,
            "duplicates": dup_json,
            "money_out": out_json,
            "journals": journal_json,
            "figures": reckon_lab::eval::figures(&out, &truth)?,
        }))? + "\n",
    )?;
    outln!("wrote {}", path.display());
    Ok(exit::OK)
}

/// `reckon worlds`: leave-one-world-out evaluation (reckon-lab::worlds); exit 1
/// when a world misses a goal.
pub fn worlds(
    dir: PathBuf,
    scale: usize,
    seed: u64,
    names: Vec<String>,
    floor: f64,
    reuse: bool,
) -> anyhow::Result<i32> {
    let mut cfg = reckon_lab::worlds::WorldsConfig::new(&dir, scale, seed);
    if !(0.0..=1.0).contains(&floor) {
        anyhow::bail!("--floor must be a probability between 0 and 1, got {floor}");
    }
    cfg.floor = floor;
    cfg.reuse = reuse;
    if !names.is_empty() {
        cfg.worlds = names.iter().filter_map(|n| reckon_synth::world::by_name(n)).collect();
    }
    let pb = crate::cmd::run::spinner("reckon: leave-one-world-out (generate, train, run, evaluate)");
    let r = reckon_lab::worlds::evaluate(&cfg);
    pb.finish_and_clear();
    let results = r?;
    outln!("{}", reckon_lab::worlds::table(&results));
    for r in &results {
        if r.missed.is_empty() {
            outln!("{}: every goal met", r.world);
        } else {
            outln!("{}: missed {}", r.world, r.missed.join(", "));
        }
    }
    outln!("figures: {}", dir.join("worlds.json").display());
    Ok(if results.iter().all(|r| r.missed.is_empty()) { exit::OK } else { exit::FAILED })
}
