//! Finding the input files of a folder and loading them into contract tables.
//!
//! Conventions (see docs/data-contract.md):
//! - `<table>.csv` / `<table>.parquet` (e.g. `ar_open_items.csv`) is contract-shaped;
//! - any other `X.csv` / `X.parquet` with a sibling `X.mapping.toml` is loaded through
//!   that mapping, which names the table;
//! - everything else is listed as ignored.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use reckon_core::{Reject, RejectCode, Table};

use crate::config::DateRange;
use crate::load::FileReport;
use crate::mapping::{Mapping, MappingConfig};

/// Everything loaded from an input folder.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Good rows per table, in file-name then row order.
    pub tables: BTreeMap<Table, DataFrame>,
    pub files: Vec<FileReport>,
    pub rejects: Vec<Reject>,
    /// Files in the folder reckon did not recognise.
    pub ignored: Vec<String>,
}

impl Loaded {
    /// The loaded table, read by contract column (`None` when no file held it).
    pub fn view(&self, table: Table) -> Option<crate::TableView<'_>> {
        self.tables.get(&table).map(|df| crate::TableView::new(table, df))
    }

    pub fn refused_files(&self) -> Vec<&str> {
        self.files.iter().filter(|f| f.refused.is_some()).map(|f| f.path.as_str()).collect()
    }
}

/// Error that stops loading altogether (the folder itself is unusable).
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("input folder {0}: {1}")]
    Folder(PathBuf, std::io::Error),
}

struct Planned {
    path: PathBuf,
    rel: String,
    mapping: Result<Mapping, String>,
    mapping_name: Option<String>,
    /// A bank statement or remittance file (format detected from content).
    statement: bool,
}

/// What a folder entry is, by the documented rule: a link is followed (its
/// target is read, under the link's name); a hidden name (starting with `.`),
/// a link whose target is missing and anything that is not a regular file are
/// listed as ignored, with why.
enum Entry {
    File(String),
    Folder(String),
    Ignored(String),
}

fn entries(dir: &Path) -> Result<Vec<Entry>, std::io::Error> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let Ok(e) = e else { continue };
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            out.push(Entry::Ignored(format!("{name} (hidden)")));
            continue;
        }
        // `metadata` follows links.
        match std::fs::metadata(e.path()) {
            Ok(m) if m.is_file() => out.push(Entry::File(name)),
            Ok(m) if m.is_dir() => out.push(Entry::Folder(name)),
            Ok(_) => out.push(Entry::Ignored(format!("{name} (not a regular file)"))),
            Err(_) => out.push(Entry::Ignored(format!("{name} (a link whose target is missing)"))),
        }
    }
    out.sort_by(|a, b| key(a).cmp(key(b)));
    Ok(out)
}

fn key(e: &Entry) -> &str {
    match e {
        Entry::File(n) | Entry::Folder(n) | Entry::Ignored(n) => n,
    }
}

/// The input subfolder of decisions (`decisions/*.jsonl|csv`), read by a run
/// with a state store.
pub const DECISIONS_FOLDER: &str = "decisions";

/// Bank and remittance files in `bank/` and `remittance/` (any name; content decides).
fn plan_statements(dir: &Path, planned: &mut Vec<Planned>, ignored: &mut Vec<String>) {
    for sub in ["bank", "remittance"] {
        let Ok(all) = entries(&dir.join(sub)) else { continue };
        let mut names: Vec<String> = Vec::new();
        for e in all {
            match e {
                Entry::File(n) => names.push(n),
                Entry::Folder(n) => ignored.push(format!("{sub}/{n} (a folder inside {sub}/)")),
                Entry::Ignored(why) => ignored.push(format!("{sub}/{why}")),
            }
        }
        names.sort();
        for n in names {
            planned.push(Planned {
                path: dir.join(sub).join(&n),
                rel: format!("{sub}/{n}"),
                mapping: Err(String::new()),
                mapping_name: None,
                statement: true,
            });
        }
    }
}

