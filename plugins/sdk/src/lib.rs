//! The SDK for bonusrun rule plugins written in Rust.
//!
//! A plugin is a WebAssembly component (target `wasm32-wasip2`) of the world
//! `bonusrun:rules@0.1.0` (see `plugins/wit/bonusrun.wit`). This crate wraps the generated
//! bindings so that a plugin author writes plain functions over friendly types:
//!
//! ```ignore
//! use bonusrun_plugin::{dec, plugin, Client, KeyDecision, Result, Rules};
//!
//! struct MyRules;
//!
//! impl Rules for MyRules {
//!     fn classify(client: &Client) -> Result<KeyDecision> {
//!         let key = dec(&client.revenue_share)? >= dec("0.05")?;
//!         Ok(KeyDecision::new(key))
//!     }
//! }
//!
//! plugin!(MyRules);
//! ```
//!
//! Money and ratios cross the boundary as exact decimal strings; [`dec`] parses one into a
//! [`Decimal`] and [`wire`] prints one back. Batching is handled here: the host calls the
//! component once per batch of clients or managers, and the generated export loops over
//! the batch calling your per-item functions.

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "rules",
        pub_export_macro: true,
        export_macro_name: "export_rules",
        default_bindings_module: "bonusrun_plugin::bindings",
    });
}

pub use bindings::bonusrun::rules::types::{
    Account, Cell, Client, Contract, KeyDecision, Kpi, KpiValue, LookupValue, Manager, ParamValue,
    PayoutLine, TableData as Table, Window,
};
pub use rust_decimal::{Decimal, RoundingStrategy};

use bindings::bonusrun::rules::host;
use std::fmt;
use std::str::FromStr;

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

impl From<rust_decimal::Error> for Error {
    fn from(e: rust_decimal::Error) -> Self {
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

/// Parses a decimal from the wire (`"1234.50"`).
pub fn dec(text: &str) -> Result<Decimal> {
    Decimal::from_str(text).map_err(|_| Error(format!("'{text}' is not a decimal")))
}

/// Prints a decimal for the wire, without trailing zeros beyond its scale.
pub fn wire(value: Decimal) -> String {
    value.to_string()
}

/// `a / b`, or zero when `b` is zero.
pub fn ratio(a: Decimal, b: Decimal) -> Decimal {
    if b.is_zero() {
        Decimal::ZERO
    } else {
        a.checked_div(b).unwrap_or_default()
    }
}

/// A number parameter from pack.toml [params].
pub fn param(name: &str) -> Result<Decimal> {
    match host::param(name) {
        Some(ParamValue::Number(d)) => dec(&d),
        Some(_) => Err(Error(format!("parameter '{name}' is not a number"))),
        None => Err(Error(format!("unknown parameter '{name}'"))),
    }
}

/// A text parameter from pack.toml [params].
pub fn param_text(name: &str) -> Result<String> {
    match host::param(name) {
        Some(ParamValue::Text(t)) => Ok(t),
        Some(_) => Err(Error(format!("parameter '{name}' is not text"))),
        None => Err(Error(format!("unknown parameter '{name}'"))),
    }
}

/// A table from pack.toml [tables].
pub fn table(name: &str) -> Result<Table> {
    host::table(name).ok_or_else(|| Error(format!("unknown table '{name}'")))
}

/// The value of column `column` in `row` of `table`, as a number.
pub fn cell_number(table: &Table, row: &[Cell], column: &str) -> Result<Decimal> {
    let i = table
        .columns
        .iter()
        .position(|c| c == column)
        .ok_or_else(|| Error(format!("the table has no column '{column}'")))?;
    match row.get(i) {
        Some(Cell::Number(d)) => dec(d),
        _ => Err(Error(format!("column '{column}' is not a number"))),
    }
}

/// A row a decision-table lookup hit: (column, cell) pairs.
#[derive(Debug, Clone)]
pub struct Row(pub Vec<(String, Cell)>);

impl Row {
    /// The number in `column`.
    pub fn number(&self, column: &str) -> Result<Decimal> {
        match self.0.iter().find(|(c, _)| c == column) {
            Some((_, Cell::Number(d))) => dec(d),
            Some(_) => Err(Error(format!("column '{column}' is not a number"))),
            None => Err(Error(format!("the row has no column '{column}'"))),
        }
    }

    /// The text in `column`.
    pub fn text(&self, column: &str) -> Result<String> {
        match self.0.iter().find(|(c, _)| c == column) {
            Some((_, Cell::Text(t))) => Ok(t.clone()),
            Some((_, Cell::Number(d))) => Ok(d.clone()),
            Some((_, Cell::Flag(b))) => Ok(b.to_string()),
            None => Err(Error(format!("the row has no column '{column}'"))),
        }
    }
}

/// A number input for [`lookup`].
pub fn number(value: Decimal) -> LookupValue {
    LookupValue::Number(wire(value))
}

/// A text input for [`lookup`].
pub fn text(value: &str) -> LookupValue {
    LookupValue::Text(value.to_string())
}

/// Looks up a decision table with hit policy `first` or `unique`: the row hit.
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
    Ok(rows.into_iter().map(Row).collect())
}

/// Rounds to the currency's minor unit with the pack's rounding mode.
pub fn round_money(amount: Decimal) -> Result<Decimal> {
    dec(&host::round_money(&wire(amount)))
}

/// Adds a warning to the run.
pub fn warn(message: &str) {
    host::warn(message)
}

/// Writes a debugging line to the host's stderr.
pub fn log(message: &str) {
    host::log(message)
}

/// The value of an extra column (`""` if absent).
pub fn extra<'a>(extras: &'a [(String, String)], column: &str) -> &'a str {
    extras
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(column))
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

