//! Inline SVG charts: horizontal bars, histograms and a reliability diagram.
//! Drawn as text (no script, no library): a report must open offline, print,
//! and stay small at any run size; these three chart kinds are all it needs.

use crate::{Bin, Reliability};

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const COLORS: [&str; 3] = ["#2f6f9f", "#d08a2e", "#7a9f35"];

/// The opening tag of a chart `w` × `h` with its accessible title.
fn open(title: &str, w: f64, h: f64) -> String {
    format!(
        r#"<svg class="chart" role="img" aria-label="{t}" width="{w}" height="{h}" viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = esc(title)
    )
}

/// One legend entry: a swatch of series `k`'s colour at (`x`, `y`) and its name.
fn legend(k: usize, name: &str, x: f64, y: f64) -> String {
    format!(
        r#"<rect x="{x}" y="{y}" width="10" height="10" fill="{c}"/><text x="{tx}" y="{ty}" font-size="11">{n}</text>"#,
        c = COLORS[k % COLORS.len()],
        tx = x + 14.0,
        ty = y + 9.0,
        n = esc(name)
    )
}

/// Horizontal bars, one per (label, value), longest first as given.
pub fn bars(title: &str, rows: &[(String, u64)]) -> String {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1) as f64;
    let (label_w, bar_w, row_h) = (220.0, 360.0, 22.0);
    let h = row_h * rows.len().max(1) as f64 + 10.0;
    let mut s = open(title, label_w + bar_w + 90.0, h);
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = 5.0 + i as f64 * row_h;
        let len = (*v as f64 / max * bar_w).max(if *v > 0 { 1.0 } else { 0.0 });
        s.push_str(&format!(
            r#"<text x="{lx}" y="{ty}" text-anchor="end">{l}</text><rect x="{bx}" y="{y}" width="{len:.1}" height="{bh}" fill="{c}"/><text x="{vx:.1}" y="{ty}">{v}</text>"#,
            lx = label_w - 6.0,
            ty = y + 15.0,
            l = esc(label),
            bx = label_w,
            bh = row_h - 6.0,
            c = COLORS[0],
            vx = label_w + len + 5.0,
        ));
    }
    s.push_str("</svg>");
    s
}

