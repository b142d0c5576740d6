//! [`RuleError`]: a rule that failed, located by pack, script, function, line and the client
//! or manager it was evaluating.

use rhai::{EvalAltResult, Position};
use std::fmt;

/// A rule failed while evaluating one client or manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// Pack name.
    pub pack: String,
    /// Stage: `key_clients`, `kpis` or `bonus`.
    pub stage: String,
    /// The script, as shown to the user.
    pub script: String,
    /// The function in which the error happened (innermost).
    pub function: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// `client C042` or `manager M03`.
    pub subject: String,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.script)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(
            f,
            ": in function '{}' (stage {}, pack '{}') for {}: {}",
            self.function, self.stage, self.pack, self.subject, self.message
        )
    }
}

impl std::error::Error for RuleError {}

/// Where a script error happened and what it says.
pub(crate) struct Located {
    pub function: Option<String>,
    pub source: Option<String>,
    pub position: Position,
    pub message: String,
}

/// Unwraps rhai's chain of "error in function call" into the innermost function, its
/// position and a message a pack author can act on.
pub(crate) fn script_error(
    err: &EvalAltResult,
    limits: &crate::pack::Limits,
    run_deadline_secs: Option<u64>,
) -> Located {
    let mut function = None;
    let mut source = None;
    let mut position = err.position();
    let mut e = err;
    while let EvalAltResult::ErrorInFunctionCall(name, src, inner, pos) = e {
        function = Some(name.clone());
        if !src.is_empty() {
            source = Some(src.clone());
        }
        if !pos.is_none() {
            position = *pos;
        }
        e = inner;
    }
    if !e.position().is_none() {
        position = e.position();
    }
    let message = match e {
        EvalAltResult::ErrorTooManyOperations(_) => format!(
            "the rule ran more than {} operations and was stopped (an endless loop?); if the rule is right, raise [limits] max_operations in pack.toml",
            limits.max_operations
        ),
        EvalAltResult::ErrorTerminated(token, _)
            if token.to_string() == super::engine::deadline_token(super::engine::Deadline::Call) =>
        {
            format!(
                "the rule ran longer than {} second(s) and was stopped (an endless loop, or work that grows too fast?); if the rule is right, raise [limits] max_seconds_per_call in pack.toml",
                limits.max_seconds_per_call
            )
        }
        EvalAltResult::ErrorTerminated(token, _)
            if token.to_string() == super::engine::deadline_token(super::engine::Deadline::Memory) =>
        {
            format!(
                "the rule took more than {} bytes of memory and was stopped (a memory bomb?); if the rule is right, raise [limits] max_memory_per_call in pack.toml",
                limits.max_memory_per_call
            )
        }
        EvalAltResult::ErrorTerminated(..) => format!(
            "the run passed its --deadline of {} second(s) while this rule was running, and was stopped",
            run_deadline_secs.unwrap_or_default()
        ),
        EvalAltResult::ErrorStackOverflow(_) => format!(
            "calls nested deeper than {} levels (endless recursion?); the limit is [limits] max_call_depth in pack.toml",
            limits.max_call_depth
        ),
        EvalAltResult::ErrorDataTooLarge(what, _) => {
            let lower = what.to_ascii_lowercase();
            let (limit, value) = if lower.contains("string") {
                ("max_string_size", limits.max_string_size)
            } else if lower.contains("array") {
                ("max_array_size", limits.max_array_size)
            } else if lower.contains("map") {
                ("max_map_size", limits.max_map_size)
            } else {
                ("a size limit", 0)
            };
            let why = if limit == "max_string_size" {
                "a memory bomb?"
            } else {
                "a memory bomb, or arrays and maps nested too deeply? nested elements count too"
            };
            format!(
                "{what} exceeded the limit ({value}) and the rule was stopped ({why}); the limit is [limits] {limit} in pack.toml"
            )
        }
        EvalAltResult::ErrorRuntime(v, _) => {
            let text = v.to_string();
            if text.is_empty() {
                "the rule threw an error".to_string()
            } else {
                text
            }
        }
        other => {
            let mut text = other.to_string();
            // rhai appends " (line x, position y)"; the location is reported separately.
            if let Some(i) = text.rfind(" (line ") {
                text.truncate(i);
            }
            text
        }
    };
    Located {
        function,
        source,
        position,
        message,
    }
}
