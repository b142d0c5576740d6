//! World `bonusrun:rules@0.2.3` (and 0.2.0, 0.2.1 and 0.2.2, its subsets) (`plugins/wit/v0.2/bonusrun.wit`): a plugin reads the facts
//! it needs through resources the host implements, with the names of the Rhai views.
//!
//! The host calls an export once per client, per (manager, KPI) and per manager, lending the
//! subject as a `borrow` handle. Every handle is a slot of the store's arena ([`Views`]),
//! valid only during the call that made it: a handle kept for a later call (which is also
//! the only way to hold another subject's handle) is refused with a message naming both
//! calls. The facts' methods are generated from the table in [`crate::rules::views`];
//! this module has the arena, the `host` interface and the calls. Decimals cross as exact
//! records (rust_decimal's 96-bit magnitude, scale and sign), never as text.

use super::{fault, Batch, BatchOutcome, HostShared, Plugin, PluginError, PluginState, RawKpi};
use crate::pack::{Cell as PackCell, LookupValue, ParamValue};
use crate::rules::api::{Context, KeyDecision, KpiResult};
use crate::rules::views::{ClientAt, Handle, KpisAt, ManagerAt};
use crate::rules::RawLine;
use std::sync::Arc;
use wasmtime::component::{Component, HasSelf, Resource};
use wasmtime::{Engine, Store};

pub(crate) use crate::rules::views::Slot;

mod bindings {
    wasmtime::component::bindgen!({
        path: "plugins/wit/v0.2",
        world: "rules",
        with: {
            "bonusrun:rules/facts.window": crate::rules::views::WindowH,
            "bonusrun:rules/facts.client": crate::rules::views::ClientH,
            "bonusrun:rules/facts.manager": crate::rules::views::ManagerH,
            "bonusrun:rules/facts.account": crate::rules::views::AccountH,
            "bonusrun:rules/facts.contract": crate::rules::views::ContractH,
            "bonusrun:rules/facts.kpis": crate::rules::views::KpisH,
            "bonusrun:rules/facts.kpi": crate::rules::views::KpiH,
        },
        imports: { default: trappable },
    });
}

pub(crate) use bindings::{Rules, RulesPre};

/// The generated WIT types, and exact decimal conversion.
pub(crate) mod wit {
    pub(crate) use super::bindings::bonusrun::rules::facts;
    pub(crate) use super::bindings::bonusrun::rules::types::*;

    /// A decimal as it crosses to a plugin.
    pub(crate) fn to_wit(d: rust_decimal::Decimal) -> Decimal {
        let u = d.unpack();
        Decimal {
            lo: (u64::from(u.mid) << 32) | u64::from(u.lo),
            hi: u.hi,
            scale: u.scale as u8,
            negative: u.negative,
        }
    }

    /// A decimal a plugin sent; the only bad value is a scale above 28.
    pub(crate) fn from_wit(d: Decimal) -> Result<rust_decimal::Decimal, String> {
        if d.scale > 28 {
            return Err(format!(
                "a decimal with scale {} (digits after the point); at most 28 fit",
                d.scale
            ));
        }
        let mut x = rust_decimal::Decimal::from_parts(
            d.lo as u32,
            (d.lo >> 32) as u32,
            d.hi,
            false,
            u32::from(d.scale),
        );
        // from_parts turns -0 into 0; the sign is set apart so that it survives.
        x.set_sign_negative(d.negative);
        Ok(x)
    }
}

/// Handles one export call may make (a plugin that needs more is leaking them).
const MAX_HANDLES_PER_CALL: usize = 1 << 20;

/// Links a component against world 0.2.3 (a 0.2.0, 0.2.1 or 0.2.2 plugin imports a subset).
pub(super) fn link(
    engine: &Engine,
    component: &Component,
) -> Result<RulesPre<PluginState>, String> {
    let mut linker = super::linker(engine)?;
    Rules::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut linker, |s| s)
        .map_err(|e| format!("cannot link the host interfaces: {e:#}"))?;
    let pre = linker.instantiate_pre(component).map_err(|e| {
        format!(
            "does not fit the world bonusrun:rules@0.2.3 (plugins/wit/v0.2/bonusrun.wit): {e:#}"
        )
    })?;
    RulesPre::new(pre).map_err(|e| {
        format!("does not export the world bonusrun:rules@0.2.3 (classify, kpi, bonus): {e:#}")
    })
}

