//! Seeded mutation fuzzing through the real binary, sized to run inside `cargo test --release`
//! (about a minute on 2 cores). Each test starts from a small valid input (the mini fixture,
//! a `data.toml` mapping of it, its pack, its rules, the command line), mutates it with a
//! deterministic PRNG, runs `bonusrun` under a hard timeout, and checks what must hold for
//! *any* input:
//!
//! - the process ends by itself (no signal, no timeout) with exit code 0, 1 or 2; 70 (a
//!   panic bonusrun caught) and 101 (one it did not) are failures;
//! - stderr shows no panic, backtrace, internal error or stack overflow;
//! - on success, `run.json` says `"reconciled": true`, the `payout` column of `payouts.csv`
//!   adds up exactly to `total_payout`, and each statement's lines add up to its payout;
//! - on failure, nothing was written: no output directory and no staging directory.
//!
//! Before its cases, each test runs the unmutated input and requires exit 0, so that a
//! broken fixture cannot turn the suite into a test of error paths only.
//!
//! A case is replayed from the test's seed and its number, which a failure prints with the
//! command to rerun it; the case's files are kept. Optional environment variables:
//!
//! - `BONUSRUN_FUZZ_CASES`: `N` runs N cases per test; `Nx` runs N times the defaults below.
//! - `BONUSRUN_FUZZ_SEED`: mixed into every test's fixed seed, to explore other cases.
//! - `BONUSRUN_FUZZ_CASE`: runs only this case number (to replay a failure).
//!
//! Every crash found here becomes a regression test of its own in `tests/` (docs/fuzzing.md).

use crate::util::{append, copy_dir, edit, fixture, read, scratch, test_cache_dir};
use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt::{self, Write as _};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

// Cases per test, about a minute in all on 2 cores. One case is one bonusrun process: about
// 10 ms on this tiny data, up to a few seconds when a hostile rule runs into its pack's
// per-call time limit. A campaign of 30 times these (BONUSRUN_FUZZ_CASES=30x) found nothing.
const SALES_CASES: usize = 1440;
const TABLES_CASES: usize = 1200;
const MAPPING_CASES: usize = 720;
const PACK_CASES: usize = 960;
const SCRIPT_CASES: usize = 360;
const CLI_CASES: usize = 720;
const CREDIT_CASES: usize = 480;
const REPORT_CASES: usize = 240;
const FACTS_CASES: usize = 240;
const PARQUET_CASES: usize = 240;
const FACTS_PARQUET_CASES: usize = 240;

// One fixed seed per test.
const SALES_SEED: u64 = 0x5A1E_5C5F_0000_0001;
const TABLES_SEED: u64 = 0x7AB1_E5C5_0000_0002;
const MAPPING_SEED: u64 = 0xDA7A_7031_0000_0003;
const PACK_SEED: u64 = 0x9ACC_7031_0000_0004;
const SCRIPT_SEED: u64 = 0x5C81_9700_0000_0005;
const CLI_SEED: u64 = 0xC011_A5D0_0000_0006;
const CREDIT_SEED: u64 = 0xC4ED_1700_0000_0007;
const REPORT_SEED: u64 = 0x4E90_4700_0000_0008;
const FACTS_SEED: u64 = 0xFAC7_5000_0000_0009;
const PARQUET_SEED: u64 = 0x9A2E_0000_0000_000A;
const FACTS_PARQUET_SEED: u64 = 0xFAC7_9A2E_0000_000B;

/// A process still running after this long is killed, and its case fails.
const HARD_TIMEOUT: Duration = Duration::from_secs(20);
/// `bonusrun run --deadline`: the run stops itself well before [`HARD_TIMEOUT`].
const DEADLINE: &str = "10";
/// Appended to every pack the tests control, so that a runaway rule stops within seconds.
const CALL_LIMIT: &str = "\n[limits]\nmax_seconds_per_call = 2\n";
/// A test stops after this many failing cases and reports them together.
const MAX_FAILURES: usize = 3;
/// Text on stderr that means a crash, whatever the exit code.
const CRASH_SIGNS: &[&str] = &[
    "panicked",
    "RUST_BACKTRACE",
    "stack backtrace",
    "internal error",
    "overflowed its stack",
];
/// A file the command-line test puts in an output directory that exists before the run.
const SENTINEL: &str = "kept-by-the-fuzz-test.txt";

// ---------------------------------------------------------------------------------------
// The tests

/// (a) `sales.csv` of the mini fixture, mutated.
#[test]
fn sales_csv() {
    fuzz("sales_csv", SALES_SEED, SALES_CASES, |rng, dir, mutate| {
        let pack = mini_pack(dir);
        let mut log = Vec::new();
        if mutate {
            let sales = pack.join("data/sales.csv");
            mutate_csv_file(rng, &sales, b',', sales_line, &mut log);
        }
        Case::run(run_args(rng, None), log)
    });
}

/// (b) The small tables: clients, managers, plans, and a contracts.csv and an
/// adjustments.csv each added to half of the cases.
#[test]
fn small_tables() {
    fuzz(
        "small_tables",
        TABLES_SEED,
        TABLES_CASES,
        |rng, dir, mutate| {
            let pack = mini_pack(dir);
            let data = pack.join("data");
            let mut log = Vec::new();
            let with_contracts = rng.percent(50);
            if with_contracts {
                std::fs::write(data.join("contracts.csv"), CONTRACTS).unwrap();
                log.push("with contracts.csv".to_string());
            }
            let with_adjustments = rng.percent(50);
            if with_adjustments {
                std::fs::write(data.join("adjustments.csv"), ADJUSTMENTS).unwrap();
                log.push("with adjustments.csv".to_string());
            }
            // Half the cases give the managers days in the role and prorate.
            let dated = rng.percent(50);
            if dated {
                let managers = data.join("managers.csv");
                let text = read(&managers);
                let mut lines = text.lines();
                let mut out = format!("{},start,end\n", lines.next().unwrap());
                for l in lines {
                    out.push_str(&format!("{l},{}\n", role_dates(rng)));
                }
                std::fs::write(&managers, out).unwrap();
                append(&pack.join("pack.toml"), "\n[payout]\nprorate = \"days\"\n");
                log.push("managers with start and end, prorate = days".to_string());
            }
            if mutate {
                let all: [(&str, LineGen); 5] = [
                    ("clients.csv", client_line),
                    (
                        "managers.csv",
                        if dated {
                            dated_manager_line
                        } else {
                            manager_line
                        },
                    ),
                    ("plans.csv", plan_line),
                    ("contracts.csv", contract_line),
                    ("adjustments.csv", adjustment_line),
                ];
                let tables: Vec<(&str, LineGen)> = all
                    .iter()
                    .copied()
                    .filter(|(f, _)| {
                        (*f != "contracts.csv" || with_contracts)
                            && (*f != "adjustments.csv" || with_adjustments)
                    })
                    .collect();
                let tables = &tables[..];
                let files = if rng.percent(20) { 2 } else { 1 };
                for _ in 0..files {
                    let (file, make_line) = *rng.pick(tables);
                    mutate_csv_file(rng, &data.join(file), b',', make_line, &mut log);
                }
            }
            Case::run(run_args(rng, None), log)
        },
    );
}

/// (b2) Who is credited, in what currency: `owners.csv`, `credits.csv`, `fx_rates.csv`,
/// managers with `reports_to` and `currency`, sales lines with a `currency` (some naming no
/// manager), overlay credit and period-average rates in the pack; the files mutated.
#[test]
fn credit_tables() {
    fuzz(
        "credit_tables",
        CREDIT_SEED,
        CREDIT_CASES,
        |rng, dir, mutate| {
            let pack = mini_pack(dir);
            let data = pack.join("data");
            let mut log = Vec::new();
            let managers = data.join("managers.csv");
            let mut out = String::from("manager_id,name,target_bonus,reports_to,currency\n");
            for (i, l) in read(&managers).lines().skip(1).enumerate() {
                let head = if i > 0 && rng.percent(60) {
                    format!("M{}", rng.range(1, i))
                } else {
                    String::new()
                };
                let currency = *rng.pick(&["", "", "EUR", "RUB"]);
                out.push_str(&format!("{l},{head},{currency}\n"));
            }
            std::fs::write(&managers, out).unwrap();
            let sales = data.join("sales.csv");
            let text = read(&sales);
            let mut lines = text.lines();
            let mut out = format!("{},currency\n", lines.next().unwrap());
            for l in lines {
                let l = if l.contains(",C1,") && rng.percent(50) {
                    l.replacen(",M1,", ",,", 1)
                } else {
                    l.to_string()
                };
                out.push_str(&format!("{l},{}\n", rng.pick(&["", "", "EUR", "RUB"])));
            }
            std::fs::write(&sales, out).unwrap();
            std::fs::write(data.join("owners.csv"), OWNERS).unwrap();
            std::fs::write(data.join("credits.csv"), CREDITS).unwrap();
            std::fs::write(data.join("fx_rates.csv"), FX_RATES).unwrap();
            // The unmutated case must run, so it allows the overlay row of credits.csv.
            if !mutate || rng.percent(70) {
                append(&pack.join("pack.toml"), "\n[credit]\noverlay = true\n");
                log.push("overlay allowed".to_string());
            }
            if rng.percent(30) {
                append(
                    &pack.join("pack.toml"),
                    "\n[fx]\nrates = \"period_average\"\n",
                );
                log.push("period-average rates".to_string());
            }
            if mutate {
                let tables: [(&str, LineGen); 4] = [
                    ("owners.csv", owner_line),
                    ("credits.csv", credit_line),
                    ("fx_rates.csv", fx_line),
                    ("managers.csv", team_manager_line),
                ];
                let files = if rng.percent(20) { 2 } else { 1 };
                for _ in 0..files {
                    let (file, make_line) = *rng.pick(&tables);
                    mutate_csv_file(rng, &data.join(file), b',', make_line, &mut log);
                }
            }
            Case::run(run_args(rng, None), log)
        },
    );
}

/// (c) A `data.toml` mapping of the mini sales (semicolons, decimal commas, DD/MM/YYYY
/// dates, a lookup and an expression), its text and its source files mutated.
#[test]
fn data_toml_mapping() {
    fuzz(
        "data_toml_mapping",
        MAPPING_SEED,
        MAPPING_CASES,
        |rng, dir, mutate| {
            mini_pack(dir);
            let src = dir.join("src");
            write_mapping(&src);
            let mut log = Vec::new();
            if mutate {
                mutate_mapping(rng, &src, &mut log);
            }
            Case::run(run_args(rng, Some("src/data.toml")), log)
        },
    );
}

/// (h) `bonusrun report` on a run directory whose run.json and statements were edited (the
/// hashes in run.json edited to match, so the edits reach the renderer): figures at the
/// edges of a decimal, text where numbers were, missing keys.
#[test]
fn report_files() {
    fuzz(
        "report_files",
        REPORT_SEED,
        REPORT_CASES,
        |rng, dir, mutate| {
            let made = std::process::Command::new(env!("CARGO_BIN_EXE_bonusrun"))
                .args(["run", "--out", "r", "-q", "--no-ledger"])
                .current_dir(dir)
                .output()
                .unwrap();
            assert!(made.status.success(), "{made:?}");
            let mut log = Vec::new();
            if mutate {
                mutate_run_dir(rng, &dir.join("r"), &mut log);
            }
            Case::nothing(os_args(&["report", "r", "--out", "page.html"]), log)
        },
    );
}

/// (i) `run --facts` on a facts file (DuckDB's result of the query `bonusrun sql` prints, for
/// the windows-and-measures fixture) with lines edited, removed, duplicated or garbled.
#[test]
fn facts_file() {
    let pack = fixture("windows");
    let base = base_file("facts.csv", |dir| {
        crate::pushdown::facts_by_duckdb(dir, &pack, "2026-Q3", &pack.join("data/sales.csv"))
    });
    fuzz("facts_file", FACTS_SEED, FACTS_CASES, |rng, dir, mutate| {
        std::fs::copy(&base, dir.join("facts.csv")).unwrap();
        let mut log = Vec::new();
        if mutate {
            mutate_csv_file(rng, &dir.join("facts.csv"), b',', facts_line, &mut log);
        }
        let rules = pack.to_str().unwrap();
        let args = [
            "run",
            "--rules",
            rules,
            "--facts",
            "facts.csv",
            "--no-ledger",
            "-q",
            "--out",
            "out",
        ];
        Case::run(os_args(&args), log)
    });
}

/// (j) `run` on a data directory whose `sales.parquet` (the mini data, written by DuckDB
/// with typed columns) has bytes flipped, overwritten, cut off or appended.
#[test]
fn sales_parquet() {
    let base = base_file("sales.parquet", |dir| {
        copy_dir(&fixture("mini/data"), &dir.join("data"));
        let (csv, parquet) = (dir.join("data/sales.csv"), dir.join("sales.parquet"));
        let args = [
            csv.as_path(),
            parquet.as_path(),
            Path::new("typed"),
            Path::new("1000"),
        ];
        crate::pushdown::duckdb("to_parquet.py", &args);
        parquet
    });
    fuzz(
        "sales_parquet",
        PARQUET_SEED,
        PARQUET_CASES,
        |rng, dir, mutate| {
            let pack = mini_pack(dir);
            copy_dir(&fixture("mini/data"), &dir.join("data"));
            std::fs::remove_file(dir.join("data/sales.csv")).unwrap();
            let log = write_mutated(rng, &base, &dir.join("data/sales.parquet"), mutate);
            let rules = pack.to_str().unwrap();
            let args = [
                "run",
                "--rules",
                rules,
                "--data",
                "data",
                "--no-ledger",
                "-q",
                "--out",
                "out",
            ];
            Case::run(os_args(&args), log)
        },
    );
}

/// (k) `run --facts` on a Parquet facts file (DuckDB's result of the query `bonusrun sql`
/// prints, for the windows-and-measures fixture) with bytes flipped, overwritten, cut off or
/// appended: the reader that turns a Parquet file into text rows, which mapped Parquet
/// sources also go through.
#[test]
fn facts_parquet() {
    let pack = fixture("windows");
    let base = base_file("facts.parquet", |dir| {
        let sales = pack.join("data/sales.csv");
        crate::pushdown::facts_by_duckdb_as(dir, &pack, "2026-Q3", &sales, "facts.parquet")
    });
    fuzz(
        "facts_parquet",
        FACTS_PARQUET_SEED,
        FACTS_PARQUET_CASES,
        |rng, dir, mutate| {
            let log = write_mutated(rng, &base, &dir.join("facts.parquet"), mutate);
            let rules = pack.to_str().unwrap();
            let args = [
                "run",
                "--rules",
                rules,
                "--facts",
                "facts.parquet",
                "--no-ledger",
                "-q",
                "--out",
                "out",
            ];
            Case::run(os_args(&args), log)
        },
    );
}

/// A file made once for a fuzz test (`make` writes it in a scratch directory and returns it).
fn base_file(name: &str, make: impl FnOnce(&Path) -> PathBuf) -> PathBuf {
    make(&scratch(&format!("fuzz-base-{name}")))
}

