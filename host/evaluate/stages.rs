//! The three stages of a run, each over its subjects in parallel: key clients per client,
//! KPIs and bonus lines per manager. Scripts run per subject, plugins per batch, native
//! rules (for embedders and the benchmarks' floor) per subject; whichever runs, a failure
//! reported is the first in file order.

use super::settle::LateSales;
use crate::error::Error;
use crate::facts::Facts;
use crate::ledger::carry::Carry;
use crate::load::Dataset;
use crate::rules::wasm::{BatchOutcome, HostShared, Plugin, PluginError, RawKpi};
use crate::rules::{
    check_line_kpi, make_kpi, Context, KeyDecision, KpiResult, NativeRules, Outcome, RawLine,
    RuleError, RuleRunner,
};
use crate::rules::{RulePack, StageCode};
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Clients per plugin call.
const CLIENT_BATCH: usize = 512;
/// Managers per plugin call.
const MANAGER_BATCH: usize = 8;

/// What the stages share: the pack's code, the data and facts, and the context rules see.
pub(super) struct Stages<'a> {
    pack: Arc<RulePack>,
    data: Arc<Dataset>,
    native: Option<&'a dyn NativeRules>,
    pub(super) runner: RuleRunner,
    shared: Arc<HostShared>,
    pub(super) ctx: Arc<Context>,
    carry: Arc<Carry>,
    late: Arc<Vec<crate::facts::Window>>,
}

