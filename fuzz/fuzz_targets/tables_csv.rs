//! One of clients.csv, managers.csv, plans.csv and contracts.csv from the fuzzer (the first
//! byte chooses which), the others from the mini fixture, through the table loader and its
//! validation. Errors are fine; a panic is a bug.

#![no_main]

use bonusrun::load::{load_tables, DataSource};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

const CONTRACTS: &[u8] = b"contract_id,client_id,manager_id,start,end,renewed_on
K1,C1,M1,2025-04-01,2026-03-31,2026-03-20
K2,C2,M2,2025-03-01,2026-02-28,
K3,C4,M4,2026-01-01,2026-12-31,
";

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
    ("contracts.csv", CONTRACTS),
];

fuzz_target!(|input: &[u8]| {
    let Some((&which, table)) = input.split_first() else {
        return;
    };
    let which = usize::from(which) % TABLES.len();
    let files: Vec<(String, Vec<u8>)> = TABLES
        .iter()
        .enumerate()
        .map(|(i, &(name, bytes))| {
            let bytes = if i == which { table } else { bytes };
            (name.to_string(), bytes.to_vec())
        })
        .collect();
    let data = DataSource::Memory {
        label: "fuzz".into(),
        files: Arc::new(files),
        sources: Vec::new(),
    };
    let _ = load_tables(&data);
});
