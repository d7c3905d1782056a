//! The journal stage: GL lines → reckon-journals's journal-entry tests and the
//! risk model → `journal_scores.parquet`, `benford.parquet`, `journal_anomaly`
//! and `control_violation` exceptions. Training and evaluation are in reckon-lab.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use polars::prelude::*;
use reckon_feed::{Band, Exception, ExceptionKind, Reason};
use reckon_journals::{Book, JournalResult, JournalTest, Tests};

use crate::stage::{BuildError, RunInputs, Settled, Stage, StageError, StageOutput, StageReport};

/// The name@version the scores carry (the rule set; an ML model will add its own).
pub const MODEL: &str = "journal_tests@1.0";

/// Journal-entry testing as a stage: the configured tests on every GL journal,
/// risk from the model (or the rules alone), `journal_scores` table,
/// `control_violation` and `journal_anomaly` exceptions.
#[derive(Debug)]
pub struct JournalsStage {
    tests: Tests,
    model: Option<RiskModel>,
    review_risk: f64,
    /// The risk model's reference (its folder's `reference.json`, cut from a
    /// book like the ones the runs score: `reckon models reference`): every
    /// journal scored is counted against it.
    monitor: Option<crate::model::Monitor>,
    limits: reckon_monitor::DriftLimits,
}

impl JournalsStage {
    pub fn build(config: &crate::Config) -> Result<Box<dyn Stage>, BuildError> {
        let tests = config.journals.build()?;
        let err = |source: crate::model::ModelError| BuildError::Model { section: "journals", source };
        let model = match config.journals.model.as_str() {
            "rules" => None,
            name => {
                let dir = crate::model::find("journals.model", name, "set it to \"rules\" for the tests alone")
                    .map_err(err)?;
                Some(RiskModel::load(&dir).map_err(err)?)
            }
        };
        let review_risk = model.as_ref().map_or(config.journals.review_risk, RiskModel::review);
        let monitor = match &model {
            Some(m) => crate::model::Monitor::of(&m.risk).map_err(err)?,
            None => None,
        };
        Ok(Box::new(JournalsStage { tests, model, review_risk, monitor, limits: config.monitor.clone() }))
    }
}

impl Stage for JournalsStage {
    fn name(&self) -> &'static str {
        "journals"
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["journal_scores", "benford"]
    }

    fn reads(&self) -> &'static [reckon_core::Table] {
        &[reckon_core::Table::GlJournalLines]
    }

    fn run(&self, inputs: &RunInputs<'_>) -> Result<StageOutput, StageError> {
        let fail = |message: String| StageError { stage: self.name(), message };
        let Some(book) = inputs.tables.book.get() else { return Ok(StageOutput::no_input()) };
        let book = book.as_ref();
        let mut results = self.tests.run_book(book);
        let mut scored = RiskScores::default();
        if let Some(m) = &self.model {
            scored = m.score_with_inputs(&self.tests, book, &mut results).map_err(|e| fail(e.to_string()))?;
        }
        let model_id = self.model.as_ref().map_or(MODEL.to_string(), |m| m.risk.id());
        let mut exceptions = exceptions(book, &results, self.review_risk, &model_id, inputs.run_id);
        let mut entries: Vec<crate::manifest::ModelEntry> =
            self.model.iter().flat_map(|m| [&m.risk, &m.iforest]).map(crate::manifest::ModelEntry::of).collect();
        // The journals scored against the risk model's reference.
        if let (Some(monitor), Some(entry)) = (&self.monitor, entries.first_mut()) {
            monitor.add(&scored.inputs, &scored.risk);
            let drift = monitor.take(&self.limits);
            exceptions.extend(crate::model::drift_exception(&entry.id, &drift, inputs.run_id));
            entry.drift = Some(drift);
        }
        // A run with a store keeps each raised journal's model inputs and risk:
        // with the decisions on its exception, a row to retrain the model on.
        let learned = crate::remember::Learned {
            flags: match &self.model {
                Some(m) if inputs.memory.is_some() => flag_scores(&results, &exceptions, &scored.inputs, m),
                _ => Vec::new(),
            },
            drift: entries
                .iter()
                .filter_map(|e| Some((e.id.clone(), serde_json::to_string(e.drift.as_ref()?).ok()?)))
                .collect(),
            ..Default::default()
        };
        // The model inputs (a row of floats per journal) are done with before
        // the per-line table is built: at 2 M journals they are 136 MB.
        drop(scored);
        let table = scores_frame(book, &results, &model_id).map_err(|e| fail(e.to_string()))?;
        let mut counts = BTreeMap::new();
        counts.insert("journals".to_string(), results.len() as u64);
        counts.insert("unbalanced".to_string(), results.iter().filter(|j| j.unbalanced).count() as u64);
        counts.insert(
            "at_or_above_review".to_string(),
            results.iter().filter(|j| j.risk >= self.review_risk).count() as u64,
        );
        Ok(StageOutput {
            report: StageReport {
                summary: format!(
                    "ok ({model_id}: {} lines, {} journals, {} at or above risk {})",
                    book.len(),
                    results.len(),
                    counts["at_or_above_review"],
                    self.review_risk,
                ),
                rows_in: book.len() as u64,
                rows_out: table.height() as u64,
                counts,
            },
            tables: vec![
                ("journal_scores", table),
                ("benford", benford_frame(&self.tests, book).map_err(|e| fail(e.to_string()))?),
            ],
            exceptions,
            learned,
            models: entries,
            settled: Settled {
                gl_scored: Some(results.iter().flat_map(|j| j.lines(book).iter().map(|&i| i as usize)).collect()),
                ..Settled::default()
            },
        })
    }
}

