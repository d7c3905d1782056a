//! `reckon validate`, `generate` and `parse`: checking input, making scenarios,
//! reading bank files.

use std::path::PathBuf;
use std::time::Instant;

use crate::exit;
use anyhow::Context;

/// `reckon validate`: loads a folder and lists its rejects; exit 3 when any.
pub fn validate(input: PathBuf, all: bool) -> anyhow::Result<i32> {
    let loaded = reckon_ingest::load_dir(&input)?;
    crate::cmd::run::print_files(&loaded);
    let limit = if all { usize::MAX } else { 20 };
    for r in loaded.rejects.iter().take(limit) {
        outln!(
            "  {}:{} {} [{}] {}",
            r.file,
            r.row.map(|x| x.to_string()).unwrap_or_else(|| "-".into()),
            r.column.as_deref().unwrap_or("-"),
            r.code.as_str(),
            r.reason
        );
    }
    if loaded.rejects.len() > limit {
        outln!("  … {} more (use --all)", loaded.rejects.len() - limit);
    }
    Ok(if !loaded.refused_files().is_empty() || !loaded.rejects.is_empty() { exit::REFUSED_INPUT } else { exit::OK })
}

/// `reckon generate`'s arguments.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Random seed: the same seed and scale give byte-identical files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Number of AR open items; other tables scale with it.
    #[arg(long, default_value_t = 10_000)]
    pub scale: usize,
    /// `standard`, or `wide`: ranges beyond the engines' defaults (bank charges
    /// above the cap, other discount terms, collective payments of 6–9 invoices,
    /// debits nothing explains, another approval limit and working day), to
    /// measure what each default bound costs (docs/quality.md).
    #[arg(long, default_value = "standard", value_parser = ["standard", "wide"])]
    pub profile: String,
    /// A world: another bank's way of writing receipts, another company's
    /// posting calendar and hours, other vendors' habits and anomaly mixes
    /// (`eu_sepa`, `us_ach`, `uk_retail`, `shift_plant`; reckon-synth's
    /// `world` module describes each). Used by `reckon worlds`.
    #[arg(long, value_parser = reckon_synth::world::names())]
    pub world: Option<String>,
    /// Write N business days instead of one folder: OUT/day-01 … day-N with
    /// each day's bank entries and arriving remittance advices (0–3 days
    /// after their payment) and that day's receivables, payables and journal
    /// snapshots; OUT/all holds the whole scenario and its truth,
    /// OUT/truth/days.csv the day each entry, advice and late item arrived.
    #[arg(long, value_name = "N")]
    pub days: Option<usize>,
    /// With --days: the share of customers that pay every invoice through a
    /// parent, treasury centre or finance company under that payer's own
    /// name (learned only when a person confirms it).
    #[arg(long, value_name = "SHARE", default_value_t = 0.05)]
    pub third_party_payers: f64,
    /// With --days: the share of customers whose invoices another
    /// customer of the master (a parent or head office) pays under its own
    /// name and account, recorded in the customer's master as a permitted
    /// payer (`customers.payer_ids`).
    #[arg(long, value_name = "SHARE", default_value_t = 0.0)]
    pub parent_payers: f64,
    /// With --days: from day D on, the bank writes payer names abbreviated
    /// and invoice references as SWIFT MT103 field 70 codes them
    /// (`/INV/<date> <invoice>`): a change of format for monitoring and
    /// retraining to meet.
    #[arg(long, value_name = "D")]
    pub bank_drift_from_day: Option<usize>,
}

