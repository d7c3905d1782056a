//! Worlds: independently parameterised companies and banks, so that an
//! evaluation can train on some and judge on another (leave one world out).
//!
//! A world fixes three things no engine setting names:
//! - **how its bank writes a receipt** ([`BankStyle`]): SEPA credit transfers
//!   with structured fields, US ACH and Fedwire credits whose payer and
//!   remittance are only in the bank's description, or UK Bacs / Faster
//!   Payments credits with an 18-character name and reference and a sort code
//!   instead of an IBAN;
//! - **how the company works** ([`World::gl`]): on which days and at which
//!   hours its preparers post, whether some work nights, which preparers post
//!   through an interface only, and which anomalies its books hold;
//! - **how its vendors bill** ([`World::ap`]): invoice-number habits, two
//!   deliveries at one price on one day (distinct invoices, not duplicates),
//!   and which kinds of duplicate its clerks key.
//!
//! The standard scenario (`reckon generate` without `--world`) is no world: its
//! files are unchanged by this module. Worlds marked `held_out` are never
//! trained on by the leave-one-world-out evaluation (`reckon worlds`).

/// How the bank renders an incoming payment on the statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BankStyle {
    /// SEPA credit transfers: payer name, IBAN and end-to-end id in their own
    /// fields, remittance as unstructured text of up to 140 characters or an
    /// ISO 11649 creditor reference (EPC SEPA Credit Transfer Rulebook,
    /// attributes AT-02, AT-05, AT-41).
    Sepa,
    /// US ACH and Fedwire credits, printed by the bank as one description:
    /// NACHA CCD/CCD+/CTX entries (`ORIG CO NAME:` the Company Name, 16
    /// characters, cut where it ends; `ORIG ID:` the 10-character Company
    /// Identification, ICD `1` + EIN as X12 820 TRN03 defines it; `CO ENTRY
    /// DESCR:` 10 characters; `IND ID:` 15; `IND NAME:` 22; `TRACE#:` 15;
    /// addenda as X12 `RMR*IV*…` segments of at most 80 characters — NACHA
    /// Operating Rules, Appendix Three) and Fedwire transfers (`B/O:` by order
    /// of: the originator's name line of 35 characters, for every other one
    /// followed by its address lines; `OBI:` originator-to-beneficiary
    /// information of at most 4 × 35 characters, `IMAD:`). No structured payer
    /// name, account or end-to-end id.
    UsAch,
    /// UK Bacs Direct Credit and Faster Payments: the remitter's name as the
    /// bank prints it (upper case, 18 characters), a reference of at most 18
    /// characters from A–Z, 0–9, space, `-`, `.`, `&`, `/` (Bacs reference
    /// rules), and the payer's sort code (6 digits) and account number (8
    /// digits) in place of an IBAN.
    UkBacs,
}

/// How the company posts its journals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct GlHabits {
    /// Per mille of ordinary journals posted on a Saturday or Sunday.
    pub weekend_permille: u64,
    /// The day shift's working hours, `[start, end)`.
    pub hours: (i64, i64),
    /// How many of the 30 preparers work a night shift (22:00–06:00).
    pub night_preparers: usize,
    /// How many of the 30 preparers post through an interface only (never a
    /// manual journal); the others post manually three times in five.
    pub interface_preparers: usize,
    /// The approval limit in major units.
    pub approval_limit: i64,
    /// Anomaly kinds the books hold, with weights; `unusual_hour` (a day-shift
    /// preparer posting at 01:00–04:00, or a night-shift one at midday) and
    /// `unusual_preparer_source` (an interface-only preparer keying a manual
    /// journal) exist only in worlds.
    pub anomalies: &'static [(&'static str, u64)],
}

/// How vendors bill and clerks key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ApHabits {
    /// Invoice-number styles vendors use (indices of `ap::number`'s styles:
    /// 0 plain digits, 1 `INV-000123`, 2 `2026/00123`, 3 `RE20000123`, 4 `1234-56`).
    pub number_styles: &'static [u8],
    /// Per mille of invoices followed by a second delivery at the same price on
    /// the same day (the vendor's next invoice number): a hard negative.
    pub same_price_permille: u64,
    /// Duplicate kinds clerks key, with weights (see `ap::DUP_PATTERNS`).
    pub duplicates: &'static [(&'static str, u64)],
}

