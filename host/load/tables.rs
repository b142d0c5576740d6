//! The small tables: clients, managers, plans and contracts, validated into typed rows with
//! ids interned to indices.

use super::source::{DataSource, InputFile};
use super::text::TableReader;
use super::LoadError;
use crate::money::Currency;
use crate::period::{Date, Period};
use csv::ByteRecord;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

/// A client (a customer company) from `clients.csv`.
#[derive(Clone, Debug)]
pub struct Client {
    /// `client_id`: unique.
    pub id: String,
    /// `name`.
    pub name: String,
    /// `industry` (may be empty).
    pub industry: String,
    /// `region` (may be empty).
    pub region: String,
    /// `since`: start of the relationship, if known.
    pub since: Option<Date>,
    /// `market_share`: the client's share of its own market, 0..1 (0 when empty).
    pub market_share: Decimal,
    /// `strategic`: flagged strategic by management.
    pub strategic: bool,
    /// `manager_id` (optional column): the owning manager's index.
    pub owner: Option<u32>,
    /// Values of the extra columns, in [`Dataset::client_extras`] order.
    pub extras: Vec<String>,
}

/// A key-account manager from `managers.csv`.
#[derive(Clone, Debug)]
pub struct Manager {
    /// `manager_id`: unique.
    pub id: String,
    /// `name`.
    pub name: String,
    /// `target_bonus`: the bonus at 100% attainment for one period, in the pack's currency
    /// (the pack's `[payout] target_bonus` when the row gives none).
    pub target_bonus: Decimal,
    /// Whether `managers.csv` gave the target bonus (else the run takes the pack's).
    pub target_bonus_given: bool,
    /// `start`: the first day in the role, if given.
    pub start: Option<Date>,
    /// `end`: the last day in the role, if given.
    pub end: Option<Date>,
    /// `reports_to`: the manager's head, if given (a manager index).
    pub reports_to: Option<u32>,
    /// `currency`: the currency the manager is paid in, when not the pack's (a code of
    /// three capital letters).
    pub currency: Option<String>,
    /// Line in `managers.csv`, for messages.
    pub line: u64,
    /// Values of the extra columns, in [`Dataset::manager_extras`] order.
    pub extras: Vec<String>,
}

impl Dataset {
    /// Whether `clients.csv` has the column `name` (case-insensitive).
    pub fn clients_have(&self, name: &str) -> bool {
        self.client_columns
            .iter()
            .any(|c| c.eq_ignore_ascii_case(name))
    }
}

impl Manager {
    /// The days of `period` the manager is in the role (between `start` and `end`, both
    /// included), and the days of the period.
    pub fn days_active(&self, period: Period) -> (i32, i32) {
        let (from, to) = (period.start_date(), period.end_date());
        let first = self.start.map_or(from, |s| s.max(from));
        let stop = self.end.map_or(to, |e| e.add_days(1).min(to));
        let total = to.days() - from.days();
        ((stop.days() - first.days()).max(0), total)
    }
}

/// A plan target from `plans.csv`.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Manager index.
    pub manager: u32,
    /// The period the target is for.
    pub period: Period,
    /// KPI id (checked against the pack when the run starts).
    pub kpi: String,
    /// The target value.
    pub target: Decimal,
    /// Line in `plans.csv`, for messages.
    pub line: u64,
}

/// A client contract from `contracts.csv`.
#[derive(Clone, Debug)]
pub struct Contract {
    /// `contract_id`: unique.
    pub id: String,
    /// Client index.
    pub client: u32,
    /// Manager index.
    pub manager: u32,
    /// `start`.
    pub start: Date,
    /// `end`: the last day of the contract.
    pub end: Date,
    /// `renewed_on`: when it was renewed; `None` if not renewed.
    pub renewed_on: Option<Date>,
}

