//! `history` and `show`: the ledger as finance reads it. Read-only.

use super::lifecycle::{draw_balance, run_row, RunRow};
use super::{sql, Ledger};
use crate::error::Error;
use crate::period::Period;
use rusqlite::params;
use std::fmt::Write;

/// `history [--period P]`: each period with its status and runs, then the reopen events.
pub fn history(ledger: &Ledger, only: Option<&str>) -> Result<String, Error> {
    let conn = ledger.conn();
    let s = |e| sql(&ledger.shown, e);
    let mut st = conn
        .prepare("SELECT DISTINCT period FROM runs")
        .map_err(s)?;
    let mut periods: Vec<String> = st
        .query_map([], |r| r.get(0))
        .map_err(s)?
        .collect::<Result<_, _>>()
        .map_err(s)?;
    periods.sort_by_key(|p| {
        Period::parse(p)
            .map(|p| (p.start_date(), p.kind().months()))
            .ok()
    });
    if let Some(only) = only {
        let want = Period::parse(only).map_err(|e| Error::Usage(format!("--period: {e}")))?;
        periods.retain(|p| *p == want.to_string());
    }
    let mut out = String::new();
    if periods.is_empty() {
        let _ = writeln!(
            out,
            "The ledger {} holds no runs{}.",
            ledger.shown,
            only.map(|p| format!(" for {p}")).unwrap_or_default()
        );
    }
    for p in &periods {
        let row = super::period_row(conn, p).map_err(s)?;
        match row {
            Some((st, Some(run), by, at)) if st == "closed" => {
                let _ = writeln!(
                    out,
                    "{p}  closed  paid run {run}, closed by {} at {}",
                    by.unwrap_or_default(),
                    at.unwrap_or_default()
                );
            }
            _ => {
                let _ = writeln!(out, "{p}  open");
            }
        }
        let mut st = conn
            .prepare("SELECT id FROM runs WHERE period = ?1 ORDER BY id")
            .map_err(s)?;
        let ids: Vec<i64> = st
            .query_map([p], |r| r.get(0))
            .map_err(s)?
            .collect::<Result<_, _>>()
            .map_err(s)?;
        for id in ids {
            let r = run_row(conn, &ledger.shown, id)?;
            let _ = writeln!(out, "  {}", run_line(&r));
        }
    }
    let mut st = conn
        .prepare("SELECT at, who, period, run_id, reason FROM events WHERE action = 'reopen' ORDER BY id")
        .map_err(s)?;
    let reopens: Vec<(String, String, String, i64, String)> = st
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .map_err(s)?
        .collect::<Result<_, _>>()
        .map_err(s)?;
    for (at, who, p, run, reason) in reopens {
        if only.is_none_or(|o| Period::parse(o).is_ok_and(|o| o.to_string() == p)) {
            let _ = writeln!(
                out,
                "reopened {p} (paid by run {run}) by {who} at {at}: \"{reason}\""
            );
        }
    }
    Ok(out)
}

fn run_line(r: &RunRow) -> String {
    let mut line = format!(
        "run {:<4} {:<7} {:<10} {} {}  total {} {}  by {} at {}",
        r.id,
        r.kind,
        r.status,
        r.pack.0,
        r.pack.1,
        r.total.as_deref().unwrap_or("-"),
        r.currency,
        r.who,
        r.created
    );
    if let Some((by, at)) = &r.approved {
        let _ = write!(line, "; approved by {by} at {at}");
    }
    if let Some(of) = r.retro_of {
        let _ = write!(line, "; recalculates paid run {of}");
    }
    if let Some(e) = &r.error {
        let _ = write!(line, "; failed: {e}");
    }
    line
}

