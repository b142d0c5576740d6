//! Real exports in: a mapping file (`data.toml`) says, for each canonical table, which source
//! file it comes from (CSV in any dialect and encoding, or an Excel sheet) and how its
//! columns map: renamed, constant, derived by a small expression, or looked up in another
//! file (such as region → manager). Rows can be filtered and de-duplicated.
//!
//! The mapping converts the sources into the canonical tables in memory; every value is
//! parsed here, so an error names the *source* file, line, column, the raw value and the
//! format expected. The canonical loader then reads the result as usual.

pub mod dialect;
pub mod expr;
pub mod inspect;
mod source;

pub use dialect::{Dialect, DialectDecl};
pub use source::SourceTable;

use crate::load::Origin;
use crate::load::{DataSource, InputFile, LoadError};
use crate::suggest::did_you_mean;
use expr::Expr;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// `data.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    #[serde(default)]
    dialect: DialectDecl,
    #[serde(default)]
    files: BTreeMap<String, toml::Table>,
    tables: BTreeMap<String, TableMap>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableMap {
    from: String,
    #[serde(default)]
    filter: BTreeMap<String, OneOrMany>,
    #[serde(default)]
    distinct: Option<String>,
    /// Rows whose value is found in another file are left out (e.g. returned orders).
    #[serde(default)]
    exclude: Option<OneOrManyExclude>,
    columns: BTreeMap<String, ColumnSpec>,
}

/// `exclude = { lookup = "returns", match = "Order ID", on = "Order ID" }`: leave out the
/// rows whose `match` value is in the `on` column of the file `lookup`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Exclude {
    lookup: String,
    #[serde(rename = "match")]
    match_column: String,
    on: String,
}

/// `exclude`: one table or a list of them.
#[derive(Debug)]
enum OneOrManyExclude {
    One(Exclude),
    Many(Vec<Exclude>),
}

/// A `filter` value: one text or a list of them.
#[derive(Debug)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

