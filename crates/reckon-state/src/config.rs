//! `[state]` and `[decisions]` in reckon.toml, checked and built into the
//! runtime objects the store and the run use ([`Sla`], [`Policy`]).

use reckon_core::InvalidSetting;
use std::collections::{BTreeMap, BTreeSet};

use reckon_core::{Currency, ExceptionKind, MoneyFormat, parse_minor};
use serde::{Deserialize, Serialize};

use crate::decision::Action;

/// `[state]`: where the state store is and the service level per kind.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// The state store: a file path (SQLite, created on first use). `reckon run
    /// --state PATH` overrides it. Unset: runs keep no state.
    pub path: Option<String>,
    /// Days an exception of a kind may stay open before `sla_breached`
    /// (`unmatched_receipt = 2`); kinds not named get `default_sla_days`.
    pub sla_days: BTreeMap<String, u32>,
    pub default_sla_days: u32,
    /// Days a remittance advice line that names no bank entry of a run is kept
    /// for later runs after it first arrived (its payment may come later). A
    /// line naming an entry still open is kept as long as the entry is.
    pub advice_days: u32,
    /// Automatic matches a run keeps the scores and features of (the weak
    /// positives retraining learns from), while no challenger scores in
    /// shadow: a sample this large, by match id; every proposal put to people
    /// is kept. With a challenger in shadow every group is kept.
    pub auto_groups_kept: usize,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            path: None,
            sla_days: BTreeMap::new(),
            default_sla_days: 5,
            advice_days: 30,
            auto_groups_kept: 20_000,
        }
    }
}

/// Service levels by kind, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Sla {
    by_kind: BTreeMap<ExceptionKind, u32>,
    default: u32,
}

impl Sla {
    pub fn days(&self, kind: ExceptionKind) -> u32 {
        self.by_kind.get(&kind).copied().unwrap_or(self.default)
    }
}

impl Default for Sla {
    fn default() -> Self {
        Sla { by_kind: BTreeMap::new(), default: 5 }
    }
}

impl StateConfig {
    /// The service levels, refusing a kind the contract does not have.
    pub fn build(&self) -> Result<Sla, InvalidSetting> {
        let mut by_kind = BTreeMap::new();
        for (k, d) in &self.sla_days {
            let kind = ExceptionKind::parse(k).ok_or_else(|| {
                bad_state(format!("[state] sla_days: '{k}' is not an exception kind (one of {})", kinds_list()))
            })?;
            by_kind.insert(kind, *d);
        }
        Ok(Sla { by_kind, default: self.default_sla_days })
    }
}

fn kinds_list() -> String {
    ExceptionKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
}

/// `[decisions]`: who may decide what, up to which amount, and when a second
/// person must approve (four eyes).
///
/// ```toml
/// [decisions]
/// four_eyes_above = { EUR = "25000.00" }
/// [decisions.people]
/// alice = ["ar_analyst"]
/// carol = ["controller"]
/// [decisions.roles.ar_analyst]
/// kinds = ["suggested_match", "ambiguous_match", "unmatched_receipt", "partial_payment", "overpayment"]
/// limit = { EUR = "10000.00", USD = "10000.00" }
/// [decisions.roles.controller]
/// ```
///
/// With no people and no roles configured, anyone may decide anything (the
/// four-eyes limit and the preparer rule still hold). A role without `kinds`
/// (or `actions`) may decide every kind (action); a role without `limit` has
/// none; a role with a `limit` that does not name a currency may not decide in it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionsConfig {
    /// Person → roles.
    pub people: BTreeMap<String, Vec<String>>,
    pub roles: BTreeMap<String, RoleConfig>,
    /// Absolute amount per currency above which a decision waits for a second,
    /// different person's `approve`.
    pub four_eyes_above: BTreeMap<String, String>,
    /// Accept the roles a request carries (`roles` in the decision) for people
    /// not named in `people` — for a workflow engine that authenticates its users
    /// and signs its requests. Off: only `people` counts.
    pub trust_request_roles: bool,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RoleConfig {
    pub kinds: Vec<String>,
    pub actions: Vec<String>,
    pub limit: BTreeMap<String, String>,
}

