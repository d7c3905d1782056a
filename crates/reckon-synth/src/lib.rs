//! reckon-synth: a deterministic generator of linked finance scenarios with truth.
//!
//! `generate(out, &Config { seed, scale })` writes the contract's input tables
//! (customers, AR open items, bank transactions, remittances, vendors, AP
//! invoices, GL journal lines, bank accounts) and a `truth/` folder saying which
//! payment pays which item and by what pattern, which AP documents are
//! duplicates (and which look-alikes are not), and which journals are anomalous.
//! The same seed and scale give byte-identical files. Randomness comes from a
//! fixed in-crate PRNG so that dependency upgrades cannot change the output.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

pub mod ap;
pub mod ar;
pub mod bankfile;
pub mod days;
pub mod gl;
pub mod names;
pub mod out;
pub mod rng;
pub mod world;

/// A legal entity of the scenario with its house bank account.
#[derive(Debug)]
pub struct Entity {
    pub code: &'static str,
    pub country: &'static str,
    pub currency: &'static str,
    pub exp: u8,
    /// One major unit in minor units.
    pub unit: i64,
    pub account: &'static str,
    pub tax_office: &'static str,
}

pub const ENTITIES: [Entity; 3] = [
    Entity {
        code: "DE01",
        country: "DE",
        currency: "EUR",
        exp: 2,
        unit: 100,
        account: "DE89370400440532013000",
        tax_office: "Finanzamt Koeln-Mitte",
    },
    Entity {
        code: "GB01",
        country: "GB",
        currency: "GBP",
        exp: 2,
        unit: 100,
        account: "GB33BUKB20201555555555",
        tax_office: "HMRC VAT",
    },
    Entity {
        code: "US01",
        country: "US",
        currency: "USD",
        exp: 2,
        unit: 100,
        account: "021000021-4432190876",
        tax_office: "IRS USATAXPYMT",
    },
];

/// Which ranges the generator draws from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// The ranges reckon's default configuration was built around.
    #[default]
    Standard,
    /// Ranges beyond the engines' defaults, so an evaluation shows what each
    /// bound costs: bank charges up to 60.00 (cap 25.00), early-payment
    /// discounts of 1–5 % (defaults 2 and 3 %), collective payments of up to 9
    /// invoices (subset search 5), debits no bank rule or AP invoice explains
    /// (they must stay unreconciled), an approval limit of 5,000 (default
    /// 10,000) and a working day of 06–21 (default 07–19).
    Wide,
}

impl Profile {
    pub fn is_standard(&self) -> bool {
        *self == Profile::Standard
    }
}

/// Generator settings.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Config {
    pub seed: u64,
    /// Number of AR open items; the other tables scale with it
    /// (AP invoices ≈ scale/2, journals ≈ scale/4 with 2–3 lines each).
    pub scale: usize,
    /// First invoice date, days since 1970-01-01 (default 2026-01-05).
    pub base_day: i32,
    /// Absent from `summary.json` for the standard profile (its files are unchanged).
    #[serde(skip_serializing_if = "Profile::is_standard")]
    pub profile: Profile,
    /// A world's bank, company and vendor habits ([`world`]); absent for the
    /// standard scenario (whose files it leaves unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub world: Option<&'static world::World>,
}

impl Config {
    pub fn new(seed: u64, scale: usize) -> Config {
        Config {
            seed,
            scale,
            base_day: reckon_core::date::days_from_civil(2026, 1, 5),
            profile: Profile::Standard,
            world: None,
        }
    }
}

/// Row counts and pattern counts of a generated scenario (written to `truth/summary.json`).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Summary {
    pub config: Option<Config>,
    pub rows: BTreeMap<String, u64>,
    pub patterns: BTreeMap<String, u64>,
}

/// Writes `bank_accounts.csv`: one account per entity.
pub fn write_bank_accounts(out: &Path, summary: &mut Summary) -> io::Result<()> {
    let mut c = out::Csv::create(&out.join("bank_accounts.csv"), &["account_id", "entity", "currency", "gl_account"])?;
    for e in &ENTITIES {
        c.row(&[e.account, e.code, e.currency, "1200"])?;
    }
    summary.rows.insert("bank_accounts".into(), c.finish()?);
    Ok(())
}

/// Writes a scenario into `out` (created if missing).
pub fn generate(out: &Path, cfg: &Config) -> io::Result<Summary> {
    std::fs::create_dir_all(out.join("truth"))?;
    let mut summary = Summary { config: Some(cfg.clone()), ..Summary::default() };
    let mut rng = rng::Rng::new(cfg.seed);
    write_bank_accounts(out, &mut summary)?;
    ar::write(out, &mut rng.fork(100), cfg.scale, cfg.base_day, cfg.profile, cfg.world, &mut summary)?;
    ap::write(out, &mut rng.fork(200), cfg.scale, cfg.base_day, cfg.profile, cfg.world, &mut summary)?;
    gl::write(out, &mut rng.fork(300), cfg.scale, cfg.base_day, cfg.profile, cfg.world, &mut summary)?;
    let json = serde_json::to_string_pretty(&summary).map_err(io::Error::other)?;
    std::fs::write(out.join("truth/summary.json"), json + "\n")?;
    if let Some(w) = cfg.world {
        std::fs::write(out.join("truth/reckon.toml"), w.settings())?;
    }
    Ok(summary)
}
