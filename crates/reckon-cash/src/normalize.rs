//! Normalising what payers write: invoice numbers and company names.

/// Keys under which an invoice number is found: the alphanumeric form
/// (`INV-000123` → `INV000123`, OCR `O` in digit runs read as `0`) and its
/// trailing digit run without leading zeros (`123`), when that run is long
/// enough to identify anything.
pub fn invoice_keys(text: &str) -> (Option<String>, Option<String>) {
    if text.is_ascii() { invoice_keys_ascii(text.as_bytes()) } else { invoice_keys_chars(text) }
}

/// [`invoice_keys`] on ASCII text, byte by byte: the same rules without a
/// `char` vector and its copies (called for every word pair of every receipt;
/// a property test holds it to [`invoice_keys_chars`]).
fn invoice_keys_ascii(text: &[u8]) -> (Option<String>, Option<String>) {
    let up: Vec<u8> = text.iter().filter(|c| c.is_ascii_alphanumeric()).map(u8::to_ascii_uppercase).collect();
    if up.is_empty() {
        return (None, None);
    }
    let n = up.len();
    let is_digitish = |c: u8| c.is_ascii_digit() || matches!(c, b'O' | b'I' | b'L');
    let mut fixed = up.clone();
    for i in 0..n {
        let c = up[i];
        if matches!(c, b'O' | b'I' | b'L') {
            let left = i > 0 && up[i - 1].is_ascii_digit();
            let right = i + 1 < n
                && is_digitish(up[i + 1])
                && (i + 2 >= n || is_digitish(up[i + 2]) || up[i + 1].is_ascii_digit());
            if left || (right && up[i + 1..].iter().any(u8::is_ascii_digit)) {
                fixed[i] = if c == b'O' { b'0' } else { b'1' };
            }
        }
    }
    let start = fixed.iter().rposition(|c| !c.is_ascii_digit()).map_or(0, |p| p + 1);
    let digits = &fixed[start..];
    let tail = &digits[digits.iter().take_while(|&&c| c == b'0').count()..];
    let tail = (tail.len() >= 4).then(|| std::str::from_utf8(tail).ok().map(str::to_string)).flatten();
    (String::from_utf8(fixed).ok(), tail)
}

/// [`invoice_keys`] on any text.
fn invoice_keys_chars(text: &str) -> (Option<String>, Option<String>) {
    let up: Vec<char> = text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_uppercase).collect();
    if up.is_empty() {
        return (None, None);
    }
    // OCR and typing confusions inside digit runs: O→0, I/L→1.
    let n = up.len();
    let is_digitish = |c: char| c.is_ascii_digit() || matches!(c, 'O' | 'I' | 'L');
    let mut fixed: Vec<char> = up.clone();
    for i in 0..n {
        let c = up[i];
        if matches!(c, 'O' | 'I' | 'L') {
            let left = i > 0 && up[i - 1].is_ascii_digit();
            let right = i + 1 < n
                && is_digitish(up[i + 1])
                && (i + 2 >= n || is_digitish(up[i + 2]) || up[i + 1].is_ascii_digit());
            if left || (right && up[i + 1..].iter().any(char::is_ascii_digit)) {
                fixed[i] = if c == 'O' { '0' } else { '1' };
            }
        }
    }
    let full: String = fixed.iter().collect();
    let tail: String = {
        let start = fixed.iter().rposition(|c| !c.is_ascii_digit()).map_or(0, |p| p + 1);
        fixed[start..].iter().collect::<String>().trim_start_matches('0').to_string()
    };
    let tail = (tail.len() >= 4).then_some(tail);
    (Some(full), tail)
}

const LEGAL: &[&str] = &[
    "GMBH",
    "MBH",
    "AG",
    "KG",
    "CO",
    "OHG",
    "UG",
    "GBR",
    "EK",
    "LTD",
    "LIMITED",
    "PLC",
    "LLP",
    "INC",
    "INCORPORATED",
    "LLC",
    "CORP",
    "CORPORATION",
    "SA",
    "SAS",
    "SARL",
    "BV",
    "NV",
    "SPA",
    "SRL",
    "AB",
    "AS",
    "OY",
    "GESELLSCHAFT",
    "MIT",
    "BESCHRAENKTER",
    "HAFTUNG",
    "AKTIENGESELLSCHAFT",
    "U",
    "UND",
    "AND",
    "THE",
];