/// A manual adjustment from `adjustments.csv`: its own payout line, with reason and approver.
#[derive(Clone, Debug)]
pub struct Adjustment {
    /// Manager index.
    pub manager: u32,
    /// The period whose run pays it.
    pub period: Period,
    /// The amount (negative to recover), rounded once like any payout line.
    pub amount: Decimal,
    /// Why.
    pub reason: String,
    /// Who approved it.
    pub approved_by: String,
    /// The KPI it belongs to, if any (checked against the pack when the run starts).
    pub kpi: Option<String>,
    /// The line kind (default `adjustment`).
    pub kind: String,
    /// Line in `adjustments.csv`, for messages and the statement.
    pub line: u64,
}

/// The validated small tables of one data set. Sales are streamed separately.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// Clients in file order.
    pub clients: Vec<Client>,
    /// Names of the extra columns of `clients.csv`.
    pub client_extras: Vec<String>,
    /// The header of `clients.csv`, to tell a column the data lacks from an empty value.
    pub client_columns: Vec<String>,
    /// Managers in file order.
    pub managers: Vec<Manager>,
    /// Names of the extra columns of `managers.csv`.
    pub manager_extras: Vec<String>,
    /// Plan targets.
    pub plans: Vec<Plan>,
    /// Contracts (empty when there is no `contracts.csv`).
    pub contracts: Vec<Contract>,
    /// Adjustments (empty when there is no `adjustments.csv`).
    pub adjustments: Vec<Adjustment>,
    /// The file name `adjustments.csv` was shown as, for messages about adjustments.
    pub adjustments_file: String,
    /// client_id → index.
    pub client_index: FxHashMap<String, u32>,
    /// manager_id → index.
    pub manager_index: FxHashMap<String, u32>,
    /// What was read, for `run.json` (sales is added when streamed).
    pub inputs: Vec<InputFile>,
    /// The file name `plans.csv` was shown as, for messages about plans.
    pub plans_file: String,
    /// The file name `managers.csv` was shown as, for messages about managers.
    pub managers_file: String,
    /// Per client with a history in `owners.csv`: its owners, sorted by date.
    pub owners: FxHashMap<u32, Vec<super::credit::Ownership>>,
    /// The file name `owners.csv` was shown as.
    pub owners_file: String,
    /// Per client with rows in `credits.csv`: its splits and overlay credits, by date.
    pub credits: FxHashMap<u32, Vec<super::credit::CreditRule>>,
    /// The file name `credits.csv` was shown as.
    pub credits_file: String,
    /// Exchange rates from `fx_rates.csv`, in file order.
    pub fx_rates: Vec<super::fx::FxRate>,
    /// The file name `fx_rates.csv` was shown as (empty without one).
    pub fx_file: String,
}

fn open_required(
    source: &DataSource,
    name: &str,
    max_field: usize,
) -> Result<TableReader, LoadError> {
    TableReader::open(source, name, max_field)?.ok_or_else(|| {
        LoadError::file(
            &source.display(name),
            "the file does not exist; a data set needs clients.csv, managers.csv, sales.csv and plans.csv (contracts.csv is optional)",
        )
    })
}

/// Loads and validates clients, managers, plans and contracts.
pub fn load_tables(source: &DataSource) -> Result<Dataset, LoadError> {
    load_tables_with(source, super::DEFAULT_MAX_FIELD_BYTES)
}

/// [`load_tables`] with a limit on the size of any field, in bytes.
pub fn load_tables_with(source: &DataSource, max_field: usize) -> Result<Dataset, LoadError> {
    let mut ds = Dataset::default();
    load_managers(source, &mut ds, max_field)?;
    load_clients(source, &mut ds, max_field)?;
    super::credit::load_owners(source, &mut ds, max_field)?;
    super::credit::load_credits(source, &mut ds, max_field)?;
    super::fx::load_fx_rates(source, &mut ds, max_field)?;
    load_plans(source, &mut ds, max_field)?;
    load_contracts(source, &mut ds, max_field)?;
    load_adjustments(source, &mut ds, max_field)?;
    Ok(ds)
}

fn extras_of(t: &TableReader, known: &[&str]) -> Vec<(usize, String)> {
    t.header
        .iter()
        .enumerate()
        .filter(|(_, h)| !known.iter().any(|k| k.eq_ignore_ascii_case(h)))
        .map(|(i, h)| (i, h.clone()))
        .collect()
}

