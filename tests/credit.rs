//! Who is credited with a sale, through the real binary: ownership over time
//! (`owners.csv`), split and overlay credit (`credits.csv`). The pack is `tests/data/ledger`
//! (10% commission on the quarter's revenue), run without a ledger. By hand, Q1:
//!
//! - C1 belongs to M1 until 2026-02-14 and to M2 from 2026-02-15; its lines name no manager.
//!   Its 1,000.00 on 2026-01-15 goes to M1, its 2,000.00 on 2026-02-15 to M2.
//! - C3 is split 60/40 between M3 and M1 from 2026-03-01. Its 100.00 on 2026-02-20 (before
//!   the split) stays with M3; its 1,000.01 on 2026-03-10 gives M3 600.006 and M1 400.004.
//! - M1: 1,000.00 + 400.004 = 1,400.004, commission 140.0004, paid 140.00.
//!   M2: 2,000.00 (C2) + 2,000.00 (C1) = 4,000.00, paid 400.00.
//!   M3: 100.00 + 600.006 = 700.006, paid 70.00.
//!   The company: 6,100.01, which the three managers' credit sums to exactly.
//! - With 10% overlay credit on C2 for M3: M3 gets 200.00 more (900.006, paid 90.00); the
//!   company stays 6,100.01.

use crate::util::{copy_dir, csv_cell, edit, fixture, json, ok, q1_run_fails, scratch};
use std::path::{Path, PathBuf};

const SALES: &str = "date,client_id,manager_id,product,category,quantity,amount,cost
2026-01-15,C1,,P1,Dairy,1,1000.00,0
2026-02-15,C1,,P1,Dairy,1,2000.00,0
2026-02-10,C2,M2,P1,Dairy,1,2000.00,0
2026-02-20,C3,M3,P1,Dairy,1,100.00,0
2026-03-10,C3,M3,P1,Dairy,1,1000.01,0
2026-04-15,C1,,P1,Dairy,1,4000.00,0
";

