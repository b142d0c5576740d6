//! WebAssembly rule plugins: components of the world `bonusrun:rules@0.2.3`
//! (`plugins/wit/v0.2/bonusrun.wit`, module `v02`) or the older `bonusrun:rules@0.1.0`
//! (`plugins/wit/v0.1/bonusrun.wit`, module `v01`), run with wasmtime.
//!
//! A plugin is compiled once per content hash and cached on disk (module `cache`); the world it
//! imports decides how it is linked, and it is type-checked against that world when the
//! pack loads, before any data is read. Each batch of clients or managers runs in a fresh
//! store with a fuel budget, a wall-clock deadline and a memory limit, and the store is thrown
//! away afterwards (always, so also after a trap). The sandbox: WASI is linked only because
//! Rust's std for `wasm32-wasip2` imports it, and every capability is empty or deterministic:
//! no files, no network, no environment or arguments, clocks fixed at zero, randomness a
//! fixed byte cycle.

mod cache;
pub(crate) mod v01;
pub(crate) mod v02;

use super::api::{Context, KeyDecision, KpiResult};
use super::RawLine;
use crate::money::{Currency, RoundingMode};
use crate::pack::{PackError, ParamValue, Table as PackTable};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// How often the plugins' deadline clock ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The largest component file a pack may bind (bytes), unless `[limits]` says otherwise.
pub const DEFAULT_MAX_PLUGIN_BYTES: u64 = 64 * 1024 * 1024;

/// A plugin failed: which file, stage, export and subject, and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginError {
    /// The component file, as shown to the user.
    pub plugin: String,
    /// Stage: `key_clients`, `kpis` or `bonus`.
    pub stage: String,
    /// The export called: `classify`, `kpis` or `bonus`.
    pub export: String,
    /// `client C042` or `manager M03`, or the batch when the item is unknown.
    pub subject: String,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: export '{}' (stage {}) for {}: {}",
            self.plugin, self.export, self.stage, self.subject, self.message
        )
    }
}

impl std::error::Error for PluginError {}

/// Whether the compiled code came from the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheUse {
    /// Compiled code was loaded from the cache.
    Hit,
    /// The component was compiled (and the result stored, if the cache is writable).
    Miss,
    /// No cache directory could be used (none set, or not private to this user); compiled
    /// in memory.
    Off,
    /// The cache held compiled code for this component that did not verify (tampered with
    /// or corrupt): it was not run; the component was compiled again and the entry replaced.
    Rejected,
}

/// Limits for plugin calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginLimits {
    /// Fuel per client or manager in a batch (a batch gets items × this).
    pub fuel_per_item: u64,
    /// Linear memory per store, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock seconds per client or manager in a batch (a batch gets items × this).
    pub seconds_per_item: u64,
}

/// A compiled, type-checked plugin.
pub struct Plugin {
    /// The file as shown to the user.
    pub shown: String,
    /// Hex sha256 of the component.
    pub sha256: String,
    /// Whether compiled code came from the cache.
    pub cache: CacheUse,
    linked: Linked,
    limits: PluginLimits,
    world: &'static str,
}

/// The component, linked against the world it was built for.
enum Linked {
    V01(v01::RulesPre<PluginState>),
    V02(v02::RulesPre<PluginState>),
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin")
            .field("shown", &self.shown)
            .field("sha256", &self.sha256)
            .field("world", &self.world())
            .finish()
    }
}

fn engine() -> Result<&'static Engine, String> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut config = Config::new();
            config.wasm_component_model(true);
            config.consume_fuel(true);
            config.epoch_interruption(true);
            config.max_wasm_stack(1 << 20);
            let engine = Engine::new(&config)
                .map_err(|e| format!("cannot start the WebAssembly engine: {e}"))?;
            // The clock of the wall-time deadlines: one epoch per tick.
            let ticking = engine.weak();
            std::thread::Builder::new()
                .name("bonusrun-epoch".into())
                .spawn(move || {
                    while let Some(engine) = ticking.upgrade() {
                        engine.increment_epoch();
                        drop(engine);
                        std::thread::sleep(EPOCH_TICK);
                    }
                })
                .map_err(|e| format!("cannot start the plugin clock: {e}"))?;
            Ok(engine)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Where compiled plugins are cached: `$BONUSRUN_CACHE_DIR`, else `$XDG_CACHE_HOME/bonusrun`,
/// else `$HOME/.cache/bonusrun`.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("BONUSRUN_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("bonusrun"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("bonusrun"))
}

