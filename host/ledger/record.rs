//! A run and the ledger: before the rules run, [`Recorder::carry`] reads what the ledger
//! knows for the period (and refuses a closed one); after the outputs are staged,
//! [`Recorder::record`] writes the run as a draft in one transaction, inside which
//! `run.json` is written, so a kill leaves either no run or a run with its outputs staged.

use super::carry::{Carry, PendingTrueUp, SeenSales};
use super::{dec, exact, kill_point, last_event, now, period_row, sql, Ledger};
use crate::error::Error;
use crate::evaluate::{CarrySource, PayoutLine, RunResult};
use crate::load::{Dataset, LoadError};
use crate::money::ExactSum;
use crate::period::Period;
use crate::rules::RulePack;
use rusqlite::{params, Connection, OptionalExtension};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// How the run was asked for, so that `verify` can run it again the same way (paths as
/// given, from the same working directory, so that every file is shown as it was).
#[derive(Clone, Debug, Default)]
pub struct Invocation {
    /// `--rules` as given; `None`: the bundled example.
    pub rules: Option<String>,
    /// `--data` as given; `None`: the pack's data.
    pub data: Option<String>,
    /// The working directory.
    pub cwd: Option<String>,
    /// Whether `--period` was given.
    pub period_given: bool,
    /// `--out`.
    pub out: String,
}

/// What [`Recorder::carry`] found, for [`Recorder::record`].
#[derive(Clone, Debug)]
struct Seen {
    period: Period,
    as_of: i64,
    paid_run: Option<i64>,
}

/// A difference a retro run found against the paid run.
#[derive(Clone, Debug)]
pub struct Difference {
    /// The manager.
    pub manager: String,
    /// The line's kind, KPI and label.
    pub kind: String,
    /// The line's KPI.
    pub kpi: Option<String>,
    /// The line's label.
    pub label: String,
    /// What the paid run paid (with earlier true-ups of the period).
    pub paid: Decimal,
    /// What the retro run computes.
    pub now: Decimal,
    /// The true-up: `now - paid`.
    pub amount: Decimal,
}

/// A run's link to the ledger.
pub struct Recorder {
    ledger: Mutex<Ledger>,
    /// `--retro`: recalculate a closed period.
    pub retro: bool,
    /// `--by`.
    pub who: String,
    /// How the run was asked for.
    pub invocation: Invocation,
    seen: Mutex<Option<Seen>>,
    /// Wall time spent reading the ledger and recording the run (`run --timings`).
    spent: Mutex<[std::time::Duration; 2]>,
}

impl Recorder {
    /// A recorder on an open ledger.
    pub fn new(ledger: Ledger, retro: bool, who: String, invocation: Invocation) -> Recorder {
        Recorder {
            ledger: Mutex::new(ledger),
            retro,
            who,
            invocation,
            seen: Mutex::new(None),
            spent: Mutex::default(),
        }
    }

