//! The Romashka regulation written in Rust (`benches/native/romashka.rs`, the benchmarks'
//! native floor) pays exactly what the Rhai pack pays: `payouts.csv`, `kpis.csv` and
//! `key_clients.csv` are byte-identical, on the bundled data and on generated data, so the
//! floor measures the same work.

use crate::native_romashka::Romashka;
use crate::util::*;
use bonusrun::evaluate::{self, RunOptions};
use bonusrun::load::DataSource;
use bonusrun::outputs::render_csvs;
use bonusrun::pack::{PackSource, RulePack};
use std::path::Path;
use std::sync::Arc;

fn same_results(data: &Path) {
    let pack = Arc::new(RulePack::load(&PackSource::Dir(root().join("rules/romashka"))).unwrap());
    let source = DataSource::Dir(data.to_path_buf());
    let options = RunOptions {
        period: None,
        threads: Some(2),
    };
    let scripts = evaluate::run(pack.clone(), &source, &options).unwrap();
    let rules = Romashka::new(pack.clone()).unwrap();
    let native = evaluate::run_native(pack, &source, &options, &rules).unwrap();
    assert!(scripts.total > rust_decimal::Decimal::ZERO);
    assert_eq!(scripts.total, native.total);
    for ((name, a), (_, b)) in render_csvs(&scripts)
        .unwrap()
        .iter()
        .zip(&render_csvs(&native).unwrap())
    {
        assert!(
            a == b,
            "{name} differs between the Rhai pack and the native rules"
        );
    }
}

#[test]
fn native_rules_match_the_rhai_pack_on_the_bundled_data() {
    same_results(&root().join("rules/romashka/data"));
}

#[test]
fn native_rules_match_the_rhai_pack_on_generated_data() {
    let dir = scratch("native-generated");
    ok(
        &dir,
        &[
            "generate",
            "--out",
            "data",
            "--clients",
            "800",
            "--managers",
            "16",
            "--sales",
            "100000",
            "--seed",
            "19",
        ],
    );
    same_results(&dir.join("data"));
}
