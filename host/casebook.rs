//! `bonusrun test`: golden cases shipped in a rule pack, so that a company can prove a rule
//! change did not break the cases it agreed on, and gate rule changes in its own CI.
//!
//! A case is a folder `tests/<case>/` inside the pack with a `data/` folder (the canonical
//! CSV files, or real exports with a `data.toml` mapping whose files stay inside the pack), an `expected/` folder with any of `payouts.csv`, `kpis.csv` and
//! `key_clients.csv`, and optionally `case.toml` (`period = "2026-Q2"`, `description`) and
//! `ledger.toml`: what the payout ledger knows when the case runs (paid periods, draw
//! balances, pending true-ups), so that a pack's carry-over rules are testable.
//! Each case is run in memory and its outputs compared cell by cell.

use crate::error::Error;
use crate::evaluate::{self, RunOptions};
use crate::load::DataSource;
use crate::outputs::render_csvs;
use crate::period::Period;
use crate::rules::RulePack;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The outcome of one case.
pub struct CaseResult {
    /// The case folder name.
    pub name: String,
    /// Its description from `case.toml`.
    pub description: String,
    /// Differences, one sentence each; empty when the case passed.
    pub differences: Vec<String>,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    #[serde(default)]
    period: Option<String>,
    #[serde(default)]
    description: String,
}

/// A case's `ledger.toml`, if it has one: the ledger state its run reads.
fn ledger_state(path: &Path) -> Result<Option<evaluate::LedgerHook>, Error> {
    let Ok(bytes) = crate::confine::read_regular(path) else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut carry: crate::ledger::carry::Carry = toml::from_str(&text).map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start].matches('\n').count() + 1;
                format!(":{line}")
            })
            .unwrap_or_default();
        Error::Usage(format!(
            "{}{at}: {}; see docs/ledger.md (golden cases) for its shape",
            path.display(),
            e.message().trim()
        ))
    })?;
    carry.attached = true;
    Ok(Some(evaluate::LedgerHook(Arc::new(
        crate::ledger::verify::FixedCarry(carry),
    ))))
}

/// The case folders of a pack, sorted by name.
pub fn cases(pack_dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let dir = pack_dir.join("tests");
    let entries = std::fs::read_dir(&dir).map_err(|e| {
        Error::Usage(format!(
            "{}: {e}; a pack's golden cases live in tests/<case>/ with data/ and expected/",
            dir.display()
        ))
    })?;
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    for case in &out {
        crate::confine::inside(pack_dir, case).map_err(Error::Usage)?;
    }
    Ok(out)
}

/// Runs one case.
pub fn run_case(
    pack: &Arc<RulePack>,
    case: &Path,
    threads: Option<usize>,
) -> Result<CaseResult, Error> {
    let name = case
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A case lives in <pack>/tests/<case>: nothing it names may lead outside the pack.
    let pack_dir = case.parent().and_then(Path::parent).unwrap_or(case);
    let confined = |path: PathBuf| crate::confine::inside(pack_dir, &path).map_err(Error::Usage);
    let case_toml = crate::confine::read_regular(&confined(case.join("case.toml"))?)
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let meta: CaseFile = match case_toml {
        Ok(text) => toml::from_str(&text).map_err(|e| {
            Error::Usage(format!(
                "{}: {}",
                case.join("case.toml").display(),
                e.message()
            ))
        })?,
        Err(_) => CaseFile::default(),
    };
    let period = match &meta.period {
        Some(p) => Some(
            Period::parse(p)
                .map_err(|e| Error::Usage(format!("{}: {e}", case.join("case.toml").display())))?,
        ),
        None => None,
    };
    let ledger = ledger_state(&confined(case.join("ledger.toml"))?)?;
    let expected_dir = case.join("expected");
    // The case's data: canonical files, or real exports through data/data.toml (so that an
    // export's whole pipeline, encoding and dialect and lookups, is pinned by the case).
    let mapping = case.join("data").join("data.toml");
    let data = if mapping.is_file() {
        let mapping = confined(mapping)?;
        crate::mapping::load_confined(
            &mapping,
            crate::load::DEFAULT_MAX_FIELD_BYTES,
            Some(pack_dir),
        )
        .map_err(Error::Load)
    } else {
        Ok(DataSource::PackDir {
            dir: case.join("data"),
            pack: pack_dir.to_path_buf(),
        })
    };
    let result = data.and_then(|data| {
        evaluate::run(
            pack.clone(),
            &data,
            &RunOptions {
                period,
                threads,
                ledger,
                ..RunOptions::default()
            },
        )
    });
    let mut differences = Vec::new();
    match result {
        Err(e) => differences.push(format!("the run failed: {e}")),
        Ok(result) => {
            let mut compared = 0;
            for (file, actual) in render_csvs(&result)? {
                let Ok(expected) =
                    crate::confine::read_regular(&confined(expected_dir.join(&file))?)
                else {
                    continue;
                };
                compared += 1;
                differences.extend(compare_csv(&file, &expected, &actual));
            }
            if compared == 0 {
                differences.push(format!(
                    "{} has none of payouts.csv, kpis.csv, key_clients.csv to compare with",
                    expected_dir.display()
                ));
            }
        }
    }
    Ok(CaseResult {
        name,
        description: meta.description,
        differences,
    })
}

fn records(bytes: &[u8]) -> Result<Vec<Vec<String>>, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    rdr.records()
        .map(|r| {
            r.map(|r| r.iter().map(str::to_string).collect())
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Compares two CSV files cell by cell; rows are matched by their key (the first column,
/// and the second for `kpis.csv`).
pub fn compare_csv(file: &str, expected: &[u8], actual: &[u8]) -> Vec<String> {
    let (e, a) = match (records(expected), records(actual)) {
        (Ok(e), Ok(a)) => (e, a),
        (Err(err), _) => return vec![format!("{file}: the expected file cannot be read: {err}")],
        (_, Err(err)) => return vec![format!("{file}: the output cannot be read: {err}")],
    };
    let mut out = Vec::new();
    let (Some(eh), Some(ah)) = (e.first(), a.first()) else {
        return vec![format!("{file}: empty")];
    };
    if eh != ah {
        out.push(format!(
            "{file}: the header differs: expected {}, got {}",
            eh.join(","),
            ah.join(",")
        ));
        return out;
    }
    let key_len = if file == "kpis.csv" { 2 } else { 1 };
    let key = |r: &Vec<String>| {
        r.iter()
            .take(key_len)
            .cloned()
            .collect::<Vec<_>>()
            .join("/")
    };
    for er in &e[1..] {
        match a[1..].iter().find(|ar| key(ar) == key(er)) {
            None => out.push(format!(
                "{file}: row {} is missing from the output",
                key(er)
            )),
            Some(ar) => {
                for (i, col) in eh.iter().enumerate() {
                    let (ev, av) = (
                        er.get(i).map(String::as_str).unwrap_or(""),
                        ar.get(i).map(String::as_str).unwrap_or(""),
                    );
                    if ev != av {
                        out.push(format!(
                            "{file}: row {}, column {col}: expected {ev:?}, got {av:?}",
                            key(er)
                        ));
                    }
                }
            }
        }
    }
    for ar in &a[1..] {
        if !e[1..].iter().any(|er| key(er) == key(ar)) {
            out.push(format!(
                "{file}: row {} is in the output but not expected",
                key(ar)
            ));
        }
    }
    out
}
