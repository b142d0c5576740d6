//! World `bonusrun:rules@0.1.0` (`plugins/wit/v0.1/bonusrun.wit`), kept so that plugins
//! built for it keep paying the same: the host copies whole client and manager records into
//! the guest, one batch per call, with decimals as strings.

use super::{
    wire_decimal, Batch, BatchOutcome, HostShared, Plugin, PluginError, PluginState, RawKpi,
};
use crate::facts::{Window, CURRENT, PREVIOUS, YEAR_AGO};
use crate::money::parse_decimal;
use crate::pack::{Cell as PackCell, LookupValue, ParamValue, Table as PackTable};
use crate::rules::api::{Context, KeyDecision, KpiResult};
use crate::rules::RawLine;
use std::collections::BTreeMap;
use std::sync::Arc;
use wasmtime::component::{Component, HasSelf};
use wasmtime::Engine;

mod bindings {
    wasmtime::component::bindgen!({
        path: "plugins/wit/v0.1",
        world: "rules",
        imports: {
            "bonusrun:rules/host.warn": trappable,
            "bonusrun:rules/host.log": trappable,
            "bonusrun:rules/host.round-money": trappable,
        },
    });
}

use bindings::bonusrun::rules::types as wit;
pub(crate) use bindings::{Rules, RulesPre};

/// Links a component against world 0.1.0.
pub(super) fn link(
    engine: &Engine,
    component: &Component,
) -> Result<RulesPre<PluginState>, String> {
    let mut linker = super::linker(engine)?;
    Rules::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut linker, |s| s)
        .map_err(|e| format!("cannot link the host interface: {e:#}"))?;
    let pre = linker.instantiate_pre(component).map_err(|e| {
        format!(
            "does not fit the world bonusrun:rules@0.1.0 (plugins/wit/v0.1/bonusrun.wit): {e:#}"
        )
    })?;
    RulesPre::new(pre).map_err(|e| {
        format!("does not export the world bonusrun:rules@0.1.0 (classify, kpis, bonus): {e:#}")
    })
}

/// The pack's parameters and tables in the 0.1.0 wire form, converted once per run.
pub(super) struct Shared {
    params: BTreeMap<String, wit::ParamValue>,
    tables: BTreeMap<String, wit::TableData>,
}

impl Shared {
    pub(super) fn new(
        params: &BTreeMap<String, ParamValue>,
        tables: &BTreeMap<String, Arc<PackTable>>,
    ) -> Shared {
        let params = params
            .iter()
            .map(|(k, v)| {
                let p = match v {
                    ParamValue::Number(d) => wit::ParamValue::Number(d.to_string()),
                    ParamValue::Text(t) => wit::ParamValue::Text(t.clone()),
                    ParamValue::Flag(b) => wit::ParamValue::Flag(*b),
                    ParamValue::List(l) => wit::ParamValue::List(
                        l.iter()
                            .map(|x| match x {
                                ParamValue::Number(d) => d.to_string(),
                                ParamValue::Text(t) => t.clone(),
                                ParamValue::Flag(b) => b.to_string(),
                                ParamValue::List(_) => String::new(),
                            })
                            .collect(),
                    ),
                };
                (k.clone(), p)
            })
            .collect();
        let tables = tables
            .iter()
            .map(|(k, t)| {
                let rows = t
                    .rows
                    .iter()
                    .map(|r| r.iter().map(wit_cell).collect())
                    .collect();
                (
                    k.clone(),
                    wit::TableData {
                        columns: t.columns.clone(),
                        rows,
                    },
                )
            })
            .collect();
        Shared { params, tables }
    }
}

impl wit::Host for PluginState {}

