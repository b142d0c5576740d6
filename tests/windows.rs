//! The pack's declared windows (`[windows]`) through the real binary. `tests/data/windows`
//! pays one KPI per window, each a manager's revenue in it. The sales (M1: 700.00 on
//! 2025-06-10, 500.00 on 2025-11-10, then 1000.00, 2000.00, 4000.00, 1000.00 and 5000.00 on
//! the 15th of January, February, April, July and October 2026; M2: 2000.00, 6000.00,
//! 10000.00 and 2000.00 in February, May, August and November; M3: 1000.00, 2000.00 and
//! 1000.00 in March, June and September) give, for 2026-Q3, by hand:
//!
//! | window | days | M1 | M2 | M3 |
//! |---|---|---|---|---|
//! | ytd (year_to_date) | 2026-01-01..2026-09-30 | 8000 | 18000 | 4000 |
//! | r12 (rolling 12) | 2025-10-01..2026-09-30 | 8500 | 18000 | 4000 |
//! | monthly (each_month) | July, August, September | 1 month with a sale | 1 | 1 |
//! | all (history) | ..2026-09-30 | 9200 | 18000 | 4000 |
//! | h2 (range 2026-07-01..2026-12-31, cut at the quarter's end) | 2026-07-01..2026-09-30 | 1000 | 10000 | 1000 |

use crate::util::{copy_dir, csv_cell, edit, fails, fixture, json, ok, scratch};
use std::path::{Path, PathBuf};

fn pack(name: &str) -> PathBuf {
    let dir = scratch(name);
    copy_dir(&fixture("windows"), &dir.join("pack"));
    dir
}

fn kpi(dir: &Path, manager: &str, id: &str) -> String {
    let text = crate::util::read(&dir.join("out/kpis.csv"));
    let row = text
        .lines()
        .find(|l| l.starts_with(&format!("{manager},{id},")))
        .unwrap_or_else(|| panic!("no {manager} {id} in\n{text}"));
    row.split(',').nth(2).unwrap().to_string()
}

fn run(dir: &Path) -> String {
    ok(
        dir,
        &[
            "run", "--rules", "pack", "--period", "2026-Q3", "--out", "out", "--quiet",
        ],
    )
}

#[test]
fn declared_windows_sum_the_days_they_name_in_the_same_pass() {
    let dir = pack("windows-sums");
    run(&dir);
    let expected = [
        ("M1", ["8000", "8500", "1", "9200", "1000"]),
        ("M2", ["18000", "18000", "1", "18000", "10000"]),
        ("M3", ["4000", "4000", "1", "4000", "1000"]),
    ];
    for (m, values) in expected {
        for (id, v) in ["ytd", "r12", "months", "all", "h2"]
            .into_iter()
            .zip(values)
        {
            assert_eq!(kpi(&dir, m, id), v, "{m} {id}");
        }
    }
    // Clients see them too (key: more than 7000 this year), with the window's days.
    let key = dir.join("out/key_clients.csv");
    assert_eq!(csv_cell(&key, "C1", "key"), "true");
    assert_eq!(csv_cell(&key, "C3", "key"), "false");
    assert_eq!(
        csv_cell(&key, "C1", "reasons"),
        "ytd 8000.00 (2026-01-01..2026-09-30)"
    );
    // Window.period, start and end, each month's window, and accounts' windows.
    let m1 = json(&dir.join("out/statements/M1.json"));
    let note = |id: &str| {
        m1["kpis"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == id)
            .unwrap()["note"]
            .clone()
    };
    assert_eq!(
        note("ytd"),
        "2026-01-01..2026-09-30 2026-01-01 2026-09-30 lines 4"
    );
    assert_eq!(note("r12"), "2025-10-01..2026-09-30");
    assert_eq!(note("months"), "2026-07:1000.00 2026-08:0 2026-09:0 ");
    assert_eq!(note("all"), "accounts 9200.00; ..2026-09-30");
    assert_eq!(note("h2"), "2026-07-01..2026-09-30");
    // The statement shows every declared window with its days.
    let windows = &m1["facts"]["windows"];
    assert_eq!(windows["ytd"]["revenue"], "8000.00");
    assert_eq!(windows["ytd"]["period"], "2026-01-01..2026-09-30");
    assert_eq!(windows["monthly"][1]["period"], "2026-08");
    assert_eq!(windows["monthly"].as_array().unwrap().len(), 3);
}

#[test]
fn check_and_doc_list_the_declared_windows() {
    let dir = pack("windows-doc");
    let checked = ok(&dir, &["check", "--rules", "pack"]);
    assert!(
        checked.contains("  windows: all (all history), h2 (2026-07-01 to 2026-12-31), monthly (each month of the period), r12 (rolling 12 months), ytd (year to date)"),
        "{checked}"
    );
    ok(&dir, &["doc", "--rules", "pack", "--out", "doc"]);
    let doc = crate::util::read(&dir.join("doc/regulation.md"));
    assert!(doc.contains("## 5. Sales windows"), "{doc}");
    assert!(
        doc.contains("| ytd | year to date | From January 1st to the end of the quarter |"),
        "{doc}"
    );
}

