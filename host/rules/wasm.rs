//! WebAssembly rule plugins: components of the world `bonusrun:rules@0.1.0`
//! (`plugins/wit/bonusrun.wit`) run with wasmtime.
//!
//! A plugin is compiled once per content hash and cached on disk; it is type-checked against
//! the world when the pack loads, before any data is read. Each batch of clients or managers
//! runs in a fresh store with a fuel budget and a memory limit, and the store is thrown away
//! afterwards (always, so also after a trap). The sandbox: WASI is linked only because Rust's
//! std for `wasm32-wasip2` imports it, and every capability is empty or deterministic: no
//! files, no network, no environment or arguments, clocks fixed at zero, randomness a fixed
//! byte cycle. Decimals cross the boundary as strings.

use super::api::{Context, KeyDecision, KpiResult};
use super::RawLine;
use crate::facts::{Window, CURRENT, PREVIOUS, YEAR_AGO};
use crate::money::{parse_decimal, Currency, RoundingMode};
use crate::pack::{Cell as PackCell, LookupValue, PackError, ParamValue, Table as PackTable};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

mod bindings {
    wasmtime::component::bindgen!({
        path: "plugins/wit",
        world: "rules",
    });
}

use bindings::bonusrun::rules::types as wit;
use bindings::{Rules, RulesPre};

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
    pre: RulesPre<PluginState>,
    limits: PluginLimits,
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin")
            .field("shown", &self.shown)
            .field("sha256", &self.sha256)
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
    /// Compiles (or loads from the cache) and type-checks a component.
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
        let (component, cache) = compile_cached(engine, bytes, &sha256)
            .map_err(|e| err(format!("cannot compile: {e:#}")))?;
        let mut linker: Linker<PluginState> = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| err(format!("cannot link WASI: {e:#}")))?;
        Rules::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut linker, |s| s)
            .map_err(|e| err(format!("cannot link the host interface: {e:#}")))?;
        let pre = linker.instantiate_pre(&component).map_err(|e| {
            err(format!(
                "does not fit the world bonusrun:rules@0.1.0 (plugins/wit/bonusrun.wit): {e:#}"
            ))
        })?;
        let pre = RulesPre::new(pre).map_err(|e| {
            err(format!(
                "does not export the world bonusrun:rules@0.1.0 (classify, kpis, bonus): {e:#}"
            ))
        })?;
        Ok(Plugin {
            shown: shown.to_string(),
            sha256,
            cache,
            pre,
            limits,
        })
    }
}

/// Compiled code from the cache is native code that runs outside the WebAssembly sandbox,
/// so it is executed only when verified as what this binary compiled from these bytes: each
/// artifact has a tag, HMAC-SHA256 under a random key kept in the cache directory (mode
/// 0600), over the component's hash, the engine's compatibility hash and the artifact. The
/// directory must be the user's own and writable by nobody else; otherwise no cache is used.
/// A missing or wrong tag means the component is compiled again and the entry replaced.
/// docs/plugins.md ("The compiled-code cache") has the threat model.
fn compile_cached(
    engine: &Engine,
    bytes: &[u8],
    sha256: &str,
) -> wasmtime::Result<(Component, CacheUse)> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let engine_hash = format!("{:016x}", h.finish());
    let Some(cache) = cache_dir().and_then(|d| CodeCache::open(&d).ok()) else {
        return Ok((Component::new(engine, bytes)?, CacheUse::Off));
    };
    let name = format!("{sha256}-{engine_hash}");
    let context = format!("bonusrun compiled code v1\n{sha256}\n{engine_hash}\n");
    let mut rejected = false;
    if let Some(artifact) = cache.read(&name, &context, &mut rejected) {
        // SAFETY: `artifact` carries a valid tag under this user's private key: it is the
        // output of `Component::serialize` by an engine with the same compatibility hash,
        // for exactly these component bytes.
        if let Ok(c) = unsafe { Component::deserialize(engine, &artifact) } {
            return Ok((c, CacheUse::Hit));
        }
        rejected = true;
    }
    let component = Component::new(engine, bytes)?;
    let stored = component
        .serialize()
        .ok()
        .is_some_and(|b| cache.write(&name, &context, &b).is_ok());
    Ok((
        component,
        match (rejected, stored) {
            (true, _) => CacheUse::Rejected,
            (false, true) => CacheUse::Miss,
            (false, false) => CacheUse::Off,
        },
    ))
}

