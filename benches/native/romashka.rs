//! The Romashka regulation (`rules/romashka/*.rhai`) written in Rust as [`NativeRules`]: the
//! benchmarks' native floor (`benches/floor.rs`), and checked by the tests
//! (`tests/native.rs`) to give byte-identical payouts, KPIs and key clients. Every figure and
//! sentence is built the way the scripts build it, decimal scales included.

use bonusrun::facts::{CURRENT, YEAR_AGO};
use bonusrun::load;
use bonusrun::money::format_figure;
use bonusrun::pack::{Cell, LookupValue, ParamValue};
use bonusrun::rules::RulePack;
use bonusrun::rules::{Context, KeyDecision, KpiMeasure, KpiResult, NativeRules, RawLine};
use rust_decimal::Decimal;
use std::sync::Arc;

/// `1.0` as a Rhai script writes it (scale 1), so that outputs match the scripts' byte for byte.
fn one_point_zero() -> Decimal {
    Decimal::new(10, 1)
}

/// `percent()` of the rule API: `12.3%`.
fn percent(x: Decimal) -> String {
    format!("{}%", format_figure(x * Decimal::ONE_HUNDRED, 1))
}

/// `ratio()` of the rule API: 0 when dividing by 0.
fn ratio(a: Decimal, b: Decimal) -> Result<Decimal, String> {
    if b.is_zero() {
        Ok(Decimal::ZERO)
    } else {
        a.checked_div(b)
            .ok_or_else(|| "ratio overflowed".to_string())
    }
}

/// The Romashka regulation in Rust, with its parameters read from the pack once.
pub struct Romashka {
    pack: Arc<RulePack>,
    key_revenue_share: Decimal,
    key_margin_share: Decimal,
    key_market_share: Decimal,
    key_min_years: Decimal,
    key_influence: Decimal,
    key_range_growth: Decimal,
    key_soft_score: Decimal,
    tier_a_score: Decimal,
    renewal_target: Decimal,
    concentration_max: Decimal,
    category_growth_target: Decimal,
    gate_kpi: String,
    gate_attainment: Decimal,
    cap: Decimal,
}

impl Romashka {
    /// The rules, with the parameters of `pack` (the Romashka pack or one like it).
    pub fn new(pack: Arc<RulePack>) -> Result<Romashka, String> {
        let number = |name: &str| match pack.params.get(name) {
            Some(ParamValue::Number(d)) => Ok(*d),
            _ => Err(format!("the pack has no number parameter '{name}'")),
        };
        let text = |name: &str| match pack.params.get(name) {
            Some(ParamValue::Text(t)) => Ok(t.clone()),
            _ => Err(format!("the pack has no text parameter '{name}'")),
        };
        Ok(Romashka {
            key_revenue_share: number("key_revenue_share")?,
            key_margin_share: number("key_margin_share")?,
            key_market_share: number("key_market_share")?,
            key_min_years: number("key_min_years")?,
            key_influence: number("key_influence")?,
            key_range_growth: number("key_range_growth")?,
            key_soft_score: number("key_soft_score")?,
            tier_a_score: number("tier_a_score")?,
            renewal_target: number("renewal_target")?,
            concentration_max: number("concentration_max")?,
            category_growth_target: number("category_growth_target")?,
            gate_kpi: text("gate_kpi")?,
            gate_attainment: number("gate_attainment")?,
            cap: number("cap")?,
            pack,
        })
    }

    /// The payout factor of one KPI for its attainment, from decision table `payout_curve`.
    fn curve_factor(&self, attainment: Decimal) -> Result<Decimal, String> {
        let table = self
            .pack
            .tables
            .get("payout_curve")
            .ok_or("the pack has no table 'payout_curve'")?;
        let hits = table.lookup(&[("attainment", &LookupValue::Number(attainment))])?;
        let row = &table.rows[*hits.first().ok_or("no tier of payout_curve matches")?];
        let cell = |name: &str| -> Result<Decimal, String> {
            let i = table
                .columns
                .iter()
                .position(|c| c == name)
                .ok_or_else(|| format!("payout_curve has no column '{name}'"))?;
            match &row[i] {
                Cell::Number(d) => Ok(*d),
                other => Err(format!("payout_curve column '{name}' is '{other}'")),
            }
        };
        let slope = cell("slope")?;
        if slope.is_zero() {
            return cell("base");
        }
        Ok(cell("base")? + slope * (attainment - cell("from")?))
    }

    fn round_money(&self, x: Decimal) -> Decimal {
        self.pack.currency.round(x, self.pack.rounding)
    }

    /// A KPI measured against plans.csv.
    fn plan_kpi(
        &self,
        ctx: &Context,
        manager: u32,
        kpi: &str,
        value: Decimal,
        warnings: &mut Vec<String>,
    ) -> KpiMeasure {
        match ctx.plans.get(&(manager, kpi.to_string())) {
            None => {
                warnings.push(format!(
                    "no plan for {kpi} in {}: attainment 0",
                    ctx.facts.period()
                ));
                KpiMeasure {
                    value,
                    target: Decimal::ZERO,
                    attainment: Some(Decimal::ZERO),
                    note: "no plan".into(),
                }
            }
            Some(&t) if t <= Decimal::ZERO => KpiMeasure {
                value,
                target: t,
                attainment: Some(Decimal::ZERO),
                note: "plan is not positive".into(),
            },
            Some(&t) => KpiMeasure {
                value,
                target: t,
                attainment: None,
                note: String::new(),
            },
        }
    }
}