// Written out rather than `#[serde(untagged)]`, whose error is only "data did not match any
// variant of untagged enum": these say which shapes are allowed, with an example.
impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a text or a list of texts, e.g. filter = { deal_stage = \"Won\" } or { deal_stage = [\"Won\", \"Lost\"] }")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<OneOrMany, A::Error> {
                let mut all = Vec::new();
                while let Some(v) = seq.next_element::<String>()? {
                    all.push(v);
                }
                Ok(OneOrMany::Many(all))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for OneOrManyExclude {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OneOrManyExclude;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a table or a list of tables, e.g. exclude = { lookup = \"returns\", match = \"Order ID\", on = \"Order ID\" }")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<OneOrManyExclude, A::Error> {
                Exclude::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(OneOrManyExclude::One)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<OneOrManyExclude, A::Error> {
                let mut all = Vec::new();
                while let Some(v) = seq.next_element::<Exclude>()? {
                    all.push(v);
                }
                Ok(OneOrManyExclude::Many(all))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug)]
enum ColumnSpec {
    Source(String),
    /// A source column whose values are renamed by a map (others are kept).
    Mapped {
        column: String,
        map: HashMap<String, String>,
        /// Decimals to round a floating-point column's values to, half to even.
        round: Option<u32>,
    },
    Const {
        value: String,
    },
    Expr {
        expr: String,
        /// Decimals to round the result to, half to even (required over floating-point
        /// columns).
        round: Option<u32>,
    },
    Lookup {
        lookup: String,
        match_column: String,
        on: String,
        take: String,
        /// Renames the matched values before they are looked up.
        map: HashMap<String, String>,
        /// The value for a row whose value is not found (else that is an error).
        default: Option<String>,
        /// Effective dating: columns of the lookup file with each row's first and last
        /// day, and the column of the source whose date picks the row in force.
        dated: Option<Dated>,
    },
}

/// `from`, `to` and `date` of an effective-dated lookup.
#[derive(Debug, Clone)]
struct Dated {
    from: Option<String>,
    to: Option<String>,
    date: String,
}

impl<'de> Deserialize<'de> for ColumnSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = toml::Value::deserialize(d)?;
        let spec = r#"a column is "Source Column", { column = "Source Column", map = { "old" = "new" } }, { column = "Source Column", round = 2 }, { const = "..." }, { expr = "A - B" } or { lookup = "file", match = "...", on = "...", take = "..." } (with optional map = { ... }, default = "...", and from = "...", to = "...", date = "..." for a lookup file whose rows hold between dates)"#;
        let t = match v {
            toml::Value::String(s) => return Ok(ColumnSpec::Source(s)),
            toml::Value::Table(t) => t,
            other => {
                return Err(D::Error::custom(format!(
                    "found {}; {spec}",
                    other.type_str()
                )))
            }
        };
        let text = |k: &str| -> Result<String, D::Error> {
            match t.get(k) {
                Some(toml::Value::String(s)) => Ok(s.clone()),
                Some(toml::Value::Integer(i)) => Ok(i.to_string()),
                Some(toml::Value::Float(f)) => Ok(f.to_string()),
                Some(toml::Value::Boolean(b)) => Ok(b.to_string()),
                Some(_) => Err(D::Error::custom(format!("`{k}` must be text"))),
                None => Err(D::Error::custom(format!("`{k}` is missing; {spec}"))),
            }
        };
        let map = || -> Result<HashMap<String, String>, D::Error> {
            match t.get("map") {
                None => Ok(HashMap::new()),
                Some(toml::Value::Table(m)) => m
                    .iter()
                    .map(|(k, v)| match v {
                        toml::Value::String(v) => Ok((k.trim().to_string(), v.clone())),
                        other => Err(D::Error::custom(format!(
                            "map: '{k}' maps to {}; map old values to new text, e.g. map = {{ \"GTXPro\" = \"GTX Pro\" }}",
                            other.type_str()
                        ))),
                    })
                    .collect(),
                Some(other) => Err(D::Error::custom(format!(
                    "map is {}; write a table of old and new values, e.g. map = {{ \"GTXPro\" = \"GTX Pro\" }}",
                    other.type_str()
                ))),
            }
        };
        let mut keys: Vec<&str> = t
            .keys()
            .map(String::as_str)
            .filter(|k| !matches!(*k, "map" | "default" | "from" | "to" | "date" | "round"))
            .collect();
        keys.sort_unstable();
        let round = match t.get("round") {
            None => None,
            Some(toml::Value::Integer(n)) if (0..=28).contains(n) => Some(*n as u32),
            Some(other) => {
                return Err(D::Error::custom(format!(
                "round = {other}: give the number of decimals to round to, 0 to 28, e.g. round = 2"
            )))
            }
        };
        if round.is_some() && !(keys == ["column"] || keys == ["expr"]) {
            return Err(D::Error::custom(
                "round goes with column or expr: { column = \"Sales\", round = 2 }",
            ));
        }
        if t.contains_key("column") && keys == ["column"] {
            if t.contains_key("default") {
                return Err(D::Error::custom("default is for a lookup; a mapped column keeps the values the map does not name"));
            }
            return Ok(ColumnSpec::Mapped {
                column: text("column")?,
                map: map()?,
                round,
            });
        }
        if (t.contains_key("map") || t.contains_key("default")) && !t.contains_key("lookup") {
            return Err(D::Error::custom(format!(
                "map and default go with column or lookup; {spec}"
            )));
        }
        let dated = ["from", "to", "date"].map(|k| t.contains_key(k));
        if dated.iter().any(|d| *d) && !t.contains_key("lookup") {
            return Err(D::Error::custom(format!(
                "from, to and date go with a lookup; {spec}"
            )));
        }
        let dated = match dated {
            [false, false, false] => None,
            [_, _, true] if dated[0] || dated[1] => Some(Dated {
                from: t.get("from").map(|_| text("from")).transpose()?,
                to: t.get("to").map(|_| text("to")).transpose()?,
                date: text("date")?,
            }),
            [_, _, true] => {
                return Err(D::Error::custom(
                    "date picks the row in force by the lookup file's from and to columns; give from, to or both",
                ))
            }
            _ => {
                return Err(D::Error::custom(
                    "an effective-dated lookup needs date = \"...\": the column of this table whose date picks the row in force",
                ))
            }
        };
        match keys.as_slice() {
            ["const"] => Ok(ColumnSpec::Const {
                value: text("const")?,
            }),
            ["expr"] => Ok(ColumnSpec::Expr {
                expr: text("expr")?,
                round,
            }),
            ["lookup", "match", "on", "take"] => Ok(ColumnSpec::Lookup {
                lookup: text("lookup")?,
                match_column: text("match")?,
                on: text("on")?,
                take: text("take")?,
                map: map()?,
                default: match t.get("default") {
                    Some(_) => Some(text("default")?),
                    None => None,
                },
                dated,
            }),
            other => Err(D::Error::custom(format!(
                "unexpected keys {}; {spec}",
                other.join(", ")
            ))),
        }
    }
}

