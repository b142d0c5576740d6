//! The payout ledger: a SQLite file (bundled SQLite through rusqlite) that remembers every
//! run, which run paid each closed period, pending true-ups and draw balances.
//!
//! - [`carry`]: what the ledger knows for one run, as plain values for rules and settlement;
//! - [`schema`]: the tables and their migrations;
//! - [`record`]: reading that state before a run and recording the run after it;
//! - [`lifecycle`]: `approve`, `close` and `reopen`;
//! - [`report`]: `history` and `show`;
//! - [`verify`]: running a recorded run again and comparing its outputs.
//!
//! Every change is one `BEGIN IMMEDIATE` transaction: a refused step, a failure or a kill
//! leaves the file as it was. Money is decimal text, summed in Rust.

pub mod carry;
pub mod lifecycle;
pub mod record;
pub mod report;
pub mod schema;
pub mod verify;

use crate::error::Error;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// The default ledger file, in the working directory.
pub const DEFAULT_PATH: &str = "bonusrun.db";

/// How long a step waits for another bonusrun that holds the ledger.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How a command uses the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read only (`history`, `show`, `verify`): the file must exist.
    Read,
    /// Write (`approve`, `close`, `reopen`): the file must exist.
    Write,
    /// Write, creating the file when missing (`run`).
    Create,
}

/// An open ledger.
pub struct Ledger {
    conn: Connection,
    /// The file as shown in messages.
    pub shown: String,
}

