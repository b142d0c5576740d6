//! From the rules' lines to payouts: each line rounded once with the pack's mode, each
//! payout the exact sum of its rounded lines, and the run total the exact sum of the payouts;
//! a sum that does not fit the currency is an error naming the manager and the lines.

use super::{kpi_contribution, ManagerResult, PayoutLine};
use crate::error::Error;
use crate::load::Dataset;
use crate::money::exact_sum;
use crate::rules::{KpiResult, Outcome, RawLine};
use crate::rules::{RulePack, StageCode};
use rust_decimal::Decimal;

/// Each manager's result from its stage kpis and bonus outcomes; their warnings are added to
/// `warnings`, prefixed with the manager.
pub(super) fn managers(
    pack: &RulePack,
    data: &Dataset,
    kpis: Vec<Outcome<Vec<KpiResult>>>,
    bonus: Vec<Outcome<Vec<RawLine>>>,
    warnings: &mut Vec<String>,
) -> Result<Vec<ManagerResult>, Error> {
    let mut managers = Vec::with_capacity(kpis.len());
    for (i, (k, b)) in kpis.into_iter().zip(bonus).enumerate() {
        let id = &data.managers[i].id;
        let lines = rounded(pack, b.value);
        let payout = payout(pack, id, &lines)?;
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
            trace: k.trace.into_iter().chain(b.trace).collect(),
            paid_in: None,
        });
    }
    Ok(managers)
}

/// The rules' lines, each rounded once to the currency's minor unit with the pack's mode.
fn rounded(pack: &RulePack, lines: Vec<RawLine>) -> Vec<PayoutLine> {
    lines
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
        .collect()
}

/// The exact sum of a manager's rounded lines, when it, each line and each KPI's share fit
/// the currency.
fn payout(pack: &RulePack, id: &str, lines: &[PayoutLine]) -> Result<Decimal, Error> {
    let payout = exact_sum(lines.iter().map(|l| l.amount))
        .filter(|p| pack.currency.holds(*p))
        .ok_or_else(|| too_large(pack, id, lines))?;
    if let Some(l) = lines.iter().find(|l| !pack.currency.holds(l.amount)) {
        return Err(too_large(pack, id, std::slice::from_ref(l)));
    }
    for kpi in &pack.manifest.kpis {
        if kpi_contribution(lines, &kpi.id).is_none() {
            let of_kpi: Vec<PayoutLine> = lines
                .iter()
                .filter(|l| l.kpi.as_deref() == Some(kpi.id.as_str()))
                .cloned()
                .collect();
            return Err(too_large(pack, id, &of_kpi));
        }
    }
    Ok(payout)
}

/// The run total, once settlement is done; a negative payout is a warning.
pub(super) fn total(
    pack: &RulePack,
    data: &Dataset,
    managers: &[ManagerResult],
    warnings: &mut Vec<String>,
) -> Result<Decimal, Error> {
    for m in managers {
        if m.payout.is_sign_negative() && !m.payout.is_zero() {
            let id = &data.managers[m.manager as usize].id;
            warnings.push(format!(
                "manager {id}: the payout is negative ({})",
                m.payout
            ));
        }
    }
    exact_sum(managers.iter().map(|m| m.payout))
        .filter(|t| pack.currency.holds(*t))
        .ok_or_else(|| {
            Error::Money(format!(
                "the payouts of {} managers sum to more than an amount in {} holds (28 digits in all); the largest is {}",
                managers.len(),
                pack.currency.code,
                managers.iter().map(|m| m.payout.abs()).max().unwrap_or_default()
            ))
        })
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
