//! Who is credited with a client's sales, and when: `owners.csv` (who owns a client on each
//! date) and `credits.csv` (a client's sales split between managers, or overlay credit on
//! top). Both are optional; without them a line is credited to the manager it names. Also
//! who is credited with a team's: `managers.csv` `reports_to`.
//!
//! This module validates the two files into per-client histories; the sales pass and the
//! facts apply them ([`crate::facts`]).

use super::tables::Dataset;
use super::text::TableReader;
use super::{DataSource, LoadError};
use crate::period::{Date, Period};
use csv::ByteRecord;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

/// One row of `owners.csv`: a manager owns a client from a date, until a date or for good.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ownership {
    /// Manager index.
    pub manager: u32,
    /// First day owned.
    pub from: Date,
    /// The day after the last day owned (`None`: still owned).
    pub until: Option<Date>,
    /// Line in `owners.csv`.
    pub line: u64,
}

impl Ownership {
    fn holds(&self, date: Date) -> bool {
        self.from <= date && self.until.is_none_or(|u| date < u)
    }
}

/// Credit of a client's sales over a date range: a split (shares summing to 1, replacing the
/// manager each line names) or one overlay row (credit on top).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditRule {
    /// First day the rule applies (`Date::EARLIEST` when open).
    pub from: Date,
    /// The day after the last day (`None`: open).
    pub until: Option<Date>,
    /// Manager index and share.
    pub shares: Vec<(u32, Decimal)>,
    /// Overlay credit: on top of the 100% of the lines.
    pub overlay: bool,
    /// Lines in `credits.csv`.
    pub lines: Vec<u64>,
}

impl CreditRule {
    /// Whether the rule applies on `date`.
    pub fn holds(&self, date: Date) -> bool {
        self.from <= date && self.until.is_none_or(|u| date < u)
    }

    fn overlaps(&self, other: &CreditRule) -> bool {
        let before = |a: &CreditRule, b: &CreditRule| a.until.is_some_and(|u| u <= b.from);
        !before(self, other) && !before(other, self)
    }
}

fn shown_range(from: Date, until: Option<Date>) -> String {
    let from = if from == Date::EARLIEST {
        "the start".to_string()
    } else {
        from.to_string()
    };
    match until {
        Some(u) => format!("{from} to {}", u.add_days(-1)),
        None => format!("{from} on"),
    }
}

fn lines_text(lines: &[u64]) -> String {
    let l: Vec<String> = lines.iter().map(u64::to_string).collect();
    if l.len() == 1 {
        format!("line {}", l[0])
    } else {
        format!("lines {}", l.join(", "))
    }
}

impl Dataset {
    /// The owner of `client` on `date` by `owners.csv`, if the client has a history there.
    pub fn owner_on(&self, client: u32, date: Date) -> Option<u32> {
        self.owners
            .get(&client)?
            .iter()
            .find(|o| o.holds(date))
            .map(|o| o.manager)
    }

    /// The owner of `client` for a run over `period`: by `owners.csv`, the owner on the
    /// period's last day (or, when the history ends within the period, the last owner in
    /// it); else the `manager_id` of `clients.csv`.
    pub fn owner_for(&self, client: u32, period: Period) -> Option<u32> {
        let Some(history) = self.owners.get(&client) else {
            return self.clients[client as usize].owner;
        };
        let (start, end) = (period.start_date(), period.end_date());
        history
            .iter()
            .rev()
            .find(|o| o.from < end && o.until.is_none_or(|u| u > start))
            .map(|o| o.manager)
    }

    /// Whether any client's credit is split or overlaid.
    pub fn has_credits(&self) -> bool {
        !self.credits.is_empty()
    }
}

