//! Column mappings: how a real ERP export becomes a contract table.
//!
//! A mapping is a TOML file (`*.mapping.toml`, next to the export it describes,
//! or named in `reckon.toml`). It is read into [`MappingConfig`] (serde, unknown
//! keys refused), then [`MappingConfig::build`] checks it against the contract
//! and yields the runtime [`Mapping`].

use std::collections::BTreeMap;

use reckon_core::{ColumnType, DecimalMark, MoneyFormat, Table};
use serde::Deserialize;

/// The mapping file as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingConfig {
    /// Contract table this source loads into (`ar_open_items`, …).
    pub table: String,
    /// Free text: which system and report the export comes from.
    #[serde(default)]
    pub description: Option<String>,
    /// `utf-8` (default), `windows-1252`, `iso-8859-1`/`latin-1`, `iso-8859-15`.
    #[serde(default)]
    pub encoding: Option<String>,
    /// Field delimiter (one character; default `,`).
    #[serde(default)]
    pub delimiter: Option<String>,
    /// chrono format of date columns (default ISO `%Y-%m-%d`).
    #[serde(default)]
    pub date_format: Option<String>,
    /// chrono format of naive timestamps, read as UTC (default RFC 3339).
    #[serde(default)]
    pub timestamp_format: Option<String>,
    #[serde(default)]
    pub money: MoneyConfig,
    /// contract column → source column, or a template like `"{BUKRS}-{BELNR}"`.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// contract column → constant value (for columns the export lacks).
    #[serde(default)]
    pub constants: BTreeMap<String, String>,
    /// Signed amount from an unsigned amount plus a debit/credit indicator.
    #[serde(default)]
    pub sign: Option<SignConfig>,
    /// contract column → (source code → contract value).
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// Contract columns whose values must all appear in `values` (others are rejected).
    #[serde(default)]
    pub strict_values: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoneyConfig {
    #[serde(default)]
    pub decimal: DecimalMark,
    #[serde(default)]
    pub thousands: Option<String>,
    #[serde(default)]
    pub trailing_minus: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignConfig {
    /// Source column holding the indicator (`S`/`H`, `D`/`C`, `Debit`/`Credit`).
    pub indicator: String,
    /// Indicator values that make the amount negative.
    pub negative: Vec<String>,
    /// Indicator values that keep it positive.
    pub positive: Vec<String>,
    /// Contract money columns the sign applies to (default: every money column).
    #[serde(default)]
    pub applies_to: Vec<String>,
}

/// A mapping error, naming the mapping file's key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("unknown table '{0}' (expected one of: {1})")]
    UnknownTable(String, String),
    #[error("[{section}] names '{column}', which is not a column of {table}")]
    UnknownColumn { section: &'static str, column: String, table: Table },
    #[error("required column '{column}' of {table} is neither mapped nor a constant")]
    Unmapped { column: String, table: Table },
    #[error("'{0}' is given both in [columns] and [constants]")]
    Both(String),
    #[error("unsupported encoding '{0}' (use utf-8, windows-1252, iso-8859-1 or iso-8859-15)")]
    Encoding(String),
    #[error("delimiter must be one ASCII character, got '{0}'")]
    Delimiter(String),
    #[error("money.thousands must be one character, got '{0}'")]
    Thousands(String),
    #[error("money.thousands '{0}' equals the decimal mark")]
    ThousandsIsDecimal(String),
    #[error("template '{0}' has an unclosed or empty {{…}}")]
    Template(String),
    #[error("sign.applies_to names '{0}', which is not a money column")]
    SignTarget(String),
    #[error("sign: value '{0}' is both negative and positive")]
    SignOverlap(String),
    #[error("date_format '{0}' is not a valid chrono format")]
    DateFormat(String),
    #[error("strict_values names '{0}' without a [values.{0}] table")]
    StrictWithoutValues(String),
    #[error("cannot parse mapping: {0}")]
    Toml(String),
}

/// Text encodings reckon decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    /// Windows-1252; also used for ISO-8859-1 (its superset for printable text, as WHATWG does).
    Windows1252,
    Iso8859_15,
}