/// How `round` rounds: half to even, the rounding of IEEE 754 and of bankers.
const HALF_EVEN: rust_decimal::RoundingStrategy =
    rust_decimal::RoundingStrategy::MidpointNearestEven;

/// `text`, a number in dialect `d`, rounded to `n` decimals half to even, as canonical text
/// (`261.955` to 2 decimals is `261.96`; `0.30000000000000004` is `0.30`).
fn rounded(d: &Dialect, text: &str, n: u32) -> Option<String> {
    let value = d.number(text)?.round_dp_with_strategy(n, HALF_EVEN);
    Some(value.to_string())
}

/// `e` with its row group, when it is at a row of a Parquet source.
fn in_row_group(e: LoadError, sources: &BTreeMap<String, SourceTable>) -> LoadError {
    match sources.values().find(|s| s.shown == e.file) {
        Some(s) if !s.row_groups.is_empty() => {
            crate::load::parquet::in_row_group(e, &s.shown, &s.row_groups)
        }
        _ => e,
    }
}

/// The error for a floating-point source column used without `round`.
fn float_error(
    shown: &str,
    table: &str,
    name: &str,
    source: &str,
    col: &str,
    example: &str,
) -> LoadError {
    LoadError::file(
        shown,
        format!(
            "[tables.{table}.columns] {name}: column '{col}' of {source} holds floating-point numbers, which are binary fractions, not exact decimals; say how many decimals its values are worth, rounded half to even: {name} = {example}"
        ),
    )
}

/// What a canonical column holds, so that its values are parsed in the source's dialect.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    Date,
    Flag,
}

/// A lookup file's values by key. Without dates the first row of a key wins (as before);
/// with them every row is kept with its days, and two rows of one key that hold on the same
/// day are an error naming both lines.
fn lookup_values(
    other: &SourceTable,
    on_i: usize,
    take_i: usize,
    dated: Option<&Dated>,
    find: &dyn Fn(&str, &SourceTable) -> Result<usize, LoadError>,
) -> Result<HashMap<String, Vec<DatedValue>>, LoadError> {
    let mut values: HashMap<String, Vec<DatedValue>> = HashMap::new();
    let cols = match dated {
        Some(d) => Some((
            d.from.as_deref().map(|c| find(c, other)).transpose()?,
            d.to.as_deref().map(|c| find(c, other)).transpose()?,
        )),
        None => None,
    };
    for (line, row) in &other.rows {
        let key = row[on_i].trim().to_string();
        let value = row[take_i].trim().to_string();
        let Some((c_from, c_to)) = cols else {
            values.entry(key).or_insert_with(|| {
                vec![DatedValue {
                    from: None,
                    to: None,
                    value,
                    line: *line,
                }]
            });
            continue;
        };
        let day = |c: Option<usize>| -> Result<Option<crate::period::Date>, LoadError> {
            let Some(c) = c else { return Ok(None) };
            let raw = row[c].trim();
            if raw.is_empty() {
                return Ok(None);
            }
            other.dialect.date(raw).map(Some).ok_or_else(|| {
                LoadError::field(
                    &other.shown,
                    *line,
                    &other.header[c],
                    format!(
                        "found '{raw}', expected a date as {} or empty (open)",
                        other.dialect.date_format
                    ),
                )
            })
        };
        let (from, to) = (day(c_from)?, day(c_to)?);
        if let (Some(f), Some(t)) = (from, to) {
            if t < f {
                return Err(LoadError::at(
                    &other.shown,
                    *line,
                    format!("'{key}' holds to {t}, before it holds from {f}"),
                ));
            }
        }
        values.entry(key).or_default().push(DatedValue {
            from,
            to,
            value,
            line: *line,
        });
    }
    if cols.is_some() {
        for (key, rows) in values.iter_mut() {
            rows.sort_by_key(|r| (r.from, r.line));
            for pair in rows.windows(2) {
                let (a, b) = (&pair[0], &pair[1]);
                if a.to.is_none_or(|t| b.from.is_none_or(|f| f <= t)) {
                    return Err(LoadError::at(
                        &other.shown,
                        b.line,
                        format!(
                            "'{key}' has two rows in force at once: this one ({}) and line {} ({}); make their dates follow each other",
                            held(std::slice::from_ref(b)),
                            a.line,
                            held(std::slice::from_ref(a))
                        ),
                    ));
                }
            }
        }
    }
    Ok(values)
}

