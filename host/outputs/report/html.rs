//! The report's HTML: one function per section, each returning its markup.

use super::charts::{self, Bar};
use super::model::{number, Model, Statement};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;

type Html = Result<String, String>;

pub const STYLE: &str = "
body { font-family: sans-serif; font-size: 14px; color: #222; max-width: 1000px; margin: 1em auto; padding: 0 1em; }
h1 { font-size: 22px; } h2 { font-size: 18px; border-bottom: 1px solid #999; margin-top: 1.6em; }
h3 { font-size: 16px; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: bold; }
figure.chart { margin: .5em 0; break-inside: avoid; }
figure.chart svg { max-width: 100%; height: auto; }
figcaption, .note { color: #555; font-size: 12px; }
.grid { display: flex; flex-wrap: wrap; gap: 8px; }
.grid figure.chart { width: 400px; }
.swatch { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; }
code { font-size: 12px; word-break: break-all; }
@page { size: A4; margin: 12mm; }
@media print { body { max-width: none; margin: 0; } section.manager { break-before: page; } nav { display: none; } }
";

/// The whole page.
pub fn render(m: &Model) -> Html {
    let title = esc(&format!(
        "{} {}: bonus run {}",
        text(&m.run["pack"]["name"]),
        text(&m.run["pack"]["version"]),
        text(&m.run["period"]["run"])
    ));
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
    );
    out += &header(m);
    // The sections are independent: drawn on the current rayon pool, joined in page order
    // (so the first error is the first in the page).
    let ((payouts, attainment), (curve, (key_clients, managers))) = rayon::join(
        || rayon::join(|| payouts(m), || attainment(m)),
        || {
            rayon::join(
                || curve(m),
                || rayon::join(|| key_clients(m), || managers(m)),
            )
        },
    );
    for section in [payouts, attainment, curve, key_clients, managers] {
        out += &section?;
    }
    out += "</body>\n</html>\n";
    Ok(out)
}

/// HTML-escaped text.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A JSON value as plain text (strings without quotes).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A ratio as a percentage with two decimals (display only); a ratio too large for that is
/// shown as it is.
fn percent(r: Decimal) -> String {
    match r.checked_mul(Decimal::ONE_HUNDRED) {
        Some(p) => format!("{}%", p.round_dp(2).normalize()),
        None => format!("{r} (as a ratio)"),
    }
}

fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

/// The link target of a manager's section.
fn anchor(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("m-{safe}")
}

fn figure(name: &str, svg: &str, caption: &str) -> String {
    format!(
        "<figure class=\"chart\" data-chart=\"{name}\">\n{svg}\n<figcaption>{caption}</figcaption>\n</figure>\n"
    )
}

fn row(cells: &[(&str, String)]) -> String {
    let mut out = String::from("<tr>");
    for (class, cell) in cells {
        if class.is_empty() {
            let _ = write!(out, "<td>{cell}</td>");
        } else {
            let _ = write!(out, "<td class=\"{class}\">{cell}</td>");
        }
    }
    out + "</tr>\n"
}

/// The run header: what was run, on what, with which result and warnings.
fn header(m: &Model) -> String {
    let r = &m.run;
    let mut out = format!(
        "<header>\n<h1>{}</h1>\n<table>\n",
        esc(&text(&r["pack"]["title"]))
    );
    let period = format!(
        "{} ({} to {}; {})",
        text(&r["period"]["run"]),
        text(&r["period"]["start"]),
        text(&r["period"]["end"]),
        text(&r["period"]["chosen"])
    );
    let mut facts = vec![
        (
            "Rule pack",
            format!(
                "{} version {}",
                text(&r["pack"]["name"]),
                text(&r["pack"]["version"])
            ),
        ),
        ("Period", period),
        (
            "Currency and rounding",
            format!(
                "{}, each payout line rounded {}",
                text(&r["currency"]),
                text(&r["pack"]["rounding"])
            ),
        ),
        (
            "Total payout",
            format!("{} {}", text(&r["total_payout"]), text(&r["currency"])),
        ),
        (
            "Counted",
            format!(
                "{} managers, {} clients ({} key), {} sales lines, {} payout lines",
                r["counts"]["managers"],
                r["counts"]["clients"],
                r["counts"]["key_clients"],
                r["counts"]["sales_lines"],
                r["counts"]["payout_lines"]
            ),
        ),
        (
            "Engine",
            format!(
                "bonusrun {} ({})",
                text(&r["engine"]["version"]),
                text(&r["engine"]["commit"])
            ),
        ),
    ];
    if let Some(incomplete) = r["period"]["incomplete"].as_str() {
        facts.push(("Period incomplete (allowed)", incomplete.to_string()));
    }
    if let Some(sets) = r["pack"]["parameter_overrides"]
        .as_array()
        .filter(|a| !a.is_empty())
    {
        facts.push((
            "Parameters set on the command line",
            sets.iter().map(text).collect::<Vec<_>>().join(", "),
        ));
    }
    for (k, v) in facts {
        let _ = writeln!(out, "<tr><th>{k}</th><td>{}</td></tr>", esc(&v));
    }
    out += "</table>\n<nav><a href=\"#payouts\">Payouts</a> · <a href=\"#attainment\">Attainment</a> · <a href=\"#curve\">Payout curve</a> · <a href=\"#key-clients\">Key clients</a> · <a href=\"#managers\">Managers</a></nav>\n";
    out += "<h2 id=\"inputs\">Inputs</h2>\n<table>\n<tr><th>file</th><th class=\"n\">rows</th><th class=\"n\">bytes</th><th>SHA-256</th></tr>\n";
    for i in r["inputs"].as_array().into_iter().flatten() {
        out += &row(&[
            ("", esc(&text(&i["name"]))),
            ("n", text(&i["rows"])),
            ("n", text(&i["bytes"])),
            ("", format!("<code>{}</code>", esc(&text(&i["sha256"])))),
        ]);
    }
    out += "</table>\n<h2 id=\"warnings\">Warnings</h2>\n";
    match r["warnings"].as_array().filter(|w| !w.is_empty()) {
        None => out += "<p>None.</p>\n",
        Some(ws) => {
            out += "<ul>\n";
            for w in ws {
                let _ = writeln!(out, "<li>{}</li>", esc(&text(w)));
            }
            out += "</ul>\n";
        }
    }
    out + "</header>\n"
}

/// A manager's gate and cap lines (kinds `gate` and `cap`), and the bar colour they give.
fn gates_and_caps(s: &Statement) -> (Vec<&super::model::Line>, plotters::style::RGBColor) {
    let hits: Vec<_> = s
        .lines
        .iter()
        .filter(|l| l.kind == "gate" || l.kind == "cap")
        .collect();
    let colour = if hits.iter().any(|l| l.kind == "gate") {
        charts::RED
    } else if hits.is_empty() {
        charts::BLUE
    } else {
        charts::ORANGE
    };
    (hits, colour)
}

/// Payout against target per manager, and where gates and caps applied.
fn payouts(m: &Model) -> Html {
    let cur = text(&m.run["currency"]);
    let mut bars = Vec::new();
    let mut table = String::from("<table>\n<tr><th>manager</th><th>name</th><th class=\"n\">target bonus</th><th class=\"n\">payout</th><th class=\"n\">of target</th><th>gate or cap</th></tr>\n");
    let mut hits = String::new();
    for s in &m.statements {
        let id = &s.manager.id;
        let target = number(
            &s.manager.target_bonus,
            &format!("manager {id}: target_bonus"),
        )?;
        let payout = number(&s.payout, &format!("manager {id}: payout"))?;
        let (lines, colour) = gates_and_caps(s);
        bars.push(Bar {
            label: id.clone(),
            value: f(payout),
            marker: Some(f(target)),
            colour,
        });
        let share = payout
            .checked_div(target)
            .map_or_else(|| "-".to_string(), percent);
        let paid = s
            .paid_in
            .as_ref()
            .map(|p| format!(" ({} {})", esc(&p.payout), esc(&p.currency)))
            .unwrap_or_default();
        let said: Vec<String> = lines.iter().map(|l| esc(&l.label)).collect();
        table += &row(&[
            ("", format!("<a href=\"#{}\">{}</a>", anchor(id), esc(id))),
            ("", esc(&s.manager.name)),
            ("n", esc(&s.manager.target_bonus)),
            ("n", format!("{}{paid}", esc(&s.payout))),
            ("n", share),
            ("", said.join("<br>")),
        ]);
        for l in lines {
            hits += &row(&[
                ("", format!("<a href=\"#{}\">{}</a>", anchor(id), esc(id))),
                ("", esc(&l.kind)),
                ("", esc(&l.label)),
                ("n", esc(&l.amount)),
            ]);
        }
    }
    table += &format!("<tr class=\"total\"><td colspan=\"3\">total</td><td class=\"n\">{}</td><td colspan=\"2\"></td></tr>\n</table>\n", esc(&text(&m.run["total_payout"])));
    let svg = charts::bars("Payout against target bonus", &bars, &cur)?;
    let legend = "Bars: payout; black tick: target bonus.<span class=\"swatch\" style=\"background:#3465a4\"></span>paid by the rules<span class=\"swatch\" style=\"background:#cc0000\"></span>a gate closed<span class=\"swatch\" style=\"background:#e68c00\"></span>capped";
    let mut out = String::from("<section id=\"payouts\">\n<h2>Payouts</h2>\n");
    out += &figure("payout-vs-target", &svg, legend);
    out += &table;
    out += "<h3 id=\"gates\">Where gates and caps applied</h3>\n";
    if hits.is_empty() {
        out += "<p>No payout line of kind <code>gate</code> or <code>cap</code>: no gate closed and no cap bit.</p>\n";
    } else {
        out += "<table>\n<tr><th>manager</th><th>kind</th><th>line</th><th class=\"n\">amount</th></tr>\n";
        out += &hits;
        out += "</table>\n";
    }
    Ok(out + "</section>\n")
}

/// The KPIs in the order of the first statement.
fn kpi_ids(m: &Model) -> Vec<(String, String)> {
    m.statements
        .first()
        .map(|s| {
            s.kpis
                .iter()
                .map(|k| (k.id.clone(), k.label.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// One histogram of attainment per KPI, in 20% bins up to 200% and one above.
fn attainment(m: &Model) -> Html {
    let bins: Vec<String> = (0..10)
        .map(|i| format!("{}%", i * 20))
        .chain(["200%+".to_string()])
        .collect();
    let mut out = String::from("<section id=\"attainment\">\n<h2>Attainment by KPI</h2>\n<p class=\"note\">How many managers reached each attainment, per KPI, in bins of 20 points (a bin is labelled by where it starts).</p>\n<div class=\"grid\">\n");
    for (id, label) in kpi_ids(m) {
        let mut counts = vec![0u32; bins.len()];
        for s in &m.statements {
            let Some(k) = s.kpis.iter().find(|k| k.id == id) else {
                continue;
            };
            let a = number(
                &k.attainment,
                &format!("manager {}: KPI {id} attainment", s.manager.id),
            )?;
            let last = bins.len() - 1;
            let bin = match a.checked_mul(Decimal::from(5)) {
                _ if a.is_sign_negative() => 0,
                Some(b) => b.floor().to_usize().unwrap_or(last).min(last),
                None => last,
            };
            counts[bin] += 1;
        }
        let svg = charts::histogram(&id, &bins, &counts)?;
        out += &figure(&format!("attainment-{}", esc(&id)), &svg, &esc(&label));
    }
    Ok(out + "</div>\n</section>\n")
}

/// The pack's payout curve and each manager's KPIs placed on it.
fn curve(m: &Model) -> Html {
    let declared = &m.run["report"]["curve"];
    let line: Option<Vec<(f64, f64)>> = declared["points"].as_array().map(|ps| {
        ps.iter()
            .filter_map(|p| {
                Some((
                    number(p[0].as_str()?, "curve").ok()?,
                    number(p[1].as_str()?, "curve").ok()?,
                ))
            })
            .map(|(x, y)| (f(x), f(y)))
            .collect()
    });
    let mut series = Vec::new();
    for (id, _) in kpi_ids(m) {
        let mut points = Vec::new();
        for s in &m.statements {
            let Some(k) = s.kpis.iter().find(|k| k.id == id) else {
                continue;
            };
            let what = |f: &str| format!("manager {}: KPI {id} {f}", s.manager.id);
            let target = number(&s.manager.target_bonus, &what("target bonus"))?;
            let base = target.checked_mul(number(&k.weight, &what("weight"))?);
            let paid = number(&k.contribution, &what("contribution"))?;
            // A KPI without a base (no target bonus or weight) is not on the curve.
            let Some(factor) = base.and_then(|b| paid.checked_div(b)) else {
                continue;
            };
            points.push((f(number(&k.attainment, &what("attainment"))?), f(factor)));
        }
        series.push((id, points));
    }
    let svg = charts::curve(line.as_deref(), &series)?;
    let said = match declared["function"].as_str() {
        Some(name) => format!("The grey line is the pack's payout curve, function <code>{}</code> of the bonus script (<code>[report] curve</code>).", esc(name)),
        None => "The pack declares no payout curve (<code>[report] curve</code>), so only the points are drawn.".to_string(),
    };
    let mut out = String::from("<section id=\"curve\">\n<h2>Payout curve</h2>\n");
    out += &figure("payout-curve", &svg, &format!("{said} Each point is one manager's KPI: its attainment, and what its lines paid as a share of target bonus × weight. A point below the curve was cut by a gate."));
    Ok(out + "</section>\n")
}

/// A key client's reason with its figures masked, so that reasons that differ only in
/// their figures count as one criterion.
fn criterion(reason: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for c in reason.chars() {
        let part = c.is_ascii_digit() || (in_number && (c == '.' || c == ','));
        if part && !in_number {
            out.push('#');
        } else if !part {
            out.push(c);
        }
        in_number = part;
    }
    out
}

/// Key clients per criterion, and each portfolio's concentration.
fn key_clients(m: &Model) -> Html {
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    let key: Vec<_> = m.clients.iter().filter(|c| c.key).collect();
    for c in &key {
        for r in &c.reasons {
            *counts.entry(criterion(r)).or_default() += 1;
        }
    }
    let mut by_count: Vec<(String, u32)> = counts.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let bars: Vec<Bar> = by_count
        .iter()
        .map(|(c, n)| Bar {
            label: c.clone(),
            value: f64::from(*n),
            marker: None,
            colour: charts::BLUE,
        })
        .collect();
    let mut out = format!(
        "<section id=\"key-clients\">\n<h2>Key clients</h2>\n<p>{} key clients of {}.</p>\n",
        key.len(),
        m.clients.len()
    );
    let svg = charts::bars("Key clients per criterion", &bars, "key clients")?;
    out += &figure("key-criteria", &svg, "A client counts under every criterion it met; criteria are the rules' reasons, with their figures shown as #.");
    let (svg, table) = concentration(m)?;
    out += &figure(
        "concentration",
        &svg,
        "Share of each manager's revenue in the period that comes from the largest client.",
    );
    Ok(out + table.as_str() + "</section>\n")
}

/// The concentration chart and table: the largest client's share and the
/// Herfindahl index (the sum of squared client shares) of each portfolio.
fn concentration(m: &Model) -> Result<(String, String), String> {
    let mut bars = Vec::new();
    let mut table = String::from("<table>\n<tr><th>manager</th><th class=\"n\">clients</th><th class=\"n\">key clients</th><th>largest client</th><th class=\"n\">its share</th><th class=\"n\">Herfindahl index</th></tr>\n");
    for s in &m.statements {
        let id = &s.manager.id;
        let share = number(
            &s.facts.largest_client_share,
            &format!("manager {id}: largest_client_share"),
        )?;
        bars.push(Bar {
            label: id.clone(),
            value: f(share) * 100.0,
            marker: None,
            colour: charts::BLUE,
        });
        table += &row(&[
            ("", format!("<a href=\"#{}\">{}</a>", anchor(id), esc(id))),
            ("n", s.facts.client_count.to_string()),
            ("n", s.accounts.iter().filter(|a| a.key).count().to_string()),
            ("", esc(s.facts.largest_client.as_deref().unwrap_or("-"))),
            ("n", percent(share)),
            (
                "n",
                herfindahl(s)?.map(percent).unwrap_or_else(|| "-".into()),
            ),
        ]);
    }
    let svg = charts::bars("Largest client's share of revenue", &bars, "%")?;
    Ok((svg, table + "</table>\n"))
}

/// The sum of squared revenue shares of the clients that bought (None without revenue).
fn herfindahl(s: &Statement) -> Result<Option<Decimal>, String> {
    let mut revenues = Vec::new();
    for a in &s.accounts {
        let r = number(
            &a.revenue,
            &format!("manager {}: client {} revenue", s.manager.id, a.client_id),
        )?;
        if r > Decimal::ZERO {
            revenues.push(r);
        }
    }
    let total = revenues
        .iter()
        .try_fold(Decimal::ZERO, |t, r| t.checked_add(*r));
    let Some(total) = total.filter(|t| !t.is_zero()) else {
        return Ok(None);
    };
    let index = revenues.iter().try_fold(Decimal::ZERO, |h, r| {
        let share = r.checked_div(total)?;
        h.checked_add(share.checked_mul(share)?)
    });
    Ok(index.map(|h| h.round_dp(6)))
}

/// One section per manager: the statement's KPIs, lines and largest clients.
fn managers(m: &Model) -> Html {
    use rayon::prelude::*;
    let mut out = String::from("<section id=\"managers\">\n<h2>Managers</h2>\n");
    let sections: Vec<Html> = m.statements.par_iter().map(|s| manager(m, s)).collect();
    for section in sections {
        out += &section?;
    }
    Ok(out + "</section>\n")
}

fn manager(m: &Model, s: &Statement) -> Html {
    let cur = esc(&text(&m.run["currency"]));
    let id = &s.manager.id;
    let mut out = format!(
        "<section class=\"manager\" id=\"{}\">\n<h3>{} {}</h3>\n<p>Target bonus {} {cur}; payout <b>{} {cur}</b>{}. Revenue in the period {} from {} sales line(s) to {} client(s).</p>\n",
        anchor(id), esc(id), esc(&s.manager.name), esc(&s.manager.target_bonus), esc(&s.payout),
        s.paid_in.as_ref().map(|p| format!(", paid as {} {}", esc(&p.payout), esc(&p.currency))).unwrap_or_default(),
        esc(&s.facts.current.revenue), s.facts.current.lines, s.facts.client_count,
    );
    out += "<table>\n<tr><th>KPI</th><th class=\"n\">weight</th><th class=\"n\">value</th><th class=\"n\">target</th><th class=\"n\">attainment</th><th class=\"n\">contribution</th><th>note</th></tr>\n";
    for k in &s.kpis {
        let a = number(
            &k.attainment,
            &format!("manager {id}: KPI {} attainment", k.id),
        )?;
        out += &row(&[
            (
                "",
                format!(
                    "{} <span class=\"note\">{}</span>",
                    esc(&k.label),
                    esc(&k.id)
                ),
            ),
            ("n", esc(&k.weight)),
            ("n", esc(&k.value)),
            ("n", esc(&k.target)),
            ("n", percent(a)),
            ("n", esc(&k.contribution)),
            ("", esc(&k.note)),
        ]);
    }
    out += "</table>\n";
    out += &lines(s, &cur);
    if !s.warnings.is_empty() {
        out += "<p>Warnings:</p>\n<ul>\n";
        for w in &s.warnings {
            let _ = writeln!(out, "<li>{}</li>", esc(w));
        }
        out += "</ul>\n";
    }
    out += &top_clients(s)?;
    Ok(out + "<p class=\"note\"><a href=\"#payouts\">back to the payouts</a></p>\n</section>\n")
}

/// The payout lines, exact and rounded, with their sum.
fn lines(s: &Statement, cur: &str) -> String {
    let paid = s.paid_in.is_some();
    let mut out = String::from("<table>\n<tr><th>payout line</th><th>kind</th><th class=\"n\">exact</th><th class=\"n\">rounded</th>");
    if paid {
        out += "<th class=\"n\">paid</th>";
    }
    out += "<th>note</th></tr>\n";
    for l in &s.lines {
        let mut cells = vec![
            ("", esc(&l.label)),
            (
                "",
                esc(&l.kind)
                    + l.kpi
                        .as_deref()
                        .map(|k| format!(" <span class=\"note\">{}</span>", esc(k)))
                        .unwrap_or_default()
                        .as_str(),
            ),
            ("n", esc(&l.amount_exact)),
            ("n", esc(&l.amount)),
        ];
        if paid {
            cells.push(("n", esc(l.amount_paid.as_deref().unwrap_or(""))));
        }
        cells.push(("", esc(&l.note)));
        out += &row(&cells);
    }
    let paid_total = s
        .paid_in
        .as_ref()
        .map(|p| format!("<td class=\"n\">{}</td>", esc(&p.payout)))
        .unwrap_or_default();
    out + format!("<tr class=\"total\"><td colspan=\"3\">payout ({cur})</td><td class=\"n\">{}</td>{paid_total}<td></td></tr>\n</table>\n", esc(&s.payout)).as_str()
}

/// The manager's ten largest clients in the period.
fn top_clients(s: &Statement) -> Html {
    let mut accounts = Vec::new();
    for a in &s.accounts {
        let r = number(
            &a.revenue,
            &format!("manager {}: client {} revenue", s.manager.id, a.client_id),
        )?;
        accounts.push((r, a));
    }
    accounts.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.client_id.cmp(&y.1.client_id)));
    if accounts.is_empty() {
        return Ok(String::new());
    }
    let mut out = format!("<p>Largest clients ({} of the {} in the portfolio):</p>\n<table>\n<tr><th>client</th><th>name</th><th>key</th><th class=\"n\">revenue</th></tr>\n", accounts.len().min(10), accounts.len());
    for (_, a) in accounts.iter().take(10) {
        let key = if a.key {
            format!("key {}", esc(&a.tier))
        } else {
            String::new()
        };
        out += &row(&[
            ("", esc(&a.client_id)),
            ("", esc(&a.name)),
            ("", key),
            ("n", esc(&a.revenue)),
        ]);
    }
    Ok(out + "</table>\n")
}
