//! The top-level error: one variant per layer, each carrying its own location. `main` turns
//! it into a message on stderr and an exit code (1 for a failed run, 2 for a usage error).

use crate::generate::GenerateError;
use crate::load::LoadError;
use crate::pack::PackError;
use crate::rules::RuleError;
use std::fmt;

/// Anything that stops a bonus run.
#[derive(Debug)]
pub enum Error {
    /// The command line asks for something impossible.
    Usage(String),
    /// The rule pack is wrong (manifest, script syntax, missing functions, tables).
    Pack(PackError),
    /// The input data is wrong (file, line, column).
    Load(LoadError),
    /// A rule failed (script, function, line, client or manager).
    Rule(RuleError),
    /// A WebAssembly plugin failed (file, stage, export, client or manager).
    Plugin(crate::rules::wasm::PluginError),
    /// Statement lines, payouts and total do not reconcile: a bug, reported rather than written.
    Reconcile(String),
    /// A money figure (a payout, a total) does not fit an exact decimal: which one, whose,
    /// and the values.
    Money(String),
    /// Writing the outputs failed.
    Output {
        /// The file or directory.
        path: String,
        /// What happened.
        message: String,
    },
    /// Generating a data set failed.
    Generate(GenerateError),
    /// A command ran but its checks did not pass (`bonusrun test`).
    Failed(String),
    /// The payout ledger refused a step (a closed period, an unknown run, a damaged file):
    /// the message says why and that nothing was changed.
    Ledger(String),
}

impl Error {
    /// The process exit code: 2 for usage errors, 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) => write!(f, "{m}"),
            Error::Pack(e) => write!(f, "rule pack error: {e}"),
            Error::Load(e) => write!(f, "input error: {e}"),
            Error::Rule(e) => write!(f, "rule error: {e}"),
            Error::Plugin(e) => write!(f, "plugin error: {e}"),
            Error::Money(m) => write!(f, "money overflow (nothing was written): {m}"),
            Error::Reconcile(m) => write!(f, "reconciliation failed (nothing was written): {m}"),
            Error::Output { path, message } => write!(f, "cannot write {path}: {message}"),
            Error::Generate(e) => write!(f, "{e}"),
            Error::Failed(m) => write!(f, "{m}"),
            Error::Ledger(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<PackError> for Error {
    fn from(e: PackError) -> Self {
        Error::Pack(e)
    }
}

impl From<LoadError> for Error {
    fn from(e: LoadError) -> Self {
        Error::Load(e)
    }
}

impl From<RuleError> for Error {
    fn from(e: RuleError) -> Self {
        Error::Rule(e)
    }
}

impl From<crate::rules::wasm::PluginError> for Error {
    fn from(e: crate::rules::wasm::PluginError) -> Self {
        Error::Plugin(e)
    }
}

impl From<GenerateError> for Error {
    fn from(e: GenerateError) -> Self {
        Error::Generate(e)
    }
}
