//! Facts: what the sales say about each client, manager and the company, for the run
//! period, the previous period and the same period a year earlier.
//!
//! [`aggregate`](fn@aggregate) streams `sales.csv` once (in parallel) into [`Window`]s of each client–manager
//! account for the three periods; [`Facts::build`] adds them up per client, manager and company. Rules never see sales lines: they
//! see these facts, which is why a rule is called per client or per manager, never per line.

mod accounts;
pub mod aggregate;
pub mod import;
mod measure;
pub mod sql;
mod window;

pub use aggregate::{aggregate, NamedWindow, SalesTotals, WindowPlan};
pub use window::{Measured, Window};

use crate::load::Dataset;
use crate::period::{Date, Period};
use rayon::prelude::*;
use rust_decimal::Decimal;

/// Index of the run period in a `[Window; 3]`.
pub const CURRENT: usize = 0;
/// Index of the previous period.
pub const PREVIOUS: usize = 1;
/// Index of the same period one year earlier.
pub const YEAR_AGO: usize = 2;

/// Windows for the run period, the previous period and the year-ago period (indices
/// [`CURRENT`], [`PREVIOUS`], [`YEAR_AGO`]), then those of [`WindowPlan::dates`] after them.
pub type Windows = Vec<Window>;

/// Facts about one client (all managers together).
#[derive(Clone, Debug, Default)]
pub struct ClientFacts {
    /// Totals per period.
    pub windows: Windows,
    /// First sales line ever (before the run period's end).
    pub first_purchase: Option<Date>,
    /// Last sales line before the run period's end.
    pub last_purchase: Option<Date>,
    /// The client's manager: its owner for the run period (`owners.csv`, or the
    /// `manager_id` of `clients.csv`), or else the manager with the most
    /// revenue in the run period, or else the one who sold to it last.
    pub manager: Option<u32>,
    /// Share of company revenue in the run period (0 when the company had none).
    pub revenue_share: Decimal,
    /// Share of company margin in the run period (0 when the company had none).
    pub margin_share: Decimal,
}

/// One client as seen from one manager: the lines that manager sold to that client.
#[derive(Clone, Debug)]
pub struct Account {
    /// Client index.
    pub client: u32,
    /// Manager index.
    pub manager: u32,
    /// Totals per period of this manager's lines to this client.
    pub windows: Windows,
}

/// Facts about one manager's portfolio.
#[derive(Clone, Debug, Default)]
pub struct ManagerFacts {
    /// Totals per period of all the manager's lines.
    pub windows: Windows,
    /// Indices into [`Facts::accounts`]: clients the manager sold to in any of the three
    /// periods, or owns; ordered by client.
    pub accounts: Vec<u32>,
    /// Clients with at least one line in the run period.
    pub client_count: u64,
    /// The client with the most revenue in the run period.
    pub largest_client: Option<u32>,
    /// That client's share of the manager's run-period revenue (0 without revenue).
    pub largest_client_share: Decimal,
    /// Managers who report to this one (`reports_to`), in `managers.csv` order.
    pub reports: Vec<u32>,
    /// The team's windows: this manager's and everyone's below, at any depth. Empty for a
    /// manager nobody reports to, whose team windows are its own.
    pub team: Windows,
    /// How many managers the team has, this one included.
    pub team_size: u64,
}

/// Everything the rules can know about the sales.
#[derive(Clone, Debug)]
pub struct Facts {
    /// Run period, previous period, year-ago period.
    pub periods: [Period; 3],
    /// Every window's dates and the declared windows' names.
    pub plan: WindowPlan,
    /// Per client, in `clients.csv` order.
    pub clients: Vec<ClientFacts>,
    /// Client–manager pairs.
    pub accounts: Vec<Account>,
    /// Per manager, in `managers.csv` order.
    pub managers: Vec<ManagerFacts>,
    /// Company totals per period.
    pub company: Windows,
    /// Category names (a category id indexes this list).
    pub categories: Vec<String>,
    /// Product names.
    pub products: Vec<String>,
    /// Sales lines read.
    pub rows: u64,
    /// Earliest and latest sale dates.
    pub date_range: Option<(Date, Date)>,
    /// The exchange rates that converted the lines counted, in `fx_rates.csv` order.
    pub rates: Vec<crate::load::fx::UsedRate>,
}

fn ratio(part: Decimal, whole: Decimal) -> Decimal {
    if whole > Decimal::ZERO {
        part.checked_div(whole).unwrap_or_default()
    } else {
        Decimal::ZERO
    }
}