impl Ledger {
    /// Opens (or creates) the ledger at `path`: checks that it is a bonusrun ledger of a
    /// schema this build knows, that it is writable when it must be, and that SQLite finds
    /// it whole; migrates an older schema. Nothing is written when a check fails.
    pub fn open(path: &Path, access: Access) -> Result<Ledger, Error> {
        let shown = path.display().to_string();
        let exists = path.exists();
        if !exists && access != Access::Create {
            return Err(Error::Ledger(format!(
                "no ledger at {shown} (give --ledger PATH or set BONUSRUN_LEDGER; bonusrun run --by NAME creates one)"
            )));
        }
        if exists {
            check_header(path, &shown)?;
            // A file marked read-only is not written, even by a user the system would let
            // (root): finance marks a year's ledger read-only to archive it.
            let marked = std::fs::metadata(path).is_ok_and(|m| m.permissions().readonly());
            if marked && access != Access::Read {
                return Err(Error::Ledger(format!(
                    "the ledger {shown} is read-only; this step records in it: make it writable, choose another --ledger{}",
                    if access == Access::Create { ", or run with --no-ledger" } else { "" }
                )));
            }
        }
        let flags = match access {
            Access::Read => OpenFlags::SQLITE_OPEN_READ_ONLY,
            Access::Write => OpenFlags::SQLITE_OPEN_READ_WRITE,
            Access::Create => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| not_ledger(&shown, &e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| sql(&shown, e))?;
        if access != Access::Read && conn.is_readonly("main").unwrap_or(true) {
            return Err(Error::Ledger(format!(
                "the ledger {shown} is read-only; this step records in it: make it writable, choose another --ledger{}",
                if access == Access::Create { ", or run with --no-ledger" } else { "" }
            )));
        }
        let mut ledger = Ledger { conn, shown };
        ledger.check_identity(access)?;
        if access != Access::Read {
            ledger.prepare_for_writing()?;
        }
        Ok(ledger)
    }

    /// A ledger in memory, migrated (for golden cases that hold a ledger state).
    pub fn in_memory() -> Result<Ledger, Error> {
        let conn = Connection::open_in_memory().map_err(|e| sql("memory", e))?;
        let mut ledger = Ledger {
            conn,
            shown: "(in memory)".into(),
        };
        ledger.migrate(0)?;
        Ok(ledger)
    }

    fn check_identity(&self, access: Access) -> Result<(), Error> {
        let shown = &self.shown;
        let app: i64 = self
            .conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|e| not_ledger(shown, &e))?;
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| not_ledger(shown, &e))?;
        let tables: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .map_err(|e| not_ledger(shown, &e))?;
        if app != schema::APPLICATION_ID && (app != 0 || tables > 0) {
            return Err(Error::Ledger(format!(
                "{shown} is an SQLite database but not a bonusrun ledger (application_id {app}); the file was not changed; choose another --ledger"
            )));
        }
        if version > schema::VERSION {
            return Err(Error::Ledger(format!(
                "the ledger {shown} has schema version {version}, but this bonusrun knows versions up to {}; use a newer bonusrun; the file was not changed",
                schema::VERSION
            )));
        }
        if access == Access::Read && version < schema::VERSION {
            return Err(Error::Ledger(format!(
                "the ledger {shown} has schema version {version} and needs migrating to {}, which a read-only command does not do; run bonusrun approve, close or run on it first",
                schema::VERSION
            )));
        }
        Ok(())
    }

    fn prepare_for_writing(&mut self) -> Result<(), Error> {
        let shown = self.shown.clone();
        let check: String = self
            .conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| not_ledger(&shown, &e))?;
        if check != "ok" {
            return Err(Error::Ledger(format!(
                "the ledger {shown} is damaged (SQLite's quick_check: \"{check}\"); nothing was written; restore it from a backup"
            )));
        }
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| sql(&shown, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Ledger(format!(
                "the ledger {shown} cannot use write-ahead logging (SQLite chose journal mode '{mode}'; a network file system?); keep the ledger on a local disk"
            )));
        }
        self.conn
            .execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(|e| sql(&shown, e))?;
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| sql(&shown, e))?;
        self.migrate(version)
    }

    fn migrate(&mut self, from: i64) -> Result<(), Error> {
        for (i, step) in schema::MIGRATIONS.iter().enumerate().skip(from as usize) {
            let shown = self.shown.clone();
            let tx = self.write()?;
            tx.execute_batch(step).map_err(|e| sql(&shown, e))?;
            tx.execute_batch(&format!(
                "PRAGMA application_id = {}; PRAGMA user_version = {};",
                schema::APPLICATION_ID,
                i + 1
            ))
            .map_err(|e| sql(&shown, e))?;
            kill_point("migrate:in-txn");
            tx.commit().map_err(|e| sql(&shown, e))?;
        }
        Ok(())
    }

    /// Starts a write transaction (IMMEDIATE: the write lock is taken now, and another
    /// writer waits up to [`BUSY_TIMEOUT`]). Dropped without commit, it rolls back.
    pub fn write(&mut self) -> Result<Transaction<'_>, Error> {
        let shown = self.shown.clone();
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sql(&shown, e))
    }

    /// The connection, for reading.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// An error of SQLite on this ledger.
    pub fn sql(&self, e: rusqlite::Error) -> Error {
        sql(&self.shown, e)
    }
}

/// A file that is not an SQLite database is refused before SQLite touches it.
fn check_header(path: &Path, shown: &str) -> Result<(), Error> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let mut f = std::fs::File::open(path)
        .map_err(|e| Error::Ledger(format!("cannot read the ledger {shown}: {e}")))?;
    let n = f.read(&mut head).unwrap_or(0);
    if n == 0 {
        return Ok(()); // an empty file: a new ledger
    }
    if n < 16 || &head != b"SQLite format 3\0" {
        return Err(Error::Ledger(format!(
            "{shown} is not a bonusrun ledger (it is not an SQLite database); the file was not changed; choose another --ledger"
        )));
    }
    Ok(())
}

fn not_ledger(shown: &str, e: &rusqlite::Error) -> Error {
    Error::Ledger(format!(
        "{shown} is not a bonusrun ledger, or it is damaged (SQLite says: {e}); the file was not changed"
    ))
}