fn extra<'a>(ctx: &'a Context, client: u32, column: &str) -> Option<&'a str> {
    let i = ctx
        .data
        .client_extras
        .iter()
        .position(|c| c.eq_ignore_ascii_case(column))?;
    Some(ctx.data.clients[client as usize].extras[i].as_str())
}

impl NativeRules for Romashka {
    fn classify(
        &self,
        ctx: &Context,
        client: u32,
        _warnings: &mut Vec<String>,
    ) -> Result<KeyDecision, String> {
        let row = &ctx.data.clients[client as usize];
        let facts = &ctx.facts.clients[client as usize];
        let mut reasons = Vec::new();
        let mut score: i64 = 0;
        let mut primary = false;
        if facts.revenue_share >= self.key_revenue_share {
            reasons.push(format!(
                "share of company revenue {} (threshold {})",
                percent(facts.revenue_share),
                percent(self.key_revenue_share)
            ));
            score += 2;
            primary = true;
        }
        if facts.margin_share >= self.key_margin_share {
            reasons.push(format!(
                "share of company margin {} (threshold {})",
                percent(facts.margin_share),
                percent(self.key_margin_share)
            ));
            score += 2;
            primary = true;
        }
        let end = ctx.facts.period().last_date();
        let years = match row.since {
            Some(s) if s <= end => s.whole_years_until(end),
            _ => 0,
        };
        if row.market_share >= self.key_market_share && Decimal::from(years) >= self.key_min_years {
            reasons.push(format!(
                "holds {} of its market and has been a client for {years} years",
                percent(row.market_share)
            ));
            score += 2;
            primary = true;
        }
        if row.strategic {
            reasons.push("strategic client".into());
            score += 2;
            primary = true;
        }
        if let Some(raw) = extra(ctx, client, "influence") {
            let influence = if raw.is_empty() {
                Decimal::ZERO
            } else {
                bonusrun::money::parse_decimal(raw.as_bytes())
                    .ok_or_else(|| format!("influence '{raw}' is not a number"))?
            };
            if influence >= self.key_influence {
                reasons.push(format!("influence in its market rated {influence}"));
                score += 2;
                primary = true;
            }
        }
        let (cur, year_ago) = (&facts.windows[CURRENT], &facts.windows[YEAR_AGO]);
        let gained = cur.categories.len() as i64 - year_ago.categories.len() as i64;
        if Decimal::from(gained) >= self.key_range_growth && cur.revenue > year_ago.revenue {
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
            if let Some(raw) = extra(ctx, client, column) {
                let flag = load::parse_flag_text(raw)
                    .ok_or_else(|| format!("{column} '{raw}' is not true or false"))?;
                if flag {
                    reasons.push(reason.into());
                    soft += 1;
                }
            }
        }
        score += soft;
        let key = primary || Decimal::from(soft) >= self.key_soft_score;
        let tier = if !key {
            ""
        } else if Decimal::from(score) >= self.tier_a_score {
            "A"
        } else {
            "B"
        };
        Ok(KeyDecision {
            key,
            tier: tier.into(),
            score: Decimal::from(score),
            reasons,
        })
    }

