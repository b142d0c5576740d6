//! Runaway rules are stopped by the pack's limits with a clear message, and nothing is
//! written.

use crate::util::*;
use std::path::Path;

fn stopped(name: &str, body: &str, limits: &str, expected: &[&str]) {
    let dir = scratch(name);
    let pack = dir.join("pack");
    copy_dir(&fixture("mini"), &pack);
    edit(
        &pack.join("rules.rhai"),
        "fn classify(client) {",
        &format!("fn classify(client) {{\n{body}"),
    );
    if !limits.is_empty() {
        let manifest = pack.join("pack.toml");
        let text = read(&manifest);
        std::fs::write(&manifest, format!("{text}\n[limits]\n{limits}\n")).unwrap();
    }
    let err = fails(&dir, &["run", "--rules", "pack", "--out", "out"], 1);
    for e in expected {
        assert!(err.contains(e), "expected {e:?} in:\n{err}");
    }
    assert!(!Path::new(&dir.join("out")).exists());
}

#[test]
fn endless_loop_is_stopped_by_the_default_operations_limit() {
    stopped(
        "loop",
        "    loop {}",
        "",
        &[
            "rules.rhai: in function 'classify' (stage key_clients, pack 'mini') for client C1",
            "more than 5000000 operations",
            "max_operations",
        ],
    );
}

#[test]
fn operations_limit_is_set_by_the_pack() {
    stopped(
        "loop-small",
        "    let i = 0; while true { i += 1; }",
        "max_operations = 1000",
        &["more than 1000 operations"],
    );
}

#[test]
fn string_bomb_is_stopped() {
    stopped(
        "string-bomb",
        "    let s = \"xx\"; loop { s += s; }",
        "",
        &["for client C1", "max_string_size"],
    );
}

#[test]
fn array_bomb_is_stopped() {
    stopped(
        "array-bomb",
        "    let a = [1]; loop { a += a; }",
        "max_array_size = 1000",
        &["for client C1", "max_array_size"],
    );
}

#[test]
fn endless_recursion_is_stopped() {
    let dir = scratch("recursion");
    let pack = dir.join("pack");
    copy_dir(&fixture("mini"), &pack);
    edit(
        &pack.join("rules.rhai"),
        "fn classify(client) {",
        "fn deeper(n) { deeper(n + 1) }\nfn classify(client) {\n    deeper(0);",
    );
    let err = fails(&dir, &["run", "--rules", "pack", "--out", "out"], 1);
    assert!(err.contains("for client C1"), "{err}");
    assert!(err.contains("max_call_depth"), "{err}");
}