/// A line of a facts file: a segment, client, total or run row with plausible or edge values.
fn facts_line(rng: &mut Rng) -> String {
    let kind = ["segment", "client", "total", "run", "", "segmentx"][rng.below(6)];
    let num = |rng: &mut Rng| {
        [
            "1000.00",
            "-5",
            "",
            "abc",
            "79228162514264337593543950335",
            "0.0000000000000000000000000001",
            "1e9",
        ][rng.below(7)]
        .to_string()
    };
    let date = |rng: &mut Rng| {
        ["2026-07-01", "2026-08-01", "0001-01-01", "2026-13-40", ""][rng.below(5)].to_string()
    };
    let names = ["[\"P1\"]", "[]", "null", "[1,2]", "\"{\"", ""][rng.below(6)];
    format!(
        "{kind},{},C{},M{},{},{},{},{},{},{},{},{},{},{},\"{names}\",\"{names}\",{},{}",
        ["", "2026-Q3", "2026-Q2", "x"][rng.below(4)],
        rng.below(4),
        rng.below(4),
        date(rng),
        date(rng),
        ["1", "0", "-1", "18446744073709551616", ""][rng.below(5)],
        ["0", "1", ""][rng.below(3)],
        num(rng),
        num(rng),
        num(rng),
        num(rng),
        date(rng),
        date(rng),
        ["", "0", "3"][rng.below(3)],
        ["2 2 0 2 0 0 0 0", "", "99 1", "a b"][rng.below(4)],
    )
}

/// Flips, overwrites, cuts or appends bytes of a binary file.
/// Writes the bytes of `base` to `to`, mutated when `mutate`; returns what was done.
fn write_mutated(rng: &mut Rng, base: &Path, to: &Path, mutate: bool) -> Vec<String> {
    let mut bytes = std::fs::read(base).unwrap();
    let mut log = Vec::new();
    if mutate {
        mutate_bytes(rng, &mut bytes, &mut log);
    }
    std::fs::write(to, bytes).unwrap();
    log
}

fn mutate_bytes(rng: &mut Rng, bytes: &mut Vec<u8>, log: &mut Vec<String>) {
    for _ in 0..mutation_count(rng) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.below(bytes.len());
        match rng.below(5) {
            0 => {
                bytes[at] ^= 1 << rng.below(8);
                log.push(format!("flip a bit of byte {at}"));
            }
            1 => {
                let n = (rng.below(16) + 1).min(bytes.len() - at);
                for b in &mut bytes[at..at + n] {
                    *b = rng.below(256) as u8;
                }
                log.push(format!("overwrite {n} bytes at {at}"));
            }
            2 => {
                bytes.truncate(at);
                log.push(format!("cut at byte {at}"));
            }
            3 => {
                // Near the end: the footer, whose lengths and offsets the reader trusts most.
                let at = bytes.len().saturating_sub(rng.below(64) + 1);
                bytes[at] = [0, 0xff, 0x7f, 0x80][rng.below(4)];
                log.push(format!("set footer byte {at}"));
            }
            _ => {
                let n = rng.below(64);
                bytes.extend((0..n).map(|_| rng.below(256) as u8));
                log.push(format!("append {n} bytes"));
            }
        }
    }
}

/// Edits string leaves of run.json and of some statements, deletes some keys, and puts the
/// statements' new hashes into run.json.
fn mutate_run_dir(rng: &mut Rng, run: &Path, log: &mut Vec<String>) {
    use sha2::Digest;
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("run.json")).unwrap()).unwrap();
    let names: Vec<String> = manifest["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap().to_string())
        .filter(|n| n.starts_with("statements/"))
        .collect();
    for name in &names {
        if !rng.percent(40) {
            continue;
        }
        let path = run.join(name);
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        mutate_json(rng, &mut v, name, log);
        let bytes = serde_json::to_vec(&v).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        let hex: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        for o in manifest["outputs"].as_array_mut().unwrap() {
            if o["path"] == name.as_str() {
                o["sha256"] = serde_json::json!(hex);
            }
        }
    }
    if rng.percent(30) {
        mutate_json(rng, &mut manifest, "run.json", log);
        // The outputs list stays usable, or the run is simply not one.
    }
    std::fs::write(run.join("run.json"), serde_json::to_vec(&manifest).unwrap()).unwrap();
}

fn mutate_json(rng: &mut Rng, v: &mut serde_json::Value, file: &str, log: &mut Vec<String>) {
    const EDGES: [&str; 9] = [
        "79228162514264337593543950335",
        "-79228162514264337593543950335",
        "0.0000000000000000000000000001",
        "0",
        "",
        "abc",
        "1e30",
        "NaN",
        "-0.5",
    ];
    match v {
        serde_json::Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                if k != "outputs" && k != "path" && k != "sha256" && rng.percent(1) {
                    map.remove(&k);
                    log.push(format!("{file}: removed {k}"));
                } else if let Some(child) = map.get_mut(&k) {
                    mutate_json(rng, child, file, log);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                mutate_json(rng, item, file, log);
            }
        }
        serde_json::Value::String(text) if rng.percent(1) => {
            let new = if rng.percent(50) {
                rng.pick(&EDGES).to_string()
            } else {
                random_decimal(rng)
            };
            log.push(format!("{file}: {text:?} -> {new:?}"));
            *text = new;
        }
        _ => {}
    }
}

/// (d) `pack.toml` of the mini pack with a decision table added; sometimes the table too.
/// One case in five runs `check` instead of `run`.
#[test]
fn pack_toml() {
    fuzz("pack_toml", PACK_SEED, PACK_CASES, |rng, dir, mutate| {
        let pack = pack_with_table(dir);
        let mut log = Vec::new();
        if !mutate {
            return Case::run(run_args(rng, None), log);
        }
        mutate_toml_file(rng, &pack.join("pack.toml"), &PACK_SHAPE, &mut log);
        if rng.percent(20) {
            let table = pack.join("tables/curve.csv");
            mutate_csv_file(rng, &table, b',', curve_line, &mut log);
        }
        if rng.percent(20) {
            Case::nothing(os_args(&["check", "--rules", "pack"]), log)
        } else {
            Case::run(run_args(rng, None), log)
        }
    });
}

/// (e) `rules.rhai` of the mini pack: hostile snippets spliced into the entry functions
/// (runaway loops, bombs, deep nesting and recursion, edge decimals), hostile return
/// values, and token and byte mutations.
#[test]
fn rules_script() {
    fuzz(
        "rules_script",
        SCRIPT_SEED,
        SCRIPT_CASES,
        |rng, dir, mutate| {
            let pack = mini_pack(dir);
            let mut log = Vec::new();
            if mutate {
                let path = pack.join("rules.rhai");
                let mut text = std::fs::read(&path).unwrap();
                mutate_script(rng, &mut text, &mut log);
                std::fs::write(path, text).unwrap();
            }
            Case::run(run_args(rng, None), log)
        },
    );
}

/// (f) The command line: `run`, `explain`, `diff` and `check` with random periods,
/// `--set` overrides, thread counts, deadlines, field limits, paths, an output directory
/// that already exists (with and without `--force`), options in any order.
#[test]
fn command_line() {
    fuzz("command_line", CLI_SEED, CLI_CASES, |rng, dir, mutate| {
        mini_pack(dir);
        if mutate {
            cli_case(rng, dir)
        } else {
            Case::run(run_args(rng, None), Vec::new())
        }
    });
}

// ---------------------------------------------------------------------------------------
// The harness

/// splitmix64: a tiny PRNG whose output depends only on its seed, so that a seed and a case
/// number replay a case on any machine.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`; `n` must not be 0.
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True `p` times in a hundred.
    fn percent(&mut self, p: u64) -> bool {
        self.next_u64() % 100 < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// An index into `weights`, each drawn in proportion to its weight.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut r = self.below(total as usize) as u32;
        for (i, &w) in weights.iter().enumerate() {
            if r < w {
                return i;
            }
            r -= w;
        }
        weights.len() - 1
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// What a case runs, and what it may leave behind.
struct Case {
    args: Vec<OsString>,
    expect: Expect,
    /// The mutations applied, for the failure report.
    log: Vec<String>,
}

#[derive(Clone, Copy)]
enum Expect {
    /// `run --out out`: outputs on success, nothing on failure. `existed`: `out` was there
    /// before the run, with [`SENTINEL`] in it; `foreign`: that file was not listed in its
    /// `run.json`, so `out` is not bonusrun's outputs and even `--force` must keep it;
    /// `force`: `--force` was given.
    Outputs {
        existed: bool,
        foreign: bool,
        force: bool,
    },
    /// A command that writes nothing (`check`, `explain`, `diff`).
    Nothing,
}

impl Case {
    fn run(args: Vec<OsString>, log: Vec<String>) -> Case {
        Case {
            args,
            expect: Expect::Outputs {
                existed: false,
                foreign: false,
                force: false,
            },
            log,
        }
    }

    fn nothing(args: Vec<OsString>, log: Vec<String>) -> Case {
        Case {
            args,
            expect: Expect::Nothing,
            log,
        }
    }
}

/// How a bonusrun process ended.
struct Outcome {
    status: ExitStatus,
    timed_out: bool,
    elapsed: Duration,
    stderr: String,
}

/// Cases past the default count that once failed, run every time: (test, case). Each was
/// found with `BONUSRUN_FUZZ_CASES=3000`; the seed is the test's own.
/// The third field is what the case's error must say.
const REGRESSIONS: &[(&str, usize, &str)] = &[
    // A damaged footer (a negative column length) made the parquet crate panic: exit 70.
    (
        "sales_parquet",
        2887,
        "sales.parquet: is not a readable Parquet file: the reader stopped on damaged data (column start and length should not be negative)",
    ),
];

/// The test, for reports.
struct Target<'a> {
    name: &'a str,
    /// The seed in use: the test's own, mixed with `BONUSRUN_FUZZ_SEED`.
    seed: u64,
    /// `BONUSRUN_FUZZ_SEED`, or 0.
    extra: u64,
}

/// Runs the unmutated input, then the cases of one test. `make` prepares a case in an empty
/// directory: the unmutated input when its last argument is false.
fn fuzz(name: &str, seed: u64, default_cases: usize, make: impl Fn(&mut Rng, &Path, bool) -> Case) {
    let extra = env_u64("BONUSRUN_FUZZ_SEED").unwrap_or(0);
    let target = Target {
        name,
        seed: seed ^ extra,
        extra,
    };

    let dir = scratch(&format!("fuzz-{name}-base"));
    let case = make(&mut Rng::new(target.seed), &dir, false);
    let outcome = execute(&dir, &case.args);
    match judge(&case, &outcome, &dir) {
        Ok(0) => {
            let _ = std::fs::remove_dir_all(dir);
        }
        Ok(code) => {
            let why = format!("exit code {code}: the unmutated input must succeed, or the cases would only test error paths");
            panic!("{}", report(&target, None, &dir, &case, &outcome, &why));
        }
        Err(why) => panic!("{}", report(&target, None, &dir, &case, &outcome, &why)),
    }

    let cases: Vec<usize> = match env_u64("BONUSRUN_FUZZ_CASE") {
        Some(n) => vec![n as usize],
        None => {
            let count = case_count(default_cases);
            let regressions = REGRESSIONS.iter().filter(|r| r.0 == name && r.1 >= count);
            (0..count).chain(regressions.map(|r| r.1)).collect()
        }
    };
    let started = Instant::now();
    let mut exits = [0usize; 3];
    let mut failures = Vec::new();
    for n in cases {
        let mut rng = Rng::new(target.seed ^ (n as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
        let dir = scratch(&format!("fuzz-{name}-{n}"));
        let case = make(&mut rng, &dir, true);
        let outcome = execute(&dir, &case.args);
        let expected = REGRESSIONS.iter().find(|r| r.0 == name && r.1 == n);
        let said = |dir: &Path, want: &str| {
            let stderr = std::fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default();
            match stderr.contains(want) {
                true => Ok(1),
                false => Err(format!("regression case: the error must say {want:?}")),
            }
        };
        let judged = match (judge(&case, &outcome, &dir), expected) {
            (Ok(1), Some(r)) => said(&dir, r.2),
            (judged, _) => judged,
        };
        match judged {
            Ok(code) => {
                exits[code as usize] += 1;
                let _ = std::fs::remove_dir_all(dir);
            }
            Err(why) => {
                failures.push(report(&target, Some(n), &dir, &case, &outcome, &why));
                if failures.len() >= MAX_FAILURES {
                    break;
                }
            }
        }
    }
    eprintln!(
        "fuzz::{name}: exit 0: {}, exit 1: {}, exit 2: {}, failed: {}; {:.1} s, seed {:#018x}",
        exits[0],
        exits[1],
        exits[2],
        failures.len(),
        started.elapsed().as_secs_f64(),
        target.seed
    );
    assert!(
        failures.is_empty(),
        "{} failing case(s); each crash becomes a regression test in tests/ (docs/fuzzing.md)\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Runs bonusrun in `dir`, its output in files there, and kills it after [`HARD_TIMEOUT`].
fn execute(dir: &Path, args: &[OsString]) -> Outcome {
    let stdout = std::fs::File::create(dir.join("stdout.txt")).unwrap();
    let stderr_path = dir.join("stderr.txt");
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bonusrun"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("RUST_BACKTRACE")
        .env("BONUSRUN_CACHE_DIR", test_cache_dir())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("the bonusrun binary starts");
    let mut timed_out = false;
    let mut nap = Duration::from_millis(1);
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for bonusrun") {
            break status;
        }
        if started.elapsed() > HARD_TIMEOUT {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("waiting for the killed bonusrun");
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    let stderr =
        String::from_utf8_lossy(&std::fs::read(stderr_path).unwrap_or_default()).into_owned();
    Outcome {
        status,
        timed_out,
        elapsed,
        stderr,
    }
}

/// The exit code (0, 1 or 2) if everything that must hold does; otherwise what does not.
fn judge(case: &Case, o: &Outcome, dir: &Path) -> Result<i32, String> {
    if o.timed_out {
        return Err(format!(
            "still running after {} s, killed (max_seconds_per_call and --deadline should have stopped it)",
            HARD_TIMEOUT.as_secs()
        ));
    }
    if let Some(signal) = o.status.signal() {
        let core = if o.status.core_dumped() {
            " (core dumped)"
        } else {
            ""
        };
        return Err(format!("killed by signal {signal}{core}"));
    }
    for sign in CRASH_SIGNS {
        if o.stderr.contains(sign) {
            return Err(format!("stderr says {sign:?}"));
        }
    }
    let code = o.status.code().unwrap_or(-1);
    match code {
        0..=2 => {}
        70 => return Err("exit code 70: bonusrun caught a panic (internal error)".into()),
        101 => return Err("exit code 101: a Rust panic".into()),
        other => return Err(format!("exit code {other}; expected 0, 1 or 2")),
    }
    left_behind(dir)?;
    let out = dir.join("out");
    match case.expect {
        Expect::Outputs {
            existed,
            foreign,
            force,
        } => {
            let sentinel = out.join(SENTINEL).exists();
            if code == 0 {
                if existed && !force {
                    return Err("exit 0 over an existing output directory without --force".into());
                }
                if existed && foreign {
                    return Err(
                        "exit 0 over an existing directory that was not bonusrun's outputs".into(),
                    );
                }
                if existed && sentinel {
                    return Err(
                        "after --force, files of the old output directory are still there".into(),
                    );
                }
                check_outputs(&out)?;
            } else if existed {
                if !sentinel {
                    return Err(format!(
                        "exit {code}, but the output directory that existed was changed"
                    ));
                }
            } else if out.exists() {
                return Err(format!(
                    "exit {code}, but {} exists: a failed run must write nothing",
                    out.display()
                ));
            }
        }
        Expect::Nothing => {
            if out.exists() {
                return Err(format!(
                    "exit {code}, and a command that writes nothing made out/"
                ));
            }
        }
    }
    Ok(code)
}

/// Hidden entries in the case directory are staging or set-aside output directories.
fn left_behind(dir: &Path) -> Result<(), String> {
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let name = entry.map_err(|e| e.to_string())?.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            return Err(format!(
                "{name} was left behind (a staging or set-aside output directory)"
            ));
        }
    }
    Ok(())
}

/// What a successful run must have written: `run.json` reconciled, the payouts adding up to
/// the total, each statement's lines to its payout, one statement per payout row.
fn check_outputs(out: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(out.join("run.json"))
        .map_err(|e| format!("exit 0, but run.json cannot be read: {e}"))?;
    let run: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("run.json is not JSON: {e}"))?;
    if run["reconciled"] != serde_json::Value::Bool(true) {
        return Err(format!("run.json: \"reconciled\" is {}", run["reconciled"]));
    }
    let total = run["total_payout"]
        .as_str()
        .ok_or("run.json: total_payout is not a string")?;
    let total = Exact::parse(total).map_err(|e| format!("run.json: total_payout: {e}"))?;

    let mut rdr =
        csv::Reader::from_path(out.join("payouts.csv")).map_err(|e| format!("payouts.csv: {e}"))?;
    let header = rdr
        .byte_headers()
        .map_err(|e| format!("payouts.csv: {e}"))?
        .clone();
    let col = header
        .iter()
        .position(|h| h == b"payout")
        .ok_or("payouts.csv has no payout column")?;
    let mut sum = Exact::ZERO;
    let mut payouts: HashMap<String, Exact> = HashMap::new();
    let mut rows = 0usize;
    for rec in rdr.byte_records() {
        let rec = rec.map_err(|e| format!("payouts.csv: {e}"))?;
        let cell = rec.get(col).ok_or("payouts.csv: a row without a payout")?;
        let cell = std::str::from_utf8(cell).map_err(|e| format!("payouts.csv: {e}"))?;
        let payout = Exact::parse(cell).map_err(|e| format!("payouts.csv: {e}"))?;
        sum = sum.plus(payout)?;
        let id = String::from_utf8_lossy(rec.get(0).unwrap_or_default()).into_owned();
        payouts.insert(id, payout);
        rows += 1;
    }
    if !sum.same_as(total)? {
        return Err(format!(
            "the payouts in payouts.csv add up to {sum}, but run.json's total_payout is {total}"
        ));
    }

    let dir = out.join("statements");
    let mut statements = 0usize;
    if dir.exists() {
        for entry in std::fs::read_dir(dir).map_err(|e| format!("statements/: {e}"))? {
            let path = entry.map_err(|e| format!("statements/: {e}"))?.path();
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
            let st: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("{name} is not JSON: {e}"))?;
            let payout = st["payout"]
                .as_str()
                .ok_or_else(|| format!("{name}: payout is not a string"))?;
            let payout = Exact::parse(payout).map_err(|e| format!("{name}: payout: {e}"))?;
            let mut lines = Exact::ZERO;
            for line in st["lines"]
                .as_array()
                .ok_or_else(|| format!("{name}: lines is not an array"))?
            {
                let amount = line["amount"]
                    .as_str()
                    .ok_or_else(|| format!("{name}: a line's amount is not a string"))?;
                let amount = Exact::parse(amount).map_err(|e| format!("{name}: amount: {e}"))?;
                lines = lines.plus(amount)?;
            }
            if !lines.same_as(payout)? {
                return Err(format!(
                    "statements/{name}: the lines add up to {lines}, but the payout is {payout}"
                ));
            }
            let id = st["manager"]["id"].as_str().unwrap_or_default();
            let Some(&row) = payouts.get(id) else {
                return Err(format!(
                    "statements/{name}: manager {id:?} is not in payouts.csv"
                ));
            };
            if !row.same_as(payout)? {
                return Err(format!(
                    "statements/{name} pays {payout}, payouts.csv pays manager {id:?} {row}"
                ));
            }
            statements += 1;
        }
    }
    if statements != rows {
        return Err(format!(
            "{statements} statement(s) for {rows} row(s) of payouts.csv"
        ));
    }
    Ok(())
}