/// A histogram of [`Bin`]s, series stacked, with an optional threshold line.
pub fn histogram(title: &str, bins: &[Bin], series: &[&str], threshold: Option<f64>) -> String {
    let (w, h, pad) = (520.0, 200.0, 34.0);
    let max = bins.iter().map(|b| b.counts.iter().sum::<u64>()).max().unwrap_or(0).max(1) as f64;
    let bw = (w - 2.0 * pad) / bins.len().max(1) as f64;
    let mut s = open(title, w, h + 40.0);
    for (i, b) in bins.iter().enumerate() {
        let x = pad + i as f64 * bw;
        let mut y = h;
        for (k, c) in b.counts.iter().enumerate() {
            let bh = *c as f64 / max * (h - 10.0);
            y -= bh;
            s.push_str(&format!(
                r#"<rect x="{x:.1}" y="{y:.1}" width="{ww:.1}" height="{bh:.1}" fill="{col}"><title>{lo:.1}–{hi:.1} {name}: {c}</title></rect>"#,
                ww = bw - 2.0,
                col = COLORS[k % COLORS.len()],
                lo = b.lo,
                hi = b.hi,
                name = esc(series.get(k).copied().unwrap_or("")),
            ));
        }
        s.push_str(&format!(
            r#"<text x="{tx:.1}" y="{ty}" text-anchor="middle" font-size="10">{lo:.1}</text>"#,
            tx = x,
            ty = h + 14.0,
            lo = b.lo
        ));
    }
    s.push_str(&format!(
        r#"<text x="{x:.1}" y="{ty}" text-anchor="middle" font-size="10">1.0</text>"#,
        x = w - pad,
        ty = h + 14.0
    ));
    s.push_str(&format!(r##"<line x1="{pad}" y1="{h}" x2="{x2}" y2="{h}" stroke="#444"/>"##, x2 = w - pad));
    if let Some(t) = threshold {
        let x = pad + t.clamp(0.0, 1.0) * (w - 2.0 * pad);
        s.push_str(&format!(
            r##"<line x1="{x:.1}" y1="0" x2="{x:.1}" y2="{h}" stroke="#b22" stroke-dasharray="4 3"/><text x="{tx:.1}" y="12" fill="#b22" font-size="11">{t}</text>"##,
            tx = x - 4.0,
        ));
    }
    for (k, name) in series.iter().enumerate() {
        let x = pad + k as f64 * 110.0;
        s.push_str(&legend(k, name, x, h + 22.0));
    }
    s.push_str("</svg>");
    s
}

/// Predicted against observed per bin, with the diagonal of perfect calibration.
pub fn reliability(title: &str, rel: &[Reliability]) -> String {
    let (size, pad) = (260.0, 30.0);
    let sc = |v: f64| pad + v.clamp(0.0, 1.0) * (size - 2.0 * pad);
    let mut s = open(title, size, size);
    s.push_str(&format!(
        r##"<rect x="{pad}" y="{pad}" width="{d}" height="{d}" fill="none" stroke="#999"/><line x1="{pad}" y1="{b}" x2="{b}" y2="{pad}" stroke="#999" stroke-dasharray="3 3"/>"##,
        d = size - 2.0 * pad,
        b = size - pad
    ));
    for r in rel {
        let (x, y) = (sc(r.predicted), size - sc(r.observed));
        let rad = 2.0 + (r.n as f64).ln().max(0.0);
        s.push_str(&format!(
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="{rad:.1}" fill="{c}" fill-opacity="0.7"><title>{lo:.1}–{hi:.1}: {n} groups, predicted {p:.3}, observed {o:.3}</title></circle>"#,
            c = COLORS[0],
            lo = r.lo,
            hi = r.hi,
            n = r.n,
            p = r.predicted,
            o = r.observed
        ));
    }
    s.push_str(&format!(
        r#"<text x="{mx}" y="{by}" text-anchor="middle" font-size="10">predicted</text><text x="10" y="{mx}" font-size="10" transform="rotate(-90 10 {mx})" text-anchor="middle">observed</text></svg>"#,
        mx = size / 2.0,
        by = size - 8.0
    ));
    s
}

/// Lines over runs (x = run index), one per series, values scaled to the largest.
pub fn lines(title: &str, labels: &[String], series: &[(&str, Vec<f64>)]) -> String {
    let (w, h, pad) = (520.0, 200.0, 40.0);
    let max = series.iter().flat_map(|(_, v)| v.iter().copied()).filter(|v| v.is_finite()).fold(0f64, f64::max);
    let max = if max > 0.0 { max } else { 1.0 };
    let n = labels.len().max(2) as f64 - 1.0;
    let x = |i: usize| pad + i as f64 / n * (w - 2.0 * pad);
    let y = |v: f64| h - v / max * (h - 20.0);
    let mut s = open(title, w, h + 40.0);
    s.push_str(&format!(r##"<line x1="{pad}" y1="{h}" x2="{x2}" y2="{h}" stroke="#444"/>"##, x2 = w - pad));
    let top = if max.fract() == 0.0 { format!("{max}") } else { format!("{max:.3}") };
    s.push_str(&format!(r#"<text x="4" y="24" font-size="10">{top}</text>"#));
    for (k, (name, v)) in series.iter().enumerate() {
        let pts: Vec<String> = v
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        s.push_str(&format!(
            r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="2"/>"#,
            pts.join(" "),
            c = COLORS[k % COLORS.len()]
        ));
        for (i, val) in v.iter().enumerate().filter(|(_, v)| v.is_finite()) {
            s.push_str(&format!(
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{c}"><title>{}: {name} {val:.4}</title></circle>"#,
                x(i),
                y(*val),
                esc(labels.get(i).map_or("", String::as_str)),
                c = COLORS[k % COLORS.len()],
                name = esc(name),
            ));
        }
        let lx = pad + k as f64 * 130.0;
        s.push_str(&legend(k, name, lx, h + 22.0));
    }
    for (i, l) in labels.iter().enumerate() {
        s.push_str(&format!(
            r#"<text x="{:.1}" y="{}" text-anchor="middle" font-size="10">{}</text>"#,
            x(i),
            h + 13.0,
            esc(l.get(..10).unwrap_or(l))
        ));
    }
    s.push_str("</svg>");
    s
}

/// First-digit shares 1–9 as bars, Benford's expected shares as marks.
pub fn benford(title: &str, shares: &[f64]) -> String {
    let (w, h, pad) = (240.0, 120.0, 16.0);
    let bw = (w - 2.0 * pad) / 9.0;
    let top = shares.iter().copied().fold(0.35f64, f64::max);
    let sc = |v: f64| v / top * (h - 10.0);
    let mut s = open(title, w, h + 16.0);
    for (i, v) in shares.iter().enumerate() {
        let x = pad + i as f64 * bw;
        let e = (1.0 + 1.0 / (i + 1) as f64).log10();
        s.push_str(&format!(
            r##"<rect x="{x:.1}" y="{y:.1}" width="{ww:.1}" height="{bh:.1}" fill="{c}"><title>digit {d}: {v:.3} (Benford {e:.3})</title></rect><line x1="{x:.1}" y1="{ey:.1}" x2="{x2:.1}" y2="{ey:.1}" stroke="#b22" stroke-width="2"/><text x="{tx:.1}" y="{ty}" text-anchor="middle" font-size="10">{d}</text>"##,
            y = h - sc(*v),
            ww = bw - 3.0,
            bh = sc(*v),
            c = COLORS[0],
            d = i + 1,
            ey = h - sc(e),
            x2 = x + bw - 3.0,
            tx = x + (bw - 3.0) / 2.0,
            ty = h + 12.0,
        ));
    }
    s.push_str("</svg>");
    s
}