/// Upper-case, umlauts transliterated, punctuation removed, legal forms dropped.
pub fn name_key(name: &str) -> String {
    let mut s = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            'ä' | 'Ä' => s.push_str("AE"),
            'ö' | 'Ö' => s.push_str("OE"),
            'ü' | 'Ü' => s.push_str("UE"),
            'ß' => s.push_str("SS"),
            '&' | '+' => s.push(' '),
            c if c.is_alphanumeric() => s.extend(c.to_uppercase()),
            _ => s.push(' '),
        }
    }
    // Runs of single letters are one abbreviation written with dots: "B.V." is
    // "BV", "L.L.C." is "LLC", "S.p.A." is "SPA".
    let mut toks: Vec<String> = Vec::new();
    let mut run = String::new();
    for t in s.split_whitespace() {
        if t.chars().count() == 1 && t.chars().all(char::is_alphabetic) {
            run.push_str(t);
            continue;
        }
        if !run.is_empty() {
            toks.push(std::mem::take(&mut run));
        }
        toks.push(t.to_string());
    }
    if !run.is_empty() {
        toks.push(run);
    }
    toks.retain(|t| !LEGAL.contains(&t.as_str()));
    toks.join(" ")
}

/// Similarity of two name keys in 0..=1: Jaro–Winkler on the keys and on their
/// sorted tokens (word order), allowing for truncation of the payer's name.
pub fn name_similarity(payer: &str, master: &str) -> f64 {
    name_similarity_sorted(payer, &sorted_tokens(payer), master, &sorted_tokens(master))
}

/// A name key with its tokens in alphabetical order (word-order-free comparison).
pub fn sorted_tokens(s: &str) -> String {
    let mut t: Vec<&str> = s.split(' ').collect();
    t.sort_unstable();
    t.join(" ")
}

/// [`name_similarity`] with both sides' sorted-token forms precomputed.
pub fn name_similarity_sorted(payer: &str, payer_sorted: &str, master: &str, master_sorted: &str) -> f64 {
    if payer.is_empty() || master.is_empty() {
        return 0.0;
    }
    let direct = reckon_core::similarity::jaro_winkler(payer, master);
    if direct >= 0.98 {
        return direct;
    }
    // The other two comparisons only when they can differ from the direct one
    // (same results, fewer Jaro–Winkler calls on the hot path).
    let by_tokens = if payer_sorted == payer && master_sorted == master {
        direct
    } else {
        reckon_core::similarity::jaro_winkler(payer_sorted, master_sorted)
    };
    // Banks cut names at 35 characters: compare with the master cut to the payer's length.
    let n = if payer.is_ascii() { payer.len() } else { payer.chars().count() };
    let truncated = if n >= 12 && master.is_ascii() && master.len() > n {
        reckon_core::similarity::jaro_winkler(payer, &master[..n])
    } else if n >= 12 && master.chars().count() > n {
        let cut: String = master.chars().take(n).collect();
        reckon_core::similarity::jaro_winkler(payer, &cut)
    } else if n >= 12 {
        direct
    } else {
        0.0
    };
    direct.max(by_tokens).max(truncated)
}

/// Whether a payer's name key is the master's name key abbreviated word by
/// word: the first words of the master's in order, each cut to a prefix
/// (`QUAN ELEK COMP` of `QUANTUM ELEKTROTECHNIK COMPONENTS
/// VERTRIEBSGESELLSCHAFT`), at least two of them, the last possibly to one
/// letter; words of the payer's that are a legal form or a connector cut short
/// (`LIMI`, `AKTI`, `INCO`, `GESE`, `UN`) are passed over, as [`name_key`]
/// drops the whole words. Payment schemes give the payer's name a short field
/// — NACHA's Company Name is 16 characters (NACHA Operating Rules, Appendix
/// Three, Company/Batch Header Record field 3), a Bacs originator's name 18, a
/// SWIFT MT103 field 50K line 35 — and banks abbreviate names to fit, which
/// Jaro–Winkler scores poorly against the full name.
pub fn abbreviates(payer: &str, master: &str) -> bool {
    let p: Vec<&str> = payer.split(' ').filter(|t| !t.is_empty() && !legal_cut(t)).collect();
    let m: Vec<&str> = master.split(' ').filter(|t| !t.is_empty()).collect();
    let last = p.len().saturating_sub(1);
    p.len() >= 2
        && p.len() <= m.len()
        && p.iter().zip(&m).enumerate().all(|(i, (a, b))| (a.len() >= 2 || i == last) && b.starts_with(a))
        && p.iter().zip(&m).filter(|(a, _)| a.len() >= 2).count() >= 2
        && p.iter().zip(&m).any(|(a, b)| a.len() < b.len())
}