fn manager_of(ds: &Dataset, row: &super::text::Row<'_>, c: usize) -> Result<u32, LoadError> {
    let m = row.required_text(c)?;
    ds.manager_index.get(m).copied().ok_or_else(|| {
        row.error(
            c,
            format!(
                "unknown manager_id '{m}'; it is not in managers.csv{}",
                crate::suggest::did_you_mean(m, ds.managers.iter().map(|x| x.id.as_str()))
            ),
        )
    })
}

fn client_of(ds: &Dataset, row: &super::text::Row<'_>, c: usize) -> Result<u32, LoadError> {
    let id = row.required_text(c)?;
    ds.client_index.get(id).copied().ok_or_else(|| {
        row.error(
            c,
            format!(
                "unknown client_id '{id}'; it is not in clients.csv{}",
                crate::suggest::did_you_mean(id, ds.clients.iter().map(|x| x.id.as_str()))
            ),
        )
    })
}

/// The day after `to` (an inclusive last day), checked against `from`.
fn until_of(
    row: &super::text::Row<'_>,
    c_to: Option<usize>,
    from: Date,
) -> Result<Option<Date>, LoadError> {
    let Some(c) = c_to else { return Ok(None) };
    let Some(to) = row.optional_date(c)? else {
        return Ok(None);
    };
    if to < from {
        return Err(row.error(c, format!("'to' ({to}) is before 'from' ({from})")));
    }
    Ok(Some(to.add_days(1)))
}

/// Reads `owners.csv`: `client_id, manager_id, from[, to]`. A client's rows must follow each
/// other without overlap or gap, and a client listed here must not also have a
/// `manager_id` in `clients.csv`.
pub(super) fn load_owners(
    source: &DataSource,
    ds: &mut Dataset,
    max_field: usize,
) -> Result<(), LoadError> {
    let Some(mut t) = TableReader::open(source, "owners.csv", max_field)? else {
        return Ok(());
    };
    ds.owners_file = t.file.clone();
    let c_client = t.require("client_id")?;
    let c_manager = t.require("manager_id")?;
    let c_from = t.require("from")?;
    let c_to = t.optional("to");
    let mut rec = ByteRecord::new();
    let mut owners: FxHashMap<u32, Vec<Ownership>> = FxHashMap::default();
    while let Some(row) = t.next_row(&mut rec)? {
        let client = client_of(ds, &row, c_client)?;
        if ds.clients[client as usize].owner.is_some() {
            return Err(row.error(
                c_client,
                format!(
                    "client '{}' also has a manager_id in clients.csv; give its owner in one place (owners.csv for an owner that changes over time)",
                    ds.clients[client as usize].id
                ),
            ));
        }
        let manager = manager_of(ds, &row, c_manager)?;
        let from = row.date(c_from)?;
        let until = until_of(&row, c_to, from)?;
        owners.entry(client).or_default().push(Ownership {
            manager,
            from,
            until,
            line: row.line,
        });
    }
    for (&client, history) in owners.iter_mut() {
        history.sort_by_key(|o| o.from);
        let id = &ds.clients[client as usize].id;
        for pair in history.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let Some(end) = a.until else {
                return Err(LoadError::at(
                    &t.file,
                    b.line,
                    format!(
                        "client '{id}' changes owner on {}, but line {} says its owner from {} has no end; give that row a 'to' of {}",
                        b.from, a.line, a.from, b.from.add_days(-1)
                    ),
                ));
            };
            if end > b.from {
                return Err(LoadError::at(
                    &t.file,
                    b.line,
                    format!(
                        "client '{id}' has two owners on {}: this row ({}) overlaps line {} ({})",
                        b.from,
                        shown_range(b.from, b.until),
                        a.line,
                        shown_range(a.from, a.until)
                    ),
                ));
            }
            if end < b.from {
                return Err(LoadError::at(
                    &t.file,
                    b.line,
                    format!(
                        "client '{id}' has no owner from {} to {}: line {} ends on {}, and this row starts on {}; close the gap",
                        end,
                        b.from.add_days(-1),
                        a.line,
                        end.add_days(-1),
                        b.from
                    ),
                ));
            }
        }
    }
    ds.owners = owners;
    ds.inputs.push(t.finish()?);
    Ok(())
}

