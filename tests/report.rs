//! report.html and diff.html: written with every run, re-rendered by `bonusrun report`,
//! and loaded in a real browser (headless Chromium, never skipped).

use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian's Chromium (`.ci/run` installs it), or the browser named by `BONUSRUN_CHROMIUM`.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("BONUSRUN_CHROMIUM") {
        return PathBuf::from(p);
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("the browser tests need Chromium: `apt-get install -y chromium` (.ci/run installs it), or set BONUSRUN_CHROMIUM to a Chrome or Chromium binary")
}

/// Loads `page` in headless Chromium (tests/browser/check_page.py) and returns what it
/// saw; the full-page screenshot is kept next to the page, as `<page>.png`.
fn load_in_browser(page: &Path) -> serde_json::Value {
    let dir = page.parent().unwrap();
    let shot = page.with_extension("png");
    let out = Command::new("python3")
        .arg(root().join("tests/browser/check_page.py"))
        .arg(chromium())
        .arg(page)
        .arg(&shot)
        .arg(dir.join("browser-profile"))
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the browser check failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "no real screenshot"
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every chart of the page is an SVG of real size that draws data.
fn assert_charts_drawn(seen: &serde_json::Value, expected: &[&str]) {
    assert_eq!(seen["console_errors"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["broken_links"], serde_json::json!([]), "{seen}");
    let charts = seen["charts"].as_array().unwrap();
    let names: Vec<&str> = charts.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, expected);
    for c in charts {
        assert_eq!(c["svg"], true, "{c}");
        assert!(c["width"].as_f64().unwrap() >= 300.0, "{c}");
        assert!(c["height"].as_f64().unwrap() >= 150.0, "{c}");
        assert!(c["marks"].as_u64().unwrap() > 0, "chart draws nothing: {c}");
    }
}

#[test]
fn the_bundled_runs_report_shows_every_chart_in_a_browser() {
    let dir = scratch("report");
    ok(&dir, &["run", "--out", "out", "-q"]);
    let page = dir.join("out/report.html");
    let html = read(&page);
    // run.json lists the report with its hash, like every other output.
    let run = json(&dir.join("out/run.json"));
    assert!(run["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["path"] == "report.html"));
    // The pack's curve (bonus.rhai curve_factor over the payout_curve table), worked by
    // hand: 0 below 70%, 40% + 2 × (a − 0.7) up to plan, 1 + 2 × (a − 1) above, 140% at most.
    let points = run["report"]["curve"]["points"].as_array().unwrap();
    assert_eq!(points.len(), 101);
    for (i, (x, y)) in [(0, ("0", "0")), (50, ("0.8", "0.6")), (100, ("1.6", "1.4"))] {
        assert_eq!(points[i], serde_json::json!([x, y]));
    }
    assert_eq!(run["report"]["curve"]["function"], "curve_factor");
    // The header, the payout table and the gate M01 hit (margin at 79.74%).
    assert!(html.contains("<td>1314733.49 RUB</td>"), "total not shown");
    assert!(html.contains("<td class=\"n\">0.00</td><td class=\"n\">0%</td><td>Gate: Маржа к плану at 79.7%, below 80%: no bonus</td>"));
    assert!(html.contains("<a href=\"#m-M01\">M01</a></td><td>gate</td>"));
    assert!(html.contains("<section class=\"manager\" id=\"m-M08\">"));
    assert!(html.contains("44 key clients of 150."));
    // Self-contained: nothing to fetch (the only address is the SVG namespace).
    for fetch in ["<script", "<link", "<img", "src=", "url(", "href=\"http"] {
        assert!(
            !html.contains(fetch),
            "the report must not load anything: {fetch}"
        );
    }
    let seen = load_in_browser(&page);
    assert_eq!(seen["title"], "romashka 2026.1: bonus run 2026-Q2");
    assert_charts_drawn(
        &seen,
        &[
            "payout-vs-target",
            "attainment-key_revenue",
            "attainment-margin",
            "attainment-renewals",
            "attainment-concentration",
            "attainment-new_key_clients",
            "attainment-category_growth",
            "payout-curve",
            "key-criteria",
            "concentration",
        ],
    );
}

#[test]
fn report_rerenders_the_same_bytes_and_refuses_changed_files() {
    let dir = scratch("report-again");
    ok(&dir, &["run", "--out", "out", "-q", "--threads", "1"]);
    ok(&dir, &["run", "--out", "out2", "-q", "--threads", "2"]);
    let first = std::fs::read(dir.join("out/report.html")).unwrap();
    assert_eq!(first, std::fs::read(dir.join("out2/report.html")).unwrap());
    assert_eq!(
        ok(&dir, &["report", "out"]),
        "out/report.html is up to date\n"
    );
    assert_eq!(
        ok(&dir, &["report", "out", "--out", "again.html"]),
        "written: again.html\n"
    );
    assert_eq!(first, std::fs::read(dir.join("again.html")).unwrap());
    // Another file is kept unless --force.
    std::fs::write(dir.join("other.html"), "mine").unwrap();
    let err = fails(&dir, &["report", "out", "--out", "other.html"], 1);
    assert!(
        err.contains("other.html: it already exists and is kept"),
        "{err}"
    );
    // A statement edited after the run: the report would not show what was run.
    edit(
        &dir.join("out/statements/M02.json"),
        "136620.22",
        "236620.22",
    );
    let err = fails(&dir, &["report", "out", "--out", "edited.html"], 1);
    assert!(
        err.contains("statements/M02.json: it changed since the run wrote it (its SHA-256 differs from run.json's)"),
        "{err}"
    );
    assert!(!dir.join("edited.html").exists());
    let err = fails(&dir, &["report", "nowhere"], 1);
    assert!(err.contains("nowhere/run.json: cannot read it"), "{err}");
}

#[test]
fn hostile_names_are_text_in_the_report() {
    let dir = scratch("report-hostile");
    copy_dir(&root().join("rules/romashka/data"), &dir.join("data"));
    edit(
        &dir.join("data/managers.csv"),
        "Алина Макарова",
        "<script>console.error('injected')</script>",
    );
    ok(
        &dir,
        &[
            "run",
            "--rules",
            &root().join("rules/romashka").display().to_string(),
            "--data",
            "data",
            "--out",
            "out",
            "-q",
        ],
    );
    let page = dir.join("out/report.html");
    let html = read(&page);
    assert!(
        !html.contains("<script"),
        "markup from the data reached the page"
    );
    assert!(html.contains("&lt;script&gt;console.error(&#39;injected&#39;)&lt;/script&gt;"));
    let seen = load_in_browser(&page);
    assert_eq!(seen["console_errors"], serde_json::json!([]));
}

#[test]
fn diff_html_shows_who_gains_and_who_loses() {
    let dir = scratch("diff-html");
    let out = ok(
        &dir,
        &[
            "diff",
            "--set",
            "gate_attainment=0.7",
            "--html",
            "diff.html",
        ],
    );
    assert!(out.ends_with("Page written to diff.html\n"), "{out}");
    let html = read(&dir.join("diff.html"));
    // Opening the gate at 70% pays M01 (margin at 79.74%), nobody else changes.
    assert!(html.contains("with --set gate_attainment=0.7"), "{html}");
    assert!(html.contains("1 of 8 managers paid differently"), "{html}");
    let seen = load_in_browser(&dir.join("diff.html"));
    assert_charts_drawn(&seen, &["diff"]);
    // An existing page is kept without --force.
    let err = fails(
        &dir,
        &["diff", "--set", "cap=1.2", "--html", "diff.html"],
        1,
    );
    assert!(
        err.contains("diff.html: it already exists and is kept"),
        "{err}"
    );
}

#[test]
fn report_curve_errors_name_the_setting() {
    let dir = scratch("report-curve");
    copy_dir(&root().join("rules/romashka"), &dir.join("pack"));
    let toml = dir.join("pack/pack.toml");
    edit(&toml, "curve = \"curve_factor\"", "curve = \"curve\"");
    let err = fails(&dir, &["check", "--rules", "pack"], 1);
    assert!(
        err.contains("pack/pack.toml:111:1: [report] curve = \"curve\": pack/bonus.rhai has no function 'curve' with 1 parameter; define `fn curve(attainment) { ... }` returning the payout factor"),
        "{err}"
    );
    edit(&toml, "curve = \"curve\"", "curve = \"curve_factor\"");
    edit(&toml, "curve_to = 1.6", "curve_to = 0");
    let err = fails(&dir, &["check", "--rules", "pack"], 1);
    assert!(err.contains("[report] curve_to must be above 0"), "{err}");
}

#[test]
fn figures_at_the_edge_of_a_decimal_are_reported_not_crashed_on() {
    // Found by fuzz::rules_script: an attainment of −7.9 × 10²⁷ overflowed the report's
    // percentage and histogram bin; the run must write its report like any other.
    let dir = scratch("report-edge");
    copy_dir(&root().join("rules/romashka"), &dir.join("pack"));
    edit(
        &dir.join("pack/kpis.rhai"),
        "fn margin(m) {",
        "fn margin(m) { return #{ value: 1, target: 1, attainment: -7922816251426433759354395033.5 };",
    );
    edit(
        &dir.join("pack/bonus.rhai"),
        "fn bonus(m, kpis) {",
        "fn bonus(m, kpis) { return [#{ label: \"flat\", amount: 1, kpi: \"margin\" }];",
    );
    ok(&dir, &["run", "--rules", "pack", "--out", "out", "-q"]);
    let html = read(&dir.join("out/report.html"));
    assert!(
        html.contains("<td class=\"n\">-7922816251426433759354395033.5 (as a ratio)</td>"),
        "{html}"
    );
}
