//! Payees as they really are, through the real binary: proration for managers hired or
//! leaving during the period (managers.csv `start` and `end`, `[payout] prorate = "days"`).
//! The pack is `tests/data/ledger` (10% commission on the quarter's revenue, a guaranteed
//! 500.00 for M3 in Q1 and Q2, an adjustment of 150.00 for M1 in Q2), run without a ledger.
//! By hand:
//!
//! - M3 starts on 2026-02-15: 45 of Q1's 90 days. Commission 100.00, cut by 50.00 to 50.00;
//!   the guarantee tops it up by 450.00 to 500.00.
//! - M1 leaves on 2026-05-15: 45 of Q2's 91 days. Commission 400.00 x 45 / 91 =
//!   197.802197...; the cut is -202.197802..., rounded half-up to -202.20; with the
//!   adjustment, 400.00 - 202.20 + 150.00 = 347.80.
//! - In Q3 M1 is not in the role: the commission of 100.00 on a sale booked to M1 is cancelled.

use crate::util::{copy_dir, csv_cell, edit, fails, fixture, json, ok, scratch};
use std::path::{Path, PathBuf};

fn pack(name: &str) -> PathBuf {
    let dir = scratch(name);
    copy_dir(&fixture("ledger"), &dir.join("pack"));
    let managers = dir.join("pack/data/managers.csv");
    std::fs::write(
        &managers,
        "manager_id,name,target_bonus,start,end\n\
         M1,Anna,1000.00,2020-01-01,2026-05-15\n\
         M2,Boris,1000.00,,\n\
         M3,Vera (hired in Q1),1000.00,2026-02-15,\n",
    )
    .unwrap();
    crate::util::append(
        &dir.join("pack/pack.toml"),
        "\n[payout]\nprorate = \"days\"\n",
    );
    // The rules note what they see of the days in the role.
    edit(
        &dir.join("pack/rules.rhai"),
        "kpi: \"revenue\", kind: \"kpi\" }];",
        "kpi: \"revenue\", kind: \"kpi\", note: `${m.days_active}/${m.period_days} ${m.proration}` }];",
    );
    dir
}

fn run(dir: &Path, q: &str) -> String {
    ok(
        dir,
        &[
            "run",
            "--rules",
            "pack",
            "--period",
            q,
            "--out",
            &format!("out-{q}"),
            "--no-ledger",
        ],
    )
}

fn cell(dir: &Path, q: &str, manager: &str, column: &str) -> String {
    csv_cell(&dir.join(format!("out-{q}/payouts.csv")), manager, column)
}

