//! `diff.html`: a what-if as finance reviews it: the budget impact, who gains and who
//! loses and by how much (a chart and a table), in one self-contained file.

use super::charts::{self, Bar};
use super::html::esc;
use crate::whatif::Diff;
use rust_decimal::prelude::ToPrimitive;
use std::fmt::Write;

/// The page; `before` and `after` say what each side ran (pack, version, parameters).
pub fn render(diff: &Diff, before: &str, after: &str) -> Result<String, String> {
    let cur = &diff.currency.code;
    let mut rows: Vec<_> = diff.rows.iter().collect();
    rows.sort_by(|a, b| {
        b.delta()
            .cmp(&a.delta())
            .then(a.manager_id.cmp(&b.manager_id))
    });
    let bars: Vec<Bar> = rows
        .iter()
        .map(|r| {
            let d = r.delta();
            Bar {
                label: r.manager_id.clone(),
                value: d.to_f64().unwrap_or(0.0),
                marker: None,
                colour: if d.is_sign_negative() && !d.is_zero() {
                    charts::RED
                } else {
                    charts::GREEN
                },
            }
        })
        .collect();
    let svg = charts::bars("Change in payout per manager", &bars, cur)?;
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>bonusrun diff</title>\n<style>{}</style>\n</head>\n<body>\n<h1>What-if: payouts before and after</h1>\n<table>\n<tr><th>before</th><td>{}</td></tr>\n<tr><th>after</th><td>{}</td></tr>\n</table>\n<p><b>{}</b></p>\n",
        super::html::STYLE,
        esc(before),
        esc(after),
        esc(diff.summary().trim_end())
    );
    out += &format!(
        "<figure class=\"chart\" data-chart=\"diff\">\n{svg}\n<figcaption>Green: paid more after the change; red: paid less. Largest gain first.</figcaption>\n</figure>\n"
    );
    out += "<table>\n<tr><th>manager</th><th>name</th><th class=\"n\">before</th><th class=\"n\">after</th><th class=\"n\">delta</th><th class=\"n\">delta %</th></tr>\n";
    for r in rows {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&r.manager_id),
            esc(&r.name),
            diff.money(r.before),
            diff.money(r.after),
            diff.currency.format(r.delta()),
            diff.percent(r.before.unwrap_or_default(), r.delta())
        );
    }
    let _ = writeln!(
        out,
        "<tr class=\"total\"><td colspan=\"2\">total ({})</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n</table>\n</body>\n</html>",
        esc(cur),
        diff.currency.format(diff.total_before),
        diff.currency.format(diff.total_after),
        diff.currency.format(diff.total_delta()),
        diff.percent(diff.total_before, diff.total_delta())
    );
    Ok(out)
}