fn plan(dir: &Path) -> Result<(Vec<Planned>, Vec<String>), DiscoverError> {
    let all = entries(dir).map_err(|e| DiscoverError::Folder(dir.to_path_buf(), e))?;
    let mut planned = Vec::new();
    let mut ignored = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for e in all {
        match e {
            Entry::File(n) => names.push(n),
            Entry::Folder(n) if n == "bank" || n == "remittance" => {}
            // Decisions are read by a run with a state store (reckon-pipeline), not loaded as a table.
            Entry::Folder(n) if n == DECISIONS_FOLDER => {}
            Entry::Folder(n) => {
                ignored.push(format!("{n} (a folder; only bank/, remittance/ and decisions/ are read)"))
            }
            Entry::Ignored(why) => ignored.push(why),
        }
    }
    for name in &names {
        let lower = name.to_ascii_lowercase();
        let stem = match lower.strip_suffix(".csv").or_else(|| lower.strip_suffix(".parquet")) {
            Some(s) => &name[..s.len()],
            None => {
                if !lower.ends_with(".mapping.toml") {
                    ignored.push(format!("{name} (not .csv, .parquet or .mapping.toml)"));
                }
                continue;
            }
        };
        let mapping_file = format!("{stem}.mapping.toml");
        let path = dir.join(name);
        if names.contains(&mapping_file) {
            let mapping = std::fs::read_to_string(dir.join(&mapping_file))
                .map_err(|e| e.to_string())
                .and_then(|t| MappingConfig::from_toml(&t).map_err(|e| e.to_string()))
                .and_then(|c| c.build().map_err(|e| e.to_string()))
                .map_err(|e| format!("mapping {mapping_file}: {e}"));
            planned.push(Planned {
                path,
                rel: name.clone(),
                mapping,
                mapping_name: Some(mapping_file),
                statement: false,
            });
        } else if let Some(t) = Table::from_name(stem) {
            planned.push(Planned {
                path,
                rel: name.clone(),
                mapping: Ok(Mapping::contract(t)),
                mapping_name: None,
                statement: false,
            });
        } else {
            ignored.push(format!("{name} (no contract table is named {stem}, and no {mapping_file} beside it)"));
        }
    }
    plan_statements(dir, &mut planned, &mut ignored);
    Ok((planned, ignored))
}

/// Loads every recognised file of `dir`, accepting the contract's dates.
pub fn load_dir(dir: &Path) -> Result<Loaded, DiscoverError> {
    load_dir_with(dir, &DateRange::default())
}

/// Loads every recognised file of `dir`; rows dated outside `dates` are rejected.
pub fn load_dir_with(dir: &Path, dates: &DateRange) -> Result<Loaded, DiscoverError> {
    let (planned, ignored) = plan(dir)?;
    let mut out = Loaded { ignored, ..Loaded::default() };
    let mut frames: BTreeMap<Table, Vec<(usize, DataFrame)>> = BTreeMap::new();
    // Files load in parallel; results are merged in file-name order, so the
    // outcome does not depend on the thread count. In waves of at most
    // `FILES_PER_WAVE`: a rayon worker that waits for polars' own pool runs
    // other queued files on the same stack, so an unbounded queue (a year of
    // daily statements) nests deep enough to overflow it.
    const FILES_PER_WAVE: usize = 32;
    let mut planned = planned;
    let mut results: Vec<(Planned, Option<crate::load::LoadedFile>)> = Vec::with_capacity(planned.len());
    while !planned.is_empty() {
        let rest = planned.split_off(planned.len().min(FILES_PER_WAVE));
        let wave = std::mem::replace(&mut planned, rest);
        results.extend(load_wave(wave, dates));
    }
    for (p, lf) in results {
        let table_of = |lf: &crate::load::LoadedFile| lf.report.table.as_deref().and_then(Table::from_name);
        match (p.mapping, lf) {
            (_, Some(lf)) if p.statement => {
                out.rejects.extend(lf.rejects.iter().cloned());
                if let (Some(t), Some(df)) = (table_of(&lf), lf.df) {
                    frames.entry(t).or_default().push((out.files.len(), df));
                }
                out.files.push(lf.report);
            }
            (Ok(m), Some(lf)) => {
                out.rejects.extend(lf.rejects);
                if let Some(df) = lf.df {
                    frames.entry(m.table).or_default().push((out.files.len(), df));
                }
                out.files.push(lf.report);
            }
            (Ok(_), None) => {}
            (Err(reason), _) => {
                let bytes = std::fs::read(&p.path).unwrap_or_default();
                out.rejects.push(Reject {
                    file: p.rel.clone(),
                    row: None,
                    column: None,
                    value: None,
                    code: RejectCode::FileRefused,
                    reason: reason.clone(),
                    table: None,
                });
                out.files.push(FileReport {
                    path: p.rel,
                    format: "csv".into(),
                    mapping: p.mapping_name,
                    sha256: reckon_core::id::sha256_hex(&bytes),
                    bytes: bytes.len() as u64,
                    refused: Some(reason),
                    ..FileReport::default()
                });
            }
        }
    }

    // Tables are checked side by side; their files and rejects are merged in
    // table order.
    let checked: Vec<(Table, Deduped)> = {
        use rayon::prelude::*;
        let files = &out.files;
        frames
            .into_iter()
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|(table, parts)| {
                let t = std::time::Instant::now();
                let d = dedupe_keys(table, parts, files);
                tracing::info!(table = %table, ms = t.elapsed().as_millis() as u64, "keys checked");
                (table, d)
            })
            .collect()
    };
    for (table, d) in checked {
        for fi in d.repeated_in {
            out.files[fi].loaded_rows -= 1;
            out.files[fi].rejected_rows += 1;
        }
        out.rejects.extend(d.rejects);
        out.tables.insert(table, d.df);
    }
    Ok(out)
}

