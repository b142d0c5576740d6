//! Currencies: `fx_rates.csv` (`date, from, to, rate`: one `from` is worth `rate` of `to`
//! from that date on) and the converter the sales pass uses to bring a line in another
//! currency into the pack's, exactly (a decimal product, never rounded).
//!
//! The rate in force on a date is the latest row of the pair dated on or before it; with
//! `period_average`, the mean of the pair's rows dated in the line's period, rounded to
//! [`AVERAGE_DP`] decimals. bonusrun never divides a rate: converting EUR into RUB needs a
//! row `from = EUR, to = RUB`.

use super::tables::Dataset;
use super::text::TableReader;
use super::{DataSource, LoadError};
use crate::period::{Date, Period, PeriodKind};
use csv::ByteRecord;
use rust_decimal::{Decimal, RoundingStrategy};
use rustc_hash::FxHashMap;

/// Decimals of a period-average rate.
pub const AVERAGE_DP: u32 = 6;

/// One row of `fx_rates.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FxRate {
    /// From this date on.
    pub date: Date,
    /// The currency converted (e.g. `EUR`).
    pub from: String,
    /// The currency converted into.
    pub to: String,
    /// How many `to` one `from` is worth.
    pub rate: Decimal,
    /// Line in `fx_rates.csv`.
    pub line: u64,
}

/// A rate a run used: shown in statements and `run.json`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UsedRate {
    /// The currency converted.
    pub from: String,
    /// The currency converted into.
    pub to: String,
    /// The rate.
    pub rate: String,
    /// The rate's date (`2026-02-01`), or the period it averages (`2026-Q1`).
    pub date: String,
    /// Where it comes from: `fx_rates.csv line 3`, or `average of 3 rates (lines 2, 3, 5)`.
    pub source: String,
}

/// How lines in other currencies are converted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RateRule {
    /// At the rate in force on the line's date.
    #[default]
    Daily,
    /// At the average of the rates dated in the line's period (of this kind).
    PeriodAverage(PeriodKind),
}

/// Converts lines into the pack's currency.
#[derive(Debug)]
pub struct Fx {
    target: String,
    rule: RateRule,
    /// Per currency converted into the target: (date, rate, used-rate index), by date.
    daily: FxHashMap<Vec<u8>, Vec<(Date, Decimal, u32)>>,
    /// Per currency: each period's average rate and its used-rate index.
    averages: FxHashMap<Vec<u8>, Vec<(Period, Decimal, u32)>>,
    /// Every rate a line may use, by index.
    pub rates: Vec<UsedRate>,
    file: String,
    /// Pairs given only the other way round, for the message.
    inverse: Vec<String>,
}

impl Fx {
    /// The converter into `target` under `rule`, from the data set's rates.
    /// Fails, naming the first row, when a period's rates sum beyond a decimal.
    pub fn new(data: &Dataset, target: &str, rule: RateRule) -> Result<Fx, LoadError> {
        let mut fx = Fx {
            target: target.to_string(),
            rule,
            daily: FxHashMap::default(),
            averages: FxHashMap::default(),
            rates: Vec::new(),
            file: data.fx_file.clone(),
            inverse: Vec::new(),
        };
        let mut by_period: FxHashMap<(Vec<u8>, Period), Vec<&FxRate>> = FxHashMap::default();
        for r in &data.fx_rates {
            if r.to != target {
                if r.from == target {
                    fx.inverse.push(r.to.clone());
                }
                continue;
            }
            let key = r.from.as_bytes().to_vec();
            match rule {
                RateRule::Daily => {
                    let id = fx.rates.len() as u32;
                    fx.rates.push(UsedRate {
                        from: r.from.clone(),
                        to: r.to.clone(),
                        rate: r.rate.to_string(),
                        date: r.date.to_string(),
                        source: format!("{} line {}", fx.file, r.line),
                    });
                    fx.daily.entry(key).or_default().push((r.date, r.rate, id));
                }
                RateRule::PeriodAverage(kind) => {
                    let p = Period::containing(kind, r.date.month_index());
                    by_period.entry((key, p)).or_default().push(r);
                }
            }
        }
        for list in fx.daily.values_mut() {
            list.sort_by_key(|(d, _, _)| *d);
        }
        let mut periods: Vec<_> = by_period.into_iter().collect();
        periods.sort_by(|a, b| (&a.0 .0, a.0 .1.start_date()).cmp(&(&b.0 .0, b.0 .1.start_date())));
        for ((key, p), rows) in periods {
            let avg = crate::money::exact_sum(rows.iter().map(|r| r.rate))
                .and_then(|sum| sum.checked_div(Decimal::from(rows.len())))
                .ok_or_else(|| {
                    LoadError::at(
                        &fx.file,
                        rows[0].line,
                        format!(
                            "the rates of {} in {p} add up beyond 28 digits",
                            rows[0].from
                        ),
                    )
                })?
                .round_dp_with_strategy(AVERAGE_DP, RoundingStrategy::MidpointNearestEven);
            let lines: Vec<String> = rows.iter().map(|r| r.line.to_string()).collect();
            let id = fx.rates.len() as u32;
            fx.rates.push(UsedRate {
                from: rows[0].from.clone(),
                to: target.to_string(),
                rate: avg.to_string(),
                date: p.to_string(),
                source: format!(
                    "average of {} rate(s) in {} (lines {}), to {AVERAGE_DP} decimals",
                    rows.len(),
                    fx.file,
                    lines.join(", ")
                ),
            });
            fx.averages.entry(key).or_default().push((p, avg, id));
        }
        Ok(fx)
    }