/// `benford.parquet`: per preparer, lines with an amount, first digits 1–9, the
/// mean absolute deviation from Benford's law and whether the `benford` test
/// judges it nonconforming.
pub fn benford_frame(tests: &Tests, book: &Book) -> PolarsResult<DataFrame> {
    let rows = tests.benford_profiles(book);
    let mut cols = vec![
        Column::new("preparer_id".into(), rows.iter().map(|r| r.preparer.as_str()).collect::<Vec<_>>()),
        Column::new("lines".into(), rows.iter().map(|r| r.lines).collect::<Vec<_>>()),
    ];
    for d in 1..=9 {
        cols.push(Column::new(format!("digit_{d}").into(), rows.iter().map(|r| r.counts[d - 1]).collect::<Vec<_>>()));
    }
    cols.push(Column::new("mad".into(), rows.iter().map(|r| r.mad).collect::<Vec<_>>()));
    cols.push(Column::new("nonconforming".into(), rows.iter().map(|r| r.nonconforming).collect::<Vec<_>>()));
    DataFrame::new(rows.len(), cols)
}

/// `journal_scores.parquet`: one row per line with its journal's score and flags.
///
/// A year of a large company's GL has millions of lines, so the columns are
/// built straight from the book: each line's journal is a `u32`, and each
/// distinct list of flags is joined once.
pub fn scores_frame(book: &Book, results: &[JournalResult], model: &str) -> PolarsResult<DataFrame> {
    const NONE: u32 = u32::MAX;
    let mut journal_of = vec![NONE; book.len()];
    // The joined flags of each result, as an index into `joined`.
    let mut joined: Vec<String> = Vec::new();
    let mut seen: HashMap<Box<[JournalTest]>, u32> = HashMap::new();
    let mut flags_of: Vec<u32> = Vec::with_capacity(results.len());
    let mut tests: Vec<JournalTest> = Vec::new();
    for (k, j) in results.iter().enumerate() {
        for &i in j.lines(book) {
            journal_of[i as usize] = k as u32;
        }
        tests.clear();
        tests.extend(j.flags.iter().map(|f| f.test));
        let at = match seen.get(tests.as_slice()) {
            Some(&at) => at,
            None => {
                let at = joined.len() as u32;
                joined.push(tests.iter().map(|t| t.as_str()).collect::<Vec<_>>().join("|"));
                seen.insert(tests.clone().into_boxed_slice(), at);
                at
            }
        };
        flags_of.push(at);
    }
    let rows = || journal_of.iter().enumerate().filter(|(_, k)| **k != NONE).map(|(i, k)| (i, *k as usize));
    let height = rows().count();
    let cols = vec![
        StringChunked::from_iter_values("entity".into(), rows().map(|(i, _)| book.entity.at(i))).into_column(),
        StringChunked::from_iter_values("journal_id".into(), rows().map(|(i, _)| book.journal_id.at(i))).into_column(),
        Int64Chunked::from_iter_values("line_no".into(), rows().map(|(i, _)| book.line_no[i])).into_column(),
        Float64Chunked::from_iter_values("score".into(), rows().map(|(_, k)| results[k].risk)).into_column(),
        StringChunked::from_iter_values("model".into(), std::iter::repeat_n(model, height)).into_column(),
        StringChunked::from_iter_values("flags".into(), rows().map(|(_, k)| joined[flags_of[k] as usize].as_str()))
            .into_column(),
    ];
    DataFrame::new(height, cols)
}

