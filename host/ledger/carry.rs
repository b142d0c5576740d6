//! What the ledger knows for one run, as plain values: the paid payouts of closed periods,
//! draw balances and pending true-ups. Built once before any rule runs (never SQLite inside
//! a rule call), recorded with the run so that `verify` replays it exactly.

use crate::money::ExactSum;
use crate::period::Period;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The ledger's state for one run of one period.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Carry {
    /// Whether a ledger was read: false under `--no-ledger`, for a run without one, and in
    /// golden cases without a ledger state.
    pub attached: bool,
    /// The ledger event the state was read at (0 without a ledger).
    pub as_of_event: i64,
    /// Per manager id; a manager the ledger has never seen is absent (all zero).
    pub managers: BTreeMap<String, ManagerCarry>,
}

/// One manager's history, as of the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ManagerCarry {
    /// Closed periods before the run period → the payout of their paid run (all lines).
    pub paid: BTreeMap<String, Decimal>,
    /// Closed periods before the run period → the rule lines of their paid run only.
    pub computed: BTreeMap<String, Decimal>,
    /// Draws advanced and not yet recovered, before this run.
    pub draw_balance: Decimal,
    /// True-ups of approved retro runs that no closed run has paid yet; this run pays them.
    pub true_ups: Vec<PendingTrueUp>,
    /// Closed periods before the run period → KPI id → (value, target) of their paid run.
    pub kpis: BTreeMap<String, BTreeMap<String, (Decimal, Decimal)>>,
    /// Closed periods before the run period → KPI id → the sum of their paid run's rule
    /// lines that name the KPI.
    pub contributions: BTreeMap<String, BTreeMap<String, Decimal>>,
    /// The previous period's sales as the ledger last saw them (its latest approved retro
    /// run, else its paid run), when that period is closed: today's data minus these are
    /// the late sales.
    pub seen_previous: Option<SeenSales>,
    /// The same for the other closed periods of the year before the run period (from the
    /// same period a year ago up to the one before the previous), oldest first.
    pub seen_earlier: Vec<SeenSales>,
}

impl ManagerCarry {
    /// Every closed period's sales as the ledger saw them, oldest first.
    pub fn seen(&self) -> impl Iterator<Item = &SeenSales> {
        self.seen_earlier.iter().chain(self.seen_previous.as_ref())
    }
}

impl Carry {
    /// The closed periods whose sales the ledger saw, for which the pass must sum today's
    /// sales too (late sales are the difference).
    pub fn seen_periods(&self) -> Vec<Period> {
        let mut out: Vec<Period> = self
            .managers
            .values()
            .flat_map(|m| m.seen())
            .filter_map(|s| Period::parse(&s.period).ok())
            .collect();
        out.sort_by_key(|p| p.start_date());
        out.dedup();
        out
    }
}

/// One manager's sales in one period, as a recorded run saw them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeenSales {
    /// The period.
    pub period: String,
    /// The run that saw them.
    pub run: i64,
    /// Sales lines.
    pub lines: u64,
    /// Return lines.
    pub return_lines: u64,
    /// Net revenue.
    pub revenue: Decimal,
    /// Cost.
    pub cost: Decimal,
    /// Quantity.
    pub quantity: Decimal,
    /// Returns, positive.
    pub returns: Decimal,
}

/// A difference found by a retro run, waiting to be paid (or recovered).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingTrueUp {
    /// Its row in the ledger.
    pub id: i64,
    /// The closed period it corrects.
    pub period: String,
    /// The retro run that found it.
    pub retro_run: i64,
    /// The paid run it corrects.
    pub paid_run: i64,
    /// The KPI of the corrected line, if any.
    pub kpi: Option<String>,
    /// The corrected line's kind and label.
    pub kind: String,
    /// The corrected line's label.
    pub label: String,
    /// Retro amount minus paid amount.
    pub amount: Decimal,
}

impl Carry {
    /// The sum over the year's closed periods before the run period of the rule lines that
    /// name `kpi`: `contribution_ytd`.
    pub fn contribution_year_to_date(
        &self,
        id: &str,
        period: Period,
        kpi: &str,
    ) -> Option<Decimal> {
        let Some(m) = self.managers.get(id) else {
            return Some(Decimal::ZERO);
        };
        let mut sum = ExactSum::default();
        for (p, kpis) in &m.contributions {
            if same_year_before(p, period) {
                sum.add(kpis.get(kpi).copied().unwrap_or_default());
            }
        }
        sum.to_decimal()
    }

    /// The sum over the closed periods of the run period's year before it of one KPI's
    /// recorded value (`target = false`) or target: `value_ytd` and `target_ytd`.
    pub fn kpi_year_to_date(
        &self,
        id: &str,
        period: Period,
        kpi: &str,
        target: bool,
    ) -> Option<Decimal> {
        let Some(m) = self.managers.get(id) else {
            return Some(Decimal::ZERO);
        };
        let mut sum = ExactSum::default();
        for (p, kpis) in &m.kpis {
            if same_year_before(p, period) {
                if let Some((v, t)) = kpis.get(kpi) {
                    sum.add(if target { *t } else { *v });
                }
            }
        }
        sum.to_decimal()
    }

    /// One manager's history (empty if the ledger has none).
    pub fn manager(&self, id: &str) -> Option<&ManagerCarry> {
        self.managers.get(id)
    }

    /// The sum of `pick` over the closed periods of the run period's year that end before it:
    /// `paid_ytd` and `computed_ytd`. `None` only if the sum does not fit a decimal.
    pub fn year_to_date(
        &self,
        id: &str,
        period: Period,
        pick: fn(&ManagerCarry) -> &BTreeMap<String, Decimal>,
    ) -> Option<Decimal> {
        let Some(m) = self.managers.get(id) else {
            return Some(Decimal::ZERO);
        };
        let mut sum = ExactSum::default();
        for (p, amount) in pick(m) {
            if same_year_before(p, period) {
                sum.add(*amount);
            }
        }
        sum.to_decimal()
    }
}

/// Whether period `p` (as text) is of the same calendar year as `period` and ends before it.
fn same_year_before(p: &str, period: Period) -> bool {
    Period::parse(p).is_ok_and(|p| {
        p.start_date().ymd().0 == period.start_date().ymd().0 && p.end_date() <= period.start_date()
    })
}
