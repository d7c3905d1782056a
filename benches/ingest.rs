//! Ingestion micro and macro benchmarks, each beside a baseline run in the same process.
//!
//! - `money/parse_minor` vs `money/f64_parse_baseline`: exact decimal parsing against
//!   the (inexact) float parse it replaces — the price of exactness.
//! - `csv/scan` vs `csv/polars_reader_baseline`: reckon's line-tracking RFC 4180 scanner
//!   against polars' own CSV reader (all columns as strings) on the same bytes.
//! - `load/ar_open_items`: the whole file path (scan, map, validate, typed frame).
//! - `header/30000_columns` vs `header/60000_columns`: a wide header (the second
//!   should take about twice the first: duplicate names are found through a set).

use std::hint::black_box;
use std::io::Cursor;

// The same global allocator as the `reckon` binary, so the numbers are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use polars::prelude::*;
use reckon_core::{Currency, MoneyFormat, Table, parse_minor};
use reckon_ingest::mapping::Mapping;

fn money(c: &mut Criterion) {
    let eur = Currency::parse("EUR").unwrap_or_else(|| panic!("EUR"));
    let texts: Vec<String> = (0..10_000).map(|i| format!("{}.{:02}", i * 37 % 100_000, i % 100)).collect();
    let mut g = c.benchmark_group("money");
    g.throughput(Throughput::Elements(texts.len() as u64));
    g.bench_function("parse_minor", |b| {
        b.iter(|| {
            texts.iter().map(|t| parse_minor(black_box(t), &MoneyFormat::CONTRACT, eur).unwrap_or(0)).sum::<i64>()
        })
    });
    g.bench_function("f64_parse_baseline", |b| {
        b.iter(|| texts.iter().map(|t| black_box(t).parse::<f64>().unwrap_or(0.0)).sum::<f64>())
    });
    g.finish();
}

fn csv_and_load(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    reckon_synth::generate(dir.path(), &reckon_synth::Config::new(1, 20_000)).unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("ar_open_items.csv");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut g = c.benchmark_group("csv");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.sample_size(20);
    g.bench_function("scan", |b| {
        b.iter(|| reckon_ingest::csv::scan(black_box(&bytes), b',', b'"').map(|s| s.records.len()))
    });
    g.bench_function("polars_reader_baseline", |b| {
        b.iter(|| {
            CsvReadOptions::default()
                .with_infer_schema_length(Some(0))
                .into_reader_with_file_handle(Cursor::new(black_box(bytes.clone())))
                .finish()
                .map(|d| d.height())
        })
    });
    g.finish();
    let mapping = Mapping::contract(Table::ArOpenItems);
    let mut g = c.benchmark_group("load");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.sample_size(10);
    g.bench_function("ar_open_items", |b| {
        b.iter(|| reckon_ingest::load_file(&path, "ar_open_items.csv", &mapping, None).report.loaded_rows)
    });
    g.finish();
}

fn wide_header(c: &mut Criterion) {
    let mut g = c.benchmark_group("header");
    g.sample_size(10);
    for n in [30_000usize, 60_000] {
        let mut text: String = (0..n).map(|i| format!("column_{i}")).collect::<Vec<_>>().join(",");
        text.push('\n');
        g.bench_function(format!("{n}_columns"), |b| {
            b.iter(|| reckon_ingest::csv::scan(black_box(text.as_bytes()), b',', b'"').map(|s| s.header.len()))
        });
    }
    g.finish();
}

criterion_group!(benches, money, csv_and_load, wide_header);
criterion_main!(benches);