/// The facts a store's plugin reads, and the arena of handles it holds.
pub(crate) struct Views {
    /// The run's facts and earlier stages' results.
    pub(crate) ctx: Arc<Context>,
    /// The KPI results of the manager being served (stage bonus; empty otherwise).
    pub(crate) kpis: Arc<Vec<KpiResult>>,
    /// The slots made during the current call; slot `n` has handle `base + n`.
    slots: Vec<Slot>,
    base: u32,
    /// Earlier calls in this store: (first handle, what the call served).
    calls: Vec<(u32, Served)>,
    /// What the current call serves.
    served: Served,
    /// The KPI ids of stage kpis, to name a call in messages.
    kpi_ids: Vec<String>,
}

/// What one export call serves: indices, put into words only for a message.
#[derive(Clone, Copy, Debug)]
enum Served {
    Client(u32),
    Manager(u32),
    /// A manager and the position of a KPI id in `Views::kpi_ids`.
    Kpi(u32, usize),
}

impl Views {
    fn new(ctx: Arc<Context>, kpi_ids: &[String]) -> Views {
        Views {
            ctx,
            kpis: Arc::new(Vec::new()),
            slots: Vec::new(),
            base: 0,
            calls: Vec::new(),
            served: Served::Client(0),
            kpi_ids: kpi_ids.to_vec(),
        }
    }

    /// `manager M03 (KPI 'margin')`.
    fn describe(&self, served: Served) -> String {
        let data = &self.ctx.data;
        match served {
            Served::Client(i) => format!("client {}", data.clients[i as usize].id),
            Served::Manager(m) => format!("manager {}", data.managers[m as usize].id),
            Served::Kpi(m, k) => format!(
                "manager {} (KPI '{}')",
                data.managers[m as usize].id, self.kpi_ids[k]
            ),
        }
    }

    /// Starts a new export call: every earlier handle becomes stale.
    fn begin(&mut self, served: Served, kpis: Option<Arc<Vec<KpiResult>>>) -> wasmtime::Result<()> {
        let next = u32::try_from(self.slots.len())
            .ok()
            .and_then(|n| self.base.checked_add(n))
            .ok_or_else(|| fault("made more than 4,294,967,295 handles in one batch".into()))?;
        let previous = std::mem::replace(&mut self.served, served);
        if !self.slots.is_empty() {
            self.calls.push((self.base, previous));
        }
        self.base = next;
        self.slots.clear();
        if let Some(k) = kpis {
            self.kpis = k;
        }
        Ok(())
    }

    fn push(&mut self, slot: Slot) -> wasmtime::Result<u32> {
        if self.slots.len() >= MAX_HANDLES_PER_CALL {
            return Err(fault(format!(
                "made more than {MAX_HANDLES_PER_CALL} handles in one call, the most one call may make; keep a handle and use it again rather than asking for it anew"
            )));
        }
        let rep = u32::try_from(self.slots.len())
            .ok()
            .and_then(|n| self.base.checked_add(n))
            .ok_or_else(|| fault("made more than 4,294,967,295 handles in one batch".into()))?;
        self.slots.push(slot);
        Ok(rep)
    }

    /// A new handle to a view, owned by the plugin.
    pub(crate) fn lend<H: Handle>(&mut self, at: H::At) -> wasmtime::Result<Resource<H>> {
        Ok(Resource::new_own(self.push(H::slot(at))?))
    }

    /// The view a handle holds, if it was made during this call.
    pub(crate) fn at<H: Handle>(
        &self,
        handle: &Resource<H>,
        method: &str,
    ) -> wasmtime::Result<H::At> {
        let rep = handle.rep();
        let Some(n) = rep.checked_sub(self.base) else {
            let call = self.calls.partition_point(|(base, _)| *base <= rep);
            let made = self
                .calls
                .get(call.wrapping_sub(1))
                .map_or("an earlier call".to_string(), |&(_, s)| self.describe(s));
            return Err(fault(format!(
                "{}.{}: a {} handle made during the call for {made} was used in the call for {}; handles live only for the call that made them",
                H::NAME,
                kebab(method),
                H::NAME,
                self.describe(self.served)
            )));
        };
        self.slots
            .get(n as usize)
            .copied()
            .and_then(H::at)
            .ok_or_else(|| {
                fault(format!(
                    "{}.{}: not a {} handle of this call",
                    H::NAME,
                    kebab(method),
                    H::NAME
                ))
            })
    }

    /// A fact's refusal (an unknown KPI or column, a key flag in stage key_clients).
    pub(crate) fn fault<H: Handle>(&self, method: &str, message: String) -> wasmtime::Error {
        fault(format!("{}.{}: {message}", H::NAME, kebab(method)))
    }
}

