//! The docs cannot drift from the binary: every command shown with its output in a
//! ```` ```console ```` block of the README and the guides is run, in order, in a scratch
//! copy of the repository's packs, and its output (stdout, then stderr) must be the one
//! shown. A line `...` in a shown output stands for any number of lines. Blocks that show
//! commands on files outside the repository (the real exports of docs/real-exports.md) are
//! `text` blocks and are not run.

use crate::util::*;
use std::path::Path;
use std::process::Command;

/// One shown command: where it is, what is typed, what it prints.
struct Shown {
    line: usize,
    command: String,
    output: Vec<String>,
}

/// The commands of a document's console blocks, in order.
fn shown(text: &str) -> Vec<Shown> {
    let mut found: Vec<Shown> = Vec::new();
    let mut in_console = false;
    for (i, line) in text.lines().enumerate() {
        if !in_console {
            in_console = line.trim_end() == "```console";
            continue;
        }
        if line.starts_with("```") {
            in_console = false;
        } else if let Some(command) = line.strip_prefix("$ ") {
            found.push(Shown {
                line: i + 1,
                command: command.to_string(),
                output: Vec::new(),
            });
        } else if let Some(last) = found.last_mut() {
            last.output.push(line.to_string());
        }
    }
    found
}

/// Whether `actual` is `expected`, where an expected line `...` matches any lines.
fn matches(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first == "..." => {
            (0..=actual.len()).any(|skip| matches(rest, &actual[skip..]))
        }
        Some((first, rest)) => {
            actual.first() == Some(&first.as_str()) && matches(rest, &actual[1..])
        }
    }
}

/// Runs a document's shown commands in order in `dir`; returns the mismatches. With
/// `BONUSRUN_BLESS_DOCS=1`, a shown output without `...` that differs is replaced in the
/// document by what was printed (review the change with `git diff`).
fn run_document(doc: &str, dir: &Path) -> Vec<String> {
    let text = read(&root().join(doc));
    let bless = std::env::var_os("BONUSRUN_BLESS_DOCS").is_some();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut replaced: Vec<(usize, usize, Vec<String>)> = Vec::new();
    let bin = Path::new(env!("CARGO_BIN_EXE_bonusrun")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut failures = Vec::new();
    for s in shown(&text) {
        let out = Command::new("bash")
            .arg("-c")
            .arg(&s.command)
            .current_dir(dir)
            .env("PATH", &path)
            .env("BONUSRUN_CACHE_DIR", dir.join(".plugin-cache"))
            .env_remove("BONUSRUN_BY")
            .env_remove("BONUSRUN_LEDGER")
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let printed: Vec<&str> = said.lines().collect();
        if bless && !matches(&s.output, &printed) && !s.output.iter().any(|l| l == "...") {
            let new = printed.iter().map(|l| l.to_string()).collect();
            replaced.push((s.line, s.output.len(), new));
            continue;
        }
        if !matches(&s.output, &printed) {
            failures.push(format!(
                "{doc}:{}: $ {}\n--- shown\n{}\n--- printed\n{said}",
                s.line,
                s.command,
                s.output.join("\n")
            ));
        }
    }
    if !replaced.is_empty() {
        for (at, old, new) in replaced.into_iter().rev() {
            lines.splice(at..at + old, new);
        }
        std::fs::write(root().join(doc), lines.join("\n") + "\n").unwrap();
    }
    failures
}

#[test]
fn the_commands_shown_in_the_docs_print_what_the_docs_show() {
    crate::util::plugins(); // rules/romashka-wasm needs its plugin
    let mut failures = Vec::new();
    let mut count = 0;
    let mut docs = vec!["README.md".to_string()];
    let mut guides: Vec<String> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .flatten()
        .map(|e| format!("docs/{}", e.file_name().to_string_lossy()))
        .filter(|n| n.ends_with(".md"))
        .collect();
    guides.sort();
    docs.extend(guides);
    for doc in &docs {
        count += shown(&read(&root().join(doc))).len();
        let dir = scratch("docs");
        copy_dir(&root().join("rules"), &dir.join("rules"));
        failures.extend(run_document(doc, &dir));
    }
    assert!(count >= 10, "only {count} shown commands found");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_shown_output_may_skip_lines_with_an_ellipsis() {
    let expected: Vec<String> = ["a", "...", "d"].map(String::from).to_vec();
    assert!(matches(&expected, &["a", "b", "c", "d"]));
    assert!(matches(&expected, &["a", "d"]));
    assert!(!matches(&expected, &["a", "b"]));
    assert!(!matches(&["a".to_string()], &["a", "b"]));
}