/// A world: a bank, a company and its vendors, with a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct World {
    pub name: &'static str,
    pub about: &'static str,
    pub bank: BankStyle,
    pub gl: GlHabits,
    pub ap: ApHabits,
    /// Never trained on in the leave-one-world-out evaluation.
    pub held_out: bool,
}

const ALL_ANOMALIES: &[(&str, u64)] = &[
    ("global_amount", 10),
    ("unusual_account_pair", 10),
    ("unusual_preparer_account", 10),
    ("sod_self_approval", 10),
    ("weekend_posting", 10),
    ("after_close", 10),
    ("backdated", 10),
    ("round_amount", 10),
    ("below_approval_limit", 10),
    ("period_end_manual_revenue", 10),
    ("unbalanced", 10),
    ("duplicate_journal", 10),
];

/// The worlds, in the order the evaluation reports them before sorting.
pub const WORLDS: &[World] = &[
    World {
        name: "eu_sepa",
        about: "a German-style group banking by SEPA, posting on weekdays 07-19",
        bank: BankStyle::Sepa,
        gl: GlHabits {
            weekend_permille: 0,
            hours: (7, 19),
            night_preparers: 0,
            interface_preparers: 8,
            approval_limit: 10_000,
            anomalies: ALL_ANOMALIES,
        },
        ap: ApHabits {
            number_styles: &[0, 2, 3],
            same_price_permille: 10,
            duplicates: &[("re_entry", 30), ("ocr", 20), ("transposed", 20), ("prefix_zeros", 20), ("date_shift", 10)],
        },
        held_out: false,
    },
    World {
        name: "us_ach",
        about: "a US company paid by ACH and Fedwire, approval limit 5,000, posting 06-18",
        bank: BankStyle::UsAch,
        gl: GlHabits {
            weekend_permille: 20,
            hours: (6, 18),
            night_preparers: 0,
            interface_preparers: 12,
            approval_limit: 5_000,
            anomalies: &[
                ("global_amount", 10),
                ("unusual_account_pair", 10),
                ("sod_self_approval", 15),
                ("weekend_posting", 10),
                ("round_amount", 15),
                ("below_approval_limit", 20),
                ("period_end_manual_revenue", 15),
                ("unbalanced", 5),
                ("unusual_preparer_source", 15),
            ],
        },
        ap: ApHabits {
            number_styles: &[0, 4],
            same_price_permille: 40,
            duplicates: &[("re_entry", 30), ("second_vendor", 30), ("date_shift", 20), ("prefix_zeros", 20)],
        },
        held_out: false,
    },
    World {
        name: "uk_retail",
        about: "a UK retailer paid by Bacs and Faster Payments, trading seven days, evening shifts to 22",
        bank: BankStyle::UkBacs,
        gl: GlHabits {
            weekend_permille: 280,
            hours: (8, 22),
            night_preparers: 0,
            interface_preparers: 10,
            approval_limit: 10_000,
            anomalies: &[
                ("global_amount", 15),
                ("unusual_preparer_account", 15),
                ("after_close", 15),
                ("backdated", 15),
                ("round_amount", 10),
                ("duplicate_journal", 15),
                ("unusual_hour", 15),
            ],
        },
        ap: ApHabits {
            number_styles: &[1, 2],
            same_price_permille: 60,
            duplicates: &[("ocr", 25), ("transposed", 25), ("prefix_zeros", 25), ("re_entry", 25)],
        },
        held_out: false,
    },
    World {
        name: "shift_plant",
        about: "a plant posting around the clock (a night shift of 8 preparers, weekends routine) banking by SEPA",
        bank: BankStyle::Sepa,
        gl: GlHabits {
            weekend_permille: 300,
            hours: (6, 22),
            night_preparers: 8,
            interface_preparers: 6,
            approval_limit: 25_000,
            anomalies: &[
                ("global_amount", 10),
                ("unusual_account_pair", 10),
                ("sod_self_approval", 10),
                ("after_close", 10),
                ("below_approval_limit", 10),
                ("unbalanced", 10),
                ("unusual_hour", 20),
                ("unusual_preparer_source", 20),
            ],
        },
        ap: ApHabits {
            number_styles: &[0, 1, 3],
            same_price_permille: 80,
            duplicates: &[("re_entry", 40), ("date_shift", 30), ("second_vendor", 30)],
        },
        held_out: true,
    },
];

