//! Romashka LLC's KAM bonus regulation as a WebAssembly plugin of world
//! `bonusrun:rules@0.2.1`: the same rules as the Rhai pack `rules/romashka`
//! (key_clients.rhai, kpis.rhai, bonus.rhai), line by line. The test suite checks that both
//! give byte-identical payouts, KPIs and key clients.

use bonusrun_plugin::{
    bail, lookup, max, min, number, param, param_flag, param_list, param_text, percent, plugin,
    ratio, round_money, warn, Cell, Client, Decimal, KeyDecision, KpiValue, Kpis, Manager,
    PayoutLine, Result, Rules,
};

struct Romashka;

/// The scripts' literal `1.0`: one, with one decimal, as `explain` prints it.
const ONE_POINT_ZERO: Decimal = Decimal::from_parts(10, 0, 0, false, 1);

impl Rules for Romashka {
    fn classify(client: &Client) -> Result<KeyDecision> {
        let mut reasons = Vec::new();
        let mut score: i64 = 0;
        let mut primary = false;

        if client.revenue_share() >= param("key_revenue_share")? {
            reasons.push(format!(
                "share of company revenue {} (threshold {})",
                percent(client.revenue_share()),
                percent(param("key_revenue_share")?)
            ));
            score += 2;
            primary = true;
        }
        if client.margin_share() >= param("key_margin_share")? {
            reasons.push(format!(
                "share of company margin {} (threshold {})",
                percent(client.margin_share()),
                percent(param("key_margin_share")?)
            ));
            score += 2;
            primary = true;
        }
        if client.market_share() >= param("key_market_share")?
            && Decimal::from(client.years()) >= param("key_min_years")?
        {
            reasons.push(format!(
                "holds {} of its market and has been a client for {} years",
                percent(client.market_share()),
                client.years()
            ));
            score += 2;
            primary = true;
        }
        if client.strategic() {
            reasons.push("strategic client".to_string());
            score += 2;
            primary = true;
        }
        if client.has_extra("influence")
            && client.extra_number("influence") >= param("key_influence")?
        {
            reasons.push(format!(
                "influence in its market rated {}",
                client.extra_number("influence")
            ));
            score += 2;
            primary = true;
        }
        let gained = client.cur().categories() as i64 - client.year_ago().categories() as i64;
        if Decimal::from(gained) >= param("key_range_growth")?
            && client.cur().revenue() > client.year_ago().revenue()
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
            if client.has_extra(column) && client.extra_flag(column) {
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
            score: Decimal::from(score),
            reasons,
        })
    }

    fn kpi(id: &str, m: &Manager) -> Result<KpiValue> {
        match id {
            "key_revenue" => plan_kpi(m.key_cur().revenue(), m, "key_revenue"),
            "margin" => plan_kpi(m.cur().margin(), m, "margin"),
            "renewals" => renewals(m),
            "concentration" => concentration(m),
            "new_key_clients" => new_key_clients(m),
            "category_growth" => category_growth(m),
            other => bail!("this plugin has no KPI '{other}'"),
        }
    }

    fn bonus(m: &Manager, kpis: &Kpis) -> Result<Vec<PayoutLine>> {
        let mut lines = quarter(m, kpis)?;
        let annual = annual_true_up(m, kpis, &lines)?;
        lines.extend(annual);
        Ok(lines)
    }
}

/// The quarter's lines.
fn quarter(m: &Manager, kpis: &Kpis) -> Result<Vec<PayoutLine>> {
    let mut lines = Vec::new();
    let gate = kpis.get(&param_text("gate_kpi")?);
    if gate.attainment() < param("gate_attainment")? {
        for k in kpis.list() {
            lines.push(
                PayoutLine::new(k.label(), Decimal::ZERO, "kpi")
                    .kpi(&k.id())
                    .note("gate closed"),
            );
        }
        lines.push(PayoutLine::new(
            format!(
                "Gate: {} at {}, below {}: no bonus",
                gate.label(),
                percent(gate.attainment()),
                percent(param("gate_attainment")?)
            ),
            Decimal::ZERO,
            "gate",
        ));
        return Ok(lines);
    }
    let mut total = Decimal::ZERO;
    for k in kpis.list() {
        let factor = curve_factor(k.attainment())?;
        let base = min(factor, Decimal::ONE);
        let amount = round_money(m.target_bonus() * k.weight() * base);
        lines.push(
            PayoutLine::new(k.label(), amount, "kpi")
                .kpi(&k.id())
                .note(format!(
                    "attainment {}, factor {}",
                    percent(k.attainment()),
                    percent(base)
                )),
        );
        total += amount;
        if factor > Decimal::ONE {
            let extra = round_money(m.target_bonus() * k.weight() * (factor - Decimal::ONE));
            lines.push(
                PayoutLine::new(format!("{}: accelerator", k.label()), extra, "accelerator")
                    .kpi(&k.id())
                    .note(format!("factor {} above plan", percent(factor))),
            );
            total += extra;
        }
    }
    let cap = round_money(m.target_bonus() * param("cap")?);
    if total > cap {
        lines.push(PayoutLine::new(
            format!("Cap at {} of the target bonus", percent(param("cap")?)),
            cap - total,
            "cap",
        ));
    }
    Ok(lines)
}

