//! bonusrun: a rule-engine host for period-end KPI and bonus runs.
//!
//! The pipeline, one module per step:
//!
//! 1. [`pack`] loads a company's rule pack (`pack.toml`, Rhai scripts, tables) and compiles
//!    its scripts once, before any data is read;
//! 2. [`load`] reads and validates the canonical input tables (clients, managers, plans,
//!    contracts) and streams the sales lines;
//! 3. [`facts`] aggregates the sales lines in parallel into per-client, per-manager and
//!    company facts for the run period, the previous period and the same period a year ago;
//! 4. [`rules`] runs the pack's three stages (key clients, KPIs, bonus) through a sandboxed
//!    Rhai engine over read-only views of those facts;
//! 5. [`evaluate`] drives the stages in parallel with rayon, rounds money and reconciles;
//! 6. [`ledger`] remembers each run in a SQLite file, closes periods and carries balances
//!    (true-ups, draws) from one period to the next;
//! 7. [`outputs`] writes the bonus run (CSV, statements, `run.json`) through a staging
//!    directory, so a failed run leaves nothing behind.
//!
//! [`generate`] makes synthetic data sets in the canonical format, and [`explain`] tells in
//! plain words how one payout came about.
//!
//! # Embedding
//!
//! The library is what the `bonusrun` binary uses. A program loads a pack with
//! [`rules::RulePack::load`] (Rhai scripts, or sandboxed WebAssembly plugins of the world
//! `bonusrun:rules`, run by [`rules::wasm`]), names its data as a [`load::DataSource`] (a
//! directory of canonical CSV files, or real exports through a `data.toml` mapping loaded by
//! [`mapping::load`]), and calls [`evaluate::run`] with [`evaluate::RunOptions`] (period,
//! threads, deadline, ledger). The [`evaluate::RunResult`] holds the typed results; the
//! outputs writer [`outputs::write_run`] writes the usual files through a staging directory.
//! Stages written in Rust implement [`rules::NativeRules`] and run through
//! [`evaluate::run_native`]. A runnable example is `examples/embed.rs`
//! (`cargo run --release --example embed`), which the tests build and run; see also
//! `docs/embedding.md`.

// Errors carry full locations (file, line, column, script, subject) and are on the cold
// path; boxing them everywhere would only add noise.
#![allow(clippy::result_large_err)]

pub mod bundled;
pub mod casebook;
pub mod confine;
pub mod diagnostic;
pub mod error;
pub mod evaluate;
pub mod explain;
pub mod facts;
pub mod generate;
pub mod ledger;
pub mod load;
pub mod mapping;
pub mod money;
pub mod outputs;
pub mod pack;
pub mod period;
pub mod regulation;
pub mod rules;
pub mod suggest;
pub mod whatif;

pub use error::Error;
