//! The Romashka pack's key-client criteria, one client per criterion
//! (`tests/data/key_criteria`, quarter 2026-Q2).
//!
//! Company revenue in the quarter is 1,003,100.00 and margin 12,000.00 (only C01 and C02
//! have a margin), so C01 holds 99.7% of revenue and 83.3% of margin, C02 16.7% of margin
//! and only 0.2% of revenue; every other client holds 0.01% of revenue.

use crate::util::*;

#[test]
fn each_criterion_makes_a_key_client() {
    let dir = scratch("key-criteria");
    let rules = root().join("rules/romashka");
    let data = fixture("key_criteria");
    ok(
        &dir,
        &[
            "run",
            "--rules",
            rules.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--period",
            "2026-Q2",
            "--out",
            "out",
        ],
    );
    let expected: &[(&str, &str, &str, &str, &str)] = &[
        // id, key, tier, score, reasons
        ("C01", "true", "A", "4", "share of company revenue 99.7% (threshold 5%); share of company margin 83.3% (threshold 5%)"),
        ("C02", "true", "B", "2", "share of company margin 16.7% (threshold 5%)"),
        ("C03", "true", "B", "2", "holds 25% of its market and has been a client for 6 years"),
        // The same market share, but a client for only 1 year: not key.
        ("C04", "false", "", "0", ""),
        ("C05", "true", "B", "2", "strategic client"),
        ("C06", "true", "B", "2", "influence in its market rated 5"),
        // 4 categories against 1 a year ago, and 400.00 against 100.00.
        ("C07", "true", "B", "2", "buys 3 more categories than a year ago, with revenue growing"),
        // Two soft signals together.
        ("C08", "true", "B", "2", "shapes the company's image; demanding client"),
        // One soft signal is not enough.
        ("C09", "false", "", "1", "demanding client"),
        // Influence 4 is below the threshold of 5.
        ("C10", "false", "", "0", ""),
    ];
    let mut rdr = csv::Reader::from_path(dir.join("out/key_clients.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), expected.len());
    for (row, (id, key, tier, score, reasons)) in rows.iter().zip(expected) {
        assert_eq!(&row[0], *id);
        assert_eq!(&row[2], "M1", "{id} manager");
        assert_eq!(
            (&row[3], &row[4], &row[5], &row[6]),
            (*key, *tier, *score, *reasons),
            "client {id}"
        );
    }
}