/// The compiled-code cache directory and its key.
struct CodeCache {
    dir: PathBuf,
    key: [u8; 32],
}

type Tagger = hmac::Hmac<Sha256>;

impl CodeCache {
    /// Opens (creating them if needed) the directory and its key; fails when either is not
    /// private to this user.
    fn open(dir: &Path) -> std::io::Result<CodeCache> {
        create_private_dir(dir)?;
        check_private(dir, 0o022)?;
        let key_path = dir.join("key");
        if !key_path.exists() {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key).map_err(|e| std::io::Error::other(e.to_string()))?;
            let tmp = dir.join(format!(".key.{}.tmp", std::process::id()));
            write_private(&tmp, &key)?;
            // A key another process wrote first wins; ours is dropped.
            if std::fs::hard_link(&tmp, &key_path).is_err() && !key_path.exists() {
                let _ = std::fs::remove_file(&tmp);
                return Err(std::io::Error::other("cannot store the cache key"));
            }
            let _ = std::fs::remove_file(&tmp);
        }
        check_private(&key_path, 0o077)?;
        let bytes = std::fs::read(&key_path)?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| std::io::Error::other("the cache key is not 32 bytes"))?;
        Ok(CodeCache {
            dir: dir.to_path_buf(),
            key,
        })
    }

    fn tag(&self, context: &str, artifact: &[u8]) -> Tagger {
        use hmac::Mac;
        let mut mac = Tagger::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(context.as_bytes());
        mac.update(artifact);
        mac
    }

    /// The artifact `name`, if its tag verifies; sets `rejected` when an entry exists but
    /// does not verify.
    fn read(&self, name: &str, context: &str, rejected: &mut bool) -> Option<Vec<u8>> {
        use hmac::Mac;
        let artifact = std::fs::read(self.dir.join(format!("{name}.cwasm"))).ok()?;
        let tag = std::fs::read(self.dir.join(format!("{name}.tag"))).unwrap_or_default();
        if self.tag(context, &artifact).verify_slice(&tag).is_ok() {
            Some(artifact)
        } else {
            *rejected = true;
            None
        }
    }

    /// Stores an artifact and its tag (each written aside and renamed into place).
    fn write(&self, name: &str, context: &str, artifact: &[u8]) -> std::io::Result<()> {
        use hmac::Mac;
        let tag = self.tag(context, artifact).finalize().into_bytes();
        for (ext, bytes) in [("cwasm", artifact), ("tag", &tag[..])] {
            let tmp = self
                .dir
                .join(format!(".{name}.{ext}.{}.tmp", std::process::id()));
            write_private(&tmp, bytes)?;
            std::fs::rename(&tmp, self.dir.join(format!("{name}.{ext}")))?;
        }
        Ok(())
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// `path` must be owned by this user, not a link, and have none of the `forbidden` mode bits.
fn check_private(path: &Path, forbidden: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::symlink_metadata(path)?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.file_type().is_symlink() || meta.uid() != me || meta.mode() & forbidden != 0 {
            return Err(std::io::Error::other(format!(
                "{} is not private to this user",
                path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = (path, forbidden);
    Ok(())
}

/// What the host functions give plugins.
pub struct HostShared {
    params: BTreeMap<String, wit::ParamValue>,
    tables: BTreeMap<String, wit::TableData>,
    decision: BTreeMap<String, Arc<PackTable>>,
    currency: Currency,
    rounding: RoundingMode,
    run_deadline: Option<(Instant, Duration)>,
}

impl HostShared {
    /// Stops any plugin call still running at `at`, the end of a run allowed `allowed`.
    pub fn with_run_deadline(mut self, at: Option<(Instant, Duration)>) -> HostShared {
        self.run_deadline = at;
        self
    }

    /// The pack's parameters and tables as the plugin sees them.
    pub fn new(
        params: &BTreeMap<String, ParamValue>,
        tables_in: &BTreeMap<String, Arc<PackTable>>,
        currency: Currency,
        rounding: RoundingMode,
    ) -> HostShared {
        let tables = tables_in;
        let params = params
            .iter()
            .map(|(k, v)| {
                let p = match v {
                    ParamValue::Number(d) => wit::ParamValue::Number(d.to_string()),
                    ParamValue::Text(t) => wit::ParamValue::Text(t.clone()),
                    ParamValue::Flag(b) => wit::ParamValue::Flag(*b),
                    ParamValue::List(l) => wit::ParamValue::List(
                        l.iter()
                            .map(|x| match x {
                                ParamValue::Number(d) => d.to_string(),
                                ParamValue::Text(t) => t.clone(),
                                ParamValue::Flag(b) => b.to_string(),
                                ParamValue::List(_) => String::new(),
                            })
                            .collect(),
                    ),
                };
                (k.clone(), p)
            })
            .collect();
        let tables = tables
            .iter()
            .map(|(k, t)| {
                let rows = t
                    .rows
                    .iter()
                    .map(|r| r.iter().map(wit_cell).collect())
                    .collect();
                (
                    k.clone(),
                    wit::TableData {
                        columns: t.columns.clone(),
                        rows,
                    },
                )
            })
            .collect();
        HostShared {
            params,
            tables,
            decision: tables_in
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            currency,
            rounding,
            run_deadline: None,
        }
    }
}

struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    shared: Arc<HostShared>,
    item: u32,
    warnings: Vec<(u32, String)>,
    traces: Vec<(u32, String)>,
    stderr: MemoryOutputPipe,
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

impl wit::Host for PluginState {}

impl bindings::bonusrun::rules::host::Host for PluginState {
    fn param(&mut self, name: String) -> Option<wit::ParamValue> {
        self.shared.params.get(&name).cloned()
    }
    fn table(&mut self, name: String) -> Option<wit::TableData> {
        self.shared.tables.get(&name).cloned()
    }
    fn round_money(&mut self, amount: String) -> String {
        match parse_decimal(amount.trim().as_bytes()) {
            Some(d) => self
                .shared
                .currency
                .round(d, self.shared.rounding)
                .to_string(),
            None => {
                self.warnings.push((
                    self.item,
                    format!("round-money got '{amount}', not a decimal; returned it unchanged"),
                ));
                amount
            }
        }
    }
    fn warn(&mut self, message: String) {
        self.warnings.push((self.item, message));
    }
    fn log(&mut self, message: String) {
        eprintln!("[plugin] {message}");
    }
    fn item(&mut self, index: u32) {
        self.item = index;
    }
    fn lookup(
        &mut self,
        table: String,
        inputs: Vec<(String, wit::LookupValue)>,
    ) -> Result<Vec<Vec<(String, wit::Cell)>>, String> {
        let Some(t) = self.shared.decision.get(&table).cloned() else {
            return Err(format!("unknown table '{table}'"));
        };
        let mut values = Vec::with_capacity(inputs.len());
        for (name, v) in inputs {
            let value = match v {
                wit::LookupValue::Number(d) => LookupValue::Number(
                    parse_decimal(d.trim().as_bytes())
                        .ok_or_else(|| format!("lookup input '{name}' is '{d}', not a decimal"))?,
                ),
                wit::LookupValue::Text(t) => LookupValue::Text(t),
            };
            values.push((name, value));
        }
        let refs: Vec<(&str, &LookupValue)> = values.iter().map(|(n, v)| (n.as_str(), v)).collect();
        let hits = t.lookup(&refs)?;
        self.traces
            .push((self.item, super::api::describe_lookup(&t, &refs, &hits)));
        Ok(hits
            .into_iter()
            .map(|r| {
                t.columns
                    .iter()
                    .zip(&t.rows[r])
                    .map(|(c, cell)| (c.clone(), wit_cell(cell)))
                    .collect()
            })
            .collect())
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

impl Plugin {
    fn call<T>(
        &self,
        shared: &Arc<HostShared>,
        stage: &str,
        export: &str,
        items: usize,
        subject: &dyn Fn(u32) -> String,
        f: impl FnOnce(&Rules, &mut Store<PluginState>) -> wasmtime::Result<Result<Vec<T>, String>>,
    ) -> Result<BatchOutcome<T>, PluginError> {
        let fail = |subject: String, message: String| PluginError {
            plugin: self.shown.clone(),
            stage: stage.to_string(),
            export: export.to_string(),
            subject,
            message,
        };
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
            stderr: stderr.clone(),
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|s| &mut s.limits);
        let fuel = self
            .limits
            .fuel_per_item
            .saturating_mul(items.max(1) as u64);
        store
            .set_fuel(fuel)
            .map_err(|e| fail("the batch".into(), e.to_string()))?;
        let (ticks, stopped_by_run) = self.deadline_ticks(shared, items);
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        let rules = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| fail("the batch".into(), format!("cannot instantiate: {e:#}")))?;
        let result = f(&rules, &mut store);
        let item = store.data().item;
        let who = subject(item);
        let values = match result {
            Ok(Ok(v)) => v,
            Ok(Err(message)) => {
                return Err(fail(
                    who,
                    format!("the plugin returned an error: {message}"),
                ))
            }
            Err(e) => {
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
                    None if root.contains("memory") => format!(
                        "exceeded the memory limit of {} bytes (a memory bomb?); the limit is [limits] plugin_memory_bytes in pack.toml ({root})",
                        self.limits.memory_bytes
                    ),
                    None => format!("failed: {root}"),
                };
                let panic = if printed.is_empty() || what.starts_with("panicked") {
                    String::new()
                } else {
                    format!("; it printed: {printed}")
                };
                return Err(fail(who, format!("{what}{panic}")));
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

    /// Stage a for clients `range` of the run.
    pub fn classify(
        &self,
        shared: &Arc<HostShared>,
        ctx: &Context,
        range: std::ops::Range<usize>,
    ) -> Result<BatchOutcome<KeyDecision>, PluginError> {
        let clients: Vec<wit::Client> = range
            .clone()
            .map(|i| client_record(ctx, i as u32))
            .collect();
        let subject = |i: u32| format!("client {}", ctx.data.clients[range.start + i as usize].id);
        let out = self.call(
            shared,
            "key_clients",
            "classify",
            clients.len(),
            &subject,
            |r, s| r.call_classify(s, &clients),
        )?;
        let mut values = Vec::with_capacity(out.values.len());
        for (i, d) in out.values.into_iter().enumerate() {
            let bad = |m: String| self.shape(subject(i as u32), "key_clients", "classify", m);
            values.push(KeyDecision {
                key: d.key,
                tier: d.tier,
                score: wire_decimal(&d.score, "score").map_err(bad)?,
                reasons: d.reasons,
            });
        }
        Ok(BatchOutcome {
            values,
            warnings: out.warnings,
            traces: out.traces,
        })
    }

    /// Stage b for managers `range`: raw KPI values per manager, in `ids` order.
    pub fn kpis(
        &self,
        shared: &Arc<HostShared>,
        ctx: &Context,
        ids: &[String],
        range: std::ops::Range<usize>,
    ) -> Result<BatchOutcome<Vec<RawKpi>>, PluginError> {
        let managers: Vec<wit::Manager> = range
            .clone()
            .map(|i| manager_record(ctx, i as u32))
            .collect();
        let subject =
            |i: u32| format!("manager {}", ctx.data.managers[range.start + i as usize].id);
        let out = self.call(shared, "kpis", "kpis", managers.len(), &subject, |r, s| {
            r.call_kpis(s, ids, &managers)
        })?;
        let mut values = Vec::with_capacity(out.values.len());
        for (i, per_manager) in out.values.into_iter().enumerate() {
            let bad = |m: String| self.shape(subject(i as u32), "kpis", "kpis", m);
            if per_manager.len() != ids.len() {
                return Err(bad(format!(
                    "returned {} KPI value(s) for {} KPI(s)",
                    per_manager.len(),
                    ids.len()
                )));
            }
            let mut row = Vec::with_capacity(ids.len());
            for (id, v) in ids.iter().zip(per_manager) {
                let what = |f: &str| format!("KPI '{id}' {f}");
                row.push((
                    wire_decimal(&v.value, &what("value")).map_err(bad)?,
                    wire_decimal(&v.target, &what("target")).map_err(bad)?,
                    match &v.attainment {
                        Some(a) => Some(wire_decimal(a, &what("attainment")).map_err(bad)?),
                        None => None,
                    },
                    v.note,
                ));
            }
            values.push(row);
        }
        Ok(BatchOutcome {
            values,
            warnings: out.warnings,
            traces: out.traces,
        })
    }

    /// Stage c for managers `range`, given their KPI results.
    pub fn bonus(
        &self,
        shared: &Arc<HostShared>,
        ctx: &Context,
        kpis: &[Arc<Vec<KpiResult>>],
        range: std::ops::Range<usize>,
    ) -> Result<BatchOutcome<Vec<RawLine>>, PluginError> {
        let managers: Vec<wit::Manager> = range
            .clone()
            .map(|i| manager_record(ctx, i as u32))
            .collect();
        let kpi_records: Vec<Vec<wit::Kpi>> = range
            .clone()
            .map(|i| {
                kpis[i]
                    .iter()
                    .map(|k| wit::Kpi {
                        id: k.id.clone(),
                        label: k.label.clone(),
                        weight: k.weight.to_string(),
                        value: k.value.to_string(),
                        target: k.target.to_string(),
                        attainment: k.attainment.to_string(),
                        note: k.note.clone(),
                    })
                    .collect()
            })
            .collect();
        let subject =
            |i: u32| format!("manager {}", ctx.data.managers[range.start + i as usize].id);
        let out = self.call(
            shared,
            "bonus",
            "bonus",
            managers.len(),
            &subject,
            |r, s| r.call_bonus(s, &managers, &kpi_records),
        )?;
        let mut values = Vec::with_capacity(out.values.len());
        for (i, lines) in out.values.into_iter().enumerate() {
            let bad = |m: String| self.shape(subject(i as u32), "bonus", "bonus", m);
            let mut converted = Vec::with_capacity(lines.len());
            for (n, l) in lines.into_iter().enumerate() {
                converted.push(RawLine {
                    amount: wire_decimal(&l.amount, &format!("payout line {} amount", n + 1))
                        .map_err(bad)?,
                    label: l.label,
                    kind: l.kind,
                    kpi: l.kpi.filter(|k| !k.is_empty()),
                    note: l.note,
                });
            }
            values.push(converted);
        }
        Ok(BatchOutcome {
            values,
            warnings: out.warnings,
            traces: out.traces,
        })
    }

    fn shape(&self, subject: String, stage: &str, export: &str, message: String) -> PluginError {
        PluginError {
            plugin: self.shown.clone(),
            stage: stage.to_string(),
            export: export.to_string(),
            subject,
            message,
        }
    }
}

fn wit_cell(c: &PackCell) -> wit::Cell {
    match c {
        PackCell::Number(d) => wit::Cell::Number(d.to_string()),
        PackCell::Flag(b) => wit::Cell::Flag(*b),
        PackCell::Text(s) => wit::Cell::Text(s.clone()),
    }
}

fn wire_decimal(text: &str, what: &str) -> Result<Decimal, String> {
    parse_decimal(text.trim().as_bytes())
        .ok_or_else(|| format!("{what} is '{text}', not a decimal like 1234.50 (a decimal crosses the boundary as a plain string)"))
}

fn date(d: Option<crate::period::Date>) -> Option<String> {
    d.map(|d| d.to_string())
}

fn window(ctx: &Context, w: &Window, which: usize) -> wit::Window {
    wit::Window {
        period: ctx.facts.periods[which].to_string(),
        revenue: w.revenue.to_string(),
        cost: w.cost.to_string(),
        margin: w.margin().to_string(),
        quantity: w.quantity.to_string(),
        returns: w.returns.to_string(),
        lines: w.lines,
        return_lines: w.return_lines,
        categories: w.categories.len() as u32,
        products: w.products.len() as u32,
        category_names: w
            .categories
            .iter()
            .map(|&c| ctx.facts.categories[c as usize].clone())
            .collect(),
        first_date: date(w.first),
        last_date: date(w.last),
    }
}

fn extras(columns: &[String], values: &[String]) -> Vec<(String, String)> {
    columns
        .iter()
        .cloned()
        .zip(values.iter().cloned())
        .collect()
}

fn client_record(ctx: &Context, idx: u32) -> wit::Client {
    let c = &ctx.data.clients[idx as usize];
    let f = &ctx.facts.clients[idx as usize];
    let end = ctx.facts.period().last_date();
    let period = ctx.facts.period();
    wit::Client {
        id: c.id.clone(),
        name: c.name.clone(),
        industry: c.industry.clone(),
        region: c.region.clone(),
        since: date(c.since),
        years: match c.since {
            Some(s) if s <= end => s.whole_years_until(end),
            _ => 0,
        },
        market_share: c.market_share.to_string(),
        strategic: c.strategic,
        manager_id: f
            .manager
            .map(|m| ctx.data.managers[m as usize].id.clone())
            .unwrap_or_default(),
        first_purchase: date(f.first_purchase),
        last_purchase: date(f.last_purchase),
        is_new: f.first_purchase.is_some_and(|d| period.contains(d)),
        revenue_share: f.revenue_share.to_string(),
        margin_share: f.margin_share.to_string(),
        cur: window(ctx, &f.windows[CURRENT], CURRENT),
        prev: window(ctx, &f.windows[PREVIOUS], PREVIOUS),
        year_ago: window(ctx, &f.windows[YEAR_AGO], YEAR_AGO),
        company: window(ctx, &ctx.facts.company[CURRENT], CURRENT),
        extras: extras(&ctx.data.client_extras, &c.extras),
    }
}

fn manager_record(ctx: &Context, idx: u32) -> wit::Manager {
    let m = &ctx.data.managers[idx as usize];
    let f = &ctx.facts.managers[idx as usize];
    let period = ctx.facts.period();
    let no_decision = KeyDecision::default();
    let key = |client: u32| ctx.decisions.get(client as usize).unwrap_or(&no_decision);
    let accounts = f
        .accounts
        .iter()
        .map(|&a| {
            let acc = &ctx.facts.accounts[a as usize];
            let d = key(acc.client);
            let cf = &ctx.facts.clients[acc.client as usize];
            wit::Account {
                client_id: ctx.data.clients[acc.client as usize].id.clone(),
                key: d.key,
                tier: d.tier.clone(),
                is_new: cf.first_purchase.is_some_and(|d| period.contains(d)),
                cur: window(ctx, &acc.windows[CURRENT], CURRENT),
                prev: window(ctx, &acc.windows[PREVIOUS], PREVIOUS),
                year_ago: window(ctx, &acc.windows[YEAR_AGO], YEAR_AGO),
            }
        })
        .collect::<Vec<_>>();
    let last = period.last_date();
    let contracts = ctx
        .data
        .contracts
        .iter()
        .filter(|c| c.manager == idx)
        .map(|c| wit::Contract {
            id: c.id.clone(),
            client_id: ctx.data.clients[c.client as usize].id.clone(),
            start: c.start.to_string(),
            end: c.end.to_string(),
            renewed_on: date(c.renewed_on),
            due: period.contains(c.end),
            renewed: c.renewed_on.is_some_and(|d| d <= last),
            key: key(c.client).key,
        })
        .collect();
    let empty = Default::default();
    let kw = ctx.key_windows.get(idx as usize).unwrap_or(&empty);
    let mut plans: Vec<(String, String)> = ctx
        .plans
        .iter()
        .filter(|((mi, _), _)| *mi == idx)
        .map(|((_, k), t)| (k.clone(), t.to_string()))
        .collect();
    plans.sort();
    let key_client_count = accounts.iter().filter(|a| a.key && a.cur.lines > 0).count() as u64;
    wit::Manager {
        id: m.id.clone(),
        name: m.name.clone(),
        target_bonus: m.target_bonus.to_string(),
        period: period.to_string(),
        cur: window(ctx, &f.windows[CURRENT], CURRENT),
        prev: window(ctx, &f.windows[PREVIOUS], PREVIOUS),
        year_ago: window(ctx, &f.windows[YEAR_AGO], YEAR_AGO),
        key_cur: window(ctx, &kw[CURRENT], CURRENT),
        key_prev: window(ctx, &kw[PREVIOUS], PREVIOUS),
        key_year_ago: window(ctx, &kw[YEAR_AGO], YEAR_AGO),
        company: window(ctx, &ctx.facts.company[CURRENT], CURRENT),
        client_count: f.client_count,
        key_client_count,
        largest_client_id: f
            .largest_client
            .map(|c| ctx.data.clients[c as usize].id.clone())
            .unwrap_or_default(),
        largest_client_share: f.largest_client_share.to_string(),
        accounts,
        contracts,
        plans,
        extras: extras(&ctx.data.manager_extras, &m.extras),
    }
}

/// Reads a plugin file with a size limit.
pub fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if meta.len() > max {
        return Err(format!(
            "is {} bytes, over the limit of {max}; raise [limits] max_plugin_bytes in pack.toml if it is right",
            meta.len()
        ));
    }
    crate::confine::read_regular(path).map_err(|e| format!("cannot read: {e}"))
}