fn load_managers(source: &DataSource, ds: &mut Dataset, max_field: usize) -> Result<(), LoadError> {
    let mut t = open_required(source, "managers.csv", max_field)?;
    ds.managers_file = t.file.clone();
    let c_id = t.require("manager_id")?;
    let c_name = t.require("name")?;
    let c_bonus = t.optional("target_bonus");
    let c_start = t.optional("start");
    let c_end = t.optional("end");
    let c_head = t.optional("reports_to");
    let c_currency = t.optional("currency");
    let extras = extras_of(
        &t,
        &[
            "manager_id",
            "name",
            "target_bonus",
            "start",
            "end",
            "reports_to",
            "currency",
        ],
    );
    let mut heads: Vec<(u32, String, u64)> = Vec::new();
    ds.manager_extras = extras.iter().map(|(_, h)| h.clone()).collect();
    let mut rec = ByteRecord::new();
    while let Some(row) = t.next_row(&mut rec)? {
        let id = row.required_text(c_id)?.to_string();
        let given = match c_bonus {
            Some(c) => row.optional_decimal(c)?,
            None => None,
        };
        if let (Some(b), Some(c)) = (given, c_bonus) {
            if b.is_sign_negative() && !b.is_zero() {
                return Err(row.error(c, format!("found {b}, expected an amount of 0 or more")));
            }
        }
        let target_bonus = given.unwrap_or_default();
        if ds.manager_index.contains_key(&id) {
            return Err(row.error(
                c_id,
                format!("duplicate manager_id '{id}'; each manager must appear once"),
            ));
        }
        let extras = extras
            .iter()
            .map(|(i, _)| row.text(*i).map(str::to_string))
            .collect::<Result<_, _>>()?;
        ds.manager_index
            .insert(id.clone(), ds.managers.len() as u32);
        let date = |c: Option<usize>| c.map_or(Ok(None), |c| row.optional_date(c));
        let (start, end) = (date(c_start)?, date(c_end)?);
        if let (Some(s), Some(e), Some(c)) = (start, end, c_end) {
            if e < s {
                return Err(row.error(
                    c,
                    format!("manager {id}: end {e} is before start {s}; end is the last day in the role"),
                ));
            }
        }
        if let Some(c) = c_head {
            let head = row.text(c)?;
            if !head.is_empty() {
                heads.push((ds.managers.len() as u32, head.to_string(), row.line));
            }
        }
        let currency = match c_currency {
            Some(c) => match row.text(c)? {
                "" => None,
                code if Currency::known_minor_units(code).is_some() => Some(code.to_string()),
                code => {
                    return Err(row.error(
                        c,
                        format!("found '{code}', expected an ISO 4217 currency code bonusrun knows, e.g. EUR (or empty for the pack's currency)"),
                    ))
                }
            },
            None => None,
        };
        ds.managers.push(Manager {
            id,
            name: row.text(c_name)?.to_string(),
            target_bonus,
            target_bonus_given: given.is_some(),
            start,
            end,
            reports_to: None,
            currency,
            line: row.line,
            extras,
        });
    }
    super::credit::resolve_heads(ds, &t.file, heads)?;
    ds.inputs.push(t.finish()?);
    Ok(())
}