/// An exact decimal read from output text: `units / 10^scale`. Money is compared and added
/// this way, never through binary floating point.
#[derive(Clone, Copy, Debug)]
struct Exact {
    units: i128,
    scale: u32,
}

impl Exact {
    const ZERO: Exact = Exact { units: 0, scale: 0 };

    /// Parses `-?digits(.digits)?`, as bonusrun writes money.
    fn parse(text: &str) -> Result<Exact, String> {
        let (negative, body) = match text.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, text),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let plain = !int.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.bytes().all(|b| b.is_ascii_digit())
            && !(body.contains('.') && frac.is_empty());
        if !plain {
            return Err(format!("{text:?} is not a plain decimal"));
        }
        let mut units: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            units = units
                .checked_mul(10)
                .and_then(|u| u.checked_add(i128::from(b - b'0')))
                .ok_or_else(|| format!("{text:?} has too many digits"))?;
        }
        Ok(Exact {
            units: if negative { -units } else { units },
            scale: frac.len() as u32,
        })
    }

    /// The units at a larger `scale`.
    fn at(self, scale: u32) -> Result<i128, String> {
        10i128
            .checked_pow(scale - self.scale)
            .and_then(|f| self.units.checked_mul(f))
            .ok_or_else(|| format!("{self} does not fit the checker's i128 at scale {scale}"))
    }

    fn plus(self, other: Exact) -> Result<Exact, String> {
        let scale = self.scale.max(other.scale);
        let units = self
            .at(scale)?
            .checked_add(other.at(scale)?)
            .ok_or_else(|| format!("{self} + {other} does not fit the checker's i128"))?;
        Ok(Exact { units, scale })
    }

    fn same_as(self, other: Exact) -> Result<bool, String> {
        let scale = self.scale.max(other.scale);
        Ok(self.at(scale)? == other.at(scale)?)
    }
}

impl fmt::Display for Exact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.units.unsigned_abs().to_string();
        let scale = self.scale as usize;
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        let sign = if self.units < 0 { "-" } else { "" };
        let dot = if scale > 0 { "." } else { "" };
        write!(f, "{sign}{int}{dot}{frac}")
    }
}

/// A failure report: what failed, how to replay it, the command and its stderr.
fn report(
    target: &Target,
    case: Option<usize>,
    dir: &Path,
    c: &Case,
    o: &Outcome,
    why: &str,
) -> String {
    let mut s = String::new();
    let which = case.map_or_else(
        || "the unmutated input".to_string(),
        |n| format!("case {n}"),
    );
    let _ = writeln!(s, "fuzz::{}, {which}: {why}", target.name);
    if let Some(n) = case {
        let env = if target.extra == 0 {
            String::new()
        } else {
            format!("BONUSRUN_FUZZ_SEED={} ", target.extra)
        };
        let _ = writeln!(
            s,
            "  replay: {env}BONUSRUN_FUZZ_CASE={n} cargo test --release --test integration fuzz::{}",
            target.name
        );
    }
    let _ = writeln!(s, "  seed: {:#018x}", target.seed);
    let _ = writeln!(s, "  mutations: {}", shorten(&c.log.join("; "), 3000));
    let args: Vec<String> = c
        .args
        .iter()
        .map(|a| shorten(&a.to_string_lossy(), 200))
        .collect();
    let _ = writeln!(
        s,
        "  command: bonusrun {} (in {}, kept)",
        args.join(" "),
        dir.display()
    );
    let timed_out = if o.timed_out { ", timed out" } else { "" };
    let _ = writeln!(
        s,
        "  status: {}, after {} ms{timed_out}",
        o.status,
        o.elapsed.as_millis()
    );
    let _ = writeln!(s, "  stderr: {}", shorten(o.stderr.trim_end(), 3000));
    s
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes in all)", &text[..end], text.len())
}

/// An environment variable as a number, decimal or `0x` hex.
fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    let value = value.trim();
    let parsed = match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => value.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name}={value}: expected a number")))
}

/// The number of cases for a test: its default, or `BONUSRUN_FUZZ_CASES`.
fn case_count(default: usize) -> usize {
    let Ok(value) = std::env::var("BONUSRUN_FUZZ_CASES") else {
        return default;
    };
    let value = value.trim();
    let parsed = match value.strip_suffix('x') {
        Some(factor) => factor.parse::<usize>().map(|f| f * default),
        None => value.parse(),
    };
    parsed.unwrap_or_else(|_| {
        panic!("BONUSRUN_FUZZ_CASES={value}: expected cases per test (500) or a factor (10x)")
    })
}

// ---------------------------------------------------------------------------------------
// Fixtures and command lines

/// The mini fixture copied to `dir/pack`, with a per-call time limit.
fn mini_pack(dir: &Path) -> PathBuf {
    let pack = dir.join("pack");
    copy_dir(&fixture("mini"), &pack);
    append(&pack.join("pack.toml"), CALL_LIMIT);
    pack
}

fn os_args(args: &[&str]) -> Vec<OsString> {
    args.iter().map(|&a| OsString::from(a)).collect()
}

/// `run --rules pack --out out --deadline 10`, on one or two threads, sometimes quiet.
fn run_args(rng: &mut Rng, data: Option<&str>) -> Vec<OsString> {
    let threads = rng.range(1, 2).to_string();
    let mut args = vec![
        "run",
        "--rules",
        "pack",
        "--out",
        "out",
        "--deadline",
        DEADLINE,
        "--threads",
        threads.as_str(),
    ];
    if let Some(d) = data {
        args.extend(["--data", d]);
    }
    if rng.percent(20) {
        args.push("-q");
    }
    os_args(&args)
}

const CONTRACTS: &str = "contract_id,client_id,manager_id,start,end,renewed_on
K1,C1,M1,2025-04-01,2026-03-31,2026-03-20
K2,C2,M2,2025-03-01,2026-02-28,
K3,C4,M4,2026-01-01,2026-12-31,
";

const OWNERS: &str = "client_id,manager_id,from,to
C1,M1,2020-01-01,2026-03-10
C1,M2,2026-03-11,
";

const CREDITS: &str = "client_id,manager_id,share,from,to,role
C2,M2,0.6,2026-03-01,,
C2,M3,0.4,2026-03-01,,split
C3,M4,0.1,,,overlay
";

const FX_RATES: &str = "date,from,to,rate
2020-01-01,EUR,RUB,100.5
2026-03-01,EUR,RUB,101.25
2020-01-01,RUB,EUR,0.0099
";

const ADJUSTMENTS: &str = "manager_id,period,amount,reason,approved_by,kpi,kind
M1,2026-03,150.00,Trade fair,CFO,,
M2,2026-03,-20.00,Correction,CFO,margin,correction
";

/// A decision table for the pack test, and the rule that looks it up.
const CURVE: &str = "from,to,factor,label
,0.8,0,below plan
0.8,1.0,1,near plan
1.0,,2,above plan
";

const CURVE_DECL: &str = r#"
[tables.curve]
file = "tables/curve.csv"
description = "A decision table the fuzz tests mutate."
hit_policy = "unique"
inputs = [{ name = "attainment", from = "from", to = "to" }]
columns = { from = "number", to = "number", factor = "number", label = "text" }

[windows.ytd]
kind = "year_to_date"
[windows.monthly]
kind = "each_month"
[windows.r12]
kind = "rolling"
months = 12

[measures.big]
count = "lines"
where = [{ column = "amount", at_least = 500 }]
[measures.dairy]
sum = "margin"
where = [{ column = "category", in = ["Dairy"] }]
[measures.products]
distinct = "product"

[payout]
prorate = "days"
"#;

const MINI_MARGIN: &str = r#"fn margin(m) { #{ value: m.cur.margin, target: m.plan("margin") } }"#;

const MARGIN_WITH_LOOKUP: &str = r#"fn margin(m) {
    let row = lookup("curve", #{ attainment: ratio(m.cur.margin, m.plan("margin")) });
    let months = 0;
    for w in m.windows("monthly") { if w.measure("big") > 0 { months += 1; } }
    #{ value: m.cur.margin, target: m.plan("margin"), note: `${row.label}, factor ${row.factor}; ytd ${m.window("ytd").measure("dairy")}, ${months} month(s), ${m.company.measure("products")} products, ${m.proration}` }
}"#;

/// The mini pack with a decision table that the margin KPI looks up.
fn pack_with_table(dir: &Path) -> PathBuf {
    let pack = mini_pack(dir);
    append(&pack.join("pack.toml"), CURVE_DECL);
    std::fs::create_dir_all(pack.join("tables")).unwrap();
    std::fs::write(pack.join("tables/curve.csv"), CURVE).unwrap();
    edit(&pack.join("rules.rhai"), MINI_MARGIN, MARGIN_WITH_LOOKUP);
    pack
}

/// The mini sales as an export: semicolons, decimal commas, space thousands, DD/MM/YYYY,
/// CRLF, quoted names with `;` and `""`, managers by region through People.csv.
const ORDERS: &str = concat!(
    "Row ID;Order Date;Customer ID;Customer Name;Region;Product ID;Category;Quantity;Sales;Profit\r\n",
    "1;02/03/2026;C1;\"Ann C1; \"\"Ltd\"\"\";North;P1;Dairy;10;600,00;450,00\r\n",
    "2;20/03/2026;C1;\"Ann C1; \"\"Ltd\"\"\";North;P2;Bakery;5;400,00;250,00\r\n",
    "3;03/03/2026;C2;Bob C2;East;P1;Dairy;10;1 200,00;800,00\r\n",
    "4;04/03/2026;C2;Bob C2;East;P1;Dairy;-1;-100,00;-100,00\r\n",
    "5;05/03/2026;C3;Cat C3;South;P1;Dairy;15;1 500,00;1 000,00\r\n",
    "6;06/03/2026;C4;ООО «Ромашка»;West;P3;Frozen;1;1 000,00;500,00\r\n",
    "7;10/02/2026;C4;ООО «Ромашка»;West;P3;Frozen;1;999,00;998,00\r\n",
    "8;01/04/2026;C4;ООО «Ромашка»;West;P3;Frozen;1;5 000,00;4 999,00\r\n",
);

const PEOPLE: &str = "Person;Region\nM1;North\nM2;East\nM3;South\nM4;West\n";

const MAPPING: &str = r#"[dialect]
encoding = "utf-8"
delimiter = ";"
decimal = ","
thousands = " "
date_format = "DD/MM/YYYY"

[files.orders]
path = "Orders.csv"

[files.people]
path = "People.csv"

[files.managers]
path = "managers.csv"
delimiter = ","
decimal = "."
thousands = ""

[files.plans]
path = "plans.csv"
delimiter = ","
decimal = "."
thousands = ""

[tables.sales]
from = "orders"

[tables.sales.columns]
date = "Order Date"
client_id = "Customer ID"
manager_id = { lookup = "people", match = "Region", on = "Region", take = "Person" }
product = "Product ID"
category = "Category"
quantity = "Quantity"
amount = "Sales"
cost = { expr = "Sales - Profit" }

[tables.clients]
from = "orders"
distinct = "client_id"

[tables.clients.columns]
client_id = "Customer ID"
name = "Customer Name"
region = "Region"
strategic = { const = "no" }

[tables.managers]
from = "managers"