/// `reckon generate`: a scenario with truth.
pub fn generate(a: GenerateArgs) -> anyhow::Result<i32> {
    let GenerateArgs { out, seed, scale, profile, world, days, third_party_payers, parent_payers, bank_drift_from_day } =
        a;
    if bank_drift_from_day.is_some() && days.is_none() {
        anyhow::bail!("--bank-drift-from-day needs --days");
    }
    if parent_payers != 0.0 && days.is_none() {
        anyhow::bail!("--parent-payers needs --days");
    }
    let t = Instant::now();
    let pb = crate::cmd::run::spinner(&format!("reckon: generating {scale} open items"));
    let mut cfg = reckon_synth::Config::new(seed, scale);
    if profile == "wide" {
        cfg.profile = reckon_synth::Profile::Wide;
    }
    if let Some(w) = world {
        cfg.world = Some(reckon_synth::world::by_name(&w).with_context(|| {
            format!("--world {w}: no such world (one of {})", reckon_synth::world::names().join(", "))
        })?);
    }
    if let Some(n) = days {
        if !(0.0..=1.0).contains(&third_party_payers) {
            anyhow::bail!("--third-party-payers must be a share between 0 and 1, got {third_party_payers}");
        }
        if !(0.0..=1.0).contains(&parent_payers) {
            anyhow::bail!("--parent-payers must be a share between 0 and 1, got {parent_payers}");
        }
        let opts = reckon_synth::days::DaysOptions {
            third_party_permille: (third_party_payers * 1000.0).round() as u32,
            drift_from_day: bank_drift_from_day,
            parent_permille: (parent_payers * 1000.0).round() as u32,
        };
        let s = reckon_synth::days::write_days_with(&out, &cfg, n, &opts);
        pb.finish_and_clear();
        let s = s?;
        outln!("generated seed={seed} scale={scale} as {n} days into {} in {:.2?}", out.display(), t.elapsed());
        for (d, rows) in s.rows.iter().enumerate() {
            let r = |k: &str| rows.get(k).copied().unwrap_or(0);
            outln!(
                "  day-{:02}: {} bank entries, {} advices, {} open items, {} AP invoices, {} GL lines",
                d + 1,
                r("bank_transactions"),
                r("remittances"),
                r("ar_open_items"),
                r("ap_invoices"),
                r("gl_journal_lines")
            );
        }
        outln!(
            "  {} items posted after their payment, {} advices arriving after the last day, {} receipts under a trade name, {} paid by a parent for {} customers",
            s.items_posted_late,
            s.advices_never_arriving,
            s.trade_name_receipts,
            s.parent_paid_receipts,
            s.parent_paid_customers
        );
        return Ok(exit::OK);
    }
    let s = reckon_synth::generate(&out, &cfg);
    pb.finish_and_clear();
    let s = s?;
    outln!("generated seed={seed} scale={scale} into {} in {:.2?}", out.display(), t.elapsed());
    for (k, v) in &s.rows {
        outln!("  {k:<32} {v:>10}");
    }
    outln!("  patterns: see {}", out.join("truth/summary.json").display());
    Ok(exit::OK)
}

pub fn parse_files(files: &[PathBuf], model: bool) -> anyhow::Result<i32> {
    use reckon_formats::Format;
    let mut code = exit::OK;
    for f in files {
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let format = reckon_formats::detect(&bytes);
        let body = if model {
            match format {
                Format::Mt940 | Format::Mt942 => serde_json::to_value(reckon_formats::mt940::statements(&bytes))?,
                Format::Camt(_) => match reckon_formats::camt::document(&bytes) {
                    Ok(d) => serde_json::to_value(d)?,
                    Err(e) => serde_json::json!({ "error": e.to_string() }),
                },
                Format::Bai2 => match reckon_formats::bai2::accounts(&bytes) {
                    Ok((a, c)) => serde_json::json!({ "accounts": a, "controls": c }),
                    Err(e) => serde_json::json!({ "error": e.to_string() }),
                },
                _ => serde_json::json!({ "error": "no native model for this format" }),
            }
        } else {
            match reckon_formats::parse(&bytes) {
                Ok(p) => serde_json::to_value(p)?,
                Err(e) => {
                    code = exit::REFUSED_INPUT;
                    serde_json::json!({ "error": e.to_string() })
                }
            }
        };
        let line = serde_json::json!({ "file": f.display().to_string(), "format": format.name(), "parsed": body });
        outln!("{}", serde_json::to_string(&line)?);
    }
    Ok(code)
}
