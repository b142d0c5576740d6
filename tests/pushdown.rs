//! The sales pass pushed down: `bonusrun sql` prints a query, DuckDB (the Python package, in
//! a virtual environment tests/pushdown/venv.sh makes once) runs it on the sales, and
//! `bonusrun run --facts` pays from its result exactly what the native pass pays: the same
//! payouts, KPIs, key clients and statements, byte for byte. Then each way a facts file can
//! be wrong, with its message.

use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The virtual environment's Python, with duckdb (made the first time).
pub fn python() -> PathBuf {
    static MADE: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    let made = MADE.get_or_init(|| {
        let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("duckdb-venv");
        let out = Command::new("bash")
            .arg(root().join("tests/pushdown/venv.sh"))
            .arg(&venv)
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run tests/pushdown/venv.sh: {e}"))?;
        match out.status.success() {
            true => Ok(venv.join("bin/python")),
            false => Err("tests/pushdown/venv.sh failed (its messages are above)".into()),
        }
    });
    made.clone().unwrap_or_else(|e| panic!("{e}"))
}

/// Prints the query for `pack` and `period`, runs it with DuckDB on `sales` and returns the
/// facts file.
pub fn facts_by_duckdb(dir: &Path, pack: &Path, period: &str, sales: &Path) -> PathBuf {
    facts_by_duckdb_as(dir, pack, period, sales, "facts.csv")
}

/// [`facts_by_duckdb`], writing the facts file `name` (Parquet for a `.parquet` name).
pub fn facts_by_duckdb_as(
    dir: &Path,
    pack: &Path,
    period: &str,
    sales: &Path,
    name: &str,
) -> PathBuf {
    let pack = pack.to_str().unwrap();
    let query = ok(
        dir,
        &[
            "sql",
            "--rules",
            pack,
            "--period",
            period,
            "--dialect",
            "duckdb",
        ],
    );
    std::fs::write(dir.join("query.sql"), query).unwrap();
    let facts = dir.join(name);
    duckdb("duckdb_facts.py", &[sales, &dir.join("query.sql"), &facts]);
    facts
}

/// Runs the DuckDB script `tests/pushdown/SCRIPT` with `args`; fails the test if it fails.
pub fn duckdb(script: &str, args: &[&Path]) {
    let out = Command::new(python())
        .arg(root().join("tests/pushdown").join(script))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `pack` on `data` natively and from DuckDB's facts, and compares every file the
/// runs write but run.json and the report (which name the facts file among the inputs).
fn same_as_native(name: &str, pack: &Path, data: &Path, period: &str) -> PathBuf {
    let dir = scratch(name);
    let facts = facts_by_duckdb(&dir, pack, period, &data.join("sales.csv"));
    let run = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "run",
            "--rules",
            pack.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--period",
            period,
            "--out",
            out,
            "--no-ledger",
            "--quiet",
        ];
        args.extend(extra);
        ok(&dir, &args);
    };
    run("native", &[]);
    run("pushed", &["--facts", facts.to_str().unwrap()]);
    let what = "the native pass and DuckDB's facts";
    same_payouts(&dir.join("native"), &dir.join("pushed"), what);
    let run_json = json(&dir.join("pushed/run.json"));
    assert_eq!(run_json["facts"]["from"], facts.to_str().unwrap());
    assert_eq!(
        run_json["total_payout"],
        json(&dir.join("native/run.json"))["total_payout"]
    );
    dir
}

#[test]
fn duckdb_facts_pay_what_the_native_pass_pays_on_generated_data() {
    let dir = scratch("pushdown-generated");
    ok(
        &dir,
        &[
            "generate",
            "--out",
            "data",
            "--clients",
            "400",
            "--managers",
            "12",
            "--sales",
            "60000",
            "--seed",
            "7",
        ],
    );
    let pack = root().join("rules/romashka");
    let dir = same_as_native("pushdown-romashka", &pack, &dir.join("data"), "2026-Q2");
    // Nothing was guessed: the facts say their period, and a run without --period takes it.
    let facts = dir.join("facts.csv");
    let stderr = fails(
        &dir,
        &[
            "run",
            "--rules",
            pack.to_str().unwrap(),
            "--period",
            "2026-Q1",
            "--facts",
            facts.to_str().unwrap(),
            "--no-ledger",
            "--quiet",
            "--out",
            "q1",
        ],
        1,
    );
    assert!(stderr.contains("column 'period': the facts are for 2026-Q2, but this run is for 2026-Q1; print the query with `bonusrun sql --period 2026-Q1`, or run with --period 2026-Q2"), "{stderr}");
}

#[test]
fn duckdb_facts_carry_declared_windows_and_measures() {
    let pack = fixture("windows");
    same_as_native("pushdown-windows", &pack, &pack.join("data"), "2026-Q3");
}