/// The inputs and risk of each journal raised as a `journal_anomaly`, under
/// its exception's problem key; `inputs` holds the risk model's inputs journal
/// by journal.
pub fn flag_scores(
    results: &[JournalResult],
    exceptions: &[Exception],
    inputs: &[f32],
    model: &RiskModel,
) -> Vec<reckon_state::models::FlagScore> {
    let k = model.risk.config.features.len();
    let raised: std::collections::HashMap<&str, &Exception> = exceptions
        .iter()
        .filter(|e| e.kind == ExceptionKind::JournalAnomaly)
        .filter_map(|e| Some((e.records.first()?.strip_prefix("gl_journal_lines:")?, e)))
        .collect();
    let (spec, id) = (model.inputs_spec(), model.risk.id());
    let mut out: Vec<reckon_state::models::FlagScore> = results
        .iter()
        .enumerate()
        .filter_map(|(i, j)| {
            let subject = format!("{}/{}", j.entity, j.journal_id);
            let e = raised.get(subject.as_str())?;
            Some(reckon_state::models::FlagScore {
                run_id: String::new(),
                engine: reckon_state::models::ENGINE_ANOMALY.into(),
                problem_key: reckon_state::lifecycle::problem_key(e),
                subject,
                model: id.clone(),
                threshold: model.review(),
                score: j.risk,
                feature_spec: spec.clone(),
                features: inputs.get(i * k..(i + 1) * k)?.to_vec(),
            })
        })
        .collect();
    out.sort_by(|p, q| p.subject.cmp(&q.subject));
    out
}

/// `control_violation` for unbalanced journals, `journal_anomaly` above the review risk.
pub fn exceptions(
    book: &Book,
    results: &[JournalResult],
    review_risk: f64,
    model: &str,
    run_id: &str,
) -> Vec<Exception> {
    let mut out = Vec::new();
    for j in results {
        let (kind, band, action) = if j.unbalanced {
            (
                ExceptionKind::ControlViolation,
                Band::Escalate,
                "correct the journal: debits and credits must balance per currency",
            )
        } else if j.risk >= review_risk {
            (
                ExceptionKind::JournalAnomaly,
                if j.risk >= 0.9 { Band::Escalate } else { Band::Review },
                "review the entry and its support with the preparer",
            )
        } else {
            continue;
        };
        let lines = j.lines(book);
        let i0 = lines[0] as usize;
        let total: i128 = lines.iter().map(|&i| i128::from(book.amount[i as usize])).filter(|a| *a > 0).sum();
        let records = vec![format!("gl_journal_lines:{}/{}", j.entity, j.journal_id)];
        out.push(Exception {
            exception_id: Exception::id_for(kind, &records),
            run_id: run_id.to_string(),
            kind,
            band,
            score: j.risk,
            confidence: j.risk,
            entity: Some(j.entity.to_string()),
            currency: Some(book.currency.at(i0).to_string()),
            amount: Some(reckon_core::format_minor_wide(total, book.exponent[i0])),
            records,
            reasons: j
                .flags
                .iter()
                .map(|f| Reason { code: f.test.as_str().into(), text: f.text.to_string(), weight: f.weight })
                .collect(),
            recommended_action: action.into(),
            model: Some(model.into()),
            priority: 0,
            lifecycle: None,
        });
    }
    out
}