    /// The ledger file, as shown.
    pub fn shown(&self) -> String {
        self.lock().shown.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl CarrySource for Recorder {
    fn late_periods(&self, period: Period) -> Result<Vec<Period>, Error> {
        let ledger = self.lock();
        closed_in_year_before(ledger.conn(), period).map_err(|e| sql(&ledger.shown, e))
    }

    fn carry(&self, period: Period, pack: &RulePack, data: &Dataset) -> Result<Carry, Error> {
        let started = std::time::Instant::now();
        let carry = self.read(period, pack, data);
        self.spent.lock().unwrap_or_else(|p| p.into_inner())[0] += started.elapsed();
        carry
    }
}

impl Recorder {
    /// Wall time spent reading the ledger before the rules and recording the run after.
    pub fn spent(&self) -> [std::time::Duration; 2] {
        *self.spent.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self, period: Period, pack: &RulePack, data: &Dataset) -> Result<Carry, Error> {
        let ledger = self.lock();
        let conn = ledger.conn();
        let shown = &ledger.shown;
        let s = |e| sql(shown, e);
        check_pack(conn, shown, &pack.manifest.pack.name).map_err(s)??;
        let as_of = last_event(conn).map_err(s)?;
        let row = period_row(conn, &period.to_string()).map_err(s)?;
        let paid_run = match (&row, self.retro) {
            (Some((st, Some(run), by, at)), false) if st == "closed" => {
                return Err(Error::Ledger(format!(
                    "{period} is closed: run {run} was paid, closed by {} at {}; to recalculate it with today's data use --retro (the differences become true-ups paid in the next open period), or reopen it: bonusrun reopen {period} --reason TEXT --by NAME",
                    by.as_deref().unwrap_or("?"),
                    at.as_deref().unwrap_or("?")
                )))
            }
            (Some((st, Some(run), _, _)), true) if st == "closed" => Some(*run),
            (_, true) => {
                return Err(Error::Usage(format!(
                    "--retro recalculates a closed period, and {period} is open in the ledger {shown}; run it without --retro"
                )))
            }
            _ => None,
        };
        check_adjustments(conn, shown, period, data, self.retro).map_err(s)??;
        let carry = match paid_run {
            Some(run) => paid_carry(conn, shown, run)?,
            None => read_carry(conn, period, as_of).map_err(s)?,
        };
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(Seen {
            period,
            as_of,
            paid_run,
        });
        Ok(carry)
    }
}

fn check_pack(conn: &Connection, shown: &str, name: &str) -> rusqlite::Result<Result<(), Error>> {
    let held: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'pack_name'", [], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(match held {
        Some(h) if h != name => Err(Error::Ledger(format!(
            "the ledger {shown} holds runs of pack '{h}', not '{name}'; give each pack its own --ledger"
        ))),
        _ => Ok(()),
    })
}

/// The closed periods, latest last.
fn closed_periods(conn: &Connection) -> rusqlite::Result<Vec<(Period, i64, String, String)>> {
    let mut st = conn.prepare(
        "SELECT period, paid_run, coalesce(closed_by, ''), coalesce(closed_at, '') FROM periods WHERE status = 'closed'",
    )?;
    let rows = st.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (p, run, by, at) = row?;
        if let Ok(p) = Period::parse(&p) {
            out.push((p, run, by, at));
        }
    }
    out.sort_by_key(|(p, ..)| p.start_date());
    Ok(out)
}

/// An adjustment for a closed period is refused, unless its paid run paid it already.
fn check_adjustments(
    conn: &Connection,
    shown: &str,
    period: Period,
    data: &Dataset,
    retro: bool,
) -> rusqlite::Result<Result<(), Error>> {
    let closed = closed_periods(conn)?;
    let next_open = closed.last().map_or(period, |(p, ..)| p.next());
    for a in &data.adjustments {
        let Some((p, run, by, at)) = closed.iter().find(|(p, ..)| *p == a.period) else {
            continue;
        };
        if retro && *p == period {
            continue;
        }
        let id = &data.managers[a.manager as usize].id;
        let paid: i64 = conn.query_row(
            "SELECT count(*) FROM run_lines WHERE run_id = ?1 AND manager_id = ?2 AND settlement = 1 AND approved_by IS NOT NULL AND label = ?3 AND amount_exact = ?4",
            params![run, id, a.reason, a.amount.to_string()],
            |r| r.get(0),
        )?;
        if paid == 0 {
            return Ok(Err(LoadError::field(
                &data.adjustments_file,
                a.line,
                "period",
                format!(
                    "{p} is closed (paid run {run}, closed by {by} at {at}) and its paid run did not pay this adjustment; put it in the next open period, {next_open} (ledger {shown})"
                ),
            )
            .into()));
        }
    }
    Ok(Ok(()))
}