fn load_clients(source: &DataSource, ds: &mut Dataset, max_field: usize) -> Result<(), LoadError> {
    let mut t = open_required(source, "clients.csv", max_field)?;
    let c_id = t.require("client_id")?;
    let c_name = t.require("name")?;
    let c_industry = t.optional("industry");
    let c_region = t.optional("region");
    let c_since = t.optional("since");
    let c_share = t.optional("market_share");
    let c_strategic = t.optional("strategic");
    let c_owner = t.optional("manager_id");
    let known = [
        "client_id",
        "name",
        "industry",
        "region",
        "since",
        "market_share",
        "strategic",
        "manager_id",
    ];
    let extras = extras_of(&t, &known);
    ds.client_extras = extras.iter().map(|(_, h)| h.clone()).collect();
    ds.client_columns = t.header.clone();
    let mut rec = ByteRecord::new();
    while let Some(row) = t.next_row(&mut rec)? {
        let id = row.required_text(c_id)?.to_string();
        if ds.client_index.contains_key(&id) {
            return Err(row.error(
                c_id,
                format!("duplicate client_id '{id}'; each client must appear once"),
            ));
        }
        let market_share = match c_share {
            Some(c) => row.optional_decimal(c)?.unwrap_or_default(),
            None => Decimal::ZERO,
        };
        if market_share < Decimal::ZERO || market_share > Decimal::ONE {
            let c = c_share.unwrap_or(c_id);
            return Err(row.error(
                c,
                format!(
                    "found {market_share}, expected a share between 0 and 1 (e.g. 0.25 for 25%)"
                ),
            ));
        }
        let owner = match c_owner {
            Some(c) => {
                let m = row.text(c)?;
                if m.is_empty() {
                    None
                } else {
                    Some(*ds.manager_index.get(m).ok_or_else(|| {
                        row.error(
                            c,
                            format!("unknown manager_id '{m}'; it is not in managers.csv"),
                        )
                    })?)
                }
            }
            None => None,
        };
        let text_or_empty = |c: Option<usize>| -> Result<String, LoadError> {
            Ok(match c {
                Some(c) => row.text(c)?.to_string(),
                None => String::new(),
            })
        };
        let client = Client {
            name: row.text(c_name)?.to_string(),
            industry: text_or_empty(c_industry)?,
            region: text_or_empty(c_region)?,
            since: match c_since {
                Some(c) => row.optional_date(c)?,
                None => None,
            },
            market_share,
            strategic: match c_strategic {
                Some(c) => row.flag(c)?,
                None => false,
            },
            owner,
            extras: extras
                .iter()
                .map(|(i, _)| row.text(*i).map(str::to_string))
                .collect::<Result<_, _>>()?,
            id: id.clone(),
        };
        ds.client_index.insert(id, ds.clients.len() as u32);
        ds.clients.push(client);
    }
    ds.inputs.push(t.finish()?);
    Ok(())
}

fn load_plans(source: &DataSource, ds: &mut Dataset, max_field: usize) -> Result<(), LoadError> {
    let mut t = open_required(source, "plans.csv", max_field)?;
    ds.plans_file = t.file.clone();
    let c_manager = t.require("manager_id")?;
    let c_period = t.require("period")?;
    let c_kpi = t.require("kpi")?;
    let c_target = t.require("target")?;
    let mut seen: FxHashMap<(u32, Period, String), u64> = FxHashMap::default();
    let mut rec = ByteRecord::new();
    while let Some(row) = t.next_row(&mut rec)? {
        let m = row.required_text(c_manager)?;
        let manager = *ds.manager_index.get(m).ok_or_else(|| {
            row.error(
                c_manager,
                format!("plan for unknown manager_id '{m}'; it is not in managers.csv"),
            )
        })?;
        let period =
            Period::parse(row.required_text(c_period)?).map_err(|e| row.error(c_period, e))?;
        let kpi = row.required_text(c_kpi)?.to_string();
        let target = row.decimal(c_target)?;
        if let Some(first) = seen.insert((manager, period, kpi.clone()), row.line) {
            return Err(row.error(
                c_kpi,
                format!("a second target for manager '{m}', period {period}, kpi '{kpi}' (the first is on line {first})"),
            ));
        }
        ds.plans.push(Plan {
            manager,
            period,
            kpi,
            target,
            line: row.line,
        });
    }
    ds.inputs.push(t.finish()?);
    Ok(())
}

