//! The Rhai API: read-only views of the facts and the functions scripts may call.
//!
//! Every object a script sees is a view (an `Arc` of the run's [`Context`] and an index):
//! cloning is cheap, nothing can be written back, and an unknown property is an error, not a
//! silent `()`. The full API is documented in `docs/rule-packs.md`; keep the two in step.

use crate::facts::{Facts, Window, Windows, CURRENT, PREVIOUS, YEAR_AGO};
use crate::load::Dataset;
use crate::pack::{Cell, ParamValue, RulePack};
use crate::period::Date;
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
        }
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
        let mut out: Windows = Default::default();
        for (w, window) in out.iter_mut().enumerate() {
            *window = Window::sum(key_accounts.iter().map(|a| &a.windows[w])).map_err(|e| {
                let whose = format!(
                    "the key clients of manager {}",
                    data.managers[manager as usize].id
                );
                e.message(&whose, facts.periods[w])
            })?;
        }
        Ok(out)
    }

    fn decision(&self, client: u32) -> Res<&KeyDecision> {
        self.decisions.get(client as usize).ok_or_else(|| {
            "key-client flags are decided by stage key_clients and are not known while it runs; use the facts instead"
                .into()
        })
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

fn date_text(d: Option<Date>) -> Dynamic {
    match d {
        Some(d) => Dynamic::from(ImmutableString::from(d.to_string())),
        None => Dynamic::UNIT,
    }
}

fn int(n: u64) -> INT {
    INT::try_from(n).unwrap_or(INT::MAX)
}

/// Which window a [`WindowView`] shows.
#[derive(Clone, Copy, Debug)]
enum WinRef {
    Client(u32, usize),
    Account(u32, usize),
    Manager(u32, usize),
    ManagerKey(u32, usize),
    Company(usize),
}

/// `Window`: totals over one period.
#[derive(Clone)]
pub struct WindowView {
    ctx: Arc<Context>,
    at: WinRef,
}

impl WindowView {
    fn window(&self) -> &Window {
        let f = &self.ctx.facts;
        match self.at {
            WinRef::Client(i, w) => &f.clients[i as usize].windows[w],
            WinRef::Account(i, w) => &f.accounts[i as usize].windows[w],
            WinRef::Manager(i, w) => &f.managers[i as usize].windows[w],
            WinRef::ManagerKey(i, w) => &self.ctx.key_windows[i as usize][w],
            WinRef::Company(w) => &f.company[w],
        }
    }

    fn which(&self) -> usize {
        match self.at {
            WinRef::Client(_, w)
            | WinRef::Account(_, w)
            | WinRef::Manager(_, w)
            | WinRef::ManagerKey(_, w)
            | WinRef::Company(w) => w,
        }
    }
}

/// `Client`.
#[derive(Clone)]
pub struct ClientView {
    ctx: Arc<Context>,
    idx: u32,
}

impl ClientView {
    /// A view of client `idx`.
    pub fn new(ctx: Arc<Context>, idx: u32) -> ClientView {
        ClientView { ctx, idx }
    }
}

/// `Manager`.
#[derive(Clone)]
pub struct ManagerView {
    ctx: Arc<Context>,
    idx: u32,
}

impl ManagerView {
    /// A view of manager `idx`.
    pub fn new(ctx: Arc<Context>, idx: u32) -> ManagerView {
        ManagerView { ctx, idx }
    }
}

/// `Account`: one client as seen from one manager.
#[derive(Clone)]
pub struct AccountView {
    ctx: Arc<Context>,
    idx: u32,
}

/// `Contract`.
#[derive(Clone)]
pub struct ContractView {
    ctx: Arc<Context>,
    idx: u32,
}

/// `Kpis`: a manager's KPI results, passed to the bonus stage.
#[derive(Clone)]
pub struct KpisView {
    results: Arc<Vec<KpiResult>>,
}

impl KpisView {
    /// Wraps stage b results.
    pub fn new(results: Arc<Vec<KpiResult>>) -> KpisView {
        KpisView { results }
    }
}

/// `Kpi`: one KPI result.
#[derive(Clone)]
pub struct KpiView {
    results: Arc<Vec<KpiResult>>,
    idx: usize,
}

fn extra(columns: &[String], values: &[String], name: &str, file: &str) -> Res<ImmutableString> {
    match columns.iter().position(|c| c.eq_ignore_ascii_case(name)) {
        Some(i) => Ok(values[i].as_str().into()),
        None => Err(format!(
            "{file} has no column '{name}'; its extra columns are: {}",
            if columns.is_empty() {
                "(none)".to_string()
            } else {
                columns.join(", ")
            }
        )
        .into()),
    }
}

fn extra_as_number(v: ImmutableString, file: &str, column: &str, id: &str) -> Res<Decimal> {
    if v.is_empty() {
        return Ok(Decimal::ZERO);
    }
    crate::money::parse_decimal(v.as_bytes())
        .ok_or_else(|| format!("{file} column '{column}' of {id} is '{v}', not a number").into())
}

fn extra_as_flag(v: ImmutableString, file: &str, column: &str, id: &str) -> Res<bool> {
    crate::load::parse_flag_text(&v).ok_or_else(|| {
        format!("{file} column '{column}' of {id} is '{v}', not true or false").into()
    })
}

/// The extra columns of a view: (file, column names, this row's values, this row's id).
type ExtrasOf<V> = for<'a> fn(&'a V) -> (&'static str, &'a [String], &'a [String], &'a str);

