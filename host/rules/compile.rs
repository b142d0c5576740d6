//! Compiling a pack's code once: each stage's Rhai script into an AST (checked for the entry
//! points the pack calls), or its WebAssembly component into a linked plugin. The result,
//! a [`RulePack`], is the declared [`Pack`] with the code it runs.

use super::{engine, wasm};
use crate::pack::{Pack, PackError, PackSource, StageSource};
use rhai::AST;
use rust_decimal::Decimal;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

/// A compiled script.
#[derive(Clone, Debug)]
pub struct Script {
    /// Path relative to the pack.
    pub path: String,
    /// As shown in messages.
    pub shown: String,
    /// The compiled AST (its source is set to `shown`).
    pub ast: Arc<AST>,
    /// The script's text, which each worker thread compiles again for its own engine.
    pub text: Arc<str>,
}

/// The code of one stage.
#[derive(Clone, Debug)]
pub enum StageCode {
    /// A Rhai script.
    Script(Script),
    /// A WebAssembly plugin.
    Plugin(Arc<wasm::Plugin>),
}

impl StageCode {
    /// The script, when the stage is one.
    pub fn script(&self) -> Option<&Script> {
        match self {
            StageCode::Script(s) => Some(s),
            StageCode::Plugin(_) => None,
        }
    }

    /// The file, as shown in messages.
    pub fn shown(&self) -> &str {
        match self {
            StageCode::Script(s) => &s.shown,
            StageCode::Plugin(p) => &p.shown,
        }
    }
}

/// A loaded, compiled rule pack, ready to run: the declared [`Pack`] (which it dereferences
/// to, so `pack.manifest`, `pack.params` and the rest read as before) and each stage's code.
#[derive(Clone, Debug)]
pub struct RulePack {
    /// The pack as declared.
    pub pack: Pack,
    /// Stage a code.
    pub key_clients: StageCode,
    /// Stage b code.
    pub kpis: StageCode,
    /// Stage c code.
    pub bonus: StageCode,
}

impl Deref for RulePack {
    type Target = Pack;

    fn deref(&self) -> &Pack {
        &self.pack
    }
}

impl DerefMut for RulePack {
    fn deref_mut(&mut self) -> &mut Pack {
        &mut self.pack
    }
}

impl RulePack {
    /// Reads the pack ([`Pack::read`]) and compiles its code, each file once.
    pub fn load(source: &PackSource) -> Result<RulePack, PackError> {
        let (pack, sources) = Pack::read(source)?;
        let compiler = engine::new_engine(&pack.manifest.limits);
        let mut done: Vec<(&StageSource, StageCode)> = Vec::with_capacity(3);
        let mut code = |s| -> Result<StageCode, PackError> {
            if let Some((_, c)) = done.iter().find(|(d, _)| same_file(d, s)) {
                return Ok(c.clone());
            }
            let c = compile(&pack, &compiler, s)?;
            done.push((s, c.clone()));
            Ok(c)
        };
        let [a, b, c] = &sources;
        let (key_clients, kpis, bonus) = (code(a)?, code(b)?, code(c)?);
        let pack = RulePack {
            pack,
            key_clients,
            kpis,
            bonus,
        };
        pack.check_entry_points()?;
        pack.check_curve()
            .map_err(|m| pack.manifest_error("[report]", m))?;
        Ok(pack)
    }

    fn check_entry_points(&self) -> Result<(), PackError> {
        if let StageCode::Script(s) = &self.key_clients {
            need(s, self.key_clients_fn(), 1, "stage key_clients")?;
        }
        if let StageCode::Script(s) = &self.kpis {
            for k in &self.manifest.kpis {
                need(s, k.function(), 1, &format!("KPI '{}'", k.id))?;
            }
        }
        if let StageCode::Script(s) = &self.bonus {
            need(s, self.bonus_fn(), 2, "stage bonus")?;
        }
        Ok(())
    }

    /// `[report] curve` names a one-parameter function of the bonus stage's Rhai script,
    /// and `curve_to` is above 0.
    fn check_curve(&self) -> Result<(), String> {
        let report = &self.manifest.report;
        let Some(name) = &report.curve else {
            return Ok(());
        };
        if report.curve_to.is_some_and(|to| to <= Decimal::ZERO) {
            return Err(
                "[report] curve_to must be above 0 (an attainment, e.g. 2 for 200%)".into(),
            );
        }
        let StageCode::Script(s) = &self.bonus else {
            return Err(format!("[report] curve = \"{name}\" names a Rhai function of stage bonus, but that stage is a WebAssembly plugin; remove `curve`"));
        };
        if s.ast
            .iter_functions()
            .any(|f| f.name == name && f.params.len() == 1)
        {
            return Ok(());
        }
        Err(format!("[report] curve = \"{name}\": {} has no function '{name}' with 1 parameter; define `fn {name}(attainment) {{ ... }}` returning the payout factor", s.shown))
    }
}

/// Whether two stages bind the same file (a script and a plugin never do).
fn same_file(a: &StageSource, b: &StageSource) -> bool {
    a.path() == b.path()
        && matches!(a, StageSource::Script { .. }) == matches!(b, StageSource::Script { .. })
}

/// Compiles one stage's code.
fn compile(
    pack: &Pack,
    compiler: &rhai::Engine,
    source: &StageSource,
) -> Result<StageCode, PackError> {
    Ok(match source {
        StageSource::Script { path, shown, text } => StageCode::Script(Script {
            path: path.clone(),
            shown: shown.clone(),
            ast: Arc::new(engine::compile(compiler, shown, text)?),
            text: text.as_str().into(),
        }),
        StageSource::Plugin { shown, bytes, .. } => {
            let limits = wasm::PluginLimits {
                fuel_per_item: pack.manifest.limits.plugin_fuel_per_item,
                memory_bytes: pack.manifest.limits.plugin_memory_bytes,
                seconds_per_item: pack.manifest.limits.max_seconds_per_call,
            };
            StageCode::Plugin(Arc::new(wasm::Plugin::load(shown, bytes, limits)?))
        }
    })
}

/// A script must define `name` with `arity` parameters, for `what` calls it.
fn need(script: &Script, name: &str, arity: usize, what: &str) -> Result<(), PackError> {
    let found: Vec<usize> = script
        .ast
        .iter_functions()
        .filter(|f| f.name == name)
        .map(|f| f.params.len())
        .collect();
    if found.contains(&arity) {
        return Ok(());
    }
    let example = if arity == 2 {
        format!("fn {name}(manager, kpis) {{ ... }}")
    } else if what.starts_with("KPI") {
        format!("fn {name}(manager) {{ ... }}")
    } else {
        format!("fn {name}(client) {{ ... }}")
    };
    let msg = if found.is_empty() {
        format!("has no function '{name}' with {arity} parameter(s), needed for {what}; define `{example}`")
    } else {
        format!(
            "function '{name}' takes {} parameter(s) but {what} calls it with {arity}; define `{example}`",
            found[0]
        )
    };
    Err(PackError::new(&script.shown, msg))
}
