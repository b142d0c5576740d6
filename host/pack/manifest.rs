//! `pack.toml`: the rule pack's manifest, as finance edits it.

use crate::money::RoundingMode;
use crate::period::PeriodKind;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::str::FromStr;

/// The whole manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// `[pack]`: identity, currency, rounding, period.
    pub pack: PackInfo,
    /// `[params]`: the parameters finance edits; scripts read them with `param("name")`.
    #[serde(default)]
    pub params: BTreeMap<String, toml::Value>,
    /// `[stages.*]`: which script and function implements each stage.
    pub stages: Stages,
    /// `[[kpis]]`: the KPIs in payout order.
    pub kpis: Vec<KpiDecl>,
    /// `[tables.NAME]`: CSV tables the scripts read with `table("NAME")`.
    #[serde(default)]
    pub tables: BTreeMap<String, TableDecl>,
    /// `[limits]`: resource limits for scripts.
    #[serde(default)]
    pub limits: Limits,
    /// `[ledger]`: guarantees and draws, settled by the host after stage bonus.
    #[serde(default)]
    pub ledger: LedgerDecl,
    /// `[windows.NAME]`: named sales windows (year to date, rolling months, ...).
    #[serde(default)]
    pub windows: BTreeMap<String, super::windows::WindowDecl>,
    /// `[measures.NAME]`: named figures over sales lines (a filter and a sum or count).
    #[serde(default)]
    pub measures: BTreeMap<String, super::measures::MeasureDecl>,
    /// `[payout]`: what the host does to the rules' payout lines.
    #[serde(default)]
    pub payout: PayoutDecl,
    /// `[credit]`: what sales credit the regulation allows beyond one manager per line.
    #[serde(default)]
    pub credit: CreditDecl,
    /// `[fx]`: how sales in other currencies are converted into the pack's.
    #[serde(default)]
    pub fx: FxDecl,
    /// `[report]`: what `report.html` draws beyond the run's results.
    #[serde(default)]
    pub report: ReportDecl,
}

/// `[report]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportDecl {
    /// A function of the bonus stage's Rhai script that takes one attainment and returns
    /// the payout factor the regulation pays for it; the report draws it as the payout
    /// curve, with every manager's KPIs placed on it.
    #[serde(default)]
    pub curve: Option<String>,
    /// The highest attainment the curve is drawn to (default 2, that is 200%).
    #[serde(default, deserialize_with = "optional_decimal")]
    pub curve_to: Option<Decimal>,
}

/// `[fx]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FxDecl {
    /// `daily` (default): a line converts at the rate in force on its date;
    /// `period_average`: at the average of the rates dated in its period.
    #[serde(default)]
    pub rates: FxRates,
}

/// `[fx] rates`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FxRates {
    /// The rate in force on the line's date.
    #[default]
    Daily,
    /// The average of the rates dated in the line's period (of the pack's kind).
    PeriodAverage,
}

/// `[credit]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditDecl {
    /// Whether `credits.csv` may give overlay credit: a share of a client's sales to a
    /// manager on top of the 100% the lines or splits give (so credit totals exceed sales).
    #[serde(default)]
    pub overlay: bool,
}

/// `[payout]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayoutDecl {
    /// `none` (default) or `days`: prorate the rule lines of a manager in the role for part
    /// of the period (managers.csv `start`, `end`).
    #[serde(default)]
    pub prorate: Prorate,
    /// The bonus at 100% attainment for one period, for every manager whose `managers.csv`
    /// row gives none (or when the file has no `target_bonus` column).
    #[serde(default, deserialize_with = "optional_decimal")]
    pub target_bonus: Option<Decimal>,
}

/// `[payout] prorate`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Prorate {
    /// No proration (rules may read `m.proration`); a manager not in the role at all in the
    /// period is still not paid.
    #[default]
    None,
    /// Each rule line is paid for the days in the role.
    Days,
}