[tables.managers.columns]
manager_id = "manager_id"
name = "name"
target_bonus = "target_bonus"

[tables.plans]
from = "plans"

[tables.plans.columns]
manager_id = "manager_id"
period = "period"
kpi = "kpi"
target = "target"
"#;

/// Writes the export, People.csv, the mini managers and plans, and data.toml into `src`.
fn write_mapping(src: &Path) {
    std::fs::create_dir_all(src).unwrap();
    std::fs::write(src.join("Orders.csv"), ORDERS).unwrap();
    std::fs::write(src.join("People.csv"), PEOPLE).unwrap();
    for f in ["managers.csv", "plans.csv"] {
        std::fs::copy(fixture("mini/data").join(f), src.join(f)).unwrap();
    }
    std::fs::write(src.join("data.toml"), MAPPING).unwrap();
}

fn mutate_mapping(rng: &mut Rng, src: &Path, log: &mut Vec<String>) {
    let mut touched = false;
    if rng.percent(55) {
        mutate_toml_file(rng, &src.join("data.toml"), &MAPPING_SHAPE, log);
        touched = true;
    }
    if rng.percent(35) {
        mutate_csv_file(rng, &src.join("Orders.csv"), b';', orders_line, log);
        touched = true;
    }
    if rng.percent(10) {
        mutate_csv_file(rng, &src.join("People.csv"), b';', people_line, log);
        touched = true;
    }
    if rng.percent(12) {
        reencode_orders(rng, src, log);
        touched = true;
    }
    if !touched {
        mutate_toml_file(rng, &src.join("data.toml"), &MAPPING_SHAPE, log);
    }
}

/// Writes Orders.csv in another encoding, and declares it in data.toml (or, two times in
/// five, declares something else).
fn reencode_orders(rng: &mut Rng, src: &Path, log: &mut Vec<String>) {
    let path = src.join("Orders.csv");
    let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
    let (encoding, bytes) = match rng.below(5) {
        0 => (
            "windows-1251",
            encoding_rs::WINDOWS_1251.encode(&text).0.into_owned(),
        ),
        1 => (
            "windows-1252",
            encoding_rs::WINDOWS_1252.encode(&text).0.into_owned(),
        ),
        2 => {
            let mut bytes = vec![0xFF, 0xFE];
            bytes.extend(utf16(&text, false));
            ("utf-16", bytes)
        }
        3 => ("utf-16be", utf16(&text, true)),
        _ => {
            let mut bytes = b"\xEF\xBB\xBF".to_vec();
            bytes.extend_from_slice(text.as_bytes());
            ("utf-8", bytes)
        }
    };
    std::fs::write(path, bytes).unwrap();
    let declared = if rng.percent(60) {
        encoding
    } else {
        *rng.pick(ENCODINGS)
    };
    let toml = src.join("data.toml");
    let mapping = String::from_utf8_lossy(&std::fs::read(&toml).unwrap()).into_owned();
    let with = format!("[files.orders]\nencoding = {}", toml_str(declared));
    std::fs::write(toml, mapping.replacen("[files.orders]", &with, 1)).unwrap();
    log.push(format!(
        "Orders.csv re-encoded as {encoding}, declared {declared:?}"
    ));
}

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    text.encode_utf16()
        .flat_map(|u| {
            if big_endian {
                u.to_be_bytes()
            } else {
                u.to_le_bytes()
            }
        })
        .collect()
}

/// A random command line: the command, then its options in random order.
fn cli_case(rng: &mut Rng, dir: &Path) -> Case {
    let command = *rng.pick(&[
        "run", "run", "run", "run", "run", "run", "explain", "explain", "diff", "check",
    ]);
    let mut groups: Vec<Vec<OsString>> = Vec::new();
    let rules = if rng.percent(95) {
        "pack"
    } else {
        *rng.pick(RULES_PATHS)
    };
    groups.push(os_args(&["--rules", rules]));
    let mut expect = Expect::Nothing;
    let mut log = Vec::new();
    if command != "check" {
        if rng.percent(8) {
            groups.push(os_args(&["--data", *rng.pick(DATA_PATHS)]));
        }
        if rng.percent(70) {
            let p = period(rng);
            groups.push(os_args(&["--period", p.as_str()]));
        }
        for _ in 0..rng.below(4) {
            let set = set_value(rng);
            groups.push(os_args(&["--set", set.as_str()]));
        }
        if rng.percent(50) {
            groups.push(os_args(&["--threads", *rng.pick(THREADS)]));
        }
        let deadline = if rng.percent(85) {
            DEADLINE
        } else {
            *rng.pick(DEADLINES)
        };
        groups.push(os_args(&["--deadline", deadline]));
        if rng.percent(10) {
            groups.push(os_args(&["--max-field-bytes", *rng.pick(FIELD_BYTES)]));
        }
    }
    match command {
        "run" => {
            groups.push(os_args(&["--out", "out"]));
            let force = rng.percent(25);
            if force {
                groups.push(os_args(&["--force"]));
            }
            if rng.percent(20) {
                groups.push(os_args(&["-q"]));
            }
            if rng.percent(15) {
                groups.push(os_args(&["--timings"]));
            }
            let existed = rng.percent(15);
            let foreign = existed && rng.percent(30);
            if existed {
                let out = dir.join("out");
                std::fs::create_dir_all(&out).unwrap();
                std::fs::write(out.join(SENTINEL), "old outputs").unwrap();
                let listed = if foreign {
                    String::new()
                } else {
                    format!("{{ \"path\": \"{SENTINEL}\" }}")
                };
                let manifest = format!(
                    "{{ \"engine\": {{ \"name\": \"bonusrun\" }}, \"outputs\": [{listed}] }}"
                );
                std::fs::write(out.join("run.json"), manifest).unwrap();
                log.push(if foreign {
                    "out/ exists before the run, with a file bonusrun did not write".to_string()
                } else {
                    "out/ exists before the run, as bonusrun's outputs".to_string()
                });
            }
            expect = Expect::Outputs {
                existed,
                foreign,
                force,
            };
        }
        "explain" => {
            let manager = os_args(&["--manager", *rng.pick(EXPLAIN_IDS)]);
            let client = os_args(&["--client", *rng.pick(EXPLAIN_IDS)]);
            match rng.below(20) {
                0 => {}
                1 => groups.extend([manager, client]),
                2..=11 => groups.push(manager),
                _ => groups.push(client),
            }
        }
        "diff" => {
            if rng.percent(40) {
                groups.push(os_args(&["--against", "pack"]));
            }
            for _ in 0..rng.below(3) {
                let set = set_value(rng);
                groups.push(os_args(&["--against-set", set.as_str()]));
            }
        }
        _ => {}
    }
    if rng.percent(5) {
        groups.push(vec![garbage_arg(rng)]);
    }
    rng.shuffle(&mut groups);
    let mut args = vec![OsString::from(command)];
    args.extend(groups.into_iter().flatten());
    Case { args, expect, log }
}

fn period(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 | 1 => rng.pick(PERIODS).to_string(),
        2 => format!("{:04}-{:02}", rng.below(10_001), rng.below(14)),
        _ => format!(
            "{}-{}{}",
            rng.below(10_001),
            rng.pick(&["Q", "q", "H", "h", "M", ""]),
            rng.below(6)
        ),
    }
}

fn set_value(rng: &mut Rng) -> String {
    let name = *rng.pick(&[
        "gate",
        "accelerator",
        "cap",
        "Gate",
        "gat",
        "nope",
        "",
        " gate",
        "gate ",
    ]);
    let value = if rng.percent(70) {
        *rng.pick(NUMBERS)
    } else {
        *rng.pick(&["true", "false", "yes", "x", "", " 0.5", "0.5 ", "0,5", "=1"])
    };
    match rng.below(20) {
        0 => name.to_string(),
        1 => format!("={value}"),
        2 => format!("{name}=={value}"),
        _ => format!("{name}={value}"),
    }
}

fn garbage_arg(rng: &mut Rng) -> OsString {
    match rng.below(8) {
        0 => OsString::from_vec(vec![0xFF, 0xFE, b'a']),
        1 => "--nope".into(),
        2 => "-".into(),
        3 => "--".into(),
        4 => "--period=2026-03".into(),
        5 => "--set".into(),
        6 => "-qq".into(),
        _ => "--threads=".into(),
    }
}

const RULES_PATHS: &[&str] = &["pack/", "nope", "pack/data", ".", "pack/rules.rhai", ""];
const DATA_PATHS: &[&str] = &[
    "pack/data",
    "pack/data/",
    "nope",
    "pack/data/sales.csv",
    "pack/pack.toml",
    "pack",
    "",
    ".",
];
const THREADS: &[&str] = &[
    "1",
    "2",
    "3",
    "8",
    "64",
    "0",
    "-1",
    "",
    "x",
    "1.5",
    "18446744073709551616",
];
const DEADLINES: &[&str] = &[
    "1",
    "0",
    "-1",
    "x",
    "",
    "5.5",
    "100000000000",
    "9223372036854775807",
    "18446744073709551615",
];
const FIELD_BYTES: &[&str] = &[
    "1",
    "10",
    "100",
    "1000",
    "1048576",
    "0",
    "-1",
    "x",
    "18446744073709551615",
];
const EXPLAIN_IDS: &[&str] = &[
    "M1", "M2", "M4", "M9", "m1", "", " M1", "М1", "C1", "C4", "C9",
];

// ---------------------------------------------------------------------------------------
// Values

/// Numbers at and past the edges of a 28-digit decimal, of i64 and of u128, and text that
/// is almost a number.
const NUMBERS: &[&str] = &[
    "79228162514264337593543950335",
    "-79228162514264337593543950335",
    "79228162514264337593543950336",
    "7922816251426433759354395033.5",
    "79228162514264337593543950.335",
    "99999999999999999999999999999.9999999999",
    "0.99999999999999999999999999999",
    "0.0000000000000000000000000001",
    "0.00000000000000000000000000001",
    "-0.0000000000000000000000000001",
    "0.0000000000000000000001",
    "000000000000000000000000000000000000000000001",
    "340282366920938463463374607431768211455",
    "340282366920938463463374607431768211456",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "4e28",
    "1e5",
    "1E-5",
    "-0",
    "-0.00",
    "+1",
    ".5",
    "7.",
    ".",
    "-",
    "--1",
    "1.2.3",
    "0",
    "1",
    "-1",
    "1 000",
    "1,5",
    "1_000",
    "0x10",
    "NaN",
    "inf",
    "١٢٣",
    "",
];

const DATES: &[&str] = &[
    "2026-03-15",
    "2026-02-29",
    "2024-02-29",
    "2026-02-30",
    "2026-04-31",
    "0000-01-01",
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
    "1969-12-31",
    "1900-03-01",
    "2026-3-1",
    "2026-03-1",
    "2026-00-10",
    "2026-13-01",
    "2026-03-32",
    "2026-03-00",
    "-2026-03-01",
    "+2026-03-01",
    "2026/03/01",
    "01.03.2026",
    "2026-03-01T00:00:00",
    "20260301",
    "2026-03",
    "2026",
    "",
    "2026-03-0١",
    "２０２６-03-01",
];

const FLAGS: &[&str] = &[
    "true", "false", "TRUE", "yes", "no", "1", "0", "", "maybe", "y", "n", "tru e", "да",
];

const PERIODS: &[&str] = &[
    "2026-03",
    "2026-02",
    "2025-03",
    "2026-04",
    "2026-Q1",
    "2026-H1",
    "2026",
    "2026-13",
    "2026-00",
    "0000-01",
    "0001-01",
    "9999-12",
    "10000-01",
    "2026-3",
    "",
    "2026-q1",
    "1-01",
    "-2026-03",
    "2026-03 ",
    "２０２６-03",
];

const KPIS: &[&str] = &[
    "revenue",
    "margin",
    "Revenue",
    "revenu",
    "",
    "margin ",
    "key_revenue",
];

const CLIENT_IDS: &[&str] = &[
    "C1", "C2", "C3", "C4", "C5", "c1", " C1 ", "С1", "C1\u{0}", "",
];

const MANAGER_IDS: &[&str] = &["M1", "M2", "M3", "M4", "M5", "m1", " M1", "М1", "M1/..", ""];

const TEXTS: &[&str] = &[
    "Client",
    "",
    " ",
    "x",
    "\"a,b\"",
    "\"a\"\"b\"",
    "\"a\nb\"",
    "\"unterminated",
    "a\"b",
    "\"\"",
    "ООО «Ромашка»",
    "\u{feff}x",
    "\u{0}",
    "\t",
    "\r",
    "=1+1",
    "${x}",
    "ＣＬＩＥＮＴ",
    "🎉",
    "\u{202e}rtl",
    "a\u{301}",
];

/// Bytes that are not UTF-8: windows-1251 text, lone lead bytes, a surrogate, a BOM.
const RAW: &[&[u8]] = &[
    b"\xCA\xEB\xE8\xE5\xED\xF2 \xCE\xE4\xE8\xED",
    b"\xC0",
    b"\xFF\xFE",
    b"\xEF\xBB\xBF",
    b"\xED\xA0\x80",
    b"\xF4\x90\x80\x80",
    b"\x00",
    b"\xC3\x28",
    b"\xE2\x82",
];

const ALL_POOLS: &[&[&str]] = &[
    NUMBERS,
    DATES,
    FLAGS,
    PERIODS,
    KPIS,
    CLIENT_IDS,
    MANAGER_IDS,
    TEXTS,
];

fn digits(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + rng.below(10) as u8))
        .collect()
}

fn random_date(rng: &mut Rng) -> String {
    let year = if rng.percent(85) {
        rng.range(2025, 2026)
    } else {
        rng.range(1, 9999)
    };
    format!("{year:04}-{:02}-{:02}", rng.range(1, 12), rng.range(1, 28))
}

fn date_or_edge(rng: &mut Rng) -> String {
    if rng.percent(85) {
        random_date(rng)
    } else {
        rng.pick(DATES).to_string()
    }
}

/// Any decimal of up to 29 integer digits and 28 decimals.
fn random_decimal(rng: &mut Rng) -> String {
    let int = *rng.pick(&[1, 1, 2, 3, 4, 6, 9, 15, 20, 28, 29]);
    let frac = *rng.pick(&[0, 0, 1, 2, 2, 2, 3, 6, 10, 28]);
    let sign = if rng.percent(15) { "-" } else { "" };
    let mut s = format!("{sign}{}", digits(rng, int));
    if frac > 0 {
        s.push('.');
        s.push_str(&digits(rng, frac));
    }
    s
}

/// An amount: usually plain money, sometimes any decimal or an edge case.
fn number(rng: &mut Rng) -> String {
    match rng.below(10) {
        0..=5 => {
            let sign = if rng.percent(10) { "-" } else { "" };
            format!("{sign}{}.{:02}", rng.below(100_000), rng.below(100))
        }
        6 | 7 => random_decimal(rng),
        _ => rng.pick(NUMBERS).to_string(),
    }
}

