//! Running the pack's rules: one sandboxed engine per run, one function call per client
//! (stage a) or per manager (stages b and c), results checked for shape and type.
//!
//! [`engine`] builds the sandbox, [`api`] exposes read-only views to scripts, and
//! [`RuleRunner`] calls the stage functions and turns what they return into typed results or a
//! [`RuleError`] that names script, function, line and subject.

pub mod api;
mod compile;
pub mod engine;
mod error;
mod local;
pub mod memory;
pub mod native;
pub mod views;
pub mod wasm;

pub use api::{Context, KeyDecision, KpiResult};
pub use compile::{RulePack, Script, StageCode};
pub use error::RuleError;
pub use native::{KpiMeasure, NativeRules};

use rhai::{CallFnOptions, Dynamic, Engine, Map, Scope};
use rust_decimal::Decimal;
use std::sync::Arc;
use views::{ClientAt, ClientView, KpisAt, KpisView, ManagerAt, ManagerView};

/// A payout line as the bonus rule returned it, before rounding.
#[derive(Clone, Debug, PartialEq)]
pub struct RawLine {
    /// What the line is for, in the rule's words.
    pub label: String,
    /// `kpi`, `gate`, `cap`, `accelerator`, `adjustment`, ... (free text; `line` when absent).
    pub kind: String,
    /// The KPI the line belongs to, if any.
    pub kpi: Option<String>,
    /// Exact amount.
    pub amount: Decimal,
    /// A note.
    pub note: String,
}

/// What one call returned, plus the warnings the rule raised.
pub struct Outcome<T> {
    /// The typed result.
    pub value: T,
    /// Messages from `warn()`.
    pub warnings: Vec<String>,
    /// Decision-table lookups, as sentences for `explain`.
    pub trace: Vec<String>,
}

