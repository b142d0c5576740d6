//! Pack tables: small CSV files in the pack (payout curves, rates, thresholds) that finance
//! edits. Scripts read a table's rows with `table("name")`; a table with a hit policy is a
//! *decision table* that scripts and plugins query with `lookup`, and that `check` analyses
//! for gaps, overlaps, duplicates and unsorted tiers the way DMN tools do.

use super::manifest::{ColumnType, HitPolicy, InputDecl, TableDecl};
use super::PackError;
use crate::load::parse_flag_text;
use crate::money::parse_decimal;
use rust_decimal::Decimal;
use std::fmt;

/// A typed cell of a pack table.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// A number such as `0.8` or `150`; scripts see a decimal.
    Number(Decimal),
    /// `true` or `false`.
    Flag(bool),
    /// Anything else; an empty cell of a text column is empty text.
    Text(String),
    /// No value: an empty cell of a number column (declared, or whose other cells are all
    /// numbers). Scripts see `()`; as a lookup input it matches anything.
    Empty,
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Number(d) => write!(f, "{d}"),
            Cell::Flag(b) => write!(f, "{b}"),
            Cell::Text(t) => write!(f, "{t}"),
            Cell::Empty => Ok(()),
        }
    }
}

/// A value passed to a lookup.
#[derive(Clone, Debug, PartialEq)]
pub enum LookupValue {
    /// Matched against ranges or number cells.
    Number(Decimal),
    /// Matched against text cells.
    Text(String),
}

impl fmt::Display for LookupValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupValue::Number(d) => write!(f, "{d}"),
            LookupValue::Text(t) => write!(f, "'{t}'"),
        }
    }
}

/// How a decision table matches one input.
#[derive(Clone, Debug, PartialEq)]
enum Matcher {
    Range { from: usize, to: usize },
    Exact(usize),
}

/// A CSV table from the pack.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Its name in `[tables]`.
    pub name: String,
    /// Column names from the header row.
    pub columns: Vec<String>,
    /// Rows in file order.
    pub rows: Vec<Vec<Cell>>,
    /// Line of each row in the file.
    pub lines: Vec<usize>,
    /// The hit policy, for a decision table.
    pub hit_policy: Option<HitPolicy>,
    inputs: Vec<(String, Matcher)>,
    /// As shown in messages.
    pub shown: String,
}

