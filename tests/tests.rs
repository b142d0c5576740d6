//! Integration tests: every test runs the real `bonusrun` binary on fixtures whose expected
//! results are worked out by hand in the test or fixture. One module, `native`, calls the
//! library instead, to check that the benchmarks' native floor pays what the Rhai pack pays.

mod util;

#[path = "../benches/native/romashka.rs"]
mod native_romashka;

mod contract;
mod credit;
mod currency;
mod determinism;
mod docs;
mod errors;
mod exports;
mod finance;
mod fuzz;
mod key_clients;
mod layers;
mod ledger;
mod native;
mod parquet;
mod payees;
mod payouts;
mod plugins;
mod progress;
mod pushdown;
mod report;
mod runaway;
mod trust;
mod windows;
