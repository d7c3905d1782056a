//! Format detection by content (extensions lie; banks rename files).

/// A detected file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Format {
    /// ISO 20022 camt message; the number is 52, 53 or 54.
    Camt(u16),
    Mt940,
    Mt942,
    Bai2,
    X12_820,
    Unknown,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Camt(52) => "camt.052",
            Format::Camt(53) => "camt.053",
            Format::Camt(54) => "camt.054",
            Format::Camt(_) => "camt",
            Format::Mt940 => "mt940",
            Format::Mt942 => "mt942",
            Format::Bai2 => "bai2",
            Format::X12_820 => "x12.820",
            Format::Unknown => "unknown",
        }
    }
}

fn head(bytes: &[u8]) -> &[u8] {
    let b = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    &b[..b.len().min(4096)]
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Looks at the first 4 KiB.
pub fn detect(bytes: &[u8]) -> Format {
    let h = head(bytes);
    let trimmed: &[u8] = {
        let start = h.iter().position(|b| !b.is_ascii_whitespace() && *b != 0x01 && *b != 0x02).unwrap_or(h.len());
        &h[start..]
    };
    if trimmed.starts_with(b"<") {
        for (tag, n) in [(&b"BkToCstmrStmt"[..], 53), (b"BkToCstmrAcctRpt", 52), (b"BkToCstmrDbtCdtNtfctn", 54)] {
            if contains(h, tag) {
                return Format::Camt(n);
            }
        }
        for n in [53u16, 52, 54] {
            if contains(h, format!("camt.0{n}.").as_bytes()) {
                return Format::Camt(n);
            }
        }
        return Format::Unknown;
    }
    if trimmed.starts_with(b"ISA") && trimmed.len() > 106 {
        return if contains(h, b"ST*820") || contains(h, &[b'S', b'T', trimmed[3], b'8', b'2', b'0']) {
            Format::X12_820
        } else {
            Format::Unknown
        };
    }
    if trimmed.starts_with(b"01,") {
        return Format::Bai2;
    }
    let fragment = trimmed.starts_with(b":61:") && trimmed.get(4..10).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if fragment
        || contains(h, b":20:")
            && (contains(h, b":61:") || contains(h, b":60F:") || contains(h, b":60M:") || contains(h, b":25:"))
    {
        if contains(h, b":13D:") || contains(h, b":34F:") || contains(h, b"{2:I942") || contains(h, b"{2:O942") {
            return Format::Mt942;
        }
        return Format::Mt940;
    }
    Format::Unknown
}

/// A short description of unrecognised content, for the refusal message.
pub fn describe(bytes: &[u8]) -> String {
    let h = head(bytes);
    let printable: String =
        h.iter().take(40).map(|&b| if (0x20..0x7f).contains(&b) { b as char } else { '.' }).collect();
    format!("starts with \"{printable}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects() {
        assert_eq!(detect(b"<?xml version=\"1.0\"?><Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\"><BkToCstmrStmt>"), Format::Camt(53));
        assert_eq!(detect(b"\xef\xbb\xbf<Document><BkToCstmrDbtCdtNtfctn>"), Format::Camt(54));
        assert_eq!(detect(b"01,BANK,CUST,260101,0000,1,80,,2/\n"), Format::Bai2);
        assert_eq!(detect(b":20:X\r\n:25:123\r\n:28C:1\r\n:60F:C260101EUR1,00\r\n"), Format::Mt940);
        assert_eq!(detect(b":20:X\n:25:1\n:13D:2601011200+0100\n:61:"), Format::Mt942);
        assert_eq!(detect(b"hello"), Format::Unknown);
        assert_eq!(detect(b"<html>"), Format::Unknown);
    }
}