impl Facts {
    /// Builds the facts of the run period from the per-account totals of one sales pass.
    /// Fails with a message when a client's, manager's or the company's total does not fit a
    /// decimal (the first in file order, whatever the thread count).
    pub fn build(data: &Dataset, sales: SalesTotals) -> Result<Facts, String> {
        let plan = sales.plan.clone();
        let mut clients: Vec<ClientFacts> = vec![ClientFacts::default(); data.clients.len()];
        for (c, dates) in clients.iter_mut().zip(&sales.client_dates) {
            c.first_purchase = dates.map(|(first, _)| first);
            c.last_purchase = dates.map(|(_, last)| last);
        }
        // Sorted by (client, manager), owners' accounts included.
        let accounts = sales.accounts;

        // Totals per client, manager and company: sums of account windows, in parallel.
        let all = &accounts;
        let mut by_manager: Vec<Vec<u32>> = vec![Vec::new(); data.managers.len()];
        for (ai, a) in accounts.iter().enumerate() {
            by_manager[a.manager as usize].push(ai as u32);
        }
        let managers: Vec<Result<ManagerFacts, String>> = by_manager
            .into_par_iter()
            .enumerate()
            .map(|(mi, ids)| {
                let windows = windows_of(
                    &plan,
                    || format!("manager {}", data.managers[mi].id),
                    |w| ids.iter().map(move |&a| &all[a as usize].windows[w]),
                )?;
                Ok(ManagerFacts {
                    windows,
                    accounts: ids,
                    ..ManagerFacts::default()
                })
            })
            .collect();
        let mut managers = managers.into_iter().collect::<Result<Vec<_>, _>>()?;
        teams(data, &plan, &mut managers)?;
        let client_sums: Vec<Result<(), String>> = clients
            .par_iter_mut()
            .enumerate()
            .map(|(ci, c)| {
                let start = accounts.partition_point(|a| (a.client as usize) < ci);
                let end = accounts.partition_point(|a| (a.client as usize) <= ci);
                let mine = &accounts[start..end];
                c.windows = windows_of(
                    &plan,
                    || format!("client {}", data.clients[ci].id),
                    |w| mine.iter().map(move |a| &a.windows[w]),
                )?;
                Ok(())
            })
            .collect();
        client_sums.into_iter().collect::<Result<(), _>>()?;
        // A split or overlaid client's own windows count each line once.
        for (ci, windows) in sales.sold {
            clients[ci as usize].windows = windows;
        }
        // Without split or overlay credit every line is in one manager's windows, so the
        // company is the sum of the managers; with it, the sum of the clients.
        let company = if data.has_credits() {
            windows_of(
                &plan,
                || "the company".to_string(),
                |w| clients.iter().map(move |c| &c.windows[w]),
            )?
        } else {
            windows_of(
                &plan,
                || "the company".to_string(),
                |w| managers.iter().map(move |m| &m.windows[w]),
            )?
        };
        for (ci, c) in clients.iter_mut().enumerate() {
            c.revenue_share = ratio(c.windows[CURRENT].revenue, company[CURRENT].revenue);
            c.margin_share = ratio(c.windows[CURRENT].margin(), company[CURRENT].margin());
            c.manager = data
                .owner_for(ci as u32, plan.period())
                .or_else(|| primary_manager(&accounts, ci as u32));
        }
        for m in managers.iter_mut() {
            let mut best: Option<(Decimal, u32)> = None;
            for &ai in &m.accounts {
                let a = &accounts[ai as usize];
                let cur = &a.windows[CURRENT];
                if cur.lines > 0 {
                    m.client_count += 1;
                    if best.is_none_or(|(r, _)| cur.revenue > r) {
                        best = Some((cur.revenue, a.client));
                    }
                }
            }
            if let Some((rev, client)) = best {
                m.largest_client = Some(client);
                m.largest_client_share = ratio(rev, m.windows[CURRENT].revenue);
            }
        }
        Ok(Facts {
            periods: plan.periods,
            plan,
            clients,
            accounts,
            managers,
            company,
            categories: sales.categories,
            products: sales.products,
            rows: sales.rows,
            date_range: sales.first_date.zip(sales.last_date),
            rates: sales.rates,
        })
    }

    /// The run period.
    pub fn period(&self) -> Period {
        self.periods[CURRENT]
    }
}