/// A value for a column, by its (lowercase) name; one time in seven from any pool.
fn value_for(rng: &mut Rng, column: &str) -> Vec<u8> {
    if rng.percent(10) {
        return rng.pick(RAW).to_vec();
    }
    let column = if rng.percent(15) { "?" } else { column };
    let text = match column {
        "date" | "since" | "start" | "end" | "renewed_on" | "order date" => date_or_edge(rng),
        "quantity" | "amount" | "cost" | "target_bonus" | "target" | "market_share" | "from"
        | "to" | "factor" | "sales" | "profit" => number(rng),
        "client_id" | "customer id" => rng.pick(CLIENT_IDS).to_string(),
        "manager_id" | "person" => rng.pick(MANAGER_IDS).to_string(),
        "strategic" => rng.pick(FLAGS).to_string(),
        "period" => rng.pick(PERIODS).to_string(),
        "kpi" => rng.pick(KPIS).to_string(),
        "?" => {
            let pool = *rng.pick(ALL_POOLS);
            rng.pick(pool).to_string()
        }
        _ => rng.pick(TEXTS).to_string(),
    };
    text.into_bytes()
}

// ---------------------------------------------------------------------------------------
// Line generators: rows for each table, mostly valid, sometimes with edge values

type LineGen = fn(&mut Rng) -> String;

fn sales_line(rng: &mut Rng) -> String {
    let date = date_or_edge(rng);
    let client = if rng.percent(90) {
        format!("C{}", rng.range(1, 4))
    } else {
        rng.pick(CLIENT_IDS).to_string()
    };
    let manager = if rng.percent(90) {
        format!("M{}", rng.range(1, 4))
    } else {
        rng.pick(MANAGER_IDS).to_string()
    };
    let category = *rng.pick(&[
        "Dairy",
        "Bakery",
        "Frozen",
        "",
        "Молочное",
        "\"Dairy, fresh\"",
    ]);
    let quantity = if rng.percent(70) {
        (rng.below(25) as i64 - 5).to_string()
    } else {
        number(rng)
    };
    format!(
        "{date},{client},{manager},P{},{category},{quantity},{},{}",
        rng.range(1, 5),
        number(rng),
        number(rng)
    )
}

fn client_line(rng: &mut Rng) -> String {
    let id = if rng.percent(85) {
        format!("C{}", rng.range(1, 9))
    } else {
        rng.pick(CLIENT_IDS).to_string()
    };
    let name = *rng.pick(TEXTS);
    let since = if rng.percent(30) {
        String::new()
    } else {
        date_or_edge(rng)
    };
    let share = if rng.percent(70) {
        let n = rng.range(1, 28);
        format!("0.{}", digits(rng, n))
    } else {
        rng.pick(NUMBERS).to_string()
    };
    let strategic = *rng.pick(FLAGS);
    let region = *rng.pick(&["Moscow", "Kazan", ""]);
    format!("{id},{name},Retail,{region},{since},{share},{strategic}")
}

fn manager_line(rng: &mut Rng) -> String {
    let id = if rng.percent(85) {
        format!("M{}", rng.range(1, 9))
    } else {
        rng.pick(MANAGER_IDS).to_string()
    };
    format!("{id},{},{}", rng.pick(TEXTS), number(rng))
}

/// `start,end` of a manager's days in the role, either possibly empty.
fn role_dates(rng: &mut Rng) -> String {
    let mut day = || {
        if rng.percent(25) {
            String::new()
        } else {
            date_or_edge(rng)
        }
    };
    let start = day();
    format!("{start},{}", day())
}

/// A managers.csv line with days in the role.
fn dated_manager_line(rng: &mut Rng) -> String {
    format!("{},{}", manager_line(rng), role_dates(rng))
}

fn plan_line(rng: &mut Rng) -> String {
    let manager = if rng.percent(90) {
        format!("M{}", rng.range(1, 5))
    } else {
        rng.pick(MANAGER_IDS).to_string()
    };
    let period = if rng.percent(60) {
        "2026-03"
    } else {
        *rng.pick(PERIODS)
    };
    let kpi = if rng.percent(80) {
        *rng.pick(&["revenue", "margin"])
    } else {
        *rng.pick(KPIS)
    };
    format!("{manager},{period},{kpi},{}", number(rng))
}

fn adjustment_line(rng: &mut Rng) -> String {
    let kpi = *rng.pick(&["", "revenue", "margin", "nope"]);
    let kind = *rng.pick(&["", "adjustment", "draw", "bonus"]);
    format!(
        "M{},{},{},{},CFO,{kpi},{kind}",
        rng.range(1, 5),
        rng.pick(PERIODS),
        number(rng),
        rng.pick(TEXTS)
    )
}

fn owner_line(rng: &mut Rng) -> String {
    let to = if rng.percent(40) {
        String::new()
    } else {
        date_or_edge(rng)
    };
    format!(
        "C{},M{},{},{to}",
        rng.range(1, 5),
        rng.range(1, 5),
        date_or_edge(rng)
    )
}

fn credit_line(rng: &mut Rng) -> String {
    let mut day = || {
        if rng.percent(50) {
            String::new()
        } else {
            date_or_edge(rng)
        }
    };
    let (from, to) = (day(), day());
    let share = if rng.percent(60) {
        rng.pick(&["0.5", "1", "0.4", "0.6", "0.3333", "0"])
            .to_string()
    } else {
        number(rng)
    };
    format!(
        "C{},M{},{share},{from},{to},{}",
        rng.range(1, 5),
        rng.range(1, 5),
        rng.pick(&["", "split", "overlay", "Overlay"])
    )
}

fn fx_line(rng: &mut Rng) -> String {
    format!(
        "{},{},{},{}",
        date_or_edge(rng),
        rng.pick(&["EUR", "RUB", "USD", "eur", ""]),
        rng.pick(&["RUB", "EUR", "JPY"]),
        number(rng)
    )
}

/// A managers.csv line with a head and a currency.
fn team_manager_line(rng: &mut Rng) -> String {
    let head = if rng.percent(30) {
        String::new()
    } else {
        format!("M{}", rng.range(1, 9))
    };
    format!(
        "{},{head},{}",
        manager_line(rng),
        rng.pick(&["", "EUR", "RUB", "JPY", "euro"])
    )
}

fn contract_line(rng: &mut Rng) -> String {
    let renewed = if rng.percent(50) {
        String::new()
    } else {
        date_or_edge(rng)
    };
    format!(
        "K{},C{},M{},{},{},{renewed}",
        rng.range(1, 9),
        rng.range(1, 5),
        rng.range(1, 5),
        date_or_edge(rng),
        date_or_edge(rng)
    )
}

fn curve_line(rng: &mut Rng) -> String {
    fn bound(rng: &mut Rng) -> String {
        match rng.below(10) {
            0..=2 => String::new(),
            3..=7 => rng
                .pick(&["0", "0.5", "0.8", "1", "1.0", "1.2", "2", "-1"])
                .to_string(),
            _ => rng.pick(NUMBERS).to_string(),
        }
    }
    format!(
        "{},{},{},{}",
        bound(rng),
        bound(rng),
        number(rng),
        rng.pick(TEXTS)
    )
}

fn orders_line(rng: &mut Rng) -> String {
    let year = if rng.percent(90) {
        rng.range(2025, 2026)
    } else {
        rng.range(1, 9999)
    };
    let date = if rng.percent(90) {
        format!("{:02}/{:02}/{year:04}", rng.range(1, 28), rng.range(1, 12))
    } else {
        rng.pick(DATES).to_string()
    };
    let client = if rng.percent(90) {
        format!("C{}", rng.range(1, 4))
    } else {
        rng.pick(CLIENT_IDS).to_string()
    };
    let region = *rng.pick(&["North", "East", "South", "West", "Nowhere", ""]);
    let sales = number(rng).replace('.', ",");
    let profit = number(rng).replace('.', ",");
    format!(
        "{};{date};{client};Customer {client};{region};P1;Dairy;{};{sales};{profit}",
        rng.range(9, 99),
        rng.range(1, 9)
    )
}

fn people_line(rng: &mut Rng) -> String {
    format!(
        "{};{}",
        rng.pick(MANAGER_IDS),
        rng.pick(&["North", "East", "South", "West", "", "north"])
    )
}

// ---------------------------------------------------------------------------------------
// Byte and CSV mutations

/// How many mutations a file gets: one to three, sometimes up to ten.
fn mutation_count(rng: &mut Rng) -> usize {
    let n = rng.range(1, 3);
    if rng.percent(15) {
        n + rng.below(8)
    } else {
        n
    }
}

