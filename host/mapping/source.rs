//! Reading one source file into a header and rows of text: a CSV file in its dialect and
//! encoding, a sheet of an Excel workbook (`.xlsx`, `.xls`, `.xlsb`, `.ods`), or a Parquet
//! file (its typed cells as their exact text, in the canonical dialect).

use super::dialect::{decode, Dialect};
use crate::load::{source_hex, LineCounter, LoadError};
use calamine::{Data, Reader};
use sha2::{Digest, Sha256};
use std::path::Path;

/// A source table: the header and the rows as text, with their line numbers.
#[derive(Debug, Clone)]
pub struct SourceTable {
    /// As shown in messages (the path, and the sheet for a workbook).
    pub shown: String,
    /// Column names.
    pub header: Vec<String>,
    /// (line or sheet row, 1-based; cells).
    pub rows: Vec<(u64, Vec<String>)>,
    /// The dialect values are parsed in.
    pub dialect: Dialect,
    /// Hex sha256 of the file.
    pub sha256: String,
    /// Size of the file.
    pub bytes: u64,
    /// Per column, whether it holds floating-point numbers (a Parquet `FLOAT` or `DOUBLE`),
    /// which the mapping must say how to round; empty for text files.
    pub floats: Vec<bool>,
    /// For a Parquet file, the first row (0-based) of each row group.
    pub row_groups: Vec<u64>,
}

fn is_workbook(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("xlsx" | "xlsm" | "xls" | "xlsb" | "ods")
    )
}

impl SourceTable {
    /// Index of `name` in the header (trimmed, ASCII case-insensitive).
    /// Whether column `c` holds floating-point numbers.
    pub fn is_float(&self, c: usize) -> bool {
        self.floats.get(c).copied().unwrap_or(false)
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name.trim()))
    }

    /// Reads `path` (a sheet of it, for a workbook) in `dialect`.
    pub fn read(
        path: &Path,
        sheet: Option<&str>,
        dialect: Dialect,
    ) -> Result<SourceTable, LoadError> {
        let shown = path.display().to_string();
        if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
            return Err(LoadError::file(
                &shown,
                "is not a regular file (a directory, device or pipe); give a file",
            ));
        }
        let bytes = std::fs::read(path)
            .map_err(|e| LoadError::file(&shown, format!("cannot read: {e}")))?;
        let sha256 = source_hex(&Sha256::digest(&bytes));
        let size = bytes.len() as u64;
        let mut t = if bytes.starts_with(b"PAR1") {
            read_parquet(path, &shown, dialect)?
        } else if is_workbook(path) {
            read_workbook(&shown, bytes, sheet, dialect)?
        } else {
            if sheet.is_some() {
                return Err(LoadError::file(
                    &shown,
                    "`sheet` applies to Excel workbooks, and this is not one",
                ));
            }
            read_csv(&shown, &bytes, dialect)?
        };
        t.sha256 = sha256;
        t.bytes = size;
        Ok(t)
    }
}

/// A Parquet file: its rows as the text [`crate::load::parquet`] reads them (dates as
/// `YYYY-MM-DD`, exact decimals with a `.`, floating-point numbers as their shortest text,
/// which the mapping must round), so the canonical dialect reads them whatever the mapping
/// says of its CSV files (only its words for true and false stay). A row's number is its
/// row, 1-based.
fn read_parquet(path: &Path, shown: &str, dialect: Dialect) -> Result<SourceTable, LoadError> {
    let parquet = crate::load::parquet::to_csv_with_floats(path, shown)?;
    let text = parquet.text;
    let canonical = Dialect {
        true_words: dialect.true_words,
        false_words: dialect.false_words,
        ..Dialect::default()
    };
    let mut t = read_csv(shown, &text, canonical)?;
    for (line, _) in &mut t.rows {
        *line -= 1;
    }
    t.floats = parquet.floats;
    t.row_groups = parquet.starts;
    Ok(t)
}