/// The state for a regular run of `period`: closed periods before it, draw balances
/// (movements of closed periods before it) and pending true-ups of earlier periods.
fn read_carry(conn: &Connection, period: Period, as_of: i64) -> rusqlite::Result<Carry> {
    let mut carry = Carry {
        attached: true,
        as_of_event: as_of,
        managers: BTreeMap::new(),
    };
    let before = |p: &str| Period::parse(p).is_ok_and(|p| p.start_date() < period.start_date());
    let mut st = conn.prepare(
        "SELECT p.period, m.manager_id, m.payout, m.computed FROM periods p JOIN run_managers m ON m.run_id = p.paid_run WHERE p.status = 'closed'",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    for row in rows {
        let (p, id, payout, computed) = row?;
        if before(&p) {
            let m = carry.managers.entry(id).or_default();
            m.paid.insert(p.clone(), dec(&payout)?);
            m.computed.insert(p, dec(&computed)?);
        }
    }
    let mut st = conn.prepare(
        "SELECT p.period, k.manager_id, k.kpi, k.value, k.target FROM periods p JOIN run_kpis k ON k.run_id = p.paid_run WHERE p.status = 'closed'",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
        ))
    })?;
    for row in rows {
        let (p, id, kpi, value, target) = row?;
        if before(&p) {
            let m = carry.managers.entry(id).or_default();
            m.kpis
                .entry(p)
                .or_default()
                .insert(kpi, (dec(&value)?, dec(&target)?));
        }
    }
    let mut st = conn.prepare(
        "SELECT p.period, l.manager_id, l.kpi, l.amount FROM periods p JOIN run_lines l ON l.run_id = p.paid_run WHERE p.status = 'closed' AND l.settlement = 0 AND l.kpi IS NOT NULL",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut sums: BTreeMap<(String, String, String), ExactSum> = BTreeMap::new();
    for row in rows {
        let (p, id, kpi, amount) = row?;
        if before(&p) {
            sums.entry((id, p, kpi)).or_default().add(dec(&amount)?);
        }
    }
    for ((id, p, kpi), sum) in sums {
        let m = carry.managers.entry(id).or_default();
        m.contributions
            .entry(p)
            .or_default()
            .insert(kpi, exact(sum)?);
    }
    read_seen_previous(conn, period, &mut carry)?;
    let mut st = conn
        .prepare("SELECT manager_id, period, advance, recovery FROM draw_movements ORDER BY id")?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut balances: BTreeMap<String, ExactSum> = BTreeMap::new();
    for row in rows {
        let (id, p, advance, recovery) = row?;
        if before(&p) {
            let b = balances.entry(id).or_default();
            b.add(dec(&advance)?);
            b.sub(dec(&recovery)?);
        }
    }
    for (id, b) in balances {
        carry.managers.entry(id).or_default().draw_balance = exact(b)?;
    }
    let mut st = conn.prepare(
        "SELECT id, period, retro_run, paid_run, manager_id, kpi, kind, label, amount FROM true_ups WHERE status = 'pending' ORDER BY period, id",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(4)?,
            PendingTrueUp {
                id: r.get(0)?,
                period: r.get(1)?,
                retro_run: r.get(2)?,
                paid_run: r.get(3)?,
                kpi: r.get(5)?,
                kind: r.get(6)?,
                label: r.get(7)?,
                amount: dec(&r.get::<_, String>(8)?)?,
            },
        ))
    })?;
    for row in rows {
        let (id, t) = row?;
        if before(&t.period) {
            carry.managers.entry(id).or_default().true_ups.push(t);
        }
    }
    Ok(carry)
}

/// For each closed period of the year before `period` (the same period a year ago up to the
/// previous one): each manager's sales in it as its latest approved retro run (whose
/// true-ups pay the difference), else its paid run, saw them.
fn read_seen_previous(
    conn: &Connection,
    period: Period,
    carry: &mut Carry,
) -> rusqlite::Result<()> {
    for p in closed_in_year_before(conn, period)? {
        let (name, paid) = (p.to_string(), paid_run_of(conn, p)?);
        let Some(paid) = paid else { continue };
        let retro: Option<i64> = conn.query_row(
            "SELECT max(id) FROM runs WHERE period = ?1 AND kind = 'retro' AND status = 'approved' AND retro_of = ?2",
            params![name, paid],
            |r| r.get(0),
        )?;
        let run = retro.unwrap_or(paid);
        let mut st = conn.prepare(
            "SELECT manager_id, lines, return_lines, revenue, cost, quantity, returns FROM run_sales WHERE run_id = ?1",
        )?;
        let rows = st.query_map([run], |r| {
            Ok((
                r.get::<_, String>(0)?,
                SeenSales {
                    period: name.clone(),
                    run,
                    lines: r.get::<_, i64>(1)? as u64,
                    return_lines: r.get::<_, i64>(2)? as u64,
                    revenue: dec(&r.get::<_, String>(3)?)?,
                    cost: dec(&r.get::<_, String>(4)?)?,
                    quantity: dec(&r.get::<_, String>(5)?)?,
                    returns: dec(&r.get::<_, String>(6)?)?,
                },
            ))
        })?;
        for row in rows {
            let (id, seen) = row?;
            let m = carry.managers.entry(id).or_default();
            if p == period.previous() {
                m.seen_previous = Some(seen);
            } else {
                m.seen_earlier.push(seen);
            }
        }
    }
    Ok(())
}