/// The value in force on `on` (any row for a lookup without dates).
fn in_force(rows: &[DatedValue], on: Option<crate::period::Date>) -> Option<&String> {
    let Some(on) = on else {
        return rows.first().map(|r| &r.value);
    };
    rows.iter()
        .find(|r| r.from.is_none_or(|f| f <= on) && r.to.is_none_or(|t| on <= t))
        .map(|r| &r.value)
}

/// The days rows hold, for messages: `2026-01-01 to 2026-03-05, 2026-03-06 on`.
fn held(rows: &[DatedValue]) -> String {
    rows.iter()
        .map(|r| match (r.from, r.to) {
            (Some(f), Some(t)) => format!("{f} to {t}"),
            (Some(f), None) => format!("{f} on"),
            (None, Some(t)) => format!("until {t}"),
            (None, None) => "always".to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn kind(table: &str, column: &str) -> Kind {
    match (table, column) {
        ("sales", "date")
        | ("clients", "since")
        | ("contracts", "start" | "end" | "renewed_on")
        | ("managers", "start" | "end")
        | ("owners" | "credits", "from" | "to")
        | ("fx_rates", "date") => Kind::Date,
        ("sales", "quantity" | "amount" | "cost")
        | ("clients", "market_share")
        | ("managers", "target_bonus")
        | ("plans", "target")
        | ("adjustments", "amount")
        | ("credits", "share")
        | ("fx_rates", "rate") => Kind::Number,
        ("clients", "strategic") => Kind::Flag,
        _ => Kind::Text,
    }
}

const TABLES: [&str; 9] = [
    "clients",
    "managers",
    "owners",
    "credits",
    "fx_rates",
    "sales",
    "plans",
    "contracts",
    "adjustments",
];

enum Resolved {
    Column(usize),
    /// A source column, its renames, and the decimals to round it to.
    Mapped(usize, HashMap<String, String>, Option<u32>),
    Const(String),
    Expr(Expr, Option<u32>),
    Lookup {
        matched: usize,
        /// Per value: the rows (first day, last day, value), sorted by first day; one row
        /// with open days for a lookup without dates.
        values: HashMap<String, Vec<DatedValue>>,
        file: String,
        map: HashMap<String, String>,
        default: Option<String>,
        /// The source column whose date picks the row, for a dated lookup.
        date: Option<usize>,
    },
}

/// A lookup row's value and the days it holds (both included; `None` is open).
#[derive(Debug, Clone)]
struct DatedValue {
    from: Option<crate::period::Date>,
    to: Option<crate::period::Date>,
    value: String,
    line: u64,
}

/// Reads `data.toml` at `path` and converts its sources into canonical tables.
pub fn load(path: &Path) -> Result<DataSource, LoadError> {
    load_with(path, crate::load::DEFAULT_MAX_FIELD_BYTES)
}

/// [`load`] with the largest field a source may hold unless its dialect says otherwise.
pub fn load_with(path: &Path, max_field: usize) -> Result<DataSource, LoadError> {
    load_confined(path, max_field, None)
}

/// [`load_with`] for a mapping that belongs to a rule pack (a golden case's data): every
/// file it names must be inside `root`, the pack's directory.
pub fn load_confined(
    path: &Path,
    max_field: usize,
    root: Option<&Path>,
) -> Result<DataSource, LoadError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError::file(&shown, format!("cannot read: {e}")))?;
    let map: MappingFile = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() as u64 + 1);
        LoadError {
            file: shown.clone(),
            line,
            column: None,
            message: e.message().trim().to_string(),
        }
    })?;
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let defaults = Dialect {
        max_field_bytes: max_field,
        ..Dialect::default()
    }
    .with(&map.dialect)
    .map_err(|m| LoadError::file(&shown, format!("[dialect]: {m}")))?;
    for t in map.tables.keys() {
        if !TABLES.contains(&t.as_str()) {
            return Err(LoadError::file(
                &shown,
                format!(
                    "[tables.{t}] is not a canonical table{}; the tables are: {}",
                    did_you_mean(t, TABLES),
                    TABLES.join(", ")
                ),
            ));
        }
    }
    for t in ["clients", "managers", "sales"] {
        if !map.tables.contains_key(t) {
            return Err(LoadError::file(
                &shown,
                format!("[tables.{t}] is missing; a mapping needs clients, managers and sales"),
            ));
        }
    }
    // Read every source file once.
    let mut sources: BTreeMap<String, SourceTable> = BTreeMap::new();
    let mut inputs = Vec::new();
    for (name, decl) in &map.files {
        let mut decl = decl.clone();
        let file = decl
            .remove("path")
            .and_then(|v| v.as_str().map(str::to_string))
            .ok_or_else(|| {
                LoadError::file(&shown, format!("[files.{name}] needs path = \"...\""))
            })?;
        let sheet = decl
            .remove("sheet")
            .and_then(|v| v.as_str().map(str::to_string));
        let dialect_decl: DialectDecl =
            toml::Value::Table(decl)
                .try_into()
                .map_err(|e: toml::de::Error| {
                    LoadError::file(&shown, format!("[files.{name}]: {}", e.message()))
                })?;
        let dialect = defaults
            .with(&dialect_decl)
            .map_err(|m| LoadError::file(&shown, format!("[files.{name}]: {m}")))?;
        let at = base.join(&file);
        if let Some(root) = root {
            crate::confine::inside(root, &at).map_err(|m| {
                LoadError::file(&shown, format!("[files.{name}] path = \"{file}\": {m}"))
            })?;
        }
        let src = SourceTable::read(&at, sheet.as_deref(), dialect)?;
        inputs.push(InputFile {
            name: format!("source:{file}"),
            sha256: src.sha256.clone(),
            rows: src.rows.len() as u64,
            bytes: src.bytes,
        });
        sources.insert(name.clone(), src);
    }
    let mut files = Vec::new();
    let mut notes = Vec::new();
    let mut origins = Vec::new();
    for table in TABLES {
        let bytes = match map.tables.get(table) {
            Some(t) => {
                let (bytes, origin) = convert(&shown, table, t, &sources, &mut notes)
                    .map_err(|e| in_row_group(e, &sources))?;
                origins.push(origin);
                bytes
            }
            None => match table {
                "plans" => b"manager_id,period,kpi,target\n".to_vec(),
                _ => continue,
            },
        };
        files.push((format!("{table}.csv"), bytes));
    }
    Ok(DataSource::Memory {
        label: format!("mapped:{shown}"),
        files: std::sync::Arc::new(files),
        sources: inputs,
        notes,
        origins,
    })
}