fn read_csv(shown: &str, bytes: &[u8], dialect: Dialect) -> Result<SourceTable, LoadError> {
    let text = decode(bytes, &dialect.encoding).map_err(|m| LoadError::file(shown, m))?;
    crate::load::check_line_ends(shown, text.as_bytes())?;
    crate::load::check_fields(
        shown,
        text.as_bytes(),
        dialect.delimiter,
        dialect.quote,
        dialect.max_field_bytes,
    )?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(dialect.delimiter)
        .quote(dialect.quote)
        .from_reader(text.as_bytes());
    let mut header: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    let mut lines = LineCounter::default();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let byte = e.position().map(|p| p.byte() as usize).unwrap_or(0);
            let line = LineCounter::default().line_at(text.as_bytes(), byte);
            LoadError::at(shown, line, format!("cannot read the record: {e}"))
        })?;
        let byte = rec.position().map(|p| p.byte() as usize).unwrap_or(0);
        let line = lines.line_at(text.as_bytes(), byte);
        if (line as usize) < dialect.header_row {
            continue;
        }
        let cells: Vec<String> = rec.iter().map(str::to_string).collect();
        match &header {
            None => header = Some(cells.iter().map(|c| c.trim().to_string()).collect()),
            Some(h) => {
                if cells.len() == 1 && cells[0].trim().is_empty() {
                    continue;
                }
                if cells.len() != h.len() {
                    return Err(LoadError::at(
                        shown,
                        line,
                        format!(
                            "the row has {} field(s) but the header has {}; is the delimiter '{}' right?",
                            cells.len(),
                            h.len(),
                            dialect.delimiter as char
                        ),
                    ));
                }
                rows.push((line, cells));
            }
        }
    }
    let header = header.ok_or_else(|| {
        LoadError::file(
            shown,
            format!("has no header row (header_row = {})", dialect.header_row),
        )
    })?;
    Ok(SourceTable {
        shown: shown.to_string(),
        header,
        rows,
        dialect,
        sha256: String::new(),
        bytes: 0,
        floats: Vec::new(),
        row_groups: Vec::new(),
    })
}

/// A number cell as text: the shortest decimal that reads back as the same double.
fn float_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// An Excel date serial (days since 1899-12-30, the 1900 date system) as an ISO date.
fn excel_date(serial: f64) -> String {
    match crate::period::Date::from_ymd(1899, 12, 30) {
        Some(epoch) if serial.is_finite() && serial.abs() < 3_000_000.0 => {
            epoch.add_days(serial.floor() as i32).to_string()
        }
        _ => float_text(serial),
    }
}

fn read_workbook(
    shown: &str,
    bytes: Vec<u8>,
    sheet: Option<&str>,
    dialect: Dialect,
) -> Result<SourceTable, LoadError> {
    let mut book = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes))
        .map_err(|e| LoadError::file(shown, format!("cannot open the workbook: {e}")))?;
    let names = book.sheet_names().to_vec();
    let name = match sheet {
        Some(s) => names
            .iter()
            .find(|n| n.as_str() == s)
            .cloned()
            .ok_or_else(|| {
                LoadError::file(
                    shown,
                    format!("has no sheet '{s}'; its sheets are: {}", names.join(", ")),
                )
            })?,
        None => names
            .first()
            .cloned()
            .ok_or_else(|| LoadError::file(shown, "has no sheets"))?,
    };
    let shown = format!("{shown}[{name}]");
    let range = book
        .worksheet_range(&name)
        .map_err(|e| LoadError::file(&shown, format!("cannot read the sheet: {e}")))?;
    let first_row = range.start().map(|(r, _)| r as u64).unwrap_or(0);
    // Workbook cells are typed: numbers and dates come as such, not in a text dialect.
    let mut d = dialect;
    d.decimal = '.';
    d.thousands = Vec::new();
    let mut header: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    for (i, row) in range.rows().enumerate() {
        let line = first_row + i as u64 + 1;
        if (line as usize) < d.header_row {
            continue;
        }
        let mut cells = Vec::with_capacity(row.len());
        for (c, cell) in row.iter().enumerate() {
            cells.push(match cell {
                Data::Empty => String::new(),
                Data::String(s) => s.clone(),
                Data::Int(n) => n.to_string(),
                Data::Float(f) => float_text(*f),
                Data::Bool(b) => b.to_string(),
                Data::DateTime(dt) => excel_date(dt.as_f64()),
                Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
                Data::Error(e) => {
                    return Err(LoadError::at(
                        &shown,
                        line,
                        format!("column {} holds the Excel error {e:?}", c + 1),
                    ));
                }
            });
        }
        match &header {
            None => header = Some(cells.iter().map(|c| c.trim().to_string()).collect()),
            Some(h) => {
                if cells.iter().all(|c| c.trim().is_empty()) {
                    continue;
                }
                cells.resize(h.len(), String::new());
                rows.push((line, cells));
            }
        }
    }
    let header = header.ok_or_else(|| LoadError::file(&shown, "the sheet is empty"))?;
    Ok(SourceTable {
        shown,
        header,
        rows,
        dialect: d,
        sha256: String::new(),
        bytes: 0,
        floats: Vec::new(),
        row_groups: Vec::new(),
    })
}
