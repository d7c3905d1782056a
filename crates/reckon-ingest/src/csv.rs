//! An RFC 4180 scanner that keeps what audit needs and generic CSV readers drop:
//! the source line of every record, its field count, and whether its bytes were
//! valid in the file's encoding.
//!
//! polars' CSV reader turns blank lines into rows, renames duplicate headers and
//! reports neither line numbers nor ragged rows, so reckon tokenizes here, straight
//! into column vectors that become polars string columns.

/// One data record's facts besides its values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordInfo {
    /// 1-based line where the record starts (header = line 1 when it is the first line).
    pub line: u64,
    /// Number of fields the record actually had.
    pub fields: usize,
    /// The record held bytes that are not valid UTF-8 (replaced by U+FFFD).
    pub bad_utf8: bool,
    /// A quote opened in this record never closed: the record is its first line
    /// alone, and scanning goes on at the next line (so one stray quote cannot
    /// swallow the rest of the file).
    pub unterminated: bool,
    /// The record holds a NUL byte (not text).
    pub nul: bool,
}

/// A scanned CSV file: header, one vector per header column, record facts.
#[derive(Debug, Default)]
pub struct Scanned {
    pub header: Vec<String>,
    /// `columns[c][r]`: value of header column `c` in record `r` ("" when the record was short).
    pub columns: Vec<Vec<String>>,
    pub records: Vec<RecordInfo>,
    /// Lines that held nothing (skipped, counted for the manifest).
    pub blank_lines: u64,
}

/// Why a file cannot be scanned at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    #[error("the file is empty (no header row)")]
    Empty,
    #[error("the header row has an empty column name at position {0}")]
    EmptyHeader(usize),
    #[error("the header names column '{0}' twice")]
    DuplicateHeader(String),
    #[error("the header row is not valid UTF-8 (declare the file's encoding in its mapping)")]
    HeaderEncoding,
    #[error("the header row has an unterminated quote")]
    HeaderQuote,
    #[error("this looks like a binary file, not CSV (NUL byte at offset {0})")]
    Binary(usize),
}

/// Scans `bytes` (UTF-8, BOM already removed) with the given delimiter and quote.
pub fn scan(bytes: &[u8], delimiter: u8, quote: u8) -> Result<Scanned, ScanError> {
    // A NUL near the start is a binary file; later, it is the fault of its record.
    if let Some(pos) = memchr::memchr(0, &bytes[..bytes.len().min(8192)]) {
        return Err(ScanError::Binary(pos));
    }
    let mut rd = Reader { b: bytes, pos: 0, line: 1, delimiter, quote, single_line: false };
    // Header: the first non-blank record.
    let mut out = Scanned::default();
    let header = loop {
        match rd.record() {
            None => return Err(ScanError::Empty),
            Some(r) if r.blank => {
                out.blank_lines += 1;
            }
            Some(r) => break r,
        }
    };
    if header.unterminated {
        return Err(ScanError::HeaderQuote);
    }
    if header.bad_utf8 {
        return Err(ScanError::HeaderEncoding);
    }
    let mut names = Vec::with_capacity(header.fields.len());
    // Duplicate names found through a set: a header of 60,000 columns stays linear.
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::with_capacity(header.fields.len());
    for (i, f) in header.fields.iter().enumerate() {
        let name = f.trim().to_string();
        if name.is_empty() {
            // A trailing delimiter on the header line gives one empty last name; allow it.
            if i + 1 == header.fields.len() && i > 0 {
                continue;
            }
            return Err(ScanError::EmptyHeader(i + 1));
        }
        if !seen.insert(name.clone()) {
            return Err(ScanError::DuplicateHeader(name));
        }
        names.push(name);
    }
    let ncol = names.len();
    out.columns = (0..ncol).map(|_| Vec::new()).collect();
    out.header = names;
    loop {
        let (start_pos, start_line) = (rd.pos, rd.line);
        let Some(r) = rd.record() else { break };
        if r.blank {
            out.blank_lines += 1;
            continue;
        }
        // A record over several lines whose quote closes against RFC 4180 (more
        // text after it) is a quote out of place — one never closed paired with a
        // later one: read its lines again one by one, so that every line it
        // swallowed is a record of its own, loaded if it is whole, rejected with
        // its own line number if not. (A well-formed multi-line field is kept.)
        if !rd.single_line && rd.line > r.line + 1 && (r.unterminated || r.stray_quote) {
            let (end_pos, end_line) = (rd.pos, rd.line);
            rd.pos = start_pos;
            rd.line = start_line;
            rd.single_line = true;
            while rd.pos < end_pos {
                let Some(one) = rd.record() else { break };
                if one.blank {
                    out.blank_lines += 1;
                    continue;
                }
                out.push(one, ncol);
            }
            rd.single_line = false;
            rd.pos = end_pos;
            rd.line = end_line;
            continue;
        }
        out.push(r, ncol);
    }
    Ok(out)
}

