//! WebAssembly plugins: the Romashka plugin (world 0.2.0, and its frozen 0.1.0 build) gives
//! the same results as the Romashka Rhai pack; packs mix Rhai and WASM stages; compiled code
//! is cached; and every kind of bad plugin, of either world, is stopped with a message naming
//! the plugin file, stage, export and subject, with nothing written. The plugins are built
//! from source by `plugins/build.sh`.

use crate::util::*;
use std::path::{Path, PathBuf};

fn same_csvs(a: &Path, b: &Path) {
    for f in ["payouts.csv", "kpis.csv", "key_clients.csv"] {
        assert_eq!(
            read(&a.join(f)),
            read(&b.join(f)),
            "{f} differs between the Rhai and the WASM pack"
        );
    }
}

#[test]
fn wasm_pack_pays_exactly_what_the_rhai_pack_pays_on_the_bundled_data() {
    plugins();
    let dir = scratch("wasm-bundled");
    let rhai = root().join("rules/romashka");
    let wasm = root().join("rules/romashka-wasm");
    ok(
        &dir,
        &[
            "run",
            "--rules",
            rhai.to_str().unwrap(),
            "--out",
            "rhai",
            "-q",
        ],
    );
    ok(
        &dir,
        &[
            "run",
            "--rules",
            wasm.to_str().unwrap(),
            "--data",
            root().join("rules/romashka/data").to_str().unwrap(),
            "--out",
            "wasm",
            "-q",
            "--threads",
            "1",
        ],
    );
    same_csvs(&dir.join("rhai"), &dir.join("wasm"));
    let run = json(&dir.join("wasm/run.json"));
    assert_eq!(run["plugins"].as_array().unwrap().len(), 3);
    assert!(run["pack"]["files"].to_string().contains("romashka.wasm"));
}

#[test]
fn wasm_pack_pays_exactly_what_the_rhai_pack_pays_on_generated_data() {
    plugins();
    let dir = scratch("wasm-generated");
    ok(
        &dir,
        &[
            "generate",
            "--out",
            "data",
            "--clients",
            "1500",
            "--managers",
            "45",
            "--sales",
            "200000",
            "--seed",
            "5",
        ],
    );
    let rhai = root().join("rules/romashka");
    let wasm = root().join("rules/romashka-wasm");
    ok(
        &dir,
        &[
            "run",
            "--rules",
            rhai.to_str().unwrap(),
            "--data",
            "data",
            "--out",
            "rhai",
            "-q",
        ],
    );
    ok(
        &dir,
        &[
            "run",
            "--rules",
            wasm.to_str().unwrap(),
            "--data",
            "data",
            "--out",
            "wasm",
            "-q",
        ],
    );
    same_csvs(&dir.join("rhai"), &dir.join("wasm"));
    ok(
        &dir,
        &[
            "run",
            "--rules",
            wasm.to_str().unwrap(),
            "--data",
            "data",
            "--out",
            "wasm1",
            "-q",
            "--threads",
            "1",
        ],
    );
    same_csvs(&dir.join("wasm"), &dir.join("wasm1"));
}

/// `rules/romashka-wasm` with its plugin replaced by `built` (a file of the plugins build).
fn romashka_pack_with(dir: &Path, built: &str) -> PathBuf {
    let pack = dir.join("pack");
    copy_dir(&root().join("rules/romashka-wasm"), &pack);
    std::fs::copy(plugins().join(built), pack.join("romashka.wasm")).unwrap();
    pack
}

#[test]
fn a_plugin_built_for_world_0_1_still_pays_byte_identically() {
    let dir = scratch("wasm-v01");
    let old = romashka_pack_with(&dir, "romashka_v01.wasm");
    let o = ok(&dir, &["check", "--rules", old.to_str().unwrap()]);
    assert!(o.contains("world bonusrun:rules@0.1.0"), "{o}");
    ok(
        &dir,
        &[
            "generate",
            "--out",
            "data",
            "--clients",
            "600",
            "--managers",
            "20",
            "--sales",
            "60000",
            "--seed",
            "11",
        ],
    );
    let rhai = root().join("rules/romashka");
    let wasm = root().join("rules/romashka-wasm");
    for (data, tag) in [
        (root().join("rules/romashka/data"), "bundled"),
        (dir.join("data"), "generated"),
    ] {
        let d = data.to_str().unwrap();
        for (pack, out) in [(&rhai, "rhai"), (&old, "v01"), (&wasm, "v02")] {
            let out = format!("{tag}-{out}");
            ok(
                &dir,
                &[
                    "run",
                    "--rules",
                    pack.to_str().unwrap(),
                    "--data",
                    d,
                    "--out",
                    &out,
                    "-q",
                ],
            );
        }
        same_csvs(
            &dir.join(format!("{tag}-rhai")),
            &dir.join(format!("{tag}-v01")),
        );
        same_csvs(
            &dir.join(format!("{tag}-rhai")),
            &dir.join(format!("{tag}-v02")),
        );
    }
    let v01 = json(&dir.join("bundled-v01/run.json"));
    assert_eq!(v01["plugins"][0]["world"], "bonusrun:rules@0.1.0");
    let v02 = json(&dir.join("bundled-v02/run.json"));
    assert_eq!(v02["plugins"][0]["world"], "bonusrun:rules@0.2.3");
}

