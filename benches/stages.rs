//! Criterion benchmarks of the bonus-run stages on a generated data set (200,000 sales
//! lines, 2,000 clients, 40 managers): loading and aggregating sales into facts, the whole
//! run with the bundled Romashka pack, and writing outputs.
//!
//! Run with `cargo bench --bench stages`. End-to-end comparisons at 1M and 10M lines
//! (DuckDB, native floor) are the subject of the performance issue.

use bonusrun::evaluate::{self, RunOptions};
use bonusrun::facts::{self, Facts};
use bonusrun::generate::{generate, GenerateOptions};
use bonusrun::load::{self, DataSource};
use bonusrun::pack::{PackSource, RulePack};
use bonusrun::period::{MonthIndex, Period};
use criterion::{criterion_group, criterion_main, Criterion};
use std::path::PathBuf;
use std::sync::Arc;

fn data_set() -> PathBuf {
    let dir = std::env::temp_dir().join("bonusrun-bench-200k");
    if !dir.join("sales.csv").exists() {
        generate(&GenerateOptions {
            out: dir.clone(),
            clients: 2_000,
            managers: 40,
            sales: 200_000,
            seed: 42,
            first_month: MonthIndex::new(2024, 7),
            months: 24,
        })
        .expect("generate the bench data set");
    }
    dir
}

fn pack() -> Arc<RulePack> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules/romashka");
    Arc::new(RulePack::load(&PackSource::Dir(dir)).expect("the bundled pack loads"))
}

fn stages(c: &mut Criterion) {
    let dir = data_set();
    let source = DataSource::Dir(dir.clone());
    let pack = pack();
    let period = Period::parse("2026-Q2").unwrap();
    let mut group = c.benchmark_group("200k-lines");
    group.sample_size(10);

    group.bench_function("pack load and compile", |b| {
        let src = PackSource::Dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules/romashka"));
        b.iter(|| RulePack::load(&src).unwrap())
    });
    group.bench_function("load tables", |b| {
        b.iter(|| load::load_tables(&source).unwrap())
    });
    group.bench_function("parse and aggregate sales into facts", |b| {
        let data = load::load_tables(&source).unwrap();
        b.iter(|| {
            let stream = load::sales::open(&source).unwrap();
            let (sales, _) =
                facts::aggregate(stream, &data, facts::WindowPlan::new(period)).unwrap();
            Facts::build(&data, sales)
        })
    });
    for threads in [1, 2] {
        group.bench_function(format!("full run, {threads} thread(s)"), |b| {
            b.iter(|| {
                evaluate::run(
                    pack.clone(),
                    &source,
                    &RunOptions {
                        period: Some(period),
                        threads: Some(threads),
                    },
                )
                .unwrap()
            })
        });
    }
    let result = evaluate::run(
        pack.clone(),
        &source,
        &RunOptions {
            period: Some(period),
            threads: None,
        },
    )
    .unwrap();
    group.bench_function("write outputs", |b| {
        let out = std::env::temp_dir().join("bonusrun-bench-out");
        b.iter(|| bonusrun::outputs::write_run(&result, &out, true).unwrap())
    });
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