impl<'a> Stages<'a> {
    /// The stages of a run over `data` and `facts`, stopped at `deadline`.
    pub(super) fn new(
        pack: Arc<RulePack>,
        (data, facts): (&Arc<Dataset>, &Arc<Facts>),
        (carry, late): (&Arc<Carry>, &LateSales),
        native: Option<&'a dyn NativeRules>,
        deadline: Option<(Instant, Duration)>,
    ) -> Stages<'a> {
        let runner = RuleRunner::new(pack.clone()).with_run_deadline(deadline);
        let shared = HostShared::new(
            &pack.params,
            &pack.tables,
            pack.currency.clone(),
            pack.rounding,
        )
        .with_run_deadline(deadline);
        let late = Arc::new(late.total.clone());
        let ctx = Context::new(data.clone(), facts.clone())
            .with_carry(carry.clone())
            .with_late(late.clone());
        Stages {
            carry: carry.clone(),
            late,
            pack,
            data: data.clone(),
            native,
            runner,
            shared: Arc::new(shared),
            ctx: Arc::new(ctx),
        }
    }

    /// Stage key_clients: one decision per client, in `clients.csv` order.
    pub(super) fn key_clients(
        &self,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<KeyDecision>, Error> {
        let (pack, data, ctx) = (&self.pack, &self.data, &self.ctx);
        let n = data.clients.len();
        let classified = match (self.native, &pack.key_clients) {
            (Some(rules), _) => first_error_in_order(n, |i| {
                let mut warnings = Vec::new();
                rules
                    .classify(ctx, i as u32, &mut warnings)
                    .map(|value| native_outcome(value, warnings))
                    .map_err(|m| {
                        native_error(pack, "key_clients", "classify", client_subject(data, i), m)
                    })
            })?,
            (None, StageCode::Script(s)) => first_error_in_order(n, |i| {
                self.runner.classify(s, ctx, i as u32).map_err(Error::from)
            })?,
            (None, StageCode::Plugin(p)) => batched(n, CLIENT_BATCH, |r| {
                p.classify(&self.shared, ctx, r).map_err(Error::from)
            })?,
        };
        let mut decisions = Vec::with_capacity(classified.len());
        for (i, o) in classified.into_iter().enumerate() {
            let id = &data.clients[i].id;
            warnings.extend(o.warnings.into_iter().map(|w| format!("client {id}: {w}")));
            decisions.push(o.value);
        }
        Ok(decisions)
    }

    /// Gives the later stages the decisions (and the key-client windows they make); fails
    /// with a message when a window does not fit a decimal.
    pub(super) fn decide(&mut self, decisions: Vec<KeyDecision>) -> Result<(), String> {
        let placeholder = Arc::new(self.fresh_context());
        let ctx = std::mem::replace(&mut self.ctx, placeholder);
        let ctx = Arc::try_unwrap(ctx).unwrap_or_else(|_| self.fresh_context());
        self.ctx = Arc::new(ctx.with_decisions(decisions)?);
        Ok(())
    }

    fn fresh_context(&self) -> Context {
        Context::new(self.data.clone(), self.ctx.facts.clone())
            .with_carry(self.carry.clone())
            .with_late(self.late.clone())
    }

    /// Stage kpis: each manager's KPI results, in pack order.
    pub(super) fn kpis(&self) -> Result<Vec<Outcome<Vec<KpiResult>>>, Error> {
        let (pack, data, ctx) = (&self.pack, &self.data, &self.ctx);
        let n = data.managers.len();
        Ok(match (self.native, &pack.kpis) {
            (Some(rules), _) => {
                first_error_in_order(n, |i| native_kpis(pack, data, ctx, rules, i))?
            }
            (None, StageCode::Script(s)) => first_error_in_order(n, |i| {
                self.runner.kpis(s, ctx, i as u32).map_err(Error::from)
            })?,
            (None, StageCode::Plugin(p)) => {
                let ids: Vec<String> = pack.manifest.kpis.iter().map(|k| k.id.clone()).collect();
                let raw = batched(n, MANAGER_BATCH, |r| {
                    p.kpis(&self.shared, ctx, &ids, r).map_err(Error::from)
                })?;
                raw.into_iter()
                    .enumerate()
                    .map(|(m, o)| plugin_kpis(pack, data, p, m, o))
                    .collect::<Result<_, _>>()?
            }
        })
    }

    /// Stage bonus: each manager's payout lines, as the rules computed them (not rounded).
    pub(super) fn bonus(
        &self,
        kpis: &[Arc<Vec<KpiResult>>],
    ) -> Result<Vec<Outcome<Vec<RawLine>>>, Error> {
        let (pack, data, ctx) = (&self.pack, &self.data, &self.ctx);
        let n = data.managers.len();
        let out = match (self.native, &pack.bonus) {
            (Some(rules), _) => first_error_in_order(n, |i| {
                let mut warnings = Vec::new();
                let value = rules
                    .bonus(ctx, i as u32, &kpis[i], &mut warnings)
                    .map_err(|m| native_bonus_error(pack, data, i, m))?;
                Ok::<_, Error>(native_outcome(value, warnings))
            })?,
            (None, StageCode::Script(s)) => first_error_in_order(n, |i| {
                self.runner
                    .bonus(s, ctx, i as u32, kpis[i].clone())
                    .map_err(Error::from)
            })?,
            (None, StageCode::Plugin(p)) => batched(n, MANAGER_BATCH, |r| {
                p.bonus(&self.shared, ctx, kpis, r).map_err(Error::from)
            })?,
        };
        // A script checks its lines' KPIs as it makes them; native and plugin lines here.
        if let (Some(_), _) | (None, StageCode::Plugin(_)) = (self.native, &pack.bonus) {
            for (m, o) in out.iter().enumerate() {
                for (n, l) in o.value.iter().enumerate() {
                    check_line_kpi(pack, l.kpi.as_deref()).map_err(|msg| {
                        let msg = format!("payout line {}: {msg}", n + 1);
                        match (self.native, &pack.bonus) {
                            (None, StageCode::Plugin(p)) => {
                                plugin_error(p, "bonus", &data.managers[m].id, msg)
                            }
                            _ => native_bonus_error(pack, data, m, msg),
                        }
                    })?;
                }
            }
        }
        Ok(out)
    }
}

/// Native KPIs of manager `i`, made into results as a script's would be.
fn native_kpis(
    pack: &RulePack,
    data: &Dataset,
    ctx: &Context,
    rules: &dyn NativeRules,
    i: usize,
) -> Result<Outcome<Vec<KpiResult>>, Error> {
    let mut warnings = Vec::new();
    let mut value = Vec::with_capacity(pack.manifest.kpis.len());
    for decl in &pack.manifest.kpis {
        let fail = |m: String| {
            native_error(
                pack,
                "kpis",
                decl.function(),
                manager_subject(data, i),
                format!("KPI '{}': {m}", decl.id),
            )
        };
        let m = rules
            .kpi(ctx, i as u32, &decl.id, &mut warnings)
            .map_err(fail)?;
        value.push(make_kpi(decl, m.value, m.target, m.attainment, m.note).map_err(fail)?);
    }
    Ok(native_outcome(value, warnings))
}