/// `extra`, `extra_number`, `extra_flag` and `has_extra` on a view with extra columns.
fn register_extras<V: Clone + Send + Sync + 'static>(engine: &mut Engine, of: ExtrasOf<V>) {
    engine.register_fn(
        "extra",
        move |v: &mut V, name: ImmutableString| -> Res<ImmutableString> {
            let (file, columns, values, _) = of(v);
            extra(columns, values, &name, file)
        },
    );
    engine.register_fn(
        "extra_number",
        move |v: &mut V, name: ImmutableString| -> Res<Decimal> {
            let (file, columns, values, id) = of(v);
            extra_as_number(extra(columns, values, &name, file)?, file, &name, id)
        },
    );
    engine.register_fn(
        "extra_flag",
        move |v: &mut V, name: ImmutableString| -> Res<bool> {
            let (file, columns, values, id) = of(v);
            extra_as_flag(extra(columns, values, &name, file)?, file, &name, id)
        },
    );
    engine.register_fn(
        "has_extra",
        move |v: &mut V, name: ImmutableString| -> bool {
            of(v).1.iter().any(|x| x.eq_ignore_ascii_case(&name))
        },
    );
}

fn cell_dynamic(cell: &Cell) -> Dynamic {
    match cell {
        Cell::Number(d) => Dynamic::from_decimal(*d),
        Cell::Flag(b) => Dynamic::from_bool(*b),
        Cell::Text(s) => Dynamic::from(ImmutableString::from(s.as_str())),
    }
}

/// Every property of the views, for "did you mean" hints.
pub const PROPERTIES: &[&str] = &[
    "accounts",
    "attainment",
    "categories",
    "category_names",
    "client",
    "client_count",
    "client_id",
    "company",
    "contracts",
    "cost",
    "cur",
    "due",
    "end",
    "first_date",
    "first_purchase",
    "id",
    "industry",
    "is_new",
    "key",
    "key_client_count",
    "key_cur",
    "key_prev",
    "key_year_ago",
    "label",
    "largest_client_id",
    "largest_client_share",
    "last_date",
    "last_purchase",
    "lines",
    "manager_id",
    "margin",
    "margin_rate",
    "margin_share",
    "market_share",
    "name",
    "note",
    "period",
    "prev",
    "products",
    "quantity",
    "reasons",
    "region",
    "renewed",
    "renewed_on",
    "return_lines",
    "returns",
    "revenue",
    "revenue_share",
    "score",
    "since",
    "start",
    "strategic",
    "target",
    "target_bonus",
    "tier",
    "value",
    "weight",
    "year_ago",
    "years",
];

/// Every function bonusrun adds to Rhai, for "did you mean" hints.
pub const FUNCTIONS: &[&str] = &[
    "bought",
    "clamp",
    "days_between",
    "dec",
    "extra",
    "extra_flag",
    "extra_number",
    "has_extra",
    "has_param",
    "has_plan",
    "len",
    "list",
    "lookup",
    "max",
    "min",
    "param",
    "percent",
    "plan",
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
    register_window(engine);
    register_client(engine);
    register_manager(engine);
    register_account_contract(engine);
    register_kpis(engine);
    register_functions(engine, pack);
}