/// Each head's team windows: the sum of the credited windows of the head and of everyone
/// below, at any depth. `reports_to` has no cycles (the loader refuses them), so heads are
/// summed after their reports, each team from its own windows and its reports' teams: one
/// sum per manager, however deep the chart.
fn teams(data: &Dataset, plan: &WindowPlan, managers: &mut [ManagerFacts]) -> Result<(), String> {
    let n = managers.len();
    for (i, m) in data.managers.iter().enumerate() {
        if let Some(h) = m.reports_to {
            managers[h as usize].reports.push(i as u32);
        }
    }
    // Heads before their reports, from the tops down; reversed, reports come first.
    let mut order: Vec<u32> = (0..n as u32)
        .filter(|&i| data.managers[i as usize].reports_to.is_none())
        .collect();
    let mut i = 0;
    while i < order.len() {
        let reports = managers[order[i] as usize].reports.clone();
        order.extend(reports);
        i += 1;
    }
    for &head in order.iter().rev() {
        let m = &managers[head as usize];
        let mut size = 1;
        for &r in &m.reports {
            size += managers[r as usize].team_size;
        }
        let team = if m.reports.is_empty() {
            Windows::new()
        } else {
            let all: &[ManagerFacts] = managers;
            let mine = &all[head as usize];
            let team_of = |r: u32| {
                let f = &all[r as usize];
                if f.team.is_empty() {
                    &f.windows
                } else {
                    &f.team
                }
            };
            windows_of(
                plan,
                || format!("the team of manager {}", data.managers[head as usize].id),
                |w| {
                    std::iter::once(&mine.windows[w])
                        .chain(mine.reports.iter().map(move |&r| &team_of(r)[w]))
                },
            )?
        };
        let m = &mut managers[head as usize];
        m.team = team;
        m.team_size = size;
    }
    Ok(())
}

/// The windows of one client, manager or the company: each the sum of `part(w)`.
pub(crate) fn windows_of<'a, I: Iterator<Item = &'a Window>>(
    plan: &WindowPlan,
    whose: impl Fn() -> String,
    part: impl Fn(usize) -> I,
) -> Result<Windows, String> {
    let mut out: Windows = vec![Window::default(); plan.dates.len()];
    for (w, window) in out.iter_mut().enumerate() {
        *window = Window::sum(part(w)).map_err(|e| e.message(&whose(), &plan.dates[w].label))?;
    }
    Ok(out)
}

/// The manager with the most run-period revenue with `client`; else the one who sold to it
/// last; ties go to the manager listed first.
fn primary_manager(accounts: &[Account], client: u32) -> Option<u32> {
    let start = accounts.partition_point(|a| a.client < client);
    let mine = accounts[start..].iter().take_while(|a| a.client == client);
    let mut best: Option<(Decimal, Option<Date>, u32)> = None;
    for a in mine {
        let w = &a.windows;
        let rev = w[CURRENT].revenue;
        let last = w.iter().filter_map(|w| w.last).max();
        let better = match best {
            None => true,
            Some((r, l, _)) => rev > r || (rev == r && last > l),
        };
        if better {
            best = Some((rev, last, a.manager));
        }
    }
    best.map(|(_, _, m)| m)
}

/// Days before a period's end within which the last sale makes the period count as
/// complete: nobody may have sold on a closing weekend or holiday.
pub const COMPLETE_WITHIN_DAYS: i32 = 7;

/// The latest period of `kind` that the sales cover: the period of the last sale if that
/// sale falls in the period's last [`COMPLETE_WITHIN_DAYS`] days, else the one before.
pub fn latest_complete_period(kind: crate::period::PeriodKind, last_sale: Date) -> Period {
    let p = Period::containing(kind, last_sale.month_index());
    if p.last_date().add_days(1 - COMPLETE_WITHIN_DAYS) <= last_sale {
        p
    } else {
        p.previous()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::period::PeriodKind;

    #[test]
    fn a_period_is_complete_when_sales_reach_its_last_week() {
        let d = |s| Date::parse_iso(s).unwrap();
        let q = |s| latest_complete_period(PeriodKind::Quarter, d(s)).to_string();
        assert_eq!(q("2026-06-30"), "2026-Q2");
        assert_eq!(q("2026-06-24"), "2026-Q2"); // a closing weekend and holiday
        assert_eq!(q("2026-06-23"), "2026-Q1");
        assert_eq!(q("2026-07-01"), "2026-Q2");
        let m = latest_complete_period(PeriodKind::Month, d("2026-04-01"));
        assert_eq!(m.to_string(), "2026-03");
    }
}
