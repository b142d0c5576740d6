//! The pack's `[ledger]` section read into typed rows: guaranteed minimums and draws. The
//! host applies them after stage bonus (`evaluate::settle`); a pack declares them as tables
//! finance edits, never as code.

use super::manifest::{ClawbackBasis, LateSales, LedgerDecl};
use super::table::{Cell, Table};
use super::PackError;
use crate::period::{Period, PeriodKind};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A guaranteed minimum payout for one manager over a range of periods.
#[derive(Clone, Debug, PartialEq)]
pub struct Guarantee {
    /// The manager id.
    pub manager: String,
    /// The first period guaranteed.
    pub from: Period,
    /// The last period guaranteed.
    pub to: Period,
    /// The least the manager is paid in each of those periods.
    pub minimum: Decimal,
    /// `file:line` of the row, for notes and messages.
    pub at: String,
}

/// A recoverable draw: an advance paid in one period.
#[derive(Clone, Debug, PartialEq)]
pub struct Draw {
    /// The manager id.
    pub manager: String,
    /// The period that pays the advance.
    pub period: Period,
    /// The advance.
    pub amount: Decimal,
    /// `file:line` of the row.
    pub at: String,
}

/// The settlement rules of a pack; all empty without `[ledger]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Settlement {
    /// Guarantees, in table order.
    pub guarantees: Vec<Guarantee>,
    /// Draws, in table order.
    pub draws: Vec<Draw>,
    /// The largest share of a payout that recovers draws.
    pub recovery_share: Decimal,
    /// The clawback of late returns: rate and basis, when `late_sales = "clawback"`.
    pub clawback: Option<(Decimal, ClawbackBasis)>,
}

impl Default for Settlement {
    fn default() -> Self {
        Settlement {
            guarantees: Vec::new(),
            draws: Vec::new(),
            recovery_share: Decimal::ONE,
            clawback: None,
        }
    }
}

impl Settlement {
    /// Reads `[ledger]` against the pack's tables; `err` places a message in pack.toml.
    pub fn read(
        decl: &LedgerDecl,
        kind: PeriodKind,
        tables: &BTreeMap<String, Arc<Table>>,
        err: impl Fn(&str, String) -> PackError,
    ) -> Result<Settlement, PackError> {
        let mut s = Settlement::default();
        if let Some(share) = decl.draw_recovery_share {
            if share <= Decimal::ZERO || share > Decimal::ONE {
                return Err(err(
                    "draw_recovery_share",
                    format!("[ledger] draw_recovery_share = {share}: expected a share above 0 and at most 1, e.g. 0.5"),
                ));
            }
            s.recovery_share = share;
        }
        match (decl.late_sales, decl.clawback_rate) {
            (LateSales::Clawback, Some(rate)) if rate > Decimal::ZERO && rate <= Decimal::ONE => {
                s.clawback = Some((rate, decl.clawback_basis));
            }
            (LateSales::Clawback, Some(rate)) => {
                return Err(err(
                    "clawback_rate",
                    format!("[ledger] clawback_rate = {rate}: expected a share above 0 and at most 1, e.g. 0.03"),
                ))
            }
            (LateSales::Clawback, None) => {
                return Err(err(
                    "late_sales",
                    "[ledger] late_sales = \"clawback\" needs clawback_rate, the share of the late returns taken back, e.g. clawback_rate = 0.03".into(),
                ))
            }
            (LateSales::Ignore, Some(_)) => {
                return Err(err(
                    "clawback_rate",
                    "[ledger] clawback_rate applies only with late_sales = \"clawback\"".into(),
                ))
            }
            (LateSales::Ignore, None) => {}
        }
        let table = |name: &Option<String>, key: &str, columns: &[&str]| {
            let Some(name) = name else { return Ok(None) };
            let t = tables.get(name).ok_or_else(|| {
                err(
                    key,
                    format!(
                        "[ledger] {key} = '{name}': no such table in [tables]{}",
                        crate::suggest::did_you_mean(name, tables.keys().map(String::as_str))
                    ),
                )
            })?;
            let mut at = Vec::new();
            for c in columns {
                at.push(t.columns.iter().position(|h| h == c).ok_or_else(|| {
                    PackError::new(
                        &t.shown,
                        format!(
                            "has no column '{c}', which [ledger] {key} needs ({}); its columns are: {}",
                            columns.join(", "),
                            t.columns.join(", ")
                        ),
                    )
                })?);
            }
            Ok(Some((t.clone(), at)))
        };
        if let Some((t, c)) = table(
            &decl.guarantees,
            "guarantees",
            &["manager_id", "from", "to", "minimum"],
        )? {
            for (r, row) in t.rows.iter().enumerate() {
                let cell = Cells(&t, r, row, kind);
                let (from, to) = (cell.period(c[1])?, cell.period(c[2])?);
                if to.start_date() < from.start_date() {
                    return Err(cell.error(c[2], format!("'to' {to} comes before 'from' {from}")));
                }
                s.guarantees.push(Guarantee {
                    manager: cell.text(c[0])?,
                    from,
                    to,
                    minimum: cell.amount(c[3])?,
                    at: format!("{}:{}", t.shown, t.lines[r]),
                });
            }
        }
        if let Some((t, c)) = table(&decl.draws, "draws", &["manager_id", "period", "amount"])? {
            for (r, row) in t.rows.iter().enumerate() {
                let cell = Cells(&t, r, row, kind);
                s.draws.push(Draw {
                    manager: cell.text(c[0])?,
                    period: cell.period(c[1])?,
                    amount: cell.amount(c[2])?,
                    at: format!("{}:{}", t.shown, t.lines[r]),
                });
            }
        }
        Ok(s)
    }
}

/// One row of a table, with typed cells and messages naming file, line and column.
struct Cells<'a>(&'a Table, usize, &'a [Cell], PeriodKind);

impl Cells<'_> {
    fn error(&self, col: usize, message: String) -> PackError {
        PackError::new(
            format!("{}:{}", self.0.shown, self.0.lines[self.1]),
            format!("column '{}': {message}", self.0.columns[col]),
        )
    }

    fn text(&self, col: usize) -> Result<String, PackError> {
        let t = self.2[col].to_string();
        if t.trim().is_empty() {
            return Err(self.error(col, "is empty; a value is required".into()));
        }
        Ok(t.trim().to_string())
    }

    fn period(&self, col: usize) -> Result<Period, PackError> {
        let p = Period::parse(&self.text(col)?).map_err(|e| self.error(col, e))?;
        if p.kind() != self.3 {
            return Err(self.error(
                col,
                format!(
                    "{p} is a {}, but the pack pays per {}; give a {} such as {}",
                    p.kind().name(),
                    self.3.name(),
                    self.3.name(),
                    self.3.example()
                ),
            ));
        }
        Ok(p)
    }

    fn amount(&self, col: usize) -> Result<Decimal, PackError> {
        match &self.2[col] {
            Cell::Number(d) if *d >= Decimal::ZERO => Ok(*d),
            other => Err(self.error(
                col,
                format!("found '{other}', expected an amount of 0 or more, e.g. 90000.00"),
            )),
        }
    }
}