/// The journal risk model: an isolation forest over `journal_v2` features (its
/// folder's `iforest/`) and a logistic regression over the rule flags, the rule
/// risk and the forest's score (the folder's `model.onnx`) giving a calibrated risk.
#[derive(Debug)]
pub struct RiskModel {
    pub iforest: reckon_onnx::Model,
    pub risk: reckon_onnx::Model,
    /// Where its `rare_*` inputs start, from its feature spec.
    pub base: RarityBase,
}

/// Why the journal risk model could not score a book.
#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    #[error("risk model input '{0}' is not one reckon computes")]
    UnknownInput(String),
    #[error(transparent)]
    Onnx(#[from] reckon_onnx::OnnxError),
}

impl RiskModel {
    pub fn load(dir: &Path) -> Result<RiskModel, crate::model::ModelError> {
        use crate::model::{Spec, load_checked};
        let risk = reckon_onnx::Model::load(dir)?;
        let Some(base) = RarityBase::of_spec(&risk.config.feature_spec) else {
            return Err(crate::model::ModelError::Spec {
                dir: dir.to_path_buf(),
                trained: risk.config.feature_spec.clone(),
                features: risk.config.features.len(),
                computes: RarityBase::ALL.map(RarityBase::spec).join(" or "),
            });
        };
        let iforest =
            load_checked(&dir.join("iforest"), Spec::Fixed(reckon_journals::FEATURE_SPEC, reckon_journals::FEATURES))?;
        // Inputs by name: each must be one reckon computes.
        combined(&[], &[], &risk.config.features, base)
            .map_err(|e| crate::model::ModelError::Inputs { dir: dir.to_path_buf(), reason: e.to_string() })?;
        Ok(RiskModel { iforest, risk, base })
    }

    pub fn review(&self) -> f64 {
        self.risk.config.thresholds.get("review").copied().unwrap_or(0.5)
    }

    /// Replaces each journal's rule risk by the model's risk; returns the forest scores.
    pub fn score(&self, tests: &Tests, book: &Book, results: &mut [JournalResult]) -> Result<Vec<f32>, RiskError> {
        Ok(self.score_with_inputs(tests, book, results)?.forest)
    }

    /// The risk model's input names, as a feature spec a store keeps with each
    /// journal's inputs (`journal_risk_v2/` and the first 16 hex digits of the
    /// sha256 of the names): rows are retrained on only by a model with the same inputs.
    pub fn inputs_spec(&self) -> String {
        inputs_spec(&self.risk.config.features, self.base)
    }

