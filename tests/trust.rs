//! Trust under hostile input: each case a fault test found is reproduced through the real
//! binary, and the test checks the message and that nothing was written.

use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A scratch directory with the mini pack (and its data) in `pack/`.
fn mini(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let pack = dir.join("pack");
    copy_dir(&fixture("mini"), &pack);
    (dir, pack)
}

fn run_mini(dir: &Path) -> String {
    fails(dir, &["run", "--rules", "pack", "--out", "out"], 1)
}

fn no_panic(err: &str) {
    for bad in [
        "panicked",
        "RUST_BACKTRACE",
        "internal error",
        "overflowed its stack",
    ] {
        assert!(!err.contains(bad), "{bad:?} in:\n{err}");
    }
}

/// A generated data set of `lines` sales lines with an extra `note` column.
fn noted_sales(dir: &Path, lines: &str) -> PathBuf {
    let data = dir.join("data");
    ok(
        dir,
        &[
            "generate",
            "--out",
            "data",
            "--sales",
            lines,
            "--clients",
            "40",
            "--managers",
            "4",
        ],
    );
    let sales = data.join("sales.csv");
    let text = read(&sales);
    let noted: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l},note")
            } else {
                format!("{l},ok")
            }
        })
        .collect();
    std::fs::write(&sales, noted.join("\n") + "\n").unwrap();
    data
}

