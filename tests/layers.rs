//! The pipeline's lower layers never reach up: `load` reads data and knows no pack, `pack`
//! declares rules and knows neither the code that compiles and runs them (`rules`) nor the
//! run (`evaluate`, `outputs`, `ledger`). Comments may name them; code may not.

use std::path::Path;

/// Lines of code (not comments) under `host/DIR` that name `crate::LAYER`.
fn reaching_up(dir: &str, layers: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("host").join(dir);
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for layer in layers {
                    if code.contains(&format!("crate::{layer}")) {
                        found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    found
}

#[test]
fn pack_does_not_import_rules_or_the_run() {
    let found = reaching_up("pack", &["rules", "evaluate", "outputs", "ledger"]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn load_does_not_import_packs_or_rules() {
    let found = reaching_up("load", &["pack", "rules", "evaluate", "outputs", "ledger"]);
    assert!(found.is_empty(), "{found:#?}");
}
