//! Writing a bonus run: `payouts.csv`, `kpis.csv`, `key_clients.csv`,
//! `statements/<manager_id>.json` and `run.json`.
//!
//! Everything is written into a staging directory next to the output directory, flushed to
//! disk, and renamed into place only when all of it succeeded, so a failed run leaves no
//! partial outputs; what a killed run leaves behind is tidied by the next run. `--force`
//! replaces only a directory that bonusrun wrote. The
//! bytes of every file except `run.json` (which records times and the thread count) depend
//! only on the inputs.

mod files;
mod manifest;
pub mod report;
mod statement;
mod xlsx;

pub use manifest::rfc3339;
pub use statement::statement_json;

/// Records a run in the ledger once its outputs are staged: given run.json, it writes the
/// run and, before committing, calls the second argument with what run.json says of the
/// ledger, which writes run.json into the staging directory.
pub type Record<'a> =
    &'a mut dyn FnMut(&Value, &mut dyn FnMut(&Value) -> Result<(), Error>) -> Result<(), Error>;

use crate::error::Error;
use crate::evaluate::RunResult;
use rayon::prelude::*;
use serde_json::Value;
use sha2::Digest;
use std::path::{Path, PathBuf};

/// Checks before a run that its outputs can be written (call [`recover`] first). An
/// existing directory is kept unless `force`, and even then only a directory that bonusrun
/// wrote is replaced: its `run.json` lists every file in it.
pub fn check_target(out: &Path, force: bool) -> Result<(), Error> {
    if !out.exists() {
        return Ok(());
    }
    if !out.is_dir() {
        return Err(Error::Output {
            path: out.display().to_string(),
            message: "it exists and is not a directory".into(),
        });
    }
    if !force {
        return Err(Error::Output {
            path: out.display().to_string(),
            message:
                "it already exists and is kept; choose another --out or pass --force to replace it"
                    .into(),
        });
    }
    if let Err(why) = ours(out) {
        return Err(Error::Output {
            path: out.display().to_string(),
            message: format!(
                "--force replaces only a directory of bonusrun's outputs, and this is not one ({why}); it is kept: choose another --out"
            ),
        });
    }
    Ok(())
}

/// Whether `dir` holds bonusrun's outputs and nothing else: a `run.json` of bonusrun that
/// lists every other file in it. An empty directory counts as ours (nothing is lost).
fn ours(dir: &Path) -> Result<(), String> {
    let mut found = Vec::new();
    list_files(dir, dir, &mut found).map_err(|e| format!("cannot list it: {e}"))?;
    if found.is_empty() {
        return Ok(());
    }
    let manifest =
        std::fs::read(dir.join("run.json")).map_err(|_| "it has no run.json".to_string())?;
    let json: serde_json::Value = serde_json::from_slice(&manifest)
        .map_err(|_| "its run.json is not bonusrun's".to_string())?;
    if json["engine"]["name"] != "bonusrun" {
        return Err("its run.json is not bonusrun's".into());
    }
    let listed: std::collections::HashSet<&str> = json["outputs"]
        .as_array()
        .map(|a| a.iter().filter_map(|o| o["path"].as_str()).collect())
        .unwrap_or_default();
    let foreign: Vec<&String> = found
        .iter()
        .filter(|f| f.as_str() != "run.json" && !listed.contains(f.as_str()))
        .collect();
    match foreign.first() {
        None => Ok(()),
        Some(f) => Err(format!(
            "it holds {} file(s) that bonusrun did not write, such as {f}",
            foreign.len()
        )),
    }
}

/// Files under `dir`, as paths relative to `root` with `/`; directories are walked, links
/// are listed as files (never followed).
fn list_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            list_files(root, &path, out)?;
        } else {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        }
    }
    Ok(())
}

