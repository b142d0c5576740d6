//! The SDK for bonusrun rule plugins written in Rust.
//!
//! A plugin is a WebAssembly component (target `wasm32-wasip2`) of the world
//! `bonusrun:rules@0.2.3` (`plugins/wit/v0.2/bonusrun.wit`). It reads the facts it needs on
//! demand, through views with the names of the Rhai API (docs/rule-packs.md, section 3), and
//! returns plain Rust values:
//!
//! ```ignore
//! use bonusrun_plugin::{param, plugin, Client, KeyDecision, Result, Rules};
//!
//! struct MyRules;
//!
//! impl Rules for MyRules {
//!     fn classify(client: &Client) -> Result<KeyDecision> {
//!         Ok(KeyDecision::new(client.revenue_share() >= param("key_revenue_share")?))
//!     }
//! }
//!
//! plugin!(MyRules);
//! ```
//!
//! Money and ratios are exact [`Decimal`]s on both sides. A view (`Client`, `Manager`,
//! `Window`, ...) is a handle the host lends for one call: use it while the call runs and
//! let it go. The host calls `classify` once per client, `kpi` once per manager and KPI,
//! and `bonus` once per manager.

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit/v0.2",
        world: "rules",
        pub_export_macro: true,
        export_macro_name: "export_rules",
        default_bindings_module: "bonusrun_plugin::bindings",
    });
}

use bindings::bonusrun::rules::{facts, host, types};
pub use rust_decimal::{Decimal, RoundingStrategy};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

/// An ISO date, `YYYY-MM-DD`, as the host gives it.
pub type Date = String;

/// A rule failed; the message reaches the user with the plugin, stage and subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(e: String) -> Self {
        Error(e)
    }
}

impl From<&str> for Error {
    fn from(e: &str) -> Self {
        Error(e.to_string())
    }
}

/// The result of a rule.
pub type Result<T> = std::result::Result<T, Error>;

/// Returns early with an error message: `bail!("no plan for {id}")`.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::Error(format!($($arg)*))) };
}

/// A decimal from the host (exact: magnitude, scale and sign).
fn from_wit(d: types::Decimal) -> Decimal {
    let mut x = Decimal::from_parts(
        d.lo as u32,
        (d.lo >> 32) as u32,
        d.hi,
        false,
        u32::from(d.scale.min(28)),
    );
    x.set_sign_negative(d.negative);
    x
}

/// A decimal for the host.
fn to_wit(d: Decimal) -> types::Decimal {
    let u = d.unpack();
    types::Decimal {
        lo: (u64::from(u.mid) << 32) | u64::from(u.lo),
        hi: u.hi,
        scale: u.scale as u8,
        negative: u.negative,
    }
}

/// How a value from the host becomes the SDK's type.
#[doc(hidden)]
pub trait FromHost {
    type Out;
    fn into_sdk(self) -> Self::Out;
}

macro_rules! same {
    ($($t:ty),*) => { $(impl FromHost for $t { type Out = $t; fn into_sdk(self) -> $t { self } })* };
}
same!(u64, i64, bool, String, Option<String>, Vec<String>);

impl FromHost for types::Decimal {
    type Out = Decimal;
    fn into_sdk(self) -> Decimal {
        from_wit(self)
    }
}

impl FromHost for Option<types::Decimal> {
    type Out = Option<Decimal>;
    fn into_sdk(self) -> Option<Decimal> {
        self.map(from_wit)
    }
}