fn pack(name: &str) -> PathBuf {
    let dir = scratch(name);
    copy_dir(&fixture("ledger"), &dir.join("pack"));
    let data = dir.join("pack/data");
    std::fs::write(data.join("sales.csv"), SALES).unwrap();
    std::fs::write(
        data.join("owners.csv"),
        "client_id,manager_id,from,to\n\
         C1,M2,2026-02-15,\n\
         C1,M1,2020-01-01,2026-02-14\n",
    )
    .unwrap();
    std::fs::write(
        data.join("credits.csv"),
        "client_id,manager_id,share,from,to\n\
         C3,M3,0.6,2026-03-01,\n\
         C3,M1,0.4,2026-03-01,\n",
    )
    .unwrap();
    // The rules note the credited revenue, the company's and the lines.
    edit(
        &dir.join("pack/rules.rhai"),
        "kpi: \"revenue\", kind: \"kpi\" }];",
        "kpi: \"revenue\", kind: \"kpi\", note: `${m.cur.revenue} of ${m.company.revenue}, ${m.cur.lines} lines, ${m.contracts.len()} contracts` }];",
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

fn computed(dir: &Path, q: &str, manager: &str) -> String {
    csv_cell(
        &dir.join(format!("out-{q}/payouts.csv")),
        manager,
        "computed",
    )
}

fn note(dir: &Path, q: &str, manager: &str) -> String {
    let s = json(&dir.join(format!("out-{q}/statements/{manager}.json")));
    s["lines"][0]["note"].as_str().unwrap().to_string()
}

#[test]
fn a_transfer_on_a_date_and_a_60_40_split_credit_each_line_exactly() {
    let dir = pack("credit");
    run(&dir, "2026-Q1");
    assert_eq!(computed(&dir, "2026-Q1", "M1"), "140.00");
    assert_eq!(computed(&dir, "2026-Q1", "M2"), "400.00");
    assert_eq!(computed(&dir, "2026-Q1", "M3"), "70.00");
    assert_eq!(
        note(&dir, "2026-Q1", "M1"),
        "1400.004 of 6100.01, 2 lines, 0 contracts"
    );
    assert_eq!(
        note(&dir, "2026-Q1", "M2"),
        "4000.00 of 6100.01, 2 lines, 0 contracts"
    );
    assert_eq!(
        note(&dir, "2026-Q1", "M3"),
        "700.006 of 6100.01, 2 lines, 0 contracts"
    );
    let s = json(&dir.join("out-2026-Q1/statements/M1.json"));
    assert_eq!(s["lines"][0]["amount_exact"], "140.0004");
    // The client's own totals count each line once: C3 sold 1,100.01 in two lines.
    let explained = ok(
        &dir,
        &[
            "explain", "--rules", "pack", "--period", "2026-Q1", "--client", "C3",
        ],
    );
    assert!(
        explained
            .contains("Sales this period (2026-Q1): revenue 1100.01, margin 1100.01, 2 line(s)"),
        "{explained}"
    );
    let run_json = json(&dir.join("out-2026-Q1/run.json"));
    let names: Vec<&str> = run_json["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"owners.csv"), "{names:?}");
    assert!(names.contains(&"credits.csv"), "{names:?}");
    // Q2: C1 is still M2's; the split goes on.
    run(&dir, "2026-Q2");
    assert_eq!(computed(&dir, "2026-Q2", "M2"), "400.00");
    assert_eq!(computed(&dir, "2026-Q2", "M1"), "0.00");
}

#[test]
fn a_client_owned_over_time_has_the_owner_of_the_period_end() {
    let dir = pack("credit-owner");
    // A contract without a manager is credited to the owner on its renewal day.
    std::fs::write(
        dir.join("pack/data/contracts.csv"),
        "contract_id,client_id,manager_id,start,end,renewed_on\n\
         K1,C1,,2025-04-01,2026-03-31,2026-02-01\n\
         K2,C1,,2025-04-01,2026-03-31,2026-03-01\n",
    )
    .unwrap();
    run(&dir, "2026-Q1");
    assert!(note(&dir, "2026-Q1", "M1").ends_with("1 contracts"));
    assert!(note(&dir, "2026-Q1", "M2").ends_with("1 contracts"));
    let explained = ok(
        &dir,
        &[
            "explain", "--rules", "pack", "--period", "2026-Q1", "--client", "C1",
        ],
    );
    // The owner on the period's last day.
    assert!(explained.contains("; manager M2."), "{explained}");
}

#[test]
fn overlay_credit_is_paid_on_top_only_where_the_pack_says_so() {
    let dir = pack("credit-overlay");
    std::fs::write(
        dir.join("pack/data/credits.csv"),
        "client_id,manager_id,share,from,to,role\n\
         C3,M3,0.6,2026-03-01,,\n\
         C3,M1,0.4,2026-03-01,,split\n\
         C2,M3,0.1,,,overlay\n",
    )
    .unwrap();
    let err = q1_run_fails(&dir);
    assert!(err.contains("credits.csv:4"), "{err}");
    assert!(
        err.contains("overlay credit for manager 'M3', but the pack 'year' does not pay overlay credit; add [credit] overlay = true"),
        "{err}"
    );
    crate::util::append(&dir.join("pack/pack.toml"), "\n[credit]\noverlay = true\n");
    run(&dir, "2026-Q1");
    assert_eq!(computed(&dir, "2026-Q1", "M3"), "90.00");
    assert_eq!(
        note(&dir, "2026-Q1", "M3"),
        "900.006 of 6100.01, 3 lines, 0 contracts"
    );
    assert_eq!(computed(&dir, "2026-Q1", "M2"), "400.00");
}

fn owners_fail(name: &str, owners: &str) -> String {
    let dir = pack(name);
    std::fs::write(dir.join("pack/data/owners.csv"), owners).unwrap();
    q1_run_fails(&dir)
}

#[test]
fn an_ownership_history_with_overlaps_or_gaps_is_refused_naming_the_rows() {
    let err = owners_fail(
        "owners-overlap",
        "client_id,manager_id,from,to\nC1,M1,2020-01-01,2026-02-20\nC1,M2,2026-02-15,\n",
    );
    assert!(err.contains("owners.csv:3"), "{err}");
    assert!(
        err.contains("client 'C1' has two owners on 2026-02-15: this row (2026-02-15 on) overlaps line 2 (2020-01-01 to 2026-02-20)"),
        "{err}"
    );
    let err = owners_fail(
        "owners-gap",
        "client_id,manager_id,from,to\nC1,M1,2020-01-01,2026-02-10\nC1,M2,2026-02-15,\n",
    );
    assert!(
        err.contains("owners.csv:3: client 'C1' has no owner from 2026-02-11 to 2026-02-14: line 2 ends on 2026-02-10, and this row starts on 2026-02-15; close the gap"),
        "{err}"
    );
    let err = owners_fail(
        "owners-open",
        "client_id,manager_id,from,to\nC1,M1,2020-01-01,\nC1,M2,2026-02-15,\n",
    );
    assert!(
        err.contains("owners.csv:3: client 'C1' changes owner on 2026-02-15, but line 2 says its owner from 2020-01-01 has no end; give that row a 'to' of 2026-02-14"),
        "{err}"
    );
    let err = owners_fail(
        "owners-backwards",
        "client_id,manager_id,from,to\nC1,M1,2026-02-01,2026-01-01\n",
    );
    assert!(
        err.contains("owners.csv:2: column 'to': 'to' (2026-01-01) is before 'from' (2026-02-01)"),
        "{err}"
    );
    let err = owners_fail(
        "owners-unknown",
        "client_id,manager_id,from,to\nC1,M9,2020-01-01,\n",
    );
    assert!(
        err.contains(
            "owners.csv:2: column 'manager_id': unknown manager_id 'M9'; it is not in managers.csv"
        ),
        "{err}"
    );
    // A line dated before the client's history has no one to credit.
    let err = owners_fail(
        "owners-late-start",
        "client_id,manager_id,from,to\nC1,M1,2026-02-01,2026-02-14\nC1,M2,2026-02-15,\n",
    );
    assert!(
        err.contains("sales.csv:2: column 'manager_id': the line names no manager, and pack/data/owners.csv gives client 'C1' no owner on 2026-01-15 (its history runs from 2026-02-01)"),
        "{err}"
    );
}

#[test]
fn an_owner_in_two_places_or_none_at_all_is_refused() {
    let dir = pack("owners-twice");
    edit(
        &dir.join("pack/data/clients.csv"),
        "strategic\n",
        "strategic,manager_id\n",
    );
    edit(
        &dir.join("pack/data/clients.csv"),
        "Moscow,2020-01-01,0.1,false\nC2",
        "Moscow,2020-01-01,0.1,false,M1\nC2",
    );
    edit(
        &dir.join("pack/data/clients.csv"),
        "C2,Client Two,Retail,Moscow,2020-01-01,0.1,false\n",
        "C2,Client Two,Retail,Moscow,2020-01-01,0.1,false,\n",
    );
    edit(
        &dir.join("pack/data/clients.csv"),
        "Kazan,2020-01-01,0.1,false\n",
        "Kazan,2020-01-01,0.1,false,\n",
    );
    let err = q1_run_fails(&dir);
    assert!(
        err.contains("owners.csv:2: column 'client_id': client 'C1' also has a manager_id in clients.csv; give its owner in one place"),
        "{err}"
    );
    // Without owners.csv, a line must name its manager.
    let dir = pack("owners-none");
    std::fs::remove_file(dir.join("pack/data/owners.csv")).unwrap();
    let err = q1_run_fails(&dir);
    assert!(
        err.contains("sales.csv:2: column 'manager_id': the line names no manager; give its manager_id, or an owners.csv that says who owns client 'C1' on each date"),
        "{err}"
    );
    // Nor may the column be left out.
    let dir = pack("owners-no-column");
    std::fs::remove_file(dir.join("pack/data/owners.csv")).unwrap();
    std::fs::write(
        dir.join("pack/data/sales.csv"),
        "date,client_id,amount\n2026-01-15,C1,10\n",
    )
    .unwrap();
    let err = q1_run_fails(&dir);
    assert!(
        err.contains("sales.csv:1: required column 'manager_id' is missing; the header has: date, client_id, amount (it may be left out when an owners.csv says who owns each client when)"),
        "{err}"
    );
}

fn credits_fail(name: &str, credits: &str) -> String {
    let dir = pack(name);
    std::fs::write(dir.join("pack/data/credits.csv"), credits).unwrap();
    q1_run_fails(&dir)
}

#[test]
fn a_split_that_does_not_sum_to_one_or_overlaps_another_is_refused() {
    let err = credits_fail(
        "credits-sum",
        "client_id,manager_id,share,from,to\nC3,M3,0.6,2026-03-01,\nC3,M1,0.3,2026-03-01,\n",
    );
    assert!(
        err.contains("credits.csv:2: the split of client 'C3' (2026-03-01 on, lines 2, 3) has shares summing to 0.9, expected exactly 1"),
        "{err}"
    );
    let err = credits_fail(
        "credits-overlap",
        "client_id,manager_id,share,from,to\nC3,M3,1,2026-01-01,2026-03-31\nC3,M1,1,2026-03-01,\n",
    );
    assert!(
        err.contains("credits.csv:3: client 'C3' has two splits at once: line 3 (2026-03-01 on) overlaps line 2 (2026-01-01 to 2026-03-31)"),
        "{err}"
    );
    let err = credits_fail("credits-share", "client_id,manager_id,share\nC3,M3,60\n");
    assert!(
        err.contains("credits.csv:2: column 'share': found 60, expected a share above 0 and at most 1 (0.6 for 60%)"),
        "{err}"
    );
    let err = credits_fail(
        "credits-twice",
        "client_id,manager_id,share\nC3,M3,0.5\nC3,M3,0.5\n",
    );
    assert!(
        err.contains("credits.csv:3: column 'manager_id': manager 'M3' is already in this split of client 'C3' (line 2)"),
        "{err}"
    );
    let err = credits_fail(
        "credits-role",
        "client_id,manager_id,share,role\nC3,M3,1,shared\n",
    );
    assert!(
        err.contains(
            "credits.csv:2: column 'role': found 'shared', expected split (the default) or overlay"
        ),
        "{err}"
    );
    let err = credits_fail("credits-client", "client_id,manager_id,share\nC9,M3,1\n");
    assert!(
        err.contains(
            "credits.csv:2: column 'client_id': unknown client_id 'C9'; it is not in clients.csv"
        ),
        "{err}"
    );
}

/// M3 reports to M2, who reports to M1: M1's team is everyone, M2's is M2 and M3.
const TEAM: &str = "manager_id,name,target_bonus,reports_to\n\
                    M1,Anna,1000.00,\n\
                    M2,Boris,1000.00,M1\n\
                    M3,Vera,1000.00,M2\n";

#[test]
fn a_two_level_team_sums_its_credited_sales() {
    let dir = pack("team");
    std::fs::write(dir.join("pack/data/managers.csv"), TEAM).unwrap();
    edit(
        &dir.join("pack/rules.rhai"),
        "note: `${m.cur.revenue} of ${m.company.revenue}, ${m.cur.lines} lines, ${m.contracts.len()} contracts`",
        "note: `team ${m.team_cur.revenue} in ${m.team_cur.lines} lines, ${m.team_size} people under '${m.reports_to}', ${m.reports.len()} reports; before ${m.team_prev.revenue}`",
    );
    run(&dir, "2026-Q1");
    // The head's team holds every credited line: the company's 6,100.01 (at the shares'
    // three decimals); the 60/40 split
    // of C3 between M3 and M1 counts in full, as two credited lines.
    assert_eq!(
        note(&dir, "2026-Q1", "M1"),
        "team 6100.010 in 6 lines, 3 people under '', 1 reports; before 0"
    );
    // M2's team: M2's 4,000.00 and M3's 700.006.
    assert_eq!(
        note(&dir, "2026-Q1", "M2"),
        "team 4700.006 in 4 lines, 2 people under 'M1', 1 reports; before 0"
    );
    // A team of one is the manager's own sales.
    assert_eq!(
        note(&dir, "2026-Q1", "M3"),
        "team 700.006 in 2 lines, 1 people under 'M2', 0 reports; before 0"
    );
}

#[test]
fn a_reporting_cycle_or_an_unknown_head_is_refused_naming_the_chain() {
    let dir = pack("team-cycle");
    std::fs::write(
        dir.join("pack/data/managers.csv"),
        "manager_id,name,target_bonus,reports_to\nM1,Anna,1000.00,M3\nM2,Boris,1000.00,M1\nM3,Vera,1000.00,M2\n",
    )
    .unwrap();
    let err = q1_run_fails(&dir);
    assert!(
        err.contains("managers.csv:2: column 'reports_to': reports_to makes a cycle: M1 → M3 → M2 → M1; a team has one head"),
        "{err}"
    );
    std::fs::write(
        dir.join("pack/data/managers.csv"),
        "manager_id,name,target_bonus,reports_to\nM1,Anna,1000.00,\nM2,Boris,1000.00,M2\nM3,Vera,1000.00,\n",
    )
    .unwrap();
    let err = q1_run_fails(&dir);
    assert!(
        err.contains("managers.csv:3: column 'reports_to': reports_to makes a cycle: M2 → M2"),
        "{err}"
    );
    std::fs::write(
        dir.join("pack/data/managers.csv"),
        "manager_id,name,target_bonus,reports_to\nM1,Anna,1000.00,\nM2,Boris,1000.00,M11\nM3,Vera,1000.00,\n",
    )
    .unwrap();
    let err = q1_run_fails(&dir);
    assert!(
        err.contains("managers.csv:3: column 'reports_to': unknown manager_id 'M11'; it is not in managers.csv (did you mean 'M1'?)"),
        "{err}"
    );
}

#[test]
fn a_contract_without_a_manager_needs_an_owner_on_its_day() {
    let dir = pack("contract-no-owner");
    // C1's history starts in 2020: a renewal counted in 2019 has no owner.
    std::fs::write(
        dir.join("pack/data/contracts.csv"),
        "contract_id,client_id,manager_id,start,end,renewed_on\nK1,C1,,2018-01-01,2019-03-31,\n",
    )
    .unwrap();
    let err = q1_run_fails(&dir);
    assert!(
        err.contains("contracts.csv:2: column 'manager_id': is empty, and owners.csv gives client 'C1' no owner on 2019-03-31; name the manager"),
        "{err}"
    );
    // A client without a history at all.
    std::fs::write(
        dir.join("pack/data/contracts.csv"),
        "contract_id,client_id,manager_id,start,end,renewed_on\nK1,C2,,2025-04-01,2026-03-31,\n",
    )
    .unwrap();
    let err = q1_run_fails(&dir);
    assert!(
        err.contains("contracts.csv:2: column 'manager_id': is empty; name the manager, or give client 'C2' an owner in owners.csv"),
        "{err}"
    );
}
