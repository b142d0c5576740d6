//! Same inputs, same outputs: byte-identical files for 1, 2 and 3 threads, on the bundled
//! data and on generated data; and a generated million-line data set runs.

use crate::util::*;
use std::path::Path;

fn same_outputs(a: &Path, b: &Path) {
    assert!(std::fs::read_dir(a.join("statements")).unwrap().count() > 0);
    same_payouts(a, b, "thread counts");
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
fn generated_million_lines_run_identically_for_1_2_and_3_threads() {
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
    // The bundled pack with declared windows, whose sums statements show.
    let rules = dir.join("romashka");
    copy_dir(&root().join("rules/romashka"), &rules);
    append(
        &rules.join("pack.toml"),
        "\n[windows.ytd]\nkind = \"year_to_date\"\n[windows.r12]\nkind = \"rolling\"\nmonths = 12\n[windows.monthly]\nkind = \"each_month\"\n",
    );
    // Measures, whose distinct products and categories each worker numbers its own way.
    append(
        &rules.join("pack.toml"),
        "\n[measures.big_lines]\ncount = \"lines\"\nwhere = [{ column = \"amount\", at_least = 1000 }]\n[measures.dairy]\nsum = \"amount\"\nwhere = [{ column = \"category\", is = \"Dairy\" }]\n[measures.products]\ndistinct = \"product\"\n[measures.categories]\ndistinct = \"category\"\n",
    );
    // Split and overlay credit for a few clients, changing mid-period, and a team.
    let ids = |file: &str| -> Vec<String> {
        read(&dir.join("data").join(file))
            .lines()
            .skip(1)
            .take(3)
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect()
    };
    let (c, m) = (ids("clients.csv"), ids("managers.csv"));
    std::fs::write(
        dir.join("data/credits.csv"),
        format!(
            "client_id,manager_id,share,from,to,role\n\
             {c0},{m0},0.3,2026-05-15,,\n{c0},{m1},0.7,2026-05-15,,\n\
             {c1},{m2},1,,2026-05-20,\n{c2},{m0},0.25,,,overlay\n",
            c0 = c[0],
            c1 = c[1],
            c2 = c[2],
            m0 = m[0],
            m1 = m[1],
            m2 = m[2]
        ),
    )
    .unwrap();
    append(&rules.join("pack.toml"), "\n[credit]\noverlay = true\n");
    let r = rules.to_str().unwrap();
    // Three workers: the totals of one merge those of two others, renumbered twice.
    for threads in ["1", "2", "3"] {
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
    same_outputs(&dir.join("t1"), &dir.join("t3"));
    let run = json(&dir.join("t2/run.json"));
    assert_eq!(run["counts"]["sales_lines"], 1_000_000);
    let statement = std::fs::read_dir(dir.join("t2/statements"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let windows = &json(&statement.path())["facts"]["windows"];
    assert_eq!(windows["monthly"].as_array().unwrap().len(), 3, "{windows}");
    assert_eq!(run["counts"]["managers"], 40);
}

/// The sales pass takes the run period from the file's first and last 64 KiB before reading
/// it. A file whose latest sales sit in the middle makes that guess wrong: the pass must
/// notice and read the file again for the right period, giving the same outputs as a file
/// sorted by date (where the guess is right and one pass is enough).
#[test]
fn a_wrong_guess_of_the_period_is_corrected_by_a_second_pass() {
    let dir = scratch("period-guess");
    ok(
        &dir,
        &[
            "generate",
            "--out",
            "sorted",
            "--clients",
            "500",
            "--managers",
            "10",
            "--sales",
            "100000",
            "--seed",
            "5",
        ],
    );
    copy_dir(&dir.join("sorted"), &dir.join("rotated"));
    // Rotate the lines by half: the file starts in mid-2025 and ends in mid-2025, and its
    // last quarter (2026-Q2) sits in the middle.
    let text = read(&dir.join("sorted/sales.csv"));
    let (header, body) = text.split_once('\n').unwrap();
    let lines: Vec<&str> = body.lines().collect();
    let (first, second) = lines.split_at(lines.len() / 2);
    let rotated: Vec<&str> = second.iter().chain(first).copied().collect();
    std::fs::write(
        dir.join("rotated/sales.csv"),
        format!("{header}\n{}\n", rotated.join("\n")),
    )
    .unwrap();
    assert!(rotated[0].starts_with("2025-") && rotated[rotated.len() - 1].starts_with("2025-"));

    let rules = root().join("rules/romashka");
    let r = rules.to_str().unwrap();
    let timed = |data: &str, out: &str| {
        let o = bonusrun(
            &dir,
            &[
                "run",
                "--rules",
                r,
                "--data",
                data,
                "--out",
                out,
                "-q",
                "--timings",
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let sorted = timed("sorted", "out-sorted");
    let rotated = timed("rotated", "out-rotated");
    assert!(!sorted.contains("sales pass again"), "{sorted}");
    assert!(rotated.contains("sales pass again"), "{rotated}");
    for f in ["payouts.csv", "kpis.csv", "key_clients.csv"] {
        assert_eq!(
            read(&dir.join("out-sorted").join(f)),
            read(&dir.join("out-rotated").join(f)),
            "{f}"
        );
    }
    let run = json(&dir.join("out-rotated/run.json"));
    assert_eq!(run["period"]["run"], "2026-Q2");
}