    /// As [`RiskModel::score`], also returning the risk model's inputs and
    /// output, journal by journal.
    pub fn score_with_inputs(
        &self,
        tests: &Tests,
        book: &Book,
        results: &mut [JournalResult],
    ) -> Result<RiskScores, RiskError> {
        let n = results.len();
        let f = reckon_journals::features(tests, book, results);
        let ifs = self.iforest.score(n, &f)?;
        let x = combined(results, &ifs, &self.risk.config.features, self.base)?;
        let p = self.risk.score(n, &x)?;
        let risk = p.clone();
        let k = reckon_journals::FEATURES.len();
        let outl = reckon_journals::outlying_features(&f, k, 3.0);
        let untrained = untrained(&self.risk.config.features);
        for (((j, r), s), o) in results.iter_mut().zip(p).zip(&ifs).zip(&outl) {
            j.risk = raised(f64::from(r), &j.flags, &untrained);
            // The model's own evidence is a reason too: the forest's score and the
            // features that stand furthest from the book.
            if *s >= 0.6 || (j.risk >= 0.5 && !o.is_empty()) {
                let top: Vec<String> = o
                    .iter()
                    .map(|(fi, z)| {
                        let sign = if *z >= 0.0 { "+" } else { "" };
                        format!("{} (z {sign}{z:.1} against this book)", reckon_journals::FEATURE_WORDS[*fi])
                    })
                    .collect();
                let text = if top.is_empty() {
                    format!("unusual combination of values (isolation forest score {s:.2})")
                } else {
                    format!(
                        "unusual combination of values (isolation forest score {s:.2}); most unusual: {}",
                        top.join(", ")
                    )
                };
                j.flags.push(reckon_journals::Flag {
                    test: reckon_journals::JournalTest::IsolationForest,
                    text: text.into(),
                    weight: f64::from(*s),
                });
            }
        }
        Ok(RiskScores { forest: ifs, inputs: x, risk })
    }
}

/// What the journal risk model computed for a book, journal by journal.
#[derive(Clone, Debug, Default)]
pub struct RiskScores {
    /// The isolation forest's score.
    pub forest: Vec<f32>,
    /// The risk model's inputs (`risk.config.features` per journal, row-major).
    pub inputs: Vec<f32>,
    /// The risk model's output, before a rule that always raises lifts it.
    pub risk: Vec<f32>,
}

/// The feature spec of a risk model with inputs `names` read from `base`
/// ([`RiskModel::inputs_spec`]).
pub fn inputs_spec(names: &[String], base: RarityBase) -> String {
    let h = reckon_core::id::sha256_hex(names.join(",").as_bytes());
    format!("{}/{}", base.spec(), &h[..16])
}

/// Where a journal's rarity in its own book starts to count as evidence: the
/// `rare_*` inputs of the risk model are a journal's surprise (`-log10` of a
/// share, [`reckon_journals::Rarity::surprise`]) above the surprise of this
/// book's journal at the base's quantile. A model's feature spec names its base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RarityBase {
    /// `journal_risk_v2` (journals 4.0 and before): above the book's median.
    /// A habit of a third of the book (a source a preparer uses for one
    /// journal in three, weekend postings of a seven-day business) still reads
    /// as a little rare.
    Median,
    /// `journal_risk_v3`: above the book's 90th percentile, its routine. What
    /// one journal in ten of this book does is how this book works and reads
    /// as 0; only what is rarer than that is evidence.
    Routine,
}

impl RarityBase {
    pub const ALL: [RarityBase; 2] = [RarityBase::Median, RarityBase::Routine];

    /// The base `reckon train journals` gives a new model.
    pub const TRAINED: RarityBase = RarityBase::Routine;

    /// The feature spec of a risk model read from this base.
    pub fn spec(self) -> &'static str {
        match self {
            RarityBase::Median => "journal_risk_v2",
            RarityBase::Routine => "journal_risk_v3",
        }
    }

    pub fn of_spec(spec: &str) -> Option<RarityBase> {
        RarityBase::ALL.into_iter().find(|b| b.spec() == spec)
    }

    /// The quantile as a fraction `(numerator, denominator)`: the book's
    /// journals sorted by surprise, the one at index `n · num / den`.
    fn quantile(self) -> (usize, usize) {
        match self {
            RarityBase::Median => (1, 2),
            RarityBase::Routine => (9, 10),
        }
    }

    /// The surprise at this base's quantile of `surprises` (sorted in place); 0
    /// for an empty book.
    pub fn of(self, surprises: &mut [f64]) -> f64 {
        surprises.sort_unstable_by(f64::total_cmp);
        let (num, den) = self.quantile();
        let i = (surprises.len() * num / den).min(surprises.len().saturating_sub(1));
        surprises.get(i).copied().unwrap_or(0.0)
    }
}

