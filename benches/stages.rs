//! Criterion benchmarks of each bonus-run stage on a generated data set (200,000 sales
//! lines, 2,000 clients, 40 managers) with the Romashka Rhai pack: pack load (Rhai, and WASM
//! with a warm compile cache when the plugin is built), tables, the sales pass, facts, the
//! three rule stages (one thread, every client or manager once), outputs, and the whole run
//! with 1 and 2 threads.
//!
//! Run with `cargo bench --bench stages`. The end-to-end comparison at 1M and 10M lines
//! against DuckDB and the native and parse-only floors is `python3 benches/e2e.py`.

use bonusrun::evaluate::{self, RunOptions};
use bonusrun::facts::{self, Facts, WindowPlan};
use bonusrun::generate::{generate, GenerateOptions};
use bonusrun::load::{self, DataSource};
use bonusrun::pack::PackSource;
use bonusrun::period::{MonthIndex, Period};
use bonusrun::rules::RulePack;
use bonusrun::rules::{Context, RuleRunner};
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
    let wasm = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules/romashka-wasm");
    if wasm.join("romashka.wasm").exists() {
        // The first load compiles and caches; the bench measures loads from the cache.
        let src = PackSource::Dir(wasm);
        RulePack::load(&src).expect("the WASM pack loads");
        group.bench_function("pack load, WASM plugin, warm compile cache", |b| {
            b.iter(|| RulePack::load(&src).unwrap())
        });
    }
    group.bench_function("sales pass (parse and sum into windows)", |b| {
        let data = load::load_tables(&source).unwrap();
        b.iter(|| {
            let stream = load::sales::open(&source).unwrap();
            facts::aggregate(stream, &data, WindowPlan::new(period)).unwrap()
        })
    });
    let data = Arc::new(load::load_tables(&source).unwrap());
    let totals = || {
        let stream = load::sales::open(&source).unwrap();
        facts::aggregate(stream, &data, WindowPlan::new(period))
            .unwrap()
            .0
    };
    group.bench_function("facts (clients, managers, company)", |b| {
        b.iter_batched(
            totals,
            |t| Facts::build(&data, t).unwrap(),
            criterion::BatchSize::LargeInput,
        )
    });
    let facts = Arc::new(Facts::build(&data, totals()).unwrap());
    let runner = RuleRunner::new(pack.clone());
    let script = |code: &bonusrun::rules::StageCode| code.script().expect("a script stage").clone();
    let (classify, kpis, bonus) = (
        script(&pack.key_clients),
        script(&pack.kpis),
        script(&pack.bonus),
    );
    let ctx = Arc::new(Context::new(data.clone(), facts.clone()));
    let clients = data.clients.len() as u32;
    let managers = data.managers.len() as u32;
    group.bench_function("stage key_clients (every client, 1 thread)", |b| {
        b.iter(|| {
            (0..clients)
                .map(|c| runner.classify(&classify, &ctx, c).unwrap().value)
                .collect::<Vec<_>>()
        })
    });
    let decisions: Vec<_> = (0..clients)
        .map(|c| runner.classify(&classify, &ctx, c).unwrap().value)
        .collect();
    let ctx = Arc::new(
        Context::new(data.clone(), facts.clone())
            .with_decisions(decisions)
            .unwrap(),
    );
    group.bench_function("stage kpis (every manager, 1 thread)", |b| {
        b.iter(|| {
            (0..managers)
                .map(|m| runner.kpis(&kpis, &ctx, m).unwrap().value)
                .collect::<Vec<_>>()
        })
    });
    let results: Vec<_> = (0..managers)
        .map(|m| Arc::new(runner.kpis(&kpis, &ctx, m).unwrap().value))
        .collect();
    group.bench_function("stage bonus (every manager, 1 thread)", |b| {
        b.iter(|| {
            (0..managers)
                .map(|m| {
                    runner
                        .bonus(&bonus, &ctx, m, results[m as usize].clone())
                        .unwrap()
                        .value
                })
                .collect::<Vec<_>>()
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
                        ..RunOptions::default()
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
            ..RunOptions::default()
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