fn lines(dir: &Path, q: &str, manager: &str) -> Vec<(String, String, String)> {
    let s = json(&dir.join(format!("out-{q}/statements/{manager}.json")));
    s["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["label"].as_str().unwrap().to_string(),
                l["amount"].as_str().unwrap().to_string(),
                l["note"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_hire_and_a_leaver_are_paid_for_their_days_in_the_role() {
    let dir = pack("prorate");
    run(&dir, "2026-Q1");
    assert_eq!(cell(&dir, "2026-Q1", "M3", "computed"), "50.00");
    assert_eq!(cell(&dir, "2026-Q1", "M3", "guarantee"), "450.00");
    assert_eq!(cell(&dir, "2026-Q1", "M3", "payout"), "500.00");
    assert_eq!(cell(&dir, "2026-Q1", "M1", "payout"), "300.00");
    let m3 = lines(&dir, "2026-Q1", "M3");
    assert_eq!(
        m3[0],
        ("commission".into(), "100.00".into(), "45/90 0.50".into())
    );
    assert_eq!(
        m3[1],
        (
            "Proration 45/90 days: commission".into(),
            "-50.00".into(),
            "in the role from 2026-02-15: 45 of the 90 days of 2026-Q1".into()
        )
    );

    run(&dir, "2026-Q2");
    assert_eq!(cell(&dir, "2026-Q2", "M1", "payout"), "347.80");
    let m1 = lines(&dir, "2026-Q2", "M1");
    assert_eq!(m1[0].2, "45/91 0.4945054945054945054945054945");
    assert_eq!(m1[1].0, "Proration 45/91 days: commission");
    assert_eq!(m1[1].1, "-202.20");
    let s = json(&dir.join("out-2026-Q2/statements/M1.json"));
    assert_eq!(s["lines"][1]["kind"], "proration");
    assert_eq!(s["lines"][1]["kpi"], "revenue");
    assert_eq!(
        s["lines"][1]["amount_exact"],
        "-202.1978021978021978021978022"
    );

    run(&dir, "2026-Q3");
    assert_eq!(cell(&dir, "2026-Q3", "M1", "payout"), "0.00");
    assert_eq!(
        lines(&dir, "2026-Q3", "M1")[1].0,
        "Not in the role: commission"
    );
    // The statement says why.
    let s = json(&dir.join("out-2026-Q3/statements/M1.json"));
    assert_eq!(
        s["warnings"][0],
        "not in the role in 2026-Q3 (2020-01-01 to 2026-05-15): no bonus for the period; adjustments, true-ups, clawbacks and draws still apply"
    );
    // M2 has no dates: never prorated.
    assert_eq!(lines(&dir, "2026-Q3", "M2").len(), 1);
}

#[test]
fn without_prorate_only_a_manager_outside_the_role_is_cut() {
    let dir = pack("prorate-none");
    edit(
        &dir.join("pack/pack.toml"),
        "prorate = \"days\"",
        "prorate = \"none\"",
    );
    run(&dir, "2026-Q2");
    // M1 is in the role for part of Q2: paid in full (rules may prorate with m.proration).
    assert_eq!(cell(&dir, "2026-Q2", "M1", "payout"), "550.00");
    run(&dir, "2026-Q3");
    assert_eq!(cell(&dir, "2026-Q3", "M1", "payout"), "0.00");
}

#[test]
fn role_dates_and_the_payout_section_are_checked() {
    let dir = pack("prorate-bad");
    edit(
        &dir.join("pack/data/managers.csv"),
        "M1,Anna,1000.00,2020-01-01,2026-05-15",
        "M1,Anna,1000.00,2020-01-01,2019-05-15",
    );
    let err = fails(
        &dir,
        &[
            "run", "--rules", "pack", "--period", "2026-Q1", "--out", "x",
        ],
        1,
    );
    assert!(err.contains("managers.csv:2"), "{err}");
    assert!(
        err.contains("manager M1: end 2019-05-15 is before start 2020-01-01; end is the last day in the role"),
        "{err}"
    );
    edit(
        &dir.join("pack/data/managers.csv"),
        "2020-01-01,2019-05-15",
        "2020-01-01,15.05.2026",
    );
    let err = fails(
        &dir,
        &[
            "run", "--rules", "pack", "--period", "2026-Q1", "--out", "x",
        ],
        1,
    );
    assert!(err.contains("managers.csv:2"), "{err}");
    assert!(err.contains("15.05.2026"), "{err}");
    assert!(!dir.join("x").exists());
    let dir = pack("prorate-weeks");
    edit(
        &dir.join("pack/pack.toml"),
        "prorate = \"days\"",
        "prorate = \"weeks\"",
    );
    let err = fails(&dir, &["check", "--rules", "pack"], 1);
    assert!(
        err.contains("unknown variant `weeks`, expected `none` or `days`"),
        "{err}"
    );
}

#[test]
fn the_pack_may_give_the_target_bonus_that_managers_csv_leaves_out() {
    let dir = scratch("pack-target-bonus");
    copy_dir(&fixture("ledger"), &dir.join("pack"));
    let managers = dir.join("pack/data/managers.csv");
    std::fs::write(
        &managers,
        "manager_id,name,target_bonus\nM1,Anna,\nM2,Boris,2000.00\nM3,Vera,\n",
    )
    .unwrap();
    // Without a default, the empty cell is an error naming the row.
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
            "--no-ledger",
        ],
        1,
    );
    assert!(
        err.contains("managers.csv:2: column 'target_bonus': manager M1 has no target_bonus, and the pack 'year' gives no default; fill it in, or set [payout] target_bonus in pack.toml"),
        "{err}"
    );
    assert!(!dir.join("x").exists());
    crate::util::append(
        &dir.join("pack/pack.toml"),
        "\n[payout]\ntarget_bonus = 1500\n",
    );
    run(&dir, "2026-Q1");
    let target = |m: &str| csv_cell(&dir.join("out-2026-Q1/payouts.csv"), m, "target_bonus");
    assert_eq!(target("M1"), "1500.00");
    assert_eq!(target("M2"), "2000.00");
    assert_eq!(target("M3"), "1500.00");
    // The same without the column at all; the regulation document says it.
    std::fs::write(&managers, "manager_id,name\nM1,Anna\nM2,Boris\nM3,Vera\n").unwrap();
    run(&dir, "2026-Q2");
    assert_eq!(
        csv_cell(&dir.join("out-2026-Q2/payouts.csv"), "M2", "target_bonus"),
        "1500.00"
    );
    ok(&dir, &["doc", "--rules", "pack", "--out", "doc"]);
    let doc = crate::util::read(&dir.join("doc/regulation.md"));
    assert!(
        doc.contains("The target bonus, paid at 100% attainment, is 1500.00 RUB per quarter for every manager whose row of managers.csv gives none."),
        "{doc}"
    );
    // A negative default is refused when the pack loads.
    edit(
        &dir.join("pack/pack.toml"),
        "target_bonus = 1500",
        "target_bonus = -1",
    );
    let err = fails(&dir, &["check", "--rules", "pack"], 1);
    assert!(
        err.contains("[payout] target_bonus = -1: expected an amount of 0 or more"),
        "{err}"
    );
}
