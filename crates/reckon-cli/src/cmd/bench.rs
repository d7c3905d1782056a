//! `reckon bench`: engines on a generated scenario beside their baselines, in one process.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::exit;
use anyhow::Context;

pub fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// GL journals only: generate, load, then journal-entry tests, features and the
/// journal risk model (isolation forest + combination) timed together.
pub fn bench_journals(input: &Path, scale: usize, seed: u64, dir: &Path) -> anyhow::Result<i32> {
    std::fs::create_dir_all(input.join("truth"))?;
    let t = Instant::now();
    let mut summary = reckon_synth::Summary::default();
    let cfg = reckon_synth::Config::new(seed, scale);
    // The same stream `reckon generate` uses for GL (forks advance the parent).
    let mut rng = reckon_synth::rng::Rng::new(seed);
    let _ = (rng.fork(100), rng.fork(200));
    reckon_synth::gl::write(input, &mut rng.fork(300), scale, cfg.base_day, cfg.profile, None, &mut summary)?;
    let gen_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let loaded = reckon_ingest::load_dir(input)?;
    let load_s = t.elapsed().as_secs_f64();
    let tests = reckon_journals::AnomalyConfig::default().build().map_err(|e| anyhow::anyhow!(e))?;
    let name = reckon_journals::AnomalyConfig::default().model;
    let dirm = reckon_pipeline::model::resolve(&name).with_context(|| format!("models/{name} not found"))?;
    let model = reckon_pipeline::journals::RiskModel::load(&dirm).map_err(|e| anyhow::anyhow!(e))?;
    // Book, tests, features and model: (book + tests seconds, features + model seconds, results).
    let pass = || -> anyhow::Result<(f64, f64, usize, Vec<reckon_journals::JournalResult>)> {
        let t = Instant::now();
        let book = reckon_pipeline::inputs::book(&loaded)?.context("no GL lines")?;
        let mut results = tests.run_book(&book);
        let rules_s = t.elapsed().as_secs_f64();
        let t2 = Instant::now();
        model.score(&tests, &book, &mut results).map_err(|e| anyhow::anyhow!(e))?;
        Ok((rules_s, t2.elapsed().as_secs_f64(), book.len(), results))
    };
    let (rules_s, model_s, n_lines, results) = pass()?;
    let total = rules_s + model_s;
    // Baseline in the same process: the same pass on one thread. It must give the
    // same journals, flags and risks.
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let (s_rules, s_model, _, serial) = one.install(pass)?;
    let identical = serial == results;
    let eval = reckon_lab::journals::evaluate(&results, &input.join("truth"), model.review())
        .map_err(|e| anyhow::anyhow!(e))?;
    let profile = if cfg!(debug_assertions) { "debug (use --release for real numbers)" } else { "release" };
    let report = serde_json::json!({
        "profile": profile,
        "scale": scale,
        "seed": seed,
        "gl_lines": n_lines,
        "journals": results.len(),
        "threads": rayon::current_num_threads(),
        "generate_seconds": gen_s,
        "load_seconds": load_s,
        "tests_seconds": rules_s,
        "features_and_model_seconds": model_s,
        "total_seconds": total,
        "lines_per_s": n_lines as f64 / total,
        "baseline_one_thread_seconds": s_rules + s_model,
        "baseline_one_thread_lines_per_s": n_lines as f64 / (s_rules + s_model),
        "speedup_vs_one_thread": (s_rules + s_model) / total,
        "identical_to_one_thread": identical,
        "model": model.risk.id(),
        "roc_auc": eval.roc_auc,
        "average_precision": eval.average_precision,
        "peak_rss_mib": peak_rss_mib(),
    });
    outln!("{}", serde_json::to_string_pretty(&report)?);
    if std::env::var_os("RECKON_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(exit::OK)
}

/// Books for the whole-run benchmark: receivables and bank entries at 1.2 ×
/// `scale` (≈ `scale` bank entries with their advices), payables at 2 × `scale`
/// (`scale` invoices) and GL at 8 × `scale` (≈ 5 × `scale` lines), each from
/// the generator's own stream as `reckon generate` forks it.
fn generate_e2e(out: &Path, seed: u64, scale: usize) -> anyhow::Result<reckon_synth::Summary> {
    std::fs::create_dir_all(out.join("truth"))?;
    let cfg = reckon_synth::Config::new(seed, scale);
    let mut summary = reckon_synth::Summary { config: Some(cfg.clone()), ..Default::default() };
    let mut rng = reckon_synth::rng::Rng::new(seed);
    reckon_synth::write_bank_accounts(out, &mut summary)?;
    let p = cfg.profile;
    reckon_synth::ar::write(out, &mut rng.fork(100), scale * 6 / 5, cfg.base_day, p, None, &mut summary)?;
    reckon_synth::ap::write(out, &mut rng.fork(200), scale * 2, cfg.base_day, p, None, &mut summary)?;
    reckon_synth::gl::write(out, &mut rng.fork(300), scale * 8, cfg.base_day, p, None, &mut summary)?;
    Ok(summary)
}

/// Peak resident memory of a running process, read from `/proc/PID/status`
/// (`VmHWM`, which only grows).
fn peak_rss_of(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// This binary with `args` as a subprocess: wall time and peak RSS (sampled
/// every 50 ms until it exits); an error naming `what` when it fails.
fn timed(args: &[&std::ffi::OsStr], what: &str) -> anyhow::Result<(f64, u64)> {
    let t = Instant::now();
    let mut child =
        std::process::Command::new(std::env::current_exe()?).args(args).stdout(std::process::Stdio::null()).spawn()?;
    let pid = child.id();
    let mut peak = 0;
    let status = loop {
        if let Some(b) = peak_rss_of(pid) {
            peak = peak.max(b);
        }
        if let Some(s) = child.try_wait()? {
            break s;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let wall = t.elapsed().as_secs_f64();
    anyhow::ensure!(status.success(), "{what} failed: {status}");
    Ok((wall, peak))
}

/// One `reckon run` of this binary as a subprocess: wall time, peak RSS and
/// its manifest.
fn timed_run(input: &Path, out: &Path) -> anyhow::Result<(f64, u64, reckon_pipeline::manifest::Written)> {
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    let (wall, peak) = timed(
        &[os("run"), os("--input"), input.as_os_str(), os("--out"), out.as_os_str(), os("--no-deliver")],
        &format!("reckon run on {}", input.display()),
    )?;
    let m = reckon_pipeline::manifest::Written::read(out)?;
    Ok((wall, peak, m))
}

fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

/// The whole run at production size, from CSV and from Parquet (see
/// [`generate_e2e`]); each run is this binary as a subprocess.
pub fn bench_e2e(dir: &Path, scale: usize, seed: u64) -> anyhow::Result<i32> {
    let csv = dir.join("csv");
    let t = Instant::now();
    let summary = generate_e2e(&csv, seed, scale)?;
    let generate_s = t.elapsed().as_secs_f64();
    // The same books as Parquet: each table loaded once and written as
    // `--keep-normalized` writes it (contract columns).
    let parquet = dir.join("parquet");
    std::fs::create_dir_all(&parquet)?;
    let loaded = reckon_ingest::load_dir(&csv)?;
    for (table, df) in &loaded.tables {
        reckon_pipeline::write_normalized(&parquet.join(format!("{}.parquet", table.name())), *table, df)?;
    }
    drop(loaded);
    let goals = [("csv", &csv, 90.0), ("parquet", &parquet, 60.0)];
    let mut runs = Vec::new();
    for (name, input, goal_s) in goals {
        let (wall, peak, m) = timed_run(input, &dir.join(format!("out-{name}")))?;
        let mut stages = serde_json::Map::new();
        let mut bottleneck = (String::new(), 0u64);
        for (stage, &ms) in &m.timings_ms {
            // `stages` spans the stages side by side; `tables` is the conversion before them.
            if stage == "stages" || ms == 0 {
                continue;
            }
            // Ingest reads every input row; a stage, the rows its report names.
            let rows = if stage == "ingest" {
                Some(m.conservation.tables.values().map(|t| t.input_rows).sum::<u64>())
            } else {
                m.stage_reports.get(stage).map(|r| r.rows_in)
            };
            stages.insert(
                stage.clone(),
                serde_json::json!({
                    "seconds": ms as f64 / 1000.0,
                    "rows_in": rows,
                    "rows_per_s": rows.map(|r| r as f64 / (ms as f64 / 1000.0)),
                }),
            );
            // Stages run side by side: the longest is the one the run waits for.
            if ms > bottleneck.1 {
                bottleneck = (stage.clone(), ms);
            }
        }
        let gib = peak as f64 / (1u64 << 30) as f64;
        runs.push(serde_json::json!({
            "input": name,
            "input_bytes": folder_bytes(input),
            "wall_seconds": wall,
            "peak_rss_gib": gib,
            "goal": format!("≤ {goal_s} s and ≤ 8 GiB"),
            "goal_met": wall <= goal_s && gib <= 8.0,
            "bottleneck": bottleneck.0,
            "stages": stages,
            "tables": serde_json::to_value(&m.conservation.tables)?,
        }));
    }
    let profile = if cfg!(debug_assertions) { "debug (use --release for real numbers)" } else { "release" };
    let report = serde_json::json!({
        "profile": profile,
        "scale": scale,
        "seed": seed,
        "threads": rayon::current_num_threads(),
        "generate_seconds": generate_s,
        "rows": summary.rows,
        "runs": runs,
    });
    outln!("{}", serde_json::to_string_pretty(&report)?);
    if std::env::var_os("RECKON_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(exit::OK)
}

/// Retraining on decisions at size: a fresh SQLite store holding `decisions`
/// decided cash proposals over six runs, written through the store's own API
/// (each run's proposals, each receipt's next best group, and their
/// exceptions as a run writes them, then the
/// decisions through [`reckon_state::Store::submit`], validated as `reckon
/// decide` sends them), then `reckon train cash --state` timed as a subprocess
/// with its peak memory. The proposals' features are random draws (seeded),
/// the accepted ones shifted from the rejected ones: the figures are about
/// time and memory, not about a model's quality.
pub fn bench_retrain(dir: &Path, decisions: usize, seed: u64) -> anyhow::Result<i32> {
    use reckon_state::{DecisionsConfig, ExceptionKind, ExceptionRecord, NewRun, RunChanges, Store};
    anyhow::ensure!(decisions >= 600, "--scale {decisions}: the retraining bench needs at least 600 decisions");
    std::fs::create_dir_all(dir)?;
    let state = dir.join("state.db");
    let _ = std::fs::remove_file(&state);
    let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    // SplitMix64: a seeded stream without a dependency.
    let mut unit = move || {
        rng = rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let policy = DecisionsConfig::default().build()?;
    let runs = 6;
    let per = decisions.div_ceil(runs);
    let k = reckon_cash::FEATURES.len();
    let t = Instant::now();
    let mut store = Store::open(&state)?;
    let mut written = 0;
    for r in 0..runs {
        let n = per.min(decisions - written);
        written += n;
        let run_id = format!("RUN-BENCH-{r:02}");
        let as_of = format!("2026-01-{:02}", r + 1);
        let mut ch = RunChanges::new(NewRun {
            run_id: run_id.clone(),
            as_of: as_of.clone(),
            started_at: format!("{as_of}T06:00:00Z"),
            input: "bench".into(),
            output: "bench".into(),
        });
        ch.exceptions.reserve(n);
        ch.proposals.reserve(n);
        ch.candidates.reserve(n);
        let mut received = Vec::with_capacity(n);
        for i in 0..n {
            let txn = format!("BT{r:02}{i:07}");
            let item = format!("AR{r:02}{i:07}");
            let exception_id = format!("EX-BENCH-{r:02}{i:07}");
            let right = unit() < 0.85;
            let features: Vec<f32> =
                (0..k).map(|j| (unit() + if right && j % 3 == 0 { 0.4 } else { 0.0 }) as f32).collect();
            let confidence = (0.5 + 0.45 * unit()).min(0.99);
            let payload = reckon_feed::Exception {
                exception_id: exception_id.clone(),
                run_id: run_id.clone(),
                kind: ExceptionKind::SuggestedMatch,
                band: reckon_feed::Band::Review,
                score: confidence,
                confidence,
                entity: None,
                currency: None,
                amount: None,
                records: vec![format!("bank_transactions:{txn}"), format!("ar_open_items:{item}")],
                reasons: Vec::new(),
                recommended_action: "confirm the proposal".into(),
                model: Some("cash@2.2".into()),
                priority: 3,
                lifecycle: None,
            };
            ch.exceptions.push(ExceptionRecord::first_raised(&payload, &as_of));
            // The receipt's next best group, which the engine scored and did
            // not propose (schema 10): wrong once the proposal is accepted.
            ch.candidates.push(reckon_state::models::CandidateScore {
                run_id: run_id.clone(),
                txn_id: txn.clone(),
                items: vec![format!("{item}B")],
                model: "cash@2.2".into(),
                confidence: confidence * 0.5,
                shadow_confidence: None,
                feature_spec: reckon_cash::FEATURE_SPEC.into(),
                features: (0..k).map(|_| unit() as f32).collect(),
                entity: Some(format!("E{:02}", i % 4)),
            });
            ch.proposals.push(reckon_state::models::ProposalScore {
                run_id: run_id.clone(),
                txn_id: txn,
                items: vec![item.clone()],
                band: reckon_core::Band::Review,
                model: "cash@2.2".into(),
                confidence,
                challenger: None,
                shadow_confidence: None,
                features,
                feature_spec: Some(reckon_cash::FEATURE_SPEC.into()),
                entity: Some(format!("E{:02}", i % 4)),
                held: false,
            });
            let input = reckon_state::DecisionInput {
                decision_id: format!("D-BENCH-{r:02}{i:07}"),
                exception_id: Some(exception_id),
                action: if right { "accept" } else { "reject_pair" }.into(),
                actor: "bench.analyst".into(),
                roles: Vec::new(),
                decided_at: format!("{as_of}T12:00:00Z"),
                comment: String::new(),
                items: Vec::new(),
                item_id: (!right).then_some(item),
                target: None,
            };
            received.push(
                reckon_state::decision::check(input, format!("bench:{r}:{i}"))
                    .map_err(|u| anyhow::anyhow!("{}: {}", u.source, u.reason))?,
            );
        }
        store.begin_run(&ch)?.commit(&format!("{r:064}"), &format!("{as_of}T07:00:00Z"))?;
        let verdicts = store.submit(&received, &policy, &format!("{as_of}T12:00:00Z"))?;
        let refused = verdicts.iter().filter(|v| v.status == Some(reckon_state::DecisionStatus::Refused)).count();
        anyhow::ensure!(refused == 0, "{refused} bench decisions were refused");
    }
    drop(store);
    let build_s = t.elapsed().as_secs_f64();
    let store_bytes = std::fs::metadata(&state).map(|m| m.len()).unwrap_or(0);
    let model = dir.join("cash_v9_0");
    let _ = std::fs::remove_dir_all(&model);
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    let (train_s, peak) = timed(
        &[
            os("--quiet"),
            os("train"),
            os("cash"),
            os("--holdout-runs"),
            os("1"),
            os("--state"),
            state.as_os_str(),
            os("--out"),
            model.as_os_str(),
        ],
        &format!("reckon train cash --state {}", state.display()),
    )?;
    let metrics: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(model.join("metrics.json"))?)?;
    let profile = if cfg!(debug_assertions) { "debug (use --release for real numbers)" } else { "release" };
    let report = serde_json::json!({
        "profile": profile,
        "decisions": decisions,
        "runs": runs,
        "seed": seed,
        "threads": rayon::current_num_threads(),
        "store_build_seconds": build_s,
        "store_bytes": store_bytes,
        "train_wall_seconds": train_s,
        "train_peak_rss_gib": peak as f64 / (1u64 << 30) as f64,
        "decisions_per_second": decisions as f64 / train_s,
        "train": metrics.get("train"),
        "holdout": metrics.get("holdout"),
    });
    outln!("{}", serde_json::to_string_pretty(&report)?);
    if std::env::var_os("RECKON_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(exit::OK)
}

/// Writes the rows of CSV `src` to `a` (about the first half) and `b` (the
/// rest), each with the header; rows sharing a value of `group` stay together.
fn split_csv(src: &Path, a: &Path, b: &Path, group: &str) -> anyhow::Result<()> {
    let mut r = csv::Reader::from_path(src)?;
    let headers = r.headers()?.clone();
    let g = headers.iter().position(|h| h == group).with_context(|| format!("{}: no column {group}", src.display()))?;
    let rows: Vec<csv::StringRecord> = r.records().collect::<Result<_, _>>()?;
    let mut cut = rows.len() / 2;
    while cut > 0 && cut < rows.len() && rows[cut].get(g) == rows[cut - 1].get(g) {
        cut += 1;
    }
    for (path, part) in [(a, &rows[..cut]), (b, &rows[cut..])] {
        let mut w = csv::Writer::from_path(path)?;
        w.write_record(&headers)?;
        for row in part {
            w.write_record(row)?;
        }
        w.flush()?;
    }
    Ok(())
}

/// The state store's cost, in two chains of two runs on one generated scenario:
///
/// - **production**: the whole books (receivables, payables, GL) both days;
///   the bank entries and remittances split in two days, so day 2 carries day
///   1's open entries, applies remittances to them and reduces the open items
///   reckon applied that the ERP has not posted yet;
/// - **stress**: every entry stays open on day 1 (no receivables), and day 2
///   carries them all in and matches them: the store at its largest per run.
///
/// Each day runs twice on the same folder: without a store, then with it. The
/// store's overhead is the difference of the two wall times over the wall time
/// with the store (the run with the store also carries entries and matches
/// them: work the store brings). The store's own phases (open and read,
/// carry, lifecycle, write — beside the feed's files — and commit) are listed.
pub fn bench_state(input: &Path, scale: usize, seed: u64, dir: &Path) -> anyhow::Result<i32> {
    let all = dir.join("scenario");
    reckon_synth::generate(&all, &reckon_synth::Config::new(seed, scale))?;
    let copy = |f: &str, to: &Path| -> anyhow::Result<()> {
        std::fs::create_dir_all(to)?;
        std::fs::copy(all.join(f), to.join(f))?;
        Ok(())
    };
    let mut chains: Vec<(&str, [(&str, PathBuf); 2])> = Vec::new();
    // Production: books on both days, bank and remittances split.
    let (p1, p2) = (input.join("production-1"), input.join("production-2"));
    for f in [
        "bank_accounts.csv",
        "customers.csv",
        "ar_open_items.csv",
        "vendors.csv",
        "ap_invoices.csv",
        "gl_journal_lines.csv",
    ] {
        copy(f, &p1)?;
        copy(f, &p2)?;
    }
    split_csv(
        &all.join("bank_transactions.csv"),
        &p1.join("bank_transactions.csv"),
        &p2.join("bank_transactions.csv"),
        "txn_id",
    )?;
    split_csv(&all.join("remittances.csv"), &p1.join("remittances.csv"), &p2.join("remittances.csv"), "remittance_id")?;
    chains.push((
        "production",
        [
            ("day 1: books, first half of the bank entries", p1),
            ("day 2: books, second half, day 1's open entries carried", p2),
        ],
    ));
    // Stress: everything open, then everything carried.
    let (s1, s2) = (input.join("stress-1"), input.join("stress-2"));
    for f in ["bank_accounts.csv", "customers.csv"] {
        copy(f, &s1)?;
        copy(f, &s2)?;
    }
    copy("bank_transactions.csv", &s1)?;
    copy("ar_open_items.csv", &s2)?;
    copy("remittances.csv", &s2)?;
    chains.push(("stress", [("day 1: bank entries, no receivables", s1), ("day 2: receivables, entries carried", s2)]));
    let mut report = Vec::new();
    for (chain, days) in &chains {
        let state = dir.join(format!("{chain}.db"));
        for (i, (name, d)) in days.iter().enumerate() {
            let cfg = reckon_pipeline::Config::default();
            let plain = dir.join(format!("out-{chain}-{}-without-store", i + 1));
            let t = Instant::now();
            reckon_pipeline::run(&reckon_pipeline::RunOptions::new(d, &plain, cfg.clone()))?;
            let wall_without = t.elapsed().as_millis() as u64;
            let out = dir.join(format!("out-{chain}-{}", i + 1));
            let mut o = reckon_pipeline::RunOptions::new(d, &out, cfg);
            o.state = Some(state.clone());
            let t = Instant::now();
            let r = reckon_pipeline::run(&o)?;
            let wall = t.elapsed().as_millis() as u64;
            let tm = &r.manifest.timings_ms;
            let g = |k: &str| tm.get(k).copied().unwrap_or(0);
            let commit = r.state_commit_ms.unwrap_or(0);
            // The bank side is written while other stages run: the run waits
            // only for its part after the last stage (`state_bank_after_stages`).
            let store = g("state_open")
                + g("state_prepare")
                + g("state_bank_after_stages")
                + g("state_lifecycle")
                + g("state_write")
                + commit;
            let own = store - g("state_bank_after_stages") + g("state_bank");
            let st = r.manifest.state.clone().unwrap_or_default();
            let c = &r.manifest.conservation.bank_transactions;
            report.push(serde_json::json!({
                "chain": chain,
                "run": name,
                "bank_entries_loaded": c.loaded,
                "carried_in": st.prepared.carried,
                "open_items": r.manifest.conservation.tables.get("ar_open_items").map_or(0, |t| t.loaded_rows),
                "exceptions": st.exceptions,
                "open_after": st.chain.open,
                "entries_in_store": st.chain.entries,
                "wall_ms": wall,
                "wall_without_store_ms": wall_without,
                "store_overhead": (wall as f64 - wall_without as f64) / wall.max(1) as f64,
                "state_open_ms": g("state_open"),
                "state_read_beside_load_ms": g("state_read"),
                "state_carry_ms": g("state_prepare"),
                "state_bank_ms": g("state_bank"),
                "state_bank_after_stages_ms": g("state_bank_after_stages"),
                "state_lifecycle_ms": g("state_lifecycle"),
                "state_write_ms": g("state_write"),
                "state_commit_ms": commit,
                "state_ms": store,
                "state_own_ms": own,
                "state_phases_share_of_wall": store as f64 / wall.max(1) as f64,
                "store_bytes": std::fs::metadata(&state).map(|m| m.len()).unwrap_or(0),
            }));
        }
    }
    let profile = if cfg!(debug_assertions) { "debug (use --release for real numbers)" } else { "release" };
    let out = serde_json::json!({ "profile": profile, "scale": scale, "seed": seed, "runs": report,
        "peak_rss_mib": peak_rss_mib() });
    outln!("{}", serde_json::to_string_pretty(&out)?);
    if std::env::var_os("RECKON_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(exit::OK)
}

pub fn bench(scale: usize, seed: u64, dir: Option<PathBuf>, only: &str) -> anyhow::Result<i32> {
    let only = if only == "dedup" { "duplicates" } else { only };
    let tmp;
    let dir = match dir {
        Some(d) => d,
        None => {
            tmp = std::env::temp_dir().join(format!("reckon-bench-{}", std::process::id()));
            tmp.clone()
        }
    };
    let input = dir.join("input");
    if only == "journals" {
        return bench_journals(&input, scale, seed, &dir);
    }
    if only == "state" {
        return bench_state(&input, scale, seed, &dir);
    }
    if only == "e2e" {
        return bench_e2e(&dir, scale, seed);
    }
    if only == "retrain" {
        return bench_retrain(&dir, scale, seed);
    }
    let t = Instant::now();
    reckon_synth::generate(&input, &reckon_synth::Config::new(seed, scale))?;
    let gen_s = t.elapsed().as_secs_f64();
    let bytes: u64 = std::fs::read_dir(&input)?
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum();
    let t = Instant::now();
    let loaded = reckon_ingest::load_dir(&input)?;
    let load_s = t.elapsed().as_secs_f64();
    let rows: u64 = loaded.files.iter().map(|f| f.input_rows).sum();
    // The registered stages, built from the default config as `reckon run` builds
    // them, run on the loaded tables; their tables are written to a scratch folder
    // and evaluated there as `reckon eval` does.
    let cfg = reckon_pipeline::Config::default();
    let stages = reckon_pipeline::stage::build_all(&cfg)?;
    let stage = |name: &str| stages.iter().find(|s| s.name() == name).context(format!("no stage {name}"));
    // The tables converted into engine rows once, as `reckon run` does before its stages.
    let t = Instant::now();
    let tables = reckon_pipeline::inputs::Tables::from_loaded(&loaded)?;
    let tables_s = t.elapsed().as_secs_f64();
    let inputs = reckon_pipeline::stage::RunInputs { loaded: &loaded, tables: &tables, run_id: "bench", memory: None };
    let scratch = dir.join("out");
    std::fs::create_dir_all(&scratch)?;
    let write = |mut o: reckon_pipeline::stage::StageOutput| -> anyhow::Result<reckon_pipeline::stage::StageOutput> {
        for (name, df) in &mut o.tables {
            reckon_pipeline::write_parquet(&scratch.join(format!("{name}.parquet")), df)?;
        }
        Ok(o)
    };
    // Cash matching against the naive baseline, on the same data in the same process.
    let matching_report = if only == "duplicates" {
        serde_json::Value::Null
    } else {
        let cash_rows =
            reckon_pipeline::cash::rows(&tables).context("generated scenario lacks receipts or open items")?;
        let cash_inputs = reckon_pipeline::cash::inputs(&cash_rows, &tables);
        let truth = reckon_lab::eval::cash_truth(&input.join("truth"))?;
        let t = Instant::now();
        let out = stage("cash")?.run(&inputs)?;
        let match_s = t.elapsed().as_secs_f64();
        let match_rss = peak_rss_mib();
        let out = write(out)?;
        let reckon_eval = reckon_lab::eval::cash(&scratch, &input.join("truth"))?;
        let t = Instant::now();
        let naive = reckon_cash::baseline::naive(&cash_inputs.receipts, &cash_inputs.items);
        let naive_s = t.elapsed().as_secs_f64();
        let mut npred = reckon_lab::eval::Predicted::new();
        for (ri, ii) in naive {
            let e = npred.entry(cash_inputs.receipts[ri].txn_id.clone()).or_insert((Default::default(), true, 1.0));
            e.0.insert(cash_inputs.items[ii].item_id.clone());
        }
        let naive_eval = reckon_lab::eval::score(&npred, &truth);
        let summary = |e: &reckon_lab::eval::CashEval| {
            serde_json::json!({
                "auto_groups": e.auto_groups, "auto_precision": e.auto_precision,
                "touchless": e.touchless, "recall_proposed": e.recall_proposed, "recall_any_band": e.recall_any_band,
            })
        };
        let n_receipts = out.report.rows_in;
        serde_json::json!({
            "receipts": n_receipts,
            "open_items": cash_inputs.items.len(),
            "reckon_model": out.models.first().map(|m| m.id.clone()),
            "reckon_stage": out.report.summary,
            "reckon_seconds": match_s,
            "reckon_receipts_per_s": n_receipts as f64 / match_s,
            "peak_rss_mib_after_matching": match_rss,
            "reckon": summary(&reckon_eval),
            "naive_baseline_seconds": naive_s,
            "naive_baseline": summary(&naive_eval),
        })
    };
    // Duplicate detection on the scenario's AP invoices, beside the exact-key check.
    let mut dup_report = serde_json::Value::Null;
    if only != "cash"
        && let Some(inv) = tables.invoices.get()
    {
        let n = inv.len();
        let t = Instant::now();
        let base = reckon_lab::duplicates::exact_key_baseline(&inv);
        let base_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let out = stage("duplicates")?.run(&inputs)?;
        let dedup_s = t.elapsed().as_secs_f64();
        let out = write(out)?;
        let compared = out.report.counts.get("compared_pairs").copied().unwrap_or(0);
        let ev = reckon_lab::duplicates::eval_out(&scratch, &input.join("truth")).map_err(|e| anyhow::anyhow!(e))?;
        let bev = reckon_lab::duplicates::evaluate(&base, 0, &input.join("truth")).map_err(|e| anyhow::anyhow!(e))?;
        dup_report = serde_json::json!({
            "ap_invoices": n,
            "pairs_compared": compared,
            "pairs_per_invoice": compared as f64 / n.max(1) as f64,
            "reckon_stage": out.report.summary,
            "reckon_seconds": dedup_s,
            "reckon_invoices_per_s": n as f64 / dedup_s,
            "reckon": { "precision": ev.precision, "recall": ev.recall, "f1": ev.f1, "false_alarms": ev.false_alarms },
            "exact_key_seconds": base_s,
            "exact_key": { "precision": bev.precision, "recall": bev.recall, "f1": bev.f1 },
            "peak_rss_mib_after": peak_rss_mib(),
        });
    }
    let profile = if cfg!(debug_assertions) { "debug (use --release for real numbers)" } else { "release" };
    let report = serde_json::json!({
        "profile": profile,
        "scale": scale,
        "seed": seed,
        "generate_seconds": gen_s,
        "generate_open_items_per_s": scale as f64 / gen_s,
        "input_bytes": bytes,
        "input_rows": rows,
        "load_seconds": load_s,
        "tables_seconds": tables_s,
        "load_rows_per_s": rows as f64 / load_s,
        "load_mb_per_s": bytes as f64 / 1e6 / load_s,
        "rejects": loaded.rejects.len(),
        "peak_rss_mib": peak_rss_mib(),
        "cash": matching_report,
        "duplicates": dup_report,
    });
    outln!("{}", serde_json::to_string_pretty(&report)?);
    if std::env::var_os("RECKON_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(exit::OK)
}
