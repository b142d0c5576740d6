//! Each worker thread's own engine and compiled scripts, for the calls of one run.
//!
//! With two threads calling the same scripts, the rule stages scaled 1.3x to 1.4x where
//! native rules scaled 1.7x: `perf annotate` put the hottest instructions of a call on
//! atomic reference counts (`lock incq`) of the script's string literals and the engine's
//! functions, which rhai (built with `sync`) shares between the threads, so that each
//! count moved a cache line between the cores. A thread here compiles the scripts again
//! from their text with its own engine, and calls those: nothing a call touches is shared
//! but the run's facts. The compile is the pack's own ([`super::engine::compile`]), so the
//! thread's AST is the same program. A thread keeps them until it ends or calls for another
//! runner.

use super::{api, engine, RulePack, Script};
use rhai::{Engine, AST};
use std::cell::RefCell;
use std::sync::Arc;

/// One thread's engine and scripts, for the runner `runner`.
struct Own {
    runner: u64,
    engine: Arc<Engine>,
    /// The pack's AST (by address) and this thread's compile of the same text.
    scripts: Vec<(*const AST, Arc<AST>)>,
}

thread_local! {
    static OWN: RefCell<Option<Own>> = const { RefCell::new(None) };
}

/// This thread's engine and its compile of `script`, made on the first call of runner
/// `runner` on the thread; `None` when the script's text does not compile again (it did
/// once, so it always does), and the caller uses the shared ones.
pub(super) fn engine_and_ast(
    runner: u64,
    pack: &RulePack,
    script: &Script,
) -> Option<(Arc<Engine>, Arc<AST>)> {
    OWN.with(|own| {
        let mut own = own.borrow_mut();
        if own.as_ref().is_none_or(|o| o.runner != runner) {
            let mut e = engine::new_engine(&pack.manifest.limits);
            api::register(&mut e, pack);
            *own = Some(Own {
                runner,
                engine: Arc::new(e),
                scripts: Vec::new(),
            });
        }
        let own = own.as_mut()?;
        let key: *const AST = &*script.ast;
        let ast = match own.scripts.iter().find(|(k, _)| std::ptr::eq(*k, key)) {
            Some((_, ast)) => ast.clone(),
            None => {
                let compiler = engine::new_engine(&pack.manifest.limits);
                let ast = Arc::new(engine::compile(&compiler, &script.shown, &script.text).ok()?);
                own.scripts.push((key, ast.clone()));
                ast
            }
        };
        Some((own.engine.clone(), ast))
    })
}
