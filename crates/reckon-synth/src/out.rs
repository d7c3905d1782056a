//! Buffered CSV writing with RFC 4180 quoting, and small formatting helpers.

use std::io::{BufWriter, Write};
use std::path::Path;

use reckon_core::date::format_iso_date;
use reckon_core::format_minor;

#[allow(missing_debug_implementations)]
pub struct Csv {
    w: BufWriter<std::fs::File>,
    pub rows: u64,
}

impl Csv {
    pub fn create(path: &Path, header: &[&str]) -> std::io::Result<Csv> {
        let mut c = Csv { w: BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?), rows: 0 };
        c.write_fields(header.iter().copied())?;
        c.rows = 0;
        Ok(c)
    }

    /// Opens an existing CSV to add rows (no header).
    pub fn append(path: &Path) -> std::io::Result<Csv> {
        let f = std::fs::OpenOptions::new().append(true).open(path)?;
        Ok(Csv { w: BufWriter::with_capacity(1 << 20, f), rows: 0 })
    }

    pub fn row(&mut self, fields: &[&str]) -> std::io::Result<()> {
        self.write_fields(fields.iter().copied())
    }

    fn write_fields<'a>(&mut self, fields: impl Iterator<Item = &'a str>) -> std::io::Result<()> {
        for (i, f) in fields.enumerate() {
            if i > 0 {
                self.w.write_all(b",")?;
            }
            if f.contains([',', '"', '\n', '\r']) {
                self.w.write_all(b"\"")?;
                self.w.write_all(f.replace('"', "\"\"").as_bytes())?;
                self.w.write_all(b"\"")?;
            } else {
                self.w.write_all(f.as_bytes())?;
            }
        }
        self.w.write_all(b"\n")?;
        self.rows += 1;
        Ok(())
    }

    pub fn finish(mut self) -> std::io::Result<u64> {
        self.w.flush()?;
        Ok(self.rows)
    }
}

/// Reads a CSV this crate wrote (RFC 4180 quoting) into rows keyed by header.
pub fn read_csv(path: &Path) -> std::io::Result<Vec<std::collections::BTreeMap<String, String>>> {
    let text = std::fs::read_to_string(path)?;
    let mut rows = Vec::new();
    let mut header: Vec<String> = Vec::new();
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => cur.push(c),
            (false, '"') => quoted = true,
            (false, ',') => fields.push(std::mem::take(&mut cur)),
            (false, '\n') => {
                fields.push(std::mem::take(&mut cur));
                let f = std::mem::take(&mut fields);
                if header.is_empty() {
                    header = f;
                } else {
                    rows.push(header.iter().cloned().zip(f).collect());
                }
            }
            (false, c) => cur.push(c),
        }
    }
    Ok(rows)
}

pub fn money(minor: i64, exp: u8) -> String {
    format_minor(minor, exp)
}

pub fn date(d: i32) -> String {
    format_iso_date(d)
}

/// IBAN with correct ISO 13616 check digits.
pub fn iban(country: &str, bban: &str) -> String {
    let check = 98 - mod97(&format!("{bban}{country}00"));
    format!("{country}{check:02}{bban}")
}

/// ISO 11649 RF creditor reference for an alphanumeric reference.
pub fn rf_reference(reference: &str) -> String {
    let clean: String = reference.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_uppercase();
    let clean: String = clean.chars().take(21).collect();
    let check = 98 - mod97(&format!("{clean}RF00"));
    format!("RF{check:02}{clean}")
}

fn mod97(s: &str) -> u32 {
    let mut r: u32 = 0;
    for c in s.chars() {
        let v =
            if c.is_ascii_digit() { c as u32 - '0' as u32 } else { c.to_ascii_uppercase() as u32 - 'A' as u32 + 10 };
        r = if v >= 10 { (r * 100 + v) % 97 } else { (r * 10 + v) % 97 };
    }
    r
}

#[cfg(test)]
mod tests {
    #[test]
    fn check_digits() {
        // Published examples.
        assert_eq!(super::iban("DE", "370400440532013000"), "DE89370400440532013000");
        assert_eq!(super::iban("GB", "BUKB20201555555555"), "GB33BUKB20201555555555");
        assert_eq!(super::rf_reference("539007547034"), "RF18539007547034");
    }
}
