//! Every error path: the message names the file, line and column (or the script, function
//! and subject), the exit code is 1 (2 for usage errors), and nothing is written.

use crate::util::*;
use std::path::{Path, PathBuf};

/// Copies the mini fixture into a scratch directory, applies `change` and runs it; the run
/// must fail with exit `code`, leave no output (nor a staging directory) and say `expected`.
fn failing_run(name: &str, change: impl FnOnce(&Path), expected: &[&str]) {
    let dir = scratch(name);
    let pack = dir.join("pack");
    copy_dir(&fixture("mini"), &pack);
    change(&pack);
    let err = fails(&dir, &["run", "--rules", "pack", "--out", "out"], 1);
    for e in expected {
        assert!(err.contains(e), "expected {e:?} in:\n{err}");
    }
    let leftovers: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        leftovers,
        vec![pack],
        "a failed run must leave nothing behind"
    );
}

fn data(p: &Path, file: &str) -> PathBuf {
    p.join("data").join(file)
}

#[test]
fn ragged_row() {
    failing_run(
        "ragged",
        |p| {
            edit(
                &data(p, "sales.csv"),
                "2026-03-03,C2,M2,P1,Dairy,10,1200.00,400.00",
                "2026-03-03,C2,M2,P1,Dairy,10,1200.00",
            )
        },
        &["sales.csv:4: the row has 7 field(s) but the header has 8"],
    );
}

#[test]
fn bad_number() {
    failing_run(
        "bad-number",
        |p| edit(&data(p, "sales.csv"), "1200.00,400.00", "1 200.00,400.00"),
        &["sales.csv:4: column 'amount': found '1 200.00', expected a decimal number like 1234.56"],
    );
}

#[test]
fn sum_beyond_28_digits() {
    // Each amount is the largest a decimal holds; their sum is not one. An error, not a
    // panic and not a rounded figure.
    failing_run(
        "huge-sum",
        |p| {
            edit(
                &data(p, "sales.csv"),
                "2026-03-20,C1,M1,P2,Bakery,5,400.00,150.00",
                "2026-03-20,C1,M1,P2,Bakery,5,400.00,150.00\n2026-03-21,C1,M1,P2,Bakery,1,79228162514264337593543950335,0\n2026-03-22,C1,M1,P2,Bakery,1,79228162514264337593543950335,0",
            )
        },
        &["sales.csv: the sum of the amount column for client C1 with manager M1 in 2026-03 has more than 28 digits"],
    );
}

#[test]
fn client_total_beyond_28_digits() {
    // Each account's sum fits a decimal; the client's, over two managers, does not.
    failing_run(
        "huge-client-sum",
        |p| {
            edit(
                &data(p, "sales.csv"),
                "2026-03-20,C1,M1,P2,Bakery,5,400.00,150.00",
                "2026-03-20,C1,M1,P2,Bakery,5,400.00,150.00\n2026-03-21,C1,M1,P2,Bakery,1,50000000000000000000000000000,0\n2026-03-22,C1,M2,P2,Bakery,1,50000000000000000000000000000,0",
            )
        },
        &["sales.csv: the sum of the amount column for client C1 in 2026-03 has more than 28 digits"],
    );
}

#[test]
fn bad_date() {
    failing_run(
        "bad-date",
        |p| edit(&data(p, "sales.csv"), "2026-03-05,C3", "05/03/2026,C3"),
        &["sales.csv:6: column 'date': found '05/03/2026', expected a date as YYYY-MM-DD"],
    );
}

#[test]
fn unknown_client_in_sales() {
    failing_run(
        "unknown-client",
        |p| edit(&data(p, "sales.csv"), "2026-03-05,C3,", "2026-03-05,C33,"),
        &["sales.csv:6: column 'client_id': unknown client_id 'C33'; it is not in clients.csv"],
    );
}

#[test]
fn unknown_manager_in_sales() {
    failing_run(
        "unknown-manager",
        |p| {
            edit(
                &data(p, "sales.csv"),
                "2026-03-05,C3,M3",
                "2026-03-05,C3,M7",
            )
        },
        &["sales.csv:6: column 'manager_id': unknown manager_id 'M7'"],
    );
}

#[test]
fn duplicate_client() {
    failing_run(
        "duplicate-client",
        |p| {
            edit(
                &data(p, "clients.csv"),
                "C3,Client Three",
                "C2,Client Three",
            )
        },
        &["clients.csv:4: column 'client_id': duplicate client_id 'C2'"],
    );
}

#[test]
fn duplicate_manager() {
    failing_run(
        "duplicate-manager",
        |p| edit(&data(p, "managers.csv"), "M3,Capped", "M2,Capped"),
        &["managers.csv:4: column 'manager_id': duplicate manager_id 'M2'"],
    );
}

