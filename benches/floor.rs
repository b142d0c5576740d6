//! The two floors of the end-to-end benchmark (`benches/e2e.py`), as one program:
//!
//! * `floor native --data DIR --out DIR [--threads N] [--period P]`: the Romashka regulation
//!   written in Rust (`native/romashka.rs`, the same rules as `rules/romashka/*.rhai`) and run through
//!   the whole bonusrun pipeline (`evaluate::run_native`): same parsing, facts and outputs as
//!   `bonusrun run`, so the difference to the Rhai and WASM packs is the cost of the rule
//!   engine alone.
//! * `floor parse --data DIR [--threads N]`: reads every CSV of the data set and splits it
//!   into records and fields, in parallel for `sales.csv`, and does nothing else: no value
//!   parsing, no hashing, no rules. The floor for a whole run.
//!
//! Built by `cargo bench --bench floor --no-run`; `e2e.py` finds and runs the executable.

#[path = "native/romashka.rs"]
mod romashka;

// The allocator `bonusrun` runs with (it counts each rule call's memory), so that the floor
// differs from `bonusrun run` in the rules alone.
#[global_allocator]
static ALLOCATOR: bonusrun::rules::memory::CountingAllocator =
    bonusrun::rules::memory::CountingAllocator;

use bonusrun::evaluate::{self, RunOptions};
use bonusrun::load::{self, DataSource};
use bonusrun::pack::PackSource;
use bonusrun::period::Period;
use bonusrun::rules::RulePack;
use rayon::iter::{IntoParallelIterator, ParallelIterator};
use romashka::Romashka;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Reads and splits every CSV of the data set; returns (records, fields).
fn parse_only(source: &DataSource) -> Result<(u64, u64), String> {
    let mut records = 0u64;
    let mut fields = 0u64;
    for name in ["clients.csv", "managers.csv", "plans.csv", "contracts.csv"] {
        let Some(input) = source.open(name).map_err(|e| e.to_string())? else {
            continue;
        };
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let mut rec = csv::ByteRecord::new();
        while rdr
            .read_byte_record(&mut rec)
            .map_err(|e| format!("{name}: {e}"))?
        {
            records += 1;
            fields += rec.len() as u64;
        }
    }
    let stream = load::sales::open(source)
        .map_err(|e| e.to_string())?
        .without_hash();
    let workers = rayon::current_num_threads();
    let counts: Vec<Result<(u64, u64), String>> = (0..workers)
        .into_par_iter()
        .map(|_| {
            let (mut records, mut fields) = (0u64, 0u64);
            let mut used = None;
            let mut rec = csv::ByteRecord::new();
            while let Some(block) = stream.next_block(used.take()).map_err(|e| e.to_string())? {
                let mut rdr = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(&block.bytes[..]);
                while rdr
                    .read_byte_record(&mut rec)
                    .map_err(|e| format!("sales.csv: {e}"))?
                {
                    records += 1;
                    fields += rec.len() as u64;
                }
                used = Some(block.bytes);
            }
            Ok((records, fields))
        })
        .collect();
    for c in counts {
        let (r, f) = c?;
        records += r;
        fields += f;
    }
    stream.finish().map_err(|e| e.to_string())?;
    Ok((records, fields))
}

struct Args {
    mode: String,
    data: PathBuf,
    out: Option<PathBuf>,
    rules: PathBuf,
    threads: Option<usize>,
    period: Option<Period>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().ok_or(
        "usage: floor native|parse --data DIR [--out DIR] [--threads N] [--period P] [--rules DIR]",
    )?;
    let mut parsed = Args {
        mode,
        data: PathBuf::new(),
        out: None,
        rules: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules/romashka"),
        threads: None,
        period: None,
    };
    while let Some(flag) = args.next() {
        // `cargo bench` passes `--bench` to every bench target: ignore it.
        if flag == "--bench" {
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--data" => parsed.data = value.into(),
            "--out" => parsed.out = Some(value.into()),
            "--rules" => parsed.rules = value.into(),
            "--threads" => {
                parsed.threads = Some(value.parse().map_err(|_| "--threads: not a number")?)
            }
            "--period" => parsed.period = Some(Period::parse(&value)?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let result = parse_args().and_then(|args| {
        let source = DataSource::Dir(args.data.clone());
        match args.mode.as_str() {
            "native" => {
                let out = args.out.as_ref().ok_or("native needs --out DIR")?;
                let pack = Arc::new(
                    RulePack::load(&PackSource::Dir(args.rules.clone()))
                        .map_err(|e| e.to_string())?,
                );
                let rules = Romashka::new(pack.clone())?;
                let options = RunOptions {
                    period: args.period,
                    threads: args.threads,
                    ..RunOptions::default()
                };
                let result = evaluate::run_native(pack, &source, &options, &rules)
                    .map_err(|e| e.to_string())?;
                let written = std::time::Instant::now();
                bonusrun::outputs::write_run(&result, out, true).map_err(|e| e.to_string())?;
                // The same step report as `bonusrun run --timings`.
                for (step, d) in &result.timings {
                    eprintln!("timing: {:>9.1} ms  {step}", d.as_secs_f64() * 1000.0);
                }
                eprintln!(
                    "timing: {:>9.1} ms  outputs",
                    written.elapsed().as_secs_f64() * 1000.0
                );
                if let Some(mib) = evaluate::peak_memory_mib() {
                    eprintln!("timing: peak memory {mib:.1} MiB");
                }
                println!("{} managers, total {}", result.managers.len(), result.total);
                Ok(())
            }
            "parse" => {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(args.threads.unwrap_or(0))
                    .build()
                    .map_err(|e| e.to_string())?;
                let (records, fields) = pool.install(|| parse_only(&source))?;
                println!("{records} records, {fields} fields");
                if let Some(mib) = evaluate::peak_memory_mib() {
                    eprintln!("timing: peak memory {mib:.1} MiB");
                }
                Ok(())
            }
            // `cargo bench` with no arguments runs every bench target: nothing to do here.
            "--bench" => Ok(()),
            other => Err(format!("unknown mode '{other}'; use native or parse")),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("floor: {e}");
            ExitCode::FAILURE
        }
    }
}
