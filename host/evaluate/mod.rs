//! The bonus run: load data, compute facts, run the three stages in parallel, round and
//! reconcile.
//!
//! Parallelism never changes a result: clients (stage a) and managers (stages b, c) are
//! evaluated with rayon's indexed iterators, which keep input order; every sum is exact. When
//! rules fail on several subjects, the error reported is the first in file order, whatever
//! the thread count.

pub mod paid_in;
pub mod prorate;
pub mod settle;

use crate::error::Error;
use crate::facts::{self, Facts, WindowPlan};
use crate::ledger::carry::Carry;
use crate::load::{self, DataSource, Dataset, InputFile, LoadError};
use crate::pack::RulePack;
use crate::pack::StageCode;
use crate::period::{MonthIndex, Period};
use crate::rules::wasm::{BatchOutcome, HostShared, Plugin, PluginError};
use crate::rules::{
    check_line_kpi, make_kpi, Context, KeyDecision, KpiResult, NativeRules, Outcome, RawLine,
    RuleError, RuleRunner,
};
use rayon::prelude::*;
use rust_decimal::Decimal;
use serde::Serialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The stack of each worker thread, which runs the rules: room for values nested as deeply
/// as the largest `[limits]` allow (copying, comparing or printing a nested value recurses
/// once per level). Address space only: pages are used when touched.
pub const RULE_STACK_BYTES: usize = 1 << 30;

/// What to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The period; `None` takes the latest complete period of the pack's kind in the sales.
    pub period: Option<Period>,
    /// Worker threads; `None` uses all cores.
    pub threads: Option<usize>,
    /// The largest field of any input CSV, in bytes; a longer one (or a quote that never
    /// closes) is an error naming the line where the field began.
    pub max_field_bytes: usize,
    /// Wall-clock time the whole run may take (`bonusrun run --deadline`); `None`: no limit
    /// beyond the pack's per-call limits.
    pub deadline: Option<Duration>,
    /// The payout ledger's state, asked for once the period is known; `None`: no ledger.
    pub ledger: Option<LedgerHook>,
    /// The user knows the sales end before the period does (`--allow-incomplete`): the run
    /// does not warn, and `run.json` records the acknowledgement instead.
    pub allow_incomplete: bool,
    /// Counts the bytes of `sales.csv` read so far (from 0 on each pass over it), for a
    /// progress bar; `None`: not counted.
    pub progress: Option<Arc<std::sync::atomic::AtomicU64>>,
}

/// Gives a run what the ledger knows for its period (or refuses the period, e.g. a closed
/// one). Called once, before any rule runs.
pub trait CarrySource: Send + Sync {
    /// The ledger's state for a run of `period` over `data`.
    fn carry(&self, period: Period, pack: &RulePack, data: &Dataset) -> Result<Carry, Error>;

    /// The closed periods whose late sales a run of `period` looks for: the pass sums
    /// today's sales of each, to compare with what the ledger saw.
    fn late_periods(&self, period: Period) -> Result<Vec<Period>, Error>;
}

/// A [`CarrySource`] in [`RunOptions`].
#[derive(Clone)]
pub struct LedgerHook(pub Arc<dyn CarrySource>);

impl std::fmt::Debug for LedgerHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LedgerHook")
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            period: None,
            threads: None,
            max_field_bytes: load::DEFAULT_MAX_FIELD_BYTES,
            deadline: None,
            ledger: None,
            allow_incomplete: false,
            progress: None,
        }
    }
}

/// One rounded payout line.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PayoutLine {
    /// What the line is for.
    pub label: String,
    /// Kind of line (`kpi`, `gate`, `cap`, `accelerator`, ...).
    pub kind: String,
    /// The KPI it belongs to, if any.
    pub kpi: Option<String>,
    /// The amount as the rule computed it.
    pub amount_exact: Decimal,
    /// Rounded once to the currency's minor unit with the pack's mode.
    pub amount: Decimal,
    /// A note from the rule.
    pub note: String,
    /// Where a settlement line comes from; `None` for the lines the rules made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<settle::LineRef>,
}

impl PayoutLine {
    /// Whether the host added the line after stage bonus (an adjustment, a true-up, ...).
    pub fn is_settlement(&self) -> bool {
        self.reference.is_some()
    }
}