impl bindings::bonusrun::rules::host::Host for PluginState {
    fn param(&mut self, name: String) -> Option<wit::ParamValue> {
        self.shared.v01.params.get(&name).cloned()
    }
    fn table(&mut self, name: String) -> Option<wit::TableData> {
        self.shared.v01.tables.get(&name).cloned()
    }
    fn round_money(&mut self, amount: String) -> wasmtime::Result<String> {
        Ok(match parse_decimal(amount.trim().as_bytes()) {
            Some(d) => self
                .shared
                .currency
                .round(d, self.shared.rounding)
                .to_string(),
            None => {
                let note =
                    format!("round-money got '{amount}', not a decimal; returned it unchanged");
                self.warning(note)?;
                amount
            }
        })
    }
    fn warn(&mut self, message: String) -> wasmtime::Result<()> {
        self.warning(message)
    }
    fn log(&mut self, message: String) -> wasmtime::Result<()> {
        self.log_line(&message)
    }
    fn item(&mut self, index: u32) {
        self.item = index;
    }
    fn lookup(
        &mut self,
        table: String,
        inputs: Vec<(String, wit::LookupValue)>,
    ) -> Result<Vec<Vec<(String, wit::Cell)>>, String> {
        let Some(t) = self.shared.tables.get(&table).cloned() else {
            return Err(format!("unknown table '{table}'"));
        };
        let mut values = Vec::with_capacity(inputs.len());
        for (name, v) in inputs {
            let value = match v {
                wit::LookupValue::Number(d) => LookupValue::Number(
                    parse_decimal(d.trim().as_bytes())
                        .ok_or_else(|| format!("lookup input '{name}' is '{d}', not a decimal"))?,
                ),
                wit::LookupValue::Text(t) => LookupValue::Text(t),
            };
            values.push((name, value));
        }
        let refs: Vec<(&str, &LookupValue)> = values.iter().map(|(n, v)| (n.as_str(), v)).collect();
        let hits = t.lookup(&refs)?;
        self.traces.push((
            self.item,
            crate::rules::api::describe_lookup(&t, &refs, &hits),
        ));
        Ok(hits
            .into_iter()
            .map(|r| {
                t.columns
                    .iter()
                    .zip(&t.rows[r])
                    .map(|(c, cell)| (c.clone(), wit_cell(cell)))
                    .collect()
            })
            .collect())
    }
}

/// Stage a for clients `range` of the run, in one call.
pub(super) fn classify(
    plugin: &Plugin,
    pre: &RulesPre<PluginState>,
    shared: &Arc<HostShared>,
    ctx: &Arc<Context>,
    range: std::ops::Range<usize>,
) -> Result<BatchOutcome<KeyDecision>, PluginError> {
    let clients: Vec<wit::Client> = range
        .clone()
        .map(|i| client_record(ctx, i as u32))
        .collect();
    let subject = |i: u32| format!("client {}", ctx.data.clients[range.start + i as usize].id);
    let batch = Batch {
        shared,
        stage: "key_clients",
        items: clients.len(),
        subject: &subject,
    };
    let out = plugin.call(
        batch,
        None,
        |s| pre.instantiate(s),
        |r, s| r.call_classify(s, &clients),
    )?;
    out.convert(plugin, "key_clients", &subject, |d| {
        Ok(KeyDecision {
            key: d.key,
            tier: d.tier,
            score: wire_decimal(&d.score, "score")?,
            reasons: d.reasons,
        })
    })
}

/// Stage b for managers `range`, in one call.
pub(super) fn kpis(
    plugin: &Plugin,
    pre: &RulesPre<PluginState>,
    shared: &Arc<HostShared>,
    ctx: &Arc<Context>,
    ids: &[String],
    range: std::ops::Range<usize>,
) -> Result<BatchOutcome<Vec<RawKpi>>, PluginError> {
    let managers: Vec<wit::Manager> = range
        .clone()
        .map(|i| manager_record(ctx, i as u32))
        .collect();
    let subject = |i: u32| format!("manager {}", ctx.data.managers[range.start + i as usize].id);
    let batch = Batch {
        shared,
        stage: "kpis",
        items: managers.len(),
        subject: &subject,
    };
    let out = plugin.call(
        batch,
        None,
        |s| pre.instantiate(s),
        |r, s| r.call_kpis(s, ids, &managers),
    )?;
    out.convert(plugin, "kpis", &subject, |per_manager| {
        if per_manager.len() != ids.len() {
            return Err(format!(
                "returned {} KPI value(s) for {} KPI(s)",
                per_manager.len(),
                ids.len()
            ));
        }
        let mut row = Vec::with_capacity(ids.len());
        for (id, v) in ids.iter().zip(per_manager) {
            let what = |f: &str| format!("KPI '{id}' {f}");
            row.push((
                wire_decimal(&v.value, &what("value"))?,
                wire_decimal(&v.target, &what("target"))?,
                match &v.attainment {
                    Some(a) => Some(wire_decimal(a, &what("attainment"))?),
                    None => None,
                },
                v.note,
            ));
        }
        Ok(row)
    })
}

