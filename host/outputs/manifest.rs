//! `run.json`: what was run, on what, when, and with what result, so the run can be
//! reproduced and audited.

use crate::evaluate::RunResult;
use crate::load::source_hex;
use crate::period::Date;
use rayon::prelude::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::{SystemTime, UNIX_EPOCH};

/// RFC 3339 UTC timestamp, to the second.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let date = Date::from_ymd(1970, 1, 1)
        .map(|d| d.add_days(days as i32).to_string())
        .unwrap_or_default();
    format!(
        "{date}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The manifest of the run; `outputs` are the other files with their bytes.
pub(crate) fn run_json(r: &RunResult, outputs: &[(String, Vec<u8>)]) -> Value {
    let pack = &r.pack;
    let info = &pack.manifest.pack;
    let key_clients = r.decisions.iter().filter(|d| d.key).count();
    let lines: usize = r.managers.iter().map(|m| m.lines.len()).sum();
    let mut out = json!({
        "engine": engine(),
        "pack": {
            "name": info.name,
            "version": info.version,
            "title": info.title,
            "location": pack.location,
            "currency": pack.currency.code,
            "minor_units": pack.currency.minor_units,
            "rounding": pack.rounding.name(),
            "period_kind": info.period.name(),
            "limits": pack.manifest.limits,
            "parameter_overrides": pack.overrides,
            "files": pack.files,
        },
        "plugins": plugins(r),
        "inputs": r.inputs,
        "period": {
            "run": r.facts.periods[0].to_string(),
            "start": r.facts.periods[0].start_date().to_string(),
            "end": r.facts.periods[0].last_date().to_string(),
            "previous": r.facts.periods[1].to_string(),
            "year_ago": r.facts.periods[2].to_string(),
            "chosen": if r.period_given {
                "given (--period)"
            } else {
                "guessed: the latest complete period in the sales (no --period given)"
            },
            "incomplete": r.incomplete,
        },
        "sales_dates": r.facts.date_range.map(|(a, b)| json!({ "first": a.to_string(), "last": b.to_string() })),
        "threads": r.threads,
        "started": rfc3339(r.started),
        "finished": rfc3339(SystemTime::now()),
        "currency": pack.currency.code,
        "total_payout": pack.currency.format(r.total),
        "counts": {
            "clients": r.data.clients.len(),
            "managers": r.data.managers.len(),
            "sales_lines": r.facts.rows,
            "plans": r.data.plans.len(),
            "contracts": r.data.contracts.len(),
            "key_clients": key_clients,
            "payout_lines": lines,
            "warnings": r.warnings.len(),
        },
        "reconciled": true,
        "outputs": outputs.par_iter().map(|(name, bytes)| json!({
            "path": name,
            "sha256": source_hex(&Sha256::digest(bytes)),
        })).collect::<Vec<_>>(),
        "warnings": r.warnings,
    });
    // Every rate the run used: for sales lines, then for payees paid in their currency.
    let mut rates: Vec<&crate::load::fx::UsedRate> = r.facts.rates.iter().collect();
    for p in r.managers.iter().filter_map(|m| m.paid_in.as_ref()) {
        if !rates.contains(&&p.used) {
            rates.push(&p.used);
        }
    }
    if !rates.is_empty() {
        out["fx_rates"] = json!(rates);
    }
    if let Some(from) = &r.facts_from {
        let file = r
            .inputs
            .iter()
            .find(|i| i.name != "sales.csv" && from.ends_with(&i.name));
        out["facts"] = json!({
            "from": from,
            "sha256": file.map(|f| f.sha256.clone()),
            "rows": file.map(|f| f.rows),
            "computed": "elsewhere, by the query `bonusrun sql` prints; the run read no sales lines",
        });
    }
    if let Some(curve) = &r.curve {
        let points: Vec<[String; 2]> = curve
            .points
            .iter()
            .map(|(x, y)| [x.to_string(), y.to_string()])
            .collect();
        out["report"] = json!({ "curve": { "function": curve.function, "points": points } });
    }
    out
}

/// The engine that made the run: its version and the commit it was built from (with
/// `-modified` when the checkout had uncommitted changes), so a run names its exact build.
/// (Hashing the running binary was measured at 0.15 s a run for a 160 MB executable.)
fn engine() -> Value {
    json!({
        "name": "bonusrun",
        "version": env!("CARGO_PKG_VERSION"),
        "commit": env!("BONUSRUN_COMMIT"),
        "target": env!("BONUSRUN_TARGET"),
        "profile": env!("BONUSRUN_PROFILE"),
    })
}

/// The WebAssembly plugins the run used, and whether their compiled code came from the cache.
fn plugins(r: &RunResult) -> Vec<Value> {
    let stages = [
        ("key_clients", &r.pack.key_clients),
        ("kpis", &r.pack.kpis),
        ("bonus", &r.pack.bonus),
    ];
    stages
        .iter()
        .filter_map(|(stage, code)| match code {
            crate::rules::StageCode::Plugin(p) => Some(json!({
                "stage": stage,
                "file": p.shown,
                "sha256": p.sha256,
                "world": p.world(),
                "compiled_code": p.cache,
            })),
            crate::rules::StageCode::Script(_) => None,
        })
        .collect()
}
