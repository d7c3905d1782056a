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

/// One column of a scanned file: every record's value, one after another in
/// buffers (one per piece of the file scanned; no string per field).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Values {
    /// (text, end of each record's value in it) per piece, in file order.
    segments: Vec<(String, Vec<usize>)>,
    /// Index of the first record of each segment.
    firsts: Vec<usize>,
    len: usize,
}

impl Values {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Record `r`'s value.
    pub fn get(&self, r: usize) -> Option<&str> {
        let k = self.firsts.partition_point(|&f| f <= r).checked_sub(1)?;
        let (text, ends) = &self.segments[k];
        let i = r - self.firsts[k];
        let end = *ends.get(i)?;
        let start = if i == 0 { 0 } else { ends[i - 1] };
        text.get(start..end)
    }

    /// Every record's value, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.segments.iter().flat_map(|(text, ends)| {
            let mut start = 0;
            ends.iter().map(move |&end| {
                let v = text.get(start..end).unwrap_or("");
                start = end;
                v
            })
        })
    }

    /// The values of records `start..start + len` (fewer when the column is
    /// shorter), in order: the piece holding `start` is found once.
    pub fn range(&self, start: usize, len: usize) -> impl Iterator<Item = &str> + '_ {
        let end = start.saturating_add(len).min(self.len);
        let mut k = self.firsts.partition_point(|&f| f <= start).saturating_sub(1);
        let mut r = start;
        std::iter::from_fn(move || {
            if r >= end {
                return None;
            }
            while k + 1 < self.firsts.len() && self.firsts[k + 1] <= r {
                k += 1;
            }
            let (text, ends) = self.segments.get(k)?;
            let i = r - self.firsts[k];
            let stop = *ends.get(i)?;
            let from = if i == 0 { 0 } else { ends[i - 1] };
            r += 1;
            text.get(from..stop)
        })
    }

    /// An empty column with room for about `bytes` of text and `records` values.
    fn with_capacity(bytes: usize, records: usize) -> Values {
        Values { segments: vec![(String::with_capacity(bytes), Vec::with_capacity(records))], firsts: vec![0], len: 0 }
    }

    fn push(&mut self, v: &str) {
        if self.segments.is_empty() {
            self.segments.push((String::new(), Vec::new()));
            self.firsts.push(0);
        }
        let last = self.segments.len() - 1;
        let (text, ends) = &mut self.segments[last];
        text.push_str(v);
        ends.push(text.len());
        self.len += 1;
    }

    /// `other`'s values after these (its buffers are moved, not copied).
    fn append(&mut self, other: Values) {
        for (seg, first) in other.segments.into_iter().zip(other.firsts) {
            if seg.1.is_empty() {
                continue;
            }
            self.firsts.push(self.len + first);
            self.segments.push(seg);
        }
        self.len += other.len;
    }
}

impl std::ops::Index<usize> for Values {
    type Output = str;

    fn index(&self, r: usize) -> &str {
        match self.get(r) {
            Some(v) => v,
            None => panic!("record {r} of a column of {} values", self.len()),
        }
    }
}

/// A scanned CSV file: header, one column of values per header name, record facts.
#[derive(Debug, Default)]
pub struct Scanned {
    pub header: Vec<String>,
    /// `columns[c][r]`: value of header column `c` in record `r` ("" when the record was short).
    pub columns: Vec<Values>,
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
/// A large file's records are scanned in pieces side by side (see [`scan_in`]).
pub fn scan(bytes: &[u8], delimiter: u8, quote: u8) -> Result<Scanned, ScanError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    scan_in(bytes, delimiter, quote, threads, 1 << 20)
}

/// [`scan`] with the records cut into at most `parts` pieces of at least
/// `min_part` bytes, each starting after a line feed, scanned side by side.
///
/// A piece starts where the whole-file scan starts a record unless a quoted
/// field spans the cut; the piece before the cut then ends inside a quote,
/// which its scan reports as an unterminated record. Only then is the file
/// scanned again as one piece. So the result is the one-piece result, however
/// the file is cut (a test checks this on random files cut everywhere).
pub fn scan_in(bytes: &[u8], delimiter: u8, quote: u8, parts: usize, min_part: usize) -> Result<Scanned, ScanError> {
    scan_with(bytes, delimiter, quote, parts, min_part, true)
}