fn mutate_csv_file(
    rng: &mut Rng,
    path: &Path,
    delim: u8,
    make_line: LineGen,
    log: &mut Vec<String>,
) {
    let mut text = std::fs::read(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    for _ in 0..mutation_count(rng) {
        let what = csv_mutation(rng, &mut text, delim, make_line);
        log.push(format!("{name}: {what}"));
    }
    std::fs::write(path, text).unwrap();
}

fn insert_bytes(text: &mut Vec<u8>, at: usize, bytes: &[u8]) {
    let tail = text.split_off(at);
    text.extend_from_slice(bytes);
    text.extend_from_slice(&tail);
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Every start of `needle` in `hay`.
fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    hay.windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

fn split_on(text: &[u8], sep: u8) -> Vec<Vec<u8>> {
    text.split(|&b| b == sep).map(<[u8]>::to_vec).collect()
}

fn show(bytes: &[u8]) -> String {
    shorten(&format!("{:?}", String::from_utf8_lossy(bytes)), 80)
}

fn interesting_byte(rng: &mut Rng) -> u8 {
    match rng.below(4) {
        0 => *rng.pick(b",;\"\n\r\t \0-.0123456789'#[]{}=\\"),
        1 => 0xC0 + rng.below(64) as u8,
        2 => 0x80 + rng.below(64) as u8,
        _ => rng.next_u64() as u8,
    }
}

/// One blind mutation: flip a bit, insert or delete bytes, a lone quote, a truncation.
fn byte_mutation(rng: &mut Rng, text: &mut Vec<u8>) -> String {
    match rng.weighted(&[3, 3, 3, 3, 1, 1]) {
        0 if !text.is_empty() => {
            let i = rng.below(text.len());
            let bit = rng.below(8);
            text[i] ^= 1 << bit;
            format!("flip bit {bit} of byte {i}")
        }
        1 => {
            let i = rng.below(text.len() + 1);
            let b = interesting_byte(rng);
            text.insert(i, b);
            format!("insert byte {b:#04x} at {i}")
        }
        2 if !text.is_empty() => {
            let i = rng.below(text.len());
            let n = rng.range(1, 8).min(text.len() - i);
            text.drain(i..i + n);
            format!("delete {n} byte(s) at {i}")
        }
        3 => {
            let i = rng.below(text.len() + 1);
            text.insert(i, b'"');
            format!("lone quote at byte {i}")
        }
        4 => {
            let n = rng.below(text.len() + 1);
            text.truncate(n);
            format!("truncate to {n} byte(s)")
        }
        _ => {
            let i = rng.below(text.len() + 1);
            let bytes = *rng.pick(RAW);
            insert_bytes(text, i, bytes);
            format!("insert {} at byte {i}", show(bytes))
        }
    }
}

/// A lone `"` where a field starts, the place a quote is taken as opening a quoted field.
fn quote_at_field_start(rng: &mut Rng, text: &mut Vec<u8>, delim: u8) -> String {
    let mut starts = vec![0];
    starts.extend(
        text.iter()
            .enumerate()
            .filter(|(_, &b)| b == delim || b == b'\n')
            .map(|(i, _)| i + 1),
    );
    let i = *rng.pick(&starts);
    text.insert(i, b'"');
    format!("lone quote at the start of the field at byte {i}")
}

/// CR-only line ends, CRLF, or one line end changed.
fn line_endings(rng: &mut Rng, text: &mut Vec<u8>) -> String {
    match rng.below(10) {
        0..=4 => {
            let mut out = Vec::with_capacity(text.len());
            let mut i = 0;
            while i < text.len() {
                if text[i] == b'\r' && text.get(i + 1) == Some(&b'\n') {
                    out.push(b'\r');
                    i += 2;
                } else {
                    out.push(if text[i] == b'\n' { b'\r' } else { text[i] });
                    i += 1;
                }
            }
            *text = out;
            "CR-only line ends".to_string()
        }
        5..=7 => {
            *text = split_on(text, b'\n').join(&b"\r\n"[..]);
            "CRLF line ends".to_string()
        }
        _ => {
            let ends = find_all(text, b"\n");
            if ends.is_empty() {
                return "no line end to change".to_string();
            }
            let i = *rng.pick(&ends);
            text[i] = b'\r';
            format!("the line end at byte {i} is a lone CR")
        }
    }
}

fn insert_bom(rng: &mut Rng, text: &mut Vec<u8>) -> String {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    match rng.below(5) {
        0..=2 => {
            insert_bytes(text, 0, BOM);
            "UTF-8 BOM at the start".to_string()
        }
        3 => {
            insert_bytes(text, 0, BOM);
            insert_bytes(text, 0, BOM);
            "two UTF-8 BOMs at the start".to_string()
        }
        _ => {
            let mut starts = vec![0];
            starts.extend(find_all(text, b"\n").into_iter().map(|i| i + 1));
            let i = *rng.pick(&starts);
            insert_bytes(text, i, BOM);
            format!("UTF-8 BOM at the line starting at byte {i}")
        }
    }
}

/// A CSV text as lines (split at LF: joining them gives the text back) and fields.
struct Lines {
    lines: Vec<Vec<u8>>,
    delim: u8,
}

impl Lines {
    fn new(text: &[u8], delim: u8) -> Lines {
        Lines {
            lines: split_on(text, b'\n'),
            delim,
        }
    }

    fn text(&self) -> Vec<u8> {
        self.lines.join(&b'\n')
    }

    /// A data line; the header one time in ten, or when there is nothing else.
    fn pick(&self, rng: &mut Rng) -> usize {
        if self.lines.len() <= 1 || rng.percent(10) {
            0
        } else {
            rng.range(1, self.lines.len() - 1)
        }
    }

    fn fields(&self, i: usize) -> Vec<Vec<u8>> {
        split_on(&self.lines[i], self.delim)
    }

    fn set_fields(&mut self, i: usize, fields: &[Vec<u8>]) {
        self.lines[i] = fields.join(&self.delim);
    }

    /// Where a new last line goes: before the empty piece a final LF leaves.
    fn end(&self) -> usize {
        if self.lines.len() > 1 && self.lines.last().is_some_and(Vec::is_empty) {
            self.lines.len() - 1
        } else {
            self.lines.len()
        }
    }

    /// The header's column names, trimmed, unquoted and lowercase.
    fn header(&self) -> Vec<String> {
        self.fields(0)
            .iter()
            .map(|f| {
                String::from_utf8_lossy(f)
                    .trim_matches(|c: char| c.is_whitespace() || c == '"' || c == '\u{feff}')
                    .to_lowercase()
            })
            .collect()
    }
}

/// Replaces a random field of a random line; returns (line, field).
fn replace_field(rng: &mut Rng, t: &mut Lines, value: Vec<u8>) -> (usize, usize) {
    let i = t.pick(rng);
    let mut fields = t.fields(i);
    let j = rng.below(fields.len());
    fields[j] = value;
    t.set_fields(i, &fields);
    (i, j)
}

fn looks_numeric(f: &[u8]) -> bool {
    let body = f.strip_prefix(b"-").unwrap_or(f);
    body.iter().any(u8::is_ascii_digit)
        && body
            .iter()
            .all(|&b| b.is_ascii_digit() || b == b'.' || b == b',' || b == b' ')
        && body.iter().filter(|&&b| b == b'.' || b == b',').count() <= 1
}

/// One mutation of CSV text, structure-aware or blind.
fn csv_mutation(rng: &mut Rng, text: &mut Vec<u8>, delim: u8, make_line: LineGen) -> String {
    let kind = rng.weighted(&[6, 4, 2, 2, 2, 2, 1, 2, 5, 2, 2, 2, 1, 6, 4, 1, 2, 1]);
    match kind {
        0 => return byte_mutation(rng, text),
        1 => return quote_at_field_start(rng, text, delim),
        5 => return line_endings(rng, text),
        6 => return insert_bom(rng, text),
        _ => {}
    }
    let mut t = Lines::new(text, delim);
    let what = match kind {
        2 => {
            let i = t.pick(rng);
            let at = rng.below(t.lines.len() + 1);
            let line = t.lines[i].clone();
            t.lines.insert(at, line);
            format!("copy line {} to line {}", i + 1, at + 1)
        }
        3 => {
            let i = t.pick(rng);
            t.lines.remove(i);
            format!("delete line {}", i + 1)
        }
        4 => {
            let (a, b) = (t.pick(rng), t.pick(rng));
            t.lines.swap(a, b);
            format!("swap lines {} and {}", a + 1, b + 1)
        }
        7 => {
            let value = if rng.percent(50) {
                RAW[0].to_vec()
            } else {
                let n = rng.range(1, 12);
                (0..n).map(|_| 0xC0 + rng.below(64) as u8).collect()
            };
            let shown = show(&value);
            let (i, j) = replace_field(rng, &mut t, value);
            format!("windows-1251 bytes {shown} in field {j} of line {}", i + 1)
        }
        8 => edge_number(rng, &mut t),
        9 => {
            let (i, j) = replace_field(rng, &mut t, Vec::new());
            format!("empty field {j} of line {}", i + 1)
        }
        10 => extra_column(rng, &mut t),
        11 => missing_column(rng, &mut t),
        12 => long_field(rng, &mut t),
        13 => {
            let header = t.header();
            let i = t.pick(rng);
            let mut fields = t.fields(i);
            let j = rng.below(fields.len());
            let column = header.get(j).map_or("", String::as_str);
            fields[j] = value_for(rng, column);
            let what = format!(
                "field {j} ({column}) of line {} is {}",
                i + 1,
                show(&fields[j])
            );
            t.set_fields(i, &fields);
            what
        }
        14 => generated_lines(rng, &mut t, make_line),
        15 => {
            let odd: &[&[u8]] = &[
                b"", b"   ", b"\r", b",,,,,,,", b";;;;", b"\"", b"#", b"\0\0",
            ];
            let line = *rng.pick(odd);
            let at = rng.below(t.lines.len() + 1);
            t.lines.insert(at, line.to_vec());
            format!("line {} is {}", at + 1, show(line))
        }
        16 => rename_header(rng, &mut t),
        _ => {
            let i = t.pick(rng);
            let mut fields = t.fields(i);
            let (a, b) = (rng.below(fields.len()), rng.below(fields.len()));
            fields.swap(a, b);
            t.set_fields(i, &fields);
            format!("swap fields {a} and {b} of line {}", i + 1)
        }
    };
    *text = t.text();
    what
}

/// A number replaced by an edge case (any field if there is no number).
fn edge_number(rng: &mut Rng, t: &mut Lines) -> String {
    let mut numbers = Vec::new();
    for (i, line) in t.lines.iter().enumerate().skip(1) {
        for (j, f) in split_on(line, t.delim).iter().enumerate() {
            if looks_numeric(f) {
                numbers.push((i, j));
            }
        }
    }
    let value = rng.pick(NUMBERS).as_bytes().to_vec();
    let shown = show(&value);
    let (i, j) = if numbers.is_empty() {
        replace_field(rng, t, value)
    } else {
        let (i, j) = *rng.pick(&numbers);
        let mut fields = t.fields(i);
        fields[j] = value;
        t.set_fields(i, &fields);
        (i, j)
    };
    format!("field {j} of line {} is {shown}", i + 1)
}

fn extra_column(rng: &mut Rng, t: &mut Lines) -> String {
    let delim = t.delim;
    if rng.percent(50) {
        let i = t.pick(rng);
        let value = value_for(rng, "?");
        t.lines[i].push(delim);
        t.lines[i].extend_from_slice(&value);
        return format!("an extra field {} on line {}", show(&value), i + 1);
    }
    let name = *rng.pick(&[
        "extra",
        "manager_id",
        "cost",
        "influence",
        "Amount",
        "",
        "client_id",
        "\u{feff}x",
    ]);
    let column = name.to_lowercase();
    for (i, line) in t.lines.iter_mut().enumerate() {
        if i > 0 && line.is_empty() {
            continue;
        }
        line.push(delim);
        if i == 0 {
            line.extend_from_slice(name.as_bytes());
        } else {
            line.extend(value_for(rng, &column));
        }
    }
    format!("an extra column {name:?} on every line")
}

fn missing_column(rng: &mut Rng, t: &mut Lines) -> String {
    if rng.percent(50) {
        let i = t.pick(rng);
        let mut fields = t.fields(i);
        fields.pop();
        t.set_fields(i, &fields);
        return format!("line {} lost its last field", i + 1);
    }
    let j = rng.below(t.fields(0).len());
    let delim = t.delim;
    for (i, line) in t.lines.iter_mut().enumerate() {
        if i > 0 && line.is_empty() {
            continue;
        }
        let mut fields = split_on(line, delim);
        if j < fields.len() {
            fields.remove(j);
            *line = fields.join(&delim);
        }
    }
    format!("column {j} removed from every line")
}

/// A field of up to 2 MB, rarely: most are a few kilobytes.
fn long_field(rng: &mut Rng, t: &mut Lines) -> String {
    const UNITS: &[&[u8]] = &[b"x", b"9", b"\xD0\x96", b"\"\"", b" ", b"a,b;"];
    let len = match rng.below(10) {
        0 => rng.range(1 << 20, 2 << 20),
        1 | 2 => rng.range(10_000, 200_000),
        _ => rng.range(100, 5_000),
    };
    let unit = *rng.pick(UNITS);
    let mut value = unit.repeat(len / unit.len());
    let quoted = rng.percent(30);
    if quoted {
        value.insert(0, b'"');
        value.push(b'"');
    }
    let (i, j) = replace_field(rng, t, value);
    format!(
        "field {j} of line {} is {len} bytes of {}{}",
        i + 1,
        show(unit),
        if quoted { ", quoted" } else { "" }
    )
}

fn generated_lines(rng: &mut Rng, t: &mut Lines, make_line: LineGen) -> String {
    let n = if rng.percent(5) {
        rng.range(1000, 5000)
    } else {
        rng.range(1, 6)
    };
    let replace = rng.percent(15);
    if replace {
        t.lines.truncate(1);
    }
    for _ in 0..n {
        let line = make_line(rng).into_bytes();
        let at = if n > 100 || t.lines.len() < 2 || rng.percent(50) {
            t.end()
        } else {
            rng.range(1, t.lines.len() - 1)
        };
        t.lines.insert(at, line);
    }
    if replace {
        format!("the data lines replaced by {n} generated line(s)")
    } else {
        format!("{n} generated line(s) added")
    }
}

fn rename_header(rng: &mut Rng, t: &mut Lines) -> String {
    let mut fields = t.fields(0);
    let j = rng.below(fields.len());
    let old = String::from_utf8_lossy(&fields[j]).into_owned();
    let other = String::from_utf8_lossy(&fields[rng.below(fields.len())]).into_owned();
    let new = match rng.below(9) {
        0 => old.to_uppercase(),
        1 => format!(" {old} "),
        2 => format!("{old}x"),
        3 => String::new(),
        4 => other,
        5 => format!("\u{feff}{old}"),
        6 => format!("\"{old}\""),
        7 => format!("{old}\u{0}"),
        _ => "Имя".to_string(),
    };
    fields[j] = new.clone().into_bytes();
    t.set_fields(0, &fields);
    format!("header column {j} {old:?} renamed {new:?}")
}

// ---------------------------------------------------------------------------------------
// TOML mutations (pack.toml, data.toml)

/// What a TOML file looks like, for structure-aware mutations.
struct TomlShape {
    /// A value (TOML text) for a key in a section (`[tables.sales.columns]`).
    values: fn(&mut Rng, &str, &str) -> String,
    /// Keys to add.
    keys: &'static [&'static str],
    /// Section headers to add.
    sections: &'static [&'static str],
    /// Hostile text, and where it goes: after the line equal to the anchor, at the end
    /// (`$end`), or anywhere (an empty anchor).
    hostile: fn(&mut Rng) -> (String, &'static str),
}

const PACK_SHAPE: TomlShape = TomlShape {
    values: pack_value,
    keys: PACK_KEYS,
    sections: PACK_SECTIONS,
    hostile: pack_hostile,
};

const MAPPING_SHAPE: TomlShape = TomlShape {
    values: mapping_value,
    keys: MAPPING_KEYS,
    sections: MAPPING_SECTIONS,
    hostile: mapping_hostile,
};

fn mutate_toml_file(rng: &mut Rng, path: &Path, shape: &TomlShape, log: &mut Vec<String>) {
    let mut text = std::fs::read(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    for _ in 0..mutation_count(rng) {
        let what = toml_mutation(rng, &mut text, shape);
        log.push(format!("{name}: {what}"));
    }
    std::fs::write(path, text).unwrap();
}

/// One mutation of TOML text: mostly a value replaced by one of its kind, so that the file
/// still parses and the pack or mapping checks are what gets tested.
fn toml_mutation(rng: &mut Rng, text: &mut Vec<u8>, shape: &TomlShape) -> String {
    let kind = rng.weighted(&[10, 3, 1, 2, 2, 1, 3, 1, 1]);
    match kind {
        6 => return byte_mutation(rng, text),
        7 => {
            return if rng.percent(50) {
                line_endings(rng, text)
            } else {
                insert_bom(rng, text)
            }
        }
        _ => {}
    }
    let mut lines = split_on(text, b'\n');
    let what = match kind {
        0 => replace_value(rng, &mut lines, shape),
        1 => {
            let key = *rng.pick(shape.keys);
            let line = format!("{key} = {}", (shape.values)(rng, "", key));
            let at = rng.below(lines.len() + 1);
            let what = format!("line {} is {}", at + 1, show(line.as_bytes()));
            lines.insert(at, line.into_bytes());
            what
        }
        2 => {
            let section = *rng.pick(shape.sections);
            let at = rng.below(lines.len() + 1);
            lines.insert(at, section.as_bytes().to_vec());
            format!("section {section} at line {}", at + 1)
        }
        3 => {
            let i = rng.below(lines.len());
            let old = lines.remove(i);
            format!("delete line {} ({})", i + 1, show(&old))
        }
        4 => {
            let i = rng.below(lines.len());
            let at = rng.below(lines.len() + 1);
            let line = lines[i].clone();
            lines.insert(at, line);
            format!("copy line {} to line {}", i + 1, at + 1)
        }
        5 => {
            let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
            lines.swap(a, b);
            format!("swap lines {} and {}", a + 1, b + 1)
        }
        _ => {
            let (hostile, anchor) = (shape.hostile)(rng);
            let at = match anchor {
                "" => rng.below(lines.len() + 1),
                "$end" => lines.len(),
                anchor => match lines
                    .iter()
                    .position(|l| String::from_utf8_lossy(l).trim() == anchor)
                {
                    Some(i) => i + 1,
                    None => rng.below(lines.len() + 1),
                },
            };
            let what = format!(
                "hostile {} ({} bytes) at line {}",
                show(hostile.as_bytes()),
                hostile.len(),
                at + 1
            );
            lines.insert(at, hostile.into_bytes());
            what
        }
    };
    *text = lines.join(&b'\n');
    what
}

/// The value of a `key = value` line replaced by one of the key's kind.
fn replace_value(rng: &mut Rng, lines: &mut [Vec<u8>], shape: &TomlShape) -> String {
    let mut section = String::new();
    let mut candidates = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let line = String::from_utf8_lossy(line);
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed.to_string();
        } else if !trimmed.starts_with('#') {
            if let Some(eq) = line.find('=') {
                candidates.push((i, section.clone(), line[..eq].to_string()));
            }
        }
    }
    if candidates.is_empty() {
        return "no key to change".to_string();
    }
    let (i, section, key_text) = rng.pick(&candidates).clone();
    let key = key_text.trim().trim_matches('"');
    let value = (shape.values)(rng, &section, key);
    let line = format!("{} = {value}", key_text.trim_end());
    let what = format!("line {} is {}", i + 1, show(line.as_bytes()));
    lines[i] = line.into_bytes();
    what
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn quoted(rng: &mut Rng, items: &[&str]) -> String {
    let item = *rng.pick(items);
    toml_str(item)
}

fn raw(rng: &mut Rng, items: &[&str]) -> String {
    rng.pick(items).to_string()
}

/// Text for a TOML string: usually short, once in thirty 100 kB.
fn any_text(rng: &mut Rng) -> String {
    if rng.percent(3) {
        "x".repeat(100_000)
    } else {
        rng.pick(TEXTS).to_string()
    }
}

const TOML_NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "0.5",
    "0.8",
    "1.2",
    "1e300",
    "-0.0",
    "inf",
    "nan",
    "0.12345678901234567",
    "9223372036854775807",
    "-9223372036854775808",
    "\"79228162514264337593543950335\"",
    "\"-79228162514264337593543950335\"",
    "\"79228162514264337593543950336\"",
    "\"0.0000000000000000000000000001\"",
    "\"4e28\"",
    "\"-0\"",
    "\"1e5\"",
    "\"abc\"",
    "\"\"",
    "1_000",
    "0x10",
    "+1",
];

const TOML_OTHER: &[&str] = &[
    "true",
    "false",
    "[]",
    "{}",
    "[[1]]",
    "[0.5, 0.5]",
    "{ x = 1 }",
    "[1, \"a\"]",
    "2026-03-01",
    "1979-05-27T07:32:00Z",
    "\"x\"",
    "\"Кириллица\"",
    "'literal'",
    "\"\"\"multi\nline\"\"\"",
    "\"\\u0000\"",
    "\"a\\\"b\"",
    "\"\\t\"",
];

fn toml_any(rng: &mut Rng) -> String {
    if rng.percent(50) {
        raw(rng, TOML_NUMBERS)
    } else {
        raw(rng, TOML_OTHER)
    }
}

const PACK_KEYS: &[&str] = &[
    "name",
    "version",
    "title",
    "description",
    "currency",
    "minor_units",
    "rounding",
    "period",
    "script",
    "plugin",
    "function",
    "id",
    "label",
    "weight",
    "file",
    "hit_policy",
    "inputs",
    "columns",
    "max_operations",
    "max_call_depth",
    "max_expr_depth",
    "max_string_size",
    "max_array_size",
    "max_map_size",
    "max_seconds_per_call",
    "plugin_fuel_per_item",
    "gate",
    "cap",
    "accelerator",
    "kind",
    "months",
    "from",
    "to",
    "sum",
    "count",
    "distinct",
    "where",
    "prorate",
    "nope",
];

const PACK_SECTIONS: &[&str] = &[
    "[pack]",
    "[params]",
    "[stages.key_clients]",
    "[stages.kpis]",
    "[stages.bonus]",
    "[stages.nope]",
    "[[kpis]]",
    "[tables.curve]",
    "[tables.more]",
    "[limits]",
    "[windows.ytd]",
    "[windows.w2]",
    "[measures.big]",
    "[measures.m2]",
    "[payout]",
    "[nope]",
    "[[tables]]",
    "[pack.sub]",
];

