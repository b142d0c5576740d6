//! The bonus run: load data, compute facts, run the three stages in parallel, round and
//! reconcile.
//!
//! Parallelism never changes a result: clients (stage a) and managers (stages b, c) are
//! evaluated with rayon's indexed iterators, which keep input order; every sum is exact. When
//! rules fail on several subjects, the error reported is the first in file order, whatever
//! the thread count.

mod checks;
pub mod paid_in;
mod pass;
mod payouts;
pub mod prorate;
pub mod settle;
mod stages;

use crate::error::Error;
use crate::facts::Facts;
use crate::ledger::carry::Carry;
use crate::load::{self, DataSource, Dataset, InputFile, LoadError};
use crate::period::Period;
use crate::rules::{KeyDecision, KpiResult, NativeRules, RuleError, RuleRunner};
use crate::rules::{RulePack, StageCode};
use rust_decimal::Decimal;
use serde::Serialize;
use stages::Stages;
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
    /// Facts computed elsewhere (`bonusrun run --facts`, from the query `bonusrun sql`
    /// prints), read instead of the sales; `None`: the run sums the sales itself.
    pub facts: Option<std::path::PathBuf>,
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
            facts: None,
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
    /// Where the facts came from when they were computed elsewhere (`--facts FILE`, as
    /// given); `None`: the run summed the sales itself.
    pub facts_from: Option<String>,
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

/// A run, step by step: the checks, the sales pass, the facts, the three stages, the payouts
/// and settlement, and the reconciliation.
fn run_in_pool(
    pack: Arc<RulePack>,
    source: &DataSource,
    options: &RunOptions,
    threads: usize,
    native: Option<&dyn NativeRules>,
) -> Result<RunResult, Error> {
    let started = SystemTime::now();
    let deadline = RunDeadline::new(options.deadline);
    checks::period_kind(&pack, options.period)?;
    let mut clock = Stopwatch::default();
    let mut data = load::load_tables_with(source, options.max_field_bytes)?;
    checks::tables(&pack, &mut data, source)?;
    clock.lap("load tables");
    let pass = pass::sales_pass(&pack, source, &data, options, &mut clock)?;
    let period = pass.period;
    let (mut warnings, incomplete) =
        checks::warnings(&pack, (&data, source), &pass.sales, (period, options))?;
    let carry = Arc::new(match &options.ledger {
        Some(hook) => hook.0.carry(period, &pack, &data)?,
        None => Carry::default(),
    });
    data.inputs.push(pass.file);
    let mut inputs = data.inputs.clone();
    inputs.extend(source.sources().iter().cloned());
    inputs.sort_by(|a, b| a.name.cmp(&b.name));
    let data = Arc::new(data);
    let facts = Arc::new(
        Facts::build(&data, pass.sales)
            .map_err(|m| LoadError::file(&source.display(load::sales::SALES_FILE), m))?,
    );
    clock.lap("facts");
    deadline.check("the sales pass")?;

    let late = settle::late_windows(&data, &facts, &carry, &mut warnings)?;
    let mut stages = Stages::new(
        pack.clone(),
        (&data, &facts),
        (&carry, &late),
        native,
        deadline.0,
    );
    let decisions = stages.key_clients(&mut warnings)?;
    stages
        .decide(decisions.clone())
        .map_err(|m| LoadError::file(&source.display(load::sales::SALES_FILE), m))?;
    clock.lap("stage key_clients");
    deadline.check("stage key_clients")?;
    let kpi_outcomes = stages.kpis()?;
    let kpis: Vec<Arc<Vec<KpiResult>>> = kpi_outcomes
        .iter()
        .map(|o| Arc::new(o.value.clone()))
        .collect();
    clock.lap("stage kpis");
    deadline.check("stage kpis")?;
    let bonus_outcomes = stages.bonus(&kpis)?;

    let mut managers =
        payouts::managers(&pack, &data, kpi_outcomes, bonus_outcomes, &mut warnings)?;
    prorate::prorate(&pack, &data, period, &mut managers, &mut warnings)?;
    settle::settle(&pack, &data, period, (&carry, &late), &mut managers)?;
    paid_in::convert(&pack, &data, period, &mut managers)?;
    let total = payouts::total(&pack, &data, &managers, &mut warnings)?;
    clock.lap("stage bonus");
    deadline.check("stage bonus")?;
    let curve = payout_curve(&pack, &stages.runner)?;
    let mut result = RunResult {
        pack,
        data,
        facts,
        threads,
        decisions,
        key_windows: stages.ctx.key_windows.clone(),
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
        facts_from: options.facts.as_ref().map(|p| p.display().to_string()),
    };
    reconcile(&result)?;
    clock.lap("reconcile");
    result.timings = clock.laps;
    Ok(result)
}

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
pub(crate) struct Stopwatch {
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
    pub(crate) fn lap(&mut self, step: &str) {
        let now = Instant::now();
        self.laps.push((step.to_string(), now - self.last));
        self.last = now;
    }
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
