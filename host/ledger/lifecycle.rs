//! The steps of the period-end cycle after `run`: `approve`, `close` and `reopen`. Each
//! reads, checks and writes inside one IMMEDIATE transaction, so two processes never both
//! close a period, and a refused step or a kill changes nothing. Each step is an event in
//! the append-only log.

use super::record::read_carry_now;
use super::{dec_checked, kill_point, now, period_row, sql, Ledger};
use crate::error::Error;
use crate::money::ExactSum;
use crate::period::Period;
use rusqlite::{params, Connection, OptionalExtension};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// One run's row, as the steps need it.
#[derive(Clone, Debug)]
pub struct RunRow {
    /// Run id.
    pub id: i64,
    /// Its period.
    pub period: String,
    /// `regular` or `retro`.
    pub kind: String,
    /// `draft`, `approved`, `failed` or `superseded`.
    pub status: String,
    /// For a retro run: the paid run it recalculated.
    pub retro_of: Option<i64>,
    /// Pack name and version.
    pub pack: (String, String),
    /// Total payout, as decimal text.
    pub total: Option<String>,
    /// The pack's currency.
    pub currency: String,
    /// Who ran it, and when.
    pub who: String,
    /// When it was recorded.
    pub created: String,
    /// Who approved it, and when.
    pub approved: Option<(String, String)>,
    /// The error of a failed run.
    pub error: Option<String>,
}

/// Reads one run, or says which runs exist.
pub fn run_row(conn: &Connection, shown: &str, id: i64) -> Result<RunRow, Error> {
    let s = |e| sql(shown, e);
    let row = conn
        .query_row(
            "SELECT id, period, kind, status, retro_of, pack_name, pack_version, total, currency, who, created, approved_by, approved_at, error FROM runs WHERE id = ?1",
            [id],
            |r| {
                let by: Option<String> = r.get(11)?;
                let at: Option<String> = r.get(12)?;
                Ok(RunRow {
                    id: r.get(0)?,
                    period: r.get(1)?,
                    kind: r.get(2)?,
                    status: r.get(3)?,
                    retro_of: r.get(4)?,
                    pack: (r.get(5)?, r.get(6)?),
                    total: r.get(7)?,
                    currency: r.get(8)?,
                    who: r.get(9)?,
                    created: r.get(10)?,
                    approved: by.zip(at),
                    error: r.get(13)?,
                })
            },
        )
        .optional()
        .map_err(s)?;
    if let Some(row) = row {
        return Ok(row);
    }
    let mut st = conn
        .prepare("SELECT id FROM runs ORDER BY id DESC LIMIT 3")
        .map_err(s)?;
    let latest: Vec<i64> = st
        .query_map([], |r| r.get(0))
        .map_err(s)?
        .collect::<Result<_, _>>()
        .map_err(s)?;
    let latest: Vec<String> = latest.iter().rev().map(i64::to_string).collect();
    Err(Error::Ledger(if latest.is_empty() {
        format!("no run {id} in the ledger {shown}: it holds no runs yet")
    } else {
        format!(
            "no run {id} in the ledger {shown}; its latest runs are {} (bonusrun history lists them all)",
            latest.join(", ")
        )
    }))
}

fn closed_by(conn: &Connection, period: &str) -> rusqlite::Result<Option<(i64, String, String)>> {
    Ok(period_row(conn, period)?.and_then(|(status, run, by, at)| {
        (status == "closed").then(|| {
            (
                run.unwrap_or(0),
                by.unwrap_or_default(),
                at.unwrap_or_default(),
            )
        })
    }))
}