const PACK_PATHS: &[&str] = &[
    "rules.rhai",
    "pack.toml",
    "tables/curve.csv",
    "missing.rhai",
    "../rules.rhai",
    "/etc/passwd",
    "/dev/null",
    "",
    "rules.rhai/",
    "./rules.rhai",
    "data/sales.csv",
    "data",
    "tables",
    "tables/../rules.rhai",
    "RULES.RHAI",
    "rules.rhai\u{0}",
];

const INPUTS: &[&str] = &[
    r#"[{ name = "attainment", from = "from", to = "to" }]"#,
    "[]",
    r#"[{ name = "attainment", column = "label" }]"#,
    r#"[{ name = "attainment", column = "factor" }]"#,
    r#"[{ name = "attainment", from = "to", to = "from" }]"#,
    r#"[{ name = "x", from = "nope", to = "to" }]"#,
    r#"[{ name = "attainment", from = "from", to = "to", column = "label" }]"#,
    r#"[{ name = "attainment", from = "from", to = "to" }, { name = "attainment", column = "label" }]"#,
    r#"[{ name = "attainment", from = "from" }]"#,
    r#"[{ name = "", from = "from", to = "to" }]"#,
    r#""x""#,
];

const COLUMN_TYPES: &[&str] = &[
    r#"{ from = "number", to = "number", factor = "number", label = "text" }"#,
    r#"{ from = "flag" }"#,
    r#"{ label = "number" }"#,
    r#"{ nope = "text" }"#,
    "{}",
    r#"{ from = "date" }"#,
    r#"{ from = "text", to = "text" }"#,
    r#"{ factor = "flag" }"#,
];

const LIMITS: &[&str] = &[
    "0",
    "1",
    "2",
    "10",
    "1000",
    "5000000",
    "9223372036854775807",
    "18446744073709551615",
    "-1",
    "1.5",
    "\"10\"",
    "true",
];

fn pack_value(rng: &mut Rng, section: &str, key: &str) -> String {
    if rng.percent(12) {
        return toml_any(rng);
    }
    match key {
        "name" | "version" | "title" | "description" | "label" => toml_str(&any_text(rng)),
        "currency" => quoted(
            rng,
            &[
                "RUB", "JPY", "BHD", "USD", "CLF", "XXX", "rub", "", " RUB ", "RUBX", "€",
            ],
        ),
        "minor_units" => raw(
            rng,
            &[
                "0",
                "1",
                "2",
                "3",
                "4",
                "6",
                "7",
                "28",
                "100",
                "-1",
                "4294967296",
                "2.0",
                "\"2\"",
            ],
        ),
        "rounding" => quoted(
            rng,
            &[
                "half-up",
                "half-even",
                "half-down",
                "down",
                "up",
                "ceiling",
                "",
                "HALF-UP",
                "half_up",
            ],
        ),
        "period" => quoted(
            rng,
            &["month", "quarter", "half", "year", "week", "", "Month"],
        ),
        "script" | "plugin" | "file" => quoted(rng, PACK_PATHS),
        "function" => quoted(
            rng,
            &[
                "classify",
                "bonus",
                "revenue",
                "margin",
                "",
                "nope",
                "fn",
                "classify(client)",
                "ключ",
            ],
        ),
        "id" => quoted(
            rng,
            &[
                "revenue", "margin", "bonus", "classify", "1x", "", "r e", "ключ", "_", "revenue2",
                "param",
            ],
        ),
        "weight" => raw(rng, TOML_NUMBERS),
        "hit_policy" => quoted(rng, &["first", "unique", "collect", "any", ""]),
        "inputs" => raw(rng, INPUTS),
        "columns" => raw(rng, COLUMN_TYPES),
        "max_seconds_per_call" => raw(
            rng,
            &[
                "0",
                "1",
                "2",
                "-1",
                "0.5",
                "1e9",
                "86400",
                "86401",
                "9223372036854775807",
                "18446744073709551615",
                "\"2\"",
                "inf",
            ],
        ),
        k if k.starts_with("max_") || k.starts_with("plugin_") => raw(rng, LIMITS),
        "kind" => quoted(
            rng,
            &[
                "year_to_date",
                "rolling",
                "each_month",
                "history",
                "range",
                "weekly",
                "",
            ],
        ),
        "months" => raw(
            rng,
            &["1", "12", "0", "-1", "1200", "1201", "99999999999", "1.5"],
        ),
        "from" | "to" if section.starts_with("[windows") => quoted(
            rng,
            &[
                "2026-01-01",
                "2025-12-31",
                "2026-02-30",
                "0001-01-01",
                "9999-12-31",
                "x",
            ],
        ),
        "sum" => quoted(rng, &["amount", "cost", "quantity", "margin", "revenue"]),
        "count" => quoted(rng, &["lines", "rows"]),
        "distinct" => quoted(rng, &["product", "category", "client", "region"]),
        "where" => raw(
            rng,
            &[
                "[]",
                r#"[{ column = "amount", below = 0 }]"#,
                r#"[{ column = "amount", is = "1" }]"#,
                r#"[{ column = "nope", at_most = 1 }]"#,
                r#"[{ column = "client_id", not_in = ["C1"] }, { column = "quantity", above = "1e3" }]"#,
                r#"[{ column = "category" }]"#,
                r#"[{ column = "cost", at_least = 1, below = 2 }]"#,
            ],
        ),
        "prorate" => quoted(rng, &["days", "none", "weeks"]),
        _ if section == "[params]" => {
            if rng.percent(60) {
                raw(rng, TOML_NUMBERS)
            } else {
                toml_any(rng)
            }
        }
        _ => toml_any(rng),
    }
}

fn pack_hostile(rng: &mut Rng) -> (String, &'static str) {
    let n = *rng.pick(&[100, 1000, 100_000]);
    match rng.below(6) {
        0 => (
            format!("deep = {}1{}", "[".repeat(n), "]".repeat(n)),
            "[params]",
        ),
        1 => (
            format!("deep = {}1{}", "{ a = ".repeat(n), " }".repeat(n)),
            "[params]",
        ),
        2 => (format!("long = \"{}\"", "x".repeat(n * 10)), "[params]"),
        3 => (
            (0..n.min(5000))
                .map(|i| format!("p{i} = {i}"))
                .collect::<Vec<_>>()
                .join("\n"),
            "[params]",
        ),
        4 => (
            (0..n.min(500))
                .map(|i| format!("[[kpis]]\nid = \"k{i}\"\nlabel = \"k{i}\"\nweight = 0"))
                .collect::<Vec<_>>()
                .join("\n"),
            "$end",
        ),
        _ => (format!("\"{}\" = 1", "k".repeat(n)), "[params]"),
    }
}

const MAPPING_KEYS: &[&str] = &[
    "encoding",
    "delimiter",
    "quote",
    "header_row",
    "decimal",
    "thousands",
    "date_format",
    "true",
    "false",
    "max_field_bytes",
    "path",
    "sheet",
    "from",
    "distinct",
    "filter",
    "date",
    "client_id",
    "manager_id",
    "amount",
    "cost",
    "name",
    "target_bonus",
    "strategic",
    "market_share",
    "since",
    "period",
    "kpi",
    "target",
    "nope",
];

const MAPPING_SECTIONS: &[&str] = &[
    "[dialect]",
    "[files.extra]",
    "[files.orders]",
    "[tables.contracts]",
    "[tables.contracts.columns]",
    "[tables.sale]",
    "[tables.plans]",
    "[nope]",
    "[files]",
    "[tables]",
];

const ENCODINGS: &[&str] = &[
    "utf-8",
    "utf8",
    "UTF-8",
    "windows-1251",
    "cp1251",
    "windows-1252",
    "cp1252",
    "utf-16",
    "utf-16le",
    "utf-16be",
    "koi8-r",
    "",
    "latin1",
    " utf-8",
];

const DATE_FORMATS: &[&str] = &[
    "DD/MM/YYYY",
    "YYYY-MM-DD",
    "MM/DD/YYYY",
    "MM/DD/YY",
    "DD.MM.YYYY",
    "YYYY",
    "",
    "DD/MM",
    "YYYYYYYY",
    "DDMMYYYY",
    "D/M/YYYY",
    "DD/MM/YYYY DD",
    "YY/MM/DD",
    "DD/MM/YYYYYY",
    "MMMM",
];

const MAPPING_PATHS: &[&str] = &[
    "Orders.csv",
    "People.csv",
    "managers.csv",
    "plans.csv",
    "missing.csv",
    "Orders.xlsx",
    "data.toml",
    "../src/Orders.csv",
    "",
    "/dev/null",
    ".",
    "Orders.csv/",
    "ORDERS.CSV",
];

const FILTERS: &[&str] = &[
    r#"{ Region = "North" }"#,
    r#"{ Region = ["North", "East"] }"#,
    r#"{ Nope = "x" }"#,
    "{}",
    r#"{ Region = [] }"#,
    r#"{ Region = "" }"#,
    r#"{ "Customer ID" = ["C1", "C4"] }"#,
    r#"{ Region = 5 }"#,
];

const COLUMN_SPECS: &[&str] = &[
    r#""Order Date""#,
    r#""Customer ID""#,
    r#""Sales""#,
    r#""Profit""#,
    r#""Quantity""#,
    r#""Region""#,
    r#""Nope""#,
    r#""""#,
    r#""sales""#,
    r#"{ const = "25000" }"#,
    r#"{ const = "79228162514264337593543950335" }"#,
    r#"{ const = "" }"#,
    r#"{ const = 5 }"#,
    r#"{ const = 1.5 }"#,
    r#"{ const = true }"#,
    r#"{ const = [] }"#,
    r#"{ const = "2026-03-01" }"#,
    r#"{ const = "01/03/2026" }"#,
    r#"{ const = "yes" }"#,
    r#"{ expr = "Sales - Profit" }"#,
    r#"{ expr = "[Sales] - [Profit]" }"#,
    r#"{ expr = "Sales / 0" }"#,
    r#"{ expr = "Sales / (Quantity - Quantity)" }"#,
    r#"{ expr = "Sales * Sales * Sales * Sales * Sales * Sales * Sales * Sales" }"#,
    r#"{ expr = "Sales / 0.0000000000000000000000000001" }"#,
    r#"{ expr = "79228162514264337593543950335 + 1" }"#,
    r#"{ expr = "99999999999999999999999999999999" }"#,
    r#"{ expr = "-Sales" }"#,
    r#"{ expr = "--------Sales" }"#,
    r#"{ expr = "(Sales" }"#,
    r#"{ expr = "Sales)" }"#,
    r#"{ expr = "" }"#,
    r#"{ expr = "[Sales" }"#,
    r#"{ expr = "1..2" }"#,
    r#"{ expr = "Sales Profit" }"#,
    r#"{ expr = "[Order Date] + 1" }"#,
    r#"{ expr = "[Customer Name] * 2" }"#,
    r#"{ lookup = "people", match = "Region", on = "Region", take = "Person" }"#,
    r#"{ lookup = "orders", match = "Customer ID", on = "Customer ID", take = "Sales" }"#,
    r#"{ lookup = "orders", match = "Region", on = "Region", take = "Profit" }"#,
    r#"{ lookup = "people", match = "Nope", on = "Region", take = "Person" }"#,
    r#"{ lookup = "people", match = "Region", on = "Person", take = "Region" }"#,
    r#"{ lookup = "nope", match = "a", on = "b", take = "c" }"#,
    r#"{ lookup = "people" }"#,
    r#"{ lookup = "people", match = "Region", on = "Region", take = "Person", default = "M1" }"#,
    r#"{ lookup = "people", match = "Region", on = "Region", take = "Person", map = { North = "South" } }"#,
    r#"{ lookup = "people", match = "Region", on = "Region", take = "Person", map = { North = 1 } }"#,
    r#"{ column = "Category", map = { Dairy = "Bakery", Bakery = "" } }"#,
    r#"{ column = "Nope", map = {} }"#,
    r#"{ column = "Sales", default = "1" }"#,
    r#"{ const = "1", map = { a = "b" } }"#,
    r#"{ const = "1", expr = "2" }"#,
    "{}",
    "5",
    r#"["Sales"]"#,
];

fn mapping_value(rng: &mut Rng, section: &str, key: &str) -> String {
    if rng.percent(12) {
        return toml_any(rng);
    }
    if section.ends_with(".columns]") {
        return raw(rng, COLUMN_SPECS);
    }
    match key {
        "encoding" => quoted(rng, ENCODINGS),
        "delimiter" => quoted(
            rng,
            &[
                ",", ";", "\t", "tab", "\\t", "|", "", "ab", "\"", "\n", " ", "é", "\u{0}",
            ],
        ),
        "quote" => quoted(rng, &["\"", "'", "", ";", "ab", "\n"]),
        "header_row" => raw(
            rng,
            &[
                "0",
                "1",
                "2",
                "3",
                "9",
                "99",
                "-1",
                "9223372036854775807",
                "18446744073709551615",
                "\"1\"",
                "1.5",
            ],
        ),
        "decimal" => quoted(rng, &[".", ",", "", ";", ".."]),
        "thousands" => quoted(rng, &["", " ", "nbsp", ".", ",", "'", "x", ";"]),
        "date_format" => quoted(rng, DATE_FORMATS),
        "true" | "false" => raw(
            rng,
            &[
                r#"["yes"]"#,
                "[]",
                r#"[""]"#,
                r#"["true", "false"]"#,
                r#""yes""#,
                r#"["no", ""]"#,
                "[1]",
            ],
        ),
        "max_field_bytes" => raw(
            rng,
            &[
                "0",
                "1",
                "10",
                "100",
                "1048576",
                "-1",
                "18446744073709551615",
            ],
        ),
        "path" => quoted(rng, MAPPING_PATHS),
        "sheet" => quoted(rng, &["Orders", "Sheet1", ""]),
        "from" => quoted(
            rng,
            &[
                "orders", "people", "managers", "plans", "nope", "", "Orders",
            ],
        ),
        "distinct" => quoted(
            rng,
            &["client_id", "manager_id", "name", "nope", "", "Customer ID"],
        ),
        "filter" => raw(rng, FILTERS),
        _ => toml_any(rng),
    }
}

/// Expressions nested or chained deep enough to exhaust a recursive parser's stack, long
/// filters, deep TOML.
fn mapping_hostile(rng: &mut Rng) -> (String, &'static str) {
    let n = *rng.pick(&[100, 1000, 100_000]);
    let columns = "[tables.sales.columns]";
    match rng.below(6) {
        0 => (
            format!(
                "deep_extra = {{ expr = \"{}Sales{}\" }}",
                "(".repeat(n),
                ")".repeat(n)
            ),
            columns,
        ),
        1 => (
            format!("deep_extra = {{ expr = \"{}Sales\" }}", "-".repeat(n)),
            columns,
        ),
        2 => (
            format!(
                "deep_extra = {{ expr = \"Sales{}\" }}",
                " + Sales".repeat(n)
            ),
            columns,
        ),
        3 => {
            let values: Vec<String> = (0..n.min(20_000)).map(|i| format!("\"R{i}\"")).collect();
            (
                format!("filter = {{ Region = [\"North\", {}] }}", values.join(", ")),
                "[tables.sales]",
            )
        }
        4 => (
            format!("true = {}\"yes\"{}", "[".repeat(n), "]".repeat(n)),
            "[dialect]",
        ),
        _ => (
            format!("deep_extra = {{ const = \"{}\" }}", "9".repeat(n)),
            columns,
        ),
    }
}