#[test]
fn a_second_run_reuses_compiled_code() {
    plugins();
    let dir = scratch("wasm-cache");
    let cache = dir.join("cache");
    let wasm = root().join("rules/romashka-wasm");
    let w = wasm.to_str().unwrap();
    let data = root().join("rules/romashka/data");
    let d = data.to_str().unwrap();
    for (out, expected) in [("first", "miss"), ("second", "hit")] {
        let args = ["run", "--rules", w, "--data", d, "--out", out, "-q"];
        let o = bonusrun_with_cache(&dir, &args, &cache);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let run = json(&dir.join(out).join("run.json"));
        for p in run["plugins"].as_array().unwrap() {
            assert_eq!(p["compiled_code"], expected, "{out} run");
        }
    }
    let o = bonusrun_with_cache(&dir, &["check", "--rules", w], &cache);
    assert!(String::from_utf8_lossy(&o.stdout).contains("compiled code: from the cache"));
}

/// The mini pack with stage key_clients bound to `plugin` (a file in the plugins build
/// directory, or raw bytes), `mode` as parameter and extra `[limits]`.
fn plugin_pack(name: &str, plugin: Result<&str, &[u8]>, mode: &str, limits: &str) -> PathBuf {
    let built = plugins();
    let dir = scratch(name);
    let pack = dir.join("pack");
    copy_dir(&fixture("mini"), &pack);
    match plugin {
        Ok(file) => {
            std::fs::copy(built.join(file), pack.join("plugin.wasm")).unwrap();
        }
        Err(bytes) => std::fs::write(pack.join("plugin.wasm"), bytes).unwrap(),
    }
    let manifest = pack.join("pack.toml");
    edit(
        &manifest,
        "[stages.key_clients]\nscript = \"rules.rhai\"",
        "[stages.key_clients]\nplugin = \"plugin.wasm\"",
    );
    edit(
        &manifest,
        "cap = 1.2",
        &format!("cap = 1.2\nmode = \"{mode}\""),
    );
    if !limits.is_empty() {
        let text = read(&manifest);
        std::fs::write(&manifest, format!("{text}\n[limits]\n{limits}\n")).unwrap();
    }
    dir
}

fn plugin_fails(
    name: &str,
    plugin: Result<&str, &[u8]>,
    mode: &str,
    limits: &str,
    expected: &[&str],
) {
    let dir = plugin_pack(name, plugin, mode, limits);
    let err = fails(&dir, &["run", "--rules", "pack", "--out", "out"], 1);
    for e in expected {
        assert!(err.contains(e), "expected {e:?} in:\n{err}");
    }
    assert!(
        !dir.join("out").exists(),
        "a failed run wrote {}",
        dir.join("out").display()
    );
    assert!(!dir.join("out").exists(), "a failed run writes nothing");
}

const AT_C2: &str = "pack/plugin.wasm: export 'classify' (stage key_clients) for client C2";

/// The misbehaving fixture built for each world: the checks hold for both.
const BOTH_WORLDS: [&str; 2] = ["misbehave.wasm", "misbehave_v01.wasm"];

#[test]
fn packs_mix_rhai_and_wasm_stages() {
    let dir = plugin_pack("mixed", Ok("misbehave.wasm"), "ok", "");
    ok(&dir, &["run", "--rules", "pack", "--out", "out"]);
    // The plugin makes every client key; the Rhai KPIs and bonus pay as in tests/payouts.rs.
    assert_eq!(
        csv_cell(&dir.join("out/key_clients.csv"), "C1", "key"),
        "true"
    );
    assert_eq!(json(&dir.join("out/run.json"))["total_payout"], "231000.02");
}

