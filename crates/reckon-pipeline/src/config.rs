//! `reckon.toml`: the run's configuration, read strictly and validated.

use serde::{Deserialize, Serialize};

/// The configuration file as written. Unknown keys are errors, so a typo never
/// silently falls back to a default.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub output: OutputConfig,
    /// What loading accepts beyond the contract's types (the date range).
    #[serde(default)]
    pub ingest: reckon_ingest::IngestConfig,
    /// `[cash]`: cash application (read from `[matching]` too, its name before
    /// 2026-11-30).
    #[serde(default, alias = "matching")]
    pub cash: reckon_cash::MatchConfig,
    /// Exception routing policy.
    #[serde(default)]
    pub feed: reckon_feed::FeedConfig,
    /// Duplicate-invoice detection on AP.
    #[serde(default)]
    pub duplicates: DuplicatesConfig,
    /// Money out: bank rules for debits that pay no AP invoice.
    #[serde(default)]
    pub disbursements: DisbursementsConfig,
    /// `[journals]`: journal-entry tests and the risk model on GL journals (read
    /// from `[anomaly]` too, its name before 2026-11-30).
    #[serde(default, alias = "anomaly")]
    pub journals: reckon_journals::AnomalyConfig,
    /// The state store across runs and the service level per exception kind.
    #[serde(default)]
    pub state: reckon_state::StateConfig,
    /// Who may decide what (roles, limits, four eyes).
    #[serde(default)]
    pub decisions: reckon_state::DecisionsConfig,
    /// When a model's rows have moved from its training reference (`model_drift`).
    #[serde(default)]
    pub monitor: reckon_monitor::DriftLimits,
}

/// `[disbursements]`: `[[disbursements.rules]]` with `class`, `bank_code`,
/// `counterparty`, `text` (default: fees, payroll and taxes by ISO 20022 codes and wording).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DisbursementsConfig {
    pub rules: Vec<reckon_disbursements::Rule>,
}

impl Default for DisbursementsConfig {
    fn default() -> Self {
        DisbursementsConfig { rules: reckon_disbursements::default_rules() }
    }
}

/// `[duplicates]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DuplicatesConfig {
    /// Model folder name under `models/` (or a path), or `off`.
    pub model: String,
}

impl Default for DuplicatesConfig {
    fn default() -> Self {
        DuplicatesConfig { model: "duplicates_v2_0".into() }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Also write `normalized/<table>.parquet` (what reckon understood of each input).
    #[serde(default)]
    pub keep_normalized: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {0}: {1}")]
    Read(String, std::io::Error),
    #[error("config {0}: {1}")]
    Parse(String, String),
    #[error("config {0}: {1}")]
    Invalid(String, #[source] reckon_core::InvalidSetting),
}

impl Config {
    pub fn from_toml(name: &str, text: &str) -> Result<Config, ConfigError> {
        let c: Config = toml::from_str(text).map_err(|e| ConfigError::Parse(name.to_string(), e.to_string()))?;
        c.validate().map_err(|e| ConfigError::Invalid(name.to_string(), e))?;
        Ok(c)
    }

    pub fn load(path: &std::path::Path) -> Result<Config, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read(name.clone(), e))?;
        Config::from_toml(&name, &text)
    }

    /// Cross-field checks beyond the types, section by section.
    pub fn validate(&self) -> Result<(), reckon_core::InvalidSetting> {
        self.ingest.build()?;
        self.cash.validate()?;
        self.journals.build()?;
        self.state.build()?;
        self.decisions.build()?;
        self.monitor.validate().map_err(|r| reckon_core::InvalidSetting::new("monitor", r))?;
        self.feed.build().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_policy_is_validated() {
        assert!(Config::from_toml("t", "[feed]\nescalate_above = { EUR = \"50000.00\" }").is_ok());
        let e = Config::from_toml("t", "[feed]\nescalate_above = { EUR = \"5.000,00\" }").err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("escalate_above.EUR")));
    }

    #[test]
    fn sections_are_named_by_engine_and_read_by_their_former_names() {
        let now = Config::from_toml("t", "[cash]\nauto_threshold = 0.9\n[journals]\nreview_risk = 0.4\n");
        let before = Config::from_toml("t", "[matching]\nauto_threshold = 0.9\n[anomaly]\nreview_risk = 0.4\n");
        let now = now.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(now.cash.auto_threshold, 0.9);
        assert_eq!(now.journals.review_risk, 0.4);
        assert_eq!(Some(now), before.ok());
        let e = Config::from_toml("t", "[journals]\nreview_risk = 2.0\n").err().map(|e| e.to_string());
        assert!(e.as_deref().is_some_and(|e| e.contains("journals.review_risk")), "{e:?}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(Config::from_toml("t", "[output]\nkeep_normalized = true").is_ok());
        let e = Config::from_toml("t", "[output]\nkeep_normalised = true").err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("keep_normalised")));
    }
}