/// A role, checked: kinds and actions (`None` = all), limits in minor units.
#[derive(Clone, Debug, PartialEq)]
pub struct Role {
    pub kinds: Option<BTreeSet<ExceptionKind>>,
    pub actions: Option<BTreeSet<Action>>,
    pub limit: Option<BTreeMap<String, i64>>,
}

/// The decision policy, checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Policy {
    pub people: BTreeMap<String, Vec<String>>,
    pub roles: BTreeMap<String, Role>,
    pub four_eyes_above: BTreeMap<String, i64>,
    pub trust_request_roles: bool,
}

/// A setting of `[decisions]` that cannot be used.
fn bad(reason: String) -> InvalidSetting {
    InvalidSetting::new("decisions", reason)
}

/// A setting of `[state]` that cannot be used.
fn bad_state(reason: String) -> InvalidSetting {
    InvalidSetting::new("state", reason)
}

fn amounts(section: &str, m: &BTreeMap<String, String>) -> Result<BTreeMap<String, i64>, InvalidSetting> {
    let mut out = BTreeMap::new();
    for (cur, text) in m {
        let c = Currency::parse(cur).ok_or_else(|| bad(format!("{section}: '{cur}' is not an ISO 4217 currency")))?;
        let v = parse_minor(text, &MoneyFormat::default(), c)
            .map_err(|e| bad(format!("{section}: {cur} = \"{text}\": {e}")))?;
        if v < 0 {
            return Err(bad(format!("{section}: {cur} = \"{text}\" is negative")));
        }
        out.insert(cur.clone(), v);
    }
    Ok(out)
}

impl DecisionsConfig {
    /// Checks the policy and builds it.
    pub fn build(&self) -> Result<Policy, InvalidSetting> {
        let mut roles = BTreeMap::new();
        for (name, r) in &self.roles {
            let section = format!("[decisions.roles.{name}]");
            let kinds = if r.kinds.is_empty() {
                None
            } else {
                let mut s = BTreeSet::new();
                for k in &r.kinds {
                    s.insert(ExceptionKind::parse(k).ok_or_else(|| {
                        bad(format!("{section} kinds: '{k}' is not an exception kind (one of {})", kinds_list()))
                    })?);
                }
                Some(s)
            };
            let actions = if r.actions.is_empty() {
                None
            } else {
                let mut s = BTreeSet::new();
                for a in &r.actions {
                    s.insert(Action::parse(a).ok_or_else(|| {
                        let all: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
                        bad(format!("{section} actions: '{a}' is not an action (one of {})", all.join(", ")))
                    })?);
                }
                Some(s)
            };
            let limit = if r.limit.is_empty() { None } else { Some(amounts(&format!("{section} limit"), &r.limit)?) };
            roles.insert(name.clone(), Role { kinds, actions, limit });
        }
        for (person, rs) in &self.people {
            for r in rs {
                if !roles.contains_key(r) {
                    return Err(bad(format!("[decisions.people] {person}: role '{r}' has no [decisions.roles.{r}]")));
                }
            }
        }
        Ok(Policy {
            people: self.people.clone(),
            roles,
            four_eyes_above: amounts("[decisions] four_eyes_above", &self.four_eyes_above)?,
            trust_request_roles: self.trust_request_roles,
        })
    }
}

impl Policy {
    /// Whether anyone may decide anything (no people and no roles configured).
    pub fn is_open(&self) -> bool {
        self.people.is_empty() && self.roles.is_empty()
    }

    /// `Ok` when `actor` (with the `request_roles` a request carries) may take
    /// `action` on an exception of `kind` about `amount` minor units of
    /// `currency`; otherwise the rule it breaks.
    pub fn authorize(
        &self,
        actor: &str,
        request_roles: &[String],
        action: Action,
        kind: ExceptionKind,
        amount: Option<(i64, &str)>,
    ) -> Result<(), String> {
        if self.is_open() {
            return Ok(());
        }
        let roles: Vec<&String> = match self.people.get(actor) {
            Some(rs) => rs.iter().collect(),
            None if self.trust_request_roles => request_roles.iter().collect(),
            None => return Err(format!("{actor} is not named in [decisions.people]")),
        };
        let mut why = Vec::new();
        for name in &roles {
            let Some(role) = self.roles.get(name.as_str()) else {
                why.push(format!("role '{name}' is not configured"));
                continue;
            };
            if role.kinds.as_ref().is_some_and(|k| !k.contains(&kind)) {
                why.push(format!("role '{name}' may not decide {kind}"));
                continue;
            }
            if role.actions.as_ref().is_some_and(|a| !a.contains(&action)) {
                why.push(format!("role '{name}' may not {action}"));
                continue;
            }
            match (&role.limit, amount) {
                (Some(limits), Some((minor, cur))) => match limits.get(cur) {
                    None => why.push(format!("role '{name}' has no limit in {cur}")),
                    Some(l) if minor.unsigned_abs() > l.unsigned_abs() => {
                        why.push(format!("role '{name}' may decide up to {} {cur}", show(*l, cur)))
                    }
                    Some(_) => return Ok(()),
                },
                _ => return Ok(()),
            }
        }
        if roles.is_empty() {
            return Err(format!("{actor} has no role"));
        }
        Err(format!("{actor} may not {action} a {kind}: {}", why.join("; ")))
    }