/// Reads `credits.csv`: `client_id, manager_id, share[, from, to, role]`. Rows of one
/// client with the same dates and role `split` (the default) are one split; their shares
/// must sum to exactly 1, and one client's splits must not overlap in time. A row with
/// role `overlay` gives its manager `share` of the client's sales on top.
pub(super) fn load_credits(
    source: &DataSource,
    ds: &mut Dataset,
    max_field: usize,
) -> Result<(), LoadError> {
    let Some(mut t) = TableReader::open(source, "credits.csv", max_field)? else {
        return Ok(());
    };
    ds.credits_file = t.file.clone();
    let c_client = t.require("client_id")?;
    let c_manager = t.require("manager_id")?;
    let c_share = t.require("share")?;
    let c_from = t.optional("from");
    let c_to = t.optional("to");
    let c_role = t.optional("role");
    let mut rec = ByteRecord::new();
    let mut rules: FxHashMap<u32, Vec<CreditRule>> = FxHashMap::default();
    while let Some(row) = t.next_row(&mut rec)? {
        let client = client_of(ds, &row, c_client)?;
        let manager = manager_of(ds, &row, c_manager)?;
        let share = row.decimal(c_share)?;
        if share <= Decimal::ZERO || share > Decimal::ONE {
            return Err(row.error(
                c_share,
                format!("found {share}, expected a share above 0 and at most 1 (0.6 for 60%)"),
            ));
        }
        let from = match c_from {
            Some(c) => row.optional_date(c)?.unwrap_or(Date::EARLIEST),
            None => Date::EARLIEST,
        };
        let until = until_of(&row, c_to, from)?;
        let overlay = match c_role {
            Some(c) => match row.text(c)? {
                "" | "split" => false,
                "overlay" => true,
                other => {
                    return Err(row.error(
                        c,
                        format!("found '{other}', expected split (the default) or overlay"),
                    ))
                }
            },
            None => false,
        };
        let mine = rules.entry(client).or_default();
        let same = mine
            .iter_mut()
            .find(|r| !overlay && !r.overlay && r.from == from && r.until == until);
        match same {
            Some(rule) => {
                if let Some(at) = rule.shares.iter().position(|(m, _)| *m == manager) {
                    return Err(row.error(
                        c_manager,
                        format!(
                            "manager '{}' is already in this split of client '{}' (line {})",
                            ds.managers[manager as usize].id,
                            ds.clients[client as usize].id,
                            rule.lines[at]
                        ),
                    ));
                }
                rule.shares.push((manager, share));
                rule.lines.push(row.line);
            }
            None => mine.push(CreditRule {
                from,
                until,
                shares: vec![(manager, share)],
                overlay,
                lines: vec![row.line],
            }),
        }
    }
    for (&client, mine) in rules.iter_mut() {
        mine.sort_by_key(|r| (r.from, r.lines[0]));
        check_rules(&t.file, &ds.clients[client as usize].id, mine)?;
    }
    ds.credits = rules;
    ds.inputs.push(t.finish()?);
    Ok(())
}

