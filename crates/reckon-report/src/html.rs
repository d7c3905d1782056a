//! `report.html`: one self-contained page (inline CSS and SVG, no script).
//! Each section is a `<section id=…>`; each figure the manifest also holds is
//! a `<span data-metric="…">`; each count opens the ids it counts.

use std::fmt::Write;

use crate::svg::{bars, benford, esc, histogram, lines, reliability};
use crate::{Count, Item, Report};

const CSS: &str = "body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}\
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #2f6f9f;padding-bottom:.2em;margin-top:2em}\
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}\
th{background:#eef3f7}td.n{text-align:right;font-variant-numeric:tabular-nums}.ok{color:#286b28;font-weight:600}.bad{color:#b22;font-weight:600}\
details{margin:.1em 0}summary{cursor:pointer}.ids{font-family:ui-monospace,monospace;font-size:12px;color:#444;max-width:900px}\
.charts{display:flex;flex-wrap:wrap;gap:1.5em}figure{margin:0}figcaption{font-weight:600;margin-bottom:.3em}.chart text{font-size:12px;fill:#222}.muted{color:#666}\
@media print{details{display:block}section{break-inside:avoid-page}}";

fn metric(name: &str, value: impl std::fmt::Display) -> String {
    format!(r#"<span data-metric="{}">{}</span>"#, esc(name), esc(&value.to_string()))
}

/// A table of counts; each count opens its ids and names where all of them are.
fn counts(caption: &str, metric_prefix: &str, rows: &[Count]) -> String {
    let mut s = format!("<table><tr><th>{}</th><th>rows</th><th>which</th></tr>", esc(caption));
    for c in rows {
        let more = if c.count as usize > c.ids.len() {
            format!(" … the first {} of {}; all: {}", c.ids.len(), c.count, esc(&c.source))
        } else {
            format!(" — {}", esc(&c.source))
        };
        let _ = write!(
            s,
            r#"<tr><td>{l}</td><td class="n">{m}</td><td><details><summary>ids</summary><div class="ids">{ids}{more}</div></details></td></tr>"#,
            l = esc(&c.label),
            m = metric(&format!("{metric_prefix}.{}", c.label), c.count),
            ids = esc(&c.ids.join(", ")),
        );
    }
    s.push_str("</table>");
    s
}

/// A chart with its caption.
fn figure(caption: &str, svg: String) -> String {
    format!("<figure><figcaption>{}</figcaption>{svg}</figure>", esc(caption))
}

fn chart_rows(rows: &[Count]) -> Vec<(String, u64)> {
    rows.iter().map(|c| (c.label.clone(), c.count)).collect()
}

fn items(rows: &[Item], with_records: bool) -> String {
    let mut s = String::from(
        "<table><tr><th>exception</th><th>kind</th><th>band</th><th>score</th><th>entity</th><th>amount</th><th>reasons</th></tr>",
    );
    for i in rows {
        let amount = i.amount.as_ref().map(|a| format!("{} {}", a.amount, a.currency)).unwrap_or_default();
        let recs = if with_records {
            format!("<div class=\"ids\">{}</div>", esc(&i.records.join(", ")))
        } else {
            String::new()
        };
        let _ = write!(
            s,
            r#"<tr><td class="ids">{id}</td><td>{k}</td><td>{b}</td><td class="n">{sc:.3}</td><td>{e}</td><td class="n">{a}</td><td>{r}{recs}</td></tr>"#,
            id = esc(&i.exception_id),
            k = esc(&i.kind),
            b = esc(&i.band),
            sc = i.score,
            e = esc(i.entity.as_deref().unwrap_or("")),
            a = esc(&amount),
            r = i.reasons.iter().map(|r| esc(r)).collect::<Vec<_>>().join("<br>"),
        );
    }
    s.push_str("</table>");
    s
}

/// The report as one HTML page.
pub fn render(r: &Report) -> String {
    let mut s = String::with_capacity(64 * 1024);
    let _ = write!(
        s,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>reckon run {id}</title><style>{CSS}</style></head><body>"#,
        id = esc(&r.run.run_id)
    );
    let _ = write!(
        s,
        r#"<header><h1>reckon run report</h1><p class="muted">run {} · started {} · reckon {} · contract {} · input {}</p></header>"#,
        metric("run_id", &r.run.run_id),
        esc(&r.run.started_at),
        esc(&r.run.reckon_version),
        esc(&r.run.contract_version),
        esc(&r.run.input_dir)
    );

    // Conservation
    let c = &r.conservation;
    let _ = write!(
        s,
        r#"<section id="conservation"><h2>Conservation: every input row accounted for</h2><p>{}</p>"#,
        if c.balanced {
            r#"<span class="ok" data-metric="conservation.balanced">balanced</span> — every row loaded or rejected with a reason; every bank entry matched or in an exception; money totals exact."#.to_string()
        } else {
            format!(
                r#"<span class="bad" data-metric="conservation.balanced">not balanced</span>: {}"#,
                esc(&c.problems.join("; "))
            )
        }
    );
    s.push_str("<table><tr><th>table</th><th>input rows</th><th>loaded</th><th>rejected</th></tr>");
    for t in &c.tables {
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            esc(&t.table),
            metric(&format!("tables.{}.input_rows", t.table), t.input_rows),
            metric(&format!("tables.{}.loaded_rows", t.table), t.loaded_rows),
            metric(&format!("tables.{}.rejected_rows", t.table), t.rejected_rows)
        );
    }
    s.push_str("</table>");
    let _ = write!(
        s,
        "<p>Bank entries: {} loaded = {} matched + {} in exceptions + {} unreconciled (rejected rows: <code>rejects.parquet</code>).</p>",
        metric("bank.loaded", c.bank_loaded),
        metric("bank.matched", c.bank_matched),
        metric("bank.in_exceptions", c.bank_in_exceptions),
        metric("bank.unreconciled", c.bank_unreconciled)
    );
    if !c.refused_files.is_empty() {
        let _ = write!(s, r#"<p class="bad">Refused files: {}</p>"#, esc(&c.refused_files.join(", ")));
    }
    if !c.ignored_files.is_empty() {
        let _ = write!(
            s,
            "<details><summary>{} entries of the input folder ignored</summary><div class=\"ids\">{}</div></details>",
            c.ignored_files.len(),
            esc(&c.ignored_files.join("; "))
        );
    }
    s.push_str("<table><tr><th>table</th><th>money column</th><th>currency</th><th>loaded total</th></tr>");
    for (t, col, cur, a) in &c.money {
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td class="n">{}</td></tr>"#,
            esc(t),
            esc(col),
            esc(cur),
            metric(&format!("money.{t}.{col}.{cur}"), a)
        );
    }
    s.push_str("</table></section>");

    // Cash
    s.push_str(r#"<section id="cash"><h2>Cash matching</h2>"#);
    match &r.cash {
        None => s.push_str("<p class=\"muted\">No receipts and open items in this run.</p>"),
        Some(cv) => {
            let _ = write!(
                s,
                "<p>{} receipts; model {}; auto threshold {}.</p>",
                metric("cash.receipts", cv.receipts),
                esc(cv.model.as_deref().unwrap_or("rules (not calibrated)")),
                cv.auto_threshold.map_or("from the rules".to_string(), |t| t.to_string())
            );
            s.push_str("<div class=\"charts\">");
            s.push_str(&figure("Receipts by outcome", bars("Receipts by outcome", &chart_rows(&cv.by_status))));
            s.push_str(&figure(
                "Applied receipts by evidence method",
                bars("Applied receipts by evidence method", &chart_rows(&cv.by_method)),
            ));
            s.push_str(&figure(
                "Applied receipts by residual reason",
                bars("Applied receipts by residual reason", &chart_rows(&cv.residual_reasons)),
            ));
            s.push_str(&figure(
                "Confidence of applied receipts",
                histogram("Confidence of applied receipts", &cv.confidence, &["auto", "review"], cv.auto_threshold),
            ));
            if !cv.reliability.is_empty() {
                s.push_str(&figure(
                    "Model reliability on its validation scenario",
                    reliability("Model reliability on its validation scenario", &cv.reliability),
                ));
            }
            s.push_str("</div>");
            s.push_str(&counts("receipt outcome", "cash.status", &cv.by_status));
            s.push_str(&counts("evidence method", "cash.method", &cv.by_method));
            s.push_str(&counts("residual reason", "cash.residual", &cv.residual_reasons));
            if !cv.reliability.is_empty() {
                s.push_str(
                    "<table><tr><th>predicted</th><th>groups</th><th>mean predicted</th><th>observed right</th></tr>",
                );
                for b in &cv.reliability {
                    let _ = write!(
                        s,
                        r#"<tr><td>{:.1}–{:.1}</td><td class="n">{}</td><td class="n">{:.3}</td><td class="n">{:.3}</td></tr>"#,
                        b.lo, b.hi, b.n, b.predicted, b.observed
                    );
                }
                s.push_str("</table>");
            }
            if let Some((p, l, t)) = cv.validation {
                let _ = write!(
                    s,
                    "<p>The model's validation at its threshold (its <code>metrics.json</code>, a scenario it was not trained on): auto precision {p:.4} (lower bound {l:.4}), touchless {t:.4}.</p>"
                );
            }
            if !cv.sweep.is_empty() {
                s.push_str("<h3>Threshold sweep on this run</h3><p class=\"muted\">Receipts whose proposed group scores at or above each cut: how many a cut there would apply without a person (precision at a cut needs labels: <code>reckon eval</code>).</p><table><tr><th>cut</th><th>receipts at or above</th></tr>");
                for (c, n) in &cv.sweep {
                    let mark =
                        if cv.auto_threshold.is_some_and(|t| (t - c).abs() < 1e-9) { " (the model's)" } else { "" };
                    let _ = write!(s, r#"<tr><td>{c}{mark}</td><td class="n">{n}</td></tr>"#);
                }
                s.push_str("</table>");
            }
            s.push_str("<h3>Largest unapplied receipts</h3>");
            s.push_str(&items(&cv.largest_unapplied, true));
        }
    }
    s.push_str("</section>");

    // Duplicates
    s.push_str(r#"<section id="duplicates"><h2>Duplicate invoices</h2>"#);
    match &r.duplicates {
        None => s.push_str("<p class=\"muted\">No duplicate invoices flagged.</p>"),
        Some(d) => {
            let risk: Vec<String> = d
                .at_risk
                .iter()
                .map(|a| {
                    format!("{} {}", metric(&format!("duplicates.at_risk.{}", a.currency), &a.amount), esc(&a.currency))
                })
                .collect();
            let _ = write!(
                s,
                "<p>{} clusters; a second payment would cost {}.</p>",
                metric("duplicates.clusters", d.clusters.len()),
                risk.join(", ")
            );
            s.push_str(&items(&d.clusters, true));
        }
    }
    s.push_str("</section>");

    // Journals
    s.push_str(r#"<section id="journals"><h2>Journal entries</h2>"#);
    match &r.journals {
        None => s.push_str("<p class=\"muted\">No GL journal lines in this run.</p>"),
        Some(j) => {
            let _ = write!(
                s,
                "<p>{} journals ({} lines) scored.</p>",
                metric("journals.journals", j.journals),
                metric("journals.lines", j.lines)
            );
            s.push_str("<div class=\"charts\">");
            s.push_str(&figure("Journals by risk", histogram("Journals by risk", &j.risk, &["journals"], None)));
            s.push_str(&figure(
                "Journals per test that fired",
                bars("Journals per test that fired", &chart_rows(&j.by_test)),
            ));
            s.push_str("</div>");
            s.push_str(&counts("test", "journals.test", &j.by_test));
            if !j.benford.is_empty() {
                s.push_str("<h3>First digits per preparer against Benford's law</h3><p class=\"muted\">Bars: observed shares of first digits 1–9; red marks: Benford's expected shares. Six preparers: those the <code>benford</code> test judges nonconforming (enough lines and a mean absolute deviation above the bound) first, then those with the most lines; all are in <code>benford.parquet</code>.</p><div class=\"charts\">");
                for b in j.benford.iter().take(6) {
                    let cap = format!(
                        "{} — {} lines, MAD {:.4}{}",
                        b.preparer,
                        b.lines,
                        b.mad,
                        if b.nonconforming { ", nonconforming" } else { "" }
                    );
                    s.push_str(&figure(&cap, benford(&cap, &b.shares)));
                }
                s.push_str("</div>");
            }
            s.push_str("<h3>Highest-risk journals</h3>");
            s.push_str(&items(&j.top, false));
        }
    }
    s.push_str("</section>");

    // Exceptions
    let e = &r.exceptions;
    let _ = write!(
        s,
        r#"<section id="exceptions"><h2>Exceptions</h2><p>{} exceptions in the feed.</p><div class="charts">"#,
        metric("exceptions.total", e.total)
    );
    s.push_str(&figure("Exceptions by kind", bars("Exceptions by kind", &chart_rows(&e.by_kind))));
    s.push_str(&figure("Exceptions by band", bars("Exceptions by band", &chart_rows(&e.by_band))));
    s.push_str(&figure("Exceptions by entity", bars("Exceptions by entity", &chart_rows(&e.by_entity))));
    s.push_str("</div>");
    s.push_str(&counts("kind", "exceptions.kind", &e.by_kind));
    s.push_str(&counts("band", "exceptions.band", &e.by_band));
    s.push_str(&counts("priority", "exceptions.priority", &e.by_priority));
    s.push_str(&counts("entity", "exceptions.entity", &e.by_entity));
    s.push_str("<table><tr><th>kind</th><th>currency</th><th>amount</th></tr>");
    for (k, cur, a) in &e.amount_by_kind {
        let _ = write!(s, r#"<tr><td>{}</td><td>{}</td><td class="n">{}</td></tr>"#, esc(k), esc(cur), esc(a));
    }
    s.push_str("</table></section>");

    // Across runs
    if let Some(t) = &r.trends {
        let _ = write!(
            s,
            r#"<section id="trends"><h2>Across runs</h2><p>{} runs, oldest first.</p><div class="charts">"#,
            metric("trends.runs", t.runs.len())
        );
        let labels: Vec<String> = t.runs.iter().map(|p| p.started_at.clone()).collect();
        let col = |f: &dyn Fn(&crate::RunPoint) -> f64| t.runs.iter().map(f).collect::<Vec<f64>>();
        s.push_str(&figure(
            "Touchless rate",
            lines("Touchless rate", &labels, &[("touchless", col(&|p| p.touchless))]),
        ));
        s.push_str(&figure(
            "Exceptions: backlog, new and no longer raised",
            lines(
                "Exceptions: backlog, new and no longer raised",
                &labels,
                &[
                    ("backlog", col(&|p| p.exceptions as f64)),
                    ("new", col(&|p| p.new as f64)),
                    ("no longer raised", col(&|p| p.gone as f64)),
                ],
            ),
        ));
        s.push_str(&figure(
            "Confidence drift (PSI against the first run)",
            lines(
                "Confidence drift (PSI against the first run)",
                &labels,
                &[("PSI", col(&|p| p.confidence_psi.unwrap_or(f64::NAN)))],
            ),
        ));
        s.push_str("</div><table><tr><th>started</th><th>run</th><th>receipts</th><th>touchless</th><th>exceptions</th><th>new</th><th>no longer raised</th><th>mean auto confidence</th><th>confidence PSI</th></tr>");
        for (i, p) in t.runs.iter().enumerate() {
            let _ = write!(
                s,
                r#"<tr><td>{}</td><td class="ids">{}</td><td class="n">{}</td><td class="n">{:.4}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
                esc(&p.started_at),
                esc(&p.run_id),
                p.receipts,
                p.touchless,
                metric(&format!("trends.{i}.exceptions"), p.exceptions),
                metric(&format!("trends.{i}.new"), p.new),
                metric(&format!("trends.{i}.gone"), p.gone),
                p.mean_auto_confidence.map_or("–".to_string(), |c| format!("{c:.4}")),
                p.confidence_psi.map_or("–".to_string(), |c| format!("{c:.4}")),
            );
        }
        s.push_str("</table><h3>Age of the latest run's exceptions (days since first raised)</h3><table><tr><th>kind</th><th>0–1</th><th>2–7</th><th>8–30</th><th>over 30</th></tr>");
        for (kind, b) in &t.aging {
            let _ = write!(
                s,
                r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
                esc(kind),
                b[0],
                b[1],
                b[2],
                b[3]
            );
        }
        s.push_str("</table><p class=\"muted\">Decisions per person, turnaround and SLA breaches need the state store (issue: reconciliation that remembers).</p></section>");
    }

    // Models, stages, timings
    s.push_str(r#"<section id="models"><h2>Models and stages</h2><table><tr><th>model</th><th>folder</th><th>sha256 of model.onnx</th></tr>"#);
    for m in &r.models {
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td>{}</td><td class="ids">{}</td></tr>"#,
            metric(&format!("model.{}", m.id), &m.id),
            esc(&m.path),
            esc(&m.sha256)
        );
    }
    s.push_str("</table><table><tr><th>stage</th><th>result</th></tr>");
    for (name, line) in &r.stages {
        let _ = write!(s, "<tr><td>{}</td><td>{}</td></tr>", esc(name), esc(line));
    }
    s.push_str("</table>");
    let timings: Vec<(String, u64)> = r.timings_ms.clone();
    s.push_str(&figure("Milliseconds per step", bars("Milliseconds per step", &timings)));
    s.push_str("</section></body></html>\n");
    s
}
