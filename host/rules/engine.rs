//! The sandboxed Rhai engine: only the packages rules need, strict variables, no `eval`, no
//! modules, no clock, and explicit limits on operations, call depth, expression depth and
//! data sizes.

use crate::pack::{Limits, PackError};
use rhai::packages::{
    BasicArrayPackage, BasicMapPackage, BasicMathPackage, CorePackage, LogicPackage,
    MoreStringPackage, Package,
};
use rhai::{Engine, AST};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Which limit stopped a call between two operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// `[limits] max_seconds_per_call`.
    Call,
    /// The run's `--deadline`.
    Run,
    /// `[limits] max_memory_per_call`.
    Memory,
}

/// The limits of the call running on this thread.
#[derive(Clone, Copy)]
struct CallLimits {
    /// When the call must stop, in [`coarse_now`] milliseconds, and which limit that is.
    until: (u64, Deadline),
    /// [`super::memory::net`] when the call started.
    memory_base: i64,
    /// Net bytes the call may allocate.
    memory_max: i64,
}

thread_local! {
    static LIMITS: Cell<Option<CallLimits>> = const { Cell::new(None) };
}

/// Milliseconds since the clock started, advanced every [`CLOCK_TICK`] by one thread, so
/// that every operation of every rule can compare it with its deadline for the price of
/// one atomic read (reading the system clock at every operation would double their cost,
/// and reading it every N operations lets one slow operation, such as a large `table()`,
/// overshoot by N times its cost).
static COARSE_MS: AtomicU64 = AtomicU64::new(0);
const CLOCK_TICK: Duration = Duration::from_millis(5);

fn clock_start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(|| {
        let start = Instant::now();
        let started = std::thread::Builder::new()
            .name("bonusrun-clock".into())
            .spawn(move || loop {
                std::thread::sleep(CLOCK_TICK);
                let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
                COARSE_MS.store(ms, Ordering::Relaxed);
            });
        // Without the clock thread, deadlines never pass: the operation and memory limits
        // still stop a runaway rule.
        drop(started);
        start
    })
}

/// `at` on the coarse clock, in milliseconds.
fn coarse(at: Instant) -> u64 {
    let ms = at.saturating_duration_since(clock_start()).as_millis();
    u64::try_from(ms).unwrap_or(u64::MAX)
}

/// Sets the limits of the next calls on this thread: the earlier of the call's time limit
/// and the run's deadline, and the memory the call may take from now on.
pub fn set_deadline(call: Instant, run: Option<Instant>, max_memory: u64) {
    let until = match run {
        Some(r) if r < call => (coarse(r), Deadline::Run),
        _ => (coarse(call), Deadline::Call),
    };
    let limits = CallLimits {
        until,
        memory_base: super::memory::net(),
        memory_max: i64::try_from(max_memory).unwrap_or(i64::MAX),
    };
    LIMITS.with(|c| c.set(Some(limits)));
}

/// The token a call stopped by a limit ends with (`EvalAltResult::ErrorTerminated`).
pub fn deadline_token(d: Deadline) -> &'static str {
    match d {
        Deadline::Call => "bonusrun:deadline:call",
        Deadline::Run => "bonusrun:deadline:run",
        Deadline::Memory => "bonusrun:limit:memory",
    }
}

/// Checked after every operation: a thread-local read for memory, an atomic read for time.
fn over_a_limit() -> Option<Deadline> {
    let limits = LIMITS.with(Cell::get)?;
    if super::memory::net().saturating_sub(limits.memory_base) > limits.memory_max {
        return Some(Deadline::Memory);
    }
    (COARSE_MS.load(Ordering::Relaxed) > limits.until.0).then_some(limits.until.1)
}

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
    // Closures and curried function pointers hold values the size limits cannot see (and
    // chains of them are dropped recursively); rules never need them.
    engine.set_allow_anonymous_fn(false);
    engine.disable_symbol("curry");
    engine.set_max_operations(limits.max_operations);
    engine.set_max_call_levels(limits.max_call_depth);
    engine.set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth);
    engine.set_max_string_size(limits.max_string_size);
    engine.set_max_array_size(limits.max_array_size);
    engine.set_max_map_size(limits.max_map_size);
    engine.set_max_variables(1_000);
    engine.set_max_functions(10_000);
    // Wall-clock deadlines and the memory limit.
    engine.on_progress(|_| over_a_limit().map(|d| rhai::Dynamic::from(deadline_token(d))));
    register_guarded_string_functions(&mut engine);
    engine.on_print(|s| eprintln!("[rules] {s}"));
    engine.on_debug(|s, src, pos| {
        let src = src.unwrap_or("script");
        eprintln!("[rules debug] {src}:{pos}: {s}")
    });
    engine
}

/// `replace` builds its whole result before rhai checks its size, so one call could ask for
/// gigabytes: these versions check the size first.
fn register_guarded_string_functions(engine: &mut Engine) {
    use rhai::{EvalAltResult, ImmutableString, NativeCallContext};
    fn guarded(
        ctx: &NativeCallContext,
        s: &mut ImmutableString,
        find: &str,
        with: &str,
    ) -> Result<(), Box<EvalAltResult>> {
        let hits = if find.is_empty() {
            s.chars().count() + 1
        } else {
            s.matches(find).count()
        };
        let grown = with.len().saturating_mul(hits);
        let size = s.len().saturating_sub(find.len().saturating_mul(hits)) + grown;
        let max = ctx.engine().max_string_size();
        if max > 0 && size > max {
            return Err(EvalAltResult::ErrorDataTooLarge(
                "Length of string".into(),
                ctx.call_position(),
            )
            .into());
        }
        *s = s.replace(find, with).into();
        Ok(())
    }
    engine.register_fn(
        "replace",
        |ctx: NativeCallContext,
         s: &mut ImmutableString,
         find: ImmutableString,
         with: ImmutableString| { guarded(&ctx, s, &find, &with) },
    );
    engine.register_fn(
        "replace",
        |ctx: NativeCallContext, s: &mut ImmutableString, find: ImmutableString, with: char| {
            guarded(&ctx, s, &find, &with.to_string())
        },
    );
    engine.register_fn(
        "replace",
        |ctx: NativeCallContext, s: &mut ImmutableString, find: char, with: ImmutableString| {
            guarded(&ctx, s, &find.to_string(), &with)
        },
    );
    engine.register_fn(
        "replace",
        |ctx: NativeCallContext, s: &mut ImmutableString, find: char, with: char| {
            guarded(&ctx, s, &find.to_string(), &with.to_string())
        },
    );
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
