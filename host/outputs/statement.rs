//! `statements/<manager_id>.json`: everything behind one manager's payout.

use super::files::{contribution, FIGURE_DP};
use crate::error::Error;
use crate::evaluate::{ManagerResult, RunResult};
use crate::facts::{Window, CURRENT, PREVIOUS, YEAR_AGO};
use crate::money::format_figure;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The pack's declared windows by name, each with its days: one object, or a list of them
/// for `each_month`.
fn named_windows(plan: &crate::facts::WindowPlan, windows: &[Window]) -> Value {
    let one = |w: usize| {
        let mut v = window_json(&windows[w]);
        v["period"] = json!(plan.dates[w].label);
        v
    };
    let mut out = serde_json::Map::new();
    for n in &plan.named {
        let value = if n.list {
            Value::Array((n.first..n.first + n.count).map(one).collect())
        } else {
            one(n.first)
        };
        out.insert(n.name.clone(), value);
    }
    Value::Object(out)
}

/// A window as JSON: amounts exact, as strings.
pub fn window_json(w: &Window) -> Value {
    json!({
        "revenue": w.revenue.to_string(),
        "cost": w.cost.to_string(),
        "margin": w.margin().to_string(),
        "quantity": w.quantity.to_string(),
        "returns": w.returns.to_string(),
        "lines": w.lines,
        "return_lines": w.return_lines,
        "categories": w.categories.len(),
        "products": w.products.len(),
    })
}

/// One manager's statement, ready to serialize. The many account lines are plain structs
/// (serialized straight to text); the few small parts are JSON values.
#[derive(Serialize)]
pub struct Statement<'a> {
    #[serde(flatten)]
    head: Value,
    accounts: Vec<AccountLine<'a>>,
    #[serde(flatten)]
    tail: Value,
}

/// One client of the manager in a statement.
#[derive(Serialize)]
struct AccountLine<'a> {
    client_id: &'a str,
    name: &'a str,
    key: bool,
    tier: &'a str,
    #[serde(serialize_with = "as_text")]
    revenue: Decimal,
    #[serde(serialize_with = "as_text")]
    margin: Decimal,
    #[serde(serialize_with = "as_text")]
    revenue_previous: Decimal,
    #[serde(serialize_with = "as_text")]
    revenue_year_ago: Decimal,
}

/// An exact amount as a JSON string, as `Decimal::to_string` writes it.
fn as_text<S: serde::Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(d)
}

