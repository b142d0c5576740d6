//! Romashka LLC's KAM bonus regulation as a WebAssembly plugin: the same rules as the Rhai
//! pack `rules/romashka` (key_clients.rhai, kpis.rhai, bonus.rhai), written in Rust. The
//! test suite checks that both give byte-identical payouts, KPIs and key clients.

use bonusrun_plugin::{
    dec, extra, lookup, number, param, param_text, plugin, ratio, round_money, warn, Client,
    Decimal, KeyDecision, Kpi, KpiValue, Manager, PayoutLine, Result, Rules,
};

struct Romashka;

/// `12.3%`: the ratio times 100, at most one decimal (banker's rounding), no trailing zeros.
fn percent(x: Decimal) -> String {
    let v = (x * Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(1, bonusrun_plugin::RoundingStrategy::MidpointNearestEven)
        .normalize();
    if v.is_zero() {
        "0%".to_string()
    } else {
        format!("{v}%")
    }
}

fn flag(extras: &[(String, String)], column: &str) -> bool {
    matches!(
        extra(extras, column).to_ascii_lowercase().as_str(),
        "true" | "1" | "yes"
    )
}

impl Rules for Romashka {
    fn classify(client: &Client) -> Result<KeyDecision> {
        let mut reasons = Vec::new();
        let mut score: i64 = 0;
        let mut primary = false;
        let revenue_share = dec(&client.revenue_share)?;
        let margin_share = dec(&client.margin_share)?;
        let market_share = dec(&client.market_share)?;
        if revenue_share >= param("key_revenue_share")? {
            reasons.push(format!(
                "share of company revenue {} (threshold {})",
                percent(revenue_share),
                percent(param("key_revenue_share")?)
            ));
            score += 2;
            primary = true;
        }
        if margin_share >= param("key_margin_share")? {
            reasons.push(format!(
                "share of company margin {} (threshold {})",
                percent(margin_share),
                percent(param("key_margin_share")?)
            ));
            score += 2;
            primary = true;
        }
        if market_share >= param("key_market_share")?
            && Decimal::from(client.years) >= param("key_min_years")?
        {
            reasons.push(format!(
                "holds {} of its market and has been a client for {} years",
                percent(market_share),
                client.years
            ));
            score += 2;
            primary = true;
        }
        if client.strategic {
            reasons.push("strategic client".to_string());
            score += 2;
            primary = true;
        }
        let has_influence = client
            .extras
            .iter()
            .any(|(c, _)| c.eq_ignore_ascii_case("influence"));
        if has_influence {
            let raw = extra(&client.extras, "influence");
            let influence = if raw.is_empty() {
                Decimal::ZERO
            } else {
                dec(raw)?
            };
            if influence >= param("key_influence")? {
                reasons.push(format!("influence in its market rated {influence}"));
                score += 2;
                primary = true;
            }
        }
        let gained = i64::from(client.cur.categories) - i64::from(client.year_ago.categories);
        if Decimal::from(gained) >= param("key_range_growth")?
            && dec(&client.cur.revenue)? > dec(&client.year_ago.revenue)?
        {
            reasons.push(format!(
                "buys {gained} more categories than a year ago, with revenue growing"
            ));
            score += 2;
            primary = true;
        }
        let mut soft = 0;
        for (column, reason) in [
            ("image_impact", "shapes the company's image"),
            ("new_markets", "opens new markets"),
            ("demanding", "demanding client"),
        ] {
            if flag(&client.extras, column) {
                reasons.push(reason.to_string());
                soft += 1;
            }
        }
        score += soft;
        let key = primary || Decimal::from(soft) >= param("key_soft_score")?;
        let tier = if !key {
            ""
        } else if Decimal::from(score) >= param("tier_a_score")? {
            "A"
        } else {
            "B"
        };
        Ok(KeyDecision {
            key,
            tier: tier.to_string(),
            score: score.to_string(),
            reasons,
        })
    }

    fn kpi(id: &str, m: &Manager) -> Result<KpiValue> {
        match id {
            "key_revenue" => plan_kpi(dec(&m.key_cur.revenue)?, m, "key_revenue"),
            "margin" => plan_kpi(dec(&m.cur.margin)?, m, "margin"),
            "renewals" => {
                let (mut due, mut renewed) = (0i64, 0i64);
                for c in &m.contracts {
                    if c.due && c.key {
                        due += 1;
                        if c.renewed {
                            renewed += 1;
                        }
                    }
                }
                let target = param("renewal_target")?;
                if due == 0 {
                    return Ok(KpiValue::new(Decimal::ZERO, target)
                        .attainment(Decimal::ONE)
                        .note("no key-client contracts fell due: neutral"));
                }
                let rate = ratio(renewed.into(), due.into());
                Ok(KpiValue::new(rate, target)
                    .attainment(ratio(rate, target))
                    .note(format!("{renewed} of {due} renewed")))
            }
            "concentration" => {
                let share = dec(&m.largest_client_share)?;
                let target = param("concentration_max")?;
                if share.is_zero() {
                    return Ok(KpiValue::new(Decimal::ZERO, target)
                        .attainment(Decimal::ZERO)
                        .note("no revenue in the quarter"));
                }
                Ok(KpiValue::new(share, target)
                    .attainment(ratio(target, share))
                    .note(format!("largest client {}", m.largest_client_id)))
            }
            "new_key_clients" => {
                let mut found = 0i64;
                for a in &m.accounts {
                    if a.key && a.is_new && dec(&a.cur.revenue)? > Decimal::ZERO {
                        found += 1;
                    }
                }
                let found_d = Decimal::from(found);
                match m.plan("new_key_clients")? {
                    None => {
                        warn("no plan for new_key_clients: attainment counted as 100% when at least one is found");
                        let att = if found > 0 {
                            Decimal::ONE
                        } else {
                            Decimal::ZERO
                        };
                        Ok(KpiValue::new(found_d, Decimal::ZERO).attainment(att))
                    }
                    Some(t) if t.is_zero() => Ok(KpiValue::new(found_d, Decimal::ZERO)
                        .attainment(Decimal::ONE)
                        .note("no new key clients planned: neutral")),
                    Some(t) => Ok(KpiValue::new(found_d, t).attainment(ratio(found_d, t))),
                }
            }
            "category_growth" => {
                let now = Decimal::from(m.key_cur.categories);
                let before = Decimal::from(m.key_year_ago.categories);
                let target = param("category_growth_target")?;
                if before.is_zero() {
                    let att = if now > Decimal::ZERO {
                        Decimal::ONE
                    } else {
                        Decimal::ZERO
                    };
                    return Ok(KpiValue::new(now, target)
                        .attainment(att)
                        .note("no key-client purchases a year ago"));
                }
                let growth = ratio(now, before);
                Ok(KpiValue::new(growth, target)
                    .attainment(ratio(growth, target))
                    .note(format!("{now} categories against {before}")))
            }
            other => bonusrun_plugin::bail!("this plugin has no KPI '{other}'"),
        }
    }

    fn bonus(m: &Manager, kpis: &[Kpi]) -> Result<Vec<PayoutLine>> {
        let mut lines = Vec::new();
        let gate_id = param_text("gate_kpi")?;
        let Some(gate) = kpis.iter().find(|k| k.id == gate_id) else {
            bonusrun_plugin::bail!("no KPI '{gate_id}' for the gate");
        };
        let gate_attainment = dec(&gate.attainment)?;
        if gate_attainment < param("gate_attainment")? {
            for k in kpis {
                lines.push(
                    PayoutLine::new(k.label.clone(), Decimal::ZERO, "kpi")
                        .kpi(&k.id)
                        .note("gate closed"),
                );
            }
            lines.push(PayoutLine::new(
                format!(
                    "Gate: {} at {}, below {}: no bonus",
                    gate.label,
                    percent(gate_attainment),
                    percent(param("gate_attainment")?)
                ),
                Decimal::ZERO,
                "gate",
            ));
            return Ok(lines);
        }
        let target_bonus = dec(&m.target_bonus)?;
        let mut total = Decimal::ZERO;
        for k in kpis {
            let attainment = dec(&k.attainment)?;
            let weight = dec(&k.weight)?;
            let factor = curve_factor(attainment)?;
            let base = factor.min(Decimal::ONE);
            let amount = round_money(target_bonus * weight * base)?;
            lines.push(
                PayoutLine::new(k.label.clone(), amount, "kpi")
                    .kpi(&k.id)
                    .note(format!(
                        "attainment {}, factor {}",
                        percent(attainment),
                        percent(base)
                    )),
            );
            total += amount;
            if factor > Decimal::ONE {
                let extra = round_money(target_bonus * weight * (factor - Decimal::ONE))?;
                lines.push(
                    PayoutLine::new(format!("{}: accelerator", k.label), extra, "accelerator")
                        .kpi(&k.id)
                        .note(format!("factor {} above plan", percent(factor))),
                );
                total += extra;
            }
        }
        let cap = round_money(target_bonus * param("cap")?)?;
        if total > cap {
            lines.push(PayoutLine::new(
                format!("Cap at {} of the target bonus", percent(param("cap")?)),
                cap - total,
                "cap",
            ));
        }
        Ok(lines)
    }
}

/// The payout factor of one KPI for its attainment, from decision table "payout_curve".
fn curve_factor(attainment: Decimal) -> Result<Decimal> {
    let row = lookup("payout_curve", &[("attainment", number(attainment))])?;
    let slope = row.number("slope")?;
    if slope.is_zero() {
        return row.number("base");
    }
    Ok(row.number("base")? + slope * (attainment - row.number("from")?))
}

/// A KPI measured against plans.csv; without a plan its attainment is 0 and a warning says so.
fn plan_kpi(value: Decimal, m: &Manager, kpi: &str) -> Result<KpiValue> {
    match m.plan(kpi)? {
        None => {
            warn(&format!("no plan for {kpi} in {}: attainment 0", m.period));
            Ok(KpiValue::new(value, Decimal::ZERO)
                .attainment(Decimal::ZERO)
                .note("no plan"))
        }
        Some(t) if t <= Decimal::ZERO => Ok(KpiValue::new(value, t)
            .attainment(Decimal::ZERO)
            .note("plan is not positive")),
        Some(t) => Ok(KpiValue::new(value, t)),
    }
}

plugin!(Romashka);