/// The closed periods from the same period a year before `period` up to its previous one,
/// oldest first: where late sales are looked for.
pub fn closed_in_year_before(conn: &Connection, period: Period) -> rusqlite::Result<Vec<Period>> {
    let mut out = Vec::new();
    let mut p = period.year_ago();
    while p != period {
        if matches!(period_row(conn, &p.to_string())?, Some((status, Some(_), ..)) if status == "closed")
        {
            out.push(p);
        }
        p = p.next();
    }
    Ok(out)
}

fn paid_run_of(conn: &Connection, p: Period) -> rusqlite::Result<Option<i64>> {
    Ok(period_row(conn, &p.to_string())?.and_then(|(_, paid, ..)| paid))
}

/// The state a regular run of `period` would read now.
pub fn read_carry_now(conn: &Connection, period: Period) -> rusqlite::Result<Carry> {
    read_carry(conn, period, last_event(conn)?)
}

/// A retro run sees what the paid run saw.
fn paid_carry(conn: &Connection, shown: &str, run: i64) -> Result<Carry, Error> {
    let text: String = conn
        .query_row("SELECT carry FROM runs WHERE id = ?1", [run], |r| r.get(0))
        .map_err(|e| sql(shown, e))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::Ledger(format!(
            "the ledger {shown}: the state recorded with run {run} does not read ({e}); the file was edited or damaged"
        ))
    })
}

/// sha256 over `name:sha256` lines, sorted.
pub fn hash_list<'a>(items: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut lines: Vec<String> = items.map(|(n, h)| format!("{n}:{h}\n")).collect();
    lines.sort();
    crate::load::source_hex(&Sha256::digest(lines.concat().as_bytes()))
}