fn load_contracts(
    source: &DataSource,
    ds: &mut Dataset,
    max_field: usize,
) -> Result<(), LoadError> {
    let Some(mut t) = TableReader::open(source, "contracts.csv", max_field)? else {
        return Ok(());
    };
    let c_id = t.require("contract_id")?;
    let c_client = t.require("client_id")?;
    let c_manager = t.require("manager_id")?;
    let c_start = t.require("start")?;
    let c_end = t.require("end")?;
    let c_renewed = t.optional("renewed_on");
    let mut ids: FxHashMap<String, u64> = FxHashMap::default();
    let mut rec = ByteRecord::new();
    while let Some(row) = t.next_row(&mut rec)? {
        let id = row.required_text(c_id)?.to_string();
        if let Some(first) = ids.insert(id.clone(), row.line) {
            return Err(row.error(
                c_id,
                format!("duplicate contract_id '{id}' (first on line {first})"),
            ));
        }
        let c = row.required_text(c_client)?;
        let client = *ds.client_index.get(c).ok_or_else(|| {
            row.error(
                c_client,
                format!("unknown client_id '{c}'; it is not in clients.csv"),
            )
        })?;
        let start = row.date(c_start)?;
        let end = row.date(c_end)?;
        if end < start {
            return Err(row.error(
                c_end,
                format!("the contract ends ({end}) before it starts ({start})"),
            ));
        }
        let renewed_on = match c_renewed {
            Some(c) => row.optional_date(c)?,
            None => None,
        };
        let m = row.text(c_manager)?;
        let manager = if m.is_empty() {
            // The renewal is credited to whoever owns the client on the day it counts.
            super::credit::contract_owner(ds, client, renewed_on.unwrap_or(end))
                .map_err(|e| row.error(c_manager, e))?
        } else {
            *ds.manager_index.get(m).ok_or_else(|| {
                row.error(
                    c_manager,
                    format!("unknown manager_id '{m}'; it is not in managers.csv"),
                )
            })?
        };
        ds.contracts.push(Contract {
            id,
            client,
            manager,
            start,
            end,
            renewed_on,
        });
    }
    ds.inputs.push(t.finish()?);
    Ok(())
}

/// Kinds a settlement line of the host has; an adjustment may not take one of them.
pub const SETTLEMENT_KINDS: [&str; 5] = ["true_up", "guarantee", "draw", "recovery", "clawback"];

fn load_adjustments(
    source: &DataSource,
    ds: &mut Dataset,
    max_field: usize,
) -> Result<(), LoadError> {
    let Some(mut t) = TableReader::open(source, "adjustments.csv", max_field)? else {
        return Ok(());
    };
    ds.adjustments_file = t.file.clone();
    let c_manager = t.require("manager_id")?;
    let c_period = t.require("period")?;
    let c_amount = t.require("amount")?;
    let c_reason = t.require("reason")?;
    let c_by = t.require("approved_by")?;
    let c_kpi = t.optional("kpi");
    let c_kind = t.optional("kind");
    let mut rec = ByteRecord::new();
    while let Some(row) = t.next_row(&mut rec)? {
        let m = row.required_text(c_manager)?;
        let manager = *ds.manager_index.get(m).ok_or_else(|| {
            row.error(
                c_manager,
                format!(
                    "adjustment for unknown manager_id '{m}'; it is not in managers.csv{}",
                    crate::suggest::did_you_mean(m, ds.managers.iter().map(|x| x.id.as_str()))
                ),
            )
        })?;
        let period =
            Period::parse(row.required_text(c_period)?).map_err(|e| row.error(c_period, e))?;
        let amount = row.decimal(c_amount)?;
        let reason = row.required_text(c_reason)?.to_string();
        let approved_by = row.required_text(c_by)?.to_string();
        let kpi = match c_kpi {
            Some(c) => Some(row.text(c)?.to_string()).filter(|k| !k.is_empty()),
            None => None,
        };
        let kind = match c_kind {
            Some(c) => row.text(c)?.to_string(),
            None => String::new(),
        };
        let kind = if kind.is_empty() {
            "adjustment".to_string()
        } else {
            kind
        };
        if SETTLEMENT_KINDS.contains(&kind.as_str()) {
            return Err(row.error(
                c_kind.unwrap_or(c_amount),
                format!(
                    "kind '{kind}' is made by bonusrun itself ({}); give another word, or leave it empty for 'adjustment'",
                    SETTLEMENT_KINDS.join(", ")
                ),
            ));
        }
        ds.adjustments.push(Adjustment {
            manager,
            period,
            amount,
            reason,
            approved_by,
            kpi,
            kind,
            line: row.line,
        });
    }
    ds.inputs.push(t.finish()?);
    Ok(())
}
