//! `sales.parquet` in place of `sales.csv`: the same sales written as Parquet by DuckDB
//! (as text, or typed: DATE, INTEGER, DECIMAL), in many row groups, pay exactly what the CSV
//! pays; a floating-point amount, a bad row and both files at once are refused with their
//! messages.

use crate::pushdown::duckdb;
use crate::util::*;
use std::path::Path;

/// The bundled pack run on `data/` in the test's directory.
const ROMASHKA_ON_DATA: [&str; 4] = ["run", "--data", "data", "--no-ledger"];

/// Writes `dir/data/sales.csv` as `dir/data/sales.parquet` (`mode`: text, typed, typed64 or
/// float)
/// and removes the CSV file.
fn to_parquet(dir: &Path, mode: &str) {
    let csv = dir.join("data/sales.csv");
    let (parquet, rows) = (dir.join("data/sales.parquet"), Path::new("1000"));
    duckdb("to_parquet.py", &[&csv, &parquet, Path::new(mode), rows]);
    std::fs::remove_file(csv).unwrap();
}

/// Runs the Romashka pack on its data as CSV and as Parquet (`mode`) and compares the outputs.
fn same_as_csv(name: &str, mode: &str) {
    let dir = scratch(name);
    let pack = root().join("rules/romashka");
    copy_dir(&pack.join("data"), &dir.join("data"));
    let rules = pack.to_str().unwrap();
    let args = [
        "run",
        "--rules",
        rules,
        "--data",
        "data",
        "--no-ledger",
        "--quiet",
        "--out",
    ];
    ok(&dir, &[&args[..], &["from-csv"]].concat());
    to_parquet(&dir, mode);
    ok(&dir, &[&args[..], &["from-parquet"]].concat());
    let what = format!("sales.csv and sales.parquet ({mode})");
    same_payouts(&dir.join("from-csv"), &dir.join("from-parquet"), &what);
    let run_json = json(&dir.join("from-parquet/run.json"));
    let inputs = run_json["inputs"].as_array().unwrap();
    assert!(
        inputs
            .iter()
            .any(|i| i["name"] == "sales.parquet" && i["rows"] == 9000),
        "{inputs:?}"
    );
    // The period was guessed from the row groups' statistics, as from the CSV file's ends.
    assert_eq!(
        run_json["period"]["run"],
        json(&dir.join("from-csv/run.json"))["period"]["run"]
    );
}

#[test]
fn sales_parquet_as_text_pays_what_sales_csv_pays() {
    same_as_csv("parquet-text", "text");
}

#[test]
fn sales_parquet_with_dates_integers_and_decimals_pays_what_sales_csv_pays() {
    same_as_csv("parquet-typed", "typed");
}

#[test]
fn sales_parquet_with_64_bit_integers_and_wide_decimals_pays_what_sales_csv_pays() {
    same_as_csv("parquet-typed64", "typed64");
}

#[test]
fn a_floating_point_amount_is_refused() {
    let dir = scratch("parquet-float");
    copy_dir(&root().join("rules/romashka/data"), &dir.join("data"));
    to_parquet(&dir, "float");
    let err = fails(&dir, &ROMASHKA_ON_DATA, 1);
    assert!(
        err.contains("sales.parquet: column 'amount': is a floating-point column (Float64): an amount must be exact; write it as DECIMAL (or as text) in the Parquet file"),
        "{err}"
    );
}

#[test]
fn a_column_of_a_type_sales_cannot_hold_is_refused() {
    let dir = scratch("parquet-timestamp");
    copy_dir(&root().join("rules/romashka/data"), &dir.join("data"));
    to_parquet(&dir, "cast:TIMESTAMP:date");
    let err = fails(&dir, &ROMASHKA_ON_DATA, 1);
    assert!(
        err.contains("sales.parquet: column 'date': has the Parquet type Timestamp(µs); expected text, a date, a DECIMAL or an integer"),
        "{err}"
    );
}

#[test]
fn a_bad_row_is_named_by_its_row_and_row_group_and_both_files_are_refused() {
    let dir = scratch("parquet-bad");
    copy_dir(&root().join("rules/romashka/data"), &dir.join("data"));
    // Line 2502 of the CSV is row 2501: in the second row group (DuckDB writes at least 2048
    // rows per group, whatever smaller size it is asked for).
    let text = read(&dir.join("data/sales.csv"));
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[2501] = lines[2501].replacen(",C", ",X", 1);
    std::fs::write(dir.join("data/sales.csv"), lines.join("\n") + "\n").unwrap();
    let bad = lines[2501].split(',').nth(1).unwrap().to_string();
    std::fs::copy(dir.join("data/sales.csv"), dir.join("sales.csv")).unwrap();
    to_parquet(&dir, "text");
    let args = ROMASHKA_ON_DATA;
    let err = fails(&dir, &args, 1);
    assert!(
        err.contains("sales.parquet:2501: column 'client_id': in row group 1: unknown client_id"),
        "{err}"
    );
    assert!(err.contains(&bad), "{err}");
    std::fs::copy(dir.join("sales.csv"), dir.join("data/sales.csv")).unwrap();
    let err = fails(&dir, &args, 1);
    assert!(
        err.contains("sales.csv: and sales.parquet are both in the data directory; keep one"),
        "{err}"
    );
}

