//! Sales in several currencies, through the real binary: `sales.csv` `currency` and
//! `fx_rates.csv`. The pack is `tests/data/ledger` (RUB, 10% commission on the quarter's
//! revenue), run without a ledger. By hand, Q1:
//!
//! - M1 sold 10.00 EUR (cost 4.00) on 2026-01-20: the rate in force is 100.00 (2026-01-01),
//!   so 1,000.00 RUB of revenue and 400.00 of cost; commission 100.00.
//! - M2 sold 10.00 EUR on 2026-02-15: at 102.50 (2026-02-01), 1,025.00; commission 102.50.
//! - M3 sold 1,000.00 with no currency and 500.00 RUB: 1,500.00; commission 150.00.
//! - The March EUR rate and the USD rate convert no line, so the run does not list them.
//! - With `[fx] rates = "period_average"`, EUR converts at the mean of Q1's three EUR rates,
//!   (100.00 + 102.50 + 99.1234) / 3 = 100.5411333..., to 6 decimals 100.541133: 10.00 EUR
//!   is 1,005.41133 RUB, a commission of 100.541133, paid 100.54.

use crate::util::{append, copy_dir, csv_cell, edit, fixture, json, ok, q1_run_fails, scratch};
use serde_json::json;
use std::path::{Path, PathBuf};

const SALES: &str = "date,client_id,manager_id,product,category,quantity,amount,cost,currency
2026-01-20,C1,M1,P1,Dairy,1,10.00,4.00,EUR
2026-02-15,C2,M2,P1,Dairy,1,10.00,0,EUR
2026-03-10,C3,M3,P1,Dairy,1,1000.00,0,
2026-03-11,C3,M3,P1,Dairy,1,500.00,0,RUB
";

const RATES: &str = "date,from,to,rate
2026-01-01,EUR,RUB,100.00
2026-02-01,EUR,RUB,102.50
2026-03-01,EUR,RUB,99.1234
2026-01-01,USD,RUB,90
";

fn pack(name: &str) -> PathBuf {
    let dir = scratch(name);
    copy_dir(&fixture("ledger"), &dir.join("pack"));
    let data = dir.join("pack/data");
    std::fs::write(data.join("sales.csv"), SALES).unwrap();
    std::fs::write(data.join("fx_rates.csv"), RATES).unwrap();
    edit(
        &dir.join("pack/rules.rhai"),
        "kpi: \"revenue\", kind: \"kpi\" }];",
        "kpi: \"revenue\", kind: \"kpi\", note: `${m.cur.revenue} margin ${m.cur.margin}` }];",
    );
    dir
}

fn run(dir: &Path) {
    ok(
        dir,
        &[
            "run",
            "--rules",
            "pack",
            "--period",
            "2026-Q1",
            "--out",
            "out",
            "--no-ledger",
        ],
    );
}

fn computed(dir: &Path, manager: &str) -> String {
    csv_cell(&dir.join("out/payouts.csv"), manager, "computed")
}