impl Plugin {
    /// Compiles (or loads from the cache) and type-checks a component of either world.
    pub fn load(shown: &str, bytes: &[u8], limits: PluginLimits) -> Result<Plugin, PackError> {
        let err = |m: String| PackError::new(shown, m);
        if bytes.len() < 8 || &bytes[0..4] != b"\0asm" {
            return Err(err(
                "is not a WebAssembly file (it does not start with \\0asm); a plugin is a component built for wasm32-wasip2".into(),
            ));
        }
        // Byte 4..8: version and layer; layer 1 is a component, 0 a core module.
        if bytes[6] == 0 && bytes[7] == 0 {
            return Err(err(
                "is a core WebAssembly module, not a component; build the plugin with `cargo build --target wasm32-wasip2` (or wrap it with `wasm-tools component new`)".into(),
            ));
        }
        let engine = engine().map_err(err)?;
        let sha256 = crate::load::source_hex(&Sha256::digest(bytes));
        let (component, cache) = cache::compile_cached(engine, bytes, &sha256)
            .map_err(|e| err(format!("cannot compile: {e:#}")))?;
        let linked = match imported_world(engine, &component) {
            Some(v) if ["0.2.0", "0.2.1", "0.2.2", "0.2.3"].contains(&v.as_str()) => {
                v02::link(engine, &component).map(Linked::V02)
            }
            Some(v) if v.starts_with("0.1.") => v01::link(engine, &component).map(Linked::V01),
            Some(v) => Err(format!(
                "imports bonusrun:rules@{v}; this bonusrun runs the worlds bonusrun:rules@0.2.3 (and 0.2.0, 0.2.1, 0.2.2) and bonusrun:rules@0.1.0"
            )),
            None => match (v02::link(engine, &component), v01::link(engine, &component)) {
                (Ok(pre), _) => Ok(Linked::V02(pre)),
                (_, Ok(pre)) => Ok(Linked::V01(pre)),
                (Err(e2), Err(e1)) => Err(format!(
                    "is not a bonusrun rule plugin: it fits neither the world bonusrun:rules@0.2.3 ({e2}) nor the world bonusrun:rules@0.1.0 ({e1})"
                )),
            },
        }
        .map_err(err)?;
        let world = match (&linked, imported_world(engine, &component)) {
            (Linked::V02(_), Some(v)) if v == "0.2.0" => "bonusrun:rules@0.2.0",
            (Linked::V02(_), Some(v)) if v == "0.2.1" => "bonusrun:rules@0.2.1",
            (Linked::V02(_), Some(v)) if v == "0.2.2" => "bonusrun:rules@0.2.2",
            (Linked::V02(_), _) => "bonusrun:rules@0.2.3",
            (Linked::V01(_), _) => "bonusrun:rules@0.1.0",
        };
        Ok(Plugin {
            world,
            shown: shown.to_string(),
            sha256,
            cache,
            linked,
            limits,
        })
    }

    /// The world the plugin was built for: `bonusrun:rules@0.2.3`, `bonusrun:rules@0.2.0`,
    /// `@0.2.1` or `@0.2.2` (linked as 0.2.3, of which they use a part) or `bonusrun:rules@0.1.0`.
    pub fn world(&self) -> &'static str {
        self.world
    }

    /// The export that serves `stage` (`key_clients`, `kpis` or `bonus`) in the plugin's world.
    pub fn export(&self, stage: &str) -> &'static str {
        match (stage, &self.linked) {
            ("key_clients", _) => "classify",
            ("kpis", Linked::V01(_)) => "kpis",
            ("kpis", Linked::V02(_)) => "kpi",
            _ => "bonus",
        }
    }

    /// Stage a for clients `range` of the run.
    pub fn classify(
        &self,
        shared: &Arc<HostShared>,
        ctx: &Arc<Context>,
        range: std::ops::Range<usize>,
    ) -> Result<BatchOutcome<KeyDecision>, PluginError> {
        match &self.linked {
            Linked::V01(pre) => v01::classify(self, pre, shared, ctx, range),
            Linked::V02(pre) => v02::classify(self, pre, shared, ctx, range),
        }
    }

    /// Stage b for managers `range`: raw KPI values per manager, in `ids` order.
    pub fn kpis(
        &self,
        shared: &Arc<HostShared>,
        ctx: &Arc<Context>,
        ids: &[String],
        range: std::ops::Range<usize>,
    ) -> Result<BatchOutcome<Vec<RawKpi>>, PluginError> {
        match &self.linked {
            Linked::V01(pre) => v01::kpis(self, pre, shared, ctx, ids, range),
            Linked::V02(pre) => v02::kpis(self, pre, shared, ctx, ids, range),
        }
    }

    /// Stage c for managers `range`, given their KPI results.
    pub fn bonus(
        &self,
        shared: &Arc<HostShared>,
        ctx: &Arc<Context>,
        kpis: &[Arc<Vec<KpiResult>>],
        range: std::ops::Range<usize>,
    ) -> Result<BatchOutcome<Vec<RawLine>>, PluginError> {
        match &self.linked {
            Linked::V01(pre) => v01::bonus(self, pre, shared, ctx, kpis, range),
            Linked::V02(pre) => v02::bonus(self, pre, shared, ctx, kpis, range),
        }
    }
}