/// A number constant of `data.toml` is read in bonusrun's form (`1234.56`); one that the
/// file's dialect reads as another number (`25.000` with `thousands = "."`) is refused, so
/// the mapping never guesses which was meant.
fn check_const(value: &str, kind: Kind, dialect: &Dialect) -> Result<(), String> {
    if !matches!(kind, Kind::Number) {
        return Ok(());
    }
    let canonical = Dialect::default().number(value);
    match (canonical, dialect.number(value)) {
        (Some(a), Some(b)) if a != b => Err(format!(
            "{{ const = \"{value}\" }} reads as {a} in bonusrun's form but as {b} in this file's (decimal '{}', thousands {}); write it in bonusrun's form, without thousands separators (e.g. \"{}\")",
            dialect.decimal,
            if dialect.thousands.is_empty() {
                "none".to_string()
            } else {
                dialect.thousands.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(" ")
            },
            b.normalize()
        )),
        (None, None) => Err(format!(
            "{{ const = \"{value}\" }} is not a number; write it like 1234.56"
        )),
        _ => Ok(()),
    }
}

fn convert(
    shown: &str,
    table: &str,
    t: &TableMap,
    sources: &BTreeMap<String, SourceTable>,
    notes: &mut Vec<String>,
) -> Result<(Vec<u8>, Origin), LoadError> {
    let src = sources.get(&t.from).ok_or_else(|| {
        LoadError::file(
            shown,
            format!(
                "[tables.{table}] from = '{}': no such file in [files]{}",
                t.from,
                did_you_mean(&t.from, sources.keys().map(String::as_str))
            ),
        )
    })?;
    let missing = |col: &str, src: &SourceTable| {
        LoadError::file(
            &src.shown,
            format!(
                "has no column '{col}'{} (mapped in [tables.{table}]); its columns are: {}",
                did_you_mean(col, src.header.iter().map(String::as_str)),
                src.header.join(", ")
            ),
        )
    };
    let find = |col: &str, src: &SourceTable| src.column(col).ok_or_else(|| missing(col, src));
    // A floating-point column's values are binary fractions: the mapping must say how many
    // decimals they are worth.
    let unrounded = |c: usize, name: &str, col: &str| match src.is_float(c) {
        false => Ok(c),
        true => Err(float_error(
            shown,
            table,
            name,
            &src.shown,
            col,
            &format!("{{ column = \"{col}\", round = 2 }}"),
        )),
    };
    let names: Vec<&String> = t.columns.keys().collect();
    let mut resolved = Vec::with_capacity(names.len());
    for name in &names {
        resolved.push(match &t.columns[*name] {
            ColumnSpec::Source(c) => Resolved::Column(unrounded(find(c, src)?, name, c)?),
            ColumnSpec::Mapped { column, map, round } => {
                let c = find(column, src)?;
                let c = if round.is_some() {
                    c
                } else {
                    unrounded(c, name, column)?
                };
                Resolved::Mapped(c, map.clone(), *round)
            }
            ColumnSpec::Const { value } => {
                check_const(value, kind(table, name), &src.dialect).map_err(|m| {
                    LoadError::file(shown, format!("[tables.{table}.columns] {name}: {m}"))
                })?;
                Resolved::Const(value.clone())
            }
            ColumnSpec::Expr { expr, round } => {
                let e = Expr::parse(expr, &src.header).map_err(|m| {
                    LoadError::file(shown, format!("[tables.{table}.columns] {name}: {m}"))
                })?;
                if round.is_none() {
                    for (c, col) in e.columns() {
                        if src.is_float(c) {
                            return Err(float_error(
                                shown,
                                table,
                                name,
                                &src.shown,
                                col,
                                &format!("{{ expr = \"{expr}\", round = 2 }}"),
                            ));
                        }
                    }
                }
                Resolved::Expr(e, *round)
            }
            ColumnSpec::Lookup {
                lookup,
                match_column,
                on,
                take,
                map,
                default,
                dated,
            } => {
                let other = sources.get(lookup).ok_or_else(|| {
                    LoadError::file(
                        shown,
                        format!(
                            "[tables.{table}.columns] {name}: lookup '{lookup}' is not in [files]"
                        ),
                    )
                })?;
                let (on_i, take_i) = (find(on, other)?, find(take, other)?);
                if other.is_float(take_i) {
                    return Err(float_error(
                        shown,
                        table,
                        name,
                        &other.shown,
                        take,
                        "a column of a file whose values are exact (a lookup cannot round)",
                    ));
                }
                let values = lookup_values(other, on_i, take_i, dated.as_ref(), &find)?;
                Resolved::Lookup {
                    matched: find(match_column, src)?,
                    values,
                    file: other.shown.clone(),
                    map: map.clone(),
                    default: default.clone(),
                    date: dated.as_ref().map(|d| find(&d.date, src)).transpose()?,
                }
            }
        });
    }
    let filters: Vec<(usize, Vec<String>)> = t
        .filter
        .iter()
        .map(|(col, allowed)| {
            let allowed = match allowed {
                OneOrMany::One(v) => vec![v.clone()],
                OneOrMany::Many(v) => v.clone(),
            };
            Ok((find(col, src)?, allowed))
        })
        .collect::<Result<_, LoadError>>()?;
    let excludes: Vec<&Exclude> = match &t.exclude {
        None => Vec::new(),
        Some(OneOrManyExclude::One(e)) => vec![e],
        Some(OneOrManyExclude::Many(v)) => v.iter().collect(),
    };
    let excludes: Vec<(usize, HashSet<String>)> = excludes
        .into_iter()
        .map(|e| {
            let other = sources.get(&e.lookup).ok_or_else(|| {
                LoadError::file(
                    shown,
                    format!(
                        "[tables.{table}] exclude: lookup '{}' is not in [files]{}",
                        e.lookup,
                        did_you_mean(&e.lookup, sources.keys().map(String::as_str))
                    ),
                )
            })?;
            let on = find(&e.on, other)?;
            let set = other
                .rows
                .iter()
                .map(|(_, r)| r[on].trim().to_string())
                .collect();
            Ok((find(&e.match_column, src)?, set))
        })
        .collect::<Result<_, LoadError>>()?;
    let distinct = match &t.distinct {
        Some(d) => Some(names.iter().position(|n| *n == d).ok_or_else(|| {
            LoadError::file(
                shown,
                format!("[tables.{table}] distinct = '{d}' is not one of its mapped columns"),
            )
        })?),
        None => None,
    };
    let mut origin = Origin {
        table: format!("{table}.csv"),
        source: src.shown.clone(),
        row_groups: src.row_groups.clone(),
        lines: Vec::new(),
        columns: names
            .iter()
            .zip(&resolved)
            .map(|(name, r)| {
                let from = match r {
                    Resolved::Column(c) | Resolved::Mapped(c, _, _) => src.header[*c].clone(),
                    Resolved::Lookup { matched, file, .. } => {
                        format!("{} (looked up in {file})", src.header[*matched])
                    }
                    Resolved::Const(_) => format!("{name} (a constant of data.toml)"),
                    Resolved::Expr(..) => format!("{name} (an expr of data.toml)"),
                };
                (name.to_string(), from)
            })
            .collect(),
    };
    let mut canonical_line = 2u64;
    let mut seen: HashSet<String> = HashSet::new();
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let werr = |e: csv::Error| LoadError::file(shown, e.to_string());
    w.write_record(names.iter().map(|n| n.as_str()))
        .map_err(werr)?;
    let d = &src.dialect;
    // Per mapped column: rows that took the lookup's default, and the first of them.
    let mut defaulted: BTreeMap<&str, (u64, u64, String)> = BTreeMap::new();
    for (line, row) in &src.rows {
        if !filters
            .iter()
            .all(|(c, allowed)| allowed.iter().any(|a| a == row[*c].trim()))
        {
            continue;
        }
        if excludes.iter().any(|(c, set)| set.contains(row[*c].trim())) {
            continue;
        }
        let mut out = Vec::with_capacity(names.len());
        for (name, r) in names.iter().zip(&resolved) {
            let k = kind(table, name);
            let (raw, column): (String, String) = match r {
                Resolved::Column(c) => (row[*c].trim().to_string(), src.header[*c].clone()),
                Resolved::Mapped(c, map, round) => {
                    let v = row[*c].trim();
                    let v = map.get(v).map_or(v, |n| n.as_str()).to_string();
                    let v = match round {
                        Some(n) if !v.is_empty() => rounded(d, &v, *n).ok_or_else(|| {
                            LoadError::field(
                                &src.shown,
                                *line,
                                &src.header[*c],
                                format!("found '{v}', expected a number to round to {n} decimals"),
                            )
                        })?,
                        _ => v,
                    };
                    (v, src.header[*c].clone())
                }
                Resolved::Const(v) => (v.clone(), format!("{name} (a constant)")),
                Resolved::Lookup {
                    matched,
                    values,
                    file,
                    map,
                    default,
                    date,
                } => {
                    let key = row[*matched].trim();
                    let key = map.get(key).map_or(key, |k| k.as_str());
                    let on = match date {
                        Some(c) => Some(d.date(&row[*c]).ok_or_else(|| {
                            LoadError::field(
                                &src.shown,
                                *line,
                                &src.header[*c],
                                format!(
                                    "found '{}', expected a date as {} (it picks the row of {file} in force for {name})",
                                    row[*c].trim(),
                                    d.date_format
                                ),
                            )
                        })?),
                        None => None,
                    };
                    let rows = values.get(key);
                    let found = rows.and_then(|rows| in_force(rows, on));
                    if found.is_none() && default.is_some() {
                        let e =
                            defaulted
                                .entry(name.as_str())
                                .or_insert((0, *line, key.to_string()));
                        e.0 += 1;
                    }
                    match found.or(default.as_ref()) {
                        Some(v) => (v.clone(), src.header[*matched].clone()),
                        None if rows.is_some() => {
                            return Err(LoadError::field(
                                &src.shown,
                                *line,
                                &src.header[*matched],
                                format!(
                                    "'{key}' has no row of {file} in force on {} (looked up for {name}; its rows hold {}); add a row for that date, or give the lookup a default",
                                    on.map(|d| d.to_string()).unwrap_or_default(),
                                    rows.map(|r| held(r)).unwrap_or_default()
                                ),
                            ))
                        }
                        None => {
                            return Err(LoadError::field(
                                &src.shown,
                                *line,
                                &src.header[*matched],
                                format!("'{key}' is not found in {file} (looked up for {name}); map it to a value the file has (map = {{ \"{key}\" = \"...\" }}) or give the lookup a default"),
                            ))
                        }
                    }
                }
                Resolved::Expr(e, round) => {
                    let value = e
                        .eval(&|i, col| {
                            d.number(&row[i]).ok_or_else(|| {
                                format!(
                                    "column '{col}' is '{}', not a number like {}",
                                    row[i].trim(),
                                    d.number_example()
                                )
                            })
                        })
                        .map_err(|m| LoadError::field(&src.shown, *line, name, m))?;
                    let value = match round {
                        Some(n) => value.round_dp_with_strategy(*n, HALF_EVEN),
                        None => value,
                    };
                    out.push(value.normalize().to_string());
                    continue;
                }
            };
            let bad = |expected: String| {
                LoadError::field(
                    &src.shown,
                    *line,
                    &column,
                    format!("found '{raw}', expected {expected}"),
                )
            };
            let canonical = Dialect::default();
            let d = if matches!(r, Resolved::Const(_)) && canonical.number(&raw).is_some() {
                &canonical
            } else {
                d
            };
            let value = match k {
                Kind::Text => raw.clone(),
                Kind::Number if raw.is_empty() => String::new(),
                Kind::Number => d
                    .number(&raw)
                    .ok_or_else(|| {
                        bad(format!(
                            "a number like {} (see decimal and thousands in data.toml)",
                            d.number_example()
                        ))
                    })?
                    .to_string(),
                Kind::Date if raw.is_empty() => String::new(),
                Kind::Date => d
                    .date(&raw)
                    .ok_or_else(|| {
                        bad(format!(
                            "a date as {} (date_format in data.toml)",
                            d.date_format
                        ))
                    })?
                    .to_string(),
                Kind::Flag => d
                    .flag(&raw)
                    .ok_or_else(|| {
                        bad(format!(
                            "one of {} or {}",
                            d.true_words.join("/"),
                            d.false_words.join("/")
                        ))
                    })?
                    .to_string(),
            };
            out.push(value);
        }
        if let Some(i) = distinct {
            if !seen.insert(out[i].clone()) {
                continue;
            }
        }
        w.write_record(&out).map_err(werr)?;
        origin.lines.push((canonical_line, *line));
        canonical_line += 1 + out
            .iter()
            .map(|v| v.matches('\n').count() as u64)
            .sum::<u64>();
    }
    for (name, (rows, first, key)) in defaulted {
        let (lookup, default) = match &t.columns[name] {
            ColumnSpec::Lookup {
                lookup, default, ..
            } => (lookup.as_str(), default.as_deref().unwrap_or_default()),
            _ => ("", ""),
        };
        notes.push(format!(
            "{table}.{name}: {rows} row(s) of {} took the lookup default '{default}', not found in {lookup} (the first: line {first}, '{key}')",
            src.shown
        ));
    }
    let bytes = w
        .into_inner()
        .map_err(|e| LoadError::file(shown, e.to_string()))?;
    Ok((bytes, origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_goes_half_to_even_from_the_shortest_text() {
        let d = Dialect::default();
        let cases = [
            ("261.955", 2, "261.96"),
            ("2.665", 2, "2.66"),
            ("0.30000000000000004", 2, "0.30"),
            ("-1.005", 2, "-1.00"),
            ("1e3", 2, ""),
            ("12", 2, "12"),
            ("0.5", 0, "0"),
            ("1.5", 0, "2"),
        ];
        for (text, n, want) in cases {
            let got = rounded(&d, text, n).unwrap_or_default();
            assert_eq!(got, want, "{text} to {n}");
        }
    }
}