// ---------------------------------------------------------------------------------------
// Rhai script mutations

const ENTRY_FUNCTIONS: &[&str] = &["classify", "revenue", "margin", "bonus"];

/// Statements spliced at the start of an entry function: runaway loops and bombs, deep
/// values, edge decimals and integers, odd calls of the API.
const HOSTILE_BODIES: &[&str] = &[
    "let a = []; for i in 0..100000 { a = [a]; }",
    "let m = #{}; for i in 0..100000 { m = #{ x: m }; }",
    "loop {}",
    "let i = 0; while true { i += 1; }",
    "let a = []; for i in 0..2000000 { a.push(i); }",
    "let s = \"x\"; loop { s += s; }",
    "let a = [1]; loop { a += a; }",
    "let s = \"\"; for i in 0..99999 { s += \"é\"; }",
    "let m = #{}; for i in 0..20000 { m[`k${i}`] = i; }",
    "let x = 79228162514264337593543950335.0 * 10.0;",
    "let x = 7922816251426433759354395033.5 * 10.0;",
    "let x = 7922816251426433759354395033.5 + 7922816251426433759354395033.5;",
    "let x = -7922816251426433759354395033.5 - 7922816251426433759354395033.5;",
    "let p = percent(79228162514264337593543950335.0);",
    "let p = percent(7922816251426433759354395033.5);",
    "let p = percent(-7922816251426433759354395033.5);",
    "let p = percent(9223372036854775807);",
    "let p = percent(-9223372036854775807 - 1);",
    "let p = percent(0.0000000000000000000000000001);",
    "let x = 1.0 / 0.0000000000000000000000000001;",
    "let x = 7922816251426433759354395033.5 / 0.1;",
    "let x = 1 / 0;",
    "let x = 1.0 / 0.0;",
    "let x = 1.0 % 0.0;",
    "let x = 9223372036854775807 + 1;",
    "let x = (-9223372036854775807 - 1) / -1;",
    "let x = (-9223372036854775807 - 1) % -1;",
    "let x = -9223372036854775807 - 1; let y = abs(x);",
    "let x = 2 ** 64;",
    "let x = 10.0 ** 100;",
    "let x = 1 << 64;",
    "let x = 1 << -1;",
    "let x = dec(9223372036854775807) * dec(9223372036854775807) * dec(9223372036854775807);",
    "let x = round_money(7922816251426433759354395033.5);",
    "let x = round_money(79228162514264337593543950.335);",
    "let x = round_money(-7922816251426433759354395033.5);",
    "let x = ratio(7922816251426433759354395033.5, 0.0000000000000000000000000001);",
    "let x = ratio(1, 0);",
    "let x = clamp(1, 2, 1);",
    "let x = clamp(7922816251426433759354395033.5, -1, 1);",
    "let x = days_between(\"0001-01-01\", \"9999-12-31\");",
    "let x = days_between(\"2026-02-30\", \"2026-01-01\");",
    "let x = exp(1000.0);",
    "let x = ln(0.0);",
    "let x = sqrt(-1.0);",
    "let x = log(0.0);",
    "let x = round(1.5, 9223372036854775807);",
    "let x = round(1.5, -1);",
    "let x = to_int(7922816251426433759354395033.5);",
    "let x = parse_decimal(\"79228162514264337593543950336\");",
    "let s = \"x\"; s.pad(9223372036854775807, \"y\");",
    "let a = [1]; a.pad(9223372036854775807, 0);",
    "let a = [1, 2, 3]; let b = a.extract(-9223372036854775807 - 1, 9223372036854775807);",
    "let s = \"abc\"; let t = s.sub_string(-9223372036854775807 - 1, 9223372036854775807);",
    "let x = [1]; x[9223372036854775807] = 1;",
    "let x = [1]; let y = x[-9223372036854775807 - 1];",
    "let r = 0..9223372036854775807; for i in r { }",
    "for i in 0..100000 { warn(`w${i}`); }",
    "for i in 0..100000 { print(i); }",
    "throw 7922816251426433759354395033.5;",
    "throw #{ a: [1, 2, 3] };",
    "let x = param(\"nope\");",
    "let x = table(\"nope\");",
    "let x = lookup(\"nope\", #{});",
];

/// Recursion: a definition appended to the script and the call spliced into a function.
const RECURSIONS: &[(&str, &str)] = &[
    ("fn r(x) { r(x) }", "r(1);"),
    ("fn r(x) { r(x + 1) + 1 }", "r(0);"),
    ("fn ping(x) { pong(x) }\nfn pong(x) { ping(x) }", "ping(0);"),
    ("fn r(x) { if x > 0 { r(x - 1) } else { 0 } }", "r(100000);"),
    ("fn r(x) { let a = [x]; r(a) }", "r([]);"),
    (
        "fn grow(n) { if n == 0 { [] } else { [grow(n - 1)] } }",
        "grow(30);",
    ),
    (
        "fn fib(n) { if n < 2 { n } else { fib(n - 1) + fib(n - 2) } }",
        "fib(40);",
    ),
];

const BONUS_RETURNS: &[&str] = &[
    r#"return [#{ label: "a", amount: 7922816251426433759354395033.5 }, #{ label: "b", amount: 7922816251426433759354395033.5 }];"#,
    r#"return [#{ label: "a", amount: 7922816251426433759354395033.5 }, #{ label: "b", amount: -7922816251426433759354395033.5 }];"#,
    r#"return [#{ label: "a", amount: 79228162514264337593543950.335 }];"#,
    r#"return [#{ label: "a", amount: 0.0000000000000000000000000001 }];"#,
    r#"return [#{ label: "a", amount: 0.005 }, #{ label: "b", amount: 0.005 }, #{ label: "c", amount: -0.005 }];"#,
    r#"return [#{ label: "a", amount: 9223372036854775807 }, #{ label: "b", amount: 9223372036854775807 }];"#,
    r#"let l = []; for i in 0..100000 { l.push(#{ label: `x${i}`, amount: 0.01 }); } return l;"#,
    r#"return [#{ label: "a", amount: 1, kpi: "nope" }];"#,
    r#"return [#{ label: (), amount: () }];"#,
    r#"return [#{ label: "a", amount: "1" }];"#,
    r#"return [#{ label: "a", amount: 1, nope: 1 }];"#,
    r#"return [#{ label: "\u0000\n\r\"", amount: -0.0, note: "\u202e" }];"#,
    "return #{};",
    "return ();",
    "return [1, 2];",
    "return [[]];",
];

const KPI_RETURNS: &[&str] = &[
    "return #{ value: 7922816251426433759354395033.5, target: 0.0000000000000000000000000001 };",
    "return #{ value: 1, target: 0 };",
    "return #{ value: 0, target: 0, attainment: 7922816251426433759354395033.5 };",
    "return #{ value: -7922816251426433759354395033.5, target: 7922816251426433759354395033.5 };",
    "return #{ value: 1, target: 3 };",
    "return #{ value: 1, target: -0.0000000000000000000000000001 };",
    "return #{ value: 9223372036854775807, target: 1 };",
    "return #{ value: 1, target: 1, attainment: -7922816251426433759354395033.5 };",
    "return #{ value: (), target: () };",
    "return #{ value: \"1\", target: 1 };",
    "return 1;",
];

const CLASSIFY_RETURNS: &[&str] = &[
    "return #{ key: true, score: 7922816251426433759354395033.5, tier: \"A\" };",
    "return #{ key: true, score: 9223372036854775807, reasons: [\"x\", \"y\"] };",
    "return #{ key: false, score: -0.0000000000000000000000000001 };",
    "return #{ key: true, reasons: [1, 2] };",
    "return #{ key: \"yes\" };",
    "return #{ key: true, tier: \"\\u202e\" };",
    "return 1;",
    "return ();",
];

/// Numbers that replace the script's own.
const RHAI_NUMBERS: &[&str] = &[
    "79228162514264337593543950335.0",
    "7922816251426433759354395033.5",
    "9223372036854775807",
    "-9223372036854775807",
    "0.0000000000000000000000000001",
    "0",
    "0.0",
    "-1",
    "1000000000000000000",
    "99999999999999999999999999999999",
    "1e5",
];

const OPERATORS: &[&str] = &[
    " * ", " + ", " - ", " / ", " < ", " > ", " <= ", " >= ", " % ", " ** ",
];

const WORD_SWAPS: &[(&str, &[&str])] = &[
    (
        "revenue",
        &["margin", "returns", "cost", "quantity", "lines", "nope"],
    ),
    ("margin", &["revenue", "margin_rate", "cost", "nope"]),
    ("cur", &["prev", "year_ago", "company", "key_cur"]),
    ("min(", &["max(", "ratio(", "clamp("]),
    (
        "round_money(",
        &["percent(", "dec(", "round_money(round_money("],
    ),
    ("attainment", &["value", "target", "weight", "note"]),
    ("target_bonus", &["client_count", "id", "name"]),
    ("\"gate\"", &["\"nope\"", "\"cap\"", "\"\""]),
    ("kpis.list()", &["[]", "kpis", "[kpis]"]),
    (
        "strategic",
        &["key", "market_share", "since", "years", "is_new"],
    ),
    ("amount", &["amount_exact", "value", "label"]),
    ("kind", &["kpi", "note", "nope"]),
    ("return", &["throw"]),
    ("[]", &["[()]", "[[]]", "[#{}]"]),
];

fn mutate_script(rng: &mut Rng, text: &mut Vec<u8>, log: &mut Vec<String>) {
    let rounds = if rng.percent(30) { 2 } else { 1 };
    for _ in 0..rounds {
        let what = match rng.weighted(&[6, 2, 3, 3, 2]) {
            0 => {
                let f = *rng.pick(ENTRY_FUNCTIONS);
                let snippet = hostile_body(rng);
                splice(text, f, &snippet);
                format!("in {f}: {}", shorten(&snippet, 120))
            }
            1 => {
                let (definition, call) = *rng.pick(RECURSIONS);
                let f = *rng.pick(ENTRY_FUNCTIONS);
                text.extend_from_slice(format!("\n{definition}\n").as_bytes());
                splice(text, f, call);
                format!("{definition:?}, called in {f}")
            }
            2 => {
                let f = *rng.pick(ENTRY_FUNCTIONS);
                let own = match f {
                    "bonus" => BONUS_RETURNS,
                    "classify" => CLASSIFY_RETURNS,
                    _ => KPI_RETURNS,
                };
                let pool = if rng.percent(80) {
                    own
                } else {
                    *rng.pick(&[BONUS_RETURNS, CLASSIFY_RETURNS, KPI_RETURNS])
                };
                let snippet = *rng.pick(pool);
                splice(text, f, snippet);
                format!("in {f}: {}", shorten(snippet, 120))
            }
            3 => {
                let n = rng.range(1, 3);
                let whats: Vec<String> = (0..n).map(|_| script_token(rng, text)).collect();
                whats.join("; ")
            }
            _ => byte_mutation(rng, text),
        };
        log.push(format!("rules.rhai: {what}"));
    }
}

/// A hostile statement: from the list, or nesting and chains generated deep.
fn hostile_body(rng: &mut Rng) -> String {
    if rng.percent(80) {
        return rng.pick(HOSTILE_BODIES).to_string();
    }
    let n = *rng.pick(&[100, 5000, 100_000]);
    match rng.below(6) {
        0 => format!("let x = {}1{};", "(".repeat(n), ")".repeat(n)),
        1 => format!("let x = 1{};", " + 1".repeat(n)),
        2 => format!("let x = {}1{};", "[".repeat(n), "]".repeat(n)),
        3 => format!("{}{}", "{ ".repeat(n), " }".repeat(n)),
        4 => format!("let x = {}true;", "!".repeat(n)),
        _ => format!("{}{}", "if true { ".repeat(n), " }".repeat(n)),
    }
}

/// Inserts `snippet` at the start of the body of `function`, or at the end of the script if
/// an earlier mutation broke the function's head.
fn splice(text: &mut Vec<u8>, function: &str, snippet: &str) {
    let head = format!("fn {function}(");
    let at = find(text, head.as_bytes())
        .and_then(|i| text[i..].iter().position(|&b| b == b'{').map(|j| i + j + 1));
    let insert = format!("\n{snippet}\n");
    match at {
        Some(i) => insert_bytes(text, i, insert.as_bytes()),
        None => text.extend_from_slice(insert.as_bytes()),
    }
}

/// A number, an operator, a word or a line of the script changed.
fn script_token(rng: &mut Rng, text: &mut Vec<u8>) -> String {
    match rng.below(4) {
        0 => {
            let mut runs = Vec::new();
            let mut i = 0;
            while i < text.len() {
                let starts = text[i].is_ascii_digit()
                    && (i == 0 || !(text[i - 1].is_ascii_alphanumeric() || text[i - 1] == b'_'));
                if starts {
                    let mut end = i;
                    while end < text.len() && (text[end].is_ascii_digit() || text[end] == b'.') {
                        end += 1;
                    }
                    runs.push((i, end));
                    i = end;
                } else {
                    i += 1;
                }
            }
            if runs.is_empty() {
                return "no number to change".to_string();
            }
            let (start, end) = *rng.pick(&runs);
            let new = *rng.pick(RHAI_NUMBERS);
            let old = String::from_utf8_lossy(&text[start..end]).into_owned();
            let mut out = text[..start].to_vec();
            out.extend_from_slice(new.as_bytes());
            out.extend_from_slice(&text[end..]);
            *text = out;
            format!("number {old} at byte {start} is {new}")
        }
        1 => {
            let mut places = Vec::new();
            for op in &OPERATORS[..8] {
                for i in find_all(text, op.as_bytes()) {
                    places.push((i, op.len()));
                }
            }
            if places.is_empty() {
                return "no operator to change".to_string();
            }
            let (i, len) = *rng.pick(&places);
            let new = *rng.pick(OPERATORS);
            let old = String::from_utf8_lossy(&text[i..i + len]).into_owned();
            let mut out = text[..i].to_vec();
            out.extend_from_slice(new.as_bytes());
            out.extend_from_slice(&text[i + len..]);
            *text = out;
            format!("operator {:?} at byte {i} is {new:?}", old.trim())
        }
        2 => {
            let (word, swaps) = *rng.pick(WORD_SWAPS);
            let places = find_all(text, word.as_bytes());
            if places.is_empty() {
                return format!("no {word:?} to change");
            }
            let i = *rng.pick(&places);
            let new = *rng.pick(swaps);
            let mut out = text[..i].to_vec();
            out.extend_from_slice(new.as_bytes());
            out.extend_from_slice(&text[i + word.len()..]);
            *text = out;
            format!("{word:?} at byte {i} is {new:?}")
        }
        _ => {
            let mut lines = split_on(text, b'\n');
            let i = rng.below(lines.len());
            let what = match rng.below(3) {
                0 => {
                    lines.remove(i);
                    format!("delete line {}", i + 1)
                }
                1 => {
                    let line = lines[i].clone();
                    lines.insert(i, line);
                    format!("copy line {}", i + 1)
                }
                _ => {
                    let j = rng.below(lines.len());
                    lines.swap(i, j);
                    format!("swap lines {} and {}", i + 1, j + 1)
                }
            };
            *text = lines.join(&b'\n');
            what
        }
    }
}