/// The version of `bonusrun:rules` the component imports, if it imports any of its
/// interfaces (`bonusrun:rules/host@0.2.0` gives `0.2.0`).
fn imported_world(engine: &Engine, component: &Component) -> Option<String> {
    component
        .component_type()
        .imports(engine)
        .find_map(|(name, _)| {
            let rest = name.strip_prefix("bonusrun:rules/")?;
            Some(rest.split_once('@')?.1.to_string())
        })
}

/// A linker with WASI, for either world.
fn linker(engine: &Engine) -> Result<Linker<PluginState>, String> {
    let mut linker: Linker<PluginState> = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
        .map_err(|e| format!("cannot link WASI: {e:#}"))?;
    Ok(linker)
}

/// A host function refused a plugin's request (an unknown name, a stale handle, a bad
/// decimal): the message, which stops the run.
#[derive(Debug)]
pub(crate) struct HostFault(pub String);

impl fmt::Display for HostFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HostFault {}

/// A [`HostFault`] as the error a host function returns.
pub(crate) fn fault(message: String) -> wasmtime::Error {
    wasmtime::Error::new(HostFault(message))
}

/// What the host functions give plugins: the pack's parameters and tables, as given and in
/// the 0.1.0 wire form.
pub struct HostShared {
    params: BTreeMap<String, ParamValue>,
    tables: BTreeMap<String, Arc<PackTable>>,
    v01: v01::Shared,
    currency: Currency,
    rounding: RoundingMode,
    run_deadline: Option<(Instant, Duration)>,
}

impl HostShared {
    /// The pack's parameters and tables as plugins see them.
    pub fn new(
        params: &BTreeMap<String, ParamValue>,
        tables: &BTreeMap<String, Arc<PackTable>>,
        currency: Currency,
        rounding: RoundingMode,
    ) -> HostShared {
        HostShared {
            params: params.clone(),
            tables: tables.clone(),
            v01: v01::Shared::new(params, tables),
            currency,
            rounding,
            run_deadline: None,
        }
    }

    /// Stops any plugin call still running at `at`, the end of a run allowed `allowed`.
    pub fn with_run_deadline(mut self, at: Option<(Instant, Duration)>) -> HostShared {
        self.run_deadline = at;
        self
    }
}

/// A store's state: WASI (empty), limits, the current item and what the plugin reported.
pub(crate) struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    shared: Arc<HostShared>,
    /// The item of the batch being served (0-based).
    item: u32,
    warnings: Vec<(u32, String)>,
    traces: Vec<(u32, String)>,
    stderr: MemoryOutputPipe,
    /// Bytes of warnings and log lines the plugin has sent in this batch.
    said: usize,
    /// The facts plugins of world 0.2 read through handles.
    views: Option<v02::Views>,
}

/// Bytes of warnings and log lines a plugin may send in one batch: the host keeps warnings
/// in memory for run.json, and a plugin in a loop could otherwise fill it.
const MAX_SAID_PER_BATCH: usize = 4 << 20;

impl PluginState {
    /// Counts `message` against [`MAX_SAID_PER_BATCH`]; past it, the run stops.
    fn say(&mut self, what: &str, message: &str) -> wasmtime::Result<()> {
        self.said = self.said.saturating_add(message.len());
        if self.said > MAX_SAID_PER_BATCH {
            return Err(fault(format!(
                "{what}: sent more than {MAX_SAID_PER_BATCH} bytes of warnings and log lines in one batch; a plugin warns about what needs a person's attention, not about every line"
            )));
        }
        Ok(())
    }

    /// A warning for the current subject.
    fn warning(&mut self, message: String) -> wasmtime::Result<()> {
        self.say("warn", &message)?;
        self.warnings.push((self.item, message));
        Ok(())
    }

