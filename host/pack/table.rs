//! Pack tables: small CSV files in the pack (payout curves, rates, thresholds) that finance
//! edits and scripts read with `table("name")`.

use super::PackError;
use crate::load::parse_flag_text;
use crate::money::parse_decimal;
use rust_decimal::Decimal;

/// A typed cell of a pack table.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// A number such as `0.8` or `150`; scripts see a decimal.
    Number(Decimal),
    /// `true` or `false`.
    Flag(bool),
    /// Anything else; an empty cell is empty text.
    Text(String),
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
}

impl Table {
    /// Parses a table; `shown` is the file as shown in messages.
    pub fn parse(name: &str, shown: &str, bytes: &[u8]) -> Result<Table, PackError> {
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
        let mut rows = Vec::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| PackError::new(shown, format!("cannot read: {e}")))?;
            let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
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
            rows.push(rec.iter().map(|v| cell(v.trim())).collect());
        }
        Ok(Table {
            name: name.to_string(),
            columns,
            rows,
        })
    }
}

fn cell(v: &str) -> Cell {
    if let Some(d) = parse_decimal(v.as_bytes()) {
        return Cell::Number(d);
    }
    match parse_flag_text(v) {
        Some(b) if !v.is_empty() && !v.chars().all(|c| c.is_ascii_digit()) => Cell::Flag(b),
        _ => Cell::Text(v.to_string()),
    }
}
