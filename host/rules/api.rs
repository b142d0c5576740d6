//! The Rhai API: the run's [`Context`] the views read, and the global functions scripts may
//! call (parameters, tables, lookups, rounding, helpers, warnings).
//!
//! The views themselves (`Window`, `Client`, `Manager`, ...) are described once, for Rhai
//! and WebAssembly alike, in [`super::views`]. The full API is documented in
//! `docs/rule-packs.md`; `tests/contract.rs` keeps the two in step.

use crate::facts::{Facts, Window, Windows};
use crate::load::Dataset;
use crate::pack::{Cell, ParamValue};
use crate::period::Date;
use crate::rules::RulePack;
use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map, INT};
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::sync::Arc;

type Res<T> = Result<T, Box<EvalAltResult>>;

/// A client's classification, the result of stage a.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct KeyDecision {
    /// Key client or not.
    pub key: bool,
    /// Tier, e.g. `A` (empty when the rule gives none).
    pub tier: String,
    /// Score (0 when the rule gives none).
    pub score: Decimal,
    /// Criteria that matched, in the rule's words.
    pub reasons: Vec<String>,
}

/// One KPI's result for one manager, the result of stage b.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct KpiResult {
    /// KPI id.
    pub id: String,
    /// Label from the pack.
    pub label: String,
    /// Weight from the pack.
    pub weight: Decimal,
    /// The measured value.
    pub value: Decimal,
    /// The target.
    pub target: Decimal,
    /// Attainment (1 = 100%).
    pub attainment: Decimal,
    /// A note from the rule, if any.
    pub note: String,
}

/// Everything the views read: data, facts, and the results of earlier stages.
pub struct Context {
    /// The input tables.
    pub data: Arc<Dataset>,
    /// The facts.
    pub facts: Arc<Facts>,
    /// Stage a results, per client (empty while stage a runs).
    pub decisions: Vec<KeyDecision>,
    /// Key-client subtotals per manager (empty while stage a runs).
    pub key_windows: Vec<Windows>,
    /// Plan targets for the run period: (manager, kpi) → target.
    pub plans: FxHashMap<(u32, String), Decimal>,
    /// What the ledger knows (empty without one).
    pub carry: Arc<crate::ledger::carry::Carry>,
    /// Per manager, late sales of the closed previous period (empty without a ledger).
    pub late: Arc<Vec<Window>>,
}

impl Context {
    /// A context for stage a (no decisions yet).
    pub fn new(data: Arc<Dataset>, facts: Arc<Facts>) -> Context {
        let period = facts.period();
        let plans = data
            .plans
            .iter()
            .filter(|p| p.period == period)
            .map(|p| ((p.manager, p.kpi.clone()), p.target))
            .collect();
        Context {
            data,
            facts,
            decisions: Vec::new(),
            key_windows: Vec::new(),
            plans,
            carry: Arc::default(),
            late: Arc::default(),
        }
    }

    /// Adds the late sales per manager.
    pub fn with_late(self, late: Arc<Vec<Window>>) -> Context {
        Context { late, ..self }
    }

    /// Adds what the ledger knows.
    pub fn with_carry(self, carry: Arc<crate::ledger::carry::Carry>) -> Context {
        Context { carry, ..self }
    }

    /// Adds stage a results and the key-client subtotals they imply. Fails with a message
    /// when a subtotal does not fit a decimal (the first manager in file order).
    pub fn with_decisions(self, decisions: Vec<KeyDecision>) -> Result<Context, String> {
        use rayon::prelude::*;
        let key_windows: Vec<Result<Windows, String>> = (0..self.facts.managers.len() as u32)
            .into_par_iter()
            .map(|m| Context::key_windows_for(&self.data, &self.facts, &decisions, m))
            .collect();
        let key_windows = key_windows.into_iter().collect::<Result<_, _>>()?;
        Ok(Context {
            decisions,
            key_windows,
            ..self
        })
    }

    /// Key-client subtotals of one manager, from stage a results.
    fn key_windows_for(
        data: &Dataset,
        facts: &Facts,
        decisions: &[KeyDecision],
        manager: u32,
    ) -> Result<Windows, String> {
        let key_accounts: Vec<&crate::facts::Account> = facts.managers[manager as usize]
            .accounts
            .iter()
            .map(|&a| &facts.accounts[a as usize])
            .filter(|acc| decisions.get(acc.client as usize).is_some_and(|d| d.key))
            .collect();
        crate::facts::windows_of(
            &facts.plan,
            || {
                format!(
                    "the key clients of manager {}",
                    data.managers[manager as usize].id
                )
            },
            |w| key_accounts.iter().map(move |a| &a.windows[w]),
        )
    }
}