/// A facts file with `edit` applied, run on the windows fixture: the error it gives.
fn facts_error(name: &str, edit: impl Fn(String) -> String) -> String {
    let pack = fixture("windows");
    let dir = scratch(name);
    let facts = facts_by_duckdb(&dir, &pack, "2026-Q3", &pack.join("data/sales.csv"));
    std::fs::write(&facts, edit(read(&facts))).unwrap();
    fails(
        &dir,
        &[
            "run",
            "--rules",
            pack.to_str().unwrap(),
            "--facts",
            facts.to_str().unwrap(),
            "--no-ledger",
            "--quiet",
            "--out",
            "out",
        ],
        1,
    )
}

#[test]
fn a_facts_file_cut_short_does_not_reconcile() {
    let err = facts_error("facts-cut", |text| {
        let mut lines: Vec<&str> = text.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with("segment,"))
            .unwrap();
        lines.remove(at);
        lines.join("\n") + "\n"
    });
    assert!(err.contains("column 'lines': the segments sum to"), "{err}");
    assert!(err.contains("but the total row says"), "{err}");
    assert!(
        err.contains(
            "the file is not the whole result of the query (cut short, or one part of several?)"
        ),
        "{err}"
    );
}

#[test]
fn a_facts_file_naming_an_unknown_client_or_segment_is_refused() {
    let err = facts_error("facts-client", |text| {
        text.replacen("segment,,C1,", "segment,,C9,", 1)
    });
    assert!(
        err.contains("column 'client_id': unknown client 'C9': it is not in clients.csv"),
        "{err}"
    );
    let err = facts_error("facts-segment", |text| {
        text.replacen(",2026-07-01,2026-08-01,", ",2026-07-01,2026-08-02,", 1)
    });
    assert!(
        err.contains(
            "column 'start_date': the segment 2026-07-01..2026-08-02 is not one of this run's"
        ),
        "{err}"
    );
    let err = facts_error("facts-run", |text| {
        text.lines()
            .filter(|l| !l.starts_with("run,"))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    });
    assert!(
        err.contains("has no 'run' row: it is not the whole result of the facts query"),
        "{err}"
    );
}

#[test]
fn facts_summed_with_fewer_decimals_than_the_sales_have_are_refused() {
    let pack = fixture("windows");
    let dir = scratch("facts-inexact");
    copy_dir(&pack.join("data"), &dir.join("data"));
    edit(&dir.join("data/sales.csv"), "1000.00", "1000.005");
    let facts = facts_by_duckdb(&dir, &pack, "2026-Q3", &dir.join("data/sales.csv"));
    let err = fails(
        &dir,
        &[
            "run",
            "--rules",
            pack.to_str().unwrap(),
            "--data",
            "data",
            "--facts",
            facts.to_str().unwrap(),
            "--no-ledger",
            "--quiet",
            "--out",
            "out",
        ],
        1,
    );
    assert!(err.contains("column 'inexact': 1 sales line(s) have more decimals than the query read them with, so the engine rounded them; print the query with a larger --scale"), "{err}");
}

#[test]
fn sql_refuses_an_unknown_dialect_and_a_period_of_another_kind() {
    let dir = scratch("sql-usage");
    let err = fails(
        &dir,
        &["sql", "--period", "2026-Q2", "--dialect", "oracle"],
        2,
    );
    assert!(
        err.contains("--dialect oracle: expected duckdb, spark or ansi"),
        "{err}"
    );
    let err = fails(&dir, &["sql", "--period", "2026-05"], 2);
    assert!(
        err.contains("pays per quarter, but --period 2026-05 is a month"),
        "{err}"
    );
}

#[test]
fn duckdb_facts_written_as_parquet_pay_the_same() {
    let pack = fixture("windows");
    let dir = scratch("pushdown-parquet-facts");
    let sales = pack.join("data/sales.csv");
    let facts = facts_by_duckdb_as(&dir, &pack, "2026-Q3", &sales, "facts.parquet");
    let rules = pack.to_str().unwrap();
    let args = ["run", "--rules", rules, "--no-ledger", "--quiet", "--out"];
    ok(&dir, &[&args[..], &["native"]].concat());
    ok(
        &dir,
        &[&args[..], &["pushed", "--facts", facts.to_str().unwrap()]].concat(),
    );
    same_payouts(
        &dir.join("native"),
        &dir.join("pushed"),
        "the native pass and Parquet facts",
    );
    let inputs = json(&dir.join("pushed/run.json"))["inputs"].clone();
    assert!(
        inputs
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == "facts.parquet"),
        "{inputs}"
    );
}

/// A facts file edited at one cell of its first segment row: column `name` set to `value`.
fn first_segment_cell(text: &str, name: &str, value: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let col = lines[0].split(',').position(|c| c == name).unwrap();
    let at = lines
        .iter()
        .position(|l| l.starts_with("segment,"))
        .unwrap();
    // The columns before `products` hold no quotes or commas; the JSON lists come last.
    let mut cells: Vec<String> = lines[at].splitn(col + 2, ',').map(String::from).collect();
    cells[col] = value.to_string();
    lines[at] = cells.join(",");
    lines.join("\n") + "\n"
}