/// `approve RUN --by NAME`. Returns the sentence to print.
pub fn approve(ledger: &mut Ledger, id: i64, by: &str) -> Result<String, Error> {
    let shown = ledger.shown.clone();
    let s = |e| sql(&shown, e);
    let tx = ledger.write()?;
    let run = run_row(&tx, &shown, id)?;
    let refuse = |m: String| Err(Error::Ledger(format!("{m}; nothing was changed")));
    match run.status.as_str() {
        "failed" => {
            return refuse(format!(
                "run {id} failed and cannot be approved: it stopped with \"{}\"; fix the cause and run again",
                run.error.as_deref().unwrap_or("?")
            ))
        }
        "approved" => {
            let (who, at) = run.approved.clone().unwrap_or_default();
            return refuse(format!("run {id} is already approved (by {who} at {at})"));
        }
        "superseded" => {
            return refuse(format!(
                "run {id} was superseded when {} was closed with another run; only a run of an open period can be approved",
                run.period
            ))
        }
        _ => {}
    }
    let closed = closed_by(&tx, &run.period).map_err(s)?;
    if run.kind == "regular" {
        if let Some((paid, ..)) = closed {
            return refuse(format!(
                "run {id} is for {}, which is closed (paid run {paid}); run it again with --retro to correct it",
                run.period
            ));
        }
    } else {
        let against = run.retro_of.unwrap_or(0);
        if closed.as_ref().map(|c| c.0) != Some(against) {
            return refuse(format!(
                "retro run {id} recalculated {} against paid run {against}, but {} is no longer paid by run {against}; run --retro again",
                run.period, run.period
            ));
        }
        check_no_later_retro(&tx, &shown, &run)?;
        tx.execute(
            "UPDATE true_ups SET status = 'pending' WHERE retro_run = ?1 AND status = 'proposed'",
            [id],
        )
        .map_err(s)?;
    }
    let at = now();
    tx.execute(
        "UPDATE runs SET status = 'approved', approved_by = ?2, approved_at = ?3 WHERE id = ?1",
        params![id, by, at],
    )
    .map_err(s)?;
    tx.execute(
        "INSERT INTO events(at, who, action, period, run_id) VALUES (?1, ?2, 'approve', ?3, ?4)",
        params![at, by, run.period, id],
    )
    .map_err(s)?;
    kill_point("approve:in-txn");
    tx.commit().map_err(s)?;
    Ok(format!(
        "Approved {}run {id} ({}, {} {}, total {} {}) by {by}",
        if run.kind == "retro" { "retro " } else { "" },
        run.period,
        run.pack.0,
        run.pack.1,
        run.total.unwrap_or_default(),
        run.currency
    ))
}

/// Two retro runs of one period computed against the same state would pay their
/// differences twice: the second approval is refused.
fn check_no_later_retro(conn: &Connection, shown: &str, run: &RunRow) -> Result<(), Error> {
    let other: Option<i64> = conn
        .query_row(
            "SELECT e.run_id FROM events e JOIN runs r ON r.id = e.run_id
             WHERE e.action = 'approve' AND r.kind = 'retro' AND r.period = ?1 AND r.id != ?2
               AND e.id > (SELECT min(id) FROM events WHERE run_id = ?2 AND action = 'run')
             LIMIT 1",
            params![run.period, run.id],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| sql(shown, e))?;
    match other {
        Some(o) => Err(Error::Ledger(format!(
            "retro run {o} of {} was approved after retro run {} was computed, so approving {} would pay the same differences twice; run --retro again; nothing was changed",
            run.period, run.id, run.id
        ))),
        None => Ok(()),
    }
}

/// What `close` checks and moves.
pub struct CloseArgs<'a> {
    /// The period.
    pub period: &'a str,
    /// The approved run to pay.
    pub run: i64,
    /// Who closes.
    pub by: &'a str,
    /// `--pack-change REASON`: the year's earlier periods were paid under another version.
    pub pack_change: Option<&'a str>,
}