    /// Whether a decision about `amount` needs a second person.
    pub fn needs_second_person(&self, amount: Option<(i64, &str)>) -> Option<String> {
        let (minor, cur) = amount?;
        let limit = self.four_eyes_above.get(cur)?;
        (minor.unsigned_abs() > limit.unsigned_abs()).then(|| {
            format!("{} {cur} is above the four-eyes limit of {} {cur}", show(minor.abs(), cur), show(*limit, cur))
        })
    }
}

fn show(minor: i64, cur: &str) -> String {
    reckon_core::format_minor(minor, Currency::parse(cur).map_or(2, |c| c.exponent()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        let cfg: DecisionsConfig = toml::from_str(
            r#"
            four_eyes_above = { EUR = "25000.00" }
            [people]
            alice = ["analyst"]
            carol = ["controller"]
            [roles.analyst]
            kinds = ["suggested_match", "unmatched_receipt"]
            limit = { EUR = "10000.00" }
            [roles.controller]
            "#,
        )
        .unwrap_or_default();
        cfg.build().unwrap_or_default()
    }

    #[test]
    fn roles_kinds_and_limits_decide() {
        let p = policy();
        assert!(!p.is_open());
        let k = ExceptionKind::SuggestedMatch;
        assert!(p.authorize("alice", &[], Action::Accept, k, Some((999_999, "EUR"))).is_ok());
        let e = p.authorize("alice", &[], Action::Accept, k, Some((1_000_001, "EUR"))).err().unwrap_or_default();
        assert!(e.contains("up to 10000.00 EUR"), "{e}");
        let e = p.authorize("alice", &[], Action::Accept, k, Some((5, "USD"))).err().unwrap_or_default();
        assert!(e.contains("no limit in USD"), "{e}");
        let e =
            p.authorize("alice", &[], Action::Explain, ExceptionKind::JournalAnomaly, None).err().unwrap_or_default();
        assert!(e.contains("may not decide journal_anomaly"), "{e}");
        assert!(p.authorize("carol", &[], Action::Explain, ExceptionKind::JournalAnomaly, None).is_ok());
        let e = p.authorize("mallory", &["controller".into()], Action::Accept, k, None).err().unwrap_or_default();
        assert!(e.contains("not named"), "{e}");
        assert!(p.needs_second_person(Some((2_500_001, "EUR"))).is_some());
        assert!(p.needs_second_person(Some((2_500_000, "EUR"))).is_none());
        assert!(p.needs_second_person(Some((9_000_000, "USD"))).is_none());
    }

    #[test]
    fn bad_settings_are_named() {
        let bad = |t: &str| {
            toml::from_str::<DecisionsConfig>(t)
                .map_err(|e| e.to_string())
                .and_then(|c| c.build().map_err(|e| e.to_string()))
        };
        assert!(bad("[people]\nbob = [\"ghost\"]").err().unwrap_or_default().contains("role 'ghost'"));
        assert!(
            bad("[roles.x]\nkinds = [\"spam\"]").err().unwrap_or_default().contains("'spam' is not an exception kind")
        );
        assert!(bad("four_eyes_above = { EUR = \"1.234\" }").is_err());
        assert!(bad("four_eyes_above = { XXY = \"1\" }").err().unwrap_or_default().contains("ISO 4217"));
        let s = StateConfig { sla_days: [("spam".to_string(), 1)].into(), ..StateConfig::default() };
        assert!(s.build().is_err());
    }
}