/// The risk model's inputs, in the order its config names them, journal by
/// journal: `flag_<test>` (1 when the test fired), `rule_risk`, `iforest_z` (the
/// forest's score as a z-score within the book — relative, because raw forest
/// scores shift with a book's size and mix; clipped at 0, only the unusual side is
/// evidence) and `amount_z` (the journal's largest amount above its account's
/// usual ones, clipped to 0–10), `amount_fence` (how far beyond its account's
/// 99th percentile, [`reckon_journals::Profile::amount_fence`]) and the journal's rarity in its own book as
/// surprise above the surprise at the book's `base` quantile (`-log10` of a
/// share, 0–4: [`reckon_journals::Rarity`], [`RarityBase`]):
/// `rare_preparer_account`, `rare_account_pair`, `rare_preparer_hour`,
/// `rare_preparer_source`, `rare_weekend_holiday`, `rare_duplicate_journal`
/// (how seldom chance gives a journal of its kind the match it has). A model names the inputs it was
/// trained on, so older models keep working when inputs are added.
pub fn combined(
    results: &[JournalResult],
    iforest: &[f32],
    names: &[String],
    base: RarityBase,
) -> Result<Vec<f32>, RiskError> {
    enum In {
        Flag(reckon_journals::JournalTest),
        RuleRisk,
        IforestZ,
        AmountZ,
        AmountFence,
        Rare(fn(&reckon_journals::Rarity) -> f64),
    }
    let ins: Vec<In> = names
        .iter()
        .map(|n| match n.as_str() {
            "rule_risk" => Ok(In::RuleRisk),
            "iforest_z" => Ok(In::IforestZ),
            "amount_z" => Ok(In::AmountZ),
            "amount_fence" => Ok(In::AmountFence),
            "rare_preparer_account" => Ok(In::Rare(|r| r.preparer_account)),
            "rare_account_pair" => Ok(In::Rare(|r| r.account_pair)),
            "rare_preparer_hour" => Ok(In::Rare(|r| r.preparer_hour)),
            "rare_preparer_source" => Ok(In::Rare(|r| r.preparer_source)),
            "rare_weekend_holiday" => Ok(In::Rare(|r| r.weekend_holiday)),
            "rare_duplicate_journal" => Ok(In::Rare(|r| r.duplicate)),
            f => match f.strip_prefix("flag_") {
                Some(t) => {
                    match reckon_journals::JournalTest::parse(t).filter(|t| reckon_journals::TESTS.contains(t)) {
                        Some(t) => Ok(In::Flag(t)),
                        None => Err(RiskError::UnknownInput(n.clone())),
                    }
                }
                _ => Err(RiskError::UnknownInput(n.clone())),
            },
        })
        .collect::<Result<_, _>>()?;
    let untrained = untrained(names);
    let n = iforest.len().max(1) as f64;
    let mean = iforest.iter().map(|v| f64::from(*v)).sum::<f64>() / n;
    let sd = (iforest.iter().map(|v| (f64::from(*v) - mean).powi(2)).sum::<f64>() / n).sqrt().max(1e-3);
    // Rarity is read above the book's own base (median or routine): what this
    // book's journals commonly do is 0, whatever the book's size or how spread
    // its preparers' habits are.
    let bases: Vec<f64> = ins
        .iter()
        .map(|i| match i {
            In::Rare(share) => {
                let mut v: Vec<f64> =
                    results.iter().map(|j| reckon_journals::Rarity::surprise(share(&j.rarity))).collect();
                base.of(&mut v)
            }
            _ => 0.0,
        })
        .collect();
    let mut x = Vec::with_capacity(results.len() * ins.len());
    for (j, s) in results.iter().zip(iforest) {
        for (i, at) in ins.iter().zip(&bases) {
            x.push(match i {
                In::Flag(t) => {
                    if j.flags.iter().any(|f| f.test == *t) {
                        1.0
                    } else {
                        0.0
                    }
                }
                In::RuleRisk => trained_rule_risk(j, &untrained) as f32,
                In::IforestZ => ((f64::from(*s) - mean) / sd).clamp(0.0, 10.0) as f32,
                In::AmountZ => j.amount_z.clamp(0.0, 10.0) as f32,
                In::AmountFence => j.amount_fence as f32,
                In::Rare(share) => (reckon_journals::Rarity::surprise(share(&j.rarity)) - at).max(0.0) as f32,
            });
        }
    }
    Ok(x)
}

