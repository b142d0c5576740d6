//! Loading the canonical input data set: a directory of UTF-8 CSV files with headers.
//!
//! This layer owns file access, CSV parsing and validation of the small tables
//! (`clients.csv`, `managers.csv`, `plans.csv`, `contracts.csv`) and the streaming reader for
//! `sales.csv` ([`sales`]). Every error it returns is a [`LoadError`] that names the file, the
//! line and the column, what was found and what was expected. It knows nothing of rule packs
//! or facts.

mod credit;
pub mod fx;
mod ids;
pub mod parquet;
mod source;
mod tables;
mod text;

pub mod sales;

pub use ids::IdMap;

pub use text::DEFAULT_MAX_FIELD_BYTES;
pub(crate) use text::{check_fields, check_line_ends, LineCounter};

pub use credit::{CreditRule, Ownership};
pub use source::{hex as source_hex, DataSource, InputFile, Origin};
pub use tables::{load_tables, load_tables_with, Client, Contract, Dataset, Manager, Plan};

use std::fmt;

/// A problem in the input data: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file as the user named it (a path, or `bundled:…` for the bundled example).
    pub file: String,
    /// 1-based line in the file, when the problem is in one record.
    pub line: Option<u64>,
    /// The column name, when the problem is in one field.
    pub column: Option<String>,
    /// What was found and what was expected.
    pub message: String,
}

impl LoadError {
    /// The same error about the whole column, not one line (a Parquet column's type).
    pub(crate) fn without_line(self) -> LoadError {
        LoadError { line: None, ..self }
    }

    pub(crate) fn file(file: &str, message: impl Into<String>) -> LoadError {
        LoadError {
            file: file.to_string(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    pub(crate) fn at(file: &str, line: u64, message: impl Into<String>) -> LoadError {
        LoadError {
            file: file.to_string(),
            line: Some(line),
            column: None,
            message: message.into(),
        }
    }

    pub(crate) fn field(
        file: &str,
        line: u64,
        column: &str,
        message: impl Into<String>,
    ) -> LoadError {
        LoadError {
            file: file.to_string(),
            line: Some(line),
            column: Some(column.to_string()),
            message: message.into(),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ": column '{column}'")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for LoadError {}

/// `true`/`false`, `1`/`0`, `yes`/`no` in any case; empty is `false`.
pub fn parse_flag_text(text: &str) -> Option<bool> {
    text::parse_flag(text.as_bytes())
}
