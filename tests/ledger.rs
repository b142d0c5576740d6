//! The payout ledger through the real binary. `tests/data/ledger` is a quarterly pack (10%
//! commission, a guaranteed minimum for M3 in Q1-Q2, a draw of 1000.00 for M2 in Q1
//! recovered at most half of each later payout, an annual true-up to 12% in Q4) with an
//! adjustment for M1 in Q2. Every figure below is worked out by hand in the comments.

use crate::util::{copy_dir, csv_cell, fails, fixture, json, ok, read, scratch};
use std::path::{Path, PathBuf};

/// A scratch directory holding the pack as `pack/` (its data in `pack/data`).
fn year(name: &str) -> PathBuf {
    let dir = scratch(name);
    copy_dir(&fixture("ledger"), &dir.join("pack"));
    dir
}

/// `bonusrun run` of quarter `q` into `out-<q>` (or `out-<q>-retro`), recorded by Ivan.
fn run_q(dir: &Path, q: &str, extra: &[&str]) -> String {
    let out = if extra.contains(&"--retro") {
        format!("out-{q}-retro")
    } else {
        format!("out-{q}")
    };
    let mut args = vec![
        "run",
        "--rules",
        "pack",
        "--period",
        q,
        "--out",
        &out,
        "--ledger",
        "ledger.db",
        "--by",
        "Ivan",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    ok(dir, &args)
}

fn l<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut v = args.to_vec();
    v.extend(["--ledger", "ledger.db"]);
    v
}

fn approve(dir: &Path, run: &str) -> String {
    ok(dir, &l(&["approve", run, "--by", "E. Petrova"]))
}

fn close(dir: &Path, q: &str, run: &str) -> String {
    ok(dir, &l(&["close", q, "--run", run, "--by", "E. Petrova"]))
}

/// Run, approve and close a quarter; the run id is `id`.
fn pay(dir: &Path, q: &str, id: &str) {
    let said = run_q(dir, q, &[]);
    assert!(
        said.contains(&format!("Recorded run {id} (draft) for {q}")),
        "{said}"
    );
    approve(dir, id);
    close(dir, q, id);
}

fn payout(dir: &Path, out: &str, manager: &str, column: &str) -> String {
    csv_cell(&dir.join(out).join("payouts.csv"), manager, column)
}

/// The ledger as `history` prints it, for "nothing was changed".
fn history(dir: &Path) -> String {
    ok(dir, &l(&["history"]))
}

/// M2's draw balance, as `show` prints it for `run`.
fn balance(dir: &Path, run: &str, manager: &str) -> String {
    let shown = ok(dir, &l(&["show", run]));
    let row = shown
        .lines()
        .find(|l| l.starts_with(manager))
        .unwrap_or_else(|| panic!("no {manager} in:\n{shown}"));
    row.split_whitespace().nth(3).unwrap().to_string()
}

#[test]
fn a_scripted_year_pays_guarantees_draws_adjustments_true_ups_and_the_annual_true_up_to_the_cent() {
    let dir = year("ledger-year");
    // Q1: M1 300.00 (10% of 3000); M2 200.00 + draw 1000.00; M3 100.00 + guarantee 400.00.
    pay(&dir, "2026-Q1", "1");
    assert_eq!(payout(&dir, "out-2026-Q1", "M1", "payout"), "300.00");
    assert_eq!(payout(&dir, "out-2026-Q1", "M2", "payout"), "1200.00");
    assert_eq!(payout(&dir, "out-2026-Q1", "M2", "draw"), "1000.00");
    assert_eq!(payout(&dir, "out-2026-Q1", "M3", "computed"), "100.00");
    assert_eq!(payout(&dir, "out-2026-Q1", "M3", "guarantee"), "400.00");
    assert_eq!(payout(&dir, "out-2026-Q1", "M3", "payout"), "500.00");
    assert_eq!(balance(&dir, "1", "M2"), "1000.00");

    // A return of 1000.00 dated in March arrives after Q1 is closed.
    crate::util::append(
        &dir.join("pack/data/sales.csv"),
        "2026-03-30,C1,M1,P1,Dairy,-1,-1000.00,0\n",
    );
    let refused = fails(
        &dir,
        &[
            "run",
            "--rules",
            "pack",
            "--period",
            "2026-Q1",
            "--out",
            "x",
            "--ledger",
            "ledger.db",
            "--by",
            "Ivan",
        ],
        1,
    );
    assert!(
        refused.contains("2026-Q1 is closed: run 1 was paid, closed by E. Petrova at ")
            && refused.contains("use --retro"),
        "{refused}"
    );
    // The retro run: M1's commission is now 200.00 against 300.00 paid: a true-up of -100.00,
    // the difference of the two runs to the cent; nothing else changed.
    let retro = run_q(&dir, "2026-Q1", &["--retro"]);
    assert!(
        retro.contains("Differences against the paid run of 2026-Q1:"),
        "{retro}"
    );
    let diff: Vec<&str> = retro.lines().filter(|l| l.starts_with("M")).collect();
    assert_eq!(diff.len(), 1, "{retro}");
    assert_eq!(
        diff[0].split_whitespace().collect::<Vec<_>>(),
        [
            "M1",
            "kpi",
            "revenue",
            "300.00",
            "200.00",
            "-100.00",
            "commission"
        ]
    );
    let paid = payout(&dir, "out-2026-Q1", "M1", "payout");
    let now = payout(&dir, "out-2026-Q1-retro", "M1", "payout");
    assert_eq!((paid.as_str(), now.as_str()), ("300.00", "200.00"));
    assert!(retro.contains("true-ups total -100.00 RUB"), "{retro}");
    assert!(approve(&dir, "2").contains("Approved retro run 2 (2026-Q1"));

    // Q2: M1 400.00 + adjustment 150.00 + true-up -100.00 = 450.00; M2 600.00, recovery
    // min(1000.00, 0.5 x 600.00) = 300.00, paid 300.00, balance 700.00; M3 200.00 + 300.00.
    pay(&dir, "2026-Q2", "3");
    for (column, want) in [
        ("computed", "400.00"),
        ("adjustment", "150.00"),
        ("true_up", "-100.00"),
        ("payout", "450.00"),
    ] {
        assert_eq!(payout(&dir, "out-2026-Q2", "M1", column), want, "{column}");
    }
    assert_eq!(payout(&dir, "out-2026-Q2", "M2", "recovery"), "-300.00");
    assert_eq!(payout(&dir, "out-2026-Q2", "M2", "payout"), "300.00");
    assert_eq!(payout(&dir, "out-2026-Q2", "M3", "payout"), "500.00");
    assert_eq!(balance(&dir, "3", "M2"), "700.00");
    let statement = json(&dir.join("out-2026-Q2/statements/M1.json"));
    let lines = statement["lines"].as_array().unwrap();
    let adjustment = lines.iter().find(|l| l["kind"] == "adjustment").unwrap();
    assert_eq!(adjustment["label"], "Trade fair support");
    assert_eq!(adjustment["settlement"]["approved_by"], "E. Petrova (CFO)");
    assert_eq!(
        adjustment["settlement"]["source"],
        "pack/data/adjustments.csv:2"
    );
    let true_up = lines.iter().find(|l| l["kind"] == "true_up").unwrap();
    assert_eq!(true_up["label"], "True-up 2026-Q1: commission");
    assert_eq!(true_up["settlement"]["ref_period"], "2026-Q1");
    assert_eq!(true_up["settlement"]["ref_run"], 1);
    assert_eq!(true_up["settlement"]["retro_run"], 2);
    let shown = ok(&dir, &l(&["show", "2", "--lines"]));
    assert!(shown.contains("[settled by run 3]"), "{shown}");

    // Q3: M2 1000.00 - min(700.00, 500.00) = 500.00, balance 200.00; M3's guarantee is over.
    pay(&dir, "2026-Q3", "4");
    assert_eq!(payout(&dir, "out-2026-Q3", "M2", "payout"), "500.00");
    assert_eq!(payout(&dir, "out-2026-Q3", "M3", "payout"), "100.00");
    assert_eq!(balance(&dir, "4", "M2"), "200.00");

    // Q4: the annual true-up is 12% of the year's recorded revenue less the quarters'
    // computed lines and this quarter's commission.
    // M1: 12% of 13000 = 1560.00 - (300 + 400 + 100) - 500 = 260.00; 500 + 260 = 760.00.
    // M2: 12% of 20000 = 2400.00 - 1800.00 - 200.00 = 400.00; 600.00 less the recovery of
    //     min(200.00, 300.00): 400.00, balance 0.00.
    // M3: 12% of 7000 = 840.00 - 400.00 - 300.00 = 140.00; 440.00.
    pay(&dir, "2026-Q4", "5");
    assert_eq!(payout(&dir, "out-2026-Q4", "M1", "payout"), "760.00");
    assert_eq!(payout(&dir, "out-2026-Q4", "M2", "payout"), "400.00");
    assert_eq!(payout(&dir, "out-2026-Q4", "M3", "payout"), "440.00");
    assert_eq!(balance(&dir, "5", "M2"), "0.00");
    let m1 = json(&dir.join("out-2026-Q4/statements/M1.json"));
    let annual = m1["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == "annual_true_up")
        .unwrap();
    // paid_ytd: 300.00 + 450.00 + 100.00; paid("2026-Q1") is the paid run's 300.00.
    assert_eq!(
        annual["note"],
        "year revenue 13000.00; quarters computed 800.00, paid 850.00 (Q1 300.00); draw balance 0"
    );
    let h = history(&dir);
    for q in ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"] {
        assert!(h.contains(&format!("{q}  closed")), "{h}");
    }
    assert!(h.contains("run 2    retro   approved"), "{h}");
    // Every recorded run reproduces byte for byte from the recorded inputs... except Q1,
    // whose sales changed since: verify names the file.
    assert!(ok(&dir, &l(&["verify", "5"])).contains("run 5: all 8 outputs are byte-identical"));
    let changed = fails(&dir, &l(&["verify", "1"]), 1);
    assert!(
        changed.contains("run 1: ") && changed.contains("inputs changed: sales.csv (was "),
        "{changed}"
    );
    assert!(changed.contains("the pack is unchanged"), "{changed}");
    assert!(
        changed.contains(
            "verify: run 1 of 2026-Q1 with the pack pack and the data of the pack, from "
        ),
        "{changed}"
    );
}