fn replace_line(path: &Path, line: usize, f: impl Fn(&str) -> String) {
    let text = read(path);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[line - 1] = f(&lines[line - 1]);
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn an_unclosed_quote_in_an_extra_column_is_an_error_at_its_line() {
    let dir = scratch("unclosed-quote");
    let data = noted_sales(&dir, "9000");
    replace_line(&data.join("sales.csv"), 5001, |l| {
        format!("{}\"oops", l.strip_suffix("ok").unwrap())
    });
    let err = fails(&dir, &["run", "--data", "data", "--out", "out"], 1);
    assert!(
        err.contains("sales.csv:5001: a quoted field opens on this line and is never closed"),
        "{err}"
    );
    assert!(!dir.join("out").exists());
}

#[test]
fn a_field_past_the_limit_is_an_error_naming_its_line() {
    let dir = scratch("long-field");
    // More than one read block (1 MiB), so that the stray quote below is met mid-file.
    let data = noted_sales(&dir, "40000");
    let sales = data.join("sales.csv");
    replace_line(&sales, 10, |l| {
        format!("{}{}", l.strip_suffix("ok").unwrap(), "x".repeat(300))
    });
    let args = [
        "run",
        "--data",
        "data",
        "--out",
        "out",
        "--max-field-bytes",
        "200",
    ];
    let err = fails(&dir, &args, 1);
    assert!(
        err.contains("sales.csv:10: column 'note': the field is longer than 200 bytes, the limit (--max-field-bytes)"),
        "{err}"
    );
    // A stray quote early in a larger file stops at the limit, not at the end of the file.
    replace_line(&sales, 10, |_| {
        "2025-01-01,C1,M1,P,Cat,1,1,0,\"stray".to_string()
    });
    let err = fails(&dir, &args, 1);
    assert!(
        err.contains("sales.csv:10: a field starting on this line is longer than 200 bytes"),
        "{err}"
    );
    assert!(!dir.join("out").exists());
}

#[test]
fn a_tiny_plan_target_is_an_error_not_a_panic() {
    let dir = scratch("tiny-target");
    ok(
        &dir,
        &[
            "generate",
            "--out",
            "data",
            "--sales",
            "3000",
            "--clients",
            "30",
            "--managers",
            "3",
        ],
    );
    let plans = dir.join("data/plans.csv");
    let text = read(&plans);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for l in lines.iter_mut().skip(1) {
        let mut cells: Vec<&str> = l.split(',').collect();
        let last = cells.len() - 1;
        cells[last] = "0.0000000000000000000001";
        *l = cells.join(",");
    }
    std::fs::write(&plans, lines.join("\n") + "\n").unwrap();
    let err = fails(&dir, &["run", "--data", "data", "--out", "out"], 1);
    no_panic(&err);
    assert!(err.contains("for manager M"), "{err}");
    assert!(
        err.contains("does not fit") || err.contains("overflow"),
        "{err}"
    );
    assert!(!dir.join("out").exists());
}

#[test]
fn a_margin_past_28_digits_is_an_error_naming_client_and_column() {
    let (dir, pack) = mini("huge-margin");
    let sales = pack.join("data/sales.csv");
    let text = read(&sales);
    std::fs::write(
        &sales,
        format!("{text}2026-03-21,C1,M1,P1,Dairy,1,40000000000000000000000000000,-40000000000000000000000000000\n"),
    )
    .unwrap();
    let err = run_mini(&dir);
    no_panic(&err);
    assert!(
        err.contains("the sum of the amount minus cost (margin) column for client C1 with manager M1 in 2026-03 has more than 28 digits"),
        "{err}"
    );
    assert!(!dir.join("out").exists());
}

fn with_rule(name: &str, body: &str, limits: &str) -> (PathBuf, String) {
    let (dir, pack) = mini(name);
    edit(
        &pack.join("rules.rhai"),
        "fn classify(client) {",
        &format!("fn classify(client) {{\n{body}"),
    );
    if !limits.is_empty() {
        append(&pack.join("pack.toml"), &format!("\n[limits]\n{limits}\n"));
    }
    let err = run_mini(&dir);
    no_panic(&err);
    assert!(!dir.join("out").exists());
    (dir, err)
}

#[test]
fn percent_of_a_huge_number_is_an_error() {
    let (_, err) = with_rule(
        "percent-int",
        "    let p = percent(9223372036854775807);",
        "",
    );
    assert!(
        err.contains(
            "percent(9223372036854775807): 9223372036854775807 x 100 does not fit an integer"
        ),
        "{err}"
    );
    let (_, err) = with_rule(
        "percent-dec",
        "    let p = percent(79228162514264337593543950335.0);",
        "",
    );
    assert!(err.contains("x 100 does not fit a decimal"), "{err}");
    assert!(err.contains("for client C1"), "{err}");
}

#[test]
fn deeply_nested_arrays_and_maps_are_refused_not_a_crash() {
    for (name, body, limit) in [
        (
            "nest-array",
            "    let a = []; for i in 0..100000 { a = [a]; }",
            "max_array_size",
        ),
        (
            "nest-map",
            "    let a = #{}; for i in 0..100000 { a = #{ x: a }; }",
            "max_map_size",
        ),
    ] {
        let (_, err) = with_rule(name, body, &format!("{limit} = 5000"));
        assert!(err.contains("rules.rhai"), "{err}");
        assert!(err.contains("for client C1"), "{err}");
        assert!(err.contains("exceeded the limit (5000)"), "{err}");
        assert!(err.contains("nested too deeply"), "{err}");
        assert!(err.contains(&format!("[limits] {limit}")), "{err}");
        // With the default limits the attempt ends cleanly too (here: by the time limit).
        let (_, err) = with_rule(&format!("{name}-default"), body, "max_seconds_per_call = 2");
        assert!(err.contains("for client C1"), "{err}");
    }
}

#[test]
fn a_rule_past_its_time_is_stopped_with_the_limit_named() {
    let (_, err) = with_rule(
        "slow-call",
        "    loop { }",
        "max_operations = 100000000000\nmax_seconds_per_call = 1",
    );
    assert!(
        err.contains("the rule ran longer than 1 second(s) and was stopped"),
        "{err}"
    );
    assert!(err.contains("[limits] max_seconds_per_call"), "{err}");
}

#[test]
fn a_run_past_its_deadline_is_stopped_and_writes_nothing() {
    let (dir, pack) = mini("run-deadline");
    edit(
        &pack.join("rules.rhai"),
        "fn classify(client) {",
        "fn classify(client) {\n    loop { }",
    );
    append(
        &pack.join("pack.toml"),
        "\n[limits]\nmax_operations = 100000000000\nmax_seconds_per_call = 600\n",
    );
    let err = fails(
        &dir,
        &["run", "--rules", "pack", "--out", "out", "--deadline", "1"],
        1,
    );
    assert!(
        err.contains("the run passed its --deadline of 1 second(s) while this rule was running"),
        "{err}"
    );
    assert!(!dir.join("out").exists());
}

#[test]
fn limits_above_the_ceilings_are_refused() {
    let (dir, pack) = mini("ceilings");
    append(
        &pack.join("pack.toml"),
        "\n[limits]\nmax_call_depth = 100000\n",
    );
    let err = run_mini(&dir);
    assert!(
        err.contains("[limits] max_call_depth = 100000 is above the most bonusrun allows (256)"),
        "{err}"
    );
}

#[test]
fn many_pushes_within_the_array_limit_finish() {
    let (dir, pack) = mini("pushes");
    edit(
        &pack.join("rules.rhai"),
        "fn classify(client) {",
        "fn classify(client) {\n    let a = []; for i in 0..20000 { a.push(i); }",
    );
    ok(&dir, &["run", "--rules", "pack", "--out", "out", "--quiet"]);
    // The linear way to fill a large array (one size check per item, not per array):
    // 99,000 items well within the default 10 s per call (push would take about that).
    let (dir, pack) = mini("pad-fill");
    edit(
        &pack.join("rules.rhai"),
        "fn classify(client) {",
        "fn classify(client) {\n    let a = []; a.pad(99000, 0); for i in 0..99000 { a[i] = i; }",
    );
    ok(&dir, &["run", "--rules", "pack", "--out", "out", "--quiet"]);
    // Past the array limit, pushing stops with the limit named.
    let (_, err) = with_rule(
        "push-limit",
        "    let a = []; for i in 0..1000000 { a.push(i); }",
        "max_array_size = 20000",
    );
    assert!(err.contains("exceeded the limit (20000)"), "{err}");
    assert!(err.contains("[limits] max_array_size"), "{err}");
}

#[test]
fn a_link_out_of_the_pack_is_refused() {
    let (dir, pack) = mini("link-out");
    let secret = dir.join("secret.rhai");
    std::fs::rename(pack.join("rules.rhai"), &secret).unwrap();
    std::os::unix::fs::symlink(&secret, pack.join("rules.rhai")).unwrap();
    let err = run_mini(&dir);
    assert!(err.contains("rules.rhai leads outside the pack"), "{err}");
    assert!(!dir.join("out").exists());

    // Sample data inside the pack is confined too.
    let (dir, pack) = mini("link-out-data");
    let outside = dir.join("clients.csv");
    std::fs::rename(pack.join("data/clients.csv"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, pack.join("data/clients.csv")).unwrap();
    let err = run_mini(&dir);
    assert!(err.contains("clients.csv leads outside the pack"), "{err}");

    // ... and so are golden cases.
    let (dir, pack) = mini("link-out-case");
    let case = dir.join("case");
    std::fs::create_dir_all(case.join("expected")).unwrap();
    copy_dir(&pack.join("data"), &case.join("data"));
    std::fs::create_dir_all(pack.join("tests")).unwrap();
    std::os::unix::fs::symlink(&case, pack.join("tests/outside")).unwrap();
    let err = fails(&dir, &["test", "--rules", "pack"], 2);
    assert!(err.contains("leads outside the pack"), "{err}");
    // A link that stays inside the pack is fine.
    let (dir, pack) = mini("link-in");
    std::fs::rename(pack.join("rules.rhai"), pack.join("real.rhai")).unwrap();
    std::os::unix::fs::symlink("real.rhai", pack.join("rules.rhai")).unwrap();
    ok(&dir, &["run", "--rules", "pack", "--out", "out", "--quiet"]);
}

#[test]
fn force_replaces_only_bonusruns_own_outputs() {
    let (dir, _) = mini("force");
    let notes = dir.join("out");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(notes.join("my-notes.txt"), "keep me").unwrap();
    let args = [
        "run", "--rules", "pack", "--out", "out", "--force", "--quiet",
    ];
    let err = fails(&dir, &args, 1);
    assert!(
        err.contains("--force replaces only a directory of bonusrun's outputs, and this is not one (it has no run.json)"),
        "{err}"
    );
    assert_eq!(read(&notes.join("my-notes.txt")), "keep me");
    // A pack directory is not replaced either.
    let err = fails(
        &dir,
        &["run", "--rules", "pack", "--out", "pack", "--force"],
        1,
    );
    assert!(err.contains("this is not one"), "{err}");
    assert!(dir.join("pack/pack.toml").exists());
    // bonusrun's own outputs are replaced; with a file of the user's added, they are kept.
    std::fs::remove_dir_all(&notes).unwrap();
    ok(&dir, &args);
    ok(&dir, &args);
    std::fs::write(notes.join("review.txt"), "mine").unwrap();
    let err = fails(&dir, &args, 1);
    assert!(
        err.contains("it holds 1 file(s) that bonusrun did not write, such as review.txt"),
        "{err}"
    );
    assert_eq!(read(&notes.join("review.txt")), "mine");
}

/// A process id that is not running: the largest pid Linux allows is below this.
const DEAD_PID: u32 = 99_999_999;

#[test]
fn leftovers_of_a_killed_run_are_recovered_and_said() {
    let (dir, _) = mini("leftovers");
    let args = ["run", "--rules", "pack", "--out", "out", "--quiet"];
    ok(&dir, &args);
    // A run killed between its two renames: the old outputs aside, the new ones staged.
    std::fs::rename(dir.join("out"), dir.join(format!(".out.old-{DEAD_PID}"))).unwrap();
    std::fs::create_dir_all(dir.join(format!(".out.staging-{DEAD_PID}/statements"))).unwrap();
    let out = bonusrun(&dir, &args);
    let err = String::from_utf8_lossy(&out.stderr);
    // The old outputs are put back, so without --force they are kept.
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("a run (process {DEAD_PID}) died while replacing out: its previous outputs were put back")), "{err}");
    assert!(
        err.contains(&format!(
            "removed ./.out.staging-{DEAD_PID}, left by a run (process {DEAD_PID}) that died"
        )),
        "{err}"
    );
    assert!(dir.join("out/run.json").exists());
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.starts_with(".out.")), "{names:?}");
}