/// `close PERIOD --run RUN --by NAME`. Returns the sentence to print.
pub fn close(ledger: &mut Ledger, a: &CloseArgs) -> Result<String, Error> {
    let shown = ledger.shown.clone();
    let s = |e| sql(&shown, e);
    let period = Period::parse(a.period).map_err(|e| Error::Usage(format!("PERIOD: {e}")))?;
    let p = period.to_string();
    let tx = ledger.write()?;
    let refuse = |m: String| Err(Error::Ledger(format!("{m}; nothing was changed")));
    if let Some((paid, by, at)) = closed_by(&tx, &p).map_err(s)? {
        return refuse(format!(
            "{p} is already closed (paid run {paid}, closed by {by} at {at})"
        ));
    }
    let run = run_row(&tx, &shown, a.run)?;
    let id = run.id;
    if run.period != p {
        return refuse(format!("run {id} is for {}, not {p}", run.period));
    }
    if run.kind == "retro" {
        return refuse(format!(
            "run {id} is a retro run; a retro run is never paid: approve it, and its true-ups are paid by the next open period"
        ));
    }
    match run.status.as_str() {
        "draft" => return refuse(format!(
            "run {id} is a draft; only an approved run can be closed: bonusrun approve {id} --by NAME first"
        )),
        "failed" => return refuse(format!("run {id} failed; only an approved run can be closed")),
        "superseded" => return refuse(format!("run {id} was superseded; only an approved run can be closed")),
        _ => {}
    }
    let newer: Option<i64> = tx
        .query_row(
            "SELECT max(id) FROM runs WHERE period = ?1 AND kind = 'regular' AND status = 'approved'",
            [&p],
            |r| r.get(0),
        )
        .map_err(s)?;
    if let Some(n) = newer.filter(|n| *n != id) {
        return refuse(format!(
            "run {id} is not the latest approved run of {p} (run {n} is); close with --run {n}"
        ));
    }
    check_order(&tx, &shown, period)?;
    check_pack_version(&tx, &shown, period, &run, a.pack_change)?;
    check_state_unchanged(&tx, &shown, period, id)?;
    let totals = reconcile(&tx, &shown, id, run.total.as_deref().unwrap_or(""))?;
    let at = now();
    tx.execute(
        "INSERT INTO events(at, who, action, period, run_id, reason, detail) VALUES (?1, ?2, 'close', ?3, ?4, ?5, ?6)",
        params![at, a.by, p, id, a.pack_change, serde_json::json!({"totals": totals}).to_string()],
    )
    .map_err(s)?;
    let event = tx.last_insert_rowid();
    move_draws(&tx, &shown, &p, id, event)?;
    tx.execute(
        "UPDATE true_ups SET status = 'settled', settled_run = ?1 WHERE id IN (SELECT true_up FROM run_lines WHERE run_id = ?1 AND true_up IS NOT NULL)",
        [id],
    )
    .map_err(s)?;
    tx.execute(
        "INSERT INTO periods(period, status, paid_run, closed_by, closed_at) VALUES (?1, 'closed', ?2, ?3, ?4)
         ON CONFLICT(period) DO UPDATE SET status = 'closed', paid_run = ?2, closed_by = ?3, closed_at = ?4",
        params![p, id, a.by, at],
    )
    .map_err(s)?;
    let superseded = tx
        .execute(
            "UPDATE runs SET status = 'superseded' WHERE period = ?1 AND kind = 'regular' AND id != ?2 AND status IN ('draft', 'approved')",
            params![p, id],
        )
        .map_err(s)?;
    kill_point("close:in-txn");
    tx.commit().map_err(s)?;
    Ok(format!(
        "Closed {p}: run {id} is the paid run (total {} {}), closed by {} at {at}{}",
        run.total.unwrap_or_default(),
        run.currency,
        a.by,
        if superseded > 0 {
            format!("; {superseded} other run(s) of {p} are superseded")
        } else {
            String::new()
        }
    ))
}

