//! Settlement: the lines the host adds after stage bonus, from the data (`adjustments.csv`),
//! the pack (`[ledger]` guarantees and draws) and the ledger (pending true-ups, draw
//! balances). In this order, after the rule lines: adjustments, true-ups, guarantee, draw,
//! recovery. Each is rounded once, like any payout line, and carries its reference.

use super::{ManagerResult, PayoutLine};
use crate::error::Error;
use crate::facts::Window;
use crate::ledger::carry::{Carry, SeenSales};
use crate::load::Dataset;
use crate::money::exact_sum;
use crate::pack::manifest::ClawbackBasis;
use crate::period::Period;
use crate::rules::RulePack;
use rust_decimal::Decimal;
use serde::Serialize;

/// Where a settlement line comes from; `None` on the lines the rules made.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LineRef {
    /// The earlier period a true-up corrects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_period: Option<String>,
    /// The ledger run it refers to (the paid run a true-up corrects).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_run: Option<i64>,
    /// The retro run that found a true-up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retro_run: Option<i64>,
    /// The ledger row of a true-up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub true_up: Option<i64>,
    /// Who approved an adjustment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// The file and line the line comes from (`adjustments.csv:4`, `tables/draws.csv:2`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Adds the settlement lines of every manager, and their payouts.
pub fn settle(
    pack: &RulePack,
    data: &Dataset,
    period: Period,
    (carry, late): (&Carry, &LateSales),
    managers: &mut [ManagerResult],
) -> Result<(), Error> {
    for m in managers.iter_mut() {
        let id = &data.managers[m.manager as usize].id;
        let mut s = Settler {
            pack,
            id,
            lines: Vec::new(),
        };
        let computed = s.sum(&m.lines)?;
        for a in data
            .adjustments
            .iter()
            .filter(|a| a.manager == m.manager && a.period == period)
        {
            let source = format!("{}:{}", data.adjustments_file, a.line);
            s.push(
                &a.kind,
                a.kpi.clone(),
                a.reason.clone(),
                a.amount,
                format!("approved by {}; {source}", a.approved_by),
                LineRef {
                    approved_by: Some(a.approved_by.clone()),
                    source: Some(source),
                    ..LineRef::default()
                },
            );
        }
        let history = carry.manager(id);
        for t in history.map(|h| h.true_ups.as_slice()).unwrap_or_default() {
            s.push(
                "true_up",
                t.kpi.clone(),
                format!("True-up {}: {}", t.period, t.label),
                t.amount,
                format!(
                    "retro run {} recalculated {}; paid run {} paid it",
                    t.retro_run, t.period, t.paid_run
                ),
                LineRef {
                    ref_period: Some(t.period.clone()),
                    ref_run: Some(t.paid_run),
                    retro_run: Some(t.retro_run),
                    true_up: Some(t.id),
                    ..LineRef::default()
                },
            );
        }
        if let Some((rate, basis)) = pack.settlement.clawback {
            for (period, run, w) in &late.by_period[m.manager as usize] {
                s.clawback(rate, basis, period, *run, w)?;
            }
        }
        let before_guarantee = s.add(computed, s.sum(&s.lines)?, "the payout before guarantee")?;
        let mut guarantee = Decimal::ZERO;
        if let Some(g) = pack.settlement.guarantees.iter().find(|g| {
            g.manager == *id
                && g.from.start_date() <= period.start_date()
                && period.end_date() <= g.to.end_date()
        }) {
            let minimum = pack.currency.round(g.minimum, pack.rounding);
            guarantee = s
                .sub(minimum, computed, "the guarantee")?
                .max(Decimal::ZERO);
            if !guarantee.is_zero() {
                s.push(
                    "guarantee",
                    None,
                    format!("Guaranteed minimum for {period}"),
                    guarantee,
                    format!("the rules computed {computed}; the guaranteed minimum is {minimum}"),
                    LineRef {
                        source: Some(g.at.clone()),
                        ..LineRef::default()
                    },
                );
            }
        }
        for d in pack
            .settlement
            .draws
            .iter()
            .filter(|d| d.manager == *id && d.period == period)
        {
            s.push(
                "draw",
                None,
                format!("Draw for {period}"),
                d.amount,
                "an advance, recovered from later payouts".into(),
                LineRef {
                    source: Some(d.at.clone()),
                    ..LineRef::default()
                },
            );
        }
        let balance = history.map_or(Decimal::ZERO, |h| h.draw_balance);
        let base = s.add(before_guarantee, guarantee, "the payout before draws")?;
        if balance > Decimal::ZERO && base > Decimal::ZERO {
            let share = pack.settlement.recovery_share;
            let most = base.checked_mul(share).ok_or_else(|| {
                s.overflow(format!("{share} x {base}, the most a recovery may take"))
            })?;
            let most = pack.currency.round(most, crate::money::RoundingMode::Down);
            let recovery = balance.min(most);
            if !recovery.is_zero() {
                s.push(
                    "recovery",
                    None,
                    "Draw recovery".into(),
                    -recovery,
                    format!("draw balance before this run {balance}; at most {share} of {base}"),
                    LineRef::default(),
                );
            }
        }
        m.lines.append(&mut s.lines);
        m.payout = s.sum(&m.lines)?;
    }
    Ok(())
}

/// Late sales: dated in a closed period of the year before the run, unseen when it was
/// paid.
#[derive(Clone, Debug, Default)]
pub struct LateSales {
    /// Per manager: over every such period (`m.late`).
    pub total: Vec<Window>,
    /// Per manager: the period, the run that saw it and its late sales, oldest first.
    pub by_period: Vec<Vec<(String, i64, Window)>>,
}

