//! [`NativeRules`]: the three stages of a rule pack written in Rust and compiled into a
//! program that embeds bonusrun, run through the same pipeline as scripts and plugins.
//!
//! A native implementation has no sandbox: it is code the embedding program trusts. It
//! reads the same facts a script sees through [`Context`] (data, facts, decisions of stage
//! `key_clients`, key-client subtotals, plans), and its results are checked and rounded by
//! the host exactly as a script's are. The benchmarks use one as the floor for rule
//! evaluation: the cost of the regulation itself, without an interpreter or a sandbox.

use super::{Context, KeyDecision, KpiResult, RawLine};
use rust_decimal::Decimal;

/// One KPI as a native rule measures it: what a script's KPI function returns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KpiMeasure {
    /// The measured value.
    pub value: Decimal,
    /// The target.
    pub target: Decimal,
    /// Attainment; `None` means value / target, as for scripts.
    pub attainment: Option<Decimal>,
    /// A note.
    pub note: String,
}

/// The stages of a rule pack as Rust functions. Each call may push warnings (they are
/// reported like `warn()` in a script); an `Err` stops the run with a [`super::RuleError`]
/// naming the stage, the function and the client or manager.
pub trait NativeRules: Sync {
    /// Stage `key_clients` for the client at index `client`.
    fn classify(
        &self,
        ctx: &Context,
        client: u32,
        warnings: &mut Vec<String>,
    ) -> Result<KeyDecision, String>;

    /// Stage `kpis`: the KPI `kpi` (an id the pack declares) of the manager at `manager`.
    fn kpi(
        &self,
        ctx: &Context,
        manager: u32,
        kpi: &str,
        warnings: &mut Vec<String>,
    ) -> Result<KpiMeasure, String>;

    /// Stage `bonus`: the manager's payout lines, unrounded (the host rounds each line).
    fn bonus(
        &self,
        ctx: &Context,
        manager: u32,
        kpis: &[KpiResult],
        warnings: &mut Vec<String>,
    ) -> Result<Vec<RawLine>, String>;
}
