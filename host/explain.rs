//! `bonusrun explain`: how one manager's payout came about, in plain words.

use crate::evaluate::RunResult;
use crate::facts::{CURRENT, PREVIOUS, YEAR_AGO};
use crate::money::format_figure;
use rust_decimal::Decimal;
use std::fmt::Write;

fn percent(ratio: Decimal) -> String {
    format!("{}%", format_figure(ratio * Decimal::ONE_HUNDRED, 2))
}

/// Explains the payout of manager `index`.
pub fn explain_manager(r: &RunResult, index: u32) -> String {
    let mut s = String::new();
    let cur = &r.pack.currency;
    let m = &r.managers[index as usize];
    let mgr = &r.data.managers[index as usize];
    let mf = &r.facts.managers[index as usize];
    let info = &r.pack.manifest.pack;
    let p = &r.facts.periods;
    let _ = writeln!(
        s,
        "Manager {} ({}), period {}",
        mgr.id, mgr.name, p[CURRENT]
    );
    let _ = writeln!(
        s,
        "Rule pack '{}' version {} ({}); amounts in {}, each payout line rounded {} to {} decimal(s).",
        info.name,
        info.version,
        info.title,
        cur.code,
        r.pack.rounding.name(),
        cur.minor_units
    );
    let _ = writeln!(
        s,
        "Target bonus for the {}: {} {}.",
        info.period.name(),
        cur.format(mgr.target_bonus),
        cur.code
    );
    let _ = writeln!(s);
    let w = &mf.windows;
    let _ = writeln!(
        s,
        "Sales: in {} the manager's {} line(s) to {} client(s) brought revenue {} and margin {}; in {} revenue {} and margin {}; in {} revenue {} and margin {}.",
        p[CURRENT], w[CURRENT].lines, mf.client_count, w[CURRENT].revenue, w[CURRENT].margin(),
        p[PREVIOUS], w[PREVIOUS].revenue, w[PREVIOUS].margin(),
        p[YEAR_AGO], w[YEAR_AGO].revenue, w[YEAR_AGO].margin()
    );
    if let Some(c) = mf.largest_client {
        let _ = writeln!(
            s,
            "The largest client, {}, brought {} of that revenue.",
            r.data.clients[c as usize].id,
            percent(mf.largest_client_share)
        );
    }
    let keys: Vec<String> = mf
        .accounts
        .iter()
        .map(|&a| r.facts.accounts[a as usize].client)
        .filter(|&c| r.decisions[c as usize].key)
        .map(|c| {
            let d = &r.decisions[c as usize];
            let tier = if d.tier.is_empty() {
                String::new()
            } else {
                format!(" tier {}", d.tier)
            };
            format!(
                "  - {}{tier}: {}",
                r.data.clients[c as usize].id,
                d.reasons.join("; ")
            )
        })
        .collect();
    let _ = writeln!(s);
    if keys.is_empty() {
        let _ = writeln!(s, "Key clients: none in this portfolio.");
    } else {
        let _ = writeln!(s, "Key clients ({}), and why:", keys.len());
        for k in keys {
            let _ = writeln!(s, "{k}");
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "KPIs:");
    for k in &m.kpis {
        let _ = writeln!(
            s,
            "  - {} \"{}\" (weight {}): value {} against target {}, attainment {}{}",
            k.id,
            k.label,
            percent(k.weight),
            format_figure(k.value, 6),
            format_figure(k.target, 6),
            percent(k.attainment),
            if k.note.is_empty() {
                String::new()
            } else {
                format!(" ({})", k.note)
            }
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "Payout lines:");
    for l in &m.lines {
        let rounding = if l.amount_exact == l.amount {
            String::new()
        } else {
            format!(", computed {} and rounded", l.amount_exact)
        };
        let kpi = l
            .kpi
            .as_deref()
            .map(|k| format!(", KPI {k}"))
            .unwrap_or_default();
        let note = if l.note.is_empty() {
            String::new()
        } else {
            format!(" - {}", l.note)
        };
        let _ = writeln!(
            s,
            "  {:>14}  {} [{}{kpi}{rounding}]{note}",
            cur.format(l.amount),
            l.label,
            l.kind
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "Payout: {} {} (the sum of the lines above).",
        cur.format(m.payout),
        cur.code
    );
    let prefix = format!("manager {}: ", mgr.id);
    let warnings: Vec<&String> = r
        .warnings
        .iter()
        .filter(|w| w.starts_with(&prefix))
        .collect();
    if !warnings.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(s, "Warnings:");
        for w in warnings {
            let _ = writeln!(s, "  - {w}");
        }
    }
    s
}