#[test]
fn a_bug_while_writing_is_one_line_exit_70_and_leaves_nothing() {
    let (dir, _) = mini("internal");
    let out = Command::new(env!("CARGO_BIN_EXE_bonusrun"))
        .args(["run", "--rules", "pack", "--out", "out"])
        .current_dir(&dir)
        .env("BONUSRUN_TEST_PANIC_WRITING", "1")
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(70), "{err}");
    assert!(
        err.starts_with("bonusrun: internal error (a bug in bonusrun"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains("stack backtrace"), "{err}");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["pack".to_string()], "{names:?}");
}

#[test]
fn a_plans_file_without_rows_is_an_error() {
    let (dir, pack) = mini("no-plans");
    std::fs::write(
        pack.join("data/plans.csv"),
        "manager_id,period,kpi,target\n",
    )
    .unwrap();
    let err = run_mini(&dir);
    assert!(
        err.contains("plans.csv: has a header but no rows, so no manager has a target and the pack 'mini' would pay against none"),
        "{err}"
    );
}

#[test]
fn cr_only_line_ends_are_named() {
    let (dir, pack) = mini("cr-only");
    let sales = pack.join("data/sales.csv");
    std::fs::write(&sales, read(&sales).replace('\n', "\r")).unwrap();
    let err = run_mini(&dir);
    assert!(
        err.contains("sales.csv: its lines end with a bare CR (classic Mac line ends)"),
        "{err}"
    );
    let (dir, pack) = mini("cr-only-table");
    let clients = pack.join("data/clients.csv");
    std::fs::write(&clients, read(&clients).replace('\n', "\r")).unwrap();
    let err = run_mini(&dir);
    assert!(
        err.contains("clients.csv: its lines end with a bare CR"),
        "{err}"
    );
}