#[test]
fn a_eur_line_converts_at_the_rate_of_its_date_and_the_run_lists_the_rates_used() {
    let dir = pack("fx");
    run(&dir);
    assert_eq!(computed(&dir, "M1"), "100.00");
    assert_eq!(computed(&dir, "M2"), "102.50");
    assert_eq!(computed(&dir, "M3"), "150.00");
    let m1 = json(&dir.join("out/statements/M1.json"));
    assert_eq!(m1["lines"][0]["note"], "1000.0000 margin 600.0000");
    let rates = json!([
        {"from": "EUR", "to": "RUB", "rate": "100.00", "date": "2026-01-01", "source": "pack/data/fx_rates.csv line 2"},
        {"from": "EUR", "to": "RUB", "rate": "102.50", "date": "2026-02-01", "source": "pack/data/fx_rates.csv line 3"},
    ]);
    assert_eq!(m1["fx_rates"], rates);
    let run_json = json(&dir.join("out/run.json"));
    assert_eq!(run_json["fx_rates"], rates);
    assert!(run_json["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["name"] == "fx_rates.csv"));
}

#[test]
fn a_pack_may_convert_at_the_period_average() {
    let dir = pack("fx-average");
    append(
        &dir.join("pack/pack.toml"),
        "\n[fx]\nrates = \"period_average\"\n",
    );
    run(&dir);
    let m1 = json(&dir.join("out/statements/M1.json"));
    assert_eq!(m1["lines"][0]["amount_exact"], "100.541133");
    assert_eq!(computed(&dir, "M1"), "100.54");
    assert_eq!(computed(&dir, "M2"), "100.54");
    assert_eq!(
        m1["fx_rates"],
        json!([{"from": "EUR", "to": "RUB", "rate": "100.541133", "date": "2026-Q1",
            "source": "average of 3 rate(s) in pack/data/fx_rates.csv (lines 2, 3, 4), to 6 decimals"}])
    );
}

#[test]
fn a_line_without_a_rate_is_refused_naming_the_line_currency_and_date() {
    let dir = pack("fx-missing");
    append(
        &dir.join("pack/data/sales.csv"),
        "2026-01-05,C1,M1,P1,Dairy,1,10.00,0,GBP\n",
    );
    let err = q1_run_fails(&dir);
    assert!(
        err.contains("sales.csv:6: column 'currency': no rate from GBP to RUB on or before 2026-01-05 in pack/data/fx_rates.csv; a line in another currency than the pack's needs one"),
        "{err}"
    );
    // A EUR line before the first EUR rate.
    let dir = pack("fx-early");
    append(
        &dir.join("pack/data/sales.csv"),
        "2025-12-31,C1,M1,P1,Dairy,1,10.00,0,EUR\n",
    );
    let err = q1_run_fails(&dir);
    assert!(
        err.contains(
            "sales.csv:6: column 'currency': no rate from EUR to RUB on or before 2025-12-31"
        ),
        "{err}"
    );
    // Only the other way round: never divided.
    let dir = pack("fx-inverse");
    append(
        &dir.join("pack/data/fx_rates.csv"),
        "2026-01-01,RUB,CHF,0.01\n",
    );
    append(
        &dir.join("pack/data/sales.csv"),
        "2026-01-05,C1,M1,P1,Dairy,1,10.00,0,CHF\n",
    );
    let err = q1_run_fails(&dir);
    assert!(
        err.contains("no rate from CHF to RUB on or before 2026-01-05 in pack/data/fx_rates.csv; it gives RUB to CHF, but bonusrun never divides a rate: give the rate the other way round"),
        "{err}"
    );
    // No fx_rates.csv at all.
    let dir = pack("fx-none");
    std::fs::remove_file(dir.join("pack/data/fx_rates.csv")).unwrap();
    let err = q1_run_fails(&dir);
    assert!(
        err.contains("sales.csv:2: column 'currency': no rate from EUR to RUB on or before 2026-01-20 in fx_rates.csv (there is none)"),
        "{err}"
    );
    // The period average needs a rate in the line's period.
    let dir = pack("fx-average-missing");
    append(
        &dir.join("pack/pack.toml"),
        "\n[fx]\nrates = \"period_average\"\n",
    );
    append(
        &dir.join("pack/data/sales.csv"),
        "2025-12-31,C1,M1,P1,Dairy,1,10.00,0,EUR\n",
    );
    let err = q1_run_fails(&dir);
    assert!(
        err.contains(
            "no rate from EUR to RUB dated in 2025-Q4 (the pack averages the rates of each period)"
        ),
        "{err}"
    );
}

#[test]
fn bad_rates_are_refused_naming_the_row() {
    let cases = [
        ("2026-01-01,EUR,RUB,0\n", "fx_rates.csv:2: column 'rate': found 0, expected a rate above 0"),
        ("2026-01-01,eur,RUB,1\n", "fx_rates.csv:2: column 'from': found 'eur', expected a currency code of three capital letters, e.g. EUR"),
        ("2026-01-01,RUB,RUB,1\n", "fx_rates.csv:2: column 'to': converts RUB into itself"),
        ("2026-01-01,EUR,RUB,1\n2026-01-01,EUR,RUB,2\n", "fx_rates.csv:3: column 'date': a second rate from EUR to RUB on 2026-01-01 (the first is on line 2)"),
        ("01.01.2026,EUR,RUB,1\n", "fx_rates.csv:2: column 'date': found '01.01.2026', expected a date as YYYY-MM-DD"),
    ];
    for (i, (rows, want)) in cases.iter().enumerate() {
        let dir = pack(&format!("fx-bad-{i}"));
        std::fs::write(
            dir.join("pack/data/fx_rates.csv"),
            format!("date,from,to,rate\n{rows}"),
        )
        .unwrap();
        let err = q1_run_fails(&dir);
        assert!(err.contains(want), "{err}");
    }
}

/// M2 is paid in EUR at the rate of Q1's last day: RUB 1 = EUR 0.010123 (from 2026-03-01;
/// the April rate comes after). Each line converts and rounds once: the commission of
/// 102.50 is 1.0376075, so 1.04; the draw of 1,000.00 is 10.123, so 10.12; M2 receives
/// 11.16 EUR for 1,102.50 RUB.
#[test]
fn a_payee_is_paid_in_their_own_currency_at_the_rate_of_the_period_end() {
    let dir = pack("fx-payee");
    std::fs::write(
        dir.join("pack/data/managers.csv"),
        "manager_id,name,target_bonus,currency\nM1,Anna,1000.00,\nM2,Boris,1000.00,EUR\nM3,Vera,1000.00,RUB\n",
    )
    .unwrap();
    append(
        &dir.join("pack/data/fx_rates.csv"),
        "2026-03-01,RUB,EUR,0.010123\n2026-04-01,RUB,EUR,0.02\n",
    );
    run(&dir);
    let payouts = dir.join("out/payouts.csv");
    assert_eq!(csv_cell(&payouts, "M2", "payout"), "1102.50");
    assert_eq!(csv_cell(&payouts, "M2", "paid_currency"), "EUR");
    assert_eq!(csv_cell(&payouts, "M2", "paid_rate"), "0.010123");
    assert_eq!(csv_cell(&payouts, "M2", "paid_payout"), "11.16");
    // Paid in the pack's currency: the same amount (M3's guaranteed 500.00).
    assert_eq!(csv_cell(&payouts, "M3", "paid_currency"), "RUB");
    assert_eq!(csv_cell(&payouts, "M3", "paid_payout"), "500.00");
    let m2 = json(&dir.join("out/statements/M2.json"));
    assert_eq!(m2["lines"][0]["amount_paid"], "1.04");
    assert_eq!(m2["lines"][1]["amount_paid"], "10.12");
    assert_eq!(
        m2["paid_in"],
        json!({"currency": "EUR", "payout": "11.16", "rate": {"from": "RUB", "to": "EUR",
            "rate": "0.010123", "date": "2026-03-01", "source": "pack/data/fx_rates.csv line 6"}})
    );
    // The workbook's Payouts sheet has the same columns.
    use calamine::{Data, Reader};
    let mut book = calamine::open_workbook_auto(dir.join("out/payouts.xlsx")).unwrap();
    let sheet = book.worksheet_range("Payouts").unwrap();
    assert_eq!(
        sheet.get_value((0, 7)),
        Some(&Data::String("paid_currency".into()))
    );
    assert_eq!(sheet.get_value((2, 7)), Some(&Data::String("EUR".into())));
    assert_eq!(sheet.get_value((2, 9)), Some(&Data::Float(11.16)));
    let run_json = json(&dir.join("out/run.json"));
    assert_eq!(run_json["fx_rates"].as_array().unwrap().len(), 3);
    assert_eq!(run_json["fx_rates"][2]["date"], "2026-03-01");
}

#[test]
fn a_payee_currency_without_a_rate_or_unknown_is_refused() {
    let dir = pack("fx-payee-missing");
    std::fs::write(
        dir.join("pack/data/managers.csv"),
        "manager_id,name,target_bonus,currency\nM1,Anna,1000.00,\nM2,Boris,1000.00,JPY\nM3,Vera,1000.00,\n",
    )
    .unwrap();
    let err = q1_run_fails(&dir);
    assert!(
        err.contains("managers.csv:3: manager M2 is paid in JPY, but pack/data/fx_rates.csv gives no rate from RUB to JPY on or before 2026-03-31, the period's last day"),
        "{err}"
    );
    std::fs::write(
        dir.join("pack/data/managers.csv"),
        "manager_id,name,target_bonus,currency\nM1,Anna,1000.00,euro\nM2,Boris,1000.00,\nM3,Vera,1000.00,\n",
    )
    .unwrap();
    let err = q1_run_fails(&dir);
    assert!(
        err.contains("managers.csv:2: column 'currency': found 'euro', expected an ISO 4217 currency code bonusrun knows, e.g. EUR"),
        "{err}"
    );
}

#[test]
fn conversions_that_do_not_fit_a_decimal_are_refused_naming_the_row() {
    // 28 digits of EUR at 100.00 do not fit a decimal.
    let dir = pack("fx-overflow");
    append(
        &dir.join("pack/data/sales.csv"),
        "2026-01-25,C1,M1,P1,Dairy,1,79228162514264337593543950335,0,EUR\n",
    );
    let err = q1_run_fails(&dir);
    assert!(
        err.contains("sales.csv:6: column 'amount': 79228162514264337593543950335 at the rate 100.00 has more than 28 digits, the most a decimal holds"),
        "{err}"
    );
    // Period-average rates that add up beyond a decimal.
    let dir = pack("fx-average-overflow");
    append(
        &dir.join("pack/pack.toml"),
        "\n[fx]\nrates = \"period_average\"\n",
    );
    append(
        &dir.join("pack/data/fx_rates.csv"),
        "2026-02-02,GBP,RUB,79228162514264337593543950335\n2026-02-03,GBP,RUB,79228162514264337593543950335\n",
    );
    let err = q1_run_fails(&dir);
    assert!(
        err.contains("fx_rates.csv:6: the rates of GBP in 2026-Q1 add up beyond 28 digits"),
        "{err}"
    );
}