/// `[ledger]`: the settlement rules of the regulation, as data finance edits.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerDecl {
    /// A `[tables]` name: `manager_id, from, to, minimum` (periods `from..=to` pay at least
    /// `minimum`).
    #[serde(default)]
    pub guarantees: Option<String>,
    /// A `[tables]` name: `manager_id, period, amount` (an advance paid in that period and
    /// recovered from later payouts).
    #[serde(default)]
    pub draws: Option<String>,
    /// The largest share of a payout that recovers draws (default 1: all of it).
    #[serde(default, deserialize_with = "optional_decimal")]
    pub draw_recovery_share: Option<Decimal>,
    /// Late sales (dated in the closed previous period, unseen by the run that paid it):
    /// `ignore` (default: rules may still read `m.late`) or `clawback`.
    #[serde(default)]
    pub late_sales: LateSales,
    /// The share of the late sales' basis a clawback line takes back.
    #[serde(default, deserialize_with = "optional_decimal")]
    pub clawback_rate: Option<Decimal>,
    /// What the clawback rate applies to: `revenue` (default) or `margin`.
    #[serde(default)]
    pub clawback_basis: ClawbackBasis,
}

/// `[ledger] late_sales`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LateSales {
    /// No clawback line.
    #[default]
    Ignore,
    /// A clawback line when late sales lower the basis.
    Clawback,
}

/// `[ledger] clawback_basis`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClawbackBasis {
    /// Net revenue of the late lines.
    #[default]
    Revenue,
    /// Their margin.
    Margin,
}

fn optional_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    decimal(d).map(Some)
}

/// `[pack]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackInfo {
    /// Short machine name, e.g. `romashka`.
    pub name: String,
    /// The pack's version, e.g. `2026.1`.
    pub version: String,
    /// The regulation's title, in any language.
    pub title: String,
    /// Free text shown in `check` and statements.
    #[serde(default)]
    pub description: String,
    /// ISO 4217 currency code of all amounts.
    pub currency: String,
    /// Decimals of the currency's minor unit; defaults from the ISO table.
    #[serde(default)]
    pub minor_units: Option<u32>,
    /// Rounding mode for payout lines: `half-up`, `half-even`, `half-down`, `down`, `up`.
    pub rounding: RoundingMode,
    /// Period kind: `month`, `quarter`, `half` or `year`.
    pub period: PeriodKind,
}

/// `[stages]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stages {
    /// Stage a: is a client key?
    pub key_clients: StageDecl,
    /// Stage b: the KPI values of a manager.
    pub kpis: StageDecl,
    /// Stage c: a manager's payout lines.
    pub bonus: StageDecl,
}

/// One stage's implementation: a Rhai script or a WebAssembly plugin.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageDecl {
    /// Path of the Rhai script, relative to the pack directory.
    #[serde(default)]
    pub script: Option<String>,
    /// Path of a WebAssembly component (world `bonusrun:rules@0.2.3`, `@0.2.0` or `@0.1.0`), relative
    /// to the pack.
    #[serde(default)]
    pub plugin: Option<String>,
    /// The entry function (stages a and c); defaults to `classify` and `bonus`.
    #[serde(default)]
    pub function: Option<String>,
}

/// One KPI declaration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpiDecl {
    /// Identifier used in plans.csv, kpis.csv and scripts.
    pub id: String,
    /// Human label (any language).
    pub label: String,
    /// Weight in the bonus formula (e.g. 0.35).
    #[serde(deserialize_with = "decimal")]
    pub weight: Decimal,
    /// The function of the KPI script that computes it; defaults to the id.
    #[serde(default)]
    pub function: Option<String>,
    /// Free text for the regulation document.
    #[serde(default)]
    pub description: String,
}

impl KpiDecl {
    /// The KPI script's function for this KPI.
    pub fn function(&self) -> &str {
        self.function.as_deref().unwrap_or(&self.id)
    }
}

/// One table declaration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableDecl {
    /// Path of the CSV file, relative to the pack directory.
    pub file: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Column types: `number`, `text` or `flag`. Cells are checked when the pack loads;
    /// columns not listed are inferred per cell.
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnType>,
    /// Makes the table a decision table: `first`, `unique` or `collect`.
    #[serde(default)]
    pub hit_policy: Option<HitPolicy>,
    /// The inputs of a decision table, matched in every row.
    #[serde(default)]
    pub inputs: Vec<InputDecl>,
}

