//! The Romashka regulation written in Rust (`benches/native/romashka.rs`, the benchmarks'
//! native floor) pays exactly what the Rhai pack pays: `payouts.csv`, `kpis.csv` and
//! `key_clients.csv` are byte-identical, on the bundled data and on generated data, so the
//! floor measures the same work.

use crate::native_romashka::Romashka;
use crate::util::*;
use bonusrun::evaluate::{self, RunOptions};
use bonusrun::load::DataSource;
use bonusrun::outputs::render_csvs;
use bonusrun::pack::PackSource;
use bonusrun::rules::RulePack;
use bonusrun::rules::{Context, KeyDecision, KpiMeasure, KpiResult, NativeRules, RawLine};
use std::path::Path;
use std::sync::Arc;

fn same_results(data: &Path) {
    let pack = Arc::new(RulePack::load(&PackSource::Dir(root().join("rules/romashka"))).unwrap());
    let source = DataSource::Dir(data.to_path_buf());
    let options = RunOptions {
        period: None,
        threads: Some(2),
        ..RunOptions::default()
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

/// The Romashka rules, except that classifying one client fails.
struct FailsOn(&'static str, Romashka);

impl NativeRules for FailsOn {
    fn classify(
        &self,
        ctx: &Context,
        client: u32,
        warnings: &mut Vec<String>,
    ) -> Result<KeyDecision, String> {
        if ctx.data.clients[client as usize].id == self.0 {
            return Err("no market rating for this client".into());
        }
        self.1.classify(ctx, client, warnings)
    }

    fn kpi(
        &self,
        ctx: &Context,
        manager: u32,
        kpi: &str,
        warnings: &mut Vec<String>,
    ) -> Result<KpiMeasure, String> {
        self.1.kpi(ctx, manager, kpi, warnings)
    }

    fn bonus(
        &self,
        ctx: &Context,
        manager: u32,
        kpis: &[KpiResult],
        warnings: &mut Vec<String>,
    ) -> Result<Vec<RawLine>, String> {
        self.1.bonus(ctx, manager, kpis, warnings)
    }
}

#[test]
fn a_failing_native_rule_names_stage_function_and_client() {
    let pack = Arc::new(RulePack::load(&PackSource::Dir(root().join("rules/romashka"))).unwrap());
    let source = DataSource::Dir(root().join("rules/romashka/data"));
    let rules = FailsOn("C0002", Romashka::new(pack.clone()).unwrap());
    let options = RunOptions {
        period: None,
        threads: Some(2),
        ..RunOptions::default()
    };
    let Err(err) = evaluate::run_native(pack, &source, &options, &rules) else {
        panic!("the run should fail");
    };
    assert_eq!(
        err.to_string(),
        "rule error: native rules: in function 'classify' (stage key_clients, pack 'romashka') for client C0002: no market rating for this client"
    );
}

/// The embedding example (examples/embed.rs), which `cargo test` builds with the tests.
fn embed_example() -> std::path::PathBuf {
    let deps = std::env::current_exe().unwrap();
    let exe = deps
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/embed");
    assert!(
        exe.exists(),
        "{} is missing: cargo test builds the examples",
        exe.display()
    );
    exe
}

#[test]
fn the_embedding_example_builds_runs_and_pays_what_the_binary_pays() {
    let dir = crate::util::scratch("embed");
    let out = std::process::Command::new(embed_example())
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("period 2026-Q2, 8 managers\nM01            0.00 (gate closed)\n"),
        "{text}"
    );
    assert!(text.ends_with("total    1314733.49 RUB\n"), "{text}");
    let root = crate::util::root();
    let out = std::process::Command::new(embed_example())
        .arg(root.join("rules/romashka"))
        .arg(root.join("rules/romashka/data"))
        .arg("out")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        crate::util::csv_cell(&dir.join("out/payouts.csv"), "M02", "payout"),
        "136620.22"
    );
}
