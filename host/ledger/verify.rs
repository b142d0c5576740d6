//! `verify RUN`: what a recorded run needs to be run again (its pack, data, period,
//! parameter overrides and the ledger state it read), and the comparison of the outputs.

use super::carry::Carry;
use super::lifecycle::run_row;
use super::record::hash_list;
use super::{sql, Ledger};
use crate::error::Error;
use crate::evaluate::{CarrySource, RunResult};
use crate::load::Dataset;
use crate::period::Period;
use crate::rules::RulePack;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// A recorded run, as `verify` needs it.
pub struct Recorded {
    /// The run id.
    pub id: i64,
    /// Its period.
    pub period: String,
    /// `--rules` as given, or `None` for the bundled pack.
    pub rules: Option<String>,
    /// `--data` as given, or `None` for the pack's data.
    pub data: Option<String>,
    /// The working directory the run was made in.
    pub cwd: Option<String>,
    /// `--set` overrides.
    pub overrides: Vec<String>,
    /// The ledger state it read.
    pub carry: Carry,
    /// Its outputs: path → sha256.
    pub outputs: BTreeMap<String, String>,
    /// Its inputs: name → sha256.
    pub inputs: BTreeMap<String, String>,
    /// The pack's hash.
    pub pack_hash: String,
}

/// Reads what `verify` needs of run `id`; a failed run has nothing to compare.
pub fn recorded(ledger: &Ledger, id: i64) -> Result<Recorded, Error> {
    let conn = ledger.conn();
    let shown = &ledger.shown;
    let row = run_row(conn, shown, id)?;
    if row.status == "failed" {
        return Err(Error::Ledger(format!(
            "run {id} failed; there are no outputs to compare"
        )));
    }
    type Row = (
        Option<String>,
        Option<String>,
        String,
        String,
        Option<String>,
        String,
        String,
        Option<String>,
    );
    let (rules, data, overrides, carry, outputs, inputs, pack_hash, cwd): Row = conn
        .query_row(
            "SELECT rules_arg, data_arg, overrides, carry, outputs, inputs, pack_hash, cwd FROM runs WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)),
        )
        .map_err(|e| sql(shown, e))?;
    let damaged = |what: &str, e: serde_json::Error| {
        Error::Ledger(format!(
            "the ledger {shown}: the {what} recorded with run {id} do not read ({e}); the file was edited or damaged"
        ))
    };
    let pairs = |text: &str, key: &str, what: &str| -> Result<BTreeMap<String, String>, Error> {
        let v: Vec<serde_json::Value> = serde_json::from_str(text).map_err(|e| damaged(what, e))?;
        Ok(v.iter()
            .map(|o| {
                (
                    o[key].as_str().unwrap_or_default().to_string(),
                    o["sha256"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect())
    };
    Ok(Recorded {
        id,
        period: row.period,
        rules,
        data,
        cwd,
        overrides: serde_json::from_str(&overrides).map_err(|e| damaged("overrides", e))?,
        carry: serde_json::from_str(&carry).map_err(|e| damaged("ledger state", e))?,
        outputs: pairs(outputs.as_deref().unwrap_or("[]"), "path", "outputs")?,
        inputs: pairs(&inputs, "name", "inputs")?,
        pack_hash,
    })
}

/// Gives a run exactly the ledger state a recorded run read.
pub struct FixedCarry(pub Carry);

impl CarrySource for FixedCarry {
    fn carry(&self, _: Period, _: &RulePack, _: &Dataset) -> Result<Carry, Error> {
        Ok(self.0.clone())
    }

    fn late_periods(&self, _: Period) -> Result<Vec<Period>, Error> {
        Ok(self.0.seen_periods())
    }
}

/// Compares the outputs of the run made again with the recorded ones: `Ok` with the
/// sentence when every output is byte-identical, `Err` naming the differences otherwise.
pub fn compare(
    rec: &Recorded,
    r: &RunResult,
    outputs: &[(String, Vec<u8>)],
) -> Result<String, Error> {
    let now: BTreeMap<String, String> = outputs
        .iter()
        .map(|(p, b)| (p.clone(), crate::load::source_hex(&Sha256::digest(b))))
        .collect();
    let mut differ: Vec<&str> = rec
        .outputs
        .iter()
        .filter(|(p, h)| now.get(*p) != Some(*h))
        .map(|(p, _)| p.as_str())
        .collect();
    differ.extend(
        now.keys()
            .filter(|p| !rec.outputs.contains_key(*p))
            .map(String::as_str),
    );
    if differ.is_empty() {
        return Ok(format!(
            "run {}: all {} outputs are byte-identical",
            rec.id,
            rec.outputs.len()
        ));
    }
    let inputs: BTreeMap<&str, &str> = r
        .inputs
        .iter()
        .map(|i| (i.name.as_str(), i.sha256.as_str()))
        .collect();
    let mut changed = Vec::new();
    for (name, was) in &rec.inputs {
        match inputs.get(name.as_str()) {
            Some(is) if *is == was => {}
            Some(is) => changed.push(format!("{name} (was {}…, now {}…)", short(was), short(is))),
            None => changed.push(format!("{name} (no longer read)")),
        }
    }
    for name in inputs.keys().filter(|n| !rec.inputs.contains_key(**n)) {
        changed.push(format!("{name} (new)"));
    }
    let files: Vec<(&str, &str)> = r
        .pack
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.sha256.as_str()))
        .collect();
    let pack_same = hash_list(files.iter().copied()) == rec.pack_hash;
    let shown: Vec<&str> = differ.iter().take(8).copied().collect();
    Err(Error::Failed(format!(
        "run {}: {} of {} outputs differ ({}{}); inputs changed: {}; the pack {}",
        rec.id,
        differ.len(),
        rec.outputs.len(),
        shown.join(", "),
        if differ.len() > 8 { ", ..." } else { "" },
        if changed.is_empty() {
            "none".to_string()
        } else {
            changed.join(", ")
        },
        if pack_same { "is unchanged" } else { "changed" }
    )))
}

/// The first 8 characters of a hash, for messages (a tampered ledger may hold any text).
fn short(hash: &str) -> String {
    hash.chars().take(8).collect()
}