/// Stage c for managers `range`, in one call.
pub(super) fn bonus(
    plugin: &Plugin,
    pre: &RulesPre<PluginState>,
    shared: &Arc<HostShared>,
    ctx: &Arc<Context>,
    kpis: &[Arc<Vec<KpiResult>>],
    range: std::ops::Range<usize>,
) -> Result<BatchOutcome<Vec<RawLine>>, PluginError> {
    let managers: Vec<wit::Manager> = range
        .clone()
        .map(|i| manager_record(ctx, i as u32))
        .collect();
    let kpi_records: Vec<Vec<wit::Kpi>> = range.clone().map(|i| kpi_records(&kpis[i])).collect();
    let subject = |i: u32| format!("manager {}", ctx.data.managers[range.start + i as usize].id);
    let batch = Batch {
        shared,
        stage: "bonus",
        items: managers.len(),
        subject: &subject,
    };
    let out = plugin.call(
        batch,
        None,
        |s| pre.instantiate(s),
        |r, s| r.call_bonus(s, &managers, &kpi_records),
    )?;
    out.convert(plugin, "bonus", &subject, |lines| {
        let line = |(n, l): (usize, wit::PayoutLine)| {
            let amount = wire_decimal(&l.amount, "").map_err(|m| m.trim_start().to_string());
            super::raw_line(n, amount, l.label, l.kind, l.kpi, l.note)
        };
        lines.into_iter().enumerate().map(line).collect()
    })
}

fn kpi_records(kpis: &[KpiResult]) -> Vec<wit::Kpi> {
    kpis.iter()
        .map(|k| wit::Kpi {
            id: k.id.clone(),
            label: k.label.clone(),
            weight: k.weight.to_string(),
            value: k.value.to_string(),
            target: k.target.to_string(),
            attainment: k.attainment.to_string(),
            note: k.note.clone(),
        })
        .collect()
}

fn wit_cell(c: &PackCell) -> wit::Cell {
    match c {
        PackCell::Number(d) => wit::Cell::Number(d.to_string()),
        PackCell::Flag(b) => wit::Cell::Flag(*b),
        PackCell::Text(s) => wit::Cell::Text(s.clone()),
        // The WIT cell has no "no value": an empty number cell reaches plugins as "".
        PackCell::Empty => wit::Cell::Text(String::new()),
    }
}

fn date(d: Option<crate::period::Date>) -> Option<String> {
    d.map(|d| d.to_string())
}

fn window(ctx: &Context, w: &Window, which: usize) -> wit::Window {
    wit::Window {
        period: ctx.facts.periods[which].to_string(),
        revenue: w.revenue.to_string(),
        cost: w.cost.to_string(),
        margin: w.margin().to_string(),
        quantity: w.quantity.to_string(),
        returns: w.returns.to_string(),
        lines: w.lines,
        return_lines: w.return_lines,
        categories: w.categories.len() as u32,
        products: w.products.len() as u32,
        category_names: w
            .categories
            .iter()
            .map(|&c| ctx.facts.categories[c as usize].clone())
            .collect(),
        first_date: date(w.first),
        last_date: date(w.last),
    }
}

fn extras(columns: &[String], values: &[String]) -> Vec<(String, String)> {
    columns
        .iter()
        .cloned()
        .zip(values.iter().cloned())
        .collect()
}

