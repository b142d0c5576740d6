//! Payouts worked out by hand on `tests/data/mini` (a month pack with two KPIs weighted
//! 0.5/0.5, a gate on margin at 80%, an accelerator of 2x above plan and a cap at 120%).
//!
//! The sales of 2026-03 (the default period: the data ends on 2026-04-01, so April is not
//! complete) give, per manager:
//!
//! | manager | revenue | margin | revenue att. | margin att. | lines | payout |
//! |---|---|---|---|---|---|---|
//! | M1 | 1000 | 700 | 1.0 | 0.7 (< 0.8) | gate: 0 | 0.00 |
//! | M2 | 1100 (a return of 100) | 700 | 1.1 | 1.0 | 50000 + 10000 accelerator + 50000 | 110000.00 |
//! | M3 | 1500 | 1000 | 1.5 | 1.0 | 50000 + 50000 accelerator + 50000 - 30000 cap | 120000.00 |
//! | M4 | 1000 | 500 | 1.0 | 1.0 | 500.005 + 500.005, rounded half-up | 1000.02 |
//!
//! Target bonuses are 100000.00, except M4's 1000.01, whose half is exactly half a kopeck.

use crate::util::*;

#[test]
fn payouts_match_the_hand_computation() {
    let dir = scratch("mini");
    let pack = fixture("mini");
    let stdout = ok(
        &dir,
        &["run", "--rules", pack.to_str().unwrap(), "--out", "out"],
    );
    assert!(stdout.contains("period 2026-03"), "{stdout}");
    let payouts = dir.join("out/payouts.csv");
    assert_eq!(
        read(&payouts),
        "manager_id,name,period,currency,target_bonus,payout,revenue_attainment,margin_attainment\n\
         M1,Gate Closed,2026-03,RUB,100000.00,0.00,1,0.7\n\
         M2,Accelerated,2026-03,RUB,100000.00,110000.00,1.1,1\n\
         M3,Capped,2026-03,RUB,100000.00,120000.00,1.5,1\n\
         M4,Midpoint,2026-03,RUB,1000.01,1000.02,1,1\n"
    );
    let run = json(&dir.join("out/run.json"));
    assert_eq!(run["total_payout"], "231000.02");
    assert_eq!(run["period"]["run"], "2026-03");
    assert_eq!(run["counts"]["sales_lines"], 8);

    // The gate: one zero line.
    let m1 = json(&dir.join("out/statements/M1.json"));
    assert_eq!(m1["lines"].as_array().unwrap().len(), 1);
    assert_eq!(m1["lines"][0]["kind"], "gate");
    assert_eq!(m1["payout"], "0.00");

    // The accelerator: its own line.
    let m2 = json(&dir.join("out/statements/M2.json"));
    let amounts: Vec<&str> = m2["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["amount"].as_str().unwrap())
        .collect();
    assert_eq!(amounts, ["50000.00", "10000.00", "50000.00"]);
    assert_eq!(m2["lines"][1]["kind"], "accelerator");
    assert_eq!(m2["facts"]["current"]["returns"], "100.00");

    // The cap: a negative line that brings the sum to 120% of the target bonus.
    let m3 = json(&dir.join("out/statements/M3.json"));
    let last = m3["lines"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "cap");
    assert_eq!(last["amount"], "-30000.00");

    // The midpoint: 500.005 rounds half-up to 500.01, once per line.
    let m4 = json(&dir.join("out/statements/M4.json"));
    assert_eq!(m4["lines"][0]["amount_exact"], "500.005");
    assert_eq!(m4["lines"][0]["amount"], "500.01");
    assert_eq!(m4["payout"], "1000.02");

    // kpis.csv: contribution is the money of the lines naming the KPI.
    let kpis = read(&dir.join("out/kpis.csv"));
    assert!(
        kpis.contains("M2,revenue,1100,1000,1.1,0.5,60000.00\n"),
        "{kpis}"
    );
    assert!(kpis.contains("M1,margin,700,1000,0.7,0.5,0.00\n"), "{kpis}");
}

#[test]
fn half_even_rounds_the_midpoint_down() {
    let dir = scratch("mini-half-even");
    let pack = dir.join("pack");
    copy_dir(&fixture("mini"), &pack);
    edit(
        &pack.join("pack.toml"),
        "rounding = \"half-up\"",
        "rounding = \"half-even\"",
    );
    ok(&dir, &["run", "--rules", "pack", "--out", "out"]);
    // 500.005 → 500.00 twice: M4 gets 1000.00 and the total drops by 2 kopecks.
    assert_eq!(
        csv_cell(&dir.join("out/payouts.csv"), "M4", "payout"),
        "1000.00"
    );
    assert_eq!(json(&dir.join("out/run.json"))["total_payout"], "231000.00");
}

#[test]
fn explicit_period_and_explain() {
    let dir = scratch("mini-explain");
    let pack = fixture("mini");
    let text = ok(
        &dir,
        &[
            "explain",
            "--rules",
            pack.to_str().unwrap(),
            "--period",
            "2026-03",
            "--manager",
            "M3",
        ],
    );
    assert!(
        text.contains("Manager M3 (Capped), period 2026-03"),
        "{text}"
    );
    assert!(text.contains("attainment 150%"), "{text}");
    assert!(text.contains("-30000.00  cap [cap]"), "{text}");
    assert!(text.contains("Payout: 120000.00 RUB"), "{text}");
    // explain writes nothing.
    assert!(!dir.join("bonusrun-out").exists());
}

#[test]
fn bundled_example_runs_with_no_flags() {
    let dir = scratch("bundled");
    let stdout = ok(&dir, &["run"]);
    assert!(stdout.contains("romashka 2026.1"), "{stdout}");
    assert!(stdout.contains("period 2026-Q2"), "{stdout}");
    let out = dir.join("bonusrun-out");
    for f in [
        "payouts.csv",
        "kpis.csv",
        "key_clients.csv",
        "run.json",
        "statements/M01.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // Reconciliation, checked independently: payouts add up to the total in run.json.
    let mut rdr = csv::Reader::from_path(out.join("payouts.csv")).unwrap();
    let mut total = rust_decimal::Decimal::ZERO;
    for rec in rdr.records() {
        let rec = rec.unwrap();
        let payout: rust_decimal::Decimal = rec[5].parse().unwrap();
        let statement = json(&out.join(format!("statements/{}.json", &rec[0])));
        let lines: rust_decimal::Decimal = statement["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                l["amount"]
                    .as_str()
                    .unwrap()
                    .parse::<rust_decimal::Decimal>()
                    .unwrap()
            })
            .sum();
        assert_eq!(lines, payout, "statement {} lines", &rec[0]);
        total += payout;
    }
    let run = json(&out.join("run.json"));
    assert_eq!(run["total_payout"].as_str().unwrap(), total.to_string());
    assert_eq!(run["pack"]["name"], "romashka");
    assert_eq!(run["inputs"].as_array().unwrap().len(), 5);
    // A second run into the same directory keeps it unless --force.
    let err = fails(&dir, &["run"], 1);
    assert!(err.contains("already exists and is kept"), "{err}");
    ok(&dir, &["run", "--force", "--quiet"]);
}

#[test]
fn check_validates_the_bundled_pack() {
    let dir = scratch("check");
    let out = ok(
        &dir,
        &[
            "check",
            "--rules",
            root().join("rules/romashka").to_str().unwrap(),
        ],
    );
    assert!(
        out.starts_with("ok: pack 'romashka' version 2026.1"),
        "{out}"
    );
    assert!(out.contains("6 KPI(s)"), "{out}");
    assert!(
        out.contains("  ledger: 1 guarantee(s), 1 draw(s); at most 0.5 of a payout recovers draws"),
        "{out}"
    );
}

#[test]
fn numbers_written_as_strings_in_params_stay_numbers() {
    let dir = scratch("mini-string-param");
    let pack = dir.join("pack");
    copy_dir(&fixture("mini"), &pack);
    edit(&pack.join("pack.toml"), "gate = 0.8", "gate = \"0.80\"");
    ok(&dir, &["run", "--rules", "pack", "--out", "out"]);
    // M1's margin attainment 0.7 is still below the gate.
    assert_eq!(
        csv_cell(&dir.join("out/payouts.csv"), "M1", "payout"),
        "0.00"
    );
}