impl KeyDecision {
    /// A decision with no tier, score 0 and no reasons.
    pub fn new(key: bool) -> KeyDecision {
        KeyDecision {
            key,
            tier: String::new(),
            score: "0".into(),
            reasons: Vec::new(),
        }
    }
}

impl KpiValue {
    /// A value against a target; the host computes attainment = value / target.
    pub fn new(value: Decimal, target: Decimal) -> KpiValue {
        KpiValue {
            value: wire(value),
            target: wire(target),
            attainment: None,
            note: String::new(),
        }
    }

    /// Sets the attainment explicitly.
    pub fn attainment(mut self, attainment: Decimal) -> KpiValue {
        self.attainment = Some(wire(attainment));
        self
    }

    /// Adds a note.
    pub fn note(mut self, note: impl Into<String>) -> KpiValue {
        self.note = note.into();
        self
    }
}

impl PayoutLine {
    /// A payout line of `kind` (`kpi`, `gate`, `cap`, `accelerator`, ...).
    pub fn new(label: impl Into<String>, amount: Decimal, kind: &str) -> PayoutLine {
        PayoutLine {
            label: label.into(),
            amount: wire(amount),
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
}

impl Manager {
    /// The plan target for `kpi` in the run period, if any.
    pub fn plan(&self, kpi: &str) -> Result<Option<Decimal>> {
        match self.plans.iter().find(|(k, _)| k == kpi) {
            Some((_, t)) => dec(t).map(Some),
            None => Ok(None),
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

    /// Stage kpis: KPI `id` for one manager.
    fn kpi(id: &str, manager: &Manager) -> Result<KpiValue> {
        let _ = manager;
        Err(Error(format!(
            "this plugin does not implement stage kpis (KPI '{id}')"
        )))
    }

    /// Stage bonus, for one manager and its KPI results (in pack order).
    fn bonus(manager: &Manager, kpis: &[Kpi]) -> Result<Vec<PayoutLine>> {
        let _ = (manager, kpis);
        Err(Error("this plugin does not implement stage bonus".into()))
    }
}

#[doc(hidden)]
pub mod batch {
    //! The batch loops behind [`plugin!`](crate::plugin).
    use super::*;

    pub fn classify<R: Rules>(
        clients: Vec<Client>,
    ) -> std::result::Result<Vec<KeyDecision>, String> {
        clients
            .iter()
            .enumerate()
            .map(|(i, c)| {
                host::item(i as u32);
                R::classify(c).map_err(|e| e.0)
            })
            .collect()
    }

    pub fn kpis<R: Rules>(
        ids: Vec<String>,
        managers: Vec<Manager>,
    ) -> std::result::Result<Vec<Vec<KpiValue>>, String> {
        managers
            .iter()
            .enumerate()
            .map(|(i, m)| {
                host::item(i as u32);
                ids.iter()
                    .map(|id| R::kpi(id, m).map_err(|e| format!("KPI '{id}': {e}")))
                    .collect()
            })
            .collect()
    }

    pub fn bonus<R: Rules>(
        managers: Vec<Manager>,
        kpis: Vec<Vec<Kpi>>,
    ) -> std::result::Result<Vec<Vec<PayoutLine>>, String> {
        managers
            .iter()
            .zip(kpis.iter())
            .enumerate()
            .map(|(i, (m, k))| {
                host::item(i as u32);
                R::bonus(m, k).map_err(|e| e.0)
            })
            .collect()
    }
}

/// Exports `$rules` (a type implementing [`Rules`]) as the plugin's component exports.
#[macro_export]
macro_rules! plugin {
    ($rules:ty) => {
        struct __BonusrunPlugin;

        impl $crate::bindings::Guest for __BonusrunPlugin {
            fn classify(
                clients: ::std::vec::Vec<$crate::Client>,
            ) -> ::std::result::Result<::std::vec::Vec<$crate::KeyDecision>, ::std::string::String> {
                $crate::batch::classify::<$rules>(clients)
            }
            fn kpis(
                ids: ::std::vec::Vec<::std::string::String>,
                managers: ::std::vec::Vec<$crate::Manager>,
            ) -> ::std::result::Result<::std::vec::Vec<::std::vec::Vec<$crate::KpiValue>>, ::std::string::String> {
                $crate::batch::kpis::<$rules>(ids, managers)
            }
            fn bonus(
                managers: ::std::vec::Vec<$crate::Manager>,
                kpis: ::std::vec::Vec<::std::vec::Vec<$crate::Kpi>>,
            ) -> ::std::result::Result<::std::vec::Vec<::std::vec::Vec<$crate::PayoutLine>>, ::std::string::String> {
                $crate::batch::bonus::<$rules>(managers, kpis)
            }
        }

        $crate::bindings::export_rules!(__BonusrunPlugin with_types_in $crate::bindings);
    };
}