    /// A debugging line on the host's stderr.
    fn log_line(&mut self, message: &str) -> wasmtime::Result<()> {
        self.say("log", message)?;
        eprintln!("[plugin] {message}");
        Ok(())
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

struct FrozenWallClock;
impl wasmtime_wasi::HostWallClock for FrozenWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

struct FrozenMonotonicClock;
impl wasmtime_wasi::HostMonotonicClock for FrozenMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// A KPI as a plugin returned it: value, target, attainment if given, note.
pub type RawKpi = (Decimal, Decimal, Option<Decimal>, String);

/// One batch's result: values, and warnings by item index within the batch.
pub struct BatchOutcome<T> {
    /// One per item.
    pub values: Vec<T>,
    /// (item index, message).
    pub warnings: Vec<(u32, String)>,
    /// (item index, decision-table lookup as a sentence).
    pub traces: Vec<(u32, String)>,
}

impl<T> BatchOutcome<T> {
    /// Converts what the plugin returned for each item (checking decimals and shapes); a
    /// value that does not convert fails naming the item's subject.
    fn convert<U>(
        self,
        plugin: &Plugin,
        stage: &str,
        subject: &dyn Fn(u32) -> String,
        mut f: impl FnMut(T) -> Result<U, String>,
    ) -> Result<BatchOutcome<U>, PluginError> {
        let mut values = Vec::with_capacity(self.values.len());
        for (i, v) in self.values.into_iter().enumerate() {
            values.push(f(v).map_err(|m| plugin.error(stage, subject(i as u32), m))?);
        }
        Ok(BatchOutcome {
            values,
            warnings: self.warnings,
            traces: self.traces,
        })
    }
}

/// A payout line as the plugin returned it, its amount converted by `amount`.
fn raw_line(
    n: usize,
    amount: Result<Decimal, String>,
    label: String,
    kind: String,
    kpi: Option<String>,
    note: String,
) -> Result<RawLine, String> {
    Ok(RawLine {
        amount: amount.map_err(|m| format!("payout line {} amount {m}", n + 1))?,
        label,
        kind,
        kpi: kpi.filter(|k| !k.is_empty()),
        note,
    })
}

/// What a batch call needs besides the plugin: who, where, how many.
pub(crate) struct Batch<'a> {
    shared: &'a Arc<HostShared>,
    stage: &'static str,
    items: usize,
    subject: &'a dyn Fn(u32) -> String,
}

impl Plugin {
    fn error(&self, stage: &str, subject: String, message: String) -> PluginError {
        PluginError {
            plugin: self.shown.clone(),
            stage: stage.to_string(),
            export: self.export(stage).to_string(),
            subject,
            message,
        }
    }

    /// Runs one batch in a fresh store: `instantiate`, then `f`, which returns one value per
    /// item or the plugin's own error (for the item `PluginState::item` names).
    fn call<I, T>(
        &self,
        batch: Batch<'_>,
        views: Option<v02::Views>,
        instantiate: impl FnOnce(&mut Store<PluginState>) -> wasmtime::Result<I>,
        f: impl FnOnce(&I, &mut Store<PluginState>) -> wasmtime::Result<Result<Vec<T>, String>>,
    ) -> Result<BatchOutcome<T>, PluginError> {
        let Batch {
            shared,
            stage,
            items,
            subject,
        } = batch;
        let fail = |subject: String, message: String| self.error(stage, subject, message);
        let (ticks, stopped_by_run) = self.deadline_ticks(shared, items);
        let mut store = self
            .store(shared, items, ticks, views)
            .map_err(|e| fail("the batch".into(), e.to_string()))?;
        let instance = instantiate(&mut store)
            .map_err(|e| fail("the batch".into(), format!("cannot instantiate: {e:#}")))?;
        let result = f(&instance, &mut store);
        let who = subject(store.data().item);
        let values = match result {
            Ok(Ok(v)) => v,
            Ok(Err(message)) => {
                return Err(fail(
                    who,
                    format!("the plugin returned an error: {message}"),
                ))
            }
            Err(e) => {
                return Err(fail(
                    who,
                    self.failure(&store, &e, shared, items, stopped_by_run),
                ))
            }
        };
        if values.len() != items {
            return Err(fail(
                "the batch".into(),
                format!("returned {} result(s) for {items} item(s); a plugin returns exactly one per item, in order", values.len()),
            ));
        }
        let warnings = std::mem::take(&mut store.data_mut().warnings);
        let traces = std::mem::take(&mut store.data_mut().traces);
        Ok(BatchOutcome {
            values,
            warnings,
            traces,
        })
    }

