//! Small text helpers shared by the parsers.

/// Decodes bytes as UTF-8; legacy files that are not valid UTF-8 are decoded as
/// Windows-1252 or as code page 852 (Central European DOS, still sent by some
/// banks), whichever reads as more letters; never fails.
pub fn decode(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => {
            let w = encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned();
            let c: String =
                bytes.iter().map(|&b| if b < 0x80 { b as char } else { CP852[(b - 0x80) as usize] }).collect();
            let letters = |s: &str| s.chars().filter(|c| !c.is_ascii() && c.is_alphabetic()).count();
            std::borrow::Cow::Owned(if letters(&c) > letters(&w) { c } else { w })
        }
    }
}

/// Upper half of code page 852.
const CP852: [char; 128] = [
    'Ç', 'ü', 'é', 'â', 'ä', 'ů', 'ć', 'ç', 'ł', 'ë', 'Ő', 'ő', 'î', 'Ź', 'Ä', 'Ć', 'É', 'Ĺ', 'ĺ', 'ô', 'ö', 'Ľ', 'ľ',
    'Ś', 'ś', 'Ö', 'Ü', 'Ť', 'ť', 'Ł', '×', 'č', 'á', 'í', 'ó', 'ú', 'Ą', 'ą', 'Ž', 'ž', 'Ę', 'ę', '¬', 'ź', 'Č', 'ş',
    '«', '»', '░', '▒', '▓', '│', '┤', 'Á', 'Â', 'Ě', 'Ş', '╣', '║', '╗', '╝', 'Ż', 'ż', '┐', '└', '┴', '┬', '├', '─',
    '┼', 'Ă', 'ă', '╚', '╔', '╩', '╦', '╠', '═', '╬', '¤', 'đ', 'Đ', 'Ď', 'Ë', 'ď', 'Ň', 'Í', 'Î', 'ě', '┘', '┌', '█',
    '▄', 'Ţ', 'Ů', '▀', 'Ó', 'ß', 'Ô', 'Ń', 'ń', 'ň', 'Š', 'š', 'Ŕ', 'Ú', 'ŕ', 'Ű', 'ý', 'Ý', 'ţ', '´', '\u{ad}', '˝',
    '˛', 'ˇ', '˘', '§', '÷', '¸', '°', '¨', '˙', 'ű', 'Ř', 'ř', '■', '\u{a0}',
];

/// Start offsets of every line, for byte offset → 1-based line number.
pub struct Lines(Vec<usize>);

impl Lines {
    pub fn new(text: &[u8]) -> Lines {
        let mut v = vec![0];
        v.extend(text.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1));
        Lines(v)
    }
    pub fn line_of(&self, offset: usize) -> u64 {
        match self.0.binary_search(&offset) {
            Ok(i) => i as u64 + 1,
            Err(i) => i as u64,
        }
    }
}

/// `YYMMDD` → ISO date with the SWIFT century window (00–79 → 20xx, 80–99 → 19xx).
pub fn yymmdd(s: &str) -> Option<(i32, u32, u32)> {
    if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let yy: i32 = s[0..2].parse().ok()?;
    let m: u32 = s[2..4].parse().ok()?;
    let d: u32 = s[4..6].parse().ok()?;
    let y = if yy < 80 { 2000 + yy } else { 1900 + yy };
    valid(y, m, d).then_some((y, m, d))
}

pub fn valid(y: i32, m: u32, d: u32) -> bool {
    (1..=12).contains(&m) && d >= 1 && d <= reckon_core::date::days_in_month(y, m)
}

pub fn iso(y: i32, m: u32, d: u32) -> String {
    // Hot in every parser: written by hand instead of through `format!`.
    if !(0..=9999).contains(&y) || m > 99 || d > 99 {
        return format!("{y:04}-{m:02}-{d:02}");
    }
    let (y, m, d) = (y as u32, m, d);
    let digit = |v: u32| char::from(b'0' + (v % 10) as u8);
    let mut s = String::with_capacity(10);
    for c in [
        digit(y / 1000),
        digit(y / 100),
        digit(y / 10),
        digit(y),
        '-',
        digit(m / 10),
        digit(m),
        '-',
        digit(d / 10),
        digit(d),
    ] {
        s.push(c);
    }
    s
}

/// Collapses runs of whitespace to one space and trims.
pub fn squash(s: &str) -> String {
    squash_cow(s).into_owned()
}

/// [`squash`], borrowing when the text is already clean.
pub fn squash_cow(s: &str) -> std::borrow::Cow<'_, str> {
    // Fast path, one pass: already single-spaced, trimmed and ASCII (most bank text).
    let b = s.as_bytes();
    let mut clean = b.first() != Some(&b' ') && b.last() != Some(&b' ');
    let mut prev_space = false;
    for &c in b {
        if c >= 0x80 || matches!(c, b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) || (c == b' ' && prev_space) {
            clean = false;
            break;
        }
        prev_space = c == b' ';
    }
    if clean {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    std::borrow::Cow::Owned(out)
}