#[test]
fn plan_for_unknown_manager() {
    failing_run(
        "plan-unknown-manager",
        |p| {
            edit(
                &data(p, "plans.csv"),
                "M3,2026-03,revenue",
                "M9,2026-03,revenue",
            )
        },
        &["plans.csv:6: column 'manager_id': plan for unknown manager_id 'M9'"],
    );
}

#[test]
fn plan_for_unknown_kpi() {
    failing_run(
        "plan-unknown-kpi",
        |p| edit(&data(p, "plans.csv"), "M3,2026-03,revenue", "M3,2026-03,revnue"),
        &["plans.csv:6: column 'kpi': unknown KPI 'revnue'; the pack 'mini' declares: revenue, margin"],
    );
}

#[test]
fn plan_with_bad_period() {
    failing_run(
        "plan-bad-period",
        |p| {
            edit(
                &data(p, "plans.csv"),
                "M3,2026-03,revenue",
                "M3,2026-13,revenue",
            )
        },
        &["plans.csv:6: column 'period': '2026-13' is not a period"],
    );
}

#[test]
fn duplicate_plan() {
    failing_run(
        "plan-duplicate",
        |p| edit(&data(p, "plans.csv"), "M3,2026-03,margin", "M3,2026-03,revenue"),
        &["plans.csv:7: column 'kpi': a second target for manager 'M3', period 2026-03, kpi 'revenue' (the first is on line 6)"],
    );
}

#[test]
fn market_share_out_of_range() {
    failing_run(
        "market-share",
        |p| {
            edit(
                &data(p, "clients.csv"),
                "Kazan,2020-01-01,0.1,false\nC4",
                "Kazan,2020-01-01,25,false\nC4",
            )
        },
        &["clients.csv:4: column 'market_share': found 25, expected a share between 0 and 1"],
    );
}

#[test]
fn missing_file() {
    failing_run(
        "missing-file",
        |p| std::fs::remove_file(data(p, "plans.csv")).unwrap(),
        &["plans.csv: the file does not exist"],
    );
}

#[test]
fn missing_column() {
    failing_run(
        "missing-column",
        |p| edit(&data(p, "managers.csv"), "manager_id,name,target_bonus", "manager_id,full_name,target_bonus"),
        &["managers.csv:1: required column 'name' is missing; the header has: manager_id, full_name, target_bonus"],
    );
}

#[test]
fn contract_ending_before_it_starts() {
    failing_run(
        "contract",
        |p| {
            std::fs::write(
                data(p, "contracts.csv"),
                "contract_id,client_id,manager_id,start,end,renewed_on\nK1,C1,M1,2026-01-01,2025-12-31,\n",
            )
            .unwrap()
        },
        &["contracts.csv:2: column 'end': the contract ends (2025-12-31) before it starts (2026-01-01)"],
    );
}

#[test]
fn unknown_parameter_names_script_function_and_manager() {
    failing_run(
        "unknown-param",
        |p| edit(&p.join("rules.rhai"), "param(\"gate\")", "param(\"gaet\")"),
        &[
            "rules.rhai:12:36:",
            "in function 'bonus' (stage bonus, pack 'mini') for manager M1",
            "unknown parameter 'gaet' (did you mean 'gate'?); pack.toml [params] has: accelerator, cap, gate",
        ],
    );
}

#[test]
fn division_by_zero_names_the_line() {
    failing_run(
        "div-zero",
        |p| {
            edit(
                &p.join("rules.rhai"),
                "fn revenue(m) { #{ value: m.cur.revenue,",
                "fn revenue(m) { #{ value: m.cur.revenue / 0,",
            )
        },
        &[
            "rules.rhai:6:",
            "in function 'revenue' (stage kpis, pack 'mini') for manager M1",
            "Division by zero",
        ],
    );
}

#[test]
fn wrong_result_shape() {
    failing_run(
        "shape",
        |p| {
            edit(
                &p.join("rules.rhai"),
                "#{ key: client.strategic,",
                "#{ key: \"yes\", kee: 1,",
            )
        },
        &[
            "in function 'classify' (stage key_clients, pack 'mini') for client C1",
            "unexpected field 'kee'",
        ],
    );
    failing_run(
        "shape-type",
        |p| {
            edit(
                &p.join("rules.rhai"),
                "#{ key: client.strategic,",
                "#{ key: \"yes\",",
            )
        },
        &["for client C1", "'key' is a string; expected true or false"],
    );
    failing_run(
        "shape-lines",
        |p| edit(&p.join("rules.rhai"), "    lines\n}", "    42\n}"),
        &[
            "for manager M2",
            "returned an integer; expected an array of payout lines",
        ],
    );
}

#[test]
fn unknown_property_is_an_error() {
    failing_run(
        "property",
        |p| edit(&p.join("rules.rhai"), "m.cur.margin", "m.cur.margn"),
        &[
            "rules.rhai:8:",
            "in function 'margin'",
            "for manager M1",
            "margn",
        ],
    );
}