fn kebab(name: &str) -> String {
    name.replace('_', "-")
}

impl PluginState {
    /// The views of a 0.2 store.
    pub(crate) fn views(&mut self) -> wasmtime::Result<&mut Views> {
        self.views
            .as_mut()
            .ok_or_else(|| fault("the facts are not available outside an export call".into()))
    }

    /// Starts the call for item `k` of the batch, serving `served`.
    fn begin(
        &mut self,
        k: usize,
        served: Served,
        kpis: Option<Arc<Vec<KpiResult>>>,
    ) -> wasmtime::Result<&mut Views> {
        self.item = k as u32;
        let views = self.views()?;
        views.begin(served, kpis)?;
        Ok(views)
    }
}

impl wit::Host for PluginState {}

impl bindings::bonusrun::rules::host::Host for PluginState {
    fn param(&mut self, name: String) -> wasmtime::Result<wit::ParamValue> {
        let Some(value) = self.shared.params.get(&name) else {
            let known: Vec<&str> = self.shared.params.keys().map(String::as_str).collect();
            return Err(fault(format!(
                "unknown parameter '{}'{}; pack.toml [params] has: {}",
                crate::suggest::shown(&name),
                crate::suggest::did_you_mean(&name, known.iter().copied()),
                if known.is_empty() {
                    "(none)".to_string()
                } else {
                    known.join(", ")
                }
            )));
        };
        param_value(value).ok_or_else(|| {
            fault(format!(
                "parameter '{name}' is a list of lists, which world bonusrun:rules@0.2.3 cannot pass"
            ))
        })
    }

    fn has_param(&mut self, name: String) -> wasmtime::Result<bool> {
        Ok(self.shared.params.contains_key(&name))
    }

    fn table(&mut self, name: String) -> wasmtime::Result<wit::TableData> {
        let t = self
            .shared
            .tables
            .get(&name)
            .ok_or_else(|| fault(self.unknown_table(&name)))?;
        Ok(wit::TableData {
            columns: t.columns.clone(),
            rows: t
                .rows
                .iter()
                .map(|r| r.iter().map(cell).collect())
                .collect(),
        })
    }

    fn lookup(
        &mut self,
        table: String,
        inputs: Vec<(String, wit::LookupValue)>,
    ) -> wasmtime::Result<Result<Vec<wit::Row>, String>> {
        let t = self
            .shared
            .tables
            .get(&table)
            .cloned()
            .ok_or_else(|| fault(self.unknown_table(&table)))?;
        let mut values = Vec::with_capacity(inputs.len());
        for (name, v) in inputs {
            let value = match v {
                wit::LookupValue::Number(d) => LookupValue::Number(
                    wit::from_wit(d).map_err(|m| fault(format!("lookup input '{name}': {m}")))?,
                ),
                wit::LookupValue::Text(t) => LookupValue::Text(t),
            };
            values.push((name, value));
        }
        let refs: Vec<(&str, &LookupValue)> = values.iter().map(|(n, v)| (n.as_str(), v)).collect();
        let hits = match t.lookup(&refs) {
            Ok(h) => h,
            Err(m) => return Ok(Err(m)),
        };
        self.traces.push((
            self.item,
            crate::rules::api::describe_lookup(&t, &refs, &hits),
        ));
        Ok(Ok(hits
            .into_iter()
            .map(|r| wit::Row {
                line: t.lines[r] as u32,
                cells: t
                    .columns
                    .iter()
                    .zip(&t.rows[r])
                    .map(|(c, v)| (c.clone(), cell(v)))
                    .collect(),
            })
            .collect()))
    }

    fn round_money(&mut self, amount: wit::Decimal) -> wasmtime::Result<wit::Decimal> {
        let d = wit::from_wit(amount).map_err(|m| fault(format!("round-money: {m}")))?;
        Ok(wit::to_wit(
            self.shared.currency.round(d, self.shared.rounding),
        ))
    }

    fn warn(&mut self, message: String) -> wasmtime::Result<()> {
        self.warning(message)
    }

    fn log(&mut self, message: String) -> wasmtime::Result<()> {
        self.log_line(&message)
    }
}

impl PluginState {
    fn unknown_table(&self, name: &str) -> String {
        let known: Vec<&str> = self.shared.tables.keys().map(String::as_str).collect();
        format!(
            "unknown table '{}'{}; pack.toml [tables] has: {}",
            crate::suggest::shown(name),
            crate::suggest::did_you_mean(name, known.iter().copied()),
            if known.is_empty() {
                "(none)".to_string()
            } else {
                known.join(", ")
            }
        )
    }
}