    /// A fresh store with the batch's fuel, deadline and memory limit.
    fn store(
        &self,
        shared: &Arc<HostShared>,
        items: usize,
        ticks: u64,
        views: Option<v02::Views>,
    ) -> wasmtime::Result<Store<PluginState>> {
        let stderr = MemoryOutputPipe::new(64 * 1024);
        let wasi = wasmtime_wasi::WasiCtxBuilder::new()
            .stderr(stderr.clone())
            .wall_clock(FrozenWallClock)
            .monotonic_clock(FrozenMonotonicClock)
            .secure_random(wasmtime_wasi::Deterministic::new(vec![7, 1, 4, 2]))
            .insecure_random(wasmtime_wasi::Deterministic::new(vec![3, 5, 8, 6]))
            .insecure_random_seed(0)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let state = PluginState {
            wasi,
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(self.limits.memory_bytes)
                .trap_on_grow_failure(true)
                .instances(16)
                .build(),
            shared: shared.clone(),
            item: 0,
            warnings: Vec::new(),
            traces: Vec::new(),
            stderr,
            said: 0,
            views,
        };
        let engine = match &self.linked {
            Linked::V01(pre) => pre.engine(),
            Linked::V02(pre) => pre.engine(),
        };
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limits);
        let fuel = self
            .limits
            .fuel_per_item
            .saturating_mul(items.max(1) as u64);
        store.set_fuel(fuel)?;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        Ok(store)
    }

    /// What a failed call did, in the user's words: a host function's refusal, a panic, a
    /// limit, a trap.
    fn failure(
        &self,
        store: &Store<PluginState>,
        e: &wasmtime::Error,
        shared: &HostShared,
        items: usize,
        stopped_by_run: bool,
    ) -> String {
        if let Some(HostFault(message)) = e.downcast_ref::<HostFault>() {
            return message.clone();
        }
        let printed = String::from_utf8_lossy(&store.data().stderr.contents())
            .trim()
            .to_string();
        let root = e.root_cause().to_string();
        let what = match e.downcast_ref::<Trap>() {
            _ if printed.contains("panicked at") => {
                let text: Vec<&str> = printed.lines().filter(|l| !l.starts_with("note:")).collect();
                format!("panicked: {}", text.join(" "))
            }
            Some(Trap::OutOfFuel) => format!(
                "ran out of fuel and was stopped (an endless loop?); a batch of {items} item(s) gets {items} x {} fuel, and the limit is [limits] plugin_fuel_per_item in pack.toml",
                self.limits.fuel_per_item
            ),
            Some(Trap::StackOverflow) => "overflowed its stack (endless recursion?)".to_string(),
            Some(Trap::Interrupt) if stopped_by_run => format!(
                "the run passed its --deadline of {} second(s) while this plugin was running, and was stopped",
                shared.run_deadline.map(|(_, d)| d.as_secs()).unwrap_or_default()
            ),
            Some(Trap::Interrupt) => format!(
                "ran longer than its time and was stopped (an endless loop?); a batch of {items} item(s) gets {items} x {} second(s), and the limit is [limits] max_seconds_per_call in pack.toml",
                self.limits.seconds_per_item
            ),
            Some(t) => format!("trapped: {t}"),
            None if root.contains("handle limit exceeded") => format!(
                "holds too many handles at once and was stopped (a leak?); a plugin drops each handle when done with it ({root})"
            ),
            None if root.contains("memory") => format!(
                "exceeded the memory limit of {} bytes (a memory bomb?); the limit is [limits] plugin_memory_bytes in pack.toml ({root})",
                self.limits.memory_bytes
            ),
            None => format!("failed: {root}"),
        };
        if printed.is_empty() || what.starts_with("panicked") {
            what
        } else {
            format!("{what}; it printed: {printed}")
        }
    }

    /// Epoch ticks a batch of `items` may run, and whether the run's deadline (rather than
    /// the per-call limit) is the one that ends it.
    fn deadline_ticks(&self, shared: &HostShared, items: usize) -> (u64, bool) {
        let per_call = Duration::from_secs(self.limits.seconds_per_item)
            .saturating_mul(u32::try_from(items.max(1)).unwrap_or(u32::MAX));
        let now = Instant::now();
        let (left, by_run) = match shared.run_deadline {
            Some((at, _)) if at.saturating_duration_since(now) < per_call => {
                (at.saturating_duration_since(now), true)
            }
            _ => (per_call, false),
        };
        let ticks = left.as_millis() / EPOCH_TICK.as_millis() + 1;
        (u64::try_from(ticks).unwrap_or(u64::MAX), by_run)
    }
}

/// A decimal a plugin returned as 0.1.0 wire text, or a message naming `what`.
fn wire_decimal(text: &str, what: &str) -> Result<Decimal, String> {
    crate::money::parse_decimal(text.trim().as_bytes())
        .ok_or_else(|| format!("{what} is '{text}', not a decimal like 1234.50 (a decimal crosses the boundary as a plain string)"))
}