/// Where a contract column's value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Column(String),
    /// Literal pieces and source columns, concatenated.
    Template(Vec<TemplatePart>),
    Constant(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplatePart {
    Lit(String),
    Col(String),
}

/// A checked mapping, ready to apply.
#[derive(Clone, Debug)]
pub struct Mapping {
    pub table: Table,
    pub encoding: Encoding,
    pub delimiter: u8,
    pub date_format: Option<String>,
    pub timestamp_format: Option<String>,
    pub money: MoneyFormat,
    /// Contract column → source, for every contract column that has one.
    pub sources: Vec<(&'static str, Source)>,
    pub sign: Option<Sign>,
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    pub strict_values: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Sign {
    pub indicator: String,
    pub negative: Vec<String>,
    pub positive: Vec<String>,
    pub applies_to: Vec<&'static str>,
}

impl MappingConfig {
    pub fn from_toml(text: &str) -> Result<Self, MappingError> {
        toml::from_str(text).map_err(|e| MappingError::Toml(e.to_string()))
    }

    /// Checks the mapping against the contract and builds the runtime mapping.
    pub fn build(&self) -> Result<Mapping, MappingError> {
        let table = Table::from_name(&self.table)
            .ok_or_else(|| MappingError::UnknownTable(self.table.clone(), Table::ALL.map(|t| t.name()).join(", ")))?;
        let spec = table.spec();
        let encoding = match self.encoding.as_deref().map(|e| e.to_ascii_lowercase()) {
            None => Encoding::Utf8,
            Some(e) => match e.as_str() {
                "utf-8" | "utf8" => Encoding::Utf8,
                "windows-1252" | "cp1252" | "iso-8859-1" | "latin-1" | "latin1" => Encoding::Windows1252,
                "iso-8859-15" | "latin-9" => Encoding::Iso8859_15,
                _ => return Err(MappingError::Encoding(e)),
            },
        };
        let delimiter = match self.delimiter.as_deref() {
            None => b',',
            Some("\\t") | Some("\t") => b'\t',
            Some(d) if d.len() == 1 && d.is_ascii() => d.as_bytes()[0],
            Some(d) => return Err(MappingError::Delimiter(d.to_string())),
        };
        let thousands = match self.money.thousands.as_deref() {
            None => None,
            Some(t) => {
                let mut cs = t.chars();
                match (cs.next(), cs.next()) {
                    (Some(c), None) => Some(c),
                    _ => return Err(MappingError::Thousands(t.to_string())),
                }
            }
        };
        let money = MoneyFormat { decimal: self.money.decimal, thousands, trailing_minus: self.money.trailing_minus };
        let mark = if money.decimal == DecimalMark::Comma { ',' } else { '.' };
        if thousands == Some(mark) {
            return Err(MappingError::ThousandsIsDecimal(mark.to_string()));
        }
        for fmt in [&self.date_format, &self.timestamp_format].into_iter().flatten() {
            check_chrono_format(fmt)?;
        }
        let mut sources = Vec::new();
        for (col, src) in &self.columns {
            let c = spec.column(col).ok_or_else(|| MappingError::UnknownColumn {
                section: "columns",
                column: col.clone(),
                table,
            })?;
            if self.constants.contains_key(col) {
                return Err(MappingError::Both(col.clone()));
            }
            sources.push((c.name, parse_source(src)?));
        }
        for (col, v) in &self.constants {
            let c = spec.column(col).ok_or_else(|| MappingError::UnknownColumn {
                section: "constants",
                column: col.clone(),
                table,
            })?;
            sources.push((c.name, Source::Constant(v.clone())));
        }
        for c in spec.required() {
            if !sources.iter().any(|(n, _)| *n == c.name) {
                return Err(MappingError::Unmapped { column: c.name.to_string(), table });
            }
        }
        // Keep the contract's column order.
        sources.sort_by_key(|(n, _)| spec.columns.iter().position(|c| c.name == *n));
        for col in self.values.keys() {
            spec.column(col).ok_or_else(|| MappingError::UnknownColumn {
                section: "values",
                column: col.clone(),
                table,
            })?;
        }
        for col in &self.strict_values {
            if !self.values.contains_key(col) {
                return Err(MappingError::StrictWithoutValues(col.clone()));
            }
        }
        let sign = match &self.sign {
            None => None,
            Some(s) => {
                if let Some(v) = s.negative.iter().find(|v| s.positive.contains(v)) {
                    return Err(MappingError::SignOverlap(v.clone()));
                }
                let money_cols: Vec<&'static str> =
                    spec.columns.iter().filter(|c| c.ty == ColumnType::Money).map(|c| c.name).collect();
                let applies_to = if s.applies_to.is_empty() {
                    money_cols
                } else {
                    let mut out = Vec::new();
                    for a in &s.applies_to {
                        match money_cols.iter().find(|m| **m == a.as_str()) {
                            Some(m) => out.push(*m),
                            None => return Err(MappingError::SignTarget(a.clone())),
                        }
                    }
                    out
                };
                Some(Sign {
                    indicator: s.indicator.clone(),
                    negative: s.negative.iter().map(|v| v.trim().to_string()).collect(),
                    positive: s.positive.iter().map(|v| v.trim().to_string()).collect(),
                    applies_to,
                })
            }
        };
        Ok(Mapping {
            table,
            encoding,
            delimiter,
            date_format: self.date_format.clone(),
            timestamp_format: self.timestamp_format.clone(),
            money,
            sources,
            sign,
            values: self.values.clone(),
            strict_values: self.strict_values.clone(),
        })
    }
}

impl Mapping {
    /// The identity mapping of a contract-shaped file.
    pub fn contract(table: Table) -> Mapping {
        Mapping {
            table,
            encoding: Encoding::Utf8,
            delimiter: b',',
            date_format: None,
            timestamp_format: None,
            money: MoneyFormat::CONTRACT,
            sources: table.spec().columns.iter().map(|c| (c.name, Source::Column(c.name.to_string()))).collect(),
            sign: None,
            values: BTreeMap::new(),
            strict_values: Vec::new(),
        }
    }

    /// Source columns the mapping reads (to check against the file's header).
    pub fn source_columns(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for (_, s) in &self.sources {
            match s {
                Source::Column(c) => out.push(c.as_str()),
                Source::Template(parts) => out.extend(parts.iter().filter_map(|p| match p {
                    TemplatePart::Col(c) => Some(c.as_str()),
                    TemplatePart::Lit(_) => None,
                })),
                Source::Constant(_) => {}
            }
        }
        if let Some(s) = &self.sign {
            out.push(s.indicator.as_str());
        }
        out
    }
}

fn parse_source(src: &str) -> Result<Source, MappingError> {
    if !src.contains('{') {
        return Ok(Source::Column(src.to_string()));
    }
    let mut parts = Vec::new();
    let mut rest = src;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(TemplatePart::Lit(rest[..open].to_string()));
        }
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| MappingError::Template(src.to_string()))?;
        let name = &after[..close];
        if name.is_empty() {
            return Err(MappingError::Template(src.to_string()));
        }
        parts.push(TemplatePart::Col(name.to_string()));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Lit(rest.to_string()));
    }
    Ok(Source::Template(parts))
}