fn cell(c: &PackCell) -> wit::Cell {
    match c {
        PackCell::Number(d) => wit::Cell::Number(wit::to_wit(*d)),
        PackCell::Flag(b) => wit::Cell::Flag(*b),
        PackCell::Text(s) => wit::Cell::Text(s.clone()),
        // The WIT cell has no "no value": an empty number cell reaches plugins as "".
        PackCell::Empty => wit::Cell::Text(String::new()),
    }
}

fn param_value(v: &ParamValue) -> Option<wit::ParamValue> {
    let element = |x: &ParamValue| match x {
        ParamValue::Number(d) => Some(wit::Cell::Number(wit::to_wit(*d))),
        ParamValue::Text(t) => Some(wit::Cell::Text(t.clone())),
        ParamValue::Flag(b) => Some(wit::Cell::Flag(*b)),
        ParamValue::List(_) => None,
    };
    Some(match v {
        ParamValue::Number(d) => wit::ParamValue::Number(wit::to_wit(*d)),
        ParamValue::Text(t) => wit::ParamValue::Text(t.clone()),
        ParamValue::Flag(b) => wit::ParamValue::Flag(*b),
        ParamValue::List(l) => wit::ParamValue::List(l.iter().map(element).collect::<Option<_>>()?),
    })
}

/// A decimal a plugin returned, or a message naming `what`.
fn returned(d: wit::Decimal, what: &str) -> Result<rust_decimal::Decimal, String> {
    wit::from_wit(d).map_err(|m| format!("{what} is {m}"))
}

type Instance = Rules;

/// Runs one batch in a fresh store with the facts of `ctx`: `each` calls the export once
/// per subject (or per subject and KPI).
fn call_each<T>(
    plugin: &Plugin,
    pre: &RulesPre<PluginState>,
    batch: Batch<'_>,
    views: Views,
    each: impl FnOnce(&Instance, &mut Store<PluginState>) -> wasmtime::Result<Result<Vec<T>, String>>,
) -> Result<BatchOutcome<T>, PluginError> {
    plugin.call(batch, Some(views), |s| pre.instantiate(s), each)
}

/// Stage a for clients `range`: one `classify` call per client.
pub(super) fn classify(
    plugin: &Plugin,
    pre: &RulesPre<PluginState>,
    shared: &Arc<HostShared>,
    ctx: &Arc<Context>,
    range: std::ops::Range<usize>,
) -> Result<BatchOutcome<KeyDecision>, PluginError> {
    let subject = |i: u32| format!("client {}", ctx.data.clients[range.start + i as usize].id);
    let items = range.len();
    let batch = Batch {
        shared,
        stage: "key_clients",
        items,
        subject: &subject,
    };
    let each = |r: &Instance, s: &mut Store<PluginState>| {
        let mut out = Vec::with_capacity(items);
        for (k, i) in range.clone().enumerate() {
            let client = i as u32;
            let views = s.data_mut().begin(k, Served::Client(client), None)?;
            let root = views.push(Slot::ClientH(ClientAt(client)))?;
            match r.call_classify(&mut *s, Resource::new_borrow(root))? {
                Ok(d) => out.push(d),
                Err(m) => return Ok(Err(m)),
            }
        }
        Ok(Ok(out))
    };
    let out = call_each(plugin, pre, batch, Views::new(ctx.clone(), &[]), each)?;
    out.convert(plugin, "key_clients", &subject, |d| {
        Ok(KeyDecision {
            key: d.key,
            tier: d.tier,
            score: returned(d.score, "score")?,
            reasons: d.reasons,
        })
    })
}

