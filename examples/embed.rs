//! Embedding bonusrun: a program that runs a rule pack on a data set itself and reads the
//! typed results, instead of calling the `bonusrun` binary.
//!
//! ```sh
//! cargo run --release --example embed                      # the bundled example
//! cargo run --release --example embed -- rules/romashka rules/romashka/data out
//! ```
//!
//! With a pack directory and a data directory (or a `data.toml` mapping) it runs those; with
//! a third argument it also writes the usual outputs there, as `bonusrun run --out` does.

use bonusrun::evaluate::{self, RunOptions};
use bonusrun::load::DataSource;
use bonusrun::pack::PackSource;
use bonusrun::rules::RulePack;
use std::path::PathBuf;
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (pack, data) = match args.as_slice() {
        [] => (bonusrun::bundled::pack(), bonusrun::bundled::data()),
        [pack, data, ..] => (PackSource::Dir(pack.into()), data_source(data)?),
        [_] => return Err("give a pack directory and a data directory, or nothing".into()),
    };
    // The pack is loaded and its scripts compiled once, before any data is read.
    let pack = Arc::new(RulePack::load(&pack)?);
    let options = RunOptions {
        threads: Some(2),
        ..RunOptions::default()
    };
    let result = evaluate::run(pack, &data, &options)?;
    println!(
        "period {}, {} managers",
        result.period(),
        result.managers.len()
    );
    for m in &result.managers {
        let manager = &result.data.managers[m.manager as usize];
        let gated = m.lines.iter().any(|l| l.kind == "gate");
        let note = if gated { " (gate closed)" } else { "" };
        println!("{:<6} {:>12}{note}", manager.id, m.payout);
    }
    println!("total  {:>12} {}", result.total, result.pack.currency.code);
    if let Some(out) = args.get(2) {
        bonusrun::outputs::write_run(&result, out.as_ref(), false)?;
        println!("outputs written to {out}");
    }
    Ok(())
}

/// A directory of canonical CSV files, or a `data.toml` mapping of real exports.
fn data_source(arg: &str) -> Result<DataSource, Box<dyn std::error::Error>> {
    let path = PathBuf::from(arg);
    if path.extension().is_some_and(|e| e == "toml") {
        return Ok(bonusrun::mapping::load(&path)?);
    }
    Ok(DataSource::Dir(path))
}