thread_local! {
    static IN_RULE_CALL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is inside a script call, where a panic is caught and reported as
/// the rule's error (a panic hook should then stay quiet).
pub fn in_rule_call() -> bool {
    IN_RULE_CALL.with(std::cell::Cell::get)
}

/// Calls a pack's stage functions.
pub struct RuleRunner {
    /// Unique in the process: the key of each thread's own engine for this runner
    /// ([`local`]).
    id: u64,
    engine: Engine,
    pack: Arc<RulePack>,
    run_deadline: Option<(std::time::Instant, std::time::Duration)>,
}

impl RuleRunner {
    /// Builds the run's engine for `pack` (scripts are already compiled).
    pub fn new(pack: Arc<RulePack>) -> RuleRunner {
        let mut engine = engine::new_engine(&pack.manifest.limits);
        api::register(&mut engine, &pack);
        static RUNNERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        RuleRunner {
            id: RUNNERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            engine,
            pack,
            run_deadline: None,
        }
    }

    /// Stops any call still running at `at`, the end of a run allowed `allowed`.
    pub fn with_run_deadline(
        mut self,
        at: Option<(std::time::Instant, std::time::Duration)>,
    ) -> RuleRunner {
        self.run_deadline = at;
        self
    }

    fn call(
        &self,
        stage: &str,
        script: &Script,
        function: &str,
        subject: &str,
        args: impl rhai::FuncArgs,
    ) -> Result<Dynamic, RuleError> {
        let mut scope = Scope::new();
        let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
        api::take_warnings();
        api::take_trace();
        let limits = &self.pack.manifest.limits;
        let call_limit = std::time::Duration::from_secs(limits.max_seconds_per_call);
        engine::set_deadline(
            std::time::Instant::now() + call_limit,
            self.run_deadline.map(|(at, _)| at),
            limits.max_memory_per_call,
        );
        // A panic inside the script engine (a rhai bug a rule triggered) is this rule's
        // error, not a crash of the run.
        IN_RULE_CALL.with(|c| c.set(true));
        let own = local::engine_and_ast(self.id, &self.pack, script);
        let (engine, ast) = match &own {
            Some((engine, ast)) => (&**engine, &**ast),
            None => (&self.engine, &*script.ast),
        };
        let called = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            engine.call_fn_with_options::<Dynamic>(options, &mut scope, ast, function, args)
        }));
        IN_RULE_CALL.with(|c| c.set(false));
        let called = called.unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(format!("the script engine failed on this rule ({what}); simplify the rule").into())
        });
        called.map_err(|e| {
            let run_allowed = self.run_deadline.map(|(_, d)| d.as_secs());
            let mut loc = error::script_error(&e, &self.pack.manifest.limits, run_allowed);
            let property = loc
                .message
                .strip_prefix("Property not found: ")
                .map(|n| n.trim().to_string())
                .or_else(|| {
                    let rest = loc.message.strip_prefix("Unknown property '")?;
                    Some(rest.split('\'').next()?.to_string())
                });
            if let Some(name) = property {
                let hint = crate::suggest::did_you_mean(&name, views::properties());
                loc.message.push_str(&hint);
            } else if let Some(rest) = loc.message.strip_prefix("Function not found: ") {
                let name = rest.split([' ', '(']).next().unwrap_or("").trim();
                let script_fns: Vec<&str> = script.ast.iter_functions().map(|f| f.name).collect();
                let methods: Vec<&str> = views::methods().collect();
                let hint = crate::suggest::did_you_mean(
                    name,
                    api::FUNCTIONS
                        .iter()
                        .copied()
                        .chain(methods.iter().copied())
                        .chain(script_fns.iter().copied()),
                );
                loc.message.push_str(&hint);
            }
            RuleError {
                pack: self.pack.manifest.pack.name.clone(),
                stage: stage.to_string(),
                script: loc.source.unwrap_or_else(|| script.shown.clone()),
                function: loc.function.unwrap_or_else(|| function.to_string()),
                line: loc.position.line(),
                column: loc.position.position(),
                subject: subject.to_string(),
                message: loc.message,
            }
        })
    }

    fn shape_error(
        &self,
        stage: &str,
        script: &Script,
        function: &str,
        subject: &str,
        message: String,
    ) -> RuleError {
        RuleError {
            pack: self.pack.manifest.pack.name.clone(),
            stage: stage.to_string(),
            script: script.shown.clone(),
            function: function.to_string(),
            line: None,
            column: None,
            subject: subject.to_string(),
            message,
        }
    }

    /// Stage a for one client.
    pub fn classify(
        &self,
        script: &Script,
        ctx: &Arc<Context>,
        client: u32,
    ) -> Result<Outcome<KeyDecision>, RuleError> {
        let subject = format!("client {}", ctx.data.clients[client as usize].id);
        let function = self.pack.key_clients_fn();
        let out = self.call(
            "key_clients",
            script,
            function,
            &subject,
            (ClientView::new(ctx.clone(), ClientAt(client)),),
        )?;
        let bad = |m: String| self.shape_error("key_clients", script, function, &subject, m);
        let decision = if let Some(b) = out.clone().try_cast::<bool>() {
            KeyDecision {
                key: b,
                ..Default::default()
            }
        } else if let Some(map) = out.clone().try_cast::<Map>() {
            let mut fields = Fields::new(
                map,
                "key_clients result",
                &["key", "tier", "score", "reasons"],
            )
            .map_err(&bad)?;
            KeyDecision {
                key: fields.flag("key", true).map_err(&bad)?.unwrap_or(false),
                tier: fields.text("tier").map_err(&bad)?.unwrap_or_default(),
                score: fields
                    .number("score", false)
                    .map_err(&bad)?
                    .unwrap_or_default(),
                reasons: fields.texts("reasons").map_err(&bad)?,
            }
        } else {
            return Err(bad(format!(
                "returned {}; expected a map like #{{ key: true, tier: \"A\", score: 3, reasons: [\"...\"] }}",
                describe(&out)
            )));
        };
        Ok(Outcome {
            value: decision,
            warnings: api::take_warnings(),
            trace: api::take_trace(),
        })
    }

    /// Stage b for one manager: every KPI in pack order.
    pub fn kpis(
        &self,
        script: &Script,
        ctx: &Arc<Context>,
        manager: u32,
    ) -> Result<Outcome<Vec<KpiResult>>, RuleError> {
        let subject = format!("manager {}", ctx.data.managers[manager as usize].id);
        let mut results = Vec::with_capacity(self.pack.manifest.kpis.len());
        let mut warnings = Vec::new();
        let mut trace = Vec::new();
        for decl in &self.pack.manifest.kpis {
            let function = decl.function();
            let out = self.call(
                "kpis",
                script,
                function,
                &subject,
                (ManagerView::new(ctx.clone(), ManagerAt(manager)),),
            )?;
            warnings.extend(api::take_warnings());
            trace.extend(api::take_trace());
            let bad = |m: String| {
                self.shape_error(
                    "kpis",
                    script,
                    function,
                    &subject,
                    format!("KPI '{}': {m}", decl.id),
                )
            };
            let Some(map) = out.clone().try_cast::<Map>() else {
                return Err(bad(format!(
                    "returned {}; expected a map like #{{ value: 120, target: 100 }} (attainment is value / target unless given)",
                    describe(&out)
                )));
            };
            let mut fields = Fields::new(
                map,
                "KPI result",
                &["value", "target", "attainment", "note"],
            )
            .map_err(&bad)?;
            let value = fields
                .number("value", true)
                .map_err(&bad)?
                .unwrap_or_default();
            let target = fields
                .number("target", true)
                .map_err(&bad)?
                .unwrap_or_default();
            let attainment = fields.number("attainment", false).map_err(&bad)?;
            let note = fields.text("note").map_err(&bad)?.unwrap_or_default();
            results.push(make_kpi(decl, value, target, attainment, note).map_err(&bad)?);
        }
        Ok(Outcome {
            value: results,
            warnings,
            trace,
        })
    }

    /// Stage c for one manager: the payout lines, unrounded.
    pub fn bonus(
        &self,
        script: &Script,
        ctx: &Arc<Context>,
        manager: u32,
        kpis: Arc<Vec<KpiResult>>,
    ) -> Result<Outcome<Vec<RawLine>>, RuleError> {
        let subject = format!("manager {}", ctx.data.managers[manager as usize].id);
        let function = self.pack.bonus_fn();
        let out = self.call(
            "bonus",
            script,
            function,
            &subject,
            (
                ManagerView::new(ctx.clone(), ManagerAt(manager)),
                KpisView::new(kpis, KpisAt),
            ),
        )?;
        let bad = |m: String| self.shape_error("bonus", script, function, &subject, m);
        let Some(items) = out.clone().try_cast::<rhai::Array>() else {
            return Err(bad(format!(
                "returned {}; expected an array of payout lines like [#{{ label: \"Margin\", amount: 1500.00, kpi: \"margin\" }}]",
                describe(&out)
            )));
        };
        let mut lines = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let bad_line = |m: String| bad(format!("payout line {}: {m}", i + 1));
            let Some(map) = item.clone().try_cast::<Map>() else {
                return Err(bad_line(format!(
                    "is {}; expected a map with label and amount",
                    describe(&item)
                )));
            };
            let mut f = Fields::new(
                map,
                "payout line",
                &["label", "amount", "kpi", "kind", "note"],
            )
            .map_err(&bad_line)?;
            let label = f
                .text("label")
                .map_err(&bad_line)?
                .ok_or_else(|| bad_line("has no label".into()))?;
            let amount = f
                .number("amount", true)
                .map_err(&bad_line)?
                .unwrap_or_default();
            let kpi = f.text("kpi").map_err(&bad_line)?.filter(|k| !k.is_empty());
            check_line_kpi(&self.pack, kpi.as_deref()).map_err(&bad_line)?;
            lines.push(RawLine {
                label,
                kind: f
                    .text("kind")
                    .map_err(&bad_line)?
                    .unwrap_or_else(|| "line".into()),
                kpi,
                amount,
                note: f.text("note").map_err(&bad_line)?.unwrap_or_default(),
            });
        }
        Ok(Outcome {
            value: lines,
            warnings: api::take_warnings(),
            trace: api::take_trace(),
        })
    }

    /// The pack's payout curve (`[report] curve`) at one attainment: the factor the named
    /// function of the bonus script returns.
    pub fn curve(
        &self,
        script: &Script,
        function: &str,
        attainment: Decimal,
    ) -> Result<Decimal, RuleError> {
        let subject = format!("the payout curve at attainment {attainment}");
        let out = self.call(
            "report",
            script,
            function,
            &subject,
            (Dynamic::from(attainment),),
        )?;
        let factor = out.clone().try_cast::<Decimal>();
        factor
            .or_else(|| out.as_int().ok().map(Decimal::from))
            .ok_or_else(|| {
                self.shape_error(
                    "report",
                    script,
                    function,
                    &subject,
                    format!(
                        "returned {}; expected a number (the payout factor, e.g. 1.2)",
                        describe(&out)
                    ),
                )
            })
    }
}