/// A ledger with Q1 run (1), approved and closed; Q2 run (2) as a draft.
fn q1_closed_q2_draft(name: &str) -> PathBuf {
    let dir = year(name);
    pay(&dir, "2026-Q1", "1");
    run_q(&dir, "2026-Q2", &[]);
    dir
}

/// Runs a step that must be refused with exit `code`, and checks its message and that the
/// ledger did not change.
fn refused(dir: &Path, args: &[&str], code: i32, message: &str) {
    let before = history(dir);
    let err = fails(dir, &l(args), code);
    assert!(err.contains(message), "expected {message:?} in:\n{err}");
    assert_eq!(history(dir), before, "the ledger changed after: {args:?}");
}

#[test]
fn refused_steps_say_why_and_change_nothing() {
    let dir = q1_closed_q2_draft("ledger-refused");
    let by = ["--by", "E. Petrova"];
    refused(
        &dir,
        &["close", "2026-Q1", "--run", "1", by[0], by[1]],
        1,
        "2026-Q1 is already closed (paid run 1, closed by E. Petrova at ",
    );
    refused(
        &dir,
        &["close", "2026-Q2", "--run", "2", by[0], by[1]],
        1,
        "run 2 is a draft; only an approved run can be closed: bonusrun approve 2 --by NAME first; nothing was changed",
    );
    refused(
        &dir,
        &["close", "2026-Q3", "--run", "2", by[0], by[1]],
        1,
        "run 2 is for 2026-Q2, not 2026-Q3; nothing was changed",
    );
    refused(
        &dir,
        &["approve", "42", by[0], by[1]],
        1,
        "no run 42 in the ledger ledger.db; its latest runs are 1, 2 (bonusrun history lists them all)",
    );
    refused(
        &dir,
        &["approve", "1", by[0], by[1]],
        1,
        "run 1 is already approved (by E. Petrova at ",
    );
    refused(
        &dir,
        &["reopen", "2026-Q3", "--reason", "typo", by[0], by[1]],
        1,
        "2026-Q3 is not closed; nothing to reopen",
    );
    refused(
        &dir,
        &["reopen", "2026-Q1", "--reason", " ", by[0], by[1]],
        2,
        "--reason must say why (got an empty value)",
    );
    refused(
        &dir,
        &["approve", "2", "--by", ""],
        2,
        "--by must name a person (got an empty value)",
    );
    // Q3 cannot close before Q2 once Q2 has an approved run (a draft alone holds up nothing).
    approve(&dir, "2");
    run_q(&dir, "2026-Q3", &[]);
    approve(&dir, "3");
    refused(
        &dir,
        &["close", "2026-Q3", "--run", "3", by[0], by[1]],
        1,
        "2026-Q2 is not closed, and 2026-Q3 comes after it; close the periods in order",
    );
    // --retro on an open period; a run without --by where a ledger exists.
    refused(
        &dir,
        &[
            "run", "--rules", "pack", "--period", "2026-Q2", "--out", "x", "--by", "I",
            "--retro",
        ],
        2,
        "--retro recalculates a closed period, and 2026-Q2 is open in the ledger ledger.db; run it without --retro",
    );
    refused(
        &dir,
        &["run", "--rules", "pack", "--period", "2026-Q2", "--out", "x"],
        2,
        "bonusrun run records a draft in the ledger ledger.db and needs who ran it: give --by NAME (or set BONUSRUN_BY), or --no-ledger to run without recording",
    );
    assert!(!dir.join("x").exists());
}

#[test]
fn a_failed_run_is_recorded_as_failed_and_cannot_be_approved() {
    let dir = year("ledger-failed");
    crate::util::edit(
        &dir.join("pack/rules.rhai"),
        "let commission = m.cur.revenue * param(\"rate\");",
        "let commission = m.cur.revenue * param(\"no_such_rate\");",
    );
    fails(
        &dir,
        &[
            "run",
            "--rules",
            "pack",
            "--period",
            "2026-Q1",
            "--ledger",
            "ledger.db",
            "--by",
            "Ivan",
        ],
        1,
    );
    assert!(!dir.join("bonusrun-out").exists());
    let h = history(&dir);
    assert!(
        h.contains("run 1    regular failed") && h.contains("no_such_rate"),
        "{h}"
    );
    refused(
        &dir,
        &["approve", "1", "--by", "E. Petrova"],
        1,
        "run 1 failed and cannot be approved: it stopped with \"rule error: ",
    );
    let err = fails(&dir, &l(&["verify", "1"]), 1);
    assert!(
        err.contains("run 1 failed; there are no outputs to compare"),
        "{err}"
    );
}