/// A word of a name key that is a legal form or a connector cut short (`LIMI`,
/// `AKTI`, `INCO`, `GESE`, `UN`): [`name_key`] drops the whole words.
pub fn legal_cut(t: &str) -> bool {
    t.len() >= 2 && LEGAL.iter().any(|l| l.len() > 2 && l.starts_with(t))
}

/// A payer's name key without its legal forms and connectors cut short.
pub fn without_legal_cuts(payer: &str) -> String {
    payer.split(' ').filter(|t| !t.is_empty() && !legal_cut(t)).collect::<Vec<_>>().join(" ")
}

/// [`abbreviates`] with the words in another order: the payer's words are
/// prefixes of the master's first words, each of a different one (`TEXT REDW`
/// of `REDWOOD TEXTIL`), at least two of two letters or more, one cut short.
/// The same names in another order are what [`name_similarity`] compares by
/// sorted tokens; in order ([`abbreviates`]) is the better evidence.
pub fn abbreviates_reordered(payer: &str, master: &str) -> bool {
    let p: Vec<&str> = payer.split(' ').filter(|t| t.len() >= 2 && !legal_cut(t)).collect();
    let m: Vec<&str> = master.split(' ').filter(|t| !t.is_empty()).take(p.len()).collect();
    if p.len() < 2 || p.len() > 6 || m.len() < p.len() {
        return false;
    }
    // A perfect matching of payer words to master words by prefix (at most six
    // words: a search over the assignments).
    fn assign(p: &[&str], m: &[&str], used: &mut [bool]) -> bool {
        let Some((a, rest)) = p.split_first() else { return true };
        for (j, b) in m.iter().enumerate() {
            if !used[j] && b.starts_with(a) {
                used[j] = true;
                if assign(rest, m, used) {
                    return true;
                }
                used[j] = false;
            }
        }
        false
    }
    let mut used = vec![false; m.len()];
    assign(&p, &m, &mut used) && p.iter().any(|a| m.iter().any(|b| b.starts_with(a) && a.len() < b.len()))
}

