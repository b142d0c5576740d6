//! Proration: a manager in the role for part of the period (managers.csv `start` and `end`)
//! is paid the rule lines for the days in the role when the pack says `[payout] prorate =
//! "days"`, and a manager not in the role at all in the period is never paid a bonus for
//! it. Each cut is its own payout line (kind `proration`, the KPI of the line it cuts),
//! rounded once; settlement lines (adjustments, true-ups, clawbacks, draws) come after and
//! are not cut.

use super::{ManagerResult, PayoutLine};
use crate::error::Error;
use crate::load::{Dataset, Manager};
use crate::money::exact_sum;
use crate::pack::manifest::Prorate;
use crate::period::Period;
use crate::rules::RulePack;
use rust_decimal::Decimal;

/// Adds the proration lines of every manager not in the role for the whole period.
pub fn prorate(
    pack: &RulePack,
    data: &Dataset,
    period: Period,
    managers: &mut [ManagerResult],
    warnings: &mut Vec<String>,
) -> Result<(), Error> {
    for m in managers.iter_mut() {
        let mgr = &data.managers[m.manager as usize];
        let (days, total) = mgr.days_active(period);
        if days == total || (days > 0 && pack.manifest.payout.prorate == Prorate::None) {
            continue;
        }
        let role = role(mgr);
        if days == 0 {
            warnings.push(format!(
                "manager {}: not in the role in {period} ({role}): no bonus for the period; adjustments, true-ups, clawbacks and draws still apply",
                mgr.id
            ));
        }
        let mut cuts = Vec::new();
        for l in m.lines.iter().filter(|l| !l.amount_exact.is_zero()) {
            let kept = l
                .amount_exact
                .checked_mul(Decimal::from(days))
                .and_then(|x| x.checked_div(Decimal::from(total)))
                .and_then(|kept| kept.checked_sub(l.amount_exact))
                .ok_or_else(|| {
                    Error::Money(format!(
                        "proration for manager {}: {} x {days} / {total} days of line '{}' does not fit a decimal",
                        mgr.id, l.amount_exact, l.label
                    ))
                })?;
            let label = if days == 0 {
                format!("Not in the role: {}", l.label)
            } else {
                format!("Proration {days}/{total} days: {}", l.label)
            };
            cuts.push(PayoutLine {
                amount: pack.currency.round(kept, pack.rounding),
                amount_exact: kept,
                label,
                kind: "proration".into(),
                kpi: l.kpi.clone(),
                note: format!("in the role {role}: {days} of the {total} days of {period}"),
                reference: None,
            });
        }
        m.lines.append(&mut cuts);
        m.payout = exact_sum(m.lines.iter().map(|l| l.amount))
            .filter(|p| pack.currency.holds(*p))
            .ok_or_else(|| {
                Error::Money(format!(
                    "proration for manager {}: the lines sum to more than an amount in {} holds",
                    mgr.id, pack.currency.code
                ))
            })?;
    }
    Ok(())
}

/// `from 2026-02-15`, `until 2026-05-15`, `2026-02-15 to 2026-05-15`.
fn role(m: &Manager) -> String {
    match (m.start, m.end) {
        (Some(s), Some(e)) => format!("{s} to {e}"),
        (Some(s), None) => format!("from {s}"),
        (None, Some(e)) => format!("until {e}"),
        (None, None) => "throughout".into(),
    }
}