#[test]
fn endless_loop_runs_out_of_fuel() {
    for plugin in BOTH_WORLDS {
        plugin_fails(
            "w-loop",
            Ok(plugin),
            "loop",
            "plugin_fuel_per_item = 2000000",
            &[AT_C2, "ran out of fuel", "plugin_fuel_per_item"],
        );
    }
}

#[test]
fn memory_bomb_hits_the_memory_limit() {
    for plugin in BOTH_WORLDS {
        plugin_fails(
            "w-bomb",
            Ok(plugin),
            "bomb",
            "plugin_memory_bytes = 33554432",
            &[AT_C2, "33554432", "plugin_memory_bytes"],
        );
    }
}

#[test]
fn panic_is_reported_with_its_message() {
    for plugin in BOTH_WORLDS {
        plugin_fails(
            "w-panic",
            Ok(plugin),
            "panic",
            "",
            &[AT_C2, "boom in client C2"],
        );
    }
}

#[test]
fn trap_is_reported() {
    for plugin in BOTH_WORLDS {
        plugin_fails(
            "w-trap",
            Ok(plugin),
            "trap",
            "",
            &[AT_C2, "trapped", "unreachable"],
        );
    }
}

#[test]
fn plugin_error_is_reported() {
    for plugin in BOTH_WORLDS {
        plugin_fails(
            "w-error",
            Ok(plugin),
            "error",
            "",
            &[
                AT_C2,
                "the plugin returned an error: no data for this client",
            ],
        );
    }
}

#[test]
fn output_of_the_wrong_length_is_refused() {
    plugin_fails(
        "w-short",
        Ok("misbehave_v01.wasm"),
        "short",
        "",
        &["returned 1 result(s) for 4 item(s)"],
    );
}

#[test]
fn a_decimal_that_is_not_plain_is_refused() {
    plugin_fails(
        "w-decimal",
        Ok("misbehave_v01.wasm"),
        "bad-decimal",
        "",
        &[AT_C2, "score is '1e3', not a decimal"],
    );
}

fn check_fails(name: &str, plugin: Result<&str, &[u8]>, limits: &str, expected: &[&str]) {
    let dir = plugin_pack(name, plugin, "ok", limits);
    // Refused when the pack loads, before any data is read.
    let err = fails(&dir, &["check", "--rules", "pack"], 1);
    for e in expected {
        assert!(err.contains(e), "expected {e:?} in:\n{err}");
    }
}

#[test]
fn component_of_another_world_is_refused() {
    check_fails(
        "w-world",
        Ok("other_world.wasm"),
        "",
        &[
            "pack/plugin.wasm: is not a bonusrun rule plugin",
            "world bonusrun:rules@0.2.3",
            "world bonusrun:rules@0.1.0",
        ],
    );
}

#[test]
fn a_component_of_a_later_bonusrun_world_is_refused_by_its_version() {
    check_fails(
        "w-future",
        Ok("future_world.wasm"),
        "",
        &[
            "pack/plugin.wasm: imports bonusrun:rules@0.3.0",
            "this bonusrun runs the worlds bonusrun:rules@0.2.3 (and 0.2.0, 0.2.1, 0.2.2) and bonusrun:rules@0.1.0",
        ],
    );
}

#[test]
fn a_file_that_is_not_wasm_is_refused() {
    check_fails(
        "w-text",
        Err(b"this is not wasm at all"),
        "",
        &["pack/plugin.wasm: is not a WebAssembly file"],
    );
}

#[test]
fn a_core_module_is_refused() {
    check_fails(
        "w-core",
        Err(b"\0asm\x01\0\0\0"),
        "",
        &["pack/plugin.wasm: is a core WebAssembly module, not a component"],
    );
}

#[test]
fn an_oversized_component_is_refused() {
    check_fails(
        "w-size",
        Ok("romashka.wasm"),
        "max_plugin_bytes = 1000",
        &["pack/plugin.wasm: is ", "over the limit of 1000"],
    );
}

#[test]
fn plugin_stages_refuse_a_function_key_and_tiny_limits() {
    let dir = plugin_pack("w-function", Ok("misbehave.wasm"), "ok", "");
    edit(
        &dir.join("pack/pack.toml"),
        "plugin = \"plugin.wasm\"",
        "plugin = \"plugin.wasm\"\nfunction = \"classify\"",
    );
    let err = fails(&dir, &["check", "--rules", "pack"], 1);
    assert!(
        err.contains("[stages.key_clients] binds a plugin, so `function` does not apply"),
        "{err}"
    );
    let dir = plugin_pack(
        "w-tiny",
        Ok("misbehave.wasm"),
        "ok",
        "plugin_memory_bytes = 1000",
    );
    let err = fails(&dir, &["check", "--rules", "pack"], 1);
    assert!(
        err.contains("plugin_memory_bytes = 1000 is too small"),
        "{err}"
    );
}