/// The annual true-up lines: none outside Q4, without a ledger, or when switched off.
fn annual_true_up(m: &Manager, kpis: &Kpis, lines: &[PayoutLine]) -> Result<Vec<PayoutLine>> {
    let period = m.period();
    if !param_flag("annual_true_up")? || !m.has_ledger() || !period.ends_with("Q4") {
        return Ok(Vec::new());
    }
    let year = &period[0..4];
    for q in ["Q1", "Q2", "Q3"] {
        if m.paid(&format!("{year}-{q}")).is_none() {
            warn(&format!(
                "{year}-{q} is not closed in the ledger, so the year is not settled"
            ));
            return Ok(Vec::new());
        }
    }
    let mut out = Vec::new();
    for id in param_list("annual_kpis")? {
        let Cell::Text(id) = id else { continue };
        let k = kpis.get(&id);
        let target = m.target_ytd(&id) + k.target();
        if target <= Decimal::ZERO {
            continue;
        }
        let attainment = (m.value_ytd(&id) + k.value()) / target;
        let for_year = round_money(
            Decimal::from(4) * m.target_bonus() * k.weight() * curve_factor(attainment)?,
        );
        let in_q4: Decimal = lines
            .iter()
            .filter(|l| l.kpi.as_deref() == Some(id.as_str()))
            .map(|l| l.amount)
            .sum();
        let mut owed = for_year - m.contribution_ytd(&id) - in_q4;
        if param_flag("annual_true_up_floor")? {
            owed = max(owed, Decimal::ZERO);
        }
        out.push(
            PayoutLine::new(format!("Annual true-up: {}", k.label()), owed, "annual_true_up")
                .kpi(&id)
                .note(format!(
                    "year attainment {}: {for_year} for the year, less {} paid in Q1-Q3 and {in_q4} in Q4",
                    percent(attainment),
                    m.contribution_ytd(&id)
                )),
        );
    }
    Ok(out)
}

fn renewals(m: &Manager) -> Result<KpiValue> {
    let (mut due, mut renewed) = (0i64, 0i64);
    for c in m.contracts() {
        if c.due() && c.key() {
            due += 1;
            if c.renewed() {
                renewed += 1;
            }
        }
    }
    let target = param("renewal_target")?;
    if due == 0 {
        return Ok(KpiValue::new(Decimal::ZERO, target)
            .attainment(ONE_POINT_ZERO)
            .note("no key-client contracts fell due: neutral"));
    }
    let rate = ratio(renewed.into(), due.into());
    Ok(KpiValue::new(rate, target)
        .attainment(ratio(rate, target))
        .note(format!("{renewed} of {due} renewed")))
}

fn concentration(m: &Manager) -> Result<KpiValue> {
    let share = m.largest_client_share();
    let target = param("concentration_max")?;
    if share.is_zero() {
        return Ok(KpiValue::new(Decimal::ZERO, target)
            .attainment(Decimal::ZERO)
            .note("no revenue in the quarter"));
    }
    Ok(KpiValue::new(share, target)
        .attainment(ratio(target, share))
        .note(format!("largest client {}", m.largest_client_id())))
}

fn new_key_clients(m: &Manager) -> Result<KpiValue> {
    let mut found = 0i64;
    for a in m.accounts() {
        if a.key() && a.client().is_new() && a.cur().revenue() > Decimal::ZERO {
            found += 1;
        }
    }
    let found = Decimal::from(found);
    match m.plan("new_key_clients") {
        None => {
            warn("no plan for new_key_clients: attainment counted as 100% when at least one is found");
            let att = if found > Decimal::ZERO {
                ONE_POINT_ZERO
            } else {
                Decimal::ZERO
            };
            Ok(KpiValue::new(found, Decimal::ZERO).attainment(att))
        }
        Some(t) if t.is_zero() => Ok(KpiValue::new(found, Decimal::ZERO)
            .attainment(ONE_POINT_ZERO)
            .note("no new key clients planned: neutral")),
        Some(t) => Ok(KpiValue::new(found, t).attainment(ratio(found, t))),
    }
}

fn category_growth(m: &Manager) -> Result<KpiValue> {
    let now = Decimal::from(m.key_cur().categories());
    let before = Decimal::from(m.key_year_ago().categories());
    let target = param("category_growth_target")?;
    if before.is_zero() {
        let att = if now > Decimal::ZERO {
            ONE_POINT_ZERO
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
    match m.plan(kpi) {
        None => {
            warn(&format!(
                "no plan for {kpi} in {}: attainment 0",
                m.period()
            ));
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
