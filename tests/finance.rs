//! Finance's own tools: golden cases (`test`), decision tables and their analysis (`check`),
//! what-if (`diff`, `--set`), the regulation document (`doc`), `explain`, and diagnostics.

use crate::util::*;
use std::path::PathBuf;

fn pack_copy(name: &str, pack: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let copy = dir.join("pack");
    copy_dir(&root().join("rules").join(pack), &copy);
    (dir, copy)
}

#[test]
fn example_packs_pass_their_golden_cases() {
    let dir = scratch("golden");
    for pack in ["romashka", "techsoft"] {
        let out = ok(
            &dir,
            &[
                "test",
                "--rules",
                root().join("rules").join(pack).to_str().unwrap(),
            ],
        );
        assert!(out.contains(" passed, 0 failed"), "{out}");
        assert!(out.contains("PASS"), "{out}");
    }
}

#[test]
fn a_changed_expectation_fails_the_test_with_a_readable_diff() {
    let (dir, pack) = pack_copy("golden-fail", "romashka");
    let expected = pack.join("tests/bundled-2026-Q2/expected/payouts.csv");
    edit(
        &expected,
        "M02,Ксения Иванова,2026-Q2,RUB,180000.00,136620.22",
        "M02,Ксения Иванова,2026-Q2,RUB,180000.00,136620.23",
    );
    let out = bonusrun(&dir, &["test", "--rules", "pack"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAIL bundled-2026-Q2"), "{stdout}");
    assert!(
        stdout.contains(
            "payouts.csv: row M02, column payout: expected \"136620.23\", got \"136620.22\""
        ),
        "{stdout}"
    );
    assert!(stdout.contains("PASS key-criteria"), "{stdout}");
    assert!(stdout.ends_with("1 passed, 1 failed\n"), "{stdout}");
}

#[test]
fn check_reports_overlaps_gaps_duplicates_and_unsorted_tiers() {
    let (dir, pack) = pack_copy("dmn", "romashka");
    let table = pack.join("tables/payout_curve.csv");
    edit(&table, "1.0,1.2,1.0,2,", "0.9,1.2,1.0,2,");
    let out = bonusrun(&dir, &["check", "--rules", "pack"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an overlap in a unique table is an error"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("pack/tables/payout_curve.csv:4: error: decision table payout_curve: the attainment range [0.9, 1.2) overlaps line 3 [0.7, 1.0)"),
        "{stdout}"
    );
    // The same overlap at run time names both lines.
    let err = fails(&dir, &["run", "--rules", "pack", "--out", "out"], 1);
    assert!(
        err.contains("table 'payout_curve' is unique, but lines 3, 4 all match attainment ="),
        "{err}"
    );

    edit(&table, "0.9,1.2,1.0,2,", "1.1,1.2,1.0,2,");
    let stdout = ok(&dir, &["check", "--rules", "pack"]);
    assert!(
        stdout.contains("payout_curve.csv:4: warning: decision table payout_curve: gap: no row covers attainment from 1.0 to 1.1 (between lines 3 and 4)"),
        "{stdout}"
    );

    std::fs::write(
        &table,
        "from,to,base,slope,label\n,0.7,0,0,a\n1.0,1.2,1.0,2,c\n0.7,1.0,0.4,2,b\n1.2,,1.4,0,d\n1.2,,1.4,0,e\n",
    )
    .unwrap();
    let out = bonusrun(&dir, &["check", "--rules", "pack"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("payout_curve.csv:2: warning: decision table payout_curve: the tiers are not sorted by attainment"), "{stdout}");
    assert!(stdout.contains("payout_curve.csv:6: error: decision table payout_curve: duplicates the inputs of line 5"), "{stdout}");
}

#[test]
fn typed_table_columns_are_checked() {
    let (dir, pack) = pack_copy("dmn-types", "romashka");
    edit(
        &pack.join("tables/payout_curve.csv"),
        "0.7,1.0,0.4,2,",
        "0.7,1.0,0.4,two,",
    );
    let err = fails(&dir, &["check", "--rules", "pack"], 1);
    assert!(
        err.contains("payout_curve.csv:3:4: column 'slope': found 'two', expected a number"),
        "{err}"
    );
}

#[test]
fn diff_totals_reconcile_with_two_separate_runs() {
    let dir = scratch("diff");
    let rules = root().join("rules/romashka");
    let r = rules.to_str().unwrap();
    let table = ok(
        &dir,
        &[
            "diff",
            "--rules",
            r,
            "--set",
            "gate_attainment=0.7",
            "--set",
            "cap=1.2",
            "--csv",
            "diff.csv",
        ],
    );
    assert!(table.contains("Budget impact: the change"), "{table}");
    ok(&dir, &["run", "--rules", r, "--out", "before", "-q"]);
    ok(
        &dir,
        &[
            "run",
            "--rules",
            r,
            "--set",
            "gate_attainment=0.7",
            "--set",
            "cap=1.2",
            "--out",
            "after",
            "-q",
        ],
    );
    let total = |d: &str| {
        json(&dir.join(d).join("run.json"))["total_payout"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let mut rdr = csv::Reader::from_path(dir.join("diff.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    let last = rows.last().unwrap();
    assert_eq!(&last[0], "TOTAL");
    assert_eq!(last[3], total("before"));
    assert_eq!(last[4], total("after"));
    let delta: rust_decimal::Decimal = last[5].parse().unwrap();
    let b: rust_decimal::Decimal = total("before").parse().unwrap();
    let a: rust_decimal::Decimal = total("after").parse().unwrap();
    assert_eq!(delta, a - b);
    for row in &rows[..rows.len() - 1] {
        assert_eq!(
            row[3],
            csv_cell(&dir.join("before/payouts.csv"), &row[0], "payout")
        );
        assert_eq!(
            row[4],
            csv_cell(&dir.join("after/payouts.csv"), &row[0], "payout")
        );
    }
    // M01's margin attainment is 79.7%: the lower gate pays it.
    assert_eq!(
        csv_cell(&dir.join("before/payouts.csv"), "M01", "payout"),
        "0.00"
    );
    assert_ne!(
        csv_cell(&dir.join("after/payouts.csv"), "M01", "payout"),
        "0.00"
    );
}

#[test]
fn set_refuses_unknown_parameters_and_wrong_types() {
    let dir = scratch("set");
    let err = fails(
        &dir,
        &["run", "--set", "gate_atainment=0.7", "--out", "o"],
        2,
    );
    assert!(
        err.contains(
            "the pack has no parameter 'gate_atainment' (did you mean 'gate_attainment'?)"
        ),
        "{err}"
    );
    let err = fails(&dir, &["run", "--set", "cap=lots", "--out", "o"], 2);
    assert!(
        err.contains("'cap' is a number, and 'lots' is not"),
        "{err}"
    );
}

#[test]
fn doc_renders_both_example_packs() {
    let dir = scratch("doc");
    for (pack, title, label) in [
        (
            "romashka",
            "Положение о премировании менеджеров по работе с ключевыми клиентами",
            "Выручка ключевых клиентов к плану",
        ),
        (
            "techsoft",
            "TechSoft Inc. account executive compensation plan",
            "New ARR against plan",
        ),
    ] {
        let out = dir.join(pack);
        ok(
            &dir,
            &[
                "doc",
                "--rules",
                root().join("rules").join(pack).to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
        );
        let md = read(&out.join("regulation.md"));
        let html = read(&out.join("regulation.html"));
        assert!(md.starts_with(&format!("# {title}")), "{md}");
        assert!(md.contains(label), "{md}");
        assert!(
            md.contains("## 1. Key clients") && md.contains("## 3. Payout"),
            "{md}"
        );
        assert!(
            md.contains("pack.toml: "),
            "the document lists the pack files' hashes"
        );
        assert!(
            html.contains("<meta charset=\"utf-8\">") && html.contains(title),
            "{html}"
        );
    }
    let md = read(&dir.join("romashka/regulation.md"));
    assert!(
        md.contains("| key_revenue | Выручка ключевых клиентов к плану | 30% |"),
        "{md}"
    );
    assert!(
        md.contains("a key client has a high share of our revenue and profit"),
        "{md}"
    );
    assert!(
        md.contains(
            "| gate_attainment | 0.8 | ...at this attainment; below it the bonus is zero |"
        ),
        "{md}"
    );
    assert!(
        md.contains("| 1.0 | 1.2 | 1.0 | 2 | accelerator: twice the slope above plan |"),
        "{md}"
    );
}

#[test]
fn explain_shows_rows_counted_table_rows_and_clients() {
    let dir = scratch("explain-full");
    let text = ok(&dir, &["explain", "--manager", "M02"]);
    assert!(
        text.contains("Input rows counted: 9000 sales line(s)"),
        "{text}"
    );
    assert!(text.contains("Decision-table rows matched:"), "{text}");
    assert!(
        text.contains("table payout_curve: attainment = 1.0 matched line 4"),
        "{text}"
    );
    let text = ok(&dir, &["explain", "--client", "C0003"]);
    assert!(text.contains("Decision: KEY client, tier A"), "{text}");
    assert!(
        text.contains("share of company revenue 13% (threshold 5%)"),
        "{text}"
    );
    let err = fails(&dir, &["explain", "--client", "C003"], 2);
    assert!(
        err.contains("no client 'C003' in clients.csv (did you mean"),
        "{err}"
    );
}

#[test]
fn diagnostics_show_the_source_line_with_a_caret_and_a_hint() {
    let dir = scratch("diagnostics");
    let pack = dir.join("pack");
    copy_dir(&fixture("mini"), &pack);
    edit(
        &pack.join("rules.rhai"),
        "let total = 0;",
        "let total = totl;",
    );
    let err = fails(&dir, &["check", "--rules", "pack"], 1);
    assert!(err.contains("rules.rhai:16:"), "{err}");
    assert!(
        err.contains("let total = totl;"),
        "the source line is shown:\n{err}"
    );
    assert!(
        err.contains("`-- here"),
        "a marker points at the place:\n{err}"
    );
    assert!(err.contains("did you mean 'total'?"), "{err}");

    let pack2 = dir.join("pack2");
    copy_dir(&fixture("mini"), &pack2);
    edit(&pack2.join("rules.rhai"), "m.cur.margin", "m.cur.margn");
    let err = fails(&dir, &["run", "--rules", "pack2", "--out", "o"], 1);
    assert!(err.contains("did you mean 'margin'?"), "{err}");
    assert!(
        err.contains("fn margin(m) { #{ value: m.cur.margn"),
        "{err}"
    );
}

#[test]
fn set_overrides_are_recorded_in_run_json() {
    let dir = scratch("set-recorded");
    ok(&dir, &["run", "--set", "cap=1.2", "--out", "o", "-q"]);
    let run = json(&dir.join("o/run.json"));
    assert_eq!(
        run["pack"]["parameter_overrides"],
        serde_json::json!(["cap=1.2"])
    );
}

#[test]
fn test_without_cases_and_with_zero_threads_are_usage_errors() {
    let dir = scratch("golden-none");
    let mini = fixture("mini");
    let err = fails(&dir, &["test", "--rules", mini.to_str().unwrap()], 2);
    assert!(
        err.contains("a pack's golden cases live in tests/<case>/ with data/ and expected/"),
        "{err}"
    );
    let rules = root().join("rules/romashka");
    let err = fails(
        &dir,
        &["test", "--rules", rules.to_str().unwrap(), "--threads", "0"],
        2,
    );
    assert!(err.contains("--threads must be at least 1"), "{err}");
}

#[test]
fn diff_refuses_packs_in_different_currencies() {
    let (dir, pack) = pack_copy("diff-currency", "romashka");
    edit(
        &pack.join("pack.toml"),
        "currency = \"RUB\"",
        "currency = \"USD\"",
    );
    let rules = root().join("rules/romashka");
    let err = fails(
        &dir,
        &[
            "diff",
            "--rules",
            "pack",
            "--against",
            rules.to_str().unwrap(),
        ],
        2,
    );
    assert!(
        err.contains("the packs pay in different currencies (RUB and USD)"),
        "{err}"
    );
}

#[test]
fn decision_table_declarations_and_lookups_are_checked() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "dt-policy",
            "hit_policy = \"unique\"\n",
            "",
            "table 'payout_curve' declares inputs but no hit_policy",
        ),
        (
            "dt-inputs",
            "inputs = [{ name = \"attainment\", from = \"from\", to = \"to\" }]",
            "inputs = []",
            "decision table 'payout_curve' declares no inputs",
        ),
        (
            "dt-column",
            "from = \"from\", to = \"to\" }",
            "from = \"low\", to = \"to\" }",
            "input column 'low' is not in the header",
        ),
        (
            "dt-type",
            "columns = { from = \"number\",",
            "columns = { lower = \"number\", from = \"number\",",
            "pack.toml gives a type to column 'lower'",
        ),
    ];
    for (name, from, to, expected) in cases {
        let (dir, pack) = pack_copy(name, "romashka");
        edit(&pack.join("pack.toml"), from, to);
        let err = fails(&dir, &["check", "--rules", "pack"], 1);
        assert!(
            err.contains(expected),
            "{name}: expected {expected:?} in:\n{err}"
        );
    }
    // Lookups that cannot be answered stop the run with the table and inputs named.
    let runs: &[(&str, &str, &str, &str)] = &[
        (
            "dt-norow",
            ",0.7,0,0,",
            "0.6,0.7,0,0,",
            "no row of table 'payout_curve' matches attainment = 0.49",
        ),
        (
            "dt-input",
            "#{ attainment: attainment }",
            "#{ attainment: attainment, region: \"x\" }",
            "table 'payout_curve' has no input 'region'; its inputs are: attainment",
        ),
        (
            "dt-plain",
            "lookup(\"payout_curve\"",
            "lookup(\"missing\"",
            "unknown table 'missing'",
        ),
    ];
    for (name, from, to, expected) in runs {
        let (dir, pack) = pack_copy(name, "romashka");
        let file = if from.starts_with(',') {
            pack.join("tables/payout_curve.csv")
        } else {
            pack.join("bonus.rhai")
        };
        edit(&file, from, to);
        let err = fails(&dir, &["run", "--rules", "pack", "--out", "o"], 1);
        assert!(
            err.contains(expected),
            "{name}: expected {expected:?} in:\n{err}"
        );
    }
}

#[test]
fn an_incomplete_period_warns_until_the_user_acknowledges_it() {
    // The ledger fixture's sales end on 2026-12-15: 2026-Q4 is incomplete.
    let dir = scratch("incomplete");
    let pack = fixture("ledger");
    let m = pack.to_str().unwrap();
    let out = bonusrun(
        &dir,
        &[
            "run",
            "--rules",
            m,
            "--period",
            "2026-Q4",
            "--out",
            "a",
            "-q",
            "--no-ledger",
        ],
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warning = "the sales end on 2026-12-15, before the period 2026-Q4 ends (2026-12-31): the period is incomplete; if that is expected, say so with --allow-incomplete";
    assert!(stderr.contains(warning), "{stderr}");
    let run = json(&dir.join("a/run.json"));
    assert!(run["warnings"]
        .to_string()
        .contains("the period is incomplete"));
    assert_eq!(run["period"]["incomplete"], serde_json::Value::Null);
    // Acknowledged: quiet, and recorded.
    let out = bonusrun(
        &dir,
        &[
            "run",
            "--rules",
            m,
            "--period",
            "2026-Q4",
            "--out",
            "b",
            "-q",
            "--no-ledger",
            "--allow-incomplete",
        ],
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("incomplete"), "{stderr}");
    let run = json(&dir.join("b/run.json"));
    assert!(!run["warnings"].to_string().contains("incomplete"));
    assert_eq!(
        run["period"]["incomplete"],
        "the sales end on 2026-12-15, before the period 2026-Q4 ends (2026-12-31): the period is incomplete (acknowledged: --allow-incomplete)"
    );
}

#[test]
fn explain_says_not_given_and_lists_only_this_periods_key_clients() {
    let dir = scratch("explain-given");
    copy_dir(&fixture("ledger"), &dir.join("pack"));
    let data = dir.join("pack/data");
    // A clients.csv with ids and names only; every client key.
    std::fs::write(
        data.join("clients.csv"),
        "client_id,name\nC1,Client One\nC2,Client Two\nC3,Client Three\n",
    )
    .unwrap();
    edit(
        &dir.join("pack/rules.rhai"),
        "fn classify(client) { #{ key: false,",
        "fn classify(client) { #{ key: true,",
    );
    // M1 sold to C1 in Q1 only.
    edit(
        &data.join("sales.csv"),
        "2026-04-15,C1,M1,P1,Dairy,1,4000.00,0\n",
        "",
    );
    let explain = |args: &[&str]| {
        let mut all = vec!["explain", "--rules", "pack", "--period", "2026-Q2"];
        all.extend(args);
        ok(&dir, &all)
    };
    let c1 = explain(&["--client", "C1"]);
    assert!(
        c1.contains("Industry not given, region not given; client since not given; market share not given; strategic: not given;"),
        "{c1}"
    );
    let m1 = explain(&["--manager", "M1"]);
    assert!(m1.contains("Key clients: none in this portfolio."), "{m1}");
    let m2 = explain(&["--manager", "M2"]);
    assert!(m2.contains("Key clients (1), and why:"), "{m2}");
}

#[test]
fn an_empty_cell_of_a_number_column_is_no_value() {
    // TechSoft's rates table: `to` is declared number, and its empty cells are open bounds;
    // a script sees them as (), not as "". `excess_rate` of an inferred table the same.
    let dir = scratch("empty-cell");
    copy_dir(&root().join("rules/techsoft"), &dir.join("pack"));
    edit(
        &dir.join("pack/commission.rhai"),
        "let rate = lookup(\"rates\", #{ kpi: k.id, attainment: att });",
        "let rate = lookup(\"rates\", #{ kpi: k.id, attainment: att }); print(`to is ${type_of(rate.to)}`);",
    );
    let out = bonusrun(&dir, &["run", "--rules", "pack", "--out", "o", "-q"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("[rules] to is ()"), "{stderr}");
    assert!(!stderr.contains("to is string"), "{stderr}");
}

#[test]
fn diff_says_plainly_when_nothing_changes() {
    let dir = scratch("diff-same");
    // The bundled pack's cap is 1.5: setting it again changes no one's pay.
    let table = ok(&dir, &["diff", "--set", "cap=1.5"]);
    assert!(
        table.contains("Budget impact: none; all 8 managers are paid the same."),
        "{table}"
    );
}

#[test]
fn doc_keeps_the_parameter_order_and_renders_lists() {
    let dir = scratch("doc-order");
    copy_dir(&root().join("rules/romashka"), &dir.join("pack"));
    edit(
        &dir.join("pack/key_clients.rhai"),
        "/// Classifies one client: key or not, tier A/B, score and the reasons that matched.",
        "/// Classifies one client. A client is key when:\n/// - its share of revenue is high,\n///   or of margin;\n/// - it is strategic.",
    );
    ok(&dir, &["doc", "--rules", "pack", "--out", "doc"]);
    let md = read(&dir.join("doc/regulation.md"));
    assert!(
        md.contains("Classifies one client. A client is key when:\n\n- its share of revenue is high, or of margin;\n- it is strategic.\n"),
        "{md}"
    );
    let html = read(&dir.join("doc/regulation.html"));
    assert!(html.contains("<ul>\n<li>its share of revenue is high, or of margin;</li>\n<li>it is strategic.</li>\n</ul>"), "{html}");
    // pack.toml order: gate_kpi ("the KPI whose attainment opens the bonus...") comes
    // before gate_attainment ("...at this attainment"), not after it as by name.
    let kpi = md.find("| gate_kpi |").unwrap();
    let at = md.find("| gate_attainment |").unwrap();
    assert!(kpi < at && md.find("| key_revenue_share |").unwrap() < kpi);
}

#[test]
fn diff_compares_corrected_data_with_the_paid_data_under_one_pack() {
    let dir = scratch("diff-data");
    copy_dir(&root().join("rules/romashka/data"), &dir.join("paid"));
    copy_dir(&root().join("rules/romashka/data"), &dir.join("corrected"));
    // The correction: M02's target bonus was 180000.00 and should have been 200000.00.
    edit(
        &dir.join("corrected/managers.csv"),
        "M02,Ксения Иванова,180000.00",
        "M02,Ксения Иванова,200000.00",
    );
    let rules = root().join("rules/romashka").display().to_string();
    ok(
        &dir,
        &[
            "run",
            "--rules",
            &rules,
            "--data",
            "corrected",
            "--out",
            "c",
            "-q",
        ],
    );
    let corrected = csv_cell(&dir.join("c/payouts.csv"), "M02", "payout");
    let out = ok(
        &dir,
        &[
            "diff",
            "--rules",
            &rules,
            "--data",
            "corrected",
            "--against-data",
            "paid",
            "--html",
            "d.html",
        ],
    );
    let m02 = out.lines().find(|l| l.starts_with("M02 ")).unwrap();
    assert!(
        m02.contains(" 136620.22 ") && m02.contains(&format!(" {corrected} ")),
        "{out}"
    );
    assert!(out.contains("1 of 8 managers paid differently"), "{out}");
    // diff.html tells the two data sets apart by a fingerprint of their files' hashes.
    let html = read(&dir.join("d.html"));
    let prints: Vec<&str> = html.split("; data ").skip(1).map(|s| &s[..12]).collect();
    assert_eq!(prints.len(), 2, "{html}");
    assert_ne!(prints[0], prints[1], "{html}");
}