#[test]
fn a_missing_plugin_file_says_how_to_build_it() {
    let dir = plugin_pack("w-missing", Ok("misbehave.wasm"), "ok", "");
    std::fs::remove_file(dir.join("pack/plugin.wasm")).unwrap();
    let err = fails(&dir, &["check", "--rules", "pack"], 1);
    assert!(
        err.contains("pack/plugin.wasm: does not exist; build the plugin"),
        "{err}"
    );
}

#[test]
fn endless_loop_with_ample_fuel_is_stopped_by_the_time_limit() {
    for plugin in BOTH_WORLDS {
        plugin_fails(
            "w-time",
            Ok(plugin),
            "loop",
            "plugin_fuel_per_item = 100000000000000\nmax_seconds_per_call = 1",
            &[
                AT_C2,
                "ran longer than its time and was stopped",
                "[limits] max_seconds_per_call",
            ],
        );
    }
}

#[test]
fn tampered_compiled_code_is_never_run() {
    plugins();
    let dir = scratch("wasm-tamper");
    let cache = dir.join("cache");
    let wasm = root().join("rules/romashka-wasm");
    let w = wasm.to_str().unwrap();
    let check = |expect: &str| {
        let o = bonusrun_with_cache(&dir, &["check", "--rules", w], &cache);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(out.contains(expect), "expected {expect:?} in:\n{out}");
    };
    check("compiled code: compiled and cached");
    check("compiled code: from the cache");
    // Overwrite the compiled code (what an attacker with write access to the files would do):
    // it fails verification, is not run, and is replaced.
    let artifacts: Vec<PathBuf> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert!(!artifacts.is_empty());
    for a in &artifacts {
        let mut bytes = std::fs::read(a).unwrap();
        let n = bytes.len();
        bytes[n / 2] ^= 0xff;
        std::fs::write(a, bytes).unwrap();
    }
    check("compiled again: the cached code did not verify");
    check("compiled code: from the cache");
    // A run that meets tampered code says so in its warnings and run.json.
    for a in &artifacts {
        std::fs::write(a, b"not compiled code").unwrap();
    }
    let data = root().join("rules/romashka/data");
    let args = [
        "run",
        "--rules",
        w,
        "--data",
        data.to_str().unwrap(),
        "--out",
        "out",
        "-q",
    ];
    let o = bonusrun_with_cache(&dir, &args, &cache);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("the compiled code in the cache did not verify"),
        "{err}"
    );
    let run = json(&dir.join("out/run.json"));
    assert_eq!(run["plugins"][0]["compiled_code"], "rejected");
    // Code moved in from elsewhere without its tag is not run either.
    for a in &artifacts {
        std::fs::remove_file(a.with_extension("tag")).unwrap();
    }
    check("compiled again: the cached code did not verify");
}

#[cfg(unix)]
#[test]
fn a_cache_directory_others_can_write_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    plugins();
    let dir = scratch("wasm-shared-cache");
    let cache = dir.join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let wasm = root().join("rules/romashka-wasm");
    let o = bonusrun_with_cache(&dir, &["check", "--rules", wasm.to_str().unwrap()], &cache);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("compiled code: compiled, no cache"), "{out}");
    assert!(!cache.join("key").exists());
}

/// The mini pack with stages key_clients and bonus bound to the 0.2.0 misbehaving fixture.
fn bonus_plugin_pack(name: &str, mode: &str) -> PathBuf {
    let dir = plugin_pack(name, Ok("misbehave.wasm"), mode, "");
    edit(
        &dir.join("pack/pack.toml"),
        "[stages.bonus]\nscript = \"rules.rhai\"",
        "[stages.bonus]\nplugin = \"plugin.wasm\"",
    );
    dir
}

fn bonus_fails(name: &str, mode: &str, expected: &[&str]) {
    let dir = bonus_plugin_pack(name, mode);
    let err = fails(&dir, &["run", "--rules", "pack", "--out", "out"], 1);
    for e in expected {
        assert!(err.contains(e), "expected {e:?} in:\n{err}");
    }
    assert!(
        !dir.join("out").exists(),
        "a failed run wrote {}",
        dir.join("out").display()
    );
}