/// Fails when one of `paths` exists and `force` is not given: bonusrun's commands other
/// than `run` (`doc`, `generate`, `diff --csv`) replace an existing file only when told to,
/// and never one that is not a regular file.
pub fn check_files(paths: &[PathBuf], force: bool) -> Result<(), Error> {
    for path in paths {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            continue;
        };
        let message = if !meta.is_file() {
            "it exists and is not a regular file, so it is kept; choose another path"
        } else if !force {
            "it already exists and is kept; choose another path, or pass --force to replace it"
        } else {
            continue;
        };
        return Err(Error::Output {
            path: path.display().to_string(),
            message: message.into(),
        });
    }
    Ok(())
}

/// Writes one file through a temporary file in the same directory, flushed and renamed into
/// place, so that a crash leaves the old file or the new one.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let (parent, base) = parent_and_base(path);
    let tmp = parent.join(format!(".{base}.tmp-{}", std::process::id()));
    write_synced(&tmp, bytes)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_err(path, e)
    })?;
    sync_dir(&parent)
}

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::Output {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// The directory `out` is in, and its name.
fn parent_and_base(out: &Path) -> (PathBuf, String) {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bonusrun-out".into());
    (parent, base)
}

/// Whether process `pid` is running (Linux: it has a `/proc` entry; elsewhere every process
/// is taken to be running, so nothing of it is touched).
fn alive(pid: u32) -> bool {
    pid == std::process::id()
        || !cfg!(target_os = "linux")
        || Path::new(&format!("/proc/{pid}")).exists()
}

/// Tidies what a run that died (killed, or the machine stopped) left next to `out`: its
/// staging directory is removed, and its set-aside old outputs are put back when `out` is
/// missing (the run died between its two renames) or removed otherwise. Returns a sentence
/// for each thing done. Leftovers of running processes are not touched.
pub fn recover(out: &Path) -> Result<Vec<String>, Error> {
    recover_recorded(out, &|_| None)
}

/// [`recover`], except that a staging directory whose `run.json` names a run the ledger
/// recorded (`recorded` returns its sentence) is put in place rather than removed: the run
/// was committed and died before its rename, and its outputs are the ones the ledger holds.
pub fn recover_recorded(
    out: &Path,
    recorded: &dyn Fn(&Value) -> Option<String>,
) -> Result<Vec<String>, Error> {
    let (parent, base) = parent_and_base(out);
    let Ok(entries) = std::fs::read_dir(&parent) else {
        return Ok(Vec::new());
    };
    let mut leftovers: Vec<(String, bool, u32)> = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&format!(".{base}.")) else {
            continue;
        };
        let (old, pid) = match (rest.strip_prefix("staging-"), rest.strip_prefix("old-")) {
            (Some(pid), _) => (false, pid),
            (_, Some(pid)) => (true, pid),
            _ => continue,
        };
        if let Ok(pid) = pid.parse::<u32>() {
            if !alive(pid) {
                leftovers.push((name, old, pid));
            }
        }
    }
    leftovers.sort();
    let mut notes = Vec::new();
    for (name, old, pid) in &leftovers {
        let path = parent.join(name);
        let run_json = std::fs::read(path.join("run.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        let Some(said) = run_json.as_ref().filter(|_| !*old).and_then(recorded) else {
            continue;
        };
        if out.exists() {
            let aside = parent.join(format!(".{base}.old-{pid}"));
            if !aside.exists() {
                std::fs::rename(out, &aside).map_err(|e| io_err(out, e))?;
            }
        }
        std::fs::rename(&path, out).map_err(|e| io_err(&path, e))?;
        sync_dir(&parent)?;
        // The outputs the dead run replaced (it was allowed to: it passed check_target).
        let aside = parent.join(format!(".{base}.old-{pid}"));
        if aside.exists() {
            std::fs::remove_dir_all(&aside).map_err(|e| io_err(&aside, e))?;
        }
        notes.push(format!(
            "{said} was recorded by a process ({pid}) that died before putting its outputs in place; they were put in place now at {}",
            out.display()
        ));
    }
    for (name, old, pid) in leftovers {
        let path = parent.join(&name);
        if !path.exists() {
            continue; // put in place above
        }
        if old && !out.exists() {
            std::fs::rename(&path, out).map_err(|e| io_err(&path, e))?;
            sync_dir(&parent)?;
            notes.push(format!(
                "a run (process {pid}) died while replacing {}: its previous outputs were put back from {}",
                out.display(),
                path.display()
            ));
        } else {
            std::fs::remove_dir_all(&path).map_err(|e| io_err(&path, e))?;
            notes.push(format!(
                "removed {}, left by a run (process {pid}) that died",
                path.display()
            ));
        }
    }
    Ok(notes)
}

