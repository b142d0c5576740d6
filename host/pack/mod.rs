//! Rule packs: loading `pack.toml`, its scripts and tables, and compiling the scripts once.
//!
//! Everything here happens before any data is read, so a typo in a script or the manifest is
//! reported as `file:line:column` in seconds, not after a long run. Errors are
//! [`PackError`]s. This layer does not run rules; [`crate::rules`] does.

pub mod manifest;
pub mod measures;
pub mod settle;
mod table;
pub mod windows;

pub use manifest::{HitPolicy, KpiDecl, Limits, Manifest};
pub use table::{Cell, Finding, LookupValue, Table};

use crate::load::source_hex;
use crate::money::{Currency, RoundingMode};
use crate::period::PeriodKind;
use crate::rules::{engine, wasm};
use rhai::AST;
use rust_decimal::Decimal;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// A problem in a rule pack, located in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackError {
    /// The file, as shown to the user.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong, and how to fix it where that helps.
    pub message: String,
}

impl PackError {
    /// An error about a whole file.
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> PackError {
        PackError {
            file: file.into(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// An error at a line and column.
    pub fn at(
        file: impl Into<String>,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> PackError {
        PackError {
            file: file.into(),
            line: Some(line),
            column: Some(column),
            message: message.into(),
        }
    }
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for PackError {}

/// Where a pack's files come from.
#[derive(Clone, Debug)]
pub enum PackSource {
    /// A directory with `pack.toml`.
    Dir(PathBuf),
    /// Files compiled into the binary (the bundled example).
    Embedded {
        /// Shown in messages, e.g. `bundled:rules/romashka`.
        label: String,
        /// Relative paths and contents.
        files: &'static [(&'static str, &'static [u8])],
    },
}

impl PackSource {
    /// How a pack file is shown in messages.
    pub fn display(&self, rel: &str) -> String {
        match self {
            PackSource::Dir(d) => d.join(rel).display().to_string(),
            PackSource::Embedded { label, .. } => format!("{label}/{rel}"),
        }
    }

    /// Reads a file of the pack; a path that leads outside the pack is refused.
    pub fn read(&self, rel: &str) -> Result<Vec<u8>, PackError> {
        check_relative(rel).map_err(|m| PackError::new(self.display("pack.toml"), m))?;
        match self {
            PackSource::Dir(d) => crate::confine::read_regular(
                &crate::confine::inside(d, &d.join(rel))
                    .map_err(|m| PackError::new(self.display(rel), m))?,
            )
            .map_err(|e| {
                let hint = if e.kind() == std::io::ErrorKind::NotFound && rel == "pack.toml" {
                    " (is this a rule pack directory? it needs a pack.toml)"
                } else {
                    ""
                };
                PackError::new(self.display(rel), format!("cannot read: {e}{hint}"))
            }),
            PackSource::Embedded { files, .. } => files
                .iter()
                .find(|(n, _)| *n == rel)
                .map(|(_, b)| b.to_vec())
                .ok_or_else(|| {
                    PackError::new(self.display(rel), "no such file in the bundled pack")
                }),
        }
    }
}

fn check_relative(rel: &str) -> Result<(), String> {
    let p = Path::new(rel);
    if p.is_absolute()
        || p.components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!(
            "'{rel}' must be a path inside the pack directory (relative, without '..')"
        ));
    }
    Ok(())
}

impl PackSource {
    fn read_plugin(&self, rel: &str, max: u64) -> Result<Vec<u8>, PackError> {
        match self {
            PackSource::Dir(d) => {
                check_relative(rel).map_err(|m| PackError::new(self.display("pack.toml"), m))?;
                let path = crate::confine::inside(d, &d.join(rel))
                    .map_err(|m| PackError::new(self.display(rel), m))?;
                if !path.exists() {
                    return Err(PackError::new(
                        self.display(rel),
                        "does not exist; build the plugin (`cargo build --release --target wasm32-wasip2`) and copy its .wasm here; for the bundled examples run `bash plugins/build.sh`",
                    ));
                }
                wasm::read_limited(&path, max).map_err(|m| PackError::new(self.display(rel), m))
            }
            PackSource::Embedded { .. } => self.read(rel),
        }
    }
}

/// A pack file and its hash, for `run.json`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PackFile {
    /// Path relative to the pack directory.
    pub path: String,
    /// Hex sha256 of the file.
    pub sha256: String,
}

/// A compiled script.
#[derive(Clone, Debug)]
pub struct Script {
    /// Path relative to the pack.
    pub path: String,
    /// As shown in messages.
    pub shown: String,
    /// The compiled AST (its source is set to `shown`).
    pub ast: Arc<AST>,
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
}

/// A loaded, compiled rule pack, ready to run.
#[derive(Clone, Debug)]
pub struct RulePack {
    /// The manifest.
    pub manifest: Manifest,
    /// Where the pack came from, as shown in messages.
    pub location: String,
    /// Every file of the pack that the run uses, with its hash.
    pub files: Vec<PackFile>,
    /// Currency of all amounts.
    pub currency: Currency,
    /// Rounding of payout lines.
    pub rounding: RoundingMode,
    /// Parameters as script values, by name.
    pub params: BTreeMap<String, ParamValue>,
    /// Tables by name.
    pub tables: BTreeMap<String, Arc<Table>>,
    /// Stage a code.
    pub key_clients: StageCode,
    /// Stage b code.
    pub kpis: StageCode,
    /// Stage c code.
    pub bonus: StageCode,
    /// `--set name=value` overrides applied to the parameters, in order.
    pub overrides: Vec<String>,
    /// `[ledger]`: guarantees and draws.
    pub settlement: settle::Settlement,
    /// `[windows]`: the named sales windows the pass sums besides the three periods.
    pub windows: Vec<windows::DeclaredWindow>,
    /// `[measures]`: the named figures the pass computes for every window.
    pub measures: Vec<measures::Measure>,
}

/// A parameter value.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// A number (integers too: scripts see every parameter number as a decimal).
    Number(Decimal),
    /// Text.
    Text(String),
    /// true/false.
    Flag(bool),
    /// An array of values.
    List(Vec<ParamValue>),
}

impl RulePack {
    /// Loads `pack.toml`, reads the scripts and tables, and compiles the scripts.
    pub fn load(source: &PackSource) -> Result<RulePack, PackError> {
        let manifest_shown = source.display("pack.toml");
        let manifest_bytes = source.read("pack.toml")?;
        let manifest_text = String::from_utf8(manifest_bytes.clone())
            .map_err(|_| PackError::new(&manifest_shown, "is not valid UTF-8"))?;
        let manifest: Manifest = toml::from_str(&manifest_text).map_err(|e| {
            let (line, col) = e
                .span()
                .map(|s| line_col(&manifest_text, s.start))
                .unwrap_or((1, 1));
            PackError::at(&manifest_shown, line, col, e.message().trim().to_string())
        })?;
        let locate = |needle: &str| -> (usize, usize) {
            manifest_text
                .find(needle)
                .map(|i| line_col(&manifest_text, i))
                .unwrap_or((1, 1))
        };
        let manifest_err = |needle: &str, msg: String| {
            let (l, c) = locate(needle);
            PackError::at(&manifest_shown, l, c, msg)
        };

        let code = manifest.pack.currency.trim().to_ascii_uppercase();
        let minor_units = match manifest.pack.minor_units.or_else(|| Currency::known_minor_units(&code)) {
            Some(m) if m <= 6 => m,
            Some(m) => return Err(manifest_err("minor_units", format!("minor_units = {m} is out of range 0..=6"))),
            None => {
                return Err(manifest_err(
                    "currency",
                    format!("currency '{code}' is not in the built-in table; add minor_units = 2 (or 0, 3) to [pack]"),
                ))
            }
        };
        if manifest.kpis.is_empty() {
            return Err(PackError::new(
                &manifest_shown,
                "declares no [[kpis]]; a bonus regulation needs at least one KPI",
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for k in &manifest.kpis {
            if !is_identifier(&k.id) {
                return Err(manifest_err(
                    &format!("\"{}\"", k.id),
                    format!(
                        "KPI id '{}' must be letters, digits and '_' and not start with a digit",
                        k.id
                    ),
                ));
            }
            if !seen.insert(k.id.clone()) {
                return Err(manifest_err(
                    &format!("\"{}\"", k.id),
                    format!("KPI id '{}' is declared twice", k.id),
                ));
            }
        }
        let mut params = BTreeMap::new();
        for (name, value) in &manifest.params {
            let v = param_value(value)
                .map_err(|m| manifest_err(name, format!("parameter '{name}': {m}")))?;
            params.insert(name.clone(), v);
        }
        if manifest.stages.kpis.function.is_some() {
            return Err(manifest_err(
                "[stages.kpis]",
                "[stages.kpis] takes no `function`: each KPI names its own in [[kpis]] (`function = \"...\"`, default: the KPI id)".into(),
            ));
        }
        manifest
            .limits
            .validate()
            .map_err(|m| manifest_err("[limits]", m))?;
        if let Some(b) = manifest.payout.target_bonus.filter(|b| *b < Decimal::ZERO) {
            return Err(manifest_err(
                "[payout]",
                format!("[payout] target_bonus = {b}: expected an amount of 0 or more"),
            ));
        }

        let mut files = vec![PackFile {
            path: "pack.toml".into(),
            sha256: sha256_hex(&manifest_bytes),
        }];
        let mut tables = BTreeMap::new();
        for (name, decl) in &manifest.tables {
            let bytes = source.read(&decl.file)?;
            files.push(PackFile {
                path: decl.file.clone(),
                sha256: sha256_hex(&bytes),
            });
            let t = Table::parse(name, &source.display(&decl.file), &bytes, decl)?;
            tables.insert(name.clone(), Arc::new(t));
        }

        let compiler = engine::new_engine(&manifest.limits);
        let mut compiled: BTreeMap<String, StageCode> = BTreeMap::new();
        let stage_names = ["key_clients", "kpis", "bonus"];
        let decls = [
            &manifest.stages.key_clients,
            &manifest.stages.kpis,
            &manifest.stages.bonus,
        ];
        let mut keys = Vec::with_capacity(3);
        for (stage, decl) in stage_names.iter().zip(decls) {
            if decl.plugin.is_some() && decl.function.is_some() {
                return Err(manifest_err(
                    &format!("[stages.{stage}]"),
                    format!("[stages.{stage}] binds a plugin, so `function` does not apply (a plugin exports classify, kpi and bonus; classify, kpis and bonus in world 0.1.0)"),
                ));
            }
            let key = match (&decl.script, &decl.plugin) {
                (Some(s), None) => format!("script:{s}"),
                (None, Some(p)) => format!("plugin:{p}"),
                _ => {
                    return Err(manifest_err(
                        &format!("[stages.{stage}]"),
                        format!("[stages.{stage}] needs exactly one of `script = \"file.rhai\"` or `plugin = \"file.wasm\"`"),
                    ))
                }
            };
            keys.push(key.clone());
            if compiled.contains_key(&key) {
                continue;
            }
            let code = if let Some(script) = &decl.script {
                let bytes = source.read(script)?;
                files.push(PackFile {
                    path: script.clone(),
                    sha256: sha256_hex(&bytes),
                });
                let shown = source.display(script);
                let text = String::from_utf8(bytes)
                    .map_err(|_| PackError::new(&shown, "is not valid UTF-8"))?;
                let ast = engine::compile(&compiler, &shown, &text)?;
                StageCode::Script(Script {
                    path: script.clone(),
                    shown,
                    ast: Arc::new(ast),
                })
            } else {
                let plugin = decl.plugin.as_deref().unwrap_or_default();
                let bytes = source.read_plugin(plugin, manifest.limits.max_plugin_bytes)?;
                files.push(PackFile {
                    path: plugin.to_string(),
                    sha256: sha256_hex(&bytes),
                });
                let limits = wasm::PluginLimits {
                    fuel_per_item: manifest.limits.plugin_fuel_per_item,
                    memory_bytes: manifest.limits.plugin_memory_bytes,
                    seconds_per_item: manifest.limits.max_seconds_per_call,
                };
                StageCode::Plugin(Arc::new(wasm::Plugin::load(
                    &source.display(plugin),
                    &bytes,
                    limits,
                )?))
            };
            compiled.insert(key, code);
        }
        let settlement = settle::Settlement::read(
            &manifest.ledger,
            manifest.pack.period,
            &tables,
            |needle, m| manifest_err(needle, m),
        )?;
        // A message about `[SECTION.NAME]`, placed at its header (or its inline table).
        let entry_err = |section: &str, name: &str, m: String| {
            let needles = [
                format!("[{section}.{name}]"),
                format!("{name} = {{"),
                format!("[{section}"),
            ];
            let found = needles.iter().find(|n| manifest_text.contains(n.as_str()));
            manifest_err(found.map_or("", |n| n.as_str()), m)
        };
        let windows = windows::read(&manifest.windows, |name, m| entry_err("windows", name, m))?;
        let measures =
            measures::read(&manifest.measures, |name, m| entry_err("measures", name, m))?;
        let pack = RulePack {
            settlement,
            windows,
            measures,
            location: match source {
                PackSource::Dir(d) => d.display().to_string(),
                PackSource::Embedded { label, .. } => label.clone(),
            },
            currency: Currency { code, minor_units },
            rounding: manifest.pack.rounding,
            params,
            tables,
            key_clients: compiled[&keys[0]].clone(),
            kpis: compiled[&keys[1]].clone(),
            bonus: compiled[&keys[2]].clone(),
            overrides: Vec::new(),
            files,
            manifest,
        };
        pack.check_entry_points()?;
        pack.check_curve()
            .map_err(|m| manifest_err("[report]", m))?;
        Ok(pack)
    }

    /// The period kind the pack pays for.
    pub fn period_kind(&self) -> PeriodKind {
        self.manifest.pack.period
    }

    /// Entry function of stage a.
    pub fn key_clients_fn(&self) -> &str {
        self.manifest
            .stages
            .key_clients
            .function
            .as_deref()
            .unwrap_or("classify")
    }

    /// Entry function of stage c.
    pub fn bonus_fn(&self) -> &str {
        self.manifest
            .stages
            .bonus
            .function
            .as_deref()
            .unwrap_or("bonus")
    }

    fn check_entry_points(&self) -> Result<(), PackError> {
        let need = |script: &Script,
                    name: &str,
                    arity: usize,
                    what: &str|
         -> Result<(), PackError> {
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
        };
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

/// The most `[limits] max_seconds_per_call` may be: a day.
pub const MAX_SECONDS_PER_CALL: usize = 86_400;
/// The most `[limits] max_call_depth` may be.
pub const MAX_CALL_DEPTH: usize = 256;
/// The most `[limits] max_expr_depth` may be.
pub const MAX_EXPR_DEPTH: usize = 256;
/// The most `[limits] max_array_size` may be. Arrays and maps nest at most as deep as these
/// two limits together, and copying or printing a nested value takes native stack per
/// level: the rule threads' stacks ([`crate::evaluate::RULE_STACK_BYTES`]) hold that depth.
pub const MAX_ARRAY_SIZE: usize = 1_000_000;
/// The most `[limits] max_map_size` may be.
pub const MAX_MAP_SIZE: usize = 100_000;

impl Limits {
    fn validate(&self) -> Result<(), String> {
        let checks = [
            ("max_operations", self.max_operations as usize),
            ("max_seconds_per_call", self.max_seconds_per_call as usize),
            ("max_memory_per_call", self.max_memory_per_call as usize),
            ("max_call_depth", self.max_call_depth),
            ("max_expr_depth", self.max_expr_depth),
            ("max_string_size", self.max_string_size),
            ("max_array_size", self.max_array_size),
            ("max_map_size", self.max_map_size),
            ("plugin_fuel_per_item", self.plugin_fuel_per_item as usize),
            ("max_plugin_bytes", self.max_plugin_bytes as usize),
        ];
        if self.plugin_memory_bytes < 1 << 20 {
            return Err(format!(
                "[limits] plugin_memory_bytes = {} is too small for any plugin; give at least 1048576 (1 MiB)",
                self.plugin_memory_bytes
            ));
        }
        for (name, v) in checks {
            if v == 0 {
                return Err(format!(
                    "[limits] {name} must be at least 1 (0 would mean no limit)"
                ));
            }
        }
        // Ceilings that keep the host itself safe: deeper nesting could overflow the native
        // stack (a crash no limit message could explain), and a longer time would not fit.
        let ceilings = [
            (
                "max_seconds_per_call",
                self.max_seconds_per_call as usize,
                MAX_SECONDS_PER_CALL,
            ),
            ("max_call_depth", self.max_call_depth, MAX_CALL_DEPTH),
            ("max_expr_depth", self.max_expr_depth, MAX_EXPR_DEPTH),
            ("max_array_size", self.max_array_size, MAX_ARRAY_SIZE),
            ("max_map_size", self.max_map_size, MAX_MAP_SIZE),
        ];
        for (name, v, most) in ceilings {
            if v > most {
                return Err(format!(
                    "[limits] {name} = {v} is above the most bonusrun allows ({most})"
                ));
            }
        }
        Ok(())
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn param_value(v: &toml::Value) -> Result<ParamValue, String> {
    Ok(match v {
        toml::Value::Integer(_) | toml::Value::Float(_) => {
            ParamValue::Number(manifest::value_to_decimal(v)?)
        }
        // A number written as a string ("0.8", to keep many digits) is a number: comparing
        // a decimal with text would otherwise be silently false in a script.
        toml::Value::String(s) => match crate::money::parse_decimal(s.trim().as_bytes()) {
            Some(d) => ParamValue::Number(d),
            None => ParamValue::Text(s.clone()),
        },
        toml::Value::Boolean(b) => ParamValue::Flag(*b),
        toml::Value::Array(a) => {
            ParamValue::List(a.iter().map(param_value).collect::<Result<_, _>>()?)
        }
        toml::Value::Datetime(d) => ParamValue::Text(d.to_string()),
        toml::Value::Table(_) => {
            return Err(
                "tables are not supported as parameters; use [tables] for tabular data".into(),
            )
        }
    })
}

/// 1-based line and column of byte offset `at` in `text` (columns count characters).
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

fn sha256_hex(bytes: &[u8]) -> String {
    source_hex(&Sha256::digest(bytes))
}

impl RulePack {
    /// Applies `--set name=value` overrides to the parameters. The parameter must exist and
    /// the value must have its type (a number stays a number).
    pub fn set_params(&mut self, sets: &[String]) -> Result<(), String> {
        for set in sets {
            let Some((name, value)) = set.split_once('=') else {
                return Err(format!(
                    "--set {set}: expected name=value, e.g. --set gate_attainment=0.75"
                ));
            };
            let (name, value) = (name.trim(), value.trim());
            let Some(old) = self.params.get(name) else {
                let names: Vec<&str> = self.params.keys().map(String::as_str).collect();
                return Err(format!(
                    "--set {name}: the pack has no parameter '{name}'{}; its parameters are: {}",
                    crate::suggest::did_you_mean(name, names.iter().copied()),
                    names.join(", ")
                ));
            };
            let new = match old {
                ParamValue::Number(_) => ParamValue::Number(
                    crate::money::parse_decimal(value.as_bytes()).ok_or_else(|| {
                        format!("--set {name}={value}: '{name}' is a number, and '{value}' is not")
                    })?,
                ),
                ParamValue::Flag(_) => {
                    ParamValue::Flag(crate::load::parse_flag_text(value).ok_or_else(|| {
                        format!("--set {name}={value}: '{name}' is true or false")
                    })?)
                }
                ParamValue::Text(_) => ParamValue::Text(value.to_string()),
                ParamValue::List(_) => {
                    return Err(format!(
                        "--set {name}: list parameters cannot be set on the command line"
                    ))
                }
            };
            self.params.insert(name.to_string(), new);
            self.overrides.push(format!("{name}={value}"));
        }
        Ok(())
    }
}