/// [`scan_in`], with or without the plain-line path ([`Reader::plain_line`];
/// tests compare the two).
fn scan_with(
    bytes: &[u8],
    delimiter: u8,
    quote: u8,
    parts: usize,
    min_part: usize,
    plain: bool,
) -> Result<Scanned, ScanError> {
    // A NUL near the start is a binary file; later, it is the fault of its record.
    if let Some(pos) = memchr::memchr(0, &bytes[..bytes.len().min(8192)]) {
        return Err(ScanError::Binary(pos));
    }
    let mut rd = Reader::new(bytes, 1, delimiter, quote);
    // Header: the first non-blank record.
    let mut blank_lines = 0;
    let header = loop {
        match rd.record() {
            None => return Err(ScanError::Empty),
            Some(r) if r.blank => {
                blank_lines += 1;
            }
            Some(r) => break r,
        }
    };
    if header.unterminated {
        return Err(ScanError::HeaderQuote);
    }
    let mut fields = Vec::with_capacity(rd.ends.len());
    for k in 0..rd.ends.len() {
        match std::str::from_utf8(rd.field(k)) {
            Ok(f) => fields.push(f.to_string()),
            Err(_) => return Err(ScanError::HeaderEncoding),
        }
    }
    let mut names = Vec::with_capacity(fields.len());
    // Duplicate names found through a set: a header of 60,000 columns stays linear.
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::with_capacity(fields.len());
    for (i, f) in fields.iter().enumerate() {
        let name = f.trim().to_string();
        if name.is_empty() {
            // A trailing delimiter on the header line gives one empty last name; allow it.
            if i + 1 == fields.len() && i > 0 {
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
    let body = &bytes[rd.pos..];
    let first_line = rd.line;
    // Cut points: after the first line feed at or past each even share.
    let n = parts.clamp(1, (body.len() / min_part.max(1)).max(1));
    let mut cuts = vec![0];
    for k in 1..n {
        let at = body.len() * k / n;
        if let Some(i) = memchr::memchr(b'\n', &body[at..]) {
            let c = at + i + 1;
            if c > cuts[cuts.len() - 1] && c < body.len() {
                cuts.push(c);
            }
        }
    }
    cuts.push(body.len());
    let pieces: Vec<Piece> = if cuts.len() == 2 {
        vec![scan_piece(body, first_line, delimiter, quote, ncol, plain)]
    } else {
        let scanned: Vec<Piece> = std::thread::scope(|s| {
            let handles: Vec<_> = cuts
                .windows(2)
                .map(|w| {
                    let piece = &body[w[0]..w[1]];
                    s.spawn(move || scan_piece(piece, 1, delimiter, quote, ncol, plain))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
        });
        let last = scanned.len() - 1;
        if scanned.iter().take(last).any(|p| p.out.records.iter().any(|r| r.unterminated)) {
            vec![scan_piece(body, first_line, delimiter, quote, ncol, plain)]
        } else {
            // Each piece counted its lines from 1: shift them to the file's.
            let mut start = first_line;
            scanned
                .into_iter()
                .map(|mut p| {
                    for r in &mut p.out.records {
                        r.line += start - 1;
                    }
                    start += p.end_line - 1;
                    p
                })
                .collect()
        }
    };
    let mut out = Scanned { header: names, blank_lines, ..Scanned::default() };
    out.columns = (0..ncol).map(|_| Values::default()).collect();
    for p in pieces {
        out.blank_lines += p.out.blank_lines;
        out.records.extend(p.out.records);
        for (col, part) in out.columns.iter_mut().zip(p.out.columns) {
            col.append(part);
        }
    }
    Ok(out)
}

/// The records of one piece of a file, and the line its reader ended on.
struct Piece {
    out: Scanned,
    end_line: u64,
}

/// Scans records from the start of `b` (a record start), its first line numbered `line`.
fn scan_piece(b: &[u8], line: u64, delimiter: u8, quote: u8, ncol: usize, plain: bool) -> Piece {
    let mut rd = Reader::new(b, line, delimiter, quote);
    // The plain-line path reads a line's fields from the file's bytes; it needs
    // ASCII delimiter and quote (a line's text is then valid iff its fields are).
    let ends_line = |c: u8| c == b'\n' || c == b'\r';
    let plain = plain && delimiter.is_ascii() && quote.is_ascii() && !ends_line(delimiter) && !ends_line(quote);
    let mut ends: Vec<usize> = Vec::new();
    let mut out = Scanned::default();
    // Room for the piece's text spread over its columns, so buffers rarely grow.
    let (bytes, records) = (b.len() / ncol.max(1) + 64, b.len() / (8 * ncol.max(1)) + 16);
    out.columns = (0..ncol).map(|_| Values::with_capacity(bytes, records)).collect();
    loop {
        if plain {
            match rd.plain_line(&mut ends) {
                Some(PlainLine::Blank) => {
                    out.blank_lines += 1;
                    continue;
                }
                Some(PlainLine::Record { text, line, nul }) => {
                    out.push_plain(text, &ends, line, nul, ncol);
                    continue;
                }
                None => {}
            }
        }
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
                out.push(&rd, one, ncol);
            }
            rd.single_line = false;
            rd.pos = end_pos;
            rd.line = end_line;
            continue;
        }
        out.push(&rd, r, ncol);
    }
    Piece { out, end_line: rd.line }
}

impl Scanned {
    /// Appends a record read by [`Reader::plain_line`]: its text (valid UTF-8)
    /// and the end of each field in it.
    fn push_plain(&mut self, text: &str, ends: &[usize], line: u64, nul: bool, ncol: usize) {
        let nfields = ends.len();
        let field = |c: usize| {
            let start = if c == 0 { 0 } else { ends[c - 1] + 1 };
            text.get(start..ends[c]).unwrap_or("")
        };
        // A trailing empty field beyond the header (trailing delimiter) is not raggedness.
        let effective = if nfields == ncol + 1 && field(ncol).is_empty() { ncol } else { nfields };
        for (c, col) in self.columns.iter_mut().enumerate() {
            col.push(if c < nfields { field(c) } else { "" });
        }
        self.records.push(RecordInfo { line, fields: effective, bad_utf8: false, unterminated: false, nul });
    }

    /// Appends the record `rd` just read.
    fn push(&mut self, rd: &Reader<'_>, r: RawRecord, ncol: usize) {
        let nfields = rd.ends.len();
        // A trailing empty field beyond the header (trailing delimiter) is not raggedness.
        let effective = if nfields == ncol + 1 && rd.field(ncol).is_empty() { ncol } else { nfields };
        // The record's text checked at once, and each field's end a character
        // boundary in it: the fields are stored without their delimiters, so a
        // character cut by one (`M\xC3,\xBCller`) reads whole in the joined
        // text while each of its fields is invalid.
        let text = std::str::from_utf8(&rd.buf).ok().filter(|t| rd.ends.iter().all(|&e| t.is_char_boundary(e)));
        let bad_utf8 = match text {
            Some(text) => {
                for (c, col) in self.columns.iter_mut().enumerate() {
                    let v = if c < nfields {
                        let start = if c == 0 { 0 } else { rd.ends[c - 1] };
                        text.get(start..rd.ends[c]).unwrap_or("")
                    } else {
                        ""
                    };
                    col.push(v);
                }
                false
            }
            None => {
                let mut bad_utf8 = false;
                for (c, col) in self.columns.iter_mut().enumerate() {
                    if c < nfields {
                        match std::str::from_utf8(rd.field(c)) {
                            Ok(v) => col.push(v),
                            Err(_) => {
                                bad_utf8 = true;
                                col.push(&String::from_utf8_lossy(rd.field(c)));
                            }
                        }
                    } else {
                        col.push("");
                    }
                }
                bad_utf8 | (ncol..nfields).any(|k| std::str::from_utf8(rd.field(k)).is_err())
            }
        };
        self.records.push(RecordInfo {
            line: r.line,
            fields: effective,
            bad_utf8,
            unterminated: r.unterminated,
            nul: r.nul,
        });
    }
}

/// What the reader found about the record it just read; the fields themselves
/// are in the reader's buffer ([`Reader::field`]).
struct RawRecord {
    line: u64,
    blank: bool,
    unterminated: bool,
    nul: bool,
    /// A quote closed where RFC 4180 does not allow it (followed by more text).
    stray_quote: bool,
}

/// `0x80` in each byte of `x` that equals `b`, `0` in the others (exact: no
/// carry crosses from one byte to the next).
fn byte_mask(x: u64, b: u8) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let t = x ^ (u64::from(b) * 0x0101_0101_0101_0101);
    // Bit 7 of each byte of `((t & 0x7f..) + 0x7f..) | t` is set iff that byte of `t` is not zero.
    !(((t & !HIGH) + !HIGH) | t) & HIGH
}

/// A line [`Reader::plain_line`] read.
enum PlainLine<'a> {
    /// Nothing on the line.
    Blank,
    /// A record: its text without the line end, its line, whether it holds a NUL.
    Record { text: &'a str, line: u64, nul: bool },
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    line: u64,
    delimiter: u8,
    quote: u8,
    /// Quotes do not span lines (re-reading the lines of a broken record).
    single_line: bool,
    /// `b` holds a NUL byte somewhere (else runs are not searched for one).
    has_nul: bool,
    /// The last record's fields, one after another (reused from record to record).
    buf: Vec<u8>,
    /// End of each field in `buf`.
    ends: Vec<usize>,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8], line: u64, delimiter: u8, quote: u8) -> Reader<'a> {
        let has_nul = memchr::memchr(0, b).is_some();
        Reader { b, pos: 0, line, delimiter, quote, single_line: false, has_nul, buf: Vec::new(), ends: Vec::new() }
    }

    /// Field `k` of the last record read.
    fn field(&self, k: usize) -> &[u8] {
        let start = if k == 0 { 0 } else { self.ends[k - 1] };
        &self.buf[start..self.ends[k]]
    }

    /// The length of the run from `self.pos` to `next` (a position relative to
    /// it, or the end), noting a NUL byte in it.
    fn run(&self, next: Option<usize>, nul: &mut bool) -> usize {
        let n = next.unwrap_or(self.b.len() - self.pos);
        if self.has_nul {
            *nul |= memchr::memchr(0, &self.b[self.pos..self.pos + n]).is_some();
        }
        n
    }

    /// The line at `self.pos` read at once when it is plain — no quote, no CR
    /// but the one of a CRLF, valid UTF-8 — with the end of each field in
    /// `ends` (positions in the line's text); `None` (nothing read) otherwise,
    /// for [`Reader::record`] to read it. Most lines of a contract-shaped file
    /// are plain: their line end, delimiters, quotes and CRs are found in one
    /// pass, eight bytes at a time ([`byte_mask`]), where the record reader
    /// searches once per field; a field is copied once, from the file to its
    /// column.
    fn plain_line(&mut self, ends: &mut Vec<usize>) -> Option<PlainLine<'a>> {
        let rest = self.b.get(self.pos..).filter(|r| !r.is_empty())?;
        ends.clear();
        let (delimiter, quote) = (self.delimiter, self.quote);
        // The first line feed, quote or CR, if any.
        let mut stop = None;
        let mut words = rest.chunks_exact(8);
        let mut at = 0;
        for w in words.by_ref() {
            let x = u64::from_le_bytes(<[u8; 8]>::try_from(w).ok()?);
            let stops = byte_mask(x, b'\n') | byte_mask(x, quote) | byte_mask(x, b'\r');
            // The bytes before the first stop (all of them when there is none).
            let before = if stops == 0 { u64::MAX } else { ((stops & stops.wrapping_neg()) >> 7).wrapping_sub(1) };
            let mut d = byte_mask(x, delimiter) & before;
            while d != 0 {
                ends.push(at + d.trailing_zeros() as usize / 8);
                d &= d - 1;
            }
            if stops != 0 {
                stop = Some(at + stops.trailing_zeros() as usize / 8);
                break;
            }
            at += 8;
        }
        if stop.is_none() {
            for (k, &c) in words.remainder().iter().enumerate() {
                if c == b'\n' || c == quote || c == b'\r' {
                    stop = Some(at + k);
                    break;
                }
                if c == delimiter {
                    ends.push(at + k);
                }
            }
        }
        // The line's end, and where the next line starts.
        let (end, next) = match stop {
            None => (rest.len(), rest.len()),
            Some(p) => match (rest[p], rest.get(p + 1)) {
                (b'\n', _) => (p, p + 1),
                (b'\r', Some(b'\n')) => (p, p + 2),
                (b'\r', None) => (p, p + 1),
                _ => return None,
            },
        };
        let line = &rest[..end];
        let text = std::str::from_utf8(line).ok()?;
        self.pos += next;
        let at = self.line;
        self.line += 1;
        if line.is_empty() {
            return Some(PlainLine::Blank);
        }
        ends.push(line.len());
        let nul = self.has_nul && memchr::memchr(0, line).is_some();
        Some(PlainLine::Record { text, line: at, nul })
    }

    fn record(&mut self) -> Option<RawRecord> {
        if self.pos >= self.b.len() {
            return None;
        }
        self.buf.clear();
        self.ends.clear();
        let start_line = self.line;
        let start_pos = self.pos;
        let mut nul = false;
        let mut stray_quote = false;
        let mut unterminated = false;
        let mut in_quotes = false;
        let mut at_field_start = true;
        let mut saw_any = false;
        // Where the field being read starts in `buf`.
        let mut field_start = 0;
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
                    self.buf.clear();
                    self.buf.extend_from_slice(first);
                    self.ends.clear();
                    self.ends.push(self.buf.len());
                    return Some(RawRecord {
                        line: start_line,
                        blank: false,
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
                        self.buf.push(c);
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
                    } else if c != b'\r' {
                        // The run of quoted text up to the next quote or line end, at once.
                        let n = self.run(memchr::memchr3(self.quote, b'\n', b'\r', &self.b[self.pos..]), &mut nul);
                        self.buf.extend_from_slice(&self.b[self.pos - 1..self.pos + n]);
                        self.pos += n;
                        continue;
                    }
                    self.buf.push(c);
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
                    self.ends.push(self.buf.len());
                    field_start = self.buf.len();
                    at_field_start = true;
                    continue;
                }
                _ if c == self.quote && at_field_start && self.buf[field_start..].iter().all(|b| *b == b' ') => {
                    self.buf.truncate(field_start);
                    in_quotes = true;
                    saw_any = true;
                }
                _ => {
                    saw_any = true;
                    // The run of plain text up to the next delimiter or line end, at
                    // once (a quote inside a field is plain text).
                    let n = self.run(memchr::memchr3(self.delimiter, b'\n', b'\r', &self.b[self.pos..]), &mut nul);
                    self.buf.extend_from_slice(&self.b[self.pos - 1..self.pos + n]);
                    self.pos += n;
                }
            }
            at_field_start = false;
        }
        let blank = !saw_any && self.buf.len() == field_start;
        self.ends.push(self.buf.len());
        Some(RawRecord { line: start_line, blank, unterminated, nul, stray_quote })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Scanned {
        scan(text.as_bytes(), b',', b'"').unwrap_or_else(|e| panic!("{e}"))
    }

    /// A character cut in two by a delimiter leaves two invalid fields, not
    /// one valid character and two empty values (found by the fuzz target
    /// `csv_differential`).
    #[test]
    fn a_character_cut_by_a_delimiter_is_invalid_in_both_fields() {
        let r = scan(b"a,b,c\nM\xC3,\xBCller,x\n", b',', b'"').unwrap_or_else(|e| panic!("{e}"));
        assert!(r.records[0].bad_utf8);
        assert_eq!(r.columns[0].iter().collect::<Vec<_>>(), ["M\u{FFFD}"]);
        assert_eq!(r.columns[1].iter().collect::<Vec<_>>(), ["\u{FFFD}ller"]);
        assert_eq!(r.columns[2].iter().collect::<Vec<_>>(), ["x"]);
    }

    #[test]
    fn lines_quotes_blanks_ragged() {
        let r = s("a,b,c\r\n1,\"x\ny\",3\r\n\r\n4,5\n7,8,9,10\n\"q\"\"q\",,\n");
        assert_eq!(r.header, ["a", "b", "c"]);
        assert_eq!(r.columns[1].iter().collect::<Vec<_>>(), ["x\ny", "5", "8", ""]);
        assert_eq!(r.columns[0].iter().collect::<Vec<_>>(), ["1", "4", "7", "q\"q"]);
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
        assert_eq!(r2.columns[0].iter().collect::<Vec<_>>(), ["1", "2", "3", "4"]);
        assert!(r.records[1].unterminated && r.records[1].line == 3);
        assert!(r.records.iter().filter(|x| x.unterminated).count() == 1);
        assert_eq!(&r.columns[0][2], "3");
        assert_eq!(r.records[498].line, 500);
        // A quoted field over two lines that does close is still one record.
        let r = s("a,b\n1,\"x\ny\"\n2,z\n");
        assert_eq!(r.columns[1].iter().collect::<Vec<_>>(), ["x\ny", "z"]);
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
        assert_eq!(r.columns[0].iter().collect::<Vec<_>>(), vec!["", "R", "t", "n"]);
    }

    fn facts(r: &Result<Scanned, ScanError>) -> String {
        match r {
            Ok(s) => format!(
                "{:?} {:?} {:?} {:?} {}",
                s.header,
                // Read both ways: in order, and record by record.
                s.columns.iter().map(|c| c.iter().collect::<Vec<_>>()).collect::<Vec<_>>(),
                s.columns.iter().map(|c| (0..c.len()).map(|r| c.get(r)).collect::<Vec<_>>()).collect::<Vec<_>>(),
                s.records,
                s.blank_lines
            ),
            Err(e) => format!("{e:?}"),
        }
    }

    use proptest::prelude::*;

    /// The pieces random files are made of: short and long plain text,
    /// delimiters, line ends of every kind, quotes, spaces, invalid and
    /// multi-byte UTF-8, NUL.
    fn file_parts() -> impl Strategy<Value = Vec<Vec<u8>>> {
        proptest::collection::vec(
            prop_oneof![
                6 => "[a-c]{1,3}".prop_map(String::into_bytes),
                2 => "[a-c]{7,20}".prop_map(String::into_bytes),
                3 => Just(b",".to_vec()),
                3 => Just(b"\n".to_vec()),
                1 => Just(b"\r\n".to_vec()),
                1 => Just(b"\r".to_vec()),
                2 => Just(b"\"".to_vec()),
                1 => Just(b" ".to_vec()),
                1 => Just(vec![0xC3u8]),
                1 => Just(vec![0xBCu8]),
                1 => Just("é€".as_bytes().to_vec()),
                1 => Just(vec![0u8]),
            ],
            0..80,
        )
    }

    proptest! {
        /// The eight-byte mask marks exactly the bytes equal to the one sought.
        #[test]
        fn byte_mask_marks_exactly_the_equal_bytes(x in any::<u64>(), b in any::<u8>(), k in 0usize..8) {
            // Half the cases hold the byte sought at a chosen place.
            let mut bytes = x.to_le_bytes();
            if x % 2 == 0 {
                bytes[k] = b;
            }
            let x = u64::from_le_bytes(bytes);
            let want: u64 = bytes.iter().enumerate().filter(|(_, c)| **c == b).map(|(i, _)| 0x80u64 << (8 * i)).sum();
            prop_assert_eq!(byte_mask(x, b), want);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        /// Lines read at once where they are plain give what the record-by-record
        /// reader gives, on the same files as below, whole and cut.
        #[test]
        fn plain_lines_read_as_records_do(
            parts in file_parts(),
            pieces in 1usize..4,
        ) {
            // A long first record: a NUL in the records past it marks its record
            // instead of refusing the file.
            let mut bytes = b"h1,h2,h3\n".to_vec();
            bytes.extend(std::iter::repeat_n(b'x', 8200));
            bytes.push(b'\n');
            bytes.extend(parts.concat());
            let general = facts(&scan_with(&bytes, b',', b'"', pieces, 1, false));
            prop_assert_eq!(facts(&scan_with(&bytes, b',', b'"', pieces, 1, true)), general);
        }

        /// Cut anywhere, in any number of pieces, a file scans as it does whole:
        /// quotes that span lines, never close or close out of place, CR, CRLF,
        /// blank lines, ragged rows, NUL and invalid UTF-8 included.
        #[test]
        fn pieces_give_what_one_scan_gives(
            parts in file_parts(),
            pieces in 2usize..7,
        ) {
            let mut bytes = b"h1,h2,h3\n".to_vec();
            bytes.extend(parts.concat());
            // NUL near the start refuses the whole file; keep it to the records.
            let bytes: Vec<u8> = if bytes.len() < 8192 { bytes.into_iter().filter(|b| *b != 0).collect() } else { bytes };
            let whole = facts(&scan_in(&bytes, b',', b'"', 1, 1));
            let cut = scan_in(&bytes, b',', b'"', pieces, 1);
            prop_assert_eq!(facts(&cut), whole);
            // Any run of records read at once is those records read in order.
            if let Ok(cut) = &cut {
                for c in &cut.columns {
                    let all: Vec<&str> = c.iter().collect();
                    for start in 0..=all.len() + 1 {
                        for len in [0, 1, 2, 5, all.len() + 3] {
                            let want: Vec<&str> = all.iter().skip(start).take(len).copied().collect();
                            prop_assert_eq!(c.range(start, len).collect::<Vec<_>>(), want);
                        }
                    }
                }
            }
        }
    }
}
