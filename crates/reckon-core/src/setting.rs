//! A configuration value that was read but is not valid: which section of
//! `reckon.toml` it is in and why. Every crate's `build()`/`validate()` returns
//! it, so a message names its real source.

/// A setting that cannot be used, in a section of `reckon.toml`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct InvalidSetting {
    /// The config section, e.g. `anomaly`, `feed`, `feed.webhook`, `decisions`.
    pub section: &'static str,
    /// The key with its section path (`anomaly.close_days`, `[decisions]
    /// four_eyes_above`) and what is wrong with it.
    pub reason: String,
}

impl InvalidSetting {
    pub fn new(section: &'static str, reason: impl Into<String>) -> InvalidSetting {
        InvalidSetting { section, reason: reason.into() }
    }

    /// A function that wraps a reason in `section` (for `map_err`).
    pub fn in_section(section: &'static str) -> impl Fn(String) -> InvalidSetting {
        move |reason| InvalidSetting { section, reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_what_is_wrong() {
        let e = InvalidSetting::new("journals", "journals.round_unit = 0 must be within 1..=10^12 major units");
        assert_eq!(
            (e.section, e.to_string().as_str()),
            ("journals", "journals.round_unit = 0 must be within 1..=10^12 major units")
        );
    }
}