#[test]
fn adjustments_are_checked_against_managers_periods_and_the_ledger() {
    let dir = year("ledger-adjustments");
    pay(&dir, "2026-Q1", "1");
    let adjustments = dir.join("pack/data/adjustments.csv");
    let run = |dir: &Path| {
        fails(
            dir,
            &[
                "run",
                "--rules",
                "pack",
                "--period",
                "2026-Q2",
                "--out",
                "x",
                "--ledger",
                "ledger.db",
                "--by",
                "Ivan",
            ],
            1,
        )
    };
    crate::util::append(&adjustments, "M9,2026-Q2,10.00,Typo,CFO\n");
    let err = run(&dir);
    assert!(
        err.contains("adjustments.csv:3: column 'manager_id': adjustment for unknown manager_id 'M9'; it is not in managers.csv (did you mean"),
        "{err}"
    );
    std::fs::write(
        &adjustments,
        "manager_id,period,amount,reason,approved_by\nM1,2026-Q1,10.00,Late,CFO\n",
    )
    .unwrap();
    let err = run(&dir);
    assert!(
        err.contains("adjustments.csv:2: column 'period': 2026-Q1 is closed (paid run 1, closed by E. Petrova at ")
            && err.contains("put it in the next open period, 2026-Q2"),
        "{err}"
    );
    std::fs::write(
        &adjustments,
        "manager_id,period,amount,reason,approved_by\nM1,2026-05,10.00,Late,CFO\n",
    )
    .unwrap();
    let err = run(&dir);
    assert!(
        err.contains("adjustments.csv:2: column 'period': '2026-05' is a month, but the pack 'year' pays per quarter"),
        "{err}"
    );
    std::fs::write(
        &adjustments,
        "manager_id,period,amount,reason,approved_by,kind\nM1,2026-Q2,10.00,Late,CFO,draw\n",
    )
    .unwrap();
    let err = run(&dir);
    assert!(
        err.contains("adjustments.csv:2: column 'kind': kind 'draw' is made by bonusrun itself"),
        "{err}"
    );
    // Every failure above was recorded as failed, and nothing was written.
    assert!(!dir.join("x").exists());
    assert_eq!(history(&dir).matches("regular failed").count(), 4);
}

#[test]
fn without_by_and_without_a_ledger_a_run_records_nothing() {
    let dir = year("ledger-none");
    ok(
        &dir,
        &["run", "--rules", "pack", "--period", "2026-Q1", "--quiet"],
    );
    assert!(!dir.join("bonusrun.db").exists());
    let run = json(&dir.join("bonusrun-out/run.json"));
    assert!(run["ledger"].is_null());
    // No ledger: the draw is paid, nothing is recovered, the facts read zero.
    assert_eq!(payout(&dir, "bonusrun-out", "M2", "payout"), "1200.00");
    let err = fails(&dir, &["history"], 1);
    assert!(
        err.contains("no ledger at bonusrun.db (give --ledger PATH or set BONUSRUN_LEDGER; bonusrun run --by NAME creates one)"),
        "{err}"
    );
}

#[test]
fn run_json_names_the_recorded_run() {
    let dir = year("ledger-run-json");
    run_q(&dir, "2026-Q1", &[]);
    let run = json(&dir.join("out-2026-Q1/run.json"));
    assert_eq!(run["ledger"]["run_id"], 1);
    assert_eq!(run["ledger"]["status"], "draft");
    assert_eq!(run["ledger"]["kind"], "regular");
    assert_eq!(run["ledger"]["path"], "ledger.db");
}

#[test]
fn reopen_is_logged_reverses_balances_and_allows_a_new_close() {
    let dir = year("ledger-reopen");
    pay(&dir, "2026-Q1", "1");
    pay(&dir, "2026-Q2", "2");
    refused(
        &dir,
        &["reopen", "2026-Q1", "--reason", "late return", "--by", "CFO"],
        1,
        "2026-Q2 is closed and comes after 2026-Q1, so it carries balances from it; reopen 2026-Q2 first",
    );
    let said = ok(
        &dir,
        &l(&[
            "reopen",
            "2026-Q2",
            "--reason",
            "plan corrected",
            "--by",
            "CFO",
        ]),
    );
    assert!(
        said.contains(
            "Reopened 2026-Q2 (was paid by run 2); this is logged: \"plan corrected\", CFO, "
        ),
        "{said}"
    );
    // The recovery of Q2 is reversed: M2 owes 1000.00 again.
    assert_eq!(balance(&dir, "2", "M2"), "1000.00");
    let h = history(&dir);
    assert!(
        h.contains("2026-Q2  open") && h.contains("reopened 2026-Q2 (paid by run 2) by CFO at "),
        "{h}"
    );
    // The approved run can be closed again, and the balance moves again.
    close(&dir, "2026-Q2", "2");
    assert_eq!(balance(&dir, "2", "M2"), "700.00");
}

#[test]
fn a_second_retro_approved_first_makes_the_older_one_unapprovable() {
    let dir = year("ledger-two-retros");
    pay(&dir, "2026-Q1", "1");
    crate::util::append(
        &dir.join("pack/data/sales.csv"),
        "2026-03-30,C1,M1,P1,Dairy,-1,-1000.00,0\n",
    );
    run_q(&dir, "2026-Q1", &["--retro"]);
    ok(
        &dir,
        &[
            "run",
            "--rules",
            "pack",
            "--period",
            "2026-Q1",
            "--out",
            "r2",
            "--ledger",
            "ledger.db",
            "--by",
            "Ivan",
            "--retro",
            "--quiet",
        ],
    );
    approve(&dir, "3");
    refused(
        &dir,
        &["approve", "2", "--by", "CFO"],
        1,
        "retro run 3 of 2026-Q1 was approved after retro run 2 was computed, so approving 2 would pay the same differences twice; run --retro again",
    );
}

#[test]
fn a_run_computed_before_a_retro_was_approved_cannot_close() {
    let dir = year("ledger-stale");
    pay(&dir, "2026-Q1", "1");
    run_q(&dir, "2026-Q2", &[]);
    approve(&dir, "2");
    crate::util::append(
        &dir.join("pack/data/sales.csv"),
        "2026-03-30,C1,M1,P1,Dairy,-1,-1000.00,0\n",
    );
    run_q(&dir, "2026-Q1", &["--retro"]);
    approve(&dir, "3");
    refused(
        &dir,
        &["close", "2026-Q2", "--run", "2", "--by", "CFO"],
        1,
        "run 2 was computed against a ledger state that has changed since",
    );
}

#[test]
fn another_pack_version_in_the_same_year_needs_a_reason() {
    let dir = year("ledger-version");
    pay(&dir, "2026-Q1", "1");
    crate::util::edit(
        &dir.join("pack/pack.toml"),
        "version = \"1\"",
        "version = \"2\"",
    );
    run_q(&dir, "2026-Q2", &[]);
    approve(&dir, "2");
    refused(
        &dir,
        &["close", "2026-Q2", "--run", "2", "--by", "CFO"],
        1,
        "run 2 was made with pack year version 2, but 2026-Q1 of the same year was paid with version 1; closing with another version of the regulation needs --pack-change REASON",
    );
    let said = ok(
        &dir,
        &l(&[
            "close",
            "2026-Q2",
            "--run",
            "2",
            "--by",
            "CFO",
            "--pack-change",
            "new regulation from Q2",
        ]),
    );
    assert!(
        said.starts_with("Closed 2026-Q2: run 2 is the paid run"),
        "{said}"
    );
}

