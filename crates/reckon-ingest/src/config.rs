//! `[ingest]`: what loading accepts beyond the contract's types.

use reckon_core::InvalidSetting;
use reckon_core::date::{format_iso_date, parse_iso_date};
use serde::{Deserialize, Serialize};

/// `[ingest]` as written in `reckon.toml`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Earliest date (and timestamp day) a row may carry, `YYYY-MM-DD`.
    pub first_date: String,
    /// Latest date (and timestamp day) a row may carry, `YYYY-MM-DD`.
    pub last_date: String,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig { first_date: "1900-01-01".into(), last_date: "2999-12-31".into() }
    }
}

/// A setting of `[ingest]` that cannot be used.
fn bad(reason: String) -> InvalidSetting {
    InvalidSetting::new("ingest", reason)
}

impl IngestConfig {
    /// Checks the settings and builds what loading uses.
    pub fn build(&self) -> Result<DateRange, InvalidSetting> {
        let day = |key: &str, v: &str| {
            parse_iso_date(v).ok_or_else(|| bad(format!("ingest.{key}: '{v}' is not a date YYYY-MM-DD")))
        };
        let first = day("first_date", &self.first_date)?;
        let last = day("last_date", &self.last_date)?;
        if first > last {
            return Err(bad(format!(
                "ingest.first_date ({}) is after ingest.last_date ({})",
                self.first_date, self.last_date
            )));
        }
        Ok(DateRange { first, last })
    }
}

/// The days a row's dates and timestamps may fall on (inclusive, days since
/// 1970-01-01). A date outside is a keying or export error (a year 0000 or
/// 9999), and its row is rejected with the range in the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateRange {
    first: i32,
    last: i32,
}

impl Default for DateRange {
    /// The contract's range: 1900-01-01 to 2999-12-31.
    fn default() -> Self {
        DateRange {
            first: reckon_core::date::days_from_civil(1900, 1, 1),
            last: reckon_core::date::days_from_civil(2999, 12, 31),
        }
    }
}

impl DateRange {
    pub fn contains(&self, day: i32) -> bool {
        (self.first..=self.last).contains(&day)
    }

    /// `first to last`, for messages.
    pub fn describe(&self) -> String {
        format!("{} to {}", format_iso_date(self.first), format_iso_date(self.last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_contract_range() {
        assert_eq!(IngestConfig::default().build(), Ok(DateRange::default()));
        assert_eq!(DateRange::default().describe(), "1900-01-01 to 2999-12-31");
    }

    #[test]
    fn bad_settings_are_named() {
        let c = |f: &str, l: &str| IngestConfig { first_date: f.into(), last_date: l.into() }.build();
        assert!(
            c("2020-01-01", "2019-12-31")
                .is_err_and(|e| e.section == "ingest" && e.reason.contains("ingest.first_date"))
        );
        assert!(
            c("2020-13-01", "2029-12-31")
                .is_err_and(|e| e.section == "ingest" && e.reason.contains("ingest.first_date"))
        );
        assert!(c("2020-01-01", "").is_err_and(|e| e.section == "ingest" && e.reason.contains("ingest.last_date")));
        let r = c("2020-01-01", "2020-01-01").unwrap_or_else(|e| panic!("{e}"));
        assert!(r.contains(reckon_core::date::days_from_civil(2020, 1, 1)));
        assert!(!r.contains(reckon_core::date::days_from_civil(2020, 1, 2)));
    }
}
