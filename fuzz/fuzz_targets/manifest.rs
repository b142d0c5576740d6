//! `pack.toml` from the fuzzer, loaded as a rule pack: the manifest, its checks and limits,
//! the KPIs and parameters, the decision table it may declare, and compiling the mini rules.
//! The pack is a directory (written once per process, then only pack.toml changes), since
//! an embedded pack needs `'static` bytes. Errors are fine; a panic is a bug.

#![no_main]

use bonusrun::pack::PackSource;
use bonusrun::rules::RulePack;
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

const RULES: &[u8] = include_bytes!("../../tests/data/mini/rules.rhai");

/// A decision table a fuzzed manifest can declare as `[tables.curve]`, `file = "tables/curve.csv"`.
const CURVE: &[u8] = b"from,to,factor,label
,0.8,0,below plan
0.8,1.0,1,near plan
1.0,,2,above plan
";

/// This process's pack directory, with the rules and the table in it.
fn pack_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("bonusrun-fuzz-manifest-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("tables")).expect("a temporary pack directory");
        std::fs::write(dir.join("rules.rhai"), RULES).expect("rules.rhai is written");
        std::fs::write(dir.join("tables/curve.csv"), CURVE).expect("curve.csv is written");
        dir
    })
}

fuzz_target!(|manifest: &[u8]| {
    let dir = pack_dir();
    if std::fs::write(dir.join("pack.toml"), manifest).is_err() {
        return;
    }
    let _ = RulePack::load(&PackSource::Dir(dir.clone()));
});
