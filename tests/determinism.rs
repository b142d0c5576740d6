//! Same inputs, same outputs: byte-identical files for 1 and 2 threads, on the bundled data
//! and on generated data; and a generated million-line data set runs.

use crate::util::*;
use std::path::Path;

fn same_outputs(a: &Path, b: &Path) {
    let mut files = vec![
        "payouts.csv".to_string(),
        "kpis.csv".into(),
        "key_clients.csv".into(),
    ];
    for e in std::fs::read_dir(a.join("statements")).unwrap() {
        files.push(format!(
            "statements/{}",
            e.unwrap().file_name().to_string_lossy()
        ));
    }
    assert!(files.len() > 3);
    for f in files {
        assert_eq!(
            read(&a.join(&f)),
            read(&b.join(&f)),
            "{f} differs between thread counts"
        );
    }
    let (ra, rb) = (json(&a.join("run.json")), json(&b.join("run.json")));
    assert_eq!(ra["outputs"], rb["outputs"], "output hashes in run.json");
    assert_eq!(ra["total_payout"], rb["total_payout"]);
    assert_ne!(ra["threads"], rb["threads"]);
}

#[test]
fn bundled_run_is_identical_for_1_and_2_threads() {
    let dir = scratch("threads-bundled");
    ok(&dir, &["run", "--threads", "1", "--out", "t1", "-q"]);
    ok(&dir, &["run", "--threads", "2", "--out", "t2", "-q"]);
    same_outputs(&dir.join("t1"), &dir.join("t2"));
}

#[test]
fn generated_million_lines_run_identically_for_1_and_2_threads() {
    let dir = scratch("generated");
    let args = [
        "generate",
        "--out",
        "data",
        "--clients",
        "3000",
        "--managers",
        "40",
        "--sales",
        "1000000",
        "--seed",
        "11",
    ];
    let printed = ok(&dir, &args);
    assert!(printed.contains("1000000 rows"), "{printed}");
    let sales = dir.join("data/sales.csv");
    // The generator is deterministic: the same seed gives the same bytes.
    ok(
        &dir,
        &[
            "generate",
            "--out",
            "again",
            "--clients",
            "3000",
            "--managers",
            "40",
            "--sales",
            "1000000",
            "--seed",
            "11",
        ],
    );
    assert!(std::fs::read(&sales).unwrap() == std::fs::read(dir.join("again/sales.csv")).unwrap());
    let rules = root().join("rules/romashka");
    let r = rules.to_str().unwrap();
    for threads in ["1", "2"] {
        let out = format!("t{threads}");
        ok(
            &dir,
            &[
                "run",
                "--rules",
                r,
                "--data",
                "data",
                "--threads",
                threads,
                "--out",
                &out,
                "-q",
            ],
        );
    }
    same_outputs(&dir.join("t1"), &dir.join("t2"));
    let run = json(&dir.join("t2/run.json"));
    assert_eq!(run["counts"]["sales_lines"], 1_000_000);
    assert_eq!(run["counts"]["managers"], 40);
}