/// Flushes a directory's entries to disk, so that a rename in it survives a crash.
fn sync_dir(dir: &Path) -> Result<(), Error> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, e))
}

/// Writes the run into `out` through a staging directory: every file and directory is
/// flushed to disk before the staging directory is renamed into place, so a crash leaves
/// either the old outputs or the new ones (and leftovers that the next run tidies).
pub fn write_run(result: &RunResult, out: &Path, force: bool) -> Result<(), Error> {
    write_run_recorded(result, out, force, None)
}

/// [`write_run`], recording the run in the ledger (through `record`) after every output
/// is staged and before any is put in place: a failed record writes nothing.
pub fn write_run_recorded(
    result: &RunResult,
    out: &Path,
    force: bool,
    record: Option<Record>,
) -> Result<(), Error> {
    check_target(out, force)?;
    let (parent, base) = parent_and_base(out);
    std::fs::create_dir_all(&parent).map_err(|e| io_err(&parent, e))?;
    let staging = parent.join(format!(".{base}.staging-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| io_err(&staging, e))?;
    }
    std::fs::create_dir_all(&staging).map_err(|e| io_err(&staging, e))?;
    let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let run_json = write_all(result, &staging)?;
        let mut stage = |ledger: &Value| {
            let mut run_json = run_json.clone();
            run_json["ledger"] = ledger.clone();
            write_run_json(&staging, &run_json)
        };
        match record {
            Some(record) => {
                record(&run_json, &mut stage)?;
                crate::ledger::kill_point("run:committed");
                Ok(())
            }
            None => stage(&Value::Null),
        }
    }));
    let written = match written {
        Ok(w) => w,
        Err(panic) => {
            let _ = std::fs::remove_dir_all(&staging);
            std::panic::resume_unwind(panic);
        }
    };
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    let old = parent.join(format!(".{base}.old-{}", std::process::id()));
    if out.exists() {
        if let Err(e) = std::fs::rename(out, &old) {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(io_err(out, e));
        }
    }
    if let Err(e) = std::fs::rename(&staging, out) {
        // Put the old outputs back.
        if old.exists() {
            let _ = std::fs::rename(&old, out);
        }
        let _ = std::fs::remove_dir_all(&staging);
        return Err(io_err(out, e));
    }
    sync_dir(&parent)?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| io_err(&old, e))?;
    }
    Ok(())
}

/// Output files in memory: name and bytes.
type Files = Vec<(String, Vec<u8>)>;

/// The three CSV outputs in memory: `payouts.csv`, `kpis.csv`, `key_clients.csv`.
pub fn render_csvs(result: &RunResult) -> Result<Vec<(String, Vec<u8>)>, Error> {
    Ok(vec![
        ("payouts.csv".into(), files::payouts_csv(result)?),
        ("kpis.csv".into(), files::kpis_csv(result)?),
        ("key_clients.csv".into(), files::key_clients_csv(result)?),
    ])
}

/// Renders every output on as many threads as the run used (the files are independent),
/// then writes them in a fixed order.
fn write_all(result: &RunResult, dir: &Path) -> Result<Value, Error> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(result.threads.max(1))
        .thread_name(|i| format!("bonusrun-out-{i}"))
        .build()
        .map_err(|e| Error::Output {
            path: dir.display().to_string(),
            message: format!("cannot start the output threads: {e}"),
        })?;
    pool.install(|| {
        let (written, statements) = render_all(result)?;
        write_files(result, dir, written, statements)
    })
}