impl World {
    /// The settings a controller of this world's books configures in reckon
    /// (`reckon.toml`): the company's approval limit and working day. Company
    /// policy, not labels; `reckon generate --world` writes them to
    /// `truth/reckon.toml`.
    pub fn settings(&self) -> String {
        let l = self.gl.approval_limit;
        format!(
            "# {name}: {about}\n[journals]\napproval_limits = {{ EUR = \"{l}.00\", GBP = \"{l}.00\", USD = \"{l}.00\" }}\nbusiness_hours = [{}, {}]\n",
            self.gl.hours.0,
            self.gl.hours.1,
            name = self.name,
            about = self.about,
        )
    }
}

/// The world of this name.
pub fn by_name(name: &str) -> Option<&'static World> {
    WORLDS.iter().find(|w| w.name == name)
}

/// The names of every world, for help texts and errors.
pub fn names() -> Vec<&'static str> {
    WORLDS.iter().map(|w| w.name).collect()
}

/// Cuts `s` to at most `n` characters (bank fields cut where they end, mid-word).
pub fn cut(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Bacs characters: upper case A–Z, 0–9, space, `-`, `.`, `&`, `/`; anything
/// else becomes a space (umlauts lose their marks first).
pub fn bacs_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            'ä' | 'Ä' => out.push_str("AE"),
            'ö' | 'Ö' => out.push_str("OE"),
            'ü' | 'Ü' => out.push_str("UE"),
            'ß' => out.push_str("SS"),
            c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_uppercase()),
            '-' | '.' | '&' | '/' | ' ' => out.push(c),
            _ => out.push(' '),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The tokens of a payer's remittance text that read as document numbers
/// (at least four digits), as a payer's AP system would list them; a number
/// after a customer-number label (`Kd-Nr`, `Customer`) is the payer's own, not a document.
pub fn document_tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut after_label = false;
    for t in text.split(|c: char| c.is_whitespace() || c == ',' || c == '/' || c == ';') {
        let t = t.trim_end_matches('.');
        let label = matches!(t.to_uppercase().as_str(), "KD-NR" | "KDNR" | "KUNDENNR" | "CUSTOMER" | "CUST");
        if !after_label && !t.contains('.') && t.chars().filter(char::is_ascii_digit).count() >= 4 {
            out.push(t.to_string());
        }
        if !t.is_empty() {
            after_label = label;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        let mut n = names();
        n.sort();
        n.dedup();
        assert_eq!(n.len(), WORLDS.len());
        assert!(by_name("us_ach").is_some_and(|w| w.bank == BankStyle::UsAch));
        assert!(by_name("nowhere").is_none());
        assert!(WORLDS.iter().any(|w| w.held_out) && WORLDS.iter().filter(|w| !w.held_out).count() >= 3);
    }

    #[test]
    fn bank_fields_are_cut_like_banks_cut_them() {
        assert_eq!(cut("NORDWIND LOGISTIK GMBH", 16), "NORDWIND LOGISTI");
        assert_eq!(bacs_text("Müller Trading, Ltd. (UK)"), "MUELLER TRADING LTD. UK");
        assert_eq!(document_tokens("Rechnung 9010000123, 9010000124 vom 15.03.2026"), ["9010000123", "9010000124"]);
        assert_eq!(document_tokens("INV-000123."), ["INV-000123"]);
        assert_eq!(document_tokens("Zahlung Kd-Nr 100766 Re 9010000565"), ["9010000565"]);
    }
}