/// Tests the model never saw: in [`reckon_journals::TESTS`] but neither among its
/// `flag_` inputs nor read through their graded input ([`graded`]) — tests added
/// after it was trained, or that never fired on its training books. They stay out
/// of the `rule_risk` it reads (its calibration holds) and raise its risk
/// afterwards like any rule (see [`RiskModel::score`]).
pub fn untrained(names: &[String]) -> Vec<reckon_journals::JournalTest> {
    reckon_journals::TESTS
        .iter()
        .copied()
        .filter(|t| {
            !names.iter().any(|n| n.strip_prefix("flag_") == Some(t.as_str()) || graded(*t) == Some(n.as_str()))
        })
        .collect()
}

/// The graded input that a new risk model reads in place of a test's flag: the
/// same evidence as a degree (how rare in this book, how far beyond the usual
/// range) rather than a cut, so that the model ranks by it and does not learn a
/// training book's cut.
pub fn graded(test: reckon_journals::JournalTest) -> Option<&'static str> {
    use reckon_journals::JournalTest as T;
    match test {
        T::UnusualPreparerAccount => Some("rare_preparer_account"),
        T::UnusualAccountPair => Some("rare_account_pair"),
        T::UnusualHour => Some("rare_preparer_hour"),
        T::UnusualPreparerSource => Some("rare_preparer_source"),
        T::WeekendHoliday => Some("rare_weekend_holiday"),
        T::DuplicateJournal => Some("rare_duplicate_journal"),
        T::AmountOutlier => Some("amount_fence"),
        _ => None,
    }
}

/// The model's risk raised by the flags of tests it was not trained with, as
/// rules combine: 1 − (1 − risk) · Π(1 − weight). Unchanged without such flags.
pub fn raised(risk: f64, flags: &[reckon_journals::Flag], untrained: &[reckon_journals::JournalTest]) -> f64 {
    let extra: Vec<f64> = flags.iter().filter(|f| untrained.contains(&f.test)).map(|f| f.weight).collect();
    if extra.is_empty() { risk } else { 1.0 - (1.0 - risk) * extra.iter().map(|w| 1.0 - w).product::<f64>() }
}

/// The rule risk over the tests the model was trained with (the flags are in
/// the order the rule risk was taken in, so with no untrained flag it is `j.risk`).
fn trained_rule_risk(j: &JournalResult, untrained: &[reckon_journals::JournalTest]) -> f64 {
    if !j.flags.iter().any(|f| untrained.contains(&f.test)) {
        return j.risk;
    }
    1.0 - j.flags.iter().filter(|f| !untrained.contains(&f.test)).map(|f| 1.0 - f.weight).product::<f64>()
}

/// The inputs `reckon train journals` gives a new risk model: the flags of tests
/// without a graded input, the graded inputs, `rule_risk`, `iforest_z`, `amount_z`.
pub fn combined_features() -> Vec<String> {
    let mut v: Vec<String> =
        reckon_journals::TESTS.iter().map(|t| graded(*t).map_or_else(|| format!("flag_{t}"), str::to_string)).collect();
    v.push("rule_risk".into());
    v.push("iforest_z".into());
    v.push("amount_z".into());
    v
}

/// The test an input of [`combined_features`] stands for (its flag or its graded input).
pub fn input_test(name: &str) -> Option<reckon_journals::JournalTest> {
    match name.strip_prefix("flag_") {
        Some(t) => reckon_journals::JournalTest::parse(t),
        None => reckon_journals::TESTS.iter().copied().find(|t| graded(*t) == Some(name)),
    }
}