/// One manager's result.
#[derive(Clone, Debug)]
pub struct ManagerResult {
    /// Manager index.
    pub manager: u32,
    /// KPI results in pack order.
    pub kpis: Vec<KpiResult>,
    /// Payout lines.
    pub lines: Vec<PayoutLine>,
    /// The sum of the rounded lines.
    pub payout: Decimal,
    /// Decision-table lookups made for this manager, as sentences.
    pub trace: Vec<String>,
    /// For a manager paid in another currency than the pack's: the lines and payout in it.
    pub paid_in: Option<paid_in::PaidIn>,
}

/// A finished bonus run, in memory.
pub struct RunResult {
    /// The pack that was run.
    pub pack: Arc<RulePack>,
    /// The input tables.
    pub data: Arc<Dataset>,
    /// The facts.
    pub facts: Arc<Facts>,
    /// Worker threads used.
    pub threads: usize,
    /// Stage a result per client.
    pub decisions: Vec<KeyDecision>,
    /// Key-client subtotals per manager (run, previous and year-ago periods).
    pub key_windows: Vec<crate::facts::Windows>,
    /// Per manager, in `managers.csv` order.
    pub managers: Vec<ManagerResult>,
    /// Sum of all payouts.
    pub total: Decimal,
    /// Warnings, in a stable order.
    pub warnings: Vec<String>,
    /// Input files read.
    pub inputs: Vec<InputFile>,
    /// When the run started.
    pub started: SystemTime,
    /// Wall time of each step, in order (shown by `bonusrun run --timings`).
    pub timings: Vec<(String, Duration)>,
    /// Whether the period was given (`--period`) rather than taken as the latest complete
    /// period in the sales: a result that rests on that choice says so in `run.json`.
    pub period_given: bool,
    /// What the ledger knew for this run (empty without a ledger).
    pub carry: Arc<Carry>,
    /// The sales end before the period does, and the user said so (`--allow-incomplete`).
    pub incomplete: Option<String>,
    /// The pack's payout curve (`[report] curve`) sampled for the report: attainment and
    /// factor, from 0 to `curve_to` in [`CURVE_STEPS`] steps.
    pub curve: Option<Curve>,
}

/// The pack's payout curve as its function gave it at evenly spaced attainments.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Curve {
    /// The bonus script's function that gave it.
    pub function: String,
    /// (attainment, factor) pairs, attainment ascending.
    pub points: Vec<(Decimal, Decimal)>,
}

/// Points the payout curve is sampled at, beyond 0.
pub const CURVE_STEPS: u32 = 100;

/// Samples `[report] curve` (a function of the bonus script) for the report.
fn payout_curve(pack: &RulePack, runner: &RuleRunner) -> Result<Option<Curve>, Error> {
    let report = &pack.manifest.report;
    let (Some(function), StageCode::Script(script)) = (&report.curve, &pack.bonus) else {
        return Ok(None);
    };
    let to = report.curve_to.unwrap_or(Decimal::TWO);
    let points = (0..=CURVE_STEPS)
        .map(|i| {
            let x = (to * Decimal::from(i) / Decimal::from(CURVE_STEPS)).round_dp(6);
            Ok((x, runner.curve(script, function, x)?))
        })
        .collect::<Result<Vec<_>, RuleError>>()?;
    Ok(Some(Curve {
        function: function.clone(),
        points,
    }))
}

impl RunResult {
    /// The run period.
    pub fn period(&self) -> Period {
        self.facts.period()
    }
}

/// Runs `pack` over `data`.
pub fn run(
    pack: Arc<RulePack>,
    data: &DataSource,
    options: &RunOptions,
) -> Result<RunResult, Error> {
    run_with(pack, data, options, None)
}

/// Runs `pack` over `data` with its three stages given as Rust code instead of the pack's
/// scripts or plugins; the pack still supplies the manifest (period, currency, rounding,
/// KPIs, parameters and tables). For programs that embed bonusrun, and for the benchmarks'
/// native floor.
pub fn run_native(
    pack: Arc<RulePack>,
    data: &DataSource,
    options: &RunOptions,
    rules: &dyn NativeRules,
) -> Result<RunResult, Error> {
    run_with(pack, data, options, Some(rules))
}