#[test]
fn bad_counts_dates_and_name_lists_in_facts_are_named() {
    let err = facts_error("facts-count", |t| first_segment_cell(&t, "lines", "many"));
    assert!(
        err.contains("column 'lines': found 'many', expected a count (0 or more)"),
        "{err}"
    );
    let err = facts_error("facts-date", |t| {
        first_segment_cell(&t, "first_date", "2026-13-01")
    });
    assert!(
        err.contains("column 'first_date': found '2026-13-01', expected a date (YYYY-MM-DD)"),
        "{err}"
    );
    let err = facts_error("facts-names", |t| {
        first_segment_cell(&t, "categories", "Dairy")
    });
    assert!(
        err.contains("column 'categories': found 'Dairy', expected a JSON array of texts"),
        "{err}"
    );
}

/// Owners, credit splits and currencies change who is credited with each line, which the
/// pushed-down query does not compute: a data set with any of them is refused, not paid
/// differently.
#[test]
fn facts_are_refused_for_data_with_owners_credits_or_currencies() {
    let pack = fixture("windows");
    let dir = scratch("facts-refused");
    let facts = facts_by_duckdb(&dir, &pack, "2026-Q3", &pack.join("data/sales.csv"));
    let cases = [
        (
            "owners.csv",
            "client_id,manager_id,from\nC1,M1,2020-01-01\n",
            "owners.csv: credits lines without a manager to the client's owner on the line's date; the facts a --facts run reads are summed per manager on each line, so this data set needs the sales pass (run without --facts)",
        ),
        (
            "credits.csv",
            "client_id,manager_id,share\nC1,M1,0.6\nC1,M2,0.4\n",
            "credits.csv: splits or overlays a client's credit between managers; the facts",
        ),
        (
            "fx_rates.csv",
            "date,from,to,rate\n2026-01-01,EUR,RUB,100\n",
            "fx_rates.csv: converts lines in other currencies at each line's date; the facts",
        ),
    ];
    for (file, text, message) in cases {
        let data = dir.join(format!("data-{file}"));
        copy_dir(&pack.join("data"), &data);
        std::fs::write(data.join(file), text).unwrap();
        let err = fails(
            &dir,
            &[
                "run",
                "--rules",
                pack.to_str().unwrap(),
                "--data",
                data.to_str().unwrap(),
                "--facts",
                facts.to_str().unwrap(),
                "--no-ledger",
                "--out",
                "out",
            ],
            1,
        );
        assert!(err.contains(message), "{file}: {err}");
        assert!(
            !dir.join("out").exists(),
            "{file}: a failed run wrote outputs"
        );
    }
}

/// Writes the facts CSV `facts` as `facts.parquet` (to_parquet.py's `mode`), runs `pack`
/// on it, and returns the error of the failed run.
fn parquet_facts_fail(dir: &Path, pack: &Path, facts: &Path, mode: &str) -> String {
    let parquet = dir.join("facts.parquet");
    let (mode, rows) = (Path::new(mode), Path::new("1000"));
    duckdb("to_parquet.py", &[facts, &parquet, mode, rows]);
    let rules = pack.to_str().unwrap();
    let facts = parquet.to_str().unwrap();
    let args = [
        "run",
        "--rules",
        rules,
        "--facts",
        facts,
        "--no-ledger",
        "--out",
        "out",
    ];
    fails(dir, &args, 1)
}

/// A facts file written by an engine as Parquet with a floating-point sum is refused: its
/// figures may already be rounded.
#[test]
fn a_floating_point_column_in_parquet_facts_is_refused() {
    let pack = fixture("windows");
    let dir = scratch("facts-float");
    let facts = facts_by_duckdb(&dir, &pack, "2026-Q3", &pack.join("data/sales.csv"));
    let err = parquet_facts_fail(&dir, &pack, &facts, "cast:DOUBLE:revenue");
    assert!(
        err.contains("facts.parquet: column 'revenue': is a floating-point column (Float64): the numbers bonusrun reads must be exact; write it as DECIMAL (or as text)"),
        "{err}"
    );
}

/// An error in Parquet facts names the file's row and row group, not a line of the text it
/// was read as.
#[test]
fn an_error_in_parquet_facts_names_its_row_and_row_group() {
    let pack = fixture("windows");
    let dir = scratch("facts-parquet-row");
    let facts = facts_by_duckdb(&dir, &pack, "2026-Q3", &pack.join("data/sales.csv"));
    let text = read(&facts);
    let row = text
        .lines()
        .position(|l| l.starts_with("segment,,C1,"))
        .unwrap();
    std::fs::write(&facts, text.replacen("segment,,C1,", "segment,,C9,", 1)).unwrap();
    let err = parquet_facts_fail(&dir, &pack, &facts, "text");
    let want = format!("facts.parquet:{row}: column 'client_id': in row group 0: unknown client 'C9': it is not in clients.csv");
    assert!(err.contains(&want), "{want}\n{err}");
}