impl Scanned {
    fn push(&mut self, r: RawRecord, ncol: usize) {
        let nfields = r.fields.len();
        // A trailing empty field beyond the header (trailing delimiter) is not raggedness.
        let effective =
            if nfields == ncol + 1 && r.fields.last().is_some_and(|f| f.is_empty()) { ncol } else { nfields };
        let mut it = r.fields.into_iter();
        for col in self.columns.iter_mut() {
            col.push(it.next().unwrap_or_default());
        }
        self.records.push(RecordInfo {
            line: r.line,
            fields: effective,
            bad_utf8: r.bad_utf8,
            unterminated: r.unterminated,
            nul: r.nul,
        });
    }
}

struct RawRecord {
    line: u64,
    fields: Vec<String>,
    blank: bool,
    bad_utf8: bool,
    unterminated: bool,
    nul: bool,
    /// A quote closed where RFC 4180 does not allow it (followed by more text).
    stray_quote: bool,
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    line: u64,
    delimiter: u8,
    quote: u8,
    /// Quotes do not span lines (re-reading the lines of a broken record).
    single_line: bool,
}

impl Reader<'_> {
    fn record(&mut self) -> Option<RawRecord> {
        if self.pos >= self.b.len() {
            return None;
        }
        let start_line = self.line;
        let start_pos = self.pos;
        let mut nul = false;
        let mut stray_quote = false;
        let mut fields = Vec::new();
        let mut field: Vec<u8> = Vec::new();
        let mut bad_utf8 = false;
        let mut unterminated = false;
        let mut in_quotes = false;
        let mut at_field_start = true;
        let mut saw_any = false;
        let push = |field: &mut Vec<u8>, fields: &mut Vec<String>, bad: &mut bool| {
            let bytes = std::mem::take(field);
            match String::from_utf8(bytes) {
                Ok(s) => fields.push(s),
                Err(e) => {
                    *bad = true;
                    fields.push(String::from_utf8_lossy(e.as_bytes()).into_owned());
                }
            }
        };
        loop {
            let Some(&c) = self.b.get(self.pos) else {
                if in_quotes {
                    // The quote never closed: the record is its first line alone, and
                    // the lines it swallowed are read again as records of their own.
                    let end = memchr::memchr(b'\n', &self.b[start_pos..]).map_or(self.b.len(), |i| start_pos + i);
                    let first = &self.b[start_pos..end];
                    let first = first.strip_suffix(b"\r").unwrap_or(first);
                    self.pos = (end + 1).min(self.b.len());
                    self.line = start_line + 1;
                    return Some(RawRecord {
                        line: start_line,
                        fields: vec![String::from_utf8_lossy(first).into_owned()],
                        blank: false,
                        bad_utf8: std::str::from_utf8(first).is_err(),
                        unterminated: true,
                        nul: first.contains(&0),
                        stray_quote: false,
                    });
                }
                break;
            };
            self.pos += 1;
            if c == 0 {
                nul = true;
            }
            if in_quotes {
                if c == self.quote {
                    if self.b.get(self.pos) == Some(&self.quote) {
                        field.push(c);
                        self.pos += 1;
                    } else {
                        in_quotes = false;
                        // RFC 4180: a closing quote is followed by a delimiter or the
                        // line's end; anything else means this quote was not the close.
                        stray_quote |=
                            self.b.get(self.pos).is_some_and(|n| *n != self.delimiter && *n != b'\n' && *n != b'\r');
                    }
                } else {
                    if c == b'\n' || (c == b'\r' && self.single_line) {
                        if self.single_line {
                            // The line ends inside the quote: the record is this line.
                            if c == b'\r' && self.b.get(self.pos) == Some(&b'\n') {
                                self.pos += 1;
                            }
                            self.line += 1;
                            unterminated = true;
                            break;
                        }
                        self.line += 1;
                    } else if c == b'\r' && self.b.get(self.pos) != Some(&b'\n') {
                        // A lone CR ends a line inside quotes as it does outside them
                        // (and as the line-by-line re-read counts it).
                        self.line += 1;
                    }
                    field.push(c);
                }
                continue;
            }
            match c {
                b'\n' => {
                    self.line += 1;
                    break;
                }
                b'\r' => {
                    if self.b.get(self.pos) == Some(&b'\n') {
                        self.pos += 1;
                    }
                    self.line += 1;
                    break;
                }
                _ if c == self.delimiter => {
                    saw_any = true;
                    push(&mut field, &mut fields, &mut bad_utf8);
                    at_field_start = true;
                    continue;
                }
                _ if c == self.quote && at_field_start && field.iter().all(|b| *b == b' ') => {
                    field.clear();
                    in_quotes = true;
                    saw_any = true;
                }
                _ => {
                    saw_any = true;
                    field.push(c);
                }
            }
            at_field_start = false;
        }
        let blank = !saw_any && field.is_empty();
        push(&mut field, &mut fields, &mut bad_utf8);
        Some(RawRecord { line: start_line, fields, blank, bad_utf8, unterminated, nul, stray_quote })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Scanned {
        scan(text.as_bytes(), b',', b'"').unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn lines_quotes_blanks_ragged() {
        let r = s("a,b,c\r\n1,\"x\ny\",3\r\n\r\n4,5\n7,8,9,10\n\"q\"\"q\",,\n");
        assert_eq!(r.header, ["a", "b", "c"]);
        assert_eq!(r.columns[1], ["x\ny", "5", "8", ""]);
        assert_eq!(r.columns[0], ["1", "4", "7", "q\"q"]);
        let lines: Vec<u64> = r.records.iter().map(|x| x.line).collect();
        assert_eq!(lines, [2, 5, 6, 7]);
        let fields: Vec<usize> = r.records.iter().map(|x| x.fields).collect();
        assert_eq!(fields, [3, 2, 4, 3]);
        assert_eq!(r.blank_lines, 1);
    }

    #[test]
    fn trailing_delimiter_and_unterminated() {
        let r = s("a,b,\n1,2,\n\"open,2\n");
        assert_eq!(r.header, ["a", "b"]);
        assert_eq!(r.records[0].fields, 2);
        assert!(r.records[1].unterminated);
    }

    #[test]
    fn an_unclosed_quote_costs_its_own_line_only() {
        let mut text = String::from("a,b\n1,ok\n2,\"broken\n");
        for k in 3..500 {
            text.push_str(&format!("{k},v{k}\n"));
        }
        let r = s(&text);
        assert_eq!(r.records.len(), 499, "every line is a record");
        // A stray quote that pairs with a later one: every line it spans is a record.
        let r2 = s("a,b\n1,\"open\n2,ok\n3,\"x\n4,y\n");
        let lines: Vec<(u64, bool, usize)> = r2.records.iter().map(|x| (x.line, x.unterminated, x.fields)).collect();
        assert_eq!(lines, [(2, true, 2), (3, false, 2), (4, true, 2), (5, false, 2)]);
        assert_eq!(r2.columns[0], ["1", "2", "3", "4"]);
        assert!(r.records[1].unterminated && r.records[1].line == 3);
        assert!(r.records.iter().filter(|x| x.unterminated).count() == 1);
        assert_eq!(r.columns[0][2], "3");
        assert_eq!(r.records[498].line, 500);
        // A quoted field over two lines that does close is still one record.
        let r = s("a,b\n1,\"x\ny\"\n2,z\n");
        assert_eq!(r.columns[1], ["x\ny", "z"]);
    }

    #[test]
    fn a_nul_byte_late_in_the_file_marks_its_record() {
        let mut text = String::from("a,b\n");
        while text.len() < 9000 {
            text.push_str("1,filler\n");
        }
        text.push_str("2,bad\0byte\n3,ok\n");
        let r = scan(text.as_bytes(), b',', b'"').unwrap_or_else(|e| panic!("{e}"));
        let n = r.records.len();
        assert!(r.records[n - 2].nul && !r.records[n - 1].nul);
        assert_eq!(r.records.iter().filter(|x| x.nul).count(), 1);
    }

    #[test]
    fn invalid_utf8_is_flagged_per_record() {
        let bytes = b"a,b\n1,M\xfcller\n2,ok\n";
        let r = scan(bytes, b',', b'"').unwrap_or_else(|e| panic!("{e}"));
        assert!(r.records[0].bad_utf8);
        assert!(!r.records[1].bad_utf8);
    }

    #[test]
    fn file_level_errors() {
        assert_eq!(scan(b"", b',', b'"').err(), Some(ScanError::Empty));
        assert_eq!(scan(b"\n\n", b',', b'"').err(), Some(ScanError::Empty));
        assert_eq!(scan(b"a,a\n", b',', b'"').err(), Some(ScanError::DuplicateHeader("a".into())));
        assert!(matches!(scan(b"PAR1\0\0", b',', b'"'), Err(ScanError::Binary(4))));
    }

    #[test]
    fn a_lone_cr_inside_a_stray_quote_keeps_line_numbers_increasing() {
        // Found by the csv_differential fuzz target: the quote opened on line 2
        // closes against RFC 4180 on line 4, so lines 2–4 are read again one by
        // one; a CR inside the quote must count as a line both times.
        let r = scan(b"i\n\"\rR\n\"t\nn", b',', b'"').unwrap_or_else(|e| panic!("{e}"));
        let lines: Vec<u64> = r.records.iter().map(|x| x.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5]);
        let unterminated: Vec<bool> = r.records.iter().map(|x| x.unterminated).collect();
        assert_eq!(unterminated, vec![true, false, true, false]);
        assert_eq!(r.columns[0], vec!["", "R", "t", "n"]);
    }
}