/// Periods close in order: an earlier period with an approved run must be closed first (a
/// draft alone, perhaps a run of the wrong period, holds nothing up), and none after this
/// one may be closed yet (balances carry forward in order).
fn check_order(conn: &Connection, shown: &str, period: Period) -> Result<(), Error> {
    let s = |e| sql(shown, e);
    let mut st = conn
        .prepare(
            "SELECT DISTINCT r.period, coalesce(p.status, 'open') FROM runs r LEFT JOIN periods p ON p.period = r.period WHERE r.kind = 'regular' AND r.status = 'approved'",
        )
        .map_err(s)?;
    let rows: Vec<(String, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(s)?
        .collect::<Result<_, _>>()
        .map_err(s)?;
    for (q, status) in rows {
        let Ok(q) = Period::parse(&q) else { continue };
        if q.start_date() < period.start_date() && status != "closed" {
            return Err(Error::Ledger(format!(
                "{q} is not closed, and {period} comes after it; close the periods in order; nothing was changed"
            )));
        }
        if q.start_date() > period.start_date() && status == "closed" {
            return Err(Error::Ledger(format!(
                "{q} is closed and comes after {period}; close the periods in order (reopen {q} first); nothing was changed"
            )));
        }
    }
    Ok(())
}

/// A period of a year whose other periods were paid under another pack version needs
/// `--pack-change REASON`.
fn check_pack_version(
    conn: &Connection,
    shown: &str,
    period: Period,
    run: &RunRow,
    pack_change: Option<&str>,
) -> Result<(), Error> {
    let year = period.start_date().ymd().0;
    let mut st = conn
        .prepare("SELECT p.period, r.pack_version FROM periods p JOIN runs r ON r.id = p.paid_run WHERE p.status = 'closed'")
        .map_err(|e| sql(shown, e))?;
    let rows: Vec<(String, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(|e| sql(shown, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| sql(shown, e))?;
    for (q, version) in rows {
        let same_year = Period::parse(&q).is_ok_and(|q| q.start_date().ymd().0 == year);
        if same_year && version != run.pack.1 && pack_change.is_none() {
            return Err(Error::Ledger(format!(
                "run {} was made with pack {} version {}, but {q} of the same year was paid with version {version}; closing with another version of the regulation needs --pack-change REASON; nothing was changed",
                run.id, run.pack.0, run.pack.1
            )));
        }
    }
    Ok(())
}

/// The state the run read (history, draw balances, pending true-ups) must still be the
/// ledger's: otherwise it would pay against a past that changed.
fn check_state_unchanged(
    conn: &Connection,
    shown: &str,
    period: Period,
    id: i64,
) -> Result<(), Error> {
    let text: String = conn
        .query_row("SELECT carry FROM runs WHERE id = ?1", [id], |r| r.get(0))
        .map_err(|e| sql(shown, e))?;
    let mut then: crate::ledger::carry::Carry = serde_json::from_str(&text).unwrap_or_default();
    let mut today = read_carry_now(conn, period).map_err(|e| sql(shown, e))?;
    then.as_of_event = 0;
    today.as_of_event = 0;
    if then != today {
        return Err(Error::Ledger(format!(
            "run {id} was computed against a ledger state that has changed since (a period was closed or reopened, or a retro run approved); run {period} again, approve and close that run; nothing was changed"
        )));
    }
    Ok(())
}

/// Per manager: payout = computed + every settlement kind, lines sum to the payout and
/// payouts to the total, exactly. Returns the totals by kind, for the close event.
fn reconcile(
    conn: &Connection,
    shown: &str,
    id: i64,
    total: &str,
) -> Result<BTreeMap<String, String>, Error> {
    let s = |e| sql(shown, e);
    let d = |what: &str, t: &str| dec_checked(shown, what, t);
    let mut st = conn
        .prepare("SELECT manager_id, computed, payout FROM run_managers WHERE run_id = ?1 ORDER BY manager_id")
        .map_err(s)?;
    let managers: Vec<(String, String, String)> = st
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(s)?
        .collect::<Result<_, _>>()
        .map_err(s)?;
    let mut st = conn
        .prepare(
            "SELECT kind, settlement, amount FROM run_lines WHERE run_id = ?1 AND manager_id = ?2",
        )
        .map_err(s)?;
    let mut grand = ExactSum::default();
    let mut by_kind: BTreeMap<String, ExactSum> = BTreeMap::new();
    for (m, computed, payout) in managers {
        let lines: Vec<(String, bool, String)> = st
            .query_map(params![id, m], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(s)?
            .collect::<Result<_, _>>()
            .map_err(s)?;
        let (mut rules, mut all) = (ExactSum::default(), ExactSum::default());
        for (kind, settlement, amount) in &lines {
            let a = d("a line amount", amount)?;
            all.add(a);
            if *settlement {
                by_kind.entry(kind.clone()).or_default().add(a);
            } else {
                rules.add(a);
                by_kind.entry("computed".into()).or_default().add(a);
            }
        }
        let (computed, payout) = (d("computed", &computed)?, d("a payout", &payout)?);
        if rules.to_decimal() != Some(computed) || all.to_decimal() != Some(payout) {
            return Err(Error::Ledger(format!(
                "cannot close: manager {m}: the lines of run {id} sum to {} (rules {}), but its payout is {payout} (computed {computed}); the ledger was edited or damaged; nothing was changed",
                all.to_decimal().unwrap_or_default(),
                rules.to_decimal().unwrap_or_default()
            )));
        }
        grand.add(payout);
    }
    let total = d("the total", total)?;
    if grand.to_decimal() != Some(total) {
        return Err(Error::Ledger(format!(
            "cannot close: the payouts of run {id} sum to {}, but its total is {total}; nothing was changed",
            grand.to_decimal().unwrap_or_default()
        )));
    }
    Ok(by_kind
        .into_iter()
        .map(|(k, v)| (k, v.to_decimal().unwrap_or_default().to_string()))
        .collect())
}

/// A manager's draw balance: the sum of every movement.
pub fn draw_balance(conn: &Connection, shown: &str, manager: &str) -> Result<Decimal, Error> {
    let mut st = conn
        .prepare("SELECT advance, recovery FROM draw_movements WHERE manager_id = ?1")
        .map_err(|e| sql(shown, e))?;
    let rows: Vec<(String, String)> = st
        .query_map([manager], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(|e| sql(shown, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| sql(shown, e))?;
    let mut b = ExactSum::default();
    for (a, r) in rows {
        b.add(dec_checked(shown, "a draw", &a)?);
        b.sub(dec_checked(shown, "a recovery", &r)?);
    }
    super::exact(b).map_err(|e| sql(shown, e))
}

/// Appends a draw movement for each manager whose paid run has draw or recovery lines.
fn move_draws(
    conn: &Connection,
    shown: &str,
    period: &str,
    id: i64,
    event: i64,
) -> Result<(), Error> {
    let s = |e| sql(shown, e);
    let mut st = conn
        .prepare("SELECT manager_id, kind, amount FROM run_lines WHERE run_id = ?1 AND settlement = 1 AND kind IN ('draw', 'recovery') ORDER BY manager_id, seq")
        .map_err(s)?;
    let rows: Vec<(String, String, String)> = st
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(s)?
        .collect::<Result<_, _>>()
        .map_err(s)?;
    let mut per: BTreeMap<String, (ExactSum, ExactSum)> = BTreeMap::new();
    for (m, kind, amount) in rows {
        let a = dec_checked(shown, "a draw line", &amount)?;
        let e = per.entry(m).or_default();
        if kind == "draw" {
            e.0.add(a);
        } else {
            e.1.sub(a); // recovery lines are negative
        }
    }
    for (m, (advance, recovery)) in per {
        let (advance, recovery) = (
            super::exact(advance).map_err(s)?,
            super::exact(recovery).map_err(s)?,
        );
        let before = draw_balance(conn, shown, &m)?;
        let after = before
            .checked_add(advance)
            .and_then(|b| b.checked_sub(recovery))
            .ok_or_else(|| {
                Error::Ledger(format!(
                    "cannot close {period}: manager {m}: the draw balance {before} + {advance} - {recovery} does not fit a decimal; nothing was changed"
                ))
            })?;
        if after < Decimal::ZERO {
            return Err(Error::Ledger(format!(
                "cannot close {period}: manager {m}: the draw balance would go below zero ({before} + {advance} - {recovery} = {after}); nothing was changed"
            )));
        }
        conn.execute(
            "INSERT INTO draw_movements(manager_id, period, run_id, event_id, advance, recovery, balance_after) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![m, period, id, event, advance.to_string(), recovery.to_string(), after.to_string()],
        )
        .map_err(s)?;
    }
    Ok(())
}

/// `reopen PERIOD --reason TEXT --by NAME`. Returns the sentence to print.
pub fn reopen(ledger: &mut Ledger, period: &str, reason: &str, by: &str) -> Result<String, Error> {
    let shown = ledger.shown.clone();
    let s = |e| sql(&shown, e);
    let period = Period::parse(period).map_err(|e| Error::Usage(format!("PERIOD: {e}")))?;
    let p = period.to_string();
    let tx = ledger.write()?;
    let Some((paid, ..)) = closed_by(&tx, &p).map_err(s)? else {
        return Err(Error::Ledger(format!(
            "{p} is not closed; nothing to reopen; nothing was changed"
        )));
    };
    let mut st = tx
        .prepare("SELECT period FROM periods WHERE status = 'closed'")
        .map_err(s)?;
    let closed: Vec<String> = st
        .query_map([], |r| r.get(0))
        .map_err(s)?
        .collect::<Result<_, _>>()
        .map_err(s)?;
    drop(st);
    if let Some(later) = closed
        .iter()
        .filter_map(|q| Period::parse(q).ok())
        .filter(|q| q.start_date() > period.start_date())
        .min_by_key(|q| q.start_date())
    {
        return Err(Error::Ledger(format!(
            "{later} is closed and comes after {p}, so it carries balances from it; reopen {later} first; nothing was changed"
        )));
    }
    let at = now();
    tx.execute(
        "INSERT INTO events(at, who, action, period, run_id, reason) VALUES (?1, ?2, 'reopen', ?3, ?4, ?5)",
        params![at, by, p, paid, reason],
    )
    .map_err(s)?;
    let event = tx.last_insert_rowid();
    reverse_draws(&tx, &shown, paid, event)?;
    tx.execute(
        "UPDATE true_ups SET status = 'pending', settled_run = NULL WHERE settled_run = ?1",
        [paid],
    )
    .map_err(s)?;
    tx.execute(
        "UPDATE periods SET status = 'open', paid_run = NULL WHERE period = ?1",
        [&p],
    )
    .map_err(s)?;
    kill_point("reopen:in-txn");
    tx.commit().map_err(s)?;
    Ok(format!(
        "Reopened {p} (was paid by run {paid}); this is logged: \"{reason}\", {by}, {at}"
    ))
}

/// Appends, for each draw movement of the paid run, one that reverses it.
fn reverse_draws(conn: &Connection, shown: &str, paid: i64, event: i64) -> Result<(), Error> {
    let s = |e| sql(shown, e);
    let mut st = conn
        .prepare("SELECT manager_id, period, advance, recovery FROM draw_movements WHERE run_id = ?1 ORDER BY id")
        .map_err(s)?;
    let rows: Vec<(String, String, String, String)> = st
        .query_map([paid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .map_err(s)?
        .collect::<Result<_, _>>()
        .map_err(s)?;
    let mut net: BTreeMap<(String, String), (ExactSum, ExactSum)> = BTreeMap::new();
    for (m, p, a, r) in rows {
        let e = net.entry((m, p)).or_default();
        e.0.add(dec_checked(shown, "a draw", &a)?);
        e.1.add(dec_checked(shown, "a recovery", &r)?);
    }
    for ((m, p), (a, r)) in net {
        let (a, r) = (super::exact(a).map_err(s)?, super::exact(r).map_err(s)?);
        if a.is_zero() && r.is_zero() {
            continue; // reversed already by an earlier reopen
        }
        let before = draw_balance(conn, shown, &m)?;
        let after = before.checked_sub(a).and_then(|b| b.checked_add(r)).ok_or_else(|| {
            Error::Ledger(format!(
                "cannot reopen: manager {m}: the draw balance {before} - {a} + {r} does not fit a decimal; nothing was changed"
            ))
        })?;
        conn.execute(
            "INSERT INTO draw_movements(manager_id, period, run_id, event_id, advance, recovery, balance_after) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![m, p, paid, event, neg(a).to_string(), neg(r).to_string(), after.to_string()],
        )
        .map_err(s)?;
    }
    Ok(())
}

/// `-d`, without a negative zero.
fn neg(d: Decimal) -> Decimal {
    if d.is_zero() {
        Decimal::ZERO
    } else {
        -d
    }
}
