//! The checks a run makes of its inputs against the pack, before any rule runs: errors for
//! what would pay wrongly (an unknown KPI, a missing target bonus, overlay credit the pack
//! does not pay), warnings for what the reviewer should know (no cost column, an incomplete
//! period, a plan for another period kind).

use super::RunOptions;
use crate::error::Error;
use crate::facts::SalesTotals;
use crate::load::{self, DataSource, Dataset, LoadError};
use crate::period::Period;
use crate::rules::{RulePack, StageCode};

/// `--period`, when given, must be of the pack's period kind.
pub(super) fn period_kind(pack: &RulePack, period: Option<Period>) -> Result<(), Error> {
    let kind = pack.period_kind();
    match period {
        Some(p) if p.kind() != kind => Err(Error::Usage(format!(
            "the pack '{}' pays per {}, but --period {p} is a {}; give a {} such as {}",
            pack.manifest.pack.name,
            kind.name(),
            p.kind().name(),
            kind.name(),
            kind.example()
        ))),
        _ => Ok(()),
    }
}

/// The checks of the tables alone (before the sales pass); a manager without a target bonus
/// takes the pack's default.
pub(super) fn tables(
    pack: &RulePack,
    data: &mut Dataset,
    source: &DataSource,
) -> Result<(), Error> {
    check_plans(pack, data, source)?;
    check_overlay(pack, data)?;
    target_bonuses(pack, data)
}

/// The warnings about the inputs once the run period is known, in a stable order; an
/// acknowledged incomplete period is returned instead of warned about.
pub(super) fn warnings(
    pack: &RulePack,
    (data, source): (&Dataset, &DataSource),
    sales: &SalesTotals,
    (period, options): (Period, &RunOptions),
) -> Result<(Vec<String>, Option<String>), Error> {
    let mut warnings = plugin_cache(pack);
    warnings.extend(source.notes().iter().cloned());
    if !sales.has_cost {
        warnings.push(
            "sales.csv has no cost column: every cost is 0, so margin equals revenue".to_string(),
        );
    }
    let incomplete = incomplete(sales, period, options, &mut warnings);
    plans_of_period(pack, data, period, &mut warnings);
    target_decimals(pack, data, &mut warnings)?;
    check_adjustments(pack, data, period)?;
    warn_settlement(pack, data, period, &mut warnings);
    Ok((warnings, incomplete))
}

/// A plugin whose cached compiled code did not verify was compiled again: the run says so.
fn plugin_cache(pack: &RulePack) -> Vec<String> {
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
    warnings
}

/// Sales that end before the period does: a warning, or with `--allow-incomplete` the
/// acknowledgement `run.json` records.
fn incomplete(
    sales: &SalesTotals,
    period: Period,
    options: &RunOptions,
    warnings: &mut Vec<String>,
) -> Option<String> {
    let last = sales.last_date.filter(|last| *last < period.last_date())?;
    let text = format!(
        "the sales end on {last}, before the period {period} ends ({}): the period is incomplete",
        period.last_date()
    );
    if options.allow_incomplete {
        return Some(format!("{text} (acknowledged: --allow-incomplete)"));
    }
    warnings.push(format!(
        "{text}; if that is expected, say so with --allow-incomplete"
    ));
    None
}

/// Plans that say nothing of the run period, or are for another kind of period.
fn plans_of_period(pack: &RulePack, data: &Dataset, period: Period, warnings: &mut Vec<String>) {
    if !data.plans.is_empty() && !data.plans.iter().any(|p| p.period == period) {
        warnings.push(format!(
            "{} has no targets for {period}: every KPI measured against a plan has none this period",
            data.plans_file
        ));
    }
    let kind = pack.period_kind();
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
}

/// A target bonus with more decimals than the currency has is a warning; one with more
/// digits than an amount holds, an error.
fn target_decimals(
    pack: &RulePack,
    data: &Dataset,
    warnings: &mut Vec<String>,
) -> Result<(), Error> {
    let c = &pack.currency;
    for m in &data.managers {
        let rounded = c.round(m.target_bonus, pack.rounding);
        if !c.holds(rounded) {
            return Err(LoadError::file(
                &data.managers_file,
                format!(
                    "manager {}: target_bonus {} has more digits than an amount in {} with {} decimals holds (28 in all)",
                    m.id, m.target_bonus, c.code, c.minor_units
                ),
            )
            .into());
        }
        if rounded != m.target_bonus {
            warnings.push(format!(
                "manager {}: target_bonus {} has more decimals than {} has ({})",
                m.id, m.target_bonus, c.code, c.minor_units
            ));
        }
    }
    Ok(())
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