/// The statement of one manager.
pub fn statement_json<'a>(r: &'a RunResult, m: &'a ManagerResult) -> Statement<'a> {
    let cur = &r.pack.currency;
    let mgr = &r.data.managers[m.manager as usize];
    let mf = &r.facts.managers[m.manager as usize];
    let extras: BTreeMap<&str, &str> = r
        .data
        .manager_extras
        .iter()
        .map(String::as_str)
        .zip(mgr.extras.iter().map(String::as_str))
        .collect();
    let accounts: Vec<AccountLine> = mf
        .accounts
        .iter()
        .map(|&a| {
            let acc = &r.facts.accounts[a as usize];
            let c = &r.data.clients[acc.client as usize];
            let d = &r.decisions[acc.client as usize];
            AccountLine {
                client_id: &c.id,
                name: &c.name,
                key: d.key,
                tier: &d.tier,
                revenue: acc.windows[CURRENT].revenue,
                margin: acc.windows[CURRENT].margin(),
                revenue_previous: acc.windows[PREVIOUS].revenue,
                revenue_year_ago: acc.windows[YEAR_AGO].revenue,
            }
        })
        .collect();
    let kpis: Vec<Value> = m
        .kpis
        .iter()
        .map(|k| {
            json!({
                "id": k.id,
                "label": k.label,
                "weight": format_figure(k.weight, FIGURE_DP),
                "value": format_figure(k.value, FIGURE_DP),
                "target": format_figure(k.target, FIGURE_DP),
                "attainment": format_figure(k.attainment, FIGURE_DP),
                "contribution": cur.format(contribution(m, &k.id)),
                "note": k.note,
            })
        })
        .collect();
    let lines: Vec<Value> = m
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut line = json!({
                "label": l.label,
                "kind": l.kind,
                "kpi": l.kpi,
                "amount_exact": l.amount_exact.normalize().to_string(),
                "amount": cur.format(l.amount),
                "note": l.note,
            });
            if let Some(p) = &m.paid_in {
                line["amount_paid"] = json!(p.currency.format(p.lines[i]));
            }
            if let Some(reference) = &l.reference {
                line["settlement"] = serde_json::to_value(reference).unwrap_or_default();
            }
            line
        })
        .collect();
    let key_windows = &r.key_windows[m.manager as usize];
    let largest = mf
        .largest_client
        .map(|c| r.data.clients[c as usize].id.clone());
    let prefix = format!("manager {}: ", mgr.id);
    let warnings: Vec<&str> = r
        .warnings
        .iter()
        .filter_map(|w| w.strip_prefix(prefix.as_str()))
        .collect();
    let mut head = json!({
        "manager": {
            "id": mgr.id,
            "name": mgr.name,
            "target_bonus": cur.format(mgr.target_bonus),
            "extras": extras,
        },
        "pack": {
            "name": r.pack.manifest.pack.name,
            "version": r.pack.manifest.pack.version,
            "title": r.pack.manifest.pack.title,
        },
        "period": r.facts.periods[CURRENT].to_string(),
        "previous_period": r.facts.periods[PREVIOUS].to_string(),
        "year_ago_period": r.facts.periods[YEAR_AGO].to_string(),
        "currency": cur.code,
        "rounding": r.pack.rounding.name(),
        "facts": {
            "current": window_json(&mf.windows[CURRENT]),
            "previous": window_json(&mf.windows[PREVIOUS]),
            "year_ago": window_json(&mf.windows[YEAR_AGO]),
            "key_clients_current": window_json(&key_windows[CURRENT]),
            "key_clients_previous": window_json(&key_windows[PREVIOUS]),
            "key_clients_year_ago": window_json(&key_windows[YEAR_AGO]),
            "client_count": mf.client_count,
            "largest_client": largest,
            "largest_client_share": format_figure(mf.largest_client_share, FIGURE_DP),
        },
    });
    if !r.facts.rates.is_empty() {
        head["fx_rates"] = json!(r.facts.rates);
    }
    if !r.facts.plan.named.is_empty() {
        head["facts"]["windows"] = named_windows(&r.facts.plan, &mf.windows);
    }
    let measures = &r.facts.plan.measures;
    if !measures.is_empty() {
        let by_name = |w: &Window| -> Value {
            measures
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let v = w.measures.get(i).map_or(Decimal::ZERO, |v| v.value());
                    (m.name.clone(), json!(v.to_string()))
                })
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        head["facts"]["measures"] = json!({
            "current": by_name(&mf.windows[CURRENT]),
            "previous": by_name(&mf.windows[PREVIOUS]),
            "year_ago": by_name(&mf.windows[YEAR_AGO]),
        });
    }
    let mut tail = json!({
        "kpis": kpis,
        "lines": lines,
        "payout": cur.format(m.payout),
        "warnings": warnings,
    });
    if let Some(p) = &m.paid_in {
        tail["paid_in"] = json!({
            "currency": p.currency.code,
            "payout": p.currency.format(p.payout),
            "rate": p.used,
        });
    }
    Statement {
        head,
        accounts,
        tail,
    }
}

/// File names for the statements: the manager id with characters that are unsafe in file
/// names replaced by `_`. Two ids that map to one name are an error, not an overwrite.
pub(crate) fn file_names(r: &RunResult) -> Result<Vec<String>, Error> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    let mut names = Vec::with_capacity(r.managers.len());
    for m in &r.managers {
        let id = r.data.managers[m.manager as usize].id.as_str();
        let mut safe: String = id
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if safe.starts_with('.') {
            safe.insert(0, '_');
        }
        let name = format!("{safe}.json");
        if let Some(other) = seen.insert(name.clone(), id) {
            return Err(Error::Output {
                path: format!("statements/{name}"),
                message: format!("managers '{other}' and '{id}' would share this statement file; make their ids differ in letters or digits"),
            });
        }
        names.push(name);
    }
    Ok(names)
}