/// `show RUN [--lines]`: the run, its payouts by kind, its true-ups, and with `lines` every
/// line.
pub fn show(ledger: &Ledger, id: i64, lines: bool) -> Result<String, Error> {
    let conn = ledger.conn();
    let shown = &ledger.shown;
    let s = |e| sql(shown, e);
    let r = run_row(conn, shown, id)?;
    let mut out = String::new();
    let _ = writeln!(out, "{} {}", r.period, run_line(&r));
    let (inputs_hash, outputs_hash, out_dir): (String, Option<String>, Option<String>) = conn
        .query_row(
            "SELECT inputs_hash, outputs_hash, out_dir FROM runs WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(s)?;
    let _ = writeln!(
        out,
        "inputs sha256 {inputs_hash}; outputs sha256 {}; written to {}",
        outputs_hash.unwrap_or_else(|| "-".into()),
        out_dir.unwrap_or_else(|| "-".into())
    );
    let mut st = conn
        .prepare("SELECT manager_id, name, computed, payout FROM run_managers WHERE run_id = ?1 ORDER BY manager_id")
        .map_err(s)?;
    let managers: Vec<(String, String, String, String)> = st
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .map_err(s)?
        .collect::<Result<_, _>>()
        .map_err(s)?;
    if !managers.is_empty() {
        let _ = writeln!(
            out,
            "{:<10} {:>14} {:>14} {:>14}  settlement",
            "manager", "computed", "payout", "draw balance"
        );
    }
    let mut lq = conn
        .prepare("SELECT seq, kind, settlement, label, kpi, amount, note, ref_period, ref_run FROM run_lines WHERE run_id = ?1 AND manager_id = ?2 ORDER BY seq")
        .map_err(s)?;
    for (m, _name, computed, payout) in managers {
        type Line = (
            i64,
            String,
            bool,
            String,
            Option<String>,
            String,
            String,
            Option<String>,
            Option<i64>,
        );
        let ls: Vec<Line> = lq
            .query_map(params![id, m], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            })
            .map_err(s)?
            .collect::<Result<_, _>>()
            .map_err(s)?;
        let settlement: Vec<String> = ls
            .iter()
            .filter(|l| l.2)
            .map(|l| format!("{} {}", l.1, l.5))
            .collect();
        let mut balance = draw_balance(conn, shown, &m)?;
        balance.rescale(crate::money::Currency::known_minor_units(&r.currency).unwrap_or(2));
        let _ = writeln!(
            out,
            "{m:<10} {computed:>14} {payout:>14} {balance:>14}  {}",
            settlement.join(", ")
        );
        if lines {
            for (seq, kind, _, label, kpi, amount, note, ref_period, ref_run) in ls {
                let _ = write!(
                    out,
                    "  {seq:>3} {kind:<12} {:<10} {amount:>14}  {label}",
                    kpi.unwrap_or_default()
                );
                if let (Some(p), Some(r)) = (ref_period, ref_run) {
                    let _ = write!(out, " [{p}, paid run {r}]");
                }
                let _ = writeln!(
                    out,
                    "{}",
                    if note.is_empty() {
                        String::new()
                    } else {
                        format!(" ({note})")
                    }
                );
            }
        }
    }
    let mut st = conn
        .prepare("SELECT manager_id, kind, kpi, label, amount, status, settled_run FROM true_ups WHERE retro_run = ?1 ORDER BY id")
        .map_err(s)?;
    type TrueUp = (
        String,
        String,
        Option<String>,
        String,
        String,
        String,
        Option<i64>,
    );
    let ups: Vec<TrueUp> = st
        .query_map([id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .map_err(s)?
        .collect::<Result<_, _>>()
        .map_err(s)?;
    if !ups.is_empty() {
        let _ = writeln!(
            out,
            "true-ups against paid run {}:",
            r.retro_of.unwrap_or_default()
        );
        for (m, kind, kpi, label, amount, status, settled) in ups {
            let _ = writeln!(
                out,
                "  {m:<10} {kind:<12} {:<10} {amount:>14}  {label}  [{status}{}]",
                kpi.unwrap_or_default(),
                settled.map(|r| format!(" by run {r}")).unwrap_or_default()
            );
        }
    }
    Ok(out)
}
