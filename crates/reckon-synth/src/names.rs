//! Company names and the ways banks and clerks really write them.

use crate::rng::Rng;

const FIRST: &[&str] = &[
    "Nordwind",
    "Blue Harbor",
    "Alpen",
    "Rhein",
    "Meridian",
    "Northgate",
    "Silverline",
    "Greenfield",
    "Atlas",
    "Falken",
    "Hanse",
    "Kestrel",
    "Lindner",
    "Summit",
    "Baltic",
    "Crescent",
    "Elbe",
    "Oakridge",
    "Sonnen",
    "Pioneer",
    "Westbrook",
    "Schmidt & Partner",
    "Müller",
    "Bäckerei Schäfer",
    "Weber",
    "Fischer",
    "Becker",
    "Hoffmann",
    "Wagner",
    "Keller",
    "Brightwater",
    "Redwood",
    "Ironbridge",
    "Harbourside",
    "Kingsley",
    "Ashford",
    "Thornton",
    "Caldwell",
    "Marlowe",
    "Pemberton",
    "Vantage",
    "Polaris",
    "Quantum",
    "Horizon",
    "Sterling",
    "Beacon",
    "Cobalt",
    "Evergreen",
    "Granite",
    "Juniper",
];
const MIDDLE: &[&str] = &[
    "Logistik",
    "Trading",
    "Maschinenbau",
    "Industries",
    "Technologies",
    "Handels",
    "Foods",
    "Pharma",
    "Elektrotechnik",
    "Medical",
    "Packaging",
    "Engineering",
    "Consulting",
    "Systems",
    "Retail",
    "Textil",
    "Automotive",
    "Chemicals",
    "Energy",
    "Construction",
    "Software",
    "Distribution",
    "Metallbau",
    "Holzwerke",
    "Supplies",
    "Components",
    "Instruments",
    "Services",
    "International",
    "Group",
];
/// Legal forms with the variants payers and banks write.
const SUFFIX: &[(&str, &[&str])] = &[
    ("GmbH", &["GMBH", "Gesellschaft mit beschraenkter Haftung", "G.m.b.H.", ""]),
    ("GmbH & Co. KG", &["GMBH + CO KG", "GmbH&Co.KG", "GMBH U CO KG", ""]),
    ("AG", &["A.G.", "AKTIENGESELLSCHAFT", ""]),
    ("KG", &["K.G.", ""]),
    ("Ltd", &["LIMITED", "Ltd.", "LTD", ""]),
    ("PLC", &["P.L.C.", "plc", ""]),
    ("Inc.", &["INC", "Incorporated", ""]),
    ("LLC", &["L.L.C.", ""]),
    ("S.A.", &["SA", "S A", ""]),
    ("B.V.", &["BV", ""]),
];

/// A customer or vendor: its master name and the parts used to vary it.
#[derive(Clone, Debug)]
pub struct Company {
    pub name: String,
    pub base: String,
    pub suffix_idx: usize,
}

pub fn company(rng: &mut Rng, serial: usize) -> Company {
    let first = *rng.pick(FIRST);
    let mid = *rng.pick(MIDDLE);
    // Long names exist and get truncated by banks at 35 characters.
    let base = if rng.permille(150) {
        format!("{first} {mid} und {} Vertriebsgesellschaft", rng.pick(MIDDLE))
    } else if serial.is_multiple_of(7) {
        format!("{first} {mid} {}", rng.pick(&["Nord", "Süd", "West", "Ost", "Europe", "UK", "Central"]))
    } else {
        format!("{first} {mid}")
    };
    let suffix_idx = rng.below(SUFFIX.len() as u64) as usize;
    Company { name: format!("{base} {}", SUFFIX[suffix_idx].0), base, suffix_idx }
}

/// How a bank statement shows the payer: case, legal form variants, typos,
/// umlaut transliteration, word order, 35-character truncation.
pub fn bank_variant(rng: &mut Rng, c: &Company) -> String {
    let mut s = match rng.below(10) {
        0..=2 => c.name.clone(),
        3..=4 => {
            let v = *rng.pick(SUFFIX[c.suffix_idx].1);
            if v.is_empty() { c.base.clone() } else { format!("{} {v}", c.base) }
        }
        5 => c.base.clone(),
        6 => {
            // Word order: last word first ("Schaefer Baeckerei").
            let mut w: Vec<&str> = c.base.split(' ').collect();
            w.rotate_left(1);
            w.join(" ")
        }
        7 => typo(rng, &c.name),
        8 => abbreviate(&c.name),
        _ => {
            let sfx = *rng.pick(SUFFIX[c.suffix_idx].1);
            typo(rng, &format!("{} {sfx}", c.base))
        }
    };
    if rng.permille(500) {
        s = s.to_uppercase();
    }
    if rng.permille(400) {
        s = transliterate(&s);
    }
    truncate35(s.trim())
}

/// Banks cut names at 35 characters (SWIFT field width).
pub fn truncate35(s: &str) -> String {
    s.chars().take(35).collect::<String>().trim_end().to_string()
}

fn transliterate(s: &str) -> String {
    s.replace('ä', "ae")
        .replace('ö', "oe")
        .replace('ü', "ue")
        .replace('Ä', "AE")
        .replace('Ö', "OE")
        .replace('Ü', "UE")
        .replace('ß', "ss")
}

fn abbreviate(s: &str) -> String {
    s.replace("Maschinenbau", "Masch.bau")
        .replace("International", "Intl")
        .replace("Technologies", "Tech")
        .replace("Engineering", "Eng.")
        .replace("Distribution", "Distr.")
        .replace("Logistik", "Log.")
        .replace("Industries", "Ind.")
        .replace("Vertriebsgesellschaft", "Vertriebsges.")
        .replace(" und ", " u. ")
        .replace(" & ", " + ")
}

/// One keyboard slip: a dropped, doubled or swapped letter.
pub fn typo(rng: &mut Rng, s: &str) -> String {
    let mut cs: Vec<char> = s.chars().collect();
    if cs.len() < 4 {
        return s.to_string();
    }
    let i = 1 + rng.below(cs.len() as u64 - 2) as usize;
    match rng.below(3) {
        0 => {
            cs.remove(i);
        }
        1 => {
            let c = cs[i];
            cs.insert(i, c);
        }
        _ => cs.swap(i, i + 1),
    }
    cs.into_iter().collect()
}
