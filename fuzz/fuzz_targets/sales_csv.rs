//! `sales.csv` from the fuzzer, next to the mini fixture's clients, managers and plans, through
//! a whole run in memory: streaming and parsing the lines, the facts and their exact sums,
//! the mini pack's rules, rounding and reconciliation. Errors are fine; a panic is a bug.

#![no_main]

use bonusrun::evaluate::{self, RunOptions};
use bonusrun::load::DataSource;
use bonusrun::pack::PackSource;
use bonusrun::rules::RulePack;
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

static PACK_FILES: &[(&str, &[u8])] = &[
    (
        "pack.toml",
        include_bytes!("../../tests/data/mini/pack.toml") as &[u8],
    ),
    (
        "rules.rhai",
        include_bytes!("../../tests/data/mini/rules.rhai") as &[u8],
    ),
];

static TABLES: &[(&str, &[u8])] = &[
    (
        "clients.csv",
        include_bytes!("../../tests/data/mini/data/clients.csv") as &[u8],
    ),
    (
        "managers.csv",
        include_bytes!("../../tests/data/mini/data/managers.csv") as &[u8],
    ),
    (
        "plans.csv",
        include_bytes!("../../tests/data/mini/data/plans.csv") as &[u8],
    ),
];

/// The mini pack, loaded and compiled once per process.
fn pack() -> Arc<RulePack> {
    static PACK: OnceLock<Arc<RulePack>> = OnceLock::new();
    PACK.get_or_init(|| {
        let source = PackSource::Embedded {
            label: "fuzz:tests/data/mini".into(),
            files: PACK_FILES,
        };
        Arc::new(RulePack::load(&source).expect("the mini pack loads"))
    })
    .clone()
}

fuzz_target!(|sales: &[u8]| {
    let mut files: Vec<(String, Vec<u8>)> = TABLES
        .iter()
        .map(|(name, bytes)| (name.to_string(), bytes.to_vec()))
        .collect();
    files.push(("sales.csv".to_string(), sales.to_vec()));
    let data = DataSource::Memory {
        label: "fuzz".into(),
        files: Arc::new(files),
        sources: Vec::new(),
    };
    let options = RunOptions {
        threads: Some(1),
        ..RunOptions::default()
    };
    let _ = evaluate::run(pack(), &data, &options);
});
