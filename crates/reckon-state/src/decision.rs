//! Decisions people take on exceptions: the words ([`Action`],
//! [`DecisionStatus`]), the shape one arrives in ([`DecisionInput`], one JSON
//! object per line or one CSV row), and reading a file of them with every bad
//! line named ([`read_file`]).

use std::path::Path;

use serde::{Deserialize, Serialize};

reckon_core::vocab_enum! {
    /// What a decision does.
    pub enum Action {
        /// Confirm the proposal of a `suggested_match`, `partial_payment` or
        /// `overpayment` as it stands.
        Accept => "accept",
        /// Choose one candidate group of an `ambiguous_match` (`items`).
        Choose => "choose",
        /// Match a receipt to the given open items (`items`, amounts optional).
        Match => "match",
        /// Never propose this receipt for this open item again (`item_id`).
        RejectPair => "reject_pair",
        /// Not a problem: close the exception (a duplicate that is not one, a
        /// bank entry that is not receivables cash).
        Dismiss => "dismiss",
        /// Match as `match`/`accept` and write the rest of the payment off.
        WriteOff => "write_off",
        /// A journal that is in order, with the explanation in `comment`.
        Explain => "explain",
        /// The exception is right: a `duplicate_invoice` is a real duplicate
        /// (the later invoice is blocked for payment), a `journal_anomaly` a
        /// journal to correct. Closes it; with `dismiss` and `explain`, the
        /// label the duplicate and journal models are retrained on.
        Confirm => "confirm",
        /// Undo the decision `target`.
        Undo => "undo",
        /// Approve the decision `target` that waits for a second person.
        Approve => "approve",
    }
}

reckon_core::vocab_enum! {
    /// Where a decision stands.
    pub enum DecisionStatus {
        /// Valid; the next run applies it.
        Accepted => "accepted",
        /// Valid, above the four-eyes limit: waits for a second person's `approve`.
        PendingApproval => "pending_approval",
        /// Applied by a run (`applied_run`).
        Applied => "applied",
        /// Refused, with the reason; nothing of it was applied.
        Refused => "refused",
        /// Undone by a later decision.
        Undone => "undone",
    }
}

/// One open item a decision matches, with the amount to apply (exact decimal
/// text in the item's currency; empty: what the payment covers, in order).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ItemAmount {
    pub item_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
}

/// A decision as it arrives (the `decisions/*.jsonl` line, the CSV row, the
/// body POSTed to `reckon serve`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    /// The sender's id for this decision: sending it again changes nothing.
    pub decision_id: String,
    /// The exception decided (not for `undo`/`approve`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_id: Option<String>,
    pub action: String,
    /// The person who decided.
    pub actor: String,
    /// Roles the request carries (used only with `trust_request_roles`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// When the person decided (RFC 3339).
    pub decided_at: String,
    #[serde(default)]
    pub comment: String,
    /// `choose`, `match`, `write_off`: the open items.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemAmount>,
    /// `reject_pair`: the open item never to propose again for the exception's receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    /// `undo`, `approve`: the decision they act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// A decision that could be read, with where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Received {
    pub input: DecisionInput,
    pub action: Action,
    /// `file:line` or `http`.
    pub source: String,
}

/// A line that could not be read as a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    pub source: String,
    pub reason: String,
}