/// A KPI result from what a rule returned; attainment defaults to value / target.
pub(crate) fn make_kpi(
    decl: &crate::pack::KpiDecl,
    value: Decimal,
    target: Decimal,
    attainment: Option<Decimal>,
    note: String,
) -> Result<KpiResult, String> {
    let attainment = match attainment {
        Some(a) => a,
        None if target.is_zero() => {
            return Err("the target is 0, so attainment = value / target is undefined; return `attainment` explicitly (or a non-zero target)".into())
        }
        None => value
            .checked_div(target)
            .ok_or_else(|| "value / target overflowed".to_string())?,
    };
    Ok(KpiResult {
        id: decl.id.clone(),
        label: decl.label.clone(),
        weight: decl.weight,
        value,
        target,
        attainment,
        note,
    })
}

/// A payout line may name only a KPI the pack declares.
pub(crate) fn check_line_kpi(pack: &RulePack, kpi: Option<&str>) -> Result<(), String> {
    match kpi {
        Some(k) if !pack.manifest.kpis.iter().any(|d| d.id == k) => {
            Err(format!("names kpi '{k}', which the pack does not declare"))
        }
        _ => Ok(()),
    }
}

fn describe(v: &Dynamic) -> String {
    if v.is_unit() {
        "nothing (a missing return value?)".to_string()
    } else {
        format!("{} {}", article(type_name(v)), type_name(v))
    }
}