fn register_window(engine: &mut Engine) {
    engine.register_type_with_name::<WindowView>("Window");
    engine.register_get("revenue", |w: &mut WindowView| w.window().revenue);
    engine.register_get("cost", |w: &mut WindowView| w.window().cost);
    engine.register_get("margin", |w: &mut WindowView| w.window().margin());
    engine.register_get("margin_rate", |w: &mut WindowView| {
        let win = w.window();
        if win.revenue > Decimal::ZERO {
            win.margin().checked_div(win.revenue).unwrap_or_default()
        } else {
            Decimal::ZERO
        }
    });
    engine.register_get("quantity", |w: &mut WindowView| w.window().quantity);
    engine.register_get("returns", |w: &mut WindowView| w.window().returns);
    engine.register_get("lines", |w: &mut WindowView| int(w.window().lines));
    engine.register_get("return_lines", |w: &mut WindowView| {
        int(w.window().return_lines)
    });
    engine.register_get("categories", |w: &mut WindowView| {
        int(w.window().categories.len() as u64)
    });
    engine.register_get("products", |w: &mut WindowView| {
        int(w.window().products.len() as u64)
    });
    engine.register_get("category_names", |w: &mut WindowView| -> Array {
        let names = &w.ctx.facts.categories;
        w.window()
            .categories
            .iter()
            .map(|&c| Dynamic::from(ImmutableString::from(names[c as usize].as_str())))
            .collect()
    });
    engine.register_fn(
        "bought",
        |w: &mut WindowView, category: ImmutableString| -> bool {
            let names = &w.ctx.facts.categories;
            w.window()
                .categories
                .iter()
                .any(|&c| names[c as usize] == category.as_str())
        },
    );
    engine.register_get("first_date", |w: &mut WindowView| {
        date_text(w.window().first)
    });
    engine.register_get("last_date", |w: &mut WindowView| date_text(w.window().last));
    engine.register_get("period", |w: &mut WindowView| -> ImmutableString {
        w.ctx.facts.periods[w.which()].to_string().into()
    });
    engine.register_get("start", |w: &mut WindowView| -> ImmutableString {
        w.ctx.facts.periods[w.which()]
            .start_date()
            .to_string()
            .into()
    });
    engine.register_get("end", |w: &mut WindowView| -> ImmutableString {
        w.ctx.facts.periods[w.which()]
            .last_date()
            .to_string()
            .into()
    });
    engine.register_fn("to_string", |w: &mut WindowView| -> String {
        let win = w.window();
        format!(
            "Window({}: revenue {}, margin {}, lines {})",
            w.ctx.facts.periods[w.which()],
            win.revenue,
            win.margin(),
            win.lines
        )
    });
}

fn win(ctx: &Arc<Context>, at: WinRef) -> WindowView {
    WindowView {
        ctx: ctx.clone(),
        at,
    }
}