/// Stage b for managers `range`: one `kpi` call per manager and KPI.
pub(super) fn kpis(
    plugin: &Plugin,
    pre: &RulesPre<PluginState>,
    shared: &Arc<HostShared>,
    ctx: &Arc<Context>,
    ids: &[String],
    range: std::ops::Range<usize>,
) -> Result<BatchOutcome<Vec<RawKpi>>, PluginError> {
    let subject = |i: u32| format!("manager {}", ctx.data.managers[range.start + i as usize].id);
    let items = range.len();
    let batch = Batch {
        shared,
        stage: "kpis",
        items,
        subject: &subject,
    };
    let each = |r: &Instance, s: &mut Store<PluginState>| {
        let mut out = Vec::with_capacity(items);
        for (k, m) in range.clone().enumerate() {
            let manager = m as u32;
            let mut row = Vec::with_capacity(ids.len());
            for (j, id) in ids.iter().enumerate() {
                let views = s.data_mut().begin(k, Served::Kpi(manager, j), None)?;
                let root = views.push(Slot::ManagerH(ManagerAt(manager)))?;
                match r.call_kpi(&mut *s, id, Resource::new_borrow(root))? {
                    Ok(v) => row.push(v),
                    Err(e) => return Ok(Err(format!("KPI '{id}': {e}"))),
                }
            }
            out.push(row);
        }
        Ok(Ok(out))
    };
    let out = call_each(plugin, pre, batch, Views::new(ctx.clone(), ids), each)?;
    out.convert(plugin, "kpis", &subject, |per_manager| {
        let mut row = Vec::with_capacity(ids.len());
        for (id, v) in ids.iter().zip(per_manager) {
            let what = |f: &str| format!("KPI '{id}' {f}");
            row.push((
                returned(v.value, &what("value"))?,
                returned(v.target, &what("target"))?,
                match v.attainment {
                    Some(a) => Some(returned(a, &what("attainment"))?),
                    None => None,
                },
                v.note,
            ));
        }
        Ok(row)
    })
}

/// Stage c for managers `range`: one `bonus` call per manager, with its KPI results.
pub(super) fn bonus(
    plugin: &Plugin,
    pre: &RulesPre<PluginState>,
    shared: &Arc<HostShared>,
    ctx: &Arc<Context>,
    kpis: &[Arc<Vec<KpiResult>>],
    range: std::ops::Range<usize>,
) -> Result<BatchOutcome<Vec<RawLine>>, PluginError> {
    let subject = |i: u32| format!("manager {}", ctx.data.managers[range.start + i as usize].id);
    let items = range.len();
    let batch = Batch {
        shared,
        stage: "bonus",
        items,
        subject: &subject,
    };
    let each = |r: &Instance, s: &mut Store<PluginState>| {
        let mut out = Vec::with_capacity(items);
        for (k, m) in range.clone().enumerate() {
            let served = Served::Manager(m as u32);
            let views = s.data_mut().begin(k, served, Some(kpis[m].clone()))?;
            let manager = views.push(Slot::ManagerH(ManagerAt(m as u32)))?;
            let results = views.push(Slot::KpisH(KpisAt))?;
            match r.call_bonus(
                &mut *s,
                Resource::new_borrow(manager),
                Resource::new_borrow(results),
            )? {
                Ok(lines) => out.push(lines),
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Ok(out))
    };
    let out = call_each(plugin, pre, batch, Views::new(ctx.clone(), &[]), each)?;
    out.convert(plugin, "bonus", &subject, |lines| {
        let line = |(n, l): (usize, wit::PayoutLine)| {
            let amount = wit::from_wit(l.amount).map_err(|m| format!("is {m}"));
            super::raw_line(n, amount, l.label, l.kind, l.kpi, l.note)
        };
        lines.into_iter().enumerate().map(line).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::wit::{from_wit, to_wit, Decimal as WitDecimal};
    use rust_decimal::Decimal;
    use std::str::FromStr;

    #[test]
    fn decimals_cross_exactly_both_ways() {
        for text in [
            "0",
            "-0",
            "-0.00",
            "1234.50",
            "-0.125",
            "0.0000000000000000000000000001",
            "79228162514264337593543950335",
            "-79228162514264337593543950335",
            "7.9228162514264337593543950335",
        ] {
            let d = Decimal::from_str(text).unwrap();
            let back = from_wit(to_wit(d)).unwrap();
            // Same value, scale and sign: the text is the same, -0 included.
            assert_eq!(back.to_string(), d.to_string(), "{text}");
            assert_eq!(back.serialize(), d.serialize(), "{text}");
        }
        let mut minus_zero = Decimal::ZERO;
        minus_zero.set_sign_negative(true);
        let wire = to_wit(minus_zero);
        assert!(wire.negative && wire.lo == 0 && wire.hi == 0);
        assert!(from_wit(wire).unwrap().is_sign_negative());
    }

    #[test]
    fn a_scale_above_28_is_refused_not_a_panic() {
        for scale in [29u8, 200, 255] {
            let bad = WitDecimal {
                lo: 1,
                hi: 0,
                scale,
                negative: false,
            };
            let err = from_wit(bad).unwrap_err();
            assert!(err.contains(&format!("scale {scale}")), "{err}");
        }
        let top = WitDecimal {
            lo: u64::MAX,
            hi: u32::MAX,
            scale: 28,
            negative: true,
        };
        assert_eq!(
            from_wit(top).unwrap().to_string(),
            "-7.9228162514264337593543950335"
        );
    }
}