#[test]
fn a_windows_1251_export_in_the_canonical_folder_gets_the_encoding_hint() {
    let (dir, pack) = mini("cp1251");
    let clients = pack.join("data/clients.csv");
    let mut bytes = read(&clients).into_bytes();
    let at = bytes.windows(10).position(|w| w == b"Client One").unwrap();
    bytes.splice(at..at + 10, b"\xcf\xf0\xe8\xe2\xe5\xf2".iter().copied());
    std::fs::write(&clients, bytes).unwrap();
    let err = run_mini(&dir);
    assert!(err.contains("clients.csv:2: column 'name'"), "{err}");
    assert!(err.contains("windows-1251"), "{err}");
    assert!(err.contains("encoding = \"windows-1251\""), "{err}");
}

#[test]
fn run_json_names_the_exact_engine_build() {
    let (dir, _) = mini("engine");
    ok(&dir, &["run", "--rules", "pack", "--out", "out", "--quiet"]);
    let run = json(&dir.join("out/run.json"));
    let engine = &run["engine"];
    assert_eq!(engine["name"], "bonusrun");
    let commit = engine["commit"].as_str().unwrap();
    assert!(commit == "unknown" || commit.len() >= 40, "{commit}");
    assert_eq!(engine["profile"], "release");
    // The period was not given: run.json says it was guessed.
    assert!(
        run["period"]["chosen"]
            .as_str()
            .unwrap()
            .starts_with("guessed"),
        "{run}"
    );
    assert!(engine["target"].as_str().unwrap().contains('-'), "{engine}");
}