fn register_client(engine: &mut Engine) {
    engine.register_type_with_name::<ClientView>("Client");
    engine.register_get("id", |c: &mut ClientView| -> ImmutableString {
        c.ctx.data.clients[c.idx as usize].id.as_str().into()
    });
    engine.register_get("name", |c: &mut ClientView| -> ImmutableString {
        c.ctx.data.clients[c.idx as usize].name.as_str().into()
    });
    engine.register_get("industry", |c: &mut ClientView| -> ImmutableString {
        c.ctx.data.clients[c.idx as usize].industry.as_str().into()
    });
    engine.register_get("region", |c: &mut ClientView| -> ImmutableString {
        c.ctx.data.clients[c.idx as usize].region.as_str().into()
    });
    engine.register_get("since", |c: &mut ClientView| {
        date_text(c.ctx.data.clients[c.idx as usize].since)
    });
    engine.register_get("years", |c: &mut ClientView| -> INT {
        let end = c.ctx.facts.period().last_date();
        match c.ctx.data.clients[c.idx as usize].since {
            Some(s) if s <= end => s.whole_years_until(end),
            _ => 0,
        }
    });
    engine.register_get("market_share", |c: &mut ClientView| {
        c.ctx.data.clients[c.idx as usize].market_share
    });
    engine.register_get("strategic", |c: &mut ClientView| {
        c.ctx.data.clients[c.idx as usize].strategic
    });
    engine.register_get("manager_id", |c: &mut ClientView| -> ImmutableString {
        match c.ctx.facts.clients[c.idx as usize].manager {
            Some(m) => c.ctx.data.managers[m as usize].id.as_str().into(),
            None => "".into(),
        }
    });
    engine.register_get("first_purchase", |c: &mut ClientView| {
        date_text(c.ctx.facts.clients[c.idx as usize].first_purchase)
    });
    engine.register_get("last_purchase", |c: &mut ClientView| {
        date_text(c.ctx.facts.clients[c.idx as usize].last_purchase)
    });
    engine.register_get("is_new", |c: &mut ClientView| -> bool {
        let p = c.ctx.facts.period();
        c.ctx.facts.clients[c.idx as usize]
            .first_purchase
            .is_some_and(|d| p.contains(d))
    });
    engine.register_get("revenue_share", |c: &mut ClientView| {
        c.ctx.facts.clients[c.idx as usize].revenue_share
    });
    engine.register_get("margin_share", |c: &mut ClientView| {
        c.ctx.facts.clients[c.idx as usize].margin_share
    });
    engine.register_get("cur", |c: &mut ClientView| {
        win(&c.ctx, WinRef::Client(c.idx, CURRENT))
    });
    engine.register_get("prev", |c: &mut ClientView| {
        win(&c.ctx, WinRef::Client(c.idx, PREVIOUS))
    });
    engine.register_get("year_ago", |c: &mut ClientView| {
        win(&c.ctx, WinRef::Client(c.idx, YEAR_AGO))
    });
    engine.register_get("company", |c: &mut ClientView| {
        win(&c.ctx, WinRef::Company(CURRENT))
    });
    engine.register_get("key", |c: &mut ClientView| -> Res<bool> {
        Ok(c.ctx.decision(c.idx)?.key)
    });
    engine.register_get("tier", |c: &mut ClientView| -> Res<ImmutableString> {
        Ok(c.ctx.decision(c.idx)?.tier.as_str().into())
    });
    engine.register_get("score", |c: &mut ClientView| -> Res<Decimal> {
        Ok(c.ctx.decision(c.idx)?.score)
    });
    engine.register_get("reasons", |c: &mut ClientView| -> Res<Array> {
        Ok(c.ctx
            .decision(c.idx)?
            .reasons
            .iter()
            .map(|r| Dynamic::from(ImmutableString::from(r.as_str())))
            .collect())
    });
    register_extras(engine, |c: &ClientView| {
        let d = &c.ctx.data;
        let row = &d.clients[c.idx as usize];
        (
            "clients.csv",
            &d.client_extras[..],
            &row.extras[..],
            row.id.as_str(),
        )
    });
    engine.register_fn("to_string", |c: &mut ClientView| -> String {
        format!("Client({})", c.ctx.data.clients[c.idx as usize].id)
    });
}