#[test]
fn a_handle_kept_beyond_its_call_is_refused() {
    plugin_fails(
        "w2-keep",
        Ok("misbehave.wasm"),
        "keep",
        "",
        &[
            AT_C2,
            "window.revenue: a window handle made during the call for client C1 was used in the call for client C2",
            "handles live only for the call that made them",
        ],
    );
}

#[test]
fn a_handle_kept_from_one_kpi_to_the_next_is_refused_naming_both_calls() {
    let dir = plugin_pack("w2-keep-kpi", Ok("misbehave.wasm"), "keep-kpi", "");
    edit(
        &dir.join("pack/pack.toml"),
        "[stages.kpis]\nscript = \"rules.rhai\"",
        "[stages.kpis]\nplugin = \"plugin.wasm\"",
    );
    let err = fails(&dir, &["run", "--rules", "pack", "--out", "out"], 1);
    for e in [
        "pack/plugin.wasm: export 'kpi' (stage kpis) for manager M1",
        "window.revenue: a window handle made during the call for manager M1 (KPI 'revenue') was used in the call for manager M1 (KPI 'margin')",
    ] {
        assert!(err.contains(e), "expected {e:?} in:\n{err}");
    }
    assert!(!dir.join("out").exists());
}

#[test]
fn a_handle_of_another_subject_is_refused() {
    bonus_fails(
        "w2-foreign",
        "foreign",
        &[
            "pack/plugin.wasm: export 'bonus' (stage bonus) for manager M2",
            "kpi.value: a kpi handle made during the call for manager M1 was used in the call for manager M2",
        ],
    );
}

#[test]
fn an_unknown_kpi_names_the_kpi_and_the_declared_ones() {
    bonus_fails(
        "w2-kpi",
        "unknown-kpi",
        &[
            "pack/plugin.wasm: export 'bonus' (stage bonus) for manager M1",
            "kpis.get: no KPI 'margn' (did you mean 'margin'?); the pack declares: revenue, margin",
        ],
    );
}

#[test]
fn unknown_parameters_tables_and_columns_stop_the_run() {
    for (mode, message) in [
        ("unknown-param", "unknown parameter 'no_such_param'; pack.toml [params] has: "),
        ("unknown-table", "unknown table 'no_such_table'; pack.toml [tables] has: (none)"),
        ("unknown-column", "client.extra: clients.csv has no column 'no_such_column'"),
        (
            "key-in-a",
            "client.key: key-client flags are decided by stage key_clients and are not known while it runs",
        ),
    ] {
        plugin_fails(
            &format!("w2-{mode}"),
            Ok("misbehave.wasm"),
            mode,
            "",
            &[AT_C2, message],
        );
    }
}

#[test]
fn a_plugin_that_makes_and_drops_handles_without_end_is_stopped() {
    plugin_fails(
        "w2-churn",
        Ok("misbehave.wasm"),
        "churn",
        "plugin_fuel_per_item = 10000000000",
        &[
            AT_C2,
            "made more than 1048576 handles in one call, the most one call may make",
        ],
    );
}

#[test]
fn a_list_of_lists_parameter_is_refused_by_name() {
    let dir = plugin_pack("w2-nested", Ok("misbehave.wasm"), "nested-param", "");
    edit(
        &dir.join("pack/pack.toml"),
        "cap = 1.2",
        "cap = 1.2\nnested = [[1, 2], [3]]",
    );
    let err = fails(&dir, &["run", "--rules", "pack", "--out", "out"], 1);
    let e = "parameter 'nested' is a list of lists, which world bonusrun:rules@0.2.3 cannot pass";
    assert!(err.contains(AT_C2) && err.contains(e), "{err}");
    assert!(!dir.join("out").exists());
}

#[test]
fn a_decimal_with_scale_29_sent_to_the_host_is_refused() {
    plugin_fails(
        "w2-bad-round",
        Ok("misbehave.wasm"),
        "bad-round",
        "",
        &[
            AT_C2,
            "round-money: a decimal with scale 29 (digits after the point); at most 28 fit",
        ],
    );
}

#[test]
fn a_decimal_with_scale_29_is_refused() {
    plugin_fails(
        "w2-scale",
        Ok("misbehave.wasm"),
        "scale",
        "",
        &[
            AT_C2,
            "score is a decimal with scale 29 (digits after the point); at most 28 fit",
        ],
    );
}

#[test]
fn a_flood_of_handles_is_stopped() {
    plugin_fails(
        "w2-flood",
        Ok("misbehave.wasm"),
        "flood",
        "",
        &[
            AT_C2,
            "holds too many handles at once and was stopped (a leak?)",
        ],
    );
}