/// Every output except `run.json`, in memory, in the order `run.json` lists them.
pub fn render_outputs(result: &RunResult) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let (mut written, statements) = render_all(result)?;
    let parsed = report::parsed(statements, &written)?;
    let html = report::render_parsed(&manifest::run_json(result, &written), parsed)?;
    written.push((report::FILE.into(), html));
    Ok(written)
}

/// Every output except `run.json` and the report, and the statements as the report reads
/// them: each is parsed as soon as it is rendered, while the workbook is rendered.
fn render_all(result: &RunResult) -> Result<(Files, Vec<report::Statement>), Error> {
    let names = statement::file_names(result)?;
    let ((csvs, workbook), statements) = rayon::join(
        || rayon::join(|| render_csvs(result), || xlsx::payouts_xlsx(result)),
        || {
            result
                .managers
                .par_iter()
                .zip(&names)
                .map(|(m, name)| {
                    let json = statement_json(result, m);
                    let name = format!("statements/{name}");
                    let mut bytes =
                        serde_json::to_vec_pretty(&json).map_err(|e| Error::Output {
                            path: name.clone(),
                            message: e.to_string(),
                        })?;
                    bytes.push(b'\n');
                    let read = report::statement_of(&name, &bytes)?;
                    Ok(((name, bytes), read))
                })
                .collect::<Result<Vec<_>, Error>>()
        },
    );
    let mut written = csvs?;
    written.push(("payouts.xlsx".into(), workbook?));
    let (files, read): (Vec<_>, Vec<_>) = statements?.into_iter().unzip();
    written.extend(files);
    Ok((written, read))
}

fn write_files(
    result: &RunResult,
    dir: &Path,
    written: Vec<(String, Vec<u8>)>,
    statements: Vec<report::Statement>,
) -> Result<Value, Error> {
    std::fs::create_dir_all(dir.join("statements"))
        .map_err(|e| io_err(&dir.join("statements"), e))?;
    // Files are written in parallel, and run.json's hashes are taken meanwhile; a failure
    // is reported for the first file in order, whatever the thread count.
    // The report reads key_clients.csv meanwhile too.
    let (writes, (run_json, parsed)) = rayon::join(
        || {
            written
                .par_iter()
                .map(|(name, bytes)| {
                    let path = dir.join(name);
                    write_synced(&path, bytes)
                })
                .collect::<Vec<_>>()
        },
        || {
            rayon::join(
                || manifest::run_json(result, &written),
                || report::parsed(statements, &written),
            )
        },
    );
    writes.into_iter().collect::<Result<(), Error>>()?;
    sync_dir(&dir.join("statements"))?;
    let mut run_json = run_json;
    let html = report::render_parsed(&run_json, parsed?)?;
    write_synced(&dir.join(report::FILE), &html)?;
    if let Some(outputs) = run_json["outputs"].as_array_mut() {
        outputs.push(serde_json::json!({
            "path": report::FILE,
            "sha256": crate::load::source_hex(&sha2::Sha256::digest(&html)),
        }));
    }
    Ok(run_json)
}

/// Writes `run.json` last, then flushes the directory.
fn write_run_json(dir: &Path, run_json: &Value) -> Result<(), Error> {
    let mut bytes = serde_json::to_vec_pretty(run_json).map_err(|e| Error::Output {
        path: "run.json".into(),
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    write_synced(&dir.join("run.json"), &bytes)?;
    if std::env::var_os("BONUSRUN_TEST_PANIC_WRITING").is_some() {
        // For the tests of the last-resort guard: a bug while writing leaves nothing.
        panic!("BONUSRUN_TEST_PANIC_WRITING is set");
    }
    sync_dir(dir)
}

/// Writes a file and flushes it to disk.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::io::Write;
    let mut f = std::fs::File::create(path).map_err(|e| io_err(path, e))?;
    f.write_all(bytes).map_err(|e| io_err(path, e))?;
    f.sync_all().map_err(|e| io_err(path, e))
}