/// The type of a table column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// An exact decimal.
    Number,
    /// Any text.
    Text,
    /// `true`/`false`.
    Flag,
}

/// Which rows a decision-table lookup returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HitPolicy {
    /// The first matching row, in file order.
    First,
    /// Exactly one row must match; none or several is an error.
    Unique,
    /// Every matching row, in file order.
    Collect,
}

/// One input of a decision table: a half-open range `[from, to)` over two number columns
/// (an empty cell is unbounded), or an exact match on one column (`*` or empty matches all).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InputDecl {
    /// The name scripts pass the value under.
    pub name: String,
    /// Exact-match column.
    #[serde(default)]
    pub column: Option<String>,
    /// Range: the column with the lower bound (inclusive).
    #[serde(default)]
    pub from: Option<String>,
    /// Range: the column with the upper bound (exclusive).
    #[serde(default)]
    pub to: Option<String>,
}

/// Limits on what one script call may do. A call that exceeds one stops the run.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Operations per call (stops endless loops).
    pub max_operations: u64,
    /// Wall-clock seconds per call (a plugin batch of n items gets n times this).
    pub max_seconds_per_call: u64,
    /// Bytes of memory a script call may take (net of what it frees).
    pub max_memory_per_call: u64,
    /// Nested function calls.
    pub max_call_depth: usize,
    /// Expression nesting depth (in functions and at top level).
    pub max_expr_depth: usize,
    /// Length of any string, in bytes.
    pub max_string_size: usize,
    /// Elements of any array, nested arrays' elements included (so it also bounds how
    /// deeply arrays nest).
    pub max_array_size: usize,
    /// Entries of any object map.
    pub max_map_size: usize,
    /// WASM plugins: fuel per client or manager in a batch (stops endless loops).
    pub plugin_fuel_per_item: u64,
    /// WASM plugins: linear memory per store, in bytes.
    pub plugin_memory_bytes: usize,
    /// WASM plugins: the largest component file, in bytes.
    pub max_plugin_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 5_000_000,
            max_seconds_per_call: 10,
            max_memory_per_call: 256 * 1024 * 1024,
            max_call_depth: 32,
            max_expr_depth: 64,
            max_string_size: 100_000,
            max_array_size: 100_000,
            max_map_size: 10_000,
            plugin_fuel_per_item: 20_000_000,
            plugin_memory_bytes: 256 * 1024 * 1024,
            max_plugin_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Reads a decimal from a TOML number or string without going through binary rounding:
/// a float is printed in its shortest round-trip form (`0.05` stays `0.05`).
pub fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    let v = toml::Value::deserialize(d)?;
    value_to_decimal(&v).map_err(serde::de::Error::custom)
}

/// A TOML value as an exact decimal, if it is a number or a numeric string.
pub fn value_to_decimal(v: &toml::Value) -> Result<Decimal, String> {
    match v {
        toml::Value::Integer(i) => Ok(Decimal::from(*i)),
        toml::Value::Float(f) => float_to_decimal(*f),
        toml::Value::String(s) => {
            Decimal::from_str(s.trim()).map_err(|_| format!("'{s}' is not a decimal number"))
        }
        other => Err(format!("expected a number, found {}", other.type_str())),
    }
}

/// A TOML float as the decimal its shortest round-trip text spells. Floats with more than
/// 15 significant digits are refused: write those as strings (`"0.1234567890123456789"`).
pub fn float_to_decimal(f: f64) -> Result<Decimal, String> {
    if !f.is_finite() {
        return Err(format!("{f} is not a finite number"));
    }
    let text = format!("{f}");
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    let significant = text
        .trim_start_matches('-')
        .trim_start_matches(['0', '.'])
        .bytes()
        .filter(u8::is_ascii_digit)
        .count();
    if significant > 15 || digits > 28 {
        return Err(format!(
            "{text} has more digits than a TOML float holds exactly; write the number as a string with all its digits, e.g. \"0.1234567890123456789\""
        ));
    }
    Decimal::from_str(&text).map_err(|e| format!("{text}: {e}"))
}