/// Typed cells (dates, decimals, dictionary-encoded ids looked up once per value) are
/// checked as text cells are: an unknown client is named on each row it is on, and a NULL
/// amount is an empty one.
#[test]
fn typed_cells_are_checked_as_text_is() {
    let dir = scratch("parquet-typed-bad");
    copy_dir(&root().join("rules/romashka/data"), &dir.join("data"));
    let text = read(&dir.join("data/sales.csv"));
    let lines: Vec<String> = text.lines().map(String::from).collect();
    let write = |lines: &[String]| {
        std::fs::write(dir.join("data/sales.csv"), lines.join("\n") + "\n").unwrap();
        to_parquet(&dir, "typed");
    };
    // The same unknown client on rows 2501 and 2601: the first is the error, whichever
    // worker reads its row group.
    let mut bad = lines.clone();
    for i in [2501, 2601] {
        let client = bad[i].split(',').nth(1).unwrap().to_string();
        bad[i] = bad[i].replacen(&client, "C-NOBODY", 1);
    }
    write(&bad);
    let err = fails(&dir, &ROMASHKA_ON_DATA, 1);
    assert!(
        err.contains("sales.parquet:2501: column 'client_id': in row group 1: unknown client_id 'C-NOBODY'; it is not in clients.csv"),
        "{err}"
    );
    // An empty amount is NULL in the file.
    let mut bad = lines.clone();
    let amount = bad[0].split(',').position(|c| c == "amount").unwrap();
    let mut cells: Vec<&str> = bad[3001].split(',').collect();
    cells[amount] = "";
    bad[3001] = cells.join(",");
    write(&bad);
    let err = fails(&dir, &ROMASHKA_ON_DATA, 1);
    assert!(
        err.contains("sales.parquet:3001: column 'amount': in row group 1: found '', expected a decimal number like 1234.56"),
        "{err}"
    );
}

/// Rows whose typed values are all there are read without the record reader, and must read
/// as it does: ids and names padded with spaces are trimmed, and a field past the size limit
/// is refused in a typed file as in a CSV file.
#[test]
fn typed_rows_are_trimmed_and_held_to_the_field_limit_as_text_is() {
    let dir = scratch("parquet-typed-known");
    copy_dir(&root().join("rules/romashka/data"), &dir.join("data"));
    let text = read(&dir.join("data/sales.csv"));
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    for i in (1..lines.len()).step_by(7) {
        let mut cells: Vec<String> = lines[i].split(',').map(String::from).collect();
        for c in [1, 2, 3, 4] {
            cells[c] = format!("\"  {}  \"", cells[c]);
        }
        lines[i] = cells.join(",");
    }
    std::fs::write(dir.join("data/sales.csv"), lines.join("\n") + "\n").unwrap();
    let pack = root().join("rules/romashka");
    let run = |out: &str| {
        let args = ["run", "--rules", pack.to_str().unwrap(), "--data", "data"];
        ok(
            &dir,
            &[&args[..], &["--no-ledger", "--quiet", "--out", out]].concat(),
        );
    };
    run("from-csv");
    to_parquet(&dir, "typed");
    run("from-parquet");
    let what = "padded ids in sales.csv and in a typed sales.parquet";
    same_payouts(&dir.join("from-csv"), &dir.join("from-parquet"), what);
    // A product name of 80 bytes on row 4001, with a limit of 70: the row group is read
    // through the record reader, which names the row.
    let mut long = lines.clone();
    let mut cells: Vec<String> = long[4001].split(',').map(String::from).collect();
    cells[3] = "P".repeat(80);
    long[4001] = cells.join(",");
    std::fs::write(dir.join("data/sales.csv"), long.join("\n") + "\n").unwrap();
    std::fs::remove_file(dir.join("data/sales.parquet")).unwrap();
    to_parquet(&dir, "typed");
    let limited = [&ROMASHKA_ON_DATA[..], &["--max-field-bytes", "70"]].concat();
    let err = fails(&dir, &limited, 1);
    assert!(
        err.contains("sales.parquet:4001: column 'product': in row group 1: the field is longer than 70 bytes, the limit (--max-field-bytes)"),
        "{err}"
    );
}

