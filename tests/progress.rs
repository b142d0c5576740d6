//! The progress bar: on a terminal only, silenced by --quiet, never in a file or a pipe.

use crate::util::*;
use std::process::Command;

/// Runs `bonusrun ARGS` in `dir` on a pseudo-terminal (util-linux `script`) with the bar
/// shown at once; returns what the terminal received.
fn on_a_terminal(dir: &std::path::Path, args: &str) -> String {
    let bin = env!("CARGO_BIN_EXE_bonusrun");
    let out = Command::new("script")
        .args(["-qec", &format!("{bin} {args}"), "/dev/null"])
        .current_dir(dir)
        .env("BONUSRUN_PROGRESS_AFTER_MS", "0")
        .env("BONUSRUN_CACHE_DIR", test_cache_dir())
        .output()
        .expect("the progress test needs util-linux `script` (Debian package bsdutils)");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_progress_bar_shows_on_a_terminal_only_and_quiet_silences_it() {
    let dir = scratch("progress");
    let shown = on_a_terminal(&dir, "run --out a");
    assert!(shown.contains("reading sales"), "{shown}");
    assert!(shown.contains("Outputs written to a"), "{shown}");
    let quiet = on_a_terminal(&dir, "run --out b --quiet");
    assert!(!quiet.contains("reading sales"), "{quiet}");
    let explained = on_a_terminal(&dir, "explain --manager M01 -q");
    assert!(!explained.contains("reading sales") && explained.contains("Manager M01"));
    // Through a pipe (as here), nothing of the bar is written, even when it would show.
    let out = Command::new(env!("CARGO_BIN_EXE_bonusrun"))
        .args(["run", "--out", "c"])
        .current_dir(&dir)
        .env("BONUSRUN_PROGRESS_AFTER_MS", "0")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("reading"));
}