/// Loads one wave of files in parallel, results in input order.
fn load_wave(wave: Vec<Planned>, dates: &DateRange) -> Vec<(Planned, Option<crate::load::LoadedFile>)> {
    use rayon::prelude::*;
    wave.into_par_iter()
        .map(|p| {
            if p.statement {
                let t = std::time::Instant::now();
                let lf = crate::load::load_statement_file(&p.path, &p.rel, dates);
                tracing::info!(file = %p.rel, format = lf.report.format.as_str(), rows = lf.report.input_rows, ms = t.elapsed().as_millis() as u64, "loaded");
                return (p, Some(lf));
            }
            let lf = p.mapping.as_ref().ok().map(|m| {
                let t = std::time::Instant::now();
                let lf = crate::load::load_file_with(&p.path, &p.rel, m, p.mapping_name.as_deref(), dates);
                tracing::info!(file = %p.rel, table = %m.table, rows = lf.report.input_rows, ms = t.elapsed().as_millis() as u64, "loaded");
                lf
            });
            (p, lf)
        })
        .collect()
}

/// A bank reference that the banks' statement files give on more than one
/// account (the two legs of an internal transfer carry one reference) names a
/// different entry on each: every such row's `txn_id` becomes
/// `<reference>@<account_id>`. Rows from contract CSV/Parquet keep their ids:
/// there `txn_id` must be unique, and a repeat is a duplicate.
fn qualify_repeated_refs(parts: Vec<(usize, DataFrame)>, files: &[FileReport]) -> Vec<(usize, DataFrame)> {
    let text = |df: &DataFrame, c: &str| -> Option<Vec<String>> {
        df.column(c).ok()?.str().ok().map(|s| s.iter().map(|v| v.unwrap_or("").to_string()).collect())
    };
    let from_statement = |fi: usize| files.get(fi).is_some_and(|f| f.detected_format.is_some());
    let mut accounts: HashMap<String, std::collections::BTreeSet<String>> = HashMap::new();
    for (_, df) in parts.iter().filter(|(fi, _)| from_statement(*fi)) {
        let (Some(ids), Some(acc)) = (text(df, "txn_id"), text(df, "account_id")) else { continue };
        for (id, a) in ids.into_iter().zip(acc) {
            accounts.entry(id).or_default().insert(a);
        }
    }
    let repeated: std::collections::HashSet<String> =
        accounts.into_iter().filter(|(_, a)| a.len() > 1).map(|(id, _)| id).collect();
    if repeated.is_empty() {
        return parts;
    }
    parts
        .into_iter()
        .map(|(fi, mut df)| {
            if from_statement(fi)
                && let (Some(ids), Some(acc)) = (text(&df, "txn_id"), text(&df, "account_id"))
            {
                let new: Vec<String> = ids
                    .into_iter()
                    .zip(acc)
                    .map(|(id, a)| if repeated.contains(&id) { format!("{id}@{a}") } else { id })
                    .collect();
                if let Err(e) = df.replace("txn_id", Column::new("txn_id".into(), new)) {
                    tracing::error!(error = %e, "cannot qualify repeated references");
                }
            }
            (fi, df)
        })
        .collect()
}

/// Concatenates a table's files and rejects rows whose key was already seen.
///
/// Keys are compared by a 64-bit digest of their text, and exactly whenever two
/// digests agree: a collision of different keys never rejects a row.
fn dedupe_keys(table: Table, parts: Vec<(usize, DataFrame)>, files: &[FileReport]) -> Deduped {
    dedupe_keys_with(table, parts, files, |d| d)
}