#[test]
fn a_year_to_date_window_starts_each_year_afresh() {
    let dir = pack("windows-q1");
    ok(
        &dir,
        &[
            "run", "--rules", "pack", "--period", "2026-Q1", "--out", "out", "--quiet",
        ],
    );
    // Q1 2026: ytd is the quarter (M1 3000); rolling 12 reaches back to 2025-04-01 (+1200).
    assert_eq!(kpi(&dir, "M1", "ytd"), "3000");
    assert_eq!(kpi(&dir, "M1", "r12"), "4200");
    assert_eq!(kpi(&dir, "M1", "months"), "2");
    // The range starts after the quarter: empty, and later sales are never counted.
    assert_eq!(kpi(&dir, "M1", "h2"), "0");
}

#[test]
fn a_rule_asking_for_an_undeclared_window_is_told_which_exist() {
    let dir = pack("windows-unknown");
    edit(
        &dir.join("pack/rules.rhai"),
        "m.window(\"r12\")",
        "m.window(\"r13\")",
    );
    let err = fails(
        &dir,
        &[
            "run", "--rules", "pack", "--period", "2026-Q3", "--out", "out",
        ],
        1,
    );
    assert!(
        err.contains("no window 'r13' in the pack's [windows] (all, h2, monthly, r12, ytd) (did you mean 'r12'?)"),
        "{err}"
    );
    assert!(err.contains("manager M1"), "{err}");
    assert!(!dir.join("out").exists());
    // A list read as one window, and one window read as a list.
    edit(
        &dir.join("pack/rules.rhai"),
        "m.window(\"r13\")",
        "m.window(\"monthly\")",
    );
    let err = fails(
        &dir,
        &[
            "run", "--rules", "pack", "--period", "2026-Q3", "--out", "out",
        ],
        1,
    );
    assert!(
        err.contains("window 'monthly' is one window per month of the period: read it with windows(\"monthly\"), a list"),
        "{err}"
    );
    edit(
        &dir.join("pack/rules.rhai"),
        "m.window(\"monthly\")",
        "m.windows(\"r12\")",
    );
    let err = fails(
        &dir,
        &[
            "run", "--rules", "pack", "--period", "2026-Q3", "--out", "out",
        ],
        1,
    );
    assert!(
        err.contains("window 'r12' is a single window: read it with window(\"r12\")"),
        "{err}"
    );
}

#[test]
fn a_misdeclared_window_is_a_pack_error_at_its_line() {
    let cases: [(&str, &str, &str); 7] = [
        (
            "kind = \"rolling\"\nmonths = 12",
            "kind = \"weekly\"",
            "pack/pack.toml:47:1: [windows.r12]: kind = \"weekly\" is not a window kind; expected year_to_date, rolling, each_month, history or range",
        ),
        (
            "months = 12",
            "months = 0",
            "[windows.r12]: months = 0: expected a whole number of months from 1 to 1200, e.g. months = 12",
        ),
        (
            "months = 12",
            "",
            "[windows.r12]: kind = \"rolling\" needs months, e.g. months = 12",
        ),
        (
            "to = \"2026-12-31\"",
            "to = \"2026-06-30\"",
            "[windows.h2]: to = 2026-06-30 is before from = 2026-07-01",
        ),
        (
            "from = \"2026-07-01\"",
            "from = \"2026-07-32\"",
            "[windows.h2]: from = \"2026-07-32\": expected a date YYYY-MM-DD, e.g. \"2026-01-01\"",
        ),
        (
            "kind = \"history\"",
            "kind = \"history\"\nmonths = 3",
            "[windows.all]: kind = \"history\" takes no months",
        ),
        (
            "[windows.all]",
            "[windows.all-time]",
            "[windows.all-time]: a window name is letters, digits and _, starting with a letter",
        ),
    ];
    for (i, (from, to, expected)) in cases.into_iter().enumerate() {
        let dir = pack(&format!("windows-bad-{i}"));
        edit(&dir.join("pack/pack.toml"), from, to);
        let err = fails(&dir, &["check", "--rules", "pack"], 1);
        assert!(
            err.contains(expected),
            "case {i}: expected {expected:?} in:\n{err}"
        );
    }
    // A field no window has: serde's message, placed at its line.
    let dir = pack("windows-bad-field");
    edit(
        &dir.join("pack/pack.toml"),
        "kind = \"history\"",
        "kind = \"history\"\nmonth = 3",
    );
    let err = fails(&dir, &["check", "--rules", "pack"], 1);
    assert!(err.contains("unknown field `month`"), "{err}");
}