/// Each split sums to exactly 1; splits do not overlap; an overlay manager is not credited
/// twice at once.
fn check_rules(file: &str, id: &str, rules: &[CreditRule]) -> Result<(), LoadError> {
    for r in rules.iter().filter(|r| !r.overlay) {
        let total: Decimal = r.shares.iter().map(|(_, s)| *s).sum();
        if total != Decimal::ONE {
            return Err(LoadError::at(
                file,
                r.lines[0],
                format!(
                    "the split of client '{id}' ({}, {}) has shares summing to {total}, expected exactly 1; give the shares so that they add up (0.6 and 0.4), or mark credit on top with role = overlay",
                    shown_range(r.from, r.until),
                    lines_text(&r.lines)
                ),
            ));
        }
    }
    for (i, a) in rules.iter().enumerate() {
        for b in &rules[i + 1..] {
            let clash = a.overlay == b.overlay
                && a.overlaps(b)
                && (!a.overlay || a.shares[0].0 == b.shares[0].0);
            if clash {
                let what = if a.overlay {
                    "two overlay credits for the same manager"
                } else {
                    "two splits"
                };
                return Err(LoadError::at(
                    file,
                    b.lines[0],
                    format!(
                        "client '{id}' has {what} at once: {} ({}) overlaps {} ({})",
                        lines_text(&b.lines),
                        shown_range(b.from, b.until),
                        lines_text(&a.lines),
                        shown_range(a.from, a.until)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Resolves a contract's manager: the one named, or else the owner on the day the renewal
/// counts (`renewed_on`, else the end).
pub(super) fn contract_owner(ds: &Dataset, client: u32, on: Date) -> Result<u32, String> {
    ds.owner_on(client, on).ok_or_else(|| {
        let id = &ds.clients[client as usize].id;
        if ds.owners.contains_key(&client) {
            format!(
                "is empty, and owners.csv gives client '{id}' no owner on {on}; name the manager"
            )
        } else {
            format!("is empty; name the manager, or give client '{id}' an owner in owners.csv")
        }
    })
}

/// The error for a reporting cycle, told from the manager listed first.
fn cycle_error(ds: &Dataset, file: &str, lines: &FxHashMap<u32, u64>, cycle: &[u32]) -> LoadError {
    let mut members = cycle.to_vec();
    let first = members.iter().min().copied().unwrap_or(0);
    let at_first = members.iter().position(|&c| c == first).unwrap_or(0);
    members.rotate_left(at_first);
    members.push(first);
    let names: Vec<&str> = members
        .iter()
        .map(|&c| ds.managers[c as usize].id.as_str())
        .collect();
    LoadError {
        file: file.to_string(),
        line: lines.get(&first).copied(),
        column: Some("reports_to".into()),
        message: format!(
            "reports_to makes a cycle: {}; a team has one head",
            names.join(" → ")
        ),
    }
}

/// Sets each manager's `reports_to` from `heads` (manager, head id, line), refusing an
/// unknown head and a cycle (naming the chain).
pub(super) fn resolve_heads(
    ds: &mut Dataset,
    file: &str,
    heads: Vec<(u32, String, u64)>,
) -> Result<(), LoadError> {
    let lines: FxHashMap<u32, u64> = heads.iter().map(|(m, _, l)| (*m, *l)).collect();
    for (m, head, line) in heads {
        let h = *ds.manager_index.get(&head).ok_or_else(|| LoadError {
            file: file.to_string(),
            line: Some(line),
            column: Some("reports_to".into()),
            message: format!(
                "unknown manager_id '{head}'; it is not in managers.csv{}",
                crate::suggest::did_you_mean(&head, ds.managers.iter().map(|x| x.id.as_str()))
            ),
        })?;
        ds.managers[m as usize].reports_to = Some(h);
    }
    // Walk up from each manager not yet known to reach a top; each manager is walked once
    // (a long chain costs its length, not its square).
    let n = ds.managers.len();
    let mut done = vec![false; n];
    let mut on_path = vec![false; n];
    for start in 0..n as u32 {
        let mut chain = Vec::new();
        let mut at = Some(start);
        while let Some(m) = at.filter(|&m| !done[m as usize]) {
            if on_path[m as usize] {
                let pos = chain.iter().position(|&c| c == m).unwrap_or(0);
                return Err(cycle_error(ds, file, &lines, &chain[pos..]));
            }
            on_path[m as usize] = true;
            chain.push(m);
            at = ds.managers[m as usize].reports_to;
        }
        for m in chain {
            done[m as usize] = true;
            on_path[m as usize] = false;
        }
    }
    Ok(())
}