/// The outputs of run.json except run.json itself, as (path, sha256).
pub fn outputs_of(run_json: &Value) -> Vec<(String, String)> {
    run_json["outputs"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| {
                    (
                        o["path"].as_str().unwrap_or_default().to_string(),
                        o["sha256"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Recorder {
    /// Whether `run_json` (of a staging directory a dead run left) describes a run this
    /// ledger recorded with exactly those outputs: then its sentence, e.g. `run 7`.
    pub fn recorded(&self, run_json: &Value) -> Option<String> {
        let id = run_json["ledger"]["run_id"].as_i64()?;
        let outputs = outputs_of(run_json);
        let hash = hash_list(outputs.iter().map(|(p, h)| (p.as_str(), h.as_str())));
        let ledger = self.lock();
        let held: Option<String> = ledger
            .conn()
            .query_row("SELECT outputs_hash FROM runs WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .ok()?;
        (held == Some(hash)).then(|| format!("run {id} of the ledger {}", ledger.shown))
    }

    /// Records `r` as a draft, checks that the ledger did not change since
    /// [`Recorder::carry`] read it, and calls `stage` with what run.json says of the ledger
    /// before committing. Returns the run id and, for a retro run, its differences.
    pub fn record(
        &self,
        r: &RunResult,
        run_json: &Value,
        stage: &mut dyn FnMut(&Value) -> Result<(), Error>,
    ) -> Result<(i64, Vec<Difference>), Error> {
        let started = std::time::Instant::now();
        let recorded = self.record_now(r, run_json, stage);
        self.spent.lock().unwrap_or_else(|p| p.into_inner())[1] += started.elapsed();
        recorded
    }

    fn record_now(
        &self,
        r: &RunResult,
        run_json: &Value,
        stage: &mut dyn FnMut(&Value) -> Result<(), Error>,
    ) -> Result<(i64, Vec<Difference>), Error> {
        let seen = self
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| Error::Ledger("the run did not read the ledger".into()))?;
        let mut ledger = self.lock();
        let shown = ledger.shown.clone();
        let s = |e| sql(&shown, e);
        kill_point("run:staged");
        let tx = ledger.write()?;
        check_unchanged(&tx, &shown, &seen, self.retro).map_err(s)??;
        let pack = &r.pack.manifest.pack;
        tx.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('pack_name', ?1), ('currency', ?2), ('created', ?3)",
            params![pack.name, r.pack.currency.code, now()],
        )
        .map_err(s)?;
        let outputs = outputs_of(run_json);
        let id = insert_run(&tx, r, run_json, &outputs, self, &seen).map_err(s)?;
        insert_results(&tx, r, id).map_err(s)?;
        let diffs = match seen.paid_run {
            Some(paid) => retro_differences(&tx, r, id, paid, seen.period).map_err(s)?,
            None => Vec::new(),
        };
        tx.execute(
            "INSERT INTO events(at, who, action, period, run_id) VALUES (?1, ?2, 'run', ?3, ?4)",
            params![now(), self.who, seen.period.to_string(), id],
        )
        .map_err(s)?;
        stage(&json!({
            "path": shown,
            "run_id": id,
            "status": "draft",
            "kind": if self.retro { "retro" } else { "regular" },
            "schema": super::schema::VERSION,
            "as_of_event": seen.as_of,
            "retro_of": seen.paid_run,
        }))?;
        kill_point("run:in-txn");
        tx.commit().map_err(s)?;
        Ok((id, diffs))
    }

    /// Records a run that failed after the ledger was opened: a failure row, no lines.
    pub fn record_failure(&self, period: Option<Period>, error: &Error, pack: Option<&RulePack>) {
        let mut ledger = self.lock();
        let shown = ledger.shown.clone();
        let result = (|| -> rusqlite::Result<()> {
            let Ok(tx) = ledger.write() else {
                return Ok(());
            };
            let period = period.map_or("(unknown)".to_string(), |p| p.to_string());
            let (name, version) = pack.map_or(("?".to_string(), "?".to_string()), |p| {
                (
                    p.manifest.pack.name.clone(),
                    p.manifest.pack.version.clone(),
                )
            });
            tx.execute(
                "INSERT INTO runs(period, kind, status, pack_name, pack_version, pack_hash, pack_files, rules_arg, data_arg, period_given, overrides, inputs_hash, inputs, carry, currency, error, who, created)
                 VALUES (?1, ?2, 'failed', ?3, ?4, '', '[]', ?5, ?6, ?7, '[]', '', '[]', '{}', '', ?8, ?9, ?10)",
                params![
                    period,
                    if self.retro { "retro" } else { "regular" },
                    name,
                    version,
                    self.invocation.rules,
                    self.invocation.data,
                    self.invocation.period_given,
                    error.to_string(),
                    self.who,
                    now()
                ],
            )?;
            let id = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO events(at, who, action, period, run_id) VALUES (?1, ?2, 'fail', ?3, ?4)",
                params![now(), self.who, period, id],
            )?;
            tx.commit()
        })();
        if let Err(e) = result {
            eprintln!("note: the failure could not be recorded in {shown}: {e}");
        }
    }
}

/// Refuses to record when a close, reopen or approval came after the run read the ledger.
fn check_unchanged(
    conn: &Connection,
    shown: &str,
    seen: &Seen,
    retro: bool,
) -> rusqlite::Result<Result<(), Error>> {
    let later: Option<(String, String, String, Option<String>)> = conn
        .query_row(
            "SELECT action, who, at, period FROM events WHERE id > ?1 AND action IN ('close', 'reopen', 'approve') ORDER BY id LIMIT 1",
            [seen.as_of],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    if let Some((action, who, at, period)) = later {
        let what = match action.as_str() {
            "close" => format!("{} was closed", period.unwrap_or_default()),
            "reopen" => format!("{} was reopened", period.unwrap_or_default()),
            _ => "a run was approved".into(),
        };
        return Ok(Err(Error::Ledger(format!(
            "the ledger {shown} changed while this run was computed ({what} by {who} at {at}); nothing was recorded or written; run again"
        ))));
    }
    let row = period_row(conn, &seen.period.to_string())?;
    let closed = row.is_some_and(|(s, ..)| s == "closed");
    if closed != retro {
        return Ok(Err(Error::Ledger(format!(
            "the ledger {shown} changed while this run was computed ({} is now {}); nothing was recorded or written; run again",
            seen.period,
            if closed { "closed" } else { "open" }
        ))));
    }
    Ok(Ok(()))
}

fn insert_run(
    tx: &Connection,
    r: &RunResult,
    run_json: &Value,
    outputs: &[(String, String)],
    rec: &Recorder,
    seen: &Seen,
) -> rusqlite::Result<i64> {
    let pack = &r.pack;
    let files: Vec<(&str, &str)> = pack
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.sha256.as_str()))
        .collect();
    let inputs: Vec<(&str, &str)> = r
        .inputs
        .iter()
        .map(|f| (f.name.as_str(), f.sha256.as_str()))
        .collect();
    let outs = outputs.iter().map(|(p, h)| (p.as_str(), h.as_str()));
    tx.execute(
        "INSERT INTO runs(period, kind, status, retro_of, pack_name, pack_version, pack_hash, pack_files, rules_arg, data_arg, period_given, overrides, inputs_hash, inputs, outputs_hash, outputs, out_dir, carry, currency, total, who, created, cwd)
         VALUES (?1, ?2, 'draft', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
        params![
            seen.period.to_string(),
            if rec.retro { "retro" } else { "regular" },
            seen.paid_run,
            pack.manifest.pack.name,
            pack.manifest.pack.version,
            hash_list(files.iter().copied()),
            serde_json::to_string(&pack.files).unwrap_or_default(),
            rec.invocation.rules,
            rec.invocation.data,
            rec.invocation.period_given,
            serde_json::to_string(&pack.overrides).unwrap_or_default(),
            hash_list(inputs.iter().copied()),
            serde_json::to_string(&run_json["inputs"]).unwrap_or_default(),
            hash_list(outs),
            serde_json::to_string(&run_json["outputs"]).unwrap_or_default(),
            rec.invocation.out,
            serde_json::to_string(&*r.carry).unwrap_or_default(),
            pack.currency.code,
            r.total.to_string(),
            rec.who,
            now(),
            rec.invocation.cwd,
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

fn insert_results(tx: &Connection, r: &RunResult, id: i64) -> rusqlite::Result<()> {
    let mut manager = tx.prepare(
        "INSERT INTO run_managers(run_id, manager_id, name, target_bonus, computed, payout) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut sales = tx.prepare(
        "INSERT INTO run_sales(run_id, manager_id, lines, return_lines, revenue, cost, quantity, returns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut line = tx.prepare(
        "INSERT INTO run_lines(run_id, manager_id, seq, kind, settlement, label, kpi, amount, amount_exact, note, ref_period, ref_run, true_up, approved_by, source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?;
    let mut kpi = tx.prepare(
        "INSERT INTO run_kpis(run_id, manager_id, kpi, weight, value, target, attainment) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for m in &r.managers {
        let mgr = &r.data.managers[m.manager as usize];
        manager.execute(params![
            id,
            mgr.id,
            mgr.name,
            mgr.target_bonus.to_string(),
            computed(&m.lines)?.to_string(),
            m.payout.to_string()
        ])?;
        let w = &r.facts.managers[m.manager as usize].windows[crate::facts::CURRENT];
        sales.execute(params![
            id,
            mgr.id,
            w.lines as i64,
            w.return_lines as i64,
            w.revenue.to_string(),
            w.cost.to_string(),
            w.quantity.to_string(),
            w.returns.to_string()
        ])?;
        for (seq, l) in m.lines.iter().enumerate() {
            let rf = l.reference.clone().unwrap_or_default();
            line.execute(params![
                id,
                mgr.id,
                seq as i64 + 1,
                l.kind,
                l.is_settlement(),
                l.label,
                l.kpi,
                l.amount.to_string(),
                l.amount_exact.to_string(),
                l.note,
                rf.ref_period,
                rf.ref_run,
                rf.true_up,
                rf.approved_by,
                rf.source
            ])?;
        }
        for k in &m.kpis {
            kpi.execute(params![
                id,
                mgr.id,
                k.id,
                k.weight.to_string(),
                k.value.to_string(),
                k.target.to_string(),
                k.attainment.to_string()
            ])?;
        }
    }
    Ok(())
}

/// The sum of the lines the rules made (not settlement lines).
pub fn computed(lines: &[PayoutLine]) -> rusqlite::Result<Decimal> {
    let mut s = ExactSum::default();
    for l in lines.iter().filter(|l| !l.is_settlement()) {
        s.add(l.amount);
    }
    exact(s)
}

type LineKey = (String, String, Option<String>, String);

/// The retro run's lines against what the period effectively paid: the paid run's lines
/// plus the true-ups of earlier approved retro runs of the period. Each difference that is
/// not zero becomes a proposed true-up, pending once the retro run is approved.
fn retro_differences(
    tx: &Connection,
    r: &RunResult,
    id: i64,
    paid: i64,
    period: Period,
) -> rusqlite::Result<Vec<Difference>> {
    let mut before: BTreeMap<LineKey, ExactSum> = BTreeMap::new();
    let mut st =
        tx.prepare("SELECT manager_id, kind, kpi, label, amount FROM run_lines WHERE run_id = ?1")?;
    let rows = st.query_map([paid], |r| {
        Ok((
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?),
            r.get::<_, String>(4)?,
        ))
    })?;
    for row in rows {
        let (k, a) = row?;
        before.entry(k).or_default().add(dec(&a)?);
    }
    let mut st = tx.prepare(
        "SELECT manager_id, kind, kpi, label, amount FROM true_ups WHERE period = ?1 AND status IN ('pending', 'settled')",
    )?;
    let rows = st.query_map([period.to_string()], |r| {
        Ok((
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?),
            r.get::<_, String>(4)?,
        ))
    })?;
    for row in rows {
        let (k, a) = row?;
        before.entry(k).or_default().add(dec(&a)?);
    }
    let mut after: BTreeMap<LineKey, ExactSum> = BTreeMap::new();
    for m in &r.managers {
        let mid = &r.data.managers[m.manager as usize].id;
        for l in &m.lines {
            let key = (mid.clone(), l.kind.clone(), l.kpi.clone(), l.label.clone());
            after.entry(key).or_default().add(l.amount);
        }
    }
    let keys: std::collections::BTreeSet<LineKey> =
        before.keys().chain(after.keys()).cloned().collect();
    let mut diffs = Vec::new();
    let mut ins = tx.prepare(
        "INSERT INTO true_ups(retro_run, period, paid_run, manager_id, kpi, kind, label, amount, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'proposed')",
    )?;
    for key in keys {
        let was = before
            .get(&key)
            .and_then(|s| s.to_decimal())
            .unwrap_or_default();
        let is = after
            .get(&key)
            .and_then(|s| s.to_decimal())
            .unwrap_or_default();
        let Some(diff) = is.checked_sub(was) else {
            continue;
        };
        if diff.is_zero() {
            continue;
        }
        let (manager, kind, kpi, label) = key;
        ins.execute(params![
            id,
            period.to_string(),
            paid,
            manager,
            kpi,
            kind,
            label,
            diff.to_string()
        ])?;
        diffs.push(Difference {
            manager,
            kind,
            kpi,
            label,
            paid: was,
            now: is,
            amount: diff,
        });
    }
    Ok(diffs)
}