fn register_manager(engine: &mut Engine) {
    engine.register_type_with_name::<ManagerView>("Manager");
    engine.register_get("id", |m: &mut ManagerView| -> ImmutableString {
        m.ctx.data.managers[m.idx as usize].id.as_str().into()
    });
    engine.register_get("name", |m: &mut ManagerView| -> ImmutableString {
        m.ctx.data.managers[m.idx as usize].name.as_str().into()
    });
    engine.register_get("target_bonus", |m: &mut ManagerView| {
        m.ctx.data.managers[m.idx as usize].target_bonus
    });
    engine.register_get("period", |m: &mut ManagerView| -> ImmutableString {
        m.ctx.facts.period().to_string().into()
    });
    engine.register_get("cur", |m: &mut ManagerView| {
        win(&m.ctx, WinRef::Manager(m.idx, CURRENT))
    });
    engine.register_get("prev", |m: &mut ManagerView| {
        win(&m.ctx, WinRef::Manager(m.idx, PREVIOUS))
    });
    engine.register_get("year_ago", |m: &mut ManagerView| {
        win(&m.ctx, WinRef::Manager(m.idx, YEAR_AGO))
    });
    for (name, w) in [
        ("key_cur", CURRENT),
        ("key_prev", PREVIOUS),
        ("key_year_ago", YEAR_AGO),
    ] {
        engine.register_get(name, move |m: &mut ManagerView| -> Res<WindowView> {
            if m.ctx.key_windows.is_empty() {
                return Err("key-client subtotals are known only after stage key_clients".into());
            }
            Ok(win(&m.ctx, WinRef::ManagerKey(m.idx, w)))
        });
    }
    engine.register_get("company", |m: &mut ManagerView| {
        win(&m.ctx, WinRef::Company(CURRENT))
    });
    engine.register_get("client_count", |m: &mut ManagerView| {
        int(m.ctx.facts.managers[m.idx as usize].client_count)
    });
    engine.register_get("key_client_count", |m: &mut ManagerView| -> INT {
        let f = &m.ctx.facts;
        let n = f.managers[m.idx as usize]
            .accounts
            .iter()
            .filter(|&&a| {
                let acc = &f.accounts[a as usize];
                acc.windows[CURRENT].lines > 0
                    && m.ctx
                        .decisions
                        .get(acc.client as usize)
                        .is_some_and(|d| d.key)
            })
            .count();
        int(n as u64)
    });
    engine.register_get("largest_client_share", |m: &mut ManagerView| {
        m.ctx.facts.managers[m.idx as usize].largest_client_share
    });
    engine.register_get(
        "largest_client_id",
        |m: &mut ManagerView| -> ImmutableString {
            match m.ctx.facts.managers[m.idx as usize].largest_client {
                Some(c) => m.ctx.data.clients[c as usize].id.as_str().into(),
                None => "".into(),
            }
        },
    );
    engine.register_get("accounts", |m: &mut ManagerView| -> Array {
        m.ctx.facts.managers[m.idx as usize]
            .accounts
            .iter()
            .map(|&a| {
                Dynamic::from(AccountView {
                    ctx: m.ctx.clone(),
                    idx: a,
                })
            })
            .collect()
    });
    engine.register_get("contracts", |m: &mut ManagerView| -> Array {
        m.ctx
            .data
            .contracts
            .iter()
            .enumerate()
            .filter(|(_, c)| c.manager == m.idx)
            .map(|(i, _)| {
                Dynamic::from(ContractView {
                    ctx: m.ctx.clone(),
                    idx: i as u32,
                })
            })
            .collect()
    });
    engine.register_fn(
        "plan",
        |m: &mut ManagerView, kpi: ImmutableString| -> Dynamic {
            match m.ctx.plans.get(&(m.idx, kpi.to_string())) {
                Some(t) => Dynamic::from_decimal(*t),
                None => Dynamic::UNIT,
            }
        },
    );
    engine.register_fn(
        "has_plan",
        |m: &mut ManagerView, kpi: ImmutableString| -> bool {
            m.ctx.plans.contains_key(&(m.idx, kpi.to_string()))
        },
    );
    register_extras(engine, |m: &ManagerView| {
        let d = &m.ctx.data;
        let row = &d.managers[m.idx as usize];
        (
            "managers.csv",
            &d.manager_extras[..],
            &row.extras[..],
            row.id.as_str(),
        )
    });
    engine.register_fn("to_string", |m: &mut ManagerView| -> String {
        format!("Manager({})", m.ctx.data.managers[m.idx as usize].id)
    });
}