    /// The pack's currency.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The rate for a line in `currency` on `date`, and its used-rate index; or why none.
    #[inline]
    pub fn rate(&self, currency: &[u8], date: Date) -> Result<(Decimal, u32), String> {
        let found = match self.rule {
            RateRule::Daily => self.daily.get(currency).and_then(|list| {
                let i = list.partition_point(|(d, _, _)| *d <= date);
                let (_, rate, id) = list.get(i.checked_sub(1)?)?;
                Some((*rate, *id))
            }),
            RateRule::PeriodAverage(kind) => {
                let p = Period::containing(kind, date.month_index());
                self.averages
                    .get(currency)
                    .and_then(|list| list.iter().find(|(q, _, _)| *q == p))
                    .map(|&(_, rate, id)| (rate, id))
            }
        };
        found.ok_or_else(|| self.missing(currency, date))
    }

    #[cold]
    fn missing(&self, currency: &[u8], date: Date) -> String {
        let c = String::from_utf8_lossy(currency);
        let file = if self.file.is_empty() {
            "fx_rates.csv (there is none)".to_string()
        } else {
            self.file.clone()
        };
        let when = match self.rule {
            RateRule::Daily => format!("on or before {date}"),
            RateRule::PeriodAverage(kind) => format!(
                "dated in {} (the pack averages the rates of each period)",
                Period::containing(kind, date.month_index())
            ),
        };
        let inverse = if self.inverse.iter().any(|i| i.as_bytes() == currency) {
            format!(
                "; it gives {} to {c}, but bonusrun never divides a rate: give the rate the other way round",
                self.target
            )
        } else {
            String::new()
        };
        format!(
            "no rate from {c} to {} {when} in {file}{inverse}; a line in another currency than the pack's needs one",
            self.target
        )
    }
}

/// Reads `fx_rates.csv`: `date, from, to, rate` (rate above 0; one row per pair and date).
pub(super) fn load_fx_rates(
    source: &DataSource,
    ds: &mut Dataset,
    max_field: usize,
) -> Result<(), LoadError> {
    let Some(mut t) = TableReader::open(source, "fx_rates.csv", max_field)? else {
        return Ok(());
    };
    ds.fx_file = t.file.clone();
    let c_date = t.require("date")?;
    let c_from = t.require("from")?;
    let c_to = t.require("to")?;
    let c_rate = t.require("rate")?;
    let mut seen: FxHashMap<(String, String, Date), u64> = FxHashMap::default();
    let mut rec = ByteRecord::new();
    while let Some(row) = t.next_row(&mut rec)? {
        let date = row.date(c_date)?;
        let code = |c: usize| -> Result<String, LoadError> {
            let v = row.required_text(c)?;
            if v.len() == 3 && v.bytes().all(|b| b.is_ascii_uppercase()) {
                Ok(v.to_string())
            } else {
                Err(row.error(
                    c,
                    format!(
                        "found '{v}', expected a currency code of three capital letters, e.g. EUR"
                    ),
                ))
            }
        };
        let (from, to) = (code(c_from)?, code(c_to)?);
        if from == to {
            return Err(row.error(c_to, format!("converts {from} into itself")));
        }
        let rate = row.decimal(c_rate)?;
        if rate <= Decimal::ZERO {
            return Err(row.error(c_rate, format!("found {rate}, expected a rate above 0")));
        }
        if let Some(first) = seen.insert((from.clone(), to.clone(), date), row.line) {
            return Err(row.error(
                c_date,
                format!(
                    "a second rate from {from} to {to} on {date} (the first is on line {first})"
                ),
            ));
        }
        ds.fx_rates.push(FxRate {
            date,
            from,
            to,
            rate,
            line: row.line,
        });
    }
    ds.inputs.push(t.finish()?);
    Ok(())
}