/// Checks the parts of a decision that need no state: the action is one,
/// the time is RFC 3339, the fields the action needs are there.
pub fn check(input: DecisionInput, source: String) -> Result<Received, Unreadable> {
    let bad = |reason: String| Unreadable { source: source.clone(), reason };
    if input.decision_id.trim().is_empty() {
        return Err(bad("decision_id is empty".into()));
    }
    let action = Action::parse(&input.action).ok_or_else(|| {
        let all: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        bad(format!("action '{}' is not one of {}", input.action, all.join(", ")))
    })?;
    if input.actor.trim().is_empty() {
        return Err(bad("actor is empty: every decision names the person who took it".into()));
    }
    if chrono::DateTime::parse_from_rfc3339(&input.decided_at).is_err() {
        return Err(bad(format!("decided_at '{}' is not an RFC 3339 time", input.decided_at)));
    }
    match action {
        Action::Undo | Action::Approve if input.target.as_deref().is_none_or(str::is_empty) => {
            return Err(bad(format!("{action} needs target (the decision id it acts on)")));
        }
        Action::Undo | Action::Approve => {}
        _ if input.exception_id.as_deref().is_none_or(str::is_empty) => {
            return Err(bad(format!("{action} needs exception_id")));
        }
        Action::Choose | Action::Match if input.items.is_empty() => {
            return Err(bad(format!("{action} needs items (the open items to match)")));
        }
        Action::RejectPair if input.item_id.as_deref().is_none_or(str::is_empty) => {
            return Err(bad("reject_pair needs item_id".into()));
        }
        Action::Explain if input.comment.trim().is_empty() => {
            return Err(bad("explain needs a comment (the explanation)".into()));
        }
        _ => {}
    }
    if let Some(i) = input.items.iter().find(|i| i.item_id.trim().is_empty()) {
        return Err(bad(format!("an item without item_id ({i:?})")));
    }
    Ok(Received { input, action, source })
}

/// Reads decisions from a `.jsonl` file (one JSON object per line) or a `.csv`
/// file (header `decision_id,exception_id,action,actor,roles,decided_at,
/// comment,items,item_id,target`; `roles` and `items` `|`-separated, an item
/// `ID` or `ID=AMOUNT`). Every line is either a decision or named as unreadable.
pub fn read_file(path: &Path) -> Result<(Vec<Received>, Vec<Unreadable>), std::io::Error> {
    let text = std::fs::read_to_string(path)?;
    let name = path.display().to_string();
    let is_csv = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    Ok(read_text(&text, &name, is_csv))
}

/// Reads decisions from `text` (CSV or JSON lines), naming lines `name:N`.
pub fn read_text(text: &str, name: &str, csv: bool) -> (Vec<Received>, Vec<Unreadable>) {
    if csv { read_csv(text, name) } else { read_jsonl(text, name) }
}

/// Reads JSON lines (blank lines skipped).
pub fn read_jsonl(text: &str, name: &str) -> (Vec<Received>, Vec<Unreadable>) {
    let (mut ok, mut bad) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let source = format!("{name}:{}", i + 1);
        match serde_json::from_str::<DecisionInput>(line) {
            Ok(d) => match check(d, source) {
                Ok(r) => ok.push(r),
                Err(u) => bad.push(u),
            },
            Err(e) => bad.push(Unreadable { source, reason: format!("not a decision: {e}") }),
        }
    }
    (ok, bad)
}

const CSV_COLUMNS: [&str; 10] =
    ["decision_id", "exception_id", "action", "actor", "roles", "decided_at", "comment", "items", "item_id", "target"];