/// [`dedupe_keys`] with the digest passed through `mix` (tests make every key collide).
fn dedupe_keys_with(
    table: Table,
    parts: Vec<(usize, DataFrame)>,
    files: &[FileReport],
    mix: fn(u64) -> u64,
) -> Deduped {
    let key = table.spec().key;
    let parts = if table == Table::BankTransactions { qualify_repeated_refs(parts, files) } else { parts };
    let mut rejects = Vec::new();
    let mut repeated_in = Vec::new();
    if key.is_empty() {
        return Deduped { df: concat(table, parts.into_iter().map(|(_, df)| df)), rejects, repeated_in };
    }
    // Each part's key columns as text.
    let texts: Vec<Vec<StringChunked>> = parts
        .iter()
        .map(|(_, df)| {
            key.iter()
                .map(|k| {
                    df.column(k)
                        .ok()
                        .and_then(|c| c.cast(&DataType::String).ok())
                        .and_then(|c| c.str().ok().map(|s| s.rechunk().into_owned()))
                        .unwrap_or_else(|| StringChunked::full((*k).into(), "", df.height()))
                })
                .collect()
        })
        .collect();
    let key_of = |p: usize, r: usize| -> Vec<&str> { texts[p].iter().map(|c| c.get(r).unwrap_or("")).collect() };
    let digest = |p: usize, r: usize| -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = rustc_hash::FxHasher::default();
        for c in &texts[p] {
            c.get(r).unwrap_or("").hash(&mut h);
        }
        mix(h.finish())
    };
    use rayon::prelude::*;
    // Every row's digest, side by side, sorted with its place in file order; rows
    // that share a digest are compared by their keys, and a row whose key an
    // earlier row has is a repeat of the earliest such row.
    let mut rows: Vec<(u64, u32, u32)> = Vec::with_capacity(parts.iter().map(|(_, d)| d.height()).sum());
    for (p, (_, df)) in parts.iter().enumerate() {
        let digests: Vec<u64> = (0..df.height()).into_par_iter().map(|r| digest(p, r)).collect();
        rows.extend(digests.into_iter().enumerate().map(|(r, d)| (d, p as u32, r as u32)));
    }
    rows.par_sort_unstable();
    let mut repeats: Vec<(usize, usize, usize, usize)> = Vec::new();
    for group in rows.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
        for (i, &(_, p, r)) in group.iter().enumerate().skip(1) {
            let (p, r) = (p as usize, r as usize);
            let k = key_of(p, r);
            if let Some(&(_, fp, fr)) = group[..i].iter().find(|&&(_, fp, fr)| key_of(fp as usize, fr as usize) == k) {
                repeats.push((p, r, fp as usize, fr as usize));
            }
        }
    }
    drop(rows);
    // Reported in file order.
    repeats.sort_unstable();
    let position = |df: &DataFrame, r: usize| -> String {
        df.column("source_position")
            .ok()
            .and_then(|c| c.str().ok().and_then(|s| s.get(r).map(str::to_string)))
            .unwrap_or_default()
    };
    let mut masks: Vec<Option<Vec<bool>>> = vec![None; parts.len()];
    for (p, r, fp, fr) in repeats {
        let (fi, df) = (parts[p].0, &parts[p].1);
        let keep = &mut masks[p];
        let k = key_of(p, r);
        let (ffi, fdf) = (&parts[fp].0, &parts[fp].1);
        let first =
            format!("{} {}", files[*ffi].path, Some(position(fdf, fr)).filter(|s| !s.is_empty()).unwrap_or("?".into()));
        keep.get_or_insert_with(|| vec![true; df.height()])[r] = false;
        repeated_in.push(fi);
        rejects.push(Reject {
            file: files[fi].path.clone(),
            row: position(df, r).rsplit(' ').next().and_then(|n| n.parse().ok()),
            column: Some(key.join("+")),
            value: Some(k.join("/")),
            code: RejectCode::DuplicateKey,
            reason: format!("{} {} was already loaded from {first}", key.join("+"), k.join("/")),
            table: Some(table.name().to_string()),
        });
    }
    drop(texts);
    let kept = parts.into_iter().zip(masks).map(|((_, df), keep)| match keep {
        Some(keep) => {
            let mask: BooleanChunked = keep.into_iter().collect();
            df.filter(&mask).unwrap_or(df)
        }
        None => df,
    });
    Deduped { df: concat(table, kept), rejects, repeated_in }
}

/// One table's rows with repeated keys removed.
struct Deduped {
    df: DataFrame,
    /// One reject per removed row.
    rejects: Vec<Reject>,
    /// The file (index) of each removed row.
    repeated_in: Vec<usize>,
}