/// Per manager and closed period: today's window of that period minus what the ledger's
/// run saw. A manager whose period has fewer lines now than then (lines removed or changed,
/// not only added) gets none for it, and a warning.
pub fn late_windows(
    data: &Dataset,
    facts: &crate::facts::Facts,
    carry: &Carry,
    warnings: &mut Vec<String>,
) -> Result<LateSales, Error> {
    let mut out = LateSales {
        total: vec![Window::default(); data.managers.len()],
        by_period: vec![Vec::new(); data.managers.len()],
    };
    for (i, m) in data.managers.iter().enumerate() {
        let Some(history) = carry.manager(&m.id) else {
            continue;
        };
        for seen in history.seen() {
            let Some(w) = Period::parse(&seen.period)
                .ok()
                .and_then(|p| facts.plan.window_of(p))
            else {
                continue;
            };
            let now = &facts.managers[i].windows[w];
            if let Some(late) = late_window(&m.id, seen, now, warnings)? {
                out.by_period[i].push((seen.period.clone(), seen.run, late));
            }
        }
        out.total[i] = Window::sum(out.by_period[i].iter().map(|(_, _, w)| w)).map_err(|e| {
            Error::Money(e.message(
                &format!("the late sales of manager {}", m.id),
                "the closed periods",
            ))
        })?;
    }
    Ok(out)
}

/// One manager's late sales of one closed period, or `None` (and a warning) when lines were
/// removed.
fn late_window(
    id: &str,
    seen: &SeenSales,
    now: &Window,
    warnings: &mut Vec<String>,
) -> Result<Option<Window>, Error> {
    let (Some(lines), Some(return_lines)) = (
        now.lines.checked_sub(seen.lines),
        now.return_lines.checked_sub(seen.return_lines),
    ) else {
        warnings.push(format!(
            "manager {id}: {} has {} sales line(s) now but run {} saw {}: lines were removed or changed, not only added, so late sales cannot be told; recalculate it with --retro",
            seen.period, now.lines, seen.run, seen.lines
        ));
        return Ok(None);
    };
    let diff = |a: Decimal, b: Decimal, what: &str| {
        a.checked_sub(b).ok_or_else(|| {
            Error::Money(format!(
                "manager {id}: the late {what} of {} ({a} - {b}) does not fit a decimal",
                seen.period
            ))
        })
    };
    let late = Window {
        revenue: diff(now.revenue, seen.revenue, "revenue")?,
        cost: diff(now.cost, seen.cost, "cost")?,
        quantity: diff(now.quantity, seen.quantity, "quantity")?,
        returns: diff(now.returns, seen.returns, "returns")?,
        lines,
        return_lines,
        ..Window::default()
    };
    late.revenue.checked_sub(late.cost).ok_or_else(|| {
        Error::Money(format!(
            "manager {id}: the margin of the late sales of {} does not fit a decimal",
            seen.period
        ))
    })?;
    Ok(Some(late))
}

/// One manager's settlement lines, as they are made.
struct Settler<'a> {
    pack: &'a RulePack,
    id: &'a str,
    lines: Vec<PayoutLine>,
}

impl Settler<'_> {
    /// A clawback line when the late sales of `period` lower the basis.
    fn clawback(
        &mut self,
        rate: Decimal,
        basis: ClawbackBasis,
        period: &str,
        run: i64,
        w: &Window,
    ) -> Result<(), Error> {
        let (name, amount) = match basis {
            ClawbackBasis::Revenue => ("revenue", w.revenue),
            ClawbackBasis::Margin => ("margin", w.margin()),
        };
        if amount >= Decimal::ZERO {
            return Ok(());
        }
        let back = amount
            .checked_mul(rate)
            .ok_or_else(|| self.overflow(format!("the clawback {rate} x {amount}")))?;
        self.push(
            "clawback",
            None,
            format!("Clawback {period}: late returns, {name} {amount}"),
            back,
            format!(
                "{name} of sales dated {period} that run {run} did not see: {amount}; {rate} of it is taken back"
            ),
            LineRef {
                ref_period: Some(period.to_string()),
                ref_run: Some(run),
                ..LineRef::default()
            },
        );
        Ok(())
    }

    fn push(
        &mut self,
        kind: &str,
        kpi: Option<String>,
        label: String,
        exact: Decimal,
        note: String,
        reference: LineRef,
    ) {
        self.lines.push(PayoutLine {
            amount: self.pack.currency.round(exact, self.pack.rounding),
            amount_exact: exact,
            label,
            kind: kind.to_string(),
            kpi,
            note,
            reference: Some(reference),
        });
    }

    fn overflow(&self, what: String) -> Error {
        Error::Money(format!(
            "settlement for manager {}: {what} does not fit an amount in {} (28 digits in all)",
            self.id, self.pack.currency.code
        ))
    }

    fn sum(&self, lines: &[PayoutLine]) -> Result<Decimal, Error> {
        exact_sum(lines.iter().map(|l| l.amount))
            .filter(|p| self.pack.currency.holds(*p))
            .ok_or_else(|| {
                let shown: Vec<String> = lines
                    .iter()
                    .take(5)
                    .map(|l| format!("'{}' {}", l.label, l.amount))
                    .collect();
                self.overflow(format!("the sum of the lines {}", shown.join(", ")))
            })
    }

    fn add(&self, a: Decimal, b: Decimal, what: &str) -> Result<Decimal, Error> {
        a.checked_add(b)
            .ok_or_else(|| self.overflow(format!("{what} ({a} + {b})")))
    }

    fn sub(&self, a: Decimal, b: Decimal, what: &str) -> Result<Decimal, Error> {
        a.checked_sub(b)
            .ok_or_else(|| self.overflow(format!("{what} ({a} - {b})")))
    }
}