/// A script value's type in the words of the rule-pack guide.
fn type_name(v: &Dynamic) -> &'static str {
    if v.is_unit() {
        "nothing"
    } else if v.is_int() {
        "integer"
    } else if v.is::<Decimal>() {
        "decimal"
    } else if v.is_string() || v.is_char() {
        "string"
    } else if v.is_bool() {
        "bool"
    } else if v.is_array() {
        "array"
    } else if v.is_map() {
        "map"
    } else {
        "object"
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// Typed access to the fields of a map a rule returned; unknown fields are refused.
struct Fields {
    map: Map,
}

impl Fields {
    fn new(map: Map, what: &str, known: &[&str]) -> Result<Fields, String> {
        for k in map.keys() {
            if !known.contains(&k.as_str()) {
                return Err(format!(
                    "unexpected field '{k}' in the {what}; the fields are: {}",
                    known.join(", ")
                ));
            }
        }
        Ok(Fields { map })
    }

    fn take(&mut self, name: &str) -> Option<Dynamic> {
        self.map.remove(name).filter(|v| !v.is_unit())
    }

    fn flag(&mut self, name: &str, required: bool) -> Result<Option<bool>, String> {
        match self.take(name) {
            None if required => Err(format!("'{name}' is missing; expected true or false")),
            None => Ok(None),
            Some(v) => v.as_bool().map(Some).map_err(|_| {
                format!(
                    "'{name}' is {} {}; expected true or false",
                    article(type_name(&v)),
                    type_name(&v)
                )
            }),
        }
    }

    fn number(&mut self, name: &str, required: bool) -> Result<Option<Decimal>, String> {
        match self.take(name) {
            None if required => Err(format!("'{name}' is missing; expected a number")),
            None => Ok(None),
            Some(v) => {
                if let Some(d) = v.clone().try_cast::<Decimal>() {
                    Ok(Some(d))
                } else if let Ok(i) = v.as_int() {
                    Ok(Some(Decimal::from(i)))
                } else {
                    Err(format!(
                        "'{name}' is a {}; expected a number",
                        type_name(&v)
                    ))
                }
            }
        }
    }

    fn text(&mut self, name: &str) -> Result<Option<String>, String> {
        match self.take(name) {
            None => Ok(None),
            Some(v) => {
                if v.is_string() {
                    Ok(Some(v.to_string()))
                } else {
                    Err(format!(
                        "'{name}' is a {}; expected a string",
                        type_name(&v)
                    ))
                }
            }
        }
    }

    fn texts(&mut self, name: &str) -> Result<Vec<String>, String> {
        match self.take(name) {
            None => Ok(Vec::new()),
            Some(v) => {
                let Some(arr) = v.clone().try_cast::<rhai::Array>() else {
                    return Err(format!(
                        "'{name}' is a {}; expected an array of strings",
                        type_name(&v)
                    ));
                };
                arr.into_iter()
                    .map(|x| {
                        if x.is_string() {
                            Ok(x.to_string())
                        } else {
                            Err(format!(
                                "'{name}' holds a {}; expected strings",
                                type_name(&x)
                            ))
                        }
                    })
                    .collect()
            }
        }
    }
}
