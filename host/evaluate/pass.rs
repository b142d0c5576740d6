//! The sales pass of a run: which period it is for, and the one pass (rarely two) over
//! `sales.csv` that sums every line into that period's windows.

use super::{RunOptions, Stopwatch};
use crate::error::Error;
use crate::facts::{self, SalesTotals, WindowPlan};
use crate::load::fx::RateRule;
use crate::load::{self, DataSource, Dataset, InputFile, LoadError};
use crate::pack::manifest::FxRates;
use crate::period::{MonthIndex, Period};
use crate::rules::RulePack;

/// What the pass found: the sums, the sales file read (with its hash) and the run period.
pub(super) struct Pass {
    pub(super) sales: SalesTotals,
    pub(super) file: InputFile,
    pub(super) period: Period,
}

/// Sums the sales into the run period's windows. The pass needs the period first; without
/// `--period` it is the latest complete one, which depends on the last sale: it is guessed
/// from the file's ends, and the pass runs again in the rare case the guess was wrong.
pub(super) fn sales_pass(
    pack: &RulePack,
    source: &DataSource,
    data: &Dataset,
    options: &RunOptions,
    clock: &mut Stopwatch,
) -> Result<Pass, Error> {
    if let Some(path) = &options.facts {
        return facts_pass(pack, path, data, options, clock);
    }
    let kind = pack.period_kind();
    let open =
        || load::sales::open_counted(source, options.max_field_bytes, options.progress.as_ref());
    let stream = open()?;
    let guess = options.period.unwrap_or_else(|| {
        match load::sales::latest_date_near_ends(source, &stream.columns) {
            Some(last) => facts::latest_complete_period(kind, last),
            None => Period::containing(kind, MonthIndex::new(2000, 1)),
        }
    });
    let (mut sales, mut file) = facts::aggregate(stream, data, plan(pack, options, guess)?)?;
    clock.lap("sales pass");
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
        (sales, file) = facts::aggregate(open()?, data, plan(pack, options, period)?)?;
        clock.lap("sales pass again (the period guessed from the file's ends was wrong)");
    }
    Ok(Pass {
        sales,
        file,
        period,
    })
}

/// `--facts FILE`: the sums computed elsewhere (by the query `bonusrun sql` prints), read
/// instead of the sales. The period is `--period`, else the one the facts are for.
fn facts_pass(
    pack: &RulePack,
    path: &std::path::Path,
    data: &Dataset,
    options: &RunOptions,
    clock: &mut Stopwatch,
) -> Result<Pass, Error> {
    let shown = path.display().to_string();
    let (of_facts, line) = facts::import::period_of(path, &shown)?;
    let period = options.period.unwrap_or(of_facts);
    if period != of_facts {
        return Err(LoadError::field(
            &shown,
            line,
            "period",
            format!("the facts are for {of_facts}, but this run is for {period}; print the query with `bonusrun sql --period {period}`, or run with --period {of_facts}"),
        )
        .into());
    }
    let plan = plan(pack, options, period)?;
    if plan.dates.len() > 3 + plan.named.iter().map(|n| n.count).sum::<usize>() {
        return Err(Error::Usage(
            "the ledger asks this run for late sales of closed periods, which the facts query does not sum; run on the sales (without --facts), or with --no-ledger"
                .into(),
        ));
    }
    let (sales, file) = facts::import::import(path, &shown, data, plan)?;
    clock.lap("facts file read");
    Ok(Pass {
        sales,
        file,
        period,
    })
}

/// The windows the pass sums for `period`: the run's, the pack's declared windows and
/// measures, the closed periods whose late sales the ledger asks for, in the pack's currency.
fn plan(pack: &RulePack, options: &RunOptions, period: Period) -> Result<WindowPlan, Error> {
    let late = match &options.ledger {
        Some(hook) => hook.0.late_periods(period)?,
        None => Vec::new(),
    };
    let rule = match pack.manifest.fx.rates {
        FxRates::Daily => RateRule::Daily,
        FxRates::PeriodAverage => RateRule::PeriodAverage(pack.period_kind()),
    };
    Ok(WindowPlan::with(period, &pack.windows, &late)
        .measuring(&pack.measures)
        .converting(&pack.currency.code, rule))
}
