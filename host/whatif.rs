//! `bonusrun diff`: what a rule change costs. Two runs on the same data, one per pack
//! version or parameter set, compared manager by manager, with totals and the budget impact.

use crate::evaluate::RunResult;
use crate::money::Currency;
use rust_decimal::Decimal;

/// One manager before and after.
#[derive(Clone, Debug, PartialEq)]
pub struct DiffRow {
    /// Manager id.
    pub manager_id: String,
    /// Manager name.
    pub name: String,
    /// Payout in the baseline run (`--against`), if the manager is in it.
    pub before: Option<Decimal>,
    /// Payout in the changed run (`--rules` with `--set`), if the manager is in it.
    pub after: Option<Decimal>,
}

impl DiffRow {
    /// after − before (a missing side counts as 0). [`compare`] checked that it fits.
    pub fn delta(&self) -> Decimal {
        crate::money::exact_difference(
            self.after.unwrap_or_default(),
            self.before.unwrap_or_default(),
        )
        .expect("compare checks every difference")
    }
}

/// The comparison of two runs.
pub struct Diff {
    /// Per manager, in the changed run's order, then managers only in the baseline.
    pub rows: Vec<DiffRow>,
    /// Total payout of the baseline run.
    pub total_before: Decimal,
    /// Total payout of the changed run.
    pub total_after: Decimal,
    /// Currency of both runs.
    pub currency: Currency,
}

fn payouts(r: &RunResult) -> Vec<(String, String, Decimal)> {
    r.managers
        .iter()
        .map(|m| {
            let mgr = &r.data.managers[m.manager as usize];
            (mgr.id.clone(), mgr.name.clone(), m.payout)
        })
        .collect()
}

/// Compares the baseline `before` with `after`. Both must pay in the same currency.
pub fn compare(before: &RunResult, after: &RunResult) -> Result<Diff, String> {
    if before.pack.currency != after.pack.currency {
        return Err(format!(
            "the packs pay in different currencies ({} and {}); a diff needs one currency",
            before.pack.currency.code, after.pack.currency.code
        ));
    }
    let b = payouts(before);
    let a = payouts(after);
    let mut rows: Vec<DiffRow> = a
        .iter()
        .map(|(id, name, pay)| DiffRow {
            manager_id: id.clone(),
            name: name.clone(),
            before: b.iter().find(|(i, _, _)| i == id).map(|(_, _, p)| *p),
            after: Some(*pay),
        })
        .collect();
    for (id, name, pay) in &b {
        if !a.iter().any(|(i, _, _)| i == id) {
            rows.push(DiffRow {
                manager_id: id.clone(),
                name: name.clone(),
                before: Some(*pay),
                after: None,
            });
        }
    }
    let too_large =
        |what: String| format!("the difference of {what} does not fit a decimal (28 digits)");
    for r in &rows {
        crate::money::exact_difference(r.after.unwrap_or_default(), r.before.unwrap_or_default())
            .ok_or_else(|| too_large(format!("manager {}'s payouts", r.manager_id)))?;
    }
    crate::money::exact_difference(after.total, before.total)
        .ok_or_else(|| too_large("the totals".into()))?;
    Ok(Diff {
        rows,
        total_before: before.total,
        total_after: after.total,
        currency: after.pack.currency.clone(),
    })
}

impl Diff {
    /// after − before of the totals.
    pub fn total_delta(&self) -> Decimal {
        crate::money::exact_difference(self.total_after, self.total_before)
            .expect("compare checks the totals' difference")
    }

    /// `delta` as a percentage of `before` (`new` when before is 0).
    pub fn percent(&self, before: Decimal, delta: Decimal) -> String {
        if before.is_zero() {
            if delta.is_zero() {
                "0%".into()
            } else {
                "new".into()
            }
        } else {
            delta
                .checked_div(before)
                .and_then(|r| crate::money::percent_text(r, 2))
                .unwrap_or_else(|| "-".into())
        }
    }

    /// An amount in the currency's minor unit (empty when missing).
    pub fn money(&self, d: Option<Decimal>) -> String {
        d.map(|d| self.currency.format(d)).unwrap_or_default()
    }

    /// The diff as CSV: one row per manager and a `TOTAL` row.
    pub fn to_csv(&self) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        let _ = w.write_record([
            "manager_id",
            "name",
            "currency",
            "before",
            "after",
            "delta",
            "delta_percent",
        ]);
        for r in &self.rows {
            let _ = w.write_record([
                r.manager_id.as_str(),
                r.name.as_str(),
                self.currency.code.as_str(),
                &self.money(r.before),
                &self.money(r.after),
                &self.currency.format(r.delta()),
                &self.percent(r.before.unwrap_or_default(), r.delta()),
            ]);
        }
        let _ = w.write_record([
            "TOTAL",
            "",
            self.currency.code.as_str(),
            &self.currency.format(self.total_before),
            &self.currency.format(self.total_after),
            &self.currency.format(self.total_delta()),
            &self.percent(self.total_before, self.total_delta()),
        ]);
        w.into_inner().unwrap_or_default()
    }

    /// The diff as a terminal table with the budget impact; columns as wide as their
    /// contents (names at most 28 characters).
    pub fn to_table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let mut cells: Vec<[String; 6]> = vec![[
            "manager".into(),
            "name".into(),
            "before".into(),
            "after".into(),
            "delta".into(),
            "delta %".into(),
        ]];
        for r in &self.rows {
            cells.push([
                r.manager_id.clone(),
                r.name.chars().take(28).collect(),
                self.money(r.before),
                self.money(r.after),
                self.currency.format(r.delta()),
                self.percent(r.before.unwrap_or_default(), r.delta()),
            ]);
        }
        cells.push([
            "total".into(),
            String::new(),
            self.currency.format(self.total_before),
            self.currency.format(self.total_after),
            self.currency.format(self.total_delta()),
            self.percent(self.total_before, self.total_delta()),
        ]);
        let mut widths = [0usize; 6];
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        for row in &cells {
            let mut line = String::new();
            for (i, (c, w)) in row.iter().zip(widths).enumerate() {
                let pad = " ".repeat(w - c.chars().count());
                let sep = if i == 0 { "" } else { " " };
                if i < 2 {
                    let _ = write!(line, "{sep}{c}{pad}");
                } else {
                    let _ = write!(line, "{sep}{pad}{c}");
                }
            }
            let _ = writeln!(s, "{}", line.trim_end());
        }
        s.push_str(&self.summary());
        s
    }

    /// The budget impact in one sentence, with a newline.
    pub fn summary(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let changed = self.rows.iter().filter(|r| !r.delta().is_zero()).count();
        let n = self.rows.len();
        let delta = self.total_delta();
        let _ = if changed == 0 {
            writeln!(
                s,
                "Budget impact: none; all {n} managers are paid the same."
            )
        } else if delta.is_zero() {
            writeln!(
                s,
                "Budget impact: none in total; the change moves money between managers: {changed} of {n} paid differently."
            )
        } else {
            let direction = if delta > Decimal::ZERO {
                "costs"
            } else {
                "saves"
            };
            writeln!(
                s,
                "Budget impact: the change {direction} {} {} ({}); {changed} of {n} managers paid differently.",
                self.currency.format(delta.abs()),
                self.currency.code,
                self.percent(self.total_before, delta),
            )
        };
        s
    }
}