fn failing_check(name: &str, change: impl FnOnce(&Path), expected: &[&str]) {
    let dir = scratch(name);
    let pack = dir.join("pack");
    copy_dir(&fixture("mini"), &pack);
    change(&pack);
    // No data is needed: the pack is checked before any data is read.
    std::fs::remove_dir_all(pack.join("data")).unwrap();
    let err = fails(&dir, &["check", "--rules", "pack"], 1);
    for e in expected {
        assert!(err.contains(e), "expected {e:?} in:\n{err}");
    }
    let err = fails(
        &dir,
        &["run", "--rules", "pack", "--data", ".", "--out", "out"],
        1,
    );
    assert!(
        err.contains(expected[0]),
        "run reports the pack error first:\n{err}"
    );
}

#[test]
fn syntax_error_has_file_line_column() {
    failing_check(
        "syntax",
        |p| {
            edit(
                &p.join("rules.rhai"),
                "fn margin(m) { #{",
                "fn margin(m) { #{ ,",
            )
        },
        &["rules.rhai:8:19: syntax error: Expecting '}' to end this object map literal"],
    );
}

#[test]
fn undeclared_variable_is_refused_when_compiling() {
    failing_check(
        "strict",
        |p| edit(&p.join("rules.rhai"), "let total = 0;", "let total = totl;"),
        &["rules.rhai:16:", "totl"],
    );
}

#[test]
fn eval_is_not_available() {
    failing_check(
        "eval",
        |p| {
            edit(
                &p.join("rules.rhai"),
                "let total = 0;",
                "let total = eval(\"0\");",
            )
        },
        &["rules.rhai:16:", "eval"],
    );
}

#[test]
fn top_level_statements_are_refused() {
    failing_check(
        "top-level",
        |p| {
            edit(
                &p.join("rules.rhai"),
                "fn revenue(m)",
                "let rate = 5;\nfn revenue(m)",
            )
        },
        &["rules.rhai:6:1: a statement outside any function"],
    );
}

#[test]
fn missing_kpi_function() {
    failing_check(
        "missing-fn",
        |p| edit(&p.join("rules.rhai"), "fn margin(m)", "fn margins(m)"),
        &["rules.rhai: has no function 'margin' with 1 parameter(s), needed for KPI 'margin'"],
    );
}

#[test]
fn manifest_errors_have_line_and_column() {
    failing_check(
        "manifest-field",
        |p| {
            edit(
                &p.join("pack.toml"),
                "period = \"month\"",
                "period = \"month\"\nperiode = 1",
            )
        },
        &["pack.toml:9:1: unknown field `periode`"],
    );
    failing_check(
        "manifest-rounding",
        |p| edit(&p.join("pack.toml"), "rounding = \"half-up\"", "rounding = \"bankers\""),
        &["pack.toml:7:12: unknown variant `bankers`, expected one of `half-up`, `half-even`, `half-down`, `down`, `up`"],
    );
}

#[test]
fn usage_errors_exit_with_2() {
    let dir = scratch("usage");
    let pack = fixture("mini");
    let p = pack.to_str().unwrap();
    let err = fails(
        &dir,
        &["run", "--rules", p, "--period", "2026-Q5", "--out", "o"],
        2,
    );
    assert!(err.contains("'2026-Q5' is not a period"), "{err}");
    let err = fails(
        &dir,
        &["run", "--rules", p, "--period", "2026-Q1", "--out", "o"],
        2,
    );
    assert!(
        err.contains("the pack 'mini' pays per month, but --period 2026-Q1 is a quarter"),
        "{err}"
    );
    let err = fails(&dir, &["run", "--bogus"], 2);
    assert!(err.contains("--bogus"), "{err}");
    let err = fails(&dir, &["explain", "--rules", p, "--manager", "M99"], 2);
    assert!(err.contains("no manager 'M99'"), "{err}");
    assert!(!dir.join("o").exists());
}

#[test]
fn quoted_fields_and_stray_quotes_keep_line_numbers_exact() {
    // A product with a comma and a line break (quoted), and one with an inch mark (a quote
    // inside an unquoted field, which the CSV parser reads as a character): the error two
    // records later is on physical line 5.
    failing_run(
        "quoted",
        |p| {
            edit(
                &data(p, "sales.csv"),
                "2026-03-02,C1,M1,P1,Dairy",
                "2026-03-02,C1,M1,\"Milk, 3.2%\nfresh\",Dairy",
            );
            edit(
                &data(p, "sales.csv"),
                "2026-03-20,C1,M1,P2,",
                "2026-03-20,C1,M1,12\" pipe,",
            );
            edit(
                &data(p, "sales.csv"),
                "2026-03-03,C2,M2,P1,Dairy,10,1200.00",
                "2026-03-03,C2,M2,P1,Dairy,10,12O0.00",
            );
        },
        &["sales.csv:5: column 'amount': found '12O0.00'"],
    );
}