#[test]
fn another_pack_in_the_same_ledger_is_refused() {
    let dir = year("ledger-other-pack");
    run_q(&dir, "2026-Q1", &[]);
    crate::util::edit(
        &dir.join("pack/pack.toml"),
        "name = \"year\"",
        "name = \"other\"",
    );
    let err = fails(
        &dir,
        &[
            "run",
            "--rules",
            "pack",
            "--period",
            "2026-Q1",
            "--out",
            "x",
            "--ledger",
            "ledger.db",
            "--by",
            "Ivan",
        ],
        1,
    );
    assert!(
        err.contains("the ledger ledger.db holds runs of pack 'year', not 'other'; give each pack its own --ledger"),
        "{err}"
    );
}

/// Runs `args` with `BONUSRUN_TEST_KILL_AT=point` and expects the process to be killed.
fn killed_at(dir: &Path, point: &str, args: &[&str]) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bonusrun"))
        .args(args)
        .current_dir(dir)
        .env("BONUSRUN_TEST_KILL_AT", point)
        .env("BONUSRUN_CACHE_DIR", crate::util::test_cache_dir())
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(9),
        "not killed at {point}: {out:?}"
    );
}

#[test]
fn a_kill_during_close_or_run_leaves_the_ledger_as_before() {
    let dir = year("ledger-kill");
    pay(&dir, "2026-Q1", "1");
    run_q(&dir, "2026-Q2", &[]);
    let before = history(&dir);
    killed_at(&dir, "approve:in-txn", &l(&["approve", "2", "--by", "CFO"]));
    assert_eq!(history(&dir), before);
    approve(&dir, "2");
    let before = history(&dir);
    killed_at(
        &dir,
        "close:in-txn",
        &l(&["close", "2026-Q2", "--run", "2", "--by", "CFO"]),
    );
    assert_eq!(history(&dir), before);
    for point in ["run:staged", "run:in-txn"] {
        killed_at(
            &dir,
            point,
            &[
                "run",
                "--rules",
                "pack",
                "--period",
                "2026-Q2",
                "--out",
                "killed",
                "--ledger",
                "ledger.db",
                "--by",
                "Ivan",
            ],
        );
        assert_eq!(history(&dir), before, "after a kill at {point}");
        assert!(!dir.join("killed").exists());
    }
    // The next run tidies the staging left behind and is recorded as run 3.
    let said = ok(
        &dir,
        &[
            "run",
            "--rules",
            "pack",
            "--period",
            "2026-Q2",
            "--out",
            "killed",
            "--ledger",
            "ledger.db",
            "--by",
            "Ivan",
        ],
    );
    assert!(
        said.contains("Recorded run 3 (draft) for 2026-Q2"),
        "{said}"
    );
    close(&dir, "2026-Q2", "2");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".killed"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn a_run_killed_after_it_was_recorded_gets_its_outputs_put_in_place_by_the_next_run() {
    let dir = year("ledger-kill-committed");
    let args = [
        "run",
        "--rules",
        "pack",
        "--period",
        "2026-Q1",
        "--out",
        "out",
        "--ledger",
        "ledger.db",
        "--by",
        "Ivan",
    ];
    killed_at(&dir, "run:committed", &args);
    assert!(!dir.join("out").exists());
    assert!(history(&dir).contains("run 1    regular draft"));
    // The next run puts run 1's outputs in place, says so, and then keeps them.
    let out = crate::util::bonusrun(&dir, &args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("note: run 1 of the ledger ledger.db was recorded by a process (")
            && err.contains(
                "died before putting its outputs in place; they were put in place now at out"
            ),
        "{err}"
    );
    assert!(err.contains("it already exists and is kept"), "{err}");
    assert_eq!(json(&dir.join("out/run.json"))["ledger"]["run_id"], 1);
    assert!(ok(&dir, &l(&["verify", "1"])).contains("byte-identical"));
}

#[test]
fn two_processes_closing_one_period_one_wins_and_the_other_is_told() {
    let dir = year("ledger-race");
    pay(&dir, "2026-Q1", "1");
    run_q(&dir, "2026-Q2", &[]);
    approve(&dir, "2");
    let spawn = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_bonusrun"))
            .args(l(&["close", "2026-Q2", "--run", "2", "--by", "CFO"]))
            .current_dir(&dir)
            .env("BONUSRUN_TEST_PAUSE_AT", "close:in-txn:1500")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let won: Vec<_> = outs.iter().filter(|o| o.status.success()).collect();
    assert_eq!(won.len(), 1, "{outs:?}");
    let lost = outs.iter().find(|o| !o.status.success()).unwrap();
    let err = String::from_utf8_lossy(&lost.stderr);
    assert!(
        err.contains("2026-Q2 is already closed (paid run 2, closed by CFO at "),
        "{err}"
    );
    assert_eq!(history(&dir).matches("2026-Q2  closed").count(), 1);
}

#[test]
fn a_run_while_its_period_is_closed_elsewhere_records_nothing() {
    let dir = year("ledger-changed");
    pay(&dir, "2026-Q1", "1");
    run_q(&dir, "2026-Q2", &[]);
    approve(&dir, "2");
    let slow = std::process::Command::new(env!("CARGO_BIN_EXE_bonusrun"))
        .args(l(&[
            "run", "--rules", "pack", "--period", "2026-Q2", "--out", "slow", "--by", "Ivan",
        ]))
        .current_dir(&dir)
        .env("BONUSRUN_TEST_PAUSE_AT", "run:staged:4000")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The run has read the ledger and staged its outputs once its staging directory is
    // there; it then waits 4 s before recording, and the period is closed meanwhile.
    let started = std::time::Instant::now();
    while !std::fs::read_dir(&dir).unwrap().flatten().any(|e| {
        e.file_name()
            .to_string_lossy()
            .starts_with(".slow.staging-")
    }) {
        assert!(
            started.elapsed().as_secs() < 60,
            "the run never staged its outputs"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    close(&dir, "2026-Q2", "2");
    let out = slow.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the ledger ledger.db changed while this run was computed (2026-Q2 was closed by E. Petrova at ")
            && err.contains("nothing was recorded or written; run again"),
        "{err}"
    );
    assert!(!dir.join("slow").exists());
}

fn sha(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn a_file_that_is_not_a_ledger_is_refused_and_not_touched() {
    let dir = year("ledger-files");
    let run = |dir: &Path, ledger: &str| {
        fails(
            dir,
            &[
                "run", "--rules", "pack", "--period", "2026-Q1", "--out", "x", "--ledger", ledger,
                "--by", "Ivan",
            ],
            1,
        )
    };
    // Random bytes.
    let junk: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(dir.join("junk.db"), &junk).unwrap();
    let err = run(&dir, "junk.db");
    assert!(
        err.contains("junk.db is not a bonusrun ledger (it is not an SQLite database); the file was not changed"),
        "{err}"
    );
    assert_eq!(sha(&dir.join("junk.db")), junk);
    // Another application's SQLite file.
    {
        let c = rusqlite::Connection::open(dir.join("other.db")).unwrap();
        c.execute_batch("CREATE TABLE t(x); PRAGMA application_id = 7;")
            .unwrap();
    }
    let other = sha(&dir.join("other.db"));
    let err = run(&dir, "other.db");
    assert!(
        err.contains("other.db is an SQLite database but not a bonusrun ledger (application_id 7); the file was not changed"),
        "{err}"
    );
    assert_eq!(sha(&dir.join("other.db")), other);
    // A ledger of a newer schema.
    run_q(&dir, "2026-Q1", &[]);
    {
        let c = rusqlite::Connection::open(dir.join("ledger.db")).unwrap();
        c.execute_batch("PRAGMA user_version = 9;").unwrap();
    }
    let err = fails(&dir, &l(&["history"]), 1);
    assert!(
        err.contains("the ledger ledger.db has schema version 9, but this bonusrun knows versions up to 1; use a newer bonusrun; the file was not changed"),
        "{err}"
    );
}

#[test]
fn a_read_only_ledger_can_be_read_but_not_written() {
    use std::os::unix::fs::PermissionsExt;
    let dir = year("ledger-read-only");
    pay(&dir, "2026-Q1", "1");
    let db = dir.join("ledger.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = sha(&db);
    assert!(history(&dir).contains("2026-Q1  closed"));
    let err = fails(
        &dir,
        &[
            "run",
            "--rules",
            "pack",
            "--period",
            "2026-Q2",
            "--out",
            "x",
            "--ledger",
            "ledger.db",
            "--by",
            "Ivan",
        ],
        1,
    );
    // Root ignores file modes: then the run succeeds, and this check does not apply.
    assert!(
        err.contains("the ledger ledger.db is read-only; this step records in it: make it writable, choose another --ledger, or run with --no-ledger"),
        "{err}"
    );
    assert_eq!(sha(&db), before);
    assert!(!dir.join("x").exists());
}

#[test]
fn a_damaged_ledger_is_refused() {
    let dir = year("ledger-damaged");
    pay(&dir, "2026-Q1", "1");
    let db = dir.join("ledger.db");
    // Checkpoint the WAL into the main file, then cut the file in the middle.
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
    }
    let bytes = sha(&db);
    std::fs::write(&db, &bytes[..bytes.len() / 2]).unwrap();
    let err = fails(&dir, &l(&["approve", "1", "--by", "CFO"]), 1);
    assert!(
        err.contains("ledger.db is not a bonusrun ledger, or it is damaged")
            || err.contains("the ledger ledger.db is damaged (SQLite's quick_check: "),
        "{err}"
    );
    let _ = read(&dir.join("pack/pack.toml"));
}

#[test]
fn a_golden_case_can_hold_a_ledger_state() {
    let dir = year("ledger-golden");
    let case = dir.join("pack/tests/q4");
    std::fs::create_dir_all(case.join("expected")).unwrap();
    copy_dir(&dir.join("pack/data"), &case.join("data"));
    std::fs::remove_file(case.join("data/adjustments.csv")).unwrap();
    std::fs::write(case.join("case.toml"), "period = \"2026-Q4\"\n").unwrap();
    // M2 has paid 1200.00, 300.00 and 500.00 with 200.00, 600.00 and 1000.00 computed, and
    // owes 200.00 of its draw: Q4 pays 200.00 + 400.00 - 200.00 = 400.00. M1 and M3 have no
    // history: their annual true-ups are 12% of Q4 alone less Q4's commission (100.00, 60.00).
    std::fs::write(
        case.join("ledger.toml"),
        r#"[managers.M2]
draw_balance = "200.00"
paid = { "2026-Q1" = "1200.00", "2026-Q2" = "300.00", "2026-Q3" = "500.00" }
computed = { "2026-Q1" = "200.00", "2026-Q2" = "600.00", "2026-Q3" = "1000.00" }
[managers.M2.kpis]
"2026-Q1" = { revenue = ["2000", "1000"] }
"2026-Q2" = { revenue = ["6000", "1000"] }
"2026-Q3" = { revenue = ["10000", "1000"] }
"#,
    )
    .unwrap();
    std::fs::write(
        case.join("expected/payouts.csv"),
        "manager_id,name,period,currency,target_bonus,payout,revenue_attainment,computed,adjustment,true_up,clawback,guarantee,draw,recovery\n\
         M1,Anna,2026-Q4,RUB,1000.00,600.00,5,600.00,0.00,0.00,0.00,0.00,0.00,0.00\n\
         M2,Boris,2026-Q4,RUB,1000.00,400.00,2,600.00,0.00,0.00,0.00,0.00,0.00,-200.00\n\
         M3,Vera (hired in Q1),2026-Q4,RUB,1000.00,360.00,3,360.00,0.00,0.00,0.00,0.00,0.00,0.00\n",
    )
    .unwrap();
    let out = ok(&dir, &["test", "--rules", "pack"]);
    assert!(out.contains("q4"), "{out}");
    // The state can hold what a paid run saw of an earlier quarter: M1's Q2 was paid on
    // 5000.00 of revenue, the data now hold 4000.00, so with a 10% clawback Q4 takes back
    // 100.00 (M1: 600.00 - 100.00 = 500.00).
    crate::util::edit(
        &dir.join("pack/pack.toml"),
        "draw_recovery_share = 0.5",
        "draw_recovery_share = 0.5\nlate_sales = \"clawback\"\nclawback_rate = 0.1",
    );
    crate::util::append(
        &case.join("ledger.toml"),
        "[[managers.M1.seen_earlier]]\nperiod = \"2026-Q2\"\nrun = 2\nlines = 1\nrevenue = \"5000.00\"\n",
    );
    crate::util::edit(
        &case.join("expected/payouts.csv"),
        "M1,Anna,2026-Q4,RUB,1000.00,600.00,5,600.00,0.00,0.00,0.00,",
        "M1,Anna,2026-Q4,RUB,1000.00,500.00,5,600.00,0.00,0.00,-100.00,",
    );
    let out = ok(&dir, &["test", "--rules", "pack"]);
    assert!(out.contains("q4"), "{out}");
    // A ledger.toml of the wrong shape names its line.
    std::fs::write(
        case.join("ledger.toml"),
        "[managers.M2]\ndraw_balans = \"1\"\n",
    )
    .unwrap();
    let err = fails(&dir, &["test", "--rules", "pack"], 2);
    assert!(
        err.contains("ledger.toml:2: unknown field `draw_balans`"),
        "{err}"
    );
}

/// Runs examples/romashka-year/year.sh into `dir` with `rules`; returns its output.
fn romashka_year(dir: &Path, rules: &str) -> String {
    let out = std::process::Command::new("bash")
        .arg(crate::util::root().join("examples/romashka-year/year.sh"))
        .arg(dir)
        .env("BONUSRUN", env!("CARGO_BIN_EXE_bonusrun"))
        .env("RULES", crate::util::root().join(rules))
        .env("BONUSRUN_CACHE_DIR", crate::util::test_cache_dir())
        .env_remove("BONUSRUN_BY")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "year.sh failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn the_romashka_worked_year_of_the_readme_runs_as_shown() {
    let dir = scratch("ledger-romashka-year").join("year");
    let said = romashka_year(&dir, "rules/romashka");
    // The retro run's true-ups are the difference of the two runs' totals, to the cent.
    assert!(
        said.contains("Approved run 1 (2025-Q1, romashka 2026.1, total 1356713.73 RUB)"),
        "{said}"
    );
    assert!(
        said.contains("Approved retro run 2 (2025-Q1, romashka 2026.1, total 1354682.79 RUB)"),
        "{said}"
    );
    assert!(said.contains("true-ups total -2030.94 RUB"), "{said}");
    assert_eq!(payout(&dir, "out-2025-Q2", "M03", "true_up"), "-2030.94");
    assert_eq!(payout(&dir, "out-2025-Q2", "M07", "adjustment"), "15000.00");
    assert_eq!(payout(&dir, "out-2025-Q1", "M01", "payout"), "150000.00");
    assert_eq!(payout(&dir, "out-2025-Q1", "M05", "draw"), "120000.00");
    // M05's draw: Q2 recovers half of 156045.10 (78022.55), Q3 the rest (41977.45).
    assert_eq!(payout(&dir, "out-2025-Q2", "M05", "recovery"), "-78022.55");
    assert_eq!(payout(&dir, "out-2025-Q3", "M05", "recovery"), "-41977.45");
    let q4 = json(&dir.join("out-2025-Q4/statements/M01.json"));
    let annual: Vec<&serde_json::Value> = q4["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == "annual_true_up")
        .collect();
    assert_eq!(annual.len(), 2);
    assert!(
        said.contains("run 5: all 13 outputs are byte-identical"),
        "{said}"
    );
    // The ledger guide shows these totals.
    let readme = read(&crate::util::root().join("docs/ledger.md"));
    for figure in ["1356713.73", "-2030.94", "2061368.89"] {
        assert!(
            readme.contains(figure),
            "docs/ledger.md does not show {figure}"
        );
    }
    // The plugin port pays the same year to the cent.
    let wasm = scratch("ledger-romashka-year-wasm").join("year");
    crate::util::plugins();
    romashka_year(&wasm, "rules/romashka-wasm");
    for q in ["2025-Q1", "2025-Q1-retro", "2025-Q2", "2025-Q3", "2025-Q4"] {
        for file in ["payouts.csv", "kpis.csv"] {
            assert_eq!(
                read(&dir.join(format!("out-{q}/{file}"))),
                read(&wasm.join(format!("out-{q}/{file}"))),
                "{q} {file}"
            );
        }
    }
}

#[test]
fn a_ledger_section_naming_a_missing_table_or_a_bad_row_is_a_pack_error() {
    let dir = year("ledger-pack-errors");
    let manifest = dir.join("pack/pack.toml");
    crate::util::edit(
        &manifest,
        "guarantees = \"guarantees\"",
        "guarantees = \"guarantee\"",
    );
    let err = fails(&dir, &["check", "--rules", "pack"], 1);
    assert!(
        err.contains("[ledger] guarantees = 'guarantee': no such table in [tables] (did you mean 'guarantees'?)"),
        "{err}"
    );
    crate::util::edit(
        &manifest,
        "guarantees = \"guarantee\"",
        "guarantees = \"guarantees\"",
    );
    crate::util::edit(
        &manifest,
        "draw_recovery_share = 0.5",
        "draw_recovery_share = 1.5",
    );
    let err = fails(&dir, &["check", "--rules", "pack"], 1);
    assert!(
        err.contains(
            "[ledger] draw_recovery_share = 1.5: expected a share above 0 and at most 1, e.g. 0.5"
        ),
        "{err}"
    );
    crate::util::edit(
        &manifest,
        "draw_recovery_share = 1.5",
        "draw_recovery_share = 0.5",
    );
    std::fs::write(
        dir.join("pack/tables/draws.csv"),
        "manager_id,period,amount\nM2,2026-03,1000.00\n",
    )
    .unwrap();
    let err = fails(&dir, &["check", "--rules", "pack"], 1);
    assert!(
        err.contains("pack/tables/draws.csv:2: column 'period': 2026-03 is a month, but the pack pays per quarter; give a quarter such as"),
        "{err}"
    );
    std::fs::write(
        dir.join("pack/tables/draws.csv"),
        "manager_id,period,amount\nM2,2026-Q1,-5\n",
    )
    .unwrap();
    let err = fails(&dir, &["check", "--rules", "pack"], 1);
    assert!(
        err.contains(
            "pack/tables/draws.csv:2: column 'amount': found '-5', expected an amount of 0 or more"
        ),
        "{err}"
    );
}

#[test]
fn late_returns_are_seen_by_rules_and_clawed_back_when_the_pack_says_so() {
    let dir = year("ledger-clawback");
    let manifest = dir.join("pack/pack.toml");
    crate::util::edit(
        &manifest,
        "draw_recovery_share = 0.5",
        "draw_recovery_share = 0.5\nlate_sales = \"clawback\"\nclawback_rate = 0.1",
    );
    // The rules credit late sales to the open period at the commission rate.
    crate::util::edit(
        &dir.join("pack/rules.rhai"),
        "    lines\n}",
        "    if m.late.lines > 0 {\n        lines.push(#{ label: `late sales of ${m.late.period}`, amount: m.late.revenue * param(\"rate\"), kind: \"late\" });\n    }\n    lines\n}",
    );
    pay(&dir, "2026-Q1", "1");
    crate::util::append(
        &dir.join("pack/data/sales.csv"),
        "2026-03-30,C1,M1,P1,Dairy,-1,-1000.00,0\n",
    );
    run_q(&dir, "2026-Q2", &[]);
    // M1: commission 400.00, the late return credited -100.00 by the rules, adjustment
    // 150.00, and the clawback of 10% of the -1000.00 returned: -100.00. 350.00 in all.
    assert_eq!(payout(&dir, "out-2026-Q2", "M1", "clawback"), "-100.00");
    assert_eq!(payout(&dir, "out-2026-Q2", "M1", "computed"), "300.00");
    assert_eq!(payout(&dir, "out-2026-Q2", "M1", "payout"), "350.00");
    let m1 = json(&dir.join("out-2026-Q2/statements/M1.json"));
    let claw = m1["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == "clawback")
        .unwrap()
        .clone();
    assert_eq!(
        claw["label"],
        "Clawback 2026-Q1: late returns, revenue -1000.00"
    );
    assert_eq!(claw["settlement"]["ref_period"], "2026-Q1");
    assert_eq!(claw["settlement"]["ref_run"], 1);
    // Nobody else has late sales.
    assert_eq!(payout(&dir, "out-2026-Q2", "M2", "clawback"), "0.00");
    // Once a retro run of Q1 is approved, its true-ups pay the difference exactly, and the
    // late window is measured against what the retro run saw: no clawback twice.
    run_q(&dir, "2026-Q1", &["--retro"]);
    approve(&dir, "3");
    let out = ok(
        &dir,
        &[
            "run",
            "--rules",
            "pack",
            "--period",
            "2026-Q2",
            "--out",
            "q2-again",
            "--ledger",
            "ledger.db",
            "--by",
            "Ivan",
            "--quiet",
        ],
    );
    assert!(out.contains("Recorded run 4"), "{out}");
    assert_eq!(payout(&dir, "q2-again", "M1", "clawback"), "0.00");
    assert_eq!(payout(&dir, "q2-again", "M1", "true_up"), "-100.00");
    // A clawback without a rate is a pack error.
    crate::util::edit(&manifest, "clawback_rate = 0.1", "");
    let err = fails(&dir, &["check", "--rules", "pack"], 1);
    assert!(
        err.contains("[ledger] late_sales = \"clawback\" needs clawback_rate"),
        "{err}"
    );
}

#[test]
fn the_event_log_cannot_be_edited_and_explain_shows_an_adjustment() {
    let dir = year("ledger-events");
    pay(&dir, "2026-Q1", "1");
    let c = rusqlite::Connection::open(dir.join("ledger.db")).unwrap();
    for sql in [
        "UPDATE events SET who = 'someone else'",
        "DELETE FROM events",
    ] {
        let err = c.execute(sql, []).unwrap_err().to_string();
        assert!(err.contains("the event log is append-only"), "{sql}: {err}");
    }
    let events: i64 = c
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(events, 3); // run, approve, close
    let explained = ok(
        &dir,
        &[
            "explain",
            "--rules",
            "pack",
            "--period",
            "2026-Q2",
            "--manager",
            "M1",
        ],
    );
    assert!(
        explained.contains("Trade fair support [adjustment] - approved by E. Petrova (CFO); pack/data/adjustments.csv:2"),
        "{explained}"
    );
}

/// Reads payouts.csv into manager id → column → exact decimal.
fn payouts(
    path: &Path,
) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, rust_decimal::Decimal>> {
    let mut rdr = csv::Reader::from_path(path).unwrap();
    let header = rdr.headers().unwrap().clone();
    let mut out = std::collections::BTreeMap::new();
    for rec in rdr.records() {
        let rec = rec.unwrap();
        let mut row = std::collections::BTreeMap::new();
        for (h, v) in header.iter().zip(rec.iter()) {
            if let Ok(d) = v.parse::<rust_decimal::Decimal>() {
                row.insert(h.to_string(), d);
            }
        }
        out.insert(rec[0].to_string(), row);
    }
    out
}

/// A settlement column of a payouts.csv row; 0 when the run had no settlement line.
fn column(
    row: &std::collections::BTreeMap<String, rust_decimal::Decimal>,
    name: &str,
) -> rust_decimal::Decimal {
    row.get(name).copied().unwrap_or_default()
}

#[test]
fn a_year_on_generated_data_keeps_every_balance_identity() {
    use rust_decimal::Decimal;
    // The Romashka pack (M01's guarantee of 150 000.00 in 2025-Q1..Q2, M05's draw of
    // 120 000.00 in 2025-Q1 recovered at most half of each payout) on generated data.
    let dir = scratch("ledger-generated");
    ok(
        &dir,
        &[
            "generate",
            "--out",
            "data",
            "--managers",
            "6",
            "--clients",
            "60",
            "--sales",
            "20000",
            "--from",
            "2025-01",
            "--months",
            "12",
            "--seed",
            "7",
        ],
    );
    std::fs::write(
        dir.join("data/adjustments.csv"),
        "manager_id,period,amount,reason,approved_by\nM03,2025-Q2,1234.56,Fair,CFO\n",
    )
    .unwrap();
    let pack = crate::util::root().join("rules/romashka");
    let pack = pack.to_str().unwrap();
    let run = |q: &str, out: &str, extra: &[&str]| {
        let mut args = vec![
            "run",
            "--rules",
            pack,
            "--data",
            "data",
            "--period",
            q,
            "--out",
            out,
            "--ledger",
            "ledger.db",
            "--by",
            "Ivan",
            "--quiet",
        ];
        args.extend_from_slice(extra);
        ok(&dir, &args)
    };
    let settle = |q: &str, id: &str| {
        approve(&dir, id);
        close(&dir, q, id);
    };
    let kinds = [
        "computed",
        "adjustment",
        "true_up",
        "clawback",
        "guarantee",
        "draw",
        "recovery",
    ];
    let check_identity = |out: &str| {
        for (m, row) in payouts(&dir.join(out).join("payouts.csv")) {
            // Without any settlement line the run has no settlement columns, and its rule
            // lines are the payout.
            if !row.contains_key("computed") {
                continue;
            }
            let sum: Decimal = kinds.iter().map(|k| column(&row, k)).sum();
            assert_eq!(sum, row["payout"], "{out} {m}: the columns do not add up");
        }
    };
    run("2025-Q1", "q1", &[]);
    settle("2025-Q1", "1");
    let q1 = payouts(&dir.join("q1/payouts.csv"));
    check_identity("q1");
    let m01 = &q1["M01"];
    let minimum = Decimal::new(15_000_000, 2);
    assert_eq!(
        m01["guarantee"],
        (minimum - m01["computed"]).max(Decimal::ZERO)
    );
    assert_eq!(m01["payout"], m01["computed"].max(minimum));
    assert_eq!(q1["M05"]["draw"], Decimal::new(12_000_000, 2));
    let mut owed = Decimal::new(12_000_000, 2);
    assert_eq!(balance(&dir, "1", "M05"), owed.to_string());
    // A return dated in Q1 arrives after the close; the retro run's true-ups are the
    // differences of the two runs, paid with Q2.
    crate::util::append(
        &dir.join("data/sales.csv"),
        "2025-03-15,C0001,M02,P0001,Bakery,-10,-50000.00,-40000.00\n",
    );
    run("2025-Q1", "q1-retro", &["--retro"]);
    approve(&dir, "2");
    let retro = payouts(&dir.join("q1-retro/payouts.csv"));
    for (id, q) in [("3", "2025-Q2"), ("4", "2025-Q3"), ("5", "2025-Q4")] {
        run(q, q, &[]);
        settle(q, id);
        check_identity(q);
        let rows = payouts(&dir.join(q).join("payouts.csv"));
        if q == "2025-Q2" {
            for (m, row) in &rows {
                assert_eq!(
                    column(row, "true_up"),
                    retro[m]["payout"] - q1[m]["payout"],
                    "{m}: the true-up is not the difference of the two runs"
                );
            }
            assert_eq!(column(&rows["M03"], "adjustment"), Decimal::new(123_456, 2));
        }
        // M05's recovery: min(balance, half the payout before it, rounded down).
        let m05 = &rows["M05"];
        let base = m05["payout"] - column(m05, "recovery");
        let half = (base * Decimal::new(5, 1))
            .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToZero);
        let expected = if base > Decimal::ZERO {
            owed.min(half)
        } else {
            Decimal::ZERO
        };
        assert_eq!(-column(m05, "recovery"), expected, "{q}: M05's recovery");
        owed -= expected;
        let shown = balance(&dir, id, "M05");
        assert_eq!(
            shown.parse::<Decimal>().unwrap(),
            owed,
            "{q}: M05's balance"
        );
    }
    // The checks above had something to check: the return changed M02's pay, and the draw
    // was recovered.
    assert_ne!(retro["M02"]["payout"], q1["M02"]["payout"]);
    assert!(owed < Decimal::new(12_000_000, 2), "nothing was recovered");
    assert!(ok(&dir, &l(&["verify", "5"])).contains("byte-identical"));
}

#[test]
fn superseded_stale_and_retro_runs_are_refused_where_they_cannot_be_paid() {
    let dir = year("ledger-more-refusals");
    let by = ["--by", "CFO"];
    pay(&dir, "2026-Q1", "1");
    run_q(&dir, "2026-Q2", &[]);
    approve(&dir, "2");
    ok(
        &dir,
        &[
            "run",
            "--rules",
            "pack",
            "--period",
            "2026-Q2",
            "--out",
            "q2b",
            "--ledger",
            "ledger.db",
            "--by",
            "Ivan",
            "--quiet",
        ],
    );
    approve(&dir, "3");
    refused(
        &dir,
        &["close", "2026-Q2", "--run", "2", by[0], by[1]],
        1,
        "run 2 is not the latest approved run of 2026-Q2 (run 3 is); close with --run 3",
    );
    close(&dir, "2026-Q2", "3");
    refused(
        &dir,
        &["approve", "2", by[0], by[1]],
        1,
        "run 2 was superseded when 2026-Q2 was closed with another run",
    );
    run_q(&dir, "2026-Q1", &["--retro"]);
    ok(
        &dir,
        &l(&["reopen", "2026-Q2", "--reason", "r", by[0], by[1]]),
    );
    ok(
        &dir,
        &l(&["reopen", "2026-Q1", "--reason", "r", by[0], by[1]]),
    );
    refused(
        &dir,
        &["close", "2026-Q1", "--run", "4", by[0], by[1]],
        1,
        "run 4 is a retro run; a retro run is never paid",
    );
    refused(
        &dir,
        &["approve", "4", by[0], by[1]],
        1,
        "retro run 4 recalculated 2026-Q1 against paid run 1, but 2026-Q1 is no longer paid by run 1; run --retro again",
    );
}

#[test]
fn removed_lines_of_a_closed_period_are_not_taken_for_late_sales() {
    let dir = year("ledger-removed-lines");
    pay(&dir, "2026-Q1", "1");
    crate::util::edit(
        &dir.join("pack/data/sales.csv"),
        "2026-01-15,C1,M1,P1,Dairy,1,1000.00,0\n",
        "",
    );
    let out = crate::util::bonusrun(
        &dir,
        &[
            "run",
            "--rules",
            "pack",
            "--period",
            "2026-Q2",
            "--out",
            "q2",
            "--ledger",
            "ledger.db",
            "--by",
            "Ivan",
            "--quiet",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: manager M1: 2026-Q1 has 1 sales line(s) now but run 1 saw 2: lines were removed or changed, not only added, so late sales cannot be told; recalculate it with --retro"),
        "{err}"
    );
}

#[test]
fn a_clawback_rate_without_clawbacks_and_a_table_without_its_columns_are_pack_errors() {
    let dir = year("ledger-pack-errors-2");
    let manifest = dir.join("pack/pack.toml");
    crate::util::edit(
        &manifest,
        "draw_recovery_share = 0.5",
        "draw_recovery_share = 0.5\nclawback_rate = 0.1",
    );
    let err = fails(&dir, &["check", "--rules", "pack"], 1);
    assert!(
        err.contains("[ledger] clawback_rate applies only with late_sales = \"clawback\""),
        "{err}"
    );
    crate::util::edit(
        &manifest,
        "clawback_rate = 0.1",
        "late_sales = \"clawback\"\nclawback_rate = 2",
    );
    let err = fails(&dir, &["check", "--rules", "pack"], 1);
    assert!(
        err.contains(
            "[ledger] clawback_rate = 2: expected a share above 0 and at most 1, e.g. 0.03"
        ),
        "{err}"
    );
    crate::util::edit(&manifest, "clawback_rate = 2", "clawback_rate = 0.1");
    std::fs::write(
        dir.join("pack/tables/guarantees.csv"),
        "manager_id,from,minimum\nM3,2026-Q1,1\n",
    )
    .unwrap();
    let err = fails(&dir, &["check", "--rules", "pack"], 1);
    assert!(
        err.contains("guarantees.csv: has no column 'to', which [ledger] guarantees needs (manager_id, from, to, minimum); its columns are: manager_id, from, minimum"),
        "{err}"
    );
}

#[test]
fn late_returns_of_any_closed_period_of_the_year_are_clawed_back_per_period() {
    let dir = year("ledger-clawback-two");
    crate::util::edit(
        &dir.join("pack/pack.toml"),
        "draw_recovery_share = 0.5",
        "draw_recovery_share = 0.5\nlate_sales = \"clawback\"\nclawback_rate = 0.1",
    );
    crate::util::edit(
        &dir.join("pack/rules.rhai"),
        "    lines\n}",
        "    if m.late.lines > 0 {\n        lines.push(#{ label: `late ${m.late.period} ${m.late.revenue}`, amount: 0, kind: \"late\" });\n    }\n    lines\n}",
    );
    pay(&dir, "2026-Q1", "1");
    pay(&dir, "2026-Q2", "2");
    // Two returns arrive after Q2 is closed: one dated in Q1, one in Q2.
    crate::util::append(
        &dir.join("pack/data/sales.csv"),
        "2026-03-30,C1,M1,P1,Dairy,-1,-100.00,0\n2026-05-20,C1,M1,P1,Dairy,-1,-200.00,0\n",
    );
    run_q(&dir, "2026-Q3", &[]);
    // M1 in Q3: commission 100.00 (10% of 1000.00); clawbacks 10% of -100.00 (Q1, seen by
    // run 1) and of -200.00 (Q2, seen by run 2): -10.00 and -20.00. 70.00 in all.
    assert_eq!(payout(&dir, "out-2026-Q3", "M1", "clawback"), "-30.00");
    assert_eq!(payout(&dir, "out-2026-Q3", "M1", "payout"), "70.00");
    let m1 = json(&dir.join("out-2026-Q3/statements/M1.json"));
    let lines = m1["lines"].as_array().unwrap();
    let claws: Vec<(String, String, i64)> = lines
        .iter()
        .filter(|l| l["kind"] == "clawback")
        .map(|l| {
            (
                l["label"].as_str().unwrap().to_string(),
                l["amount"].as_str().unwrap().to_string(),
                l["settlement"]["ref_run"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        claws,
        [
            (
                "Clawback 2026-Q1: late returns, revenue -100.00".to_string(),
                "-10.00".to_string(),
                1
            ),
            (
                "Clawback 2026-Q2: late returns, revenue -200.00".to_string(),
                "-20.00".to_string(),
                2
            ),
        ]
    );
    // The rules see one late window over both periods.
    assert!(
        lines
            .iter()
            .any(|l| l["label"] == "late 2026-Q1..2026-Q2 -300.00"),
        "{lines:?}"
    );
    assert_eq!(payout(&dir, "out-2026-Q3", "M2", "clawback"), "0.00");
}

/// A ledger with closed periods asks each later run for their late sales. The previous
/// quarter's are in the facts (it is one of the run's windows), but an earlier quarter's
/// are not summed by the pushed-down query: such a `--facts` run is refused, and records
/// nothing.
#[test]
fn a_facts_run_is_refused_when_the_ledger_asks_for_late_sales_it_lacks() {
    let dir = year("ledger-facts-late");
    pay(&dir, "2026-Q1", "1");
    pay(&dir, "2026-Q2", "2");
    let pack = dir.join("pack");
    let facts =
        crate::pushdown::facts_by_duckdb(&dir, &pack, "2026-Q3", &pack.join("data/sales.csv"));
    let before = history(&dir);
    let err = crate::util::fails(
        &dir,
        &[
            "run",
            "--rules",
            "pack",
            "--period",
            "2026-Q3",
            "--facts",
            facts.to_str().unwrap(),
            "--out",
            "q3",
            "--ledger",
            "ledger.db",
            "--by",
            "Ivan",
        ],
        2,
    );
    assert!(
        err.contains("the ledger asks this run for late sales of closed periods, which the facts query does not sum; run on the sales (without --facts), or with --no-ledger"),
        "{err}"
    );
    assert!(!dir.join("q3").exists(), "a refused run wrote outputs");
    assert_eq!(history(&dir), before, "a refused run changed the ledger");
}

/// With only the previous quarter closed, its late sales come from a window the facts hold:
/// a `--facts` run pays what the run on the sales pays, late sales included.
#[test]
fn a_facts_run_after_a_closed_previous_quarter_pays_as_the_sales_pass() {
    let dir = year("ledger-facts-previous");
    pay(&dir, "2026-Q1", "1");
    let pack = dir.join("pack");
    let facts =
        crate::pushdown::facts_by_duckdb(&dir, &pack, "2026-Q2", &pack.join("data/sales.csv"));
    run_q(&dir, "2026-Q2", &[]);
    let facts = facts.to_str().unwrap();
    ok(
        &dir,
        &[
            "run",
            "--rules",
            "pack",
            "--period",
            "2026-Q2",
            "--facts",
            facts,
            "--out",
            "q2-facts",
            "--ledger",
            "ledger.db",
            "--by",
            "Ivan",
            "--quiet",
        ],
    );
    crate::util::same_payouts(
        &dir.join("out-2026-Q2"),
        &dir.join("q2-facts"),
        "the sales pass and DuckDB's facts, with 2026-Q1 closed",
    );
}