/// A finding of the decision-table analysis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// An error makes `check` fail; a warning is reported only.
    pub error: bool,
    /// Line in the table file.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl Table {
    /// Parses a table; `shown` is the file as shown in messages.
    pub fn parse(
        name: &str,
        shown: &str,
        bytes: &[u8],
        decl: &TableDecl,
    ) -> Result<Table, PackError> {
        let text =
            std::str::from_utf8(bytes).map_err(|_| PackError::new(shown, "is not valid UTF-8"))?;
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let columns: Vec<String> = rdr
            .headers()
            .map_err(|e| PackError::new(shown, format!("cannot read the header: {e}")))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        if columns.is_empty() || columns.iter().any(String::is_empty) {
            return Err(PackError::at(
                shown,
                1,
                1,
                "every column needs a name in the header row",
            ));
        }
        for c in decl.columns.keys() {
            if !columns.contains(c) {
                return Err(PackError::at(
                    shown,
                    1,
                    1,
                    format!("pack.toml gives a type to column '{c}', which the header does not have ({})", columns.join(", ")),
                ));
            }
        }
        let types: Vec<Option<ColumnType>> = columns
            .iter()
            .map(|c| decl.columns.get(c).copied())
            .collect();
        let mut rows = Vec::new();
        let mut lines = Vec::new();
        let body = text.trim_start_matches('\u{feff}').as_bytes();
        let mut counter = crate::load::LineCounter::default();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| PackError::new(shown, format!("cannot read: {e}")))?;
            let byte = rec.position().map(|p| p.byte() as usize).unwrap_or(0);
            let line = counter.line_at(body, byte) as usize;
            if rec.len() != columns.len() {
                return Err(PackError::at(
                    shown,
                    line,
                    1,
                    format!(
                        "the row has {} field(s) but the header has {}",
                        rec.len(),
                        columns.len()
                    ),
                ));
            }
            let mut row = Vec::with_capacity(columns.len());
            for (i, v) in rec.iter().enumerate() {
                let v = v.trim();
                let c = match types[i] {
                    None => infer(v),
                    Some(ColumnType::Text) => Cell::Text(v.to_string()),
                    Some(ColumnType::Number) => match parse_decimal(v.as_bytes()) {
                        Some(d) => Cell::Number(d),
                        None if v.is_empty() => Cell::Empty,
                        None => {
                            return Err(PackError::at(
                                shown,
                                line,
                                i + 1,
                                format!("column '{}': found '{v}', expected a number (the column is declared number)", columns[i]),
                            ))
                        }
                    },
                    Some(ColumnType::Flag) => match parse_flag_text(v) {
                        Some(b) => Cell::Flag(b),
                        None => {
                            return Err(PackError::at(
                                shown,
                                line,
                                i + 1,
                                format!("column '{}': found '{v}', expected true or false", columns[i]),
                            ))
                        }
                    },
                };
                row.push(c);
            }
            rows.push(row);
            lines.push(line);
        }
        // A column without a declared type whose cells are numbers or empty is a number
        // column: its empty cells are no value, not empty text.
        for (c, ty) in types.iter().enumerate() {
            let numeric = ty.is_none()
                && rows.iter().any(|r| matches!(r[c], Cell::Number(_)))
                && rows.iter().all(|r| {
                    matches!(&r[c], Cell::Number(_))
                        || matches!(&r[c], Cell::Text(t) if t.is_empty())
                });
            if numeric {
                for r in rows.iter_mut() {
                    if matches!(&r[c], Cell::Text(t) if t.is_empty()) {
                        r[c] = Cell::Empty;
                    }
                }
            }
        }
        let mut table = Table {
            name: name.to_string(),
            columns,
            rows,
            lines,
            hit_policy: decl.hit_policy,
            inputs: Vec::new(),
            shown: shown.to_string(),
        };
        table.inputs = decl
            .inputs
            .iter()
            .map(|i| table.matcher(i).map(|m| (i.name.clone(), m)))
            .collect::<Result<_, _>>()?;
        if table.hit_policy.is_none() && !table.inputs.is_empty() {
            return Err(PackError::new(
                shown,
                format!(
                    "table '{name}' declares inputs but no hit_policy (first, unique or collect)"
                ),
            ));
        }
        if table.hit_policy.is_some() && table.inputs.is_empty() {
            return Err(PackError::new(
                shown,
                format!("decision table '{name}' declares no inputs"),
            ));
        }
        // Range bounds must be numbers (or empty for unbounded).
        for (name, m) in &table.inputs {
            if let Matcher::Range { from, to } = m {
                for (r, row) in table.rows.iter().enumerate() {
                    for c in [*from, *to] {
                        if !matches!(&row[c], Cell::Number(_) | Cell::Empty)
                            && !matches!(&row[c], Cell::Text(t) if t.is_empty())
                        {
                            return Err(PackError::at(
                                shown,
                                table.lines[r],
                                c + 1,
                                format!("column '{}' bounds input '{name}', so it needs a number (or nothing, for no bound); found '{}'", table.columns[c], row[c]),
                            ));
                        }
                    }
                }
            }
        }
        Ok(table)
    }

    fn column(&self, name: &str) -> Result<usize, PackError> {
        self.columns.iter().position(|c| c == name).ok_or_else(|| {
            PackError::new(
                &self.shown,
                format!(
                    "input column '{name}' is not in the header ({})",
                    self.columns.join(", ")
                ),
            )
        })
    }

    fn matcher(&self, i: &InputDecl) -> Result<Matcher, PackError> {
        match (&i.column, &i.from, &i.to) {
            (Some(c), None, None) => Ok(Matcher::Exact(self.column(c)?)),
            (None, Some(f), Some(t)) => Ok(Matcher::Range {
                from: self.column(f)?,
                to: self.column(t)?,
            }),
            _ => Err(PackError::new(
                &self.shown,
                format!(
                    "input '{}' needs either `column = \"...\"` (exact match) or both `from` and `to` (a range)",
                    i.name
                ),
            )),
        }
    }

    /// Whether the table is a decision table.
    pub fn is_decision_table(&self) -> bool {
        self.hit_policy.is_some()
    }

    fn bound(cell: &Cell) -> Option<Decimal> {
        match cell {
            Cell::Number(d) => Some(*d),
            _ => None,
        }
    }

    fn row_matches(&self, row: &[Cell], values: &[(&str, &LookupValue)]) -> bool {
        self.inputs.iter().all(|(name, m)| {
            let Some((_, v)) = values.iter().find(|(n, _)| n == name) else {
                return false;
            };
            match (m, v) {
                (Matcher::Range { from, to }, LookupValue::Number(x)) => {
                    Self::bound(&row[*from]).is_none_or(|f| *x >= f)
                        && Self::bound(&row[*to]).is_none_or(|t| *x < t)
                }
                (Matcher::Range { .. }, LookupValue::Text(_)) => false,
                (Matcher::Exact(c), v) => match (&row[*c], v) {
                    (Cell::Empty, _) => true,
                    (Cell::Text(t), _) if t.is_empty() || t == "*" => true,
                    (Cell::Text(t), LookupValue::Text(x)) => t == x,
                    (Cell::Number(d), LookupValue::Number(x)) => d == x,
                    (Cell::Flag(b), LookupValue::Text(x)) => b.to_string() == *x,
                    _ => false,
                },
            }
        })
    }

    /// The rows (indices) a lookup hits, by the hit policy; an error names the table, the
    /// inputs and what went wrong.
    pub fn lookup(&self, values: &[(&str, &LookupValue)]) -> Result<Vec<usize>, String> {
        let Some(policy) = self.hit_policy else {
            return Err(format!(
                "table '{}' is not a decision table; give it a hit_policy and inputs in pack.toml, or read it with table()",
                self.name
            ));
        };
        for (name, _) in &self.inputs {
            if !values.iter().any(|(n, _)| n == name) {
                return Err(format!("lookup in '{}' needs input '{name}'", self.name));
            }
        }
        for (n, _) in values {
            if !self.inputs.iter().any(|(name, _)| name == n) {
                let known: Vec<&str> = self.inputs.iter().map(|(n, _)| n.as_str()).collect();
                return Err(format!(
                    "table '{}' has no input '{n}'; its inputs are: {}",
                    self.name,
                    known.join(", ")
                ));
            }
        }
        let shown_inputs = || {
            values
                .iter()
                .map(|(n, v)| format!("{n} = {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let hits: Vec<usize> = (0..self.rows.len())
            .filter(|&r| self.row_matches(&self.rows[r], values))
            .collect();
        match policy {
            HitPolicy::Collect => Ok(hits),
            HitPolicy::First => match hits.first() {
                Some(&r) => Ok(vec![r]),
                None => Err(format!(
                    "no row of table '{}' matches {}",
                    self.name,
                    shown_inputs()
                )),
            },
            HitPolicy::Unique => match hits.as_slice() {
                [r] => Ok(vec![*r]),
                [] => Err(format!(
                    "no row of table '{}' matches {}",
                    self.name,
                    shown_inputs()
                )),
                many => Err(format!(
                    "table '{}' is unique, but lines {} all match {}",
                    self.name,
                    many.iter()
                        .map(|r| self.lines[*r].to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    shown_inputs()
                )),
            },
        }
    }

    /// Decision-table analysis: gaps and overlaps between ranges, duplicate rows, unsorted
    /// tiers. Rows are compared within groups that share the exact-match inputs.
    pub fn analyse(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        let Some(policy) = self.hit_policy else {
            return findings;
        };
        let exact: Vec<usize> = self
            .inputs
            .iter()
            .filter_map(|(_, m)| match m {
                Matcher::Exact(c) => Some(*c),
                Matcher::Range { .. } => None,
            })
            .collect();
        let ranges: Vec<(&str, usize, usize)> = self
            .inputs
            .iter()
            .filter_map(|(n, m)| match m {
                Matcher::Range { from, to } => Some((n.as_str(), *from, *to)),
                Matcher::Exact(_) => None,
            })
            .collect();
        let input_cells = |r: usize| -> Vec<String> {
            self.inputs
                .iter()
                .flat_map(|(_, m)| match m {
                    Matcher::Exact(c) => vec![self.rows[r][*c].to_string()],
                    Matcher::Range { from, to } => vec![
                        self.rows[r][*from].to_string(),
                        self.rows[r][*to].to_string(),
                    ],
                })
                .collect()
        };
        // Duplicates: identical inputs.
        for a in 0..self.rows.len() {
            for b in a + 1..self.rows.len() {
                if input_cells(a) == input_cells(b) {
                    findings.push(Finding {
                        error: policy != HitPolicy::Collect,
                        line: self.lines[b],
                        message: format!("duplicates the inputs of line {}", self.lines[a]),
                    });
                }
            }
        }
        // Per group of exact-match values, the ranges of each range input.
        let mut groups: Vec<(Vec<String>, Vec<usize>)> = Vec::new();
        for r in 0..self.rows.len() {
            let key: Vec<String> = exact.iter().map(|c| self.rows[r][*c].to_string()).collect();
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, rows)) => rows.push(r),
                None => groups.push((key, vec![r])),
            }
        }
        if ranges.len() == 1 {
            let (name, from, to) = ranges[0];
            for (_, rows) in &groups {
                let lo = |r: usize| Self::bound(&self.rows[r][from]);
                let hi = |r: usize| Self::bound(&self.rows[r][to]);
                for &r in rows {
                    if let (Some(l), Some(h)) = (lo(r), hi(r)) {
                        if l >= h {
                            findings.push(Finding {
                                error: true,
                                line: self.lines[r],
                                message: format!(
                                    "the range of {name} is empty: from {l} is not below to {h}"
                                ),
                            });
                        }
                    }
                }
                let unsorted = rows.windows(2).any(|w| lo(w[0]) > lo(w[1]));
                if unsorted {
                    findings.push(Finding {
                        error: false,
                        line: self.lines[rows[0]],
                        message: format!("the tiers are not sorted by {name}; sort them so that the table reads in order"),
                    });
                }
                let mut sorted = rows.clone();
                sorted.sort_by_key(|r| lo(*r));
                if let Some(&first) = sorted.first() {
                    if let Some(l) = lo(first) {
                        findings.push(Finding {
                            error: false,
                            line: self.lines[first],
                            message: format!("no row covers {name} below {l}; leave `from` empty in the lowest tier to cover everything below"),
                        });
                    }
                }
                if let Some(top) = sorted
                    .iter()
                    .copied()
                    .max_by_key(|r| hi(*r).map(|h| (1, h)).unwrap_or((2, Decimal::ZERO)))
                {
                    if let Some(h) = hi(top) {
                        findings.push(Finding {
                            error: false,
                            line: self.lines[top],
                            message: format!("no row covers {name} from {h} up; leave `to` empty in the highest tier to cover everything above"),
                        });
                    }
                }
                for w in sorted.windows(2) {
                    let (a, b) = (w[0], w[1]);
                    let a_hi = hi(a);
                    let b_lo = lo(b);
                    let overlap = match (a_hi, b_lo) {
                        (None, _) => true,
                        (Some(h), Some(l)) => l < h,
                        (Some(_), None) => true,
                    };
                    if overlap && input_cells(a) != input_cells(b) && policy != HitPolicy::Collect {
                        findings.push(Finding {
                            // Under `first` an overlap is a priority, legal but worth a look.
                            error: policy == HitPolicy::Unique,
                            line: self.lines[b],
                            message: format!(
                                "the {name} range [{}, {}) overlaps line {} [{}, {})",
                                self.rows[b][from],
                                self.rows[b][to],
                                self.lines[a],
                                self.rows[a][from],
                                self.rows[a][to]
                            ),
                        });
                    } else if let (Some(h), Some(l)) = (a_hi, b_lo) {
                        if l > h {
                            findings.push(Finding {
                                error: false,
                                line: self.lines[b],
                                message: format!(
                                    "gap: no row covers {name} from {h} to {l} (between lines {} and {})",
                                    self.lines[a], self.lines[b]
                                ),
                            });
                        }
                    }
                }
            }
        }
        findings.sort_by_key(|f| f.line);
        findings
    }
}

fn infer(v: &str) -> Cell {
    if let Some(d) = parse_decimal(v.as_bytes()) {
        return Cell::Number(d);
    }
    match parse_flag_text(v) {
        Some(b) if !v.is_empty() && !v.chars().all(|c| c.is_ascii_digit()) => Cell::Flag(b),
        _ => Cell::Text(v.to_string()),
    }
}