fn register_account_contract(engine: &mut Engine) {
    engine.register_type_with_name::<AccountView>("Account");
    engine.register_get("client", |a: &mut AccountView| ClientView {
        ctx: a.ctx.clone(),
        idx: a.ctx.facts.accounts[a.idx as usize].client,
    });
    engine.register_get("client_id", |a: &mut AccountView| -> ImmutableString {
        let c = a.ctx.facts.accounts[a.idx as usize].client;
        a.ctx.data.clients[c as usize].id.as_str().into()
    });
    engine.register_get("key", |a: &mut AccountView| -> Res<bool> {
        Ok(a.ctx
            .decision(a.ctx.facts.accounts[a.idx as usize].client)?
            .key)
    });
    engine.register_get("cur", |a: &mut AccountView| {
        win(&a.ctx, WinRef::Account(a.idx, CURRENT))
    });
    engine.register_get("prev", |a: &mut AccountView| {
        win(&a.ctx, WinRef::Account(a.idx, PREVIOUS))
    });
    engine.register_get("year_ago", |a: &mut AccountView| {
        win(&a.ctx, WinRef::Account(a.idx, YEAR_AGO))
    });
    engine.register_fn("to_string", |a: &mut AccountView| -> String {
        let c = a.ctx.facts.accounts[a.idx as usize].client;
        format!("Account({})", a.ctx.data.clients[c as usize].id)
    });

    engine.register_type_with_name::<ContractView>("Contract");
    engine.register_get("id", |c: &mut ContractView| -> ImmutableString {
        c.ctx.data.contracts[c.idx as usize].id.as_str().into()
    });
    engine.register_get("client", |c: &mut ContractView| ClientView {
        ctx: c.ctx.clone(),
        idx: c.ctx.data.contracts[c.idx as usize].client,
    });
    engine.register_get("client_id", |c: &mut ContractView| -> ImmutableString {
        let ci = c.ctx.data.contracts[c.idx as usize].client;
        c.ctx.data.clients[ci as usize].id.as_str().into()
    });
    engine.register_get("start", |c: &mut ContractView| {
        date_text(Some(c.ctx.data.contracts[c.idx as usize].start))
    });
    engine.register_get("end", |c: &mut ContractView| {
        date_text(Some(c.ctx.data.contracts[c.idx as usize].end))
    });
    engine.register_get("renewed_on", |c: &mut ContractView| {
        date_text(c.ctx.data.contracts[c.idx as usize].renewed_on)
    });
    engine.register_get("due", |c: &mut ContractView| -> bool {
        c.ctx
            .facts
            .period()
            .contains(c.ctx.data.contracts[c.idx as usize].end)
    });
    engine.register_get("renewed", |c: &mut ContractView| -> bool {
        let last = c.ctx.facts.period().last_date();
        c.ctx.data.contracts[c.idx as usize]
            .renewed_on
            .is_some_and(|d| d <= last)
    });
    engine.register_fn("to_string", |c: &mut ContractView| -> String {
        let k = &c.ctx.data.contracts[c.idx as usize];
        format!("Contract({}: {} to {})", k.id, k.start, k.end)
    });
    engine.register_get("key", |c: &mut ContractView| -> Res<bool> {
        Ok(c.ctx
            .decision(c.ctx.data.contracts[c.idx as usize].client)?
            .key)
    });
}

fn register_kpis(engine: &mut Engine) {
    engine.register_type_with_name::<KpisView>("Kpis");
    engine.register_indexer_get(|k: &mut KpisView, id: ImmutableString| -> Res<KpiView> {
        match k.results.iter().position(|r| r.id == id.as_str()) {
            Some(idx) => Ok(KpiView {
                results: k.results.clone(),
                idx,
            }),
            None => Err(format!(
                "no KPI '{id}'; the pack declares: {}",
                k.results
                    .iter()
                    .map(|r| r.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
            .into()),
        }
    });
    engine.register_fn("list", |k: &mut KpisView| -> Array {
        (0..k.results.len())
            .map(|idx| {
                Dynamic::from(KpiView {
                    results: k.results.clone(),
                    idx,
                })
            })
            .collect()
    });
    engine.register_fn("len", |k: &mut KpisView| k.results.len() as INT);
    engine.register_type_with_name::<KpiView>("Kpi");
    engine.register_get("id", |k: &mut KpiView| -> ImmutableString {
        k.results[k.idx].id.as_str().into()
    });
    engine.register_get("label", |k: &mut KpiView| -> ImmutableString {
        k.results[k.idx].label.as_str().into()
    });
    engine.register_get("weight", |k: &mut KpiView| k.results[k.idx].weight);
    engine.register_get("value", |k: &mut KpiView| k.results[k.idx].value);
    engine.register_get("target", |k: &mut KpiView| k.results[k.idx].target);
    engine.register_get("attainment", |k: &mut KpiView| k.results[k.idx].attainment);
    engine.register_get("note", |k: &mut KpiView| -> ImmutableString {
        k.results[k.idx].note.as_str().into()
    });
    engine.register_fn("to_string", |k: &mut KpiView| -> String {
        let r = &k.results[k.idx];
        format!(
            "Kpi({}: value {}, target {}, attainment {})",
            r.id, r.value, r.target, r.attainment
        )
    });
    engine.register_fn("to_string", |k: &mut KpisView| -> String {
        let ids: Vec<&str> = k.results.iter().map(|r| r.id.as_str()).collect();
        format!("Kpis({})", ids.join(", "))
    });
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