thread_local! {
    static WARNINGS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    static TRACE: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Takes the warnings scripts raised with `warn()` on this thread since the last call.
pub fn take_warnings() -> Vec<String> {
    WARNINGS.with(|w| std::mem::take(&mut *w.borrow_mut()))
}

/// Takes the decision-table lookups made on this thread since the last call, as sentences.
pub fn take_trace() -> Vec<String> {
    TRACE.with(|t| std::mem::take(&mut *t.borrow_mut()))
}

/// Records a lookup for `explain`.
pub(crate) fn trace_lookup(
    table: &crate::pack::Table,
    values: &[(&str, &crate::pack::LookupValue)],
    hits: &[usize],
) {
    let sentence = describe_lookup(table, values, hits);
    TRACE.with(|t| t.borrow_mut().push(sentence));
}

/// A lookup as a sentence: the table, the inputs and the rows matched.
pub(crate) fn describe_lookup(
    table: &crate::pack::Table,
    values: &[(&str, &crate::pack::LookupValue)],
    hits: &[usize],
) -> String {
    let inputs = values
        .iter()
        .map(|(n, v)| format!("{n} = {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = hits
        .iter()
        .map(|&r| {
            let cells = table
                .columns
                .iter()
                .zip(&table.rows[r])
                .map(|(c, v)| format!("{c} {v}"))
                .collect::<Vec<_>>()
                .join(", ");
            format!("line {} ({cells})", table.lines[r])
        })
        .collect::<Vec<_>>()
        .join("; ");
    format!(
        "table {}: {inputs} matched {}",
        table.name,
        if rows.is_empty() {
            "no row".to_string()
        } else {
            rows
        }
    )
}

fn cell_dynamic(cell: &Cell) -> Dynamic {
    match cell {
        Cell::Number(d) => Dynamic::from_decimal(*d),
        Cell::Flag(b) => Dynamic::from_bool(*b),
        Cell::Text(s) => Dynamic::from(ImmutableString::from(s.as_str())),
        Cell::Empty => Dynamic::UNIT,
    }
}

/// The global functions bonusrun adds to Rhai, for "did you mean" hints (the views' methods
/// come from [`super::views::methods`]).
pub const FUNCTIONS: &[&str] = &[
    "clamp",
    "days_between",
    "dec",
    "has_param",
    "lookup",
    "max",
    "min",
    "param",
    "percent",
    "ratio",
    "round_money",
    "table",
    "to_string",
    "warn",
];

fn param_dynamic(v: &ParamValue) -> Dynamic {
    match v {
        ParamValue::Number(d) => Dynamic::from_decimal(*d),
        ParamValue::Text(s) => Dynamic::from(ImmutableString::from(s.as_str())),
        ParamValue::Flag(b) => Dynamic::from_bool(*b),
        ParamValue::List(l) => Dynamic::from_array(l.iter().map(param_dynamic).collect()),
    }
}

fn to_decimal(v: &Dynamic, what: &str) -> Res<Decimal> {
    if let Some(d) = v.clone().try_cast::<Decimal>() {
        return Ok(d);
    }
    if let Ok(i) = v.as_int() {
        return Ok(Decimal::from(i));
    }
    Err(format!("{what} must be a number, found {}", v.type_name()).into())
}

/// Registers the view types and global functions for `pack` on `engine`.
pub fn register(engine: &mut Engine, pack: &RulePack) {
    super::views::register(engine);
    register_functions(engine, pack);
}

fn register_functions(engine: &mut Engine, pack: &RulePack) {
    let params: Arc<FxHashMap<String, Dynamic>> = Arc::new(
        pack.params
            .iter()
            .map(|(k, v)| (k.clone(), param_dynamic(v)))
            .collect(),
    );
    let names: Arc<String> = Arc::new(pack.params.keys().cloned().collect::<Vec<_>>().join(", "));
    let p = params.clone();
    let n = names.clone();
    engine.register_fn("param", move |name: ImmutableString| -> Res<Dynamic> {
        p.get(name.as_str()).cloned().ok_or_else(|| {
            format!(
                "unknown parameter '{name}'{}; pack.toml [params] has: {}",
                crate::suggest::did_you_mean(&name, n.split(", ")),
                if n.is_empty() { "(none)" } else { n.as_str() }
            )
            .into()
        })
    });
    engine.register_fn("has_param", move |name: ImmutableString| {
        params.contains_key(name.as_str())
    });

    let tables: Arc<FxHashMap<String, Dynamic>> = Arc::new(
        pack.tables
            .iter()
            .map(|(name, t)| {
                let rows: Array = t
                    .rows
                    .iter()
                    .map(|row| {
                        let mut m = Map::new();
                        for (col, cell) in t.columns.iter().zip(row) {
                            m.insert(col.as_str().into(), cell_dynamic(cell));
                        }
                        Dynamic::from_map(m)
                    })
                    .collect();
                (name.clone(), Dynamic::from_array(rows))
            })
            .collect(),
    );
    engine.register_fn("table", move |name: ImmutableString| -> Res<Dynamic> {
        tables.get(name.as_str()).cloned().ok_or_else(|| {
            let mut known: Vec<&str> = tables.keys().map(String::as_str).collect();
            known.sort_unstable();
            format!(
                "unknown table '{name}'; pack.toml [tables] has: {}",
                if known.is_empty() {
                    "(none)".to_string()
                } else {
                    known.join(", ")
                }
            )
            .into()
        })
    });

    let decision: Arc<FxHashMap<String, Arc<crate::pack::Table>>> = Arc::new(
        pack.tables
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    );
    engine.register_fn(
        "lookup",
        move |name: ImmutableString, inputs: Map| -> Res<Dynamic> {
            let table = decision.get(name.as_str()).ok_or_else(|| {
                let mut known: Vec<&str> = decision.keys().map(String::as_str).collect();
                known.sort_unstable();
                format!(
                    "unknown table '{name}'; pack.toml [tables] has: {}",
                    known.join(", ")
                )
            })?;
            let mut values: Vec<(String, crate::pack::LookupValue)> =
                Vec::with_capacity(inputs.len());
            for (k, v) in inputs {
                let value = if v.is_string() {
                    crate::pack::LookupValue::Text(v.to_string())
                } else {
                    crate::pack::LookupValue::Number(to_decimal(
                        &v,
                        &format!("lookup input '{k}'"),
                    )?)
                };
                values.push((k.to_string(), value));
            }
            let refs: Vec<(&str, &crate::pack::LookupValue)> =
                values.iter().map(|(k, v)| (k.as_str(), v)).collect();
            let hits = table.lookup(&refs)?;
            trace_lookup(table, &refs, &hits);
            let row_map = |r: usize| -> Dynamic {
                let mut m = Map::new();
                for (col, cell) in table.columns.iter().zip(&table.rows[r]) {
                    m.insert(col.as_str().into(), cell_dynamic(cell));
                }
                m.insert("_line".into(), Dynamic::from_int(table.lines[r] as INT));
                Dynamic::from_map(m)
            };
            Ok(match table.hit_policy {
                Some(crate::pack::HitPolicy::Collect) => {
                    Dynamic::from_array(hits.into_iter().map(row_map).collect())
                }
                _ => row_map(hits[0]),
            })
        },
    );

    let currency = pack.currency.clone();
    let mode = pack.rounding;
    engine.register_fn("round_money", move |x: Decimal| currency.round(x, mode));
    engine.register_fn("round_money", move |x: INT| Decimal::from(x));
    engine.register_fn("ratio", |a: Dynamic, b: Dynamic| -> Res<Decimal> {
        let (a, b) = (
            to_decimal(&a, "ratio's first argument")?,
            to_decimal(&b, "ratio's second argument")?,
        );
        Ok(if b.is_zero() {
            Decimal::ZERO
        } else {
            a.checked_div(b).ok_or("ratio overflowed")?
        })
    });
    engine.register_fn("percent", |x: Decimal| -> Res<String> {
        crate::money::percent_text(x, 1)
            .ok_or_else(|| format!("percent({x}): {x} x 100 does not fit a decimal").into())
    });
    engine.register_fn("percent", |x: INT| -> Res<String> {
        x.checked_mul(100)
            .map(|p| format!("{p}%"))
            .ok_or_else(|| format!("percent({x}): {x} x 100 does not fit an integer").into())
    });
    engine.register_fn("dec", |x: INT| Decimal::from(x));
    engine.register_fn("dec", |x: Decimal| x);
    engine.register_fn("min", |a: Decimal, b: Decimal| a.min(b));
    engine.register_fn("max", |a: Decimal, b: Decimal| a.max(b));
    engine.register_fn("min", |a: Decimal, b: INT| a.min(Decimal::from(b)));
    engine.register_fn("max", |a: Decimal, b: INT| a.max(Decimal::from(b)));
    engine.register_fn("min", |a: INT, b: Decimal| Decimal::from(a).min(b));
    engine.register_fn("max", |a: INT, b: Decimal| Decimal::from(a).max(b));
    engine.register_fn(
        "clamp",
        |x: Dynamic, lo: Dynamic, hi: Dynamic| -> Res<Decimal> {
            let (x, lo, hi) = (
                to_decimal(&x, "clamp's value")?,
                to_decimal(&lo, "clamp's low")?,
                to_decimal(&hi, "clamp's high")?,
            );
            if lo > hi {
                return Err(format!("clamp: low {lo} is above high {hi}").into());
            }
            Ok(x.max(lo).min(hi))
        },
    );
    engine.register_fn(
        "days_between",
        |a: ImmutableString, b: ImmutableString| -> Res<INT> {
            let pa = Date::parse_iso(&a)
                .ok_or_else(|| format!("days_between: '{a}' is not a YYYY-MM-DD date"))?;
            let pb = Date::parse_iso(&b)
                .ok_or_else(|| format!("days_between: '{b}' is not a YYYY-MM-DD date"))?;
            Ok(INT::from(pb.days() - pa.days()))
        },
    );
    engine.register_fn("warn", |msg: ImmutableString| {
        WARNINGS.with(|w| w.borrow_mut().push(msg.to_string()));
    });
}