/// Wraps the generated resources in views whose methods carry the Rhai names and return
/// SDK types; each calls the generated method of the same name, so the WIT checks them.
macro_rules! views {
    ($(
        $(#[$doc:meta])*
        $view:ident($raw:ty) {
            $( $(#[$fdoc:meta])* fn $name:ident($($arg:ident: $at:ty),*) -> $ret:ty; )*
        }
    )*) => {
        $(
            $(#[$doc])*
            #[repr(transparent)]
            pub struct $view($raw);

            impl $view {
                #[doc(hidden)]
                pub fn wrap(raw: &$raw) -> &$view {
                    // SAFETY: `$view` is `repr(transparent)` over `$raw`.
                    unsafe { &*(raw as *const $raw as *const $view) }
                }

                $(
                    $(#[$fdoc])*
                    pub fn $name(&self, $($arg: $at),*) -> $ret {
                        FromHost::into_sdk(self.0.$name($($arg),*))
                    }
                )*
            }

            impl FromHost for $raw {
                type Out = $view;
                fn into_sdk(self) -> $view {
                    $view(self)
                }
            }

            impl FromHost for Vec<$raw> {
                type Out = Vec<$view>;
                fn into_sdk(self) -> Vec<$view> {
                    self.into_iter().map($view).collect()
                }
            }
        )*

        /// Every view method of the SDK: (view, method), for the contract test.
        #[doc(hidden)]
        pub const METHODS: &[(&str, &str)] = &[$( $( (stringify!($view), stringify!($name)), )* )*];
    };
}

views! {
    /// Sales totals over one period (Rhai `Window`).
    Window(facts::Window) {
        /// Net revenue.
        fn revenue() -> Decimal;
        /// Cost of the goods sold.
        fn cost() -> Decimal;
        /// Revenue minus cost.
        fn margin() -> Decimal;
        /// Margin over revenue (0 without revenue).
        fn margin_rate() -> Decimal;
        /// Units sold.
        fn quantity() -> Decimal;
        /// Returned revenue, as a positive number.
        fn returns() -> Decimal;
        /// Sales lines.
        fn lines() -> u64;
        /// Return lines.
        fn return_lines() -> u64;
        /// Distinct categories bought.
        fn categories() -> u64;
        /// Distinct products bought.
        fn products() -> u64;
        /// The categories bought, by name.
        fn category_names() -> Vec<String>;
        /// Whether `category` was bought.
        fn bought(category: &str) -> bool;
        /// The first sale's date.
        fn first_date() -> Option<Date>;
        /// The last sale's date.
        fn last_date() -> Option<Date>;
        /// The period, e.g. `2026-Q2`.
        fn period() -> String;
        /// The period's first day.
        fn start() -> Date;
        /// The period's last day.
        fn end() -> Date;
        /// A measure the pack declares in `[measures]`, e.g. `new_revenue`.
        fn measure(name: &str) -> Decimal;
    }

    /// A client (Rhai `Client`).
    Client(facts::Client) {
        /// clients.csv `client_id`.
        fn id() -> String;
        /// Name.
        fn name() -> String;
        /// Industry.
        fn industry() -> String;
        /// Region.
        fn region() -> String;
        /// A client since.
        fn since() -> Option<Date>;
        /// Whole years from `since` to the end of the run period.
        fn years() -> i64;
        /// Share of its market.
        fn market_share() -> Decimal;
        /// Marked strategic.
        fn strategic() -> bool;
        /// The client's manager (`""` if none).
        fn manager_id() -> String;
        /// First purchase ever.
        fn first_purchase() -> Option<Date>;
        /// Last purchase.
        fn last_purchase() -> Option<Date>;
        /// The first purchase falls in the run period.
        fn is_new() -> bool;
        /// Share of company revenue in the run period.
        fn revenue_share() -> Decimal;
        /// Share of company margin in the run period.
        fn margin_share() -> Decimal;
        /// The run period.
        fn cur() -> Window;
        /// The period before.
        fn prev() -> Window;
        /// The same period a year before.
        fn year_ago() -> Window;
        /// The whole company in the run period.
        fn company() -> Window;
        /// Key client (after stage key_clients).
        fn key() -> bool;
        /// Tier (after stage key_clients).
        fn tier() -> String;
        /// Score (after stage key_clients).
        fn score() -> Decimal;
        /// Reasons (after stage key_clients).
        fn reasons() -> Vec<String>;
        /// An extra column of clients.csv; a column that does not exist stops the run.
        fn extra(column: &str) -> String;
        /// An extra column as a number (empty is 0).
        fn extra_number(column: &str) -> Decimal;
        /// An extra column as a flag.
        fn extra_flag(column: &str) -> bool;
        /// Whether clients.csv has the column.
        fn has_extra(column: &str) -> bool;
        /// A window the pack declares in `[windows]`, e.g. `ytd`.
        fn window(name: &str) -> Window;
        /// An `each_month` window of the pack: one window per month of the period.
        fn windows(name: &str) -> Vec<Window>;
    }

    /// A manager (Rhai `Manager`).
    Manager(facts::Manager) {
        /// managers.csv `manager_id`.
        fn id() -> String;
        /// Name.
        fn name() -> String;
        /// Target bonus for the period.
        fn target_bonus() -> Decimal;
        /// The first day in the role (managers.csv `start`), if given.
        fn start_date() -> Option<Date>;
        /// The last day in the role (managers.csv `end`), if given.
        fn end_date() -> Option<Date>;
        /// Days of the run period in the role.
        fn days_active() -> u64;
        /// Days of the run period.
        fn period_days() -> u64;
        /// `days_active / period_days`.
        fn proration() -> Decimal;
        /// The run period, e.g. `2026-Q2`.
        fn period() -> String;
        /// The run period.
        fn cur() -> Window;
        /// The period before.
        fn prev() -> Window;
        /// The same period a year before.
        fn year_ago() -> Window;
        /// Key clients only, the run period.
        fn key_cur() -> Window;
        /// Key clients only, the period before.
        fn key_prev() -> Window;
        /// Key clients only, a year before.
        fn key_year_ago() -> Window;
        /// The whole company in the run period.
        fn company() -> Window;
        /// Clients assigned.
        fn client_count() -> u64;
        /// Key clients with sales in the run period.
        fn key_client_count() -> u64;
        /// The client with the largest revenue.
        fn largest_client_id() -> String;
        /// That client's share of the manager's revenue.
        fn largest_client_share() -> Decimal;
        /// Every client the manager sold to, as accounts.
        fn accounts() -> Vec<Account>;
        /// The manager's contracts.
        fn contracts() -> Vec<Contract>;
        /// The plan target for `kpi` in the run period, if any.
        fn plan(kpi: &str) -> Option<Decimal>;
        /// Whether there is a plan for `kpi`.
        fn has_plan(kpi: &str) -> bool;
        /// An extra column of managers.csv; a column that does not exist stops the run.
        fn extra(column: &str) -> String;
        /// An extra column as a number (empty is 0).
        fn extra_number(column: &str) -> Decimal;
        /// An extra column as a flag.
        fn extra_flag(column: &str) -> bool;
        /// Whether managers.csv has the column.
        fn has_extra(column: &str) -> bool;
        /// Whether the run reads a payout ledger (false: no ledger, or `--no-ledger`).
        fn has_ledger() -> bool;
        /// Paid payouts of the year's closed periods before the run period.
        fn paid_ytd() -> Decimal;
        /// The same, rule lines only (no settlement lines).
        fn computed_ytd() -> Decimal;
        /// The paid payout of a closed period, e.g. `2026-Q1`; `None` if not closed.
        fn paid(period: &str) -> Option<Decimal>;
        /// Draws advanced and not yet recovered, before this run.
        fn draw_balance() -> Decimal;
        /// A KPI's recorded values over the year's closed periods before the run period.
        fn value_ytd(kpi: &str) -> Decimal;
        /// The same for its targets.
        fn target_ytd(kpi: &str) -> Decimal;
        /// The paid runs' rule lines naming `kpi` over the same periods.
        fn contribution_ytd(kpi: &str) -> Decimal;
        /// Late sales: dated in a closed period of the year before the run period, unseen
        /// when it was paid.
        fn late() -> Window;
        /// A window the pack declares in `[windows]`, e.g. `ytd`.
        fn window(name: &str) -> Window;
        /// An `each_month` window of the pack: one window per month of the period.
        fn windows(name: &str) -> Vec<Window>;
        /// The head this manager reports to (managers.csv `reports_to`), or "".
        fn reports_to() -> String;
        /// The managers who report to this one.
        fn reports() -> Vec<Manager>;
        /// The team's size: this manager and everyone below, at any depth.
        fn team_size() -> u64;
        /// The team's sales in the run period (this manager's and everyone's below).
        fn team_cur() -> Window;
        /// The team's sales in the period before.
        fn team_prev() -> Window;
        /// The team's sales a year before.
        fn team_year_ago() -> Window;
        /// The team's sales over a window the pack declares in `[windows]`.
        fn team_window(name: &str) -> Window;
        /// The team's sales per month of an `each_month` window.
        fn team_windows(name: &str) -> Vec<Window>;
    }

    /// One client as seen from one manager (Rhai `Account`).
    Account(facts::Account) {
        /// The client.
        fn client() -> Client;
        /// The client's id.
        fn client_id() -> String;
        /// Key client.
        fn key() -> bool;
        /// The run period.
        fn cur() -> Window;
        /// The period before.
        fn prev() -> Window;
        /// The same period a year before.
        fn year_ago() -> Window;
        /// A window the pack declares in `[windows]`, e.g. `ytd`.
        fn window(name: &str) -> Window;
        /// An `each_month` window of the pack: one window per month of the period.
        fn windows(name: &str) -> Vec<Window>;
    }

    /// A contract (Rhai `Contract`).
    Contract(facts::Contract) {
        /// Contract id.
        fn id() -> String;
        /// The client.
        fn client() -> Client;
        /// The client's id.
        fn client_id() -> String;
        /// First day.
        fn start() -> Date;
        /// Last day.
        fn end() -> Date;
        /// When it was renewed, if it was.
        fn renewed_on() -> Option<Date>;
        /// It ends in the run period.
        fn due() -> bool;
        /// Renewed by the end of the run period.
        fn renewed() -> bool;
        /// The client is key.
        fn key() -> bool;
    }

    /// A manager's KPI results, in [[kpis]] order (Rhai `Kpis`).
    Kpis(facts::Kpis) {
        /// Rhai `kpis["id"]`; a KPI the pack does not declare stops the run.
        fn get(id: &str) -> Kpi;
        /// Every result, in [[kpis]] order.
        fn list() -> Vec<Kpi>;
        /// How many.
        fn len() -> u64;
    }

    /// One KPI result (Rhai `Kpi`).
    Kpi(facts::Kpi) {
        /// KPI id.
        fn id() -> String;
        /// Label.
        fn label() -> String;
        /// Weight.
        fn weight() -> Decimal;
        /// Measured value.
        fn value() -> Decimal;
        /// Target.
        fn target() -> Decimal;
        /// Attainment (1 = 100%).
        fn attainment() -> Decimal;
        /// Note.
        fn note() -> String;
    }
}

impl Kpis {
    /// Whether there are no results.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

thread_local! {
    /// Parameters read so far; they do not change during a run.
    static PARAMS: RefCell<HashMap<String, types::ParamValue>> = RefCell::new(HashMap::new());
}

/// A parameter from pack.toml [params], as the host gives it; an unknown name stops the run.
fn raw_param(name: &str) -> types::ParamValue {
    PARAMS.with(|p| {
        if let Some(v) = p.borrow().get(name) {
            return v.clone();
        }
        let v = host::param(name);
        p.borrow_mut().insert(name.to_string(), v.clone());
        v
    })
}

/// A number parameter from pack.toml [params].
pub fn param(name: &str) -> Result<Decimal> {
    match raw_param(name) {
        types::ParamValue::Number(d) => Ok(from_wit(d)),
        _ => Err(Error(format!("parameter '{name}' is not a number"))),
    }
}

/// A text parameter from pack.toml [params].
pub fn param_text(name: &str) -> Result<String> {
    match raw_param(name) {
        types::ParamValue::Text(t) => Ok(t),
        _ => Err(Error(format!("parameter '{name}' is not text"))),
    }
}

/// A true/false parameter from pack.toml [params].
pub fn param_flag(name: &str) -> Result<bool> {
    match raw_param(name) {
        types::ParamValue::Flag(b) => Ok(b),
        _ => Err(Error(format!("parameter '{name}' is not true or false"))),
    }
}

/// A list parameter from pack.toml [params].
pub fn param_list(name: &str) -> Result<Vec<Cell>> {
    match raw_param(name) {
        types::ParamValue::List(l) => Ok(l.into_iter().map(Cell::from_wit).collect()),
        _ => Err(Error(format!("parameter '{name}' is not a list"))),
    }
}

/// Whether pack.toml [params] has `name`.
pub fn has_param(name: &str) -> bool {
    host::has_param(name)
}

/// A cell of a pack table or a list parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// A number.
    Number(Decimal),
    /// Text.
    Text(String),
    /// true or false.
    Flag(bool),
}

impl Cell {
    fn from_wit(c: types::Cell) -> Cell {
        match c {
            types::Cell::Number(d) => Cell::Number(from_wit(d)),
            types::Cell::Text(t) => Cell::Text(t),
            types::Cell::Flag(b) => Cell::Flag(b),
        }
    }
}

/// A pack table: the header and the rows in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each a cell per column.
    pub rows: Vec<Vec<Cell>>,
}

/// A table from pack.toml [tables]; an unknown name stops the run.
pub fn table(name: &str) -> Table {
    let t = host::table(name);
    Table {
        columns: t.columns,
        rows: t
            .rows
            .into_iter()
            .map(|r| r.into_iter().map(Cell::from_wit).collect())
            .collect(),
    }
}

/// A row a decision-table lookup hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The row's line in the table file.
    pub line: u32,
    /// (column, cell) pairs.
    pub cells: Vec<(String, Cell)>,
}

impl Row {
    fn cell(&self, column: &str) -> Result<&Cell> {
        self.cells
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, v)| v)
            .ok_or_else(|| Error(format!("the row has no column '{column}'")))
    }

    /// The number in `column`.
    pub fn number(&self, column: &str) -> Result<Decimal> {
        match self.cell(column)? {
            Cell::Number(d) => Ok(*d),
            _ => Err(Error(format!("column '{column}' is not a number"))),
        }
    }

    /// The text in `column`.
    pub fn text(&self, column: &str) -> Result<String> {
        Ok(match self.cell(column)? {
            Cell::Text(t) => t.clone(),
            Cell::Number(d) => d.to_string(),
            Cell::Flag(b) => b.to_string(),
        })
    }

    /// The flag in `column`.
    pub fn flag(&self, column: &str) -> Result<bool> {
        match self.cell(column)? {
            Cell::Flag(b) => Ok(*b),
            _ => Err(Error(format!("column '{column}' is not true or false"))),
        }
    }
}

/// A value passed to a lookup.
pub type LookupValue = types::LookupValue;

/// A number input for [`lookup`].
pub fn number(value: Decimal) -> LookupValue {
    types::LookupValue::Number(to_wit(value))
}

/// A text input for [`lookup`].
pub fn text(value: &str) -> LookupValue {
    types::LookupValue::Text(value.to_string())
}

/// Looks up a decision table with hit policy `first` or `unique`: the row hit. An unknown
/// table stops the run; no match is an error.
pub fn lookup(table: &str, inputs: &[(&str, LookupValue)]) -> Result<Row> {
    let mut rows = lookup_all(table, inputs)?;
    if rows.is_empty() {
        return Err(Error(format!("no row of table '{table}' matches")));
    }
    Ok(rows.swap_remove(0))
}

/// Looks up a decision table: every row hit (for hit policy `collect`).
pub fn lookup_all(table: &str, inputs: &[(&str, LookupValue)]) -> Result<Vec<Row>> {
    let inputs: Vec<(String, LookupValue)> = inputs
        .iter()
        .map(|(n, v)| (n.to_string(), v.clone()))
        .collect();
    let rows = host::lookup(table, &inputs).map_err(Error)?;
    Ok(rows
        .into_iter()
        .map(|r| Row {
            line: r.line,
            cells: r
                .cells
                .into_iter()
                .map(|(c, v)| (c, Cell::from_wit(v)))
                .collect(),
        })
        .collect())
}

/// Rounds to the currency's minor unit with the pack's rounding mode.
pub fn round_money(amount: Decimal) -> Decimal {
    from_wit(host::round_money(to_wit(amount)))
}

/// Adds a warning to the run, for the current client or manager.
pub fn warn(message: &str) {
    host::warn(message)
}

/// Writes a debugging line to the host's stderr.
pub fn log(message: &str) {
    host::log(message)
}

/// `a / b`, or zero when `b` is zero (Rhai `ratio`).
pub fn ratio(a: Decimal, b: Decimal) -> Decimal {
    if b.is_zero() {
        Decimal::ZERO
    } else {
        a.checked_div(b).unwrap_or_default()
    }
}

/// `12.3%`: the ratio times 100, at most one decimal (banker's rounding), no trailing zeros
/// (Rhai `percent`).
pub fn percent(x: Decimal) -> String {
    let v = (x * Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(1, RoundingStrategy::MidpointNearestEven)
        .normalize();
    if v.is_zero() {
        "0%".to_string()
    } else {
        format!("{v}%")
    }
}

/// An integer as a decimal (Rhai `dec`).
pub fn dec(n: i64) -> Decimal {
    Decimal::from(n)
}

/// The smaller of two decimals (Rhai `min`).
pub fn min(a: Decimal, b: Decimal) -> Decimal {
    a.min(b)
}

/// The larger of two decimals (Rhai `max`).
pub fn max(a: Decimal, b: Decimal) -> Decimal {
    a.max(b)
}

/// `x` held between `lo` and `hi` (Rhai `clamp`).
pub fn clamp(x: Decimal, lo: Decimal, hi: Decimal) -> Result<Decimal> {
    if lo > hi {
        bail!("clamp: low {lo} is above high {hi}");
    }
    Ok(x.max(lo).min(hi))
}

/// Days from `a` to `b`, both `YYYY-MM-DD` (Rhai `days_between`).
pub fn days_between(a: &str, b: &str) -> Result<i64> {
    Ok(days(b)? - days(a)?)
}

/// Days since 1970-01-01 of an ISO date.
fn days(iso: &str) -> Result<i64> {
    let bad = || Error(format!("days_between: '{iso}' is not a YYYY-MM-DD date"));
    let parts: Vec<&str> = iso.split('-').collect();
    let [y, m, d] = parts[..] else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let (y, m, d): (i64, i64, i64) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > month_days[(m - 1) as usize] {
        return Err(bad());
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Ok(era * 146_097 + doe - 719_468)
}

/// What `classify` returns.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyDecision {
    /// Key client or not.
    pub key: bool,
    /// Tier (empty for none).
    pub tier: String,
    /// Score.
    pub score: Decimal,
    /// The criteria that matched, in the rule's words.
    pub reasons: Vec<String>,
}

impl KeyDecision {
    /// A decision with no tier, score 0 and no reasons.
    pub fn new(key: bool) -> KeyDecision {
        KeyDecision {
            key,
            tier: String::new(),
            score: Decimal::ZERO,
            reasons: Vec::new(),
        }
    }

    fn into_host(self) -> types::KeyDecision {
        types::KeyDecision {
            key: self.key,
            tier: self.tier,
            score: to_wit(self.score),
            reasons: self.reasons,
        }
    }
}

/// What `kpi` returns. Without an attainment the host uses value / target.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiValue {
    /// The measured value.
    pub value: Decimal,
    /// The target.
    pub target: Decimal,
    /// Attainment, if the rule sets it.
    pub attainment: Option<Decimal>,
    /// A note.
    pub note: String,
}

impl KpiValue {
    /// A value against a target; the host computes attainment = value / target.
    pub fn new(value: Decimal, target: Decimal) -> KpiValue {
        KpiValue {
            value,
            target,
            attainment: None,
            note: String::new(),
        }
    }

    /// Sets the attainment explicitly.
    pub fn attainment(mut self, attainment: Decimal) -> KpiValue {
        self.attainment = Some(attainment);
        self
    }

    /// Adds a note.
    pub fn note(mut self, note: impl Into<String>) -> KpiValue {
        self.note = note.into();
        self
    }

    fn into_host(self) -> types::KpiValue {
        types::KpiValue {
            value: to_wit(self.value),
            target: to_wit(self.target),
            attainment: self.attainment.map(to_wit),
            note: self.note,
        }
    }
}

/// A payout line; the host rounds the amount once to the currency's minor unit.
#[derive(Debug, Clone, PartialEq)]
pub struct PayoutLine {
    /// What the line is for.
    pub label: String,
    /// The exact amount.
    pub amount: Decimal,
    /// The KPI the line belongs to, if any.
    pub kpi: Option<String>,
    /// `kpi`, `gate`, `cap`, `accelerator`, ...
    pub kind: String,
    /// A note.
    pub note: String,
}

impl PayoutLine {
    /// A payout line of `kind` (`kpi`, `gate`, `cap`, `accelerator`, ...).
    pub fn new(label: impl Into<String>, amount: Decimal, kind: &str) -> PayoutLine {
        PayoutLine {
            label: label.into(),
            amount,
            kpi: None,
            kind: kind.into(),
            note: String::new(),
        }
    }

    /// Ties the line to a KPI.
    pub fn kpi(mut self, id: &str) -> PayoutLine {
        self.kpi = Some(id.into());
        self
    }

    /// Adds a note.
    pub fn note(mut self, note: impl Into<String>) -> PayoutLine {
        self.note = note.into();
        self
    }

    fn into_host(self) -> types::PayoutLine {
        types::PayoutLine {
            label: self.label,
            amount: to_wit(self.amount),
            kpi: self.kpi,
            kind: self.kind,
            note: self.note,
        }
    }
}

/// The rules of a plugin. Implement the stages your plugin serves; the others answer with
/// an error saying the plugin does not implement them.
pub trait Rules {
    /// Stage key_clients, for one client.
    fn classify(client: &Client) -> Result<KeyDecision> {
        let _ = client;
        Err(Error(
            "this plugin does not implement stage key_clients".into(),
        ))
    }

    /// Stage kpis: KPI `id` (declared in [[kpis]]) for one manager.
    fn kpi(id: &str, manager: &Manager) -> Result<KpiValue> {
        let _ = manager;
        Err(Error(format!(
            "this plugin does not implement stage kpis (KPI '{id}')"
        )))
    }

    /// Stage bonus, for one manager and its KPI results.
    fn bonus(manager: &Manager, kpis: &Kpis) -> Result<Vec<PayoutLine>> {
        let _ = (manager, kpis);
        Err(Error("this plugin does not implement stage bonus".into()))
    }
}

#[doc(hidden)]
pub mod exports {
    //! The glue behind [`plugin!`](crate::plugin): generated types in, SDK types out.
    use super::*;

    pub fn classify<R: Rules>(
        client: &facts::Client,
    ) -> std::result::Result<types::KeyDecision, String> {
        R::classify(Client::wrap(client))
            .map(KeyDecision::into_host)
            .map_err(|e| e.0)
    }

    pub fn kpi<R: Rules>(
        id: &str,
        manager: &facts::Manager,
    ) -> std::result::Result<types::KpiValue, String> {
        R::kpi(id, Manager::wrap(manager))
            .map(KpiValue::into_host)
            .map_err(|e| e.0)
    }

    pub fn bonus<R: Rules>(
        manager: &facts::Manager,
        kpis: &facts::Kpis,
    ) -> std::result::Result<Vec<types::PayoutLine>, String> {
        R::bonus(Manager::wrap(manager), Kpis::wrap(kpis))
            .map(|lines| lines.into_iter().map(PayoutLine::into_host).collect())
            .map_err(|e| e.0)
    }
}

/// Exports `$rules` (a type implementing [`Rules`]) as the plugin's component exports.
#[macro_export]
macro_rules! plugin {
    ($rules:ty) => {
        struct __BonusrunPlugin;

        impl $crate::bindings::Guest for __BonusrunPlugin {
            fn classify(
                client: &$crate::bindings::bonusrun::rules::facts::Client,
            ) -> ::std::result::Result<$crate::bindings::bonusrun::rules::types::KeyDecision, ::std::string::String> {
                $crate::exports::classify::<$rules>(client)
            }
            fn kpi(
                id: ::std::string::String,
                manager: &$crate::bindings::bonusrun::rules::facts::Manager,
            ) -> ::std::result::Result<$crate::bindings::bonusrun::rules::types::KpiValue, ::std::string::String> {
                $crate::exports::kpi::<$rules>(&id, manager)
            }
            fn bonus(
                manager: &$crate::bindings::bonusrun::rules::facts::Manager,
                kpis: &$crate::bindings::bonusrun::rules::facts::Kpis,
            ) -> ::std::result::Result<::std::vec::Vec<$crate::bindings::bonusrun::rules::types::PayoutLine>, ::std::string::String> {
                $crate::exports::bonus::<$rules>(manager, kpis)
            }
        }

        $crate::bindings::export_rules!(__BonusrunPlugin with_types_in $crate::bindings);
    };
}