    fn kpi(
        &self,
        ctx: &Context,
        manager: u32,
        kpi: &str,
        warnings: &mut Vec<String>,
    ) -> Result<KpiMeasure, String> {
        let facts = &ctx.facts;
        let m = &facts.managers[manager as usize];
        let key = &ctx.key_windows[manager as usize];
        let is_key = |client: u32| ctx.decisions[client as usize].key;
        Ok(match kpi {
            "key_revenue" => self.plan_kpi(ctx, manager, kpi, key[0].revenue, warnings),
            "margin" => self.plan_kpi(ctx, manager, kpi, m.windows[0].margin(), warnings),
            "renewals" => {
                let period = facts.period();
                let (mut due, mut renewed) = (0i64, 0i64);
                for c in ctx.data.contracts.iter().filter(|c| c.manager == manager) {
                    if period.contains(c.end) && is_key(c.client) {
                        due += 1;
                        if c.renewed_on.is_some_and(|d| d <= period.last_date()) {
                            renewed += 1;
                        }
                    }
                }
                let target = self.renewal_target;
                if due == 0 {
                    return Ok(KpiMeasure {
                        value: Decimal::ZERO,
                        target,
                        attainment: Some(one_point_zero()),
                        note: "no key-client contracts fell due: neutral".into(),
                    });
                }
                let rate = ratio(renewed.into(), due.into())?;
                KpiMeasure {
                    value: rate,
                    target,
                    attainment: Some(ratio(rate, target)?),
                    note: format!("{renewed} of {due} renewed"),
                }
            }
            "concentration" => {
                let share = m.largest_client_share;
                let target = self.concentration_max;
                if share.is_zero() {
                    return Ok(KpiMeasure {
                        value: Decimal::ZERO,
                        target,
                        attainment: Some(Decimal::ZERO),
                        note: "no revenue in the quarter".into(),
                    });
                }
                let largest = m
                    .largest_client
                    .map(|c| ctx.data.clients[c as usize].id.as_str())
                    .unwrap_or("");
                KpiMeasure {
                    value: share,
                    target,
                    attainment: Some(ratio(target, share)?),
                    note: format!("largest client {largest}"),
                }
            }
            "new_key_clients" => {
                let period = facts.period();
                let mut found = 0i64;
                for &a in &m.accounts {
                    let acc = &facts.accounts[a as usize];
                    let is_new = facts.clients[acc.client as usize]
                        .first_purchase
                        .is_some_and(|d| period.contains(d));
                    if is_key(acc.client) && is_new && acc.windows[0].revenue > Decimal::ZERO {
                        found += 1;
                    }
                }
                let found = Decimal::from(found);
                match ctx.plans.get(&(manager, kpi.to_string())) {
                    None => {
                        warnings.push("no plan for new_key_clients: attainment counted as 100% when at least one is found".into());
                        KpiMeasure {
                            value: found,
                            target: Decimal::ZERO,
                            attainment: Some(if found > Decimal::ZERO {
                                one_point_zero()
                            } else {
                                Decimal::ZERO
                            }),
                            note: String::new(),
                        }
                    }
                    Some(t) if t.is_zero() => KpiMeasure {
                        value: found,
                        target: Decimal::ZERO,
                        attainment: Some(one_point_zero()),
                        note: "no new key clients planned: neutral".into(),
                    },
                    Some(&t) => KpiMeasure {
                        value: found,
                        target: t,
                        attainment: Some(ratio(found, t)?),
                        note: String::new(),
                    },
                }
            }
            "category_growth" => {
                let now = Decimal::from(key[0].categories.len() as u64);
                let before = Decimal::from(key[2].categories.len() as u64);
                let target = self.category_growth_target;
                if before.is_zero() {
                    return Ok(KpiMeasure {
                        value: now,
                        target,
                        attainment: Some(if now > Decimal::ZERO {
                            one_point_zero()
                        } else {
                            Decimal::ZERO
                        }),
                        note: "no key-client purchases a year ago".into(),
                    });
                }
                let growth = ratio(now, before)?;
                KpiMeasure {
                    value: growth,
                    target,
                    attainment: Some(ratio(growth, target)?),
                    note: format!("{now} categories against {before}"),
                }
            }
            other => return Err(format!("the native rules have no KPI '{other}'")),
        })
    }

    fn bonus(
        &self,
        ctx: &Context,
        manager: u32,
        kpis: &[KpiResult],
        _warnings: &mut Vec<String>,
    ) -> Result<Vec<RawLine>, String> {
        let line =
            |label: String, amount: Decimal, kpi: Option<&str>, kind: &str, note: String| RawLine {
                label,
                kind: kind.into(),
                kpi: kpi.map(str::to_string),
                amount,
                note,
            };
        let mut lines = Vec::new();
        let gate = kpis
            .iter()
            .find(|k| k.id == self.gate_kpi)
            .ok_or_else(|| format!("no KPI '{}' for the gate", self.gate_kpi))?;
        if gate.attainment < self.gate_attainment {
            for k in kpis {
                lines.push(line(
                    k.label.clone(),
                    Decimal::ZERO,
                    Some(&k.id),
                    "kpi",
                    "gate closed".into(),
                ));
            }
            lines.push(line(
                format!(
                    "Gate: {} at {}, below {}: no bonus",
                    gate.label,
                    percent(gate.attainment),
                    percent(self.gate_attainment)
                ),
                Decimal::ZERO,
                None,
                "gate",
                String::new(),
            ));
            return Ok(lines);
        }
        let target_bonus = ctx.data.managers[manager as usize].target_bonus;
        let mut total = Decimal::ZERO;
        for k in kpis {
            let factor = self.curve_factor(k.attainment)?;
            let base = factor.min(Decimal::ONE);
            let amount = self.round_money(target_bonus * k.weight * base);
            lines.push(line(
                k.label.clone(),
                amount,
                Some(&k.id),
                "kpi",
                format!(
                    "attainment {}, factor {}",
                    percent(k.attainment),
                    percent(base)
                ),
            ));
            total += amount;
            if factor > Decimal::ONE {
                let extra = self.round_money(target_bonus * k.weight * (factor - Decimal::ONE));
                lines.push(line(
                    format!("{}: accelerator", k.label),
                    extra,
                    Some(&k.id),
                    "accelerator",
                    format!("factor {} above plan", percent(factor)),
                ));
                total += extra;
            }
        }
        let cap = self.round_money(target_bonus * self.cap);
        if total > cap {
            lines.push(line(
                format!("Cap at {} of the target bonus", percent(self.cap)),
                cap - total,
                None,
                "cap",
                String::new(),
            ));
        }
        Ok(lines)
    }
}
