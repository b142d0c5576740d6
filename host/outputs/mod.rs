//! Writing a bonus run: `payouts.csv`, `kpis.csv`, `key_clients.csv`,
//! `statements/<manager_id>.json` and `run.json`.
//!
//! Everything is written into a staging directory next to the output directory and renamed
//! into place only when all of it succeeded, so a failed run leaves no partial outputs. The
//! bytes of every file except `run.json` (which records times and the thread count) depend
//! only on the inputs.

mod files;
mod manifest;
mod statement;
mod xlsx;

pub use statement::statement_json;

use crate::error::Error;
use crate::evaluate::RunResult;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Checks before a run that its outputs can be written: an existing directory is kept
/// unless `force`.
pub fn check_target(out: &Path, force: bool) -> Result<(), Error> {
    if out.exists() && !force {
        return Err(Error::Output {
            path: out.display().to_string(),
            message:
                "it already exists and is kept; choose another --out or pass --force to replace it"
                    .into(),
        });
    }
    if out.exists() && !out.is_dir() {
        return Err(Error::Output {
            path: out.display().to_string(),
            message: "it exists and is not a directory".into(),
        });
    }
    Ok(())
}

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::Output {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Writes the run into `out` through a staging directory.
pub fn write_run(result: &RunResult, out: &Path, force: bool) -> Result<(), Error> {
    check_target(out, force)?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| io_err(&parent, e))?;
    let base = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bonusrun-out".into());
    let staging = parent.join(format!(".{base}.staging-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| io_err(&staging, e))?;
    }
    std::fs::create_dir_all(&staging).map_err(|e| io_err(&staging, e))?;
    let written = write_all(result, &staging);
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
    if old.exists() {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(())
}

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
fn write_all(result: &RunResult, dir: &Path) -> Result<(), Error> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(result.threads.max(1))
        .thread_name(|i| format!("bonusrun-out-{i}"))
        .build()
        .map_err(|e| Error::Output {
            path: dir.display().to_string(),
            message: format!("cannot start the output threads: {e}"),
        })?;
    pool.install(|| write_files(result, dir, render_all(result)?))
}

fn render_all(result: &RunResult) -> Result<Vec<(String, Vec<u8>)>, Error> {
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
                    let mut bytes =
                        serde_json::to_vec_pretty(&json).map_err(|e| Error::Output {
                            path: name.clone(),
                            message: e.to_string(),
                        })?;
                    bytes.push(b'\n');
                    Ok((format!("statements/{name}"), bytes))
                })
                .collect::<Result<Vec<_>, Error>>()
        },
    );
    let mut written = csvs?;
    written.push(("payouts.xlsx".into(), workbook?));
    written.extend(statements?);
    Ok(written)
}

fn write_files(
    result: &RunResult,
    dir: &Path,
    written: Vec<(String, Vec<u8>)>,
) -> Result<(), Error> {
    std::fs::create_dir_all(dir.join("statements"))
        .map_err(|e| io_err(&dir.join("statements"), e))?;
    // Files are written in parallel, and run.json's hashes are taken meanwhile; a failure
    // is reported for the first file in order, whatever the thread count.
    let (writes, run_json) = rayon::join(
        || {
            written
                .par_iter()
                .map(|(name, bytes)| {
                    let path = dir.join(name);
                    std::fs::write(&path, bytes).map_err(|e| io_err(&path, e))
                })
                .collect::<Vec<_>>()
        },
        || manifest::run_json(result, &written),
    );
    writes.into_iter().collect::<Result<(), Error>>()?;
    let mut bytes = serde_json::to_vec_pretty(&run_json).map_err(|e| Error::Output {
        path: "run.json".into(),
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    let path = dir.join("run.json");
    std::fs::write(&path, bytes).map_err(|e| io_err(&path, e))?;
    Ok(())
}