#[test]
fn a_mapping_reads_a_parquet_source_as_it_reads_the_csv() {
    use crate::exports::{export, run_mini, PLAIN};
    let dir = scratch("parquet-mapped");
    let data = export(&dir, &PLAIN, "Anna");
    let (csv, parquet) = (dir.join("Orders.csv"), dir.join("Orders.parquet"));
    duckdb(
        "to_parquet.py",
        &[&csv, &parquet, Path::new("text"), Path::new("1000")],
    );
    std::fs::remove_file(&csv).unwrap();
    edit(&data, "path = \"Orders.csv\"", "path = \"Orders.parquet\"");
    run_mini(&dir, &data);
    let run = json(&dir.join("out/run.json"));
    // The figures pays_like_the_canonical_files expects of the same export as CSV.
    assert_eq!(run["total_payout"], "231000.02");
    assert_eq!(
        csv_cell(&dir.join("out/payouts.csv"), "M4", "payout"),
        "1000.02"
    );
    assert!(
        run["inputs"].to_string().contains("source:Orders.parquet"),
        "{}",
        run["inputs"]
    );
}

/// A floating-point source column is used only with a `round` that says how many decimals
/// its values are worth; with it, the export pays what its CSV pays.
#[test]
fn a_mapping_rounds_a_floating_point_column_only_when_told_how() {
    use crate::exports::{export, run_mini, PLAIN};
    let dir = scratch("parquet-mapped-double");
    let data = export(&dir, &PLAIN, "Anna");
    let (csv, parquet) = (dir.join("Orders.csv"), dir.join("Orders.parquet"));
    let mode = Path::new("cast:DOUBLE:Sales");
    duckdb("to_parquet.py", &[&csv, &parquet, mode, Path::new("1000")]);
    std::fs::remove_file(&csv).unwrap();
    edit(&data, "path = \"Orders.csv\"", "path = \"Orders.parquet\"");
    let mini = fixture("mini");
    let args = [
        "run",
        "--rules",
        mini.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        "out",
    ];
    let err = fails(&dir, &args, 1);
    assert!(
        err.contains("[tables.sales.columns] amount: column 'Sales' of "),
        "{err}"
    );
    assert!(
        err.contains("Orders.parquet holds floating-point numbers, which are binary fractions, not exact decimals; say how many decimals its values are worth, rounded half to even: amount = { column = \"Sales\", round = 2 }"),
        "{err}"
    );
    edit(
        &data,
        "amount = \"Sales\"",
        "amount = { column = \"Sales\", round = 2 }",
    );
    let err = fails(&dir, &args, 1);
    assert!(
        err.contains("cost = { expr = \"Sales - Profit\", round = 2 }"),
        "{err}"
    );
    edit(
        &data,
        "cost = { expr = \"Sales - Profit\" }",
        "cost = { expr = \"Sales - Profit\", round = 2 }",
    );
    run_mini(&dir, &data);
    let run = json(&dir.join("out/run.json"));
    assert_eq!(run["total_payout"], "231000.02");
    assert_eq!(
        csv_cell(&dir.join("out/payouts.csv"), "M4", "payout"),
        "1000.02"
    );
}

/// An error at a row of a Parquet source of a mapping names the row and its row group.
#[test]
fn an_error_in_a_mapped_parquet_source_names_its_row_and_row_group() {
    use crate::exports::{export, PLAIN};
    let dir = scratch("parquet-mapped-row");
    let data = export(&dir, &PLAIN, "Anna");
    let csv = dir.join("Orders.csv");
    let text = read(&csv);
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let date = lines[7].split(',').nth(1).unwrap().to_string();
    lines[7] = lines[7].replacen(&date, "someday", 1);
    std::fs::write(&csv, lines.join("\r\n") + "\r\n").unwrap();
    let parquet = dir.join("Orders.parquet");
    duckdb(
        "to_parquet.py",
        &[&csv, &parquet, Path::new("text"), Path::new("1000")],
    );
    std::fs::remove_file(&csv).unwrap();
    edit(&data, "path = \"Orders.csv\"", "path = \"Orders.parquet\"");
    let mini = fixture("mini");
    let args = [
        "run",
        "--rules",
        mini.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        "out",
    ];
    let err = fails(&dir, &args, 1);
    assert!(
        err.contains("Orders.parquet:7: column 'Order Date': in row group 0: found 'someday', expected a date"),
        "{err}"
    );
}