/// The fenced block of `doc` whose first line is `marker` (the marker line included).
fn doc_block(doc: &str, marker: &str) -> String {
    let start = doc
        .find(&format!("\n{marker}\n"))
        .unwrap_or_else(|| panic!("docs/plugins.md has no block starting {marker:?}"));
    let body = &doc[start + 1..];
    body[..body.find("\n```").unwrap() + 1].to_string()
}

#[cfg(unix)]
#[test]
fn the_walk_through_in_docs_plugins_md_builds_runs_and_pays_what_it_says() {
    let built = plugins(); // also builds the SDK's dependencies into plugins/target
                           // Outside the repository (a crate under target/ would belong to its workspace), and
                           // removed when the test passes.
    let dir = std::env::temp_dir().join(format!("bonusrun-walk-through-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let doc = read(&root().join("docs/plugins.md"));
    // The layout the walk-through assumes: the checkout and the crate side by side.
    std::os::unix::fs::symlink(root(), dir.join("bonusrun")).unwrap();
    let krate = dir.join("myrules");
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::fs::write(
        krate.join("Cargo.toml"),
        doc_block(&doc, "# myrules/Cargo.toml"),
    )
    .unwrap();
    std::fs::write(
        krate.join("src/lib.rs"),
        doc_block(&doc, "// myrules/src/lib.rs"),
    )
    .unwrap();
    // The same dependency versions and build directory as plugins/, so that nothing is
    // downloaded and the SDK's dependencies are not compiled again.
    std::fs::copy(root().join("plugins/Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    std::os::unix::fs::symlink(
        built.parent().unwrap().parent().unwrap(),
        krate.join("target"),
    )
    .unwrap();
    let build = doc_block(&doc, "# build");
    let out = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &build])
        .current_dir(&krate)
        // The walk-through's `cp target/...` needs cargo's default build directory.
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the walk-through's build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pack = krate.join("myrules-pack");
    std::fs::write(
        pack.join("pack.toml"),
        doc_block(&doc, "# myrules-pack/pack.toml"),
    )
    .unwrap();
    let mut shown = Vec::new();
    for line in doc_block(&doc, "# check and run").lines().skip(1) {
        let args: Vec<&str> = line.split_whitespace().skip(1).collect();
        shown.push(ok(&krate, &args));
    }
    assert!(
        shown[0].contains(
            "stage key_clients: plugin myrules-pack/myrules.wasm (world bonusrun:rules@0.2.3"
        ),
        "{}",
        shown[0]
    );
    // What the walk-through says the run pays.
    let run = json(&krate.join("out/run.json"));
    assert_eq!(run["total_payout"], "286000.02");
    assert_eq!(run["plugins"][0]["world"], "bonusrun:rules@0.2.3");
    for (m, payout) in [
        ("M1", "85000.00"),
        ("M2", "100000.00"),
        ("M3", "100000.00"),
        ("M4", "1000.02"),
    ] {
        assert_eq!(
            csv_cell(&krate.join("out/payouts.csv"), m, "payout"),
            payout,
            "{m}"
        );
    }
    let key = read(&krate.join("out/key_clients.csv"));
    assert!(
        key.contains("32.6% of company revenue (threshold 30%)"),
        "{key}"
    );
    for c in ["C1", "C2", "C4"] {
        assert_eq!(
            csv_cell(&krate.join("out/key_clients.csv"), c, "key"),
            "false",
            "{c}"
        );
    }
    assert!(doc.contains("286000.02 RUB") && doc.contains("M4 1000.02"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_plugin_that_warns_without_end_is_stopped() {
    plugin_fails(
        "w2-chatter",
        Ok("misbehave.wasm"),
        "chatter",
        "",
        &[
            AT_C2,
            "warn: sent more than 4194304 bytes of warnings and log lines in one batch",
        ],
    );
}

#[test]
fn a_huge_unknown_name_makes_a_short_message_not_a_huge_one() {
    let fuel = "plugin_fuel_per_item = 10000000000";
    let dir = plugin_pack("w2-huge", Ok("misbehave.wasm"), "huge-param", fuel);
    let err = fails(&dir, &["run", "--rules", "pack", "--out", "out"], 1);
    let expected = format!("unknown parameter '{}… (16777216 bytes)'", "p".repeat(80));
    assert!(
        err.contains(AT_C2) && err.contains(&expected),
        "{}",
        &err[..err.len().min(2000)]
    );
    assert!(err.len() < 4096, "a {}-byte message", err.len());
    assert!(!dir.join("out").exists());
}

#[test]
fn explain_tells_the_same_story_for_the_wasm_pack_as_for_the_rhai_pack() {
    plugins();
    let dir = scratch("wasm-explain");
    let rhai = root().join("rules/romashka");
    let wasm = root().join("rules/romashka-wasm");
    let data = root().join("rules/romashka/data");
    let explain = |pack: &Path, who: &[&str]| {
        let mut args = vec!["explain", "--rules", pack.to_str().unwrap()];
        args.extend(["--data", data.to_str().unwrap()]);
        args.extend(who);
        // The second line names the pack; everything else must agree, lookups included.
        let text = ok(&dir, &args);
        let mut lines: Vec<&str> = text.lines().collect();
        lines.remove(1);
        lines.join("\n")
    };
    let managers = read(&data.join("managers.csv"));
    let clients = read(&data.join("clients.csv"));
    let ids = |csv: &str, n: usize| -> Vec<String> {
        csv.lines()
            .skip(1)
            .take(n)
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect()
    };
    for (flag, id) in ids(&managers, 8)
        .into_iter()
        .map(|m| ("--manager", m))
        .chain(ids(&clients, 12).into_iter().map(|c| ("--client", c)))
    {
        let (r, w) = (explain(&rhai, &[flag, &id]), explain(&wasm, &[flag, &id]));
        assert_eq!(
            r, w,
            "explain {flag} {id} differs between the Rhai and the WASM pack"
        );
    }
}

#[test]
fn a_plugin_of_world_0_2_0_still_runs_on_the_0_2_1_host() {
    // world_v020.wasm is built from the frozen 0.2.0 WIT: key = strategic, each KPI is the
    // revenue against plan, the bonus is the target bonus as one line.
    let dir = plugin_pack("w2-v020", Ok("world_v020.wasm"), "", "");
    let manifest = dir.join("pack/pack.toml");
    for stage in ["kpis", "bonus"] {
        edit(
            &manifest,
            &format!("[stages.{stage}]\nscript = \"rules.rhai\""),
            &format!("[stages.{stage}]\nplugin = \"plugin.wasm\""),
        );
    }
    let checked = ok(&dir, &["check", "--rules", "pack"]);
    assert!(
        checked.contains("plugin pack/plugin.wasm (world bonusrun:rules@0.2.0"),
        "{checked}"
    );
    ok(
        &dir,
        &[
            "run", "--rules", "pack", "--period", "2026-03", "--out", "out",
        ],
    );
    let run = json(&dir.join("out/run.json"));
    assert_eq!(run["plugins"][0]["world"], "bonusrun:rules@0.2.0");
    assert_eq!(
        csv_cell(&dir.join("out/payouts.csv"), "M1", "payout"),
        "100000.00"
    );
    assert_eq!(
        csv_cell(&dir.join("out/payouts.csv"), "M4", "payout"),
        "1000.01"
    );
    assert_eq!(
        csv_cell(&dir.join("out/key_clients.csv"), "C2", "key"),
        "true"
    );
}

#[test]
fn a_plugin_reads_the_ledger_facts_of_world_0_2_1() {
    plugins();
    let dir = scratch("w2-ledger-facts");
    let pack = dir.join("pack");
    copy_dir(&fixture("ledger"), &pack);
    std::fs::copy(plugins().join("misbehave.wasm"), pack.join("plugin.wasm")).unwrap();
    let manifest = pack.join("pack.toml");
    edit(
        &manifest,
        "[stages.bonus]\nscript = \"rules.rhai\"",
        "[stages.bonus]\nplugin = \"plugin.wasm\"",
    );
    edit(
        &manifest,
        "annual_rate = 0.12",
        "annual_rate = 0.12\nmode = \"ledger\"",
    );
    let ledger = ["--ledger", "l.db"];
    let run = |q: &str| {
        let mut args = vec![
            "run", "--rules", "pack", "--period", q, "--out", q, "--by", "I",
        ];
        args.extend(ledger);
        ok(&dir, &args)
    };
    run("2026-Q1");
    ok(&dir, &["approve", "1", "--by", "CFO", ledger[0], ledger[1]]);
    ok(
        &dir,
        &[
            "close", "2026-Q1", "--run", "1", "--by", "CFO", ledger[0], ledger[1],
        ],
    );
    run("2026-Q2");
    // Q1 paid M2 only its draw of 1000.00 (every probe line was 0); Q1's revenue was 2000.00
    // against a plan of 1000.
    let m2 = json(&dir.join("2026-Q2/statements/M2.json"));
    let amounts: Vec<(String, String)> = m2["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["label"].as_str().unwrap().to_string(),
                l["amount"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("paid_ytd", "1000.00"),
        ("computed_ytd", "0.00"),
        ("draw_balance", "1000.00"),
        ("paid 2026-Q1", "1000.00"),
        ("value_ytd revenue", "2000.00"),
        ("target_ytd revenue", "1000.00"),
    ];
    for (label, amount) in want {
        assert!(
            amounts.iter().any(|(l, a)| l == label && a == amount),
            "{label} {amount} not in {amounts:?}"
        );
    }
    assert_eq!(m2["lines"][0]["note"], "has_ledger true");
}

#[test]
fn a_plugin_reads_the_packs_declared_windows() {
    let dir = plugin_pack("w2-windows", Ok("misbehave.wasm"), "windows", "");
    crate::util::append(
        &dir.join("pack/pack.toml"),
        "\n[windows.ytd]\nkind = \"year_to_date\"\n[windows.monthly]\nkind = \"each_month\"\n[measures.lines]\ncount = \"lines\"\n",
    );
    ok(
        &dir,
        &[
            "run", "--rules", "pack", "--period", "2026-03", "--out", "out", "--quiet",
        ],
    );
    // C2 in 2026: 1200.00 and a return of -100.00 in March, so 1100.00 year to date in 2
    // lines (the measure `lines`); a monthly pack has one month per period.
    let key = dir.join("out/key_clients.csv");
    assert_eq!(csv_cell(&key, "C2", "score"), "1100");
    assert_eq!(csv_cell(&key, "C2", "tier"), "2026-01-01..2026-03-31 1 2");
    assert_eq!(csv_cell(&key, "C2", "reasons"), "2026-03");
    // An undeclared name stops the run, naming the plugin call and the names there are.
    let dir = plugin_pack(
        "w2-unknown-window",
        Ok("misbehave.wasm"),
        "unknown-window",
        "",
    );
    crate::util::append(
        &dir.join("pack/pack.toml"),
        "\n[windows.ytd]\nkind = \"year_to_date\"\n",
    );
    let err = fails(&dir, &["run", "--rules", "pack", "--out", "out"], 1);
    for e in [
        AT_C2,
        "no window 'ytdd' in the pack's [windows] (ytd) (did you mean 'ytd'?)",
    ] {
        assert!(err.contains(e), "expected {e:?} in:\n{err}");
    }
}

#[test]
fn a_plugin_reads_the_team_facts_of_world_0_2_3() {
    // The ledger fixture's Q1: M1 sold 3000.00, M2 2000.00, M3 1000.00. M3 reports to M2,
    // M2 to M1: M1's team sold 6000.00, M2's 3000.00.
    plugins();
    let dir = scratch("w2-team-facts");
    let pack = dir.join("pack");
    copy_dir(&fixture("ledger"), &pack);
    std::fs::copy(plugins().join("misbehave.wasm"), pack.join("plugin.wasm")).unwrap();
    std::fs::write(
        pack.join("data/managers.csv"),
        "manager_id,name,target_bonus,reports_to\nM1,Anna,1000.00,\nM2,Boris,1000.00,M1\nM3,Vera,1000.00,M2\n",
    )
    .unwrap();
    let manifest = pack.join("pack.toml");
    edit(
        &manifest,
        "[stages.bonus]\nscript = \"rules.rhai\"",
        "[stages.bonus]\nplugin = \"plugin.wasm\"",
    );
    edit(
        &manifest,
        "annual_rate = 0.12",
        "annual_rate = 0.12\nmode = \"team\"",
    );
    ok(
        &dir,
        &[
            "run",
            "--rules",
            "pack",
            "--period",
            "2026-Q1",
            "--out",
            "out",
            "--no-ledger",
        ],
    );
    let line = |m: &str, i: usize| {
        let s = json(&dir.join(format!("out/statements/{m}.json")));
        (
            s["lines"][i]["amount"].as_str().unwrap().to_string(),
            s["lines"][i]["note"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(
        line("M1", 0),
        ("6000.00".into(), "3 people under '', reports [M2]".into())
    );
    assert_eq!(
        line("M2", 0),
        ("3000.00".into(), "2 people under 'M1', reports [M3]".into())
    );
    assert_eq!(
        line("M3", 0),
        ("1000.00".into(), "1 people under 'M2', reports []".into())
    );
    assert_eq!(line("M1", 1).0, "0.00");
}
