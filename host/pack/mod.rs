//! Rule packs as declared: `pack.toml` read and checked, its parameters, tables, windows,
//! measures and settlement, and the source of each stage's code, every file hashed.
//!
//! Everything here happens before any data is read, so a typo in the manifest or a table is
//! reported as `file:line:column` in seconds, not after a long run. Errors are
//! [`PackError`]s. This layer neither compiles nor runs code: [`crate::rules`] compiles a
//! [`Pack`]'s stage sources into a [`crate::rules::RulePack`] and runs it, and depends on
//! this module, never the other way round.

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
                read_limited(&path, max).map_err(|m| PackError::new(self.display(rel), m))
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

/// The code of one stage as the pack gives it, read and hashed but not compiled.
#[derive(Clone, Debug)]
pub enum StageSource {
    /// A Rhai script.
    Script {
        /// Path relative to the pack.
        path: String,
        /// As shown in messages.
        shown: String,
        /// Its text.
        text: String,
    },
    /// A WebAssembly component.
    Plugin {
        /// Path relative to the pack.
        path: String,
        /// As shown in messages.
        shown: String,
        /// Its bytes.
        bytes: Arc<[u8]>,
    },
}

impl StageSource {
    /// Path relative to the pack: two stages with the same path share their code.
    pub fn path(&self) -> &str {
        match self {
            StageSource::Script { path, .. } | StageSource::Plugin { path, .. } => path,
        }
    }
}

/// A rule pack as declared: everything but its compiled code.
#[derive(Clone, Debug)]
pub struct Pack {
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
    /// `--set name=value` overrides applied to the parameters, in order.
    pub overrides: Vec<String>,
    /// `[ledger]`: guarantees and draws.
    pub settlement: settle::Settlement,
    /// `[windows]`: the named sales windows the pass sums besides the three periods.
    pub windows: Vec<windows::DeclaredWindow>,
    /// `[measures]`: the named figures the pass computes for every window.
    pub measures: Vec<measures::Measure>,
    /// `pack.toml` as shown in messages, and its text.
    manifest_text: (String, String),
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

impl Pack {
    /// Reads and checks `pack.toml` and its tables, and reads the code of the three stages
    /// (key_clients, kpis, bonus), which [`crate::rules::RulePack::load`] compiles.
    pub fn read(source: &PackSource) -> Result<(Pack, [StageSource; 3]), PackError> {
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

        let stages = read_stages(source, &manifest, &mut files, &manifest_err)?;
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
        let pack = Pack {
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
            overrides: Vec::new(),
            files,
            manifest,
            manifest_text: (manifest_shown, manifest_text),
        };
        Ok((pack, stages))
    }

    /// An error in `pack.toml`, placed at the first occurrence of `needle` (or its start).
    pub fn manifest_error(&self, needle: &str, message: String) -> PackError {
        let (shown, text) = &self.manifest_text;
        let (line, column) = text.find(needle).map_or((1, 1), |i| line_col(text, i));
        PackError::at(shown, line, column, message)
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

impl Pack {
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

/// Reads the code of the three stages, each once even when stages share it.
fn read_stages(
    source: &PackSource,
    manifest: &Manifest,
    files: &mut Vec<PackFile>,
    manifest_err: &dyn Fn(&str, String) -> PackError,
) -> Result<[StageSource; 3], PackError> {
    let decls = [
        ("key_clients", &manifest.stages.key_clients),
        ("kpis", &manifest.stages.kpis),
        ("bonus", &manifest.stages.bonus),
    ];
    let mut read: Vec<StageSource> = Vec::with_capacity(3);
    let mut next = |(stage, decl): (&str, &manifest::StageDecl)| -> Result<StageSource, PackError> {
        if decl.plugin.is_some() && decl.function.is_some() {
            return Err(manifest_err(
                &format!("[stages.{stage}]"),
                format!("[stages.{stage}] binds a plugin, so `function` does not apply (a plugin exports classify, kpi and bonus; classify, kpis and bonus in world 0.1.0)"),
            ));
        }
        let path = match (&decl.script, &decl.plugin) {
            (Some(p), None) | (None, Some(p)) => p,
            _ => {
                return Err(manifest_err(
                    &format!("[stages.{stage}]"),
                    format!("[stages.{stage}] needs exactly one of `script = \"file.rhai\"` or `plugin = \"file.wasm\"`"),
                ))
            }
        };
        let is_script = decl.script.is_some();
        if let Some(same) = read
            .iter()
            .find(|r| r.path() == path && matches!(r, StageSource::Script { .. }) == is_script)
        {
            let same = same.clone();
            read.push(same.clone());
            return Ok(same);
        }
        let shown = source.display(path);
        let (bytes, code) = if is_script {
            let bytes = source.read(path)?;
            let text = String::from_utf8(bytes.clone())
                .map_err(|_| PackError::new(&shown, "is not valid UTF-8"))?;
            let code = StageSource::Script {
                path: path.clone(),
                shown,
                text,
            };
            (bytes, code)
        } else {
            let bytes = source.read_plugin(path, manifest.limits.max_plugin_bytes)?;
            let code = StageSource::Plugin {
                path: path.clone(),
                shown,
                bytes: Arc::from(bytes.as_slice()),
            };
            (bytes, code)
        };
        files.push(PackFile {
            path: path.clone(),
            sha256: sha256_hex(&bytes),
        });
        read.push(code.clone());
        Ok(code)
    };
    let [a, b, c] = decls;
    Ok([next(a)?, next(b)?, next(c)?])
}

/// Reads a file of at most `max` bytes.
fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if meta.len() > max {
        return Err(format!(
            "is {} bytes, over the limit of {max}; raise [limits] max_plugin_bytes in pack.toml if it is right",
            meta.len()
        ));
    }
    crate::confine::read_regular(path).map_err(|e| format!("cannot read: {e}"))
}
