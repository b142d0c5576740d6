//! `report.html`: the run as finance reviews it, in one self-contained file (no scripts,
//! no network): the run's header, payouts against target, where gates and caps bit, the
//! spread of attainment per KPI, the pack's payout curve with every manager on it, key
//! clients and each portfolio's concentration, and one section per manager (its statement).
//! Charts are inline SVG drawn with plotters.
//!
//! The report is rendered from the run's own files (`run.json`, the statements,
//! `key_clients.csv`), in memory while a run is written and from disk for `bonusrun report`,
//! so a re-rendered report is byte for byte the one the run wrote.

mod charts;
mod diff;
mod html;
mod model;

use crate::error::Error;
use crate::load::source_hex;
use model::Model;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The report's file name in a run's outputs.
pub const FILE: &str = "report.html";

/// The report of a run being written: `run_json` as rendered so far, and the other outputs
/// in memory.
pub fn render_run(run_json: &Value, outputs: &[(String, Vec<u8>)]) -> Result<Vec<u8>, Error> {
    render_parsed(run_json, parse_outputs(outputs)?)
}

/// The outputs the report shows, parsed: what [`render_parsed`] needs beside `run.json`, so
/// that a run parses them while its files are written and `run.json` is hashed.
pub struct Parsed {
    statements: Vec<model::Statement>,
    clients: Vec<model::KeyClient>,
}

/// Parses the statements (in parallel) and `key_clients.csv` among `outputs`.
pub fn parse_outputs(outputs: &[(String, Vec<u8>)]) -> Result<Parsed, Error> {
    use rayon::prelude::*;
    let statements = outputs
        .par_iter()
        .filter(|(name, _)| name.starts_with("statements/"))
        .map(|(name, bytes)| model::statement(name, bytes).map(Statement))
        .collect::<Result<Vec<_>, _>>()
        .map_err(report_err)?;
    parsed(statements, outputs)
}

/// A statement as the report reads it.
pub struct Statement(model::Statement);

/// The statement file `name` (its bytes) as the report reads it.
pub fn statement_of(name: &str, bytes: &[u8]) -> Result<Statement, Error> {
    model::statement(name, bytes)
        .map(Statement)
        .map_err(report_err)
}

/// The parsed outputs of `statements` (in file order) and `key_clients.csv` among `outputs`.
pub fn parsed(statements: Vec<Statement>, outputs: &[(String, Vec<u8>)]) -> Result<Parsed, Error> {
    let statements = statements.into_iter().map(|s| s.0).collect();
    let key = outputs
        .iter()
        .find(|(name, _)| name == "key_clients.csv")
        .map(|(_, b)| b.as_slice())
        .unwrap_or_default();
    Ok(Parsed {
        statements,
        clients: model::key_clients(key).map_err(report_err)?,
    })
}

/// The report from `run.json` and the parsed outputs.
pub fn render_parsed(run_json: &Value, parsed: Parsed) -> Result<Vec<u8>, Error> {
    let model = Model {
        run: run_json.clone(),
        statements: parsed.statements,
        clients: parsed.clients,
    };
    Ok(html::render(&model).map_err(report_err)?.into_bytes())
}

/// The report of the run in `dir`, from its files. Each file is checked against the hash
/// `run.json` recorded, so the report shows what the run wrote or nothing.
pub fn render_dir(dir: &Path) -> Result<Vec<u8>, Error> {
    let run_path = dir.join("run.json");
    let bytes = std::fs::read(&run_path).map_err(|e| Error::Output {
        path: run_path.display().to_string(),
        message: format!("cannot read it ({e}); give the directory of a bonus run"),
    })?;
    let run: Value = serde_json::from_slice(&bytes)
        .ok()
        .filter(|v: &Value| v["engine"]["name"] == "bonusrun")
        .ok_or_else(|| Error::Output {
            path: run_path.display().to_string(),
            message: "not the run.json of a bonus run".into(),
        })?;
    let mut outputs = Vec::new();
    for o in run["outputs"].as_array().into_iter().flatten() {
        let name = o["path"].as_str().unwrap_or_default();
        if !(name.starts_with("statements/") || name == "key_clients.csv") {
            continue;
        }
        outputs.push((
            name.to_string(),
            read_checked(dir, name, o["sha256"].as_str())?,
        ));
    }
    render_run(&run, &outputs)
}

/// A file of the run, which must still have the hash `run.json` recorded.
fn read_checked(dir: &Path, name: &str, sha256: Option<&str>) -> Result<Vec<u8>, Error> {
    let path = dir.join(name);
    let bytes = std::fs::read(&path).map_err(|e| Error::Output {
        path: path.display().to_string(),
        message: format!("cannot read it ({e}); run.json lists it"),
    })?;
    if sha256 != Some(source_hex(&Sha256::digest(&bytes)).as_str()) {
        return Err(Error::Output {
            path: path.display().to_string(),
            message: "it changed since the run wrote it (its SHA-256 differs from run.json's); the report would not show what was run".into(),
        });
    }
    Ok(bytes)
}

/// `diff.html` for a what-if; `before` and `after` say what each side ran.
pub fn render_diff(
    diff: &crate::whatif::Diff,
    before: &str,
    after: &str,
) -> Result<Vec<u8>, Error> {
    diff::render(diff, before, after)
        .map(String::into_bytes)
        .map_err(|message| Error::Output {
            path: "diff.html".into(),
            message,
        })
}

fn report_err(message: String) -> Error {
    Error::Output {
        path: FILE.into(),
        message,
    }
}
