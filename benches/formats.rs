//! Parse throughput per bank format (MB/s, one thread), each beside a baseline in
//! the same process: a plain line split (MT940, BAI2, X12) or quick-xml's bare event
//! loop (camt) over the same bytes — the floor any parser of that format pays.
//!
//! Inputs are written by `reckon_synth::bankfile` from a generated scenario, so
//! they carry realistic names, references and remittance text.

use std::hint::black_box;

// The same global allocator as the `reckon` binary, so the numbers are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reckon_synth::bankfile::{self, BankLine};

fn bank_lines() -> Vec<BankLine> {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    reckon_synth::generate(dir.path(), &reckon_synth::Config::new(3, 30_000)).unwrap_or_else(|e| panic!("{e}"));
    bankfile::read_generated(&dir.path().join("bank_transactions.csv")).unwrap_or_else(|e| panic!("{e}"))
}

fn line_split_baseline(bytes: &[u8]) -> usize {
    bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count()
}

fn xml_events_baseline(bytes: &[u8]) -> usize {
    let mut r = quick_xml::Reader::from_reader(bytes);
    let mut buf = Vec::new();
    let mut n = 0;
    loop {
        match r.read_event_into(&mut buf) {
            Ok(quick_xml::events::Event::Eof) | Err(_) => break,
            Ok(_) => n += 1,
        }
        buf.clear();
    }
    n
}

fn formats(c: &mut Criterion) {
    let lines = bank_lines();
    type Case = (&'static str, Vec<u8>, fn(&[u8]) -> usize);
    let files: Vec<Case> = vec![
        ("mt940", bankfile::mt940(&lines).into_bytes(), line_split_baseline),
        ("bai2", bankfile::bai2(&lines).into_bytes(), line_split_baseline),
        ("camt053", bankfile::camt053(&lines).into_bytes(), xml_events_baseline),
    ];
    for (name, bytes, baseline) in files {
        let mut g = c.benchmark_group(format!("parse/{name}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.sample_size(10);
        g.bench_function("reckon", |b| {
            b.iter(|| reckon_formats::parse(black_box(&bytes)).map(|p| p.rows.len()).unwrap_or(0))
        });
        match name {
            "mt940" => g.bench_function("model_only", |b| {
                b.iter(|| reckon_formats::mt940::statements(black_box(&bytes)).len())
            }),
            "bai2" => g.bench_function("model_only", |b| {
                b.iter(|| reckon_formats::bai2::accounts(black_box(&bytes)).map(|a| a.0.len()).unwrap_or(0))
            }),
            _ => g.bench_function("model_only", |b| {
                b.iter(|| reckon_formats::camt::document(black_box(&bytes)).map(|d| d.statements.len()).unwrap_or(0))
            }),
        };
        g.bench_function("baseline", |b| b.iter(|| baseline(black_box(&bytes))));
        g.finish();
    }
}

criterion_group!(benches, formats);
criterion_main!(benches);