/// Whether a payer's name key could abbreviate the master's, looser than
/// [`abbreviates`]: its words are prefixes of the master's words in order,
/// words of the master passed over (a brand left out: `PACK ENGI VERT` of
/// `SONNEN PACKAGING ENGINEERING VERTRIEBSGESELLSCHAFT`), at least two of
/// three or more letters, and at most one word of the payer's matching none (a
/// mistyped one). Too loose to name a payer; enough to say the bank's name
/// does not tell this master apart from the one it was taken for.
pub fn may_abbreviate(payer: &str, master: &str) -> bool {
    let p: Vec<&str> = payer.split(' ').filter(|t| !t.is_empty() && !legal_cut(t)).collect();
    let mut m = master.split(' ').filter(|t| !t.is_empty());
    let (mut matched, mut missed) = (0, 0);
    for t in &p {
        let mut rest = m.clone();
        if rest.any(|w| w.starts_with(t)) {
            m = rest;
            if t.len() >= 3 {
                matched += 1;
            }
        } else {
            missed += 1;
        }
    }
    matched >= 2 && missed <= 1
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 3000, ..Default::default() })]

        /// The byte path gives what the `char` path gives on ASCII text.
        #[test]
        fn ascii_keys_equal_the_general_ones(t in "[0-9OILoil A-Z/.-]{0,24}") {
            proptest::prop_assert_eq!(invoice_keys_ascii(t.as_bytes()), invoice_keys_chars(&t));
        }
    }

    #[test]
    fn invoice_keys_survive_how_payers_write() {
        let k = |s| invoice_keys(s);
        assert_eq!(k("INV-000123").0.as_deref(), Some("INV000123"));
        assert_eq!(k("inv 000123").0, k("INV-000123").0);
        assert_eq!(k("INV-100140").1.as_deref(), Some("100140"));
        assert_eq!(k("100140").1.as_deref(), Some("100140"));
        assert_eq!(k("9O10000942").0.as_deref(), Some("9010000942"), "OCR O in a digit run");
        assert_eq!(k("3OOO112").0.as_deref(), Some("3000112"));
        assert_eq!(k("INVOICE").1, None);
        assert_eq!(k("12").1, None, "too short to identify anything");
    }

    #[test]
    fn names() {
        assert_eq!(name_key("Müller GmbH & Co. KG"), "MUELLER");
        assert_eq!(name_key("MUELLER GMBH U CO KG"), "MUELLER");
        assert!(name_similarity(&name_key("SCHAEFER BAECKEREI"), &name_key("Bäckerei Schäfer KG")) > 0.95);
        let long = name_key("Nordwind Logistik und Trading Vertriebsgesellschaft GmbH");
        let cut: String = "NORDWIND LOGISTIK UND TRADING VERTR".to_string();
        assert!(name_similarity(&name_key(&cut), &long) > 0.95, "35-character truncation");
        assert!(name_similarity(&name_key("Atlas Foods Ltd"), &name_key("Polaris Energy AG")) < 0.7);
        let quantum = name_key("Quantum Elektrotechnik und Components Vertriebsgesellschaft S.A.");
        assert!(abbreviates(&name_key("QUAN ELEK COMP"), &quantum), "word-wise abbreviation");
        assert!(!abbreviates(&name_key("QUAN LOGI"), &quantum), "another second word");
        assert!(!abbreviates(&name_key("ELEK QUAN"), &quantum), "the words out of order");
        assert!(!abbreviates(&name_key("QUAN"), &quantum), "one word says too little");
        assert!(!abbreviates(&quantum, &quantum), "the same name is not an abbreviation");
        let pioneer = name_key("Pioneer Maschinenbau und Services Vertriebsgesellschaft S.A.");
        assert!(abbreviates(&name_key("PION MASC SERV V"), &pioneer), "the last word cut to a letter");
        assert!(abbreviates(&name_key("PION MASC UN SERV"), &pioneer), "a connector cut short");
        assert!(abbreviates(&name_key("EVER CHEM LIMI"), &name_key("Evergreen Chemicals Ltd")), "a legal form cut");
        let redwood = name_key("Redwood Textil GmbH");
        assert!(!abbreviates(&name_key("TEXT REDW"), &redwood), "not in order");
        assert!(abbreviates_reordered(&name_key("TEXT REDW"), &redwood), "the words in another order");
        assert!(abbreviates_reordered(&name_key("TEXT REDW INCO"), &redwood), "a legal form cut");
        assert!(!abbreviates_reordered(&name_key("TEXTIL REDWOOD"), &redwood), "nothing cut short");
        assert!(!abbreviates_reordered(&name_key("TEXT TEXT"), &redwood), "one master word for two");
        assert!(!abbreviates_reordered(&name_key("TEXT"), &redwood), "one word says too little");
        assert!(
            !abbreviates_reordered(&name_key("TEXT HOLZ"), &name_key("Redwood Textil Holzwerke")),
            "a word beyond the master's first words"
        );
        assert_eq!(without_legal_cuts("ASHF INST INCO"), "ASHF INST");
        assert!(
            !abbreviates(&name_key("EVER LIMI"), &name_key("Evergreen Chemicals Ltd")),
            "one word of the name is too little"
        );
        let sonnen = name_key("Sonnen Packaging und Engineering Vertriebsgesellschaft AG");
        assert!(!abbreviates(&name_key("PACK ENGI VERT"), &sonnen));
        assert!(may_abbreviate(&name_key("PACK ENGI VERT"), &sonnen), "the brand left out");
        assert!(may_abbreviate(&name_key("PAKC ENGI VERT"), &sonnen), "one word mistyped");
        assert!(!may_abbreviate(&name_key("ENGI PACK"), &sonnen), "the words out of order");
        assert!(!may_abbreviate(&name_key("PACK HOLZ VERT"), &name_key("Sonnen Packaging KG")), "one word");
        // Legal forms written with dots, and word order.
        assert_eq!(name_key("Pemberton Trading B.V."), "PEMBERTON TRADING");
        assert_eq!(name_key("Sterling Construction L.L.C."), "STERLING CONSTRUCTION");
        assert_eq!(name_key("Rossi Foods S.p.A."), "ROSSI FOODS");
        assert_eq!(name_key("A B C Logistics"), "ABC LOGISTICS");
        assert_eq!(name_similarity(&name_key("TRADING PEMBERTON"), &name_key("Pemberton Trading B.V.")), 1.0);
    }
}
