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
//!
//! The pack's measures ([measures]) over the same lines, whose `channel` and `discount`
//! columns are extra columns of sales.csv: `big_deals` counts lines of 5000 or more,
//! `discounted` sums the amount of lines with a discount of at least 0.1, `products` counts
//! distinct products, `web_revenue` sums the amount of `channel` web. For 2026-Q3:
//!
//! | | big_deals | discounted | products | web_revenue |
//! |---|---|---|---|---|
//! | M2, the quarter (10000.00, P2, web, 0.20) | 1 | 10000.00 | 1 | 10000.00 |
//! | M2, year to date (+ 2000.00 web 0, 6000.00 web 0.15, both P1) | 2 | 16000.00 | 2 | 18000.00 |
//! | the company, the quarter (+ M1 1000.00 store, M3 1000.00 web with no discount, P1) | 1 | 10000.00 | 2 (P1 and P2, not 3) | 11000.00 |
//! | M1, the quarter (1000.00 store, discount 0) | 0 | 0 | 1 | 0 |

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
            "pack/pack.toml:52:1: [windows.r12]: kind = \"weekly\" is not a window kind; expected year_to_date, rolling, each_month, history or range",
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
    // Too many windows: every account carries each.
    let dir = pack("windows-too-many");
    let many: String = (0..30)
        .map(|i| format!("\n[windows.w{i:02}]\nkind = \"history\"\n"))
        .collect();
    crate::util::append(&dir.join("pack/pack.toml"), &many);
    let err = fails(&dir, &["check", "--rules", "pack"], 1);
    assert!(
        err.contains("[windows] declares 35 windows; at most 32 are allowed"),
        "{err}"
    );
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

#[test]
fn measures_filter_lines_by_any_column_and_sum_count_or_count_distinct() {
    let dir = pack("measures");
    run(&dir);
    let note = |m: &str| {
        let s = json(&dir.join(format!("out/statements/{m}.json")));
        let k = s["kpis"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == "measures")
            .unwrap()
            .clone();
        k["note"].as_str().unwrap().to_string()
    };
    // In the order the rule lists them: big_deals, web_revenue, discounted, products.
    assert_eq!(
        note("M2"),
        "cur 1 10000.00 10000.00 1; ytd 2 18000.00 16000.00 2; company 1 11000.00 10000.00 2"
    );
    assert!(note("M1").starts_with("cur 0 0 0 1;"), "{}", note("M1"));
    // Statements show each measure of the three periods (0 in a window without lines).
    let m2 = json(&dir.join("out/statements/M2.json"));
    assert_eq!(
        m2["facts"]["measures"]["current"]["web_revenue"],
        "10000.00"
    );
    assert_eq!(m2["facts"]["measures"]["previous"]["big_deals"], "1");
    assert_eq!(m2["facts"]["measures"]["year_ago"]["products"], "0");
    // check and doc say what each measure counts.
    let checked = ok(&dir, &["check", "--rules", "pack"]);
    assert!(
        checked.contains("  measures: big_deals (count of lines where amount >= 5000), discounted (sum of amount where discount >= 0.1), products (distinct products), web_revenue (sum of amount where channel is web)"),
        "{checked}"
    );
    ok(&dir, &["doc", "--rules", "pack", "--out", "doc"]);
    let doc = crate::util::read(&dir.join("doc/regulation.md"));
    assert!(doc.contains("## 6. Measures"), "{doc}");
    assert!(
        doc.contains("| big_deals | count of lines where amount >= 5000 | Deals of 5000 or more |"),
        "{doc}"
    );
}