fn run_with(
    pack: Arc<RulePack>,
    data: &DataSource,
    options: &RunOptions,
    native: Option<&dyn NativeRules>,
) -> Result<RunResult, Error> {
    let threads = options.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    if threads == 0 {
        return Err(Error::Usage("--threads must be at least 1".into()));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .stack_size(RULE_STACK_BYTES)
        .thread_name(|i| format!("bonusrun-{i}"))
        .build()
        .map_err(|e| Error::Usage(format!("cannot start {threads} threads: {e}")))?;
    pool.install(|| run_in_pool(pack, data, options, threads, native))
        .map_err(|e| match e {
            // A mapped table's line is the source file's line.
            Error::Load(l) => Error::Load(data.locate(l)),
            other => other,
        })
}

/// A manager whose `managers.csv` row gives no target bonus takes the pack's
/// `[payout] target_bonus`; without one that is an error naming the row.
fn target_bonuses(pack: &RulePack, data: &mut Dataset) -> Result<(), Error> {
    let default = pack.manifest.payout.target_bonus;
    for m in data.managers.iter_mut().filter(|m| !m.target_bonus_given) {
        // The pack refuses a negative default when it loads.
        match default {
            Some(b) => m.target_bonus = b,
            None => {
                return Err(LoadError::field(
                    &data.managers_file,
                    m.line,
                    "target_bonus",
                    format!(
                        "manager {} has no target_bonus, and the pack '{}' gives no default; fill it in, or set [payout] target_bonus in pack.toml",
                        m.id, pack.manifest.pack.name
                    ),
                )
                .into())
            }
        }
    }
    Ok(())
}

/// Overlay credit pays more than 100% of a client's sales, so only a pack that says its
/// regulation does so may take it.
use crate::load::fx::RateRule;
use crate::pack::manifest::FxRates;

fn check_overlay(pack: &RulePack, data: &load::Dataset) -> Result<(), Error> {
    if pack.manifest.credit.overlay {
        return Ok(());
    }
    let first = data
        .credits
        .values()
        .flatten()
        .filter(|r| r.overlay)
        .min_by_key(|r| r.lines[0]);
    match first {
        None => Ok(()),
        Some(r) => Err(LoadError::at(
            &data.credits_file,
            r.lines[0],
            format!(
                "overlay credit for manager '{}', but the pack '{}' does not pay overlay credit; add [credit] overlay = true to its pack.toml if the regulation does, or make the row part of a split",
                data.managers[r.shares[0].0 as usize].id, pack.manifest.pack.name
            ),
        )
        .into()),
    }
}

fn run_in_pool(
    pack: Arc<RulePack>,
    source: &DataSource,
    options: &RunOptions,
    threads: usize,
    native: Option<&dyn NativeRules>,
) -> Result<RunResult, Error> {
    let started = SystemTime::now();
    let deadline = RunDeadline::new(options.deadline);
    let kind = pack.period_kind();
    if let Some(p) = options.period {
        if p.kind() != kind {
            return Err(Error::Usage(format!(
                "the pack '{}' pays per {}, but --period {p} is a {}; give a {} such as {}",
                pack.manifest.pack.name,
                kind.name(),
                p.kind().name(),
                kind.name(),
                kind.example()
            )));
        }
    }
    let mut clock = Stopwatch::default();
    let mut data = load::load_tables_with(source, options.max_field_bytes)?;
    check_plans(&pack, &data, source)?;
    check_overlay(&pack, &data)?;
    target_bonuses(&pack, &mut data)?;
    clock.lap("load tables");
    // The pass sums sales straight into the run period's windows, so it needs the period
    // first. Without --period, the period is the latest complete one, which depends on the
    // last sale: guess it from the file's ends, and pass again in the rare case it was wrong.
    let stream =
        load::sales::open_counted(source, options.max_field_bytes, options.progress.as_ref())?;
    let guess = options.period.unwrap_or_else(|| {
        match load::sales::latest_date_near_ends(source, &stream.columns) {
            Some(last) => facts::latest_complete_period(kind, last),
            None => Period::containing(kind, MonthIndex::new(2000, 1)),
        }
    });
    let plan = |p: Period| -> Result<WindowPlan, Error> {
        let late = match &options.ledger {
            Some(hook) => hook.0.late_periods(p)?,
            None => Vec::new(),
        };
        let rule = match pack.manifest.fx.rates {
            FxRates::Daily => RateRule::Daily,
            FxRates::PeriodAverage => RateRule::PeriodAverage(kind),
        };
        Ok(WindowPlan::with(p, &pack.windows, &late)
            .measuring(&pack.measures)
            .converting(&pack.currency.code, rule))
    };
    let (mut sales, mut sales_file) = facts::aggregate(stream, &data, plan(guess)?)?;
    clock.lap("sales pass");
    let mut warnings = Vec::new();
    for code in [&pack.key_clients, &pack.kpis, &pack.bonus] {
        if let StageCode::Plugin(p) = code {
            if p.cache == crate::rules::wasm::CacheUse::Rejected {
                warnings.push(format!(
                    "{}: the compiled code in the cache did not verify (tampered with or corrupt), so it was not run; the plugin was compiled again",
                    p.shown
                ));
            }
        }
    }
    warnings.extend(source.notes().iter().cloned());
    if !sales.has_cost {
        warnings.push(
            "sales.csv has no cost column: every cost is 0, so margin equals revenue".to_string(),
        );
    }
    let period = match (options.period, sales.last_date) {
        (Some(p), _) => p,
        (None, Some(last)) => facts::latest_complete_period(kind, last),
        (None, None) => {
            return Err(LoadError::file(
                &source.display(load::sales::SALES_FILE),
                "has no sales lines, so there is no latest period to take; give --period",
            )
            .into())
        }
    };
    if period != sales.plan.period() {
        let stream =
            load::sales::open_counted(source, options.max_field_bytes, options.progress.as_ref())?;
        (sales, sales_file) = facts::aggregate(stream, &data, plan(period)?)?;
        clock.lap("sales pass again (the period guessed from the file's ends was wrong)");
    }
    let mut incomplete = None;
    if let Some(last) = sales.last_date {
        if last < period.last_date() {
            let text = format!(
                "the sales end on {last}, before the period {period} ends ({}): the period is incomplete",
                period.last_date()
            );
            if options.allow_incomplete {
                incomplete = Some(format!("{text} (acknowledged: --allow-incomplete)"));
            } else {
                warnings.push(format!(
                    "{text}; if that is expected, say so with --allow-incomplete"
                ));
            }
        }
    }
    if !data.plans.is_empty() && !data.plans.iter().any(|p| p.period == period) {
        warnings.push(format!(
            "{} has no targets for {period}: every KPI measured against a plan has none this period",
            data.plans_file
        ));
    }
    let other_kind = data
        .plans
        .iter()
        .filter(|p| p.period.kind() != kind)
        .count();
    if other_kind > 0 {
        warnings.push(format!(
            "{other_kind} row(s) of plans.csv are for periods that are not a {} and are not used by this pack",
            kind.name()
        ));
    }
    for m in &data.managers {
        if !pack
            .currency
            .holds(pack.currency.round(m.target_bonus, pack.rounding))
        {
            return Err(LoadError::file(
                &data.managers_file,
                format!(
                    "manager {}: target_bonus {} has more digits than an amount in {} with {} decimals holds (28 in all)",
                    m.id, m.target_bonus, pack.currency.code, pack.currency.minor_units
                ),
            )
            .into());
        }
        if pack.currency.round(m.target_bonus, pack.rounding) != m.target_bonus {
            warnings.push(format!(
                "manager {}: target_bonus {} has more decimals than {} has ({})",
                m.id, m.target_bonus, pack.currency.code, pack.currency.minor_units
            ));
        }
    }
    check_adjustments(&pack, &data, period)?;
    let carry = match &options.ledger {
        Some(hook) => hook.0.carry(period, &pack, &data)?,
        None => Carry::default(),
    };
    warn_settlement(&pack, &data, period, &mut warnings);
    data.inputs.push(sales_file);
    let mut inputs = data.inputs.clone();
    inputs.extend(source.sources().iter().cloned());
    inputs.sort_by(|a, b| a.name.cmp(&b.name));
    let data = Arc::new(data);
    let facts = Arc::new(
        Facts::build(&data, sales)
            .map_err(|m| LoadError::file(&source.display(load::sales::SALES_FILE), m))?,
    );
    clock.lap("facts");
    deadline.check("the sales pass")?;
    let runner = RuleRunner::new(pack.clone()).with_run_deadline(deadline.0);
    let shared = Arc::new(
        HostShared::new(
            &pack.params,
            &pack.tables,
            pack.currency.clone(),
            pack.rounding,
        )
        .with_run_deadline(deadline.0),
    );
    let n_clients = data.clients.len();
    let n_managers = data.managers.len();

    // Stage a: clients in parallel (per client for scripts, per batch for plugins).
    let carry = Arc::new(carry);
    let late = Arc::new(settle::late_windows(&data, &facts, &carry, &mut warnings)?);
    let ctx = Arc::new(
        Context::new(data.clone(), facts.clone())
            .with_carry(carry.clone())
            .with_late(Arc::new(late.total.clone())),
    );
    let classified = match (native, &pack.key_clients) {
        (Some(rules), _) => first_error_in_order(n_clients, |i| {
            let mut warnings = Vec::new();
            rules
                .classify(&ctx, i as u32, &mut warnings)
                .map(|value| native_outcome(value, warnings))
                .map_err(|m| {
                    native_error(
                        &pack,
                        "key_clients",
                        "classify",
                        client_subject(&data, i),
                        m,
                    )
                })
        })?,
        (None, StageCode::Script(s)) => first_error_in_order(n_clients, |i| {
            runner.classify(s, &ctx, i as u32).map_err(Error::from)
        })?,
        (None, StageCode::Plugin(p)) => batched(n_clients, CLIENT_BATCH, |r| {
            p.classify(&shared, &ctx, r).map_err(Error::from)
        })?,
    };
    let mut decisions = Vec::with_capacity(classified.len());
    for (i, o) in classified.into_iter().enumerate() {
        warnings.extend(
            o.warnings
                .into_iter()
                .map(|w| format!("client {}: {w}", data.clients[i].id)),
        );
        decisions.push(o.value);
    }
    let ctx = Arc::new(
        Arc::try_unwrap(ctx)
            .unwrap_or_else(|shared| {
                Context::new(shared.data.clone(), shared.facts.clone())
                    .with_carry(carry.clone())
                    .with_late(Arc::new(late.total.clone()))
            })
            .with_decisions(decisions.clone())
            .map_err(|m| LoadError::file(&source.display(load::sales::SALES_FILE), m))?,
    );

    clock.lap("stage key_clients");
    deadline.check("stage key_clients")?;

    // Stage b: managers in parallel.
    let kpi_outcomes: Vec<Outcome<Vec<KpiResult>>> = match (native, &pack.kpis) {
        (Some(rules), _) => first_error_in_order(n_managers, |i| {
            let mut warnings = Vec::new();
            let mut value = Vec::with_capacity(pack.manifest.kpis.len());
            for decl in &pack.manifest.kpis {
                let fail = |m: String| {
                    native_error(
                        &pack,
                        "kpis",
                        decl.function(),
                        manager_subject(&data, i),
                        format!("KPI '{}': {m}", decl.id),
                    )
                };
                let m = rules
                    .kpi(&ctx, i as u32, &decl.id, &mut warnings)
                    .map_err(fail)?;
                value.push(make_kpi(decl, m.value, m.target, m.attainment, m.note).map_err(fail)?);
            }
            Ok::<_, Error>(native_outcome(value, warnings))
        })?,
        (None, StageCode::Script(s)) => first_error_in_order(n_managers, |i| {
            runner.kpis(s, &ctx, i as u32).map_err(Error::from)
        })?,
        (None, StageCode::Plugin(p)) => {
            let ids: Vec<String> = pack.manifest.kpis.iter().map(|k| k.id.clone()).collect();
            let raw = batched(n_managers, MANAGER_BATCH, |r| {
                p.kpis(&shared, &ctx, &ids, r).map_err(Error::from)
            })?;
            let mut out = Vec::with_capacity(raw.len());
            for (m, o) in raw.into_iter().enumerate() {
                let mut results = Vec::with_capacity(o.value.len());
                for ((value, target, attainment, note), decl) in
                    o.value.into_iter().zip(&pack.manifest.kpis)
                {
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
                out.push(Outcome {
                    value: results,
                    warnings: o.warnings,
                    trace: o.trace,
                });
            }
            out
        }
    };
    let kpis: Vec<Arc<Vec<KpiResult>>> = kpi_outcomes
        .iter()
        .map(|o| Arc::new(o.value.clone()))
        .collect();

    clock.lap("stage kpis");
    deadline.check("stage kpis")?;

    // Stage c: managers in parallel.
    let bonus_outcomes: Vec<Outcome<Vec<RawLine>>> = match (native, &pack.bonus) {
        (Some(rules), _) => first_error_in_order(n_managers, |i| {
            let mut warnings = Vec::new();
            let fail = |m: String| {
                native_error(
                    &pack,
                    "bonus",
                    pack.bonus_fn(),
                    manager_subject(&data, i),
                    m,
                )
            };
            let value = rules
                .bonus(&ctx, i as u32, &kpis[i], &mut warnings)
                .map_err(fail)?;
            for (n, l) in value.iter().enumerate() {
                check_line_kpi(&pack, l.kpi.as_deref())
                    .map_err(|m| fail(format!("payout line {}: {m}", n + 1)))?;
            }
            Ok::<_, Error>(native_outcome(value, warnings))
        })?,
        (None, StageCode::Script(s)) => first_error_in_order(n_managers, |i| {
            runner
                .bonus(s, &ctx, i as u32, kpis[i].clone())
                .map_err(Error::from)
        })?,
        (None, StageCode::Plugin(p)) => {
            let out = batched(n_managers, MANAGER_BATCH, |r| {
                p.bonus(&shared, &ctx, &kpis, r).map_err(Error::from)
            })?;
            for (m, o) in out.iter().enumerate() {
                for (n, l) in o.value.iter().enumerate() {
                    check_line_kpi(&pack, l.kpi.as_deref()).map_err(|msg| {
                        plugin_error(
                            p,
                            "bonus",
                            &data.managers[m].id,
                            format!("payout line {}: {msg}", n + 1),
                        )
                    })?;
                }
            }
            out
        }
    };

    let mut managers = Vec::with_capacity(n_managers);
    for (i, (k, b)) in kpi_outcomes.into_iter().zip(bonus_outcomes).enumerate() {
        let lines: Vec<PayoutLine> = b
            .value
            .into_iter()
            .map(|l| PayoutLine {
                amount: pack.currency.round(l.amount, pack.rounding),
                amount_exact: l.amount,
                label: l.label,
                kind: l.kind,
                kpi: l.kpi,
                note: l.note,
                reference: None,
            })
            .collect();
        let id = &data.managers[i].id;
        let payout = crate::money::exact_sum(lines.iter().map(|l| l.amount))
            .filter(|p| pack.currency.holds(*p))
            .ok_or_else(|| too_large(&pack, id, &lines))?;
        if let Some(l) = lines.iter().find(|l| !pack.currency.holds(l.amount)) {
            return Err(too_large(&pack, id, std::slice::from_ref(l)));
        }
        for kpi in &pack.manifest.kpis {
            if kpi_contribution(&lines, &kpi.id).is_none() {
                let of_kpi: Vec<PayoutLine> = lines
                    .iter()
                    .filter(|l| l.kpi.as_deref() == Some(kpi.id.as_str()))
                    .cloned()
                    .collect();
                return Err(too_large(&pack, id, &of_kpi));
            }
        }
        let trace: Vec<String> = k.trace.into_iter().chain(b.trace).collect();
        warnings.extend(
            k.warnings
                .into_iter()
                .chain(b.warnings)
                .map(|w| format!("manager {id}: {w}")),
        );
        managers.push(ManagerResult {
            manager: i as u32,
            kpis: k.value,
            lines,
            payout,
            trace,
            paid_in: None,
        });
    }
    prorate::prorate(&pack, &data, period, &mut managers, &mut warnings)?;
    settle::settle(&pack, &data, period, (&carry, &late), &mut managers)?;
    paid_in::convert(&pack, &data, period, &mut managers)?;
    for m in &managers {
        if m.payout.is_sign_negative() && !m.payout.is_zero() {
            let id = &data.managers[m.manager as usize].id;
            warnings.push(format!(
                "manager {id}: the payout is negative ({})",
                m.payout
            ));
        }
    }
    let total = crate::money::exact_sum(managers.iter().map(|m| m.payout))
        .filter(|t| pack.currency.holds(*t))
        .ok_or_else(|| {
        Error::Money(format!(
            "the payouts of {} managers sum to more than an amount in {} holds (28 digits in all); the largest is {}",
            managers.len(),
            pack.currency.code,
            managers.iter().map(|m| m.payout.abs()).max().unwrap_or_default()
        ))
    })?;
    clock.lap("stage bonus");
    deadline.check("stage bonus")?;
    let curve = payout_curve(&pack, &runner)?;
    let mut result = RunResult {
        pack,
        data,
        facts,
        threads,
        decisions,
        key_windows: ctx.key_windows.clone(),
        managers,
        total,
        warnings,
        inputs,
        started,
        timings: Vec::new(),
        period_given: options.period.is_some(),
        carry,
        incomplete,
        curve,
    };
    reconcile(&result)?;
    clock.lap("reconcile");
    result.timings = clock.laps;
    Ok(result)
}

/// The run's `--deadline`: when it ends and how long it allowed.
struct RunDeadline(Option<(Instant, Duration)>);

impl RunDeadline {
    fn new(allowed: Option<Duration>) -> RunDeadline {
        RunDeadline(allowed.and_then(|d| Some((Instant::now().checked_add(d)?, d))))
    }

    /// Fails when the deadline passed during `step`.
    fn check(&self, step: &str) -> Result<(), Error> {
        match self.0 {
            Some((at, allowed)) if Instant::now() > at => Err(Error::Failed(format!(
                "the run passed its --deadline of {} second(s) during {step}, and was stopped; nothing was written",
                allowed.as_secs()
            ))),
            _ => Ok(()),
        }
    }
}

/// The process's peak resident memory so far, in MiB (Linux: `VmHWM` of this process's own
/// address space; `None` elsewhere).
pub fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Wall time per step of a run.
struct Stopwatch {
    last: Instant,
    laps: Vec<(String, Duration)>,
}

impl Default for Stopwatch {
    fn default() -> Self {
        Stopwatch {
            last: Instant::now(),
            laps: Vec::new(),
        }
    }
}

impl Stopwatch {
    fn lap(&mut self, step: &str) {
        let now = Instant::now();
        self.laps.push((step.to_string(), now - self.last));
        self.last = now;
    }
}

/// Clients per plugin call.
const CLIENT_BATCH: usize = 512;
/// Managers per plugin call.
const MANAGER_BATCH: usize = 8;

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

/// Every plan must name a KPI the pack declares: a typo would otherwise silently drop a target.
fn check_plans(pack: &RulePack, data: &Dataset, source: &DataSource) -> Result<(), LoadError> {
    // A mapping without [tables.plans] says so on purpose (the pack then sees no plans); a
    // plans.csv of the user's with a header and no rows is a mistake.
    let mapped = matches!(source, DataSource::Memory { .. });
    if data.plans.is_empty() && !pack.manifest.kpis.is_empty() && !mapped {
        return Err(LoadError::file(
            &data.plans_file,
            format!(
                "has a header but no rows, so no manager has a target and the pack '{}' would pay against none; give one row per manager, period and KPI ({})",
                pack.manifest.pack.name,
                pack.manifest.kpis.iter().map(|k| k.id.as_str()).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    for p in &data.plans {
        if !pack.manifest.kpis.iter().any(|k| k.id == p.kpi) {
            let ids: Vec<&str> = pack.manifest.kpis.iter().map(|k| k.id.as_str()).collect();
            return Err(LoadError::field(
                &data.plans_file,
                p.line,
                "kpi",
                format!(
                    "unknown KPI '{}'; the pack '{}' declares: {}",
                    p.kpi,
                    pack.manifest.pack.name,
                    ids.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Every adjustment must be for a period of the pack's kind and name a declared KPI, if any.
fn check_adjustments(pack: &RulePack, data: &Dataset, period: Period) -> Result<(), LoadError> {
    let file = &data.adjustments_file;
    for a in &data.adjustments {
        if a.period.kind() != period.kind() {
            return Err(LoadError::field(
                file,
                a.line,
                "period",
                format!(
                    "'{}' is a {}, but the pack '{}' pays per {}; give a {} such as {}",
                    a.period,
                    a.period.kind().name(),
                    pack.manifest.pack.name,
                    period.kind().name(),
                    period.kind().name(),
                    period.kind().example()
                ),
            ));
        }
        if let Some(k) = &a.kpi {
            if !pack.manifest.kpis.iter().any(|d| d.id == *k) {
                let ids: Vec<&str> = pack.manifest.kpis.iter().map(|k| k.id.as_str()).collect();
                return Err(LoadError::field(
                    file,
                    a.line,
                    "kpi",
                    format!(
                        "unknown KPI '{k}'{}; the pack '{}' declares: {}",
                        crate::suggest::did_you_mean(k, ids.iter().copied()),
                        pack.manifest.pack.name,
                        ids.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A guarantee or draw of the run period for a manager the data does not have is reported,
/// not applied.
fn warn_settlement(pack: &RulePack, data: &Dataset, period: Period, warnings: &mut Vec<String>) {
    let start = period.start_date();
    let rows = pack
        .settlement
        .guarantees
        .iter()
        .filter(|g| g.from.start_date() <= start && start < g.to.end_date())
        .map(|g| (&g.manager, &g.at, "guarantee"))
        .chain(
            pack.settlement
                .draws
                .iter()
                .filter(|d| d.period == period)
                .map(|d| (&d.manager, &d.at, "draw")),
        );
    for (id, at, what) in rows {
        if !data.manager_index.contains_key(id.as_str()) {
            warnings.push(format!(
                "{at}: the {what} for manager '{id}' is not applied: {id} is not in {}",
                data.managers_file
            ));
        }
    }
}

/// Evaluates `f` for 0..n in parallel and returns results in order, or the error of the
/// lowest failing index. Items above a known failure are skipped; items below never are, so
/// the error reported does not depend on the thread count.
fn first_error_in_order<T: Send, E: Send>(
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

/// Money a KPI contributed to a payout: the sum of the rounded lines that name it, or `None`
/// when that sum does not fit a decimal (other lines, of the opposite sign, may keep the
/// payout itself in range).
pub fn kpi_contribution(lines: &[PayoutLine], kpi: &str) -> Option<Decimal> {
    crate::money::exact_sum(
        lines
            .iter()
            .filter(|l| l.kpi.as_deref() == Some(kpi))
            .map(|l| l.amount),
    )
}

/// A manager's payout lines whose sum does not fit a decimal: the error names the stage's
/// code, the manager and the lines.
fn too_large(pack: &RulePack, manager: &str, lines: &[PayoutLine]) -> Error {
    let code = match &pack.bonus {
        StageCode::Script(s) => s.shown.clone(),
        StageCode::Plugin(p) => p.shown.clone(),
    };
    let shown: Vec<String> = lines
        .iter()
        .take(5)
        .map(|l| format!("'{}' {}", l.label, l.amount))
        .collect();
    Error::Money(format!(
        "{code} (stage bonus) for manager {manager}: the payout lines (or their sum) do not fit an amount in {} with {} decimals (28 digits in all): {}{}",
        pack.currency.code,
        pack.currency.minor_units,
        shown.join(", "),
        if lines.len() > 5 { ", ..." } else { "" }
    ))
}

/// Statement lines must sum to each payout, and payouts to the total, exactly (no decimal
/// dropped, no overflow). Checked on every run.
pub fn reconcile(result: &RunResult) -> Result<(), Error> {
    use crate::money::exact_sum;
    let mut sum = crate::money::ExactSum::default();
    for m in &result.managers {
        let lines = crate::money::exact_sum(m.lines.iter().map(|l| l.amount));
        if lines != Some(m.payout) {
            let lines = lines.map_or("more than a decimal holds".into(), |l| l.to_string());
            return Err(Error::Reconcile(format!(
                "manager {}: lines sum to {lines} but the payout is {}",
                result.data.managers[m.manager as usize].id, m.payout
            )));
        }
        for l in &m.lines {
            if result.pack.currency.round(l.amount, result.pack.rounding) != l.amount {
                return Err(Error::Reconcile(format!(
                    "manager {}: line '{}' ({}) is not rounded to the minor unit",
                    result.data.managers[m.manager as usize].id, l.label, l.amount
                )));
            }
        }
        if let Some(p) = &m.paid_in {
            if p.lines.len() != m.lines.len()
                || exact_sum(p.lines.iter().copied()) != Some(p.payout)
            {
                return Err(Error::Reconcile(format!(
                    "manager {}: the lines in {} do not sum to the payout in it ({})",
                    result.data.managers[m.manager as usize].id, p.currency.code, p.payout
                )));
            }
        }
        sum.add(m.payout);
    }
    let sum = sum.to_decimal();
    if sum != Some(result.total) {
        let sum = sum.map_or("more than a decimal holds".into(), |l| l.to_string());
        return Err(Error::Reconcile(format!(
            "payouts sum to {sum} but the run total is {}",
            result.total
        )));
    }
    Ok(())
}
