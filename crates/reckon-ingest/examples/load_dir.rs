//! Times loading an input folder: the whole folder as a run loads it, then each
//! contract table's file alone (`<table>.csv` or `<table>.parquet`). `cargo run --release -p reckon-ingest --example
//! load_dir -- FOLDER`.

use std::time::Instant;

use reckon_core::Table;
use reckon_ingest::mapping::Mapping;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: load_dir FOLDER");
        std::process::exit(2);
    };
    let dir = std::path::PathBuf::from(dir);
    let runs = 3;
    let mut best = f64::MAX;
    let mut bytes = 0;
    for _ in 0..runs {
        let t = Instant::now();
        match reckon_ingest::load_dir(&dir) {
            Ok(l) => {
                best = best.min(t.elapsed().as_secs_f64());
                bytes = l.files.iter().map(|f| f.bytes).sum::<u64>();
                let held: usize = l.tables.values().map(|df| df.estimated_size()).sum();
                eprintln!("tables held in memory: {:.2} GiB", held as f64 / (1u64 << 30) as f64);
            }
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
    }
    {
        {
            let s = best;
            println!(
                "folder: {:.1} MB in {s:.2} s ({:.0} MB/s), best of {runs}",
                bytes as f64 / 1e6,
                bytes as f64 / 1e6 / s
            );
        }
    }
    for table in &Table::ALL {
        let Some(path) =
            ["csv", "parquet"].iter().map(|e| dir.join(format!("{}.{e}", table.name()))).find(|p| p.exists())
        else {
            continue;
        };
        let mut s = f64::MAX;
        let mut f = None;
        for _ in 0..runs {
            let t = Instant::now();
            f = Some(reckon_ingest::load_file(&path, table.name(), &Mapping::contract(*table), None));
            s = s.min(t.elapsed().as_secs_f64());
        }
        let Some(f) = f else { continue };
        let mb = f.report.bytes as f64 / 1e6;
        println!(
            "{:<22} {:>8.1} MB {:>6.2} s {:>6.0} MB/s  rows {}",
            table.name(),
            mb,
            s,
            mb / s,
            f.report.loaded_rows
        );
    }
}
