//! What a run is doing, as it does it: a tracing layer that turns the
//! pipeline's `stage start` and `… done` events (ingest, the conversion into
//! tables, every registered stage) into progress people can see.
//!
//! On a terminal each step gets a spinner that becomes a line with its time
//! (indicatif); otherwise one plain line per finished step goes to stderr.
//! `--quiet` installs no layer; `--log-format json` leaves the events to the
//! JSON logs (`--log info` shows them there).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

static QUIET: AtomicBool = AtomicBool::new(false);

/// `--quiet`: no spinners or progress bars anywhere.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether progress may be drawn on stderr: a terminal and not `--quiet`.
pub fn visible() -> bool {
    !QUIET.load(Ordering::Relaxed) && std::io::IsTerminal::is_terminal(&std::io::stderr())
}

/// The fields of one pipeline progress event.
#[derive(Default)]
struct Fields {
    message: String,
    stage: Option<String>,
    ms: Option<u64>,
    summary: Option<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "stage" => self.stage = Some(value.to_string()),
            "summary" => self.summary = Some(value.to_string()),
            "message" => self.message = value.to_string(),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "ms" {
            self.ms = Some(value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "summary" => self.summary = Some(format!("{value:?}")),
            "stage" => self.stage = Some(format!("{value:?}").trim_matches('"').to_string()),
            _ => {}
        }
    }
}

/// Where progress goes.
enum Target {
    /// Spinners on a terminal, one per running step.
    Bars { multi: MultiProgress, bars: Mutex<BTreeMap<String, ProgressBar>> },
    /// One line per finished step on stderr.
    Lines,
}

/// The layer; see the module docs.
pub struct StageProgress {
    target: Target,
}

impl StageProgress {
    /// Bars when stderr is a terminal, lines otherwise.
    pub fn for_stderr() -> StageProgress {
        let target = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            Target::Bars { multi: MultiProgress::new(), bars: Mutex::new(BTreeMap::new()) }
        } else {
            Target::Lines
        };
        StageProgress { target }
    }
}

/// The events the layer reads: the pipeline's, at info and above.
pub fn pipeline_events(m: &tracing::Metadata<'_>) -> bool {
    m.target().starts_with("reckon_pipeline") && *m.level() <= tracing::Level::INFO
}

/// `stage start` and `stage done` / `ingest done` / `tables done` from the pipeline.
fn step(f: &Fields) -> Option<(&str, bool)> {
    let stage = f.stage.as_deref()?;
    match f.message.as_str() {
        "stage start" => Some((stage, false)),
        m if m.ends_with(" done") => Some((stage, true)),
        _ => None,
    }
}

/// The line a finished step leaves: `reckon: cash done in 32.1 s — ok (…)`.
pub fn done_line(stage: &str, ms: Option<u64>, summary: Option<&str>) -> String {
    let secs = match ms {
        Some(m) if m < 1000 => format!(" in {m} ms"),
        Some(m) => format!(" in {:.1} s", m as f64 / 1000.0),
        None => String::new(),
    };
    match summary {
        Some(s) if !s.is_empty() => format!("reckon: {stage} done{secs} — {s}"),
        _ => format!("reckon: {stage} done{secs}"),
    }
}

impl<S: Subscriber> Layer<S> for StageProgress {
    fn on_event(&self, event: &Event<'_>, _cx: Context<'_, S>) {
        if !event.metadata().target().starts_with("reckon_pipeline") {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let Some((stage, done)) = step(&f) else { return };
        match &self.target {
            Target::Lines => {
                if done {
                    eprintln!("{}", done_line(stage, f.ms, f.summary.as_deref()));
                }
            }
            Target::Bars { multi, bars } => {
                let Ok(mut bars) = bars.lock() else { return };
                if done {
                    if let Some(pb) = bars.remove(stage) {
                        pb.finish_with_message(done_line(stage, f.ms, f.summary.as_deref()));
                    }
                } else {
                    let pb = multi.add(ProgressBar::new_spinner());
                    if let Ok(style) = ProgressStyle::with_template("{spinner} reckon: {msg} ({elapsed})") {
                        pb.set_style(style);
                    }
                    pb.set_message(stage.to_string());
                    pb.enable_steady_tick(Duration::from_millis(120));
                    bars.insert(stage.to_string(), pb);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_step_is_one_line() {
        assert_eq!(
            done_line("cash", Some(32_149), Some("ok (model cash@2.2)")),
            "reckon: cash done in 32.1 s — ok (model cash@2.2)"
        );
        assert_eq!(done_line("tables", None, None), "reckon: tables done");
        assert_eq!(done_line("ingest", Some(42), Some("")), "reckon: ingest done in 42 ms");
        let start = Fields { message: "stage start".into(), stage: Some("cash".into()), ..Fields::default() };
        assert_eq!(step(&start), Some(("cash", false)));
        let done = Fields { message: "ingest done".into(), stage: Some("ingest".into()), ..Fields::default() };
        assert_eq!(step(&done), Some(("ingest", true)));
        let other = Fields { message: "state read".into(), ..Fields::default() };
        assert_eq!(step(&other), None);
    }
}
