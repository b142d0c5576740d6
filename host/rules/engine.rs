//! The sandboxed Rhai engine: only the packages rules need, strict variables, no `eval`, no
//! modules, no clock, and explicit limits on operations, call depth, expression depth and
//! data sizes.

use crate::pack::{Limits, PackError};
use rhai::packages::{
    BasicArrayPackage, BasicMapPackage, BasicMathPackage, CorePackage, LogicPackage,
    MoreStringPackage, Package,
};
use rhai::{Engine, AST};

/// A raw engine with the rule packages, the sandbox settings and `limits`.
///
/// The crate is built with rhai's `no_module` (no `import`), `no_time` (no clock),
/// `no_float` plus `decimal` (every literal with a point, such as `0.05`, is an exact
/// decimal) and without `unchecked` (limits are enforced).
pub fn new_engine(limits: &Limits) -> Engine {
    let mut engine = Engine::new_raw();
    engine.register_global_module(CorePackage::new().as_shared_module());
    engine.register_global_module(LogicPackage::new().as_shared_module());
    engine.register_global_module(BasicMathPackage::new().as_shared_module());
    engine.register_global_module(BasicArrayPackage::new().as_shared_module());
    engine.register_global_module(BasicMapPackage::new().as_shared_module());
    engine.register_global_module(MoreStringPackage::new().as_shared_module());
    engine.set_strict_variables(true);
    engine.disable_symbol("eval");
    engine.set_max_operations(limits.max_operations);
    engine.set_max_call_levels(limits.max_call_depth);
    engine.set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth);
    engine.set_max_string_size(limits.max_string_size);
    engine.set_max_array_size(limits.max_array_size);
    engine.set_max_map_size(limits.max_map_size);
    engine.set_max_variables(1_000);
    engine.set_max_functions(10_000);
    engine.on_print(|s| eprintln!("[rules] {s}"));
    engine.on_debug(|s, src, pos| {
        let src = src.unwrap_or("script");
        eprintln!("[rules debug] {src}:{pos}: {s}")
    });
    engine
}

/// Compiles one script. Syntax errors come back as `file:line:column`. Top-level statements
/// are refused: bonusrun calls functions and never runs a script's top level, so a rule
/// written there would silently do nothing.
pub fn compile(engine: &Engine, shown: &str, text: &str) -> Result<AST, PackError> {
    let mut ast = engine.compile(text).map_err(|e| {
        let pos = e.position();
        let (line, col) = (pos.line().unwrap_or(1), pos.position().unwrap_or(1));
        let hint = match e.err_type() {
            rhai::ParseErrorType::VariableUndefined(name) => crate::suggest::did_you_mean(
                name,
                crate::diagnostic::identifiers(text)
                    .into_iter()
                    .filter(|w| w != name),
            ),
            _ => String::new(),
        };
        PackError::at(
            shown,
            line,
            col,
            format!("syntax error: {}{hint}", e.err_type()),
        )
    })?;
    if let Some(stmt) = ast.statements().first() {
        let pos = stmt.position();
        return Err(PackError::at(
            shown,
            pos.line().unwrap_or(1),
            pos.position().unwrap_or(1),
            "a statement outside any function: bonusrun only calls the stage's functions, so top-level code would never run; move it into a function, or make the value a parameter in pack.toml [params]".to_string(),
        ));
    }
    ast.set_source(shown);
    Ok(ast)
}