/// A plugin's raw KPI values of manager `m`, made into results.
fn plugin_kpis(
    pack: &RulePack,
    data: &Dataset,
    p: &Plugin,
    m: usize,
    o: Outcome<Vec<RawKpi>>,
) -> Result<Outcome<Vec<KpiResult>>, Error> {
    let mut results = Vec::with_capacity(o.value.len());
    for ((value, target, attainment, note), decl) in o.value.into_iter().zip(&pack.manifest.kpis) {
        let k = make_kpi(decl, value, target, attainment, note).map_err(|msg| {
            plugin_error(
                p,
                "kpis",
                &data.managers[m].id,
                format!("KPI '{}': {msg}", decl.id),
            )
        })?;
        results.push(k);
    }
    Ok(Outcome {
        value: results,
        warnings: o.warnings,
        trace: o.trace,
    })
}

/// Runs plugin batches of `size` items in parallel and returns one outcome per item, with the
/// warnings the plugin raised for it.
fn batched<T: Send>(
    n: usize,
    size: usize,
    f: impl Fn(std::ops::Range<usize>) -> Result<BatchOutcome<T>, Error> + Sync,
) -> Result<Vec<Outcome<T>>, Error> {
    let batches = n.div_ceil(size);
    let outs = first_error_in_order(batches, |b| f(b * size..((b + 1) * size).min(n)))?;
    let mut items = Vec::with_capacity(n);
    for out in outs {
        let spread = |pairs: Vec<(u32, String)>| {
            let mut per_item: Vec<Vec<String>> =
                (0..out.values.len()).map(|_| Vec::new()).collect();
            for (i, w) in pairs {
                if let Some(v) = per_item.get_mut(i as usize) {
                    v.push(w);
                }
            }
            per_item
        };
        let warnings = spread(out.warnings);
        let traces = spread(out.traces);
        items.extend(
            out.values
                .into_iter()
                .zip(warnings.into_iter().zip(traces))
                .map(|(value, (warnings, trace))| Outcome {
                    value,
                    warnings,
                    trace,
                }),
        );
    }
    Ok(items)
}

/// What a native stage returned: no decision-table trace (native code does its own lookups).
fn native_outcome<T>(value: T, warnings: Vec<String>) -> Outcome<T> {
    Outcome {
        value,
        warnings,
        trace: Vec::new(),
    }
}

fn client_subject(data: &Dataset, i: usize) -> String {
    format!("client {}", data.clients[i].id)
}

fn manager_subject(data: &Dataset, i: usize) -> String {
    format!("manager {}", data.managers[i].id)
}

fn native_bonus_error(pack: &RulePack, data: &Dataset, i: usize, message: String) -> Error {
    native_error(
        pack,
        "bonus",
        pack.bonus_fn(),
        manager_subject(data, i),
        message,
    )
}

fn native_error(
    pack: &RulePack,
    stage: &str,
    function: &str,
    subject: String,
    message: String,
) -> Error {
    Error::Rule(RuleError {
        pack: pack.manifest.pack.name.clone(),
        stage: stage.into(),
        script: "native rules".into(),
        function: function.into(),
        line: None,
        column: None,
        subject,
        message,
    })
}

fn plugin_error(p: &Plugin, stage: &str, manager: &str, message: String) -> Error {
    Error::Plugin(PluginError {
        plugin: p.shown.clone(),
        stage: stage.into(),
        export: p.export(stage).into(),
        subject: format!("manager {manager}"),
        message,
    })
}

/// Evaluates `f` for 0..n in parallel and returns results in order, or the error of the
/// lowest failing index. Items above a known failure are skipped; items below never are, so
/// the error reported does not depend on the thread count.
pub(super) fn first_error_in_order<T: Send, E: Send>(
    n: usize,
    f: impl Fn(usize) -> Result<T, E> + Sync,
) -> Result<Vec<T>, E> {
    let first_failure = AtomicUsize::new(usize::MAX);
    let results: Vec<Option<Result<T, E>>> = (0..n)
        .into_par_iter()
        .map(|i| {
            if i > first_failure.load(Ordering::Relaxed) {
                return None;
            }
            let r = f(i);
            if r.is_err() {
                first_failure.fetch_min(i, Ordering::Relaxed);
            }
            Some(r)
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for r in results {
        match r {
            Some(Ok(v)) => out.push(v),
            Some(Err(e)) => return Err(e),
            // Skipped: above a failure, which is returned before we get here.
            None => {}
        }
    }
    Ok(out)
}
