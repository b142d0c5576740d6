//! Payees paid in their own currency (`managers.csv` `currency`): each payout line's exact
//! amount converts at the rate of the period's last day (`fx_rates.csv`, from the pack's
//! currency to the payee's) and is rounded once, in the payee's minor unit with the pack's
//! rounding mode ([`Currency::convert`]); the payee's payout is the sum of those lines.

use super::ManagerResult;
use crate::error::Error;
use crate::load::fx::UsedRate;
use crate::load::{Dataset, LoadError};
use crate::money::{exact_sum, Currency};
use crate::period::Period;
use crate::rules::RulePack;
use rust_decimal::Decimal;

/// What a manager paid in another currency receives.
#[derive(Clone, Debug, PartialEq)]
pub struct PaidIn {
    /// The payee's currency.
    pub currency: Currency,
    /// The rate used: one unit of the pack's currency in the payee's.
    pub rate: Decimal,
    /// The rate's row, for statements and `run.json`.
    pub used: UsedRate,
    /// Per payout line, in line order: the line in the payee's currency, rounded once.
    pub lines: Vec<Decimal>,
    /// The sum of those lines.
    pub payout: Decimal,
}

/// Converts the payouts of managers paid in another currency than the pack's.
pub(super) fn convert(
    pack: &RulePack,
    data: &Dataset,
    period: Period,
    managers: &mut [ManagerResult],
) -> Result<(), Error> {
    let target = &pack.currency.code;
    let day = period.last_date();
    for m in managers.iter_mut() {
        let mgr = &data.managers[m.manager as usize];
        let Some(code) = mgr.currency.as_ref().filter(|c| *c != target) else {
            continue;
        };
        let row = data
            .fx_rates
            .iter()
            .filter(|r| &r.from == target && &r.to == code && r.date <= day)
            .max_by_key(|r| r.date)
            .ok_or_else(|| {
                let file = if data.fx_file.is_empty() {
                    "fx_rates.csv (there is none)"
                } else {
                    data.fx_file.as_str()
                };
                LoadError::at(
                    &data.managers_file,
                    mgr.line,
                    format!(
                        "manager {} is paid in {code}, but {file} gives no rate from {target} to {code} on or before {day}, the period's last day",
                        mgr.id
                    ),
                )
            })?;
        let currency = Currency {
            code: code.clone(),
            minor_units: Currency::known_minor_units(code).unwrap_or(2),
        };
        let lines = m
            .lines
            .iter()
            .map(|l| {
                currency
                    .convert(l.amount_exact, row.rate, pack.rounding)
                    .filter(|v| currency.holds(*v))
                    .ok_or_else(|| {
                        Error::Money(format!(
                            "manager {}: line '{}' ({}) at the rate {} to {code} cannot be rounded exactly: the product overflows a decimal, or needs more than 28 digits and its nearest 28-digit value lies on a rounding boundary",
                            mgr.id, l.label, l.amount_exact, row.rate
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let payout = exact_sum(lines.iter().copied()).ok_or_else(|| {
            Error::Money(format!(
                "manager {}: the payout in {code} sums to more than a decimal holds",
                mgr.id
            ))
        })?;
        m.paid_in = Some(PaidIn {
            currency,
            rate: row.rate,
            used: UsedRate {
                from: row.from.clone(),
                to: row.to.clone(),
                rate: row.rate.to_string(),
                date: row.date.to_string(),
                source: format!("{} line {}", data.fx_file, row.line),
            },
            lines,
            payout,
        });
    }
    Ok(())
}