/// Checks that `out` holds a complete run: every file run.json lists, with its hash.
fn complete(out: &Path) {
    use sha2::Digest;
    let run = json(&out.join("run.json"));
    for o in run["outputs"].as_array().unwrap() {
        let bytes = std::fs::read(out.join(o["path"].as_str().unwrap())).unwrap();
        let hex: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(o["sha256"], hex.as_str(), "{}", o["path"]);
    }
}

#[test]
fn a_run_killed_at_any_point_leaves_old_or_new_outputs_and_the_next_run_tidies_up() {
    let dir = scratch("kill");
    ok(
        &dir,
        &[
            "generate",
            "--out",
            "data",
            "--sales",
            "150000",
            "--clients",
            "300",
            "--managers",
            "20",
        ],
    );
    let args = [
        "run",
        "--data",
        "data",
        "--out",
        "out",
        "--force",
        "--quiet",
        "--threads",
        "2",
    ];
    ok(&dir, &args);
    for (i, ms) in [
        5u64, 15, 30, 45, 60, 80, 100, 130, 160, 200, 240, 280, 330, 400, 500, 650,
    ]
    .into_iter()
    .enumerate()
    {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bonusrun"))
            .args(args)
            .current_dir(&dir)
            .env("BONUSRUN_CACHE_DIR", test_cache_dir())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // Old or new outputs, whole: in place, or set aside between the two renames.
        if dir.join("out").exists() {
            complete(&dir.join("out"));
        } else {
            let aside = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| {
                    p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with(".out.old-")
                })
                .unwrap_or_else(|| panic!("kill point {i} ({ms} ms): no outputs left"));
            complete(&aside);
        }
        // The next run tidies what the killed one left, and replaces the outputs.
        let o = bonusrun(&dir, &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "kill point {i} ({ms} ms): {err}");
        complete(&dir.join("out"));
        let leftovers: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".out."))
            .collect();
        assert!(leftovers.is_empty(), "kill point {i}: {leftovers:?}");
    }
}

#[test]
fn payout_lines_whose_sum_needs_more_than_28_digits_are_an_error_not_a_rounded_payout() {
    // Each line fits; their sum would need 29 digits, which Decimal's + silently rounds.
    let (dir, pack) = mini("line-sum");
    edit(
        &pack.join("rules.rhai"),
        "fn bonus(m, kpis) {",
        "fn bonus(m, kpis) {\n    return [#{ label: \"a\", amount: 400000000000000000000000000.01 }, #{ label: \"b\", amount: 400000000000000000000000000.00 }];",
    );
    let err = run_mini(&dir);
    no_panic(&err);
    assert!(
        err.contains("money overflow (nothing was written): pack/rules.rhai (stage bonus) for manager M1: the payout lines (or their sum) do not fit an amount in RUB with 2 decimals"),
        "{err}"
    );
    assert!(err.contains("'a' 400000000000000000000000000.01"), "{err}");
    assert!(!dir.join("out").exists());

    // A target bonus too long to be written with kopecks is an input error.
    let (dir, pack) = mini("huge-target");
    let managers = pack.join("data/managers.csv");
    std::fs::write(
        &managers,
        read(&managers).replace("100000.00", "1000000000000000000000000000"),
    )
    .unwrap();
    let err = run_mini(&dir);
    assert!(
        err.contains("managers.csv: manager M1: target_bonus 1000000000000000000000000000 has more digits than an amount in RUB with 2 decimals holds"),
        "{err}"
    );
}