fn read_csv(text: &str, name: &str) -> (Vec<Received>, Vec<Unreadable>) {
    let (mut ok, mut bad) = (Vec::new(), Vec::new());
    let mut rd = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(text.as_bytes());
    let header: Vec<String> = match rd.headers() {
        Ok(h) => h.iter().map(str::to_string).collect(),
        Err(e) => {
            bad.push(Unreadable { source: format!("{name}:1"), reason: format!("unreadable header: {e}") });
            return (ok, bad);
        }
    };
    if let Some(c) = header.iter().find(|c| !CSV_COLUMNS.contains(&c.as_str())) {
        bad.push(Unreadable {
            source: format!("{name}:1"),
            reason: format!("unknown column '{c}' (columns: {})", CSV_COLUMNS.join(", ")),
        });
        return (ok, bad);
    }
    for rec in rd.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                bad.push(Unreadable { source: format!("{name}:{line}"), reason: e.to_string() });
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line());
        let get = |c: &str| header.iter().position(|h| h == c).and_then(|i| rec.get(i)).unwrap_or("").to_string();
        let opt = |c: &str| Some(get(c)).filter(|v| !v.is_empty());
        let list = |c: &str| get(c).split('|').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
        let items: Vec<String> = list("items");
        let input = DecisionInput {
            decision_id: get("decision_id"),
            exception_id: opt("exception_id"),
            action: get("action"),
            actor: get("actor"),
            roles: list("roles"),
            decided_at: get("decided_at"),
            comment: get("comment"),
            items: items
                .into_iter()
                .map(|s| match s.split_once('=') {
                    Some((id, a)) => ItemAmount { item_id: id.trim().to_string(), amount: Some(a.trim().to_string()) },
                    None => ItemAmount { item_id: s, amount: None },
                })
                .collect(),
            item_id: opt("item_id"),
            target: opt("target"),
        };
        match check(input, format!("{name}:{line}")) {
            Ok(r) => ok.push(r),
            Err(u) => bad.push(u),
        }
    }
    (ok, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_lines_are_decisions_or_named() {
        let text = concat!(
            r#"{"decision_id":"D1","exception_id":"EX-1","action":"accept","actor":"alice","decided_at":"2026-11-02T09:00:00Z"}"#,
            "\n\n",
            r#"{"decision_id":"D2","exception_id":"EX-1","action":"frobnicate","actor":"alice","decided_at":"2026-11-02T09:00:00Z"}"#,
            "\n",
            "{not json\n",
            r#"{"decision_id":"D3","exception_id":"EX-1","action":"match","actor":"alice","decided_at":"2026-11-02T09:00:00Z"}"#,
            "\n",
            r#"{"decision_id":"D4","action":"undo","actor":"bob","decided_at":"yesterday","target":"D1"}"#,
            "\n",
            r#"{"decision_id":"D5","exception_id":"EX-1","action":"accept","actor":"alice","decided_at":"2026-11-02T09:00:00Z","colour":"red"}"#,
        );
        let (ok, bad) = read_jsonl(text, "d.jsonl");
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].action, Action::Accept);
        let why: Vec<String> = bad.iter().map(|b| format!("{} {}", b.source, b.reason)).collect();
        assert_eq!(why.len(), 5, "{why:?}");
        assert!(why[0].starts_with("d.jsonl:3 action 'frobnicate'"), "{why:?}");
        assert!(why[1].starts_with("d.jsonl:4 not a decision"), "{why:?}");
        assert!(why[2].contains("match needs items"), "{why:?}");
        assert!(why[3].contains("not an RFC 3339 time"), "{why:?}");
        assert!(why[4].contains("unknown field `colour`"), "{why:?}");
    }

    #[test]
    fn csv_rows_read_items_with_amounts() {
        let text = "decision_id,exception_id,action,actor,roles,decided_at,comment,items,item_id,target\n\
            D1,EX-1,match,alice,analyst|clerk,2026-11-02T09:00:00Z,\"paid two, short\",INV1=10.00|INV2,,\n\
            D2,EX-1,reject_pair,alice,,2026-11-02T09:00:00Z,,,,\n";
        let (ok, bad) = read_csv(text, "d.csv");
        assert_eq!(ok.len(), 1);
        let d = &ok[0].input;
        assert_eq!(d.roles, vec!["analyst", "clerk"]);
        assert_eq!(d.comment, "paid two, short");
        assert_eq!(d.items[0], ItemAmount { item_id: "INV1".into(), amount: Some("10.00".into()) });
        assert_eq!(d.items[1].amount, None);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].source == "d.csv:3" && bad[0].reason.contains("item_id"), "{bad:?}");
        let (_, bad) = read_csv("decision,id\n", "e.csv");
        assert!(bad[0].reason.contains("unknown column 'decision'"));
    }
}