/// One table's frames, one after another.
fn concat(table: Table, frames: impl Iterator<Item = DataFrame>) -> DataFrame {
    let mut iter = frames;
    let mut acc = iter.next().unwrap_or_default();
    for df in iter {
        if acc.vstack_mut_owned(df).is_err() {
            tracing::error!(table = %table, "frames of one table have different schemas");
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_share_a_digest_are_still_told_apart() {
        let df = |ids: &[&str], pos: &[&str]| {
            DataFrame::new(
                ids.len(),
                vec![Column::new("item_id".into(), ids.to_vec()), Column::new("source_position".into(), pos.to_vec())],
            )
            .unwrap_or_else(|e| panic!("{e}"))
        };
        let files = vec![
            FileReport { path: "a.csv".into(), ..FileReport::default() },
            FileReport { path: "b.csv".into(), ..FileReport::default() },
        ];
        let parts = || {
            vec![
                (0, df(&["I1", "I2", "I1", "I3"], &["line 2", "line 3", "line 4", "line 5"])),
                (1, df(&["I3", "I4", "I2"], &["line 2", "line 3", "line 4"])),
            ]
        };
        let render = |d: Deduped| {
            let ids: Vec<String> = d.df.column("item_id").map_or(Vec::new(), |c| {
                c.str().map_or(Vec::new(), |s| s.iter().map(|v| v.unwrap_or("").to_string()).collect())
            });
            let rej: Vec<String> = d.rejects.iter().map(|r| format!("{} {:?} {}", r.file, r.row, r.reason)).collect();
            (ids, rej, d.repeated_in)
        };
        let real = render(dedupe_keys(Table::ArOpenItems, parts(), &files));
        let colliding = render(dedupe_keys_with(Table::ArOpenItems, parts(), &files, |_| 0));
        assert_eq!(real.0, ["I1", "I2", "I3", "I4"]);
        assert_eq!(
            real.1,
            [
                "a.csv Some(4) item_id I1 was already loaded from a.csv line 2",
                "b.csv Some(2) item_id I3 was already loaded from a.csv line 5",
                "b.csv Some(4) item_id I2 was already loaded from a.csv line 3",
            ]
        );
        assert_eq!(real.2, [0, 1, 1]);
        assert_eq!(colliding, real, "every key with one digest: the same rows kept and rejected");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 300, ..Default::default() })]

        /// Files of keys drawn from a few values, repeated within and across
        /// files: kept rows and rejects are what one pass in file order gives
        /// (a key's first row is kept, every later row names it), with real
        /// and with colliding digests.
        #[test]
        fn repeats_are_found_as_one_pass_in_file_order(
            files in proptest::collection::vec(proptest::collection::vec(0u8..12, 0..40), 1..5)
        ) {
            let reports: Vec<FileReport> =
                (0..files.len()).map(|f| FileReport { path: format!("f{f}.csv"), ..FileReport::default() }).collect();
            let parts = || -> Vec<(usize, DataFrame)> {
                files
                    .iter()
                    .enumerate()
                    .map(|(f, keys)| {
                        let ids: Vec<String> = keys.iter().map(|k| format!("K{k}")).collect();
                        let pos: Vec<String> = (0..keys.len()).map(|r| format!("line {}", r + 2)).collect();
                        let df = DataFrame::new(
                            keys.len(),
                            vec![Column::new("item_id".into(), ids), Column::new("source_position".into(), pos)],
                        )
                        .unwrap_or_else(|e| panic!("{e}"));
                        (f, df)
                    })
                    .collect()
            };
            // One pass in file order.
            let mut first: std::collections::HashMap<String, String> = std::collections::HashMap::new();
            let (mut kept, mut rejected) = (Vec::new(), Vec::new());
            for (f, keys) in files.iter().enumerate() {
                for (r, k) in keys.iter().enumerate() {
                    let id = format!("K{k}");
                    match first.get(&id) {
                        Some(at) => rejected.push(format!("f{f}.csv Some({}) item_id {id} was already loaded from {at}", r + 2)),
                        None => {
                            first.insert(id.clone(), format!("f{f}.csv line {}", r + 2));
                            kept.push(id);
                        }
                    }
                }
            }
            for mix in [(|d| d) as fn(u64) -> u64, |_| 0, |d| d % 3] {
                let d = dedupe_keys_with(Table::ArOpenItems, parts(), &reports, mix);
                let ids: Vec<String> = d.df.column("item_id").map_or(Vec::new(), |c| {
                    c.str().map_or(Vec::new(), |s| s.iter().map(|v| v.unwrap_or("").to_string()).collect())
                });
                let rej: Vec<String> = d.rejects.iter().map(|r| format!("{} {:?} {}", r.file, r.row, r.reason)).collect();
                proptest::prop_assert_eq!(&ids, &kept);
                proptest::prop_assert_eq!(&rej, &rejected);
            }
        }
    }
}
