//! `bonusrun explain`: how one manager's payout came about, in plain words.

use crate::evaluate::RunResult;
use crate::facts::{CURRENT, PREVIOUS, YEAR_AGO};
use crate::money::format_figure;
use rust_decimal::Decimal;
use std::fmt::Write;

fn percent(ratio: Decimal) -> String {
    crate::money::percent_text(ratio, 2).unwrap_or_else(|| format!("{ratio} (as a fraction)"))
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
        "Input rows counted: {} sales line(s) in the data set; this manager's lines: {} in {}, {} in {}, {} in {} ({} return line(s) in {}).",
        r.facts.rows,
        w[CURRENT].lines,
        p[CURRENT],
        w[PREVIOUS].lines,
        p[PREVIOUS],
        w[YEAR_AGO].lines,
        p[YEAR_AGO],
        w[CURRENT].return_lines,
        p[CURRENT]
    );
    let plans: Vec<String> = r
        .data
        .plans
        .iter()
        .filter(|pl| pl.manager == index && pl.period == p[CURRENT])
        .map(|pl| format!("{} {} (plans.csv line {})", pl.kpi, pl.target, pl.line))
        .collect();
    let contracts = r
        .data
        .contracts
        .iter()
        .filter(|c| c.manager == index)
        .count();
    let _ = writeln!(
        s,
        "Plans for {}: {}. Contracts held: {contracts}.",
        p[CURRENT],
        if plans.is_empty() {
            "none".to_string()
        } else {
            plans.join(", ")
        }
    );
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
    // The key clients of this portfolio: sold to in the run period, or owned; a client
    // sold to only in an earlier period is not the manager's key client now.
    let keys: Vec<String> = mf
        .accounts
        .iter()
        .map(|&a| &r.facts.accounts[a as usize])
        .filter(|a| {
            a.windows[CURRENT].lines > 0 || r.data.owner_for(a.client, p[CURRENT]) == Some(index)
        })
        .map(|a| a.client)
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
    if !m.trace.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(s, "Decision-table rows matched:");
        for t in &m.trace {
            let _ = writeln!(s, "  - {t}");
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "Payout lines:");
    for l in &m.lines {
        let rounding = if l.amount_exact == l.amount {
            String::new()
        } else {
            format!(
                ", computed {} and rounded {}",
                l.amount_exact.normalize(),
                r.pack.rounding.name()
            )
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

/// Explains the key-client classification of client `index`.
pub fn explain_client(r: &RunResult, index: u32) -> String {
    let mut s = String::new();
    let c = &r.data.clients[index as usize];
    let f = &r.facts.clients[index as usize];
    let d = &r.decisions[index as usize];
    let p = &r.facts.periods;
    let _ = writeln!(s, "Client {} ({}), period {}", c.id, c.name, p[CURRENT]);
    let manager = f
        .manager
        .map(|m| r.data.managers[m as usize].id.clone())
        .unwrap_or_else(|| "none".into());
    // A column the data does not have is "not given", not a value.
    let given = |column: &str, value: String| {
        if r.data.clients_have(column) {
            value
        } else {
            "not given".to_string()
        }
    };
    let text = |v: &str| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.to_string()
        }
    };
    let _ = writeln!(
        s,
        "Industry {}, region {}; client since {}; market share {}; strategic: {}; manager {manager}.",
        given("industry", text(&c.industry)),
        given("region", text(&c.region)),
        given(
            "since",
            c.since.map(|d| d.to_string()).unwrap_or_else(|| "unknown".into())
        ),
        given("market_share", percent(c.market_share)),
        given("strategic", if c.strategic { "yes" } else { "no" }.to_string())
    );
    for (col, v) in r.data.client_extras.iter().zip(&c.extras) {
        let _ = writeln!(s, "  {col}: {v}");
    }
    let w = &f.windows;
    for (i, label) in [
        (CURRENT, "this period"),
        (PREVIOUS, "previous period"),
        (YEAR_AGO, "a year ago"),
    ] {
        let _ = writeln!(
            s,
            "Sales {label} ({}): revenue {}, margin {}, {} line(s), {} categor(ies), {} product(s).",
            p[i],
            w[i].revenue,
            w[i].margin(),
            w[i].lines,
            w[i].categories.len(),
            w[i].products.len()
        );
    }
    let _ =
        writeln!(
        s,
        "Share of company revenue {}, of company margin {}; first purchase {}, last purchase {}.",
        percent(f.revenue_share),
        percent(f.margin_share),
        f.first_purchase.map(|d| d.to_string()).unwrap_or_else(|| "none".into()),
        f.last_purchase.map(|d| d.to_string()).unwrap_or_else(|| "none".into())
    );
    let _ = writeln!(s);
    if d.key {
        let tier = if d.tier.is_empty() {
            String::new()
        } else {
            format!(", tier {}", d.tier)
        };
        let _ = writeln!(
            s,
            "Decision: KEY client{tier}, score {}.",
            format_figure(d.score, 6)
        );
    } else {
        let _ = writeln!(
            s,
            "Decision: not a key client, score {}.",
            format_figure(d.score, 6)
        );
    }
    if d.reasons.is_empty() {
        let _ = writeln!(s, "No criterion matched.");
    } else {
        let _ = writeln!(s, "Criteria that matched:");
        for reason in &d.reasons {
            let _ = writeln!(s, "  - {reason}");
        }
    }
    s
}
