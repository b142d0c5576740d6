//! Test helpers: scratch directories, running the real binary, reading outputs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture directory under `tests/data`.
pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/data").join(name)
}

/// This test process's own directory, under cargo's `target/tmp` (never the system's temp
/// directory): scratch directories and the plugin cache live there. The first call removes
/// what earlier test runs left (their processes are gone), so that only the latest run's
/// directories stay, for a look after a failure.
pub fn run_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bonusrun-tests");
        if let Ok(entries) = std::fs::read_dir(&base) {
            for e in entries.flatten() {
                let pid = e.file_name().to_string_lossy().into_owned();
                let alive = Path::new("/proc").join(&pid).exists();
                if !alive && pid != std::process::id().to_string() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = base.join(std::process::id().to_string());
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
    .clone()
}

/// A fresh, empty scratch directory, unique per test.
pub fn scratch(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = run_dir().join(format!("{}-{name}", COUNTER.fetch_add(1, Ordering::SeqCst)));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), target).unwrap();
        } else if kind.is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Appends `text` to a file.
pub fn append(path: &Path, text: &str) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes.extend_from_slice(text.as_bytes());
    std::fs::write(path, bytes).unwrap();
}

/// Replaces `from` by `to` in a file; panics if `from` is not there.
pub fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.contains(from),
        "{} does not contain {from:?}",
        path.display()
    );
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// The compiled-plugin cache the tests share (one per test process, in [`run_dir`]), so
/// that tests do not write to the user's cache.
pub fn test_cache_dir() -> PathBuf {
    run_dir().join("plugin-cache")
}

/// Runs the binary with `args` in `dir`.
pub fn bonusrun(dir: &Path, args: &[&str]) -> Output {
    bonusrun_with_cache(dir, args, &test_cache_dir())
}

/// Runs the binary with `args` in `dir`, caching compiled plugins in `cache`.
pub fn bonusrun_with_cache(dir: &Path, args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bonusrun"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("BONUSRUN_BY")
        .env_remove("BONUSRUN_LEDGER")
        .env("BONUSRUN_CACHE_DIR", cache)
        .output()
        .expect("the bonusrun binary runs")
}

/// Builds the plugins once per test process with `plugins/build.sh` (which installs the
/// wasm32-wasip2 target if needed) and returns the directory holding the `.wasm` files.
/// A failed build fails the test: plugin tests never skip.
pub fn plugins() -> PathBuf {
    static BUILT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let result = BUILT.get_or_init(|| {
        // Said on the terminal, past the test harness's capture: the first build installs
        // the wasm32-wasip2 target and fetches the plugin crates, which takes a while.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr().lock(),
            "tests: building the WebAssembly plugins with plugins/build.sh (the first time, this installs the wasm32-wasip2 target and fetches the plugin crates)"
        );
        let out = Command::new("bash")
            .arg(root().join("plugins/build.sh"))
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run plugins/build.sh: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "plugins/build.sh failed (its messages are on the terminal above):\n{}",
                String::from_utf8_lossy(&out.stdout)
            ))
        }
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    root().join("plugins/target/wasm32-wasip2/release")
}

fn describe(args: &[&str], out: &Output) -> String {
    format!(
        "bonusrun {}\nexit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs and expects success; returns stdout.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let out = bonusrun(dir, args);
    assert!(
        out.status.success(),
        "expected success:\n{}",
        describe(args, &out)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs and expects exit code `code`; returns stderr.
pub fn fails(dir: &Path, args: &[&str], code: i32) -> String {
    let out = bonusrun(dir, args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit {code}:\n{}",
        describe(args, &out)
    );
    String::from_utf8(out.stderr).unwrap()
}

/// Reads a file as text.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The value of column `col` in the row whose first field is `key`, of a CSV file.
pub fn csv_cell(path: &Path, key: &str, col: &str) -> String {
    let mut rdr = csv::Reader::from_path(path).unwrap();
    let header = rdr.headers().unwrap().clone();
    let idx = header
        .iter()
        .position(|h| h == col)
        .unwrap_or_else(|| panic!("no column {col}"));
    for rec in rdr.records() {
        let rec = rec.unwrap();
        if &rec[0] == key {
            return rec[idx].to_string();
        }
    }
    panic!("no row {key} in {}", path.display())
}

/// Parses a JSON file.
pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs the pack `dir/pack` for 2026-Q1 expecting exit code 1 and no outputs; returns stderr.
pub fn q1_run_fails(dir: &Path) -> String {
    let err = fails(
        dir,
        &[
            "run", "--rules", "pack", "--period", "2026-Q1", "--out", "x",
        ],
        1,
    );
    assert!(!dir.join("x").exists(), "a failed run wrote its outputs");
    err
}

/// Asserts that two run directories hold the same payouts, KPIs, key clients and
/// statements, byte for byte (`what` says what the two runs were, for the message).
pub fn same_payouts(a: &Path, b: &Path, what: &str) {
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
    for f in &files {
        let (x, y) = (read(&a.join(f)), read(&b.join(f)));
        let first = x
            .lines()
            .zip(y.lines())
            .enumerate()
            .find(|(_, (p, q))| p != q);
        assert!(
            x == y,
            "{f} differs between {what}, first at line {:?}",
            first.map(|(i, (p, q))| (i + 1, p, q))
        );
    }
}