/// An SQLite error on the ledger `shown`; a busy ledger gets its own sentence.
pub fn sql(shown: &str, e: rusqlite::Error) -> Error {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        if f.code == rusqlite::ErrorCode::DatabaseBusy
            || f.code == rusqlite::ErrorCode::DatabaseLocked
        {
            return Error::Ledger(format!(
                "the ledger {shown} is busy: another bonusrun has held it for more than {} s; nothing was changed; try again",
                BUSY_TIMEOUT.as_secs()
            ));
        }
    }
    Error::Ledger(format!("the ledger {shown}: {e}; nothing was changed"))
}

/// Reads decimal text written by the ledger; text that is not a decimal (a hand-edited or
/// damaged file) is an SQLite conversion error, never a silent zero.
pub fn dec(text: &str) -> rusqlite::Result<Decimal> {
    Decimal::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("'{text}' is not a decimal amount: {e}").into(),
        )
    })
}

/// An exact sum read from the ledger, or an SQLite conversion error when it does not fit a
/// decimal (only a hand-edited file gets there).
pub fn exact(sum: crate::money::ExactSum) -> rusqlite::Result<Decimal> {
    sum.to_decimal().ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            "amounts in the ledger sum to more than a decimal holds".into(),
        )
    })
}

/// Reads decimal text, or an error naming what it is (a damaged or hand-edited file).
pub fn dec_checked(shown: &str, what: &str, text: &str) -> Result<Decimal, Error> {
    Decimal::from_str(text).map_err(|_| {
        Error::Ledger(format!(
            "the ledger {shown} holds '{text}' as {what}, which is not a decimal; the file was edited or damaged"
        ))
    })
}

/// The ledger path a command uses: `--ledger`, else `$BONUSRUN_LEDGER`, else
/// [`DEFAULT_PATH`]; and whether it was named (rather than the default).
pub fn choose_path(given: Option<&Path>) -> (PathBuf, bool) {
    if let Some(p) = given {
        return (p.to_path_buf(), true);
    }
    match std::env::var_os("BONUSRUN_LEDGER") {
        Some(p) if !p.is_empty() => (PathBuf::from(p), true),
        _ => (PathBuf::from(DEFAULT_PATH), false),
    }
}

/// Refuses an empty `--by` or `--reason`.
pub fn require_text(flag: &str, what: &str, value: &str) -> Result<String, Error> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::Usage(format!(
            "{flag} must {what} (got an empty value)"
        )));
    }
    Ok(v.to_string())
}

/// The newest event id (0 for none).
pub fn last_event(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT coalesce(max(id), 0) FROM events", [], |r| r.get(0))
}

/// The current time, as the ledger records it.
pub fn now() -> String {
    crate::outputs::rfc3339(std::time::SystemTime::now())
}

/// A period's row: (status, paid run, closed by, closed at).
pub type PeriodRow = (String, Option<i64>, Option<String>, Option<String>);

/// A period's row, if the ledger has one.
pub fn period_row(conn: &Connection, period: &str) -> rusqlite::Result<Option<PeriodRow>> {
    conn.query_row(
        "SELECT status, paid_run, closed_by, closed_at FROM periods WHERE period = ?1",
        [period],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .optional()
}

/// For the kill and concurrency tests: `BONUSRUN_TEST_KILL_AT=<point>` kills the process
/// (SIGKILL, no clean-up) at that point, and `BONUSRUN_TEST_PAUSE_AT=<point>:<ms>` sleeps
/// there.
pub fn kill_point(point: &str) {
    if let Some(at) = std::env::var_os("BONUSRUN_TEST_PAUSE_AT") {
        let at = at.to_string_lossy();
        if let Some((p, ms)) = at.rsplit_once(':') {
            if p == point {
                std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
            }
        }
    }
    if std::env::var_os("BONUSRUN_TEST_KILL_AT").is_some_and(|p| p == point) {
        #[cfg(unix)]
        // SAFETY: kill(2) on our own pid; no memory is touched.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