#[test]
fn a_device_in_place_of_a_data_file_is_refused_not_read_forever() {
    let (dir, pack) = mini("device");
    std::fs::remove_file(pack.join("data/clients.csv")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", pack.join("data/clients.csv")).unwrap();
    // Outside the pack, and not a file: refused either way, and here for leaving the pack.
    let err = run_mini(&dir);
    assert!(err.contains("clients.csv leads outside the pack"), "{err}");
    // Named by the user as data: refused as not a regular file.
    let data = dir.join("data");
    copy_dir(&fixture("mini").join("data"), &data);
    std::fs::remove_file(data.join("clients.csv")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", data.join("clients.csv")).unwrap();
    let err = fails(
        &dir,
        &["run", "--rules", "pack", "--data", "data", "--out", "out"],
        1,
    );
    assert!(
        err.contains("data/clients.csv: is not a regular file (a directory, device or pipe)"),
        "{err}"
    );
    assert!(!dir.join("out").exists());
}

#[test]
fn a_pipe_in_a_pack_is_refused_not_waited_on() {
    let (dir, pack) = mini("fifo");
    std::fs::remove_file(pack.join("rules.rhai")).unwrap();
    let made = Command::new("mkfifo")
        .arg(pack.join("rules.rhai"))
        .status()
        .unwrap();
    assert!(made.success());
    let err = run_mini(&dir);
    assert!(
        err.contains("rules.rhai: cannot read: not a regular file (a directory, device or pipe)"),
        "{err}"
    );
}

#[test]
fn many_values_each_within_the_size_limits_are_stopped_by_the_memory_limit() {
    // Each string fits max_string_size and the array fits max_array_size, but together
    // they take gigabytes: rhai checks only the item an index assignment writes.
    let body = "    let s = \"x\"; s.pad(90000, \"x\"); let a = []; a.pad(50000, ()); for i in 0..50000 { a[i] = s + i; }";
    let (_, err) = with_rule("memory", body, "max_memory_per_call = 50000000");
    assert!(
        err.contains("for client C1: the rule took more than 50000000 bytes of memory and was stopped (a memory bomb?)"),
        "{err}"
    );
    assert!(err.contains("[limits] max_memory_per_call"), "{err}");
    // With the default limit (256 MiB) the same rule is stopped too.
    let (_, err) = with_rule("memory-default", body, "");
    assert!(err.contains("more than 268435456 bytes of memory"), "{err}");
}

#[test]
fn doc_generate_and_diff_keep_existing_files_unless_forced() {
    let (dir, _) = mini("keep-files");
    std::fs::create_dir_all(dir.join("doc")).unwrap();
    std::fs::write(dir.join("doc/regulation.md"), "my own notes").unwrap();
    let err = fails(&dir, &["doc", "--rules", "pack", "--out", "doc"], 1);
    assert!(
        err.contains("cannot write doc/regulation.md: it already exists and is kept; choose another path, or pass --force to replace it"),
        "{err}"
    );
    assert_eq!(read(&dir.join("doc/regulation.md")), "my own notes");
    ok(&dir, &["doc", "--rules", "pack", "--out", "doc", "--force"]);
    assert!(read(&dir.join("doc/regulation.md")).starts_with('#'));

    std::fs::create_dir_all(dir.join("gen")).unwrap();
    std::fs::write(dir.join("gen/sales.csv"), "precious").unwrap();
    let err = fails(&dir, &["generate", "--out", "gen", "--sales", "100"], 1);
    assert!(
        err.contains("cannot write gen/sales.csv: it already exists and is kept"),
        "{err}"
    );
    assert_eq!(read(&dir.join("gen/sales.csv")), "precious");
    ok(
        &dir,
        &["generate", "--out", "gen", "--sales", "100", "--force"],
    );

    std::fs::write(dir.join("diff.csv"), "mine").unwrap();
    let args = [
        "diff", "--rules", "pack", "--set", "cap=1.5", "--csv", "diff.csv",
    ];
    let err = fails(&dir, &args, 1);
    assert!(
        err.contains("cannot write diff.csv: it already exists and is kept"),
        "{err}"
    );
    assert_eq!(read(&dir.join("diff.csv")), "mine");
    let mut forced = args.to_vec();
    forced.push("--force");
    ok(&dir, &forced);
    assert!(read(&dir.join("diff.csv")).starts_with("manager_id"));
    // A device is never read as an export.
    let err = fails(&dir, &["inspect", "/dev/zero"], 1);
    assert!(err.contains("not a regular file"), "{err}");
}

#[test]
fn a_loop_over_a_big_table_is_stopped_by_the_time_limit() {
    // `loop { table("big") }` stays within every size limit and used to run for hours.
    let (dir, pack) = mini("table-loop");
    std::fs::create_dir_all(pack.join("tables")).unwrap();
    let rows: String = (0..5000).map(|i| format!("{i},row {i}\n")).collect();
    std::fs::write(pack.join("tables/big.csv"), format!("id,label\n{rows}")).unwrap();
    append(
        &pack.join("pack.toml"),
        "\n[tables.big]\nfile = \"tables/big.csv\"\n",
    );
    edit(
        &pack.join("rules.rhai"),
        "fn classify(client) {",
        "fn classify(client) {\n    loop { let t = table(\"big\"); }",
    );
    append(
        &pack.join("pack.toml"),
        "\n[limits]\nmax_operations = 100000000000\nmax_seconds_per_call = 1\n",
    );
    let err = run_mini(&dir);
    no_panic(&err);
    assert!(
        err.contains("for client C1: the rule ran longer than 1 second(s) and was stopped"),
        "{err}"
    );
    assert!(!dir.join("out").exists());
}