fn client_record(ctx: &Context, idx: u32) -> wit::Client {
    let c = &ctx.data.clients[idx as usize];
    let f = &ctx.facts.clients[idx as usize];
    let end = ctx.facts.period().last_date();
    let period = ctx.facts.period();
    wit::Client {
        id: c.id.clone(),
        name: c.name.clone(),
        industry: c.industry.clone(),
        region: c.region.clone(),
        since: date(c.since),
        years: match c.since {
            Some(s) if s <= end => s.whole_years_until(end),
            _ => 0,
        },
        market_share: c.market_share.to_string(),
        strategic: c.strategic,
        manager_id: f
            .manager
            .map(|m| ctx.data.managers[m as usize].id.clone())
            .unwrap_or_default(),
        first_purchase: date(f.first_purchase),
        last_purchase: date(f.last_purchase),
        is_new: f.first_purchase.is_some_and(|d| period.contains(d)),
        revenue_share: f.revenue_share.to_string(),
        margin_share: f.margin_share.to_string(),
        cur: window(ctx, &f.windows[CURRENT], CURRENT),
        prev: window(ctx, &f.windows[PREVIOUS], PREVIOUS),
        year_ago: window(ctx, &f.windows[YEAR_AGO], YEAR_AGO),
        company: window(ctx, &ctx.facts.company[CURRENT], CURRENT),
        extras: extras(&ctx.data.client_extras, &c.extras),
    }
}

fn manager_record(ctx: &Context, idx: u32) -> wit::Manager {
    let m = &ctx.data.managers[idx as usize];
    let f = &ctx.facts.managers[idx as usize];
    let period = ctx.facts.period();
    let no_decision = KeyDecision::default();
    let key = |client: u32| ctx.decisions.get(client as usize).unwrap_or(&no_decision);
    let accounts = f
        .accounts
        .iter()
        .map(|&a| {
            let acc = &ctx.facts.accounts[a as usize];
            let d = key(acc.client);
            let cf = &ctx.facts.clients[acc.client as usize];
            wit::Account {
                client_id: ctx.data.clients[acc.client as usize].id.clone(),
                key: d.key,
                tier: d.tier.clone(),
                is_new: cf.first_purchase.is_some_and(|d| period.contains(d)),
                cur: window(ctx, &acc.windows[CURRENT], CURRENT),
                prev: window(ctx, &acc.windows[PREVIOUS], PREVIOUS),
                year_ago: window(ctx, &acc.windows[YEAR_AGO], YEAR_AGO),
            }
        })
        .collect::<Vec<_>>();
    let last = period.last_date();
    let contracts = ctx
        .data
        .contracts
        .iter()
        .filter(|c| c.manager == idx)
        .map(|c| wit::Contract {
            id: c.id.clone(),
            client_id: ctx.data.clients[c.client as usize].id.clone(),
            start: c.start.to_string(),
            end: c.end.to_string(),
            renewed_on: date(c.renewed_on),
            due: period.contains(c.end),
            renewed: c.renewed_on.is_some_and(|d| d <= last),
            key: key(c.client).key,
        })
        .collect();
    let empty = Default::default();
    let kw = ctx.key_windows.get(idx as usize).unwrap_or(&empty);
    let mut plans: Vec<(String, String)> = ctx
        .plans
        .iter()
        .filter(|((mi, _), _)| *mi == idx)
        .map(|((_, k), t)| (k.clone(), t.to_string()))
        .collect();
    plans.sort();
    let key_client_count = accounts.iter().filter(|a| a.key && a.cur.lines > 0).count() as u64;
    wit::Manager {
        id: m.id.clone(),
        name: m.name.clone(),
        target_bonus: m.target_bonus.to_string(),
        period: period.to_string(),
        cur: window(ctx, &f.windows[CURRENT], CURRENT),
        prev: window(ctx, &f.windows[PREVIOUS], PREVIOUS),
        year_ago: window(ctx, &f.windows[YEAR_AGO], YEAR_AGO),
        key_cur: window(ctx, &kw[CURRENT], CURRENT),
        key_prev: window(ctx, &kw[PREVIOUS], PREVIOUS),
        key_year_ago: window(ctx, &kw[YEAR_AGO], YEAR_AGO),
        company: window(ctx, &ctx.facts.company[CURRENT], CURRENT),
        client_count: f.client_count,
        key_client_count,
        largest_client_id: f
            .largest_client
            .map(|c| ctx.data.clients[c as usize].id.clone())
            .unwrap_or_default(),
        largest_client_share: f.largest_client_share.to_string(),
        accounts,
        contracts,
        plans,
        extras: extras(&ctx.data.manager_extras, &m.extras),
    }
}