fn check_chrono_format(fmt: &str) -> Result<(), MappingError> {
    use chrono::format::{Item, StrftimeItems};
    if StrftimeItems::new(fmt).any(|i| matches!(i, Item::Error)) {
        return Err(MappingError::DateFormat(fmt.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_checks() {
        let m = MappingConfig::from_toml(
            r#"
table = "ar_open_items"
delimiter = ";"
date_format = "%d.%m.%Y"
[money]
decimal = "comma"
thousands = "."
trailing_minus = true
[columns]
item_id = "{BuKr}-{Belegnr}"
entity = "BuKr"
customer_id = "Konto"
customer_name = "Name"
invoice_number = "Referenz"
invoice_date = "Belegdatum"
amount_open = "Betrag"
[constants]
currency = "EUR"
[sign]
indicator = "S/H"
negative = ["H"]
positive = ["S"]
"#,
        )
        .and_then(|c| c.build())
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.delimiter, b';');
        assert_eq!(m.sources[0].0, "item_id");
        assert_eq!(
            m.sources[0].1,
            Source::Template(vec![
                TemplatePart::Col("BuKr".into()),
                TemplatePart::Lit("-".into()),
                TemplatePart::Col("Belegnr".into())
            ])
        );
        assert_eq!(m.sign.as_ref().map(|s| s.applies_to.clone()), Some(vec!["amount_open"]));
    }

    #[test]
    fn refuses_bad_mappings() {
        let bad = |t: &str| MappingConfig::from_toml(t).and_then(|c| c.build()).err();
        assert!(matches!(bad("table = \"nope\""), Some(MappingError::UnknownTable(..))));
        assert!(matches!(bad("table = \"vendors\"\n[columns]\nvendor_id='a'"), Some(MappingError::Unmapped { .. })));
        assert!(matches!(
            bad("table = \"vendors\"\n[columns]\nvendor_id='a'\nname='b'\ncolour='c'"),
            Some(MappingError::UnknownColumn { .. })
        ));
        assert!(matches!(bad("table = \"vendors\"\nsurprise = 1"), Some(MappingError::Toml(_))));
        assert!(matches!(
            bad("table = \"vendors\"\nencoding='ebcdic'\n[columns]\nvendor_id='a'\nname='b'"),
            Some(MappingError::Encoding(_))
        ));
        assert!(matches!(
            bad("table = \"vendors\"\n[columns]\nvendor_id='{a'\nname='b'"),
            Some(MappingError::Template(_))
        ));
    }
}