#[test]
fn a_measure_over_a_column_the_sales_lack_or_a_value_that_is_not_a_number_is_an_error() {
    let dir = pack("measures-column");
    edit(
        &dir.join("pack/pack.toml"),
        "column = \"channel\"",
        "column = \"chanel\"",
    );
    let err = fails(
        &dir,
        &[
            "run", "--rules", "pack", "--period", "2026-Q3", "--out", "out",
        ],
        1,
    );
    assert!(
        err.contains("measure 'web_revenue' reads column 'chanel', which the sales do not have (they have date, client_id, manager_id, product, category, quantity, amount, cost, channel, discount) (did you mean 'channel'?)"),
        "{err}"
    );
    assert!(!dir.join("out").exists());
    // A number the filter compares, that is not one: the file, line and column.
    let dir = pack("measures-number");
    edit(
        &dir.join("pack/data/sales.csv"),
        "2026-05-15,C2,M2,P1,Dairy,1,6000.00,0,web,0.15",
        "2026-05-15,C2,M2,P1,Dairy,1,6000.00,0,web,15%",
    );
    let err = fails(
        &dir,
        &[
            "run", "--rules", "pack", "--period", "2026-Q3", "--out", "out",
        ],
        1,
    );
    assert!(err.contains("sales.csv:7"), "{err}");
    assert!(err.contains("discount"), "{err}");
    assert!(
        err.contains("found '15%', expected a decimal number"),
        "{err}"
    );
    // An undeclared measure in a rule.
    let dir = pack("measures-unknown");
    edit(
        &dir.join("pack/rules.rhai"),
        "m.cur.measure(\"web_revenue\")",
        "m.cur.measure(\"web_revenu\")",
    );
    let err = fails(
        &dir,
        &[
            "run", "--rules", "pack", "--period", "2026-Q3", "--out", "out",
        ],
        1,
    );
    assert!(
        err.contains("no measure 'web_revenu' in the pack's [measures] (big_deals, discounted, products, web_revenue) (did you mean 'web_revenue'?)"),
        "{err}"
    );
}

#[test]
fn a_misdeclared_measure_is_a_pack_error() {
    let cases: [(&str, &str, &str); 6] = [
        (
            "count = \"lines\"\nwhere",
            "count = \"lines\"\nsum = \"amount\"\nwhere",
            "[measures.big_deals]: give exactly one of sum = \"amount\" (or cost, quantity, margin), count = \"lines\" or distinct = \"product\" (or category, client)",
        ),
        (
            "distinct = \"product\"",
            "distinct = \"region\"",
            "[measures.products]: distinct = \"region\" is not allowed; expected product, category or client",
        ),
        (
            "sum = \"amount\"\nwhere = [{ column = \"channel\"",
            "sum = \"revenue\"\nwhere = [{ column = \"channel\"",
            "[measures.web_revenue]: sum = \"revenue\" is not allowed; expected amount, cost, quantity or margin",
        ),
        (
            "{ column = \"amount\", at_least = 5000 }",
            "{ column = \"amount\", at_least = 5000, below = 9000 }",
            "[measures.big_deals]: the condition on column 'amount' has 2 tests; give one per condition (write two conditions for a range)",
        ),
        (
            "{ column = \"amount\", at_least = 5000 }",
            "{ column = \"amount\" }",
            "[measures.big_deals]: the condition on column 'amount' has no test",
        ),
        (
            "at_least = 0.1",
            "at_least = \"a tenth\"",
            "[measures.discounted]: where discount at_least: 'a tenth' is not a decimal number",
        ),
    ];
    for (i, (from, to, expected)) in cases.into_iter().enumerate() {
        let dir = pack(&format!("measures-bad-{i}"));
        edit(&dir.join("pack/pack.toml"), from, to);
        let err = fails(&dir, &["check", "--rules", "pack"], 1);
        assert!(
            err.contains(expected),
            "case {i}: expected {expected:?} in:\n{err}"
        );
        assert!(err.contains("pack/pack.toml:"), "case {i}: {err}");
    }
    // Distinct counts are held inline per window segment: at most 2.
    let dir = pack("measures-too-many");
    crate::util::append(
        &dir.join("pack/pack.toml"),
        "\n[measures.r_categories]\ndistinct = \"category\"\n[measures.s_clients]\ndistinct = \"client\"\n",
    );
    let err = fails(&dir, &["check", "--rules", "pack"], 1);
    assert!(
        err.contains(
            "[measures.s_clients]: a pack may declare at most 2 distinct counts; this is one more"
        ),
        "{err}"
    );
    // Text compared with a number column: said when the run meets the sales.
    let dir = pack("measures-text-amount");
    edit(
        &dir.join("pack/pack.toml"),
        "{ column = \"amount\", at_least = 5000 }",
        "{ column = \"amount\", is = \"5000\" }",
    );
    let err = fails(
        &dir,
        &[
            "run", "--rules", "pack", "--period", "2026-Q3", "--out", "out",
        ],
        1,
    );
    assert!(
        err.contains("measure 'big_deals': column 'amount' is a number; compare it with at_least, above, at_most or below"),
        "{err}"
    );
}
